//! Active tokens that expire within a number of days, soonest first: who needs to renew what.

use serde::Serialize;

use super::{Report, Table, days_rounded_up};
use crate::tokens::{TokenRecord, TokenStatus};
use patrol::timestamp::{Timestamp, format_rfc3339, rfc3339};

/// The report.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ExpiringReport {
    /// The tenant.
    pub tenant: String,
    /// When the report was made.
    #[serde(with = "rfc3339::required")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub generated_at: Timestamp,
    /// The window, in days from now.
    pub within_days: i64,
    /// The tokens, soonest first.
    pub tokens: Vec<ExpiringToken>,
}

/// One token that expires soon.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ExpiringToken {
    /// Its id.
    pub id: String,
    /// Its owner.
    pub owner: String,
    /// Its name.
    pub display_name: String,
    /// When it expires.
    #[serde(with = "rfc3339::required")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub valid_to: Timestamp,
    /// Days until then, rounded up.
    pub days_left: i64,
}

/// Builds the report: active tokens with `now < valid_to <= now + days`.
pub fn expiring(
    tenant: &str,
    tokens: &[TokenRecord],
    within_days: i64,
    now: Timestamp,
) -> ExpiringReport {
    let horizon = now + within_days * 86_400;
    let mut soon: Vec<ExpiringToken> = tokens
        .iter()
        .filter(|t| t.status(now) == TokenStatus::Active && t.valid_to <= horizon)
        .map(|t| ExpiringToken {
            id: t.id.clone(),
            owner: t.owner.clone(),
            display_name: t.display_name.clone(),
            valid_to: t.valid_to,
            days_left: days_rounded_up(now, t.valid_to),
        })
        .collect();
    soon.sort_by(|a, b| a.valid_to.cmp(&b.valid_to).then_with(|| a.id.cmp(&b.id)));
    ExpiringReport {
        tenant: tenant.to_string(),
        generated_at: now,
        within_days,
        tokens: soon,
    }
}

impl Report for ExpiringReport {
    fn table(&self) -> Table {
        let mut table = Table::new(vec!["valid_to", "days_left", "owner", "token_id", "name"]);
        for token in &self.tokens {
            table.rows.push(vec![
                format_rfc3339(token.valid_to),
                token.days_left.to_string(),
                token.owner.clone(),
                token.id.clone(),
                token.display_name.clone(),
            ]);
        }
        table
    }
}
