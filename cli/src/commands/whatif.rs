//! `patrol whatif`: which active tokens a proposed configuration would refuse, regenerated or
//! used now; with `--apply`, then switch to it, recorded in the audit log.

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use patrol::timestamp::now;
use patrol_server::ConfigFormat;
use patrol_store::reports::Report as _;
use patrol_store::reports::whatif::whatif;

use super::Outcome;
use super::store::{Data, DataArgs, actor};

#[derive(Debug, clap::Args)]
pub struct WhatIfArgs {
    #[command(flatten)]
    data: DataArgs,
    /// The proposed tenant configuration (TOML, or JSON when the name ends in `.json`); its
    /// `tenant` names the tenant.
    #[arg(long, short, value_name = "FILE")]
    config: PathBuf,
    /// How to print the result.
    #[arg(long, value_enum, default_value = "table")]
    format: super::OutputFormat,
    /// After the dry run, make the proposed configuration the tenant's, recorded in the audit
    /// log as `OrganizationPolicy.PolicyValueUpdated` (a running `patrol serve` picks it up).
    #[arg(long)]
    apply: bool,
    /// Who is changing the configuration, for the audit log (default: $USER).
    #[arg(long)]
    actor: Option<String>,
}

pub fn run(args: WhatIfArgs) -> anyhow::Result<Outcome> {
    // Read once: what is applied is exactly what was judged.
    let text = std::fs::read_to_string(&args.config)
        .with_context(|| format!("cannot read `{}`", args.config.display()))?;
    let origin = args.config.display().to_string();
    let config_format = ConfigFormat::of_path(&args.config);
    let proposed_config =
        config_format.parse(&text, &origin, patrol::files::folder_of(&args.config))?;
    let name = proposed_config.tenant.clone();
    let mut data = Data::open(&args.data)?;
    let current = if data.has_tenant(&name)? {
        Some(data.tenant(&name)?)
    } else {
        None
    };
    let proposed = data.load(&proposed_config)?;
    let now = now();
    let report = whatif(&data.tokens, current.as_deref(), &proposed, &origin, now)?;
    let format = args.format.into();
    if format == patrol_store::reports::Format::Table {
        super::emit(&format!(
            "{} of {} active tokens of `{name}` would be refused ({} of them newly)",
            report.failing_tokens, report.active_tokens, report.newly_failing_tokens
        ));
        for policy in &report.per_policy {
            super::emit(&format!(
                "  {}: {} token{} ({} newly)",
                policy.policy,
                policy.tokens,
                if policy.tokens == 1 { "" } else { "s" },
                policy.newly_failing
            ));
        }
    }
    super::emit(report.render(format).trim_end());

    if args.apply {
        // The file moves into the data directory: a component path relative to where the
        // proposal lives would point elsewhere there.
        let in_place = config_format.parse(&text, &origin, &data.dir.tenants())?;
        if let Some((moved, _)) = proposed_config
            .policies
            .iter()
            .zip(&in_place.policies)
            .find(|(here, there)| here.component != there.component)
        {
            bail!(
                "not applied: `{}.component` is a path relative to `{}`; make it absolute, or \
                 upload the component to `patrol serve` and name it by digest",
                moved.location,
                patrol::files::folder_of(&args.config).display()
            );
        }
        let applied = data.apply(&text, config_format, &origin, &actor(args.actor))?;
        // On standard error, so that `--format json --apply` still prints one JSON document.
        eprintln!(
            "applied: {} is now `{name}`'s configuration; {} policy change{} recorded in the \
             audit log",
            applied.stored_at,
            applied.recorded,
            if applied.recorded == 1 { "" } else { "s" }
        );
    }
    // As `eval` exits 1 for a denial, the dry run exits 1 when tokens would break, so that a
    // pipeline can gate a change on it; `--apply` was asked for anyway, and succeeded.
    Ok(if report.failing_tokens > 0 && !args.apply {
        Outcome::Denied
    } else {
        Outcome::Success
    })
}
