//! The server's data directory:
//!
//! ```text
//! DATA_DIR/
//!   tenants/<tenant>.toml      tenant configurations (or .json); the source of truth
//!   components/sha256-<hex>.wasm   uploaded policy components, by content digest
//!   decisions.log              the decision log (rotated to decisions.log.1, .2, ...)
//!   cache/                     compiled components, so that a restart does not recompile
//!   patrol.db                  the token store: tokens, audit log, notification outbox,
//!                              group directory (SQLite, with its -wal and -shm files)
//! ```
//!
//! `patrol init` or `patrol serve` creates it (with the example tenant); the `patrol token`,
//! `scan`, `audit`, `groups`, `report` and `whatif` commands open an existing one only, so a
//! mistyped path is an error rather than a new, empty data directory. They share it with a
//! running server: SQLite lets them work on the same data directory at once.
//!
//! Every file patrol writes is written to a temporary file, flushed to disk and renamed over
//! the old one, so a crash leaves either the old file or the new one, never half of one.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use patrol::files::{remove_durably, write_atomically};

/// The configuration a brand-new data directory starts with, so `patrol serve` answers at once.
const EXAMPLE_TENANT: &str = r#"# The example tenant patrol creates in a new data directory: the five seed policies.
# Change it through the admin API (PUT /v1/admin/tenants/contoso) or edit it here: patrol
# reloads it within seconds, and keeps serving the previous version if the change is invalid.
tenant = "contoso"

[policies.restrict_global_pat_creation]
enabled = true
allowlist = { groups = ["pat-admins"] }

[policies.restrict_full_scoped_pat_creation]
enabled = true

[policies.max_pat_lifespan]
enabled = true
max_days = 90

[policies.revoke_leaked_pats]
enabled = true

[orgs.fabrikam]
entra_backed = true

[orgs.fabrikam.policies.restrict_pat_creation]
enabled = true
allow_packaging_scope_only = true
allowlist = { groups = ["release-engineers"] }
"#;

/// A tenant configuration's format, from its file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `.toml`.
    Toml,
    /// `.json`.
    Json,
}

impl Format {
    /// The format of a file named `path`: JSON when it ends in `.json`, TOML otherwise (as
    /// [`patrol::TenantConfig::from_file`] reads it).
    pub fn of_path(path: &Path) -> Format {
        if path
            .extension()
            .is_some_and(|ext| ext.eq_ignore_ascii_case("json"))
        {
            Format::Json
        } else {
            Format::Toml
        }
    }

    /// Parses `text` in this format; relative component paths are relative to `base_dir`.
    pub fn parse(
        self,
        text: &str,
        origin: &str,
        base_dir: &Path,
    ) -> Result<patrol::TenantConfig, patrol::ConfigError> {
        match self {
            Format::Toml => patrol::TenantConfig::from_toml(text, origin, base_dir),
            Format::Json => patrol::TenantConfig::from_json(text, origin, base_dir),
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Toml => "toml",
            Format::Json => "json",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Toml => "application/toml",
            Format::Json => "application/json",
        }
    }
}

/// The data directory's paths. [`DataDir::open`] creates a new one with the example tenant.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

/// A folder that is not a patrol data directory.
#[derive(Debug, thiserror::Error)]
pub enum NotADataDir {
    /// Nothing there.
    #[error(
        "there is no data directory `{}`; create one with `patrol init {}` (or `patrol serve \
         --data-dir {}`), or name an existing one with `--data-dir`",
        .0.display(), .0.display(), .0.display()
    )]
    Missing(PathBuf),
    /// Something else is there.
    #[error(
        "`{}` is not a patrol data directory (it has no `tenants` folder and `patrol.db`); \
         name one with `--data-dir`, or create one with `patrol init`",
        .0.display()
    )]
    Other(PathBuf),
}

impl DataDir {
    /// Opens an existing data directory: one that `patrol init` or `patrol serve` created,
    /// with its `tenants` folder and its token store. Creates nothing, so that a mistyped path
    /// is an error rather than a new, empty data directory.
    pub fn open_existing(root: &Path) -> Result<DataDir, NotADataDir> {
        if !root.exists() {
            return Err(NotADataDir::Missing(root.to_path_buf()));
        }
        let dir = DataDir {
            root: root.to_path_buf(),
        };
        if !dir.tenants().is_dir() || !dir.database().is_file() {
            return Err(NotADataDir::Other(root.to_path_buf()));
        }
        Ok(dir)
    }

    /// Opens `root`, creating its folders; a new data directory gets the example tenant.
    pub fn open(root: &Path) -> io::Result<DataDir> {
        let fresh = !root.join("tenants").exists();
        let dir = DataDir {
            root: root.to_path_buf(),
        };
        fs::create_dir_all(dir.tenants())?;
        fs::create_dir_all(dir.components())?;
        if fresh {
            write_atomically(
                &dir.tenant_file("contoso", Format::Toml),
                EXAMPLE_TENANT.as_bytes(),
            )?;
        }
        Ok(dir)
    }

    /// Opens `root` as a replica's own folder, creating what is missing: with a shared
    /// database, tenants and tokens live there, and the folder keeps only the replica's decision
    /// log, compiled components and the components fetched from the database (no example
    /// tenant, no token database).
    pub fn open_local(root: &Path) -> io::Result<DataDir> {
        let dir = DataDir {
            root: root.to_path_buf(),
        };
        fs::create_dir_all(dir.components())?;
        Ok(dir)
    }

    /// The data directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where tenant configurations live.
    pub fn tenants(&self) -> PathBuf {
        self.root.join("tenants")
    }

    /// Where uploaded components live.
    pub fn components(&self) -> PathBuf {
        self.root.join("components")
    }

    /// The token store's database file.
    pub fn database(&self) -> PathBuf {
        self.root.join("patrol.db")
    }

    /// The tenants that have a configuration file, by name.
    pub fn tenant_names(&self) -> io::Result<Vec<String>> {
        Ok(self
            .tenant_files()?
            .into_iter()
            .map(|(name, _, _)| name)
            .collect())
    }

    /// The configuration file of `tenant`, if there is one.
    pub fn existing_tenant_file(&self, tenant: &str) -> Option<PathBuf> {
        [Format::Toml, Format::Json]
            .into_iter()
            .map(|format| self.tenant_file(tenant, format))
            .find(|path| path.is_file())
    }

    /// Stores `text` as `tenant`'s configuration, in `format`, durably and atomically, and
    /// removes the file in the other format: a tenant has one file. Returns its path. The
    /// caller has checked the configuration; a running `patrol serve` picks it up on its next
    /// scan.
    pub fn write_tenant_file(
        &self,
        tenant: &str,
        text: &str,
        format: Format,
    ) -> io::Result<PathBuf> {
        let path = self.tenant_file(tenant, format);
        write_atomically(&path, text.as_bytes())?;
        let other = match format {
            Format::Toml => Format::Json,
            Format::Json => Format::Toml,
        };
        remove_durably(&self.tenant_file(tenant, other))?;
        Ok(path)
    }

    pub fn tenant_file(&self, tenant: &str, format: Format) -> PathBuf {
        self.tenants()
            .join(format!("{tenant}.{}", format.extension()))
    }

    /// The tenant configuration files, as (tenant, format, path), by name.
    pub fn tenant_files(&self) -> io::Result<Vec<(String, Format, PathBuf)>> {
        let mut files = Vec::new();
        for entry in fs::read_dir(self.tenants())? {
            let path = entry?.path();
            let format = match path.extension().and_then(|e| e.to_str()) {
                Some("toml") => Format::Toml,
                Some("json") => Format::Json,
                _ => continue,
            };
            if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
                files.push((stem.to_string(), format, path.clone()));
            }
        }
        files.sort_by(|a, b| a.2.cmp(&b.2));
        Ok(files)
    }
}
