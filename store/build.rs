//! Says whether PostgreSQL's programs are installed, for the store's conformance suite: its
//! PostgreSQL half starts a server of its own with `initdb`. Without them those tests are
//! marked ignored ("needs PostgreSQL"), and `cargo test` lists them so, rather than passing
//! them silently; with `PATROL_REQUIRE_POSTGRES=1` (as `.ci/run` sets it) a missing PostgreSQL
//! fails the build. (The same check for the command's tests is in `cli/build.rs`.)

use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(patrol_has_postgres)");
    println!("cargo:rerun-if-env-changed=PATROL_REQUIRE_POSTGRES");
    println!("cargo:rerun-if-env-changed=PATROL_PG_BIN");
    println!("cargo:rerun-if-env-changed=PATH");
    println!("cargo:rerun-if-changed=/usr/lib/postgresql");
    let mut folders: Vec<PathBuf> = env::var_os("PATH")
        .map(|path| env::split_paths(&path).collect())
        .unwrap_or_default();
    folders.extend(env::var_os("PATROL_PG_BIN").map(PathBuf::from));
    folders.extend(
        std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .map(|version| version.path().join("bin")),
    );
    if folders.iter().any(|folder| folder.join("initdb").is_file()) {
        println!("cargo:rustc-cfg=patrol_has_postgres");
    } else if env::var_os("PATROL_REQUIRE_POSTGRES").is_some_and(|value| value == "1") {
        eprintln!(
            "error: PATROL_REQUIRE_POSTGRES=1, but PostgreSQL is not installed: `apt-get install \
             postgresql`"
        );
        std::process::exit(1);
    }
}
