//! The dry run of a policy change: every active token judged by a proposed configuration as if
//! it were regenerated now and as if it were used now, without changing anything.
//!
//! A regeneration keeps the token's lifetime, from now, and is judged in each organization the
//! token is for. A use is judged in each of those organizations too; a global token is judged
//! in every organization either configuration names a policy for (or, when none does, once in
//! an organization called `*`, which only tenant-wide policies see). Each failure says whether
//! it is new: whether today's configuration lets the same request through that policy.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::{Report, Table};
use crate::tokens::{StoreError, TokenRecord, TokenStatus, Tokens};
use patrol::Tenant;
use patrol::decision::Decision;
use patrol::identity::ANY_ORG;
use patrol::request::Request;
use patrol::timestamp::{Timestamp, rfc3339};

/// The report.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct WhatIfReport {
    /// The tenant.
    pub tenant: String,
    /// Where the proposed configuration came from.
    pub proposed: String,
    /// When the dry run was made.
    #[serde(with = "rfc3339::required")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub generated_at: Timestamp,
    /// How many active tokens were judged.
    pub active_tokens: usize,
    /// How many of them would fail at least once.
    pub failing_tokens: usize,
    /// How many would fail that pass today.
    pub newly_failing_tokens: usize,
    /// Per policy: how many tokens it would refuse, and how many of those it lets through today
    /// (most tokens first).
    pub per_policy: Vec<PolicyImpact>,
    /// The failing tokens, by owner.
    pub owners: Vec<OwnerImpact>,
}

/// One policy's effect.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PolicyImpact {
    /// The policy.
    pub policy: String,
    /// Tokens it would refuse, regenerated or used.
    pub tokens: usize,
    /// Of those, tokens today's configuration does not refuse through this policy.
    pub newly_failing: usize,
}

/// One owner's failing tokens.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct OwnerImpact {
    /// The owner.
    pub owner: String,
    /// Their tokens that would fail.
    pub tokens: Vec<TokenImpact>,
}

/// One failing token.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TokenImpact {
    /// Its id.
    pub id: String,
    /// Its name.
    pub display_name: String,
    /// Every way it would fail.
    pub failures: Vec<Failure>,
}

/// One refusal of one token.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Failure {
    /// `regenerate` or `use`.
    pub operation: String,
    /// The organization judged.
    pub org: String,
    /// The refusing policy.
    pub policy: String,
    /// Its code.
    pub code: String,
    /// Its words.
    pub message: String,
    /// Whether today's configuration lets this request through this policy.
    pub new: bool,
}

/// Judges every active token of `proposed`'s tenant by `proposed`, and by `current` (if the
/// tenant exists today) to tell what is new.
pub fn whatif(
    tokens: &Tokens,
    current: Option<&Tenant>,
    proposed: &Tenant,
    proposed_origin: &str,
    now: Timestamp,
) -> Result<WhatIfReport, StoreError> {
    let tenant = proposed.name();
    let all = super::all_tokens(tokens, tenant, now)?;
    let active: Vec<&TokenRecord> = all
        .iter()
        .filter(|t| t.status(now) == TokenStatus::Active)
        .collect();
    let configured_orgs: BTreeSet<String> = [Some(proposed), current]
        .into_iter()
        .flatten()
        .flat_map(|t| {
            t.policies()
                .filter_map(|p| p.org.map(str::to_string))
                .collect::<Vec<_>>()
        })
        .collect();

    let mut owners: BTreeMap<String, Vec<TokenImpact>> = BTreeMap::new();
    for token in &active {
        let orgs: Vec<String> = if token.all_orgs {
            if configured_orgs.is_empty() {
                vec![ANY_ORG.to_string()]
            } else {
                configured_orgs.iter().cloned().collect()
            }
        } else {
            token.orgs.clone()
        };
        let mut failures = Vec::new();
        for org in &orgs {
            let requests = [
                tokens.regeneration_request(token, org, now)?,
                tokens.use_request(token, org, now)?,
            ];
            for request in requests {
                failures.extend(judge(current, proposed, &request));
            }
        }
        if !failures.is_empty() {
            owners
                .entry(token.owner.clone())
                .or_default()
                .push(TokenImpact {
                    id: token.id.clone(),
                    display_name: token.display_name.clone(),
                    failures,
                });
        }
    }

    let mut per_policy: BTreeMap<&str, (BTreeSet<&str>, BTreeSet<&str>)> = BTreeMap::new();
    for impact in owners.values().flatten() {
        for failure in &impact.failures {
            let entry = per_policy.entry(&failure.policy).or_default();
            entry.0.insert(&impact.id);
            if failure.new {
                entry.1.insert(&impact.id);
            }
        }
    }
    let mut per_policy: Vec<PolicyImpact> = per_policy
        .into_iter()
        .map(|(policy, (all, new))| PolicyImpact {
            policy: policy.to_string(),
            tokens: all.len(),
            newly_failing: new.len(),
        })
        .collect();
    per_policy.sort_by(|a, b| b.tokens.cmp(&a.tokens).then(a.policy.cmp(&b.policy)));
    let failing: Vec<&TokenImpact> = owners.values().flatten().collect();
    Ok(WhatIfReport {
        tenant: tenant.to_string(),
        proposed: proposed_origin.to_string(),
        generated_at: now,
        active_tokens: active.len(),
        failing_tokens: failing.len(),
        newly_failing_tokens: failing
            .iter()
            .filter(|t| t.failures.iter().any(|f| f.new))
            .count(),
        per_policy,
        owners: owners
            .into_iter()
            .map(|(owner, tokens)| OwnerImpact { owner, tokens })
            .collect(),
    })
}

/// The enforced violations `proposed` finds in `request`, each marked new unless `current`
/// refuses the same request through the same policy with the same code.
fn judge(current: Option<&Tenant>, proposed: &Tenant, request: &Request) -> Vec<Failure> {
    let decision = proposed.evaluate(request);
    if decision.allowed {
        return Vec::new();
    }
    let today: Option<Decision> = current.map(|tenant| tenant.evaluate(request));
    decision
        .enforced_violations()
        .map(|violation| Failure {
            operation: request.operation.as_str().to_string(),
            org: request.org.clone(),
            policy: violation.policy.to_string(),
            code: violation.code.clone(),
            message: violation.message.clone(),
            new: !today.as_ref().is_some_and(|today| {
                today
                    .enforced_violations()
                    .any(|v| v.policy == violation.policy && v.code == violation.code)
            }),
        })
        .collect()
}

impl Report for WhatIfReport {
    fn table(&self) -> Table {
        let mut table = Table::new(vec![
            "owner",
            "token_id",
            "name",
            "operation",
            "org",
            "policy",
            "code",
            "new",
        ]);
        for owner in &self.owners {
            for token in &owner.tokens {
                for failure in &token.failures {
                    table.rows.push(vec![
                        owner.owner.clone(),
                        token.id.clone(),
                        token.display_name.clone(),
                        failure.operation.clone(),
                        failure.org.clone(),
                        failure.policy.clone(),
                        failure.code.clone(),
                        if failure.new { "yes" } else { "no" }.to_string(),
                    ]);
                }
            }
        }
        table
    }
}
