//! Active tokens that break a lifetime or scope rule, grouped by owner: the tokens that
//! `max_pat_lifespan` and `restrict_full_scoped_pat_creation` would refuse today, though they were
//! issued before (or despite) the policy.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Report, Table, days_rounded_up, has_full_scope};
use crate::tokens::{TokenRecord, TokenStatus};
use patrol::timestamp::{Timestamp, rfc3339};

/// The report.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct NoncompliantReport {
    /// The tenant.
    pub tenant: String,
    /// When the report was made.
    #[serde(with = "rfc3339::required")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub generated_at: Timestamp,
    /// The longest lifetime allowed, in days.
    pub max_days: i64,
    /// How many active tokens were checked.
    pub active_tokens: usize,
    /// How many of them break a rule.
    pub noncompliant_tokens: usize,
    /// The offending tokens, by owner (owners in name order, tokens oldest first).
    pub owners: Vec<OwnerTokens>,
}

/// One owner's offending tokens.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct OwnerTokens {
    /// The owner.
    pub owner: String,
    /// Their tokens that break a rule.
    pub tokens: Vec<NoncompliantToken>,
}

/// One offending token.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct NoncompliantToken {
    /// Its id.
    pub id: String,
    /// Its name.
    pub display_name: String,
    /// Its whole lifetime, `valid_from` to `valid_to`, in days rounded up.
    pub lifetime_days: i64,
    /// Whether that is longer than `max_days`.
    pub exceeds_lifetime: bool,
    /// Whether it carries `app_token`.
    pub full_scope: bool,
    /// Its scopes.
    pub scopes: Vec<String>,
    /// When it expires.
    #[serde(with = "rfc3339::required")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub valid_to: Timestamp,
}

/// Builds the report from a tenant's tokens.
pub fn noncompliant(
    tenant: &str,
    tokens: &[TokenRecord],
    max_days: i64,
    now: Timestamp,
) -> NoncompliantReport {
    let active: Vec<&TokenRecord> = tokens
        .iter()
        .filter(|t| t.status(now) == TokenStatus::Active)
        .collect();
    let mut owners: BTreeMap<&str, Vec<NoncompliantToken>> = BTreeMap::new();
    for token in &active {
        let exceeds_lifetime = token.valid_to - token.valid_from > max_days * 86_400;
        let full_scope = has_full_scope(token);
        if exceeds_lifetime || full_scope {
            owners
                .entry(token.owner.as_str())
                .or_default()
                .push(NoncompliantToken {
                    id: token.id.clone(),
                    display_name: token.display_name.clone(),
                    lifetime_days: days_rounded_up(token.valid_from, token.valid_to),
                    exceeds_lifetime,
                    full_scope,
                    scopes: token.scopes.clone(),
                    valid_to: token.valid_to,
                });
        }
    }
    NoncompliantReport {
        tenant: tenant.to_string(),
        generated_at: now,
        max_days,
        active_tokens: active.len(),
        noncompliant_tokens: owners.values().map(Vec::len).sum(),
        owners: owners
            .into_iter()
            .map(|(owner, tokens)| OwnerTokens {
                owner: owner.to_string(),
                tokens,
            })
            .collect(),
    }
}

impl Report for NoncompliantReport {
    fn table(&self) -> Table {
        let mut table = Table::new(vec![
            "owner",
            "token_id",
            "name",
            "lifetime_days",
            "full_scope",
            "breaks",
            "valid_to",
        ]);
        for owner in &self.owners {
            for token in &owner.tokens {
                let mut breaks = Vec::new();
                if token.exceeds_lifetime {
                    breaks.push(format!("lifetime > {} days", self.max_days));
                }
                if token.full_scope {
                    breaks.push("full scope".to_string());
                }
                table.rows.push(vec![
                    owner.owner.clone(),
                    token.id.clone(),
                    token.display_name.clone(),
                    token.lifetime_days.to_string(),
                    token.full_scope.to_string(),
                    breaks.join("; "),
                    patrol::timestamp::format_rfc3339(token.valid_to),
                ]);
            }
        }
        table
    }
}
