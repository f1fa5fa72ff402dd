//! Builds every policy under `policies/` into a WebAssembly component, as part of the normal
//! `cargo build`.
//!
//! For each crate in `policies/` (and the test fixtures in `tests/components/`):
//! 1. `cargo build --profile wasm --target wasm32-unknown-unknown` compiles it to a core module
//!    with a small stack and the WIT type information wit-bindgen embeds;
//! 2. `wit_component::ComponentEncoder` wraps the module into a component. Building for
//!    `wasm32-unknown-unknown` rather than `wasm32-wasip2` gives components that import
//!    nothing at all, not even the WASI interfaces Rust's standard library would pull in.
//!
//! The components land in `components/<name>.wasm` at the workspace's root (not in the target
//! folder, which `CARGO_TARGET_DIR` may move anywhere), where the example configurations, the
//! decision cases, the benchmarks and the tests find them, and the seed policies and their
//! bundle (crates marked
//! `[package.metadata.patrol] builtin = true`) are also embedded into the `patrol` library from
//! `$OUT_DIR`. The nested cargo uses its own target directory,
//! `<target>/wasm-policies`, so it neither waits on the outer build's lock nor rebuilds from
//! scratch each time.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The WebAssembly target the components are compiled for.
const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// The guest's shadow stack. Rust's default is 1 MiB; policies need a few KiB, and a smaller
/// linear memory makes every fresh instance cheaper. Deep recursion traps instead.
const GUEST_STACK_BYTES: usize = 32 * 1024;

/// Where the components built from the workspace are published, in the workspace itself.
const COMPONENTS_FOLDER: &str = "components";

/// Folders whose crates are built into components.
const COMPONENT_FOLDERS: [&str; 2] = ["policies", "tests/components"];

fn main() {
    if let Err(message) = build().and_then(|()| detect_test_programs()) {
        eprintln!("error: {message}");
        std::process::exit(1);
    }
}

/// Programs some integration tests run for real (a gateway, a package manager), with the
/// `cfg` that says they are here, the variable that demands them, and how to install them.
/// Where one is missing, its tests are marked `#[ignore = "needs ..."]` and `cargo test` lists
/// them as ignored, with the reason, instead of passing them silently; where the variable is
/// set (as `.ci/run` sets it) a missing program fails the build.
const TEST_PROGRAMS: [(&str, &str, &str, &str); 2] = [
    (
        "patrol_has_nginx",
        "nginx",
        "PATROL_REQUIRE_NGINX",
        "apt-get install nginx",
    ),
    (
        "patrol_has_npm",
        "npm",
        "PATROL_REQUIRE_JS",
        "apt-get install nodejs npm",
    ),
];

fn detect_test_programs() -> Result<(), String> {
    let search = program_folders();
    // Installing a program changes its folder; rerun then (a missing file would rerun always).
    println!("cargo:rerun-if-env-changed=PATH");
    for folder in &search {
        if folder.is_dir() {
            println!("cargo:rerun-if-changed={}", folder.display());
        }
    }
    for (cfg, program, required, install) in TEST_PROGRAMS {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        println!("cargo:rerun-if-env-changed={required}");
        let found = search.iter().any(|folder| folder.join(program).is_file());
        if found {
            println!("cargo:rustc-cfg={cfg}");
        } else if env::var_os(required).is_some_and(|value| value == "1") {
            return Err(format!(
                "{required}=1, but `{program}` is not installed: `{install}`"
            ));
        }
    }
    Ok(())
}

/// The folders of `$PATH`, and the system's `sbin` folders, which a user's `$PATH` may lack.
fn program_folders() -> Vec<PathBuf> {
    let mut folders: Vec<PathBuf> = env::var_os("PATH")
        .map(|path| env::split_paths(&path).collect())
        .unwrap_or_default();
    for extra in ["/usr/sbin", "/usr/local/sbin", "/sbin"] {
        let extra = PathBuf::from(extra);
        if !folders.contains(&extra) {
            folders.push(extra);
        }
    }
    folders
}

fn build() -> Result<(), String> {
    let manifest_dir = PathBuf::from(env_var("CARGO_MANIFEST_DIR")?);
    let root = manifest_dir
        .parent()
        .ok_or("the host crate has no parent folder")?
        .to_path_buf();
    let out_dir = PathBuf::from(env_var("OUT_DIR")?);
    let target_dir = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|dir| {
            if dir.is_absolute() {
                dir
            } else {
                root.join(dir)
            }
        })
        .unwrap_or_else(|| root.join("target"));

    for watched in ["wit", "guest", "policies", "tests/components", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    println!("cargo:rerun-if-env-changed=CARGO_TARGET_DIR");

    let crates = component_crates(&root)?;
    ensure_wasm_target()?;
    // Crates marked `build-alone` get a cargo invocation each: cargo unifies the features of
    // everything one invocation builds, and the seed bundle needs its dependencies built
    // without the `component` feature the other crates build them with.
    let (alone, together): (Vec<_>, Vec<_>) = crates.into_iter().partition(|c| c.build_alone);
    let mut modules = compile_modules(&root, &target_dir, &together)?;
    for krate in alone {
        modules.extend(compile_modules(&root, &target_dir, &[krate])?);
    }

    // Not under the target folder: the example tenant, the decision cases and the benchmarks
    // name these files by path, which must not depend on where cargo builds.
    let published = root.join(COMPONENTS_FOLDER);
    fs::create_dir_all(&published)
        .map_err(|e| format!("cannot create `{}`: {e}", published.display()))?;
    let mut index = String::from(
        "/// The built-in components: (file stem, component bytes).\n\
         pub(crate) static COMPONENTS: &[(&str, &[u8])] = &[\n",
    );
    for BuiltModule {
        stem,
        module_path,
        builtin,
    } in &modules
    {
        let module = fs::read(module_path)
            .map_err(|e| format!("cannot read `{}`: {e}", module_path.display()))?;
        let component = wit_component::ComponentEncoder::default()
            .module(&module)
            .and_then(|encoder| encoder.validate(true).encode())
            .map_err(|e| format!("cannot make `{stem}` into a component: {e:#}"))?;
        write_if_changed(&published.join(format!("{stem}.wasm")), &component)?;
        if *builtin {
            let out_path = out_dir.join(format!("{stem}.wasm"));
            write_if_changed(&out_path, &component)?;
            index.push_str(&format!(
                "    ({stem:?}, include_bytes!({:?})),\n",
                out_path.display().to_string()
            ));
        }
    }
    index.push_str("];\n");
    write_if_changed(&out_dir.join("components.rs"), index.as_bytes())?;
    vendor_guest_sdk(&root, &out_dir)?;
    println!(
        "cargo:rustc-env=PATROL_COMPONENT_DIR={}",
        published.display()
    );
    Ok(())
}

/// Writes `$OUT_DIR/guest_sdk.rs`: the guest SDK as files for `patrol policy new` to write into
/// every new policy crate (so that a scaffold builds wherever patrol is installed, with no path
/// back to this checkout). Its `Cargo.toml` is the workspace's `guest/Cargo.toml` with every
/// `workspace = true` resolved against the workspace's own `Cargo.toml`.
fn vendor_guest_sdk(root: &Path, out_dir: &Path) -> Result<(), String> {
    let read = |path: &Path| {
        fs::read_to_string(path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))
    };
    let parse = |path: &Path| -> Result<toml::Table, String> {
        read(path)?
            .parse()
            .map_err(|e| format!("cannot parse `{}`: {e}", path.display()))
    };
    let workspace = parse(&root.join("Cargo.toml"))?;
    let mut manifest = parse(&root.join("guest/Cargo.toml"))?;
    let inherited = |section: &str, key: &str| -> Result<toml::Value, String> {
        workspace
            .get("workspace")
            .and_then(|w| w.get(section))
            .and_then(|s| s.get(key))
            .cloned()
            .ok_or_else(|| format!("the workspace has no `workspace.{section}.{key}`"))
    };
    if let Some(package) = manifest
        .get_mut("package")
        .and_then(toml::Value::as_table_mut)
    {
        for (key, value) in package.iter_mut() {
            if value.get("workspace").and_then(toml::Value::as_bool) == Some(true) {
                *value = inherited("package", key)?;
            }
        }
        package.insert("publish".into(), toml::Value::Boolean(false));
    }
    if let Some(dependencies) = manifest
        .get_mut("dependencies")
        .and_then(toml::Value::as_table_mut)
    {
        for (name, value) in dependencies.iter_mut() {
            let Some(table) = value.as_table_mut() else {
                continue;
            };
            if table.remove("workspace").and_then(|w| w.as_bool()) == Some(true) {
                let mut resolved = match inherited("dependencies", name)? {
                    toml::Value::String(version) => {
                        toml::Table::from_iter([("version".to_string(), version.into())])
                    }
                    toml::Value::Table(table) => table,
                    other => return Err(format!("`workspace.dependencies.{name}` is {other}")),
                };
                resolved.extend(table.clone());
                *table = resolved;
            }
        }
    }
    manifest.remove("lints");
    let manifest = format!(
        "# patrol's guest SDK, as the patrol that wrote this crate was built with it.\n{}",
        toml::to_string(&manifest).map_err(|e| format!("cannot write the SDK manifest: {e}"))?
    );
    write_if_changed(&out_dir.join("guest-sdk-Cargo.toml"), manifest.as_bytes())?;

    let mut files = vec![
        (
            "sdk/patrol-guest/Cargo.toml".to_string(),
            out_dir.join("guest-sdk-Cargo.toml"),
        ),
        (
            "sdk/wit/policy.wit".to_string(),
            root.join("wit/policy.wit"),
        ),
    ];
    let sources = root.join("guest/src");
    let mut names: Vec<String> = fs::read_dir(&sources)
        .map_err(|e| format!("cannot list `{}`: {e}", sources.display()))?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".rs"))
        .collect();
    names.sort();
    for name in names {
        files.push((format!("sdk/patrol-guest/src/{name}"), sources.join(&name)));
    }
    let mut index = String::from(
        "/// The guest SDK's files, as a new policy crate holds them: (path, contents).\n\
         pub(crate) static GUEST_SDK: &[(&str, &str)] = &[\n",
    );
    for (path, source) in files {
        index.push_str(&format!(
            "    ({path:?}, include_str!({:?})),\n",
            source.display().to_string()
        ));
    }
    index.push_str("];\n");
    write_if_changed(&out_dir.join("guest_sdk.rs"), index.as_bytes())
}

/// A crate to build into a component.
struct ComponentCrate {
    /// The package name, which is also its folder's name.
    package: String,
    /// Whether patrol embeds it as a seed policy.
    builtin: bool,
    /// Whether it needs a cargo invocation of its own.
    build_alone: bool,
}

/// A built core module.
struct BuiltModule {
    stem: String,
    module_path: PathBuf,
    builtin: bool,
}

/// The crates to build: every folder with a `Cargo.toml` under [`COMPONENT_FOLDERS`]; each
/// folder is named after its package.
fn component_crates(root: &Path) -> Result<Vec<ComponentCrate>, String> {
    let mut crates = Vec::new();
    for folder in COMPONENT_FOLDERS {
        let folder = root.join(folder);
        let Ok(entries) = fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries {
            let path = entry
                .map_err(|e| format!("cannot list `{}`: {e}", folder.display()))?
                .path();
            let manifest_path = path.join("Cargo.toml");
            if manifest_path.is_file() {
                let package = path
                    .file_name()
                    .and_then(|name| name.to_str())
                    .ok_or_else(|| format!("`{}` is not a UTF-8 name", path.display()))?
                    .to_string();
                let manifest = fs::read_to_string(&manifest_path)
                    .map_err(|e| format!("cannot read `{}`: {e}", manifest_path.display()))?;
                let manifest: toml::Table = manifest
                    .parse()
                    .map_err(|e| format!("cannot parse `{}`: {e}", manifest_path.display()))?;
                let flag = |key: &str| {
                    manifest
                        .get("package")
                        .and_then(|p| p.get("metadata"))
                        .and_then(|m| m.get("patrol"))
                        .and_then(|p| p.get(key))
                        .and_then(toml::Value::as_bool)
                        .unwrap_or(false)
                };
                crates.push(ComponentCrate {
                    package,
                    builtin: flag("builtin"),
                    build_alone: flag("build-alone"),
                });
            }
        }
    }
    crates.sort_by(|a, b| a.package.cmp(&b.package));
    Ok(crates)
}

/// Installs the WebAssembly target through rustup when it is missing, as `rust-toolchain.toml`
/// asks; without rustup, says what to do.
fn ensure_wasm_target() -> Result<(), String> {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .map_err(|e| format!("cannot run `{rustc}`: {e}"))?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    if sysroot.join("lib/rustlib").join(WASM_TARGET).is_dir() {
        return Ok(());
    }
    println!(
        "cargo:warning=installing the `{WASM_TARGET}` target with rustup (it is not in `{}`)",
        sysroot.display()
    );
    let mut rustup = Command::new("rustup");
    rustup.args(["target", "add", WASM_TARGET]);
    if let Ok(toolchain) = env::var("RUSTUP_TOOLCHAIN") {
        rustup.args(["--toolchain", &toolchain]);
    }
    match rustup.status() {
        Ok(status) if status.success() => Ok(()),
        _ => Err(format!(
            "the `{WASM_TARGET}` target is not installed and rustup could not add it; \
             run `rustup target add {WASM_TARGET}`"
        )),
    }
}

/// Runs the nested cargo and returns the core module of every crate.
fn compile_modules(
    root: &Path,
    target_dir: &Path,
    crates: &[ComponentCrate],
) -> Result<Vec<BuiltModule>, String> {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let wasm_target_dir = target_dir.join("wasm-policies");
    let mut command = Command::new(cargo);
    command
        .current_dir(root)
        .args(["build", "--profile", "wasm", "--target", WASM_TARGET])
        .arg("--target-dir")
        .arg(&wasm_target_dir);
    for krate in crates {
        command.args(["--package", &krate.package]);
    }
    // The outer build's settings are for the host, not for WebAssembly: drop them, and keep
    // only what says where cargo lives, how it reaches registries and its job server.
    for (key, _) in env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        let keep = [
            "CARGO_HOME",
            "CARGO_MAKEFLAGS",
            "CARGO_NET_",
            "CARGO_HTTP_",
            "CARGO_REGISTR",
        ]
        .iter()
        .any(|kept| key.starts_with(kept));
        let drop = (key.starts_with("CARGO_") && !keep)
            || matches!(
                key,
                "RUSTFLAGS"
                    | "RUSTDOCFLAGS"
                    | "RUSTC_WRAPPER"
                    | "RUSTC_WORKSPACE_WRAPPER"
                    | "CLIPPY_ARGS"
                    | "CLIPPY_CONF_DIR"
            );
        if drop {
            command.env_remove(key);
        }
    }
    command.env(
        "CARGO_ENCODED_RUSTFLAGS",
        format!("-Clink-arg=-zstack-size={GUEST_STACK_BYTES}"),
    );
    let status = command
        .status()
        .map_err(|e| format!("cannot run cargo to build the policy components: {e}"))?;
    if !status.success() {
        return Err(format!(
            "building the policy components for `{WASM_TARGET}` failed ({status})"
        ));
    }
    let artifacts = wasm_target_dir.join(WASM_TARGET).join("wasm");
    Ok(crates
        .iter()
        .map(|krate| {
            let stem = krate.package.replace('-', "_");
            BuiltModule {
                module_path: artifacts.join(format!("{stem}.wasm")),
                stem,
                builtin: krate.builtin,
            }
        })
        .collect())
}

fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<(), String> {
    if fs::read(path).is_ok_and(|existing| existing == bytes) {
        return Ok(());
    }
    fs::write(path, bytes).map_err(|e| format!("cannot write `{}`: {e}", path.display()))
}

fn env_var(key: &str) -> Result<String, String> {
    env::var(key).map_err(|_| format!("cargo did not set `{key}`"))
}
