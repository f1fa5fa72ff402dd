//! A Rust gateway that authenticates patrol tokens in process: an axum reverse proxy with
//! `patrol-tower`'s [`PatAuthLayer`] in front of an upstream, no network hop to patrol.
//!
//! ```sh
//! patrol init patrol-data && patrol token create -t contoso --user bob@contoso.com \
//!     --name demo --scope vso.code --org contoso-main --days 7 --data-dir patrol-data
//! cargo run -p patrol-gateway-example -- --data-dir patrol-data
//! curl -H "Authorization: Bearer ptl_..." http://127.0.0.1:8090/contoso-main/repo
//! ```
//!
//! It serves every tenant of a patrol data directory (tenant from the `x-patrol-tenant`
//! header or `--tenant`, organization from the first path segment, as in Azure DevOps URLs),
//! authenticates against its token database, and forwards admitted requests, with the
//! identity headers, to `--upstream` or, without it, to a toy upstream it starts itself on
//! loopback that answers with what it received.
//!
//! Options: `--data-dir DIR` (required), `--listen ADDR` (default `127.0.0.1:8090`; port 0
//! picks one), `--tenant NAME` (default: the `x-patrol-tenant` header), `--upstream
//! http://HOST:PORT`. Prints `listening on http://ADDR` once it serves.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use patrol::{Engine, EngineConfig, Tenant, TenantConfig};
use patrol_gate::Tenants;
use patrol_store::DataDir;
use patrol_store::tokens::{SqliteStore, Tokens};
use patrol_tower::{Identity, Options, OrgFrom, PatAuthLayer, TenantFrom};

struct Args {
    data_dir: PathBuf,
    listen: SocketAddr,
    tenant: Option<String>,
    upstream: Option<String>,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        data_dir: PathBuf::new(),
        listen: SocketAddr::from(([127, 0, 0, 1], 8090)),
        tenant: None,
        upstream: None,
    };
    let mut data_dir = None;
    let mut words = std::env::args().skip(1);
    while let Some(flag) = words.next() {
        let mut value = || {
            words
                .next()
                .with_context(|| format!("`{flag}` needs a value"))
        };
        match flag.as_str() {
            "--data-dir" => data_dir = Some(PathBuf::from(value()?)),
            "--listen" => {
                let text = value()?;
                args.listen = text
                    .parse()
                    .with_context(|| format!("`--listen`: `{text}` is not an address"))?;
            }
            "--tenant" => args.tenant = Some(value()?),
            "--upstream" => {
                let url = value()?;
                if !url.starts_with("http://") {
                    bail!("`--upstream`: `{url}` is not an http:// URL");
                }
                args.upstream = Some(url.trim_end_matches('/').to_string());
            }
            other => bail!(
                "unknown option `{other}`: use --data-dir DIR, --listen ADDR, --tenant NAME, \
                 --upstream URL"
            ),
        }
    }
    args.data_dir = data_dir.context("`--data-dir DIR` is required: a patrol data directory")?;
    Ok(args)
}

/// Every tenant of the data directory, loaded once.
fn load_tenants(data: &DataDir) -> anyhow::Result<Tenants> {
    let engine = Engine::new(EngineConfig::default())?;
    let mut tenants = Tenants::new();
    for (name, _, path) in data.tenant_files()? {
        let config = TenantConfig::from_file(&path)?;
        let tenant = Tenant::load(&engine, &config)
            .with_context(|| format!("tenant `{name}` (`{}`)", path.display()))?;
        tenants = tenants.with(Arc::new(tenant));
    }
    Ok(tenants)
}

#[derive(Clone)]
struct Proxy {
    client: Client<HttpConnector, Body>,
    upstream: String,
}

/// Forwards an admitted request to the upstream, as it is (identity headers included).
async fn forward(State(proxy): State<Proxy>, mut request: Request) -> Response {
    // The layer put the identity in the request's extensions: a gateway may route, rate-limit
    // or log by it without reading headers.
    if let Some(identity) = request.extensions().get::<Identity>() {
        eprintln!(
            "{} {} as {} (token {})",
            request.method(),
            request.uri().path(),
            identity.user,
            identity.token_id
        );
    }
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", |path| path.as_str());
    let uri: Uri = match format!("{}{path}", proxy.upstream).parse() {
        Ok(uri) => uri,
        Err(_) => return StatusCode::BAD_REQUEST.into_response(),
    };
    *request.uri_mut() = uri;
    request.headers_mut().remove("host");
    match proxy.client.request(request).await {
        Ok(response) => response.into_response(),
        Err(error) => (StatusCode::BAD_GATEWAY, format!("upstream: {error}\n")).into_response(),
    }
}

/// The toy upstream: answers with the path and the identity it was given.
async fn toy_upstream(request: Request) -> Response {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_string)
    };
    axum::Json(serde_json::json!({
        "path": request.uri().path(),
        "user": header("x-patrol-user"),
        "tokenId": header("x-patrol-token-id"),
        "scopes": header("x-patrol-scopes"),
        "tenant": header("x-patrol-tenant"),
    }))
    .into_response()
}

async fn run(args: Args) -> anyhow::Result<()> {
    let data = DataDir::open_existing(&args.data_dir)?;
    let tenants = load_tenants(&data)?;
    let store = SqliteStore::open(&data.database())?;
    let tokens = Arc::new(Tokens::new(Arc::new(store)));
    let upstream = match args.upstream {
        Some(url) => url,
        None => {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let address = listener.local_addr()?;
            tokio::spawn(async move {
                axum::serve(listener, Router::new().fallback(toy_upstream)).await
            });
            println!("toy upstream on http://{address}");
            format!("http://{address}")
        }
    };
    let tenant = match args.tenant {
        Some(name) => TenantFrom::Fixed(name),
        None => TenantFrom::Header("x-patrol-tenant".parse()?),
    };
    let layer = PatAuthLayer::new(
        tenants,
        tokens,
        Options::new(tenant, OrgFrom::PathSegment(0)),
    );
    let proxy = Proxy {
        client: Client::builder(TokioExecutor::new()).build_http(),
        upstream,
    };
    let app = Router::new()
        .fallback(forward)
        .with_state(proxy)
        .layer(layer);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

fn main() -> std::process::ExitCode {
    let result = parse_args().and_then(|args| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(run(args))
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::from(2)
        }
    }
}
