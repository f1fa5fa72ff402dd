//! The `patrol` command's integration tests, in one binary: the real binary, over real
//! sockets where a process boundary matters, with a real NGINX and npm where they take part.

mod commands;
mod common;
mod gateway_nginx;
#[path = "../../../store/tests/store/inventory.rs"]
mod inventory;
mod mcp;
mod readme;
mod reports;
mod second_language;
mod server_process;
mod token_service;
mod writing_policies;

/// Tests that build policy crates (cargo, npm) keep both cores busy for a while: they hold the
/// machine whole, and the tests that wait on a server with time limits hold it shared, so that
/// the two never overlap in this one test binary (as they could not when each was a binary of
/// its own).
mod machine {
    use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

    static MACHINE: RwLock<()> = RwLock::new(());

    /// For a test that waits on a server with time limits.
    pub fn shared() -> RwLockReadGuard<'static, ()> {
        MACHINE
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// For a test that builds policy crates.
    pub fn whole() -> RwLockWriteGuard<'static, ()> {
        MACHINE
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
