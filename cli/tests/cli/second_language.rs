//! A tenant rule written in JavaScript (`examples/least-privilege-js`), built by its documented
//! command (`npm ci && npm run build`, componentize-js from the npm registry) and run by the real
//! host: its decision cases, and a tenant where it sits next to the seed policies.
//!
//! Where npm is not installed, `cargo test` lists this test as ignored ("needs npm"); `.ci/run`
//! installs it and sets `PATROL_REQUIRE_JS=1`, under which a missing npm fails the build.

use std::path::{Path, PathBuf};
use std::process::Command;

use patrol::cases::run_case_file;
use patrol::{Engine, EngineConfig, Request, TenantConfig};

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/least-privilege-js")
}

/// Runs `npm ARGS` in the example.
fn npm(args: &[&str]) -> std::process::Output {
    Command::new("npm")
        .args(args)
        .current_dir(example())
        .output()
        .unwrap_or_else(|error| panic!("cannot run npm (the build found it): {error}"))
}

/// Builds the component as the example's README says.
fn build() -> PathBuf {
    let mut steps: Vec<&[&str]> = Vec::new();
    if !example().join("node_modules/.bin/componentize-js").exists() {
        steps.push(&["ci", "--no-audit", "--no-fund"]);
    }
    steps.push(&["run", "build"]);
    for step in steps {
        let output = npm(step);
        assert!(
            output.status.success(),
            "`npm {}` failed:\n{}\n{}",
            step.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    example().join("build/least_privilege_js.wasm")
}

#[test]
#[cfg_attr(not(patrol_has_npm), ignore = "needs npm: apt-get install nodejs npm")]
fn a_javascript_rule_is_built_loaded_and_judges_like_a_rust_one() {
    let _machine = crate::machine::whole();
    let component = build();
    let engine = Engine::new(EngineConfig::default()).unwrap();

    // The component imports nothing, and says who it is.
    let compiled = engine
        .compile(&std::fs::read(&component).unwrap())
        .expect("the JavaScript component loads like any other");
    assert_eq!(compiled.metadata().name, "least_privilege_js");
    eprintln!(
        "least_privilege_js.wasm: {} bytes, {}",
        compiled.size(),
        compiled.digest()
    );

    // Its decision cases, through the real host.
    let results = run_case_file(&engine, &example().join("tests/cases.toml"), None).unwrap();
    assert_eq!(results.len(), 10);
    let failures: Vec<String> = results
        .iter()
        .filter(|r| !r.passed())
        .map(|r| format!("{}: {}", r.name, r.differences.join("; ")))
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");

    // Next to the seed policies in one tenant: each says its own part.
    let config = TenantConfig::from_toml(
        r#"
tenant = "contoso"
[policies.restrict_full_scoped_pat_creation]
enabled = true
[policies.max_pat_lifespan]
enabled = true
max_days = 90
[[custom_policies]]
name = "least-privilege"
component = "build/least_privilege_js.wasm"
settings = { max_scopes = 2 }
"#,
        "least-privilege tenant",
        &example(),
    )
    .unwrap();
    let tenant = patrol::Tenant::load(&engine, &config).unwrap();
    let request = Request::from_json(
        r#"{ "operation": "create", "now": "2026-11-28T12:00:00Z", "org": "fabrikam",
             "user": { "id": "bob@contoso.com" },
             "token": { "scopes": ["vso.code", "vso.work", "app_token"], "all_orgs": true,
                        "orgs": [], "valid_to": "2026-12-28T12:00:00Z" } }"#,
    )
    .unwrap();
    let decision = tenant.evaluate(&request);
    let said: Vec<(&str, &str)> = decision
        .violations
        .iter()
        .map(|v| (&*v.policy, v.code.as_str()))
        .collect();
    assert_eq!(
        said,
        [
            (
                "restrict_full_scoped_pat_creation",
                "fullScopePatPolicyViolation"
            ),
            ("least-privilege", "tooManyScopes"),
            ("least-privilege", "globalTokenCanWrite"),
        ]
    );
    assert!(!decision.allowed);
}
