//! Usage per user: how many tokens they hold, the broadest scope among the active ones, and
//! when one was last used.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Report, ScopeLevel, Table, broadest_scope, time_cell};
use crate::tokens::{TokenRecord, TokenStatus};
use patrol::timestamp::{Timestamp, rfc3339};

/// The report.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct UsageReport {
    /// The tenant.
    pub tenant: String,
    /// When the report was made.
    #[serde(with = "rfc3339::required")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub generated_at: Timestamp,
    /// One entry per user who holds or held a token, by user id.
    pub users: Vec<UserUsage>,
}

/// One user's tokens.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct UserUsage {
    /// The user.
    pub user: String,
    /// Active tokens.
    pub active_tokens: usize,
    /// Active global tokens.
    pub active_global_tokens: usize,
    /// Revoked or expired tokens.
    pub inactive_tokens: usize,
    /// The broadest scope of an active token.
    pub broadest_scope: Option<String>,
    /// Its level.
    pub broadest_level: Option<ScopeLevel>,
    /// The last time any of their tokens authenticated a request.
    #[serde(serialize_with = "rfc3339::serialize_option")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub last_used_at: Option<Timestamp>,
}

/// Builds the report from a tenant's tokens.
pub fn usage(tenant: &str, tokens: &[TokenRecord], now: Timestamp) -> UsageReport {
    let mut users: BTreeMap<&str, Vec<&TokenRecord>> = BTreeMap::new();
    for token in tokens {
        users.entry(token.owner.as_str()).or_default().push(token);
    }
    UsageReport {
        tenant: tenant.to_string(),
        generated_at: now,
        users: users
            .into_iter()
            .map(|(user, held)| {
                let active: Vec<&TokenRecord> = held
                    .iter()
                    .copied()
                    .filter(|t| t.status(now) == TokenStatus::Active)
                    .collect();
                let active_scopes: Vec<String> =
                    active.iter().flat_map(|t| t.scopes.clone()).collect();
                let broadest = broadest_scope(&active_scopes).map(str::to_string);
                UserUsage {
                    user: user.to_string(),
                    active_tokens: active.len(),
                    active_global_tokens: active.iter().filter(|t| t.all_orgs).count(),
                    inactive_tokens: held.len() - active.len(),
                    broadest_level: broadest.as_deref().map(ScopeLevel::of),
                    broadest_scope: broadest,
                    last_used_at: held.iter().filter_map(|t| t.last_used_at).max(),
                }
            })
            .collect(),
    }
}

impl Report for UsageReport {
    fn table(&self) -> Table {
        let mut table = Table::new(vec![
            "user",
            "active",
            "global",
            "inactive",
            "broadest_scope",
            "last_used",
        ]);
        for user in &self.users {
            table.rows.push(vec![
                user.user.clone(),
                user.active_tokens.to_string(),
                user.active_global_tokens.to_string(),
                user.inactive_tokens.to_string(),
                user.broadest_scope.clone().unwrap_or_default(),
                time_cell(user.last_used_at),
            ]);
        }
        table
    }
}
