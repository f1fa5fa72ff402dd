//! `patrol mcp`: a Model Context Protocol server over stdio, so that an administrator's AI
//! assistant can read a tenant's policies, run the compliance reports and the dry run, and,
//! only when started with `--allow-changes`, change policies and revoke tokens.
//!
//! Every tool works on one data directory, as the other token commands do (a `patrol serve` may
//! run on it at the same time). Changes go through the same paths as the CLI: a configuration
//! is checked exactly as `patrol check` checks one and recorded in the audit log; a revocation
//! is audited and its owner notified.
//!
//! Every tool answers with `structuredContent` that its `outputSchema` describes (and the same
//! JSON as text, for clients that read only text). Lists come a page at a time (`limit`,
//! `cursor`: see [`paging`]). Arguments are read strictly (see [`arguments`]): a misnamed or
//! mistyped one is refused, naming it.

use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use patrol::TenantConfig;
use patrol::timestamp::{now, parse_rfc3339};
use patrol_server::ConfigFormat;
use patrol_store::reports::query::{ReportError, ReportKind, ReportQuery};
use patrol_store::reports::whatif::whatif;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{CallToolResult, ContentBlock, Implementation, ServerCapabilities, ServerConfig};
use rmcp::{ErrorData, ServerHandler, ServiceExt, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use patrol_store::reports::automation::AutomationReport;
use patrol_store::reports::expiring::ExpiringReport;
use patrol_store::reports::noncompliant::NoncompliantReport;
use patrol_store::reports::usage::UsageReport;
use patrol_store::reports::violations::ViolationsReport;
use patrol_store::reports::whatif::WhatIfReport;
use patrol_store::tokens::{AuditEvent, AuditQuery, CredentialRecord, Role, TokenStatus};

use arguments::Parameters;
use paging::{Page, paged, schema};

mod arguments;
mod paging;

use super::Outcome;
use super::store::{Data, DataArgs, actor, checked_tenant_name};

#[derive(Debug, clap::Args)]
pub struct McpArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Allow the tools that change things (`set_tenant_policies`, `revoke_token`). Without it
    /// they are listed but refuse, saying so.
    #[arg(long)]
    allow_changes: bool,
    /// Who the changes are recorded as in the audit log (default: $USER).
    #[arg(long)]
    actor: Option<String>,
    /// The decision log `patrol serve` writes, for the violations report (default
    /// DATA_DIR/decisions.log).
    #[arg(long, value_name = "FILE")]
    decision_log: Option<std::path::PathBuf>,
    /// Act as a tenant credential (`ptc_...`, from `patrol credentials create`) read from
    /// FILE: only its tenant is visible, changes are recorded as made with it, and an
    /// `auditor` credential is read-only even with `--allow-changes`. A `provisioner`
    /// credential is for SCIM only and is refused.
    #[arg(long, value_name = "FILE")]
    credential_file: Option<std::path::PathBuf>,
}

pub fn run(args: McpArgs) -> anyhow::Result<Outcome> {
    let data = Data::open(&args.data)?;
    let decision_log = args
        .decision_log
        .unwrap_or_else(|| data.dir.root().join("decisions.log"));
    let credential = match &args.credential_file {
        None => None,
        Some(file) => Some(credential(&data, file)?),
    };
    let actor = match &credential {
        Some(credential) => format!("{} (mcp)", credential.actor()),
        None => format!("{} (mcp)", actor(args.actor)),
    };
    let server = Patrol {
        data: Arc::new(Mutex::new(data)),
        decision_log: Arc::new(decision_log),
        allow_changes: args.allow_changes,
        actor,
        credential: credential.map(Arc::new),
        credential_file: args.credential_file.clone().map(Arc::new),
        tool_router: Patrol::tool_router(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        // Standard output is the protocol; everything else goes to standard error.
        let service = match server.serve(rmcp::transport::stdio()).await {
            Ok(service) => service,
            // The client went away before saying anything: nothing to serve.
            Err(rmcp::service::ServerInitializeError::ConnectionClosed(_)) => return Ok(()),
            Err(error) => return Err(anyhow::anyhow!("the MCP session did not start: {error}")),
        };
        service
            .waiting()
            .await
            .map(|_| ())
            .map_err(|error| anyhow::anyhow!("the MCP session failed: {error}"))
    })?;
    Ok(Outcome::Success)
}

/// The live `admin` or `auditor` credential in `file`.
fn credential(data: &Data, file: &std::path::Path) -> anyhow::Result<CredentialRecord> {
    let secret = std::fs::read_to_string(file)
        .with_context(|| format!("`--credential-file`: cannot read `{}`", file.display()))?;
    let credential = data
        .tokens
        .authenticate_credential(secret.trim(), "patrol mcp", now())?
        .with_context(|| {
            format!(
                "`--credential-file`: `{}` does not hold a live credential of this data \
                 directory (revoked, rotated, or mistyped?)",
                file.display()
            )
        })?;
    if credential.role == Role::Provisioner {
        anyhow::bail!(
            "`--credential-file`: `{}` is a provisioner credential, which is for SCIM only; \
             use an admin or auditor credential",
            credential.name
        );
    }
    Ok(credential)
}

#[derive(Clone)]
struct Patrol {
    data: Arc<Mutex<Data>>,
    decision_log: Arc<std::path::PathBuf>,
    allow_changes: bool,
    actor: String,
    /// The tenant credential the session acts as, if any, and the file it came from (checked
    /// again before every tool runs).
    credential: Option<Arc<CredentialRecord>>,
    credential_file: Option<Arc<std::path::PathBuf>>,
    tool_router: ToolRouter<Self>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct TenantArg {
    /// The tenant's id, for example `contoso` (see `list_tenants`).
    tenant: String,
}

/// The arguments every listing takes.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct PageArgs {
    /// At most this many items (1 to 500). Default 50.
    limit: Option<u32>,
    /// The `page.next_cursor` of the previous answer, for the next page. None for the first.
    cursor: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct PagedTenantArgs {
    /// The tenant's id, for example `contoso` (see `list_tenants`).
    tenant: String,
    /// At most this many items (1 to 500). Default 50.
    limit: Option<u32>,
    /// The `page.next_cursor` of the previous answer, for the next page. None for the first.
    cursor: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct NoncompliantArgs {
    /// The tenant's id.
    tenant: String,
    /// The longest lifetime allowed, in days (1 to 3650). Default: the tenant's own
    /// `max_pat_lifespan.max_days`.
    max_days: Option<i64>,
    /// At most this many owners (1 to 500). Default 50.
    limit: Option<u32>,
    /// The `page.next_cursor` of the previous answer.
    cursor: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ViolationsArgs {
    /// The tenant's id.
    tenant: String,
    /// From this time, RFC 3339 such as `2026-11-01T00:00:00Z`. Default: 30 days before
    /// `until`.
    since: Option<String>,
    /// Before this time, RFC 3339. Default: now.
    until: Option<String>,
    /// At most this many refused requests (`denials`, 1 to 500). Default 50.
    limit: Option<u32>,
    /// The `page.next_cursor` of the previous answer.
    cursor: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ExpiringArgs {
    /// The tenant's id.
    tenant: String,
    /// The window, in days from now (1 to 3650). Default 30.
    days: Option<i64>,
    /// At most this many tokens (1 to 500). Default 50.
    limit: Option<u32>,
    /// The `page.next_cursor` of the previous answer.
    cursor: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ConfigArgs {
    /// The tenant's id; must match the configuration's `tenant` key.
    tenant: String,
    /// The whole tenant configuration, as TOML (the format `get_tenant_policies` returns).
    config_toml: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct WhatIfArgs {
    /// The tenant's id; must match the configuration's `tenant` key.
    tenant: String,
    /// The whole tenant configuration, as TOML (the format `get_tenant_policies` returns).
    config_toml: String,
    /// At most this many owners with failing tokens (1 to 500). Default 50.
    limit: Option<u32>,
    /// The `page.next_cursor` of the previous answer.
    cursor: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RevokeArgs {
    /// The tenant's id.
    tenant: String,
    /// The token's id, a UUID (as the reports list them). Never a token's secret.
    token_id: String,
    /// Why, for the audit log and the owner's notification.
    reason: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct TokensArgs {
    /// The tenant's id.
    tenant: String,
    /// Only this owner's tokens (a user id; case-insensitive).
    owner: Option<String>,
    /// `active` (the default), `revoked`, `expired` or `all`.
    status: Option<String>,
    /// Only tokens with a scope containing this text, such as `code_write`.
    scope: Option<String>,
    /// Only tokens valid in this organization (global tokens are valid in every one).
    org: Option<String>,
    /// Only active tokens that expire within this many days (1 to 3650).
    expiring_within_days: Option<i64>,
    /// At most this many tokens (1 to 500). Default 50.
    limit: Option<u32>,
    /// The `page.next_cursor` of the previous answer.
    cursor: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct AuditArgs {
    /// The tenant's id.
    tenant: String,
    /// From this time, RFC 3339.
    since: Option<String>,
    /// Before this time, RFC 3339.
    until: Option<String>,
    /// Only this event, such as `Token.PatRevokeEvent` or
    /// `OrganizationPolicy.PolicyValueUpdated`.
    event: Option<String>,
    /// Only entries about this token (its id).
    token_id: Option<String>,
    /// At most this many entries, newest first (1 to 500). Default 50.
    limit: Option<u32>,
    /// The `page.next_cursor` of the previous answer.
    cursor: Option<String>,
}

/// `list_tenants`' answer.
#[derive(Serialize, JsonSchema)]
struct TenantsAnswer {
    /// The tenants, by id.
    tenants: Vec<TenantEntry>,
}

#[derive(Serialize, JsonSchema)]
struct TenantEntry {
    /// Its id.
    tenant: String,
    /// The policies that are on (`name`, or `name (org x)`); empty when it is invalid.
    policies: Vec<String>,
    /// Why its configuration does not load, if it does not.
    #[serde(skip_serializing_if = "Option::is_none")]
    invalid: Option<String>,
}

/// `get_tenant_policies`' answer.
#[derive(Serialize, JsonSchema)]
struct PoliciesAnswer {
    /// The tenant.
    tenant: String,
    /// Its configuration file.
    file: std::path::PathBuf,
    /// The file's text (TOML, or JSON).
    config: String,
    /// Each policy that is on.
    policies: Vec<PolicyEntry>,
}

#[derive(Serialize, JsonSchema)]
struct PolicyEntry {
    /// Its name.
    policy: String,
    /// Its organization, for an organization policy.
    org: Option<String>,
    /// What it does.
    description: String,
    /// The operations it judges.
    operations: Vec<String>,
    /// Its settings after defaults.
    settings: serde_json::Value,
    /// `enforce` or `audit`.
    mode: String,
    /// Who it exempts.
    allowlist: serde_json::Value,
}

/// `list_tokens`' answer.
#[derive(Serialize, JsonSchema)]
struct TokensAnswer {
    /// The tenant.
    tenant: String,
    /// The tokens, soonest to expire first.
    tokens: Vec<TokenEntry>,
}

#[derive(Serialize, JsonSchema)]
struct TokenEntry {
    /// Its id (never its secret, which patrol does not keep).
    id: String,
    /// Its owner.
    owner: String,
    /// Its name.
    name: String,
    /// Its scopes.
    scopes: Vec<String>,
    /// Its organizations; null for a global token.
    orgs: Option<Vec<String>>,
    /// `active`, `revoked` or `expired`.
    status: String,
    /// RFC 3339.
    valid_from: String,
    /// RFC 3339.
    valid_to: String,
    /// RFC 3339.
    created_at: String,
    /// RFC 3339, if it was ever used.
    last_used_at: Option<String>,
    /// RFC 3339, if revoked.
    revoked_at: Option<String>,
    /// Why it was revoked.
    revocation_reason: Option<String>,
}

/// `audit_log`'s answer.
#[derive(Serialize, JsonSchema)]
struct AuditAnswer {
    /// The tenant.
    tenant: String,
    /// The entries, newest first.
    entries: Vec<AuditItem>,
}

#[derive(Serialize, JsonSchema)]
struct AuditItem {
    /// RFC 3339.
    time: String,
    /// Such as `Token.PatRevokeEvent`.
    event: String,
    /// Who did it.
    actor: String,
    /// The token concerned.
    token_id: Option<String>,
    /// `success` or `denied`.
    outcome: String,
    /// The rest: names, scopes, violations, the policy that changed.
    details: serde_json::Value,
}

/// `set_tenant_policies`' answer.
#[derive(Serialize, JsonSchema)]
struct AppliedAnswer {
    /// The tenant.
    tenant: String,
    /// The file written, when the tenant is a file (not a database's).
    file: Option<std::path::PathBuf>,
    /// Where the configuration is now: its file, or its version in the database.
    stored_at: String,
    /// How many policy changes were recorded in the audit log.
    policy_changes_recorded: usize,
}

/// `revoke_token`'s answer.
#[derive(Serialize, JsonSchema)]
struct RevokedAnswer {
    /// The token's id.
    revoked: String,
    /// Its owner.
    owner: String,
    /// Its name.
    name: String,
    /// When, RFC 3339.
    revoked_at: Option<String>,
}

/// A tool's answer: structured content (its text copy for clients that read text only), or an
/// error the model can act on (`isError: true`).
fn answer(result: anyhow::Result<serde_json::Value>) -> Result<CallToolResult, ErrorData> {
    Ok(match result {
        Ok(value) => CallToolResult::structured(value),
        Err(error) => CallToolResult::error(vec![ContentBlock::text(format!("{error:#}"))]),
    })
}

/// A unit enum's name as the API writes it (`enforce`, `active`, `denied`).
fn wire_name(value: impl Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        _ => String::new(),
    }
}

/// `value` as JSON, its `list` cut to `page`.
fn paged_value(value: impl Serialize, list: &str, page: Page) -> anyhow::Result<serde_json::Value> {
    let mut value = serde_json::to_value(value)?;
    page.apply(list, &mut value)?;
    Ok(value)
}

impl Patrol {
    /// Runs `work` on the data directory, off the async threads.
    async fn with_data<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Data) -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let data = Arc::clone(&self.data);
        let credential_file = self.credential_file.clone();
        tokio::task::spawn_blocking(move || {
            let mut data = data.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            // A credential revoked or rotated while the session runs ends what it may do.
            if let Some(file) = &credential_file {
                credential(&data, file)?;
            }
            work(&mut data)
        })
        .await
        .context("the tool did not finish")?
    }

    /// Refuses a tenant other than the credential's, in the words used for a tenant that does
    /// not exist, so that the session learns nothing of other tenants.
    fn outside_scope(&self, tenant: &str) -> Option<CallToolResult> {
        let credential = self.credential.as_ref()?;
        (credential.tenant != tenant).then(|| {
            CallToolResult::error(vec![ContentBlock::text(format!(
                "argument `tenant`: there is no tenant `{tenant}`; the tenants are: {}",
                credential.tenant
            ))])
        })
    }

    fn refuse_change(&self, tool: &str) -> Option<CallToolResult> {
        if let Some(credential) = &self.credential
            && credential.role == Role::Auditor
        {
            return Some(CallToolResult::error(vec![ContentBlock::text(format!(
                "`{tool}` changes the tenant, and this patrol MCP session acts as the auditor \
                 credential `{}`, which is read-only. Nothing was changed.",
                credential.name
            ))]));
        }
        (!self.allow_changes).then(|| {
            CallToolResult::error(vec![ContentBlock::text(format!(
                "`{tool}` changes the tenant, and this patrol MCP server is read-only: it was \
                 started without `--allow-changes`. Nothing was changed. Ask the administrator \
                 to restart it with `patrol mcp --allow-changes` if the change is intended."
            ))])
        })
    }

    async fn report(
        &self,
        kind: ReportKind,
        tenant: String,
        query: ReportQuery,
        (limit, cursor): (Option<u32>, Option<String>),
    ) -> Result<CallToolResult, ErrorData> {
        if let Some(refusal) = self.outside_scope(&tenant) {
            return Ok(refusal);
        }
        let log = Arc::clone(&self.decision_log);
        let list = list_of(kind);
        answer(
            self.with_data(move |data| {
                let page = Page::of(list, limit, cursor.as_deref())?;
                known_tenant(data, &tenant)?;
                let config = data.tenant(&tenant)?;
                let report = query
                    .run(
                        kind,
                        &data.tokens,
                        &tenant,
                        Some(&config),
                        Some(log.as_path()),
                        now(),
                    )
                    .map_err(|error| match error {
                        ReportError::Invalid { field, problem } => {
                            anyhow::anyhow!("argument `{field}`: {problem}")
                        }
                        other => other.into(),
                    })?;
                paged_value(&report, list, page)
            })
            .await,
        )
    }
}

/// The list a report's answer pages.
fn list_of(kind: ReportKind) -> &'static str {
    match kind {
        ReportKind::Noncompliant => "owners",
        ReportKind::Violations => "denials",
        ReportKind::Usage => "users",
        ReportKind::Automation | ReportKind::Expiring => "tokens",
    }
}

/// Refuses an unknown tenant, listing the known ones.
fn known_tenant(data: &Data, tenant: &str) -> anyhow::Result<()> {
    checked_tenant_name(tenant).map_err(|error| anyhow::anyhow!("argument `tenant`: {error}"))?;
    if data.has_tenant(tenant)? {
        return Ok(());
    }
    let known = data.tenant_names()?;
    anyhow::bail!(
        "argument `tenant`: there is no tenant `{tenant}`; the tenants are: {}",
        known.join(", ")
    )
}

fn time(field: &str, value: Option<&str>) -> anyhow::Result<Option<i64>> {
    value
        .map(|text| {
            parse_rfc3339(text).with_context(|| {
                format!(
                    "argument `{field}`: `{text}` is not an RFC 3339 time such as \
                     2026-11-01T00:00:00Z"
                )
            })
        })
        .transpose()
}

#[tool_router]
impl Patrol {
    #[tool(
        description = "List the tenants patrol governs, with the policies each has on. Start here to learn tenant ids. Paged: `limit` (default 50) and `cursor`.",
        annotations(read_only_hint = true),
        output_schema = paged::<TenantsAnswer>("tenants")
    )]
    async fn list_tenants(
        &self,
        Parameters(args): Parameters<PageArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let only = self
            .credential
            .as_ref()
            .map(|credential| credential.tenant.clone());
        answer(
            self.with_data(move |data| {
                let page = Page::of("tenants", args.limit, args.cursor.as_deref())?;
                let mut tenants = Vec::new();
                for name in data.tenant_names()? {
                    if only.as_ref().is_some_and(|only| *only != name) {
                        continue;
                    }
                    let entry = match data.tenant(&name) {
                        Ok(tenant) => TenantEntry {
                            tenant: name,
                            policies: tenant
                                .policies()
                                .map(|p| match p.org {
                                    Some(org) => format!("{} (org {org})", p.name),
                                    None => p.name.to_string(),
                                })
                                .collect(),
                            invalid: None,
                        },
                        Err(error) => TenantEntry {
                            tenant: name,
                            policies: Vec::new(),
                            invalid: Some(format!("{error:#}")),
                        },
                    };
                    tenants.push(entry);
                }
                paged_value(TenantsAnswer { tenants }, "tenants", page)
            })
            .await,
        )
    }

    #[tool(
        description = "Read one tenant's policy configuration: the TOML file as written, and each policy that is on with its settings after defaults, mode (enforce or audit), allowlist and the operations it judges. Read this before proposing a change.",
        annotations(read_only_hint = true),
        output_schema = schema::<PoliciesAnswer>()
    )]
    async fn get_tenant_policies(
        &self,
        Parameters(TenantArg { tenant }): Parameters<TenantArg>,
    ) -> Result<CallToolResult, ErrorData> {
        if let Some(refusal) = self.outside_scope(&tenant) {
            return Ok(refusal);
        }
        answer(
            self.with_data(move |data| {
                known_tenant(data, &tenant)?;
                let path = data
                    .dir
                    .existing_tenant_file(&tenant)
                    .context("the tenant's file is gone")?;
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read `{}`", path.display()))?;
                let loaded = data.tenant(&tenant)?;
                let policies: Vec<PolicyEntry> = loaded
                    .policies()
                    .map(|p| PolicyEntry {
                        policy: p.name.to_string(),
                        org: p.org.map(str::to_string),
                        description: p.metadata.description.clone(),
                        operations: p.operations.iter().map(|o| o.to_string()).collect(),
                        settings: serde_json::from_str(p.effective_settings).unwrap_or_default(),
                        mode: wire_name(p.mode),
                        allowlist: serde_json::to_value(p.allowlist).unwrap_or_default(),
                    })
                    .collect();
                Ok(serde_json::to_value(PoliciesAnswer {
                    tenant,
                    file: path,
                    config: text,
                    policies,
                })?)
            })
            .await,
        )
    }

    #[tool(
        description = "Report active tokens that break a lifetime or scope rule, grouped by owner: tokens whose lifetime exceeds max_days, or that carry full access (app_token). Use to find tokens that a lifespan or least-privilege policy would catch. Owners are paged: `limit` (default 50) and `cursor`.",
        annotations(read_only_hint = true),
        output_schema = paged::<NoncompliantReport>("owners")
    )]
    async fn report_noncompliant(
        &self,
        Parameters(args): Parameters<NoncompliantArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let query = ReportQuery {
            max_days: args.max_days,
            ..ReportQuery::default()
        };
        self.report(
            ReportKind::Noncompliant,
            args.tenant,
            query,
            (args.limit, args.cursor),
        )
        .await
    }

    #[tool(
        description = "Report policy violations over a time range: refused token creations, regenerations and uses, grouped by policy and by user, from the audit log and the decision log. The refused requests (`denials`) are paged: `limit` (default 50) and `cursor`; the counts cover the whole range.",
        annotations(read_only_hint = true),
        output_schema = paged::<ViolationsReport>("denials")
    )]
    async fn report_violations(
        &self,
        Parameters(args): Parameters<ViolationsArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let query = match (
            time("since", args.since.as_deref()),
            time("until", args.until.as_deref()),
        ) {
            (Ok(since), Ok(until)) => ReportQuery {
                since,
                until,
                ..ReportQuery::default()
            },
            (Err(error), _) | (_, Err(error)) => return answer(Err(error)),
        };
        self.report(
            ReportKind::Violations,
            args.tenant,
            query,
            (args.limit, args.cursor),
        )
        .await
    }

    #[tool(
        description = "Report token usage per user: active tokens, global tokens, the broadest scope they hold, and when one was last used. Use to review usage patterns and over-privileged users. Users are paged: `limit` (default 50) and `cursor`.",
        annotations(read_only_hint = true),
        output_schema = paged::<UsageReport>("users")
    )]
    async fn report_usage(
        &self,
        Parameters(args): Parameters<PagedTenantArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        self.report(
            ReportKind::Usage,
            args.tenant,
            ReportQuery::default(),
            (args.limit, args.cursor),
        )
        .await
    }

    #[tool(
        description = "Report tokens that look like automation (pipelines, scripts, bots) rather than a person: judged from the client that last used them (user agent), their name and their owner, each with its reasons. Candidates for service principals or managed identities. Paged: `limit` (default 50) and `cursor`.",
        annotations(read_only_hint = true),
        output_schema = paged::<AutomationReport>("tokens")
    )]
    async fn report_automation(
        &self,
        Parameters(args): Parameters<PagedTenantArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        self.report(
            ReportKind::Automation,
            args.tenant,
            ReportQuery::default(),
            (args.limit, args.cursor),
        )
        .await
    }

    #[tool(
        description = "Report active tokens that expire within a number of days, soonest first, with their owners. Paged: `limit` (default 50) and `cursor`.",
        annotations(read_only_hint = true),
        output_schema = paged::<ExpiringReport>("tokens")
    )]
    async fn report_expiring(
        &self,
        Parameters(args): Parameters<ExpiringArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let query = ReportQuery {
            days: args.days,
            ..ReportQuery::default()
        };
        self.report(
            ReportKind::Expiring,
            args.tenant,
            query,
            (args.limit, args.cursor),
        )
        .await
    }

    #[tool(
        description = "List a tenant's tokens with filters: owner, status (active by default, revoked, expired, all), a scope containing some text, an organization, expiring within some days. Soonest to expire first; paged: `limit` (default 50) and `cursor`. Never shows a secret.",
        annotations(read_only_hint = true),
        output_schema = paged::<TokensAnswer>("tokens")
    )]
    async fn list_tokens(
        &self,
        Parameters(args): Parameters<TokensArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        if let Some(refusal) = self.outside_scope(&args.tenant) {
            return Ok(refusal);
        }
        answer(
            self.with_data(move |data| {
                let page = Page::of("tokens", args.limit, args.cursor.as_deref())?;
                known_tenant(data, &args.tenant)?;
                let status = match args.status.as_deref() {
                    None | Some("active") => Some(TokenStatus::Active),
                    Some("revoked") => Some(TokenStatus::Revoked),
                    Some("expired") => Some(TokenStatus::Expired),
                    Some("all") => None,
                    Some(other) => anyhow::bail!(
                        "argument `status`: `{other}` is not one of active, revoked, expired, all"
                    ),
                };
                let within = args
                    .expiring_within_days
                    .map(|days| {
                        patrol_store::reports::query::check_days("expiring_within_days", days)
                            .map_err(|error| anyhow::anyhow!("argument {error}"))
                    })
                    .transpose()?;
                let now = now();
                let owner = args.owner.as_deref().map(str::to_lowercase);
                let scope = args.scope.as_deref().map(str::to_lowercase);
                let org = args.org.as_deref().map(str::to_lowercase);
                let mut tokens: Vec<_> =
                    patrol_store::reports::all_tokens(&data.tokens, &args.tenant, now)?
                        .into_iter()
                        .filter(|t| status.is_none_or(|status| t.status(now) == status))
                        .filter(|t| owner.as_ref().is_none_or(|o| t.owner.to_lowercase() == *o))
                        .filter(|t| {
                            scope.as_ref().is_none_or(|s| {
                                t.scopes
                                    .iter()
                                    .any(|scope| scope.to_lowercase().contains(s))
                            })
                        })
                        .filter(|t| {
                            org.as_ref().is_none_or(|o| {
                                t.all_orgs || t.orgs.iter().any(|org| org.to_lowercase() == *o)
                            })
                        })
                        .filter(|t| {
                            within.is_none_or(|days| {
                                t.status(now) == TokenStatus::Active
                                    && t.valid_to <= now + days * 86_400
                            })
                        })
                        .collect();
                tokens.sort_by(|a, b| a.valid_to.cmp(&b.valid_to).then(a.id.cmp(&b.id)));
                let time = patrol::timestamp::format_rfc3339;
                let tokens = tokens
                    .into_iter()
                    .map(|t| TokenEntry {
                        status: wire_name(t.status(now)),
                        orgs: (!t.all_orgs).then(|| t.orgs.clone()),
                        valid_from: time(t.valid_from),
                        valid_to: time(t.valid_to),
                        created_at: time(t.created_at),
                        last_used_at: t.last_used_at.map(time),
                        revoked_at: t.revoked_at.map(time),
                        revocation_reason: t.revocation_reason,
                        id: t.id,
                        owner: t.owner,
                        name: t.display_name,
                        scopes: t.scopes,
                    })
                    .collect();
                paged_value(
                    TokensAnswer {
                        tenant: args.tenant,
                        tokens,
                    },
                    "tokens",
                    page,
                )
            })
            .await,
        )
    }

    #[tool(
        description = "Read a tenant's audit log, newest first: token creations, regenerations and revocations, leaks, policy changes, credential and SCIM events, each with its actor. Filter by time range, event or token; paged: `limit` (default 50) and `cursor`.",
        annotations(read_only_hint = true),
        output_schema = paged::<AuditAnswer>("entries")
    )]
    async fn audit_log(
        &self,
        Parameters(args): Parameters<AuditArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        if let Some(refusal) = self.outside_scope(&args.tenant) {
            return Ok(refusal);
        }
        answer(
            self.with_data(move |data| {
                let page = Page::of("entries", args.limit, args.cursor.as_deref())?;
                known_tenant(data, &args.tenant)?;
                let event = match args.event.as_deref() {
                    None => None,
                    Some(name) => Some(AuditEvent::parse(name).with_context(|| {
                        let known: Vec<&str> = AuditEvent::ALL.iter().map(|e| e.as_str()).collect();
                        format!(
                            "argument `event`: `{name}` is not one of {}",
                            known.join(", ")
                        )
                    })?),
                };
                let query = AuditQuery {
                    since: time("since", args.since.as_deref())?,
                    until: time("until", args.until.as_deref())?,
                    event,
                    limit: usize::MAX,
                };
                let entries = data
                    .tokens
                    .audit_log(&args.tenant, &query)?
                    .into_iter()
                    .filter(|entry| {
                        args.token_id
                            .as_ref()
                            .is_none_or(|id| entry.token_id.as_ref() == Some(id))
                    })
                    .map(|entry| AuditItem {
                        time: patrol::timestamp::format_rfc3339(entry.time),
                        event: entry.event.as_str().to_string(),
                        actor: entry.actor,
                        token_id: entry.token_id,
                        outcome: wire_name(entry.outcome),
                        details: entry.details,
                    })
                    .collect();
                paged_value(
                    AuditAnswer {
                        tenant: args.tenant,
                        entries,
                    },
                    "entries",
                    page,
                )
            })
            .await,
        )
    }

    #[tool(
        description = "Dry-run a proposed tenant configuration without changing anything: judges every active token as if it were regenerated now and used now, and lists the tokens that would fail, grouped by policy and owner, each failure marked new when today's configuration allows it. Always run this before set_tenant_policies. Owners are paged: `limit` (default 50) and `cursor`; the counts cover every token.",
        annotations(read_only_hint = true),
        output_schema = paged::<WhatIfReport>("owners")
    )]
    async fn whatif(
        &self,
        Parameters(args): Parameters<WhatIfArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        if let Some(refusal) = self.outside_scope(&args.tenant) {
            return Ok(refusal);
        }
        answer(
            self.with_data(move |data| {
                let page = Page::of("owners", args.limit, args.cursor.as_deref())?;
                checked_tenant_name(&args.tenant)
                    .map_err(|error| anyhow::anyhow!("argument `tenant`: {error}"))?;
                let origin = format!("the proposed configuration of `{}`", args.tenant);
                let config =
                    TenantConfig::from_toml(&args.config_toml, &origin, &data.dir.tenants())?;
                if config.tenant != args.tenant {
                    anyhow::bail!(
                        "argument `config_toml`: its `tenant` is `{}`, not `{}`",
                        config.tenant,
                        args.tenant
                    );
                }
                let current = match data.has_tenant(&args.tenant)? {
                    true => Some(data.tenant(&args.tenant)?),
                    false => None,
                };
                let proposed = data.load(&config)?;
                let report = whatif(&data.tokens, current.as_deref(), &proposed, &origin, now())?;
                paged_value(&report, "owners", page)
            })
            .await,
        )
    }

    #[tool(
        description = "Replace a tenant's policy configuration (requires the server to run with --allow-changes). The TOML is validated exactly like `patrol check` (every component loaded, every setting checked) before anything is written, and each changed policy is recorded in the audit log as OrganizationPolicy.PolicyValueUpdated. Run whatif with the same configuration first.",
        annotations(read_only_hint = false, destructive_hint = true),
        output_schema = schema::<AppliedAnswer>()
    )]
    async fn set_tenant_policies(
        &self,
        Parameters(args): Parameters<ConfigArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        if let Some(refusal) = self.outside_scope(&args.tenant) {
            return Ok(refusal);
        }
        if let Some(refusal) = self.refuse_change("set_tenant_policies") {
            return Ok(refusal);
        }
        let actor = self.actor.clone();
        answer(
            self.with_data(move |data| {
                checked_tenant_name(&args.tenant)
                    .map_err(|error| anyhow::anyhow!("argument `tenant`: {error}"))?;
                let origin = format!("the new configuration of `{}`", args.tenant);
                let named =
                    TenantConfig::from_toml(&args.config_toml, &origin, &data.dir.tenants())?;
                if named.tenant != args.tenant {
                    anyhow::bail!(
                        "argument `config_toml`: its `tenant` is `{}`, not `{}`",
                        named.tenant,
                        args.tenant
                    );
                }
                let applied = data.apply(&args.config_toml, ConfigFormat::Toml, &origin, &actor)?;
                Ok(serde_json::to_value(AppliedAnswer {
                    tenant: args.tenant,
                    file: applied.path,
                    stored_at: applied.stored_at,
                    policy_changes_recorded: applied.recorded,
                })?)
            })
            .await,
        )
    }

    #[tool(
        description = "Revoke one token by its id (requires --allow-changes). The revocation is audited as Token.PatRevokeEvent and the owner is notified. Irreversible.",
        annotations(read_only_hint = false, destructive_hint = true),
        output_schema = schema::<RevokedAnswer>()
    )]
    async fn revoke_token(
        &self,
        Parameters(args): Parameters<RevokeArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        if let Some(refusal) = self.outside_scope(&args.tenant) {
            return Ok(refusal);
        }
        if let Some(refusal) = self.refuse_change("revoke_token") {
            return Ok(refusal);
        }
        let actor = self.actor.clone();
        answer(
            self.with_data(move |data| {
                known_tenant(data, &args.tenant)?;
                let reason = args
                    .reason
                    .unwrap_or_else(|| "revoked by an administrator's assistant".to_string());
                let token = data
                    .tokens
                    .revoke(&args.tenant, &args.token_id, &actor, &reason, now())
                    .map_err(|error| anyhow::anyhow!("argument `token_id`: {error}"))?;
                Ok(serde_json::to_value(RevokedAnswer {
                    revoked: token.id,
                    owner: token.owner,
                    name: token.display_name,
                    revoked_at: reports_time(token.revoked_at),
                })?)
            })
            .await,
        )
    }
}

fn reports_time(time: Option<i64>) -> Option<String> {
    time.map(patrol::timestamp::format_rfc3339)
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Patrol {
    fn get_info(&self) -> ServerConfig {
        let mode = if self.allow_changes {
            "Changes are allowed: set_tenant_policies and revoke_token work, and are audited."
        } else {
            "This server is read-only: set_tenant_policies and revoke_token refuse."
        };
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("patrol", env!("CARGO_PKG_VERSION")))
            .with_instructions(format!(
                "patrol governs personal access tokens (PATs) with policies, per tenant. Use \
                 list_tenants to find tenants, get_tenant_policies to read one, the report_* \
                 tools to find tokens that break rules, list_tokens and audit_log for the \
                 inventory and its history, and whatif to see what a policy change would break \
                 before making it. Lists come a page at a time: pass `page.next_cursor` as \
                 `cursor` for the next. {mode}"
            ))
    }
}
