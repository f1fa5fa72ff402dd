//! The [`Engine`]: wasmtime engines, the epoch tickers that enforce deadlines, and the cache of
//! compiled components shared by every tenant.
//!
//! wasmtime fixes a few things per engine rather than per call: the wasm stack limit, and how
//! instances are allocated (see [`crate::runtime`]). So that a policy's configuration can still
//! change its limits, patrol keeps one wasmtime engine per (stack size, pooled or not) in use,
//! in practice one or two, and caches compiled components by (content digest, engine):
//! everything that is pre-instantiated is keyed by the limits baked into it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use crate::builtin;
use crate::bundle::CompiledBundle;
use crate::cache::{ArtifactCache, Compiler};
use crate::component::{CompiledComponent, ComponentError};
use crate::config::ComponentSource;
use crate::digest::Digest;
use crate::limits::Limits;
use crate::quarantine::Quarantine;
use crate::runtime::{self, Allocation, EngineError, Interruption, Variant};
use crate::sandbox::Sandbox;

/// How the host runs policies. The defaults suit a gateway: every limit is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// Limits for every policy call, unless a policy's configuration overrides them.
    pub limits: Limits,
    /// The most a tenant's configuration may set for one policy (`limits = { ... }`); a
    /// configuration asking for more is refused at load, naming the limit and the ceiling.
    /// Default [`Limits::default_ceilings`]. `limits` must be within them.
    pub ceilings: Limits,
    /// The largest component accepted, in bytes. Default 16 MiB.
    pub max_component_bytes: usize,
    /// How calls that run too long are stopped. Default: epoch deadlines.
    pub interruption: Interruption,
    /// How often the epoch advances: the resolution of deadlines. Default 1 ms.
    pub epoch_tick: Duration,
    /// How instances are allocated. Default: pooled, with each memory's first MiB kept
    /// resident.
    pub allocation: Allocation,
    /// Whether seed policies with the default limits are judged together, in one instance of
    /// the seed bundle (the default), rather than each in an instance of its own component.
    pub bundle_seed_policies: bool,
    /// Where components referred to by digest (`component = "sha256:..."`) are kept, each as
    /// `sha256-<hex>.wasm`. `patrol serve` uses `<data dir>/components`. Default: none.
    pub component_store: Option<PathBuf>,
    /// How many policy calls run at once, across all tenants. Default: one per core.
    pub calls_at_once: usize,
    /// How many of those one tenant's calls may hold at once. Default: all but one (at least
    /// one), so that a tenant whose policy runs until its deadline on every request always
    /// leaves a core to the others. See [`crate::permits`].
    pub calls_per_tenant: usize,
    /// When a custom policy that keeps failing is set aside; see [`Quarantine`].
    pub quarantine: Quarantine,
    /// Where compiled components are cached, so that a new process loads them instead of
    /// compiling them again (see [`crate::cache`]). `patrol serve` uses `<data dir>/cache`; the
    /// command line uses the user's cache directory. Default: none.
    pub cache_dir: Option<PathBuf>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            limits: Limits::default(),
            ceilings: Limits::default_ceilings(),
            max_component_bytes: 16 << 20,
            interruption: Interruption::default(),
            epoch_tick: Duration::from_millis(1),
            allocation: Allocation::default(),
            bundle_seed_policies: true,
            calls_at_once: cores(),
            calls_per_tenant: cores().saturating_sub(1).max(1),
            quarantine: Quarantine::default(),
            component_store: None,
            cache_dir: None,
        }
    }
}

/// The cores this process may use.
fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Compiles components and loads tenants. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

type ComponentKey = (Digest, Variant);

struct Inner {
    config: EngineConfig,
    cache: Option<ArtifactCache>,
    sandbox: Arc<Sandbox>,
    /// The built-in bundles (the seed bundle, the rules bundle), by component name, compiled
    /// on first use.
    bundles: Mutex<HashMap<&'static str, Arc<CompiledBundle>>>,
    /// The wasmtime engines, created on first use: one per wasm stack size and allocation.
    runtimes: Mutex<HashMap<Variant, wasmtime::Engine>>,
    /// Compiled components. Weak, so a component no tenant uses any more is freed.
    components: Mutex<HashMap<ComponentKey, Weak<CompiledComponent>>>,
}

impl Engine {
    /// Creates an engine, checking that wasmtime accepts the configuration.
    pub fn new(config: EngineConfig) -> Result<Engine, EngineError> {
        config
            .limits
            .check_within(&config.ceilings)
            .map_err(EngineError::DefaultLimits)?;
        let sandbox = Arc::new(Sandbox::new(
            config.interruption,
            config.epoch_tick,
            config.calls_at_once,
            config.calls_per_tenant,
        ));
        let cache = config
            .cache_dir
            .as_deref()
            .map(|dir| {
                ArtifactCache::open(dir).map_err(|source| EngineError::CacheDir {
                    dir: dir.to_path_buf(),
                    source,
                })
            })
            .transpose()?;
        let engine = Engine {
            inner: Arc::new(Inner {
                config,
                cache,
                sandbox,
                bundles: Mutex::new(HashMap::new()),
                runtimes: Mutex::new(HashMap::new()),
                components: Mutex::new(HashMap::new()),
            }),
        };
        engine.runtime(engine.variant(&engine.inner.config.limits))?;
        Ok(engine)
    }

    /// The configuration the engine was created with.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// Checks and compiles a component for the host's default limits, or returns the one
    /// already compiled from the same bytes.
    pub fn compile(&self, bytes: &[u8]) -> Result<Arc<CompiledComponent>, ComponentError> {
        self.compile_with(bytes, &self.inner.config.limits)
    }

    /// Checks and compiles a component for `limits` (which decide the engine it runs on: its
    /// wasm stack, pooled or not), or returns the one already compiled from the same bytes for
    /// the same engine.
    pub fn compile_with(
        &self,
        bytes: &[u8],
        limits: &Limits,
    ) -> Result<Arc<CompiledComponent>, ComponentError> {
        let variant = self.variant(limits);
        let key = (Digest::of(bytes), variant);
        if let Some(component) = lock(&self.inner.components)
            .get(&key)
            .and_then(Weak::upgrade)
        {
            return Ok(component);
        }
        // A component that needs more than a pool slot holds (memories, tables) runs on the
        // on-demand engine. Wasmtime may say so at compile time, as an error, or only in the
        // compiled component's needs: both lead to the on-demand engine, whose verdict stands.
        let component = match self.compile_for(variant, bytes, limits) {
            Err(ComponentError::Invalid(_)) if variant.pooled => {
                self.compile_for(variant.on_demand(), bytes, limits)?
            }
            Ok(compiled) if variant.pooled && !compiled.fits_pool() => {
                self.compile_for(variant.on_demand(), bytes, limits)?
            }
            compiled => compiled?,
        };
        let component = Arc::new(component);
        let mut cache = lock(&self.inner.components);
        cache.retain(|_, weak| weak.strong_count() > 0);
        // Another thread may have compiled the same bytes meanwhile; keep the first.
        if let Some(existing) = cache.get(&key).and_then(Weak::upgrade) {
            return Ok(existing);
        }
        cache.insert(key, Arc::downgrade(&component));
        Ok(component)
    }

    fn compile_for(
        &self,
        variant: Variant,
        bytes: &[u8],
        limits: &Limits,
    ) -> Result<CompiledComponent, ComponentError> {
        let runtime = self
            .runtime(variant)
            .map_err(|error| ComponentError::Invalid(crate::describe::with_causes(&error)))?;
        CompiledComponent::compile(
            &self.compiler(&runtime, variant),
            bytes,
            self.inner.config.max_component_bytes,
            limits,
            &self.inner.sandbox,
        )
    }

    /// How many distinct compiled components are in use, the bundles included.
    pub fn component_count(&self) -> usize {
        let components = lock(&self.inner.components)
            .values()
            .filter(|weak| weak.strong_count() > 0)
            .count();
        components + lock(&self.inner.bundles).len()
    }

    /// Loads the component a policy's configuration points at, for the policy's limits.
    pub(crate) fn component_for(
        &self,
        source: &ComponentSource,
        limits: &Limits,
    ) -> Result<Arc<CompiledComponent>, String> {
        match source {
            ComponentSource::Builtin(name) => {
                let bytes = builtin::component_bytes(name)
                    .ok_or_else(|| format!("no built-in component is named `{name}`"))?;
                self.compile_with(bytes, limits)
                    .map_err(|error| format!("the built-in component {error}"))
            }
            ComponentSource::File(path) => {
                let bytes = crate::files::read_bounded(path, self.inner.config.max_component_bytes)
                    .map_err(|error| format!("cannot read `{}`: {error}", path.display()))?;
                self.compile_with(&bytes, limits)
                    .map_err(|error| format!("the component `{}` {error}", path.display()))
            }
            ComponentSource::Stored(digest) => {
                let store = self.inner.config.component_store.as_deref().ok_or_else(|| {
                    format!("`{digest}` names a stored component, but this host has no component store")
                })?;
                let path = store.join(digest.file_name());
                let bytes =
                    crate::files::read_bounded(&path, self.inner.config.max_component_bytes)
                        .map_err(|error| match error.kind() {
                            std::io::ErrorKind::NotFound => {
                                format!("no component `{digest}` has been uploaded")
                            }
                            _ => format!("cannot read `{}`: {error}", path.display()),
                        })?;
                if Digest::of(&bytes) != *digest {
                    return Err(format!(
                        "`{}` does not hold the component `{digest}` any more",
                        path.display()
                    ));
                }
                self.compile_with(&bytes, limits)
                    .map_err(|error| format!("the stored component `{digest}` {error}"))
            }
        }
    }

    /// A built-in bundle (`builtin::SEED_BUNDLE` or `builtin::RULES_BUNDLE`), compiled for
    /// the host's default limits on first use.
    pub(crate) fn bundle(&self, name: &'static str) -> Result<Arc<CompiledBundle>, String> {
        let mut bundles = lock(&self.inner.bundles);
        if let Some(bundle) = bundles.get(name) {
            return Ok(Arc::clone(bundle));
        }
        let config = &self.inner.config;
        let bytes = builtin::component_bytes(name)
            .ok_or_else(|| format!("the bundle `{name}` is missing from this build of patrol"))?;
        let variant = self.variant(&config.limits);
        let runtime = self
            .runtime(variant)
            .map_err(|error| crate::describe::with_causes(&error))?;
        let bundle = CompiledBundle::compile(
            &self.compiler(&runtime, variant),
            bytes,
            config.max_component_bytes,
            &config.limits,
            &self.inner.sandbox,
        )
        .map_err(|error| format!("the bundle `{name}` {error}"))?;
        let bundle = Arc::new(bundle);
        bundles.insert(name, Arc::clone(&bundle));
        Ok(bundle)
    }

    /// How calls are run.
    pub(crate) fn sandbox(&self) -> &Arc<Sandbox> {
        &self.inner.sandbox
    }

    fn compiler<'a>(&'a self, runtime: &'a wasmtime::Engine, variant: Variant) -> Compiler<'a> {
        Compiler {
            engine: runtime,
            cache: self.inner.cache.as_ref(),
            variant,
        }
    }

    fn variant(&self, limits: &Limits) -> Variant {
        Variant::for_limits(limits, self.inner.config.allocation)
    }

    /// The wasmtime engine for `variant`, created on first use.
    fn runtime(&self, variant: Variant) -> Result<wasmtime::Engine, EngineError> {
        let mut runtimes = lock(&self.inner.runtimes);
        if let Some(runtime) = runtimes.get(&variant) {
            return Ok(runtime.clone());
        }
        let config = &self.inner.config;
        let runtime = runtime::build(
            variant,
            config.allocation,
            config.interruption,
            config.epoch_tick,
        )?;
        runtimes.insert(variant, runtime.clone());
        Ok(runtime)
    }
}

/// Locks a cache. A panic while holding the lock cannot leave a map half-updated, so a
/// poisoned lock is used anyway.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
