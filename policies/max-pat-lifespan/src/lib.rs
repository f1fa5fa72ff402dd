//! `max_pat_lifespan` (tenant policy, off by default): new and renewed tokens may not live
//! longer than `max_days` days from now. Too long a token is refused with
//! `patLifespanPolicyViolation`, or, with `clamp = true`, allowed with its end moved to
//! `now + max_days` (the behaviour of Azure DevOps' REST API) unless that would end it before it
//! starts.

use patrol_guest::time::{DAY, days, days_rounded_up};
use patrol_guest::{Operation, Policy, Request, Verdict};
use serde::{Deserialize, Serialize};

/// The longest maximum a tenant may set: a token never lives longer than a year.
pub const MAX_DAYS_LIMIT: u32 = 365;

/// The policy's settings.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The longest lifespan allowed, in days, from 1 to 365.
    pub max_days: u32,
    /// Shorten a too-long token instead of refusing it.
    #[serde(default)]
    pub clamp: bool,
}

/// The policy.
pub struct MaxPatLifespan;

impl Policy for MaxPatLifespan {
    const NAME: &'static str = "max_pat_lifespan";
    const VERSION: &'static str = "1.0.0";
    const DESCRIPTION: &'static str =
        "New and renewed tokens may not live longer than the tenant maximum number of days.";
    const OPERATIONS: &'static [Operation] = &[Operation::Create, Operation::Regenerate];
    type Settings = Settings;

    fn check_settings(settings: &Settings) -> Result<(), String> {
        if (1..=MAX_DAYS_LIMIT).contains(&settings.max_days) {
            Ok(())
        } else {
            Err(format!(
                "`max_days` must be between 1 and {MAX_DAYS_LIMIT}, got `{}`",
                settings.max_days
            ))
        }
    }

    fn evaluate(settings: &Settings, request: &Request) -> Verdict {
        let max_days = i64::from(settings.max_days);
        let lifespan = request.token.remaining_lifespan(request.now);
        if lifespan <= days(max_days) {
            return Verdict::allow();
        }
        let latest_end = request.now + max_days * DAY;
        // Shortening only works if the token still starts before its new end.
        if settings.clamp && latest_end > request.token.valid_from {
            return Verdict::allow_until(latest_end);
        }
        Verdict::deny(
            "patLifespanPolicyViolation",
            format!(
                "requested lifespan {} days exceeds the tenant maximum of {max_days} days",
                days_rounded_up(lifespan)
            ),
        )
    }
}

#[cfg(feature = "component")]
patrol_guest::export_policy!(MaxPatLifespan);
