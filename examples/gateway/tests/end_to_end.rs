//! The example gateway end to end: the real binary on loopback in front of its toy upstream,
//! a data directory whose tokens were issued through the store, requests over a real socket.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use patrol::timestamp::now;
use patrol::{Engine, EngineConfig, Tenant, TenantConfig};
use patrol_store::DataDir;
use patrol_store::tokens::{NewToken, SqliteStore, Tokens};

struct Gateway(Child);

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Status, headers (lower-case names) and body of one HTTP/1.1 exchange.
fn get(address: SocketAddr, path: &str, headers: &[(&str, &str)]) -> (u16, String, String) {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(5)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut request = format!("GET {path} HTTP/1.1\r\nhost: {address}\r\nconnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let status = head[9..12].parse().unwrap();
    (status, head.to_ascii_lowercase(), body.to_string())
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|error| panic!("not JSON ({error}): {body}"))
}

#[test]
fn the_example_gateway_admits_patrol_tokens_and_refuses_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::open(&dir.path().join("data")).unwrap();
    let engine = Engine::new(EngineConfig::default()).unwrap();
    let config =
        TenantConfig::from_file(&data.tenant_file("contoso", patrol_store::ConfigFormat::Toml))
            .unwrap();
    let tenant = Tenant::load(&engine, &config).unwrap();
    let tokens = Tokens::new(Arc::new(SqliteStore::open(&data.database()).unwrap()));
    tokens
        .set_group("contoso", "pat-admins", &["carol@contoso.com".to_string()])
        .unwrap();
    let issue = |user: &str, all_orgs: bool| {
        let issued = tokens
            .create(
                &tenant,
                NewToken {
                    owner: user.into(),
                    groups: None,
                    display_name: "ci".into(),
                    scopes: vec!["vso.code".into()],
                    all_orgs,
                    orgs: if all_orgs {
                        vec![]
                    } else {
                        vec!["contoso-main".into()]
                    },
                    valid_to: now() + 7 * 86_400,
                    org: "contoso-main".into(),
                },
                now(),
            )
            .unwrap();
        issued.secret.expose().to_string()
    };
    let scoped = issue("bob@contoso.com", false);
    let global = issue("carol@contoso.com", true);
    drop(tokens);

    let mut child = Command::new(env!("CARGO_BIN_EXE_patrol-gateway-example"))
        .args([
            "--tenant",
            "contoso",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(data.root())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _gateway = Gateway(child);
    let address: SocketAddr = {
        use std::io::BufRead;
        let mut lines = std::io::BufReader::new(stdout).lines();
        loop {
            let line = lines
                .next()
                .expect("the gateway prints its address before anything else ends")
                .unwrap();
            if let Some(address) = line.strip_prefix("listening on http://") {
                break address.parse().unwrap();
            }
        }
    };
    let bearer = |token: &str| format!("Bearer {token}");

    // Admitted: the upstream sees patrol's identity, not the one the client forged.
    let (status, _, body) = get(
        address,
        "/contoso-main/repo",
        &[
            ("authorization", &bearer(&scoped)),
            ("x-patrol-user", "mallory@evil.test"),
        ],
    );
    assert_eq!(status, 200, "{body}");
    let seen = json(&body);
    assert_eq!(seen["path"], "/contoso-main/repo");
    assert_eq!(seen["user"], "bob@contoso.com");
    assert_eq!(seen["scopes"], "vso.code");
    assert_eq!(seen["tenant"], "contoso");

    // Refused by the layer itself, as forward-auth refuses.
    let (status, head, body) = get(address, "/contoso-main/repo", &[]);
    assert_eq!(status, 401);
    assert!(head.contains("x-patrol-reason: missing_token"), "{head}");
    assert!(head.contains("www-authenticate:"), "{head}");
    assert_eq!(json(&body)["error"]["code"], "missing_token");
    let (status, head, _) = get(
        address,
        "/fabrikam/repo",
        &[("authorization", &bearer(&scoped))],
    );
    assert_eq!(status, 401);
    assert!(
        head.contains("x-patrol-reason: token_not_valid_for_org"),
        "{head}"
    );
    let (status, head, body) = get(
        address,
        "/fabrikam/repo",
        &[("authorization", &bearer(&global))],
    );
    assert_eq!(status, 403);
    assert!(
        head.contains("x-patrol-reason: globalpatusagedisabled"),
        "{head}"
    );
    assert_eq!(json(&body)["error"]["code"], "globalPatUsageDisabled");
    let (status, _, body) = get(
        address,
        "/fabrikam/repo",
        &[("authorization", "Bearer ptl_nonsense")],
    );
    assert_eq!(status, 401);
    assert_eq!(json(&body)["error"]["code"], "malformed_token");
    // The upstream was never asked about refused requests: nothing to check there but that
    // the global token still works where it may be used.
    let (status, _, body) = get(
        address,
        "/contoso-main/repo",
        &[("authorization", &bearer(&global))],
    );
    assert_eq!(status, 200);
    assert_eq!(json(&body)["user"], "carol@contoso.com");
}
