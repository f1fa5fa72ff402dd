//! Compliance reports over a tenant's token store, and the dry run of a policy change.
//!
//! Each report is a typed value that serializes to JSON and flattens to a [`Table`] for the
//! terminal and for CSV, so the CLI (`patrol report ...`), the HTTP API
//! (`GET /v1/tenants/{tenant}/reports/...`) and the MCP server (`patrol mcp`) say the same thing:
//!
//! - [`noncompliant`]: active tokens that live longer than a limit or carry full scope, by owner;
//! - [`violations`]: refused requests over a time range, by policy and by user, from the audit
//!   log (token creations and regenerations) and the decision log (uses the gateway refused);
//! - [`usage`]: per user, active tokens, broadest scope, last use;
//! - [`automation`]: tokens that look like automation, with the reasons;
//! - [`expiring`]: active tokens that expire within a number of days;
//! - [`whatif`]: which active tokens a proposed configuration would refuse;
//! - [`html`]: every report on one self-contained page, with charts ([`charts`]): what
//!   `patrol report --html` writes and the console shows.
//!
//! [`query`] is the one way in for every front end: a report by name, its parameters checked.

pub mod automation;
pub mod charts;
pub mod expiring;
pub mod html;
pub mod noncompliant;
pub mod query;
pub mod usage;
pub mod violations;
pub mod whatif;

use std::fmt::Write as _;

use serde::Serialize;

use crate::tokens::{StoreError, TokenFilter, TokenQuery, TokenRecord, Tokens};
use patrol::Tenant;
use patrol::timestamp::{Timestamp, format_rfc3339};

/// How a report is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Aligned columns, for a terminal.
    #[default]
    Table,
    /// The report's JSON, with its grouping.
    Json,
    /// One row per line (LF), RFC 4180 quoting, a header line first.
    Csv,
}

impl Format {
    /// Parses `table`, `json` or `csv`.
    pub fn parse(text: &str) -> Option<Format> {
        match text {
            "table" => Some(Format::Table),
            "json" => Some(Format::Json),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }
}

/// A report as rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// The column names.
    pub columns: Vec<&'static str>,
    /// The rows, each as many cells as there are columns.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these columns and no rows yet.
    pub fn new(columns: Vec<&'static str>) -> Table {
        Table {
            columns,
            rows: Vec::new(),
        }
    }

    /// The table as CSV: a header line, then one line per row.
    pub fn to_csv(&self) -> String {
        let mut out = String::new();
        let header: Vec<String> = self.columns.iter().map(|c| c.to_string()).collect();
        for row in std::iter::once(&header).chain(&self.rows) {
            let cells: Vec<String> = row.iter().map(|cell| csv_cell(cell)).collect();
            out.push_str(&cells.join(","));
            out.push('\n');
        }
        out
    }

    /// The table in aligned columns, or a line saying it is empty.
    pub fn to_text(&self) -> String {
        if self.rows.is_empty() {
            return "(none)\n".to_string();
        }
        let mut widths: Vec<usize> = self.columns.iter().map(|c| c.chars().count()).collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let header: Vec<String> = self.columns.iter().map(|c| c.to_string()).collect();
        let mut out = String::new();
        for row in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::new();
            for (cell, width) in row.iter().zip(&widths) {
                let _ = write!(line, "{cell:<width$}  ");
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// Quotes a CSV cell when it needs it. A cell that a spreadsheet would read as a formula
/// (`=`, `+`, `-`, `@` first) gets a leading `'`: token names and user agents are chosen by
/// users, and a report is often opened in a spreadsheet.
fn csv_cell(cell: &str) -> String {
    let cell = if cell.starts_with(['=', '+', '-', '@']) && cell.parse::<f64>().is_err() {
        format!("'{cell}")
    } else {
        cell.to_string()
    };
    if cell.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell
    }
}

/// A report: JSON by serde, rows by [`Report::table`].
pub trait Report: Serialize {
    /// The report as rows.
    fn table(&self) -> Table;

    /// The report written in `format`.
    fn render(&self, format: Format) -> String {
        match format {
            Format::Table => self.table().to_text(),
            Format::Csv => self.table().to_csv(),
            Format::Json => {
                let mut text = serde_json::to_string_pretty(self)
                    .unwrap_or_else(|error| format!("{{\"error\":\"{error}\"}}"));
                text.push('\n');
                text
            }
        }
    }
}

/// Every token of `tenant`, whatever its status, oldest first.
pub fn all_tokens(
    tokens: &Tokens,
    tenant: &str,
    now: Timestamp,
) -> Result<Vec<TokenRecord>, StoreError> {
    let mut all = Vec::new();
    let mut continuation: Option<String> = None;
    loop {
        let query = TokenQuery {
            filter: TokenFilter::All,
            continuation: continuation.take(),
            ..TokenQuery::default()
        };
        let page = tokens.list(tenant, &query, now)?;
        all.extend(page.items);
        match page.continuation {
            Some(next) => continuation = Some(next),
            None => return Ok(all),
        }
    }
}

/// How much a scope allows, for "broadest scope": full access above everything, then by level
/// (`_full`, `_manage`, `_write`, `_execute`, read).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ScopeLevel {
    /// No suffix, or `_read`.
    Read,
    /// `_execute`.
    Execute,
    /// `_write`.
    Write,
    /// `_manage`.
    Manage,
    /// `_full`.
    Full,
    /// `app_token`: everything the owner can reach.
    FullAccess,
}

impl ScopeLevel {
    /// Every level, weakest first.
    pub const ALL: [ScopeLevel; 6] = [
        ScopeLevel::Read,
        ScopeLevel::Execute,
        ScopeLevel::Write,
        ScopeLevel::Manage,
        ScopeLevel::Full,
        ScopeLevel::FullAccess,
    ];

    /// The level of `scope`.
    pub fn of(scope: &str) -> ScopeLevel {
        let lower = scope.to_ascii_lowercase();
        if lower == "app_token" {
            return ScopeLevel::FullAccess;
        }
        [
            ("_full", ScopeLevel::Full),
            ("_manage", ScopeLevel::Manage),
            ("_write", ScopeLevel::Write),
            ("_execute", ScopeLevel::Execute),
        ]
        .into_iter()
        .find(|(suffix, _)| lower.len() > suffix.len() && lower.ends_with(suffix))
        .map_or(ScopeLevel::Read, |(_, level)| level)
    }

    /// A name for people: `full access`, `manage`, ...
    pub fn label(self) -> &'static str {
        match self {
            ScopeLevel::Read => "read",
            ScopeLevel::Execute => "execute",
            ScopeLevel::Write => "write",
            ScopeLevel::Manage => "manage",
            ScopeLevel::Full => "full",
            ScopeLevel::FullAccess => "full access",
        }
    }
}

/// The broadest of `scopes` (the first of the strongest level), if any.
pub fn broadest_scope(scopes: &[String]) -> Option<&str> {
    scopes
        .iter()
        .enumerate()
        .max_by_key(|(index, scope)| (ScopeLevel::of(scope), std::cmp::Reverse(*index)))
        .map(|(_, scope)| scope.as_str())
}

/// Whether a token carries full access.
pub fn has_full_scope(token: &TokenRecord) -> bool {
    token
        .scopes
        .iter()
        .any(|scope| ScopeLevel::of(scope) == ScopeLevel::FullAccess)
}

/// Whole days from `from` to `to`, rounded up.
pub fn days_rounded_up(from: Timestamp, to: Timestamp) -> i64 {
    (to - from + 86_399).div_euclid(86_400)
}

/// The tenant's own `max_pat_lifespan.max_days`, when that policy is on: the natural limit
/// for the lifetime report.
pub fn configured_max_days(tenant: &Tenant) -> Option<i64> {
    tenant
        .policies()
        .find(|policy| policy.name == "max_pat_lifespan" && policy.org.is_none())
        .and_then(|policy| {
            serde_json::from_str::<serde_json::Value>(policy.effective_settings)
                .ok()?
                .get("max_days")?
                .as_i64()
        })
}

/// An optional time as RFC 3339, or empty.
pub(crate) fn time_cell(time: Option<Timestamp>) -> String {
    time.map(format_rfc3339).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_levels_order_scopes() {
        assert_eq!(ScopeLevel::of("vso.code"), ScopeLevel::Read);
        assert_eq!(ScopeLevel::of("vso.code_read"), ScopeLevel::Read);
        assert_eq!(ScopeLevel::of("vso.build_execute"), ScopeLevel::Execute);
        assert_eq!(ScopeLevel::of("vso.code_WRITE"), ScopeLevel::Write);
        assert_eq!(ScopeLevel::of("App_Token"), ScopeLevel::FullAccess);
        let scopes = [
            "vso.code",
            "vso.work_write",
            "vso.code_write",
            "vso.build_execute",
        ]
        .map(String::from);
        assert_eq!(broadest_scope(&scopes), Some("vso.work_write"));
        assert_eq!(broadest_scope(&[]), None);
    }

    #[test]
    fn csv_quotes_and_defuses() {
        let table = Table {
            columns: vec!["a", "b"],
            rows: vec![
                vec!["x,y".into(), "say \"hi\"".into()],
                vec!["=1+1".into(), "-3".into()],
            ],
        };
        assert_eq!(
            table.to_csv(),
            "a,b\n\"x,y\",\"say \"\"hi\"\"\"\n'=1+1,-3\n"
        );
    }

    #[test]
    fn days_round_up() {
        assert_eq!(days_rounded_up(0, 86_400), 1);
        assert_eq!(days_rounded_up(0, 86_401), 2);
        assert_eq!(days_rounded_up(0, 1), 1);
        assert_eq!(days_rounded_up(0, 0), 0);
    }
}
