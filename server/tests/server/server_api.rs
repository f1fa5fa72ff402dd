//! The HTTP API through the router, in process: every endpoint, every documented status, and
//! the OpenAPI document kept in step with the routes.

use crate as common;

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::StatusCode;
use patrol_server::{DECISION_ID_HEADER, OPENAPI, routes};
use serde_json::Value;

use crate::router::{BEARER, Service, TOKEN, call, wait_for_log};

#[tokio::test(flavor = "multi_thread")]
async fn decisions_answer_200_with_an_id_that_is_also_logged() {
    let service = Service::open(None);
    let router = service.router();
    let uri = "/v1/tenants/contoso/decisions";
    let denied = call(
        &router,
        "POST",
        uri,
        &[],
        common::example_request("create-too-long"),
    )
    .await;
    assert_eq!(denied.status, StatusCode::OK);
    let body = denied.json();
    assert_eq!(body["allowed"], false);
    let codes: Vec<&str> = body["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "patLifespanPolicyViolation",
            "disablePatCreationPolicyViolation"
        ]
    );
    let id = denied.headers[DECISION_ID_HEADER]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(body["decision_id"], id.as_str());

    let allowed = call(
        &router,
        "POST",
        uri,
        &[],
        common::example_request("create-allowed"),
    )
    .await;
    assert_eq!(allowed.status, StatusCode::OK);
    assert_eq!(allowed.json()["allowed"], true);

    let log_path = service.dir.path().join("decisions.log");
    let log = wait_for_log(&log_path, &id);
    let line = log
        .lines()
        .find(|line| line.contains(&id))
        .unwrap_or_else(|| panic!("decision {id} not in the log:\n{log}"));
    let record: Value = serde_json::from_str(line).unwrap();
    assert_eq!(record["tenant"], "contoso");
    assert_eq!(record["operation"], "create");
    assert_eq!(record["actor"]["id"], "bob@contoso.com");
    assert_eq!(record["org"], "fabrikam");
    assert_eq!(record["allowed"], false);
    assert_eq!(record["violations"], body["violations"]);
    let policies = record["policies"].as_array().unwrap();
    assert_eq!(policies.len(), 5, "one entry per configured policy");
    assert!(policies.iter().all(|p| p["time_us"].as_f64().is_some()));
}

#[tokio::test(flavor = "multi_thread")]
async fn authorize_answers_403_when_denied() {
    let service = Service::open(None);
    let router = service.router();
    let uri = "/v1/tenants/contoso/authorize";
    let denied = call(
        &router,
        "POST",
        uri,
        &[],
        common::example_request("use-global-in-fabrikam"),
    )
    .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    assert_eq!(
        denied.json()["violations"][0]["code"],
        "globalPatUsageDisabled"
    );
    assert!(denied.headers.contains_key(DECISION_ID_HEADER));
    let allowed = call(
        &router,
        "POST",
        uri,
        &[],
        common::example_request("create-allowed"),
    )
    .await;
    assert_eq!(allowed.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_gets_a_clear_error_with_the_right_status() {
    let service = Service::open(None);
    let router = service.router();
    let uri = "/v1/tenants/contoso/decisions";
    let missing = call(
        &router,
        "POST",
        uri,
        &[],
        r#"{"operation":"create","org":"fabrikam"}"#,
    )
    .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        missing.json(),
        serde_json::json!({"error": {"code": "invalid_request", "message": "`user`: is missing", "field": "user"}})
    );
    assert!(
        missing.headers.contains_key(DECISION_ID_HEADER),
        "errors carry an id too"
    );

    let bad_time =
        common::example_request("create-allowed").replace("2027-02-01T00:00:00Z", "soon");
    let reply = call(&router, "POST", uri, &[], bad_time).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.json()["error"]["field"], "token.valid_to");

    let reply = call(&router, "POST", uri, &[], vec![0xff, 0xfe, b'{']).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);

    let reply = call(
        &router,
        "POST",
        "/v1/tenants/nobody/decisions",
        &[],
        common::example_request("create-allowed"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.error_code(), "unknown_tenant");

    let huge = format!("{{\"padding\":\"{}\"}}", "x".repeat(100 << 10));
    let reply = call(&router, "POST", uri, &[], huge).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reply.error_code(), "body_too_large");

    let reply = call(&router, "GET", "/v2/nothing", &[], Body::empty()).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.error_code(), "not_found");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_api_is_off_without_a_token_and_closed_without_the_right_one() {
    let off = Service::open(None);
    let reply = call(
        &off.router(),
        "GET",
        "/v1/admin/tenants",
        &[BEARER],
        Body::empty(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.error_code(), "admin_api_off");

    let on = Service::open(Some(TOKEN));
    let router = on.router();
    for headers in [
        vec![],
        vec![("authorization", "Bearer wrong-token-wrong-token")],
        vec![(
            "authorization",
            "Basic dGVzdC1hZG1pbi10b2tlbi0wMTIzNDU2Nzg5",
        )],
        vec![("authorization", "Bearer test-admin-token-012345678")],
    ] {
        let reply = call(&router, "GET", "/v1/admin/tenants", &headers, Body::empty()).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{headers:?}");
    }
    let reply = call(
        &router,
        "GET",
        "/v1/admin/tenants",
        &[BEARER],
        Body::empty(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()[0]["tenant"], "contoso");
}

const THIRTY_DAYS: &str =
    "tenant = \"contoso\"\n[policies.max_pat_lifespan]\nenabled = true\nmax_days = 30\n";

#[tokio::test(flavor = "multi_thread")]
async fn tenant_configurations_are_checked_before_they_replace_anything() {
    let service = Service::open(Some(TOKEN));
    let router = service.router();
    let tenant = "/v1/admin/tenants/contoso";
    let decide = "/v1/tenants/contoso/decisions";
    let request = common::example_request("create-allowed");

    let reply = call(&router, "PUT", tenant, &[BEARER], THIRTY_DAYS).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["policies"][0]["name"], "max_pat_lifespan");
    let decision = call(&router, "POST", decide, &[], request.clone())
        .await
        .json();
    assert_eq!(
        decision["violations"][0]["message"],
        "requested lifespan 65 days exceeds the tenant maximum of 30 days"
    );
    let stored = std::fs::read_to_string(service.data().join("tenants/contoso.toml")).unwrap();
    assert_eq!(stored, THIRTY_DAYS);

    // Broken in three ways; each is refused and the thirty-day version keeps serving.
    for (body, expected) in [
        (THIRTY_DAYS.replace("30", "400"), "`max_days` must be between 1 and 365, got `400`"),
        (THIRTY_DAYS.replace("tenant = \"contoso\"", "tenant = \"fabrikam\""), "the configuration is for `fabrikam`, not `contoso`"),
        ("tenant = \"contoso\"\n[orgs.x]\n[orgs.x.policies.restrict_pat_creation]\nenabled = true\n".to_string(), "only available for organizations backed by Microsoft Entra ID"),
    ] {
        let reply = call(&router, "PUT", tenant, &[BEARER], body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(reply.error_code(), "invalid_configuration");
        let message = reply.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(message.contains(expected), "{message}");
        let decision = call(&router, "POST", decide, &[], request.clone()).await.json();
        assert_eq!(decision["violations"][0]["code"], "patLifespanPolicyViolation");
    }
    let stored_after =
        std::fs::read_to_string(service.data().join("tenants/contoso.toml")).unwrap();
    assert_eq!(stored_after, THIRTY_DAYS, "a refused change writes nothing");

    // JSON works too, and replaces the TOML file.
    let json = r#"{"tenant": "contoso", "policies": {"restrict_full_scoped_pat_creation": {"enabled": true}}}"#;
    let reply = call(
        &router,
        "PUT",
        tenant,
        &[BEARER, ("content-type", "application/json")],
        json,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert!(!service.data().join("tenants/contoso.toml").exists());
    let reply = call(&router, "GET", tenant, &[BEARER], Body::empty()).await;
    assert_eq!(reply.text(), json);
    assert_eq!(reply.headers["content-type"], "application/json");
    let decision = call(&router, "POST", decide, &[], request.clone())
        .await
        .json();
    assert_eq!(decision["allowed"], true);

    // A new tenant, then deleting it.
    let reply = call(
        &router,
        "PUT",
        "/v1/admin/tenants/fabrikam",
        &[BEARER],
        "tenant = \"fabrikam\"\n",
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    let reply = call(
        &router,
        "POST",
        "/v1/tenants/fabrikam/decisions",
        &[],
        request.clone(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    let reply = call(
        &router,
        "DELETE",
        "/v1/admin/tenants/fabrikam",
        &[BEARER],
        Body::empty(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let reply = call(
        &router,
        "POST",
        "/v1/tenants/fabrikam/decisions",
        &[],
        request.clone(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let reply = call(
        &router,
        "DELETE",
        "/v1/admin/tenants/fabrikam",
        &[BEARER],
        Body::empty(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let reply = call(
        &router,
        "PUT",
        "/v1/admin/tenants/bad%20name",
        &[BEARER],
        "tenant = \"x\"\n",
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.error_code(), "invalid_tenant_name");
}

#[tokio::test(flavor = "multi_thread")]
async fn uploaded_components_are_checked_stored_by_digest_and_usable_in_configurations() {
    let service = Service::open(Some(TOKEN));
    let router = service.router();
    let bytes = std::fs::read(common::component("write_scopes_short_lived")).unwrap();
    let reply = call(
        &router,
        "POST",
        "/v1/admin/components",
        &[BEARER],
        bytes.clone(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let digest = reply.json()["digest"].as_str().unwrap().to_string();
    assert!(digest.starts_with("sha256:"));
    assert_eq!(reply.json()["name"], "write_scopes_short_lived");
    let file = service
        .data()
        .join(format!("components/sha256-{}.wasm", &digest[7..]));
    assert_eq!(std::fs::read(&file).unwrap(), bytes);

    serve_one_custom_policy(&router, "short-writes", &digest, "{ max_days = 7 }").await;
    let request = common::example_request("create-too-long");
    let decision = call(
        &router,
        "POST",
        "/v1/tenants/contoso/decisions",
        &[],
        request,
    )
    .await
    .json();
    assert_eq!(decision["violations"][0]["policy"], "short-writes");

    let unknown = format!("sha256:{}", "0".repeat(64));
    let config = format!(
        "tenant = \"contoso\"\n[[custom_policies]]\nname = \"x\"\ncomponent = \"{unknown}\"\n"
    );
    let reply = call(
        &router,
        "PUT",
        "/v1/admin/tenants/contoso",
        &[BEARER],
        config,
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply.text().contains("has been uploaded"),
        "{}",
        reply.text()
    );

    for (bytes, expected) in [
        (b"garbage".to_vec(), "is not a WebAssembly binary"),
        (
            std::fs::read(common::component("wasi_imports")).unwrap(),
            "imports `wasi:random/random@0.2.0`",
        ),
    ] {
        let reply = call(&router, "POST", "/v1/admin/components", &[BEARER], bytes).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(reply.error_code(), "invalid_component");
        assert!(reply.text().contains(expected), "{}", reply.text());
    }
    let list = call(
        &router,
        "GET",
        "/v1/admin/components",
        &[BEARER],
        Body::empty(),
    )
    .await
    .json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["digest"], digest.as_str());
}

#[tokio::test(flavor = "multi_thread")]
async fn changes_on_disk_are_picked_up_and_broken_ones_are_refused() {
    let service = Service::open(Some(TOKEN));
    let router = service.router();
    let file = service.data().join("tenants/contoso.toml");
    let request = common::example_request("create-allowed");
    std::fs::write(&file, THIRTY_DAYS).unwrap();
    service.server.reload();
    let decision = call(
        &router,
        "POST",
        "/v1/tenants/contoso/decisions",
        &[],
        request.clone(),
    )
    .await
    .json();
    assert_eq!(
        decision["violations"][0]["code"],
        "patLifespanPolicyViolation"
    );

    std::fs::write(
        &file,
        "tenant = \"contoso\"\n[policies.max_pat_lifespan]\nenabled = tru\n",
    )
    .unwrap();
    service.server.reload();
    let decision = call(
        &router,
        "POST",
        "/v1/tenants/contoso/decisions",
        &[],
        request.clone(),
    )
    .await
    .json();
    assert_eq!(
        decision["violations"][0]["code"], "patLifespanPolicyViolation",
        "the previous version serves"
    );
    let list = call(
        &router,
        "GET",
        "/v1/admin/tenants",
        &[BEARER],
        Body::empty(),
    )
    .await
    .json();
    assert_eq!(list[0]["serving"], true);
    assert!(
        list[0]["refused"]
            .as_str()
            .unwrap()
            .contains("not valid TOML"),
        "{list}"
    );

    std::fs::write(
        service.data().join("tenants/fabrikam.toml"),
        "tenant = \"fabrikam\"\n",
    )
    .unwrap();
    std::fs::remove_file(&file).unwrap();
    service.server.reload();
    let reply = call(
        &router,
        "POST",
        "/v1/tenants/contoso/decisions",
        &[],
        request.clone(),
    )
    .await;
    assert_eq!(
        reply.status,
        StatusCode::NOT_FOUND,
        "a removed file stops being served"
    );
    let reply = call(
        &router,
        "POST",
        "/v1/tenants/fabrikam/decisions",
        &[],
        request,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "a new file is served");
}

#[tokio::test(flavor = "multi_thread")]
async fn operations_endpoints_report_health_readiness_and_metrics() {
    let service = Service::open(None);
    let router = service.router();
    let reply = call(&router, "GET", "/healthz", &[], Body::empty()).await;
    assert_eq!(reply.json()["status"], "ok");
    let reply = call(&router, "GET", "/readyz", &[], Body::empty()).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["tenants"], 1);

    call(
        &router,
        "POST",
        "/v1/tenants/contoso/decisions",
        &[],
        common::example_request("create-too-long"),
    )
    .await;
    call(
        &router,
        "POST",
        "/v1/tenants/contoso/decisions",
        &[],
        common::example_request("create-allowed"),
    )
    .await;
    let metrics = call(&router, "GET", "/metrics", &[], Body::empty())
        .await
        .text();
    for expected in [
        "patrol_decisions_total{tenant=\"contoso\",outcome=\"denied\"} 1",
        "patrol_decisions_total{tenant=\"contoso\",outcome=\"allowed\"} 1",
        "patrol_policy_duration_seconds_count{policy=\"max_pat_lifespan\"} 2",
        "patrol_tenants_loaded 1",
        "patrol_components_loaded 1", // the seed bundle
    ] {
        assert!(metrics.contains(expected), "{expected} in:\n{metrics}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn policy_errors_are_counted_by_class() {
    let service = Service::open(Some(TOKEN));
    let router = service.router();
    let hostile = common::component("hostile").display().to_string();
    serve_one_custom_policy(&router, "rogue", &hostile, "{ behaviour = \"panic\" }").await;
    let decision = call(
        &router,
        "POST",
        "/v1/tenants/contoso/decisions",
        &[],
        common::example_request("create-allowed"),
    )
    .await
    .json();
    assert_eq!(decision["violations"][0]["error"], "trap");
    let metrics = call(&router, "GET", "/metrics", &[], Body::empty())
        .await
        .text();
    assert!(
        metrics.contains("patrol_policy_errors_total{policy=\"rogue\",class=\"trap\"} 1"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_openapi_document_matches_the_routes() {
    let service = Service::open(None);
    let served = call(
        &service.router(),
        "GET",
        "/openapi.json",
        &[],
        Body::empty(),
    )
    .await;
    let checked_in = std::fs::read_to_string(common::root().join("docs/openapi.json")).unwrap();
    assert_eq!(served.text(), checked_in);
    assert_eq!(served.text(), OPENAPI);
    let document: Value = serde_json::from_str(&checked_in).unwrap();
    let documented: BTreeSet<(String, String)> = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, methods)| {
            methods
                .as_object()
                .unwrap()
                .keys()
                .map(move |method| (path.clone(), method.to_uppercase()))
        })
        .collect();
    let routed: BTreeSet<(String, String)> = routes()
        .into_iter()
        .map(|(path, method)| (path.to_string(), method.to_string()))
        .collect();
    assert_eq!(documented, routed);

    // What a violation may say is documented as the code says it.
    let violation = &document["components"]["schemas"]["Violation"]["properties"];
    let classes: Vec<&str> = violation["error"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|class| class.as_str().unwrap())
        .collect();
    let known: Vec<&str> = patrol::ErrorClass::ALL
        .iter()
        .map(|class| class.as_str())
        .collect();
    assert_eq!(classes, known);
    let codes = violation["code"]["description"].as_str().unwrap();
    for code in patrol::decision::RESERVED_CODES {
        assert!(codes.contains(&format!("`{code}`")), "{code} in {codes}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_group_directory_is_set_listed_and_deleted_and_feeds_the_next_authentication() {
    let service = Service::open(Some(TOKEN));
    let router = service.router();
    let admin = format!("Bearer {TOKEN}");
    let json = [
        ("authorization", admin.as_str()),
        ("content-type", "application/json"),
    ];
    // A global token for carol needs `pat-admins`; she is not in it yet.
    let valid_to = patrol::timestamp::format_rfc3339(patrol::timestamp::now() + 10 * 86_400);
    let create = serde_json::json!({
        "user": "carol@contoso.com", "displayName": "ops", "scope": "vso.build",
        "validTo": valid_to, "allOrgs": true, "org": "contoso-main",
    })
    .to_string();
    let refused = call(
        &router,
        "POST",
        "/v1/tenants/contoso/tokens",
        &json,
        create.clone(),
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.json()["patTokenError"], "globalPatPolicyViolation");

    // SCIM-style member objects and plain ids both work; ids are stored lowercase, once.
    let set = call(
        &router,
        "PUT",
        "/v1/admin/tenants/contoso/groups/pat-admins",
        &json,
        r#"{"members": [{"value": "Carol@contoso.com"}, "carol@contoso.com", "dan"]}"#,
    )
    .await;
    assert_eq!(
        set.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&set.body)
    );
    assert_eq!(
        set.json()["members"],
        serde_json::json!(["carol@contoso.com", "dan"])
    );
    let listed = call(
        &router,
        "GET",
        "/v1/admin/tenants/contoso/groups",
        &json,
        Body::empty(),
    )
    .await;
    assert_eq!(listed.json()["groups"][0]["id"], "pat-admins");

    // The next decision sees the membership.
    let created = call(&router, "POST", "/v1/tenants/contoso/tokens", &json, create).await;
    assert_eq!(created.status, StatusCode::CREATED);
    let token = created.json()["patToken"]["token"]
        .as_str()
        .unwrap()
        .to_string();
    let bearer = format!("Bearer {token}");
    let in_fabrikam = call(
        &router,
        "GET",
        "/v1/tenants/contoso/orgs/fabrikam/forward-auth",
        &[("authorization", &bearer)],
        Body::empty(),
    )
    .await;
    assert_eq!(in_fabrikam.status, StatusCode::FORBIDDEN);
    assert_eq!(
        in_fabrikam.headers.get("x-patrol-reason").unwrap(),
        "globalPatUsageDisabled"
    );
    call(
        &router,
        "PUT",
        "/v1/admin/tenants/contoso/groups/release-engineers",
        &json,
        r#"{"members": ["carol@contoso.com"]}"#,
    )
    .await;
    let allowed = call(
        &router,
        "POST",
        "/v1/tenants/contoso/authenticate",
        &[("authorization", &bearer), ("x-patrol-org", "fabrikam")],
        Body::empty(),
    )
    .await;
    assert_eq!(allowed.status, StatusCode::OK);
    assert_eq!(
        allowed.headers.get("x-patrol-user").unwrap(),
        "carol@contoso.com"
    );

    // Bad input names what is wrong; deleting twice is a 404; no admin token, no directory.
    let bad = call(
        &router,
        "PUT",
        "/v1/admin/tenants/contoso/groups/x",
        &json,
        r#"{"members": ["has space"]}"#,
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.json()["error"]["field"], "members[0]");
    let path = "/v1/admin/tenants/contoso/groups/release-engineers";
    assert_eq!(
        call(&router, "DELETE", path, &json, Body::empty())
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(&router, "DELETE", path, &json, Body::empty())
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(
            &router,
            "GET",
            "/v1/admin/tenants/contoso/groups",
            &[],
            Body::empty()
        )
        .await
        .status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn reports_and_the_dry_run_answer_over_http_and_see_gateway_refusals() {
    let service = Service::open(Some(TOKEN));
    let router = service.router();
    let admin = format!("Bearer {TOKEN}");
    let json = [
        ("authorization", admin.as_str()),
        ("content-type", "application/json"),
    ];
    // Alice, once a PAT administrator, may hold a global token; using it in fabrikam is
    // refused by policy, and that refusal must reach the violations report.
    let set = call(
        &router,
        "PUT",
        "/v1/admin/tenants/contoso/groups/pat-admins",
        &json,
        r#"{"members": ["alice@contoso.com"]}"#,
    )
    .await;
    assert_eq!(set.status, StatusCode::OK);
    let valid_to = patrol::timestamp::format_rfc3339(patrol::timestamp::now() + 60 * 86_400);
    let create = serde_json::json!({
        "user": "alice@contoso.com", "displayName": "deploy pipeline", "scope": "vso.build_execute",
        "validTo": valid_to, "allOrgs": true, "org": "contoso-main",
    })
    .to_string();
    let created = call(&router, "POST", "/v1/tenants/contoso/tokens", &json, create).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let id = created.json()["patToken"]["authorizationId"]
        .as_str()
        .unwrap()
        .to_string();
    let bearer = format!(
        "Bearer {}",
        created.json()["patToken"]["token"].as_str().unwrap()
    );
    let refused = call(
        &router,
        "GET",
        "/v1/tenants/contoso/orgs/fabrikam/forward-auth",
        &[("authorization", &bearer), ("user-agent", "curl/8.5.0")],
        Body::empty(),
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    wait_for_log(
        &service.dir.path().join("decisions.log"),
        "globalPatUsageDisabled",
    );

    let violations = call(
        &router,
        "GET",
        "/v1/tenants/contoso/reports/violations",
        &json,
        Body::empty(),
    )
    .await;
    assert_eq!(violations.status, StatusCode::OK, "{}", violations.text());
    let report = violations.json();
    assert_eq!(report["denied_requests"], 1);
    assert_eq!(report["by_user"][0]["user"], "alice@contoso.com");
    assert_eq!(report["denials"][0]["operation"], "use");
    assert_eq!(report["denials"][0]["token_id"], id.as_str());

    // The 60-day token breaks a 30-day limit: CSV, one row.
    let csv = call(
        &router,
        "GET",
        "/v1/tenants/contoso/reports/noncompliant?format=csv&max_days=30",
        &json,
        Body::empty(),
    )
    .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(
        csv.headers.get("content-type").unwrap(),
        "text/csv; charset=utf-8"
    );
    let text = csv.text();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(
        text.contains(&id) && text.contains("lifetime > 30 days"),
        "{text}"
    );

    let page = call(
        &router,
        "GET",
        "/v1/tenants/contoso/reports/html",
        &json,
        Body::empty(),
    )
    .await;
    assert_eq!(
        page.headers.get("content-type").unwrap(),
        "text/html; charset=utf-8"
    );
    assert!(page.text().contains("deploy pipeline"));

    // Bad parameters and names are refused, naming them; the admin token is required.
    for (uri, status, field) in [
        (
            "/v1/tenants/contoso/reports/expiring?days=0",
            400,
            Some("days"),
        ),
        (
            "/v1/tenants/contoso/reports/violations?since=yesterday",
            400,
            Some("since"),
        ),
        (
            "/v1/tenants/contoso/reports/usage?format=xml",
            400,
            Some("format"),
        ),
        ("/v1/tenants/contoso/reports/secrets", 404, None),
        ("/v1/tenants/nobody/reports/usage", 404, None),
    ] {
        let reply = call(&router, "GET", uri, &json, Body::empty()).await;
        assert_eq!(reply.status.as_u16(), status, "{uri}: {}", reply.text());
        if let Some(field) = field {
            assert_eq!(reply.json()["error"]["field"], field, "{uri}");
        }
    }
    let anonymous = call(
        &router,
        "GET",
        "/v1/tenants/contoso/reports/usage",
        &[],
        Body::empty(),
    )
    .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);

    // The dry run: a proposal without the PAT administrators' exemption would refuse her global
    // token, as a regeneration; nothing changes.
    let toml = [("authorization", admin.as_str())];
    let proposal =
        "tenant = \"contoso\"\n[policies.restrict_global_pat_creation]\nenabled = true\n";
    let dry = call(
        &router,
        "POST",
        "/v1/tenants/contoso/whatif",
        &toml,
        proposal,
    )
    .await;
    assert_eq!(dry.status, StatusCode::OK, "{}", dry.text());
    let dry = dry.json();
    assert_eq!(dry["failing_tokens"], 1);
    assert_eq!(
        dry["per_policy"][0]["policy"],
        "restrict_global_pat_creation"
    );
    assert_eq!(dry["owners"][0]["tokens"][0]["id"], id.as_str());
    let other = call(
        &router,
        "POST",
        "/v1/tenants/contoso/whatif",
        &toml,
        "tenant = \"fabrikam\"\n",
    )
    .await;
    assert_eq!(other.status, StatusCode::BAD_REQUEST);
    assert_eq!(other.json()["error"]["field"], "tenant");
    let config = call(
        &router,
        "GET",
        "/v1/admin/tenants/contoso",
        &json,
        Body::empty(),
    )
    .await;
    assert!(config.text().contains("pat-admins"), "unchanged");
}

/// A policy that fails again and again is set aside: its decisions fail closed at once with
/// `policyQuarantined`, and the operator sees it in `/readyz` and the metrics.
#[tokio::test(flavor = "multi_thread")]
async fn a_quarantined_policy_is_shown_in_readyz_and_the_metrics() {
    let service = Service::open(Some(TOKEN));
    let router = service.router();
    let bytes = std::fs::read(common::component("hostile")).unwrap();
    let uploaded = call(&router, "POST", "/v1/admin/components", &[BEARER], bytes).await;
    assert_eq!(uploaded.status, StatusCode::CREATED, "{}", uploaded.text());
    let digest = uploaded.json()["digest"].as_str().unwrap().to_string();
    serve_one_custom_policy(
        &router,
        "rogue",
        &digest,
        "{ behaviour = \"endless-loop\" }",
    )
    .await;
    let ready = call(&router, "GET", "/readyz", &[], Body::empty()).await;
    assert_eq!(ready.json()["quarantined"], serde_json::json!([]));

    let request = common::example_request("create-allowed");
    let mut codes = Vec::new();
    for _ in 0..6 {
        let decision = call(
            &router,
            "POST",
            "/v1/tenants/contoso/decisions",
            &[],
            request.clone(),
        )
        .await
        .json();
        assert_eq!(decision["allowed"], false);
        codes.push(
            decision["violations"][0]["code"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(
        codes,
        [
            "policyError",
            "policyError",
            "policyError",
            "policyError",
            "policyError",
            "policyQuarantined"
        ]
    );

    let ready = call(&router, "GET", "/readyz", &[], Body::empty()).await;
    assert_eq!(
        ready.status,
        StatusCode::OK,
        "a quarantine is not unreadiness"
    );
    let quarantined = &ready.json()["quarantined"];
    assert_eq!(quarantined.as_array().unwrap().len(), 1, "{quarantined}");
    assert_eq!(quarantined[0]["tenant"], "contoso");
    assert_eq!(quarantined[0]["policy"], "rogue");
    assert_eq!(quarantined[0]["failures_in_a_row"], 5);
    assert!(
        quarantined[0]["last_failure"]
            .as_str()
            .unwrap()
            .starts_with("timeout: "),
        "{quarantined}"
    );
    assert!(quarantined[0]["retry_in_ms"].as_u64().unwrap() > 0);
    let metrics = call(&router, "GET", "/metrics", &[], Body::empty())
        .await
        .text();
    assert!(
        metrics.contains(r#"patrol_policies_quarantined{tenant="contoso",policy="rogue"} 1"#),
        "{metrics}"
    );
}

/// Makes tenant `contoso` one custom policy, `name`, of `component` (a path, or the digest of
/// an uploaded component) with `settings` (TOML).
async fn serve_one_custom_policy(
    router: &axum::Router,
    name: &str,
    component: &str,
    settings: &str,
) {
    let config = format!(
        "tenant = \"contoso\"\n[[custom_policies]]\nname = \"{name}\"\ncomponent = {component:?}\n\
         settings = {settings}\n"
    );
    let reply = call(
        router,
        "PUT",
        "/v1/admin/tenants/contoso",
        &[BEARER],
        config,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
}

/// A CEL rule set over HTTP is a policy like the others: it refuses what it forbids, with its
/// code, and its refusals reach the decision log and the violations report; an invalid rule
/// is refused naming the rule and the position, and nothing changes.
#[tokio::test(flavor = "multi_thread")]
async fn rules_set_over_http_refuse_and_reach_the_reports() {
    let service = Service::open(Some(TOKEN));
    let router = service.router();
    let admin = format!("Bearer {TOKEN}");
    let json = [
        ("authorization", admin.as_str()),
        ("content-type", "application/json"),
    ];
    let config = r#"tenant = "contoso"

[[rules]]
name = "contractors-no-manage"
expression = '!(user.groups.exists(g, g == "contractors") && token.scopes.exists(s, s.endsWith("_manage")))'
code = "contractorManageScope"
message = "contractors may not hold manage scopes"
"#;
    let reply = call(
        &router,
        "PUT",
        "/v1/admin/tenants/contoso",
        &[BEARER],
        config,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let set = call(
        &router,
        "PUT",
        "/v1/admin/tenants/contoso/groups/contractors",
        &json,
        r#"{"members": ["carol@contoso.com"]}"#,
    )
    .await;
    assert_eq!(set.status, StatusCode::OK);

    let valid_to = patrol::timestamp::format_rfc3339(patrol::timestamp::now() + 30 * 86_400);
    let create = |user: &str| {
        serde_json::json!({
            "user": user, "displayName": "repos", "scope": "vso.code_manage",
            "validTo": valid_to, "org": "contoso-main",
        })
        .to_string()
    };
    let refused = call(
        &router,
        "POST",
        "/v1/tenants/contoso/tokens",
        &json,
        create("carol@contoso.com"),
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text());
    assert!(
        refused.text().contains("contractorManageScope"),
        "{}",
        refused.text()
    );
    let allowed = call(
        &router,
        "POST",
        "/v1/tenants/contoso/tokens",
        &json,
        create("dana@contoso.com"),
    )
    .await;
    assert_eq!(allowed.status, StatusCode::CREATED, "{}", allowed.text());

    wait_for_log(
        &service.dir.path().join("decisions.log"),
        "contractorManageScope",
    );
    let violations = call(
        &router,
        "GET",
        "/v1/tenants/contoso/reports/violations",
        &json,
        Body::empty(),
    )
    .await;
    assert_eq!(violations.status, StatusCode::OK, "{}", violations.text());
    assert_eq!(violations.json()["denied_requests"], 1);
    assert!(
        violations.text().contains("contractors-no-manage"),
        "{}",
        violations.text()
    );

    let broken = config.replace("user.groups.exists", "user.grups.exists");
    let reply = call(
        &router,
        "PUT",
        "/v1/admin/tenants/contoso",
        &[BEARER],
        broken,
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.error_code(), "invalid_configuration");
    let message = reply.json()["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.contains(
            "rule `contractors-no-manage`: invalid settings: `expression` (`!(user.grups.exists("
        ) && message.contains("at line 1, column 8: `user` has no field `grups`"),
        "{message}"
    );
    let stored = std::fs::read_to_string(service.data().join("tenants/contoso.toml")).unwrap();
    assert_eq!(stored, config, "a refused change writes nothing");
}
