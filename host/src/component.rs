//! Policy components: checked and compiled once, then called in fresh instances.
//!
//! Loading refuses, with a reason, anything that is not a component exporting the
//! `patrol:policy/policy` interface and importing nothing; it then asks the component for its
//! metadata. Every call's output is checked against the contract before patrol uses it: a
//! component is untrusted, whatever it claims.

use std::fmt;
use std::sync::Arc;

use sha2::{Digest as _, Sha256};
use wasmtime::Store;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{
    ComponentExportIndex, ComponentNamedList, Instance, InstancePre, Lift, Linker, Lower, TypedFunc,
};

use crate::cache::Compiler;
use crate::contract;
use crate::limits::Limits;
use crate::request::Operation;
use crate::sandbox::{PolicyFailure, Sandbox, StoreState};
use crate::wit::{self, POLICY_INTERFACE, PolicyComponentPre, RequestRef, TYPES_INTERFACE};

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
    /// It does not export the interface it should (the first field), only others.
    #[error("does not export `{0}` (it exports {1})")]
    MissingExport(String, String),
    /// It exports the interface (the first field), with different types.
    #[error("exports `{0}` with the wrong types: {1}")]
    WrongExport(String, String),
    /// Its `metadata` call failed.
    #[error("failed its `metadata` call: {0}")]
    MetadataFailed(PolicyFailure),
    /// Its metadata breaks the contract.
    #[error("returned invalid metadata: {0}")]
    InvalidMetadata(String),
}

/// A policy component, compiled and ready to instantiate.
pub struct CompiledComponent {
    digest: Digest,
    size: usize,
    pre: PolicyComponentPre<StoreState>,
    /// The interface's functions, resolved and type-checked once.
    functions: Functions,
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
        compiler: &Compiler<'_>,
        bytes: &[u8],
        max_size: usize,
        limits: &Limits,
        sandbox: &Sandbox,
    ) -> Result<Self, ComponentError> {
        let pre = instantiate_pre(compiler, bytes, max_size, POLICY_INTERFACE)?;
        let pre = PolicyComponentPre::new(pre).map_err(|error| {
            ComponentError::WrongExport(POLICY_INTERFACE.to_string(), format!("{error:#}"))
        })?;
        let functions = Functions::resolve(pre.instance_pre(), limits, sandbox)?;
        let raw = sandbox
            .run(pre.instance_pre(), limits, &loading(), |store, instance| {
                let metadata = instance
                    .get_func(&mut *store, functions.metadata)
                    .ok_or_else(|| wasmtime::Error::msg("the `metadata` export is missing"))?;
                // SAFETY: `Functions::resolve` checked the export's type on an instance of this
                // component.
                let metadata =
                    unsafe { TypedFunc::<(), (wit::PolicyMetadata,)>::new_unchecked(metadata) };
                Ok(metadata.call(&mut *store, ())?.0)
            })
            .map_err(ComponentError::MetadataFailed)?;
        let metadata = contract::check_metadata(raw).map_err(ComponentError::InvalidMetadata)?;
        Ok(CompiledComponent {
            digest: Digest::of(bytes),
            size: bytes.len(),
            pre,
            functions,
            metadata,
        })
    }

    /// Its pre-instantiated form.
    pub(crate) fn pre(&self) -> &PolicyComponentPre<StoreState> {
        &self.pre
    }

    /// Whether its memories and tables fit a slot of the instance pool.
    pub(crate) fn fits_pool(&self) -> bool {
        crate::runtime::fits_pool(self.pre.instance_pre().component())
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
        tenant: &Arc<str>,
        sandbox: &Sandbox,
    ) -> Result<Result<wit::PreparedSettings, String>, PolicyFailure> {
        let answer = sandbox.run(
            self.pre.instance_pre(),
            limits,
            tenant,
            |store, instance| {
                let validate = instance
                    .get_func(&mut *store, self.functions.validate_settings)
                    .ok_or_else(|| {
                        wasmtime::Error::msg("the `validate-settings` export is missing")
                    })?;
                // SAFETY: `Functions::resolve` checked the export's type on an instance of this
                // component.
                let validate = unsafe {
                    TypedFunc::<(&str,), (Result<wit::PreparedSettings, String>,)>::new_unchecked(
                        validate,
                    )
                };
                Ok(validate.call(&mut *store, (settings_json,))?.0)
            },
        )?;
        contract::check_prepared(&answer)?;
        Ok(contract::prepared_for_people(answer))
    }

    /// Runs `evaluate` in a fresh instance and checks the verdict against the contract and
    /// `limits`.
    pub(crate) fn evaluate(
        &self,
        settings: &[u8],
        request: &RequestRef<'_>,
        limits: &Limits,
        tenant: &Arc<str>,
        sandbox: &Sandbox,
    ) -> Result<wit::Verdict, PolicyFailure> {
        let verdict = sandbox.run(
            self.pre.instance_pre(),
            limits,
            tenant,
            |store, instance| self.call_evaluate(store, instance, settings, request),
        )?;
        contract::check_verdict(&verdict, request)?;
        Ok(contract::for_people(verdict))
    }

    /// Calls `evaluate` on `instance`, an instance of this component.
    pub(crate) fn call_evaluate(
        &self,
        store: &mut Store<StoreState>,
        instance: &Instance,
        settings: &[u8],
        request: &RequestRef<'_>,
    ) -> wasmtime::Result<wit::Verdict> {
        let evaluate = instance
            .get_func(&mut *store, self.functions.evaluate)
            .ok_or_else(|| wasmtime::Error::msg("the `evaluate` export is missing"))?;
        // SAFETY: `Functions::resolve` checked that the component's `evaluate` export has
        // exactly this type, and `instance` is of this component.
        let evaluate = unsafe {
            TypedFunc::<(&[u8], &RequestRef<'_>), (wit::Verdict,)>::new_unchecked(evaluate)
        };
        Ok(evaluate.call(store, (settings, request))?.0)
    }
}

/// The `policy` interface's functions in a component, resolved to indices and type-checked
/// once, so that each instance finds them without a lookup by name or a type check.
#[derive(Debug, Clone, Copy)]
struct Functions {
    metadata: ComponentExportIndex,
    validate_settings: ComponentExportIndex,
    evaluate: ComponentExportIndex,
}

impl Functions {
    fn resolve(
        pre: &InstancePre<StoreState>,
        limits: &Limits,
        sandbox: &Sandbox,
    ) -> Result<Functions, ComponentError> {
        let functions = Functions {
            metadata: export_function(pre, POLICY_INTERFACE, "metadata")?,
            validate_settings: export_function(pre, POLICY_INTERFACE, "validate-settings")?,
            evaluate: export_function(pre, POLICY_INTERFACE, "evaluate")?,
        };
        let (mut store, instance) = sandbox
            .keep(pre, limits)
            .map_err(ComponentError::MetadataFailed)?;
        let wrong = |error: wasmtime::Error| {
            ComponentError::WrongExport(POLICY_INTERFACE.to_string(), format!("{error:#}"))
        };
        instance
            .get_typed_func::<(), (wit::PolicyMetadata,)>(&mut store, functions.metadata)
            .map_err(wrong)?;
        instance
            .get_typed_func::<(&str,), (Result<wit::PreparedSettings, String>,)>(
                &mut store,
                functions.validate_settings,
            )
            .map_err(wrong)?;
        instance
            .get_typed_func::<(&[u8], &RequestRef<'_>), (wit::Verdict,)>(
                &mut store,
                functions.evaluate,
            )
            .map_err(wrong)?;
        Ok(functions)
    }
}

/// The checks every component passes before anything of it runs: not too large, a component
/// (not a core module, not garbage), valid, importing nothing but the contract's types, and
/// exporting the interface `export`. Returns it compiled and linked, ready to type-check its
/// exports and instantiate.
pub(crate) fn instantiate_pre(
    compiler: &Compiler<'_>,
    bytes: &[u8],
    max_size: usize,
    export: &str,
) -> Result<InstancePre<StoreState>, ComponentError> {
    let engine = compiler.engine;
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
    let component = compiler
        .compile(bytes)
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
    if ty.get_export(engine, export).is_none() {
        let exports: Vec<String> = ty
            .exports(engine)
            .map(|(name, _)| format!("`{name}`"))
            .collect();
        let exports = if exports.is_empty() {
            "nothing".to_string()
        } else {
            exports.join(", ")
        };
        return Err(ComponentError::MissingExport(export.to_string(), exports));
    }
    let mut linker = Linker::<StoreState>::new(engine);
    // The types interface carries type definitions only; an empty instance satisfies it.
    linker
        .instance(TYPES_INTERFACE)
        .map_err(|error| ComponentError::WrongExport(export.to_string(), format!("{error:#}")))?;
    linker
        .instantiate_pre(&component)
        .map_err(|error| ComponentError::WrongExport(export.to_string(), format!("{error:#}")))
}

/// Checks, on one instance, that the `evaluate` export at `index` has the type patrol calls it
/// with (`Params` and `Results`), so that later instances can skip the check.
pub(crate) fn check_evaluate_type<Params, Results>(
    pre: &InstancePre<StoreState>,
    index: &ComponentExportIndex,
    interface: &str,
    limits: &Limits,
    sandbox: &Sandbox,
) -> Result<(), ComponentError>
where
    Params: ComponentNamedList + Lower,
    Results: ComponentNamedList + Lift,
{
    let (mut store, instance) = sandbox
        .keep(pre, limits)
        .map_err(ComponentError::MetadataFailed)?;
    instance
        .get_typed_func::<Params, Results>(&mut store, index)
        .map(|_| ())
        .map_err(|error| ComponentError::WrongExport(interface.to_string(), format!("{error:#}")))
}

/// Resolves the function `name` of the exported interface `interface` to an index, so that each
/// instance finds it without a lookup by name.
pub(crate) fn export_function(
    pre: &InstancePre<StoreState>,
    interface: &str,
    name: &str,
) -> Result<ComponentExportIndex, ComponentError> {
    let component = pre.component();
    component
        .get_export_index(None, interface)
        .and_then(|instance| component.get_export_index(Some(&instance), name))
        .ok_or_else(|| {
            ComponentError::WrongExport(interface.to_string(), format!("no function `{name}`"))
        })
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

/// The admission key of calls made while compiling a component, on no tenant's behalf.
pub(crate) fn loading() -> Arc<str> {
    Arc::from(crate::permits::LOADING)
}
