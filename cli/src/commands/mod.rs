//! Command-line arguments and the subcommands behind them.

mod audit;
mod check;
mod copy;
mod credentials;
mod eval;
mod groups;
mod mcp;
mod policy;
mod report;
mod scan;
mod serve;
mod store;
mod tenant;
mod token;
mod whatif;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

/// patrol: a sandboxed policy engine for personal access tokens.
#[derive(Debug, Parser)]
#[command(
    name = "patrol",
    version,
    about = "A sandboxed policy engine for personal access tokens: policies as WebAssembly components",
    long_about = None
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Judge one request against a tenant's policies and print the decision as JSON.
    ///
    /// Exits 0 when the request is allowed, 1 when it is denied, 2 when the request or the
    /// configuration is invalid.
    Eval {
        /// The tenant configuration (TOML, or JSON when the name ends in `.json`).
        #[arg(long, short, value_name = "FILE")]
        config: PathBuf,
        /// The request as JSON; `-` reads it from standard input.
        #[arg(long, short, value_name = "FILE")]
        request: PathBuf,
        /// Also explain the decision, policy by policy: whether it applied, its settings after
        /// defaults, its verdict and time, and for a refusal the rule in the policy's words.
        #[arg(long)]
        explain: bool,
    },
    /// Validate a tenant configuration: parse it, load every component, check every policy's
    /// settings.
    Check {
        /// The tenant configuration.
        #[arg(long, short, value_name = "FILE")]
        config: PathBuf,
    },
    /// Run the HTTP decision service until SIGINT or SIGTERM.
    ///
    /// A new data directory starts with an example tenant, `contoso`. Tenant configurations
    /// live in DATA_DIR/tenants and are reloaded when they change.
    Serve {
        /// The data directory: tenant configurations, uploaded components, the decision log.
        #[arg(long, value_name = "DIR", default_value = "patrol-data")]
        data_dir: PathBuf,
        /// The address to listen on (port 0 picks a free port).
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// A file holding the admin API's bearer token; otherwise $PATROL_ADMIN_TOKEN. With
        /// neither, the admin API is off.
        #[arg(long, value_name = "FILE")]
        admin_token_file: Option<PathBuf>,
        /// Where to log decisions: a file, `-` for stdout, or `off`. Default
        /// DATA_DIR/decisions.log, rotated at 64 MiB.
        #[arg(long, value_name = "TARGET")]
        decision_log: Option<String>,
        /// How often to check DATA_DIR/tenants for changes, in milliseconds.
        #[arg(long, value_name = "MS", default_value_t = 2000)]
        reload_interval_ms: u64,
        /// The format of the service's own logs (on stderr).
        #[arg(long, value_enum, default_value = "text")]
        log_format: serve::LogFormat,
        /// A URL to POST token notifications to, as JSON (created, regenerated, revoked,
        /// found in public, expiring soon). They go to the log either way.
        #[arg(long, value_name = "URL")]
        webhook: Option<String>,
        /// Tell owners this many days before a token expires.
        #[arg(long, value_name = "DAYS", default_value_t = 7)]
        expiry_notice_days: i64,
        /// The longest deadline a tenant may give one of its policies (`limits = {
        /// deadline_ms = ... }`), in milliseconds; a configuration asking for more is refused.
        /// Default: $PATROL_MAX_POLICY_DEADLINE_MS (which every command reads), else 50.
        #[arg(long, value_name = "MS")]
        max_policy_deadline_ms: Option<u64>,
        /// The most memory a tenant may give one of its policies, in MiB. Default:
        /// $PATROL_MAX_POLICY_MEMORY_MIB (which every command reads), else 64.
        #[arg(long, value_name = "MIB")]
        max_policy_memory_mib: Option<u64>,
        /// How many policy calls of one tenant may run at once. Default: one per core but
        /// one, so that no tenant can hold every core.
        #[arg(long, value_name = "N")]
        calls_per_tenant: Option<usize>,
        /// Serve as one of several replicas sharing this PostgreSQL database
        /// (`postgres://user:password@host/db`; default: $PATROL_DATABASE_URL): tokens, audit,
        /// groups, tenant configurations and components live there, and changes made through
        /// any replica reach every other within a second. Without it, SQLite in the data
        /// directory.
        #[arg(long, value_name = "URL")]
        database: Option<String>,
        /// With `--database`: how long this replica trusts the tokens it holds in memory after
        /// it last read the database's change log to its end. Past it, every lookup reads the
        /// database (and fails closed when that is down), and /readyz reports not ready.
        #[arg(long, value_name = "MS", default_value_t = 2000)]
        staleness_ms: u64,
        /// With `--database`: this replica's id in the heartbeat table (default: the host name
        /// and a random suffix).
        #[arg(long, value_name = "ID")]
        replica_id: Option<String>,
        /// Also serve Envoy's external authorization (ext_authz v3, gRPC) and gRPC health
        /// checking on this address (port 0 picks a free port). See docs/gateways.md.
        #[arg(long, value_name = "ADDR")]
        grpc_listen: Option<SocketAddr>,
        /// Where ext_authz finds the tenant: places tried in order, comma-separated:
        /// `context:<key>` (a context extension set in Envoy's route configuration),
        /// `header:<name>`, `path:<segment>`.
        #[arg(
            long,
            value_name = "PLACES",
            value_delimiter = ',',
            default_value = "context:tenant,header:x-patrol-tenant"
        )]
        ext_authz_tenant: Vec<patrol_server::ExtAuthzSource>,
        /// Where ext_authz finds the organization, as for `--ext-authz-tenant`.
        #[arg(
            long,
            value_name = "PLACES",
            value_delimiter = ',',
            default_value = "context:org,header:x-patrol-org"
        )]
        ext_authz_org: Vec<patrol_server::ExtAuthzSource>,
    },
    /// Create a data directory with the example tenant, `contoso`, for the commands below
    /// (`patrol serve` creates one too).
    Init {
        /// The data directory to create.
        #[arg(value_name = "DIR", default_value = "patrol-data")]
        data_dir: PathBuf,
    },
    /// Create, list, regenerate and revoke tokens in a data directory's token store.
    Token {
        #[command(flatten)]
        data: store::DataArgs,
        #[command(subcommand)]
        command: token::TokenCommand,
    },
    /// Find patrol tokens in files (or standard input) and respond as the tenant's
    /// `revoke_leaked_pats` policy says: revoke and notify, or notify only.
    Scan(scan::ScanArgs),
    /// Read a tenant's audit log.
    Audit(audit::AuditArgs),
    /// Set and list a tenant's groups, which allowlists are checked against.
    Groups {
        #[command(flatten)]
        data: store::DataArgs,
        #[command(subcommand)]
        command: groups::GroupsCommand,
    },
    /// Create, list, rotate and revoke API credentials scoped to one tenant, with a role:
    /// `admin`, `auditor` (read-only) or `provisioner` (SCIM).
    Credentials {
        #[command(flatten)]
        data: store::DataArgs,
        #[command(subcommand)]
        command: credentials::CredentialsCommand,
    },
    /// Serve the Model Context Protocol over stdio, for an administrator's AI assistant:
    /// policies, reports, the dry run; changes only with `--allow-changes`.
    Mcp(mcp::McpArgs),
    /// Compliance reports over a tenant's tokens: noncompliant, violations, usage, automation,
    /// expiring; or the inventory as an HTML page (`--html FILE`).
    Report(report::ReportArgs),
    /// Which active tokens a proposed configuration would refuse, as if regenerated and used
    /// now; `--apply` then switches to it.
    Whatif(whatif::WhatIfArgs),
    /// Write your own policy: scaffold a crate, build it into a component, test it with
    /// decision cases.
    Policy {
        #[command(subcommand)]
        command: policy::PolicyCommand,
    },
    /// Tenant configurations: push a new version (checked first), list them, show a tenant's
    /// history (`--database`).
    Tenant {
        #[command(flatten)]
        data: store::DataArgs,
        #[command(subcommand)]
        command: tenant::TenantCommand,
    },
    /// Move a single-node data directory into a PostgreSQL database shared by replicas.
    Store {
        #[command(subcommand)]
        command: copy::StoreCommand,
    },
}

/// `--format` of the reports and the dry run.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum OutputFormat {
    Table,
    Json,
    Csv,
}

impl From<OutputFormat> for patrol_store::reports::Format {
    fn from(format: OutputFormat) -> Self {
        match format {
            OutputFormat::Table => patrol_store::reports::Format::Table,
            OutputFormat::Json => patrol_store::reports::Format::Json,
            OutputFormat::Csv => patrol_store::reports::Format::Csv,
        }
    }
}

/// How a successful run ends.
pub enum Outcome {
    /// Allowed, or checked.
    Success,
    /// Denied.
    Denied,
}

impl Outcome {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Outcome::Success => ExitCode::SUCCESS,
            Outcome::Denied => ExitCode::from(1),
        }
    }
}

/// Prints one line on standard output. When the reader has gone away (`patrol check | head`),
/// there is nobody left to tell anything: exit quietly, as other command-line tools do.
pub fn emit(line: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(error) = writeln!(stdout, "{line}").and_then(|()| stdout.flush()) {
        if error.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("error: cannot write to standard output: {error}");
        }
        std::process::exit(if error.kind() == std::io::ErrorKind::BrokenPipe {
            0
        } else {
            2
        });
    }
}

/// Prints rows under a header, in columns as wide as their widest cell.
fn print_columns<const N: usize>(header: &[String; N], rows: &[[String; N]]) {
    let mut widths = header.each_ref().map(|cell| cell.chars().count());
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for row in std::iter::once(header).chain(rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        emit(cells.join("  ").trim_end());
    }
}

/// The variables that set the operator's ceilings on per-policy limits, for every command, so
/// that `patrol check` judges a configuration as `patrol serve` will.
pub const MAX_DEADLINE_VARIABLE: &str = "PATROL_MAX_POLICY_DEADLINE_MS";
/// See [`MAX_DEADLINE_VARIABLE`].
pub const MAX_MEMORY_VARIABLE: &str = "PATROL_MAX_POLICY_MEMORY_MIB";

/// How every command runs policies: the defaults, with compiled components cached in
/// `$PATROL_CACHE_DIR`, else `patrol` in the user's cache directory (`$XDG_CACHE_HOME` or
/// `~/.cache` on Linux, `~/Library/Caches` on macOS, `%LOCALAPPDATA%` on Windows; an empty
/// `PATROL_CACHE_DIR` turns the cache off), and the ceilings of `$PATROL_MAX_POLICY_DEADLINE_MS`
/// and `$PATROL_MAX_POLICY_MEMORY_MIB` when they are set.
fn engine_config() -> anyhow::Result<patrol::EngineConfig> {
    let cache_dir = match std::env::var_os("PATROL_CACHE_DIR") {
        Some(dir) if dir.is_empty() => None,
        Some(dir) => Some(PathBuf::from(dir)),
        None => dirs::cache_dir().map(|dir| dir.join("patrol")),
    };
    let mut config = patrol::EngineConfig {
        cache_dir,
        ..patrol::EngineConfig::default()
    };
    if let Some(ms) = ceiling_variable(MAX_DEADLINE_VARIABLE)? {
        set_deadline_ceiling(&mut config, ms, MAX_DEADLINE_VARIABLE)?;
    }
    if let Some(mib) = ceiling_variable(MAX_MEMORY_VARIABLE)? {
        set_memory_ceiling(&mut config, mib, MAX_MEMORY_VARIABLE)?;
    }
    Ok(config)
}

/// A ceiling from the environment: unset (or empty) is none; anything but a whole number of 1
/// or more is an error naming the variable.
fn ceiling_variable(name: &str) -> anyhow::Result<Option<u64>> {
    match std::env::var(name) {
        Err(std::env::VarError::NotPresent) => Ok(None),
        Ok(text) if text.trim().is_empty() => Ok(None),
        Ok(text) => match text.trim().parse::<u64>() {
            Ok(value) if value > 0 => Ok(Some(value)),
            _ => anyhow::bail!("`{name}`: `{text}` is not a whole number of 1 or more"),
        },
        Err(std::env::VarError::NotUnicode(_)) => {
            anyhow::bail!("`{name}`: not a whole number of 1 or more")
        }
    }
}

/// Sets the deadline ceiling to `ms`; `source` names the flag or variable for errors.
fn set_deadline_ceiling(
    config: &mut patrol::EngineConfig,
    ms: u64,
    source: &str,
) -> anyhow::Result<()> {
    if ms == 0 {
        anyhow::bail!("`{source}`: must be 1 or more");
    }
    config.ceilings.deadline = std::time::Duration::from_millis(ms);
    Ok(())
}

/// Sets the memory ceiling to `mib` MiB; `source` names the flag or variable for errors.
fn set_memory_ceiling(
    config: &mut patrol::EngineConfig,
    mib: u64,
    source: &str,
) -> anyhow::Result<()> {
    config.ceilings.memory_bytes = usize::try_from(mib)
        .ok()
        .filter(|&mib| mib > 0)
        .and_then(|mib| mib.checked_mul(1 << 20))
        .with_context(|| {
            format!("`{source}`: must be from 1 to a size this machine can address")
        })?;
    Ok(())
}

pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Eval {
            config,
            request,
            explain,
        } => eval::run(&config, &request, explain),
        Command::Check { config } => check::run(&config),
        Command::Serve {
            data_dir,
            listen,
            admin_token_file,
            decision_log,
            reload_interval_ms,
            log_format,
            webhook,
            expiry_notice_days,
            max_policy_deadline_ms,
            max_policy_memory_mib,
            calls_per_tenant,
            database,
            staleness_ms,
            replica_id,
            grpc_listen,
            ext_authz_tenant,
            ext_authz_org,
        } => serve::run(serve::ServeArgs {
            data_dir,
            listen,
            admin_token_file,
            decision_log,
            reload_interval_ms,
            log_format,
            webhook,
            expiry_notice_days,
            max_policy_deadline_ms,
            max_policy_memory_mib,
            calls_per_tenant,
            database,
            staleness_ms,
            replica_id,
            grpc_listen,
            ext_authz: patrol_server::ExtAuthzConfig {
                tenant: ext_authz_tenant,
                org: ext_authz_org,
            },
        }),
        Command::Init { data_dir } => store::init(&data_dir),
        Command::Token { data, command } => token::run(&data, command),
        Command::Scan(args) => scan::run(args),
        Command::Audit(args) => audit::run(args),
        Command::Groups { data, command } => groups::run(&data, command),
        Command::Credentials { data, command } => credentials::run(&data, command),
        Command::Policy { command } => policy::run(command),
        Command::Report(args) => report::run(args),
        Command::Mcp(args) => mcp::run(args),
        Command::Whatif(args) => whatif::run(args),
        Command::Tenant { data, command } => tenant::run(&data, command),
        Command::Store { command } => copy::run(command),
    }
}
