//! Several `patrol serve` replicas on one real PostgreSQL (started by the test, see
//! `patrol_test_support::postgres`), behind a real NGINX upstream, all on loopback:
//!
//! - tokens created through one replica authenticate through the others and through NGINX;
//!   a revocation through one is refused by the others within a second (the figures are
//!   printed: `cargo test -p patrol-cli fleet -- --nocapture`), and at once after
//!   `?wait=propagated`;
//! - a replica killed with SIGKILL under load loses no create or revoke it acknowledged, and
//!   NGINX keeps serving through the others;
//! - with PostgreSQL stopped, cached tokens keep working until the staleness bound and then
//!   fail closed, admin writes answer 503 with a message; restarted, every replica catches up
//!   by itself;
//! - with three replicas delivering the outbox, a webhook hears each notification once.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use patrol_test_support::postgres::Postgres;
use patrol_test_support::webhook::Webhook;

use crate::common::{self, Response, http};
use crate::gateway_nginx::{Running, free_port, nginx, start_nginx};

const ADMIN: &str = "fleet-admin-token-0123456789";

/// A fleet: its replicas and where they keep their local files.
struct Fleet {
    dir: tempfile::TempDir,
    database: String,
    replicas: Vec<Replica>,
}

struct Replica {
    process: Running,
    address: SocketAddr,
}

impl Fleet {
    /// `count` replicas on `database`, which gets the example tenant first.
    fn start(database: &str, count: usize, extra: &[&str]) -> Fleet {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("admin-token"), ADMIN).unwrap();
        let pushed = patrol(&[
            "tenant",
            "push",
            &common::root_path("examples/contoso/tenant.toml"),
            "--database",
            database,
        ]);
        assert!(pushed.contains("stored version"), "{pushed}");
        let mut fleet = Fleet {
            dir,
            database: database.to_string(),
            replicas: Vec::new(),
        };
        for index in 0..count {
            fleet.add(index, extra);
        }
        fleet
    }

    fn add(&mut self, index: usize, extra: &[&str]) {
        let root = self.dir.path();
        let (child, address) = common::spawn_serve(
            Command::new(env!("CARGO_BIN_EXE_patrol"))
                .args(["serve", "--database", &self.database, "--replica-id"])
                .arg(format!("replica-{index}"))
                .arg("--data-dir")
                .arg(root.join(format!("replica-{index}")))
                .arg("--admin-token-file")
                .arg(root.join("admin-token"))
                .args(extra)
                // Compiled components are shared, as replicas on one host would share them.
                .env("PATROL_CACHE_DIR", root.join("cache"))
                .stderr(std::fs::File::create(root.join(format!("replica-{index}.log"))).unwrap()),
        );
        let replica = Replica {
            process: Running(child),
            address,
        };
        wait_ready(address);
        if index < self.replicas.len() {
            self.replicas[index] = replica;
        } else {
            self.replicas.push(replica);
        }
    }

    fn address(&self, index: usize) -> SocketAddr {
        self.replicas[index].address
    }

    /// What replica `index` logged, for messages.
    fn log(&self, index: usize) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("replica-{index}.log")))
            .unwrap_or_default()
    }
}

fn patrol(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_patrol"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "patrol {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn wait_ready(address: SocketAddr) {
    let started = Instant::now();
    loop {
        if http(address, "GET", "/readyz", &[], "").is_ok_and(|r| r.status == 200) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "replica at {address} did not become ready"
        );
        thread::sleep(Duration::from_millis(50));
    }
}

fn admin() -> (&'static str, String) {
    ("authorization", format!("Bearer {ADMIN}"))
}

/// Creates a token for `user` through the replica at `address`: (id, secret).
fn create(address: SocketAddr, user: &str) -> Result<(String, String), Response> {
    let (name, value) = admin();
    let valid_to = patrol::timestamp::format_rfc3339(patrol::timestamp::now() + 30 * 86_400);
    let body = format!(
        r#"{{"user": "{user}", "displayName": "fleet", "scope": "vso.code",
            "validTo": "{valid_to}", "org": "contoso-main"}}"#
    );
    let response = http(
        address,
        "POST",
        "/v1/tenants/contoso/tokens",
        &[(name, &value), ("content-type", "application/json")],
        &body,
    )
    .map_err(|error| Response {
        status: 0,
        headers: Vec::new(),
        body: error.to_string(),
    })?;
    if response.status != 201 {
        return Err(response);
    }
    let token = &response.json()["patToken"];
    Ok((
        token["authorizationId"].as_str().unwrap().to_string(),
        token["token"].as_str().unwrap().to_string(),
    ))
}

fn revoke(address: SocketAddr, id: &str, query: &str) -> std::io::Result<Response> {
    let (name, value) = admin();
    http(
        address,
        "DELETE",
        &format!("/v1/tenants/contoso/tokens/{id}{query}"),
        &[(name, &value)],
        "",
    )
}

/// The forward-auth status for `secret` through `address` (0 if the connection failed).
fn authenticate(address: SocketAddr, secret: &str) -> u16 {
    http(
        address,
        "GET",
        "/v1/tenants/contoso/orgs/contoso-main/forward-auth",
        &[("authorization", &format!("Bearer {secret}"))],
        "",
    )
    .map_or(0, |response| response.status)
}

/// NGINX on a free port, balancing `/` over the replicas.
fn start_balancer(dir: &Path, replicas: &[SocketAddr]) -> (Running, SocketAddr) {
    let port = free_port();
    let servers: String = replicas
        .iter()
        .map(|address| format!("server {address} max_fails=1 fail_timeout=5s;\n"))
        .collect();
    let folder = dir.join("nginx");
    std::fs::create_dir_all(&folder).unwrap();
    let locations = format!(
        r#"
        location / {{
            proxy_pass http://patrol;
            proxy_next_upstream error timeout http_502 http_503;
            proxy_connect_timeout 1s;
        }}
    }}
    upstream patrol {{
        {servers}"#
    );
    let running = start_nginx(&nginx(), &folder, port, &locations);
    (running, ([127, 0, 0, 1], port).into())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

#[test]
#[cfg_attr(not(patrol_has_nginx), ignore = "needs nginx: apt-get install nginx")]
#[cfg_attr(
    not(patrol_has_postgres),
    ignore = "needs PostgreSQL: apt-get install postgresql"
)]
fn replicas_behind_nginx_share_tokens_and_revocations_reach_every_one_within_a_second() {
    let _machine = crate::machine::shared();
    let database = Postgres::shared().create_database("fleet");
    let fleet = Fleet::start(&database, 3, &[]);
    let addresses: Vec<SocketAddr> = (0..3).map(|i| fleet.address(i)).collect();
    let (_nginx, balancer) = start_balancer(fleet.dir.path(), &addresses);

    // Created through one replica, a token authenticates through every other at once (no
    // negative caching), and through the balancer.
    let mut tokens = Vec::new();
    for i in 0..105 {
        let (id, secret) = create(addresses[i % 3], &format!("user{i}@contoso.com"))
            .unwrap_or_else(|response| panic!("{response:?}"));
        for address in &addresses {
            assert_eq!(
                authenticate(*address, &secret),
                200,
                "token {i} at {address}"
            );
        }
        tokens.push((id, secret));
    }
    for (_, secret) in tokens.iter().take(6) {
        assert_eq!(authenticate(balancer, secret), 200);
    }

    // Revoked through one replica, refused by the two others: how long until both refuse.
    let mut delays = Vec::new();
    for (i, (id, secret)) in tokens.iter().take(100).enumerate() {
        let through = addresses[i % 3];
        let others: Vec<SocketAddr> = addresses
            .iter()
            .copied()
            .filter(|a| *a != through)
            .collect();
        let response = revoke(through, id, "").unwrap();
        assert_eq!(response.status, 200, "{}", response.body);
        let acknowledged = Instant::now();
        assert_eq!(authenticate(through, secret), 401, "the revoking replica");
        let mut pending = others.clone();
        while !pending.is_empty() {
            pending.retain(|address| authenticate(*address, secret) != 401);
            assert!(
                acknowledged.elapsed() < Duration::from_secs(1),
                "revocation {i} not applied by {pending:?} after 1 s\n{}",
                fleet.log(0)
            );
        }
        delays.push(acknowledged.elapsed());
    }
    delays.sort();
    println!(
        "revocation propagation to the two other replicas over {} revocations: p50 {:.1} ms, \
         p99 {:.1} ms, max {:.1} ms",
        delays.len(),
        percentile(&delays, 0.5).as_secs_f64() * 1e3,
        percentile(&delays, 0.99).as_secs_f64() * 1e3,
        delays.last().unwrap().as_secs_f64() * 1e3,
    );

    // With ?wait=propagated, the answer comes once every replica has applied it.
    for (i, (id, secret)) in tokens.iter().skip(100).enumerate() {
        let response = revoke(addresses[i % 3], id, "?wait=propagated").unwrap();
        assert_eq!(response.status, 200, "{}", response.body);
        let propagation = &response.json()["propagation"];
        assert_eq!(
            propagation["replicas"].as_array().unwrap().len(),
            3,
            "{propagation}"
        );
        for address in &addresses {
            assert_eq!(authenticate(*address, secret), 401, "at {address}");
        }
    }
    let bad = revoke(addresses[0], &tokens[0].0, "?wait=forever").unwrap();
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("`wait`"), "{}", bad.body);

    // Each replica says how its lookups went and how far it has applied the log.
    let metrics = http(addresses[1], "GET", "/metrics", &[], "").unwrap().body;
    let value = |name: &str| -> f64 {
        metrics
            .lines()
            .find(|line| line.starts_with(name))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| panic!("no `{name}` in\n{metrics}"))
    };
    assert!(value("patrol_token_cache_lookups_total{result=\"hit\"}") > 0.0);
    assert!(value("patrol_token_cache_lookups_total{result=\"miss\"}") > 0.0);
    assert!(value("patrol_replica_applied_change") >= 100.0);
    assert!(value("patrol_replica_behind_seconds") < 2.0);
}

#[test]
#[cfg_attr(not(patrol_has_nginx), ignore = "needs nginx: apt-get install nginx")]
#[cfg_attr(
    not(patrol_has_postgres),
    ignore = "needs PostgreSQL: apt-get install postgresql"
)]
fn a_replica_killed_under_load_loses_nothing_it_acknowledged() {
    // Load on purpose: keep the tests that time things out of its way.
    let _machine = crate::machine::whole();
    let database = Postgres::shared().create_database("fleet_kill");
    let mut fleet = Fleet::start(&database, 3, &[]);
    let addresses: Vec<SocketAddr> = (0..3).map(|i| fleet.address(i)).collect();
    let (_nginx, balancer) = start_balancer(fleet.dir.path(), &addresses);
    let (_, steady) = create(addresses[1], "steady@contoso.com").unwrap();

    // Load through the balancer while replica 0 takes creates and revocations.
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (stop, steady) = (Arc::clone(&stop), steady.clone());
        thread::spawn(move || {
            let mut statuses = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                statuses.push(authenticate(balancer, &steady));
            }
            statuses
        })
    };
    let target = addresses[0];
    let writer = thread::spawn(move || {
        let mut created = Vec::new();
        let mut revoked = Vec::new();
        for i in 0.. {
            match create(target, &format!("kill{i}@contoso.com")) {
                Ok((id, _)) => {
                    if i % 2 == 0
                        && revoke(target, &id, "").is_ok_and(|response| response.status == 200)
                    {
                        revoked.push(id.clone());
                    }
                    created.push(id);
                }
                // The replica is gone: what it acknowledged is all there is to check.
                Err(_) => break,
            }
        }
        (created, revoked)
    });
    thread::sleep(Duration::from_millis(1500));
    let killed = Instant::now();
    fleet.replicas[0].process.0.kill().unwrap();
    fleet.replicas[0].process.0.wait().unwrap();
    let (created, revoked) = writer.join().unwrap();
    thread::sleep(Duration::from_millis(1500));
    stop.store(true, Ordering::Relaxed);
    let statuses = load.join().unwrap();
    assert!(
        created.len() >= 5,
        "only {} creates before the kill",
        created.len()
    );

    // Every acknowledged create and revocation is in the database, as another replica sees.
    let (name, value) = admin();
    for id in &created {
        let response = http(
            addresses[1],
            "GET",
            &format!("/v1/tenants/contoso/tokens/{id}"),
            &[(name, &value)],
            "",
        )
        .unwrap();
        assert_eq!(response.status, 200, "acknowledged token {id} lost");
        let status = response.json()["patToken"]["status"].clone();
        if revoked.contains(id) {
            assert_eq!(status, "revoked", "acknowledged revocation of {id} lost");
        }
    }
    // NGINX kept serving through the others: after the kill settled, every answer is a 200.
    let after: Vec<u16> = statuses.iter().rev().take(50).copied().collect();
    assert!(
        after.iter().all(|status| *status == 200),
        "answers through the balancer after the kill: {after:?}"
    );
    println!(
        "killed replica 0 after {} creates and {} revocations; {} authentications through \
         NGINX, {} of them not 200 ({} ms around the kill)",
        created.len(),
        revoked.len(),
        statuses.len(),
        statuses.iter().filter(|s| **s != 200).count(),
        killed.elapsed().as_millis()
    );
}

#[test]
#[cfg_attr(
    not(patrol_has_postgres),
    ignore = "needs PostgreSQL: apt-get install postgresql"
)]
fn without_postgresql_cached_tokens_last_the_staleness_bound_then_fail_closed_and_replicas_catch_up()
 {
    let _machine = crate::machine::shared();
    // A server of its own: this test stops it.
    let server = Postgres::start();
    let database = server.create_database("fleet_outage");
    let fleet = Fleet::start(&database, 2, &["--staleness-ms", "1500"]);
    let (a, b) = (fleet.address(0), fleet.address(1));
    let (_, cached) = create(a, "cached@contoso.com").unwrap();
    let (victim, victim_secret) = create(a, "victim@contoso.com").unwrap();
    assert_eq!(authenticate(b, &cached), 200);
    assert_eq!(authenticate(b, &victim_secret), 200);

    server.stop();
    let stopped = Instant::now();
    // Within the bound, the token replica B has seen keeps working.
    assert_eq!(authenticate(b, &cached), 200);
    // Admin writes cannot be made, and say why.
    let refused = create(a, "nobody@contoso.com").unwrap_err();
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert!(
        refused.body.contains("database_unavailable") && refused.body.contains("unreachable"),
        "{}",
        refused.body
    );
    // Past the bound, it fails closed; /readyz says the replica is behind.
    loop {
        let status = authenticate(b, &cached);
        if status != 200 {
            assert_eq!(status, 503);
            break;
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(10),
            "still authenticating 10 s after the database stopped"
        );
        thread::sleep(Duration::from_millis(50));
    }
    let failed_closed_after = stopped.elapsed();
    assert!(
        failed_closed_after >= Duration::from_millis(1000),
        "failed closed after {failed_closed_after:?}, before the 1.5 s bound"
    );
    let ready = http(b, "GET", "/readyz", &[], "").unwrap();
    assert_eq!(ready.status, 503, "{}", ready.body);
    assert!(ready.body.contains("change log"), "{}", ready.body);

    // Back: every replica catches up by itself, and follows the log again.
    server.restart();
    let restarted = Instant::now();
    for address in [a, b] {
        while authenticate(address, &cached) != 200 {
            assert!(
                restarted.elapsed() < Duration::from_secs(15),
                "replica {address} did not catch up after the restart"
            );
            thread::sleep(Duration::from_millis(50));
        }
        wait_ready(address);
    }
    let response = revoke(a, &victim, "").unwrap();
    assert_eq!(response.status, 200, "{}", response.body);
    let revoked = Instant::now();
    while authenticate(b, &victim_secret) != 401 {
        assert!(
            revoked.elapsed() < Duration::from_secs(1),
            "revocation not applied by the other replica after the restart\n{}",
            fleet.log(1)
        );
        thread::sleep(Duration::from_millis(10));
    }
    println!(
        "database stopped: failed closed after {} ms (bound 1500 ms); restarted: caught up in \
         {} ms",
        failed_closed_after.as_millis(),
        restarted.elapsed().as_millis()
    );
}

#[test]
#[cfg_attr(
    not(patrol_has_postgres),
    ignore = "needs PostgreSQL: apt-get install postgresql"
)]
fn three_replicas_delivering_the_outbox_send_each_notification_once() {
    let _machine = crate::machine::shared();
    let database = Postgres::shared().create_database("fleet_outbox");
    let hook = Webhook::start(0);
    let fleet = Fleet::start(&database, 3, &["--webhook", hook.url()]);
    let mut ids = HashSet::new();
    for i in 0..24 {
        let (id, _) = create(fleet.address(i % 3), &format!("hook{i}@contoso.com")).unwrap();
        ids.insert(id);
    }
    // Each replica delivers every second; give them a few rounds each.
    let started = Instant::now();
    while hook.bodies().len() < ids.len() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "only {} of {} notifications delivered",
            hook.bodies().len(),
            ids.len()
        );
        thread::sleep(Duration::from_millis(100));
    }
    thread::sleep(Duration::from_secs(3));
    let received: Vec<serde_json::Value> = hook
        .bodies()
        .iter()
        .map(|body| serde_json::from_str(body).unwrap())
        .collect();
    let created: Vec<String> = received
        .iter()
        .filter(|n| n["event"] == "created")
        .map(|n| n["token"]["id"].as_str().unwrap_or_default().to_string())
        .collect();
    let unique: HashSet<String> = created.iter().cloned().collect();
    assert_eq!(unique, ids, "every creation notified");
    assert_eq!(created.len(), ids.len(), "none notified twice: {created:?}");
}

#[test]
#[cfg_attr(
    not(patrol_has_postgres),
    ignore = "needs PostgreSQL: apt-get install postgresql"
)]
fn a_single_node_moves_into_postgresql_verified_and_its_tokens_keep_working() {
    let _machine = crate::machine::shared();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.display().to_string();
    patrol(&["init", &data_arg]);
    // A component uploaded to the single node, named by file in a tenant of its own.
    let components = data.join("tenants").join("components");
    std::fs::create_dir_all(&components).unwrap();
    std::fs::copy(
        common::component("write_scopes_short_lived"),
        components.join("short.wasm"),
    )
    .unwrap();
    std::fs::write(
        data.join("tenants").join("fabrikam.toml"),
        r#"tenant = "fabrikam"
[[custom_policies]]
name = "short"
component = "components/short.wasm"
settings = { max_days = 7 }
"#,
    )
    .unwrap();
    let mut secrets = Vec::new();
    for user in ["ana", "ben", "cy"] {
        let created: serde_json::Value = serde_json::from_str(&patrol(&[
            "token",
            "create",
            "-t",
            "contoso",
            "--user",
            user,
            "--name",
            "moved",
            "--scope",
            "vso.code",
            "--org",
            "contoso-main",
            "--data-dir",
            &data_arg,
        ]))
        .unwrap();
        secrets.push(created["patToken"]["token"].as_str().unwrap().to_string());
    }
    patrol(&[
        "groups",
        "set",
        "-t",
        "contoso",
        "pat-admins",
        "ana",
        "--data-dir",
        &data_arg,
    ]);

    // A tenant credential moves too, and keeps working.
    let credential = patrol(&[
        "credentials",
        "create",
        "-t",
        "contoso",
        "--role",
        "auditor",
        "moved",
        "--data-dir",
        &data_arg,
    ]);
    let credential = credential.lines().last().unwrap().trim().to_string();

    let database = Postgres::shared().create_database("copy");
    let report = patrol(&["store", "copy", "--from", &data_arg, "--to", &database]);
    for table in [
        "tokens",
        "audit",
        "outbox",
        "group_members",
        "credentials",
        "scim_resources",
        "deprovisioned_users",
        "tenant_configs",
        "components",
    ] {
        let line = report
            .lines()
            .find(|line| line.starts_with(table))
            .unwrap_or_else(|| panic!("no `{table}` in\n{report}"));
        assert!(line.contains("same"), "{line}");
    }
    assert!(report.contains("verified"), "{report}");
    assert!(
        report
            .lines()
            .any(|l| l.starts_with("tokens") && l.contains(" 3 ")),
        "{report}"
    );
    // Copying again into the same database is refused: nothing is mixed.
    let again = Command::new(env!("CARGO_BIN_EXE_patrol"))
        .args(["store", "copy", "--from", &data_arg, "--to", &database])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("empty database"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    // A replica on the database serves both tenants and knows the old tokens.
    let fleet_dir = tempfile::tempdir().unwrap();
    std::fs::write(fleet_dir.path().join("admin-token"), ADMIN).unwrap();
    let (child, address) = common::spawn_serve(
        Command::new(env!("CARGO_BIN_EXE_patrol"))
            .args(["serve", "--database", &database, "--data-dir"])
            .arg(fleet_dir.path().join("replica"))
            .arg("--admin-token-file")
            .arg(fleet_dir.path().join("admin-token"))
            .stderr(std::process::Stdio::null()),
    );
    let _replica = Running(child);
    wait_ready(address);
    for secret in &secrets {
        assert_eq!(authenticate(address, secret), 200);
    }
    let (name, value) = admin();
    let tenants = http(address, "GET", "/v1/admin/tenants", &[(name, &value)], "").unwrap();
    let listed = tenants.json();
    let served: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["serving"] == true)
        .map(|t| t["tenant"].as_str().unwrap())
        .collect();
    assert_eq!(served, ["contoso", "fabrikam"], "{}", tenants.body);
    // The file component is now named by digest.
    let fabrikam = patrol(&["tenant", "history", "fabrikam", "--database", &database]);
    assert!(fabrikam.contains("sha256:"), "{fabrikam}");
    // And the group directory came along, as the database-backed commands see it.
    let groups = patrol(&["groups", "list", "-t", "contoso", "--database", &database]);
    assert!(groups.contains("pat-admins: ana"), "{groups}");
    // The auditor's credential reads its tenant through the replica.
    let read = http(
        address,
        "GET",
        "/v1/tenants/contoso/audit",
        &[("authorization", &format!("Bearer {credential}"))],
        "",
    )
    .unwrap();
    assert_eq!(read.status, 200, "{}", read.body);
}

/// Polls `done` every 10 ms until it holds; panics naming `what` after `within`.
fn within(within: Duration, what: &str, mut done: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < within, "{what}: not after {within:?}");
        thread::sleep(Duration::from_millis(10));
    }
    started.elapsed()
}

#[test]
#[cfg_attr(
    not(patrol_has_postgres),
    ignore = "needs PostgreSQL: apt-get install postgresql"
)]
fn tenant_group_and_deletion_changes_through_one_replica_reach_the_other_within_a_second() {
    let _machine = crate::machine::shared();
    let database = Postgres::shared().create_database("fleet_admin");
    let fleet = Fleet::start(&database, 2, &[]);
    let (a, b) = (fleet.address(0), fleet.address(1));
    let (name, value) = admin();
    let auth = [(name, value.as_str())];

    // A global token for erin is refused on B: she is in no allowlisted group.
    let global = |address: SocketAddr| {
        let valid_to = patrol::timestamp::format_rfc3339(patrol::timestamp::now() + 7 * 86_400);
        http(
            address,
            "POST",
            "/v1/tenants/contoso/tokens",
            &[auth[0], ("content-type", "application/json")],
            &format!(
                r#"{{"user": "erin@contoso.com", "displayName": "g", "scope": "vso.code",
                    "validTo": "{valid_to}", "allOrgs": true, "org": "contoso-main"}}"#
            ),
        )
        .unwrap()
        .status
    };
    assert_eq!(global(b), 403);
    // Put into `pat-admins` through A: B allows it within a second (its cached groups go).
    let put = http(
        a,
        "PUT",
        "/v1/admin/tenants/contoso/groups/pat-admins",
        &[auth[0], ("content-type", "application/json")],
        r#"{"members": ["erin@contoso.com"]}"#,
    )
    .unwrap();
    assert_eq!(put.status, 200, "{}", put.body);
    within(Duration::from_secs(1), "B sees the group", || {
        global(b) == 201
    });

    // A new configuration through A's admin API: B serves it within a second, and the change
    // is audited once (by A), not again by B reloading it.
    let text =
        std::fs::read_to_string(patrol_test_support::root().join("examples/contoso/tenant.toml"))
            .unwrap();
    let current = http(a, "GET", "/v1/admin/tenants/contoso", &auth, "")
        .unwrap()
        .body;
    let changed = current.replace("max_days = 90", "max_days = 45");
    assert_ne!(
        changed, current,
        "the example tenant sets max_days = 90:\n{text}"
    );
    let response = http(
        a,
        "PUT",
        "/v1/admin/tenants/contoso",
        &[auth[0], ("content-type", "application/toml")],
        &changed,
    )
    .unwrap();
    assert_eq!(response.status, 200, "{}", response.body);
    within(
        Duration::from_secs(1),
        "B serves the new configuration",
        || {
            http(b, "GET", "/v1/admin/tenants/contoso", &auth, "")
                .unwrap()
                .body
                == changed
        },
    );
    let audit = http(
        b,
        "GET",
        "/v1/tenants/contoso/audit?event=OrganizationPolicy.PolicyValueUpdated",
        &auth,
        "",
    )
    .unwrap();
    let entries = audit.json();
    let lifespan: Vec<&serde_json::Value> = entries["entries"]
        .as_array()
        .or_else(|| entries.as_array())
        .unwrap_or_else(|| panic!("no entries in {}", audit.body))
        .iter()
        .filter(|entry| {
            entry["details"]["policy"] == "max_pat_lifespan"
                && entry["details"]["value"]["settings"]["max_days"] == 45
        })
        .collect();
    assert_eq!(lifespan.len(), 1, "audited once: {}", audit.body);
    assert_eq!(lifespan[0]["actor"], "admin");
    // A configuration naming a component by file is refused: replicas share no files.
    let by_file = http(
        a,
        "PUT",
        "/v1/admin/tenants/contoso",
        &[auth[0], ("content-type", "application/toml")],
        "tenant = \"contoso\"\n[[custom_policies]]\nname = \"x\"\ncomponent = \"x.wasm\"\n",
    )
    .unwrap();
    assert_eq!(by_file.status, 400, "{}", by_file.body);
    assert!(by_file.body.contains("by digest"), "{}", by_file.body);

    // Deleted through A: B stops serving it and its tokens are refused there.
    let (_, secret) = create(a, "dora@contoso.com").unwrap();
    assert_eq!(authenticate(b, &secret), 200);
    let deleted = http(a, "DELETE", "/v1/admin/tenants/contoso", &auth, "").unwrap();
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    within(Duration::from_secs(1), "B stops serving the tenant", || {
        http(b, "GET", "/v1/admin/tenants/contoso", &auth, "")
            .unwrap()
            .status
            == 404
    });
    assert_ne!(authenticate(b, &secret), 200);
}

#[test]
#[cfg_attr(
    not(patrol_has_postgres),
    ignore = "needs PostgreSQL: apt-get install postgresql"
)]
fn a_replica_that_missed_pruned_changes_starts_afresh() {
    let _machine = crate::machine::shared();
    let server = Postgres::shared();
    let database = server.create_database("fleet_pruned");
    let fleet = Fleet::start(&database, 1, &[]);
    let replica = fleet.address(0);
    let (id, secret) = create(replica, "finn@contoso.com").unwrap();
    assert_eq!(authenticate(replica, &secret), 200, "now cached");
    // Revoked behind the change log's back, as if its entry had been pruned before the
    // replica read it: the cached record still says active...
    server.psql(
        &database,
        &format!("UPDATE tokens SET revoked_at = 1, revocation_reason = 'test' WHERE id = '{id}'"),
    );
    thread::sleep(Duration::from_millis(600));
    assert_eq!(
        authenticate(replica, &secret),
        200,
        "the cache does not read the database"
    );
    // ...until the log says it was pruned past what the replica applied: it starts afresh.
    server.psql(
        &database,
        "UPDATE change_log_pruned SET upto = (SELECT coalesce(max(seq), 0) + 1000 FROM changes)",
    );
    within(Duration::from_secs(2), "the replica starts afresh", || {
        authenticate(replica, &secret) == 401
    });
    // Once: afterwards it follows the log from there.
    thread::sleep(Duration::from_millis(800));
    let log = fleet.log(0);
    assert_eq!(log.matches("pruned past").count(), 1, "{log}");
}

#[test]
#[cfg_attr(
    not(patrol_has_postgres),
    ignore = "needs PostgreSQL: apt-get install postgresql"
)]
fn scim_provisioning_through_one_replica_reaches_the_other_within_a_second() {
    let _machine = crate::machine::shared();
    let database = Postgres::shared().create_database("fleet_scim");
    let fleet = Fleet::start(&database, 2, &[]);
    let (a, b) = (fleet.address(0), fleet.address(1));
    let (name, value) = admin();
    // A provisioner credential, created through A, works on B: the store is shared.
    let created = http(
        a,
        "POST",
        "/v1/admin/tenants/contoso/credentials",
        &[(name, &value), ("content-type", "application/json")],
        r#"{"name": "entra", "role": "provisioner"}"#,
    )
    .unwrap();
    assert_eq!(created.status, 201, "{}", created.body);
    let bearer = format!("Bearer {}", created.json()["secret"].as_str().unwrap());
    let scim = |address: SocketAddr, method: &str, path: &str, body: &str| {
        let response = http(
            address,
            method,
            &format!("/scim/v2/tenants/contoso{path}"),
            &[
                ("authorization", &bearer),
                ("content-type", "application/scim+json"),
            ],
            body,
        )
        .unwrap();
        assert!(
            response.status < 300,
            "{method} {path}: {} {}",
            response.status,
            response.body
        );
        response
    };
    let user = scim(
        b,
        "POST",
        "/Users",
        r#"{"userName": "erin@contoso.com", "active": true}"#,
    );
    let user_id = user.json()["id"].as_str().unwrap().to_string();
    // Her token works through B (which caches it).
    let (_, secret) = create(b, "erin@contoso.com").unwrap();
    assert_eq!(authenticate(b, &secret), 200);
    // A group through A: the allowlist on B follows within a second.
    let group =
        format!(r#"{{"displayName": "pat-admins", "members": [{{"value": "{user_id}"}}]}}"#);
    scim(a, "POST", "/Groups", &group);
    let groups = || {
        http(
            b,
            "GET",
            "/v1/admin/tenants/contoso/groups",
            &[(name, &value)],
            "",
        )
        .unwrap()
        .body
    };
    within(Duration::from_secs(1), "B sees the SCIM group", || {
        groups().contains("erin@contoso.com")
    });
    // Deactivated through A: B refuses her cached token within a second, and issues none.
    let deactivate = r#"{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}"#;
    scim(a, "PATCH", &format!("/Users/{user_id}"), deactivate);
    let took = within(
        Duration::from_secs(1),
        "B refuses the revoked token",
        || authenticate(b, &secret) == 401,
    );
    let refused = create(b, "erin@contoso.com").unwrap_err();
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(
        refused.body.contains("user_deprovisioned"),
        "{}",
        refused.body
    );
    assert!(!groups().contains("erin@contoso.com"));
    eprintln!("deprovisioning through A reached B in {took:?}");
}
