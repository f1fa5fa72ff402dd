//! The tenant administration API, under `/v1/admin`, for holders of the admin bearer token.
//! With no token configured it is off: every call answers 403.
//!
//! - `GET /v1/admin/tenants`: the tenants, served or refused.
//! - `PUT /v1/admin/tenants/{tenant}`: a tenant's configuration, TOML (`application/toml`, the
//!   default) or JSON (`application/json`). It is checked exactly as `patrol check` would, then
//!   stored and served; a configuration that fails is refused with the reason (400), and the
//!   previous version keeps serving.
//! - `GET /v1/admin/tenants/{tenant}`: the configuration as stored (`X-Patrol-Stored-Format`
//!   says which), or as JSON with `Accept: application/json`; its `ETag` is its digest.
//! - `PATCH /v1/admin/tenants/{tenant}`: a JSON merge patch (RFC 7396) of the configuration,
//!   applied in its stored format (a TOML file keeps its comments), then checked and stored as
//!   a `PUT`. `PUT` and `PATCH` take `If-Match: <ETag>`: 412 if the configuration changed since.
//! - `DELETE /v1/admin/tenants/{tenant}`: stop serving the tenant, delete its configuration and
//!   its groups, and revoke its tokens (audited, with the actor), so that a tenant created later
//!   under the same name inherits none of them.
//! - `POST /v1/admin/components`: upload a policy component (the WebAssembly bytes). It must
//!   load as a policy; it is stored by its SHA-256 and configurations name it as
//!   `component = "sha256:<hex>"`.
//! - `GET /v1/admin/components`: the stored components.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use patrol::CompiledComponent;
use patrol::Digest;
use patrol::files::write_atomically;

use crate::api::blocking;
use crate::error::ApiError;
use crate::extract::{Admin, Operator, Read, Served, TenantName, Write, read_body};
use crate::state::{ServedTenant, Shared};
use patrol_store::ConfigFormat as Format;

#[derive(Serialize)]
struct TenantSummary {
    tenant: String,
    serving: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    digest: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    policies: Vec<PolicySummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refused: Option<String>,
}

#[derive(Serialize)]
struct PolicySummary {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    org: Option<String>,
    version: String,
    component: String,
    mode: patrol::config::Mode,
}

fn summary(name: &str, served: Option<&ServedTenant>, refused: Option<String>) -> TenantSummary {
    TenantSummary {
        tenant: name.to_string(),
        serving: served.is_some(),
        digest: served.map(|s| s.digest.to_string()),
        policies: served
            .map(|s| {
                s.tenant
                    .policies()
                    .map(|p| PolicySummary {
                        name: p.name.to_string(),
                        org: p.org.map(str::to_string),
                        version: p.metadata.version.clone(),
                        component: p.digest.to_string(),
                        mode: p.mode,
                    })
                    .collect()
            })
            .unwrap_or_default(),
        refused,
    }
}

pub(crate) async fn list_tenants(
    admin: Admin<Read>,
    State(state): State<Arc<Shared>>,
) -> Result<Response, ApiError> {
    let tenants = state.tenants();
    let mut refusals = state.refusals();
    let mut names: Vec<&String> = tenants.keys().collect();
    let refused_only: Vec<String> = refusals
        .keys()
        .filter(|name| !tenants.contains_key(*name))
        .cloned()
        .collect();
    names.extend(refused_only.iter());
    // A tenant's credential sees its own tenant only.
    names.retain(|name| admin.only_tenant().is_none_or(|only| only == name.as_str()));
    names.sort();
    let list: Vec<TenantSummary> = names
        .into_iter()
        .map(|name| summary(name, tenants.get(name).map(|s| &**s), refusals.remove(name)))
        .collect();
    Ok(Json(list).into_response())
}

pub(crate) async fn get_tenant(
    _admin: Admin<Read>,
    Served { served, .. }: Served,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let stored = match served.format {
        Format::Toml => "toml",
        Format::Json => "json",
    };
    // A program (the console) may ask for JSON whatever was stored: the same document, as
    // JSON. Comments of a TOML file are not in it.
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| {
            accept
                .split(',')
                .any(|kind| kind.trim().starts_with("application/json"))
        });
    let (content_type, text) = if wants_json && served.format == Format::Toml {
        let value: serde_json::Value = toml::from_str(&served.text).map_err(|error| {
            ApiError::internal(format!(
                "the stored configuration does not read as TOML: {error}"
            ))
        })?;
        (Format::Json.content_type(), value.to_string())
    } else {
        (served.format.content_type(), served.text.clone())
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::HeaderName::from_static("x-patrol-stored-format"),
                stored.to_string(),
            ),
            (header::ETAG, entity_tag(&served.digest)),
        ],
        text,
    )
        .into_response())
}

pub(crate) async fn put_tenant(
    Admin { actor, .. }: Admin<Write>,
    State(state): State<Arc<Shared>>,
    TenantName(tenant): TenantName,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let expected = if_match(&headers)?;
    let (text, format) = configuration_body(&state, &headers, body).await?;
    store_configuration(&state, tenant, text, format, actor, expected).await
}

/// `PATCH /v1/admin/tenants/{tenant}`: a JSON merge patch (RFC 7396) applied to the stored
/// configuration in its own format (a TOML file keeps its comments and layout), then checked
/// and stored exactly as a `PUT` would be.
pub(crate) async fn patch_tenant(
    Admin { actor, .. }: Admin<Write>,
    State(state): State<Arc<Shared>>,
    Served { name, served }: Served,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let expected = if_match(&headers)?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    if !(content_type.starts_with("application/merge-patch+json")
        || content_type.starts_with("application/json"))
    {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "a configuration patch is a JSON merge patch (RFC 7396): send it as \
                 `Content-Type: application/merge-patch+json`, not `{content_type}`"
            ),
        ));
    }
    let bytes = read_body(body, state.limits.config).await?;
    let invalid = |problem: String| {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_patch", problem).with_field("body")
    };
    let patch: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|error| invalid(format!("the patch is not JSON: {error}")))?;
    let text = crate::merge_patch::apply(&served.text, served.format, &patch).map_err(invalid)?;
    store_configuration(&state, name, text, served.format, actor, expected).await
}

/// The digest an `If-Match` header names (`"sha256:<hex>"`, as `ETag` gives it), if any; `*`
/// is any configuration, as no header.
fn if_match(headers: &HeaderMap) -> Result<Option<Digest>, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or("").trim();
    if text == "*" {
        return Ok(None);
    }
    let tag = text.trim_start_matches("W/").trim_matches('"');
    Digest::parse(tag).map(Some).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!(
                "`If-Match`: `{text}` is not an entity tag of a configuration; send the `ETag` \
                 its GET answered (\"sha256:<hex>\")"
            ),
        )
        .with_field("If-Match")
    })
}

/// The configuration's entity tag: its digest, quoted.
fn entity_tag(digest: &Digest) -> String {
    format!("\"{digest}\"")
}

/// Checks `text` as `tenant`'s configuration and stores and serves it, answering as PUT and
/// PATCH do.
async fn store_configuration(
    state: &Arc<Shared>,
    tenant: String,
    text: String,
    format: Format,
    actor: String,
    expected: Option<Digest>,
) -> Result<Response, ApiError> {
    let worker = Arc::clone(state);
    let name = tenant.clone();
    let outcome =
        blocking(move || worker.put_tenant(&name, text, format, &actor, expected.as_ref())).await?;
    state.metrics.record_reload(outcome.is_ok());
    match outcome {
        Ok(served) => {
            tracing::info!(%tenant, "tenant configuration changed through the admin API");
            let tag = entity_tag(&served.digest);
            Ok((
                [(header::ETAG, tag)],
                Json(summary(&tenant, Some(&served), None)),
            )
                .into_response())
        }
        Err(refused) if refused.stale => Err(ApiError::new(
            StatusCode::PRECONDITION_FAILED,
            "configuration_changed",
            refused.problem,
        )),
        Err(refused) if refused.unavailable => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database_unavailable",
            format!("{}; nothing was changed, retry shortly", refused.problem),
        )),
        Err(refused) if refused.ours => Err(ApiError::internal(refused.problem)),
        Err(refused) => {
            let error = ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_configuration",
                refused.problem,
            );
            Err(error.with_configuration_field(refused.field.as_deref().unwrap_or_default()))
        }
    }
}

/// A tenant configuration sent as a request body: TOML, or JSON with
/// `Content-Type: application/json`; UTF-8, within the configuration size limit.
pub(crate) async fn configuration_body(
    state: &Shared,
    headers: &HeaderMap,
    body: Body,
) -> Result<(String, Format), ApiError> {
    let format = match headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
    {
        Some(value) if value.starts_with("application/json") => Format::Json,
        _ => Format::Toml,
    };
    let bytes = read_body(body, state.limits.config).await?;
    let text = String::from_utf8(bytes.to_vec()).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_configuration",
            "the configuration is not UTF-8 text",
        )
        .with_field("body")
    })?;
    Ok((text, format))
}

pub(crate) async fn delete_tenant(
    Admin { actor, .. }: Admin<Operator>,
    State(state): State<Arc<Shared>>,
    TenantName(tenant): TenantName,
) -> Result<Response, ApiError> {
    let worker = Arc::clone(&state);
    let name = tenant.clone();
    let retired = blocking(move || worker.delete_tenant(&name, &actor))
        .await?
        .map_err(|refused| {
            if refused.unavailable {
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "database_unavailable",
                    format!("{}; retry shortly", refused.problem),
                )
            } else {
                ApiError::internal(refused.problem)
            }
        })?;
    match retired {
        Some(revoked) => {
            tracing::info!(%tenant, revoked, "tenant deleted through the admin API; its tokens were revoked");
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        None => Err(ApiError::unknown_tenant(&tenant)),
    }
}

#[derive(Serialize)]
struct ComponentSummary {
    digest: String,
    size: usize,
    name: String,
    version: String,
    description: String,
    operations: Vec<patrol::request::Operation>,
}

impl ComponentSummary {
    fn of(component: &CompiledComponent) -> Self {
        let metadata = component.metadata();
        ComponentSummary {
            digest: component.digest().to_string(),
            size: component.size(),
            name: metadata.name.clone(),
            version: metadata.version.clone(),
            description: metadata.description.clone(),
            operations: metadata.operations.clone(),
        }
    }
}

pub(crate) async fn upload_component(
    _admin: Admin<Write>,
    State(state): State<Arc<Shared>>,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_body(body, state.limits.component).await?;
    let worker = Arc::clone(&state);
    let stored = blocking(move || {
        let component = worker.engine.compile(&bytes).map_err(|error| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_component",
                format!("the component {error}"),
            )
        })?;
        let path = worker
            .data
            .components()
            .join(component.digest().file_name());
        if let Some(fleet) = &worker.fleet {
            // Into the database first: every replica fetches it from there.
            fleet
                .store
                .put_component(
                    &component.digest().to_string(),
                    &bytes,
                    patrol::timestamp::now(),
                )
                .map_err(|error| ApiError::failed(&error))?;
        }
        if !path.exists() {
            write_atomically(&path, &bytes).map_err(|error| {
                ApiError::internal(format!("cannot store the component: {error}"))
            })?;
        }
        Ok::<_, ApiError>(ComponentSummary::of(&component))
    })
    .await??;
    tracing::info!(digest = %stored.digest, name = %stored.name, "component uploaded");
    Ok((StatusCode::CREATED, Json(stored)).into_response())
}

pub(crate) async fn list_components(
    // The component store is every tenant's: what others uploaded is the operator's to see.
    _admin: Admin<Operator>,
    State(state): State<Arc<Shared>>,
) -> Result<Response, ApiError> {
    let worker = Arc::clone(&state);
    let list = blocking(move || {
        let mut list = Vec::new();
        let entries = std::fs::read_dir(worker.data.components())
            .map_err(|error| ApiError::internal(format!("cannot list the components: {error}")))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(digest) = name
                .strip_prefix("sha256-")
                .and_then(|rest| rest.strip_suffix(".wasm"))
                .and_then(|hex| Digest::parse(&format!("sha256:{hex}")))
            else {
                continue;
            };
            let max = worker.engine.config().max_component_bytes;
            let Ok(bytes) = patrol::files::read_bounded(&entry.path(), max) else {
                continue;
            };
            if Digest::of(&bytes) != digest {
                continue;
            }
            if let Ok(component) = worker.engine.compile(&bytes) {
                list.push(ComponentSummary::of(&component));
            }
        }
        list.sort_by(|a, b| a.name.cmp(&b.name).then(a.digest.cmp(&b.digest)));
        Ok::<_, ApiError>(list)
    })
    .await??;
    Ok(Json(list).into_response())
}
