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

use std::cell::Cell;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::{Instance, InstancePre};
use wasmtime::{Store, StoreContextMut, Trap, UpdateDeadline};

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

/// What a policy's store holds: its limiter and its clock. Policies import nothing, so there is
/// no host state for them to reach.
pub(crate) struct StoreState {
    limiter: Limiter,
    clock: CallClock,
}

/// A call's running time, counted in epoch ticks and measured as the thread's CPU time, and its
/// wall-clock backstop.
struct CallClock {
    /// Ticks the call may still observe while running: its deadline where the platform has no
    /// per-thread CPU clock (see `on_tick`).
    ticks_left: u64,
    deadline: Duration,
    /// How long past the deadline the call may end: a tick, since the deadline is observed at
    /// ticks, and a millisecond for the host's own work around the call.
    grace: Duration,
    started: Instant,
    /// The thread's CPU time when the call started, where the platform measures it; `None`
    /// under fuel, whose budget is the deadline.
    cpu_started: Option<Duration>,
    backstop: Duration,
}

impl CallClock {
    /// Whether the call has used more CPU time than its deadline allows. Epoch ticks interrupt
    /// a call only between instructions, so one instruction (a `memory.fill` of gigabytes) can
    /// run long without observing one: this catches it once it ends.
    fn overran(&self) -> Option<Stopped> {
        // A thread cannot use more CPU time than wall-clock time: a call that ended within its
        // deadline (and grace) of wall-clock time did not overrun it, and needs no CPU clock
        // reading, which is a system call (about 1.2 µs more than a wall-clock reading on
        // the two-core machine the benchmarks run on).
        if self.started.elapsed() <= self.deadline + self.grace {
            return None;
        }
        let used = self.cpu_used()?;
        (used > self.deadline + self.grace).then_some(Stopped::Overran {
            used,
            deadline: self.deadline,
        })
    }

    /// The CPU time the call has used so far.
    fn cpu_used(&self) -> Option<Duration> {
        Some(thread_cpu_time()?.saturating_sub(self.cpu_started?))
    }
}

/// How recent a reading of the thread's CPU clock [`thread_cpu_at`] may reuse instead of
/// reading the clock again: the most by which a call's CPU time can be undercounted.
const CPU_READING_REUSED_WITHIN: Duration = Duration::from_micros(200);

/// The calling thread's CPU time at `now` (just taken), or an overestimate of it by at most
/// [`CPU_READING_REUSED_WITHIN`]. Reading the CPU clock is a system call (about 1.2 µs on the
/// two-core machine the benchmarks run on, a quarter of a decision's cost when every call read
/// it), so a reading taken less than that long ago is reused: the thread cannot have run for
/// longer than the wall-clock time since, so that reading plus the time since is at least the
/// CPU time now. A call's CPU time counted from that estimate is short by at most the reuse
/// window, well within the deadline's grace. A thread judging decisions back to back reads the
/// clock about once per 200 µs instead of twice per decision.
fn thread_cpu_at(now: Instant) -> Option<Duration> {
    thread_local! {
        static LAST_READING: Cell<Option<(Duration, Instant)>> = const { Cell::new(None) };
    }
    LAST_READING.with(|last| {
        if let Some((cpu, at)) = last.get() {
            let since = now.saturating_duration_since(at);
            if since <= CPU_READING_REUSED_WITHIN {
                return Some(cpu + since);
            }
        }
        // Read after `now`: at `now` the thread's CPU time was at most this.
        let cpu = thread_cpu_time()?;
        last.set(Some((cpu, now)));
        Some(cpu)
    })
}

/// The calling thread's CPU time: time it spent running, not waiting.
#[cfg(unix)]
fn thread_cpu_time() -> Option<Duration> {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid `timespec` for the call to write.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    (status == 0).then(|| {
        Duration::new(
            u64::try_from(now.tv_sec).unwrap_or(0),
            u32::try_from(now.tv_nsec).unwrap_or(0),
        )
    })
}

#[cfg(not(unix))]
fn thread_cpu_time() -> Option<Duration> {
    None
}

/// Why a call was stopped by its clock.
#[derive(Debug, thiserror::Error)]
enum Stopped {
    #[error("ran for longer than its deadline of {}", describe_duration(*deadline))]
    Deadline { deadline: Duration },
    #[error(
        "took longer than {} of wall-clock time, the backstop for a machine starved of CPU",
        describe_duration(*backstop)
    )]
    Backstop { backstop: Duration },
    #[error(
        "ran for {} past its deadline of {} (in one long instruction, such as a bulk memory \
         operation, which cannot be interrupted); its answer is not used",
        describe_duration(used.saturating_sub(*deadline)),
        describe_duration(*deadline)
    )]
    Overran { used: Duration, deadline: Duration },
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

/// How the engine runs calls: how they are admitted and how they are stopped.
pub(crate) struct Sandbox {
    interruption: Interruption,
    epoch_tick: Duration,
    admission: Admission,
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
        }
    }

    /// Runs `call` for `tenant` against a fresh instance of `pre` under `limits`, once it is
    /// the tenant's turn and a call slot is free (see [`crate::permits`]). The clock starts
    /// when the slot is taken, before instantiation: instantiating runs guest code too (start
    /// functions).
    pub(crate) fn run<R>(
        &self,
        pre: &InstancePre<StoreState>,
        limits: &Limits,
        tenant: &Arc<str>,
        call: impl FnOnce(&mut Store<StoreState>, &Instance) -> wasmtime::Result<R>,
    ) -> Result<R, PolicyFailure> {
        let _slot = self.admission.acquire(tenant);
        let (mut store, instance) = self.keep(pre, limits)?;
        let answer = call(&mut store, &instance).map_err(|error| classify(&error, limits));
        // An answer that came too late is not used, however the call got past its deadline.
        if answer.is_ok()
            && let Some(overran) = store.data().clock.overran()
        {
            return Err(PolicyFailure::new(ErrorClass::Timeout, overran.to_string()));
        }
        answer
    }

    /// A fresh store and instance of `pre` under `limits`, with its clock started, for the
    /// caller to keep: [`Sandbox::run`] without the call slot and the call.
    pub(crate) fn keep(
        &self,
        pre: &InstancePre<StoreState>,
        limits: &Limits,
    ) -> Result<(Store<StoreState>, Instance), PolicyFailure> {
        let ticks = match self.interruption {
            Interruption::Epoch => deadline_ticks(limits.deadline, self.epoch_tick),
            Interruption::Fuel { .. } => u64::MAX,
        };
        // The CPU clock starts once the instance exists (see below): instantiating is the
        // host's work, which under memory pressure can cost milliseconds of kernel time that
        // are no fault of the guest's. A start function that loops is still stopped by ticks.
        let clock = CallClock {
            ticks_left: ticks,
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
        // What the host copies out of the guest is bounded as it is copied: wasmtime charges
        // every string's bytes and every list's items (at their size in the host) against this
        // fuel before copying them, and fails the call when it runs out. So a guest returning
        // sixteen million actions costs one comparison, not a copy outside its deadline.
        store.set_hostcall_fuel(limits.output_bytes);
        store.epoch_deadline_callback(on_tick);
        store.set_epoch_deadline(1);
        if let Interruption::Fuel { units_per_ms } = self.interruption {
            store
                .set_fuel(fuel_budget(limits.deadline, units_per_ms))
                .map_err(|error| {
                    PolicyFailure::new(ErrorClass::Unavailable, format!("{error:#}"))
                })?;
        }
        let instance = pre
            .instantiate(&mut store)
            .map_err(|error| classify(&error, limits))?;
        if let Interruption::Epoch = self.interruption {
            let now = Instant::now();
            let clock = &mut store.data_mut().clock;
            clock.started = now;
            clock.cpu_started = thread_cpu_at(now);
        }
        Ok((store, instance))
    }
}

/// Called at each epoch tick a running call observes.
fn on_tick(mut store: StoreContextMut<'_, StoreState>) -> wasmtime::Result<UpdateDeadline> {
    let clock = &mut store.data_mut().clock;
    // A call is stopped when it has observed its deadline's worth of ticks while running
    // WebAssembly and, where the thread's CPU time is measured, has used its deadline's worth
    // of CPU time too. Each guards the other's blind spot: a call descheduled again and again
    // observes a tick at every resumption while barely using CPU, and the CPU clock counts the
    // host's own work in the call (lowering, lifting, page faults) that no tick sees. A call
    // that saw few ticks in one long instruction is refused when it returns (`overran`).
    clock.ticks_left = clock.ticks_left.saturating_sub(1);
    let ticks_say_past = clock.ticks_left == 0;
    let past_deadline = match clock.cpu_used() {
        Some(used) => ticks_say_past && used >= clock.deadline,
        None => ticks_say_past,
    };
    if past_deadline {
        return Err(wasmtime::Error::new(Stopped::Deadline {
            deadline: clock.deadline,
        }));
    }
    // Only a call that has not used its deadline is starved of CPU when the backstop strikes.
    if clock.started.elapsed() > clock.backstop {
        return Err(wasmtime::Error::new(Stopped::Backstop {
            backstop: clock.backstop,
        }));
    }
    Ok(UpdateDeadline::Continue(1))
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
    fn fuel_budgets_scale_with_the_deadline() {
        assert_eq!(fuel_budget(Duration::from_millis(5), 1_000_000), 5_000_000);
        assert_eq!(fuel_budget(Duration::from_micros(1500), 1000), 1500);
    }
}
