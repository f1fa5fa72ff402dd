//! Refused requests over a time range, grouped by policy and by user.
//!
//! Two sources, which never hold the same refusal twice:
//! - the audit log: token creations and regenerations refused by policy (`outcome = denied`),
//!   whichever way they came (CLI, HTTP API);
//! - the decision log: uses the gateway path refused (`"source": "gateway"`). Answers of
//!   `POST /v1/tenants/{tenant}/decisions` are logged there too but not counted: that API takes
//!   the user from its caller and refuses nothing. Rotated files (`decisions.log.1`, ...) are
//!   read too.
//!
//! Only enforced violations count: a policy in audit mode reports without refusing.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use super::{Report, Table};
use crate::tokens::{AuditEntry, AuditEvent, Outcome as AuditOutcome};
use patrol::timestamp::{Timestamp, format_rfc3339, parse_rfc3339, rfc3339};

/// The report.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ViolationsReport {
    /// The tenant.
    pub tenant: String,
    /// The start of the range (inclusive).
    #[serde(with = "rfc3339::required")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub from: Timestamp,
    /// The end of the range (exclusive).
    #[serde(with = "rfc3339::required")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub to: Timestamp,
    /// How many requests were refused.
    pub denied_requests: usize,
    /// By policy: how many violations, from how many users (most violations first).
    pub by_policy: Vec<PolicyCount>,
    /// By user: how many refused requests, and which policies refused them (most first).
    pub by_user: Vec<UserCount>,
    /// Every refused request, oldest first.
    pub denials: Vec<Denial>,
    /// Decision-log lines that could not be read (say, cut short by a crash).
    pub unreadable_lines: usize,
    /// The decision-log files read; empty when the service logs decisions elsewhere.
    pub decision_log: Vec<PathBuf>,
}

/// One policy's violations.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PolicyCount {
    /// The policy.
    pub policy: String,
    /// Its violations in the range.
    pub violations: usize,
    /// The users it refused.
    pub users: usize,
    /// Its codes, by name.
    pub codes: Vec<String>,
}

/// One user's refusals.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct UserCount {
    /// The user.
    pub user: String,
    /// Their refused requests.
    pub denied_requests: usize,
    /// Violations per policy.
    pub policies: BTreeMap<String, usize>,
}

/// One refused request.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Denial {
    /// When.
    #[serde(with = "rfc3339::required")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub time: Timestamp,
    /// `audit` or `decision_log`.
    pub source: &'static str,
    /// `create`, `regenerate`, `use` or `leak`.
    pub operation: String,
    /// Who asked (for `use`, the token's owner).
    pub user: String,
    /// The token, when there is one.
    pub token_id: Option<String>,
    /// The enforced violations, as (policy, code).
    pub violations: Vec<(String, String)>,
}

/// The decision log at `path` and its rotated files (`path.1`, `path.2`, ...) that exist.
pub fn decision_log_files(path: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    if path.is_file() {
        files.push(path.to_path_buf());
    }
    for generation in 1.. {
        let rotated = PathBuf::from(format!("{}.{generation}", path.display()));
        if !rotated.is_file() {
            break;
        }
        files.push(rotated);
    }
    files
}

/// Builds the report from the audit entries of the range and the decision-log files.
pub fn violations(
    tenant: &str,
    audit: &[AuditEntry],
    decision_log: &[PathBuf],
    from: Timestamp,
    to: Timestamp,
) -> std::io::Result<ViolationsReport> {
    let mut denials: Vec<Denial> = audit
        .iter()
        .filter(|entry| {
            entry.tenant == tenant
                && entry.outcome == AuditOutcome::Denied
                && (from..to).contains(&entry.time)
        })
        .filter_map(|entry| {
            let operation = match entry.event {
                AuditEvent::PatCreate => "create",
                AuditEvent::PatUpdate => "regenerate",
                _ => return None,
            };
            Some(Denial {
                time: entry.time,
                source: "audit",
                operation: operation.to_string(),
                user: entry.actor.clone(),
                token_id: entry.token_id.clone(),
                violations: enforced(&entry.details["violations"]),
            })
        })
        .collect();
    let mut unreadable_lines = 0;
    for file in decision_log {
        let reader = match std::fs::File::open(file) {
            Ok(file) => BufReader::new(file),
            // Rotated away while the report ran: its lines are in the next file now.
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(error) => return Err(error),
        };
        // Bytes, not text: a line torn mid-character by a crash is unreadable, not fatal.
        for line in reader.split(b'\n') {
            let line = line?;
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let Ok(record) = serde_json::from_slice::<Value>(&line) else {
                unreadable_lines += 1;
                continue;
            };
            let Some(time) = record["time"].as_str().and_then(parse_rfc3339) else {
                unreadable_lines += 1;
                continue;
            };
            // Only the gateway's refusals: anyone may ask the decisions API about anyone, so
            // its answers are no record of anything refused.
            if record["source"] != "gateway"
                || record["tenant"] != tenant
                || record["allowed"] != false
                || !(from..to).contains(&time)
            {
                continue;
            }
            denials.push(Denial {
                time,
                source: "decision_log",
                operation: record["operation"]
                    .as_str()
                    .unwrap_or("unknown")
                    .to_string(),
                user: record["actor"]["id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                token_id: record["token_id"].as_str().map(str::to_string),
                violations: enforced(&record["violations"]),
            });
        }
    }
    denials.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.user.cmp(&b.user)));

    let mut policies: BTreeMap<&str, (usize, BTreeSet<&str>, BTreeSet<&str>)> = BTreeMap::new();
    let mut users: BTreeMap<&str, UserCount> = BTreeMap::new();
    for denial in &denials {
        let user = users.entry(&denial.user).or_insert_with(|| UserCount {
            user: denial.user.clone(),
            denied_requests: 0,
            policies: BTreeMap::new(),
        });
        user.denied_requests += 1;
        for (policy, code) in &denial.violations {
            *user.policies.entry(policy.clone()).or_default() += 1;
            let entry = policies.entry(policy).or_default();
            entry.0 += 1;
            entry.1.insert(&denial.user);
            entry.2.insert(code);
        }
    }
    let mut by_policy: Vec<PolicyCount> = policies
        .into_iter()
        .map(|(policy, (violations, users, codes))| PolicyCount {
            policy: policy.to_string(),
            violations,
            users: users.len(),
            codes: codes.into_iter().map(str::to_string).collect(),
        })
        .collect();
    by_policy.sort_by(|a, b| {
        b.violations
            .cmp(&a.violations)
            .then(a.policy.cmp(&b.policy))
    });
    let mut by_user: Vec<UserCount> = users.into_values().collect();
    by_user.sort_by(|a, b| {
        b.denied_requests
            .cmp(&a.denied_requests)
            .then(a.user.cmp(&b.user))
    });
    Ok(ViolationsReport {
        tenant: tenant.to_string(),
        from,
        to,
        denied_requests: denials.len(),
        by_policy,
        by_user,
        denials,
        unreadable_lines,
        decision_log: decision_log.to_vec(),
    })
}

/// The enforced violations of a JSON list of reported violations, as (policy, code).
fn enforced(list: &Value) -> Vec<(String, String)> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter(|v| v["enforced"] != false)
        .map(|v| {
            (
                v["policy"].as_str().unwrap_or("unknown").to_string(),
                v["code"].as_str().unwrap_or("unknown").to_string(),
            )
        })
        .collect()
}

impl Report for ViolationsReport {
    /// One row per (policy, user): how often that policy refused that user.
    fn table(&self) -> Table {
        let mut table = Table::new(vec!["policy", "user", "violations", "first", "last"]);
        let mut cells: BTreeMap<(&str, &str), (usize, Timestamp, Timestamp)> = BTreeMap::new();
        for denial in &self.denials {
            for (policy, _) in &denial.violations {
                let cell =
                    cells
                        .entry((policy, &denial.user))
                        .or_insert((0, denial.time, denial.time));
                cell.0 += 1;
                cell.1 = cell.1.min(denial.time);
                cell.2 = cell.2.max(denial.time);
            }
        }
        let order: Vec<&str> = self.by_policy.iter().map(|p| p.policy.as_str()).collect();
        let mut rows: Vec<_> = cells.into_iter().collect();
        rows.sort_by_key(|((policy, user), (count, _, _))| {
            (
                order.iter().position(|p| p == policy),
                std::cmp::Reverse(*count),
                *user,
            )
        });
        for ((policy, user), (count, first, last)) in rows {
            table.rows.push(vec![
                policy.to_string(),
                user.to_string(),
                count.to_string(),
                format_rfc3339(first),
                format_rfc3339(last),
            ]);
        }
        table
    }
}
