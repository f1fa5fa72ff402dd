//! Example custom rule `least_privilege`: the rule of `examples/least-privilege-js`, in Rust,
//! so that the languages benchmark compares one rule written three ways (Rust, JavaScript and
//! CEL; see `benches/languages.rs`). For tokens being created or regenerated:
//! - a token may carry at most `max_scopes` scopes (default 5);
//! - a global token (valid in every organization) may only read.

use patrol_guest::{Operation, Policy, Request, Verdict, scope};
use serde::{Deserialize, Serialize};

/// The most `max_scopes` may be.
const LIMIT_MAX_SCOPES: u32 = 100;

/// The rule's settings.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The most scopes a token may carry, from 1 to 100.
    #[serde(default = "default_max_scopes")]
    pub max_scopes: u32,
}

fn default_max_scopes() -> u32 {
    5
}

/// The rule.
pub struct LeastPrivilege;

impl Policy for LeastPrivilege {
    const NAME: &'static str = "least_privilege";
    const VERSION: &'static str = "1.0.0";
    const DESCRIPTION: &'static str = "Tokens carry few scopes, and global tokens may only read.";
    const OPERATIONS: &'static [Operation] = &[Operation::Create, Operation::Regenerate];
    type Settings = Settings;

    fn check_settings(settings: &Settings) -> Result<(), String> {
        if (1..=LIMIT_MAX_SCOPES).contains(&settings.max_scopes) {
            Ok(())
        } else {
            Err(format!(
                "`max_scopes` must be a whole number from 1 to {LIMIT_MAX_SCOPES}, got `{}`",
                settings.max_scopes
            ))
        }
    }

    fn evaluate(settings: &Settings, request: &Request) -> Verdict {
        let scopes = &request.token.scopes;
        let mut verdict = Verdict::allow();
        if scopes.len() > settings.max_scopes as usize {
            verdict = verdict.with_violation(
                "tooManyScopes",
                format!(
                    "the token asks for {} scopes; at most {} are allowed, so ask only for what \
                     the task needs",
                    scopes.len(),
                    settings.max_scopes
                ),
            );
        }
        if request.token.all_orgs
            && let Some(writing) = scopes.iter().find(|s| !scope::is_read_only(s))
        {
            verdict = verdict.with_violation(
                "globalTokenCanWrite",
                format!(
                    "a global token may only read, and scope `{writing}` does more; name the \
                     organizations the token is for"
                ),
            );
        }
        verdict
    }
}

patrol_guest::export_policy!(LeastPrivilege);
