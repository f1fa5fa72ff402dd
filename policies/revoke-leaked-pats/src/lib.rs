//! `revoke_leaked_pats` (tenant policy, **on** by default): a token found in public, such as in
//! a public repository, is revoked (`leakedPatRevoked`, actions `revoke_token` and
//! `notify_owner`). With the policy off, or for an allowlisted owner, patrol itself still
//! notifies the owner but leaves the token valid.

use patrol_guest::{Action, NoSettings, Operation, Policy, Request, Verdict};

/// The policy.
pub struct RevokeLeakedPats;

impl Policy for RevokeLeakedPats {
    const NAME: &'static str = "revoke_leaked_pats";
    const VERSION: &'static str = "1.0.0";
    const DESCRIPTION: &'static str = "Tokens found in public are revoked at once.";
    const OPERATIONS: &'static [Operation] = &[Operation::Leak];
    type Settings = NoSettings;

    fn evaluate(_: &NoSettings, _: &Request) -> Verdict {
        Verdict::deny(
            "leakedPatRevoked",
            "the token was found in public and is revoked; its owner is notified",
        )
        .with_action(Action::RevokeToken)
        .with_action(Action::NotifyOwner)
    }
}

#[cfg(feature = "component")]
patrol_guest::export_policy!(RevokeLeakedPats);
