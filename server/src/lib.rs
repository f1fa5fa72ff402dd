//! `patrol serve`: the decision service gateways call, with tenant administration, hot reload,
//! a decision log, metrics and an OpenAPI document.
//!
//! ```no_run
//! use patrol_server::{ServeConfig, Server};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let server = Server::open(ServeConfig::new("patrol-data".into()))?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! server.run(listener, patrol_server::shutdown_signal()).await?;
//! # Ok(())
//! # }
//! ```
//!
//! The routes are listed once, in [`routes`]; the router is built from that list and a test
//! checks it against the OpenAPI document.

mod admin;
mod api;
mod console;
mod credentials;
mod decision_log;
mod directory;
mod error;
mod evaluation;
mod ext_authz;
mod extract;
mod fleet;
mod gateway;
mod leaks;
mod merge_patch;
mod metrics;
mod ops;
mod reports;
mod scim;
mod state;
mod tokens;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::Method;
use axum::routing::{MethodRouter, any, delete, get, patch, post, put};
use tokio::net::TcpListener;

use patrol::{Engine, EngineConfig, EngineError};
use patrol_store::tokens::{Notifier, NotifierConfig, PgStore, SqliteStore, StoreError, Tokens};

pub use api::DECISION_ID_HEADER;
pub use decision_log::DecisionLogTarget;
pub use ext_authz::{ExtAuthzConfig, Source as ExtAuthzSource};
pub use ops::OPENAPI;
pub use patrol_gate::{
    ORG_HEADER, REASON_HEADER, SCOPES_HEADER, TENANT_HEADER, TOKEN_ID_HEADER, USER_HEADER,
};
pub use patrol_store::{ConfigFormat, DataDir, NotADataDir};

use decision_log::DecisionLog;
use state::{BodyLimits, Shared};

/// How to run the service.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The data directory: tenant configurations, uploaded components, the decision log. Created
    /// if missing; a new one starts with an example tenant, `contoso`. With a `database`, only
    /// the replica's own files: the decision log and components (see [`DataDir::open_local`]).
    pub data_dir: PathBuf,
    /// The bearer token for `/v1/admin`; `None` turns the admin API off.
    pub admin_token: Option<String>,
    /// Where decisions are logged. Default: `<data dir>/decisions.log`, rotated at 64 MiB,
    /// keeping 5 old files.
    pub decision_log: Option<DecisionLogTarget>,
    /// How often the tenant folder is checked for changes. Default 2 s.
    pub reload_interval: Duration,
    /// The largest decision request accepted, in bytes. Default 64 KiB.
    pub max_request_bytes: usize,
    /// The largest tenant configuration accepted through the admin API. Default 1 MiB.
    pub max_config_bytes: usize,
    /// How policies run. Its `component_store` is set to `<data dir>/components`, and its
    /// `cache_dir`, unless set, to `<data dir>/cache`.
    pub engine: EngineConfig,
    /// Where notifications about tokens go, and when tokens count as expiring soon.
    pub notifications: NotifierConfig,
    /// How often the notification outbox is delivered. Default 1 s.
    pub notify_interval: Duration,
    /// How often token uses (last used, by whom) are written to the store. Default 1 s: a use
    /// is recorded at most this late, and a crash loses at most this much of that record.
    pub use_flush_interval: Duration,
    /// A PostgreSQL database (`postgres://...`) to share with other replicas. Without one,
    /// the token store is SQLite in the data directory and tenants are its files.
    pub database: Option<String>,
    /// With a database: how long this replica trusts what it holds in memory after it last
    /// read the change log to its end. Past it, every token lookup reads the database (and
    /// fails closed if that cannot be reached), and `/readyz` reports not ready. Default 2 s.
    pub staleness: Duration,
    /// With a database: this replica's id in the heartbeat table. Default: the host's name and
    /// a random suffix.
    pub replica_id: Option<String>,
    /// Where Envoy's ext_authz requests name the tenant and the organization (served on the
    /// gRPC listener given to [`Server::run_with_grpc`]).
    pub ext_authz: ExtAuthzConfig,
}

impl ServeConfig {
    /// The defaults, with `data_dir`.
    pub fn new(data_dir: PathBuf) -> Self {
        ServeConfig {
            data_dir,
            admin_token: None,
            decision_log: None,
            reload_interval: Duration::from_secs(2),
            max_request_bytes: 64 << 10,
            max_config_bytes: 1 << 20,
            engine: EngineConfig::default(),
            notifications: NotifierConfig::default(),
            notify_interval: Duration::from_secs(1),
            use_flush_interval: Duration::from_secs(1),
            database: None,
            staleness: Duration::from_secs(2),
            replica_id: None,
            ext_authz: ExtAuthzConfig::default(),
        }
    }
}

/// The service could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The data directory cannot be used.
    #[error("cannot use the data directory `{path}`: {source}")]
    DataDir {
        /// The data directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The decision log cannot be opened.
    #[error("cannot open the decision log: {0}")]
    DecisionLog(std::io::Error),
    /// The threads that judge decisions could not be started.
    #[error("cannot start the evaluation threads: {0}")]
    Evaluators(std::io::Error),
    /// The token store cannot be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The engine cannot be created.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// Serving failed.
    #[error("the server failed: {0}")]
    Serve(std::io::Error),
}

/// A running service's state, and what starts and stops it.
pub struct Server {
    state: Arc<Shared>,
    reload_interval: Duration,
    notifications: NotifierConfig,
    notify_interval: Duration,
    use_flush_interval: Duration,
    ext_authz: ExtAuthzConfig,
}

impl Server {
    /// Opens the data directory, starts the decision log, and loads every tenant. Blocking:
    /// loading compiles components.
    pub fn open(config: ServeConfig) -> Result<Server, ServeError> {
        let data_error = |source| ServeError::DataDir {
            path: config.data_dir.clone(),
            source,
        };
        let data = match &config.database {
            None => DataDir::open(&config.data_dir),
            Some(_) => DataDir::open_local(&config.data_dir),
        }
        .map_err(data_error)?;
        let engine = Engine::new(EngineConfig {
            component_store: Some(data.components()),
            cache_dir: config
                .engine
                .cache_dir
                .clone()
                .or_else(|| Some(data.root().join("cache"))),
            ..config.engine.clone()
        })?;
        let target = config
            .decision_log
            .clone()
            .unwrap_or_else(|| DecisionLogTarget::File {
                path: data.root().join("decisions.log"),
                max_bytes: 64 << 20,
                keep: 5,
            });
        let log = DecisionLog::start(&target).map_err(ServeError::DecisionLog)?;
        let limits = BodyLimits {
            request: config.max_request_bytes,
            config: config.max_config_bytes,
            component: engine.config().max_component_bytes,
        };
        let (tokens, fleet) = match &config.database {
            None => {
                let store = SqliteStore::open(&data.database())?;
                (Arc::new(Tokens::new(Arc::new(store))), None)
            }
            Some(url) => {
                let store = Arc::new(PgStore::connect(url)?);
                let replica = config.replica_id.clone().unwrap_or_else(fleet::replica_id);
                let fleet = fleet::Fleet::join(Arc::clone(&store), config.staleness, replica)?;
                let tokens = Tokens::with_cache(store, Arc::clone(&fleet.cache));
                (Arc::new(tokens), Some(fleet))
            }
        };
        let state = Arc::new(
            Shared::new(engine, data, log, config.admin_token, limits, tokens, fleet)
                .map_err(ServeError::Evaluators)?,
        );
        state.reload();
        if let Some(fleet) = &state.fleet {
            fleet.caught_up()?;
            tracing::info!(replica = %fleet.replica, database = %fleet.store.url(), applied = fleet.applied(), "serving as a replica");
        }
        Ok(Server {
            state,
            reload_interval: config.reload_interval,
            notifications: config.notifications,
            notify_interval: config.notify_interval,
            use_flush_interval: config.use_flush_interval,
            ext_authz: config.ext_authz,
        })
    }

    /// The HTTP API, for serving or for calling in process (tests, embedding).
    pub fn router(&self) -> Router {
        let mut router = Router::new();
        for (path, _, handler) in route_table() {
            router = router.route(path, handler);
        }
        router
            .fallback(ops::not_found)
            .method_not_allowed_fallback(ops::method_not_allowed)
            .with_state(Arc::clone(&self.state))
    }

    /// Checks the data directory (or the database) for configuration changes now. Blocking.
    pub fn reload(&self) {
        self.state.reload();
    }

    /// The service's authentication path, for a front end in the same process (such as
    /// `patrol-tower`'s layer): its served tenants (reloaded as they change), its token store,
    /// its metrics and decision log.
    pub fn gate(&self) -> patrol_gate::Gate {
        self.state.gate()
    }

    /// The token lifecycle the service runs on, for calling in process.
    pub fn tokens(&self) -> &Arc<Tokens> {
        &self.state.tokens
    }

    /// Serves on `listener` until `shutdown` completes, then stops taking connections, lets the
    /// requests in flight finish (new requests on open connections get 503), and writes out the
    /// decision log.
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        self.run_with_grpc(listener, None, shutdown).await
    }

    /// [`Server::run`], and Envoy's ext_authz with gRPC health checking on `grpc`, when given.
    pub async fn run_with_grpc(
        self,
        listener: TcpListener,
        grpc: Option<TcpListener>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let reloader = tokio::spawn(reload_periodically(
            Arc::clone(&self.state),
            self.reload_interval,
        ));
        let flusher = tokio::spawn(flush_uses_periodically(
            Arc::clone(&self.state.tokens),
            self.use_flush_interval,
        ));
        let stop_notifier = Arc::new(AtomicBool::new(false));
        let follower = fleet::Fleet::follow(Arc::clone(&self.state), Arc::clone(&stop_notifier))
            .map_err(ServeError::Serve)?;
        let notifier = Notifier::new(
            Arc::clone(self.state.tokens.store()),
            self.notifications.clone(),
        )
        .spawn(self.notify_interval, Arc::clone(&stop_notifier))
        .map_err(ServeError::Serve)?;
        // One shutdown for both listeners.
        let (stopping, stop) = tokio::sync::watch::channel(false);
        let state = Arc::clone(&self.state);
        tokio::spawn(async move {
            shutdown.await;
            tracing::info!("shutting down: finishing the requests in flight");
            state.begin_shutdown();
            let _ = stopping.send(true);
        });
        let stopped = |mut stop: tokio::sync::watch::Receiver<bool>| async move {
            let _ = stop.wait_for(|stopped| *stopped).await;
        };
        let grpc = grpc.map(|listener| {
            let service = ext_authz::ExtAuthz::new(Arc::clone(&self.state), self.ext_authz.clone());
            tokio::spawn(ext_authz::serve(listener, service, stopped(stop.clone())))
        });
        let served = axum::serve(listener, self.router())
            .with_graceful_shutdown(stopped(stop))
            .await;
        let grpc_served = match grpc {
            Some(task) => match task.await {
                Ok(result) => result,
                Err(error) => Err(std::io::Error::other(error)),
            },
            None => Ok(()),
        };
        reloader.abort();
        flusher.abort();
        stop_notifier.store(true, Ordering::Relaxed);
        let state = Arc::clone(&self.state);
        let _ = tokio::task::spawn_blocking(move || {
            if let Err(error) = state.tokens.flush_uses() {
                tracing::error!(error = %patrol::with_causes(&error), "cannot record the last token uses");
            }
            // Decisions answered are logged after their answer: wait for those still logging.
            state.evaluators.wait_finished();
            state.log.close();
            let _ = notifier.join();
            let _ = follower.join();
        })
        .await;
        tracing::info!("stopped");
        served.and(grpc_served).map_err(ServeError::Serve)
    }
}

async fn reload_periodically(state: Arc<Shared>, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        let state = Arc::clone(&state);
        if tokio::task::spawn_blocking(move || state.reload())
            .await
            .is_err()
        {
            tracing::error!("checking the tenant configurations failed");
        }
    }
}

async fn flush_uses_periodically(tokens: Arc<Tokens>, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let tokens = Arc::clone(&tokens);
        match tokio::task::spawn_blocking(move || tokens.flush_uses()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::error!(error = %patrol::with_causes(&error), "cannot record token uses")
            }
            Err(error) => tracing::error!(%error, "recording token uses did not finish"),
        }
    }
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}

/// Every route of the API, as (path, method).
pub fn routes() -> Vec<(&'static str, Method)> {
    route_table()
        .into_iter()
        .map(|(path, method, _)| (path, method))
        .collect()
}

type Route = (&'static str, Method, MethodRouter<Arc<Shared>>);

fn route_table() -> Vec<Route> {
    vec![
        (
            "/v1/tenants/{tenant}/decisions",
            Method::POST,
            post(api::decide),
        ),
        (
            "/v1/tenants/{tenant}/authorize",
            Method::POST,
            post(api::authorize),
        ),
        ("/v1/admin/whoami", Method::GET, get(credentials::whoami)),
        ("/v1/admin/tenants", Method::GET, get(admin::list_tenants)),
        (
            "/v1/admin/tenants/{tenant}",
            Method::GET,
            get(admin::get_tenant),
        ),
        (
            "/v1/admin/tenants/{tenant}",
            Method::PUT,
            put(admin::put_tenant),
        ),
        (
            "/v1/admin/tenants/{tenant}",
            Method::PATCH,
            patch(admin::patch_tenant),
        ),
        (
            "/v1/admin/tenants/{tenant}",
            Method::DELETE,
            delete(admin::delete_tenant),
        ),
        (
            "/v1/admin/components",
            Method::GET,
            get(admin::list_components),
        ),
        (
            "/v1/admin/components",
            Method::POST,
            post(admin::upload_component),
        ),
        (
            "/v1/tenants/{tenant}/tokens",
            Method::POST,
            post(tokens::create),
        ),
        (
            "/v1/tenants/{tenant}/tokens",
            Method::GET,
            get(tokens::list),
        ),
        (
            "/v1/tenants/{tenant}/tokens/{id}",
            Method::GET,
            get(tokens::get_token),
        ),
        (
            "/v1/tenants/{tenant}/tokens/{id}",
            Method::DELETE,
            delete(tokens::revoke),
        ),
        (
            "/v1/tenants/{tenant}/tokens/{id}/regenerate",
            Method::POST,
            post(tokens::regenerate),
        ),
        (
            "/v1/tenants/{tenant}/audit",
            Method::GET,
            get(tokens::audit),
        ),
        (
            "/v1/tenants/{tenant}/reports/{report}",
            Method::GET,
            get(reports::report),
        ),
        (
            "/v1/tenants/{tenant}/whatif",
            Method::POST,
            post(reports::whatif_handler),
        ),
        (
            "/v1/tenants/{tenant}/authenticate",
            Method::POST,
            post(gateway::authenticate),
        ),
        // Gateways call these with the client's method, or GET.
        (
            "/v1/tenants/{tenant}/forward-auth",
            Method::GET,
            any(gateway::authenticate),
        ),
        (
            "/v1/tenants/{tenant}/orgs/{org}/forward-auth",
            Method::GET,
            any(gateway::forward_auth_in_org),
        ),
        ("/v1/leaks", Method::POST, post(leaks::report_any)),
        (
            "/v1/tenants/{tenant}/leaks",
            Method::POST,
            post(leaks::report_in_tenant),
        ),
        (
            "/v1/admin/tenants/{tenant}/groups",
            Method::GET,
            get(directory::list),
        ),
        (
            "/v1/admin/tenants/{tenant}/groups/{group}",
            Method::PUT,
            put(directory::put),
        ),
        (
            "/v1/admin/tenants/{tenant}/groups/{group}",
            Method::DELETE,
            delete(directory::delete),
        ),
        (
            "/v1/admin/tenants/{tenant}/credentials",
            Method::GET,
            get(credentials::list),
        ),
        (
            "/v1/admin/tenants/{tenant}/credentials",
            Method::POST,
            post(credentials::create),
        ),
        (
            "/v1/admin/tenants/{tenant}/credentials/{id}/rotate",
            Method::POST,
            post(credentials::rotate),
        ),
        (
            "/v1/admin/tenants/{tenant}/credentials/{id}",
            Method::DELETE,
            delete(credentials::revoke),
        ),
        (
            "/scim/v2/tenants/{tenant}/ServiceProviderConfig",
            Method::GET,
            get(scim::service_provider_config),
        ),
        (
            "/scim/v2/tenants/{tenant}/ResourceTypes",
            Method::GET,
            get(scim::list_resource_types),
        ),
        (
            "/scim/v2/tenants/{tenant}/ResourceTypes/{id}",
            Method::GET,
            get(scim::get_resource_type),
        ),
        (
            "/scim/v2/tenants/{tenant}/Schemas",
            Method::GET,
            get(scim::list_schemas),
        ),
        (
            "/scim/v2/tenants/{tenant}/Schemas/{id}",
            Method::GET,
            get(scim::get_schema),
        ),
        (
            "/scim/v2/tenants/{tenant}/.search",
            Method::POST,
            post(scim::search),
        ),
        (
            "/scim/v2/tenants/{tenant}/Users",
            Method::GET,
            get(scim::list),
        ),
        (
            "/scim/v2/tenants/{tenant}/Users",
            Method::POST,
            post(scim::create),
        ),
        (
            "/scim/v2/tenants/{tenant}/Users/.search",
            Method::POST,
            post(scim::search),
        ),
        (
            "/scim/v2/tenants/{tenant}/Users/{id}",
            Method::GET,
            get(scim::get),
        ),
        (
            "/scim/v2/tenants/{tenant}/Users/{id}",
            Method::PUT,
            put(scim::replace),
        ),
        (
            "/scim/v2/tenants/{tenant}/Users/{id}",
            Method::PATCH,
            patch(scim::patch),
        ),
        (
            "/scim/v2/tenants/{tenant}/Users/{id}",
            Method::DELETE,
            delete(scim::delete),
        ),
        (
            "/scim/v2/tenants/{tenant}/Groups",
            Method::GET,
            get(scim::list),
        ),
        (
            "/scim/v2/tenants/{tenant}/Groups",
            Method::POST,
            post(scim::create),
        ),
        (
            "/scim/v2/tenants/{tenant}/Groups/.search",
            Method::POST,
            post(scim::search),
        ),
        (
            "/scim/v2/tenants/{tenant}/Groups/{id}",
            Method::GET,
            get(scim::get),
        ),
        (
            "/scim/v2/tenants/{tenant}/Groups/{id}",
            Method::PUT,
            put(scim::replace),
        ),
        (
            "/scim/v2/tenants/{tenant}/Groups/{id}",
            Method::PATCH,
            patch(scim::patch),
        ),
        (
            "/scim/v2/tenants/{tenant}/Groups/{id}",
            Method::DELETE,
            delete(scim::delete),
        ),
        ("/healthz", Method::GET, get(ops::healthz)),
        ("/readyz", Method::GET, get(ops::readyz)),
        ("/metrics", Method::GET, get(ops::metrics)),
        ("/openapi.json", Method::GET, get(ops::openapi)),
        ("/console", Method::GET, get(console::to_console)),
        ("/console/", Method::GET, get(console::index)),
        ("/console/{asset}", Method::GET, get(console::asset)),
    ]
}
