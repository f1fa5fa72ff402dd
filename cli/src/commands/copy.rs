//! `patrol store copy --from DATA_DIR --to postgres://...`: moves a single-node installation
//! into the database replicas share, and checks that what arrived is what left.
//!
//! Moved: tokens (with the hashes of their secrets; no secret exists to move), the audit log,
//! the notification outbox, expiry notices, the group directory, every tenant configuration
//! and every component. A configuration that names a component by file gets the component
//! stored by digest and its `component` rewritten to that digest (replicas share the
//! database, not files). The token tables go over in one transaction into empty tables; the
//! copy is then read back and compared table by table (row counts and a SHA-256 over the rows
//! in a fixed order), configuration by configuration and component by component.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::Outcome;
use patrol::Digest;
use patrol_server::{ConfigFormat, DataDir};
use patrol_store::tokens::{PgStore, SqliteStore};

#[derive(Debug, clap::Subcommand)]
pub enum StoreCommand {
    /// Copy a data directory's tokens, audit log, outbox, groups, tenant configurations and
    /// components into an empty PostgreSQL database, and verify the copy.
    Copy {
        /// The data directory to copy from.
        #[arg(long, value_name = "DIR")]
        from: PathBuf,
        /// The database to copy into (`postgres://...`); its tables must be empty.
        #[arg(long, value_name = "URL")]
        to: String,
        /// Who the tenant configurations are stored by, in their version history.
        #[arg(long)]
        actor: Option<String>,
    },
}

pub fn run(command: StoreCommand) -> anyhow::Result<Outcome> {
    match command {
        StoreCommand::Copy { from, to, actor } => copy(&from, &to, &super::store::actor(actor)),
    }
}

fn copy(from: &Path, to: &str, actor: &str) -> anyhow::Result<Outcome> {
    let dir = DataDir::open_existing(from)?;
    let source = SqliteStore::open(&dir.database())?;
    let target = PgStore::connect(to)?;
    if !target.configs()?.is_empty() {
        anyhow::bail!(
            "the database {} already holds tenant configurations; copy into an empty database",
            target.url()
        );
    }
    let present = target.export()?;
    if present != patrol_store::tokens::copy::Rows::default() {
        anyhow::bail!(
            "the database {} already holds tokens, audit entries, notifications or groups \
             ({} tokens, {} audit entries); copy into an empty database",
            target.url(),
            present.tokens.len(),
            present.audit.len()
        );
    }
    let rows = source.export()?;
    // Components first: configurations may name them.
    let mut components = Vec::new();
    let folder = dir.components();
    if folder.is_dir() {
        for entry in std::fs::read_dir(&folder)
            .with_context(|| format!("cannot read `{}`", folder.display()))?
        {
            let path = entry?.path();
            if path.extension().is_some_and(|ext| ext == "wasm") {
                components.push(store_component(&target, &path)?);
            }
        }
    }
    // Then the configurations, checked to load before anything of theirs is written.
    let mut configs = Vec::new();
    for (name, format, path) in dir.tenant_files()? {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read `{}`", path.display()))?;
        let origin = path.display().to_string();
        let config = format.parse(&text, &origin, &dir.tenants())?;
        if config.tenant != name {
            anyhow::bail!(
                "{origin}: `tenant`: the configuration is for `{}`, not `{name}`",
                config.tenant
            );
        }
        let (text, stored) = with_stored_components(&target, &text, format, &dir.tenants())
            .with_context(|| format!("{origin}: cannot store its components"))?;
        components.extend(stored);
        configs.push((name, format, text));
    }
    target.import(&rows)?;
    for (name, format, text) in &configs {
        target.put_config(
            name,
            format.extension(),
            text,
            actor,
            patrol::timestamp::now(),
        )?;
    }
    // Read everything back and compare.
    let copied = target.export()?;
    let mut table = Vec::new();
    let mut mismatches = Vec::new();
    for (left, right) in rows.summary().iter().zip(copied.summary()) {
        let same = left == &right;
        if !same {
            mismatches.push(left.table.to_string());
        }
        table.push([
            left.table.to_string(),
            left.rows.to_string(),
            right.rows.to_string(),
            if same { "same" } else { "DIFFERENT" }.to_string(),
            right.digest.clone(),
        ]);
    }
    let stored_configs = target.configs()?;
    for (name, _, text) in &configs {
        let same = stored_configs
            .iter()
            .any(|stored| &stored.tenant == name && &stored.text == text);
        if !same {
            mismatches.push(format!("tenant `{name}`"));
        }
    }
    table.push([
        "tenant_configs".to_string(),
        configs.len().to_string(),
        stored_configs.len().to_string(),
        if stored_configs.len() == configs.len() {
            "same"
        } else {
            "DIFFERENT"
        }
        .to_string(),
        String::new(),
    ]);
    components.sort();
    components.dedup();
    let stored_components = target.component_digests()?;
    for digest in &components {
        match target.component(digest)? {
            Some(bytes) if Digest::of(&bytes).to_string() == *digest => {}
            _ => mismatches.push(format!("component {digest}")),
        }
    }
    table.push([
        "components".to_string(),
        components.len().to_string(),
        stored_components.len().to_string(),
        if mismatches.iter().any(|m| m.starts_with("component")) {
            "DIFFERENT"
        } else {
            "same"
        }
        .to_string(),
        String::new(),
    ]);
    super::print_columns(
        &[
            "TABLE".to_string(),
            "FROM".to_string(),
            "TO".to_string(),
            "CHECK".to_string(),
            "DIGEST".to_string(),
        ],
        &table,
    );
    if !mismatches.is_empty() {
        anyhow::bail!(
            "the copy in {} differs from `{}` in: {}",
            target.url(),
            from.display(),
            mismatches.join(", ")
        );
    }
    super::emit(&format!(
        "copied `{}` into {}: every table, configuration and component verified",
        from.display(),
        target.url()
    ));
    Ok(Outcome::Success)
}

/// Stores the component file at `path` in the database; returns its digest.
fn store_component(target: &PgStore, path: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    let digest = Digest::of(&bytes).to_string();
    target.put_component(&digest, &bytes, patrol::timestamp::now())?;
    Ok(digest)
}

/// `text` with every `component` that names a file replaced by the stored component's digest,
/// and the digests stored. A configuration that names none is returned as it is.
pub(super) fn with_stored_components(
    target: &PgStore,
    text: &str,
    format: ConfigFormat,
    base: &Path,
) -> anyhow::Result<(String, Vec<String>)> {
    let mut stored = Vec::new();
    let mut store = |value: &str| -> anyhow::Result<Option<String>> {
        if value.starts_with("sha256:") {
            return Ok(None);
        }
        let digest = store_component(target, &base.join(value))?;
        stored.push(digest.clone());
        Ok(Some(digest))
    };
    match format {
        ConfigFormat::Toml => {
            let mut document: toml::Table = toml::from_str(text)?;
            let changed = rewrite_toml(&mut document, &mut store)?;
            if changed {
                return Ok((toml::to_string(&document)?, stored));
            }
        }
        ConfigFormat::Json => {
            let mut document: serde_json::Value = serde_json::from_str(text)?;
            let changed = rewrite_json(&mut document, &mut store)?;
            if changed {
                return Ok((serde_json::to_string_pretty(&document)?, stored));
            }
        }
    }
    Ok((text.to_string(), stored))
}

type Store<'a> = dyn FnMut(&str) -> anyhow::Result<Option<String>> + 'a;

fn rewrite_toml(table: &mut toml::Table, store: &mut Store<'_>) -> anyhow::Result<bool> {
    let mut changed = false;
    for (key, value) in table.iter_mut() {
        match value {
            toml::Value::String(text) if key == "component" => {
                if let Some(digest) = store(text)? {
                    *text = digest;
                    changed = true;
                }
            }
            toml::Value::Table(inner) => changed |= rewrite_toml(inner, store)?,
            toml::Value::Array(items) => {
                for item in items {
                    if let toml::Value::Table(inner) = item {
                        changed |= rewrite_toml(inner, store)?;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(changed)
}

fn rewrite_json(value: &mut serde_json::Value, store: &mut Store<'_>) -> anyhow::Result<bool> {
    let mut changed = false;
    match value {
        serde_json::Value::Object(map) => {
            for (key, inner) in map.iter_mut() {
                if key == "component"
                    && let serde_json::Value::String(text) = inner
                {
                    if let Some(digest) = store(text)? {
                        *text = digest;
                        changed = true;
                    }
                } else {
                    changed |= rewrite_json(inner, store)?;
                }
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                changed |= rewrite_json(item, store)?;
            }
        }
        _ => {}
    }
    Ok(changed)
}
