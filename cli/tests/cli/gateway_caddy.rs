//! A real Caddy in front of a real `patrol serve`, both on loopback: Caddy's `forward_auth`
//! asks patrol's forward-auth endpoint about the client's own token on every request to
//! `/{org}/repo`, copies the identity into the request it serves, and hands patrol's refusal
//! (status, `X-Patrol-Reason`, JSON body) to the client as it is. The same scenarios as the
//! NGINX test.
//!
//! Where `caddy` is not installed, `cargo test` lists this test as ignored ("needs caddy");
//! `.ci/run` installs it and sets `PATROL_REQUIRE_CADDY=1`, under which a missing Caddy fails
//! the build.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::common;
use crate::gateway_nginx::{
    GatewayTokens, Running, free_port, gateway_tokens, patrol_cli, start_patrol,
    wait_until_listening,
};

fn caddy() -> PathBuf {
    ["/usr/bin/caddy", "/usr/local/bin/caddy"]
        .iter()
        .map(PathBuf::from)
        .find(|path| path.is_file())
        .expect("caddy is installed (the build found it)")
}

/// The Caddyfile: `forward_auth` to patrol with the organization from the path, the identity
/// copied into the request, and a toy upstream (`respond`) that shows whose request it serves.
fn caddyfile(dir: &Path, port: u16, patrol: SocketAddr) -> String {
    let dir = dir.display();
    format!(
        r#"{{
	admin off
	auto_https off
	storage file_system {dir}/caddy-storage
	log {{
		output file {dir}/caddy.log
	}}
}}

http://127.0.0.1:{port} {{
	@repo path_regexp repo ^/([a-z0-9-]+)/repo$
	handle @repo {{
		forward_auth {patrol} {{
			uri /v1/tenants/contoso/orgs/{{re.repo.1}}/forward-auth
			copy_headers X-Patrol-User X-Patrol-Token-Id X-Patrol-Scopes X-Patrol-Tenant
		}}
		respond "welcome {{http.request.header.X-Patrol-User}}" 200
	}}
	respond 404
}}
"#
    )
}

#[test]
#[cfg_attr(not(patrol_has_caddy), ignore = "needs caddy: apt-get install caddy")]
fn caddy_forward_auth_admits_patrol_tokens_and_refuses_revoked_and_global_ones() {
    let _machine = crate::machine::shared();
    let caddy = caddy();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let GatewayTokens {
        scoped,
        scoped_id,
        global,
    } = gateway_tokens(&data);
    let (patrol, patrol_address) = start_patrol(&data);
    let port = free_port();
    let config = dir.path().join("Caddyfile");
    std::fs::write(&config, caddyfile(dir.path(), port, patrol_address)).unwrap();
    let _caddy = Running(
        Command::new(&caddy)
            .args(["run", "--adapter", "caddyfile", "--config"])
            .arg(&config)
            // Caddy keeps its state under the user's folders: keep it in the test's.
            .env("HOME", dir.path())
            .env("XDG_DATA_HOME", dir.path().join("xdg-data"))
            .env("XDG_CONFIG_HOME", dir.path().join("xdg-config"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("caddy.err")).unwrap())
            .spawn()
            .unwrap(),
    );
    wait_until_listening(port);
    let gateway: SocketAddr = ([127, 0, 0, 1], port).into();
    let get = |org: &str, token: Option<&str>, extra: &[(&str, &str)]| {
        let bearer = token.map(|token| format!("Bearer {token}"));
        let mut headers: Vec<(&str, &str)> = bearer
            .iter()
            .map(|value| ("authorization", value.as_str()))
            .collect();
        headers.extend_from_slice(extra);
        common::http(gateway, "GET", &format!("/{org}/repo"), &headers, "").unwrap()
    };
    let caddy_log = || std::fs::read_to_string(dir.path().join("caddy.err")).unwrap_or_default();

    let admitted = get("contoso-main", Some(&scoped), &[]);
    assert_eq!(admitted.status, 200, "{}\n{}", admitted.body, caddy_log());
    assert_eq!(admitted.body, "welcome bob@contoso.com");
    // An identity the client sends itself is replaced by patrol's.
    let forged = get(
        "contoso-main",
        Some(&scoped),
        &[("x-patrol-user", "mallory@evil.test")],
    );
    assert_eq!(forged.body, "welcome bob@contoso.com");

    let missing = get("contoso-main", None, &[]);
    assert_eq!(missing.status, 401);
    assert_eq!(missing.header("x-patrol-reason"), Some("missing_token"));
    assert_eq!(missing.json()["error"]["code"], "missing_token");
    let malformed = get("contoso-main", Some("ptl_nonsense"), &[]);
    assert_eq!(malformed.status, 401);
    assert_eq!(malformed.header("x-patrol-reason"), Some("malformed_token"));
    // A global token: fine in contoso-main, refused in fabrikam, which restricts creation.
    assert_eq!(
        get("contoso-main", Some(&global), &[]).body,
        "welcome carol@contoso.com"
    );
    let refused = get("fabrikam", Some(&global), &[]);
    assert_eq!(refused.status, 403, "{}", caddy_log());
    assert_eq!(
        refused.header("x-patrol-reason"),
        Some("globalPatUsageDisabled")
    );
    assert_eq!(refused.json()["decision"]["allowed"], false);
    let elsewhere = get("fabrikam", Some(&scoped), &[]);
    assert_eq!(elsewhere.status, 401);
    assert_eq!(
        elsewhere.header("x-patrol-reason"),
        Some("token_not_valid_for_org")
    );
    // Revoked with the CLI while the server runs: refused at the next request.
    patrol_cli(&data, &["token", "revoke", "-t", "contoso", &scoped_id]);
    let revoked = get("contoso-main", Some(&scoped), &[]);
    assert_eq!(revoked.status, 401);
    assert_eq!(revoked.header("x-patrol-reason"), Some("revoked_token"));
    drop(patrol);
}
