//! Admission control: how many policy calls run at once, and whose turn is next.
//!
//! Deadlines count running time, but cores are shared: if more calls ran at once than the
//! machine has cores, the operating system would share the cores between them, and a tenant
//! whose policy loops on every request could slow every other tenant's calls just by keeping
//! threads busy. So an [`Engine`](crate::Engine) runs at most
//! [`EngineConfig::calls_at_once`](crate::EngineConfig) calls at once (one per core by default),
//! and a call that has started has a core to itself, as far as patrol is concerned.
//!
//! That alone lets one tenant take every slot: under a flood of requests to a tenant whose
//! policy runs until its deadline, everyone else queues behind it. Two rules prevent it:
//!
//! - **a cap per tenant**: one tenant's calls hold at most
//!   [`EngineConfig::calls_per_tenant`](crate::EngineConfig) slots (by default all but one), so
//!   there is always a slot another tenant can have;
//! - **fair queueing**: when a slot frees up and calls are waiting, it goes to the next tenant
//!   in turn (round robin over the tenants with waiting calls), not to whoever asked first, so
//!   a tenant with a thousand waiting calls gets one slot in turn like a tenant with one.
//!
//! Every caller names its tenant (a key); calls made while loading, before a tenant exists, use
//! the tenant being loaded, and compiling a shared component uses [`LOADING`].

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, Thread};

/// The key of calls made while compiling a component, on no tenant's behalf.
pub(crate) const LOADING: &str = "";

/// The slots, the cap per tenant, and the queue.
pub(crate) struct Admission {
    total: usize,
    per_tenant: usize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    running: usize,
    /// Calls running, by tenant (tenants with none are removed).
    running_by: HashMap<Arc<str>, usize>,
    /// Waiting calls, by tenant, first come first served within a tenant.
    waiting: HashMap<Arc<str>, VecDeque<Waiter>>,
    /// Tenants with waiting calls, in turn.
    turn: VecDeque<Arc<str>>,
    /// Tickets given a slot, not yet picked up by their waiter.
    granted: Vec<u64>,
    next_ticket: u64,
}

/// A waiting call: its ticket, and its thread, woken (alone) when the ticket is granted. Waking
/// only the granted waiter matters under a flood: a condition variable's `notify_all` would
/// wake every waiting thread of every tenant at each grant, and on a small machine those
/// wake-ups take the cores the running calls need.
struct Waiter {
    ticket: u64,
    thread: Thread,
}

/// One slot; given back when dropped.
pub(crate) struct Permit<'a> {
    admission: &'a Admission,
    tenant: Arc<str>,
}

impl Admission {
    /// `total` slots (at least one), at most `per_tenant` (at least one) for any one tenant.
    pub(crate) fn new(total: usize, per_tenant: usize) -> Self {
        Admission {
            total: total.max(1),
            per_tenant: per_tenant.clamp(1, total.max(1)),
            state: Mutex::new(State::default()),
        }
    }

    /// Waits for `tenant`'s turn and a free slot, and takes it.
    pub(crate) fn acquire(&self, tenant: &Arc<str>) -> Permit<'_> {
        let mut state = self.lock();
        // Straight in when nobody waits and there is room: the common case, one lock.
        if state.turn.is_empty() && self.has_room(&state, tenant) {
            state.start(tenant);
            return Permit {
                admission: self,
                tenant: Arc::clone(tenant),
            };
        }
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        let queue = state.waiting.entry(Arc::clone(tenant)).or_default();
        let first = queue.is_empty();
        queue.push_back(Waiter {
            ticket,
            thread: thread::current(),
        });
        if first {
            state.turn.push_back(Arc::clone(tenant));
        }
        self.dispatch(&mut state);
        loop {
            if let Some(at) = state.granted.iter().position(|&t| t == ticket) {
                state.granted.swap_remove(at);
                return Permit {
                    admission: self,
                    tenant: Arc::clone(tenant),
                };
            }
            // Woken by `dispatch` when the ticket is granted (a wake-up that comes before the
            // park, or a spurious one, just goes round the loop again).
            drop(state);
            thread::park();
            state = self.lock();
        }
    }

    /// Whether a call for `tenant` would wait for its turn or a slot, were it made now.
    pub(crate) fn would_wait(&self, tenant: &Arc<str>) -> bool {
        let state = self.lock();
        !(state.turn.is_empty() && self.has_room(&state, tenant))
    }

    /// Calls running now, for metrics and tests.
    pub(crate) fn running(&self) -> usize {
        self.lock().running
    }

    fn has_room(&self, state: &State, tenant: &Arc<str>) -> bool {
        state.running < self.total
            && state.running_by.get(tenant).copied().unwrap_or(0) < self.per_tenant
    }

    /// Gives free slots to waiting calls, one tenant at a time, in turn.
    fn dispatch(&self, state: &mut State) {
        let mut passed_over = 0;
        while state.running < self.total && passed_over < state.turn.len() {
            let Some(tenant) = state.turn.pop_front() else {
                break;
            };
            if !self.has_room(state, &tenant) {
                // At its cap: its calls wait for one of its own to end.
                state.turn.push_back(tenant);
                passed_over += 1;
                continue;
            }
            passed_over = 0;
            let queue = state
                .waiting
                .get_mut(&tenant)
                .expect("a tenant in turn waits");
            let waiter = queue.pop_front().expect("a tenant in turn has a ticket");
            if queue.is_empty() {
                state.waiting.remove(&tenant);
            } else {
                state.turn.push_back(Arc::clone(&tenant));
            }
            state.start(&tenant);
            state.granted.push(waiter.ticket);
            waiter.thread.unpark();
        }
    }

    fn release(&self, tenant: &Arc<str>) {
        let mut state = self.lock();
        state.running -= 1;
        if let Some(count) = state.running_by.get_mut(tenant) {
            *count -= 1;
            if *count == 0 {
                state.running_by.remove(tenant);
            }
        }
        self.dispatch(&mut state);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock; were it poisoned, the counts are still whole.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl State {
    fn start(&mut self, tenant: &Arc<str>) {
        self.running += 1;
        *self.running_by.entry(Arc::clone(tenant)).or_default() += 1;
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.admission.release(&self.tenant);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::thread;
    use std::time::Duration;

    use super::*;

    #[test]
    fn no_more_than_the_total_nor_the_cap_at_once_and_every_waiter_gets_through() {
        let admission = Admission::new(3, 2);
        let running = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        let running_a = AtomicUsize::new(0);
        let most_a = AtomicUsize::new(0);
        let done = AtomicUsize::new(0);
        let (a, b): (Arc<str>, Arc<str>) = (Arc::from("a"), Arc::from("b"));
        thread::scope(|scope| {
            for worker in 0..8 {
                let tenant = if worker % 2 == 0 { &a } else { &b };
                let (running, most, running_a, most_a, done, admission) =
                    (&running, &most, &running_a, &most_a, &done, &admission);
                scope.spawn(move || {
                    for _ in 0..1000 {
                        let _permit = admission.acquire(tenant);
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        if &**tenant == "a" {
                            let now = running_a.fetch_add(1, Ordering::SeqCst) + 1;
                            most_a.fetch_max(now, Ordering::SeqCst);
                        }
                        thread::yield_now();
                        if &**tenant == "a" {
                            running_a.fetch_sub(1, Ordering::SeqCst);
                        }
                        running.fetch_sub(1, Ordering::SeqCst);
                        done.fetch_add(1, Ordering::SeqCst);
                    }
                });
            }
        });
        assert_eq!(most.load(Ordering::SeqCst), 3);
        assert_eq!(most_a.load(Ordering::SeqCst), 2);
        assert_eq!(done.load(Ordering::SeqCst), 8000);
        assert_eq!(admission.running(), 0);
        let state = admission.lock();
        assert!(state.waiting.is_empty() && state.turn.is_empty() && state.granted.is_empty());
    }

    #[test]
    fn a_tenant_at_its_cap_leaves_a_slot_for_another_and_turns_alternate() {
        let admission = Admission::new(2, 1);
        let (greedy, polite): (Arc<str>, Arc<str>) = (Arc::from("greedy"), Arc::from("polite"));
        let held = admission.acquire(&greedy);
        // The greedy tenant is at its cap: another of its calls waits, while the polite
        // tenant's goes straight in.
        thread::scope(|scope| {
            let waiting = scope.spawn(|| {
                let _second = admission.acquire(&greedy);
            });
            thread::sleep(Duration::from_millis(20));
            assert!(
                !waiting.is_finished(),
                "the cap holds the second greedy call"
            );
            {
                let _polite = admission.acquire(&polite);
                assert_eq!(admission.running(), 2);
            }
            drop(held);
            waiting.join().unwrap();
        });
        assert_eq!(admission.running(), 0);
    }
}
