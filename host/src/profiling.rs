//! Pieces of a decision, taken apart for benchmarks and profilers (`benches/`): creating and
//! dropping a fresh instance without calling it, and calling an instance that is kept warm,
//! which is not how patrol runs policies. Not part of the API.

use std::sync::Arc;

use wasmtime::Store;
use wasmtime::component::Instance;

use crate::clock::StoreState;
use crate::component::CompiledComponent;
use crate::engine::Engine;
use crate::request::Request;
use crate::sandbox::PolicyFailure;
use crate::wit::RequestRef;

/// Compiles `bytes` for the engine's default limits.
pub fn compile(engine: &Engine, bytes: &[u8]) -> Arc<CompiledComponent> {
    engine
        .compile(bytes)
        .unwrap_or_else(|error| panic!("the component {error}"))
}

/// Creates a fresh store and instance of `component`, and drops them: the fixed cost of a
/// policy evaluation, without the call.
pub fn instantiate_and_drop(engine: &Engine, component: &CompiledComponent) {
    let limits = engine.config().limits;
    let outcome: Result<(), PolicyFailure> = engine.sandbox().run(
        component.pre(),
        &limits,
        &crate::component::loading(),
        |_store, _instance| Ok(()),
    );
    outcome.unwrap_or_else(|failure| panic!("{failure}"));
}

/// A fresh store and instance, for the caller to drop when it chooses: creating one can then be
/// measured apart from dropping it.
pub struct FreshInstance {
    _store: Store<StoreState>,
}

/// Creates a fresh store and instance of `component` (as [`instantiate_and_drop`] does) and
/// hands them over undropped.
pub fn instantiate(engine: &Engine, component: &CompiledComponent) -> FreshInstance {
    let limits = engine.config().limits;
    let (store, _instance) = engine
        .sandbox()
        .keep(component.pre().pre(), &limits)
        .unwrap_or_else(|failure| panic!("{failure}"));
    FreshInstance { _store: store }
}

/// An instance kept across calls, so that a call can be measured alone.
pub struct WarmInstance {
    component: Arc<CompiledComponent>,
    store: Store<StoreState>,
    instance: Instance,
    settings: Vec<u8>,
}

impl WarmInstance {
    /// Instantiates `component` once and prepares `settings_json` with it.
    pub fn new(engine: &Engine, component: &Arc<CompiledComponent>, settings_json: &str) -> Self {
        let limits = engine.config().limits;
        let prepared = component
            .validate_settings(
                settings_json,
                &limits,
                &crate::component::loading(),
                engine.sandbox(),
            )
            .unwrap_or_else(|failure| panic!("{failure}"))
            .unwrap_or_else(|problem| panic!("{problem}"));
        let (store, instance) = engine
            .sandbox()
            .keep(component.pre().pre(), &limits)
            .unwrap_or_else(|failure| panic!("{failure}"));
        WarmInstance {
            component: Arc::clone(component),
            store,
            instance,
            settings: prepared.compiled,
        }
    }

    /// Calls `evaluate` on the warm instance and returns how many violations it reported.
    pub fn evaluate(&mut self, request: &Request) -> usize {
        // Keep the store's epoch deadline far away across many calls.
        self.store.set_epoch_deadline(u64::MAX / 2);
        let verdict = self
            .component
            .call_evaluate(
                &mut self.store,
                &self.instance,
                &self.settings,
                &RequestRef::of(request),
            )
            .unwrap_or_else(|error| panic!("{error:#}"));
        verdict.violations.len()
    }
}
