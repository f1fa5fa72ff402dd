//! The wasmtime engines behind an [`Engine`](crate::Engine), and how their instances are
//! allocated.
//!
//! Creating a fresh instance for every call is most of what a decision costs, so patrol uses
//! wasmtime's pooling allocator: memory and table slots are reserved once and reused, with the
//! first part of each linear memory kept mapped and reset in place rather than unmapped and
//! faulted in again. The pool has a fixed shape ([`POOL`]); a policy whose limits or whose
//! component do not fit it is compiled for an engine with wasmtime's on-demand allocator
//! instead, so a large policy can neither fail for want of a slot nor take slots from others.
//! At most one call per core runs at once (see [`crate::permits`]), so a pool with a few slots
//! per core is never exhausted.

use std::thread;
use std::time::Duration;

use wasmtime::component::Component;
use wasmtime::{Enabled, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::limits::Limits;

/// How a call that runs too long is stopped. Either way a wall-clock backstop,
/// [`BACKSTOP_FACTOR`](crate::BACKSTOP_FACTOR) times the deadline but at least
/// [`MIN_BACKSTOP`](crate::MIN_BACKSTOP), bounds every call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Interruption {
    /// Deadlines on running time: the engine's epoch advances every
    /// [`EngineConfig::epoch_tick`](crate::EngineConfig::epoch_tick), and a call is stopped once it has been running for its
    /// deadline's worth of ticks. Time spent waiting for a core does not count.
    #[default]
    Epoch,
    /// Budgets of work: a call may use `units_per_ms` units of fuel (about one WebAssembly
    /// instruction each, and bulk-memory instructions by their length) per millisecond of its
    /// deadline, whatever the machine does meanwhile. Deterministic.
    Fuel {
        /// Fuel per millisecond of deadline.
        units_per_ms: u64,
    },
}

/// The engine could not be created. Each variant keeps its cause as the error's
/// [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The configuration's default limits are above its own ceilings.
    #[error("cannot set up the WebAssembly engine: the host's default limits: {0}")]
    DefaultLimits(String),
    /// wasmtime refused the configuration.
    #[error("cannot set up the WebAssembly engine")]
    Wasmtime(#[source] wasmtime::Error),
    /// The thread that advances the epoch could not be started.
    #[error("cannot set up the WebAssembly engine: cannot start the epoch ticker")]
    EpochTicker(#[source] std::io::Error),
    /// The folder for compiled components cannot be used.
    #[error("cannot set up the WebAssembly engine: cannot use `{}` to cache compiled components", dir.display())]
    CacheDir {
        /// The folder.
        dir: std::path::PathBuf,
        /// Why not.
        #[source]
        source: std::io::Error,
    },
}

/// How instances are allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allocation {
    /// Fresh memory mappings for every instance: wasmtime's default.
    OnDemand,
    /// Reused slots from a pre-reserved pool, each linear memory's first `keep_resident` bytes
    /// kept mapped and zeroed in place between instances.
    Pooling {
        /// Bytes of each linear memory kept resident between instances.
        keep_resident: usize,
        /// Whether to reset only the pages an instance dirtied, found with Linux's
        /// `PAGEMAP_SCAN` (6.7 and later), instead of all `keep_resident` bytes.
        pagemap_scan: bool,
    },
}

impl Default for Allocation {
    fn default() -> Self {
        Allocation::Pooling {
            keep_resident: 64 << 10,
            pagemap_scan: false,
        }
    }
}

/// The shape of a pool slot: what one pooled component instance may use.
pub(crate) struct PoolShape {
    pub(crate) memory_bytes: usize,
    pub(crate) memories: u32,
    pub(crate) tables: u32,
    pub(crate) table_elements: usize,
    pub(crate) core_instances: u32,
}

/// Every pooled component gets at most one memory of 64 MiB, four tables of 10,000 elements and
/// sixteen core instances: more than patrol's policies use, and the host's default limits.
pub(crate) const POOL: PoolShape = PoolShape {
    memory_bytes: 64 << 20,
    memories: 1,
    tables: 4,
    table_elements: 10_000,
    core_instances: 16,
};

/// Which engine a component runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Variant {
    pub(crate) stack_bytes: usize,
    pub(crate) pooled: bool,
}

impl Variant {
    /// The engine for a policy with `limits`: pooled when the host pools and the limits fit a
    /// slot.
    pub(crate) fn for_limits(limits: &Limits, allocation: Allocation) -> Variant {
        let fits = limits.memory_bytes <= POOL.memory_bytes
            && limits.table_elements <= POOL.table_elements
            && limits.instances <= POOL.core_instances as usize;
        Variant {
            stack_bytes: limits.stack_bytes,
            pooled: fits && matches!(allocation, Allocation::Pooling { .. }),
        }
    }

    /// The same engine without the pool.
    pub(crate) fn on_demand(self) -> Variant {
        Variant {
            pooled: false,
            ..self
        }
    }
}

/// Whether a compiled component's memories and tables fit a pool slot.
pub(crate) fn fits_pool(component: &Component) -> bool {
    component.resources_required().is_some_and(|needs| {
        needs.num_memories <= POOL.memories
            && needs.num_tables <= POOL.tables
            && needs
                .max_initial_memory_size
                .is_none_or(|pages| pages.saturating_mul(65_536) <= POOL.memory_bytes as u64)
            && needs
                .max_initial_table_size
                .is_none_or(|elements| elements <= POOL.table_elements as u64)
    })
}

/// Creates the wasmtime engine for `variant`, with its epoch ticker.
pub(crate) fn build(
    variant: Variant,
    allocation: Allocation,
    interruption: Interruption,
    epoch_tick: Duration,
) -> Result<wasmtime::Engine, EngineError> {
    let mut config = wasmtime::Config::new();
    config
        .max_wasm_stack(variant.stack_bytes)
        .concurrency_support(false)
        .epoch_interruption(true)
        .consume_fuel(matches!(interruption, Interruption::Fuel { .. }));
    if let (
        true,
        Allocation::Pooling {
            keep_resident,
            pagemap_scan,
        },
    ) = (variant.pooled, allocation)
    {
        // A few slots per core: calls hold a slot only while they run, one per core at most;
        // and as many again as evaluation threads may hold, prepared or waiting to be dropped
        // (see `crate::ahead`). A slot is address space until it is used.
        let cores = thread::available_parallelism().map_or(2, |n| n.get());
        let slots =
            u32::try_from(cores * 2 + 2 + crate::ahead::held_instances()).unwrap_or(u32::MAX);
        let mut pool = PoolingAllocationConfig::new();
        pool.total_component_instances(slots)
            .max_core_instances_per_component(POOL.core_instances)
            .total_core_instances(slots * POOL.core_instances)
            .max_memories_per_component(POOL.memories)
            .max_memories_per_module(POOL.memories)
            .total_memories(slots * POOL.memories)
            .max_tables_per_component(POOL.tables)
            .total_tables(slots * POOL.tables)
            .table_elements(POOL.table_elements)
            .max_memory_size(POOL.memory_bytes)
            .linear_memory_keep_resident(keep_resident)
            .table_keep_resident(keep_resident)
            .pagemap_scan(if pagemap_scan {
                Enabled::Auto
            } else {
                Enabled::No
            });
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    let engine = wasmtime::Engine::new(&config).map_err(EngineError::Wasmtime)?;
    start_epoch_ticker(&engine, epoch_tick)?;
    Ok(engine)
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
        .map_err(EngineError::EpochTicker)
}
