//! Admission control: at most one policy call per core runs at once, in the whole process.
//!
//! Deadlines count running time, but cores are shared: if more calls ran at once than the
//! machine has cores, the operating system would share the cores between them, and a tenant
//! whose policy loops on every request could slow every other tenant's calls just by keeping
//! threads busy. With at most one running call per core, a call that has started has a core to
//! itself (as far as patrol is concerned): a looping tenant makes others wait for a slot, which
//! does not count against their deadlines, but never makes them fail. The limit is per process,
//! not per engine, because cores are.
//!
//! Taking and returning a free slot is one atomic operation each; the mutex and condition
//! variable are only touched when a caller has to wait.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};
use std::thread;

/// The process's call slots: one per core the process may use.
pub(crate) fn global() -> &'static Permits {
    static GLOBAL: OnceLock<Permits> = OnceLock::new();
    GLOBAL.get_or_init(|| Permits::new(thread::available_parallelism().map_or(2, |n| n.get())))
}

/// A counting semaphore.
pub(crate) struct Permits {
    available: AtomicUsize,
    /// Callers blocked in [`Permits::acquire`].
    waiting: AtomicUsize,
    lock: Mutex<()>,
    freed: Condvar,
}

/// One slot; given back when dropped.
pub(crate) struct Permit<'a> {
    permits: &'a Permits,
}

impl Permits {
    /// `count` slots (at least one).
    pub(crate) fn new(count: usize) -> Self {
        Permits {
            available: AtomicUsize::new(count.max(1)),
            waiting: AtomicUsize::new(0),
            lock: Mutex::new(()),
            freed: Condvar::new(),
        }
    }

    /// Waits for a free slot and takes it.
    pub(crate) fn acquire(&self) -> Permit<'_> {
        if self.try_take() {
            return Permit { permits: self };
        }
        let mut guard = self
            .lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.waiting.fetch_add(1, Ordering::SeqCst);
        // Checked again under the lock: a slot given back before `waiting` was raised is seen
        // here, and one given back after it finds `waiting` raised and notifies under the lock,
        // which it can only take once this thread waits.
        while !self.try_take() {
            guard = self
                .freed
                .wait(guard)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        Permit { permits: self }
    }

    fn try_take(&self) -> bool {
        self.available
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }

    fn give_back(&self) {
        self.available.fetch_add(1, Ordering::SeqCst);
        if self.waiting.load(Ordering::SeqCst) > 0 {
            let _guard = self
                .lock
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            self.freed.notify_one();
        }
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.permits.give_back();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::thread;

    use super::*;

    #[test]
    fn no_more_than_count_holders_at_once_and_every_waiter_gets_through() {
        let permits = Permits::new(2);
        let running = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        let done = AtomicUsize::new(0);
        thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    for _ in 0..2000 {
                        let _permit = permits.acquire();
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        thread::yield_now();
                        running.fetch_sub(1, Ordering::SeqCst);
                        done.fetch_add(1, Ordering::SeqCst);
                    }
                });
            }
        });
        assert_eq!(most.load(Ordering::SeqCst), 2);
        assert_eq!(done.load(Ordering::SeqCst), 16_000);
        assert_eq!(permits.available.load(Ordering::SeqCst), 2);
        assert_eq!(permits.waiting.load(Ordering::SeqCst), 0);
    }
}
