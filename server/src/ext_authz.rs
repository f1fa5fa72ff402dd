//! Envoy's external authorization over gRPC (`envoy.service.auth.v3.Authorization/Check`), on
//! its own listener (`patrol serve --grpc-listen`), with gRPC health checking
//! (`grpc.health.v1.Health`) beside it. What Istio's `CUSTOM` authorization action and Envoy
//! Gateway's `SecurityPolicy.extAuth` call.
//!
//! Where each part of a `CheckRequest` comes from in Envoy (`AttributeContext`, see Envoy's
//! `envoy/service/auth/v3/attribute_context.proto` and the ext_authz filter's docs):
//!
//! - `attributes.request.http.headers`: the client's request headers, keys lower-cased by
//!   Envoy, HTTP/2 pseudo-headers included (`:authority`, `:path`, `:method`); values merged
//!   with commas when repeated. With the filter's `encode_raw_headers: true`, Envoy sends
//!   `header_map` (a list of `key` and `raw_value` bytes) instead: both are read.
//! - `attributes.request.http.path`: the request target with its query string;
//!   `host`: the `:authority` (HTTP/2) or `Host` (HTTP/1.1).
//! - `attributes.source.address`: the downstream peer (the client when Envoy is the edge;
//!   otherwise the proxy in front: `x-forwarded-for`, read first, is the better witness).
//! - `attributes.context_extensions`: key/value pairs set per route or virtual host in Envoy's
//!   configuration (`typed_per_filter_config` → `ExtAuthzPerRoute.check_settings.
//!   context_extensions`): where an operator names the tenant and organization a route
//!   belongs to, out of the client's reach.
//!
//! The token comes from `authorization` (Bearer or Basic), as for forward-auth; the tenant and
//! organization from the places [`ExtAuthzConfig`] lists (by default the context extensions
//! `tenant` and `org`, then the headers `x-patrol-tenant` and `x-patrol-org`). The answer is
//! the [`patrol_gate`] outcome every front end gives: `OkHttpResponse` with the identity headers
//! set on the upstream request (overwriting any the client sent), or `DeniedHttpResponse` with
//! the status (401, 403, 400, 404, 5xx), `x-patrol-reason`, the challenge on a 401, and the
//! same small JSON body as forward-auth.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use envoy_types::ext_authz::v3::pb::{
    Authorization, CheckRequest, CheckResponse, DeniedHttpResponse, HeaderAppendAction,
    HeaderValue, HeaderValueOption, HttpResponse, HttpStatus, OkHttpResponse,
};
use envoy_types::pb::envoy::config::core::v3::address::Address;
use envoy_types::pb::google::rpc;
use patrol_gate::{Attempt, Outcome, Refusal};

use crate::state::Shared;

/// One place a `CheckRequest` may name the tenant or the organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A context extension set in Envoy's configuration: `context:<key>`.
    Context(String),
    /// A request header (lower case): `header:<name>`.
    Header(String),
    /// A segment of the request's path, from 0: `path:<n>` (`/{org}/repo` is `path:0`).
    PathSegment(usize),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Context(key) => write!(f, "context:{key}"),
            Source::Header(name) => write!(f, "header:{name}"),
            Source::PathSegment(index) => write!(f, "path:{index}"),
        }
    }
}

impl FromStr for Source {
    type Err = String;

    fn from_str(text: &str) -> Result<Source, String> {
        let (kind, name) = text.split_once(':').ok_or_else(|| {
            format!("`{text}`: write `context:<key>`, `header:<name>` or `path:<segment>`")
        })?;
        let name = name.trim();
        if name.is_empty() {
            return Err(format!("`{text}`: the {kind} needs a name"));
        }
        match kind.trim() {
            "context" => Ok(Source::Context(name.to_string())),
            "header" => Ok(Source::Header(name.to_ascii_lowercase())),
            "path" => name.parse().map(Source::PathSegment).map_err(|_| {
                format!("`{text}`: a path segment is a number counted from 0, such as `path:0`")
            }),
            other => Err(format!(
                "`{text}`: `{other}` is not a place: use `context`, `header` or `path`"
            )),
        }
    }
}

/// Where the ext_authz listener finds a request's tenant and organization: the first of each
/// list that is present wins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtAuthzConfig {
    /// The tenant's places (default `context:tenant`, `header:x-patrol-tenant`).
    pub tenant: Vec<Source>,
    /// The organization's places (default `context:org`, `header:x-patrol-org`).
    pub org: Vec<Source>,
}

impl Default for ExtAuthzConfig {
    fn default() -> Self {
        ExtAuthzConfig {
            tenant: vec![
                Source::Context("tenant".into()),
                Source::Header("x-patrol-tenant".into()),
            ],
            org: vec![
                Source::Context("org".into()),
                Source::Header(patrol_gate::ORG_HEADER.into()),
            ],
        }
    }
}

/// What patrol reads out of a `CheckRequest`.
struct Presented<'a> {
    headers: HashMap<String, String>,
    context: Option<&'a HashMap<String, String>>,
    path: &'a str,
    peer: Option<&'a str>,
}

impl<'a> Presented<'a> {
    fn of(check: &'a CheckRequest) -> Presented<'a> {
        let attributes = check.attributes.as_ref();
        let http = attributes
            .and_then(|attributes| attributes.request.as_ref())
            .and_then(|request| request.http.as_ref());
        let mut headers: HashMap<String, String> = HashMap::new();
        if let Some(http) = http {
            for (name, value) in &http.headers {
                headers.insert(name.to_ascii_lowercase(), value.clone());
            }
            // `encode_raw_headers: true`: raw values, repeated keys not merged (merge them
            // with commas, as Envoy does in `headers`).
            for header in http.header_map.iter().flat_map(|map| &map.headers) {
                let value = if header.raw_value.is_empty() {
                    header.value.clone()
                } else {
                    String::from_utf8_lossy(&header.raw_value).into_owned()
                };
                headers
                    .entry(header.key.to_ascii_lowercase())
                    .and_modify(|merged| {
                        merged.push(',');
                        merged.push_str(&value);
                    })
                    .or_insert(value);
            }
            if !http.host.is_empty() {
                headers
                    .entry(":authority".into())
                    .or_insert_with(|| http.host.clone());
            }
        }
        let peer = attributes
            .and_then(|attributes| attributes.source.as_ref())
            .and_then(|peer| peer.address.as_ref())
            .and_then(|address| address.address.as_ref())
            .and_then(|address| match address {
                Address::SocketAddress(socket) => Some(socket.address.as_str()),
                _ => None,
            })
            .filter(|address| !address.is_empty());
        Presented {
            headers,
            context: attributes.map(|attributes| &attributes.context_extensions),
            path: http.map_or("", |http| http.path.as_str()),
            peer,
        }
    }

    /// The first of `sources` present, and which it was (named in errors).
    fn find(&self, sources: &[Source]) -> Option<(String, String)> {
        sources.iter().find_map(|source| {
            let value = match source {
                Source::Context(key) => self.context.and_then(|context| context.get(key)).cloned(),
                Source::Header(name) => self.headers.get(name).cloned(),
                Source::PathSegment(index) => self
                    .path
                    .split(['?', '#'])
                    .next()
                    .unwrap_or("")
                    .split('/')
                    .filter(|segment| !segment.is_empty())
                    .nth(*index)
                    .map(str::to_string),
            };
            value
                .map(|value| value.trim().to_string())
                .filter(|value| !value.is_empty())
                .map(|value| (value, source.to_string()))
        })
    }
}

/// The Authorization service.
pub(crate) struct ExtAuthz {
    state: Arc<Shared>,
    config: Arc<ExtAuthzConfig>,
}

impl ExtAuthz {
    pub(crate) fn new(state: Arc<Shared>, config: ExtAuthzConfig) -> ExtAuthz {
        ExtAuthz {
            state,
            config: Arc::new(config),
        }
    }
}

#[tonic::async_trait]
impl Authorization for ExtAuthz {
    async fn check(
        &self,
        request: tonic::Request<CheckRequest>,
    ) -> Result<tonic::Response<CheckResponse>, tonic::Status> {
        let check = request.into_inner();
        let outcome = if self.state.is_shutting_down() {
            Outcome::Refused(Refusal::shutting_down())
        } else {
            let presented = Presented::of(&check);
            let tenant = presented
                .find(&self.config.tenant)
                .map(|(tenant, _)| tenant)
                .unwrap_or_default();
            let org = presented.find(&self.config.org);
            let mut attempt = Attempt::from_headers(tenant, org, &presented.headers);
            if attempt.address.is_none() {
                attempt.address = presented.peer.map(str::to_string);
            }
            let gate = self.state.gate();
            gate.authenticate_blocking(attempt).await
        };
        Ok(tonic::Response::new(check_response(&outcome)))
    }
}

/// Serves the Authorization service and `grpc.health.v1.Health` on `listener` until `stop`
/// completes. Health is `SERVING` for the server as a whole (`""`) and for
/// `envoy.service.auth.v3.Authorization`, and `NOT_SERVING` from the moment shutdown begins.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    service: ExtAuthz,
    stop: impl std::future::Future<Output = ()> + Send,
) -> std::io::Result<()> {
    use envoy_types::ext_authz::v3::pb::AuthorizationServer;
    use tonic_health::ServingStatus;
    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<AuthorizationServer<ExtAuthz>>().await;
    let stopping = async move {
        stop.await;
        health
            .set_not_serving::<AuthorizationServer<ExtAuthz>>()
            .await;
        health
            .set_service_status("", ServingStatus::NotServing)
            .await;
    };
    tonic::transport::Server::builder()
        .add_service(health_service)
        .add_service(AuthorizationServer::new(service))
        .serve_with_incoming_shutdown(
            tonic::transport::server::TcpIncoming::from(listener),
            stopping,
        )
        .await
        .map_err(std::io::Error::other)
}

/// A header Envoy sets, replacing any of the same name.
fn header(name: &str, value: String) -> HeaderValueOption {
    #[allow(deprecated)]
    HeaderValueOption {
        header: Some(HeaderValue {
            key: name.to_string(),
            value,
            raw_value: Vec::new(),
        }),
        append: None,
        append_action: HeaderAppendAction::OverwriteIfExistsOrAdd.into(),
        keep_empty_value: false,
    }
}

/// The gRPC status code Envoy logs for an outcome (`google.rpc.Code`).
fn rpc_code(status: u16) -> i32 {
    match status {
        200 => 0,  // OK
        400 => 3,  // INVALID_ARGUMENT
        401 => 16, // UNAUTHENTICATED
        403 => 7,  // PERMISSION_DENIED
        404 => 5,  // NOT_FOUND
        503 => 14, // UNAVAILABLE
        _ => 13,   // INTERNAL
    }
}

/// The outcome as Envoy's answer.
pub(crate) fn check_response(outcome: &Outcome) -> CheckResponse {
    let status = outcome.status();
    let (message, http_response) = match outcome {
        Outcome::Allowed(_) => (
            String::new(),
            HttpResponse::OkResponse(OkHttpResponse {
                headers: outcome
                    .headers()
                    .into_iter()
                    .map(|(name, value)| header(name, value))
                    .collect(),
                ..OkHttpResponse::default()
            }),
        ),
        Outcome::Refused(refusal) => {
            let mut headers: Vec<HeaderValueOption> = outcome
                .headers()
                .into_iter()
                .map(|(name, value)| header(name, value))
                .collect();
            headers.push(header("content-type", "application/json".into()));
            (
                refusal.message.clone(),
                HttpResponse::DeniedResponse(DeniedHttpResponse {
                    // Envoy's `type.v3.StatusCode` numbers its values as HTTP does.
                    status: Some(HttpStatus {
                        code: i32::from(status),
                    }),
                    headers,
                    body: outcome.body().to_string(),
                }),
            )
        }
    };
    CheckResponse {
        status: Some(rpc::Status {
            code: rpc_code(status),
            message,
            details: Vec::new(),
        }),
        http_response: Some(http_response),
        ..CheckResponse::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_written_kind_colon_name() {
        assert_eq!(
            "context:tenant".parse(),
            Ok(Source::Context("tenant".into()))
        );
        assert_eq!(
            "header:X-Patrol-Org".parse(),
            Ok(Source::Header("x-patrol-org".into()))
        );
        assert_eq!("path:1".parse(), Ok(Source::PathSegment(1)));
        for bad in ["tenant", "query:x", "path:first", "header:", ":x"] {
            let error = bad.parse::<Source>().unwrap_err();
            assert!(error.contains(&format!("`{bad}`")), "{bad}: {error}");
        }
    }
}
