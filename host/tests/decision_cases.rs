//! Runs every decision case under `tests/cases/` against the real host and the real
//! components. The case format is documented in `patrol::cases`.

use std::path::Path;

use patrol::cases::run_case_dir;
use patrol::{Engine, EngineConfig};

#[test]
fn every_decision_case_holds() {
    let engine = Engine::new(EngineConfig::default()).expect("engine");
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
