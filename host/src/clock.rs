//! A policy call's clock and what its store holds.
//!
//! A call's running time is counted in epoch ticks and measured as the thread's CPU time, and a
//! wall-clock backstop bounds it whatever the machine does; see [`crate::sandbox`] for how the
//! deadline is enforced.

use std::cell::Cell;
use std::fmt;
use std::time::{Duration, Instant};

use wasmtime::{StoreContextMut, UpdateDeadline};

use crate::describe::describe_duration;
use crate::limiter::Limiter;

/// What a policy's store holds: its limiter and its clock. Policies import nothing, so there is
/// no host state for them to reach.
pub(crate) struct StoreState {
    pub(crate) limiter: Limiter,
    pub(crate) clock: CallClock,
}

/// A call's running time, counted in epoch ticks and measured as the thread's CPU time, and its
/// wall-clock backstop.
pub(crate) struct CallClock {
    /// Ticks the call may still observe while running: its deadline where the platform has no
    /// per-thread CPU clock (see `on_tick`).
    pub(crate) ticks_left: u64,
    pub(crate) deadline: Duration,
    /// How long past the deadline the call may end: a tick, since the deadline is observed at
    /// ticks, and a millisecond for the host's own work around the call.
    pub(crate) grace: Duration,
    pub(crate) started: Instant,
    /// The thread's CPU time when the call started, where the platform measures it; `None`
    /// under fuel, whose budget is the deadline.
    pub(crate) cpu_started: Option<Duration>,
    pub(crate) backstop: Duration,
}

impl CallClock {
    /// Whether the call has used more CPU time than its deadline allows. Epoch ticks interrupt
    /// a call only between instructions, so one instruction (a `memory.fill` of gigabytes) can
    /// run long without observing one: this catches it once it ends.
    pub(crate) fn overran(&self) -> Option<Stopped> {
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
pub(crate) fn thread_cpu_at(now: Instant) -> Option<Duration> {
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
pub(crate) enum Stopped {
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

/// Called at each epoch tick a running call observes.
pub(crate) fn on_tick(
    mut store: StoreContextMut<'_, StoreState>,
) -> wasmtime::Result<UpdateDeadline> {
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

impl fmt::Debug for StoreState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StoreState")
    }
}
