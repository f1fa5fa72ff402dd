//! Gives the rules bundle the guest stack of `policies/cel-rule` (see its `build.rs`): larger
//! than patrol's other policies', since evaluating a CEL expression recurses once per level of
//! its syntax tree.

/// The guest stack, in bytes: as `policies/cel-rule/build.rs`.
const STACK_BYTES: usize = 256 * 1024;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo:rustc-link-arg-cdylib=-zstack-size={STACK_BYTES}");
    }
}
