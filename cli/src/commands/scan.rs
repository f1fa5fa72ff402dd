//! `patrol scan [FILES|-]`: find patrol tokens in text, and respond as the tenant's
//! `revoke_leaked_pats` policy says (revoke and notify, or notify only). With `--offline` it
//! only reports what it finds, checking format and checksum without the store: a pre-commit or
//! CI check that fails when a token is about to be published.

use std::io::Read;
use std::path::PathBuf;

use anyhow::Context;
use patrol::timestamp::now;
use patrol_store::tokens::{LeakSource, Secret, find_tokens};
use serde_json::json;

use super::Outcome;
use super::store::{Data, DataArgs};

#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Files to scan; `-` (or none) reads standard input.
    files: Vec<PathBuf>,
    /// Only tokens of this tenant; others are reported unknown.
    #[arg(long, short)]
    tenant: Option<String>,
    /// Where the text was found, for the audit log and the owners' notifications.
    #[arg(long)]
    url: Option<String>,
    /// Do not touch the store: only report the tokens found, and exit 1 if there are any.
    #[arg(long)]
    offline: bool,
}

pub fn run(args: ScanArgs) -> anyhow::Result<Outcome> {
    let mut found: Vec<(String, Secret)> = Vec::new();
    let files = if args.files.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        args.files
    };
    for file in &files {
        let text = read(file)?;
        for secret in find_tokens(&text) {
            if !found.iter().any(|(_, seen)| *seen == secret) {
                found.push((file.display().to_string(), secret));
            }
        }
    }
    if args.offline {
        for (file, secret) in &found {
            super::emit(&format!("{file}: a patrol token ({})", secret.hint()));
        }
        return Ok(if found.is_empty() {
            Outcome::Success
        } else {
            Outcome::Denied
        });
    }
    let mut data = Data::open(&args.data)?;
    let secrets: Vec<Secret> = found.iter().map(|(_, secret)| secret.clone()).collect();
    let mut tenants = std::collections::HashMap::new();
    let mut failures = Vec::new();
    // Load the policies of every tenant whose token was found.
    for secret in &secrets {
        if let Some(token) = data.tokens.store().find(&secret.hash())? {
            if tenants.contains_key(&token.tenant) {
                continue;
            }
            match data.tenant(&token.tenant) {
                Ok(tenant) => {
                    tenants.insert(token.tenant.clone(), tenant);
                }
                Err(error) => failures.push(format!("{error:#}")),
            }
        }
    }
    if let Some(failure) = failures.first() {
        anyhow::bail!("cannot load a tenant's policies, so nothing was done: {failure}");
    }
    let source = LeakSource {
        url: args.url,
        reporter: "patrol scan".to_string(),
    };
    let reports = data.tokens.leaks(
        &secrets,
        args.tenant.as_deref(),
        &|name| tenants.get(name).cloned(),
        &source,
        now(),
    )?;
    let lines: Vec<_> = found
        .iter()
        .zip(&reports)
        .map(|((file, _), report)| {
            json!({ "file": file, "hint": report.hint, "tokenId": report.token_id, "outcome": report.outcome })
        })
        .collect();
    super::emit(&serde_json::to_string_pretty(
        &json!({ "found": lines.len(), "tokens": lines }),
    )?);
    Ok(Outcome::Success)
}

fn read(path: &PathBuf) -> anyhow::Result<String> {
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read standard input")?;
        return Ok(text);
    }
    let bytes = std::fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
