//! `patrol policy new`: scaffolds a policy crate from the templates beside this file.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use crate::commands::{Outcome, emit};

mod vendored {
    include!(concat!(env!("OUT_DIR"), "/guest_sdk.rs"));
}

/// Where a new crate holds its own copy of the guest SDK, relative to the crate.
const VENDORED_SDK: &str = "sdk/patrol-guest";

/// patrol's own lock file: the scaffold starts from the exact versions patrol is built and
/// tested with, so its first build needs nothing new from the registry.
const LOCK_FILE: &str = include_str!("../../../../Cargo.lock");
/// patrol's toolchain file, which also installs the WebAssembly target.
const TOOLCHAIN_FILE: &str = include_str!("../../../../rust-toolchain.toml");

/// The files of a new policy crate: (path in the crate, template).
const FILES: [(&str, &str); 11] = [
    ("Cargo.toml", include_str!("template/Cargo.toml.tmpl")),
    ("Cargo.lock", LOCK_FILE),
    ("rust-toolchain.toml", TOOLCHAIN_FILE),
    (
        ".cargo/config.toml",
        include_str!("template/cargo-config.toml.tmpl"),
    ),
    (".gitignore", include_str!("template/gitignore.tmpl")),
    ("README.md", include_str!("template/README.md.tmpl")),
    ("src/lib.rs", include_str!("template/lib.rs.tmpl")),
    ("tests/cases.toml", include_str!("template/cases.toml.tmpl")),
    ("tenant.toml", include_str!("template/tenant.toml.tmpl")),
    (
        "requests/denied.json",
        include_str!("template/denied.json.tmpl"),
    ),
    (
        "requests/allowed.json",
        include_str!("template/allowed.json.tmpl"),
    ),
];

/// The longest crate name accepted, in bytes.
const MAX_NAME_BYTES: usize = 64;

pub fn run(path: &Path, sdk: Option<&Path>) -> anyhow::Result<Outcome> {
    let name = crate_name(path)?;
    let policy = name.replace('-', "_");
    if patrol::builtin_policy(&policy).is_some() {
        bail!("`{policy}` is the name of a built-in policy; choose another name");
    }
    if path.exists() {
        bail!(
            "`{}` already exists; `patrol policy new` creates a new folder and overwrites nothing",
            path.display()
        );
    }
    // By default the crate carries the SDK patrol was built with, so that it builds wherever
    // patrol is installed; `--sdk` points at a checkout's `guest` folder instead.
    let sdk_dependency = match sdk {
        Some(dir) => guest_sdk(dir)?,
        None => PathBuf::from(VENDORED_SDK),
    };
    let replacements = [
        ("{{crate}}", name.clone()),
        ("{{policy}}", policy.clone()),
        ("{{type}}", type_name(&name)),
        ("{{dir}}", path.display().to_string()),
        (
            "{{sdk}}",
            toml::Value::String(sdk_dependency.display().to_string()).to_string(),
        ),
    ];

    // Everything is written into a temporary sibling first, then moved into place in one
    // step: an interrupted run leaves no half-made crate behind.
    let parent = patrol::files::folder_of(path).to_path_buf();
    fs::create_dir_all(&parent).with_context(|| format!("cannot create `{}`", parent.display()))?;
    let staging = parent.join(format!(".{name}.patrol-new-{}", std::process::id()));
    let vendored = if sdk.is_none() {
        vendored::GUEST_SDK
    } else {
        &[]
    };
    let written = write_files(&staging, &replacements, vendored).and_then(|()| {
        fs::rename(&staging, path)
            .with_context(|| format!("cannot move the new crate to `{}`", path.display()))
    });
    if let Err(error) = written {
        let _ = fs::remove_dir_all(&staging);
        return Err(error);
    }

    emit(&format!(
        "created policy `{policy}` in {} (guest SDK: {})",
        path.display(),
        sdk_dependency.display()
    ));
    for (file, _) in FILES {
        emit(&format!("  {file}"));
    }
    let dir = path.display();
    emit("next:");
    emit(&format!("  patrol policy build {dir}"));
    emit(&format!("  patrol policy test {dir}"));
    emit(&format!(
        "  patrol eval --config {dir}/tenant.toml --request {dir}/requests/denied.json --explain"
    ));
    Ok(Outcome::Success)
}

fn write_files(
    root: &Path,
    replacements: &[(&str, String)],
    sdk: &[(&str, &str)],
) -> anyhow::Result<()> {
    for (file, contents) in sdk {
        let path = root.join(file);
        if let Some(folder) = path.parent() {
            fs::create_dir_all(folder)
                .with_context(|| format!("cannot create `{}`", folder.display()))?;
        }
        fs::write(&path, contents).with_context(|| format!("cannot write `{}`", path.display()))?;
    }
    for (file, template) in FILES {
        let path = root.join(file);
        if let Some(folder) = path.parent() {
            fs::create_dir_all(folder)
                .with_context(|| format!("cannot create `{}`", folder.display()))?;
        }
        let text = replacements
            .iter()
            .fold(template.to_string(), |text, (key, value)| {
                text.replace(key, value)
            });
        fs::write(&path, text).with_context(|| format!("cannot write `{}`", path.display()))?;
    }
    Ok(())
}

/// The crate name: the folder's name, lowercase ASCII letters, digits, `-` and `_`, starting
/// with a letter.
fn crate_name(path: &Path) -> anyhow::Result<String> {
    let name = path
        .file_name()
        .and_then(|name| name.to_str())
        .with_context(|| format!("`{}` does not end in a folder name", path.display()))?;
    let mut bytes = name.bytes();
    let valid = bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && name.len() <= MAX_NAME_BYTES;
    if !valid {
        bail!(
            "`{name}` cannot name a policy: use lowercase ASCII letters, digits, `-` and `_`, \
             starting with a letter, at most {MAX_NAME_BYTES} bytes (for example `no-admin-scopes`)"
        );
    }
    Ok(name.to_string())
}

/// `no-admin-scopes` → `NoAdminScopes`.
fn type_name(name: &str) -> String {
    name.split(['-', '_'])
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or(String::new(), |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}

/// The guest SDK folder given with `--sdk`, checked, as an absolute path.
fn guest_sdk(dir: &Path) -> anyhow::Result<PathBuf> {
    let manifest = fs::read_to_string(dir.join("Cargo.toml")).ok();
    if !manifest.is_some_and(|text| text.contains("name = \"patrol-guest\"")) {
        bail!(
            "`{}` is not patrol's guest SDK (no `Cargo.toml` for `patrol-guest` there)",
            dir.display()
        );
    }
    dir.canonicalize()
        .with_context(|| format!("cannot resolve `{}`", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_type_names() {
        assert_eq!(type_name("no-admin-scopes"), "NoAdminScopes");
        assert_eq!(type_name("rule_2"), "Rule2");
        assert_eq!(type_name("x"), "X");
    }

    #[test]
    fn the_vendored_sdk_is_complete() {
        let paths: Vec<&str> = vendored::GUEST_SDK.iter().map(|(path, _)| *path).collect();
        for needed in [
            "sdk/patrol-guest/Cargo.toml",
            "sdk/patrol-guest/src/lib.rs",
            "sdk/wit/policy.wit",
        ] {
            assert!(
                paths.contains(&needed),
                "{needed} is missing from {paths:?}"
            );
        }
        let manifest = vendored::GUEST_SDK[0].1;
        assert!(!manifest.contains("workspace"), "{manifest}");
    }

    #[test]
    fn only_crate_like_names_are_accepted() {
        assert!(crate_name(Path::new("rules/no-admin-scopes")).is_ok());
        for bad in ["No-Admin", "2fa", "with space", "dots.in.it", "-x"] {
            assert!(crate_name(Path::new(bad)).is_err(), "{bad}");
        }
    }
}
