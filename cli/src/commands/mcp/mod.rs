//! `patrol mcp`: a Model Context Protocol server over stdio, so that an administrator's AI
//! assistant can read a tenant's policies, run the compliance reports and the dry run, and,
//! only when started with `--allow-changes`, change policies and revoke tokens.
//!
//! Every tool works on one data directory, as the other token commands do (a `patrol serve` may
//! run on it at the same time). Changes go through the same paths as the CLI: a configuration
//! is checked exactly as `patrol check` checks one and recorded in the audit log; a revocation
//! is audited and its owner notified.

use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use patrol::TenantConfig;
use patrol::timestamp::{now, parse_rfc3339};
use patrol_server::ConfigFormat;
use patrol_store::reports::query::{ReportError, ReportKind, ReportQuery};
use patrol_store::reports::whatif::whatif;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, Implementation, ServerCapabilities, ServerConfig};
use rmcp::{ErrorData, ServerHandler, ServiceExt, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use patrol_store::tokens::{CredentialRecord, Role};

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
struct TenantArg {
    /// The tenant's id, for example `contoso` (see `list_tenants`).
    tenant: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct NoncompliantArgs {
    /// The tenant's id.
    tenant: String,
    /// The longest lifetime allowed, in days (1 to 3650). Default: the tenant's own
    /// `max_pat_lifespan.max_days`.
    max_days: Option<i64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct ViolationsArgs {
    /// The tenant's id.
    tenant: String,
    /// From this time, RFC 3339 such as `2026-11-01T00:00:00Z`. Default: 30 days before
    /// `until`.
    since: Option<String>,
    /// Before this time, RFC 3339. Default: now.
    until: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct ExpiringArgs {
    /// The tenant's id.
    tenant: String,
    /// The window, in days from now (1 to 3650). Default 30.
    days: Option<i64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct ConfigArgs {
    /// The tenant's id; must match the configuration's `tenant` key.
    tenant: String,
    /// The whole tenant configuration, as TOML (the format `get_tenant_policies` returns).
    config_toml: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct RevokeArgs {
    /// The tenant's id.
    tenant: String,
    /// The token's id, a UUID (as the reports list them). Never a token's secret.
    token_id: String,
    /// Why, for the audit log and the owner's notification.
    reason: Option<String>,
}

/// A tool's answer: JSON text, or an error the model can act on (`isError: true`).
fn answer(result: anyhow::Result<serde_json::Value>) -> Result<CallToolResult, ErrorData> {
    Ok(match result {
        Ok(value) => CallToolResult::success(vec![ContentBlock::text(
            serde_json::to_string_pretty(&value).unwrap_or_else(|e| e.to_string()),
        )]),
        Err(error) => CallToolResult::error(vec![ContentBlock::text(format!("{error:#}"))]),
    })
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
    ) -> Result<CallToolResult, ErrorData> {
        if let Some(refusal) = self.outside_scope(&tenant) {
            return Ok(refusal);
        }
        let log = Arc::clone(&self.decision_log);
        answer(
            self.with_data(move |data| {
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
                Ok(serde_json::to_value(&report)?)
            })
            .await,
        )
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
        description = "List the tenants patrol governs, with the policies each has on. Start here to learn tenant ids.",
        annotations(read_only_hint = true)
    )]
    async fn list_tenants(&self) -> Result<CallToolResult, ErrorData> {
        let only = self
            .credential
            .as_ref()
            .map(|credential| credential.tenant.clone());
        answer(
            self.with_data(move |data| {
                let mut tenants = Vec::new();
                for name in data.tenant_names()? {
                    if only.as_ref().is_some_and(|only| *only != name) {
                        continue;
                    }
                    let entry = match data.tenant(&name) {
                        Ok(tenant) => json!({
                            "tenant": name,
                            "policies": tenant.policies().map(|p| match p.org {
                                Some(org) => format!("{} (org {org})", p.name),
                                None => p.name.to_string(),
                            }).collect::<Vec<_>>(),
                        }),
                        Err(error) => json!({ "tenant": name, "invalid": format!("{error:#}") }),
                    };
                    tenants.push(entry);
                }
                Ok(json!({ "tenants": tenants }))
            })
            .await,
        )
    }

    #[tool(
        description = "Read one tenant's policy configuration: the TOML file as written, and each policy that is on with its settings after defaults, mode (enforce or audit), allowlist and the operations it judges. Read this before proposing a change.",
        annotations(read_only_hint = true)
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
                let policies: Vec<serde_json::Value> = loaded
                    .policies()
                    .map(|p| {
                        json!({
                            "policy": p.name,
                            "org": p.org,
                            "description": p.metadata.description,
                            "operations": p.metadata.operations,
                            "settings": serde_json::from_str::<serde_json::Value>(p.effective_settings).unwrap_or_default(),
                            "mode": p.mode,
                            "allowlist": p.allowlist,
                        })
                    })
                    .collect();
                Ok(json!({ "tenant": tenant, "file": path, "config": text, "policies": policies }))
            })
            .await,
        )
    }

    #[tool(
        description = "Report active tokens that break a lifetime or scope rule, grouped by owner: tokens whose lifetime exceeds max_days, or that carry full access (app_token). Use to find tokens that a lifespan or least-privilege policy would catch.",
        annotations(read_only_hint = true)
    )]
    async fn report_noncompliant(
        &self,
        Parameters(args): Parameters<NoncompliantArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let query = ReportQuery {
            max_days: args.max_days,
            ..ReportQuery::default()
        };
        self.report(ReportKind::Noncompliant, args.tenant, query)
            .await
    }

    #[tool(
        description = "Report policy violations over a time range: refused token creations, regenerations and uses, grouped by policy and by user, from the audit log and the decision log.",
        annotations(read_only_hint = true)
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
        self.report(ReportKind::Violations, args.tenant, query)
            .await
    }

    #[tool(
        description = "Report token usage per user: active tokens, global tokens, the broadest scope they hold, and when one was last used. Use to review usage patterns and over-privileged users.",
        annotations(read_only_hint = true)
    )]
    async fn report_usage(
        &self,
        Parameters(TenantArg { tenant }): Parameters<TenantArg>,
    ) -> Result<CallToolResult, ErrorData> {
        self.report(ReportKind::Usage, tenant, ReportQuery::default())
            .await
    }

    #[tool(
        description = "Report tokens that look like automation (pipelines, scripts, bots) rather than a person: judged from the client that last used them (user agent), their name and their owner, each with its reasons. Candidates for service principals or managed identities.",
        annotations(read_only_hint = true)
    )]
    async fn report_automation(
        &self,
        Parameters(TenantArg { tenant }): Parameters<TenantArg>,
    ) -> Result<CallToolResult, ErrorData> {
        self.report(ReportKind::Automation, tenant, ReportQuery::default())
            .await
    }

    #[tool(
        description = "Report active tokens that expire within a number of days, soonest first, with their owners.",
        annotations(read_only_hint = true)
    )]
    async fn report_expiring(
        &self,
        Parameters(args): Parameters<ExpiringArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let query = ReportQuery {
            days: args.days,
            ..ReportQuery::default()
        };
        self.report(ReportKind::Expiring, args.tenant, query).await
    }

    #[tool(
        description = "Dry-run a proposed tenant configuration without changing anything: judges every active token as if it were regenerated now and used now, and lists the tokens that would fail, grouped by policy and owner, each failure marked new when today's configuration allows it. Always run this before set_tenant_policies.",
        annotations(read_only_hint = true)
    )]
    async fn whatif(
        &self,
        Parameters(args): Parameters<ConfigArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        if let Some(refusal) = self.outside_scope(&args.tenant) {
            return Ok(refusal);
        }
        answer(
            self.with_data(move |data| {
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
                Ok(serde_json::to_value(&report)?)
            })
            .await,
        )
    }

    #[tool(
        description = "Replace a tenant's policy configuration (requires the server to run with --allow-changes). The TOML is validated exactly like `patrol check` (every component loaded, every setting checked) before anything is written, and each changed policy is recorded in the audit log as OrganizationPolicy.PolicyValueUpdated. Run whatif with the same configuration first.",
        annotations(read_only_hint = false, destructive_hint = true)
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
                Ok(json!({
                    "tenant": args.tenant,
                    "file": applied.path,
                    "stored_at": applied.stored_at,
                    "policy_changes_recorded": applied.recorded,
                }))
            })
            .await,
        )
    }

    #[tool(
        description = "Revoke one token by its id (requires --allow-changes). The revocation is audited as Token.PatRevokeEvent and the owner is notified. Irreversible.",
        annotations(read_only_hint = false, destructive_hint = true)
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
                Ok(json!({
                    "revoked": token.id,
                    "owner": token.owner,
                    "name": token.display_name,
                    "revoked_at": reports_time(token.revoked_at),
                }))
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
                 tools to find tokens that break rules, and whatif to see what a policy change \
                 would break before making it. {mode}"
            ))
    }
}
