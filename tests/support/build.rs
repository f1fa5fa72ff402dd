//! Builds every component patrol's tests and benchmarks load: the policies of `policies/` (the
//! seed policies as files of their own, and the example policies) and the test fixtures of
//! `tests/components/` (hostile, lying or oversized components), into `components/` at the
//! workspace's root, with the recipe of `patrol-componentize`.

use patrol_componentize::{build_workspace_components, crates_in, fail, publish, workspace_root};

fn main() {
    let built = workspace_root().and_then(|root| {
        let mut crates = crates_in(&root, "policies")?;
        crates.extend(crates_in(&root, "tests/components")?);
        let built = build_workspace_components(&root, &crates)?;
        let folder = root.join("components");
        publish(&folder, &built)?;
        println!("cargo:rustc-env=PATROL_COMPONENT_DIR={}", folder.display());
        println!("cargo:rustc-env=PATROL_WORKSPACE_ROOT={}", root.display());
        Ok(())
    });
    if let Err(error) = built {
        fail(&error);
    }
}
