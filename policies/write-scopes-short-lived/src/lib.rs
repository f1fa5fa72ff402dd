//! Example custom rule `write_scopes_short_lived`: a token whose scopes can change anything
//! (any scope beyond read, or full access) may live at most `max_days` days; read-only tokens
//! are left to the tenant's other policies.

use patrol_guest::time::{days, days_rounded_up};
use patrol_guest::{Operation, Policy, Request, Verdict, scope};
use serde::{Deserialize, Serialize};

/// The rule's settings.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The longest lifespan for a token that can write, in days, from 1 to 365.
    pub max_days: u32,
}

/// The rule.
pub struct WriteScopesShortLived;

impl Policy for WriteScopesShortLived {
    const NAME: &'static str = "write_scopes_short_lived";
    const VERSION: &'static str = "1.0.0";
    const DESCRIPTION: &'static str = "Tokens that can write may live at most a few days.";
    const OPERATIONS: &'static [Operation] = &[Operation::Create, Operation::Regenerate];
    type Settings = Settings;

    fn check_settings(settings: &Settings) -> Result<(), String> {
        if (1..=365).contains(&settings.max_days) {
            Ok(())
        } else {
            Err(format!(
                "`max_days` must be between 1 and 365, got `{}`",
                settings.max_days
            ))
        }
    }

    fn evaluate(settings: &Settings, request: &Request) -> Verdict {
        let Some(writing) = request
            .token
            .scopes
            .iter()
            .find(|s| !scope::is_read_only(s))
        else {
            return Verdict::allow();
        };
        let lifespan = request.token.remaining_lifespan(request.now);
        if lifespan <= days(i64::from(settings.max_days)) {
            return Verdict::allow();
        }
        Verdict::deny(
            "writeScopeLifespanViolation",
            format!(
                "scope `{writing}` can write, so the token may live at most {} days, not {}",
                settings.max_days,
                days_rounded_up(lifespan)
            ),
        )
    }
}

patrol_guest::export_policy!(WriteScopesShortLived);
