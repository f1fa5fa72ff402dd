//! The real `patrol serve` binary over a real socket on loopback: decisions, graceful shutdown
//! with a request in flight, and hot reload from disk under concurrent load.

use crate::common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::common::http;

/// A `patrol serve` process, killed when dropped.
struct Patrol {
    child: Child,
    address: SocketAddr,
}

impl Patrol {
    fn start(data_dir: &Path, extra: &[&str]) -> Patrol {
        let (child, address) = common::spawn_serve(
            Command::new(env!("CARGO_BIN_EXE_patrol"))
                .args(["serve", "--data-dir"])
                .arg(data_dir)
                .args(extra)
                .stderr(Stdio::null()),
        );
        Patrol { child, address }
    }

    fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit by itself, at most `limit`.
    fn wait(&mut self, limit: Duration) -> std::process::ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                started.elapsed() < limit,
                "patrol did not exit within {limit:?}"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Patrol {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn decide(address: SocketAddr, tenant: &str, request: &str) -> common::Response {
    http(
        address,
        "POST",
        &format!("/v1/tenants/{tenant}/decisions"),
        &[],
        request,
    )
    .unwrap()
}

#[test]
fn a_fresh_data_directory_serves_the_example_tenant_over_a_socket() {
    let _machine = crate::machine::shared();
    let dir = tempfile::tempdir().unwrap();
    let patrol = Patrol::start(&dir.path().join("data"), &[]);
    let reply = decide(
        patrol.address,
        "contoso",
        &common::example_request("create-too-long"),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let decision = reply.json();
    assert_eq!(decision["allowed"], false);
    assert_eq!(
        reply.header("x-patrol-decision-id"),
        decision["decision_id"].as_str()
    );
    assert_eq!(
        http(patrol.address, "GET", "/readyz", &[], "")
            .unwrap()
            .status,
        200
    );
}

#[test]
fn sigterm_finishes_the_requests_in_flight_then_exits() {
    let _machine = crate::machine::shared();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("tenants")).unwrap();
    // A policy that loops until its 1.5 s deadline: a request that is surely in flight.
    std::fs::write(
        data.join("tenants/slow.toml"),
        format!(
            "tenant = \"slow\"\n[[custom_policies]]\nname = \"slow\"\ncomponent = {:?}\n\
             settings = {{ behaviour = \"endless-loop\" }}\nlimits = {{ deadline_ms = 1500 }}\n",
            common::component("hostile").display().to_string()
        ),
    )
    .unwrap();
    // The operator allows deadlines that long.
    let mut patrol = Patrol::start(&data, &["--max-policy-deadline-ms", "2000"]);
    let address = patrol.address;
    let in_flight =
        thread::spawn(move || decide(address, "slow", &common::example_request("create-allowed")));
    thread::sleep(Duration::from_millis(300));
    patrol.terminate();
    let reply = in_flight.join().unwrap();
    assert_eq!(
        reply.status, 200,
        "the request in flight was answered: {}",
        reply.body
    );
    assert_eq!(reply.json()["violations"][0]["error"], "timeout");
    let status = patrol.wait(Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
    assert!(
        http(address, "GET", "/healthz", &[], "").is_err(),
        "no longer listening"
    );
    let log = std::fs::read_to_string(data.join("decisions.log")).unwrap();
    assert!(
        log.contains(reply.json()["decision_id"].as_str().unwrap()),
        "the log was written out"
    );
}

const VERSION_A: &str =
    "tenant = \"contoso\"\n[policies.max_pat_lifespan]\nenabled = true\nmax_days = 30\n";
const VERSION_B: &str =
    "tenant = \"contoso\"\n[policies.max_pat_lifespan]\nenabled = true\nmax_days = 60\n";
const BROKEN: &str =
    "tenant = \"contoso\"\n[policies.max_pat_lifespan]\nenabled = true\nmax_days = 999\n";

/// Clients hammer the service while the tenant's configuration is changed again and again,
/// through the admin API and on disk, between two valid versions and a broken one: no request
/// fails, every decision comes from one of the valid versions, both are seen, and the broken one
/// never serves (the API refuses it with 400).
#[test]
fn configuration_changes_on_disk_apply_atomically_under_load() {
    let _machine = crate::machine::shared();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("tenants")).unwrap();
    let file = data.join("tenants/contoso.toml");
    std::fs::write(&file, VERSION_A).unwrap();
    let patrol = Patrol::start(
        &data,
        &["--reload-interval-ms", "100", "--decision-log", "off"],
    );
    let address = patrol.address;
    let request = common::example_request("create-allowed"); // lives 65 days
    let from_a = "requested lifespan 65 days exceeds the tenant maximum of 30 days";
    let from_b = "requested lifespan 65 days exceeds the tenant maximum of 60 days";
    let stop = AtomicBool::new(false);
    let (seen_a, seen_b) = (AtomicUsize::new(0), AtomicUsize::new(0));
    thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let reply = decide(address, "contoso", &request);
                    assert_eq!(reply.status, 200, "{}", reply.body);
                    let decision = reply.json();
                    let violations = decision["violations"].as_array().unwrap();
                    assert_eq!(violations.len(), 1, "{decision}");
                    match violations[0]["message"].as_str().unwrap() {
                        message if message == from_a => seen_a.fetch_add(1, Ordering::Relaxed),
                        message if message == from_b => seen_b.fetch_add(1, Ordering::Relaxed),
                        other => panic!("a decision from no valid version: {other}"),
                    };
                }
            });
        }
        scope.spawn(|| {
            for version in [
                BROKEN, VERSION_B, BROKEN, VERSION_A, BROKEN, VERSION_B, VERSION_A,
            ] {
                std::fs::write(&file, version).unwrap();
                thread::sleep(Duration::from_millis(400));
            }
            stop.store(true, Ordering::Relaxed);
        });
    });
    let (a, b) = (
        seen_a.load(Ordering::Relaxed),
        seen_b.load(Ordering::Relaxed),
    );
    assert!(
        a > 10 && b > 10,
        "both versions served: {a} decisions from A, {b} from B"
    );
}
