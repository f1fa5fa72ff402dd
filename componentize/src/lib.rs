//! Builds policy crates into WebAssembly components: the one recipe shared by patrol's build
//! scripts (the engine's seed policies, the command's example policies, the tests' fixtures)
//! and by `patrol policy build`.
//!
//! A policy crate is compiled for [`WASM_TARGET`] into a core module, which
//! [`componentize`] wraps into a component. Building for `wasm32-unknown-unknown` rather than
//! `wasm32-wasip2` gives components that import nothing at all, not even the WASI interfaces
//! Rust's standard library would pull in.
//!
//! Inside a build script, [`build_workspace_components`] compiles crates of the workspace with
//! a nested cargo of its own (`<target>/wasm-policies`), so that it neither waits on the outer
//! build's lock nor rebuilds from scratch each time.

use std::env;
use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The WebAssembly target policies compile for: no WASI, so components import nothing.
pub const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// The guest's shadow stack for the workspace's own policies. Rust's default is 1 MiB;
/// policies need a few KiB, and a smaller linear memory makes every fresh instance cheaper.
/// Deep recursion traps instead.
pub const GUEST_STACK_BYTES: usize = 32 * 1024;

/// Why a component could not be built. Each variant names what it was working on and keeps
/// its cause.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A file or folder could not be read or written.
    #[error("cannot {action} `{}`", path.display())]
    Io {
        /// What was being done: "read", "write", "list"...
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// Why not.
        #[source]
        source: io::Error,
    },
    /// A `Cargo.toml` does not parse.
    #[error("cannot parse `{}`", path.display())]
    Manifest {
        /// The manifest.
        path: PathBuf,
        /// Why not.
        #[source]
        source: toml::de::Error,
    },
    /// A program (cargo, rustc, rustup) could not be started.
    #[error("cannot run `{program}`")]
    Spawn {
        /// The program.
        program: String,
        /// Why not.
        #[source]
        source: io::Error,
    },
    /// The WebAssembly target is missing and rustup could not add it.
    #[error(
        "the `{WASM_TARGET}` target is not installed and rustup could not add it; run \
         `rustup target add {WASM_TARGET}`"
    )]
    MissingTarget,
    /// cargo failed to compile the crates; its own messages went to the terminal.
    #[error("building {crates} for `{WASM_TARGET}` failed ({status})")]
    Cargo {
        /// The crates, as people read them.
        crates: String,
        /// cargo's exit status.
        status: std::process::ExitStatus,
    },
    /// The core module could not be made into a component.
    #[error("cannot make `{module}` into a component: {reason}")]
    Componentize {
        /// The module's name.
        module: String,
        /// What `wit-component` said, with its causes.
        reason: String,
    },
    /// A component's imports could not be read.
    #[error("cannot read the component's imports: {0}")]
    Imports(String),
    /// Something cargo should have set for a build script is missing.
    #[error("cargo did not set `{0}` (is this running in a build script?)")]
    MissingEnv(&'static str),
}

/// A crate of the workspace to build into a component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentCrate {
    /// The package name, which is also its folder's name.
    pub package: String,
    /// The workspace folder it is in, such as `policies`.
    pub folder: String,
    /// Whether patrol embeds it as a seed policy (`[package.metadata.patrol] builtin = true`).
    pub builtin: bool,
    /// Whether it needs a cargo invocation of its own (`build-alone = true`): cargo unifies
    /// the features of everything one invocation builds, and the seed bundle needs its
    /// dependencies built without the `component` feature the other crates build them with.
    pub build_alone: bool,
}

impl ComponentCrate {
    /// The component's file stem: the package name with `_` for `-`, as cargo names the
    /// module.
    pub fn stem(&self) -> String {
        self.package.replace('-', "_")
    }
}

/// A component built from a crate of the workspace.
#[derive(Debug, Clone)]
pub struct BuiltComponent {
    /// The crate it was built from.
    pub source: ComponentCrate,
    /// The component's bytes.
    pub bytes: Vec<u8>,
}

/// The crates in `folder` (relative to `root`): every subfolder with a `Cargo.toml`, each
/// named after its package, sorted by name. A missing folder holds none.
pub fn crates_in(root: &Path, folder_name: &str) -> Result<Vec<ComponentCrate>, BuildError> {
    let folder = root.join(folder_name);
    let Ok(entries) = fs::read_dir(&folder) else {
        return Ok(Vec::new());
    };
    let mut crates = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|source| BuildError::Io {
                action: "list",
                path: folder.clone(),
                source,
            })?
            .path();
        let manifest_path = path.join("Cargo.toml");
        if !manifest_path.is_file() {
            continue;
        }
        let package = path
            .file_name()
            .and_then(|name| name.to_str())
            .ok_or_else(|| BuildError::Io {
                action: "name",
                path: path.clone(),
                source: io::Error::new(io::ErrorKind::InvalidData, "not a UTF-8 name"),
            })?
            .to_string();
        let manifest: toml::Table =
            read_text(&manifest_path)?
                .parse()
                .map_err(|source| BuildError::Manifest {
                    path: manifest_path.clone(),
                    source,
                })?;
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
            folder: folder_name.to_string(),
            builtin: flag("builtin"),
            build_alone: flag("build-alone"),
        });
    }
    crates.sort_by(|a, b| a.package.cmp(&b.package));
    Ok(crates)
}

/// From a build script: compiles `crates` of the workspace at `root` into components, with
/// the workspace's `wasm` profile and [`GUEST_STACK_BYTES`]. Tells cargo to run the build
/// script again when the contract, the guest SDK, the folders the crates are in, the
/// workspace's manifest (its `wasm` profile) or the lock file change.
pub fn build_workspace_components(
    root: &Path,
    crates: &[ComponentCrate],
) -> Result<Vec<BuiltComponent>, BuildError> {
    let mut watched = vec!["wit", "guest", "Cargo.toml", "Cargo.lock"];
    for krate in crates {
        if !watched.contains(&krate.folder.as_str()) {
            watched.push(&krate.folder);
        }
    }
    for watched in watched {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    println!("cargo:rerun-if-env-changed=CARGO_TARGET_DIR");
    ensure_wasm_target()?;
    let target_dir = workspace_target_dir(root);
    let (alone, together): (Vec<_>, Vec<_>) = crates.iter().cloned().partition(|c| c.build_alone);
    let mut groups: Vec<Vec<ComponentCrate>> = alone.into_iter().map(|c| vec![c]).collect();
    if !together.is_empty() {
        groups.insert(0, together);
    }
    let mut built = Vec::new();
    for group in groups {
        let modules = compile_modules(root, &target_dir, &group)?;
        for (source, module_path) in group.into_iter().zip(modules) {
            let module = fs::read(&module_path).map_err(|source| BuildError::Io {
                action: "read",
                path: module_path.clone(),
                source,
            })?;
            let bytes = componentize(&module, &source.stem())?;
            built.push(BuiltComponent { source, bytes });
        }
    }
    Ok(built)
}

/// Writes each of `built` to `folder` as `<stem>.wasm` (unchanged files are left alone, so
/// their times do not trigger rebuilds; changed ones are replaced whole, never half-written).
pub fn publish(folder: &Path, built: &[BuiltComponent]) -> Result<(), BuildError> {
    fs::create_dir_all(folder).map_err(|source| BuildError::Io {
        action: "create",
        path: folder.to_path_buf(),
        source,
    })?;
    for component in built {
        let path = folder.join(format!("{}.wasm", component.source.stem()));
        write_if_changed(&path, &component.bytes)?;
    }
    Ok(())
}

/// Wraps a core module built with the guest SDK into a component. `name` names the module in
/// the error.
pub fn componentize(module: &[u8], name: &str) -> Result<Vec<u8>, BuildError> {
    wit_component::ComponentEncoder::default()
        .module(module)
        .and_then(|encoder| encoder.validate(true).encode())
        .map_err(|error| BuildError::Componentize {
            module: name.to_string(),
            reason: format!("{error:#}"),
        })
}

/// The names of what a component imports. `patrol:policy/types` defines types and no
/// functions, so it is no capability; it is listed, marked so.
pub fn imports(component: &[u8]) -> Result<Vec<String>, BuildError> {
    let decoded = wit_component::decode(component)
        .map_err(|error| BuildError::Imports(format!("{error:#}")))?;
    let wit_component::DecodedWasm::Component(resolve, world) = decoded else {
        return Err(BuildError::Imports(
            "the bytes are a WIT package, not a component".to_string(),
        ));
    };
    Ok(resolve.worlds[world]
        .imports
        .iter()
        .map(|(key, item)| {
            let name = resolve.name_world_key(key);
            match item {
                wit_parser::WorldItem::Interface { id, .. }
                    if resolve.interfaces[*id].functions.is_empty() =>
                {
                    format!("{name} (types only)")
                }
                _ => name,
            }
        })
        .collect())
}

/// Installs the WebAssembly target through rustup when it is missing, as `rust-toolchain.toml`
/// asks; without rustup, says what to do.
pub fn ensure_wasm_target() -> Result<(), BuildError> {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .map_err(|source| BuildError::Spawn {
            program: rustc.clone(),
            source,
        })?;
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
        _ => Err(BuildError::MissingTarget),
    }
}

/// The workspace's target folder, wherever `CARGO_TARGET_DIR` puts it.
pub fn workspace_target_dir(root: &Path) -> PathBuf {
    env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|dir| {
            if dir.is_absolute() {
                dir
            } else {
                root.join(dir)
            }
        })
        .unwrap_or_else(|| root.join("target"))
}

/// The workspace's root, from a build script of a crate one folder below it (`host/`) or two
/// (`tests/support/`): the first folder up from `CARGO_MANIFEST_DIR` whose `Cargo.toml` has a
/// `[workspace]`.
pub fn workspace_root() -> Result<PathBuf, BuildError> {
    let manifest_dir = PathBuf::from(
        env::var_os("CARGO_MANIFEST_DIR").ok_or(BuildError::MissingEnv("CARGO_MANIFEST_DIR"))?,
    );
    for folder in manifest_dir.ancestors().skip(1) {
        let manifest = folder.join("Cargo.toml");
        if manifest.is_file() && read_text(&manifest)?.contains("[workspace]") {
            return Ok(folder.to_path_buf());
        }
    }
    Err(BuildError::Io {
        action: "find the workspace of",
        path: manifest_dir,
        source: io::Error::new(io::ErrorKind::NotFound, "no `[workspace]` above it"),
    })
}

/// Runs the nested cargo and returns each crate's core module, in order.
fn compile_modules(
    root: &Path,
    target_dir: &Path,
    crates: &[ComponentCrate],
) -> Result<Vec<PathBuf>, BuildError> {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let wasm_target_dir = target_dir.join("wasm-policies");
    let mut command = Command::new(&cargo);
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
    let status = command.status().map_err(|source| BuildError::Spawn {
        program: cargo.to_string_lossy().into_owned(),
        source,
    })?;
    if !status.success() {
        let names: Vec<&str> = crates.iter().map(|c| c.package.as_str()).collect();
        return Err(BuildError::Cargo {
            crates: names.join(", "),
            status,
        });
    }
    let artifacts = wasm_target_dir.join(WASM_TARGET).join("wasm");
    Ok(crates
        .iter()
        .map(|krate| artifacts.join(format!("{}.wasm", krate.stem())))
        .collect())
}

/// Writes `bytes` to `path` unless it already holds them; through a temporary file and a
/// rename, so that a reader (another build script publishing the same component) never sees
/// half a file.
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<(), BuildError> {
    if fs::read(path).is_ok_and(|existing| existing == bytes) {
        return Ok(());
    }
    let file_name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let staged = path.with_file_name(format!(".{file_name}.{}.tmp", std::process::id()));
    fs::write(&staged, bytes)
        .and_then(|()| fs::rename(&staged, path))
        .map_err(|source| {
            let _ = fs::remove_file(&staged);
            BuildError::Io {
                action: "write",
                path: path.to_path_buf(),
                source,
            }
        })
}

/// Reads a text file, naming it in the error.
pub fn read_text(path: &Path) -> Result<String, BuildError> {
    fs::read_to_string(path).map_err(|source| BuildError::Io {
        action: "read",
        path: path.to_path_buf(),
        source,
    })
}

/// An error and its causes in one line, `error: cause: cause`.
pub fn describe(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        message.push_str(": ");
        message.push_str(&next.to_string());
        cause = next.source();
    }
    message
}

/// From a build script: the error and its causes on standard error, and a failed build.
pub fn fail(error: &dyn std::error::Error) -> ! {
    eprintln!("error: {}", describe(error));
    std::process::exit(1)
}
