//! SCIM 2.0 provisioning (RFC 7643, RFC 7644), one service provider per tenant under
//! `/scim/v2/tenants/{tenant}`: the tenant URL an identity provider (Microsoft Entra ID, Okta)
//! is given, with a `provisioner` credential of the tenant as its bearer token (the operator's
//! admin token works too).
//!
//! - `ServiceProviderConfig`, `ResourceTypes`, `Schemas`: what is supported.
//! - `Users`, `Groups`: create (POST), get, list with `filter`, `startIndex`, `count`,
//!   `attributes` and `excludedAttributes`, replace (PUT), PATCH, DELETE.
//!
//! What it means for tokens: a group's `displayName` is the group allowlists name, with the
//! `userName` of each active member; a user deactivated (`active: false`) or deleted has every
//! token revoked (reason `user_deprovisioned`) and none can be issued to them; groups kept here
//! are read-only through the group directory's routes. See docs/scim.md.

mod error;
mod filter;
mod patch;
mod provision;
mod resource;
mod schema;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use patrol_store::tokens::{ScimKind, ScimRecord, Tokens};

use crate::api::blocking;
use crate::extract::{Admin, PathParams, Provision, Served, json_body};
use crate::state::Shared;
use error::ScimError;
use provision::Change;

/// The most resources one list answers with, and how many when `count` is not given.
const MAX_COUNT: usize = 1000;
const DEFAULT_COUNT: usize = 100;

/// A JSON body as `application/scim+json`.
pub(crate) fn scim_json(status: StatusCode, body: &Value) -> Response {
    (status, [error::content_type()], body.to_string()).into_response()
}

/// The caller may provision the tenant of the path, which is served; errors in SCIM's form.
pub(crate) struct Provisioning {
    tenant: String,
    actor: String,
    base: String,
}

impl FromRequestParts<Arc<Shared>> for Provisioning {
    type Rejection = ScimError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<Shared>,
    ) -> Result<Self, Self::Rejection> {
        let admin = Admin::<Provision>::from_request_parts(parts, state).await?;
        let Served { name, .. } = Served::from_request_parts(parts, state).await?;
        let base = format!("{}/scim/v2/tenants/{name}", origin(&parts.headers));
        Ok(Provisioning {
            tenant: name,
            actor: admin.actor,
            base,
        })
    }
}

/// `scheme://host` as the client reached the service.
fn origin(headers: &HeaderMap) -> String {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_string)
    };
    let host = text(header::HOST.as_str()).unwrap_or_else(|| "localhost".into());
    let scheme = text("x-forwarded-proto").unwrap_or_else(|| "http".into());
    format!("{scheme}://{host}")
}

/// A path under the SCIM root that is no endpoint, in SCIM's error form.
pub(crate) fn no_such_endpoint(path: &str) -> Response {
    ScimError::not_found(format!(
        "`{path}` is no SCIM endpoint: the tenant URL is /scim/v2/tenants/<tenant>, with \
         /Users, /Groups, /ServiceProviderConfig, /ResourceTypes and /Schemas under it"
    ))
    .into_response()
}

/// A SCIM endpoint asked with a method it does not take, in SCIM's error form.
pub(crate) fn method_not_allowed(method: &axum::http::Method, path: &str) -> Response {
    ScimError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        None,
        format!("`{path}` does not take `{method}`"),
    )
    .into_response()
}

#[derive(Deserialize)]
pub(crate) struct ResourceId {
    id: String,
}

/// The resource type a path is about: its segment after the tenant
/// (`/scim/v2/tenants/{tenant}/Groups/...`), whatever the tenant is called.
fn kind_of_path(path: &str) -> ScimKind {
    match path.split('/').nth(5) {
        Some("Groups") => ScimKind::Group,
        _ => ScimKind::User,
    }
}

pub(crate) async fn service_provider_config(provisioning: Provisioning) -> Response {
    scim_json(
        StatusCode::OK,
        &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
            "documentationUri": "https://example.invalid/patrol/docs/scim.md",
            "patch": { "supported": true },
            "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 0 },
            "filter": { "supported": true, "maxResults": MAX_COUNT },
            "changePassword": { "supported": false },
            "sort": { "supported": false },
            "etag": { "supported": false },
            "authenticationSchemes": [{
                "type": "oauthbearertoken",
                "name": "Bearer token",
                "description": "A provisioner credential of the tenant, as `Authorization: Bearer ptc_...`",
                "primary": true,
            }],
            "meta": {
                "resourceType": "ServiceProviderConfig",
                "location": format!("{}/ServiceProviderConfig", provisioning.base),
            },
        }),
    )
}

fn resource_types(base: &str) -> Vec<Value> {
    vec![
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "User",
            "name": "User",
            "endpoint": "/Users",
            "description": "User Account",
            "schema": schema::USER,
            "schemaExtensions": [{ "schema": schema::ENTERPRISE, "required": false }],
            "meta": { "resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/User") },
        }),
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "Group",
            "name": "Group",
            "endpoint": "/Groups",
            "description": "Group",
            "schema": schema::GROUP,
            "meta": { "resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/Group") },
        }),
    ]
}

fn list_of(resources: Vec<Value>) -> Value {
    json!({
        "schemas": [schema::LIST],
        "totalResults": resources.len(),
        "startIndex": 1,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

pub(crate) async fn list_resource_types(provisioning: Provisioning) -> Response {
    scim_json(StatusCode::OK, &list_of(resource_types(&provisioning.base)))
}

pub(crate) async fn get_resource_type(
    provisioning: Provisioning,
    PathParams(ResourceId { id }): PathParams<ResourceId>,
) -> Result<Response, ScimError> {
    resource_types(&provisioning.base)
        .into_iter()
        .find(|resource| resource["id"] == id.as_str())
        .map(|resource| scim_json(StatusCode::OK, &resource))
        .ok_or_else(|| ScimError::not_found(format!("no resource type `{id}`")))
}

pub(crate) async fn list_schemas(provisioning: Provisioning) -> Response {
    scim_json(
        StatusCode::OK,
        &list_of(schema::schemas(&provisioning.base)),
    )
}

pub(crate) async fn get_schema(
    provisioning: Provisioning,
    PathParams(ResourceId { id }): PathParams<ResourceId>,
) -> Result<Response, ScimError> {
    schema::schemas(&provisioning.base)
        .into_iter()
        .find(|schema| schema["id"] == id.as_str())
        .map(|schema| scim_json(StatusCode::OK, &schema))
        .ok_or_else(|| ScimError::not_found(format!("no schema `{id}`")))
}

/// The query of a list or a get.
#[derive(Default)]
struct Query {
    filter: Option<filter::Filter>,
    start_index: usize,
    count: usize,
    attributes: Vec<String>,
    excluded: Vec<String>,
}

fn query(parts: &str) -> Result<Query, ScimError> {
    let mut query = Query {
        start_index: 1,
        count: DEFAULT_COUNT,
        ..Query::default()
    };
    let names = |text: &str| {
        text.split(',')
            .map(|name| name.trim().to_string())
            .filter(|name| !name.is_empty())
            .collect::<Vec<_>>()
    };
    for (key, value) in form_urlencoded::parse(parts.as_bytes()) {
        let number = |what: &str| {
            value.trim().parse::<i64>().map_err(|_| {
                ScimError::invalid_value(format!("`{what}`: `{value}` is not an integer"))
            })
        };
        match key.as_ref() {
            "filter" => {
                query.filter = Some(filter::parse(&value).map_err(ScimError::invalid_filter)?)
            }
            // RFC 7644 §3.4.2.4: below 1 is 1; negative counts are 0.
            "startIndex" => query.start_index = number("startIndex")?.max(1) as usize,
            "count" => query.count = (number("count")?.max(0) as usize).min(MAX_COUNT),
            "attributes" => query.attributes = names(&value),
            "excludedAttributes" => query.excluded = names(&value),
            // Sorting is not supported (ServiceProviderConfig says so) and is ignored, as RFC
            // 7644 allows; Entra's feature flag may ride along on the tenant URL.
            "sortBy" | "sortOrder" | "aadOptscim062020" => {}
            other => {
                return Err(ScimError::invalid_value(format!(
                    "`{other}` is not a query parameter here (filter, startIndex, count, \
                     attributes, excludedAttributes)"
                )));
            }
        }
    }
    Ok(query)
}

/// A resource as returned: rendered, with a user's groups (from `groups`, the tenant's) and
/// each group member's `$ref`.
fn shown(record: &ScimRecord, base: &str, groups: &[ScimRecord]) -> Value {
    let mut resource = resource::render(record, base);
    match record.kind {
        ScimKind::User => {
            let member_of: Vec<Value> = groups
                .iter()
                .filter(|group| provision::member_ids(group).contains(&record.id))
                .map(|group| {
                    json!({
                        "value": group.id,
                        "display": group.name,
                        "$ref": format!("{base}/Groups/{}", group.id),
                        "type": "direct",
                    })
                })
                .collect();
            if !member_of.is_empty() {
                resource["groups"] = Value::Array(member_of);
            }
        }
        ScimKind::Group => {
            // Each member's `$ref`, unless the client gave one (RFC 7643's Group members have
            // `value`, `$ref` and `type`, all the client's). Members are users of the tenant:
            // checked when written, and a deleted user leaves every group.
            if let Some(Value::Array(members)) = resource.get_mut("members") {
                for member in members.iter_mut() {
                    let id = member
                        .get("value")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string();
                    if member.get("$ref").is_none() {
                        member["$ref"] = json!(format!("{base}/Users/{id}"));
                    }
                }
            }
        }
    }
    resource
}

/// The tenant's groups, which a user's rendering needs; none for groups.
fn groups_for(tokens: &Tokens, tenant: &str, kind: ScimKind) -> Result<Vec<ScimRecord>, ScimError> {
    match kind {
        ScimKind::User => tokens
            .store()
            .scim_list(tenant, ScimKind::Group)
            .map_err(|error| ScimError::failed(&error)),
        ScimKind::Group => Ok(Vec::new()),
    }
}

/// The resources of `kind` a filter can match: when it asks for a `userName` (or a group's
/// `displayName`) `eq` a string, alone or joined with `and`, the one resource with that name,
/// found by its index; else every resource of the kind. (Entra looks users up this way before
/// every change, so a large directory is not read whole each time.)
fn candidates(
    tokens: &Tokens,
    tenant: &str,
    kind: ScimKind,
    filter: Option<&filter::Filter>,
) -> Result<Vec<ScimRecord>, ScimError> {
    let name_attribute = match kind {
        ScimKind::User => "username",
        ScimKind::Group => "displayname",
    };
    let failed = |error: patrol_store::tokens::StoreError| ScimError::failed(&error);
    match filter.and_then(|filter| filter::name_eq(filter, name_attribute)) {
        Some(name) => Ok(tokens
            .store()
            .scim_named(tenant, kind, name)
            .map_err(failed)?
            .into_iter()
            .collect()),
        None => tokens.store().scim_list(tenant, kind).map_err(failed),
    }
}

pub(crate) async fn list(
    provisioning: Provisioning,
    State(state): State<Arc<Shared>>,
    uri: axum::http::Uri,
) -> Result<Response, ScimError> {
    let kind = kind_of_path(uri.path());
    let query = query(uri.query().unwrap_or(""))?;
    listing(&state, provisioning, vec![kind], query).await
}

/// A page of the tenant's resources of `kinds` that match the query, in a stable order: by
/// kind, then `userName` or `displayName` regardless of case.
async fn listing(
    state: &Arc<Shared>,
    provisioning: Provisioning,
    kinds: Vec<ScimKind>,
    query: Query,
) -> Result<Response, ScimError> {
    let tokens = Arc::clone(&state.tokens);
    let body = blocking(move || -> Result<Value, ScimError> {
        let groups = match kinds.contains(&ScimKind::User) {
            true => groups_for(&tokens, &provisioning.tenant, ScimKind::User)?,
            false => Vec::new(),
        };
        let mut all: Vec<ScimRecord> = Vec::new();
        for kind in kinds {
            let mut of_kind =
                candidates(&tokens, &provisioning.tenant, kind, query.filter.as_ref())?;
            of_kind.sort_by_cached_key(|record| (record.name.to_lowercase(), record.id.clone()));
            all.extend(of_kind);
        }
        let matched: Vec<Value> = all
            .iter()
            .map(|record| shown(record, &provisioning.base, &groups))
            .filter(|resource| {
                query
                    .filter
                    .as_ref()
                    .is_none_or(|filter| filter::matches(filter, resource))
            })
            .collect();
        let total = matched.len();
        let page: Vec<Value> = matched
            .into_iter()
            .skip(query.start_index - 1)
            .take(query.count)
            .map(|mut resource| {
                resource::select(&mut resource, &query.attributes, &query.excluded);
                resource
            })
            .collect();
        Ok(json!({
            "schemas": [schema::LIST],
            "totalResults": total,
            "startIndex": query.start_index,
            "itemsPerPage": page.len(),
            "Resources": page,
        }))
    })
    .await??;
    Ok(scim_json(StatusCode::OK, &body))
}

/// `POST .../.search`, `.../Users/.search` and `.../Groups/.search` (RFC 7644 §3.4.3): a list
/// whose query comes in the body, for filters too long for a URL.
pub(crate) async fn search(
    provisioning: Provisioning,
    State(state): State<Arc<Shared>>,
    uri: axum::http::Uri,
    body: Body,
) -> Result<Response, ScimError> {
    let sent = body_of(&state, body).await?;
    let query = query(&search_query(&sent)?)?;
    // `/.search` at the tenant's root searches users and groups.
    let kinds = if uri.path().ends_with("/Users/.search") {
        vec![ScimKind::User]
    } else if uri.path().ends_with("/Groups/.search") {
        vec![ScimKind::Group]
    } else {
        vec![ScimKind::User, ScimKind::Group]
    };
    listing(&state, provisioning, kinds, query).await
}

/// A SearchRequest's members as a list's query string.
fn search_query(sent: &Value) -> Result<String, ScimError> {
    let Value::Object(fields) = sent else {
        return Err(ScimError::invalid_syntax(
            "a SearchRequest must be a JSON object",
        ));
    };
    let mut pairs = form_urlencoded::Serializer::new(String::new());
    for (key, value) in fields {
        let text = match (key.as_str(), value) {
            ("schemas", _) => continue,
            (_, Value::String(text)) => text.clone(),
            (_, Value::Number(number)) => number.to_string(),
            (_, Value::Array(items)) => items
                .iter()
                .map(|item| item.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    ScimError::invalid_value(format!("`{key}` must be a list of attribute names"))
                })?
                .join(","),
            _ => {
                return Err(ScimError::invalid_value(format!(
                    "`{key}` must be a string, a number or a list of names"
                )));
            }
        };
        pairs.append_pair(key, &text);
    }
    Ok(pairs.finish())
}

pub(crate) async fn get(
    provisioning: Provisioning,
    State(state): State<Arc<Shared>>,
    PathParams(ResourceId { id }): PathParams<ResourceId>,
    uri: axum::http::Uri,
) -> Result<Response, ScimError> {
    let kind = kind_of_path(uri.path());
    let query = query(uri.query().unwrap_or(""))?;
    if query.filter.is_some() {
        return Err(ScimError::invalid_value("`filter` applies to lists only"));
    }
    let tokens = Arc::clone(&state.tokens);
    let body = blocking(move || -> Result<Value, ScimError> {
        let record = tokens
            .store()
            .scim_get(&provisioning.tenant, kind, &id)
            .map_err(|error| ScimError::failed(&error))?
            .ok_or_else(|| provision::not_found(kind, &id))?;
        let groups = groups_for(&tokens, &provisioning.tenant, kind)?;
        let mut resource = shown(&record, &provisioning.base, &groups);
        resource::select(&mut resource, &query.attributes, &query.excluded);
        Ok(resource)
    })
    .await??;
    Ok(scim_json(StatusCode::OK, &body))
}

/// Reads a SCIM body of at most the service's configuration size.
async fn body_of(state: &Shared, body: Body) -> Result<Value, ScimError> {
    json_body::<Value>(body, state.limits.config)
        .await
        .map_err(|error| {
            if error.status == StatusCode::PAYLOAD_TOO_LARGE {
                // RFC 7644 defines no `scimType` for a body that is too large.
                ScimError::new(error.status, None, error.message)
            } else {
                ScimError::invalid_syntax(error.message)
            }
        })
}

/// Writes, then answers with the resource as stored (201 for a creation).
async fn write_and_show(
    state: Arc<Shared>,
    provisioning: Provisioning,
    kind: ScimKind,
    change: Change,
    status: StatusCode,
) -> Result<Response, ScimError> {
    let tokens = Arc::clone(&state.tokens);
    let body = blocking(move || -> Result<Option<Value>, ScimError> {
        let stored = provision::write(
            &tokens,
            &provisioning.tenant,
            kind,
            &change,
            &provisioning.actor,
        )?;
        let Some(stored) = stored else {
            return Ok(None);
        };
        let groups = groups_for(&tokens, &provisioning.tenant, kind)?;
        Ok(Some(shown(&stored, &provisioning.base, &groups)))
    })
    .await??;
    match body {
        Some(body) => {
            let location = body["meta"]["location"].as_str().unwrap_or("").to_string();
            let mut response = scim_json(status, &body);
            if let Ok(location) = location.parse() {
                response.headers_mut().insert(header::LOCATION, location);
            }
            Ok(response)
        }
        None => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

pub(crate) async fn create(
    provisioning: Provisioning,
    State(state): State<Arc<Shared>>,
    uri: axum::http::Uri,
    body: Body,
) -> Result<Response, ScimError> {
    let kind = kind_of_path(uri.path());
    let sent = body_of(&state, body).await?;
    let attributes = resource::canonical(kind, &sent)?;
    write_and_show(
        state,
        provisioning,
        kind,
        Change::Create(attributes),
        StatusCode::CREATED,
    )
    .await
}

pub(crate) async fn replace(
    provisioning: Provisioning,
    State(state): State<Arc<Shared>>,
    PathParams(ResourceId { id }): PathParams<ResourceId>,
    uri: axum::http::Uri,
    body: Body,
) -> Result<Response, ScimError> {
    let kind = kind_of_path(uri.path());
    let sent = body_of(&state, body).await?;
    let attributes = resource::canonical(kind, &sent)?;
    let change = Change::Replace(id, Box::new(move |_| Ok(attributes.clone())));
    write_and_show(state, provisioning, kind, change, StatusCode::OK).await
}

pub(crate) async fn patch(
    provisioning: Provisioning,
    State(state): State<Arc<Shared>>,
    PathParams(ResourceId { id }): PathParams<ResourceId>,
    uri: axum::http::Uri,
    body: Body,
) -> Result<Response, ScimError> {
    let kind = kind_of_path(uri.path());
    let sent = body_of(&state, body).await?;
    let request: patch::PatchRequest = serde_json::from_value(sent).map_err(|error| {
        ScimError::invalid_syntax(format!(
            "not a PATCH request (`schemas` and `Operations`): {error}"
        ))
    })?;
    let change = Change::Replace(
        id,
        Box::new(move |existing: &ScimRecord| {
            let mut attributes: Map<String, Value> = match &existing.document {
                Value::Object(fields) => fields.clone(),
                _ => Map::new(),
            };
            patch::apply(existing.kind, &mut attributes, &request)?;
            resource::canonical(existing.kind, &Value::Object(attributes))
        }),
    );
    write_and_show(state, provisioning, kind, change, StatusCode::OK).await
}

pub(crate) async fn delete(
    provisioning: Provisioning,
    State(state): State<Arc<Shared>>,
    PathParams(ResourceId { id }): PathParams<ResourceId>,
    uri: axum::http::Uri,
) -> Result<Response, ScimError> {
    let kind = kind_of_path(uri.path());
    write_and_show(
        state,
        provisioning,
        kind,
        Change::Delete(id),
        StatusCode::NO_CONTENT,
    )
    .await
}
