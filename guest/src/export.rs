//! The [`Policy`] trait and the glue that exports an implementation as a component.

use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bindings::exports::patrol::policy::policy::Guest;
use crate::bundle_bindings::exports::patrol::policy::bundle::{BundledCall, Guest as BundleGuest};
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

/// A policy whose settings are compiled, once at load, into a form of their own: for example
/// expressions parsed into syntax trees, so that no request pays for parsing them.
///
/// [`Policy`] keeps one type for the settings a tenant writes and the settings `evaluate`
/// receives; this trait separates the two. Export it with
/// [`export_compiled_policy!`](crate::export_compiled_policy).
pub trait CompiledPolicy {
    /// As [`Policy::NAME`].
    const NAME: &'static str;
    /// As [`Policy::VERSION`].
    const VERSION: &'static str;
    /// As [`Policy::DESCRIPTION`].
    const DESCRIPTION: &'static str;
    /// As [`Policy::OPERATIONS`].
    const OPERATIONS: &'static [Operation];

    /// The settings a tenant writes, parsed from JSON (use `#[serde(deny_unknown_fields)]`).
    type Settings: DeserializeOwned;
    /// What `evaluate` receives: it must round-trip through a compact binary encoding, as
    /// [`Policy::Settings`] must.
    type Compiled: Serialize + DeserializeOwned;

    /// Checks the settings and compiles them. Returns the compiled form and what people see as
    /// the effective settings (`patrol eval --explain`, `patrol check`), or one sentence naming
    /// what is wrong.
    fn compile(settings: Self::Settings) -> Result<(Self::Compiled, serde_json::Value), String>;

    /// Judges one request.
    fn evaluate(compiled: &Self::Compiled, request: &Request) -> Verdict;
}

/// Adapts a [`CompiledPolicy`] to the component's exports; see
/// [`export_compiled_policy!`](crate::export_compiled_policy).
pub struct CompiledComponent<P>(PhantomData<P>);

impl<P: CompiledPolicy> Guest for CompiledComponent<P> {
    fn metadata() -> PolicyMetadata {
        metadata(P::NAME, P::VERSION, P::DESCRIPTION, P::OPERATIONS)
    }

    fn validate_settings(json: String) -> Result<PreparedSettings, String> {
        let parsed: P::Settings = settings::parse_settings(&json)?;
        let (compiled, effective) = P::compile(parsed)?;
        Ok(PreparedSettings {
            effective: effective.to_string(),
            compiled: settings::encode_settings(&compiled)?,
        })
    }

    fn evaluate(compiled: Vec<u8>, request: Request) -> Verdict {
        evaluate_compiled::<P>(&compiled, &request)
    }
}

/// What a policy says about itself, from its constants.
fn metadata(
    name: &str,
    version: &str,
    description: &str,
    operations: &[Operation],
) -> PolicyMetadata {
    PolicyMetadata {
        name: name.to_string(),
        version: version.to_string(),
        description: description.to_string(),
        operations: operations.to_vec(),
    }
}

fn evaluate_compiled<P: CompiledPolicy>(compiled: &[u8], request: &Request) -> Verdict {
    // As in `evaluate_prepared`: only what `validate_settings` produced comes back.
    let compiled: P::Compiled = match settings::decode_settings(compiled) {
        Ok(compiled) => compiled,
        Err(message) => panic!("{message}"),
    };
    P::evaluate(&compiled, request)
}

/// Adapts a [`Policy`] to the component's exports; see [`export_policy!`](crate::export_policy).
pub struct Component<P>(PhantomData<P>);

impl<P: Policy> Guest for Component<P> {
    fn metadata() -> PolicyMetadata {
        metadata(P::NAME, P::VERSION, P::DESCRIPTION, P::OPERATIONS)
    }

    fn validate_settings(json: String) -> Result<PreparedSettings, String> {
        let parsed: P::Settings = settings::parse_settings(&json)?;
        P::check_settings(&parsed)?;
        settings::compile_settings(&parsed)
    }

    fn evaluate(compiled: Vec<u8>, request: Request) -> Verdict {
        evaluate_prepared::<P>(&compiled, &request)
    }
}

/// Decodes prepared settings and evaluates `P` with them.
fn evaluate_prepared<P: Policy>(compiled: &[u8], request: &Request) -> Verdict {
    // The host only ever passes back what `validate_settings` produced; failing to decode it is
    // a bug, and a trap is the honest answer (the host reports a `policyError`).
    let settings: P::Settings = match settings::decode_settings(compiled) {
        Ok(settings) => settings,
        Err(message) => panic!("{message}"),
    };
    P::evaluate(&settings, request)
}

/// One policy of a bundle, as functions; see [`export_bundle!`](crate::export_bundle).
#[doc(hidden)]
pub struct Bundled {
    metadata: fn() -> PolicyMetadata,
    validate_settings: fn(String) -> Result<PreparedSettings, String>,
    evaluate: fn(&[u8], &Request) -> Verdict,
}

impl Bundled {
    /// The functions of `P`.
    pub const fn of<P: Policy>() -> Bundled {
        Bundled {
            metadata: <Component<P> as Guest>::metadata,
            validate_settings: <Component<P> as Guest>::validate_settings,
            evaluate: evaluate_prepared::<P>,
        }
    }

    /// The functions of a [`CompiledPolicy`] `P`.
    pub const fn of_compiled<P: CompiledPolicy>() -> Bundled {
        Bundled {
            metadata: <CompiledComponent<P> as Guest>::metadata,
            validate_settings: <CompiledComponent<P> as Guest>::validate_settings,
            evaluate: evaluate_compiled::<P>,
        }
    }
}

/// Several policies exported together; see [`export_bundle!`](crate::export_bundle).
#[doc(hidden)]
pub trait Bundle {
    /// The policies, in index order.
    const POLICIES: &'static [Bundled];
}

/// Adapts a [`Bundle`] to the `patrol:policy/bundle` exports.
#[doc(hidden)]
pub struct BundleComponent<B>(PhantomData<B>);

impl<B: Bundle> BundleGuest for BundleComponent<B> {
    fn policies() -> Vec<PolicyMetadata> {
        B::POLICIES
            .iter()
            .map(|policy| (policy.metadata)())
            .collect()
    }

    fn validate_settings(index: u32, settings: String) -> Result<PreparedSettings, String> {
        let policy = bundled::<B>(index).ok_or_else(|| format!("no bundled policy {index}"))?;
        (policy.validate_settings)(settings)
    }

    fn evaluate(calls: Vec<BundledCall>, request: Request) -> Vec<Verdict> {
        calls
            .iter()
            .map(|call| match bundled::<B>(call.index) {
                Some(policy) => (policy.evaluate)(&call.settings, &request),
                None => panic!("no bundled policy {}", call.index),
            })
            .collect()
    }
}

fn bundled<B: Bundle>(index: u32) -> Option<&'static Bundled> {
    B::POLICIES.get(usize::try_from(index).ok()?)
}
