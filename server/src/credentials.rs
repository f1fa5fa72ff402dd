//! Tenant API credentials, under the admin API, for the operator only:
//!
//! - `GET /v1/admin/tenants/{tenant}/credentials`: the tenant's credentials (never a secret).
//! - `POST /v1/admin/tenants/{tenant}/credentials` with `{"name": "...", "role": "admin" |
//!   "auditor" | "provisioner"}`: a new credential; its `secret` is in this answer only.
//! - `POST /v1/admin/tenants/{tenant}/credentials/{id}/rotate`: a new secret, in this answer
//!   only; the old one stops working at once.
//! - `DELETE /v1/admin/tenants/{tenant}/credentials/{id}`: revoked for good.
//!
//! Every change is audited in the tenant's log (`Credential.*Event`) with the operator as actor.
//!
//! And for every caller of the admin API, `GET /v1/admin/whoami`: who it is and what it may do.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use patrol_store::tokens::{CredentialRecord, LifecycleError, Role, Secret, Tokens};

use crate::api::blocking;
use crate::error::ApiError;
use crate::extract::{Admin, Anyone, Caller, JsonBody, Operator, PathParams, Served};
use crate::state::Shared;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewCredential {
    name: String,
    role: String,
}

#[derive(Deserialize)]
pub(crate) struct CredentialId {
    id: String,
}

pub(crate) async fn list(
    _admin: Admin<Operator>,
    State(state): State<Arc<Shared>>,
    Served { name: tenant, .. }: Served,
) -> Result<Response, ApiError> {
    let tokens = Arc::clone(&state.tokens);
    let credentials = blocking(move || tokens.credentials(Some(&tenant)))
        .await?
        .map_err(|error| ApiError::failed(&error))?;
    Ok(Json(json!({ "credentials": credentials })).into_response())
}

pub(crate) async fn create(
    Admin { actor, .. }: Admin<Operator>,
    State(state): State<Arc<Shared>>,
    Served { name: tenant, .. }: Served,
    JsonBody(body): JsonBody<NewCredential>,
) -> Result<Response, ApiError> {
    let role = Role::parse(&body.role).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!(
                "`role`: `{}` is not a role: use `admin`, `auditor` or `provisioner`",
                body.role
            ),
        )
        .with_field("role")
    })?;
    let tokens = Arc::clone(&state.tokens);
    let created = blocking(move || {
        tokens.create_credential(&tenant, &body.name, role, &actor, patrol::timestamp::now())
    })
    .await?
    .map_err(credential_error)?;
    Ok(shown_once(StatusCode::CREATED, &created.0, &created.1))
}

pub(crate) async fn rotate(
    Admin { actor, .. }: Admin<Operator>,
    State(state): State<Arc<Shared>>,
    Served { name: tenant, .. }: Served,
    PathParams(CredentialId { id }): PathParams<CredentialId>,
) -> Result<Response, ApiError> {
    let tokens = Arc::clone(&state.tokens);
    let wanted = id.clone();
    let rotated = blocking(move || {
        if !of_tenant(&tokens, &tenant, &wanted)? {
            return Ok(None);
        }
        tokens.rotate_credential(&wanted, &actor, patrol::timestamp::now())
    })
    .await?
    .map_err(credential_error)?;
    match rotated {
        Some((credential, secret)) => Ok(shown_once(StatusCode::OK, &credential, &secret)),
        None => Err(unknown_credential(&id)),
    }
}

pub(crate) async fn revoke(
    Admin { actor, .. }: Admin<Operator>,
    State(state): State<Arc<Shared>>,
    Served { name: tenant, .. }: Served,
    PathParams(CredentialId { id }): PathParams<CredentialId>,
) -> Result<Response, ApiError> {
    let tokens = Arc::clone(&state.tokens);
    let wanted = id.clone();
    let revoked = blocking(move || {
        if !of_tenant(&tokens, &tenant, &wanted)? {
            return Ok(None);
        }
        tokens.revoke_credential(&wanted, &actor, patrol::timestamp::now())
    })
    .await?
    .map_err(|error| ApiError::failed(&error))?;
    match revoked {
        Some(credential) => Ok(Json(json!({ "credential": credential })).into_response()),
        None => Err(unknown_credential(&id)),
    }
}

/// Whether the credential `id` is one of `tenant`'s: another tenant's is as unknown as none.
fn of_tenant(
    tokens: &Tokens,
    tenant: &str,
    id: &str,
) -> Result<bool, patrol_store::tokens::StoreError> {
    Ok(tokens
        .credentials(Some(tenant))?
        .iter()
        .any(|credential| credential.id == id))
}

/// A credential with its secret, which this answer is the only one to show.
fn shown_once(status: StatusCode, credential: &CredentialRecord, secret: &Secret) -> Response {
    (
        status,
        Json(json!({
            "credential": credential,
            "secret": secret.expose(),
            "note": "the secret is shown once: store it now; patrol keeps only its hash",
        })),
    )
        .into_response()
}

fn unknown_credential(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "unknown_credential",
        format!("no live credential `{id}` in this tenant"),
    )
    .with_field("id")
}

fn credential_error(error: LifecycleError) -> ApiError {
    match error {
        LifecycleError::Invalid { field, problem } => ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("`{field}`: {problem}"),
        )
        .with_field(field),
        other => ApiError::failed(&other),
    }
}

/// `GET /v1/admin/whoami`: who the bearer is, and so what it may do: the operator (every
/// tenant, every route), or a tenant credential with its tenant and role. The console asks this
/// once, to offer only what the caller may do.
pub(crate) async fn whoami(admin: Admin<Anyone>) -> Response {
    let body = match &admin.caller {
        Caller::Operator => json!({
            "caller": "operator",
            "actor": admin.actor,
            "tenant": null,
            "role": null,
            "may": { "read": true, "write": true, "provision": true, "operate": true },
        }),
        Caller::Credential(credential) => json!({
            "caller": "credential",
            "actor": admin.actor,
            "id": credential.id,
            "name": credential.name,
            "tenant": credential.tenant,
            "role": credential.role,
            "may": {
                "read": matches!(credential.role, Role::Admin | Role::Auditor),
                "write": credential.role == Role::Admin,
                "provision": credential.role == Role::Provisioner,
                "operate": false,
            },
        }),
    };
    Json(body).into_response()
}
