//! The README as a newcomer follows it: every `sh` block, in order, in one fresh shell, with this
//! build's `patrol` on the `PATH`, against a real `patrol serve` on a free loopback port. The
//! README cannot drift from what patrol does without this test failing.
//!
//! What the test changes, and nothing else: `cargo run --` becomes `patrol` (the same binary,
//! already built), the install and test commands are left out (this is the test command; the
//! binary is on the `PATH` already), and the service's port 8080 becomes a free one. Commands
//! that exit non-zero are collected; only the ones the README says exit 1 (a denial, a dry run
//! that breaks tokens) may.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Where cargo put this build: the policy crate the README scaffolds builds beside it, in a folder
/// of its own shared with the authoring-guide test, so reruns stay quick.
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_patrol"))
        .ancestors()
        .nth(2)
        .expect("the binary is in <target>/<profile>/")
        .to_path_buf()
}

/// The README's `sh` blocks, in order.
fn blocks(readme: &str) -> Vec<String> {
    readme
        .split("```sh\n")
        .skip(1)
        .map(|rest| {
            rest.split_once("```")
                .expect("every block ends")
                .0
                .to_string()
        })
        .collect()
}

/// One shell script from the blocks, as described at the top of this file.
fn script(blocks: &[String], port: u16) -> String {
    let mut script = String::from(
        "set -o errtrace\n\
         trap 'echo \"readme-command-failed $? $BASH_COMMAND\" >&2' ERR\n\
         trap 'kill $(jobs -p) 2>/dev/null || :' EXIT\n",
    );
    for block in blocks {
        for line in block.lines() {
            let trimmed = line.trim_start();
            if trimmed.starts_with("cargo test") || trimmed.starts_with("cargo install") {
                continue;
            }
            let line = line
                .replace("cargo run -- ", "patrol ")
                .replace("127.0.0.1:8080", &format!("127.0.0.1:{port}"));
            script.push_str(&line);
            script.push('\n');
        }
    }
    // The script's own status says only that it ran to the end: failures are collected above.
    script.push_str("true\n");
    script
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[cfg(unix)]
fn link(original: &Path, link: &Path) {
    std::os::unix::fs::symlink(original, link).unwrap();
}

#[test]
#[cfg(unix)]
fn every_readme_block_runs_as_written_in_one_fresh_shell() {
    let _machine = crate::machine::whole();
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let blocks = blocks(&readme);
    assert!(blocks.len() >= 5, "the README's blocks: {blocks:?}");
    assert!(
        blocks[0].contains("cargo test --workspace"),
        "the first block holds the test command: {}",
        blocks[0]
    );

    // A fresh folder that looks like the checkout's root to the commands: the examples and the
    // components built from `policies/`, nothing else.
    let dir = tempfile::tempdir().unwrap();
    link(&root().join("examples"), &dir.path().join("examples"));
    link(&root().join("components"), &dir.path().join("components"));
    let bin = dir.path().join(".bin");
    std::fs::create_dir(&bin).unwrap();
    link(Path::new(env!("CARGO_BIN_EXE_patrol")), &bin.join("patrol"));
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );

    let script = script(&blocks, free_port());
    std::fs::write(dir.path().join(".readme.sh"), &script).unwrap();
    let mut child = Command::new("bash")
        .arg(".readme.sh")
        .current_dir(dir.path())
        .env("PATH", path)
        .env_remove("PATROL_ADMIN_TOKEN")
        .env("PATROL_CACHE_DIR", dir.path().join(".cache"))
        .env("CARGO_TARGET_DIR", target_dir().join("policy-authoring"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // Drain both pipes while waiting, so a chatty command cannot block on a full pipe.
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).unwrap();
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).unwrap();
        text
    });
    // The scaffolded policy's first build dominates; it is bounded all the same.
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(20 * 60) {
            child.kill().unwrap();
            panic!("the README's commands ran for 20 minutes:\n{script}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stdout = out.join().unwrap();
    let stderr = err.join().unwrap();
    let shown = format!("script:\n{script}\nstdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(status.success(), "{status}\n{shown}");

    // Only the commands the README says exit 1 did, and exactly with 1.
    let failed: Vec<&str> = stderr
        .lines()
        .filter_map(|line| line.strip_prefix("readme-command-failed "))
        .collect();
    let expected_to_deny = |command: &str| {
        command.starts_with("1 patrol eval --config examples/contoso/tenant.toml")
            || command.starts_with("1 patrol eval --config no-admin-scopes/tenant.toml")
            || command == "1 patrol whatif --data-dir patrol-data --config proposed.toml"
    };
    let unexpected: Vec<&&str> = failed.iter().filter(|c| !expected_to_deny(c)).collect();
    assert!(unexpected.is_empty(), "failed: {unexpected:?}\n{shown}");
    assert_eq!(failed.len(), 3, "{failed:?}\n{shown}");

    // What the README shows each step doing.
    for expected in [
        "\"code\":\"patLifespanPolicyViolation\"",
        "x-patrol-user: alice@contoso.com",
        "x-patrol-scopes: vso.code vso.build_execute",
        "x-patrol-reason: token_not_valid_for_org",
        "\"outcome\":\"revoked\"",
        "x-patrol-reason: revoked_token",
        "Token.PatSystemRevokeEvent",
        "lifetime > 30 days",
        "bob@contoso.com,1,0,0,vso.build_execute,",
        "1 of 1 active tokens of `contoso` would be refused",
        "forbiddenScope",
    ] {
        assert!(stdout.contains(expected), "missing {expected:?}\n{shown}");
    }
    assert!(dir.path().join("tokens.html").is_file(), "{shown}");
    let applied =
        std::fs::read_to_string(dir.path().join("patrol-data/tenants/contoso.toml")).unwrap();
    assert!(applied.contains("max_days = 30"), "{applied}");
}
