//! A policy whose module asks for 32 MiB of linear memory before running a single instruction
//! (a zero-initialised static array), more than patrol's default 16 MiB: instantiation itself
//! must be refused.

use std::hint::black_box;
use std::sync::atomic::{AtomicU8, Ordering};

use patrol_guest::{NoSettings, Operation, Policy, Request, Verdict};

/// 32 MiB of zeroes, placed in the module's initial memory by the linker.
static HOARD: [AtomicU8; 32 << 20] = [const { AtomicU8::new(0) }; 32 << 20];

/// The policy.
pub struct HugeMemory;

impl Policy for HugeMemory {
    const NAME: &'static str = "huge-memory";
    const VERSION: &'static str = "0.0.1";
    const DESCRIPTION: &'static str = "Starts with more memory than allowed.";
    const OPERATIONS: &'static [Operation] = &[Operation::Create];
    type Settings = NoSettings;

    fn evaluate(_: &NoSettings, _: &Request) -> Verdict {
        // `black_box` lets the address escape, so the array cannot be optimised away.
        let hoard = black_box(&HOARD);
        let last = hoard[hoard.len() - 1].fetch_add(1, Ordering::Relaxed);
        Verdict::deny("hoard", last.to_string())
    }
}

patrol_guest::export_policy!(HugeMemory);
