//! Gives this policy a larger guest stack than patrol's other policies (32 KiB, set by
//! `patrol-componentize` for the workspace): evaluating a CEL expression recurses once per
//! level of its syntax tree, which `lib.rs` bounds at `MAX_DEPTH`. The linker keeps the last
//! `-z stack-size` it is given, and a build script's link arguments follow `RUSTFLAGS`.

/// The guest stack, in bytes: enough for an expression `MAX_DEPTH` levels deep, with room to
/// spare (checked by `host/tests/cases/rule_errors.toml`).
const STACK_BYTES: usize = 256 * 1024;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo:rustc-link-arg-cdylib=-zstack-size={STACK_BYTES}");
    }
}
