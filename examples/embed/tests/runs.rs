//! The embedding example, run as a user runs it (`cargo run -p patrol-embed-example`): its own
//! tenant of seed policies judging the example requests, with no component file and no server.

use std::process::Command;

#[test]
fn the_example_judges_every_example_request() {
    let output = Command::new(env!("CARGO_BIN_EXE_patrol-embed-example"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "exit {:?}\n{stdout}\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.starts_with("tenant `contoso`: "), "{stdout}");
    for (request, verdict) in [
        ("create-allowed.json", "allowed"),
        ("create-packaging.json", "allowed"),
        ("create-too-long.json", "denied"),
        ("leak.json", "denied"),
        ("use-global-in-fabrikam.json", "denied"),
    ] {
        assert!(
            stdout
                .lines()
                .any(|line| line == format!("{request}: {verdict}")),
            "`{request}` should be {verdict}:\n{stdout}"
        );
    }
    // The seed policies' own rules, in their own words, and a leak's actions.
    assert!(
        stdout.contains("max_pat_lifespan patLifespanPolicyViolation"),
        "{stdout}"
    );
    assert!(stdout.contains("action: RevokeToken"), "{stdout}");
}

#[test]
fn a_missing_configuration_is_named_and_exits_2() {
    let output = Command::new(env!("CARGO_BIN_EXE_patrol-embed-example"))
        .args(["no-such-tenant.toml", "no-such-request.json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no-such-tenant.toml"), "{stderr}");
}
