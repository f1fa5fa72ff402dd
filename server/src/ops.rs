//! Operations: liveness, readiness, metrics, and the OpenAPI document.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use patrol::Quarantined;

use crate::error::ApiError;
use crate::state::Shared;

/// The OpenAPI 3 document for the whole HTTP API (`docs/openapi.json`).
pub const OPENAPI: &str = include_str!("../../docs/openapi.json");

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
    if let Some(fleet) = &state.fleet
        && !fleet.cache.is_fresh()
    {
        let behind = fleet.cache.behind().map_or_else(
            || "has never read".to_string(),
            |behind| format!("last read {} ms ago", behind.as_millis()),
        );
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "behind",
            format!(
                "this replica {behind} the database's change log to its end (bound: {} ms); \
                 it reads every token from the database until it catches up",
                fleet.cache.staleness().as_millis()
            ),
        )
        .into_response();
    }
    // Quarantined policies do not make the service unready (their tenants' decisions fail
    // closed, as they would running them), but an operator looking here sees them.
    let quarantined: Vec<_> = quarantined_policies(&state)
        .into_iter()
        .map(|(tenant, policy, quarantine)| {
            json!({
                "tenant": tenant,
                "policy": policy,
                "failures_in_a_row": quarantine.failures_in_a_row,
                "last_failure": quarantine.last_failure,
                "retry_in_ms": u64::try_from(quarantine.retry_in.as_millis()).unwrap_or(u64::MAX),
            })
        })
        .collect();
    Json(json!({
        "status": "ready",
        "tenants": state.tenants().len(),
        "quarantined": quarantined,
    }))
    .into_response()
}

/// `GET /metrics`: Prometheus text format.
pub(crate) async fn metrics(State(state): State<Arc<Shared>>) -> Response {
    let tenants = state.tenants();
    let quarantined: Vec<(String, String)> = quarantined_policies(&state)
        .into_iter()
        .map(|(tenant, policy, _)| (tenant, policy))
        .collect();
    let text = state.metrics.render(
        tenants.len(),
        state.engine.component_count(),
        &quarantined,
        state
            .fleet
            .as_ref()
            .map(|fleet| crate::metrics::ReplicaFigures {
                lookups: fleet.cache.lookups(),
                applied: fleet.applied(),
                behind: fleet.cache.behind(),
            }),
    );
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// Every served tenant's quarantined policies: (tenant, policy, quarantine).
fn quarantined_policies(state: &Shared) -> Vec<(String, String, Quarantined)> {
    state
        .tenants()
        .values()
        .flat_map(|served| {
            let tenant = served.tenant.name();
            served
                .tenant
                .quarantined()
                .into_iter()
                .map(move |(policy, quarantine)| {
                    (tenant.to_string(), policy.to_string(), quarantine)
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// `GET /openapi.json`.
pub(crate) async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// Any other path.
pub(crate) async fn not_found(uri: axum::http::Uri) -> Response {
    // A SCIM client gets SCIM's error form under the SCIM root.
    if uri.path().starts_with("/scim/") {
        return crate::scim::no_such_endpoint(uri.path());
    }
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such endpoint; see /openapi.json",
    )
    .into_response()
}

/// A known path with a method it does not take.
pub(crate) async fn method_not_allowed(
    method: axum::http::Method,
    uri: axum::http::Uri,
) -> Response {
    if uri.path().starts_with("/scim/") {
        return crate::scim::method_not_allowed(&method, uri.path());
    }
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("this endpoint does not take `{method}`; see /openapi.json"),
    )
    .into_response()
}
