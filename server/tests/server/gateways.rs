//! One authentication path behind every front end: the same cases through forward-auth,
//! `/authenticate`, Envoy's ext_authz over gRPC (a real listener on loopback, a tonic client
//! sending `CheckRequest`s shaped as Envoy sends them) and the tower layer, with identical
//! outcomes, reason codes, bodies, metrics and decision-log entries.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::StatusCode;
use envoy_types::ext_authz::v3::pb::{CheckRequest, HttpResponse};
use envoy_types::pb::envoy::config::core::v3::{
    Address, HeaderMap as EnvoyHeaderMap, HeaderValue as EnvoyHeaderValue, SocketAddress, address,
    socket_address,
};
use envoy_types::pb::envoy::service::auth::v3::AttributeContext;
use envoy_types::pb::envoy::service::auth::v3::attribute_context::{HttpRequest, Peer, Request};
use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use patrol_server::{Server, TOKEN_ID_HEADER, USER_HEADER};
use patrol_tower::{Identity, Options, OrgFrom, PatAuthLayer, TenantFrom};
use serde_json::{Value, json};
use tower::{ServiceBuilder, ServiceExt};

use crate::router::{Service, TOKEN, call};

/// What a front end answered, in common terms.
#[derive(Debug, Clone, PartialEq)]
struct Answer {
    status: u16,
    /// `x-patrol-reason`, on a refusal.
    reason: Option<String>,
    /// The identity headers the upstream gets, on admission.
    identity: Vec<(String, String)>,
    /// The JSON body the client gets, on a refusal.
    body: Option<Value>,
}

/// One case: a request as a client sends it.
struct Case {
    name: &'static str,
    tenant: &'static str,
    org: Option<&'static str>,
    authorization: Option<String>,
    status: u16,
    reason: Option<&'static str>,
}

const IDENTITY: [&str; 4] = [
    "x-patrol-user",
    "x-patrol-token-id",
    "x-patrol-scopes",
    "x-patrol-tenant",
];

fn identity_of(lookup: impl Fn(&str) -> Option<String>) -> Vec<(String, String)> {
    IDENTITY
        .iter()
        .filter_map(|name| lookup(name).map(|value| (name.to_string(), value)))
        .collect()
}

/// Creates a token through the admin API; returns (secret, id).
async fn issue(router: &axum::Router, user: &str, all_orgs: bool) -> (String, String) {
    let admin = format!("Bearer {TOKEN}");
    let valid_to = patrol::timestamp::format_rfc3339(patrol::timestamp::now() + 10 * 86_400);
    let created = call(
        router,
        "POST",
        "/v1/tenants/contoso/tokens",
        &[
            ("authorization", &admin),
            ("content-type", "application/json"),
        ],
        json!({
            "user": user, "displayName": "ci", "scope": "vso.code",
            "validTo": valid_to, "allOrgs": all_orgs, "org": "contoso-main",
        })
        .to_string(),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let token = &created.json()["patToken"];
    (
        token["token"].as_str().unwrap().to_string(),
        token["authorizationId"].as_str().unwrap().to_string(),
    )
}

/// A `CheckRequest` as Envoy builds it for an HTTP/2 request to `/{org}/repo` through a route
/// whose per-filter configuration sets the context extensions `tenant` and `org`.
fn envoy_check(case: &Case) -> CheckRequest {
    let mut headers: HashMap<String, String> = [
        (":authority", "git.contoso.test"),
        (":method", "GET"),
        (":path", "/repo"),
        (":scheme", "https"),
        ("user-agent", "git/2.43.0"),
        ("x-forwarded-for", "203.0.113.9"),
        ("x-forwarded-proto", "https"),
        ("x-request-id", "7b0e7c2c-5c53-4d7e-9a57-1f1d2c3b4a59"),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_string(), value.to_string()))
    .collect();
    if let Some(authorization) = &case.authorization {
        headers.insert("authorization".into(), authorization.clone());
    }
    let mut context = HashMap::from([("tenant".to_string(), case.tenant.to_string())]);
    if let Some(org) = case.org {
        context.insert("org".into(), org.into());
    }
    CheckRequest {
        attributes: Some(AttributeContext {
            source: Some(peer("10.0.0.7", 51234)),
            destination: Some(peer("10.0.0.2", 443)),
            request: Some(Request {
                time: None,
                http: Some(HttpRequest {
                    id: "7b0e7c2c-5c53-4d7e-9a57-1f1d2c3b4a59".into(),
                    method: "GET".into(),
                    headers,
                    path: "/repo".into(),
                    host: "git.contoso.test".into(),
                    scheme: "https".into(),
                    protocol: "HTTP/2".into(),
                    size: -1,
                    ..HttpRequest::default()
                }),
            }),
            context_extensions: context,
            ..AttributeContext::default()
        }),
    }
}

/// The HTTP attributes of an Envoy-shaped `CheckRequest`, to change.
fn http_of(check: &mut CheckRequest) -> &mut HttpRequest {
    check
        .attributes
        .as_mut()
        .and_then(|attributes| attributes.request.as_mut())
        .and_then(|request| request.http.as_mut())
        .expect("an Envoy-shaped request has HTTP attributes")
}

fn peer(ip: &str, port: u32) -> Peer {
    Peer {
        address: Some(Address {
            address: Some(address::Address::SocketAddress(SocketAddress {
                address: ip.into(),
                port_specifier: Some(socket_address::PortSpecifier::PortValue(port)),
                ..SocketAddress::default()
            })),
        }),
        ..Peer::default()
    }
}

fn ext_authz_answer(response: envoy_types::ext_authz::v3::pb::CheckResponse) -> Answer {
    match response.http_response.expect("an http_response") {
        HttpResponse::OkResponse(ok) => {
            assert_eq!(response.status.unwrap().code, 0);
            let set: HashMap<String, String> = ok
                .headers
                .iter()
                .map(|option| {
                    // Overwrite what the client may have sent itself.
                    assert_eq!(option.append_action, 2, "OVERWRITE_IF_EXISTS_OR_ADD");
                    let header = option.header.as_ref().unwrap();
                    (header.key.clone(), header.value.clone())
                })
                .collect();
            Answer {
                status: 200,
                reason: None,
                identity: identity_of(|name| set.get(name).cloned()),
                body: None,
            }
        }
        HttpResponse::DeniedResponse(denied) => {
            let set: HashMap<String, String> = denied
                .headers
                .iter()
                .map(|option| {
                    let header = option.header.as_ref().unwrap();
                    (header.key.clone(), header.value.clone())
                })
                .collect();
            let status = denied.status.unwrap().code as u16;
            let rpc = response.status.unwrap().code;
            let expected_rpc = match status {
                400 => 3,
                401 => 16,
                403 => 7,
                404 => 5,
                _ => 13,
            };
            assert_eq!(rpc, expected_rpc, "gRPC status for HTTP {status}");
            assert_eq!(
                set.get("content-type").map(String::as_str),
                Some("application/json")
            );
            if status == 401 {
                assert!(set.contains_key("www-authenticate"), "{set:?}");
            }
            Answer {
                status,
                reason: set.get("x-patrol-reason").cloned(),
                identity: Vec::new(),
                body: Some(serde_json::from_str(&denied.body).unwrap()),
            }
        }
        HttpResponse::ErrorResponse(error) => {
            panic!("patrol answers allowed or denied, not {error:?}")
        }
    }
}

/// The answer without the `field` of an error, and without the field's name leading its
/// message.
fn without_field(answer: &Answer) -> Answer {
    let mut answer = answer.clone();
    if let Some(error) = answer.body.as_mut().map(|body| &mut body["error"])
        && let Some(Value::String(field)) = error.as_object_mut().and_then(|e| e.remove("field"))
    {
        let message = error["message"].as_str().unwrap_or_default();
        let rest = message
            .strip_prefix(&format!("`{field}`: "))
            .unwrap_or(message);
        error["message"] = json!(rest);
    }
    answer
}

fn http_answer(status: u16, headers: &axum::http::HeaderMap, body: &[u8]) -> Answer {
    let text = |name: &str| {
        headers
            .get(name)
            .map(|value| value.to_str().unwrap().to_string())
    };
    if status == 401 {
        assert!(text("www-authenticate").is_some());
    }
    Answer {
        status,
        reason: text("x-patrol-reason"),
        identity: if status == 200 {
            identity_of(text)
        } else {
            Vec::new()
        },
        body: (status != 200).then(|| serde_json::from_slice(body).unwrap()),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_front_end_gives_the_same_outcome_for_the_same_request() {
    let Service { dir, server } = Service::open(Some(TOKEN));
    let router = server.router();
    let admin = format!("Bearer {TOKEN}");
    // carol may hold a global token (pat-admins) but not use it in fabrikam.
    call(
        &router,
        "PUT",
        "/v1/admin/tenants/contoso/groups/pat-admins",
        &[
            ("authorization", &admin),
            ("content-type", "application/json"),
        ],
        r#"{"members": ["carol@contoso.com"]}"#,
    )
    .await;
    let (scoped, _) = issue(&router, "bob@contoso.com", false).await;
    let (global, _) = issue(&router, "carol@contoso.com", true).await;
    let (revoked, revoked_id) = issue(&router, "dan@contoso.com", false).await;
    let revoke = call(
        &router,
        "DELETE",
        &format!("/v1/tenants/contoso/tokens/{revoked_id}"),
        &[("authorization", &admin)],
        Body::empty(),
    )
    .await;
    assert!(revoke.status.is_success(), "{}", revoke.text());
    let unknown = patrol_store::tokens::Secret::generate().unwrap();
    let basic = |token: &str| {
        use base64::Engine as _;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!(":{token}"))
        )
    };
    let bearer = |token: &str| format!("Bearer {token}");
    let cases = [
        Case {
            name: "scoped token in its organization",
            tenant: "contoso",
            org: Some("contoso-main"),
            authorization: Some(bearer(&scoped)),
            status: 200,
            reason: None,
        },
        Case {
            name: "global token, Basic",
            tenant: "contoso",
            org: Some("contoso-main"),
            authorization: Some(basic(&global)),
            status: 200,
            reason: None,
        },
        Case {
            name: "no token",
            tenant: "contoso",
            org: Some("contoso-main"),
            authorization: None,
            status: 401,
            reason: Some("missing_token"),
        },
        Case {
            name: "not a patrol token",
            tenant: "contoso",
            org: Some("contoso-main"),
            authorization: Some(bearer("ptl_nonsense")),
            status: 401,
            reason: Some("malformed_token"),
        },
        Case {
            name: "unknown token",
            tenant: "contoso",
            org: Some("contoso-main"),
            authorization: Some(bearer(unknown.expose())),
            status: 401,
            reason: Some("unknown_token"),
        },
        Case {
            name: "revoked token",
            tenant: "contoso",
            org: Some("contoso-main"),
            authorization: Some(bearer(&revoked)),
            status: 401,
            reason: Some("revoked_token"),
        },
        Case {
            name: "scoped token elsewhere",
            tenant: "contoso",
            org: Some("fabrikam"),
            authorization: Some(bearer(&scoped)),
            status: 401,
            reason: Some("token_not_valid_for_org"),
        },
        Case {
            name: "global token where policy forbids it",
            tenant: "contoso",
            org: Some("fabrikam"),
            authorization: Some(bearer(&global)),
            status: 403,
            reason: Some("globalPatUsageDisabled"),
        },
        Case {
            name: "no organization",
            tenant: "contoso",
            org: None,
            authorization: Some(bearer(&scoped)),
            status: 400,
            reason: Some("missing_org"),
        },
        Case {
            name: "not an organization",
            tenant: "contoso",
            org: Some("*"),
            authorization: Some(bearer(&global)),
            status: 400,
            reason: Some("invalid_org"),
        },
        Case {
            name: "unknown tenant",
            tenant: "northwind",
            org: Some("contoso-main"),
            authorization: Some(bearer(&scoped)),
            status: 404,
            reason: Some("unknown_tenant"),
        },
    ];

    // The layer, over the service's own gate, in front of an upstream that echoes the identity
    // headers and the extension it received.
    let upstream = tower::service_fn(|request: axum::http::Request<Body>| async move {
        let identity = request.extensions().get::<Identity>().cloned();
        let headers: Vec<(String, String)> = identity_of(|name| {
            request
                .headers()
                .get(name)
                .map(|value| value.to_str().unwrap().to_string())
        });
        let body = json!({ "headers": headers, "user": identity.map(|identity| identity.user) });
        Ok::<_, std::convert::Infallible>(axum::http::Response::new(Body::from(body.to_string())))
    });
    let layered = ServiceBuilder::new()
        .layer(PatAuthLayer::with_gate(
            server.gate(),
            Options::new(
                TenantFrom::Header("x-tenant".parse().unwrap()),
                OrgFrom::Header("x-patrol-org".parse().unwrap()),
            ),
        ))
        .service(upstream);

    // The service on real loopback listeners: HTTP and gRPC.
    let http_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let grpc_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let grpc_address: SocketAddr = grpc_listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(
        server.run_with_grpc(http_listener, Some(grpc_listener), async {
            let _ = stopped.await;
        }),
    );
    let mut ext_authz = AuthorizationClient::connect(format!("http://{grpc_address}"))
        .await
        .unwrap();

    let mut refusals_logged = 0;
    let mut labels: HashMap<String, usize> = HashMap::new();
    for case in &cases {
        let mut answers: Vec<(&str, Answer)> = Vec::new();
        let with_token = |mut headers: Vec<(&'static str, String)>| {
            if let Some(authorization) = &case.authorization {
                headers.push(("authorization", authorization.clone()));
            }
            headers
        };
        // Forward-auth, the organization in the path (or missing).
        let path = match case.org {
            Some(org) => format!(
                "/v1/tenants/{}/orgs/{}/forward-auth",
                case.tenant,
                org.replace('*', "%2A")
            ),
            None => format!("/v1/tenants/{}/forward-auth", case.tenant),
        };
        let headers = with_token(vec![("x-forwarded-for", "203.0.113.9".into())]);
        let pairs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let reply = call(&router, "GET", &path, &pairs, Body::empty()).await;
        answers.push((
            "forward-auth",
            http_answer(reply.status.as_u16(), &reply.headers, &reply.body),
        ));
        // /authenticate, the organization in X-Patrol-Org.
        let mut headers = with_token(vec![]);
        if let Some(org) = case.org {
            headers.push(("x-patrol-org", org.to_string()));
        }
        let pairs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let reply = call(
            &router,
            "POST",
            &format!("/v1/tenants/{}/authenticate", case.tenant),
            &pairs,
            Body::empty(),
        )
        .await;
        answers.push((
            "authenticate",
            http_answer(reply.status.as_u16(), &reply.headers, &reply.body),
        ));
        // Envoy's ext_authz.
        let response = ext_authz
            .check(envoy_check(case))
            .await
            .unwrap()
            .into_inner();
        answers.push(("ext_authz", ext_authz_answer(response)));
        // The tower layer, with a client trying to forge an identity.
        let mut request = axum::http::Request::builder()
            .uri("/repo")
            .header("x-tenant", case.tenant)
            .header(USER_HEADER, "mallory@evil.test")
            .header(TOKEN_ID_HEADER, "forged");
        if let Some(org) = case.org {
            request = request.header("x-patrol-org", org);
        }
        if let Some(authorization) = &case.authorization {
            request = request.header("authorization", authorization);
        }
        let response = layered
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        let answer = if status == 200 {
            let echoed: Value = serde_json::from_slice(&body).unwrap();
            let identity: Vec<(String, String)> =
                serde_json::from_value(echoed["headers"].clone()).unwrap();
            assert_eq!(
                Some(&identity[0].1),
                echoed["user"].as_str().map(str::to_string).as_ref(),
                "the extension and the header agree"
            );
            Answer {
                status,
                reason: None,
                identity,
                body: None,
            }
        } else {
            http_answer(status, &headers, &body)
        };
        answers.push(("tower layer", answer));

        let (_, first) = &answers[0];
        assert_eq!(first.status, case.status, "{}: {first:?}", case.name);
        assert_eq!(
            first.reason.as_deref(),
            case.reason,
            "{}: {first:?}",
            case.name
        );
        if case.status == 200 {
            assert_eq!(first.identity.len(), 4, "{}: {first:?}", case.name);
            assert_ne!(first.identity[0].1, "mallory@evil.test");
        }
        // Each front end names the place a bad value came from (`org` in a path,
        // `x-patrol-org`, a context extension): compare the rest.
        let first = without_field(first);
        for (front_end, answer) in &answers[1..] {
            assert_eq!(
                without_field(answer),
                first,
                "{}: {front_end} differs from forward-auth",
                case.name
            );
        }
        if matches!(
            case.reason,
            Some("token_not_valid_for_org" | "globalPatUsageDisabled")
        ) {
            refusals_logged += answers.len();
        }
        if case.tenant == "contoso" {
            let label = match (case.status, case.reason) {
                (200, _) => "authenticated",
                (403, _) => "denied",
                (_, Some(code)) => code,
                _ => unreachable!(),
            };
            *labels.entry(label.to_string()).or_default() += answers.len();
        }
    }

    // The same metrics for every front end: each case counted once per front end.
    let metrics = call(&router, "GET", "/metrics", &[], Body::empty())
        .await
        .text();
    for (label, count) in &labels {
        let line = format!(
            "patrol_authentications_total{{tenant=\"contoso\",outcome=\"{label}\"}} {count}"
        );
        assert!(metrics.contains(&line), "{line} in:\n{metrics}");
    }
    assert!(
        !metrics.contains("tenant=\"northwind\""),
        "unknown tenants are not counted"
    );

    // The same decision-log entries: every refused use logged by every front end.
    let log_path = dir.path().join("decisions.log");
    let started = Instant::now();
    let gateway_lines = loop {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        let lines: Vec<Value> = log
            .lines()
            .map(|line| serde_json::from_str::<Value>(line).unwrap())
            .filter(|record| record["source"] == "gateway")
            .collect();
        if lines.len() >= refusals_logged || started.elapsed() > Duration::from_secs(10) {
            break lines;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(gateway_lines.len(), refusals_logged, "{gateway_lines:#?}");

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("the service stops")
        .unwrap()
        .unwrap();
}

/// A service on loopback with an ext_authz listener whose tenant and organization come from
/// `config`; returns the HTTP router, the gRPC address, the token store and the stop handle.
async fn serve_ext_authz(
    config: patrol_server::ExtAuthzConfig,
) -> (
    tempfile::TempDir,
    axum::Router,
    SocketAddr,
    std::sync::Arc<patrol_store::tokens::Tokens>,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), patrol_server::ServeError>>,
) {
    let dir = tempfile::tempdir().unwrap();
    let mut serve = patrol_server::ServeConfig::new(dir.path().join("data"));
    serve.admin_token = Some(TOKEN.to_string());
    serve.decision_log = Some(patrol_server::DecisionLogTarget::Off);
    serve.ext_authz = config;
    let server = Server::open(serve).unwrap();
    let router = server.router();
    let tokens = std::sync::Arc::clone(server.tokens());
    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let grpc = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = grpc.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run_with_grpc(http, Some(grpc), async {
        let _ = stopped.await;
    }));
    (dir, router, address, tokens, stop, running)
}

#[tokio::test(flavor = "multi_thread")]
async fn ext_authz_reads_check_requests_as_envoy_builds_them() {
    let config = patrol_server::ExtAuthzConfig {
        tenant: vec![
            "context:tenant".parse().unwrap(),
            "header:x-patrol-tenant".parse().unwrap(),
        ],
        org: vec!["context:org".parse().unwrap(), "path:0".parse().unwrap()],
    };
    let (_dir, router, address, tokens, stop, running) = serve_ext_authz(config).await;
    let (token, token_id) = issue(&router, "bob@contoso.com", false).await;
    let client = AuthorizationClient::connect(format!("http://{address}"))
        .await
        .unwrap();
    let base = Case {
        name: "",
        tenant: "contoso",
        org: Some("contoso-main"),
        authorization: Some(format!("Bearer {token}")),
        status: 200,
        reason: None,
    };
    let check = |request: CheckRequest| {
        let mut client = client.clone();
        async move { ext_authz_answer(client.check(request).await.unwrap().into_inner()) }
    };
    let user = |answer: &Answer| answer.identity.first().map(|(_, user)| user.clone());

    // `encode_raw_headers: true`: no `headers` map, raw values in `header_map`.
    let mut raw = envoy_check(&base);
    let http = http_of(&mut raw);
    let headers = std::mem::take(&mut http.headers);
    http.header_map = Some(EnvoyHeaderMap {
        headers: headers
            .into_iter()
            .map(|(key, value)| EnvoyHeaderValue {
                key,
                value: String::new(),
                raw_value: value.into_bytes(),
            })
            .collect(),
    });
    let answer = check(raw).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(user(&answer).as_deref(), Some("bob@contoso.com"));

    // No context extensions (Istio, Envoy Gateway): the tenant from a header, the organization
    // from the first segment of the path, the query string ignored.
    let mut bare = envoy_check(&base);
    bare.attributes.as_mut().unwrap().context_extensions.clear();
    let http = http_of(&mut bare);
    http.path = "/contoso-main/repo?ref=main".into();
    http.headers.insert(":path".into(), http.path.clone());
    http.headers
        .insert("x-patrol-tenant".into(), "contoso".into());
    // No proxy in front of Envoy: the client is the peer.
    http.headers.remove("x-forwarded-for");
    let answer = check(bare.clone()).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    tokens.flush_uses().unwrap();
    let used = tokens.get("contoso", &token_id).unwrap().unwrap();
    assert_eq!(
        used.last_address.as_deref(),
        Some("10.0.0.7"),
        "the peer's address"
    );
    assert_eq!(used.last_user_agent.as_deref(), Some("git/2.43.0"));

    // The organization from the path is checked like any other.
    let http = http_of(&mut bare);
    http.path = "/fabrikam/repo".into();
    let answer = check(bare.clone()).await;
    assert_eq!(answer.reason.as_deref(), Some("token_not_valid_for_org"));
    let http = http_of(&mut bare);
    http.path = "/".into();
    http.headers.remove("x-patrol-tenant");
    let answer = check(bare).await;
    assert_eq!(
        (answer.status, answer.reason.as_deref()),
        (400, Some("missing_tenant"))
    );

    // A request Envoy sent without attributes at all is refused, not admitted.
    let answer = check(CheckRequest::default()).await;
    assert_eq!(answer.status, 400, "{answer:?}");

    // gRPC health checking, as Envoy's `grpc_health_check` asks.
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    let channel = tonic::transport::Channel::from_shared(format!("http://{address}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = HealthClient::new(channel);
    for service in ["", "envoy.service.auth.v3.Authorization"] {
        let status = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::Serving as i32, "{service:?}");
    }
    let unknown = health
        .check(HealthCheckRequest {
            service: "grpc.other.Service".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("the service stops")
        .unwrap()
        .unwrap();
}
