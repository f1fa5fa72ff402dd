//! `restrict_full_scoped_pat_creation` (tenant policy, off by default): new and renewed tokens
//! must use a custom set of scopes; the full-access scope `app_token` is refused with
//! `fullScopePatPolicyViolation`.

use patrol_guest::{NoSettings, Operation, Policy, Request, Verdict, scope};

/// The policy.
pub struct RestrictFullScopedPatCreation;

impl Policy for RestrictFullScopedPatCreation {
    const NAME: &'static str = "restrict_full_scoped_pat_creation";
    const VERSION: &'static str = "1.0.0";
    const DESCRIPTION: &'static str =
        "New and renewed tokens must use a custom set of scopes; full access is refused.";
    const OPERATIONS: &'static [Operation] = &[Operation::Create, Operation::Regenerate];
    type Settings = NoSettings;

    fn evaluate(_: &NoSettings, request: &Request) -> Verdict {
        if request
            .token
            .scopes
            .iter()
            .any(|s| scope::is_full_access(s))
        {
            Verdict::deny(
                "fullScopePatPolicyViolation",
                "full-access tokens (scope `app_token`) may not be created in this tenant; \
                 choose the scopes the token needs",
            )
        } else {
            Verdict::allow()
        }
    }
}

#[cfg(feature = "component")]
patrol_guest::export_policy!(RestrictFullScopedPatCreation);
