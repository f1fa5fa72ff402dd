//! What a new administrator and an attacker found, through the HTTP API: tokens bound to their
//! organizations, identities that must travel as headers, deleted tenants, unknown scopes,
//! strict bodies, one error shape, and the query parameters Azure DevOps clients send.

use crate as common;

use crate::router::{Reply, Service, TOKEN, call, wait_for_log};
use axum::Router;
use axum::body::Body;
use axum::http::StatusCode;
use patrol::timestamp::{format_rfc3339, now};
use serde_json::{Value, json};

const ADMIN: &str = "Bearer test-admin-token-0123456789";

fn admin_json() -> [(&'static str, &'static str); 2] {
    [
        ("authorization", ADMIN),
        ("content-type", "application/json"),
    ]
}

/// A creation request for `user`'s token for `orgs`, made in `org`, 30 days long.
fn creation(user: &str, scope: &str, org: &str, orgs: &[&str]) -> Value {
    json!({
        "user": user, "displayName": "deploy", "scope": scope,
        "validTo": format_rfc3339(now() + 30 * 86_400),
        "org": org, "targetAccounts": orgs,
    })
}

async fn create(router: &Router, body: &Value) -> Reply {
    call(
        router,
        "POST",
        "/v1/tenants/contoso/tokens",
        &admin_json(),
        body.to_string(),
    )
    .await
}

/// Creates a token and returns its secret.
async fn issue(router: &Router, body: &Value) -> String {
    let created = create(router, body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    created.json()["patToken"]["token"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Makes erin a `pat-admins` member (the example tenant lets that group hold global tokens) and
/// issues her a global token; returns its secret.
async fn issue_global_token(router: &Router) -> String {
    call(
        router,
        "PUT",
        "/v1/admin/tenants/contoso/groups/pat-admins",
        &admin_json(),
        r#"{"members": ["erin@contoso.com"]}"#,
    )
    .await;
    let mut global = creation("erin@contoso.com", "vso.build", "contoso-main", &[]);
    global["allOrgs"] = json!(true);
    issue(router, &global).await
}

fn field(reply: &Reply) -> String {
    reply.json()["error"]["field"]
        .as_str()
        .unwrap_or_else(|| panic!("no field in {}", reply.text()))
        .to_string()
}

fn reason(reply: &Reply) -> &str {
    reply
        .headers
        .get("x-patrol-reason")
        .map(|value| value.to_str().unwrap())
        .unwrap_or("")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_for_some_organizations_authenticates_in_those_alone() {
    let service = Service::open(Some(TOKEN));
    let router = service.router();
    // Dana may not create tokens for `fabrikam` (restrict_pat_creation); she creates one for
    // `contoso-main` instead and tries to use it in `fabrikam`.
    let refused = create(
        &router,
        &creation("dana@contoso.com", "vso.code", "fabrikam", &["fabrikam"]),
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(
        refused.json()["patTokenError"],
        "disablePatCreationPolicyViolation"
    );
    let secret = issue(
        &router,
        &creation(
            "dana@contoso.com",
            "vso.code",
            "contoso-main",
            &["contoso-main"],
        ),
    )
    .await;
    let bearer = format!("Bearer {secret}");
    let elsewhere = [
        (
            "GET",
            "/v1/tenants/contoso/orgs/fabrikam/forward-auth",
            None,
        ),
        ("GET", "/v1/tenants/contoso/forward-auth", Some("fabrikam")),
        ("POST", "/v1/tenants/contoso/authenticate", Some("Fabrikam")),
        (
            "GET",
            "/v1/tenants/contoso/orgs/anywhere-else/forward-auth",
            None,
        ),
    ];
    for (method, uri, org) in elsewhere {
        let mut headers = vec![("authorization", bearer.as_str())];
        headers.extend(org.map(|org| ("x-patrol-org", org)));
        let reply = call(&router, method, uri, &headers, Body::empty()).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{uri} {org:?}");
        assert_eq!(reason(&reply), "token_not_valid_for_org");
        assert_eq!(reply.json()["error"]["code"], "token_not_valid_for_org");
        assert!(reply.headers.get("x-patrol-user").is_none());
        let message = reply.json()["error"]["message"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(message.contains("`contoso-main`"), "{message}");
    }
    // In its own organization, named in any case, it works.
    for org in ["contoso-main", "CONTOSO-MAIN"] {
        let reply = call(
            &router,
            "GET",
            &format!("/v1/tenants/contoso/orgs/{org}/forward-auth"),
            &[("authorization", &bearer)],
            Body::empty(),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{org}: {}", reply.text());
        assert_eq!(reply.headers["x-patrol-user"], "dana@contoso.com");
    }
    // Refusals are counted and logged like the others.
    let metrics = call(&router, "GET", "/metrics", &[], Body::empty()).await;
    assert!(
        metrics
            .text()
            .contains(r#"outcome="token_not_valid_for_org"} 4"#),
        "{}",
        metrics.text()
    );
    let log = wait_for_log(
        &service.dir.path().join("decisions.log"),
        "tokenNotValidForOrg",
    );
    let line = log
        .lines()
        .find(|line| line.contains("tokenNotValidForOrg"))
        .expect("the refusal is in the decision log");
    let record: Value = serde_json::from_str(line).unwrap();
    assert_eq!(record["source"], "gateway");
    assert_eq!(record["org"], "fabrikam");
    assert!(!line.contains(&secret));

    // A global token is valid in every organization (subject to the `use` policies).
    let global = format!("Bearer {}", issue_global_token(&router).await);
    for org in ["contoso-main", "anywhere-else"] {
        let reply = call(
            &router,
            "GET",
            &format!("/v1/tenants/contoso/orgs/{org}/forward-auth"),
            &[("authorization", &global)],
            Body::empty(),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{org}");
    }

    // The decisions API applies the same rule to a `use`.
    let decision = call(
        &router,
        "POST",
        "/v1/tenants/contoso/decisions",
        &[],
        json!({
            "operation": "use", "org": "fabrikam", "user": { "id": "dana@contoso.com" },
            "token": { "scopes": ["vso.code"], "orgs": ["contoso-main"],
                       "valid_from": "2026-01-01T00:00:00Z", "valid_to": "2099-01-01T00:00:00Z" }
        })
        .to_string(),
    )
    .await;
    assert_eq!(decision.json()["allowed"], false);
    assert_eq!(
        decision.json()["violations"][0]["code"],
        "tokenNotValidForOrg"
    );
    assert_eq!(decision.json()["violations"][0]["policy"], "patrol");
}

#[tokio::test(flavor = "multi_thread")]
async fn no_caller_may_name_the_organization_patrol_uses_for_no_organization() {
    // `*` is what patrol itself judges leaks and dry runs of global tokens in: only tenant-wide
    // policies apply there. A global token used "in `*`" would skip every organization's
    // policies, and a token limited to `*` would be a global token that never met the
    // global-token policies.
    let service = Service::open(Some(TOKEN));
    let router = service.router();
    let bearer = format!("Bearer {}", issue_global_token(&router).await);
    let doors = [
        (
            "GET",
            "/v1/tenants/contoso/orgs/*/forward-auth",
            None,
            "org",
        ),
        (
            "GET",
            "/v1/tenants/contoso/orgs/%2A/forward-auth",
            None,
            "org",
        ),
        (
            "GET",
            "/v1/tenants/contoso/forward-auth",
            Some("*"),
            "x-patrol-org",
        ),
        (
            "POST",
            "/v1/tenants/contoso/authenticate",
            Some("*"),
            "x-patrol-org",
        ),
    ];
    for (method, uri, org, expected_field) in doors {
        let mut headers = vec![("authorization", bearer.as_str())];
        headers.extend(org.map(|org| ("x-patrol-org", org)));
        let reply = call(&router, method, uri, &headers, Body::empty()).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{uri}: {}",
            reply.text()
        );
        assert_eq!(reply.json()["error"]["code"], "invalid_org", "{uri}");
        assert_eq!(field(&reply).to_lowercase(), expected_field, "{uri}");
        assert!(reply.headers.get("x-patrol-user").is_none());
    }
    // Nor may a token be limited to it, or be created "in" it.
    for (org, orgs, expected_field) in [
        ("contoso-main", "*", "targetAccounts[0]"),
        ("*", "contoso-main", "org"),
    ] {
        let reply = create(
            &router,
            &creation("bob@contoso.com", "vso.code", org, &[orgs]),
        )
        .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text());
        assert_eq!(field(&reply), expected_field);
    }
    // Nor may a request to the decisions API.
    for (request, expected_field) in [
        (
            json!({
                "operation": "use", "org": "*", "user": { "id": "erin@contoso.com" },
                "token": { "scopes": ["vso.build"], "all_orgs": true,
                           "valid_to": "2099-01-01T00:00:00Z" }
            }),
            "org",
        ),
        (
            json!({
                "operation": "create", "org": "contoso-main", "user": { "id": "bob@contoso.com" },
                "token": { "scopes": ["vso.code"], "orgs": ["contoso-main", "*"],
                           "valid_to": "2099-01-01T00:00:00Z" }
            }),
            "token.orgs[1]",
        ),
    ] {
        let decision = call(
            &router,
            "POST",
            "/v1/tenants/contoso/decisions",
            &[],
            request.to_string(),
        )
        .await;
        assert_eq!(
            decision.status,
            StatusCode::BAD_REQUEST,
            "{}",
            decision.text()
        );
        assert_eq!(field(&decision), expected_field);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tenant_that_is_not_served_has_no_groups_and_no_audit_log() {
    let service = Service::open(Some(TOKEN));
    let router = service.router();
    let routes = [
        ("GET", "/v1/admin/tenants/nobody/groups", ""),
        (
            "PUT",
            "/v1/admin/tenants/nobody/groups/eng",
            r#"{"members": ["bob@contoso.com"]}"#,
        ),
        ("DELETE", "/v1/admin/tenants/nobody/groups/eng", ""),
        ("GET", "/v1/tenants/nobody/audit", ""),
    ];
    for (method, uri, body) in routes {
        let reply = call(&router, method, uri, &admin_json(), body.to_string()).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method} {uri}");
        assert_eq!(reply.json()["error"]["code"], "unknown_tenant", "{uri}");
    }
    // Nothing was stored for a tenant that may be created later.
    assert!(
        service
            .server
            .tokens()
            .store()
            .groups("nobody")
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn identities_that_cannot_travel_as_headers_are_refused_at_every_door() {
    let service = Service::open(Some(TOKEN));
    let router = service.router();
    let base = || {
        creation(
            "bob@contoso.com",
            "vso.code",
            "contoso-main",
            &["contoso-main"],
        )
    };
    let many_scopes = vec!["vso.code"; 6000].join(" ");
    let cases: [(&str, Value, &str); 6] = [
        ("user", json!("bob\n@contoso.com"), "user"),
        ("scope", json!("vso.code vso.work\u{7}"), "scope"),
        ("scope", json!(many_scopes), "scope"),
        ("displayName", json!("\u{1b}[2Jdeploy"), "displayName"),
        (
            "targetAccounts",
            json!(["contoso-main", "bad/org"]),
            "targetAccounts[1]",
        ),
        (
            "groups",
            json!(["eng\r\nx-patrol-user: admin"]),
            "groups[0]",
        ),
    ];
    for (key, value, expected) in cases {
        let mut body = base();
        body[key] = value;
        let reply = create(&router, &body).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{key}: {}",
            reply.text()
        );
        assert_eq!(field(&reply), expected, "{key}");
    }
    // Nothing was stored.
    let listed = call(
        &router,
        "GET",
        "/v1/tenants/contoso/tokens?displayFilterOption=all",
        &admin_json(),
        Body::empty(),
    )
    .await;
    assert_eq!(listed.json()["patTokens"], json!([]));

    // The group directory and the decisions API use the same validator.
    let group = call(
        &router,
        "PUT",
        "/v1/admin/tenants/contoso/groups/eng",
        &admin_json(),
        r#"{"members": ["ok@contoso.com", "bob\r@contoso.com"]}"#,
    )
    .await;
    assert_eq!(group.status, StatusCode::BAD_REQUEST);
    assert_eq!(field(&group), "members[1]");
    let decision = call(
        &router,
        "POST",
        "/v1/tenants/contoso/decisions",
        &[],
        json!({
            "operation": "create", "org": "contoso-main", "user": { "id": "bob\u{85}" },
            "token": { "scopes": ["vso.code"], "orgs": ["contoso-main"],
                       "valid_to": "2099-01-01T00:00:00Z" }
        })
        .to_string(),
    )
    .await;
    assert_eq!(decision.status, StatusCode::BAD_REQUEST);
    assert_eq!(field(&decision), "user.id");

    // A token stored before identities were checked fails closed: never a 200 without them.
    let secret = patrol_store::tokens::Secret::generate().unwrap();
    let record = patrol_store::tokens::TokenRecord {
        id: "legacy-token".into(),
        tenant: "contoso".into(),
        owner: "mallory\nx-patrol-user: admin".into(),
        display_name: "legacy".into(),
        scopes: vec!["vso.code".into()],
        all_orgs: false,
        orgs: vec!["contoso-main".into()],
        valid_from: now() - 10,
        valid_to: now() + 86_400,
        created_at: now() - 10,
        last_used_at: None,
        last_user_agent: None,
        last_address: None,
        revoked_at: None,
        revocation_reason: None,
    };
    let audit = patrol_store::tokens::AuditEntry {
        time: now(),
        tenant: "contoso".into(),
        event: patrol_store::tokens::AuditEvent::PatCreate,
        actor: "legacy".into(),
        token_id: Some(record.id.clone()),
        outcome: patrol_store::tokens::Outcome::Success,
        details: json!({}),
    };
    let notification = patrol_store::tokens::Notification {
        tenant: "contoso".into(),
        event: patrol_store::tokens::NotificationEvent::Created,
        token_id: Some(record.id.clone()),
        owner: None,
        payload: json!({}),
    };
    service
        .server
        .tokens()
        .store()
        .create(&record, &secret.hash(), &audit, &notification)
        .unwrap();
    let reply = call(
        &router,
        "GET",
        "/v1/tenants/contoso/orgs/contoso-main/forward-auth",
        &[("authorization", &format!("Bearer {}", secret.expose()))],
        Body::empty(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(reply.headers.get("x-patrol-user").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_tenant_leaves_no_valid_token_behind_for_its_successor() {
    let service = Service::open(Some(TOKEN));
    let router = service.router();
    let secret = issue(
        &router,
        &creation(
            "bob@contoso.com",
            "vso.code",
            "contoso-main",
            &["contoso-main"],
        ),
    )
    .await;
    call(
        &router,
        "PUT",
        "/v1/admin/tenants/contoso/groups/pat-admins",
        &admin_json(),
        r#"{"members": ["bob@contoso.com"]}"#,
    )
    .await;
    let config = call(
        &router,
        "GET",
        "/v1/admin/tenants/contoso",
        &admin_json(),
        Body::empty(),
    )
    .await
    .text();
    let deleted = call(
        &router,
        "DELETE",
        "/v1/admin/tenants/contoso",
        &[
            ("authorization", ADMIN),
            ("x-patrol-actor", "ops@contoso.com"),
        ],
        Body::empty(),
    )
    .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    // A new tenant of the same name...
    let recreated = call(
        &router,
        "PUT",
        "/v1/admin/tenants/contoso",
        &[("authorization", ADMIN)],
        config,
    )
    .await;
    assert_eq!(recreated.status, StatusCode::OK, "{}", recreated.text());
    // ...inherits neither the old tokens nor the old groups.
    let reply = call(
        &router,
        "GET",
        "/v1/tenants/contoso/orgs/contoso-main/forward-auth",
        &[("authorization", &format!("Bearer {secret}"))],
        Body::empty(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reason(&reply), "revoked_token");
    let groups = call(
        &router,
        "GET",
        "/v1/admin/tenants/contoso/groups",
        &admin_json(),
        Body::empty(),
    )
    .await;
    assert_eq!(groups.json()["groups"], json!([]));
    let audit = call(
        &router,
        "GET",
        "/v1/tenants/contoso/audit?event=Token.PatSystemRevokeEvent",
        &admin_json(),
        Body::empty(),
    )
    .await;
    let entries = audit.json()["entries"].clone();
    assert_eq!(entries.as_array().unwrap().len(), 1, "{entries}");
    assert_eq!(entries[0]["details"]["reason"], "tenant_deleted");
    assert_eq!(entries[0]["actor"], "ops@contoso.com");
    // Deleting what does not exist is a 404.
    let twice = call(
        &router,
        "DELETE",
        "/v1/admin/tenants/nobody",
        &admin_json(),
        Body::empty(),
    )
    .await;
    assert_eq!(twice.status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn scopes_are_checked_against_the_catalogue_and_the_tenant_s_extra_names() {
    let service = Service::open(Some(TOKEN));
    let router = service.router();
    let typo = create(
        &router,
        &creation(
            "bob@contoso.com",
            "vso.code vso.cod",
            "contoso-main",
            &["contoso-main"],
        ),
    )
    .await;
    assert_eq!(typo.status, StatusCode::BAD_REQUEST);
    assert_eq!(field(&typo), "scope");
    assert!(
        typo.text().contains("unknown scope `vso.cod`"),
        "{}",
        typo.text()
    );
    let decision = call(
        &router,
        "POST",
        "/v1/tenants/contoso/decisions",
        &[],
        json!({
            "operation": "create", "org": "contoso-main", "user": { "id": "bob" },
            "token": { "scopes": ["vso.code", "read_api"], "orgs": ["contoso-main"],
                       "valid_to": "2099-01-01T00:00:00Z" }
        })
        .to_string(),
    )
    .await;
    assert_eq!(decision.status, StatusCode::BAD_REQUEST);
    assert_eq!(field(&decision), "token.scopes[1]");

    // A tenant on another platform names its own scopes.
    let config = "tenant = \"contoso\"\n[scopes]\nextra = [\"read_api\"]\n";
    let put = call(
        &router,
        "PUT",
        "/v1/admin/tenants/contoso",
        &[("authorization", ADMIN)],
        config,
    )
    .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text());
    let created = create(
        &router,
        &creation(
            "bob@contoso.com",
            "read_api VSO.Code",
            "contoso-main",
            &["contoso-main"],
        ),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    assert_eq!(created.json()["patToken"]["scope"], "read_api vso.code");
    let bad = call(
        &router,
        "PUT",
        "/v1/admin/tenants/contoso",
        &[("authorization", ADMIN)],
        "tenant = \"contoso\"\n[scopes]\nextra = [\"ok\", \"not ok\"]\n",
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.text().contains("scopes.extra[1]"), "{}", bad.text());
}

#[tokio::test(flavor = "multi_thread")]
async fn every_refusal_is_one_json_shape_naming_the_field() {
    let service = Service::open(Some(TOKEN));
    let router = service.router();
    let good = creation(
        "bob@contoso.com",
        "vso.code",
        "contoso-main",
        &["contoso-main"],
    );

    // Trailing content is refused, wherever a body is parsed; nothing is stored.
    let trailing = format!("{good}}}}}");
    let reply = create_raw(&router, &trailing).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(field(&reply), "body");
    let decision = call(
        &router,
        "POST",
        "/v1/tenants/contoso/decisions",
        &[],
        format!("{}}}", common::example_request("create-allowed").trim()),
    )
    .await;
    assert_eq!(
        decision.status,
        StatusCode::BAD_REQUEST,
        "{}",
        decision.text()
    );
    let group = call(
        &router,
        "PUT",
        "/v1/admin/tenants/contoso/groups/eng",
        &admin_json(),
        r#"{"members": ["a@contoso.com"]} x"#,
    )
    .await;
    assert_eq!(group.status, StatusCode::BAD_REQUEST);

    // Missing and wrong-typed fields are named, in words without Rust type names.
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("user");
    let reply = create(&router, &missing).await;
    assert_eq!(field(&reply), "user");
    let reply = call(
        &router,
        "PUT",
        "/v1/admin/tenants/contoso/groups/eng",
        &admin_json(),
        r#"{"members": "a@contoso.com"}"#,
    )
    .await;
    assert_eq!(field(&reply), "members");
    let leak = call(
        &router,
        "POST",
        "/v1/leaks",
        &[("content-type", "application/json")],
        r#"[{"token": 42}]"#,
    )
    .await;
    assert_eq!(leak.status, StatusCode::BAD_REQUEST);
    assert_eq!(field(&leak), "[0].token");
    let typed = call(
        &router,
        "POST",
        "/v1/tenants/contoso/decisions",
        &[],
        r#"{"operation": "use", "org": "o", "user": "bob"}"#,
    )
    .await;
    assert_eq!(field(&typed), "user");
    assert!(!typed.text().contains("Raw"), "{}", typed.text());

    // A body that is not text, and configurations that do not load, name their field too.
    let binary = call(
        &router,
        "POST",
        "/v1/tenants/contoso/decisions",
        &[],
        vec![0xff_u8, 0xfe, 0x7b],
    )
    .await;
    assert_eq!(binary.status, StatusCode::BAD_REQUEST);
    assert_eq!(field(&binary), "body");
    let configurations = [
        (
            "tenant = \"contoso\"\n[policies.max_pat_lifespan]\nenabled = \"yes\"\nmax_days = 30\n",
            "policies.max_pat_lifespan.enabled",
        ),
        (
            "tenant = \"contoso\"\n[policies.max_pat_lifespan]\nenabled = true\nmax_days = 0\n",
            "policies.max_pat_lifespan",
        ),
        ("tenant = \"fabrikam\"\n", "tenant"),
        ("tenant = [", "body"),
    ];
    for (configuration, expected) in configurations {
        for uri in ["/v1/admin/tenants/contoso", "/v1/tenants/contoso/whatif"] {
            let method = if uri.ends_with("whatif") {
                "POST"
            } else {
                "PUT"
            };
            let reply = call(
                &router,
                method,
                uri,
                &[("authorization", ADMIN)],
                configuration.to_string(),
            )
            .await;
            assert_eq!(
                reply.status,
                StatusCode::BAD_REQUEST,
                "{uri}: {}",
                reply.text()
            );
            assert_eq!(reply.error_code(), "invalid_configuration", "{uri}");
            assert_eq!(field(&reply), expected, "{uri}: {configuration}");
        }
    }

    // Query parameters and methods answer in JSON too.
    for (uri, expected) in [
        ("/v1/tenants/contoso/tokens?top=abc", "top"),
        ("/v1/tenants/contoso/tokens?colour=red", "colour"),
        (
            "/v1/tenants/contoso/tokens?isSortAscending=maybe",
            "isSortAscending",
        ),
        ("/v1/tenants/contoso/audit?limit=-1", "limit"),
    ] {
        let reply = call(&router, "GET", uri, &admin_json(), Body::empty()).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(field(&reply), expected, "{uri}");
    }
    let wrong_method = call(
        &router,
        "GET",
        "/v1/tenants/contoso/decisions",
        &[],
        Body::empty(),
    )
    .await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.error_code(), "method_not_allowed");
}

async fn create_raw(router: &Router, body: &str) -> Reply {
    call(
        router,
        "POST",
        "/v1/tenants/contoso/tokens",
        &admin_json(),
        body.to_string(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_lifecycle_routes_take_what_azure_devops_clients_send() {
    let service = Service::open(Some(TOKEN));
    let router = service.router();
    let version = "api-version=7.1-preview.1";
    let mut ids = Vec::new();
    for name in ["beta", "Alpha", "gamma"] {
        let mut body = creation(
            "bob@contoso.com",
            "vso.code",
            "contoso-main",
            &["contoso-main"],
        );
        body["displayName"] = json!(name);
        let reply = call(
            &router,
            "POST",
            &format!("/v1/tenants/contoso/tokens?{version}"),
            &admin_json(),
            body.to_string(),
        )
        .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
        ids.push(
            reply.json()["patToken"]["authorizationId"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let names = |reply: &Reply| -> Vec<String> {
        reply.json()["patTokens"]
            .as_array()
            .unwrap()
            .iter()
            .map(|token| token["displayName"].as_str().unwrap().to_string())
            .collect()
    };
    let listed = call(
        &router,
        "GET",
        &format!(
            "/v1/tenants/contoso/tokens?displayFilterOption=all&sortByOption=displayName&isSortAscending=false&$top=2&{version}"
        ),
        &admin_json(),
        Body::empty(),
    )
    .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text());
    assert_eq!(names(&listed), ["gamma", "beta"]);
    let next = listed.json()["continuationToken"]
        .as_str()
        .unwrap()
        .to_string();
    let rest = call(
        &router,
        "GET",
        &format!(
            "/v1/tenants/contoso/tokens?displayFilterOption=all&sortByOption=displayName&isSortAscending=false&continuationToken={next}&api-version=7.1"
        ),
        &admin_json(),
        Body::empty(),
    )
    .await;
    assert_eq!(names(&rest), ["Alpha"]);
    for (method, uri) in [
        (
            "GET",
            format!("/v1/tenants/contoso/tokens/{}?api-version=7.1", ids[0]),
        ),
        (
            "DELETE",
            format!("/v1/tenants/contoso/tokens/{}?{version}", ids[0]),
        ),
    ] {
        let reply = call(&router, method, &uri, &admin_json(), Body::empty()).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "{method} {uri}: {}",
            reply.text()
        );
    }
    for (uri, expected) in [
        (
            "/v1/tenants/contoso/tokens?api-version=banana",
            "api-version",
        ),
        (
            "/v1/tenants/contoso/tokens?sortByOption=size",
            "sortByOption",
        ),
    ] {
        let reply = call(&router, "GET", uri, &admin_json(), Body::empty()).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(field(&reply), expected);
    }
}
