//! The gateway path over HTTP: authenticate a patrol token on every request a gateway lets
//! through.
//!
//! - `POST /v1/tenants/{tenant}/authenticate`: for services that ask directly.
//! - `GET /v1/tenants/{tenant}/forward-auth` and `GET /v1/tenants/{tenant}/orgs/{org}/forward-auth`:
//!   for NGINX `auth_request`, Caddy `forward_auth`, Traefik `forwardAuth` and Envoy's HTTP
//!   `ext_authz` (any method is accepted, since some gateways forward the client's).
//!
//! Both read the request and answer through [`patrol_gate`], the one authentication path
//! Envoy's gRPC ext_authz (`ext_authz.rs`) and the tower layer (`patrol-tower`) share: the
//! token from `Authorization` (Bearer, or Basic Azure DevOps style), the organization from the
//! path or the `X-Patrol-Org` header.
//!
//! 200 means the token may be used here, with the identity in headers for the upstream:
//! `X-Patrol-User`, `X-Patrol-Token-Id`, `X-Patrol-Scopes` (space-separated), `X-Patrol-Tenant`.
//! 401 means no valid token here (missing, malformed, unknown, revoked, expired, or limited to
//! other organizations: `token_not_valid_for_org`); 400 an organization that is missing or not
//! an organization name (`*` included); 403 means the tenant's `use` policies refuse it (such
//! as `globalPatUsageDisabled`). Every refusal has its code in the `X-Patrol-Reason` header,
//! for gateways that drop the body.

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;

use patrol_gate::{Attempt, ORG_HEADER, Outcome, Refusal};

use crate::extract::{PathParams, TenantName};
use crate::state::Shared;

/// `authenticate` and `forward-auth`: the organization from `X-Patrol-Org`.
pub(crate) async fn authenticate(
    State(state): State<Arc<Shared>>,
    TenantName(tenant): TenantName,
    headers: HeaderMap,
) -> Response {
    let org = headers
        .get(ORG_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(|org| (org.trim().to_string(), ORG_HEADER.to_string()));
    gate(state, Attempt::from_headers(tenant, org, &headers)).await
}

/// The `{org}` of the path.
#[derive(Deserialize)]
pub(crate) struct OrgParam {
    org: String,
}

/// `orgs/{org}/forward-auth`: the organization from the path.
pub(crate) async fn forward_auth_in_org(
    State(state): State<Arc<Shared>>,
    TenantName(tenant): TenantName,
    PathParams(OrgParam { org }): PathParams<OrgParam>,
    headers: HeaderMap,
) -> Response {
    gate(
        state,
        Attempt::from_headers(tenant, Some((org, "org".to_string())), &headers),
    )
    .await
}

async fn gate(state: Arc<Shared>, attempt: Attempt) -> Response {
    let outcome = if state.is_shutting_down() {
        Outcome::Refused(Refusal::shutting_down())
    } else {
        let gate = state.gate();
        // The store may block (SQLite, PostgreSQL).
        gate.authenticate_blocking(attempt).await
    };
    outcome.to_http()
}
