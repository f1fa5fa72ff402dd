//! A policy that misbehaves on purpose, for the sandbox tests: its settings choose how.
//!
//! Everything here is what a hostile or broken tenant component could do: never return,
//! allocate without end, recurse without end, panic, return enormous or malformed answers, or
//! try to keep state between requests. The host must survive all of it and say what happened.

use std::hint::black_box;
use std::sync::atomic::{AtomicU32, Ordering};

use patrol_guest::{Operation, Policy, Request, Verdict};
use serde::{Deserialize, Serialize};

/// The settings: which misbehaviour, and a label to echo.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// What to do.
    pub behaviour: Behaviour,
    /// Echoed by `echo-settings`.
    #[serde(default)]
    pub label: String,
}

/// The misbehaviours.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Behaviour {
    /// Behave: allow everything.
    Allow,
    /// Never return from `evaluate`.
    EndlessLoop,
    /// Reserve a mebibyte at a time until memory is refused.
    MemoryBomb,
    /// Fill 8 MiB of memory again and again: little fuel per iteration, much time.
    BulkMemoryLoop,
    /// Recurse until the stack is exhausted.
    DeepRecursion,
    /// Panic, which traps.
    Panic,
    /// Return one violation with a 1 MiB message.
    HugeMessage,
    /// Return 10,000 violations.
    ManyViolations,
    /// Return a violation whose code breaks the contract.
    BadCode,
    /// Allow, but with a `valid-to` later than requested.
    LaterValidTo,
    /// Never return from `validate-settings`.
    LoopInValidate,
    /// Count calls in a global; report the count (always 1 in a fresh instance).
    CountCalls,
    /// Report the settings' label and the request's user.
    EchoSettings,
    /// Return a verdict with fifteen million actions: one `memory.fill` in the guest, a 15 MB
    /// list for a host that copies before it checks.
    FloodActions,
    /// Refuse the settings with a message full of terminal control sequences, forging a
    /// line that says all is well.
    EscapeSettingsError,
    /// Refuse the settings with a 48 MiB message.
    HugeSettingsError,
    /// Fill 60 MiB of memory with one `memory.fill`, which no epoch check can interrupt, then
    /// allow: the answer comes long after a short deadline.
    OneLongInstruction,
}

/// Calls of `evaluate` this instance has seen.
static CALLS: AtomicU32 = AtomicU32::new(0);

/// The policy.
pub struct Hostile;

impl Policy for Hostile {
    const NAME: &'static str = "hostile";
    const VERSION: &'static str = "0.0.1";
    const DESCRIPTION: &'static str = "Misbehaves on purpose, for tests.";
    const OPERATIONS: &'static [Operation] = &[
        Operation::Create,
        Operation::Regenerate,
        Operation::Use,
        Operation::Leak,
    ];
    type Settings = Settings;

    fn check_settings(settings: &Settings) -> Result<(), String> {
        if settings.behaviour == Behaviour::LoopInValidate {
            endless_loop();
        }
        if settings.behaviour == Behaviour::HugeSettingsError {
            return Err("x".repeat(48 << 20));
        }
        if settings.behaviour == Behaviour::EscapeSettingsError {
            return Err("\x1b[2J\x1b[H\rerror: tenant is valid\x07\nsecond line".to_string());
        }
        Ok(())
    }

    fn evaluate(settings: &Settings, request: &Request) -> Verdict {
        match settings.behaviour {
            Behaviour::Allow
            | Behaviour::LoopInValidate
            | Behaviour::EscapeSettingsError
            | Behaviour::HugeSettingsError => Verdict::allow(),
            Behaviour::FloodActions => Verdict {
                violations: Vec::new(),
                actions: vec![patrol_guest::Action::RevokeToken; 15 << 20],
                adjusted_valid_to: None,
            },
            Behaviour::OneLongInstruction => {
                let mut buffer: Vec<u8> = Vec::with_capacity(60 << 20);
                // SAFETY: the buffer has capacity for every byte written, and `u8` has no
                // invalid values.
                unsafe {
                    buffer
                        .as_mut_ptr()
                        .write_bytes(black_box(7), buffer.capacity())
                };
                black_box(&mut buffer);
                Verdict::allow()
            }
            Behaviour::EndlessLoop => endless_loop(),
            Behaviour::MemoryBomb => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(Vec::with_capacity(1 << 20));
                    black_box(&hoard);
                }
            }
            Behaviour::BulkMemoryLoop => {
                let mut buffer: Vec<u8> = Vec::with_capacity(8 << 20);
                let mut byte = 0u8;
                loop {
                    byte = black_box(byte.wrapping_add(1));
                    // SAFETY: the buffer has capacity for all 8 MiB written, and `u8` has no
                    // invalid values.
                    unsafe { buffer.as_mut_ptr().write_bytes(byte, buffer.capacity()) };
                    black_box(&mut buffer);
                }
            }
            Behaviour::DeepRecursion => {
                Verdict::deny("depth", recurse(0, black_box(u64::MAX)).to_string())
            }
            Behaviour::Panic => panic!("this policy panics on purpose"),
            Behaviour::HugeMessage => Verdict::deny("huge", "x".repeat(1 << 20)),
            Behaviour::ManyViolations => (0..10_000).fold(Verdict::allow(), |verdict, _| {
                verdict.with_violation("many", "m")
            }),
            Behaviour::BadCode => Verdict::deny("not a code!", "the code has spaces"),
            Behaviour::LaterValidTo => Verdict::allow_until(request.token.valid_to + 86_400),
            Behaviour::CountCalls => {
                let calls = CALLS.fetch_add(1, Ordering::Relaxed) + 1;
                Verdict::deny("calls", calls.to_string())
            }
            Behaviour::EchoSettings => Verdict::deny(
                "echo",
                format!("label={} user={}", settings.label, request.user.id),
            ),
        }
    }
}

fn endless_loop() -> ! {
    let mut spins: u64 = 0;
    loop {
        spins = black_box(spins.wrapping_add(1));
    }
}

/// Recurses until `depth` reaches `limit` (never, with `u64::MAX`). The arithmetic on the result
/// keeps the compiler from turning the recursion into a loop, and nothing here takes an
/// address, so the frames live on the wasm stack rather than in linear memory.
#[inline(never)]
fn recurse(depth: u64, limit: u64) -> u64 {
    if depth == limit {
        return depth;
    }
    recurse(depth + 1, limit)
        .wrapping_mul(3)
        .wrapping_add(depth)
}

patrol_guest::export_policy!(Hostile);
