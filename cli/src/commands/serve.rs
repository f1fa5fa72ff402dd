//! `patrol serve`: run the decision service until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use patrol_server::{DecisionLogTarget, ServeConfig, Server, shutdown_signal};

use super::Outcome;

/// The environment variable that may hold the admin token.
const ADMIN_TOKEN_VARIABLE: &str = "PATROL_ADMIN_TOKEN";

pub struct ServeArgs {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub admin_token_file: Option<PathBuf>,
    pub decision_log: Option<String>,
    pub reload_interval_ms: u64,
    pub log_format: LogFormat,
    pub webhook: Option<String>,
    pub expiry_notice_days: i64,
    pub max_policy_deadline_ms: Option<u64>,
    pub max_policy_memory_mib: Option<u64>,
    pub calls_per_tenant: Option<usize>,
    pub database: Option<String>,
    pub staleness_ms: u64,
    pub replica_id: Option<String>,
    pub grpc_listen: Option<SocketAddr>,
    pub ext_authz: patrol_server::ExtAuthzConfig,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

pub fn run(args: ServeArgs) -> anyhow::Result<Outcome> {
    init_tracing(args.log_format);
    let admin_token = admin_token(args.admin_token_file.as_deref())?;
    let decision_log = args.decision_log.as_deref().map(|target| match target {
        "-" => DecisionLogTarget::Stdout,
        "off" => DecisionLogTarget::Off,
        path => DecisionLogTarget::File {
            path: PathBuf::from(path),
            max_bytes: 64 << 20,
            keep: 5,
        },
    });
    if admin_token.is_none() {
        tracing::info!("no admin token is configured: the admin API is off");
    }
    if let Some(url) = &args.webhook
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        anyhow::bail!("`--webhook`: `{url}` is not an http:// or https:// URL");
    }
    if args.expiry_notice_days < 0 {
        anyhow::bail!("`--expiry-notice-days`: must be 0 or more");
    }
    let mut engine = super::engine_config()?;
    if let Some(ms) = args.max_policy_deadline_ms {
        super::set_deadline_ceiling(&mut engine, ms, "--max-policy-deadline-ms")?;
    }
    if let Some(mib) = args.max_policy_memory_mib {
        super::set_memory_ceiling(&mut engine, mib, "--max-policy-memory-mib")?;
    }
    if let Some(calls) = args.calls_per_tenant {
        if calls == 0 {
            anyhow::bail!("`--calls-per-tenant`: must be 1 or more");
        }
        engine.calls_per_tenant = calls;
    }
    let database = args
        .database
        .clone()
        .or_else(|| std::env::var(super::store::DATABASE_VARIABLE).ok())
        .filter(|url| !url.trim().is_empty());
    if args.staleness_ms == 0 {
        anyhow::bail!("`--staleness-ms`: must be 1 or more");
    }
    let config = ServeConfig {
        engine,
        database,
        staleness: Duration::from_millis(args.staleness_ms),
        replica_id: args.replica_id.clone(),
        admin_token,
        notifications: patrol_store::tokens::NotifierConfig {
            webhook: args.webhook.clone(),
            expiry_notice_days: args.expiry_notice_days,
            ..patrol_store::tokens::NotifierConfig::default()
        },
        decision_log,
        reload_interval: Duration::from_millis(args.reload_interval_ms.max(100)),
        ext_authz: args.ext_authz.clone(),
        ..ServeConfig::new(args.data_dir.clone())
    };
    let server = Server::open(config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let address = listener
            .local_addr()
            .context("cannot read the listening address")?;
        tracing::info!(%address, data_dir = %args.data_dir.display(), "patrol is serving");
        // On stdout too, for scripts (and tests) that start patrol on port 0.
        super::emit(&format!("listening on http://{address}"));
        let grpc = match args.grpc_listen {
            Some(grpc) => {
                let listener = tokio::net::TcpListener::bind(grpc)
                    .await
                    .with_context(|| format!("`--grpc-listen`: cannot listen on {grpc}"))?;
                let address = listener
                    .local_addr()
                    .context("cannot read the gRPC listening address")?;
                tracing::info!(%address, "serving Envoy ext_authz and gRPC health");
                super::emit(&format!("listening for ext_authz on grpc://{address}"));
                Some(listener)
            }
            None => None,
        };
        server
            .run_with_grpc(listener, grpc, shutdown_signal())
            .await?;
        anyhow::Ok(())
    })?;
    Ok(Outcome::Success)
}

/// The admin token from `file`, else from the environment; surrounding whitespace is ignored.
fn admin_token(file: Option<&Path>) -> anyhow::Result<Option<String>> {
    let token =
        match file {
            Some(path) => Some(std::fs::read_to_string(path).with_context(|| {
                format!("cannot read the admin token from `{}`", path.display())
            })?),
            None => std::env::var(ADMIN_TOKEN_VARIABLE).ok(),
        };
    let token = token.map(|token| token.trim().to_string());
    match token {
        Some(token) if token.len() < 16 => anyhow::bail!(
            "the admin token is {} characters long; use at least 16 (for example `openssl rand -hex 32`)",
            token.len()
        ),
        other => Ok(other),
    }
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
