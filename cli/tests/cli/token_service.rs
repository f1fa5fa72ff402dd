//! The token lifecycle through the real `patrol serve` binary over a real socket on loopback:
//! the HTTP API from creation to leak, acknowledged changes surviving `kill -9`, and no secret
//! in any log, response error, audit entry or file.

use crate::common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use crate::common::{Response, http};
use serde_json::{Value, json};

const ADMIN: &str = "test-admin-token-0123456789";

/// A `patrol serve` process with its logs in a file, killed (SIGKILL) when dropped.
struct Patrol {
    child: Child,
    address: SocketAddr,
}

impl Patrol {
    fn start(data_dir: &Path, log: &Path) -> Patrol {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let (child, address) = common::spawn_serve(
            Command::new(env!("CARGO_BIN_EXE_patrol"))
                .args(["serve", "--data-dir"])
                .arg(data_dir)
                .env("PATROL_ADMIN_TOKEN", ADMIN)
                .env("RUST_LOG", "debug")
                .stderr(log),
        );
        Patrol { child, address }
    }

    /// `kill -9`: no shutdown, no flush, nothing but what was already on disk survives.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    fn call(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Response {
        http(self.address, method, path, headers, body).unwrap()
    }

    fn admin(&self, method: &str, path: &str, body: &Value) -> Response {
        let auth = format!("Bearer {ADMIN}");
        let body = if body.is_null() {
            String::new()
        } else {
            body.to_string()
        };
        self.call(
            method,
            path,
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            &body,
        )
    }

    fn authenticate(&self, token: &str, org: &str) -> Response {
        let bearer = format!("Bearer {token}");
        self.call(
            "GET",
            &format!("/v1/tenants/contoso/orgs/{org}/forward-auth"),
            &[("authorization", &bearer), ("user-agent", "curl/8.0")],
            "",
        )
    }
}

impl Drop for Patrol {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn create(patrol: &Patrol, user: &str, days: i64, extra: Value) -> Response {
    let valid_to = patrol::timestamp::format_rfc3339(patrol::timestamp::now() + days * 86_400);
    let mut body = json!({
        "user": user,
        "displayName": "deploy",
        "scope": "vso.code vso.build_execute",
        "validTo": valid_to,
        "org": "contoso-main",
    });
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    patrol.admin("POST", "/v1/tenants/contoso/tokens", &body)
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files(&path));
        } else {
            found.push(path);
        }
    }
    found
}

#[test]
fn a_tokens_whole_life_over_http_survives_kill_9_and_leaves_no_secret_behind() {
    let _machine = crate::machine::shared();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("patrol.log");
    let patrol = Patrol::start(&data, &log);
    let mut secrets = Vec::new();

    // The admin token guards the lifecycle API.
    let anonymous = patrol.call("GET", "/v1/tenants/contoso/tokens", &[], "");
    assert_eq!(anonymous.status, 401, "{}", anonymous.body);

    // Denied by the tenant's 90-day maximum: 403, Azure DevOps' error code, nothing stored.
    let denied = create(&patrol, "alice@contoso.com", 120, json!({}));
    assert_eq!(denied.status, 403, "{}", denied.body);
    assert_eq!(denied.json()["patTokenError"], "patLifespanPolicyViolation");
    assert_eq!(denied.json()["patToken"], Value::Null);
    let invalid = create(&patrol, "alice@contoso.com", 10, json!({ "scope": 7 }));
    assert_eq!(invalid.status, 400);
    assert_eq!(invalid.json()["error"]["field"], "scope");

    // Created: the secret is in this response only.
    let created = create(&patrol, "Alice@contoso.com", 30, json!({}));
    assert_eq!(created.status, 201, "{}", created.body);
    let token = created.json()["patToken"].clone();
    let id = token["authorizationId"].as_str().unwrap().to_string();
    let secret = token["token"].as_str().unwrap().to_string();
    secrets.push(secret.clone());
    assert!(secret.starts_with("ptl_"));
    assert_eq!(token["user"], "alice@contoso.com");
    assert_eq!(token["targetAccounts"], json!(["contoso-main"]));
    let shown = patrol.admin(
        "GET",
        &format!("/v1/tenants/contoso/tokens/{id}"),
        &Value::Null,
    );
    assert_eq!(shown.status, 200);
    assert!(
        shown.json()["patToken"].get("token").is_none(),
        "the secret is shown once"
    );

    // Used through the gateway path: Bearer and Basic (Azure DevOps style), org from the path
    // or the header; identity headers for the upstream.
    let ok = patrol.authenticate(&secret, "contoso-main");
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.header("x-patrol-user"), Some("alice@contoso.com"));
    assert_eq!(ok.header("x-patrol-token-id"), Some(id.as_str()));
    assert_eq!(
        ok.header("x-patrol-scopes"),
        Some("vso.code vso.build_execute")
    );
    use base64::Engine as _;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!(":{secret}"))
    );
    let by_basic = patrol.call(
        "POST",
        "/v1/tenants/contoso/authenticate",
        &[("authorization", &basic), ("x-patrol-org", "contoso-main")],
        "",
    );
    assert_eq!(by_basic.status, 200, "{}", by_basic.body);
    let missing = patrol.call("GET", "/v1/tenants/contoso/orgs/x/forward-auth", &[], "");
    assert_eq!(missing.status, 401);
    assert_eq!(missing.header("x-patrol-reason"), Some("missing_token"));
    let typo = secret.replacen("ptl_", "ptl_x", 1);
    assert_eq!(
        patrol
            .authenticate(&typo[..secret.len()], "contoso-main")
            .status,
        401
    );

    // Regenerated: a new secret; the old one no longer works.
    let regenerated = patrol.admin(
        "POST",
        &format!("/v1/tenants/contoso/tokens/{id}/regenerate"),
        &json!({ "org": "contoso-main" }),
    );
    assert_eq!(regenerated.status, 200, "{}", regenerated.body);
    let renewed = regenerated.json()["patToken"]["token"]
        .as_str()
        .unwrap()
        .to_string();
    secrets.push(renewed.clone());
    assert_eq!(
        patrol
            .authenticate(&secret, "contoso-main")
            .header("x-patrol-reason"),
        Some("unknown_token")
    );
    assert_eq!(patrol.authenticate(&renewed, "contoso-main").status, 200);

    // A second token, created and acknowledged, then the process is killed: it survives.
    let second = create(&patrol, "bob@contoso.com", 10, json!({}));
    assert_eq!(second.status, 201);
    let second_secret = second.json()["patToken"]["token"]
        .as_str()
        .unwrap()
        .to_string();
    secrets.push(second_secret.clone());
    patrol.kill();
    let patrol = Patrol::start(&data, &log);
    assert_eq!(
        patrol.authenticate(&second_secret, "contoso-main").status,
        200
    );

    // Revoked, acknowledged, killed at once, restarted: refused.
    let revoked = patrol.admin(
        "DELETE",
        &format!("/v1/tenants/contoso/tokens/{id}?reason=rotated"),
        &Value::Null,
    );
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    patrol.kill();
    let patrol = Patrol::start(&data, &log);
    let refused = patrol.authenticate(&renewed, "contoso-main");
    assert_eq!(refused.status, 401);
    assert_eq!(refused.header("x-patrol-reason"), Some("revoked_token"));

    // Leaked: found in text posted to the tenant, revoked (revoke_leaked_pats is on).
    let leak = patrol.call(
        "POST",
        "/v1/tenants/contoso/leaks?url=https://example.com/paste/1",
        &[("content-type", "text/plain")],
        &format!("deploy with AZURE_TOKEN={second_secret} please"),
    );
    assert_eq!(leak.status, 200, "{}", leak.body);
    assert_eq!(leak.json()["tokens"][0]["outcome"], "revoked");
    assert_eq!(
        patrol
            .authenticate(&second_secret, "contoso-main")
            .header("x-patrol-reason"),
        Some("revoked_token")
    );

    // GitHub's secret-scanning format, answered in its shape, by hash.
    let third = create(&patrol, "carol@contoso.com", 10, json!({}));
    let third_secret = third.json()["patToken"]["token"]
        .as_str()
        .unwrap()
        .to_string();
    secrets.push(third_secret.clone());
    let github = patrol.call(
        "POST",
        "/v1/leaks",
        &[("content-type", "application/json")],
        &json!([
            { "token": third_secret, "type": "patrol_token", "url": "https://github.com/a/b", "source": "content" },
            { "token": "ptl_not-a-token", "type": "patrol_token", "url": "https://github.com/a/b", "source": "content" },
        ])
        .to_string(),
    );
    assert_eq!(github.status, 200, "{}", github.body);
    let labels = github.json();
    assert_eq!(labels[0]["label"], "true_positive");
    assert_eq!(
        labels[0]["token_hash"],
        patrol_store::tokens::sha256_hex(&third_secret)
    );
    assert_eq!(labels[1]["label"], "false_positive");
    assert_eq!(
        patrol.authenticate(&third_secret, "contoso-main").status,
        401
    );

    // The audit log has every step, named as Azure DevOps names them.
    let audit = patrol.admin("GET", "/v1/tenants/contoso/audit?limit=100", &Value::Null);
    assert_eq!(audit.status, 200);
    let events: Vec<String> = audit.json()["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["event"].as_str().unwrap().to_string())
        .collect();
    for expected in [
        "Token.PatCreateEvent",
        "Token.PatUpdateEvent",
        "Token.PatRevokeEvent",
        "Token.PatSystemRevokeEvent",
        "Token.PatPublicDiscoveryEvent",
    ] {
        assert!(
            events.iter().any(|e| e == expected),
            "{expected} in {events:?}"
        );
    }
    let revokes = patrol.admin(
        "GET",
        "/v1/tenants/contoso/audit?event=Token.PatRevokeEvent",
        &Value::Null,
    );
    assert_eq!(revokes.json()["entries"].as_array().unwrap().len(), 1);
    assert_eq!(
        patrol
            .admin("GET", "/v1/tenants/contoso/audit?event=Nope", &Value::Null)
            .json()["error"]["field"],
        "event"
    );

    // A policy change through the admin API is audited.
    let config = std::fs::read_to_string(data.join("tenants/contoso.toml"))
        .unwrap()
        .replace("max_days = 90", "max_days = 60");
    let changed = patrol.call(
        "PUT",
        "/v1/admin/tenants/contoso",
        &[
            ("authorization", &format!("Bearer {ADMIN}")),
            ("x-patrol-actor", "Root@contoso.com"),
        ],
        &config,
    );
    assert_eq!(changed.status, 200, "{}", changed.body);
    let policy = patrol.admin(
        "GET",
        "/v1/tenants/contoso/audit?event=OrganizationPolicy.PolicyValueUpdated",
        &Value::Null,
    );
    let entry = &policy.json()["entries"][0];
    assert_eq!(entry["actor"], "root@contoso.com");
    assert_eq!(entry["details"]["value"]["settings"]["max_days"], 60);

    // The list API pages, and shows statuses.
    let page = patrol.admin(
        "GET",
        "/v1/tenants/contoso/tokens?displayFilterOption=all&top=2",
        &Value::Null,
    );
    let page = page.json();
    assert_eq!(page["patTokens"].as_array().unwrap().len(), 2);
    let next = page["continuationToken"].as_str().unwrap();
    let rest = patrol
        .admin(
            "GET",
            &format!(
                "/v1/tenants/contoso/tokens?displayFilterOption=all&top=2&continuationToken={next}"
            ),
            &Value::Null,
        )
        .json();
    assert_eq!(rest["patTokens"].as_array().unwrap().len(), 1);
    assert_eq!(rest["continuationToken"], Value::Null);
    patrol.kill();

    // No secret anywhere: logs, decision log, database, write-ahead log, configuration.
    let mut looked_at = 0;
    for file in files(dir.path()) {
        let bytes = std::fs::read(&file).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for secret in &secrets {
            assert!(
                !text.contains(&secret[4..]),
                "a secret was written to {}",
                file.display()
            );
        }
        looked_at += 1;
    }
    assert!(
        looked_at >= 4,
        "the log, the database and its files were read"
    );
    assert!(
        std::fs::metadata(&log).unwrap().len() > 0,
        "the server logged"
    );
}
