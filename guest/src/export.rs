//! The [`Policy`] trait and the glue that exports an implementation as a component.

use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bindings::exports::patrol::policy::policy::Guest;
use crate::{Operation, PolicyMetadata, PreparedSettings, Request, Verdict, settings};

/// A patrol policy: settings, and a function from a request to a verdict.
pub trait Policy {
    /// The policy's name, for example `max_pat_lifespan`: lowercase ASCII letters, digits,
    /// `_` and `-`.
    const NAME: &'static str;
    /// The policy's own version.
    const VERSION: &'static str;
    /// One sentence saying what the policy enforces.
    const DESCRIPTION: &'static str;
    /// The operations the policy judges; the host never asks it about any other.
    const OPERATIONS: &'static [Operation];

    /// The settings a tenant gives this policy, parsed from JSON. Use
    /// `#[serde(deny_unknown_fields)]` so a misspelt key is an error, and `#[serde(default)]`
    /// for optional fields. The type must round-trip through a compact binary encoding, so
    /// avoid `skip_serializing_if` and untagged enums.
    type Settings: Serialize + DeserializeOwned;

    /// Checks what serde cannot: ranges, combinations. Return one sentence naming the field,
    /// for example ``"`max_days` must be between 1 and 365, got `400`"``.
    fn check_settings(settings: &Self::Settings) -> Result<(), String> {
        let _ = settings;
        Ok(())
    }

    /// Judges one request.
    fn evaluate(settings: &Self::Settings, request: &Request) -> Verdict;
}

/// Adapts a [`Policy`] to the component's exports; see [`export_policy!`](crate::export_policy).
pub struct Component<P>(PhantomData<P>);

impl<P: Policy> Guest for Component<P> {
    fn metadata() -> PolicyMetadata {
        PolicyMetadata {
            name: P::NAME.to_string(),
            version: P::VERSION.to_string(),
            description: P::DESCRIPTION.to_string(),
            operations: P::OPERATIONS.to_vec(),
        }
    }

    fn validate_settings(json: String) -> Result<PreparedSettings, String> {
        let parsed: P::Settings = settings::parse_settings(&json)?;
        P::check_settings(&parsed)?;
        settings::compile_settings(&parsed)
    }

    fn evaluate(compiled: Vec<u8>, request: Request) -> Verdict {
        // The host only ever passes back what `validate_settings` produced; failing to decode
        // it is a bug, and a trap is the honest answer (the host reports a `policyError`).
        let settings: P::Settings = match settings::decode_settings(&compiled) {
            Ok(settings) => settings,
            Err(message) => panic!("{message}"),
        };
        P::evaluate(&settings, &request)
    }
}
