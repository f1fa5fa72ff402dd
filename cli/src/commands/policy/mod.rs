//! `patrol policy`: the authoring kit for tenant rules. `new` scaffolds a policy crate, `build`
//! turns it into a component and says what it is, `test` runs its decision cases through the
//! real host.

mod build;
mod new;
mod test;

use std::path::PathBuf;

use clap::Subcommand;

use super::Outcome;

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Create a policy crate: a sample rule, its decision cases, and a tenant to try it in.
    ///
    /// The crate lives outside patrol's workspace, carries its own copy of the guest SDK (the
    /// one this patrol was built with, in `sdk/`), and builds with
    /// `cargo build --release --target wasm32-unknown-unknown`.
    New {
        /// The folder to create; its last part names the crate (`no-admin-scopes`) and the
        /// policy (`no_admin_scopes`).
        #[arg(value_name = "PATH")]
        path: PathBuf,
        /// Depend on this guest SDK instead of a copy: the `guest` folder of a patrol checkout.
        #[arg(long, value_name = "DIR")]
        sdk: Option<PathBuf>,
    },
    /// Build a policy crate into a component, check it loads, and report its path, digest,
    /// size and imports.
    Build {
        /// The policy crate.
        #[arg(value_name = "DIR", default_value = ".")]
        dir: PathBuf,
    },
    /// Run decision cases against a component through the real host; exits 1 if any fails.
    ///
    /// Given a policy crate, builds it and runs its `tests/*.toml` against the component. Given
    /// a folder without `Cargo.toml`, or a file, runs those case files as they are.
    Test {
        /// A policy crate, a folder of case files, or one case file.
        #[arg(value_name = "DIR|FILE", default_value = ".")]
        path: PathBuf,
        /// The component `[policy]` files test, instead of building one.
        #[arg(long, value_name = "WASM")]
        component: Option<PathBuf>,
    },
}

pub fn run(command: PolicyCommand) -> anyhow::Result<Outcome> {
    match command {
        PolicyCommand::New { path, sdk } => new::run(&path, sdk.as_deref()),
        PolicyCommand::Build { dir } => build::run(&dir),
        PolicyCommand::Test { path, component } => test::run(&path, component.as_deref()),
    }
}
