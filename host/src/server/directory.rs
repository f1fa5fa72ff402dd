//! The group directory, under the admin API: who is in which group, per tenant, so that
//! allowlists naming groups work where a request carries only a token (authentication, leak
//! response, regeneration).
//!
//! - `GET /v1/admin/tenants/{tenant}/groups`: every group and its members.
//! - `PUT /v1/admin/tenants/{tenant}/groups/{group}`: a group's members, replacing the previous
//!   ones: `{"members": ["alice@contoso.com", ...]}`. SCIM 2.0's member objects
//!   (`{"value": "alice@contoso.com"}`) are accepted too, as a first step towards SCIM
//!   provisioning.
//! - `DELETE /v1/admin/tenants/{tenant}/groups/{group}`.
//!
//! A change applies to the next decision: groups are read from the store on every decision.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::tokens::valid_directory_id;

use super::admin::{authorize, checked_name};
use super::api::{blocking, read_body};
use super::error::ApiError;
use super::state::Shared;

/// The most members one group may have.
const MAX_MEMBERS: usize = 100_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupBody {
    members: Vec<Member>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Member {
    Id(String),
    Scim { value: String },
}

pub(crate) async fn list(
    State(state): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&state, &headers)?;
    checked_name(&tenant)?;
    let store = Arc::clone(state.tokens.store());
    let groups = blocking(move || store.groups(&tenant))
        .await?
        .map_err(|error| ApiError::internal(error.to_string()))?;
    let groups: Vec<_> = groups
        .into_iter()
        .map(|(id, members)| json!({ "id": id, "members": members }))
        .collect();
    Ok(Json(json!({ "groups": groups })).into_response())
}

pub(crate) async fn put(
    State(state): State<Arc<Shared>>,
    Path((tenant, group)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    authorize(&state, &headers)?;
    checked_name(&tenant)?;
    if !valid_directory_id(&group) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_group",
            format!("`{group}` is not a group id: use 1 to 256 characters without spaces"),
        ));
    }
    let bytes = read_body(body, state.limits.config).await?;
    let body: GroupBody = serde_json::from_slice(&bytes).map_err(|error| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("expected {{\"members\": [\"user id\", ...]}}: {error}"),
        )
    })?;
    if body.members.len() > MAX_MEMBERS {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("`members`: at most {MAX_MEMBERS} members per group"),
        )
        .with_field("members"));
    }
    let mut members = Vec::with_capacity(body.members.len());
    for (index, member) in body.members.into_iter().enumerate() {
        let id = match member {
            Member::Id(id) | Member::Scim { value: id } => id.trim().to_lowercase(),
        };
        if !valid_directory_id(&id) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!("`members[{index}]`: `{id}` is not a user id"),
            )
            .with_field(format!("members[{index}]")));
        }
        members.push(id);
    }
    members.sort();
    members.dedup();
    let store = Arc::clone(state.tokens.store());
    let (name, stored) = (group.clone(), members.clone());
    blocking(move || store.set_group(&tenant, &name, &stored))
        .await?
        .map_err(|error| ApiError::internal(error.to_string()))?;
    Ok(Json(json!({ "id": group, "members": members })).into_response())
}

pub(crate) async fn delete(
    State(state): State<Arc<Shared>>,
    Path((tenant, group)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&state, &headers)?;
    checked_name(&tenant)?;
    let store = Arc::clone(state.tokens.store());
    let existed = blocking(move || store.delete_group(&tenant, &group))
        .await?
        .map_err(|error| ApiError::internal(error.to_string()))?;
    if existed {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_group",
            "no such group in this tenant",
        ))
    }
}
