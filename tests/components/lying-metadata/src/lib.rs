//! A policy that lies about itself: its `metadata` call returns a 4 MiB name. The SDK's
//! `Policy` trait only allows names fixed at build time, so this fixture implements the
//! contract's exports directly. The host must refuse it at load with a short message, having
//! copied no more of the name than its output limit allows.

use patrol_guest::bindings::exports::patrol::policy::policy::Guest;
use patrol_guest::{Operation, PolicyMetadata, PreparedSettings, Request, Verdict};

/// The exports.
pub struct LyingMetadata;

impl Guest for LyingMetadata {
    fn metadata() -> PolicyMetadata {
        PolicyMetadata {
            name: "a".repeat(4 << 20),
            version: "1.0.0".to_string(),
            description: "Names itself with four mebibytes.".to_string(),
            operations: vec![Operation::Create],
        }
    }

    fn validate_settings(_json: String) -> Result<PreparedSettings, String> {
        Ok(PreparedSettings {
            effective: "{}".to_string(),
            compiled: Vec::new(),
        })
    }

    fn evaluate(_settings: Vec<u8>, _request: Request) -> Verdict {
        Verdict {
            violations: Vec::new(),
            actions: Vec::new(),
            adjusted_valid_to: None,
        }
    }
}

#[cfg(target_arch = "wasm32")]
patrol_guest::bindings::__export_policy_component!(LyingMetadata with_types_in patrol_guest::bindings);
