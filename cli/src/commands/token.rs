//! `patrol token create|list|show|regenerate|revoke`: the token lifecycle on a data directory,
//! judged by the tenant's policies exactly as through the HTTP API.

use patrol::timestamp::{format_rfc3339, now};
use patrol_store::tokens::{
    Issued, LifecycleError, NewToken, PatTokenView, TokenFilter, TokenQuery, TokenRecord,
};
use serde_json::json;

use super::Outcome;
use super::store::{Data, DataArgs, actor, valid_to};

#[derive(Debug, clap::Subcommand)]
pub enum TokenCommand {
    /// Create a token, if the tenant's policies allow it, and print it as JSON. The secret is
    /// shown this once. Exits 1 when the policies refuse it (with the decision on stdout).
    Create {
        /// The tenant.
        #[arg(long, short)]
        tenant: String,
        /// The user the token is for.
        #[arg(long)]
        user: String,
        /// The user's groups (repeat); by default, the tenant's group directory's.
        #[arg(long = "group", value_name = "GROUP")]
        groups: Vec<String>,
        /// A name for the token.
        #[arg(long)]
        name: String,
        /// Its scopes (repeat, or space-separated), such as `vso.code_write`.
        #[arg(long = "scope", value_name = "SCOPE", required = true)]
        scopes: Vec<String>,
        /// The organization the request is made in.
        #[arg(long)]
        org: String,
        /// The organizations the token is for (repeat); default, `--org`.
        #[arg(long = "target", value_name = "ORG")]
        targets: Vec<String>,
        /// A global token, for every organization.
        #[arg(long)]
        all_orgs: bool,
        /// When it stops being valid (RFC 3339).
        #[arg(long, value_name = "TIME")]
        valid_to: Option<String>,
        /// Or: how many days it is valid. Default 30.
        #[arg(long)]
        days: Option<i64>,
    },
    /// List a tenant's tokens, oldest first.
    List {
        /// The tenant.
        #[arg(long, short)]
        tenant: String,
        /// Which tokens.
        #[arg(long, value_enum, default_value = "active")]
        filter: Filter,
        /// Only this user's.
        #[arg(long)]
        user: Option<String>,
        /// Print JSON rather than a table.
        #[arg(long)]
        json: bool,
    },
    /// Give a token a new secret and lifetime, if today's policies allow it.
    Regenerate {
        /// The tenant.
        #[arg(long, short)]
        tenant: String,
        /// The token's id.
        id: String,
        /// The organization the request is made in.
        #[arg(long)]
        org: String,
        /// The new end of validity (RFC 3339); default, as long as it had.
        #[arg(long, value_name = "TIME")]
        valid_to: Option<String>,
        /// Or: how many days from now.
        #[arg(long)]
        days: Option<i64>,
    },
    /// Revoke a token.
    Revoke {
        /// The tenant.
        #[arg(long, short)]
        tenant: String,
        /// The token's id.
        id: String,
        /// Why, for the audit log and the owner's notification.
        #[arg(long, default_value = "revoked by an administrator")]
        reason: String,
        /// Who is revoking it, for the audit log; default $USER.
        #[arg(long)]
        actor: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Filter {
    Active,
    Revoked,
    Expired,
    All,
}

/// Days a token is valid for when neither `--valid-to` nor `--days` is given.
const DEFAULT_DAYS: i64 = 30;

pub fn run(data: &DataArgs, command: TokenCommand) -> anyhow::Result<Outcome> {
    match command {
        TokenCommand::Create {
            tenant,
            user,
            groups,
            name,
            scopes,
            org,
            targets,
            all_orgs,
            valid_to: until,
            days,
        } => {
            let valid_to =
                valid_to(until.as_deref(), days)?.unwrap_or_else(|| now() + DEFAULT_DAYS * 86_400);
            let mut data = Data::open(data)?;
            let tenant = data.tenant(&tenant)?;
            let new = NewToken {
                owner: user,
                groups: (!groups.is_empty()).then_some(groups),
                display_name: name,
                scopes: scopes
                    .iter()
                    .flat_map(|s| s.split_whitespace())
                    .map(str::to_string)
                    .collect(),
                all_orgs,
                orgs: if targets.is_empty() {
                    vec![org.clone()]
                } else {
                    targets
                },
                valid_to,
                org,
            };
            issued(data.tokens.create(&tenant, new, now()))
        }
        TokenCommand::List {
            tenant,
            filter,
            user,
            json,
        } => {
            let data = Data::open(data)?;
            data.check_tenant(&tenant)?;
            let filter = match filter {
                Filter::Active => TokenFilter::Active,
                Filter::Revoked => TokenFilter::Revoked,
                Filter::Expired => TokenFilter::Expired,
                Filter::All => TokenFilter::All,
            };
            let now = now();
            let mut tokens = Vec::new();
            let mut continuation: Option<String> = None;
            loop {
                let query = TokenQuery {
                    filter,
                    owner: user.clone(),
                    continuation: continuation.take(),
                    ..TokenQuery::default()
                };
                let page = data.tokens.list(&tenant, &query, now)?;
                tokens.extend(page.items);
                match page.continuation {
                    Some(next) => continuation = Some(next),
                    None => break,
                }
            }
            if json {
                let views: Vec<PatTokenView<'_>> = tokens
                    .iter()
                    .map(|token| PatTokenView::of(token, None, now))
                    .collect();
                super::emit(&serde_json::to_string_pretty(
                    &json!({ "patTokens": views }),
                )?);
            } else {
                print_table(&tokens, now);
            }
            Ok(Outcome::Success)
        }
        TokenCommand::Regenerate {
            tenant,
            id,
            org,
            valid_to: until,
            days,
        } => {
            let valid_to = valid_to(until.as_deref(), days)?;
            let mut data = Data::open(data)?;
            let tenant = data.tenant(&tenant)?;
            issued(data.tokens.regenerate(&tenant, &id, valid_to, &org, now()))
        }
        TokenCommand::Revoke {
            tenant,
            id,
            reason,
            actor: who,
        } => {
            let data = Data::open(data)?;
            data.check_tenant(&tenant)?;
            let token = data
                .tokens
                .revoke(&tenant, &id, &actor(who), &reason, now())
                .map_err(lifecycle_error)?;
            let view = PatTokenView::of(&token, None, now());
            super::emit(&serde_json::to_string_pretty(&json!({ "patToken": view }))?);
            Ok(Outcome::Success)
        }
    }
}

fn issued(outcome: Result<Issued, LifecycleError>) -> anyhow::Result<Outcome> {
    match outcome {
        Ok(issued) => {
            let view = PatTokenView::of(&issued.token, Some(issued.secret.expose()), now());
            super::emit(&serde_json::to_string_pretty(&json!({
                "patToken": view,
                "patTokenError": "none",
                "decision": issued.decision,
            }))?);
            eprintln!("the token is shown this once: store it now");
            Ok(Outcome::Success)
        }
        Err(LifecycleError::Denied(decision)) => {
            let first = decision.enforced_violations().next();
            super::emit(&serde_json::to_string_pretty(&json!({
                "patToken": null,
                "patTokenError": first.map(|v| v.code.as_str()).unwrap_or("denied"),
                "decision": decision,
            }))?);
            for violation in decision.enforced_violations() {
                eprintln!(
                    "denied by `{}`: {}: {}",
                    violation.policy, violation.code, violation.message
                );
            }
            Ok(Outcome::Denied)
        }
        Err(error) => Err(lifecycle_error(error)),
    }
}

fn lifecycle_error(error: LifecycleError) -> anyhow::Error {
    match error {
        LifecycleError::Invalid { field, problem } => {
            anyhow::anyhow!("invalid token request: `{field}`: {problem}")
        }
        other => anyhow::Error::new(other),
    }
    .context("the token was not changed")
}

fn print_table(tokens: &[TokenRecord], now: i64) {
    let rows: Vec<[String; 7]> = tokens
        .iter()
        .map(|token| {
            [
                token.id.clone(),
                token.owner.clone(),
                token.display_name.clone(),
                format!("{:?}", token.status(now)).to_lowercase(),
                format_rfc3339(token.valid_to),
                token
                    .last_used_at
                    .map(format_rfc3339)
                    .unwrap_or_else(|| "never".to_string()),
                if token.all_orgs {
                    format!("{} (all orgs)", token.scopes.join(" "))
                } else {
                    format!("{} ({})", token.scopes.join(" "), token.orgs.join(" "))
                },
            ]
        })
        .collect();
    let header = [
        "ID",
        "USER",
        "NAME",
        "STATUS",
        "VALID TO",
        "LAST USED",
        "SCOPES (ORGS)",
    ]
    .map(str::to_string);
    super::print_columns(&header, &rows);
    if tokens.is_empty() {
        eprintln!("no tokens");
    }
}
