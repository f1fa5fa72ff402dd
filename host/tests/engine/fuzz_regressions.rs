//! Replays every input under `fuzz/regressions/<target>/` through its fuzz target's body: the
//! seeds written by hand for the edges we know of, and every crash the fuzzer ever found.
//! Fuzzing itself is a documented command (docs/sandbox.md, "Fuzzing"); this keeps what it
//! taught us in `cargo test`.

use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/regressions")
        .join(target);
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let outcome = std::panic::catch_unwind(|| run(&data));
        assert!(
            outcome.is_ok(),
            "{target}: {} breaks an invariant",
            path.display()
        );
        count += 1;
    }
    assert!(count > 0, "no inputs in {}", dir.display());
}

#[test]
fn request_json_regressions() {
    replay("request_json", patrol::fuzzing::request_json);
}

#[test]
fn tenant_config_regressions() {
    replay("tenant_config", patrol::fuzzing::tenant_config);
}

#[test]
fn decision_regressions() {
    replay("decision", patrol::fuzzing::decision);
}
