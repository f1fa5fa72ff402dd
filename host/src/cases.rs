//! Decision cases as data: a tenant configuration, requests, and the decisions expected.
//!
//! ```toml
//! # The tenant the cases run against: the same keys as a tenant configuration file.
//! [config]
//! tenant = "contoso"
//! [config.policies.max_pat_lifespan]
//! enabled = true
//! max_days = 90
//!
//! # Merged into every case's request, so each case says only what differs.
//! [defaults.request]
//! operation = "create"
//! now = "2026-11-28T12:00:00Z"
//! org = "fabrikam"
//! user = { id = "bob@contoso.com" }
//! token = { scopes = ["vso.code"], orgs = ["fabrikam"], valid_to = "2026-12-01T00:00:00Z" }
//!
//! [[case]]
//! name = "exactly max_days is allowed"
//! request.token.valid_to = "2027-02-26T12:00:00Z"
//! expect.allowed = true
//!
//! [[case]]
//! name = "one second more is refused"
//! request.token.valid_to = "2027-02-26T12:00:01Z"
//! expect.allowed = false
//! expect.violations = [ { policy = "max_pat_lifespan", code = "patLifespanPolicyViolation",
//!                         message = "requested lifespan 91 days exceeds the tenant maximum of 90 days" } ]
//! ```
//!
//! `expect` lists everything the decision must contain: `allowed`; `violations` in order (each
//! with `policy` and `code`, `enforced` defaulting to true, and optionally the exact `message`
//! and the `error` class); `actions`; `adjusted_valid_to`. What is not listed must be absent.
//! Relative component paths in `[config]` are relative to the case file.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::config::{TenantConfig, toml_to_json};
use crate::decision::{Action, Decision, ErrorClass, ReportedViolation};
use crate::engine::Engine;
use crate::request::Request;
use crate::timestamp::{format_rfc3339, now, parse_rfc3339};

/// A case file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {problem}")]
pub struct CaseFileError {
    /// The case file.
    pub file: PathBuf,
    /// What is wrong with it.
    pub problem: String,
}

/// The outcome of one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseResult {
    /// The case's name.
    pub name: String,
    /// How the decision differs from the expectation; empty when the case passes.
    pub differences: Vec<String>,
}

impl CaseResult {
    /// Whether the decision matched.
    pub fn passed(&self) -> bool {
        self.differences.is_empty()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCaseFile {
    config: toml::Table,
    #[serde(default)]
    defaults: RawDefaults,
    #[serde(default, rename = "case")]
    cases: Vec<RawCase>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    #[serde(default)]
    request: toml::Table,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    name: String,
    #[serde(default)]
    request: toml::Table,
    expect: Expectation,
}

/// What a case expects of the decision.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expectation {
    allowed: bool,
    #[serde(default)]
    violations: Vec<ExpectedViolation>,
    #[serde(default)]
    actions: Vec<Action>,
    adjusted_valid_to: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedViolation {
    policy: String,
    code: String,
    #[serde(default = "enforced_by_default")]
    enforced: bool,
    message: Option<String>,
    error: Option<ErrorClass>,
}

fn enforced_by_default() -> bool {
    true
}

/// Runs every case of a case file against its tenant, loaded into `engine`.
pub fn run_case_file(engine: &Engine, path: &Path) -> Result<Vec<CaseResult>, CaseFileError> {
    let fail = |problem: String| CaseFileError {
        file: path.to_path_buf(),
        problem,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read it: {e}")))?;
    let raw: RawCaseFile = toml::from_str(&text).map_err(|e| fail(format!("{e}")))?;
    let base_dir = path.parent().unwrap_or(Path::new("."));
    let origin = format!("{} `[config]`", path.display());
    let config = TenantConfig::from_toml_table(raw.config, &origin, base_dir)
        .map_err(|e| fail(e.to_string()))?;
    let tenant = engine
        .load_tenant(&config)
        .map_err(|e| fail(e.to_string()))?;
    let defaults = table_to_json(raw.defaults.request).map_err(&fail)?;
    let mut results = Vec::with_capacity(raw.cases.len());
    for case in raw.cases {
        let mut request = defaults.clone();
        merge(&mut request, table_to_json(case.request).map_err(&fail)?);
        let differences = match Request::from_json_at(&request.to_string(), now()) {
            Ok(request) => compare(&case.expect, &tenant.evaluate(&request)),
            Err(error) => vec![format!("the request is invalid: {error}")],
        };
        results.push(CaseResult {
            name: case.name,
            differences,
        });
    }
    Ok(results)
}

/// Runs every `*.toml` case file in `dir`, in name order.
pub fn run_case_dir(
    engine: &Engine,
    dir: &Path,
) -> Result<Vec<(PathBuf, Vec<CaseResult>)>, CaseFileError> {
    let entries = std::fs::read_dir(dir).map_err(|e| CaseFileError {
        file: dir.to_path_buf(),
        problem: format!("cannot list the folder: {e}"),
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|file| run_case_file(engine, &file).map(|results| (file, results)))
        .collect()
}

fn table_to_json(table: toml::Table) -> Result<Value, String> {
    toml_to_json(toml::Value::Table(table)).map_err(|e| format!("cannot read a request: {e}"))
}

/// Merges `overlay` into `base`: tables key by key, everything else replaced.
fn merge(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (Value::Object(base), Value::Object(overlay)) => {
            for (key, value) in overlay {
                match base.get_mut(&key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, overlay) => *base = overlay,
    }
}

fn compare(expect: &Expectation, decision: &Decision) -> Vec<String> {
    let mut differences = Vec::new();
    if expect.allowed != decision.allowed {
        differences.push(format!(
            "allowed: expected {}, got {}",
            expect.allowed, decision.allowed
        ));
    }
    let violations_match = expect.violations.len() == decision.violations.len()
        && expect
            .violations
            .iter()
            .zip(&decision.violations)
            .all(|(expected, actual)| violation_matches(expected, actual));
    if !violations_match {
        let mut text = String::from("violations differ:\n    expected:");
        for v in &expect.violations {
            let _ = write!(text, "\n      {}", describe_expected(v));
        }
        if expect.violations.is_empty() {
            text.push_str(" none");
        }
        text.push_str("\n    actual:");
        for v in &decision.violations {
            let _ = write!(text, "\n      {}", describe_actual(v));
        }
        if decision.violations.is_empty() {
            text.push_str(" none");
        }
        differences.push(text);
    }
    if expect.actions != decision.actions {
        let names = |actions: &[Action]| {
            let names: Vec<&str> = actions.iter().map(|a| a.as_str()).collect();
            format!("[{}]", names.join(", "))
        };
        differences.push(format!(
            "actions: expected {}, got {}",
            names(&expect.actions),
            names(&decision.actions)
        ));
    }
    let expected_adjusted = expect.adjusted_valid_to.as_deref().map(parse_rfc3339);
    let actual_adjusted = decision.adjusted_valid_to;
    let adjusted_match = match expected_adjusted {
        None => actual_adjusted.is_none(),
        Some(expected) => expected.is_some() && expected == actual_adjusted,
    };
    if !adjusted_match {
        differences.push(format!(
            "adjusted_valid_to: expected {}, got {}",
            expect.adjusted_valid_to.as_deref().unwrap_or("null"),
            actual_adjusted.map_or_else(|| "null".to_string(), format_rfc3339)
        ));
    }
    differences
}

fn violation_matches(expected: &ExpectedViolation, actual: &ReportedViolation) -> bool {
    *expected.policy == *actual.policy
        && expected.code == actual.code
        && expected.enforced == actual.enforced
        && expected
            .message
            .as_ref()
            .is_none_or(|m| *m == actual.message)
        && expected.error.is_none_or(|e| Some(e) == actual.error)
}

fn describe_expected(v: &ExpectedViolation) -> String {
    let mut text = format!(
        "{}/{}{}",
        v.policy,
        v.code,
        if v.enforced { "" } else { " (not enforced)" }
    );
    if let Some(error) = v.error {
        let _ = write!(text, " [{error}]");
    }
    if let Some(message) = &v.message {
        let _ = write!(text, " {message:?}");
    }
    text
}

fn describe_actual(v: &ReportedViolation) -> String {
    let mut text = format!(
        "{}/{}{}",
        v.policy,
        v.code,
        if v.enforced { "" } else { " (not enforced)" }
    );
    if let Some(error) = v.error {
        let _ = write!(text, " [{error}]");
    }
    let _ = write!(text, " {:?}", v.message);
    text
}
