//! Admission control: at most one policy call per core runs at once, in the whole process.
//!
//! Deadlines are wall-clock. If more calls ran at once than the machine has cores, the
//! operating system would share the cores between them, and a tenant whose policy loops on
//! every request could push every other tenant's calls past their deadlines just by keeping
//! threads busy. With at most one running call per core, a call that has started has a core to
//! itself (as far as patrol is concerned): a looping tenant makes others wait for a slot,
//! which does not count against their deadlines, but never makes them fail. The limit is per
//! process, not per engine, because cores are.

use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::thread;

/// The process's call slots: one per core the process may use.
pub(crate) fn global() -> &'static Permits {
    static GLOBAL: OnceLock<Permits> = OnceLock::new();
    GLOBAL.get_or_init(|| Permits::new(thread::available_parallelism().map_or(2, |n| n.get())))
}

/// A counting semaphore.
pub(crate) struct Permits {
    available: Mutex<usize>,
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
            available: Mutex::new(count.max(1)),
            freed: Condvar::new(),
        }
    }

    /// Waits for a free slot and takes it.
    pub(crate) fn acquire(&self) -> Permit<'_> {
        let mut available = self.lock();
        while *available == 0 {
            available = self
                .freed
                .wait(available)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        *available -= 1;
        Permit { permits: self }
    }

    fn lock(&self) -> MutexGuard<'_, usize> {
        // The count is updated in single statements: a poisoned lock still holds a valid count.
        self.available
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        *self.permits.lock() += 1;
        self.permits.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::thread;

    use super::*;

    #[test]
    fn no_more_than_count_holders_at_once() {
        let permits = Permits::new(2);
        let running = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    for _ in 0..200 {
                        let _permit = permits.acquire();
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        thread::yield_now();
                        running.fetch_sub(1, Ordering::SeqCst);
                    }
                });
            }
        });
        assert_eq!(most.load(Ordering::SeqCst), 2);
        assert_eq!(*permits.lock(), 2);
    }
}
