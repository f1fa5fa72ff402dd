//! patrol's one authentication path for gateways.
//!
//! Every front end that lets requests through a gateway — the forward-auth endpoints NGINX,
//! Caddy and Traefik call, Envoy's ext_authz over gRPC, the in-process tower layer and
//! `POST /authenticate` — reads the same three things out of a request (the token, the
//! organization, the client), calls [`Gate::authenticate`], and translates the [`Outcome`]
//! it gets into its own protocol. So every front end admits and refuses the same tokens, with
//! the same status, reason code, message and identity, counts the same metrics and logs the
//! same refusals.
//!
//! ```text
//!   forward-auth   ext_authz   PatAuthLayer   /authenticate
//!         │            │            │              │
//!         └────────────┴─────┬──────┴──────────────┘
//!                            ▼
//!            credentials: token, organization, client
//!                            ▼
//!     Gate::authenticate ── tenant (TenantSource) ── Tokens::authenticate (store + `use`)
//!                            ▼
//!            Outcome: status, reason code, identity headers, JSON body
//!                            │
//!                            └──► Observer: metrics, decision log
//! ```
//!
//! The crate knows no HTTP library: headers come in through the small [`Headers`] trait
//! (implemented for whatever map a front end has) and go out as name and value pairs.

mod credentials;
mod gate;
mod outcome;

pub use credentials::{Headers, client_address, presented_token};
pub use gate::{Attempt, Gate, Observer, TenantSource, Tenants};
pub use outcome::{
    Allowed, CHALLENGE, IDENTITY_HEADERS, ORG_HEADER, Outcome, REASON_HEADER, Refusal,
    SCOPES_HEADER, TENANT_HEADER, TOKEN_ID_HEADER, USER_HEADER,
};
