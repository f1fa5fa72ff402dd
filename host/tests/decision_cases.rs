//! Runs every decision case under `tests/cases/` against the real host and the real
//! components. The case format is documented in `patrol::cases`.

use std::path::Path;

use patrol::cases::run_case_dir;
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
    let engine = Engine::new(config).expect("engine");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let files = run_case_dir(&engine, &dir).unwrap_or_else(|error| panic!("{error}"));
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
