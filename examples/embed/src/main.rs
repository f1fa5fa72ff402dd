//! patrol embedded in a Rust program, as a gateway would embed it: no server, no token store.
//!
//! Build the engine once, load a tenant's configuration once (which compiles and checks its
//! policies), then judge each request in process: every policy runs in a fresh, limited
//! WebAssembly instance, and the answer is a [`patrol::Decision`].
//!
//! ```sh
//! cargo run -p patrol-embed-example                  # tenant.toml, the example requests
//! cargo run -p patrol-embed-example -- TENANT.toml REQUEST.json...
//! ```
//!
//! Exits 0 when every request was judged (allowed or not), 2 when a file cannot be used.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use patrol::{Engine, EngineConfig, Request, TenantConfig};

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::from(2)
        }
    }
}

fn run() -> anyhow::Result<()> {
    let (config, requests) = files_to_use()?;

    // One engine per process: it owns the compiled components, the instance pool and the call
    // slots. Its defaults are the sandbox's (5 ms, 16 MiB per call); see docs/sandbox.md.
    let engine = Engine::new(EngineConfig::default())?;
    let config = TenantConfig::from_file(&config)?;
    let tenant = patrol::Tenant::load(&engine, &config)?;
    println!(
        "tenant `{}`: {} policies on",
        tenant.name(),
        tenant.policies().count()
    );

    for path in requests {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read `{}`", path.display()))?;
        let request = Request::from_json(&text).with_context(|| format!("`{}`", path.display()))?;
        let decision = tenant.evaluate(&request);
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |name| name.to_string_lossy().into_owned(),
        );
        let verdict = if decision.allowed {
            "allowed"
        } else {
            "denied"
        };
        println!("{name}: {verdict}");
        for violation in &decision.violations {
            let enforced = if violation.enforced {
                ""
            } else {
                " (not enforced)"
            };
            println!(
                "  {} {}{enforced}: {}",
                violation.policy, violation.code, violation.message
            );
        }
        for action in &decision.actions {
            println!("  action: {action:?}");
        }
    }
    Ok(())
}

/// The configuration and the requests: from the command line, or `tenant.toml` beside this
/// crate (the example tenant's seed policies) and every request of `examples/contoso`.
fn files_to_use() -> anyhow::Result<(PathBuf, Vec<PathBuf>)> {
    let mut args = std::env::args_os().skip(1).map(PathBuf::from);
    if let Some(config) = args.next() {
        let requests: Vec<PathBuf> = args.collect();
        anyhow::ensure!(
            !requests.is_empty(),
            "name at least one request after the configuration"
        );
        return Ok((config, requests));
    }
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let folder = here.join("../contoso/requests");
    let mut requests: Vec<PathBuf> = std::fs::read_dir(&folder)
        .with_context(|| format!("cannot read `{}`", folder.display()))?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<_, _>>()?;
    requests.sort();
    Ok((here.join("tenant.toml"), requests))
}
