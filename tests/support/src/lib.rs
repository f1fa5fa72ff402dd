//! What patrol's tests and benchmarks share: where the workspace and its built components are.
//!
//! The build script builds the components (the policies of `policies/` and the fixtures of
//! `tests/components/`) before any test that depends on this crate is compiled, so a test can
//! name a component by its file stem and find it.

use std::path::{Path, PathBuf};

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
