//! Operations: liveness, readiness, metrics, and the OpenAPI document.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::error::ApiError;
use super::state::Shared;

/// The OpenAPI 3 document for the whole HTTP API (`docs/openapi.json`).
pub const OPENAPI: &str = include_str!("../../../docs/openapi.json");

/// `GET /healthz`: the process is up.
pub(crate) async fn healthz() -> Response {
    Json(json!({ "status": "ok" })).into_response()
}

/// `GET /readyz`: every tenant configuration has been loaded (or refused) once, and the service
/// is not shutting down.
pub(crate) async fn readyz(State(state): State<Arc<Shared>>) -> Response {
    if state.is_shutting_down() {
        return ApiError::shutting_down().into_response();
    }
    if !state.is_ready() {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "loading",
            "the tenant configurations are still loading",
        )
        .into_response();
    }
    Json(json!({ "status": "ready", "tenants": state.tenants().len() })).into_response()
}

/// `GET /metrics`: Prometheus text format.
pub(crate) async fn metrics(State(state): State<Arc<Shared>>) -> Response {
    let text = state
        .metrics
        .render(state.tenants().len(), state.engine.component_count());
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// `GET /openapi.json`.
pub(crate) async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// Any other path.
pub(crate) async fn not_found() -> Response {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such endpoint; see /openapi.json",
    )
    .into_response()
}

/// A known path with a method it does not take.
pub(crate) async fn method_not_allowed(method: axum::http::Method) -> Response {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("this endpoint does not take `{method}`; see /openapi.json"),
    )
    .into_response()
}
