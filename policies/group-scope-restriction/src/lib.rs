//! Example custom rule `group_scope_restriction`: members of the listed groups may not request
//! the listed scopes, nor any stronger scope of the same family, nor full access. For example
//! contractors may not hold `vso.code_write`, so not `vso.code_manage` or `app_token` either.

use patrol_guest::{Operation, Policy, Request, Verdict, scope};
use serde::{Deserialize, Serialize};

/// The rule's settings.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The groups the restriction applies to.
    pub groups: Vec<String>,
    /// The scopes they may not request.
    pub scopes: Vec<String>,
}

/// The rule.
pub struct GroupScopeRestriction;

impl Policy for GroupScopeRestriction {
    const NAME: &'static str = "group_scope_restriction";
    const VERSION: &'static str = "1.0.0";
    const DESCRIPTION: &'static str =
        "Members of the listed groups may not request the listed scopes or stronger ones.";
    const OPERATIONS: &'static [Operation] = &[Operation::Create, Operation::Regenerate];
    type Settings = Settings;

    fn check_settings(settings: &Settings) -> Result<(), String> {
        if settings.groups.is_empty() {
            return Err("`groups` must name at least one group".to_string());
        }
        if settings.scopes.is_empty() {
            return Err("`scopes` must name at least one scope".to_string());
        }
        Ok(())
    }

    fn evaluate(settings: &Settings, request: &Request) -> Verdict {
        let user = &request.user;
        let Some(group) = settings.groups.iter().find(|g| user.in_group(g)) else {
            return Verdict::allow();
        };
        let mut verdict = Verdict::allow();
        for requested in &request.token.scopes {
            if let Some(forbidden) = settings
                .scopes
                .iter()
                .find(|f| scope::includes(requested, f))
            {
                verdict = verdict.with_violation(
                    "groupScopeRestricted",
                    format!(
                        "members of group `{group}` may not request scope `{requested}`, which \
                         grants `{forbidden}`"
                    ),
                );
            }
        }
        verdict
    }
}

patrol_guest::export_policy!(GroupScopeRestriction);
