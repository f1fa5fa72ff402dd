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
//! 401 means no valid token here (missing, malformed, unknown, revoked, expired, or limited to
//! other organizations: `token_not_valid_for_org`); 400 an organization that is missing or not
//! an organization name (`*` included); 403 means the
//! tenant's `use` policies refuse it (such as `globalPatUsageDisabled`). Either way the reason's
//! code is in the `X-Patrol-Reason` header, for gateways that drop the body.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::json;

use patrol::identity::{self, Kind};
use patrol::timestamp::{format_rfc3339, now};
use patrol_store::tokens::{AuthError, Authenticated, Client, DeniedUse};

use crate::api::blocking;
use crate::decision_log::DecisionRecord;
use crate::error::ApiError;
use crate::extract::{PathParams, Served};
use crate::state::Shared;

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
    served: Served,
    headers: HeaderMap,
) -> Response {
    let org = header_text(&headers, ORG_HEADER);
    gate(state, served, org.map(|org| (org, ORG_HEADER)), headers).await
}

/// The `{org}` of the path.
#[derive(Deserialize)]
pub(crate) struct OrgParam {
    org: String,
}

/// `orgs/{org}/forward-auth`: the organization from the path.
pub(crate) async fn forward_auth_in_org(
    State(state): State<Arc<Shared>>,
    served: Served,
    PathParams(OrgParam { org }): PathParams<OrgParam>,
    headers: HeaderMap,
) -> Response {
    gate(state, served, Some((org, "org")), headers).await
}

/// Authenticates the request's token for `org` (and the field it came from, for errors).
async fn gate(
    state: Arc<Shared>,
    Served {
        name: tenant,
        served,
    }: Served,
    org: Option<(String, &'static str)>,
    headers: HeaderMap,
) -> Response {
    if state.is_shutting_down() {
        return ApiError::shutting_down().into_response();
    }
    let Some((org, field)) = org.filter(|(org, _)| !org.is_empty()) else {
        return ApiError::new(
            StatusCode::BAD_REQUEST,
            "missing_org",
            "name the organization in the path or the `X-Patrol-Org` header",
        )
        .with_field(ORG_HEADER)
        .into_response();
    };
    if let Err(invalid) = identity::check(Kind::Org, &org) {
        return ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_org",
            format!("`{field}`: {invalid}"),
        )
        .with_field(field)
        .into_response();
    }
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
        Ok(Ok(authenticated)) => accepted(&state, &tenant, &authenticated),
        Ok(Err(error)) => refused(&state, &tenant, error),
        Err(error) => error.into_response(),
    }
}

/// 200, with the identity in headers for the upstream. Every identity header is sent, or the
/// answer is a 500: an upstream must never see an authenticated request without knowing whose
/// it is. (Identities are checked when tokens are issued, so this fails only for a token
/// stored by an older patrol that did not check them.)
fn accepted(state: &Shared, tenant: &str, authenticated: &Authenticated) -> Response {
    let token = &authenticated.token;
    let scopes = token.scopes.join(" ");
    let mut identity = Vec::with_capacity(4);
    for (name, value) in [
        (USER_HEADER, token.owner.as_str()),
        (TOKEN_ID_HEADER, token.id.as_str()),
        (SCOPES_HEADER, scopes.as_str()),
        (TENANT_HEADER, tenant),
    ] {
        match HeaderValue::from_bytes(value.as_bytes()) {
            Ok(value) => identity.push((HeaderName::from_static(name), value)),
            Err(_) => {
                tracing::error!(
                    %tenant, token_id = %token.id, header = name,
                    "refusing an authenticated request: its identity cannot be sent as a header"
                );
                state
                    .metrics
                    .record_authentication(tenant, "identity_unsendable");
                return ApiError::internal(format!(
                    "the token's identity cannot be sent in `{name}`; the request is refused"
                ))
                .into_response();
            }
        }
    }
    state.metrics.record_authentication(tenant, "authenticated");
    let mut response = Json(json!({
        "tenant": tenant,
        "user": token.owner,
        "tokenId": token.id,
        "scopes": token.scopes,
        "validTo": format_rfc3339(token.valid_to),
        "decision": authenticated.decision,
    }))
    .into_response();
    response.headers_mut().extend(identity);
    response
}

fn refused(state: &Shared, tenant: &str, error: AuthError) -> Response {
    let (status, code) = match &error {
        AuthError::Missing => (StatusCode::UNAUTHORIZED, "missing_token"),
        AuthError::Malformed(_) => (StatusCode::UNAUTHORIZED, "malformed_token"),
        AuthError::Unknown => (StatusCode::UNAUTHORIZED, "unknown_token"),
        AuthError::Revoked => (StatusCode::UNAUTHORIZED, "revoked_token"),
        AuthError::Expired(_) => (StatusCode::UNAUTHORIZED, "expired_token"),
        AuthError::NotValidForOrg(denied) => {
            log_refusal(state, tenant, denied);
            (StatusCode::UNAUTHORIZED, "token_not_valid_for_org")
        }
        AuthError::Denied(denied) => {
            log_refusal(state, tenant, denied);
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
            tracing::error!(error = %patrol::with_causes(&error), "authentication failed");
            return ApiError::failed(&error).into_response();
        }
    };
    state.metrics.record_authentication(tenant, code);
    let message = match &error {
        AuthError::NotValidForOrg(denied) => denied
            .decision
            .enforced_violations()
            .next()
            .map_or_else(|| error.to_string(), |violation| violation.message.clone()),
        _ => error.to_string(),
    };
    let mut response = ApiError::new(status, code, message).into_response();
    let headers = response.headers_mut();
    headers.insert(REASON_HEADER, HeaderValue::from_static(code));
    headers.insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"patrol\", Bearer realm=\"patrol\""),
    );
    response
}

/// Writes a refused use to the decision log, where the violations report finds it; the
/// token's id is there, its secret never is.
fn log_refusal(state: &Shared, tenant: &str, denied: &DeniedUse) {
    let decision_id = uuid::Uuid::now_v7().to_string();
    state.log.record(&DecisionRecord::new(
        &decision_id,
        "gateway",
        tenant,
        &denied.request,
        &denied.decision,
        Duration::ZERO,
    ));
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
