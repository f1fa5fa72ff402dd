//! An independent SCIM 2.0 conformance checker, scim2-tester from PyPI, against the real
//! `patrol serve` over a real socket, authenticated with a `provisioner` credential made by
//! `patrol credentials create`. Its checks that do not apply to patrol are listed, each with its
//! reason, in tests/scim/not-applicable.tsv; every other one must pass.
//!
//! The checker runs in the Python of `PATROL_SCIM_PYTHON`: `.ci/run` makes it with
//! `python3 -m venv target/scim-tester && target/scim-tester/bin/pip install -r
//! tests/scim/requirements.txt`. Without it, `cargo test` lists this test as ignored.

use std::process::{Command, Stdio};

use crate::common;

#[test]
#[cfg_attr(
    not(patrol_has_scim_tester),
    ignore = "needs PATROL_SCIM_PYTHON: a Python with tests/scim/requirements.txt installed"
)]
fn scim2_tester_passes_every_check_that_applies() {
    let _machine = crate::machine::shared();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let patrol = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_patrol"))
            .args(args)
            .arg("--data-dir")
            .arg(&data)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "patrol {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    let init = Command::new(env!("CARGO_BIN_EXE_patrol"))
        .arg("init")
        .arg(&data)
        .output()
        .unwrap();
    assert!(init.status.success());
    let created = patrol(&[
        "credentials",
        "create",
        "-t",
        "contoso",
        "--role",
        "provisioner",
        "scim2-tester",
    ]);
    let secret = created.lines().last().unwrap().trim();
    assert!(secret.starts_with("ptc_"), "{created}");
    let token_file = dir.path().join("credential");
    std::fs::write(&token_file, secret).unwrap();
    let admin_file = dir.path().join("admin-token");
    std::fs::write(&admin_file, "conformance-admin-token-0123456789").unwrap();

    let (child, address) = common::spawn_serve(
        Command::new(env!("CARGO_BIN_EXE_patrol"))
            .args(["serve", "--data-dir"])
            .arg(&data)
            .arg("--admin-token-file")
            .arg(&admin_file)
            .stderr(Stdio::null()),
    );
    let _server = crate::gateway_nginx::Running(child);

    let python = std::env::var("PATROL_SCIM_PYTHON").expect("the build found it");
    let output = Command::new(python)
        .arg(common::root_path("tests/scim/conformance.py"))
        .arg(format!("http://{address}/scim/v2/tenants/contoso"))
        .arg(&token_file)
        .arg(common::root_path("tests/scim/not-applicable.tsv"))
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    eprintln!("{report}");
    assert!(
        output.status.success(),
        "scim2-tester failed:\n{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The checks that matter to Entra ran (not skipped): creation, filtered queries, PATCH.
    for check in [
        "object_creation",
        "object_query",
        "check_add_attribute",
        "object_deletion",
    ] {
        assert!(
            report.contains(&format!("SUCCESS    User     {check}")),
            "{check}"
        );
        assert!(
            report.contains(&format!("SUCCESS    Group    {check}")),
            "{check}"
        );
    }
}
