//! patrol's personal-access-token check as a [tower] layer, for Rust gateways (axum, hyper,
//! Pingora's tower services): no network hop, the same outcomes as `patrol serve`'s
//! forward-auth, because both call [`patrol_gate::Gate::authenticate`].
//!
//! ```no_run
//! # use std::sync::Arc;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use patrol::{Engine, EngineConfig, Tenant, TenantConfig};
//! use patrol_gate::Tenants;
//! use patrol_store::tokens::{SqliteStore, Tokens};
//! use patrol_tower::{OrgFrom, PatAuthLayer, TenantFrom, Options};
//!
//! let engine = Engine::new(EngineConfig::default())?;
//! let config = TenantConfig::from_file("tenant.toml".as_ref())?;
//! let tenant = Arc::new(Tenant::load(&engine, &config)?);
//! let tokens = Arc::new(Tokens::new(Arc::new(SqliteStore::open("tokens.db".as_ref())?)));
//! let layer = PatAuthLayer::new(
//!     Tenants::new().with(tenant),
//!     tokens,
//!     Options::new(TenantFrom::Fixed("contoso".into()), OrgFrom::PathSegment(0)),
//! );
//! // axum::Router::new().route(...).layer(layer)
//! # let _ = layer; Ok(())
//! # }
//! ```
//!
//! On success the request goes on with an [`Identity`] in its extensions and, unless turned
//! off, the identity headers (`x-patrol-user`, `x-patrol-token-id`, `x-patrol-scopes`,
//! `x-patrol-tenant`); any header of those names the client sent is removed first, so an
//! upstream can trust them. On failure the layer answers itself, as forward-auth does: 401
//! (no valid token here), 403 (the tenant's `use` policies refuse it), 400 (no organization)
//! or 404 (no such tenant), with the reason's code in `x-patrol-reason` and a JSON body.

mod layer;
mod options;

pub use layer::{Identity, PatAuth, PatAuthLayer};
pub use options::{Options, OrgFrom, TenantFrom};
