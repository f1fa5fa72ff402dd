//! Running one policy call in a fresh, limited instance.
//!
//! Every call (`metadata`, `validate-settings`, `evaluate`) gets its own `Store` and instance,
//! made from the component's pre-instantiated form and dropped afterwards, so nothing a
//! component does survives the call. The store carries the call's limits: an epoch deadline
//! (a ticker thread advances the engine's epoch, see [`crate::engine`]), a resource limiter
//! for memories, tables and instances, and the engine-wide wasm stack limit. Whatever goes
//! wrong comes back as a [`PolicyFailure`] with an [`ErrorClass`], never as a panic.

use std::fmt;
use std::time::Duration;

use wasmtime::{ResourceLimiter, Store, Trap};

use crate::decision::ErrorClass;
use crate::limits::Limits;
use crate::wit::{PolicyComponent, PolicyComponentPre};

/// What a policy's store holds: only the limiter. Policies import nothing, so there is no host
/// state for them to reach.
pub(crate) struct StoreState {
    limiter: Limiter,
}

/// Why a policy call produced no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{class}: {detail}")]
pub struct PolicyFailure {
    /// The kind of failure.
    pub class: ErrorClass,
    /// What exactly happened, for people.
    pub detail: String,
}

impl PolicyFailure {
    pub(crate) fn new(class: ErrorClass, detail: impl Into<String>) -> Self {
        PolicyFailure {
            class,
            detail: detail.into(),
        }
    }
}

/// Runs `call` against a fresh instance of `pre` under `limits`.
///
/// `tick` is how often the engine's epoch advances; the deadline is rounded up to whole ticks
/// plus one, since the current tick may be about to end.
pub(crate) fn run<R>(
    pre: &PolicyComponentPre<StoreState>,
    limits: &Limits,
    tick: Duration,
    call: impl FnOnce(&mut Store<StoreState>, &PolicyComponent) -> wasmtime::Result<R>,
) -> Result<R, PolicyFailure> {
    let mut store = Store::new(
        pre.engine(),
        StoreState {
            limiter: Limiter::new(limits),
        },
    );
    store.limiter(|state| &mut state.limiter);
    store.set_epoch_deadline(deadline_ticks(limits.deadline, tick));
    let instance = pre
        .instantiate(&mut store)
        .map_err(|error| classify(&error, limits))?;
    call(&mut store, &instance).map_err(|error| classify(&error, limits))
}

fn deadline_ticks(deadline: Duration, tick: Duration) -> u64 {
    let tick = tick.as_nanos().max(1);
    u64::try_from(deadline.as_nanos().div_ceil(tick)).unwrap_or(u64::MAX - 1) + 1
}

/// Turns a wasmtime error into a failure class and a sentence.
fn classify(error: &wasmtime::Error, limits: &Limits) -> PolicyFailure {
    if let Some(exceeded) = error.downcast_ref::<LimitExceeded>() {
        let class = match exceeded {
            LimitExceeded::Memory { .. } => ErrorClass::Memory,
            LimitExceeded::Table { .. } => ErrorClass::Limit,
        };
        return PolicyFailure::new(class, exceeded.to_string());
    }
    if let Some(trap) = error.downcast_ref::<Trap>() {
        return match trap {
            Trap::Interrupt | Trap::OutOfFuel => PolicyFailure::new(
                ErrorClass::Timeout,
                format!("ran past its deadline of {}", describe(limits.deadline)),
            ),
            Trap::StackOverflow => {
                PolicyFailure::new(ErrorClass::StackOverflow, "exhausted the wasm stack")
            }
            other => {
                let text = other.to_string();
                let text = text.strip_prefix("wasm trap: ").unwrap_or(&text);
                PolicyFailure::new(ErrorClass::Trap, text.to_string())
            }
        };
    }
    // Anything else comes from instantiating (instance, table or memory counts) or from lifting
    // what the guest returned (an out-of-bounds pointer, invalid UTF-8): the guest's doing.
    let text = format!("{error:#}");
    if text.contains("count too high") || text.contains("exceeds the limit") {
        return PolicyFailure::new(ErrorClass::Limit, text);
    }
    PolicyFailure::new(ErrorClass::Trap, text)
}

/// A duration the way people write it: `5 ms`, `1.5 ms`, `250 µs`.
pub(crate) fn describe(duration: Duration) -> String {
    let micros = duration.as_micros();
    if micros.is_multiple_of(1000) {
        format!("{} ms", micros / 1000)
    } else if micros >= 1000 {
        format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
    } else {
        format!("{micros} µs")
    }
}

/// A limit a component ran into; raised from the limiter, so it arrives as the call's error.
#[derive(Debug, thiserror::Error)]
enum LimitExceeded {
    #[error("linear memory would grow to {desired} bytes; the limit is {limit}")]
    Memory { desired: usize, limit: usize },
    #[error("a table would grow to {desired} elements; the limit is {limit}")]
    Table { desired: usize, limit: usize },
}

struct Limiter {
    memory_limit: usize,
    /// Linear memory in use across all of the instance's memories.
    memory_in_use: usize,
    table_limit: usize,
    instances: usize,
}

impl Limiter {
    fn new(limits: &Limits) -> Self {
        Limiter {
            memory_limit: limits.memory_bytes,
            memory_in_use: 0,
            table_limit: limits.table_elements,
            instances: limits.instances,
        }
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self.memory_in_use - current.min(self.memory_in_use) + desired;
        if total > self.memory_limit {
            return Err(wasmtime::Error::new(LimitExceeded::Memory {
                desired: total,
                limit: self.memory_limit,
            }));
        }
        self.memory_in_use = total;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.table_limit {
            return Err(wasmtime::Error::new(LimitExceeded::Table {
                desired,
                limit: self.table_limit,
            }));
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        self.instances
    }

    fn tables(&self) -> usize {
        self.instances
    }

    fn memories(&self) -> usize {
        self.instances
    }
}

impl fmt::Debug for StoreState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StoreState")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_round_up_to_whole_ticks_plus_the_current_one() {
        let ms = Duration::from_millis;
        assert_eq!(deadline_ticks(ms(5), ms(1)), 6);
        assert_eq!(deadline_ticks(Duration::from_micros(4500), ms(1)), 6);
        assert_eq!(deadline_ticks(ms(1), ms(10)), 2);
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(describe(Duration::from_millis(5)), "5 ms");
        assert_eq!(describe(Duration::from_micros(1500)), "1.5 ms");
        assert_eq!(describe(Duration::from_micros(250)), "250 µs");
    }
}
