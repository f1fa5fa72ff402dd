//! What handlers take from a request, as axum extractors: who is asking ([`Admin`]), which
//! tenant ([`TenantName`], [`Served`]), path and query parameters ([`PathParams`],
//! [`QueryParams`]) and JSON bodies ([`JsonBody`]). Each refuses a request the one way the API
//! refuses everything, an [`ApiError`]: `{"error": {"code", "message", "field"}}` with a status,
//! so that a handler says only what is particular to it.
//!
//! Extractors run in the order of a handler's arguments: put [`Admin`] first, so that a caller
//! without the admin token (or with another tenant's credential) learns nothing about which
//! tenants exist.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::state::{ServedTenant, Shared};
use patrol::config::valid_tenant_name;
use patrol::serde_message;
use patrol_store::tokens::{CREDENTIAL_PREFIX, CredentialRecord, Role};

/// Who is calling the admin API: the operator (the admin token), or a tenant's API credential.
#[derive(Debug, Clone)]
pub(crate) enum Caller {
    /// The operator's admin token: every tenant, every route.
    Operator,
    /// A credential of one tenant, with its role.
    Credential(CredentialRecord),
}

/// What a route needs of its caller. Each is a type, so that a handler's signature says it:
/// `Admin<Read>`, `Admin<Write>`, `Admin<Provision>`, `Admin<Operator>`.
pub(crate) trait Need: Send + Sync + 'static {
    /// The roles of a tenant credential that may call the route (the operator always may).
    const ROLES: &'static [Role];
    /// What the route is, for the refusal's message.
    const WHAT: &'static str;
}

/// Reading a tenant: its configuration, tokens, reports, audit log, groups.
pub(crate) struct Read;
impl Need for Read {
    const ROLES: &'static [Role] = &[Role::Admin, Role::Auditor];
    const WHAT: &'static str = "reading the tenant";
}

/// Changing a tenant: its policies, tokens, groups.
pub(crate) struct Write;
impl Need for Write {
    const ROLES: &'static [Role] = &[Role::Admin];
    const WHAT: &'static str = "changing the tenant";
}

/// SCIM provisioning.
pub(crate) struct Provision;
impl Need for Provision {
    const ROLES: &'static [Role] = &[Role::Provisioner];
    const WHAT: &'static str = "SCIM provisioning";
}

/// Asking who one is: every caller of the admin API.
pub(crate) struct Anyone;
impl Need for Anyone {
    const ROLES: &'static [Role] = &[Role::Admin, Role::Auditor, Role::Provisioner];
    const WHAT: &'static str = "asking who it is";
}

/// What only the operator does: deleting tenants, managing credentials.
pub(crate) struct Operator;
impl Need for Operator {
    const ROLES: &'static [Role] = &[];
    const WHAT: &'static str = "this operator route";
}

/// The caller may do what `N` needs, on the `{tenant}` of the path if the route has one.
/// `actor` is who acts, for the audit log: a credential's `credential:<name>`, else the
/// operator's `X-Patrol-Actor` header, else `admin`.
///
/// A tenant credential gets 404 `unknown_tenant` for any other tenant, exactly as for a tenant
/// that does not exist, so that it learns nothing about which tenants exist; and 403 on its own
/// tenant for what its role may not do.
pub(crate) struct Admin<N: Need = Write> {
    pub(crate) actor: String,
    pub(crate) caller: Caller,
    need: std::marker::PhantomData<N>,
}

/// The header in which an administrator's tool names the person acting, for the audit log.
pub(crate) const ACTOR_HEADER: &str = "x-patrol-actor";

impl<N: Need> FromRequestParts<Arc<Shared>> for Admin<N> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<Shared>,
    ) -> Result<Self, Self::Rejection> {
        let what = format!("{} {}", parts.method, parts.uri.path());
        let caller = authenticate(state, &parts.headers, &what).await?;
        let tenant = path_tenant(parts).await;
        check::<N>(&caller, tenant.as_deref())?;
        let actor = match &caller {
            Caller::Operator => actor(&parts.headers),
            Caller::Credential(credential) => credential.actor(),
        };
        Ok(Admin {
            actor,
            caller,
            need: std::marker::PhantomData,
        })
    }
}

impl<N: Need> Admin<N> {
    /// The one tenant the caller may see, if it is a tenant credential.
    pub(crate) fn only_tenant(&self) -> Option<&str> {
        match &self.caller {
            Caller::Operator => None,
            Caller::Credential(credential) => Some(&credential.tenant),
        }
    }
}

/// The `{tenant}` of the path, if the route has one. Path parameters that cannot be read (not
/// UTF-8) name no tenant a credential may act on: an empty name, which is nobody's.
async fn path_tenant(parts: &mut Parts) -> Option<String> {
    match Path::<std::collections::HashMap<String, String>>::from_request_parts(parts, &()).await {
        Ok(Path(mut params)) => params.remove("tenant"),
        Err(axum::extract::rejection::PathRejection::MissingPathParams(_)) => None,
        Err(_) => Some(String::new()),
    }
}

/// Whether `caller` may do what `N` needs on `tenant`.
fn check<N: Need>(caller: &Caller, tenant: Option<&str>) -> Result<(), ApiError> {
    let Caller::Credential(credential) = caller else {
        return Ok(());
    };
    if let Some(tenant) = tenant
        && tenant != credential.tenant
    {
        return Err(ApiError::unknown_tenant(tenant));
    }
    if N::ROLES.contains(&credential.role) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "a credential with the role `{}` may not do {}: {}",
                credential.role,
                N::WHAT,
                match credential.role {
                    Role::Admin => "that is the operator's",
                    Role::Auditor => "the auditor role is read-only",
                    Role::Provisioner => "the provisioner role may only use the SCIM endpoints",
                }
            ),
        ))
    }
}

/// The bearer token of the request, if any.
fn bearer(headers: &HeaderMap) -> &str {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or("")
}

/// Who presented the `Authorization: Bearer` header: the operator (compared in constant time
/// with the admin token), or a live tenant credential (looked up by its hash; a use is
/// recorded, `what` naming the request).
pub(crate) async fn authenticate(
    state: &Arc<Shared>,
    headers: &HeaderMap,
    what: &str,
) -> Result<Caller, ApiError> {
    let Some(expected) = &state.admin_token else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "admin_api_off",
            "the admin API is off: start patrol with an admin token to turn it on",
        ));
    };
    let presented = bearer(headers).trim().to_string();
    if bool::from(presented.as_bytes().ct_eq(expected.as_bytes())) {
        return Ok(Caller::Operator);
    }
    if presented.starts_with(CREDENTIAL_PREFIX) {
        let tokens = Arc::clone(&state.tokens);
        let what = what.to_string();
        let found = crate::api::blocking(move || {
            tokens.authenticate_credential(&presented, &what, patrol::timestamp::now())
        })
        .await?
        .map_err(|error| ApiError::failed(&error))?;
        if let Some(credential) = found {
            return Ok(Caller::Credential(credential));
        }
    }
    Err(ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "the admin API needs `Authorization: Bearer <admin token or tenant credential>`",
    ))
}

/// Who is acting, for the audit log: the `X-Patrol-Actor` header when it is printable text of
/// at most 256 bytes, else `admin`.
fn actor(headers: &HeaderMap) -> String {
    headers
        .get(ACTOR_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|value| patrol::identity::check(patrol::identity::Kind::DisplayName, value).is_ok())
        .unwrap_or("admin")
        .to_lowercase()
}

/// The `{tenant}` of the path, checked as a tenant name (it becomes a file name). The tenant
/// need not exist.
pub(crate) struct TenantName(pub(crate) String);

#[derive(Deserialize)]
struct TenantParam {
    tenant: String,
}

impl<S: Send + Sync> FromRequestParts<S> for TenantName {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let PathParams(TenantParam { tenant }) =
            PathParams::from_request_parts(parts, state).await?;
        if valid_tenant_name(&tenant) {
            Ok(TenantName(tenant))
        } else {
            Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_tenant_name",
                format!(
                    "`{tenant}` is not a tenant name: use 1 to 64 ASCII letters, digits, `.`, \
                     `_` or `-`, starting with a letter or digit"
                ),
            )
            .with_field("tenant"))
        }
    }
}

/// The `{tenant}` of the path, being served: 404 otherwise.
pub(crate) struct Served {
    pub(crate) name: String,
    pub(crate) served: Arc<ServedTenant>,
}

impl FromRequestParts<Arc<Shared>> for Served {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<Shared>,
    ) -> Result<Self, Self::Rejection> {
        let TenantName(name) = TenantName::from_request_parts(parts, state).await?;
        let served = state
            .tenant(&name)
            .ok_or_else(|| ApiError::unknown_tenant(&name))?;
        Ok(Served { name, served })
    }
}

/// Path parameters, by name, into `T`.
pub(crate) struct PathParams<T>(pub(crate) T);

impl<T, S> FromRequestParts<S> for PathParams<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(params)| PathParams(params))
            .map_err(|rejection| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_path",
                    serde_message::plain(&rejection.body_text()),
                )
                .with_field("path")
            })
    }
}

/// The query string, into `T` (whose unknown fields should be refused). A parameter that does
/// not parse is named in the error.
pub(crate) struct QueryParams<T>(pub(crate) T);

impl<T, S> FromRequestParts<S> for QueryParams<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parse_query(parts.uri.query().unwrap_or("")).map(QueryParams)
    }
}

/// Parses a query string into `T`, naming the parameter at fault.
pub(crate) fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let deserializer =
        serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let problem = query_problem(&error.into_inner().to_string());
        let (field, problem) = match problem.strip_prefix("missing field `") {
            Some(rest) => (
                rest.split('`').next().unwrap_or("").to_string(),
                "is missing".into(),
            ),
            None => (if path == "." { String::new() } else { path }, problem),
        };
        let message = if field.is_empty() {
            format!("the query string: {problem}")
        } else {
            format!("`{field}`: {problem}")
        };
        let error = ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message);
        if field.is_empty() {
            error
        } else {
            error.with_field(field)
        }
    })
}

/// A query parameter's problem in words: the standard library's number parsing speaks of
/// digits and strings.
fn query_problem(message: &str) -> String {
    let message = serde_message::plain(message);
    if message.contains("invalid digit") || message.contains("cannot parse integer") {
        "expected a non-negative integer".to_string()
    } else if message.contains("provided string was not `true` or `false`") {
        "expected `true` or `false`".to_string()
    } else {
        message
    }
}

/// A JSON body, parsed strictly (one document, nothing after it) into `T`, at most the
/// service's request size: a field at fault is named.
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<T: DeserializeOwned> FromRequest<Arc<Shared>> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &Arc<Shared>) -> Result<Self, Self::Rejection> {
        json_body(request.into_body(), state.limits.request)
            .await
            .map(JsonBody)
    }
}

/// Reads a body of at most `limit` bytes and parses it as [`JsonBody`] does. A problem with
/// the document as a whole (not JSON, content after it) is reported at the field `body`.
pub(crate) async fn json_body<T: DeserializeOwned>(
    body: Body,
    limit: usize,
) -> Result<T, ApiError> {
    let bytes = read_body(body, limit).await?;
    patrol::json::parse(&bytes).map_err(|error| {
        let field = if error.field.is_empty() {
            BODY_FIELD.to_string()
        } else {
            error.field.clone()
        };
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            error.to_string(),
        )
        .with_field(field)
    })
}

/// The field an error names when the body as a whole is at fault.
pub(crate) const BODY_FIELD: &str = "body";

/// Reads a whole body of at most `limit` bytes; more is a 413.
pub(crate) async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|error| {
        let too_large = std::error::Error::source(&error)
            .is_some_and(|source| source.is::<http_body_util::LengthLimitError>());
        if too_large {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("the body is larger than the limit of {limit} bytes"),
            )
        } else {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "unreadable_body",
                format!("cannot read the body: {error}"),
            )
        }
    })
}
