//! Runs every decision case under `tests/cases/` against the real host and the real
//! components. The case format is documented in `patrol::cases`.

use std::path::Path;

use patrol::cases::{run_case_dir, run_case_file};
use patrol::{Engine, EngineConfig};

#[test]
fn every_decision_case_holds() {
    run_every_case(EngineConfig::default());
}

/// The seed policies give the same decisions in their own components as in the seed bundle.
#[test]
fn every_decision_case_holds_with_a_component_per_seed_policy() {
    run_every_case(EngineConfig {
        bundle_seed_policies: false,
        ..EngineConfig::default()
    });
}

fn run_every_case(config: EngineConfig) {
    // Loading compiles every component the cases name, the CEL rules' 1.6 MB bundle among
    // them, on every core: not while other tests measure time.
    let _machine = crate::machine::whole();
    let engine = Engine::new(config).expect("engine");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let files = run_case_dir(&engine, &dir, None).unwrap_or_else(|error| panic!("{error}"));
    assert!(
        files.len() >= 10,
        "expected the case files in {}",
        dir.display()
    );
    let mut report = String::new();
    let mut total = 0;
    for (file, results) in &files {
        assert!(!results.is_empty(), "{} has no cases", file.display());
        for result in results {
            total += 1;
            if !result.passed() {
                report.push_str(&format!(
                    "\nFAIL {}: {}\n  {}\n",
                    file.file_name().unwrap().to_string_lossy(),
                    result.name,
                    result.differences.join("\n  ")
                ));
            }
        }
    }
    assert!(report.is_empty(), "{report}");
    eprintln!("{total} decision cases in {} files passed", files.len());
}

/// A `[policy]` file tests one component: its own settings per case, refused settings, and
/// clear errors for files that cannot be used.
#[test]
fn policy_files_test_one_component() {
    let engine = Engine::new(EngineConfig::default()).expect("engine");
    let dir = tempfile::tempdir().unwrap();
    let component =
        Path::new(patrol_test_support::COMPONENT_DIR).join("write_scopes_short_lived.wasm");
    let file = dir.path().join("cases.toml");
    let write = |text: &str| std::fs::write(&file, text).unwrap();
    let defaults = r#"
[defaults.request]
operation = "create"
now = "2026-11-28T12:00:00Z"
org = "fabrikam"
user = { id = "bob@contoso.com" }
token = { scopes = ["vso.code_write"], orgs = ["fabrikam"], valid_to = "2026-12-08T12:00:00Z" }
"#;
    write(&format!(
        r#"[policy]
settings = {{ max_days = 7 }}
{defaults}
[[case]]
name = "ten days is too long"
expect.allowed = false
expect.violations = [ {{ code = "writeScopeLifespanViolation" }} ]

[[case]]
name = "with a longer limit it is allowed"
settings = {{ max_days = 10 }}
expect.allowed = true

[[case]]
name = "a wrong expectation fails"
expect.allowed = true

[[case]]
name = "out-of-range settings are refused"
settings = {{ max_days = 400 }}
expect.settings_error = "`max_days` must be between 1 and 365"
"#
    ));
    let results = run_case_file(&engine, &file, Some(&component)).unwrap();
    let outcomes: Vec<(&str, bool)> = results
        .iter()
        .map(|r| (r.name.as_str(), r.passed()))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("ten days is too long", true),
            ("with a longer limit it is allowed", true),
            ("a wrong expectation fails", false),
            ("out-of-range settings are refused", true),
        ]
    );
    assert!(
        results[2].differences[0].contains("allowed: expected true, got false"),
        "{:?}",
        results[2].differences
    );

    // Without a component from the runner or the file, the file says how to give one.
    let error = run_case_file(&engine, &file, None).unwrap_err().to_string();
    assert!(error.contains("names no `component`"), "{error}");

    for (text, problem) in [
        (
            format!("[config]\ntenant = \"t\"\n[policy]\n{defaults}"),
            "has more than one of `[config]`, `[policy]` and `[rule]`",
        ),
        (
            format!("{defaults}\n[[case]]\nname = \"x\"\nexpect.allowed = true\n"),
            "says neither what to test",
        ),
        (
            format!(
                "[config]\ntenant = \"t\"\n{defaults}\n[[case]]\nname = \"x\"\nsettings = {{ a = 1 }}\nexpect.allowed = true\n"
            ),
            "`settings` belongs to files that test one policy",
        ),
        (
            format!(
                "[config]\ntenant = \"t\"\n{defaults}\n[[case]]\nname = \"x\"\nexpect.violations = []\n"
            ),
            "case `x`: `expect` needs exactly one of `allowed` and `settings_error`",
        ),
    ] {
        write(&text);
        let error = run_case_file(&engine, &file, Some(&component))
            .unwrap_err()
            .to_string();
        assert!(error.contains(problem), "{error}");
        assert!(error.starts_with(&file.display().to_string()), "{error}");
    }
}
