//! `patrol policy build`: cargo builds a policy crate for WebAssembly, the core module is
//! wrapped into a component, and patrol loads it exactly as a tenant's configuration would.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context as _, bail};
use patrol::{ComponentMetadata, Digest, Engine};
use patrol_componentize::{WASM_TARGET, componentize};

use crate::commands::{Outcome, emit, engine_config};

/// Where, in the crate, the component is written: `target/patrol/<policy>.wasm`.
const COMPONENT_FOLDER: &str = "target/patrol";

pub fn run(dir: &Path) -> anyhow::Result<Outcome> {
    let engine = Engine::new(engine_config()?)?;
    let built = build(&engine, dir)?;
    report(&built);
    Ok(Outcome::Success)
}

/// A policy crate, built and loaded.
pub struct BuiltPolicy {
    /// The component file.
    pub path: PathBuf,
    pub digest: Digest,
    pub size: usize,
    /// What it imports, by name (`patrol:policy/types` carries types only).
    pub imports: Vec<String>,
    pub metadata: ComponentMetadata,
}

/// Builds the crate in `dir` and checks that `engine` loads the component.
pub fn build(engine: &Engine, dir: &Path) -> anyhow::Result<BuiltPolicy> {
    let manifest = dir.join("Cargo.toml");
    if !manifest.is_file() {
        bail!(
            "`{}` is not a policy crate: it has no `Cargo.toml` (create one with `patrol policy new`)",
            dir.display()
        );
    }
    let module_path = cargo_build(&manifest)?;
    let module = std::fs::read(&module_path)
        .with_context(|| format!("cannot read `{}`", module_path.display()))?;
    let stem = module_path
        .file_stem()
        .and_then(|stem| stem.to_str())
        .context("the module has no file name")?;
    let component = componentize(&module, &module_path.display().to_string()).map_err(|error| {
        anyhow::anyhow!("{error} (does the crate call `patrol_guest::export_policy!`?)")
    })?;
    let folder = dir.join(COMPONENT_FOLDER);
    std::fs::create_dir_all(&folder)
        .with_context(|| format!("cannot create `{}`", folder.display()))?;
    let path = folder.join(format!("{stem}.wasm"));
    let staged = folder.join(format!(".{stem}.wasm.tmp"));
    std::fs::write(&staged, &component)
        .and_then(|()| std::fs::rename(&staged, &path))
        .with_context(|| format!("cannot write `{}`", path.display()))?;

    let imports = patrol_componentize::imports(&component)?;
    let compiled = engine.compile(&component).map_err(|error| {
        anyhow::anyhow!(
            "built `{}`, but patrol cannot load it: it {error}",
            path.display()
        )
    })?;
    Ok(BuiltPolicy {
        path,
        digest: compiled.digest(),
        size: compiled.size(),
        imports,
        metadata: compiled.metadata().clone(),
    })
}

pub fn report(built: &BuiltPolicy) {
    let metadata = &built.metadata;
    let operations: Vec<&str> = metadata.operations.iter().map(|op| op.as_str()).collect();
    emit(&format!(
        "built {} {} ({}): {}",
        metadata.name,
        metadata.version,
        operations.join(", "),
        metadata.description
    ));
    emit(&format!("  component  {}", built.path.display()));
    emit(&format!("  digest     {}", built.digest));
    emit(&format!("  size       {} bytes", built.size));
    let imports = if built.imports.is_empty() {
        "none".to_string()
    } else {
        built.imports.join(", ")
    };
    emit(&format!("  imports    {imports}"));
}

/// Runs `cargo build --release --target wasm32-unknown-unknown` and returns the core module.
/// Cargo's messages go to the terminal as usual; its JSON on standard output says where the
/// module is, wherever `CARGO_TARGET_DIR` puts it.
fn cargo_build(manifest: &Path) -> anyhow::Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    // Cargo reads `.cargo/config.toml` and rustup reads `rust-toolchain.toml` from the working
    // directory, not the manifest's: run in the crate, so its stack size and toolchain apply.
    let crate_dir = patrol::files::folder_of(manifest);
    let mut child = Command::new(&cargo)
        .current_dir(crate_dir)
        .args(["build", "--release", "--target", WASM_TARGET])
        .arg("--manifest-path")
        .arg("Cargo.toml")
        .arg("--message-format=json-render-diagnostics")
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run `{}`", cargo.to_string_lossy()))?;
    let stdout = child.stdout.take().context("cargo's output is missing")?;
    let mut modules = Vec::new();
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.context("cannot read cargo's output")?;
        let Ok(message) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        let is_cdylib = message["target"]["kind"]
            .as_array()
            .is_some_and(|kinds| kinds.iter().any(|kind| kind == "cdylib"));
        if message["reason"] == "compiler-artifact" && is_cdylib {
            let files = message["filenames"].as_array().into_iter().flatten();
            modules.extend(
                files
                    .filter_map(|file| file.as_str())
                    .filter(|file| file.ends_with(".wasm"))
                    .map(PathBuf::from),
            );
        }
    }
    let status = child.wait().context("cargo did not finish")?;
    if !status.success() {
        bail!(
            "`cargo build --release --target {WASM_TARGET}` failed ({status}) for `{}`; if the \
             target is missing, run `rustup target add {WASM_TARGET}`",
            manifest.display()
        );
    }
    match modules.as_slice() {
        [module] => Ok(module.clone()),
        [] => bail!(
            "`{}` builds no WebAssembly module; a policy crate needs `crate-type = [\"cdylib\"]` \
             under `[lib]`",
            manifest.display()
        ),
        _ => bail!(
            "`{}` builds several WebAssembly modules; a policy crate builds one",
            manifest.display()
        ),
    }
}
