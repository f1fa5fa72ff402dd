//! The gateway path: authenticate a patrol token on every request a gateway lets through.
//!
//! - `POST /v1/tenants/{tenant}/authenticate`: for services that ask directly.
//! - `GET /v1/tenants/{tenant}/forward-auth` and `GET /v1/tenants/{tenant}/orgs/{org}/forward-auth`:
//!   for NGINX `auth_request`, Traefik `forwardAuth` and Envoy `ext_authz` (any method is
//!   accepted, since some gateways forward the client's).
//!
//! The token comes from `Authorization: Bearer <token>` or `Authorization: Basic`, Azure DevOps
//! style (an empty user name and the token as password; a token as the user name with an empty
//! password works too). The organization comes from the path or the `X-Patrol-Org` header.
//!
//! 200 means the token may be used here, with the identity in headers for the upstream:
//! `X-Patrol-User`, `X-Patrol-Token-Id`, `X-Patrol-Scopes` (space-separated), `X-Patrol-Tenant`.
//! 401 means no valid token (missing, malformed, unknown, revoked, expired); 403 means the
//! tenant's `use` policies refuse it (such as `globalPatUsageDisabled`). Either way the reason's
//! code is in the `X-Patrol-Reason` header, for gateways that drop the body.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::json;

use crate::timestamp::{format_rfc3339, now};
use crate::tokens::{AuthError, Authenticated, Client};

use super::api::blocking;
use super::decision_log::DecisionRecord;
use super::error::ApiError;
use super::state::Shared;

/// The header naming the organization a request is made in.
pub const ORG_HEADER: &str = "x-patrol-org";
/// The authenticated user, on a 200.
pub const USER_HEADER: &str = "x-patrol-user";
/// The token's id, on a 200.
pub const TOKEN_ID_HEADER: &str = "x-patrol-token-id";
/// The token's scopes, space-separated, on a 200.
pub const SCOPES_HEADER: &str = "x-patrol-scopes";
/// The tenant, on a 200.
pub const TENANT_HEADER: &str = "x-patrol-tenant";
/// Why a token was refused, as a code, on a 401 or 403.
pub const REASON_HEADER: &str = "x-patrol-reason";

/// `authenticate` and `forward-auth`: the organization from `X-Patrol-Org`.
pub(crate) async fn authenticate(
    State(state): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    let org = header_text(&headers, ORG_HEADER);
    gate(state, tenant, org, headers).await
}

/// `orgs/{org}/forward-auth`: the organization from the path.
pub(crate) async fn forward_auth_in_org(
    State(state): State<Arc<Shared>>,
    Path((tenant, org)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    gate(state, tenant, Some(org), headers).await
}

async fn gate(
    state: Arc<Shared>,
    tenant: String,
    org: Option<String>,
    headers: HeaderMap,
) -> Response {
    if state.is_shutting_down() {
        return ApiError::shutting_down().into_response();
    }
    let Some(served) = state.tenant(&tenant) else {
        return ApiError::unknown_tenant(&tenant).into_response();
    };
    let Some(org) = org.filter(|org| !org.is_empty()) else {
        return ApiError::new(
            StatusCode::BAD_REQUEST,
            "missing_org",
            "name the organization in the path or the `X-Patrol-Org` header",
        )
        .with_field(ORG_HEADER)
        .into_response();
    };
    let presented = match presented_token(&headers) {
        Some(token) => token,
        None => return refused(&state, &tenant, AuthError::Missing),
    };
    let client = Client {
        user_agent: header_text(&headers, header::USER_AGENT.as_str()),
        address: client_address(&headers),
    };
    let tokens = Arc::clone(&state.tokens);
    let outcome =
        blocking(move || tokens.authenticate(&served.tenant, &presented, &org, client, now()))
            .await;
    match outcome {
        Ok(Ok(authenticated)) => {
            state
                .metrics
                .record_authentication(&tenant, "authenticated");
            accepted(&tenant, &authenticated)
        }
        Ok(Err(error)) => refused(&state, &tenant, error),
        Err(error) => error.into_response(),
    }
}

fn accepted(tenant: &str, authenticated: &Authenticated) -> Response {
    let token = &authenticated.token;
    let scopes = token.scopes.join(" ");
    let mut response = Json(json!({
        "tenant": tenant,
        "user": token.owner,
        "tokenId": token.id,
        "scopes": token.scopes,
        "validTo": format_rfc3339(token.valid_to),
        "decision": authenticated.decision,
    }))
    .into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        (USER_HEADER, token.owner.as_str()),
        (TOKEN_ID_HEADER, token.id.as_str()),
        (SCOPES_HEADER, scopes.as_str()),
        (TENANT_HEADER, tenant),
    ] {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    response
}

fn refused(state: &Shared, tenant: &str, error: AuthError) -> Response {
    let (status, code) = match &error {
        AuthError::Missing => (StatusCode::UNAUTHORIZED, "missing_token"),
        AuthError::Malformed(_) => (StatusCode::UNAUTHORIZED, "malformed_token"),
        AuthError::Unknown => (StatusCode::UNAUTHORIZED, "unknown_token"),
        AuthError::Revoked => (StatusCode::UNAUTHORIZED, "revoked_token"),
        AuthError::Expired(_) => (StatusCode::UNAUTHORIZED, "expired_token"),
        AuthError::Denied(denied) => {
            // Refusals by policy go to the decision log, where the violations report finds
            // them; the token's id is there, its secret never is.
            let decision_id = uuid::Uuid::now_v7().to_string();
            state.log.record(&DecisionRecord::new(
                &decision_id,
                "gateway",
                tenant,
                &denied.request,
                &denied.decision,
                Duration::ZERO,
            ));
            let decision = &denied.decision;
            let first = decision.enforced_violations().next();
            let code = first
                .map(|v| v.code.clone())
                .unwrap_or_else(|| "denied".to_string());
            let message = first
                .map(|v| v.message.clone())
                .unwrap_or_else(|| error.to_string());
            state.metrics.record_authentication(tenant, "denied");
            let mut response = (
                StatusCode::FORBIDDEN,
                Json(json!({
                    "error": { "code": code, "message": message },
                    "decision": decision,
                })),
            )
                .into_response();
            if let Ok(value) = HeaderValue::from_str(&code) {
                response.headers_mut().insert(REASON_HEADER, value);
            }
            return response;
        }
        AuthError::Store(_) => {
            tracing::error!(%error, "authentication failed");
            return ApiError::internal(error.to_string()).into_response();
        }
    };
    state.metrics.record_authentication(tenant, code);
    let mut response = ApiError::new(status, code, error.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(REASON_HEADER, HeaderValue::from_static(code));
    headers.insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"patrol\", Bearer realm=\"patrol\""),
    );
    response
}

/// The token in `Authorization`, Bearer or Basic.
fn presented_token(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, credentials) = value.split_once(' ')?;
    let credentials = credentials.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(credentials.to_string()).filter(|token| !token.is_empty());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(credentials)
            .ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (user, password) = decoded.split_once(':').unwrap_or((&decoded, ""));
        let token = if password.is_empty() { user } else { password };
        return Some(token.to_string()).filter(|token| !token.is_empty());
    }
    None
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(|value| value.trim().to_string())
        .filter(|value| !value.is_empty())
}

/// The client's address as the gateway reports it: the first `X-Forwarded-For` entry, else
/// `X-Real-IP`.
fn client_address(headers: &HeaderMap) -> Option<String> {
    header_text(headers, "x-forwarded-for")
        .and_then(|list| list.split(',').next().map(|first| first.trim().to_string()))
        .filter(|first| !first.is_empty())
        .or_else(|| header_text(headers, "x-real-ip"))
}
