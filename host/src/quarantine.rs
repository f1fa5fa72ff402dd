//! The circuit breaker that sets aside a custom policy that keeps failing; see
//! [`Quarantine`](crate::Quarantine) for the rule.
//!
//! A policy that times out on every request costs a core for its whole deadline each time, and
//! refuses every request anyway (or, with `on_error = "allow"`, allows it after the wait). Once
//! it has failed `after_failures` times in a row, running it again only spends cores: its
//! decisions fail closed at once with `policyQuarantined` until the cooldown has passed, then one
//! call tries it again.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::decision::ErrorClass;
use crate::sandbox::PolicyFailure;

/// A circuit breaker for custom policies: after `after_failures` failures in a row (timeouts,
/// traps, memory, malformed output...), a policy is quarantined for `cooldown`: its decisions
/// fail closed at once with `policyQuarantined`, without running it or spending a core. After
/// the cooldown one call is let through (half-open): if it succeeds the policy is back, if it
/// fails the quarantine starts again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quarantine {
    /// Failures in a row that quarantine a policy; 0 turns quarantine off. Default 5.
    pub after_failures: u32,
    /// How long a quarantine lasts before the next try. Default 30 s.
    pub cooldown: Duration,
}

impl Default for Quarantine {
    fn default() -> Self {
        Quarantine {
            after_failures: 5,
            cooldown: Duration::from_secs(30),
        }
    }
}

/// One policy's breaker.
#[derive(Debug)]
pub(crate) struct Breaker {
    rule: Quarantine,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    failures_in_a_row: u32,
    /// Set while quarantined: since when.
    since: Option<Instant>,
    /// Whether the one call allowed after the cooldown is running.
    trying: bool,
    /// The last failure, as people read it.
    last_failure: String,
}

/// A quarantined policy, as `/readyz` and the metrics show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantined {
    /// Failures in a row so far.
    pub failures_in_a_row: u32,
    /// The last of them.
    pub last_failure: String,
    /// How long until the next try (zero: the next call tries).
    pub retry_in: Duration,
}

impl Breaker {
    pub(crate) fn new(rule: Quarantine) -> Self {
        Breaker {
            rule,
            state: Mutex::new(State::default()),
        }
    }

    /// Whether to run the policy now: `Err` with the failure to report when it is quarantined.
    pub(crate) fn admit(&self) -> Result<(), PolicyFailure> {
        let mut state = self.lock();
        let Some(since) = state.since else {
            return Ok(());
        };
        if since.elapsed() >= self.rule.cooldown && !state.trying {
            state.trying = true;
            return Ok(());
        }
        Err(PolicyFailure::new(
            ErrorClass::Quarantined,
            format!(
                "quarantined after {} failures in a row (the last: {}); not run again for {}",
                state.failures_in_a_row,
                state.last_failure,
                crate::describe::describe_duration(
                    self.rule.cooldown.saturating_sub(since.elapsed())
                ),
            ),
        ))
    }

    /// Records how a call that [`Breaker::admit`] let through ended.
    pub(crate) fn record<T>(&self, answer: &Result<T, PolicyFailure>) {
        if self.rule.after_failures == 0 {
            return;
        }
        let mut state = self.lock();
        state.trying = false;
        match answer {
            Ok(_) => *state = State::default(),
            Err(failure) => {
                state.failures_in_a_row = state.failures_in_a_row.saturating_add(1);
                state.last_failure = failure.to_string();
                if state.failures_in_a_row >= self.rule.after_failures {
                    // Quarantined, or again after a failed try: the cooldown starts over.
                    state.since = Some(Instant::now());
                }
            }
        }
    }

    /// The quarantine, if the policy is in one.
    pub(crate) fn quarantined(&self) -> Option<Quarantined> {
        let state = self.lock();
        let since = state.since?;
        Some(Quarantined {
            failures_in_a_row: state.failures_in_a_row,
            last_failure: state.last_failure.clone(),
            retry_in: self.rule.cooldown.saturating_sub(since.elapsed()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure() -> Result<(), PolicyFailure> {
        Err(PolicyFailure::new(ErrorClass::Timeout, "ran too long"))
    }

    #[test]
    fn failures_in_a_row_quarantine_and_a_successful_try_ends_it() {
        let breaker = Breaker::new(Quarantine {
            after_failures: 3,
            cooldown: Duration::from_millis(50),
        });
        for _ in 0..2 {
            breaker.admit().unwrap();
            breaker.record(&failure());
        }
        // A success in between starts the count again.
        breaker.admit().unwrap();
        breaker.record(&Ok(()));
        for _ in 0..3 {
            breaker.admit().unwrap();
            breaker.record(&failure());
        }
        let refused = breaker.admit().unwrap_err();
        assert_eq!(refused.class, ErrorClass::Quarantined);
        assert!(
            refused.detail.starts_with(
                "quarantined after 3 failures in a row (the last: timeout: ran too long)"
            ),
            "{refused}"
        );
        assert!(breaker.quarantined().is_some());
        std::thread::sleep(Duration::from_millis(60));
        // One try after the cooldown; others meanwhile are still refused.
        breaker.admit().unwrap();
        assert!(breaker.admit().is_err());
        breaker.record(&failure());
        assert!(breaker.admit().is_err(), "a failed try quarantines again");
        std::thread::sleep(Duration::from_millis(60));
        breaker.admit().unwrap();
        breaker.record(&Ok(()));
        assert!(breaker.quarantined().is_none());
        breaker.admit().unwrap();
    }
}
