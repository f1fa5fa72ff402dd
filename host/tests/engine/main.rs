//! The engine's integration tests, in one binary (each test binary links wasmtime): the real
//! host running the real components built from the workspace.

mod artifact_cache;
mod config_errors;
mod decision_cases;
mod fuzz_regressions;
mod isolation;
mod layering;
mod sandbox;

/// Tests that assert how long something takes hold the machine shared; a test that keeps every
/// core busy on purpose holds it whole, so that they never overlap in this one test binary.
mod machine {
    use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

    static MACHINE: RwLock<()> = RwLock::new(());

    /// For a test that measures time: no core-hogging test runs meanwhile.
    pub fn shared() -> RwLockReadGuard<'static, ()> {
        MACHINE
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// For a test that keeps every core busy: nothing that measures time runs meanwhile.
    pub fn whole() -> RwLockWriteGuard<'static, ()> {
        MACHINE
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
