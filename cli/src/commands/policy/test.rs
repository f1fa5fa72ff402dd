//! `patrol policy test`: decision cases from files, run through the real host.

use std::path::{Path, PathBuf};

use anyhow::bail;
use patrol::Engine;
use patrol::cases::{CaseResult, run_case_dir, run_case_file};

use super::build;
use crate::commands::{Outcome, emit, engine_config};

/// Where a policy crate keeps its case files.
const CASES_FOLDER: &str = "tests";

pub fn run(path: &Path, component: Option<&Path>) -> anyhow::Result<Outcome> {
    let engine = Engine::new(engine_config()?)?;
    let files = if path.is_dir() {
        let is_crate = path.join("Cargo.toml").is_file();
        let built;
        let component = match component {
            Some(component) => Some(component),
            None if is_crate => {
                built = build::build(&engine, path)?;
                build::report(&built);
                Some(built.path.as_path())
            }
            None => None,
        };
        let cases = if is_crate {
            path.join(CASES_FOLDER)
        } else {
            path.to_path_buf()
        };
        if !cases.is_dir() {
            bail!(
                "`{}` has no `{CASES_FOLDER}` folder of case files",
                path.display()
            );
        }
        run_case_dir(&engine, &cases, component)?
    } else if path.is_file() {
        vec![(path.to_path_buf(), run_case_file(&engine, path, component)?)]
    } else {
        bail!("`{}` is neither a folder nor a file", path.display());
    };
    Ok(summarize(&files))
}

fn summarize(files: &[(PathBuf, Vec<CaseResult>)]) -> Outcome {
    let (mut passed, mut failed) = (0, 0);
    for (file, results) in files {
        emit(&format!("{}", file.display()));
        for result in results {
            if result.passed() {
                passed += 1;
                emit(&format!("  ok    {}", result.name));
            } else {
                failed += 1;
                emit(&format!("  FAIL  {}", result.name));
                for difference in &result.differences {
                    for line in difference.lines() {
                        emit(&format!("          {line}"));
                    }
                }
            }
        }
    }
    if passed + failed == 0 {
        emit("no cases found");
        return Outcome::Denied;
    }
    emit(&format!(
        "{passed} passed, {failed} failed, in {} file{}",
        files.len(),
        if files.len() == 1 { "" } else { "s" }
    ));
    if failed == 0 {
        Outcome::Success
    } else {
        Outcome::Denied
    }
}
