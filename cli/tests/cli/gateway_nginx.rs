//! A real NGINX in front of a real `patrol serve`, both on loopback: NGINX's `auth_request`
//! asks patrol's `authorize` endpoint about every request to `/protected/` and lets it through
//! only when patrol allows it.
//!
//! The request NGINX sends is built from headers the client sets (`X-User`, `X-Org`,
//! `X-All-Orgs`), a stand-in for a gateway that knows the caller by other means; a second test has NGINX ask patrol's forward-auth
//! endpoint about real patrol tokens, issued and revoked with the CLI. Where `nginx` is not
//! installed, `cargo test` lists these tests as ignored ("needs nginx"); `.ci/run` installs it
//! and sets `PATROL_REQUIRE_NGINX=1`, under which a missing NGINX fails the build.

use crate::common;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process, killed when dropped.
pub(crate) struct Running(pub(crate) Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn nginx_binary() -> Option<PathBuf> {
    ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|path| path.is_file())
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub(crate) fn start_patrol(data_dir: &Path) -> (Running, SocketAddr) {
    let (child, address) = common::spawn_serve(
        Command::new(env!("CARGO_BIN_EXE_patrol"))
            .args(["serve", "--data-dir"])
            .arg(data_dir)
            .stderr(Stdio::null()),
    );
    (Running(child), address)
}

/// NGINX serving `dir/www` on `port` behind the `auth_request` setup in `locations`.
pub(crate) fn nginx_config(dir: &Path, port: u16, locations: &str) -> String {
    let dir = dir.display();
    format!(
        r#"
master_process off;
daemon off;
worker_processes 1;
error_log {dir}/error.log info;
pid {dir}/nginx.pid;
events {{ worker_connections 64; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port};
        {locations}
    }}
}}
"#
    )
}

/// `auth_request` asking patrol's `authorize` endpoint, with a request built from headers.
fn decision_locations(dir: &Path, patrol: SocketAddr) -> String {
    let dir = dir.display();
    format!(
        r#"
        # `return` would answer before the access phase: serve a file, so `auth_request` runs.
        location /protected/ {{
            auth_request /_patrol;
            alias {dir}/www/;
        }}
        location = /_patrol {{
            internal;
            proxy_pass http://{patrol}/v1/tenants/contoso/authorize;
            proxy_method POST;
            proxy_pass_request_body off;
            proxy_set_header Content-Type application/json;
            proxy_set_body '{{"operation": "use", "org": "$http_x_org", "user": {{"id": "$http_x_user"}}, "token": {{"scopes": ["vso.code"], "all_orgs": $http_x_all_orgs, "orgs": ["$http_x_org"], "valid_from": "2026-01-01T00:00:00Z", "valid_to": "2030-01-01T00:00:00Z"}}}}';
        }}"#
    )
}

/// `auth_request` asking patrol's forward-auth endpoint about the client's own token, the
/// organization being the first path segment, and the identity passed on in a header.
fn token_locations(dir: &Path, patrol: SocketAddr) -> String {
    let dir = dir.display();
    format!(
        r#"
        location ~ ^/(?<org>[a-z0-9-]+)/repo$ {{
            auth_request /_patrol_token;
            auth_request_set $patrol_user $upstream_http_x_patrol_user;
            auth_request_set $patrol_reason $upstream_http_x_patrol_reason;
            add_header X-Authenticated-User $patrol_user always;
            add_header X-Refused-Because $patrol_reason always;
            alias {dir}/www/repo;
        }}
        location = /_patrol_token {{
            internal;
            proxy_pass http://{patrol}/v1/tenants/contoso/forward-auth;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Patrol-Org $org;
        }}"#
    )
}

pub(crate) fn start_nginx(nginx: &Path, dir: &Path, port: u16, locations: &str) -> Running {
    let config = dir.join("nginx.conf");
    std::fs::write(&config, nginx_config(dir, port, locations)).unwrap();
    let running = Running(
        Command::new(nginx)
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_until_listening(port);
    running
}

pub(crate) fn wait_until_listening(port: u16) {
    let started = Instant::now();
    let address: SocketAddr = ([127, 0, 0, 1], port).into();
    while TcpStream::connect_timeout(&address, Duration::from_millis(100)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the gateway did not start listening on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// NGINX: the tests that need it are ignored, with the reason, where it is not installed.
pub(crate) fn nginx() -> PathBuf {
    nginx_binary().expect("nginx is installed (the build found it)")
}

/// Runs the `patrol` command on a data directory; returns its standard output as JSON.
pub(crate) fn patrol_cli(data: &Path, args: &[&str]) -> serde_json::Value {
    let output = Command::new(env!("CARGO_BIN_EXE_patrol"))
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "patrol {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or(serde_json::Value::Null)
}

/// The tokens the gateway tests present: bob's, limited to `contoso-main`, and carol's global
/// one (carol is in `pat-admins`, so she may hold one; `fabrikam` still refuses its use).
pub(crate) struct GatewayTokens {
    pub(crate) scoped: String,
    pub(crate) scoped_id: String,
    pub(crate) global: String,
}

/// A new data directory at `data` with the example tenant and the [`GatewayTokens`], issued
/// with the CLI.
pub(crate) fn gateway_tokens(data: &Path) -> GatewayTokens {
    let init = Command::new(env!("CARGO_BIN_EXE_patrol"))
        .arg("init")
        .arg(data)
        .output()
        .unwrap();
    assert!(init.status.success(), "{init:?}");
    // Tokens issued with the CLI on the data directory the server then uses.
    let create = |user: &str, global: bool| {
        let mut args = vec![
            "token",
            "create",
            "-t",
            "contoso",
            "--user",
            user,
            "--name",
            "ci",
            "--scope",
            "vso.code",
            "--org",
            "contoso-main",
            "--days",
            "30",
        ];
        if global {
            args.push("--all-orgs");
        }
        let created = patrol_cli(data, &args);
        let token = &created["patToken"];
        (
            token["token"].as_str().unwrap().to_string(),
            token["authorizationId"].as_str().unwrap().to_string(),
        )
    };
    patrol_cli(
        data,
        &[
            "groups",
            "set",
            "-t",
            "contoso",
            "pat-admins",
            "carol@contoso.com",
        ],
    );
    let (scoped, scoped_id) = create("bob@contoso.com", false);
    let (global, _) = create("carol@contoso.com", true);
    GatewayTokens {
        scoped,
        scoped_id,
        global,
    }
}

#[test]
#[cfg_attr(not(patrol_has_nginx), ignore = "needs nginx: apt-get install nginx")]
fn nginx_forward_auth_admits_patrol_tokens_and_refuses_revoked_and_global_ones() {
    let _machine = crate::machine::shared();
    let nginx = nginx();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let GatewayTokens {
        scoped,
        scoped_id,
        global,
    } = gateway_tokens(&data);
    let (patrol, patrol_address) = start_patrol(&data);
    let port = free_port();
    std::fs::create_dir_all(dir.path().join("www")).unwrap();
    std::fs::write(dir.path().join("www/repo"), "welcome\n").unwrap();
    let _nginx = start_nginx(
        &nginx,
        dir.path(),
        port,
        &token_locations(dir.path(), patrol_address),
    );
    let gateway: SocketAddr = ([127, 0, 0, 1], port).into();
    let get = |org: &str, token: Option<&str>| {
        let bearer = token.map(|token| format!("Bearer {token}"));
        let headers: Vec<(&str, &str)> = bearer
            .iter()
            .map(|value| ("authorization", value.as_str()))
            .collect();
        common::http(gateway, "GET", &format!("/{org}/repo"), &headers, "").unwrap()
    };
    let error_log = || std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default();

    let admitted = get("contoso-main", Some(&scoped));
    assert_eq!(admitted.status, 200, "{}\n{}", admitted.body, error_log());
    assert_eq!(admitted.body, "welcome\n");
    assert_eq!(
        admitted.header("x-authenticated-user"),
        Some("bob@contoso.com")
    );
    assert_eq!(get("contoso-main", None).status, 401);
    assert_eq!(get("contoso-main", Some("ptl_nonsense")).status, 401);
    // A global token: fine in contoso-main, refused in fabrikam, which restricts creation.
    assert_eq!(get("contoso-main", Some(&global)).status, 200);
    let refused = get("fabrikam", Some(&global));
    assert_eq!(refused.status, 403, "{}", error_log());
    assert_eq!(
        refused.header("x-refused-because"),
        Some("globalPatUsageDisabled")
    );
    // Revoked with the CLI while the server runs: refused at the next request.
    patrol_cli(&data, &["token", "revoke", "-t", "contoso", &scoped_id]);
    let revoked = get("contoso-main", Some(&scoped));
    assert_eq!(revoked.status, 401);
    assert_eq!(revoked.header("x-refused-because"), Some("revoked_token"));
    drop(patrol);
}

#[test]
#[cfg_attr(not(patrol_has_nginx), ignore = "needs nginx: apt-get install nginx")]
fn nginx_auth_request_lets_through_what_patrol_allows_and_stops_what_it_denies() {
    let _machine = crate::machine::shared();
    let nginx = nginx();
    let dir = tempfile::tempdir().unwrap();
    // The example tenant: `fabrikam` restricts PAT creation, which blocks global tokens there.
    let (_patrol, patrol_address) = start_patrol(&dir.path().join("data"));
    let port = free_port();
    std::fs::create_dir_all(dir.path().join("www")).unwrap();
    std::fs::write(dir.path().join("www/repo"), "welcome\n").unwrap();
    let _nginx = start_nginx(
        &nginx,
        dir.path(),
        port,
        &decision_locations(dir.path(), patrol_address),
    );
    let gateway: SocketAddr = ([127, 0, 0, 1], port).into();
    let get = |org: &str, all_orgs: &str| {
        common::http(
            gateway,
            "GET",
            "/protected/repo",
            &[
                ("x-user", "bob@contoso.com"),
                ("x-org", org),
                ("x-all-orgs", all_orgs),
            ],
            "",
        )
        .unwrap()
    };
    let allowed = get("fabrikam", "false");
    let error_log = || std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default();
    assert_eq!(allowed.status, 200, "{}\n{}", allowed.body, error_log());
    assert_eq!(allowed.body, "welcome\n");
    let denied = get("fabrikam", "true");
    assert_eq!(
        denied.status, 403,
        "a global token in fabrikam: {}",
        denied.body
    );
    let elsewhere = get("contoso", "true");
    assert_eq!(elsewhere.status, 200, "a global token outside fabrikam");

    // patrol logged the decisions NGINX asked for.
    let log_path = dir.path().join("data/decisions.log");
    let started = Instant::now();
    let log = loop {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        if log.lines().count() >= 3 || started.elapsed() > Duration::from_secs(10) {
            break log;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let codes: Vec<String> = log
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .map(|record| {
            record["violations"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["code"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    assert_eq!(codes, ["", "globalPatUsageDisabled", ""]);
}
