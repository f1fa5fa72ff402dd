//! The [`Engine`]: one wasmtime engine, the epoch ticker that enforces deadlines, and the
//! cache of compiled components shared by every tenant.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::thread;
use std::time::Duration;

use crate::builtin;
use crate::component::{CompiledComponent, ComponentError, Digest};
use crate::config::{ComponentSource, TenantConfig};
use crate::limits::Limits;
use crate::tenant::{self, LoadError, Tenant};

/// How the host runs policies. The defaults suit a gateway: every limit is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// Limits for every policy call, unless a policy's configuration overrides them.
    pub limits: Limits,
    /// The largest component accepted, in bytes. Default 16 MiB.
    pub max_component_bytes: usize,
    /// The wasm stack each call may use, in bytes. wasmtime sets this per engine, so it is a
    /// host-wide limit rather than a per-policy one. Default 256 KiB.
    pub max_wasm_stack: usize,
    /// How often the epoch advances, which is the resolution of deadlines. Default 1 ms.
    pub epoch_tick: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            limits: Limits::default(),
            max_component_bytes: 16 << 20,
            max_wasm_stack: 256 << 10,
            epoch_tick: Duration::from_millis(1),
        }
    }
}

/// The engine could not be created.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up the WebAssembly engine: {0}")]
pub struct EngineError(String);

/// Compiles components and loads tenants. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    wasmtime: wasmtime::Engine,
    config: EngineConfig,
    /// Compiled components by digest. Weak, so a component no tenant uses any more is freed.
    components: Mutex<HashMap<Digest, Weak<CompiledComponent>>>,
}

impl Engine {
    /// Creates an engine and starts its epoch ticker, which stops when the engine is dropped.
    pub fn new(config: EngineConfig) -> Result<Engine, EngineError> {
        let mut wasmtime_config = wasmtime::Config::new();
        wasmtime_config
            .epoch_interruption(true)
            .max_wasm_stack(config.max_wasm_stack)
            .concurrency_support(false);
        let wasmtime = wasmtime::Engine::new(&wasmtime_config)
            .map_err(|error| EngineError(format!("{error:#}")))?;
        start_epoch_ticker(&wasmtime, config.epoch_tick)?;
        Ok(Engine {
            inner: Arc::new(Inner {
                wasmtime,
                config,
                components: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The configuration the engine was created with.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// Checks and compiles a component, or returns the one already compiled from the same
    /// bytes.
    pub fn compile(&self, bytes: &[u8]) -> Result<Arc<CompiledComponent>, ComponentError> {
        let digest = Digest::of(bytes);
        if let Some(component) = self.cached(&digest) {
            return Ok(component);
        }
        let config = &self.inner.config;
        let component = Arc::new(CompiledComponent::compile(
            &self.inner.wasmtime,
            bytes,
            config.max_component_bytes,
            &config.limits,
            config.epoch_tick,
        )?);
        let mut cache = self.lock_cache();
        cache.retain(|_, weak| weak.strong_count() > 0);
        // Another thread may have compiled the same bytes meanwhile; keep the first.
        if let Some(existing) = cache.get(&digest).and_then(Weak::upgrade) {
            return Ok(existing);
        }
        cache.insert(digest, Arc::downgrade(&component));
        Ok(component)
    }

    /// Loads a tenant: compiles its components, runs `validate-settings` for every policy.
    pub fn load_tenant(&self, config: &TenantConfig) -> Result<Tenant, LoadError> {
        tenant::load(self, config)
    }

    /// Loads the component a policy's configuration points at.
    pub(crate) fn component_for(
        &self,
        source: &ComponentSource,
    ) -> Result<Arc<CompiledComponent>, String> {
        match source {
            ComponentSource::Builtin(name) => {
                let bytes = builtin::component_bytes(name)
                    .ok_or_else(|| format!("no built-in component is named `{name}`"))?;
                self.compile(bytes)
                    .map_err(|error| format!("the built-in component {error}"))
            }
            ComponentSource::File(path) => {
                let bytes = std::fs::read(path)
                    .map_err(|error| format!("cannot read `{}`: {error}", path.display()))?;
                self.compile(&bytes)
                    .map_err(|error| format!("the component `{}` {error}", path.display()))
            }
        }
    }

    pub(crate) fn epoch_tick(&self) -> Duration {
        self.inner.config.epoch_tick
    }

    fn cached(&self, digest: &Digest) -> Option<Arc<CompiledComponent>> {
        self.lock_cache().get(digest).and_then(Weak::upgrade)
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, HashMap<Digest, Weak<CompiledComponent>>> {
        // A panic while holding the lock cannot leave the map inconsistent: use it anyway.
        self.inner
            .components
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Advances the engine's epoch every `tick`, so that a store's epoch deadline (set in ticks)
/// interrupts a call that runs too long. Stops once the engine is gone.
fn start_epoch_ticker(engine: &wasmtime::Engine, tick: Duration) -> Result<(), EngineError> {
    let weak = engine.weak();
    thread::Builder::new()
        .name("patrol-epoch".to_string())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                thread::sleep(tick);
            }
        })
        .map(|_| ())
        .map_err(|error| EngineError(format!("cannot start the epoch ticker: {error}")))
}
