//! `patrol credentials create|list|rotate|revoke`: API credentials scoped to one tenant, with a
//! role (`admin`, `auditor`, `provisioner`), for the tenant's own administrators, auditors and
//! SCIM provisioning client. The secret is printed once; only its hash is stored.

use anyhow::Context as _;
use serde_json::json;

use patrol_store::tokens::{CredentialRecord, LifecycleError, Role, Secret};

use super::Outcome;
use super::store::{Data, DataArgs, actor};

#[derive(Debug, clap::Subcommand)]
pub enum CredentialsCommand {
    /// Create a credential for a tenant; prints its secret, once.
    Create {
        /// The tenant it may act on.
        #[arg(long, short)]
        tenant: String,
        /// What it may do: `admin` (policies, tokens, groups), `auditor` (read-only) or
        /// `provisioner` (SCIM only).
        #[arg(long)]
        role: String,
        /// Its name, unique among the tenant's live credentials; the audit log names whoever
        /// uses it `credential:<name>`.
        name: String,
        /// Who is creating it, for the audit log (default: `$USER`).
        #[arg(long)]
        actor: Option<String>,
        /// Print the credential and its secret as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List credentials (never a secret).
    List {
        /// Only this tenant's.
        #[arg(long, short)]
        tenant: Option<String>,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Give a credential a new secret, printed once; the old one stops working at once.
    Rotate {
        /// The credential's id (`cred_...`).
        id: String,
        /// Who is rotating it, for the audit log (default: `$USER`).
        #[arg(long)]
        actor: Option<String>,
        /// Print the credential and its secret as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a credential for good.
    Revoke {
        /// The credential's id (`cred_...`).
        id: String,
        /// Who is revoking it, for the audit log (default: `$USER`).
        #[arg(long)]
        actor: Option<String>,
    },
}

pub fn run(data: &DataArgs, command: CredentialsCommand) -> anyhow::Result<Outcome> {
    let data = Data::open(data)?;
    let now = patrol::timestamp::now();
    match command {
        CredentialsCommand::Create {
            tenant,
            role,
            name,
            actor: who,
            json,
        } => {
            data.check_tenant(&tenant)?;
            let role = Role::parse(&role).with_context(|| {
                format!("`--role`: `{role}` is not a role: use `admin`, `auditor` or `provisioner`")
            })?;
            let (credential, secret) = data
                .tokens
                .create_credential(&tenant, &name, role, &actor(who), now)
                .map_err(lifecycle)?;
            shown_once(&credential, &secret, json)?;
        }
        CredentialsCommand::List { tenant, json } => {
            if let Some(tenant) = &tenant {
                data.check_tenant(tenant)?;
            }
            let credentials = data.tokens.credentials(tenant.as_deref())?;
            if json {
                super::emit(&serde_json::to_string_pretty(
                    &json!({ "credentials": credentials }),
                )?);
            } else {
                for credential in &credentials {
                    super::emit(&line(credential));
                }
            }
        }
        CredentialsCommand::Rotate {
            id,
            actor: who,
            json,
        } => {
            let (credential, secret) = data
                .tokens
                .rotate_credential(&id, &actor(who), now)
                .map_err(lifecycle)?
                .with_context(|| format!("no live credential `{id}`"))?;
            shown_once(&credential, &secret, json)?;
        }
        CredentialsCommand::Revoke { id, actor: who } => {
            let credential = data
                .tokens
                .revoke_credential(&id, &actor(who), now)?
                .with_context(|| format!("no credential `{id}`"))?;
            super::emit(&line(&credential));
        }
    }
    Ok(Outcome::Success)
}

fn lifecycle(error: LifecycleError) -> anyhow::Error {
    match error {
        LifecycleError::Invalid { field, problem } => anyhow::anyhow!("`{field}`: {problem}"),
        other => other.into(),
    }
}

/// One credential per line: id, tenant, role, name, state.
fn line(credential: &CredentialRecord) -> String {
    let state = match (credential.revoked_at, credential.last_used_at) {
        (Some(at), _) => format!("revoked {}", patrol::timestamp::format_rfc3339(at)),
        (None, Some(at)) => format!("last used {}", patrol::timestamp::format_rfc3339(at)),
        (None, None) => "never used".to_string(),
    };
    format!(
        "{}  {}  {}  {}  {state}",
        credential.id, credential.tenant, credential.role, credential.name
    )
}

fn shown_once(credential: &CredentialRecord, secret: &Secret, json: bool) -> anyhow::Result<()> {
    if json {
        super::emit(&serde_json::to_string_pretty(&json!({
            "credential": credential,
            "secret": secret.expose(),
        }))?);
    } else {
        super::emit(&line(credential));
        super::emit(secret.expose());
    }
    eprintln!("The secret is shown this once: store it now. patrol keeps only its hash.");
    Ok(())
}
