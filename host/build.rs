//! Builds the seed policies patrol ships (the crates of `policies/` marked
//! `[package.metadata.patrol] builtin = true`, and their bundle) into WebAssembly components,
//! and embeds them into the library from `$OUT_DIR`. The recipe is `patrol-componentize`'s;
//! the example policies and the tests' fixtures are built by the crates that use them (the
//! `patrol` command and `patrol-test-support`), not here.

use std::path::Path;

use patrol_componentize::{
    BuildError, BuiltComponent, build_workspace_components, crates_in, fail, workspace_root,
    write_if_changed,
};

fn main() {
    if let Err(error) = build() {
        fail(&error);
    }
}

fn build() -> Result<(), BuildError> {
    let root = workspace_root()?;
    let out_dir = std::env::var_os("OUT_DIR").ok_or(BuildError::MissingEnv("OUT_DIR"))?;
    let seeds: Vec<_> = crates_in(&root, "policies")?
        .into_iter()
        .filter(|krate| krate.builtin)
        .collect();
    let built = build_workspace_components(&root, &seeds)?;
    embed(Path::new(&out_dir), &built)
}

/// Writes each component to `$OUT_DIR` and `$OUT_DIR/components.rs`, the index the library
/// includes: `COMPONENTS`, (file stem, component bytes).
fn embed(out_dir: &Path, built: &[BuiltComponent]) -> Result<(), BuildError> {
    let mut index = String::from(
        "/// The built-in components: (file stem, component bytes).\n\
         pub(crate) static COMPONENTS: &[(&str, &[u8])] = &[\n",
    );
    for component in built {
        let stem = component.source.stem();
        let path = out_dir.join(format!("{stem}.wasm"));
        write_if_changed(&path, &component.bytes)?;
        index.push_str(&format!(
            "    ({stem:?}, include_bytes!({:?})),\n",
            path.display().to_string()
        ));
    }
    index.push_str("];\n");
    write_if_changed(&out_dir.join("components.rs"), index.as_bytes())
}
