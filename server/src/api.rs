//! The decision API:
//!
//! - `POST /v1/tenants/{tenant}/decisions`: the request JSON in, the decision JSON out, with
//!   200 whether it allows or denies.
//! - `POST /v1/tenants/{tenant}/authorize`: the same, answering 403 when the request is denied,
//!   for gateways that act on the status alone (NGINX `auth_request`, Traefik `forwardAuth`,
//!   Envoy `ext_authz`).
//!
//! Every response, errors included, carries a decision id in the `x-patrol-decision-id`
//! header; a decision also carries it in its body, and in the decision log.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use patrol::decision::Decision;
use patrol::request::Request;

use crate::decision_log::DecisionRecord;
use crate::error::ApiError;
use crate::extract::{Served, read_body};
use crate::state::Shared;

/// The header every decision response carries.
pub const DECISION_ID_HEADER: &str = "x-patrol-decision-id";

#[derive(Serialize)]
struct DecisionBody<'a> {
    decision_id: &'a str,
    #[serde(flatten)]
    decision: &'a Decision,
}

/// What the status of a decision response says.
#[derive(Clone, Copy)]
enum Status {
    /// 200 for allow and deny alike.
    AlwaysOk,
    /// 200 for allow, 403 for deny.
    Enforce,
}

pub(crate) async fn decide(
    State(state): State<Arc<Shared>>,
    tenant: Result<Served, ApiError>,
    body: Body,
) -> Response {
    judge(state, tenant, body, Status::AlwaysOk).await
}

pub(crate) async fn authorize(
    State(state): State<Arc<Shared>>,
    tenant: Result<Served, ApiError>,
    body: Body,
) -> Response {
    judge(state, tenant, body, Status::Enforce).await
}

async fn judge(
    state: Arc<Shared>,
    tenant: Result<Served, ApiError>,
    body: Body,
    status: Status,
) -> Response {
    let decision_id = uuid::Uuid::now_v7().to_string();
    let judged = match tenant {
        Ok(tenant) => judge_request(&state, tenant, body, status, &decision_id).await,
        Err(error) => Err(error),
    };
    let mut response = judged.unwrap_or_else(IntoResponse::into_response);
    if let Ok(value) = HeaderValue::from_str(&decision_id) {
        response.headers_mut().insert(DECISION_ID_HEADER, value);
    }
    response
}

async fn judge_request(
    state: &Arc<Shared>,
    Served {
        name: tenant_name,
        served,
    }: Served,
    body: Body,
    status: Status,
    decision_id: &str,
) -> Result<Response, ApiError> {
    if state.is_shutting_down() {
        return Err(ApiError::shutting_down());
    }
    let bytes = read_body(body, state.limits.request).await?;
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the request body is not UTF-8 text",
        )
        .with_field("body")
    })?;
    let request = Request::from_json(text).map_err(|error| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            error.to_string(),
        )
        .with_field(error.field)
    })?;
    served.tenant.check(&request).map_err(|error| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            error.to_string(),
        )
        .with_field(error.field)
    })?;
    // Judged on an evaluation thread, which answers first and logs afterwards.
    let tenant = Arc::clone(&served.tenant);
    let shared = Arc::clone(state);
    let decision_id = decision_id.to_string();
    let (code, body) = state
        .evaluators
        .run_then(&tenant, move || {
            let started = Instant::now();
            let decision = served.tenant.evaluate(&request);
            let elapsed = started.elapsed();
            shared.metrics.record_decision(&tenant_name, &decision);
            let code = match (status, decision.allowed) {
                (Status::Enforce, false) => StatusCode::FORBIDDEN,
                _ => StatusCode::OK,
            };
            let body = serde_json::to_vec(&DecisionBody {
                decision_id: &decision_id,
                decision: &decision,
            });
            let log = move || {
                shared.log.record(&DecisionRecord::new(
                    &decision_id,
                    "api",
                    &tenant_name,
                    &request,
                    &decision,
                    elapsed,
                ));
            };
            ((code, body), log)
        })
        .await?;
    let body = body.map_err(|error| {
        ApiError::internal(format!("cannot write the decision as JSON: {error}"))
    })?;
    Ok((
        code,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response())
}

/// Runs blocking work (the store, the policies) off the async threads.
pub(crate) async fn blocking<R: Send + 'static>(
    work: impl FnOnce() -> R + Send + 'static,
) -> Result<R, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| ApiError::internal(format!("the operation did not finish: {error}")))
}
