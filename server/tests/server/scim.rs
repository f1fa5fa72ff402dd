//! Tenant credentials with roles, and SCIM provisioning, through the real router: a recorded
//! Microsoft Entra provisioning sequence with its consequences for tokens and allowlists, every
//! admin route tried with every role, and SCIM's answers to bad input.

use axum::Router;
use axum::body::Body;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::router::{BEARER, Reply, Service, TOKEN, call};

const SCIM: &str = "/scim/v2/tenants/contoso";

/// A credential of `tenant` with `role`, created by the operator: its secret.
pub(crate) async fn credential(router: &Router, tenant: &str, name: &str, role: &str) -> String {
    let reply = call(
        router,
        "POST",
        &format!("/v1/admin/tenants/{tenant}/credentials"),
        &[BEARER, ("content-type", "application/json")],
        json!({ "name": name, "role": role }).to_string(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["credential"]["role"], role);
    assert!(body["credential"].get("secret_hash").is_none());
    body["secret"].as_str().unwrap().to_string()
}

async fn scim(
    router: &Router,
    secret: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Reply {
    let bearer = format!("Bearer {secret}");
    call(
        router,
        method,
        &format!("{SCIM}{path}"),
        &[
            ("authorization", bearer.as_str()),
            ("content-type", "application/scim+json"),
        ],
        body.map_or(Body::empty(), |body| Body::from(body.to_string())),
    )
    .await
}

/// Asks for a token for carol (global when `global`): the status and the body.
async fn create_token(router: &Router, global: bool) -> Reply {
    let valid_to = patrol::timestamp::format_rfc3339(patrol::timestamp::now() + 10 * 86_400);
    call(
        router,
        "POST",
        "/v1/tenants/contoso/tokens",
        &[BEARER, ("content-type", "application/json")],
        json!({
            "user": "carol@contoso.com", "displayName": "ops", "scope": "vso.build",
            "validTo": valid_to, "allOrgs": global, "org": "contoso-main",
        })
        .to_string(),
    )
    .await
}

async fn directory(router: &Router) -> Value {
    call(
        router,
        "GET",
        "/v1/admin/tenants/contoso/groups",
        &[BEARER],
        Body::empty(),
    )
    .await
    .json()["groups"]
        .clone()
}

/// The steps of `server/tests/data/entra-sequence.json`, recorded from Microsoft's documented
/// requests, with the group renamed to `pat-admins`: the group contoso's global-token policy
/// allowlists.
fn entra_steps() -> Vec<Value> {
    let text = std::fs::read_to_string(
        patrol_test_support::root().join("server/tests/data/entra-sequence.json"),
    )
    .unwrap();
    serde_json::from_str::<Vec<Value>>(&text.replace("contractors", "pat-admins")).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_entra_provisioning_sequence_drives_allowlists_and_revokes_a_deprovisioned_users_tokens()
{
    let service = Service::open(Some(TOKEN));
    let router = service.router();
    let entra = credential(&router, "contoso", "entra", "provisioner").await;
    // Before provisioning: carol holds an ordinary token and may not create a global one.
    let ordinary = create_token(&router, false).await;
    assert_eq!(ordinary.status, StatusCode::CREATED, "{}", ordinary.text());
    let ordinary_id = ordinary.json()["patToken"]["authorizationId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        create_token(&router, true).await.status,
        StatusCode::FORBIDDEN
    );

    let (mut user_id, mut group_id) = (String::new(), String::new());
    let mut global_id = String::new();
    for step in entra_steps() {
        let name = step["name"].as_str().unwrap().to_string();
        let path = step["path"]
            .as_str()
            .unwrap()
            .replace("{userId}", &user_id)
            .replace("{groupId}", &group_id)
            .replace(' ', "%20")
            .replace('"', "%22");
        let body = (!step["body"].is_null()).then(|| {
            let text = step["body"]
                .to_string()
                .replace("{userId}", &user_id)
                .replace("{groupId}", &group_id);
            serde_json::from_str::<Value>(&text).unwrap()
        });
        let method = step["method"].as_str().unwrap();
        let reply = scim(&router, &entra, method, &path, body.as_ref()).await;
        assert_eq!(
            reply.status.as_u16(),
            step["expect_status"].as_u64().unwrap() as u16,
            "{name}: {}",
            reply.text()
        );
        if reply.status != StatusCode::NO_CONTENT {
            assert_eq!(
                reply.headers["content-type"], "application/scim+json",
                "{name}"
            );
        }
        let step_number = name.split_whitespace().next().unwrap().to_string();
        match step_number.as_str() {
            "1" | "3" => assert_eq!(reply.json()["totalResults"], 0, "{name}"),
            "2" => {
                let user = reply.json();
                user_id = user["id"].as_str().unwrap().to_string();
                assert_eq!(user["userName"], "carol@contoso.com");
                assert_eq!(user["active"], true);
                assert_eq!(
                    user["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
                    "Contractors"
                );
                assert_eq!(
                    reply.headers["location"],
                    user["meta"]["location"].as_str().unwrap()
                );
            }
            "4" => {
                let group = reply.json();
                group_id = group["id"].as_str().unwrap().to_string();
                assert_eq!(group["displayName"], "pat-admins");
            }
            "5" => {
                // In the allowlisted group: a global token may be created now...
                assert_eq!(
                    directory(&router).await,
                    json!([{ "id": "pat-admins", "members": ["carol@contoso.com"] }])
                );
                let global = create_token(&router, true).await;
                assert_eq!(global.status, StatusCode::CREATED, "{}", global.text());
                global_id = global.json()["patToken"]["authorizationId"]
                    .as_str()
                    .unwrap()
                    .into();
                // ...and the group is the identity provider's: read-only through the directory.
                let refused = call(
                    &router,
                    "PUT",
                    "/v1/admin/tenants/contoso/groups/pat-admins",
                    &[BEARER, ("content-type", "application/json")],
                    r#"{"members": []}"#,
                )
                .await;
                assert_eq!(refused.status, StatusCode::CONFLICT);
                assert_eq!(refused.error_code(), "group_managed_by_scim");
                assert!(
                    refused.text().contains("identity provider"),
                    "{}",
                    refused.text()
                );
            }
            "6" => {
                assert_eq!(
                    directory(&router).await,
                    json!([{ "id": "pat-admins-renamed", "members": ["carol@contoso.com"] }])
                );
                assert_eq!(
                    create_token(&router, true).await.status,
                    StatusCode::FORBIDDEN
                );
                let group =
                    scim(&router, &entra, "GET", &format!("/Groups/{group_id}"), None).await;
                assert_eq!(group.json()["members"][0]["value"], user_id.as_str());
                assert!(
                    group.json()["members"][0]["$ref"]
                        .as_str()
                        .unwrap()
                        .ends_with(&format!("/Users/{user_id}"))
                );
                let hidden = scim(
                    &router,
                    &entra,
                    "GET",
                    &format!("/Groups/{group_id}?excludedAttributes=members"),
                    None,
                )
                .await;
                assert!(hidden.json().get("members").is_none(), "{}", hidden.text());
            }
            "7a" | "7c" => assert_eq!(directory(&router).await, json!([]), "{name}"),
            "7b" => assert_eq!(
                directory(&router).await[0]["members"][0],
                "carol@contoso.com"
            ),
            "8a" => {
                assert_eq!(reply.json()["active"], false);
                // Every token of carol's revoked, by the SCIM client, for deprovisioning.
                for id in [&ordinary_id, &global_id] {
                    let token = call(
                        &router,
                        "GET",
                        &format!("/v1/tenants/contoso/tokens/{id}"),
                        &[BEARER],
                        Body::empty(),
                    )
                    .await
                    .json();
                    assert_eq!(
                        token["patToken"]["revocationReason"], "user_deprovisioned",
                        "{token}"
                    );
                }
                let audit = call(
                    &router,
                    "GET",
                    "/v1/tenants/contoso/audit?event=Token.PatRevokeEvent",
                    &[BEARER],
                    Body::empty(),
                )
                .await
                .json();
                let revocations = audit["entries"].as_array().unwrap();
                assert_eq!(revocations.len(), 2, "{audit}");
                assert!(
                    revocations
                        .iter()
                        .all(|entry| entry["actor"] == "credential:entra")
                );
                let refused = create_token(&router, false).await;
                assert_eq!(refused.status, StatusCode::FORBIDDEN);
                assert_eq!(refused.error_code(), "user_deprovisioned");
            }
            "9" => {
                let gone = scim(&router, &entra, "GET", &format!("/Users/{user_id}"), None).await;
                assert_eq!(gone.status, StatusCode::NOT_FOUND);
                assert_eq!(gone.json()["status"], "404");
                assert_eq!(
                    create_token(&router, false).await.error_code(),
                    "user_deprovisioned"
                );
            }
            _ => {}
        }
    }
    // Every SCIM write is in the audit log, by the SCIM client.
    let audit = call(
        &router,
        "GET",
        "/v1/tenants/contoso/audit?limit=100",
        &[BEARER],
        Body::empty(),
    )
    .await
    .json();
    let scim_writes = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["event"].as_str().unwrap().starts_with("Scim."))
        .inspect(|entry| assert_eq!(entry["actor"], "credential:entra"))
        .count();
    assert_eq!(scim_writes, 11, "{audit}");
}

/// What each admin route needs: `read`, `write`, `operator` or `provision`.
fn need(method: &str, path: &str) -> Option<&'static str> {
    if path.starts_with("/scim/") {
        return Some("provision");
    }
    let admin_routes = path.starts_with("/v1/admin/")
        || ["/tokens", "/audit", "/reports/", "/whatif"]
            .iter()
            .any(|part| path.contains(part));
    if !admin_routes {
        return None;
    }
    Some(match (method, path) {
        ("GET", "/v1/admin/whoami") => "anyone",
        (_, p) if p.contains("/credentials") => "operator",
        ("GET", "/v1/admin/components") => "operator",
        ("DELETE", "/v1/admin/tenants/{tenant}") => "operator",
        ("GET", _) | ("POST", "/v1/tenants/{tenant}/whatif") => "read",
        _ => "write",
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn every_admin_route_admits_only_the_roles_that_may_use_it_and_hides_other_tenants() {
    let service = Service::open(Some(TOKEN));
    let router = service.router();
    let put = call(
        &router,
        "PUT",
        "/v1/admin/tenants/fabrikam",
        &[BEARER],
        "tenant = \"fabrikam\"\n",
    )
    .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text());
    let mut callers = Vec::new();
    for role in ["admin", "auditor", "provisioner"] {
        callers.push((role, credential(&router, "contoso", role, role).await));
    }
    let other_tenant = credential(&router, "fabrikam", "admin", "admin").await;
    let allowed = |role: &str, need: &str| match need {
        "read" => role == "admin" || role == "auditor",
        "write" => role == "admin",
        "provision" => role == "provisioner",
        "anyone" => true,
        _ => false,
    };
    let mut tried = 0;
    for (path, method) in patrol_server::routes() {
        let method = method.as_str();
        let Some(need) = need(method, path) else {
            continue;
        };
        let uri = path
            .replace("{tenant}", "contoso")
            .replace("{report}", "usage")
            .replace("{group}", "g")
            .replace("{id}", "x");
        for (role, secret) in &callers {
            let bearer = format!("Bearer {secret}");
            let reply = call(
                &router,
                method,
                &uri,
                &[
                    ("authorization", &bearer),
                    ("content-type", "application/json"),
                ],
                "{}",
            )
            .await;
            if allowed(role, need) {
                assert!(
                    reply.status != StatusCode::UNAUTHORIZED
                        && reply.status != StatusCode::FORBIDDEN,
                    "{role} on {method} {path}: {} {}",
                    reply.status,
                    reply.text()
                );
            } else {
                assert_eq!(
                    reply.status,
                    StatusCode::FORBIDDEN,
                    "{role} on {method} {path}: {}",
                    reply.text()
                );
                assert!(
                    reply.text().contains(&format!("`{role}`")),
                    "{}",
                    reply.text()
                );
            }
            tried += 1;
        }
        // Another tenant's credential learns nothing: 404 as for a tenant that does not exist.
        if path.contains("{tenant}") {
            let bearer = format!("Bearer {other_tenant}");
            let reply = call(&router, method, &uri, &[("authorization", &bearer)], "{}").await;
            assert_eq!(
                reply.status,
                StatusCode::NOT_FOUND,
                "{method} {path}: {}",
                reply.text()
            );
            // Where the operator would get 404 too (not PUT, which creates a tenant), the
            // answers are the same but for the name.
            let missing_uri = uri.replace("contoso", "no-such-tenant");
            let missing = call(&router, method, &missing_uri, &[BEARER], "{}").await;
            if missing.status == StatusCode::NOT_FOUND {
                assert_eq!(
                    reply.text().replace("contoso", "T"),
                    missing.text().replace("no-such-tenant", "T"),
                    "{method} {path}"
                );
            } else {
                // PUT creates a tenant; a dry run may be for a tenant still to be created.
                assert!(
                    [
                        ("PUT", "/v1/admin/tenants/{tenant}"),
                        ("POST", "/v1/tenants/{tenant}/whatif")
                    ]
                    .contains(&(method, path)),
                    "{method} {path}"
                );
            }
        }
    }
    assert!(tried > 60, "{tried} calls");
    // A credential lists its own tenant only; a wrong or revoked one is refused.
    let (_, admin) = &callers[0];
    let listed = call(
        &router,
        "GET",
        "/v1/admin/tenants",
        &[("authorization", &format!("Bearer {admin}"))],
        Body::empty(),
    )
    .await
    .json();
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["tenant"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["contoso"]);
    let credentials = call(
        &router,
        "GET",
        "/v1/admin/tenants/contoso/credentials",
        &[BEARER],
        Body::empty(),
    )
    .await
    .json();
    let id = credentials["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|credential| credential["name"] == "admin")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!credentials.to_string().contains(admin.as_str()));
    let rotated = call(
        &router,
        "POST",
        &format!("/v1/admin/tenants/contoso/credentials/{id}/rotate"),
        &[BEARER],
        Body::empty(),
    )
    .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.text());
    let new_secret = rotated.json()["secret"].as_str().unwrap().to_string();
    for (secret, expected) in [
        (admin.as_str(), StatusCode::UNAUTHORIZED),
        (new_secret.as_str(), StatusCode::OK),
    ] {
        let reply = call(
            &router,
            "GET",
            "/v1/admin/tenants/contoso",
            &[("authorization", &format!("Bearer {secret}"))],
            Body::empty(),
        )
        .await;
        assert_eq!(reply.status, expected);
    }
    let revoked = call(
        &router,
        "DELETE",
        &format!("/v1/admin/tenants/contoso/credentials/{id}"),
        &[BEARER],
        Body::empty(),
    )
    .await;
    assert_eq!(revoked.status, StatusCode::OK);
    let reply = call(
        &router,
        "GET",
        "/v1/admin/tenants/contoso",
        &[("authorization", &format!("Bearer {new_secret}"))],
        Body::empty(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    // Changes made with a credential are audited with it as actor; its creation too.
    let audit = call(
        &router,
        "GET",
        "/v1/tenants/contoso/audit?limit=100",
        &[BEARER],
        Body::empty(),
    )
    .await
    .json()
    .to_string();
    for event in [
        "Credential.CreateEvent",
        "Credential.RotateEvent",
        "Credential.RevokeEvent",
        "Credential.UseEvent",
    ] {
        assert!(audit.contains(event), "{event}");
    }
}

/// A bad request: its name, method, path, body, and the status and `scimType` it gets.
type BadInput = (
    &'static str,
    &'static str,
    String,
    Option<Value>,
    u16,
    Option<&'static str>,
);

#[tokio::test(flavor = "multi_thread")]
async fn bad_scim_input_gets_the_right_scim_type_and_changes_nothing() {
    let service = Service::open(Some(TOKEN));
    let router = service.router();
    let entra = credential(&router, "contoso", "entra", "provisioner").await;
    let user = json!({ "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                       "userName": "dave@contoso.com", "active": true });
    let created = scim(&router, &entra, "POST", "/Users", Some(&user)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let dave = created.json()["id"].as_str().unwrap().to_string();
    let audit_before = call(
        &router,
        "GET",
        "/v1/tenants/contoso/audit?limit=100",
        &[BEARER],
        Body::empty(),
    )
    .await
    .text();
    // More members than a group may have (100,000) do not fit in a request (1 MiB).
    let many: Vec<Value> = (0..100_001)
        .map(|i| json!({ "value": format!("u{i}") }))
        .collect();
    let patch = |operations: Value| {
        json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations })
    };
    let dave_path = format!("/Users/{dave}");
    let cases: Vec<BadInput> = vec![
        (
            "malformed filter",
            "GET",
            "/Users?filter=userName%20eq".into(),
            None,
            400,
            Some("invalidFilter"),
        ),
        (
            "unknown operator",
            "GET",
            "/Users?filter=userName%20is%20%22x%22".into(),
            None,
            400,
            Some("invalidFilter"),
        ),
        (
            "unknown attribute",
            "POST",
            "/Users".into(),
            Some(json!({ "userName": "erin@contoso.com", "favouriteColour": "blue" })),
            400,
            Some("invalidSyntax"),
        ),
        (
            "wrong type",
            "POST",
            "/Users".into(),
            Some(json!({ "userName": "erin@contoso.com", "active": 5 })),
            400,
            Some("invalidValue"),
        ),
        (
            "emails not a list",
            "POST",
            "/Users".into(),
            Some(json!({ "userName": "erin@contoso.com", "emails": "erin@contoso.com" })),
            400,
            Some("invalidValue"),
        ),
        (
            "no userName",
            "POST",
            "/Users".into(),
            Some(json!({ "displayName": "x" })),
            400,
            Some("invalidValue"),
        ),
        (
            "userName with spaces",
            "POST",
            "/Users".into(),
            Some(json!({ "userName": "erin smith" })),
            400,
            Some("invalidValue"),
        ),
        (
            "duplicate userName",
            "POST",
            "/Users".into(),
            Some(json!({ "userName": "DAVE@contoso.com" })),
            409,
            Some("uniqueness"),
        ),
        (
            "not JSON",
            "POST",
            "/Users".into(),
            None,
            400,
            Some("invalidSyntax"),
        ),
        (
            "huge member list",
            "POST",
            "/Groups".into(),
            Some(json!({ "displayName": "everyone", "members": many })),
            413,
            None,
        ),
        (
            "member from nowhere",
            "POST",
            "/Groups".into(),
            Some(json!({ "displayName": "ghosts", "members": [{ "value": "not-a-user" }] })),
            400,
            Some("invalidValue"),
        ),
        (
            "unknown op",
            "PATCH",
            dave_path.clone(),
            Some(patch(
                json!([{ "op": "merge", "path": "active", "value": false }]),
            )),
            400,
            Some("invalidSyntax"),
        ),
        (
            "bad path",
            "PATCH",
            dave_path.clone(),
            Some(patch(
                json!([{ "op": "replace", "path": "emails[type eq", "value": "x" }]),
            )),
            400,
            Some("invalidPath"),
        ),
        (
            "remove without path",
            "PATCH",
            dave_path.clone(),
            Some(patch(json!([{ "op": "remove" }]))),
            400,
            Some("noTarget"),
        ),
        (
            "filter matching nothing",
            "PATCH",
            dave_path.clone(),
            Some(patch(
                json!([{ "op": "remove", "path": "emails[type eq \"home\"]" }]),
            )),
            400,
            Some("noTarget"),
        ),
        (
            "active neither true nor false",
            "PATCH",
            dave_path.clone(),
            Some(patch(
                json!([{ "op": "Replace", "path": "active", "value": "maybe" }]),
            )),
            400,
            Some("invalidValue"),
        ),
        (
            "read-only attribute",
            "PATCH",
            dave_path.clone(),
            Some(patch(
                json!([{ "op": "add", "path": "groups", "value": [{ "value": "x" }] }]),
            )),
            400,
            Some("mutability"),
        ),
        (
            "the id",
            "PATCH",
            dave_path.clone(),
            Some(patch(
                json!([{ "op": "replace", "path": "id", "value": "mine" }]),
            )),
            400,
            Some("mutability"),
        ),
        (
            "no such attribute",
            "PATCH",
            dave_path.clone(),
            Some(patch(
                json!([{ "op": "replace", "path": "favouriteColour", "value": "blue" }]),
            )),
            400,
            Some("invalidPath"),
        ),
        (
            "no such sub-attribute",
            "PATCH",
            dave_path.clone(),
            Some(patch(
                json!([{ "op": "replace", "path": "name.nickname", "value": "D" }]),
            )),
            400,
            Some("invalidPath"),
        ),
        (
            "not a PatchOp",
            "PATCH",
            dave_path.clone(),
            Some(json!({ "Operations": [] })),
            400,
            Some("invalidSyntax"),
        ),
        (
            "unknown query parameter",
            "GET",
            "/Users?sortby=x&filters=y".into(),
            None,
            400,
            Some("invalidValue"),
        ),
        (
            "unknown user",
            "GET",
            "/Users/no-such-id".into(),
            None,
            404,
            None,
        ),
    ];
    for (name, method, path, body, status, scim_type) in cases {
        let reply = if name == "not JSON" {
            let bearer = format!("Bearer {entra}");
            call(
                &router,
                method,
                &format!("{SCIM}{path}"),
                &[("authorization", &bearer)],
                "{not json",
            )
            .await
        } else {
            scim(&router, &entra, method, &path, body.as_ref()).await
        };
        assert_eq!(reply.status.as_u16(), status, "{name}: {}", reply.text());
        let error = reply.json();
        assert_eq!(
            error["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
            "{name}"
        );
        assert_eq!(error["status"], status.to_string(), "{name}");
        assert_eq!(error["scimType"].as_str(), scim_type, "{name}: {error}");
        assert!(!error["detail"].as_str().unwrap().is_empty(), "{name}");
    }
    // Nothing changed: one user, no group, no audit entry.
    let users = scim(&router, &entra, "GET", "/Users", None).await.json();
    assert_eq!(users["totalResults"], 1);
    let groups = scim(&router, &entra, "GET", "/Groups", None).await.json();
    assert_eq!(groups["totalResults"], 0);
    let audit_after = call(
        &router,
        "GET",
        "/v1/tenants/contoso/audit?limit=100",
        &[BEARER],
        Body::empty(),
    )
    .await
    .text();
    assert_eq!(audit_before, audit_after);

    // Another tenant's ids are not found here.
    let put = call(
        &router,
        "PUT",
        "/v1/admin/tenants/fabrikam",
        &[BEARER],
        "tenant = \"fabrikam\"\n",
    )
    .await;
    assert_eq!(put.status, StatusCode::OK);
    let theirs = call(
        &router,
        "POST",
        "/scim/v2/tenants/fabrikam/Users",
        &[BEARER, ("content-type", "application/scim+json")],
        json!({ "userName": "frank@fabrikam.com" }).to_string(),
    )
    .await;
    assert_eq!(theirs.status, StatusCode::CREATED, "{}", theirs.text());
    let frank = theirs.json()["id"].as_str().unwrap().to_string();
    let reply = scim(&router, &entra, "GET", &format!("/Users/{frank}"), None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let reply = scim(&router, &entra, "DELETE", &format!("/Users/{frank}"), None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let group = json!({ "displayName": "mixed", "members": [{ "value": frank }] });
    let reply = scim(&router, &entra, "POST", "/Groups", Some(&group)).await;
    assert_eq!(reply.json()["scimType"], "invalidValue");

    // Pagination and filters joined with `and`.
    for i in 0..5 {
        let user =
            json!({ "userName": format!("user{i}@contoso.com"), "externalId": format!("e{i}") });
        assert_eq!(
            scim(&router, &entra, "POST", "/Users", Some(&user))
                .await
                .status,
            StatusCode::CREATED
        );
    }
    let page = scim(&router, &entra, "GET", "/Users?startIndex=3&count=2", None)
        .await
        .json();
    assert_eq!(
        (
            page["totalResults"].as_u64(),
            page["itemsPerPage"].as_u64(),
            page["startIndex"].as_u64()
        ),
        (Some(6), Some(2), Some(3))
    );
    assert_eq!(page["Resources"][0]["userName"], "user1@contoso.com");
    let found = scim(
        &router,
        &entra,
        "GET",
        "/Users?filter=userName%20eq%20%22USER2@contoso.com%22%20and%20externalId%20eq%20%22e2%22",
        None,
    )
    .await
    .json();
    assert_eq!(found["totalResults"], 1);
    assert_eq!(found["Resources"][0]["externalId"], "e2");
}

/// A group of more members than a write reads one by one: the directory holds every active
/// member, and a user deleted leaves the group and the directory in the same write.
#[tokio::test(flavor = "multi_thread")]
async fn a_large_group_keeps_the_directory_in_step() {
    let service = Service::open(Some(TOKEN));
    let router = service.router();
    let entra = credential(&router, "contoso", "entra", "provisioner").await;
    let mut ids = Vec::new();
    for i in 0..100 {
        let user =
            json!({ "userName": format!("member{i:03}@contoso.com"), "active": i % 10 != 0 });
        let created = scim(&router, &entra, "POST", "/Users", Some(&user)).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
        ids.push(created.json()["id"].as_str().unwrap().to_string());
    }
    let members: Vec<Value> = ids.iter().map(|id| json!({ "value": id })).collect();
    let group = json!({ "displayName": "release-engineers", "members": members });
    let created = scim(&router, &entra, "POST", "/Groups", Some(&group)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let group_id = created.json()["id"].as_str().unwrap().to_string();
    let listed = directory(&router).await;
    assert_eq!(
        listed[0]["members"].as_array().unwrap().len(),
        90,
        "the 90 active ones"
    );

    let deleted = scim(
        &router,
        &entra,
        "DELETE",
        &format!("/Users/{}", ids[1]),
        None,
    )
    .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let listed = directory(&router).await;
    let names = listed[0]["members"].as_array().unwrap();
    assert_eq!(names.len(), 89);
    assert!(!names.contains(&json!("member001@contoso.com")));
    let group = scim(&router, &entra, "GET", &format!("/Groups/{group_id}"), None).await;
    assert_eq!(group.json()["members"].as_array().unwrap().len(), 99);
    let user = scim(&router, &entra, "GET", &format!("/Users/{}", ids[2]), None).await;
    assert_eq!(user.json()["groups"][0]["display"], "release-engineers");
}

/// What a review of the first version found: names kept as they are looked up, a group of the
/// directory adopted whatever its case, a user deactivated and renamed at once blocked under
/// both names, member objects as Okta and RFC 7643's examples send them, and a tenant whose
/// name looks like a resource type.
#[tokio::test(flavor = "multi_thread")]
async fn names_cases_and_renames_keep_the_directory_and_the_tokens_right() {
    let service = Service::open(Some(TOKEN));
    let router = service.router();
    let entra = credential(&router, "contoso", "entra", "provisioner").await;

    // A padded userName is stored as it is looked up.
    let created = scim(
        &router,
        &entra,
        "POST",
        "/Users",
        Some(&json!({ "userName": "  carol@contoso.com ", "active": true })),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let carol = created.json()["id"].as_str().unwrap().to_string();
    assert_eq!(created.json()["userName"], "carol@contoso.com");
    let found = scim(
        &router,
        &entra,
        "GET",
        "/Users?filter=userName%20eq%20%22carol@contoso.com%22",
        None,
    )
    .await;
    assert_eq!(found.json()["totalResults"], 1);

    // A directory group `pat-admins`, made by hand, is adopted by the SCIM group `PAT-Admins`.
    let put = call(
        &router,
        "PUT",
        "/v1/admin/tenants/contoso/groups/pat-admins",
        &[BEARER, ("content-type", "application/json")],
        r#"{"members": ["mallory@contoso.com"]}"#,
    )
    .await;
    assert_eq!(put.status, StatusCode::OK);
    let group = json!({ "displayName": "PAT-Admins",
                        "members": [{ "value": carol, "display": "Carol", "type": "User" }] });
    let created = scim(&router, &entra, "POST", "/Groups", Some(&group)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    assert_eq!(created.json()["members"][0]["display"], "Carol");
    assert_eq!(
        directory(&router).await,
        json!([{ "id": "PAT-Admins", "members": ["carol@contoso.com"] }])
    );
    assert_eq!(
        create_token(&router, true).await.status,
        StatusCode::CREATED
    );
    let refused = call(
        &router,
        "DELETE",
        "/v1/admin/tenants/contoso/groups/pat-admins",
        &[BEARER],
        Body::empty(),
    )
    .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);

    // Deactivated and renamed in one PUT: neither name can hold a token.
    let replaced = scim(
        &router,
        &entra,
        "PUT",
        &format!("/Users/{carol}"),
        Some(&json!({ "userName": "carol.new@contoso.com", "active": false })),
    )
    .await;
    assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.text());
    for user in ["carol@contoso.com", "carol.new@contoso.com"] {
        let valid_to = patrol::timestamp::format_rfc3339(patrol::timestamp::now() + 86_400);
        let refused = call(
            &router,
            "POST",
            "/v1/tenants/contoso/tokens",
            &[BEARER, ("content-type", "application/json")],
            json!({ "user": user, "displayName": "x", "scope": "vso.code",
                    "validTo": valid_to, "org": "contoso-main" })
            .to_string(),
        )
        .await;
        assert_eq!(refused.error_code(), "user_deprovisioned", "{user}");
    }
    // An extension attribute can be left out of an answer by its URN path.
    let user = json!({ "userName": "erin@contoso.com",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": { "department": "Ops" } });
    let created = scim(&router, &entra, "POST", "/Users", Some(&user)).await;
    let erin = created.json()["id"].as_str().unwrap().to_string();
    let shown = scim(
        &router,
        &entra,
        "GET",
        &format!(
            "/Users/{erin}?attributes=urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"
        ),
        None,
    )
    .await
    .json();
    assert_eq!(
        shown["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
        "Ops"
    );
    assert!(shown.get("userName").is_none(), "{shown}");

    // A tenant called like a resource type.
    let put = call(
        &router,
        "PUT",
        "/v1/admin/tenants/Groups-eu",
        &[BEARER],
        "tenant = \"Groups-eu\"\n",
    )
    .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text());
    let created = call(
        &router,
        "POST",
        "/scim/v2/tenants/Groups-eu/Users",
        &[BEARER, ("content-type", "application/scim+json")],
        json!({ "userName": "frank@contoso.com" }).to_string(),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    assert_eq!(created.json()["meta"]["resourceType"], "User");
}
