//! patrol: administrators' policies for personal access tokens, as sandboxed WebAssembly
//! components.
//!
//! Each policy is a component behind one WIT contract (`wit/policy.wit`). An [`Engine`]
//! compiles components once and shares them across tenants; a [`Tenant`] holds one tenant's
//! policies with their validated settings and judges [`Request`]s, running every policy in a
//! fresh, limited instance, so no state crosses requests or tenants and no policy can crash or
//! stall the host.
//!
//! ```no_run
//! use patrol::{Engine, EngineConfig, Request, TenantConfig};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let engine = Engine::new(EngineConfig::default())?;
//! let config = TenantConfig::from_file("examples/contoso/tenant.toml".as_ref())?;
//! let tenant = engine.load_tenant(&config)?;
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

mod builtin;
mod bundle;
mod cache;
pub mod cases;
mod component;
pub mod config;
mod contract;
pub mod decision;
mod describe;
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
pub mod reports;
pub mod request;
mod runtime;
mod sandbox;
pub mod scopes;
mod serde_message;
pub mod server;
mod tenant;
pub mod timestamp;
pub mod tokens;
mod wit;

pub use builtin::{BUILTIN_POLICIES, BuiltinPolicy, PolicyLevel, builtin_policy};
pub use component::{CompiledComponent, ComponentError, ComponentMetadata, Digest};
pub use config::{ConfigError, TenantConfig};
pub use decision::{Action, Decision, ErrorClass};
pub use engine::{Engine, EngineConfig, EngineError, Interruption, Quarantine};
pub use limits::Limits;
pub use quarantine::Quarantined;
pub use request::{Operation, Request, RequestError};
pub use runtime::Allocation;
pub use sandbox::{BACKSTOP_FACTOR, MIN_BACKSTOP, PolicyFailure};
pub use tenant::{LoadError, PolicyInfo, Tenant};
