//! `restrict_global_pat_creation` (tenant policy, off by default): new and renewed tokens must
//! name the organizations they are for; a global token (`all_orgs = true`) is refused with
//! `globalPatPolicyViolation`.

use patrol_guest::{NoSettings, Operation, Policy, Request, Verdict};

/// The policy.
pub struct RestrictGlobalPatCreation;

impl Policy for RestrictGlobalPatCreation {
    const NAME: &'static str = "restrict_global_pat_creation";
    const VERSION: &'static str = "1.0.0";
    const DESCRIPTION: &'static str =
        "New and renewed tokens must name their organizations; global tokens are refused.";
    const OPERATIONS: &'static [Operation] = &[Operation::Create, Operation::Regenerate];
    type Settings = NoSettings;

    fn evaluate(_: &NoSettings, request: &Request) -> Verdict {
        if request.token.all_orgs {
            Verdict::deny(
                "globalPatPolicyViolation",
                "global tokens, valid in all organizations, may not be created in this tenant; \
                 name the organizations the token is for",
            )
        } else {
            Verdict::allow()
        }
    }
}

#[cfg(feature = "component")]
patrol_guest::export_policy!(RestrictGlobalPatCreation);
