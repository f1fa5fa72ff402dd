//! `patrol audit`: read a tenant's audit log, newest first.

use anyhow::Context;
use patrol::timestamp::{format_rfc3339, parse_rfc3339};
use patrol_store::tokens::{AuditEvent, AuditQuery};
use serde_json::json;

use super::Outcome;
use super::store::{Data, DataArgs};

#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    #[command(flatten)]
    data: DataArgs,
    /// The tenant.
    #[arg(long, short)]
    tenant: String,
    /// From this time on (RFC 3339).
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Before this time (RFC 3339).
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    /// Only this event, such as `Token.PatRevokeEvent`.
    #[arg(long)]
    event: Option<String>,
    /// At most this many entries.
    #[arg(long, default_value_t = 100)]
    limit: usize,
    /// Print JSON rather than a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: AuditArgs) -> anyhow::Result<Outcome> {
    let time = |flag: &str, value: &Option<String>| -> anyhow::Result<Option<i64>> {
        value
            .as_deref()
            .map(|text| {
                parse_rfc3339(text)
                    .with_context(|| format!("`--{flag}`: `{text}` is not an RFC 3339 time"))
            })
            .transpose()
    };
    let event = args
        .event
        .as_deref()
        .map(|name| {
            AuditEvent::parse(name).with_context(|| {
                let known: Vec<&str> = AuditEvent::ALL.iter().map(|e| e.as_str()).collect();
                format!("`--event`: `{name}` is not one of {}", known.join(", "))
            })
        })
        .transpose()?;
    let query = AuditQuery {
        since: time("since", &args.since)?,
        until: time("until", &args.until)?,
        event,
        limit: args.limit.max(1),
    };
    let data = Data::open(&args.data)?;
    let entries = data.tokens.audit_log(&args.tenant, &query)?;
    // A deleted tenant's audit log stays readable; a tenant that never was is a mistake.
    if entries.is_empty() {
        data.check_tenant(&args.tenant)?;
    }
    if args.json {
        super::emit(&serde_json::to_string_pretty(
            &json!({ "entries": entries }),
        )?);
        return Ok(Outcome::Success);
    }
    let rows: Vec<[String; 6]> = entries
        .iter()
        .map(|entry| {
            [
                format_rfc3339(entry.time),
                entry.event.to_string(),
                entry.actor.clone(),
                entry.token_id.clone().unwrap_or_default(),
                serde_json::to_value(entry.outcome)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                entry.details.to_string(),
            ]
        })
        .collect();
    let header = ["TIME", "EVENT", "ACTOR", "TOKEN", "OUTCOME", "DETAILS"].map(str::to_string);
    super::print_columns(&header, &rows);
    Ok(Outcome::Success)
}
