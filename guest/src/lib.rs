//! The SDK for writing [patrol](../patrol/index.html) policies in Rust.
//!
//! A patrol policy is a WebAssembly component that judges requests about personal access
//! tokens: a token being created, regenerated, used, or found leaked. This crate hides the
//! component plumbing: you describe your settings as a serde type, write one function that
//! turns a [`Request`] into a [`Verdict`], and export it with [`export_policy!`].
//!
//! ```
//! use patrol_guest::{Operation, Policy, Request, Verdict, scope};
//!
//! /// Settings, as the tenant writes them under `settings = { ... }`.
//! #[derive(serde::Serialize, serde::Deserialize)]
//! #[serde(deny_unknown_fields)]
//! pub struct Settings {
//!     /// Scopes nobody may request.
//!     forbidden: Vec<String>,
//! }
//!
//! pub struct ForbiddenScopes;
//!
//! impl Policy for ForbiddenScopes {
//!     const NAME: &'static str = "forbidden_scopes";
//!     const VERSION: &'static str = "1.0.0";
//!     const DESCRIPTION: &'static str = "Refuses tokens that carry a forbidden scope.";
//!     const OPERATIONS: &'static [Operation] = &[Operation::Create, Operation::Regenerate];
//!     type Settings = Settings;
//!
//!     fn evaluate(settings: &Settings, request: &Request) -> Verdict {
//!         match request.token.scopes.iter().find(|s| scope::is_any_of(s, &settings.forbidden)) {
//!             Some(s) => Verdict::deny("forbiddenScope", format!("scope `{s}` may not be requested")),
//!             None => Verdict::allow(),
//!         }
//!     }
//! }
//!
//! patrol_guest::export_policy!(ForbiddenScopes);
//! ```
//!
//! Build the crate as a `cdylib` for `wasm32-unknown-unknown` and wrap the module into a
//! component (the patrol workspace's build does both); the component imports nothing.
//!
//! What a policy runs under: every [`Policy::evaluate`] call happens in a fresh instance, with a
//! deadline, a memory cap and a stack cap set by the host. Nothing survives between calls, so
//! global state is useless rather than dangerous. On `wasm32` this crate installs a bump
//! allocator that never frees: allocation is a pointer increment, and the whole heap vanishes
//! with the instance after each call.

#![warn(missing_docs)]

#[allow(unused_extern_crates)] // lets the generated bindings name this crate `::patrol_guest`
extern crate self as patrol_guest;

#[cfg(all(target_arch = "wasm32", feature = "bump-allocator"))]
mod bump_alloc;
mod export;
mod request;
pub mod scope;
mod settings;
pub mod time;
mod verdict;

#[doc(hidden)]
pub use export::{Bundle, BundleComponent, Bundled};
pub use export::{CompiledComponent, CompiledPolicy, Component, Policy};
pub use request::Allowlist;
pub use settings::{NoSettings, compile_settings, decode_settings, parse_settings};

pub use bindings::patrol::policy::types::{
    Action, Actor, Operation, PolicyMetadata, PreparedSettings, Request, Timestamp, Token, Verdict,
    Violation,
};

/// Bindings generated from `wit/policy.wit`; policies use the re-exports at the crate root.
#[doc(hidden)]
#[allow(missing_docs)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "policy-component",
        pub_export_macro: true,
        export_macro_name: "__export_policy_component",
        default_bindings_module: "::patrol_guest::bindings",
        runtime_path: "::patrol_guest::__private::wit_bindgen::rt",
        additional_derives: [PartialEq, Eq],
    });
}

/// Bindings for the `seed-bundle` world, which exports several policies from one component;
/// they share the types above.
#[doc(hidden)]
#[allow(missing_docs)]
pub mod bundle_bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "seed-bundle",
        pub_export_macro: true,
        export_macro_name: "__export_seed_bundle",
        default_bindings_module: "::patrol_guest::bundle_bindings",
        runtime_path: "::patrol_guest::__private::wit_bindgen::rt",
        with: { "patrol:policy/types@0.1.0": crate::bindings::patrol::policy::types },
    });
}

#[doc(hidden)]
pub mod __private {
    pub use wit_bindgen;
}

/// Exports several [`Policy`] implementations from one component, through the
/// `patrol:policy/bundle` interface, so that one instance judges them all. patrol uses it for its
/// seed policies; the index of each policy is its position in the list. [`CompiledPolicy`]
/// implementations follow, after `; compiled`:
/// `export_bundle!(MaxLifespan, NoGlobal; compiled CelRule)`, or `export_bundle!(; compiled
/// CelRule)` for those alone.
#[macro_export]
macro_rules! export_bundle {
    ($($policy:ty),* $(,)? $(; compiled $($compiled:ty),+ $(,)?)?) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct PatrolBundle;
            impl $crate::Bundle for PatrolBundle {
                const POLICIES: &'static [$crate::Bundled] = &[
                    $($crate::Bundled::of::<$policy>(),)*
                    $($($crate::Bundled::of_compiled::<$compiled>(),)+)?
                ];
            }
            type PatrolBundleExport = $crate::BundleComponent<PatrolBundle>;
            $crate::bundle_bindings::__export_seed_bundle!(
                PatrolBundleExport with_types_in $crate::bundle_bindings
            );
        };
    };
}

/// Exports a [`CompiledPolicy`] implementation as the component's `patrol:policy/policy`
/// interface, as [`export_policy!`] does for a [`Policy`].
#[macro_export]
macro_rules! export_compiled_policy {
    ($policy:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            type PatrolExport = $crate::CompiledComponent<$policy>;
            $crate::bindings::__export_policy_component!(
                PatrolExport with_types_in $crate::bindings
            );
        };
    };
}

/// Exports a [`Policy`] implementation as the component's `patrol:policy/policy` interface.
///
/// Use it once, in the crate that is built into the component.
#[macro_export]
macro_rules! export_policy {
    ($policy:ty) => {
        // Only a WebAssembly build has component exports; elsewhere (unit tests, docs) the
        // policy is plain Rust.
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            type PatrolExport = $crate::Component<$policy>;
            $crate::bindings::__export_policy_component!(
                PatrolExport with_types_in $crate::bindings
            );
        };
    };
}
