//! What the token commands share: the data directory, its token store, and its tenants.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use patrol::{Engine, Tenant, TenantConfig, timestamp};
use patrol_server::{ConfigFormat, DataDir};
use patrol_store::tokens::{PgStore, SqliteStore, Tokens};

/// The environment variable `--database` may come from (a URL with a password is better kept
/// off the command line).
pub const DATABASE_VARIABLE: &str = "PATROL_DATABASE_URL";

/// `--data-dir` and `--database`, shared by every command that works on the token store;
/// accepted anywhere after the command's name.
#[derive(Debug, clap::Args)]
pub struct DataArgs {
    /// The data directory, as `patrol init` or `patrol serve` created it (it may be serving at
    /// the same time).
    #[arg(long, value_name = "DIR", default_value = "patrol-data", global = true)]
    pub data_dir: PathBuf,
    /// A PostgreSQL database shared by replicas of `patrol serve` (`postgres://...`; default:
    /// `$PATROL_DATABASE_URL`). With it, tokens, audit, groups and tenant configurations are
    /// the database's; the data directory, if there is one, only lends its decision log.
    #[arg(long, value_name = "URL", global = true)]
    pub database: Option<String>,
}

impl DataArgs {
    /// `--database`, else the environment's.
    pub fn database(&self) -> Option<String> {
        self.database
            .clone()
            .or_else(|| std::env::var(DATABASE_VARIABLE).ok())
            .filter(|url| !url.trim().is_empty())
    }
}

/// An open data directory, or database.
pub struct Data {
    pub dir: DataDir,
    pub tokens: Tokens,
    /// The shared database, when `--database` names one.
    database: Option<Arc<PgStore>>,
    /// A private folder for the components fetched from the database, when there is no data
    /// directory to keep them in.
    _scratch: Option<tempfile::TempDir>,
    engine: Option<Engine>,
}

impl Data {
    /// Opens an existing data directory; a missing one, or a folder that is not one, is an
    /// error (only `patrol init` and `patrol serve` create data directories). With a
    /// database, opens that instead (and the data directory only if there is one).
    pub fn open(args: &DataArgs) -> anyhow::Result<Data> {
        let Some(url) = args.database() else {
            let dir = DataDir::open_existing(&args.data_dir)?;
            let store = SqliteStore::open(&dir.database())?;
            return Ok(Data {
                dir,
                tokens: Tokens::new(Arc::new(store)),
                database: None,
                _scratch: None,
                engine: None,
            });
        };
        let store = Arc::new(PgStore::connect(&url)?);
        let (dir, scratch) = match DataDir::open_existing(&args.data_dir) {
            Ok(dir) => (dir, None),
            Err(_) => {
                let scratch = tempfile::tempdir().context("cannot create a temporary folder")?;
                let dir = DataDir::open_local(scratch.path())
                    .context("cannot create a temporary folder for components")?;
                (dir, Some(scratch))
            }
        };
        let data = Data {
            dir,
            tokens: Tokens::new(Arc::clone(&store) as Arc<dyn patrol_store::tokens::TokenStore>),
            database: Some(store),
            _scratch: scratch,
            engine: None,
        };
        data.fetch_components()?;
        Ok(data)
    }

    /// The shared database, when `--database` names one.
    pub fn database(&self) -> Option<&Arc<PgStore>> {
        self.database.as_ref()
    }

    /// Writes the database's components this machine lacks into the components folder.
    pub fn fetch_components(&self) -> anyhow::Result<()> {
        if let Some(store) = &self.database {
            store.fetch_components(&self.dir.components())?;
        }
        Ok(())
    }

    /// Loads tenant `name`'s policies from the data directory (or the database).
    pub fn tenant(&mut self, name: &str) -> anyhow::Result<Arc<Tenant>> {
        let config = self.tenant_config(name)?;
        self.load(&config)
    }

    /// Tenant `name`'s configuration, parsed.
    pub fn tenant_config(&self, name: &str) -> anyhow::Result<TenantConfig> {
        checked_tenant_name(name)?;
        if let Some(store) = &self.database {
            let stored = store
                .config(name)?
                .with_context(|| format!("no tenant `{name}` in the database {}", store.url()))?;
            let format = if stored.format == "json" {
                ConfigFormat::Json
            } else {
                ConfigFormat::Toml
            };
            let origin = format!(
                "the configuration of `{name}` (version {} in the database)",
                stored.version
            );
            return Ok(format.parse(&stored.text, &origin, &self.dir.tenants())?);
        }
        Ok(TenantConfig::from_file(&self.tenant_file(name)?)?)
    }

    /// Checks that tenant `name` has a configuration.
    pub fn check_tenant(&self, name: &str) -> anyhow::Result<()> {
        checked_tenant_name(name)?;
        if self.has_tenant(name)? {
            Ok(())
        } else if let Some(store) = &self.database {
            anyhow::bail!("no tenant `{name}` in the database {}", store.url())
        } else {
            self.tenant_file(name).map(|_| ())
        }
    }

    /// Whether tenant `name` has a configuration.
    pub fn has_tenant(&self, name: &str) -> anyhow::Result<bool> {
        match &self.database {
            Some(store) => Ok(store.config(name)?.is_some()),
            None => Ok(self.dir.existing_tenant_file(name).is_some()),
        }
    }

    /// The tenants that have a configuration, by name.
    pub fn tenant_names(&self) -> anyhow::Result<Vec<String>> {
        match &self.database {
            Some(store) => Ok(store.configs()?.into_iter().map(|c| c.tenant).collect()),
            None => Ok(self.dir.tenant_names()?),
        }
    }

    /// The configuration file of tenant `name`; a tenant without one is an error.
    fn tenant_file(&self, name: &str) -> anyhow::Result<PathBuf> {
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
    /// Where it is now: its configuration file, or its version in the database.
    pub stored_at: String,
    /// Its configuration file, when it is one.
    pub path: Option<PathBuf>,
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
        checked_tenant_name(&name)?;
        let current = if self.has_tenant(&name)? {
            Some(self.tenant(&name)?)
        } else {
            None
        };
        let proposed = self.load(&config)?;
        let mut file = None;
        let stored_at =
            if let Some(store) = &self.database {
                // Replicas share the database, not files: a component is named by digest.
                if let Some(policy) = config.policies.iter().find(|policy| {
                    matches!(policy.component, patrol::config::ComponentSource::File(_))
                }) {
                    anyhow::bail!(
                        "{origin}: `{}.component`: replicas sharing a database name components by \
                     digest (`sha256:<hex>`), not by file; upload the component to a replica \
                     with `POST /v1/admin/components` and name it by the digest it answers",
                        policy.location
                    );
                }
                let version =
                    store.put_config(&name, format.extension(), text, actor, timestamp::now())?;
                format!("version {version} in the database {}", store.url())
            } else {
                let path = self
                    .dir
                    .write_tenant_file(&name, text, format)
                    .with_context(|| format!("cannot store the configuration of `{name}`"))?;
                let shown = path.display().to_string();
                file = Some(path);
                shown
            };
        let recorded = self.tokens.policies_changed(
            &name,
            actor,
            current.as_deref(),
            Some(&proposed),
            timestamp::now(),
        )?;
        Ok(Applied {
            stored_at,
            path: file,
            recorded,
        })
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
