//! The token lifecycle API, shaped after Azure DevOps' PAT lifecycle API, for the developer
//! platform (which has authenticated its user) to call with the admin bearer token:
//!
//! - `POST /v1/tenants/{tenant}/tokens`: create. The tenant's policies decide; a denied request
//!   answers 403 with the decision and stores nothing. The secret is in this response only.
//! - `GET /v1/tenants/{tenant}/tokens?displayFilterOption=active|revoked|expired|all&user=&top=&continuationToken=`:
//!   list, oldest first, at most 100 a page.
//! - `GET /v1/tenants/{tenant}/tokens/{id}`: one token.
//! - `POST /v1/tenants/{tenant}/tokens/{id}/regenerate`: a new secret and lifetime, decided like
//!   a creation.
//! - `DELETE /v1/tenants/{tenant}/tokens/{id}?reason=`: revoke.
//! - `GET /v1/tenants/{tenant}/audit?since=&until=&event=&limit=`: the audit log, newest first.
//!
//! The person acting is named by the `X-Patrol-Actor` header (default `admin`) for revocations;
//! creations and regenerations are recorded as done by the token's owner.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::decision::Decision;
use crate::timestamp::{Timestamp, now, parse_rfc3339};
use crate::tokens::{
    AuditEvent, AuditQuery, Issued, LifecycleError, NewToken, PatTokenView, TokenFilter,
};

use super::admin::{actor, authorize};
use super::api::{blocking, read_body};
use super::error::ApiError;
use super::state::Shared;

/// What `POST .../tokens` takes (Azure DevOps' `PatTokenCreateRequest`, and who it is for).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateBody {
    /// The user the token is for.
    user: String,
    /// The user's groups, if the platform knows them; otherwise the group directory's.
    #[serde(default)]
    groups: Option<Vec<String>>,
    display_name: String,
    /// Space-separated scopes.
    scope: String,
    #[serde(with = "crate::timestamp::rfc3339::required")]
    valid_to: Timestamp,
    #[serde(default)]
    all_orgs: bool,
    /// The organizations the token is for; default, the one the request is made in.
    #[serde(default)]
    target_accounts: Option<Vec<String>>,
    /// The organization the request is made in.
    org: String,
}

/// What `POST .../tokens/{id}/regenerate` takes.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RegenerateBody {
    /// The new end of validity; default, as long as the token had.
    #[serde(
        default,
        deserialize_with = "crate::timestamp::rfc3339::deserialize_option"
    )]
    valid_to: Option<Timestamp>,
    /// The organization the request is made in.
    org: String,
}

/// Parses a JSON body, naming the field at fault.
fn parse_body<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let field = error.path().to_string();
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("`{field}`: {}", error.inner()),
        )
        .with_field(field)
    })
}

fn lifecycle_error(error: LifecycleError) -> Response {
    match error {
        LifecycleError::Denied(decision) => denied(&decision),
        LifecycleError::NotFound(id) => ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_token",
            format!("no token `{id}` in this tenant (or it is revoked)"),
        )
        .into_response(),
        LifecycleError::Invalid { field, problem } => ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("`{field}`: {problem}"),
        )
        .with_field(field)
        .into_response(),
        other => ApiError::internal(other.to_string()).into_response(),
    }
}

/// A refusal, as Azure DevOps answers it: no token, the first violation's code as
/// `patTokenError`, and patrol's whole decision.
fn denied(decision: &Decision) -> Response {
    let code = decision
        .enforced_violations()
        .next()
        .map(|violation| violation.code.as_str())
        .unwrap_or("denied");
    (
        StatusCode::FORBIDDEN,
        Json(json!({
            "patToken": null,
            "patTokenError": code,
            "decision": decision,
        })),
    )
        .into_response()
}

fn issued(issued: &Issued, status: StatusCode) -> Response {
    let now = now();
    (
        status,
        Json(json!({
            "patToken": PatTokenView::of(&issued.token, Some(issued.secret.expose()), now),
            "patTokenError": "none",
            "decision": issued.decision,
        })),
    )
        .into_response()
}

pub(crate) async fn create(
    State(state): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    authorize(&state, &headers)?;
    let bytes = read_body(body, state.limits.request).await?;
    let body: CreateBody = parse_body(&bytes)?;
    let served = state
        .tenant(&tenant)
        .ok_or_else(|| ApiError::unknown_tenant(&tenant))?;
    let new = NewToken {
        owner: body.user,
        groups: body.groups,
        display_name: body.display_name,
        scopes: body.scope.split_whitespace().map(str::to_string).collect(),
        all_orgs: body.all_orgs,
        orgs: body
            .target_accounts
            .unwrap_or_else(|| vec![body.org.clone()]),
        valid_to: body.valid_to,
        org: body.org,
    };
    let tokens = Arc::clone(&state.tokens);
    let outcome = blocking(move || tokens.create(&served.tenant, new, now())).await?;
    Ok(match outcome {
        Ok(token) => issued(&token, StatusCode::CREATED),
        Err(error) => lifecycle_error(error),
    })
}

pub(crate) async fn regenerate(
    State(state): State<Arc<Shared>>,
    Path((tenant, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    authorize(&state, &headers)?;
    let bytes = read_body(body, state.limits.request).await?;
    let body: RegenerateBody = parse_body(&bytes)?;
    let served = state
        .tenant(&tenant)
        .ok_or_else(|| ApiError::unknown_tenant(&tenant))?;
    let tokens = Arc::clone(&state.tokens);
    let outcome =
        blocking(move || tokens.regenerate(&served.tenant, &id, body.valid_to, &body.org, now()))
            .await?;
    Ok(match outcome {
        Ok(token) => issued(&token, StatusCode::OK),
        Err(error) => lifecycle_error(error),
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RevokeQuery {
    #[serde(default)]
    reason: Option<String>,
}

pub(crate) async fn revoke(
    State(state): State<Arc<Shared>>,
    Path((tenant, id)): Path<(String, String)>,
    Query(query): Query<RevokeQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&state, &headers)?;
    known_tenant(&state, &tenant)?;
    let actor = actor(&headers);
    let reason = query
        .reason
        .unwrap_or_else(|| "revoked by an administrator".to_string());
    let tokens = Arc::clone(&state.tokens);
    let outcome = blocking(move || tokens.revoke(&tenant, &id, &actor, &reason, now())).await?;
    Ok(match outcome {
        Ok(token) => {
            Json(json!({ "patToken": PatTokenView::of(&token, None, now()) })).into_response()
        }
        Err(error) => lifecycle_error(error),
    })
}

pub(crate) async fn get_token(
    State(state): State<Arc<Shared>>,
    Path((tenant, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&state, &headers)?;
    known_tenant(&state, &tenant)?;
    let tokens = Arc::clone(&state.tokens);
    let found = blocking(move || tokens.get(&tenant, &id))
        .await?
        .map_err(|error| ApiError::internal(error.to_string()))?;
    match found {
        Some(token) => {
            Ok(Json(json!({ "patToken": PatTokenView::of(&token, None, now()) })).into_response())
        }
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_token",
            "no such token in this tenant",
        )),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ListQuery {
    #[serde(default)]
    display_filter_option: Option<String>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default, alias = "$top")]
    top: Option<usize>,
    #[serde(default)]
    continuation_token: Option<String>,
}

pub(crate) async fn list(
    State(state): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    Query(query): Query<ListQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&state, &headers)?;
    known_tenant(&state, &tenant)?;
    let filter = match query.display_filter_option.as_deref() {
        None | Some("active") => TokenFilter::Active,
        Some("revoked") => TokenFilter::Revoked,
        Some("expired") => TokenFilter::Expired,
        Some("all") => TokenFilter::All,
        Some(other) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!(
                    "`displayFilterOption`: `{other}` is not one of active, revoked, expired, all"
                ),
            )
            .with_field("displayFilterOption"));
        }
    };
    let limit = query.top.unwrap_or(crate::tokens::MAX_PAGE);
    let tokens = Arc::clone(&state.tokens);
    let now = now();
    let page = blocking(move || {
        tokens.list(
            &tenant,
            filter,
            query.user.as_deref(),
            now,
            limit,
            query.continuation_token.as_deref(),
        )
    })
    .await?
    .map_err(|error| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            error.to_string(),
        )
        .with_field("continuationToken")
    })?;
    let items: Vec<PatTokenView<'_>> = page
        .items
        .iter()
        .map(|token| PatTokenView::of(token, None, now))
        .collect();
    Ok(Json(json!({
        "patTokens": items,
        "continuationToken": page.continuation,
    }))
    .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditParams {
    #[serde(default)]
    since: Option<String>,
    #[serde(default)]
    until: Option<String>,
    #[serde(default)]
    event: Option<String>,
    #[serde(default)]
    limit: Option<usize>,
}

/// The most audit entries one call returns.
const MAX_AUDIT_ENTRIES: usize = 1000;

pub(crate) async fn audit(
    State(state): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    Query(params): Query<AuditParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&state, &headers)?;
    let time = |field: &'static str, value: Option<String>| match value {
        None => Ok(None),
        Some(text) => parse_rfc3339(&text).map(Some).ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!("`{field}`: `{text}` is not an RFC 3339 time"),
            )
            .with_field(field)
        }),
    };
    let event = match params.event {
        None => None,
        Some(name) => Some(AuditEvent::parse(&name).ok_or_else(|| {
            let known: Vec<&str> = AuditEvent::ALL.iter().map(|e| e.as_str()).collect();
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!("`event`: `{name}` is not one of {}", known.join(", ")),
            )
            .with_field("event")
        })?),
    };
    let query = AuditQuery {
        since: time("since", params.since)?,
        until: time("until", params.until)?,
        event,
        limit: params.limit.unwrap_or(100).clamp(1, MAX_AUDIT_ENTRIES),
    };
    let tokens = Arc::clone(&state.tokens);
    let entries = blocking(move || tokens.audit_log(&tenant, &query))
        .await?
        .map_err(|error| ApiError::internal(error.to_string()))?;
    Ok(Json(json!({ "entries": entries })).into_response())
}

fn known_tenant(state: &Shared, tenant: &str) -> Result<(), ApiError> {
    state
        .tenant(tenant)
        .map(|_| ())
        .ok_or_else(|| ApiError::unknown_tenant(tenant))
}
