//! `restrict_pat_creation` (organization policy, off by default, Entra-backed organizations
//! only): only allowlisted users and groups may create or regenerate tokens for the
//! organization (`disablePatCreationPolicyViolation`), optionally except tokens that carry
//! packaging scopes only. The policy also blocks the *use* of global tokens in the organization
//! (`globalPatUsageDisabled`); tokens limited to named organizations keep working.
//!
//! The host evaluates one instance per organization that turns the policy on, and sets `org`
//! to that organization's name.

use patrol_guest::{Operation, Policy, Request, Verdict, scope};
use serde::{Deserialize, Serialize};

/// The policy's settings.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The organization the policy is configured for (set by the host).
    pub org: String,
    /// Let everyone create tokens whose scopes are all packaging scopes.
    #[serde(default)]
    pub allow_packaging_scope_only: bool,
}

/// The policy.
pub struct RestrictPatCreation;

impl Policy for RestrictPatCreation {
    const NAME: &'static str = "restrict_pat_creation";
    const VERSION: &'static str = "1.0.0";
    const DESCRIPTION: &'static str = "Only allowlisted users may create tokens for the \
        organization, and global tokens may not be used in it.";
    const OPERATIONS: &'static [Operation] =
        &[Operation::Create, Operation::Regenerate, Operation::Use];
    type Settings = Settings;

    fn check_settings(settings: &Settings) -> Result<(), String> {
        if settings.org.trim().is_empty() {
            return Err("`org` must name the organization".to_string());
        }
        Ok(())
    }

    fn evaluate(settings: &Settings, request: &Request) -> Verdict {
        let org = settings.org.as_str();
        if request.operation == Operation::Use {
            return if request.token.all_orgs && request.org.eq_ignore_ascii_case(org) {
                Verdict::deny(
                    "globalPatUsageDisabled",
                    format!(
                        "global tokens may not be used in organization `{org}`; use a token \
                         created for `{org}`"
                    ),
                )
            } else {
                Verdict::allow()
            };
        }
        if !request.token.targets_org(org, &request.org) {
            return Verdict::allow();
        }
        let packaging_only = request.token.scopes.iter().all(|s| scope::is_packaging(s));
        if settings.allow_packaging_scope_only && packaging_only {
            return Verdict::allow();
        }
        let exception = if settings.allow_packaging_scope_only {
            "; tokens with packaging scopes only are allowed"
        } else {
            ""
        };
        Verdict::deny(
            "disablePatCreationPolicyViolation",
            format!(
                "token creation is restricted in organization `{org}` to allowlisted users \
                 and groups{exception}"
            ),
        )
    }
}

#[cfg(feature = "component")]
patrol_guest::export_policy!(RestrictPatCreation);
