//! What the token commands share: the data directory, its token store, and its tenants.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use patrol::{Engine, Tenant, TenantConfig, timestamp};
use patrol_server::{ConfigFormat, DataDir};
use patrol_store::tokens::{SqliteStore, Tokens};

/// `--data-dir`, shared by every command that works on the token store; accepted anywhere
/// after the command's name.
#[derive(Debug, clap::Args)]
pub struct DataArgs {
    /// The data directory, as `patrol init` or `patrol serve` created it (it may be serving at
    /// the same time).
    #[arg(long, value_name = "DIR", default_value = "patrol-data", global = true)]
    pub data_dir: PathBuf,
}

/// An open data directory.
pub struct Data {
    pub dir: DataDir,
    pub tokens: Tokens,
    engine: Option<Engine>,
}

impl Data {
    /// Opens an existing data directory; a missing one, or a folder that is not one, is an
    /// error (only `patrol init` and `patrol serve` create data directories).
    pub fn open(args: &DataArgs) -> anyhow::Result<Data> {
        let dir = DataDir::open_existing(&args.data_dir)?;
        let store = SqliteStore::open(&dir.database())?;
        Ok(Data {
            dir,
            tokens: Tokens::new(Arc::new(store)),
            engine: None,
        })
    }

    /// Loads tenant `name`'s policies from the data directory.
    pub fn tenant(&mut self, name: &str) -> anyhow::Result<Arc<Tenant>> {
        let path = self.tenant_file(name)?;
        let config = TenantConfig::from_file(&path)?;
        self.load(&config)
    }

    /// The configuration file of tenant `name`; a tenant without one is an error.
    pub fn tenant_file(&self, name: &str) -> anyhow::Result<PathBuf> {
        checked_tenant_name(name)?;
        self.dir.existing_tenant_file(name).with_context(|| {
            format!(
                "no tenant `{name}`: there is no `{name}.toml` or `{name}.json` in `{}`",
                self.dir.tenants().display()
            )
        })
    }

    /// Loads a tenant configuration with the data directory's components.
    pub fn load(&mut self, config: &TenantConfig) -> anyhow::Result<Arc<Tenant>> {
        if self.engine.is_none() {
            self.engine = Some(Engine::new(patrol::EngineConfig {
                component_store: Some(self.dir.components()),
                ..super::engine_config()?
            })?);
        }
        let engine = self
            .engine
            .as_ref()
            .context("the engine is not available")?;
        Ok(Arc::new(patrol::Tenant::load(engine, config)?))
    }
}

/// `patrol init DIR`: a new data directory, with the example tenant and an empty token store.
/// An existing data directory is left as it is; any other existing folder is refused.
pub fn init(root: &Path) -> anyhow::Result<super::Outcome> {
    if root.exists() {
        if DataDir::open_existing(root).is_ok() {
            super::emit(&format!("{} is already a data directory", root.display()));
            return Ok(super::Outcome::Success);
        }
        let empty = std::fs::read_dir(root)
            .with_context(|| format!("cannot read `{}`", root.display()))?
            .next()
            .is_none();
        if !empty {
            anyhow::bail!(
                "`{}` exists and is not a patrol data directory; name a new or empty folder",
                root.display()
            );
        }
    }
    let dir = DataDir::open(root)
        .with_context(|| format!("cannot create the data directory `{}`", root.display()))?;
    SqliteStore::open(&dir.database())?;
    super::emit(&format!(
        "created the data directory {} with the example tenant `contoso`",
        root.display()
    ));
    Ok(super::Outcome::Success)
}

/// A configuration made a tenant's.
pub struct Applied {
    /// Its configuration file now.
    pub path: PathBuf,
    /// How many policy changes the audit log recorded.
    pub recorded: usize,
}

impl Data {
    /// Makes `text` a tenant's configuration (its `tenant` names which): checked exactly as
    /// `patrol check` checks a file (parsed, every component loaded, every policy's settings
    /// validated), with component paths relative to the tenants folder, then written atomically
    /// and recorded in the audit log as `OrganizationPolicy.PolicyValueUpdated`, one entry per
    /// policy changed. A running `patrol serve` picks the file up on its next scan.
    pub fn apply(
        &mut self,
        text: &str,
        format: ConfigFormat,
        origin: &str,
        actor: &str,
    ) -> anyhow::Result<Applied> {
        let tenants = self.dir.tenants();
        let config = format.parse(text, origin, &tenants)?;
        let name = config.tenant.clone();
        let current = if self.dir.existing_tenant_file(&name).is_some() {
            Some(self.tenant(&name)?)
        } else {
            None
        };
        let proposed = self.load(&config)?;
        let path = self
            .dir
            .write_tenant_file(&name, text, format)
            .with_context(|| format!("cannot store the configuration of `{name}`"))?;
        let recorded = self.tokens.policies_changed(
            &name,
            actor,
            current.as_deref(),
            Some(&proposed),
            timestamp::now(),
        )?;
        Ok(Applied { path, recorded })
    }
}

/// Refuses a tenant name that is not one (it becomes a file name: `../x` must not reach outside
/// the tenants folder).
pub fn checked_tenant_name(name: &str) -> anyhow::Result<()> {
    if patrol::config::valid_tenant_name(name) {
        Ok(())
    } else {
        anyhow::bail!(
            "`{name}` is not a tenant name: 1 to 64 ASCII letters, digits, `.`, `_` or `-`, \
             starting with a letter or digit"
        )
    }
}

/// `--valid-to TIME` or `--days N`, as a time.
pub fn valid_to(valid_to: Option<&str>, days: Option<i64>) -> anyhow::Result<Option<i64>> {
    match (valid_to, days) {
        (Some(_), Some(_)) => anyhow::bail!("give `--valid-to` or `--days`, not both"),
        (Some(text), None) => timestamp::parse_rfc3339(text)
            .map(Some)
            .with_context(|| format!("`--valid-to`: `{text}` is not an RFC 3339 time")),
        (None, Some(days)) if days < 1 => anyhow::bail!("`--days`: must be at least 1"),
        (None, Some(days)) => Ok(Some(timestamp::now() + days * 86_400)),
        (None, None) => Ok(None),
    }
}

/// The person running the command, for the audit log: `--actor`, else `$USER`.
pub fn actor(actor: Option<String>) -> String {
    actor
        .or_else(|| std::env::var("USER").ok())
        .map(|actor| actor.trim().to_lowercase())
        .filter(|actor| !actor.is_empty())
        .unwrap_or_else(|| "cli".to_string())
}
