//! Decision cases as data: a tenant configuration (or one policy under test), requests, and the
//! decisions expected.
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
//! A file that tests one component says `[policy]` instead of `[config]`: the keys of one
//! `[[custom_policies]]` entry (`settings`, `allowlist`, `mode`, `on_error`, `limits`), with
//! `component` optional when the runner supplies it (`patrol policy test DIR` tests the component
//! it has just built) and `name` defaulting to the component's file stem. A case may then bring
//! its own `settings`, which replace the file's, and expect them refused:
//!
//! ```toml
//! [policy]
//! settings = { max_days = 7 }
//!
//! [[case]]
//! name = "a year is too long a limit"
//! settings = { max_days = 400 }
//! expect.settings_error = "`max_days` must be between 1 and 365"
//! ```
//!
//! A file that tests one CEL rule says `[rule]`: the keys of one `[[rules]]` entry, `name`
//! defaulting to the file's stem. A case may bring its own `rule` table, merged over the
//! file's, to try another expression or message:
//!
//! ```toml
//! [rule]
//! expression = 'token.valid_to - now <= duration("168h")'
//!
//! [[case]]
//! name = "a number is not a duration"
//! rule = { expression = "token.valid_to - now <= 7" }
//! expect.settings_error = "found no matching overload"
//! ```
//!
//! `expect` lists everything the decision must contain: `allowed`; `violations` in order (each
//! with `code`, `policy` unless the file tests one policy, `enforced` defaulting to true, and
//! optionally the exact `message` and the `error` class); `actions`; `adjusted_valid_to`. What is
//! not listed must be absent. Instead of `allowed`, `settings_error` expects the configuration
//! to be refused with a message containing the given text. Relative component paths are relative
//! to the case file.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::config::{TenantConfig, toml_to_json};
use crate::decision::{Action, Decision, ErrorClass, ReportedViolation};
use crate::engine::Engine;
use crate::request::Request;
use crate::tenant::Tenant;
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
    config: Option<toml::Table>,
    policy: Option<toml::Table>,
    rule: Option<toml::Table>,
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
    settings: Option<toml::Table>,
    rule: Option<toml::Table>,
    expect: Expectation,
}

/// What a case expects of the decision.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expectation {
    allowed: Option<bool>,
    settings_error: Option<String>,
    #[serde(default)]
    violations: Vec<ExpectedViolation>,
    #[serde(default)]
    actions: Vec<Action>,
    adjusted_valid_to: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedViolation {
    policy: Option<String>,
    code: String,
    #[serde(default = "enforced_by_default")]
    enforced: bool,
    message: Option<String>,
    error: Option<ErrorClass>,
}

fn enforced_by_default() -> bool {
    true
}

/// Runs every case of a case file against its tenant, loaded into `engine`. `component` is the
/// component a `[policy]` file tests when the file does not name one.
pub fn run_case_file(
    engine: &Engine,
    path: &Path,
    component: Option<&Path>,
) -> Result<Vec<CaseResult>, CaseFileError> {
    let fail = |problem: String| CaseFileError {
        file: path.to_path_buf(),
        problem,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read it: {e}")))?;
    let raw: RawCaseFile = toml::from_str(&text).map_err(|e| fail(format!("{e}")))?;
    let base_dir = crate::files::folder_of(path);
    let subject = match (raw.config, raw.policy, raw.rule) {
        (Some(config), None, None) => Subject::Tenant(config),
        (None, Some(policy), None) => {
            Subject::Policy(policy_under_test(policy, component).map_err(&fail)?)
        }
        (None, None, Some(mut rule)) => {
            if !rule.contains_key("name") {
                let stem = path.file_stem().and_then(|stem| stem.to_str());
                let name = stem.unwrap_or("rule").to_ascii_lowercase();
                rule.insert("name".to_string(), toml::Value::String(name));
            }
            Subject::Rule(rule)
        }
        (None, None, None) => {
            return Err(fail(
                "says neither what to test: add `[config]` (a tenant), `[policy]` (one \
                 component) or `[rule]` (one CEL rule)"
                    .to_string(),
            ));
        }
        _ => {
            return Err(fail(
                "has more than one of `[config]`, `[policy]` and `[rule]`; a case file tests a \
                 tenant, one policy or one rule"
                    .to_string(),
            ));
        }
    };
    let defaults = table_to_json(raw.defaults.request).map_err(&fail)?;
    let mut tenants = TenantCache::default();
    let mut results = Vec::with_capacity(raw.cases.len());
    for case in raw.cases {
        let context = |problem: String| fail(format!("case `{}`: {problem}", case.name));
        match (case.expect.allowed, &case.expect.settings_error) {
            (Some(_), None) | (None, Some(_)) => {}
            _ => {
                return Err(context(
                    "`expect` needs exactly one of `allowed` and `settings_error`".to_string(),
                ));
            }
        }
        let config = subject
            .config(case.settings, case.rule, path)
            .map_err(&context)?;
        let tenant = tenants.load(engine, config, base_dir, path, &subject);
        let mut request = defaults.clone();
        merge(&mut request, table_to_json(case.request).map_err(&context)?);
        let differences = match (tenant, &case.expect.settings_error) {
            (Err(error), Some(expected)) if error.contains(expected.as_str()) => Vec::new(),
            (Err(error), Some(expected)) => vec![format!(
                "settings_error: expected a refusal containing {expected:?}, got {error:?}"
            )],
            (Ok(_), Some(expected)) => vec![format!(
                "settings_error: expected a refusal containing {expected:?}, but the settings \
                 were accepted"
            )],
            (Err(error), None) => vec![format!("the configuration was refused: {error}")],
            (Ok(tenant), None) => match Request::from_json_at(&request.to_string(), now()) {
                Ok(request) => compare(&case.expect, &tenant.evaluate(&request)),
                Err(error) => vec![format!("the request is invalid: {error}")],
            },
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
    component: Option<&Path>,
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
        .map(|file| run_case_file(engine, &file, component).map(|results| (file, results)))
        .collect()
}

/// What a case file tests.
enum Subject {
    /// A whole tenant, from `[config]`.
    Tenant(toml::Table),
    /// One component, from `[policy]`, as a one-policy tenant's `custom_policies[0]`.
    Policy(toml::Table),
    /// One CEL rule, from `[rule]`, as a one-rule tenant's `rules[0]`.
    Rule(toml::Table),
}

/// The tenant name a `[policy]` file's cases run in.
const POLICY_TEST_TENANT: &str = "policy-test";

impl Subject {
    /// The tenant configuration for one case, with the case's own settings if it has any.
    fn config(
        &self,
        settings: Option<toml::Table>,
        rule: Option<toml::Table>,
        path: &Path,
    ) -> Result<toml::Table, String> {
        if rule.is_some() && !matches!(self, Subject::Rule(_)) {
            return Err(format!(
                "`rule` belongs to files that test one rule (`[rule]`) in {}",
                path.display()
            ));
        }
        match (self, settings) {
            (Subject::Rule(_), Some(_)) => Err(format!(
                "`settings` belongs to files that test one component (`[policy]`); in {} give \
                 a case its own `rule = {{ ... }}` instead",
                path.display()
            )),
            (Subject::Rule(base), None) => {
                let mut merged = base.clone();
                merged.extend(rule.unwrap_or_default());
                Ok(one_policy_tenant("rules", merged))
            }
            (Subject::Tenant(config), None) => Ok(config.clone()),
            (Subject::Tenant(_), Some(_)) => Err(format!(
                "`settings` belongs to files that test one policy (`[policy]`); in {} put \
                 settings in `[config]`",
                path.display()
            )),
            (Subject::Policy(policy), settings) => {
                let mut policy = policy.clone();
                if let Some(settings) = settings {
                    policy.insert("settings".to_string(), toml::Value::Table(settings));
                }
                Ok(one_policy_tenant("custom_policies", policy))
            }
        }
    }
}

/// A tenant with one entry, `entry`, in the array `key` (`custom_policies` or `rules`).
fn one_policy_tenant(key: &str, entry: toml::Table) -> toml::Table {
    let mut config = toml::Table::new();
    config.insert(
        "tenant".to_string(),
        toml::Value::String(POLICY_TEST_TENANT.to_string()),
    );
    config.insert(
        key.to_string(),
        toml::Value::Array(vec![toml::Value::Table(entry)]),
    );
    config
}

/// Completes a `[policy]` table: the component (the table's own, relative to the case file, else
/// the runner's `component`, made absolute) and a name.
fn policy_under_test(
    mut policy: toml::Table,
    component: Option<&Path>,
) -> Result<toml::Table, String> {
    let path = match policy.get("component") {
        // Relative to the case file, as the configuration resolves it.
        Some(toml::Value::String(file)) => PathBuf::from(file),
        Some(_) => return Err("`policy.component` must be a file path".to_string()),
        // The runner's path is relative to the working directory, not to the case file.
        None => component
            .map(std::path::absolute)
            .transpose()
            .map_err(|e| format!("cannot resolve the component's path: {e}"))?
            .ok_or(
                "`[policy]` names no `component`: add `component = \"path/to/policy.wasm\"` to it, \
             pass `--component`, or run `patrol policy test` on the policy's crate, which builds \
             the component and supplies it",
            )?,
    };
    if !policy.contains_key("name") {
        let stem = path
            .file_stem()
            .and_then(|stem| stem.to_str())
            .unwrap_or("policy")
            .to_string();
        policy.insert("name".to_string(), toml::Value::String(stem));
    }
    let path = path
        .to_str()
        .ok_or_else(|| format!("`{}` is not a UTF-8 path", path.display()))?
        .to_string();
    policy.insert("component".to_string(), toml::Value::String(path));
    Ok(policy)
}

/// The tenants a file's cases run in, loaded once per distinct configuration.
#[derive(Default)]
struct TenantCache {
    loaded: Vec<(toml::Table, Result<Tenant, String>)>,
}

impl TenantCache {
    fn load(
        &mut self,
        engine: &Engine,
        config: toml::Table,
        base_dir: &Path,
        path: &Path,
        subject: &Subject,
    ) -> Result<&Tenant, &str> {
        let index = match self.loaded.iter().position(|(known, _)| *known == config) {
            Some(index) => index,
            None => {
                let origin = format!("{}", path.display());
                let tenant = TenantConfig::from_toml_table(config.clone(), &origin, base_dir)
                    .map_err(|mut error| {
                        // Name the field as the case file spells it.
                        error.field = match subject {
                            Subject::Tenant(_) => format!("config.{}", error.field),
                            Subject::Policy(_) => error
                                .field
                                .strip_prefix("custom_policies[0]")
                                .map_or(error.field.clone(), |rest| format!("policy{rest}")),
                            Subject::Rule(_) => error
                                .field
                                .strip_prefix("rules[0]")
                                .map_or(error.field.clone(), |rest| format!("rule{rest}")),
                        };
                        error.to_string()
                    })
                    .and_then(|config| {
                        crate::Tenant::load(engine, &config).map_err(|e| e.to_string())
                    });
                self.loaded.push((config, tenant));
                self.loaded.len() - 1
            }
        };
        self.loaded[index].1.as_ref().map_err(String::as_str)
    }
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
    if let Some(allowed) = expect.allowed
        && allowed != decision.allowed
    {
        differences.push(format!(
            "allowed: expected {allowed}, got {}",
            decision.allowed
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
    expected
        .policy
        .as_ref()
        .is_none_or(|policy| **policy == *actual.policy)
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
        "{}{}{}",
        v.policy.as_ref().map_or(String::new(), |p| format!("{p}/")),
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
