//! Leak response: tokens found in public are reported here, and the tenant's
//! `revoke_leaked_pats` policy decides what happens (revoke and notify, or notify only).
//!
//! - `POST /v1/leaks`: tokens of any tenant, as a secret-scanning service reports them.
//! - `POST /v1/tenants/{tenant}/leaks`: only that tenant's tokens; others are reported unknown.
//!
//! The body is either text to scan (any content type; `?url=` says where it was found), or,
//! with `Content-Type: application/json`, GitHub's secret-scanning partner format
//! `[{"token", "type", "url", "source"}]`, answered in GitHub's shape:
//! `[{"token_hash", "token_type", "label": "true_positive" | "false_positive"}]` (the SHA-256
//! of the token rather than the token, so that no secret travels back).
//!
//! No credential is needed: a report acts only on tokens whose secret it contains, so a forged
//! report can only revoke a token that its sender already holds, which is a leak by definition.
//! GitHub's ECDSA signature (`GITHUB-PUBLIC-KEY-SIGNATURE`) is therefore not verified; see
//! `docs/tokens.md`.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use patrol::timestamp::now;
use patrol_store::tokens::{LeakOutcome, LeakReport, LeakSource, Secret, find_tokens, sha256_hex};

use crate::api::blocking;
use crate::error::ApiError;
use crate::extract::{BODY_FIELD, QueryParams, Served, read_body};
use crate::state::Shared;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LeakParams {
    #[serde(default)]
    url: Option<String>,
}

/// One match in GitHub's secret-scanning partner format (fields GitHub may add later are
/// ignored).
#[derive(Deserialize)]
struct GithubMatch {
    token: String,
    #[serde(rename = "type", default)]
    token_type: String,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    source: Option<String>,
}

#[derive(Serialize)]
struct GithubLabel {
    token_hash: String,
    token_type: String,
    label: &'static str,
}

pub(crate) async fn report_any(
    State(state): State<Arc<Shared>>,
    QueryParams(params): QueryParams<LeakParams>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    report(state, None, params, headers, body).await
}

pub(crate) async fn report_in_tenant(
    State(state): State<Arc<Shared>>,
    Served { name, .. }: Served,
    QueryParams(params): QueryParams<LeakParams>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    report(state, Some(name), params, headers, body).await
}

async fn report(
    state: Arc<Shared>,
    tenant: Option<String>,
    params: LeakParams,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_body(body, state.limits.config).await?;
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if json {
        let matches: Vec<GithubMatch> = patrol::json::parse(&bytes).map_err(|error| {
            let field = if error.field.is_empty() {
                BODY_FIELD.to_string()
            } else {
                error.field.clone()
            };
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!(
                    "{error}; a JSON body must be GitHub's secret-scanning format \
                     [{{\"token\", \"type\", \"url\", \"source\"}}]"
                ),
            )
            .with_field(field)
        })?;
        return github(state, tenant, matches).await;
    }
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let found = find_tokens(&text);
    let source = LeakSource {
        url: params.url,
        reporter: "leak report".to_string(),
    };
    let reports = respond(&state, tenant, found, source).await?;
    Ok(Json(json!({ "found": reports.len(), "tokens": reports })).into_response())
}

async fn github(
    state: Arc<Shared>,
    tenant: Option<String>,
    matches: Vec<GithubMatch>,
) -> Result<Response, ApiError> {
    let mut labels = Vec::with_capacity(matches.len());
    for found in matches {
        let token_hash = sha256_hex(&found.token);
        let label = match Secret::parse(&found.token) {
            Err(_) => "false_positive",
            Ok(secret) => {
                let source = LeakSource {
                    url: found.url.clone(),
                    reporter: match &found.source {
                        Some(source) => format!("github ({source})"),
                        None => "github".to_string(),
                    },
                };
                let reports = respond(&state, tenant.clone(), vec![secret], source).await?;
                if reports.iter().any(|r| r.outcome != LeakOutcome::Unknown) {
                    "true_positive"
                } else {
                    "false_positive"
                }
            }
        };
        labels.push(GithubLabel {
            token_hash,
            token_type: found.token_type,
            label,
        });
    }
    Ok(Json(labels).into_response())
}

async fn respond(
    state: &Arc<Shared>,
    tenant: Option<String>,
    found: Vec<Secret>,
    source: LeakSource,
) -> Result<Vec<LeakReport>, ApiError> {
    let worker = Arc::clone(state);
    blocking(move || {
        worker.tokens.leaks(
            &found,
            tenant.as_deref(),
            &|name| worker.tenant(name).map(|served| Arc::clone(&served.tenant)),
            &source,
            now(),
        )
    })
    .await?
    .map_err(|error| ApiError::failed(&error))
}
