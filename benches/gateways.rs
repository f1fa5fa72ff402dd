//! The gateway front ends side by side in one run: what each adds to authenticating a token.
//!
//! - `gate alone`: `patrol_gate::Gate::authenticate`, the function every front end calls
//!   (checksum, SHA-256, SQLite lookup, the owner's groups, the `use` decision);
//! - `tower layer`: a request through `patrol_tower::PatAuthLayer` in front of a service that
//!   answers at once, in process (the blocking-pool hand-off included), next to `the service
//!   alone`: the difference is what the layer adds to a Rust gateway's request;
//! - `gRPC Check, loopback`: one Envoy ext_authz `Check` from a tonic client to `patrol serve`'s
//!   gRPC listener on loopback, one at a time;
//! - `HTTP forward-auth, loopback`: one forward-auth `GET` from a keep-alive HTTP/1.1 client;
//! - `... 16 concurrent`: 16 requests in flight at once, reported as time per authentication
//!   (1 / authentications per second); client and service share the machine's cores.
//!
//! Run with `cargo bench -p patrol-benches --bench gateways`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use envoy_types::ext_authz::v3::pb::CheckRequest;
use envoy_types::pb::envoy::service::auth::v3::AttributeContext;
use envoy_types::pb::envoy::service::auth::v3::attribute_context::{HttpRequest, Request};
use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use patrol_gate::Attempt;
use patrol_server::{DecisionLogTarget, ServeConfig, Server};
use patrol_tower::{Options, OrgFrom, PatAuthLayer, TenantFrom};
use tower::ServiceExt;

const ADMIN: &str = "bench-admin-token-0123456789";
const CONCURRENCY: usize = 16;

fn gateways(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServeConfig::new(dir.path().join("data"));
    config.admin_token = Some(ADMIN.into());
    config.decision_log = Some(DecisionLogTarget::Off);
    let server = Server::open(config).unwrap();
    let router = server.router();
    let gate = server.gate();
    let token = runtime.block_on(issue(router));
    let (http, grpc) = runtime.block_on(async {
        let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let grpc = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addresses = (http.local_addr().unwrap(), grpc.local_addr().unwrap());
        tokio::spawn(server.run_with_grpc(http, Some(grpc), std::future::pending()));
        addresses
    });
    let bearer = format!("Bearer {token}");

    let mut group = c.benchmark_group("gateways");
    group.bench_function("gate alone", |b| {
        b.iter(|| {
            let attempt = Attempt {
                tenant: "contoso".into(),
                org: Some(("contoso-main".into(), "org".into())),
                token: Some(token.clone()),
                ..Attempt::default()
            };
            let outcome = gate.authenticate(attempt, patrol::timestamp::now());
            assert!(outcome.is_allowed());
            black_box(outcome)
        })
    });

    let upstream = tower::service_fn(|_: http::Request<String>| async {
        Ok::<_, std::convert::Infallible>(http::Response::new(String::from("ok")))
    });
    let layered = tower::ServiceBuilder::new()
        .layer(PatAuthLayer::with_gate(
            gate.clone(),
            Options::new(TenantFrom::Fixed("contoso".into()), OrgFrom::PathSegment(0)),
        ))
        .service(upstream);
    let request = || {
        http::Request::get("/contoso-main/repo")
            .header("authorization", &bearer)
            .body(String::new())
            .unwrap()
    };
    group.bench_function("the service alone (in process)", |b| {
        b.iter(|| runtime.block_on(upstream.oneshot(request())).unwrap())
    });
    group.bench_function("tower layer + the service (in process)", |b| {
        b.iter(|| {
            let response = runtime
                .block_on(layered.clone().oneshot(request()))
                .unwrap();
            assert_eq!(response.status(), 200);
        })
    });

    let check = check_request(&bearer);
    let client = runtime.block_on(async {
        AuthorizationClient::connect(format!("http://{grpc}"))
            .await
            .unwrap()
    });
    group.bench_function("gRPC Check, loopback", |b| {
        b.iter(|| {
            let mut client = client.clone();
            let response = runtime.block_on(client.check(check.clone())).unwrap();
            assert_eq!(response.into_inner().status.unwrap().code, 0);
        })
    });
    let forward_auth: http::Uri =
        format!("http://{http}/v1/tenants/contoso/orgs/contoso-main/forward-auth")
            .parse()
            .unwrap();
    let http_client: Client<_, Empty<bytes::Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let get = |client: Client<_, Empty<bytes::Bytes>>, uri: http::Uri, bearer: String| async move {
        let request = http::Request::get(uri)
            .header("authorization", bearer)
            .body(Empty::new())
            .unwrap();
        let response = client.request(request).await.unwrap();
        assert_eq!(response.status(), 200);
        response.into_body().collect().await.unwrap();
    };
    group.bench_function("HTTP forward-auth, loopback", |b| {
        b.iter(|| {
            runtime.block_on(get(
                http_client.clone(),
                forward_auth.clone(),
                bearer.clone(),
            ))
        })
    });
    group.bench_function(
        format!("gRPC Check, loopback, {CONCURRENCY} concurrent, time per authentication"),
        |b| {
            b.iter_custom(|count| {
                runtime.block_on(concurrently(count, |_| {
                    let mut client = client.clone();
                    let check = check.clone();
                    async move {
                        let response = client.check(check).await.unwrap();
                        assert_eq!(response.into_inner().status.unwrap().code, 0);
                    }
                }))
            })
        },
    );
    group.bench_function(
        format!("HTTP forward-auth, loopback, {CONCURRENCY} concurrent, time per authentication"),
        |b| {
            b.iter_custom(|count| {
                runtime.block_on(concurrently(count, |_| {
                    get(http_client.clone(), forward_auth.clone(), bearer.clone())
                }))
            })
        },
    );
    group.finish();
}

/// Runs `count` requests, at most [`CONCURRENCY`] in flight, and returns the time they took.
async fn concurrently<F, Fut>(count: u64, make: F) -> Duration
where
    F: Fn(u64) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let semaphore = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(count as usize);
    for index in 0..count {
        let permit = Arc::clone(&semaphore).acquire_owned().await.unwrap();
        let request = make(index);
        tasks.push(tokio::spawn(async move {
            request.await;
            drop(permit);
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    started.elapsed()
}

/// A token for bob in `contoso-main`, issued through the admin API.
async fn issue(router: axum::Router) -> String {
    let valid_to = patrol::timestamp::format_rfc3339(patrol::timestamp::now() + 10 * 86_400);
    let body = serde_json::json!({
        "user": "bob@contoso.com", "displayName": "bench", "scope": "vso.code",
        "validTo": valid_to, "org": "contoso-main",
    })
    .to_string();
    let request = http::Request::post("/v1/tenants/contoso/tokens")
        .header("authorization", format!("Bearer {ADMIN}"))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body))
        .unwrap();
    let response = router.oneshot(request).await.unwrap();
    assert_eq!(response.status(), 201);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let created: serde_json::Value = serde_json::from_slice(&body).unwrap();
    created["patToken"]["token"].as_str().unwrap().to_string()
}

/// A `CheckRequest` as Envoy sends it for `GET /contoso-main/repo` through a route whose
/// context extensions name the tenant and organization.
fn check_request(bearer: &str) -> CheckRequest {
    let headers = [
        (":authority", "git.contoso.test"),
        (":method", "GET"),
        (":path", "/contoso-main/repo"),
        ("authorization", bearer),
        ("user-agent", "git/2.43.0"),
        ("x-forwarded-for", "203.0.113.9"),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_string(), value.to_string()))
    .collect();
    CheckRequest {
        attributes: Some(AttributeContext {
            request: Some(Request {
                time: None,
                http: Some(HttpRequest {
                    method: "GET".into(),
                    path: "/contoso-main/repo".into(),
                    host: "git.contoso.test".into(),
                    headers,
                    ..HttpRequest::default()
                }),
            }),
            context_extensions: [
                ("tenant".to_string(), "contoso".to_string()),
                ("org".to_string(), "contoso-main".to_string()),
            ]
            .into(),
            ..AttributeContext::default()
        }),
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(3));
    targets = gateways
}
criterion_main!(benches);
