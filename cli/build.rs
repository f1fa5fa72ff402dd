//! The `patrol` command's build:
//!
//! 1. the example policies (the crates of `policies/` that are not seed policies) are built
//!    into `components/` at the workspace's root, where the README's examples and
//!    `examples/*/tenant.toml` name them, with the recipe of `patrol-componentize`;
//! 2. the guest SDK is vendored into `$OUT_DIR/guest_sdk.rs` for `patrol policy new`;
//! 3. the programs some integration tests run for real (NGINX, Caddy, npm, PostgreSQL, the
//!    SCIM conformance checker) are looked for.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

use patrol_componentize::{build_workspace_components, crates_in, fail, publish, workspace_root};

/// Where the components built from the workspace are published, in the workspace itself (not
/// in the target folder, which `CARGO_TARGET_DIR` may move anywhere).
const COMPONENTS_FOLDER: &str = "components";

fn main() {
    let root = match workspace_root() {
        Ok(root) => root,
        Err(error) => fail(&error),
    };
    let examples = crates_in(&root, "policies").map(|crates| {
        crates
            .into_iter()
            .filter(|krate| !krate.builtin)
            .collect::<Vec<_>>()
    });
    let built = examples.and_then(|examples| build_workspace_components(&root, &examples));
    if let Err(error) = built.and_then(|built| publish(&root.join(COMPONENTS_FOLDER), &built)) {
        fail(&error);
    }
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    if let Err(message) = vendor_guest_sdk(&root, &out_dir).and_then(|()| detect_test_programs()) {
        eprintln!("error: {message}");
        std::process::exit(1);
    }
}

/// Programs some integration tests run for real (a gateway, a package manager), with the
/// `cfg` that says they are here, the variable that demands them, and how to install them.
/// Where one is missing, its tests are marked `#[ignore = "needs ..."]` and `cargo test` lists
/// them as ignored, with the reason, instead of passing them silently; where the variable is
/// set (as `.ci/run` sets it) a missing program fails the build.
const TEST_PROGRAMS: [(&str, &str, &str, &str); 4] = [
    (
        "patrol_has_nginx",
        "nginx",
        "PATROL_REQUIRE_NGINX",
        "apt-get install nginx",
    ),
    (
        "patrol_has_caddy",
        "caddy",
        "PATROL_REQUIRE_CADDY",
        "apt-get install caddy",
    ),
    (
        "patrol_has_npm",
        "npm",
        "PATROL_REQUIRE_JS",
        "apt-get install nodejs npm",
    ),
    (
        "patrol_has_postgres",
        "initdb",
        "PATROL_REQUIRE_POSTGRES",
        "apt-get install postgresql",
    ),
];

fn detect_test_programs() -> Result<(), String> {
    let search = program_folders();
    // Installing a program changes its folder; rerun then (a missing file would rerun always).
    println!("cargo:rerun-if-env-changed=PATH");
    println!("cargo:rerun-if-env-changed=PATROL_PG_BIN");
    for folder in &search {
        if folder.is_dir() {
            println!("cargo:rerun-if-changed={}", folder.display());
        }
    }
    detect_scim_tester()?;
    detect_browser(&search)?;
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

/// The Python with scim2-tester installed that the SCIM conformance test runs
/// (cli/tests/cli/scim_conformance.rs): `PATROL_SCIM_PYTHON`, as `.ci/run` sets it.
fn detect_scim_tester() -> Result<(), String> {
    println!("cargo::rustc-check-cfg=cfg(patrol_has_scim_tester)");
    println!("cargo:rerun-if-env-changed=PATROL_SCIM_PYTHON");
    println!("cargo:rerun-if-env-changed=PATROL_REQUIRE_SCIM_TESTER");
    let python = env::var_os("PATROL_SCIM_PYTHON").map(PathBuf::from);
    if python.as_ref().is_some_and(|python| python.is_file()) {
        println!("cargo:rustc-cfg=patrol_has_scim_tester");
    } else if env::var_os("PATROL_REQUIRE_SCIM_TESTER").is_some_and(|value| value == "1") {
        return Err(format!(
            "PATROL_REQUIRE_SCIM_TESTER=1, but PATROL_SCIM_PYTHON ({}) is not a Python with \
             scim2-tester: `python3 -m venv target/scim-tester && target/scim-tester/bin/pip \
             install -r tests/scim/requirements.txt`",
            python.map_or("unset".into(), |python| python.display().to_string())
        ));
    }
    Ok(())
}

/// What the console's browser test needs (cli/tests/cli/console.rs): Chromium and its driver,
/// the Python of `PATROL_CONSOLE_PYTHON` with Selenium, and axe-core in tests/console. `.ci/run`
/// installs them and sets `PATROL_REQUIRE_BROWSER=1`.
fn detect_browser(search: &[PathBuf]) -> Result<(), String> {
    println!("cargo::rustc-check-cfg=cfg(patrol_has_browser)");
    println!("cargo:rerun-if-env-changed=PATROL_CONSOLE_PYTHON");
    println!("cargo:rerun-if-env-changed=PATROL_REQUIRE_BROWSER");
    let root = workspace_root().map_err(|error| error.to_string())?;
    let axe = root.join("tests/console/node_modules/axe-core/axe.min.js");
    println!("cargo:rerun-if-changed={}", axe.display());
    let python = env::var_os("PATROL_CONSOLE_PYTHON").map(PathBuf::from);
    let mut missing = Vec::new();
    for program in ["chromium", "chromedriver"] {
        if !search.iter().any(|folder| folder.join(program).is_file()) {
            missing.push(format!(
                "`{program}` (apt-get install chromium chromium-driver)"
            ));
        }
    }
    if !python.as_ref().is_some_and(|python| python.is_file()) {
        missing.push(
            "PATROL_CONSOLE_PYTHON, a Python with Selenium (python3 -m venv \
             target/console-tester && target/console-tester/bin/pip install -r \
             tests/console/requirements.txt)"
                .to_string(),
        );
    }
    if !axe.is_file() {
        missing.push("axe-core (npm ci --prefix tests/console)".to_string());
    }
    if missing.is_empty() {
        println!("cargo:rustc-cfg=patrol_has_browser");
    } else if env::var_os("PATROL_REQUIRE_BROWSER").is_some_and(|value| value == "1") {
        return Err(format!(
            "PATROL_REQUIRE_BROWSER=1, but the console's browser test lacks {}",
            missing.join(", ")
        ));
    }
    Ok(())
}

/// The folders of `$PATH`, the system's `sbin` folders, which a user's `$PATH` may lack, and
/// Debian's PostgreSQL program folders (`/usr/lib/postgresql/<version>/bin`, never on `$PATH`).
fn program_folders() -> Vec<PathBuf> {
    let mut folders: Vec<PathBuf> = env::var_os("PATH")
        .map(|path| env::split_paths(&path).collect())
        .unwrap_or_default();
    let postgres = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|version| version.path().join("bin"));
    let extras = ["/usr/sbin", "/usr/local/sbin", "/sbin"]
        .into_iter()
        .map(PathBuf::from)
        .chain(postgres)
        .chain(env::var_os("PATROL_PG_BIN").map(PathBuf::from));
    for extra in extras {
        if !folders.contains(&extra) {
            folders.push(extra);
        }
    }
    folders
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

fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<(), String> {
    patrol_componentize::write_if_changed(path, bytes)
        .map_err(|error| patrol_componentize::describe(&error))
}
