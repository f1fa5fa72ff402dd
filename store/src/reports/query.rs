//! One way in for every front end (CLI, HTTP, MCP): which report, with which parameters,
//! checked at the edge, then built.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::automation::{AutomationReport, automation};
use super::expiring::{ExpiringReport, expiring};
use super::noncompliant::{NoncompliantReport, noncompliant};
use super::usage::{UsageReport, usage};
use super::violations::{ViolationsReport, decision_log_files, violations};
use super::{Report, Table, all_tokens, configured_max_days};
use crate::tokens::{AuditQuery, StoreError, Tokens};
use patrol::Tenant;
use patrol::timestamp::Timestamp;

/// The reports, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    /// Tokens over a lifetime or with full scope, by owner.
    Noncompliant,
    /// Refused requests over a time range.
    Violations,
    /// Tokens per user.
    Usage,
    /// Tokens that look like automation.
    Automation,
    /// Tokens expiring soon.
    Expiring,
}

impl ReportKind {
    /// Every report.
    pub const ALL: [ReportKind; 5] = [
        ReportKind::Noncompliant,
        ReportKind::Violations,
        ReportKind::Usage,
        ReportKind::Automation,
        ReportKind::Expiring,
    ];

    /// Its name, as in `patrol report NAME` and `/reports/NAME`.
    pub fn name(self) -> &'static str {
        match self {
            ReportKind::Noncompliant => "noncompliant",
            ReportKind::Violations => "violations",
            ReportKind::Usage => "usage",
            ReportKind::Automation => "automation",
            ReportKind::Expiring => "expiring",
        }
    }

    /// The report called `name`.
    pub fn parse(name: &str) -> Option<ReportKind> {
        ReportKind::ALL.into_iter().find(|kind| kind.name() == name)
    }
}

/// A report to make, with its parameters as given (each optional, defaulted and checked by
/// [`ReportQuery::run`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportQuery {
    /// `noncompliant`: the longest lifetime allowed, in days (default: the tenant's
    /// `max_pat_lifespan.max_days`).
    pub max_days: Option<i64>,
    /// `violations`: from this time (default: 30 days ago).
    pub since: Option<Timestamp>,
    /// `violations`: before this time (default: now, included).
    pub until: Option<Timestamp>,
    /// `expiring`: within this many days (default 30).
    pub days: Option<i64>,
}

/// The longest window, lifetime or range accepted, in days.
pub const MAX_DAYS: i64 = 3650;
/// The `violations` window when none is given, in days.
pub const DEFAULT_VIOLATION_DAYS: i64 = 30;
/// The `expiring` window when none is given, in days.
pub const DEFAULT_EXPIRING_DAYS: i64 = 30;

/// Why a report cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A parameter is wrong; `field` names it.
    #[error("`{field}`: {problem}")]
    Invalid {
        /// The parameter.
        field: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// The token store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The decision log cannot be read.
    #[error("cannot read the decision log `{}`: {source}", path.display())]
    DecisionLog {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Any report, as JSON and as rows.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum AnyReport {
    /// See [`super::noncompliant`].
    Noncompliant(NoncompliantReport),
    /// See [`super::violations`].
    Violations(ViolationsReport),
    /// See [`super::usage`].
    Usage(UsageReport),
    /// See [`super::automation`].
    Automation(AutomationReport),
    /// See [`super::expiring`].
    Expiring(ExpiringReport),
}

impl Report for AnyReport {
    fn table(&self) -> Table {
        match self {
            AnyReport::Noncompliant(report) => report.table(),
            AnyReport::Violations(report) => report.table(),
            AnyReport::Usage(report) => report.table(),
            AnyReport::Automation(report) => report.table(),
            AnyReport::Expiring(report) => report.table(),
        }
    }
}

/// `value` if it is a number of days a report accepts (1 to [`MAX_DAYS`]), else why not,
/// naming `field`.
pub fn check_days(field: &'static str, value: i64) -> Result<i64, ReportError> {
    if (1..=MAX_DAYS).contains(&value) {
        Ok(value)
    } else {
        Err(ReportError::Invalid {
            field,
            problem: format!("must be from 1 to {MAX_DAYS} days, got {value}"),
        })
    }
}

impl ReportQuery {
    /// Makes report `kind` for `tenant` (its configuration, when it has one, gives defaults).
    /// `decision_log` is the decision-log file the service writes, if any.
    pub fn run(
        &self,
        kind: ReportKind,
        tokens: &Tokens,
        tenant: &str,
        config: Option<&Tenant>,
        decision_log: Option<&Path>,
        now: Timestamp,
    ) -> Result<AnyReport, ReportError> {
        let days = check_days;
        Ok(match kind {
            ReportKind::Noncompliant => {
                let max_days = match self
                    .max_days
                    .or_else(|| config.and_then(configured_max_days))
                {
                    Some(max_days) => days("max_days", max_days)?,
                    None => {
                        return Err(ReportError::Invalid {
                            field: "max_days",
                            problem: format!(
                                "tenant `{tenant}` has no `max_pat_lifespan` policy to take the \
                                 limit from; give it"
                            ),
                        });
                    }
                };
                AnyReport::Noncompliant(noncompliant(
                    tenant,
                    &all_tokens(tokens, tenant, now)?,
                    max_days,
                    now,
                ))
            }
            ReportKind::Violations => {
                let until = self.until.unwrap_or(now + 1);
                let since = self
                    .since
                    .unwrap_or(until - DEFAULT_VIOLATION_DAYS * 86_400);
                if since >= until {
                    return Err(ReportError::Invalid {
                        field: "since",
                        problem: "must be before `until`".to_string(),
                    });
                }
                if until - since > MAX_DAYS * 86_400 {
                    return Err(ReportError::Invalid {
                        field: "since",
                        problem: format!("the range may span at most {MAX_DAYS} days"),
                    });
                }
                let audit = tokens.audit_log(
                    tenant,
                    &AuditQuery {
                        since: Some(since),
                        until: Some(until),
                        event: None,
                        limit: usize::MAX,
                    },
                )?;
                let files = decision_log.map(decision_log_files).unwrap_or_default();
                let report =
                    violations(tenant, &audit, &files, since, until).map_err(|source| {
                        ReportError::DecisionLog {
                            path: decision_log.map(Path::to_path_buf).unwrap_or_default(),
                            source,
                        }
                    })?;
                AnyReport::Violations(report)
            }
            ReportKind::Usage => {
                AnyReport::Usage(usage(tenant, &all_tokens(tokens, tenant, now)?, now))
            }
            ReportKind::Automation => {
                AnyReport::Automation(automation(tenant, &all_tokens(tokens, tenant, now)?, now))
            }
            ReportKind::Expiring => {
                let within = days("days", self.days.unwrap_or(DEFAULT_EXPIRING_DAYS))?;
                AnyReport::Expiring(expiring(
                    tenant,
                    &all_tokens(tokens, tenant, now)?,
                    within,
                    now,
                ))
            }
        })
    }
}
