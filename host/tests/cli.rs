//! The `patrol` binary as a user runs it: exit codes, decision JSON on stdout, one clear line
//! on stderr when something is wrong.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn example(path: &str) -> String {
    root()
        .join("examples/contoso")
        .join(path)
        .display()
        .to_string()
}

fn patrol(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_patrol"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run patrol");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn decision(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not a decision ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn stderr_line(output: &Output) -> String {
    let stderr = String::from_utf8(output.stderr.clone()).unwrap();
    assert_eq!(stderr.lines().count(), 1, "one line on stderr: {stderr}");
    assert!(output.stdout.is_empty(), "nothing on stdout");
    stderr.trim_end().to_string()
}

#[test]
fn an_allowed_request_exits_0_with_the_decision() {
    let config = example("tenant.toml");
    let output = patrol(
        &[
            "eval",
            "--config",
            &config,
            "--request",
            &example("requests/create-allowed.json"),
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        decision(&output),
        serde_json::json!({"allowed": true, "violations": [], "actions": [], "adjusted_valid_to": null})
    );
}

#[test]
fn a_denied_request_exits_1_with_every_violation() {
    let config = example("tenant.toml");
    let output = patrol(
        &[
            "eval",
            "--config",
            &config,
            "--request",
            &example("requests/create-too-long.json"),
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(1));
    let decision = decision(&output);
    assert_eq!(decision["allowed"], false);
    let codes: Vec<&str> = decision["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "patLifespanPolicyViolation",
            "disablePatCreationPolicyViolation",
            "writeScopeLifespanViolation"
        ]
    );
    assert_eq!(
        decision["violations"][0]["message"],
        "requested lifespan 93 days exceeds the tenant maximum of 90 days"
    );
}

#[test]
fn the_request_can_come_from_stdin() {
    let config = example("tenant.toml");
    let request = std::fs::read_to_string(example("requests/leak.json")).unwrap();
    let output = patrol(&["eval", "-c", &config, "-r", "-"], Some(&request));
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        decision(&output)["actions"],
        serde_json::json!(["revoke_token", "notify_owner"])
    );
}

#[test]
fn a_malformed_request_exits_2_naming_the_field() {
    let config = example("tenant.toml");
    let cases = [
        (
            r#"{"operation":"create","org":"fabrikam","user":{"id":"bob"},"token":{"scopes":["vso.code"],"orgs":["fabrikam"],"valid_to":"next week"}}"#,
            "error: -: invalid request: `token.valid_to`: `next week` is not an RFC 3339 time such as `2026-11-28T12:00:00Z`",
        ),
        (
            r#"{"operation":"create","org":"fabrikam","token":{}}"#,
            "error: -: invalid request: `user`: is missing",
        ),
        (
            r#"{"operation":"mint"}"#,
            "error: -: invalid request: `operation`: unknown variant `mint`",
        ),
        (
            "not json",
            "error: -: invalid request: `request`: must be a JSON object",
        ),
    ];
    for (request, expected) in cases {
        let output = patrol(&["eval", "-c", &config, "-r", "-"], Some(request));
        assert_eq!(output.status.code(), Some(2), "{request}");
        let line = stderr_line(&output);
        assert!(
            line.starts_with(expected),
            "{request}\n  expected: {expected}\n  actual:   {line}"
        );
    }
}

#[test]
fn a_bad_configuration_exits_2_naming_the_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tenant.toml");
    std::fs::write(&config, "tenant = \"t\"\n[orgs.tailspin]\n[orgs.tailspin.policies.restrict_pat_creation]\nenabled = true\n").unwrap();
    let config = config.display().to_string();
    let request = example("requests/create-allowed.json");
    for args in [
        vec!["eval", "-c", &config, "-r", &request],
        vec!["check", "--config", &config],
    ] {
        let output = patrol(&args, None);
        assert_eq!(output.status.code(), Some(2));
        let line = stderr_line(&output);
        assert!(
            line.starts_with(&format!(
                "error: {config}: `orgs.tailspin.policies.restrict_pat_creation`: "
            )),
            "{line}"
        );
    }
    let missing = dir.path().join("nope.toml").display().to_string();
    let output = patrol(&["check", "--config", &missing], None);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr_line(&output).starts_with(&format!("error: {missing}: cannot read the file")));
}

#[test]
fn check_describes_every_policy_of_the_example_tenant() {
    let output = patrol(&["check", "--config", &example("tenant.toml")], None);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.contains("tenant `contoso` is valid: 7 policies on"),
        "{stdout}"
    );
    for name in [
        "restrict_global_pat_creation",
        "restrict_full_scoped_pat_creation",
        "max_pat_lifespan",
        "revoke_leaked_pats",
        "restrict_pat_creation (organization `fabrikam`)",
        "write-scopes-short-lived",
        "contractors-read-only-code",
    ] {
        assert!(
            stdout.contains(&format!("  {name}: ")),
            "{name} in {stdout}"
        );
    }
}
