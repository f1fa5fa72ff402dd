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
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use patrol::decision::Decision;
use patrol::timestamp::{Timestamp, now, parse_rfc3339};
use patrol_store::tokens::{
    AuditEvent, AuditQuery, Issued, LifecycleError, NewToken, PatTokenView, StoreError,
    TokenFilter, TokenOrder, TokenQuery,
};

use crate::api::blocking;
use crate::error::ApiError;
use crate::extract::{Admin, JsonBody, PathParams, QueryParams, Read, Served, Write};
use crate::state::Shared;

/// What `POST .../tokens` takes (Azure DevOps' `PatTokenCreateRequest`, and who it is for).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct CreateBody {
    /// The user the token is for.
    user: String,
    /// The user's groups, if the platform knows them; otherwise the group directory's.
    #[serde(default)]
    groups: Option<Vec<String>>,
    display_name: String,
    /// Space-separated scopes.
    scope: String,
    #[serde(with = "patrol::timestamp::rfc3339::required")]
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
pub(crate) struct RegenerateBody {
    /// The new end of validity; default, as long as the token had.
    #[serde(
        default,
        deserialize_with = "patrol::timestamp::rfc3339::deserialize_option"
    )]
    valid_to: Option<Timestamp>,
    /// The organization the request is made in.
    org: String,
}

/// The `{id}` of a token's path.
#[derive(Deserialize)]
pub(crate) struct TokenId {
    id: String,
}

/// The query every route mirroring Azure DevOps' PAT lifecycle API accepts: Azure DevOps
/// clients always send `api-version`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Versioned {
    #[serde(default, rename = "api-version")]
    api_version: Option<String>,
}

/// Checks an `api-version` such as `7.1`, `7.1-preview` or `7.1-preview.1`: patrol answers
/// every version the same way, but not something that is no version at all.
fn check_api_version(version: Option<&str>) -> Result<(), ApiError> {
    let Some(version) = version else {
        return Ok(());
    };
    let (number, preview) = match version.split_once('-') {
        Some((number, preview)) => (number, Some(preview)),
        None => (version, None),
    };
    let numeric = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    let number_ok = number.split('.').count() <= 2 && number.split('.').all(numeric);
    let preview_ok = preview.is_none_or(|preview| {
        preview == "preview" || preview.strip_prefix("preview.").is_some_and(numeric)
    });
    if number_ok && preview_ok {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("`api-version`: `{version}` is not an API version such as `7.1-preview.1`"),
        )
        .with_field("api-version"))
    }
}

fn lifecycle_error(error: LifecycleError) -> Response {
    match &error {
        LifecycleError::Denied(decision) => denied(decision),
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
        LifecycleError::Deprovisioned(_) => ApiError::new(
            StatusCode::FORBIDDEN,
            "user_deprovisioned",
            error.to_string(),
        )
        .with_field("owner")
        .into_response(),
        other => ApiError::failed(other).into_response(),
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
    _admin: Admin<Write>,
    Served { served, .. }: Served,
    QueryParams(query): QueryParams<Versioned>,
    JsonBody(body): JsonBody<CreateBody>,
) -> Result<Response, ApiError> {
    check_api_version(query.api_version.as_deref())?;
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
    _admin: Admin<Write>,
    Served { served, .. }: Served,
    PathParams(TokenId { id }): PathParams<TokenId>,
    QueryParams(query): QueryParams<Versioned>,
    JsonBody(body): JsonBody<RegenerateBody>,
) -> Result<Response, ApiError> {
    check_api_version(query.api_version.as_deref())?;
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
    /// `propagated`: answer once every live replica has applied the revocation.
    #[serde(default)]
    wait: Option<String>,
    #[serde(default, rename = "api-version")]
    api_version: Option<String>,
}

pub(crate) async fn revoke(
    State(state): State<Arc<Shared>>,
    Admin { actor, .. }: Admin<Write>,
    Served { name, .. }: Served,
    PathParams(TokenId { id }): PathParams<TokenId>,
    QueryParams(query): QueryParams<RevokeQuery>,
) -> Result<Response, ApiError> {
    check_api_version(query.api_version.as_deref())?;
    let wait = match query.wait.as_deref() {
        None => false,
        Some("propagated") => true,
        Some(other) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!("`wait`: `{other}` is not a way to wait; the one there is: `propagated`"),
            )
            .with_field("wait"));
        }
    };
    let reason = query
        .reason
        .unwrap_or_else(|| "revoked by an administrator".to_string());
    let tokens = Arc::clone(&state.tokens);
    let outcome = blocking(move || tokens.revoke(&name, &id, &actor, &reason, now())).await?;
    let token = match outcome {
        Ok(token) => token,
        Err(error) => return Ok(lifecycle_error(error)),
    };
    let mut body = json!({ "patToken": PatTokenView::of(&token, None, now()) });
    if wait {
        // One replica on its own (SQLite) has applied it already: there is no other.
        if state.fleet.is_some() {
            let worker = Arc::clone(&state);
            let propagation = blocking(move || {
                let fleet = worker.fleet.as_ref().expect("checked above");
                fleet.wait_propagated(PROPAGATION_TIMEOUT)
            })
            .await?
            .map_err(|problem| {
                ApiError::new(StatusCode::GATEWAY_TIMEOUT, "not_propagated", problem)
            })?;
            body["propagation"] = json!(propagation);
        }
    }
    Ok(Json(body).into_response())
}

/// How long `?wait=propagated` waits for the other replicas.
const PROPAGATION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

pub(crate) async fn get_token(
    State(state): State<Arc<Shared>>,
    _admin: Admin<Read>,
    Served { name, .. }: Served,
    PathParams(TokenId { id }): PathParams<TokenId>,
    QueryParams(query): QueryParams<Versioned>,
) -> Result<Response, ApiError> {
    check_api_version(query.api_version.as_deref())?;
    let tokens = Arc::clone(&state.tokens);
    let found = blocking(move || tokens.get(&name, &id))
        .await?
        .map_err(|error| ApiError::failed(&error))?;
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
    display_filter_option: Option<TokenFilter>,
    #[serde(default)]
    sort_by_option: Option<TokenOrder>,
    #[serde(default)]
    is_sort_ascending: Option<bool>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default, rename = "$top", alias = "top")]
    top: Option<usize>,
    #[serde(default)]
    continuation_token: Option<String>,
    #[serde(default, rename = "api-version")]
    api_version: Option<String>,
}

pub(crate) async fn list(
    State(state): State<Arc<Shared>>,
    _admin: Admin<Read>,
    Served { name, .. }: Served,
    QueryParams(params): QueryParams<ListQuery>,
) -> Result<Response, ApiError> {
    check_api_version(params.api_version.as_deref())?;
    let query = TokenQuery {
        filter: params.display_filter_option.unwrap_or_default(),
        owner: params.user,
        order: params.sort_by_option.unwrap_or_default(),
        ascending: params.is_sort_ascending.unwrap_or(true),
        limit: params.top.unwrap_or(patrol_store::tokens::MAX_PAGE),
        continuation: params.continuation_token,
    };
    let tokens = Arc::clone(&state.tokens);
    let now = now();
    let page = blocking(move || tokens.list(&name, &query, now))
        .await?
        .map_err(|error| match error {
            StoreError::BadContinuation(_) => ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!("`continuationToken`: {error}"),
            )
            .with_field("continuationToken"),
            error => ApiError::failed(&error),
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
    _admin: Admin<Read>,
    Served { name, .. }: Served,
    QueryParams(params): QueryParams<AuditParams>,
) -> Result<Response, ApiError> {
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
    let entries = blocking(move || tokens.audit_log(&name, &query))
        .await?
        .map_err(|error| ApiError::failed(&error))?;
    Ok(Json(json!({ "entries": entries })).into_response())
}
