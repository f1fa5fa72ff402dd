//! `patrol report`: the compliance reports over a data directory's token store, as a table,
//! JSON or CSV, or the inventory as an HTML page.

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use patrol::timestamp::{now, parse_rfc3339};
use patrol_store::reports::query::{ReportKind, ReportQuery};
use patrol_store::reports::{Report as _, all_tokens, html};

use super::Outcome;
use super::store::{Data, DataArgs};

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    #[command(flatten)]
    data: DataArgs,
    /// The tenant.
    #[arg(long, short, global = true)]
    tenant: Option<String>,
    /// How to print the report.
    #[arg(long, value_enum, default_value = "table", global = true)]
    format: super::OutputFormat,
    /// Write every report, with charts, to this self-contained HTML file instead: the page
    /// the console's Reports shows (refusals of the last 30 days, tokens expiring within 30).
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    #[command(subcommand)]
    kind: Option<ReportCommand>,
}

#[derive(Debug, clap::Subcommand)]
enum ReportCommand {
    /// Active tokens that live longer than a limit or carry full scope, by owner.
    Noncompliant {
        /// The longest lifetime allowed, in days (default: the tenant's
        /// `max_pat_lifespan.max_days`).
        #[arg(long, value_name = "DAYS")]
        max_days: Option<i64>,
    },
    /// Refused creations, regenerations and uses over a time range, by policy and by user.
    Violations {
        /// From this time (RFC 3339; default 30 days before `--until`).
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        /// Before this time (RFC 3339; default now).
        #[arg(long, value_name = "TIME")]
        until: Option<String>,
        /// The decision log `patrol serve` writes (default DATA_DIR/decisions.log).
        #[arg(long, value_name = "FILE")]
        decision_log: Option<PathBuf>,
    },
    /// Per user: active tokens, broadest scope, last use.
    Usage,
    /// Tokens that look like automation (pipelines, scripts, bots), with the reasons.
    Automation,
    /// Active tokens that expire within a number of days, soonest first.
    Expiring {
        /// The window, in days.
        #[arg(long, default_value_t = 30)]
        days: i64,
    },
}

pub fn run(args: ReportArgs) -> anyhow::Result<Outcome> {
    let tenant = args.tenant.context("name the tenant with `--tenant`")?;
    let mut data = Data::open(&args.data)?;
    data.check_tenant(&tenant)?;
    let now = now();
    if let Some(path) = &args.html {
        if args.kind.is_some() {
            bail!("`--html` writes the page of every report; it takes no report name");
        }
        let config = data.tenant(&tenant)?;
        let decision_log = data.dir.root().join("decisions.log");
        let page = html::build(
            &data.tokens,
            &tenant,
            Some(&config),
            Some(&decision_log),
            &ReportQuery::default(),
            now,
        )?;
        patrol::files::write_atomically(path, page.as_bytes())
            .with_context(|| format!("cannot write `{}`", path.display()))?;
        let tokens = all_tokens(&data.tokens, &tenant, now)?;
        super::emit(&format!(
            "wrote {} ({} tokens)",
            path.display(),
            tokens.len()
        ));
        return Ok(Outcome::Success);
    }
    let Some(command) = args.kind else {
        bail!(
            "name a report (noncompliant, violations, usage, automation, expiring) or give \
             `--html FILE`"
        );
    };
    let time = |flag: &str, value: Option<&str>| -> anyhow::Result<Option<i64>> {
        value
            .map(|text| {
                parse_rfc3339(text)
                    .with_context(|| format!("`--{flag}`: `{text}` is not an RFC 3339 time"))
            })
            .transpose()
    };
    let mut query = ReportQuery::default();
    let mut decision_log = data.dir.root().join("decisions.log");
    let kind = match command {
        ReportCommand::Noncompliant { max_days } => {
            query.max_days = max_days;
            ReportKind::Noncompliant
        }
        ReportCommand::Violations {
            since,
            until,
            decision_log: log,
        } => {
            query.since = time("since", since.as_deref())?;
            query.until = time("until", until.as_deref())?;
            if let Some(log) = log {
                decision_log = log;
            }
            ReportKind::Violations
        }
        ReportCommand::Usage => ReportKind::Usage,
        ReportCommand::Automation => ReportKind::Automation,
        ReportCommand::Expiring { days } => {
            query.days = Some(days);
            ReportKind::Expiring
        }
    };
    // The configuration gives defaults.
    let config = Some(data.tenant(&tenant)?);
    let report = query
        .run(
            kind,
            &data.tokens,
            &tenant,
            config.as_deref(),
            Some(&decision_log),
            now,
        )
        .map_err(|error| match error {
            patrol_store::reports::query::ReportError::Invalid { field, problem } => {
                anyhow::anyhow!("`--{}`: {problem}", field.replace('_', "-"))
            }
            other => other.into(),
        })?;
    super::emit(report.render(args.format.into()).trim_end());
    Ok(Outcome::Success)
}
