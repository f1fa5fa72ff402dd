//! Policy components: checked and compiled once, then called in fresh instances.
//!
//! Loading refuses, with a reason, anything that is not a component exporting the
//! `patrol:policy/policy` interface and importing nothing; it then asks the component for its
//! metadata. Every call's output is checked against the contract before patrol uses it: a
//! component is untrusted, whatever it claims.

use std::fmt;

use sha2::{Digest as _, Sha256};
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, Linker};

use crate::decision::{ErrorClass, POLICY_ERROR, TOKEN_EXPIRED};
use crate::limits::Limits;
use crate::request::Operation;
use crate::sandbox::{PolicyFailure, Sandbox, StoreState};
use crate::wit::{self, POLICY_INTERFACE, PolicyComponentPre, TYPES_INTERFACE};

/// A component's identity: the SHA-256 of its bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest([u8; 32]);

impl Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Digest(Sha256::digest(bytes).into())
    }

    /// The digest as 64 lowercase hex digits.
    pub fn hex(&self) -> String {
        self.0.iter().map(|byte| format!("{byte:02x}")).collect()
    }

    /// Parses `sha256:` followed by 64 hex digits, as [`Digest`]'s `Display` writes it.
    pub fn parse(text: &str) -> Option<Digest> {
        let hex = text.strip_prefix("sha256:")?;
        if hex.len() != 64 {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (byte, pair) in bytes.iter_mut().zip(hex.as_bytes().chunks(2)) {
            let pair = std::str::from_utf8(pair).ok()?;
            *byte = u8::from_str_radix(pair, 16).ok()?;
        }
        Some(Digest(bytes))
    }

    /// The file name a component store keeps these bytes under: `sha256-<hex>.wasm`.
    pub fn file_name(&self) -> String {
        format!("sha256-{}.wasm", self.hex())
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// What a component says about itself, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentMetadata {
    /// The policy's own name.
    pub name: String,
    /// The policy's own version.
    pub version: String,
    /// One sentence on what it enforces.
    pub description: String,
    /// The operations it judges.
    pub operations: Vec<Operation>,
}

impl ComponentMetadata {
    /// Whether the policy judges `operation`.
    pub fn handles(&self, operation: Operation) -> bool {
        self.operations.contains(&operation)
    }
}

/// Why a component cannot be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComponentError {
    /// Larger than the host accepts.
    #[error("is {size} bytes; the limit is {limit} bytes")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The host's limit.
        limit: usize,
    },
    /// Not WebAssembly at all.
    #[error("is not a WebAssembly binary")]
    NotWasm,
    /// A core module rather than a component.
    #[error(
        "is a core WebAssembly module, not a component; wrap it with \
         `wasm-tools component new` or build it with the patrol workspace"
    )]
    CoreModule,
    /// WebAssembly that does not validate or compile.
    #[error("is not a valid component: {0}")]
    Invalid(String),
    /// It imports something; policies get no capabilities.
    #[error(
        "imports {0}; a policy may import nothing but `{TYPES_INTERFACE}` (no filesystem, \
         network, clock or randomness)"
    )]
    Imports(String),
    /// It does not export the policy interface.
    #[error("does not export `{POLICY_INTERFACE}` (it exports {0})")]
    MissingExport(String),
    /// It exports the interface, with different types.
    #[error("exports `{POLICY_INTERFACE}` with the wrong types: {0}")]
    WrongExport(String),
    /// Its `metadata` call failed.
    #[error("its `metadata` call failed: {0}")]
    MetadataFailed(PolicyFailure),
    /// Its metadata breaks the contract.
    #[error("its metadata is invalid: {0}")]
    InvalidMetadata(String),
}

/// A policy component, compiled and ready to instantiate.
pub struct CompiledComponent {
    digest: Digest,
    size: usize,
    pre: PolicyComponentPre<StoreState>,
    metadata: ComponentMetadata,
}

impl fmt::Debug for CompiledComponent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompiledComponent")
            .field("digest", &self.digest)
            .field("size", &self.size)
            .field("metadata", &self.metadata)
            .finish()
    }
}

impl CompiledComponent {
    /// Checks and compiles `bytes`; the `metadata` call runs in `sandbox` under `limits`.
    pub(crate) fn compile(
        engine: &wasmtime::Engine,
        bytes: &[u8],
        max_size: usize,
        limits: &Limits,
        sandbox: &Sandbox,
    ) -> Result<Self, ComponentError> {
        if bytes.len() > max_size {
            return Err(ComponentError::TooLarge {
                size: bytes.len(),
                limit: max_size,
            });
        }
        if !wasmparser::Parser::is_component(bytes) {
            return Err(if wasmparser::Parser::is_core_wasm(bytes) {
                ComponentError::CoreModule
            } else {
                ComponentError::NotWasm
            });
        }
        let component = Component::new(engine, bytes)
            .map_err(|error| ComponentError::Invalid(format!("{error:#}")))?;
        let ty = component.component_type();
        let imports: Vec<String> = ty
            .imports(engine)
            .filter(|(name, item)| !is_types_only(name, &item.ty, engine))
            .map(|(name, _)| format!("`{name}`"))
            .collect();
        if !imports.is_empty() {
            return Err(ComponentError::Imports(imports.join(", ")));
        }
        if ty.get_export(engine, POLICY_INTERFACE).is_none() {
            let exports: Vec<String> = ty
                .exports(engine)
                .map(|(name, _)| format!("`{name}`"))
                .collect();
            let exports = if exports.is_empty() {
                "nothing".to_string()
            } else {
                exports.join(", ")
            };
            return Err(ComponentError::MissingExport(exports));
        }
        let mut linker = Linker::<StoreState>::new(engine);
        // The types interface carries type definitions only; an empty instance satisfies it.
        linker
            .instance(TYPES_INTERFACE)
            .map_err(|error| ComponentError::WrongExport(format!("{error:#}")))?;
        let pre = linker
            .instantiate_pre(&component)
            .and_then(PolicyComponentPre::new)
            .map_err(|error| ComponentError::WrongExport(format!("{error:#}")))?;
        let raw = sandbox
            .run(&pre, limits, |store, instance| {
                instance.patrol_policy_policy().call_metadata(store)
            })
            .map_err(ComponentError::MetadataFailed)?;
        let metadata = check_metadata(raw).map_err(ComponentError::InvalidMetadata)?;
        Ok(CompiledComponent {
            digest: Digest::of(bytes),
            size: bytes.len(),
            pre,
            metadata,
        })
    }

    /// The component's digest.
    pub fn digest(&self) -> Digest {
        self.digest
    }

    /// The component's size in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// What the component says about itself.
    pub fn metadata(&self) -> &ComponentMetadata {
        &self.metadata
    }

    /// Runs `validate-settings`. The outer error is the component failing; the inner one is the
    /// component refusing the settings, in its own words.
    pub(crate) fn validate_settings(
        &self,
        settings_json: &str,
        limits: &Limits,
        sandbox: &Sandbox,
    ) -> Result<Result<wit::PreparedSettings, String>, PolicyFailure> {
        let answer = sandbox.run(&self.pre, limits, |store, instance| {
            instance
                .patrol_policy_policy()
                .call_validate_settings(store, settings_json)
        })?;
        let size = match &answer {
            Ok(prepared) => prepared.compiled.len() + prepared.effective.len(),
            Err(message) => message.len(),
        };
        check_output_size(size, limits)?;
        if let Ok(prepared) = &answer
            && serde_json::from_str::<serde_json::Value>(&prepared.effective).is_err()
        {
            return Err(PolicyFailure::new(
                ErrorClass::InvalidOutput,
                "`validate-settings` returned effective settings that are not JSON",
            ));
        }
        Ok(answer)
    }

    /// Runs `evaluate` and checks the verdict against the contract and `limits`.
    pub(crate) fn evaluate(
        &self,
        settings: &[u8],
        request: &wit::Request,
        limits: &Limits,
        sandbox: &Sandbox,
    ) -> Result<wit::Verdict, PolicyFailure> {
        let verdict = sandbox.run(&self.pre, limits, |store, instance| {
            instance
                .patrol_policy_policy()
                .call_evaluate(store, settings, request)
        })?;
        check_verdict(&verdict, request, limits)?;
        Ok(verdict)
    }
}

/// Whether an import is the contract's own `types` interface, holding nothing but types: the
/// one import a policy may have, since it grants nothing.
fn is_types_only(name: &str, item: &ComponentItem, engine: &wasmtime::Engine) -> bool {
    match item {
        ComponentItem::ComponentInstance(instance) => {
            name == TYPES_INTERFACE
                && instance
                    .exports(engine)
                    .all(|(_, export)| matches!(export.ty, ComponentItem::Type(_)))
        }
        _ => false,
    }
}

fn check_output_size(size: usize, limits: &Limits) -> Result<(), PolicyFailure> {
    if size > limits.output_bytes {
        return Err(PolicyFailure::new(
            ErrorClass::OutputTooLarge,
            format!(
                "returned {size} bytes; the limit is {} bytes",
                limits.output_bytes
            ),
        ));
    }
    Ok(())
}

/// The longest violation code a policy may return, in bytes.
const MAX_CODE_BYTES: usize = 64;

fn check_verdict(
    verdict: &wit::Verdict,
    request: &wit::Request,
    limits: &Limits,
) -> Result<(), PolicyFailure> {
    // Count a few bytes per item too, so that a million empty violations is not "small".
    let size = verdict
        .violations
        .iter()
        .map(|v| v.code.len() + v.message.len() + 16)
        .sum::<usize>()
        + verdict.actions.len() * 4;
    check_output_size(size, limits)?;
    let invalid = |detail: String| Err(PolicyFailure::new(ErrorClass::InvalidOutput, detail));
    for violation in &verdict.violations {
        let code = &violation.code;
        let well_formed = !code.is_empty()
            && code.len() <= MAX_CODE_BYTES
            && code
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !well_formed {
            return invalid(format!(
                "returned the violation code {code:?}; codes are 1 to {MAX_CODE_BYTES} ASCII \
                 letters, digits, `.`, `_` or `-`"
            ));
        }
        if code == POLICY_ERROR || code == TOKEN_EXPIRED {
            return invalid(format!(
                "returned the code `{code}`, which only patrol may report"
            ));
        }
        if violation.message.trim().is_empty() {
            return invalid(format!("returned the code `{code}` without a message"));
        }
    }
    if let Some(adjusted) = verdict.adjusted_valid_to {
        let issuing = matches!(
            request.operation,
            wit::Operation::Create | wit::Operation::Regenerate
        );
        if !issuing {
            return invalid(
                "returned `adjusted-valid-to` for an operation that issues no token".into(),
            );
        }
        if adjusted <= request.token.valid_from.max(request.now)
            || adjusted > request.token.valid_to
        {
            return invalid(
                "returned an `adjusted-valid-to` outside the requested validity; it may only \
                 shorten the token's life"
                    .into(),
            );
        }
    }
    Ok(())
}

/// The longest policy name, in bytes.
pub const MAX_POLICY_NAME_BYTES: usize = 64;

fn check_metadata(raw: wit::PolicyMetadata) -> Result<ComponentMetadata, String> {
    if raw.name.is_empty()
        || raw.name.len() > MAX_POLICY_NAME_BYTES
        || !raw
            .name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    {
        return Err(format!(
            "the name {:?} is not 1 to {MAX_POLICY_NAME_BYTES} lowercase ASCII letters, digits, \
             `_` or `-`",
            raw.name
        ));
    }
    if raw.version.is_empty() || raw.version.len() > 64 || raw.version.chars().any(char::is_control)
    {
        return Err(format!(
            "the version {:?} is not a short, printable string",
            raw.version
        ));
    }
    if raw.description.len() > 1024 {
        return Err("the description is longer than 1024 bytes".to_string());
    }
    if raw.operations.is_empty() {
        return Err("it names no operation to judge".to_string());
    }
    let mut operations: Vec<Operation> = raw.operations.into_iter().map(Operation::from).collect();
    operations.sort();
    operations.dedup();
    Ok(ComponentMetadata {
        name: raw.name,
        version: raw.version,
        description: raw.description,
        operations,
    })
}

impl From<wit::Operation> for Operation {
    fn from(operation: wit::Operation) -> Self {
        match operation {
            wit::Operation::Create => Operation::Create,
            wit::Operation::Regenerate => Operation::Regenerate,
            wit::Operation::Use => Operation::Use,
            wit::Operation::Leak => Operation::Leak,
        }
    }
}

impl From<Operation> for wit::Operation {
    fn from(operation: Operation) -> Self {
        match operation {
            Operation::Create => wit::Operation::Create,
            Operation::Regenerate => wit::Operation::Regenerate,
            Operation::Use => wit::Operation::Use,
            Operation::Leak => wit::Operation::Leak,
        }
    }
}
