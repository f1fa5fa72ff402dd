//! Policy components: checked and compiled once, then called in fresh instances.
//!
//! Loading refuses, with a reason, anything that is not a component exporting the
//! `patrol:policy/policy` interface and importing nothing; it then asks the component for its
//! metadata. Every call's output is checked against the contract before patrol uses it: a
//! component is untrusted, whatever it claims.

use std::fmt;
use std::sync::Arc;

use wasmtime::Store;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{
    ComponentExportIndex, ComponentNamedList, Instance, InstancePre, Lift, Linker, Lower, TypedFunc,
};

use crate::ahead::Instantiable;
use crate::cache::Compiler;
use crate::clock::StoreState;
use crate::contract::{self, ComponentMetadata};
use crate::digest::Digest;
use crate::limits::Limits;
use crate::request::Operation;
use crate::sandbox::{PolicyFailure, Sandbox};
use crate::wit::{self, POLICY_INTERFACE, PolicyComponentPre, RequestRef, TYPES_INTERFACE};

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
    pre: Instantiable,
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
        sandbox: &Arc<Sandbox>,
    ) -> Result<Self, ComponentError> {
        let pre = instantiate_pre(compiler, bytes, max_size, POLICY_INTERFACE)?;
        // The generated bindings check the whole interface's types against the contract; the
        // calls themselves go through the resolved indices (see [`call_export`]).
        PolicyComponentPre::new(pre.clone()).map_err(|error| {
            ComponentError::WrongExport(POLICY_INTERFACE.to_string(), format!("{error:#}"))
        })?;
        let functions = Functions::resolve(&pre, limits, sandbox)?;
        let pre = Instantiable::new(pre);
        let raw = sandbox
            .run(&pre, limits, &loading(), |store, instance| {
                // SAFETY: `Functions::resolve` checked the export's type.
                let (metadata,) = unsafe {
                    call_export::<(), (wit::PolicyMetadata,)>(
                        store,
                        instance,
                        &functions.metadata,
                        (),
                    )
                }?;
                Ok(metadata)
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
    pub(crate) fn pre(&self) -> &Instantiable {
        &self.pre
    }

    /// Whether its memories and tables fit a slot of the instance pool.
    pub(crate) fn fits_pool(&self) -> bool {
        crate::runtime::fits_pool(self.pre.pre().component())
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
        sandbox: &Arc<Sandbox>,
    ) -> Result<Result<wit::PreparedSettings, String>, PolicyFailure> {
        let answer = sandbox.run(&self.pre, limits, tenant, |store, instance| {
            // SAFETY: `Functions::resolve` checked the export's type.
            let (answer,) = unsafe {
                call_export::<(&str,), (Result<wit::PreparedSettings, String>,)>(
                    store,
                    instance,
                    &self.functions.validate_settings,
                    (settings_json,),
                )
            }?;
            Ok(answer)
        })?;
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
        sandbox: &Arc<Sandbox>,
    ) -> Result<wit::Verdict, PolicyFailure> {
        let verdict = sandbox.run(&self.pre, limits, tenant, |store, instance| {
            self.call_evaluate(store, instance, settings, request)
        })?;
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
        // SAFETY: `Functions::resolve` checked the export's type, and `instance` is of this
        // component.
        let (verdict,) = unsafe {
            call_export::<(&[u8], &RequestRef<'_>), (wit::Verdict,)>(
                store,
                instance,
                &self.functions.evaluate,
                (settings, request),
            )
        }?;
        Ok(verdict)
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
        sandbox: &Arc<Sandbox>,
    ) -> Result<Functions, ComponentError> {
        let functions = Functions {
            metadata: export_function(pre, POLICY_INTERFACE, "metadata")?,
            validate_settings: export_function(pre, POLICY_INTERFACE, "validate-settings")?,
            evaluate: export_function(pre, POLICY_INTERFACE, "evaluate")?,
        };
        let (mut store, instance) = sandbox
            .keep(pre, limits)
            .map_err(ComponentError::MetadataFailed)?;
        let store = &mut store;
        check_export_type::<(), (wit::PolicyMetadata,)>(
            store,
            &instance,
            &functions.metadata,
            POLICY_INTERFACE,
        )?;
        check_export_type::<(&str,), (Result<wit::PreparedSettings, String>,)>(
            store,
            &instance,
            &functions.validate_settings,
            POLICY_INTERFACE,
        )?;
        check_export_type::<(&[u8], &RequestRef<'_>), (wit::Verdict,)>(
            store,
            &instance,
            &functions.evaluate,
            POLICY_INTERFACE,
        )?;
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

/// Checks, on `instance`, that the export at `index` has the type patrol calls it with
/// (`Params` and `Results`), so that [`call_export`] can skip the check on every later instance
/// of the same component.
pub(crate) fn check_export_type<Params, Results>(
    store: &mut Store<StoreState>,
    instance: &Instance,
    index: &ComponentExportIndex,
    interface: &str,
) -> Result<(), ComponentError>
where
    Params: ComponentNamedList + Lower,
    Results: ComponentNamedList + Lift,
{
    instance
        .get_typed_func::<Params, Results>(store, index)
        .map(|_| ())
        .map_err(|error| ComponentError::WrongExport(interface.to_string(), format!("{error:#}")))
}

/// Calls the export at `index` of `instance`: the one way patrol calls into a guest. The export
/// was resolved to an index and its type checked once per component, at load, so a call does
/// neither a lookup by name nor a type check.
///
/// # Safety
///
/// [`check_export_type`] with the same `Params` and `Results` must have accepted `index` on an
/// instance of the component `instance` is of.
pub(crate) unsafe fn call_export<Params, Results>(
    store: &mut Store<StoreState>,
    instance: &Instance,
    index: &ComponentExportIndex,
    params: Params,
) -> wasmtime::Result<Results>
where
    Params: ComponentNamedList + Lower,
    Results: ComponentNamedList + Lift,
{
    let function = instance
        .get_func(&mut *store, index)
        .ok_or_else(|| wasmtime::Error::msg("an export resolved at load is missing"))?;
    // SAFETY: the caller guarantees that the export has exactly these types.
    let function = unsafe { TypedFunc::<Params, Results>::new_unchecked(function) };
    function.call(store, params)
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
