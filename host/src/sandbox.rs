//! Running one policy call in a fresh, limited instance.
//!
//! Every call (`metadata`, `validate-settings`, `evaluate`) gets its own `Store` and instance,
//! made from the component's pre-instantiated form and dropped afterwards, so nothing a
//! component does survives the call. The store carries the call's limits:
//!
//! - a **deadline** on the CPU time the call uses. The engine's epoch advances every tick (see
//!   the engine); a running call counts the ticks it observes and reads its thread's CPU
//!   time at each, and is stopped once both say the deadline has passed (ticks alone where
//!   there is no per-thread CPU clock). A call that is descheduled uses no CPU time, so a busy
//!   machine delays calls without failing them.
//!   One instruction (a bulk `memory.fill`) cannot be interrupted, so an answer that arrives
//!   past the deadline is refused. A **wall-clock backstop**, [`BACKSTOP_FACTOR`] times the
//!   deadline but at least [`MIN_BACKSTOP`], still bounds every call on a machine starved of
//!   CPU. Under [`Interruption::Fuel`] the deadline is a fuel budget instead, with the same
//!   backstop.
//! - a resource limiter for memories, tables and instances (see [`crate::limiter`]);
//! - the wasm stack limit of the engine the component was compiled for;
//! - the **output limit**, as wasmtime's hostcall fuel: what the call returns is charged as it
//!   is copied out of the guest, before each string or list is copied.
//!
//! Calls are admitted fairly: at most one per core at once, tenants taking turns, and no tenant
//! holding every slot (see [`crate::permits`]). Whatever goes wrong comes back as a
//! [`PolicyFailure`] with an [`ErrorClass`], never as a panic.

use std::fmt;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::{Instance, InstancePre};
use wasmtime::{Store, Trap};

use crate::ahead::{self, Held, HeldBudget, Instantiable};
use crate::clock::{CallClock, Stopped, StoreState, on_tick, thread_cpu_at};
use crate::decision::ErrorClass;
use crate::describe::describe_duration;
use crate::limiter::{LimitExceeded, Limiter};
use crate::limits::Limits;
use crate::permits::Admission;
use crate::runtime::Interruption;

/// The wall-clock backstop, as a multiple of a call's deadline...
pub const BACKSTOP_FACTOR: u32 = 20;
/// ...and at least this long: the backstop is for machines starved of CPU, not for busy ones.
pub const MIN_BACKSTOP: Duration = Duration::from_secs(1);

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

/// How the engine runs calls: how they are admitted and how they are stopped.
pub(crate) struct Sandbox {
    interruption: Interruption,
    epoch_tick: Duration,
    admission: Admission,
    held: Arc<HeldBudget>,
}

impl Sandbox {
    /// A sandbox matching an engine configured with `interruption` and `epoch_tick`, running at
    /// most `calls_at_once` calls at once and `calls_per_tenant` of any one tenant.
    pub(crate) fn new(
        interruption: Interruption,
        epoch_tick: Duration,
        calls_at_once: usize,
        calls_per_tenant: usize,
    ) -> Self {
        Sandbox {
            interruption,
            epoch_tick,
            admission: Admission::new(calls_at_once, calls_per_tenant),
            held: HeldBudget::new(ahead::held_instances()),
        }
    }

    /// Runs `call` for `tenant` against a fresh instance of `pre` under `limits`, once it is
    /// the tenant's turn and a call slot is free (see [`crate::permits`]). On an
    /// [`EvaluationThread`](crate::EvaluationThread) the instance may have been prepared
    /// before (it has run nothing but its instantiation), and is dropped at the thread's next
    /// tidy rather than now. The clock starts when the instance is ready for the call; a cold
    /// instance's instantiation runs under the clock's ticks too (start functions).
    pub(crate) fn run<R>(
        self: &Arc<Self>,
        pre: &Instantiable,
        limits: &Limits,
        tenant: &Arc<str>,
        call: impl FnOnce(&mut Store<StoreState>, &Instance) -> wasmtime::Result<R>,
    ) -> Result<R, PolicyFailure> {
        let _slot = self.admission.acquire(tenant);
        let prepare = || -> ahead::Prepare {
            let (sandbox, pre, limits) = (Arc::clone(self), pre.pre().clone(), *limits);
            Rc::new(move || sandbox.keep(&pre, &limits).ok())
        };
        let mut held = match ahead::take(pre, limits, &self.held, prepare) {
            Some(mut held) => {
                self.arm(&mut held.store, limits)?;
                held
            }
            None => {
                let (store, instance) = self.keep(pre.pre(), limits)?;
                Held::inline(store, instance)
            }
        };
        let answer =
            call(&mut held.store, &held.instance).map_err(|error| classify(&error, limits));
        // An answer that came too late is not used, however the call got past its deadline.
        let overran = answer
            .is_ok()
            .then(|| held.store.data().clock.overran())
            .flatten();
        ahead::spend(held, &self.held);
        if let Some(overran) = overran {
            return Err(PolicyFailure::new(ErrorClass::Timeout, overran.to_string()));
        }
        answer
    }

    /// Whether a call for `tenant` would wait for its turn or a slot, were it made now.
    pub(crate) fn would_wait(&self, tenant: &Arc<str>) -> bool {
        self.admission.would_wait(tenant)
    }

    /// A fresh store and instance of `pre` under `limits`, with its clock started, for the
    /// caller to keep: [`Sandbox::run`] without the call slot and the call.
    pub(crate) fn keep(
        &self,
        pre: &InstancePre<StoreState>,
        limits: &Limits,
    ) -> Result<(Store<StoreState>, Instance), PolicyFailure> {
        let clock = CallClock {
            ticks_left: self.deadline_ticks(limits),
            deadline: limits.deadline,
            grace: self.epoch_tick + Duration::from_millis(1),
            started: Instant::now(),
            cpu_started: None,
            backstop: (limits.deadline * BACKSTOP_FACTOR).max(MIN_BACKSTOP),
        };
        let mut store = Store::new(
            pre.engine(),
            StoreState {
                limiter: Limiter::new(limits),
                clock,
            },
        );
        store.limiter(|state| &mut state.limiter);
        store.epoch_deadline_callback(on_tick);
        self.set_budgets(&mut store, limits)?;
        let instance = pre
            .instantiate(&mut store)
            .map_err(|error| classify(&error, limits))?;
        // The CPU clock starts once the instance exists: instantiating is the host's work,
        // which under memory pressure can cost milliseconds of kernel time that are no fault of
        // the guest's. A start function that loops is still stopped by ticks.
        if let Interruption::Epoch = self.interruption {
            let now = Instant::now();
            let clock = &mut store.data_mut().clock;
            clock.started = now;
            clock.cpu_started = thread_cpu_at(now);
        }
        Ok((store, instance))
    }

    /// Readies a prepared instance's store for its call: the call's budgets, set afresh as
    /// though the instance had just been made, and its clock started now.
    fn arm(&self, store: &mut Store<StoreState>, limits: &Limits) -> Result<(), PolicyFailure> {
        self.set_budgets(store, limits)?;
        let now = Instant::now();
        let ticks_left = self.deadline_ticks(limits);
        let interruption = self.interruption;
        let clock = &mut store.data_mut().clock;
        clock.ticks_left = ticks_left;
        clock.started = now;
        clock.cpu_started = match interruption {
            Interruption::Epoch => thread_cpu_at(now),
            Interruption::Fuel { .. } => None,
        };
        Ok(())
    }

    /// Sets a store's budgets for one call: output, epoch deadline and fuel.
    fn set_budgets(
        &self,
        store: &mut Store<StoreState>,
        limits: &Limits,
    ) -> Result<(), PolicyFailure> {
        // What the host copies out of the guest is bounded as it is copied: wasmtime charges
        // every string's bytes and every list's items (at their size in the host) against this
        // fuel before copying them, and fails the call when it runs out. So a guest returning
        // sixteen million actions costs one comparison, not a copy outside its deadline.
        store.set_hostcall_fuel(limits.output_bytes);
        store.set_epoch_deadline(1);
        if let Interruption::Fuel { units_per_ms } = self.interruption {
            store
                .set_fuel(fuel_budget(limits.deadline, units_per_ms))
                .map_err(|error| {
                    PolicyFailure::new(ErrorClass::Unavailable, format!("{error:#}"))
                })?;
        }
        Ok(())
    }

    /// The ticks a call may observe.
    fn deadline_ticks(&self, limits: &Limits) -> u64 {
        match self.interruption {
            Interruption::Epoch => deadline_ticks(limits.deadline, self.epoch_tick),
            Interruption::Fuel { .. } => u64::MAX,
        }
    }
}

/// The deadline in ticks: rounded up to whole ticks, plus one for the tick in progress when
/// the call starts.
fn deadline_ticks(deadline: Duration, tick: Duration) -> u64 {
    let tick = tick.as_nanos().max(1);
    u64::try_from(deadline.as_nanos().div_ceil(tick)).unwrap_or(u64::MAX - 1) + 1
}

/// The deadline as fuel.
fn fuel_budget(deadline: Duration, units_per_ms: u64) -> u64 {
    let budget = deadline
        .as_micros()
        .saturating_mul(u128::from(units_per_ms))
        / 1000;
    u64::try_from(budget).unwrap_or(u64::MAX)
}

/// Turns a wasmtime error into a failure class and a sentence.
/// How wasmtime says a call's answer ran out of hostcall fuel (its error type is private); the
/// hostile suite's `flood-actions` test fails if a wasmtime upgrade changes it.
const HOSTCALL_FUEL_EXHAUSTED: &str = "fuel allocated for hostcalls has been exhausted";

fn classify(error: &wasmtime::Error, limits: &Limits) -> PolicyFailure {
    if let Some(stopped) = error.downcast_ref::<Stopped>() {
        return PolicyFailure::new(ErrorClass::Timeout, stopped.to_string());
    }
    if let Some(exceeded) = error.downcast_ref::<LimitExceeded>() {
        let class = match exceeded {
            LimitExceeded::Memory { .. } => ErrorClass::Memory,
            LimitExceeded::Table { .. } => ErrorClass::Limit,
        };
        return PolicyFailure::new(class, exceeded.to_string());
    }
    if let Some(trap) = error.downcast_ref::<Trap>() {
        return match trap {
            Trap::OutOfFuel => PolicyFailure::new(
                ErrorClass::Timeout,
                format!(
                    "used up its fuel, the budget for {} of work",
                    describe_duration(limits.deadline)
                ),
            ),
            Trap::StackOverflow => PolicyFailure::new(
                ErrorClass::StackOverflow,
                format!(
                    "exhausted its wasm stack of {} KiB",
                    limits.stack_bytes >> 10
                ),
            ),
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
    if text.contains(HOSTCALL_FUEL_EXHAUSTED) {
        return PolicyFailure::new(
            ErrorClass::OutputTooLarge,
            format!(
                "returned more than its output limit of {} bytes (nothing past the limit was \
                 copied)",
                limits.output_bytes
            ),
        );
    }
    if text.contains("count too high") || text.contains("exceeds the limit") {
        return PolicyFailure::new(ErrorClass::Limit, text);
    }
    PolicyFailure::new(ErrorClass::Trap, text)
}

impl fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sandbox")
            .field("interruption", &self.interruption)
            .field("epoch_tick", &self.epoch_tick)
            .field("running", &self.admission.running())
            .finish()
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
    fn fuel_budgets_scale_with_the_deadline() {
        assert_eq!(fuel_budget(Duration::from_millis(5), 1_000_000), 5_000_000);
        assert_eq!(fuel_budget(Duration::from_micros(1500), 1000), 1500);
    }
}
