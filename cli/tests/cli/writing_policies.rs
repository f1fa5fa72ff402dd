//! The authoring kit as a newcomer meets it: the quickstart commands of
//! `docs/writing-policies.md`, read from the guide itself and run by the real `patrol` binary in
//! a fresh folder, from `patrol policy new` to a custom rule denying a request.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The commands of the guide's quickstart: the `sh` block after the `<!-- quickstart` marker.
fn quickstart_commands() -> Vec<String> {
    let guide = std::fs::read_to_string(root().join("docs/writing-policies.md")).unwrap();
    let after_marker = guide
        .split_once("<!-- quickstart")
        .expect("the guide marks its quickstart with `<!-- quickstart`")
        .1;
    let block = after_marker
        .split_once("```sh\n")
        .expect("a ```sh block follows the marker")
        .1
        .split_once("```")
        .expect("the block ends")
        .0;
    block
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_string)
        .collect()
}

/// Where cargo put this build (`CARGO_TARGET_DIR` or the workspace's `target/`).
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_patrol"))
        .ancestors()
        .nth(2)
        .expect("the binary is in <target>/<profile>/")
        .to_path_buf()
}

/// Runs one command of the guide with this build's `patrol`. The policy crate builds into
/// `<target>/policy-authoring` (instead of its own `target/`) so reruns stay quick; the component
/// still lands in the crate, where the guide says.
fn run(dir: &Path, command: &str) -> Output {
    let args: Vec<&str> = command.split_whitespace().collect();
    assert_eq!(
        args[0], "patrol",
        "the guide's commands are patrol's: {command}"
    );
    Command::new(env!("CARGO_BIN_EXE_patrol"))
        .args(&args[1..])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target_dir().join("policy-authoring"))
        .env("PATROL_CACHE_DIR", "")
        .output()
        .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn the_guide_goes_from_a_new_policy_to_a_denied_request() {
    let _machine = crate::machine::whole();
    let commands = quickstart_commands();
    assert!(
        (2..=5).contains(&commands.len()),
        "the quickstart is at most five commands: {commands:?}"
    );
    assert!(
        commands[0].starts_with("patrol policy new "),
        "{commands:?}"
    );
    let dir = tempfile::tempdir().unwrap();

    let (last, before) = commands.split_last().unwrap();
    for command in before {
        let output = run(dir.path(), command);
        assert!(
            output.status.success(),
            "`{command}` failed:\n{}",
            text(&output)
        );
        if command.starts_with("patrol policy test") {
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert!(
                stdout.contains("7 passed, 0 failed"),
                "the sample's cases pass:\n{}",
                text(&output)
            );
            assert!(stdout.contains("imports    patrol:policy/types@0.1.0 (types only)"));
        }
    }

    // The last command shows the rule denying a request: exit 1, the rule's own words.
    let output = run(dir.path(), last);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let explained: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(explained["decision"]["allowed"], false);
    assert_eq!(
        explained["decision"]["violations"],
        serde_json::json!([{
            "policy": "no_admin_scopes",
            "code": "forbiddenScope",
            "enforced": true,
            "message": "scope `vso.code_manage` may not be requested in this tenant"
        }])
    );
    let ours = explained["policies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["policy"] == "no_admin_scopes")
        .expect("the custom rule is in the explanation");
    assert_eq!(ours["verdict"], "denied");
    assert_eq!(
        ours["settings"],
        serde_json::json!({ "forbidden_scopes": ["vso.code_manage"] })
    );

    // The crate carries its own copy of the guest SDK: nothing in it points back at the checkout
    // this patrol was built from, so it builds wherever patrol is installed (it just did).
    let crate_dir = dir.path().join("no-admin-scopes");
    let manifest = std::fs::read_to_string(crate_dir.join("Cargo.toml")).unwrap();
    assert!(
        manifest.contains(r#"patrol-guest = { path = "sdk/patrol-guest" }"#),
        "{manifest}"
    );
    let checkout = root().display().to_string();
    for entry in walk(&crate_dir) {
        if entry.components().any(|part| part.as_os_str() == "target") {
            continue;
        }
        if let Ok(text) = std::fs::read_to_string(&entry) {
            assert!(
                !text.contains(&checkout),
                "{} names the checkout {checkout}",
                entry.display()
            );
        }
    }

    // The allowed request next to it is allowed: the rule is not simply refusing everything.
    let allowed = run(
        dir.path(),
        "patrol eval --config no-admin-scopes/tenant.toml --request no-admin-scopes/requests/allowed.json",
    );
    assert_eq!(allowed.status.code(), Some(0), "{}", text(&allowed));

    // A wrong expectation fails the run, with the difference.
    let cases = crate_dir.join("tests/cases.toml");
    let original = std::fs::read_to_string(&cases).unwrap();
    let broken = original.replacen(
        "name = \"a token without forbidden scopes is allowed\"\nexpect.allowed = true",
        "name = \"a token without forbidden scopes is allowed\"\nexpect.allowed = false",
        1,
    );
    assert_ne!(
        broken, original,
        "the sample case to break is in the scaffold"
    );
    std::fs::write(&cases, broken).unwrap();
    let failing = run(dir.path(), "patrol policy test no-admin-scopes");
    assert_eq!(failing.status.code(), Some(1), "{}", text(&failing));
    let stdout = String::from_utf8_lossy(&failing.stdout);
    assert!(
        stdout.contains("FAIL  a token without forbidden scopes is allowed")
            && stdout.contains("allowed: expected false, got true")
            && stdout.contains("6 passed, 1 failed"),
        "{}",
        text(&failing)
    );

    // `policy new` overwrites nothing.
    let again = run(dir.path(), "patrol policy new no-admin-scopes");
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn policy_new_refuses_names_that_cannot_be_policies() {
    let dir = tempfile::tempdir().unwrap();
    for (name, problem) in [
        ("No-Admin", "lowercase ASCII letters"),
        ("max-pat-lifespan", "built-in policy"),
    ] {
        let output = run(dir.path(), &format!("patrol policy new {name}"));
        assert_eq!(output.status.code(), Some(2), "{}", text(&output));
        assert!(
            String::from_utf8_lossy(&output.stderr).contains(problem),
            "{}",
            text(&output)
        );
        assert!(!dir.path().join(name).exists(), "nothing is left behind");
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn the_host_s_decision_cases_run_through_policy_test() {
    let _machine = crate::machine::whole();
    let output = Command::new(env!("CARGO_BIN_EXE_patrol"))
        .args(["policy", "test"])
        .arg(root().join("host/tests/cases"))
        .env("PATROL_CACHE_DIR", "")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary = stdout.lines().last().unwrap();
    assert!(
        summary.ends_with("0 failed, in 15 files"),
        "every case passes, the rules' (`[rule]` files included): {summary}"
    );
}
