//! `patrol tenant push|list|history`: tenant configurations in the data directory or, with
//! `--database`, in the database replicas share.

use std::path::PathBuf;

use anyhow::Context;

use super::Outcome;
use super::store::{Data, DataArgs};
use patrol_server::ConfigFormat;

#[derive(Debug, clap::Subcommand)]
pub enum TenantCommand {
    /// Check a tenant configuration (TOML, or JSON by its `.json` extension) exactly as `patrol
    /// check` does, and store it: in the data directory (component paths relative to its
    /// tenants folder), or with `--database` as a new version that every replica serves within
    /// a second (components named by path, relative to the file, are stored by digest and the
    /// stored configuration names them so). The file's `tenant` names which tenant it is.
    Push {
        /// The configuration file.
        file: PathBuf,
        /// Who makes the change, for the audit log (default: `$USER`).
        #[arg(long)]
        actor: Option<String>,
    },
    /// The tenants that have a configuration.
    List,
    /// Every version of a tenant's configuration (with `--database` only).
    History {
        /// The tenant.
        tenant: String,
    },
}

pub fn run(data: &DataArgs, command: TenantCommand) -> anyhow::Result<Outcome> {
    let mut data = Data::open(data)?;
    match command {
        TenantCommand::Push { file, actor } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read `{}`", file.display()))?;
            let format = ConfigFormat::of_path(&file);
            let origin = file.display().to_string();
            // Replicas share the database, not files: components the file names by path go
            // into the database, and the stored configuration names them by digest.
            let text = match data.database() {
                Some(store) => {
                    let base = file.parent().unwrap_or(std::path::Path::new("."));
                    let (text, stored) =
                        super::copy::with_stored_components(store, &text, format, base)
                            .with_context(|| format!("{origin}: cannot store its components"))?;
                    for digest in stored {
                        super::emit(&format!("stored component {digest}"));
                    }
                    data.fetch_components()?;
                    text
                }
                None => text,
            };
            let applied = data.apply(&text, format, &origin, &super::store::actor(actor))?;
            super::emit(&format!(
                "stored {}: {} policy change{} recorded in the audit log",
                applied.stored_at,
                applied.recorded,
                if applied.recorded == 1 { "" } else { "s" }
            ));
        }
        TenantCommand::List => {
            for name in data.tenant_names()? {
                super::emit(&name);
            }
        }
        TenantCommand::History { tenant } => {
            let store = data.database().context(
                "`patrol tenant history` reads the versions kept in a database: give `--database`",
            )?;
            let versions = store.config_history(&tenant)?;
            if versions.is_empty() {
                anyhow::bail!("no tenant `{tenant}` in the database {}", store.url());
            }
            let rows: Vec<[String; 4]> = versions
                .iter()
                .map(|version| {
                    [
                        version.version.to_string(),
                        patrol::timestamp::format_rfc3339(version.created_at),
                        version.actor.clone(),
                        if version.text.is_empty() {
                            "deleted".to_string()
                        } else {
                            version.digest.clone()
                        },
                    ]
                })
                .collect();
            super::print_columns(
                &[
                    "VERSION".to_string(),
                    "STORED".to_string(),
                    "BY".to_string(),
                    "CONTENT".to_string(),
                ],
                &rows,
            );
        }
    }
    Ok(Outcome::Success)
}
