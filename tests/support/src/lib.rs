//! What patrol's tests and benchmarks share: where the workspace and its built components are.
//!
//! The build script builds the components (the policies of `policies/` and the fixtures of
//! `tests/components/`) before any test that depends on this crate is compiled, so a test can
//! name a component by its file stem and find it.

use std::path::{Path, PathBuf};

/// A real PostgreSQL server of the test's own, in a temporary folder, stopped and removed after.
pub mod postgres;
/// A webhook receiver for the tests of notifications.
pub mod webhook;

/// The folder the components are built into: `components/` at the workspace's root.
pub const COMPONENT_DIR: &str = env!("PATROL_COMPONENT_DIR");

/// The workspace's root folder.
pub fn root() -> PathBuf {
    PathBuf::from(env!("PATROL_WORKSPACE_ROOT"))
}

/// The path of the component built from the crate whose file stem is `name`
/// (`write_scopes_short_lived`, `hostile`...).
pub fn component(name: &str) -> PathBuf {
    Path::new(COMPONENT_DIR).join(format!("{name}.wasm"))
}

/// The example request `examples/contoso/requests/<name>.json`, as text.
pub fn example_request(name: &str) -> String {
    let path = root().join(format!("examples/contoso/requests/{name}.json"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read `{}`: {error}", path.display()))
}

/// Tests that assert how long something takes hold the machine shared; a test that keeps every
/// core busy on purpose (looping guests, cargo or npm builds) holds it whole. So they never
/// overlap inside one test binary, as they could not when each was a binary of its own.
pub mod machine {
    use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

    static MACHINE: RwLock<()> = RwLock::new(());

    /// For a test that measures time, or waits on a server with time limits.
    pub fn shared() -> RwLockReadGuard<'static, ()> {
        MACHINE
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// For a test that keeps every core busy.
    pub fn whole() -> RwLockWriteGuard<'static, ()> {
        MACHINE
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
