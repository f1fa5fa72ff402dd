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
//! Every route answers 404 `unknown_tenant` for a tenant that is not served: groups cannot be
//! stored ahead of a tenant, and deleting a tenant deletes its groups.
//!
//! A change applies to the next decision: groups are read from the store on every decision.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use patrol_store::tokens::{LifecycleError, MAX_GROUP_MEMBERS};

use crate::api::blocking;
use crate::error::ApiError;
use crate::extract::{Admin, PathParams, Read, Served, Write, json_body};
use crate::state::Shared;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GroupBody {
    /// User ids, or SCIM member objects (`{"value": "alice@contoso.com"}`).
    members: Vec<Value>,
}

/// The `{group}` of the path.
#[derive(Deserialize)]
pub(crate) struct GroupId {
    group: String,
}

pub(crate) async fn list(
    _admin: Admin<Read>,
    State(state): State<Arc<Shared>>,
    Served { name: tenant, .. }: Served,
) -> Result<Response, ApiError> {
    let store = Arc::clone(state.tokens.store());
    let groups = blocking(move || store.groups(&tenant))
        .await?
        .map_err(|error| ApiError::failed(&error))?;
    let groups: Vec<_> = groups
        .into_iter()
        .map(|(id, members)| json!({ "id": id, "members": members }))
        .collect();
    Ok(Json(json!({ "groups": groups })).into_response())
}

pub(crate) async fn put(
    _admin: Admin<Write>,
    State(state): State<Arc<Shared>>,
    Served { name: tenant, .. }: Served,
    PathParams(GroupId { group }): PathParams<GroupId>,
    body: Body,
) -> Result<Response, ApiError> {
    let body: GroupBody = json_body(body, state.limits.config).await?;
    let invalid = |field: String, problem: String| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("`{field}`: {problem}"),
        )
        .with_field(field)
    };
    if body.members.len() > MAX_GROUP_MEMBERS {
        return Err(invalid(
            "members".into(),
            format!("at most {MAX_GROUP_MEMBERS} members per group"),
        ));
    }
    let mut members = Vec::with_capacity(body.members.len());
    for (index, member) in body.members.into_iter().enumerate() {
        let id = match member {
            Value::String(id) => id,
            Value::Object(mut object) if object.len() == 1 => match object.remove("value") {
                Some(Value::String(id)) => id,
                _ => {
                    return Err(invalid(
                        format!("members[{index}].value"),
                        "expected a user id as a string".into(),
                    ));
                }
            },
            _ => {
                return Err(invalid(
                    format!("members[{index}]"),
                    "expected a user id, or an object `{\"value\": \"<user id>\"}`".into(),
                ));
            }
        };
        members.push(id);
    }
    let tokens = Arc::clone(&state.tokens);
    let name = group.clone();
    let stored = blocking(move || tokens.set_group(&tenant, &name, &members))
        .await?
        .map_err(|error| match error {
            LifecycleError::Invalid { field, problem } => invalid(field, problem),
            other => group_error(other),
        })?;
    Ok(Json(json!({ "id": group, "members": stored })).into_response())
}

pub(crate) async fn delete(
    _admin: Admin<Write>,
    State(state): State<Arc<Shared>>,
    Served { name: tenant, .. }: Served,
    PathParams(GroupId { group }): PathParams<GroupId>,
) -> Result<Response, ApiError> {
    let tokens = Arc::clone(&state.tokens);
    let existed = blocking(move || tokens.delete_group(&tenant, &group))
        .await?
        .map_err(group_error)?;
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

/// A group's change refused: 409 for a group the identity provider keeps over SCIM.
fn group_error(error: LifecycleError) -> ApiError {
    match error {
        LifecycleError::ManagedByScim(_) => ApiError::new(
            StatusCode::CONFLICT,
            "group_managed_by_scim",
            error.to_string(),
        ),
        other => ApiError::failed(&other),
    }
}
