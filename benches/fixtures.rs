//! What the benchmarks load from the workspace: the benchmark tenant, its requests, and the
//! components built from `policies/` and `tests/components/`. Something missing stops the
//! benchmark with a message that says what and how to get it, not a panic.

#![allow(dead_code)] // Each benchmark uses a different part.

use std::path::{Path, PathBuf};

use patrol::{Engine, Request, Tenant, TenantConfig};

/// The workspace's root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the benches crate is in the workspace")
        .to_path_buf()
}

/// Stops the benchmark: `what` is missing or wrong.
fn stop(what: std::fmt::Arguments<'_>) -> ! {
    eprintln!("error: {what}");
    std::process::exit(2)
}

const HOW_TO_BUILD: &str = "the workspace's components are built into `components/` by the \
    build script of `patrol-test-support` (`tests/support`), which `cargo bench` builds first; \
    run `cargo build -p patrol-test-support`";

/// The path of a component built from the workspace, by file stem; it must exist.
pub fn component_path(name: &str) -> PathBuf {
    let path = patrol_test_support::component(name);
    if !path.is_file() {
        stop(format_args!(
            "`{}` is missing: {HOW_TO_BUILD}",
            path.display()
        ));
    }
    path
}

/// The bytes of a component built from the workspace, by file stem.
pub fn component(name: &str) -> Vec<u8> {
    let path = component_path(name);
    std::fs::read(&path)
        .unwrap_or_else(|error| stop(format_args!("cannot read `{}`: {error}", path.display())))
}

/// A tenant configuration file of the workspace, checked.
pub fn config(path: &Path) -> TenantConfig {
    TenantConfig::from_file(path).unwrap_or_else(|error| stop(format_args!("{error}")))
}

/// The benchmark tenant's configuration, `benches/tenant/perf.toml`.
pub fn benchmark_config() -> TenantConfig {
    config(&root().join("benches/tenant/perf.toml"))
}

/// Loads `config` on `engine`; a component it names that is missing says how to build it.
pub fn load(engine: &Engine, config: &TenantConfig) -> Tenant {
    patrol::Tenant::load(engine, config).unwrap_or_else(|error| {
        stop(format_args!(
            "cannot load the tenant `{}`: {error}\n(if a component is missing: {HOW_TO_BUILD})",
            config.tenant
        ))
    })
}

/// The benchmark tenant, loaded on `engine`.
pub fn benchmark_tenant(engine: &Engine) -> Tenant {
    load(engine, &benchmark_config())
}

/// A request of `benches/tenant/` (`create`, `create-compliant`, `use`), by name.
pub fn benchmark_request(name: &str) -> Request {
    request(&root().join(format!("benches/tenant/{name}.json")))
}

/// A request file, checked.
pub fn request(path: &Path) -> Request {
    let json = std::fs::read_to_string(path)
        .unwrap_or_else(|error| stop(format_args!("cannot read `{}`: {error}", path.display())));
    Request::from_json(&json)
        .unwrap_or_else(|error| stop(format_args!("{}: {error}", path.display())))
}
