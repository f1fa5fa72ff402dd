//! patrol: administrators' policies for personal access tokens, as sandboxed WebAssembly
//! components.
//!
//! Each policy is a component behind one WIT contract (`wit/policy.wit`). An [`Engine`]
//! compiles components once and shares them across tenants; a [`Tenant`] holds one tenant's
//! policies with their validated settings and judges [`Request`]s, running every policy in a
//! fresh, limited instance, so no state crosses requests or tenants and no policy can crash or
//! stall the host.
//!
//! This crate is the engine a gateway embeds, and nothing more: no web server, no database,
//! no command line. The token store and reports are `patrol-store`, the HTTP service
//! `patrol-server`, the `patrol` command `patrol-cli`; `ARCHITECTURE.md` draws how they and
//! this crate's modules depend on each other.
//!
//! ```no_run
//! use patrol::{Engine, EngineConfig, Request, Tenant, TenantConfig};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let engine = Engine::new(EngineConfig::default())?;
//! let config = TenantConfig::from_file("examples/contoso/tenant.toml".as_ref())?;
//! let tenant = Tenant::load(&engine, &config)?;
//! let request = Request::from_json(r#"{
//!     "operation": "create", "org": "fabrikam",
//!     "user": { "id": "bob@contoso.com", "groups": ["eng"] },
//!     "token": { "scopes": ["vso.code_write"], "orgs": ["fabrikam"],
//!                "valid_to": "2027-03-01T00:00:00Z" } }"#)?;
//! let decision = tenant.evaluate(&request);
//! println!("{}", decision.to_json());
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

mod ahead;
mod builtin;
mod bundle;
mod cache;
pub mod cases;
mod clock;
mod component;
pub mod config;
mod contract;
pub mod decision;
mod describe;
mod digest;
mod engine;
pub mod files;
#[doc(hidden)]
pub mod fuzzing;
pub mod guest_text;
pub mod identity;
pub mod json;
mod limiter;
pub mod limits;
mod permits;
#[doc(hidden)]
pub mod profiling;
mod quarantine;
pub mod request;
pub mod rules;
mod runtime;
mod sandbox;
pub mod scopes;
pub mod serde_message;
mod tenant;
pub mod timestamp;
mod wit;

pub use ahead::EvaluationThread;
pub use builtin::{BUILTIN_POLICIES, BuiltinPolicy, PolicyLevel, builtin_policy};
pub use component::{CompiledComponent, ComponentError};
pub use config::{ConfigError, TenantConfig};
pub use contract::ComponentMetadata;
pub use decision::{Action, Decision, ErrorClass};
pub use describe::with_causes;
pub use digest::Digest;
pub use engine::{Engine, EngineConfig};
pub use limits::Limits;
pub use quarantine::{Quarantine, Quarantined};
pub use request::{Operation, Request, RequestError};
pub use runtime::{Allocation, EngineError, Interruption};
pub use sandbox::{BACKSTOP_FACTOR, MIN_BACKSTOP, PolicyFailure};
pub use tenant::{LoadError, PolicyInfo, Tenant};
