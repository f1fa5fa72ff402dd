//! What the service holds: the engine, the tenants being served, and how configuration changes
//! replace them.
//!
//! The tenants live in an immutable map behind an `Arc`, swapped with `arc-swap` (a request
//! reads it without taking a lock that a writer could hold). A request clones the `Arc` of its
//! tenant and evaluates against it, however long that takes; a change builds and loads the new
//! tenant completely, then swaps a new map in. So a change takes effect atomically, requests in
//! flight finish on the version they started with, and a configuration that fails to load never
//! replaces the one that works. Changes (through the API or on disk) are serialised by one lock.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use arc_swap::ArcSwap;

use patrol::Digest;
use patrol::Engine;
use patrol::Tenant;
use patrol::timestamp::now;
use patrol_store::tokens::Tokens;

use patrol::files::remove_durably;

use crate::decision_log::DecisionLog;
use crate::evaluation::Evaluators;
use crate::fleet::{Fleet, Follower};
use crate::metrics::Metrics;
use patrol_store::{ConfigFormat as Format, DataDir};

/// A tenant being served, with the configuration text it came from.
pub(crate) struct ServedTenant {
    pub(crate) tenant: Arc<Tenant>,
    pub(crate) text: String,
    pub(crate) format: Format,
    pub(crate) digest: Digest,
}

/// A configuration that was not served: where the fault is and why.
#[derive(Debug)]
pub(crate) struct Refused {
    /// The configuration's field at fault (`policies.max_pat_lifespan.max_days`); none, or
    /// empty, when the fault is the document's as a whole.
    pub(crate) field: Option<String>,
    /// What is wrong, naming the file and the field.
    pub(crate) problem: String,
    /// Whether the fault is patrol's (the file could not be stored) rather than the
    /// configuration's.
    pub(crate) ours: bool,
    /// Whether it is that the database cannot be reached.
    pub(crate) unavailable: bool,
    /// Whether it is that the configuration changed since the caller read it (`If-Match`).
    pub(crate) stale: bool,
}

impl Refused {
    fn at(field: &str, problem: String) -> Refused {
        Refused {
            field: Some(field.to_string()),
            problem,
            ours: false,
            unavailable: false,
            stale: false,
        }
    }

    fn store(error: &patrol_store::tokens::StoreError) -> Refused {
        Refused {
            field: None,
            problem: format!(
                "cannot store the configuration: {}",
                patrol::with_causes(error)
            ),
            ours: true,
            unavailable: error.is_unavailable(),
            stale: false,
        }
    }
}

/// The actor of changes made by editing the files in the data directory.
use patrol_store::tokens::FILE_ACTOR;

type TenantMap = HashMap<String, Arc<ServedTenant>>;

/// Everything the handlers share.
pub(crate) struct Shared {
    pub(crate) engine: Engine,
    pub(crate) data: DataDir,
    pub(crate) log: DecisionLog,
    pub(crate) metrics: Metrics,
    pub(crate) admin_token: Option<String>,
    pub(crate) limits: BodyLimits,
    /// The token store and lifecycle.
    pub(crate) tokens: Arc<Tokens>,
    /// When serving as one of several replicas on PostgreSQL: the database holds the tenant
    /// configurations and components, and the change log keeps this replica's memory true.
    pub(crate) fleet: Option<Fleet>,
    /// Where decisions are judged.
    pub(crate) evaluators: Evaluators,
    tenants: ArcSwap<TenantMap>,
    /// Serialises configuration changes.
    changes: Mutex<()>,
    /// Why a tenant file on disk is not being served (or not in its latest version).
    refusals: Mutex<BTreeMap<String, Refusal>>,
    ready: AtomicBool,
    shutting_down: AtomicBool,
}

/// A tenant file that could not be loaded: the content refused (so it is not retried until it
/// changes) and why.
#[derive(Debug, Clone)]
struct Refusal {
    digest: Option<Digest>,
    problem: String,
}

/// The largest bodies accepted.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyLimits {
    pub(crate) request: usize,
    pub(crate) config: usize,
    pub(crate) component: usize,
}

impl Shared {
    /// The service's state, with its evaluation threads started.
    pub(crate) fn new(
        engine: Engine,
        data: DataDir,
        log: DecisionLog,
        admin_token: Option<String>,
        limits: BodyLimits,
        tokens: Arc<Tokens>,
        fleet: Option<Fleet>,
    ) -> std::io::Result<Shared> {
        Ok(Shared {
            evaluators: Evaluators::start(engine.config().calls_at_once)?,
            engine,
            data,
            log,
            metrics: Metrics::new(fleet.is_some()),
            admin_token,
            limits,
            tokens,
            fleet,
            tenants: ArcSwap::from_pointee(HashMap::new()),
            changes: Mutex::new(()),
            refusals: Mutex::new(BTreeMap::new()),
            ready: AtomicBool::new(false),
            shutting_down: AtomicBool::new(false),
        })
    }

    /// The tenant called `name`, as it is now.
    pub(crate) fn tenant(&self, name: &str) -> Option<Arc<ServedTenant>> {
        self.map().get(name).cloned()
    }

    /// Every tenant being served, by name.
    pub(crate) fn tenants(&self) -> Arc<TenantMap> {
        self.map()
    }

    /// Why tenant files are not served as they are on disk, by tenant.
    pub(crate) fn refusals(&self) -> BTreeMap<String, String> {
        lock(&self.refusals)
            .iter()
            .map(|(name, refusal)| (name.clone(), refusal.problem.clone()))
            .collect()
    }

    pub(crate) fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    pub(crate) fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::Release);
    }

    /// Checks `text` as the configuration of tenant `name`, and if it loads, stores it in the
    /// data directory and serves it. On error nothing changes. Blocking: compiles components.
    /// With `expected`, only if the configuration served now is that one (its digest), checked
    /// under the lock every change takes: a change made meanwhile is not overwritten.
    pub(crate) fn put_tenant(
        &self,
        name: &str,
        text: String,
        format: Format,
        actor: &str,
        expected: Option<&Digest>,
    ) -> Result<Arc<ServedTenant>, Refused> {
        let _change = lock(&self.changes);
        if let Some(expected) = expected {
            let current = self.tenant(name).map(|served| served.digest);
            if current.as_ref() != Some(expected) {
                return Err(Refused {
                    field: None,
                    problem: format!(
                        "the configuration of `{name}` changed since it was read (it is {} now, \
                         not {expected}); read it again and redo the change",
                        current.map_or("deleted".to_string(), |digest| digest.to_string())
                    ),
                    ours: false,
                    unavailable: false,
                    stale: true,
                });
            }
        }
        if let Some(fleet) = &self.fleet {
            let origin = format!("the configuration of `{name}`");
            let served = self.load(name, text, format, &origin)?;
            fleet
                .store
                .put_config(name, format.extension(), &served.text, actor, now())
                .map_err(|error| Refused::store(&error))?;
            self.install(name, Some(Arc::clone(&served)), Some(actor));
            lock(&self.refusals).remove(name);
            return Ok(served);
        }
        let path = self.data.tenant_file(name, format);
        let served = self.load(name, text, format, &path.display().to_string())?;
        self.data
            .write_tenant_file(name, &served.text, format)
            .map_err(|error| Refused {
                field: None,
                problem: format!("cannot store `{}`: {error}", path.display()),
                ours: true,
                unavailable: false,
                stale: false,
            })?;
        self.install(name, Some(Arc::clone(&served)), Some(actor));
        lock(&self.refusals).remove(name);
        Ok(served)
    }

    /// Deletes tenant `name`: stops serving it, deletes its configuration file, and retires
    /// its tokens and groups (see [`patrol_store::tokens::Tokens::retire_tenant`]), so that a tenant
    /// created later under the same name inherits nothing. Returns how many tokens were
    /// revoked, or `None` when there was no such tenant (nothing served, no file, no token).
    pub(crate) fn delete_tenant(&self, name: &str, actor: &str) -> Result<Option<usize>, Refused> {
        let _change = lock(&self.changes);
        let mut existed = self.tenant(name).is_some();
        if let Some(fleet) = &self.fleet {
            existed |= fleet
                .store
                .delete_config(name, actor, now())
                .map_err(|error| Refused::store(&error))?;
        } else {
            for format in [Format::Toml, Format::Json] {
                let path = self.data.tenant_file(name, format);
                existed |= path.exists();
                remove_durably(&path).map_err(|error| Refused {
                    field: None,
                    problem: format!("cannot delete the configuration: {error}"),
                    ours: true,
                    unavailable: false,
                    stale: false,
                })?;
            }
        }
        self.install(name, None, Some(actor));
        lock(&self.refusals).remove(name);
        let revoked = self
            .tokens
            .retire_tenant(name, actor, now())
            .map_err(|error| Refused {
                problem: format!(
                    "cannot revoke the tenant's tokens: {}",
                    patrol::with_causes(&error)
                ),
                ..Refused::store(&error)
            })?;
        Ok((existed || revoked > 0).then_some(revoked))
    }

    /// Brings the served tenants in line with their source: the files of the data directory,
    /// or the database when serving as a replica. Blocking.
    pub(crate) fn reload(&self) {
        if self.fleet.is_some() {
            if let Err(error) = self.reload_from_database() {
                tracing::error!(error = %patrol::with_causes(&error), "cannot read the tenant configurations from the database");
            }
        } else {
            self.reload_from_disk();
        }
    }

    /// Brings the served tenants in line with the configurations in the database: fetches
    /// new components, loads new and changed configurations, stops serving deleted ones.
    /// What another replica changed is not audited again here. Blocking.
    fn reload_from_database(&self) -> Result<(), patrol_store::tokens::StoreError> {
        let Some(fleet) = &self.fleet else {
            return Ok(());
        };
        fleet.sync_components(&self.data.components())?;
        let configs = fleet.store.configs()?;
        let _change = lock(&self.changes);
        for config in &configs {
            self.apply_stored(&config.tenant, Some(config));
        }
        let gone: Vec<String> = self
            .map()
            .keys()
            .filter(|name| !configs.iter().any(|config| &config.tenant == *name))
            .cloned()
            .collect();
        for name in gone {
            tracing::info!(tenant = %name, "tenant deleted");
            self.install(&name, None, None);
        }
        lock(&self.refusals).retain(|name, _| configs.iter().any(|c| &c.tenant == name));
        self.ready.store(true, Ordering::Release);
        Ok(())
    }

    /// Brings tenant `name` in line with its configuration in the database. Blocking.
    pub(crate) fn reload_tenant_from_database(
        &self,
        name: &str,
    ) -> Result<(), patrol_store::tokens::StoreError> {
        let Some(fleet) = &self.fleet else {
            return Ok(());
        };
        let config = fleet.store.config(name)?;
        let _change = lock(&self.changes);
        self.apply_stored(name, config.as_ref());
        Ok(())
    }

    /// Serves `config` as tenant `name` (unless it is what is served already, or was refused
    /// already), or stops serving `name` when it has no configuration.
    fn apply_stored(&self, name: &str, config: Option<&patrol_store::tokens::StoredConfig>) {
        let Some(config) = config else {
            if self.tenant(name).is_some() {
                tracing::info!(tenant = %name, "tenant deleted");
                self.install(name, None, None);
            }
            lock(&self.refusals).remove(name);
            return;
        };
        let digest = Digest::of(config.text.as_bytes());
        let served = self
            .tenant(name)
            .is_some_and(|served| served.digest == digest);
        let refused = lock(&self.refusals)
            .get(name)
            .is_some_and(|refusal| refusal.digest == Some(digest));
        if served || refused {
            return;
        }
        let format = if config.format == "json" {
            Format::Json
        } else {
            Format::Toml
        };
        let origin = format!(
            "the configuration of `{name}` (version {} in the database)",
            config.version
        );
        match self.load(name, config.text.clone(), format, &origin) {
            Ok(served) => {
                tracing::info!(tenant = %name, version = config.version, "tenant configuration loaded");
                self.install(name, Some(served), None);
                lock(&self.refusals).remove(name);
                self.metrics.record_reload(true);
            }
            Err(refused) => self.refuse(name, Some(digest), refused.problem),
        }
    }

    /// Brings the served tenants in line with the files in the data directory: new and
    /// changed files are loaded (a file that fails keeps its previous version serving),
    /// removed files stop being served. Blocking.
    pub(crate) fn reload_from_disk(&self) {
        let _change = lock(&self.changes);
        let files = match self.data.tenant_files() {
            Ok(files) => files,
            Err(error) => {
                tracing::error!(%error, dir = %self.data.tenants().display(), "cannot list tenant configurations");
                return;
            }
        };
        let mut on_disk = Vec::with_capacity(files.len());
        for (name, format, path) in files {
            on_disk.push(name.clone());
            let text = match std::fs::read_to_string(&path) {
                Ok(text) => text,
                Err(error) => {
                    let problem = format!("{}: cannot read the file: {error}", path.display());
                    self.refuse(&name, None, problem);
                    continue;
                }
            };
            let digest = Digest::of(text.as_bytes());
            let served = self
                .tenant(&name)
                .is_some_and(|served| served.digest == digest);
            let refused = lock(&self.refusals)
                .get(&name)
                .is_some_and(|refusal| refusal.digest == Some(digest));
            if served || refused {
                continue;
            }
            match self.load(&name, text, format, &path.display().to_string()) {
                Ok(served) => {
                    tracing::info!(tenant = %name, file = %path.display(), "tenant configuration loaded");
                    self.install(&name, Some(served), Some(FILE_ACTOR));
                    lock(&self.refusals).remove(&name);
                    self.metrics.record_reload(true);
                }
                Err(refused) => self.refuse(&name, Some(digest), refused.problem),
            }
        }
        let gone: Vec<String> = self
            .map()
            .keys()
            .filter(|name| !on_disk.contains(name))
            .cloned()
            .collect();
        for name in gone {
            tracing::info!(tenant = %name, "tenant configuration removed");
            self.install(&name, None, Some(FILE_ACTOR));
        }
        lock(&self.refusals).retain(|name, _| on_disk.contains(name));
        self.ready.store(true, Ordering::Release);
    }

    fn refuse(&self, name: &str, digest: Option<Digest>, problem: String) {
        tracing::warn!(tenant = %name, %problem, "tenant configuration refused; the previous version, if any, keeps serving");
        self.metrics.record_reload(false);
        lock(&self.refusals).insert(name.to_string(), Refusal { digest, problem });
    }

    /// Parses and loads a configuration, checking it is the named tenant's. `origin` names
    /// where it comes from, in messages.
    fn load(
        &self,
        name: &str,
        text: String,
        format: Format,
        origin: &str,
    ) -> Result<Arc<ServedTenant>, Refused> {
        let base_dir = self.data.tenants();
        let config = format
            .parse(&text, origin, &base_dir)
            .map_err(|error| Refused::at(&error.field, error.to_string()))?;
        if self.fleet.is_some() {
            // Replicas share the database, not files: a component is named by digest.
            if let Some(policy) = config
                .policies
                .iter()
                .find(|policy| matches!(policy.component, patrol::config::ComponentSource::File(_)))
            {
                return Err(Refused::at(
                    &format!("{}.component", policy.location),
                    format!(
                        "{origin}: `{}.component`: replicas sharing a database name components \
                         by digest (`sha256:<hex>`), not by file; upload the component with \
                         `POST /v1/admin/components` and name it by the digest it answers",
                        policy.location
                    ),
                ));
            }
        }
        if config.tenant != name {
            return Err(Refused::at(
                "tenant",
                format!(
                    "{origin}: `tenant`: the configuration is for `{}`, not `{name}`",
                    config.tenant
                ),
            ));
        }
        let tenant = patrol::Tenant::load(&self.engine, &config)
            .map_err(|error| Refused::at(&error.field, error.to_string()))?;
        Ok(Arc::new(ServedTenant {
            tenant: Arc::new(tenant),
            digest: Digest::of(text.as_bytes()),
            text,
            format,
        }))
    }

    /// Swaps a new map in, with `name` replaced (or removed), and records what changed in its
    /// policies in the audit log, as done by `actor` (`None`: a change another replica made
    /// and recorded).
    fn install(&self, name: &str, served: Option<Arc<ServedTenant>>, actor: Option<&str>) {
        // Changes are serialised by `changes`, so nothing else stores a map meanwhile.
        let mut map = TenantMap::clone(&self.tenants.load());
        let before = match &served {
            Some(served) => map.insert(name.to_string(), Arc::clone(served)),
            None => map.remove(name),
        };
        self.tenants.store(Arc::new(map));
        // The first load at start-up is not a change; what changed on disk while patrol was
        // stopped is not seen as a change either.
        let Some(actor) = actor else {
            return;
        };
        if actor == FILE_ACTOR && !self.is_ready() {
            return;
        }
        let recorded = self.tokens.policies_changed(
            name,
            actor,
            before.as_ref().map(|served| &*served.tenant),
            served.as_ref().map(|served| &*served.tenant),
            now(),
        );
        if let Err(error) = recorded {
            tracing::error!(tenant = %name, error = %patrol::with_causes(&error), "cannot record the policy change in the audit log");
        }
    }

    fn map(&self) -> Arc<TenantMap> {
        self.tenants.load_full()
    }
}

impl Follower for Shared {
    fn fleet(&self) -> Option<&Fleet> {
        self.fleet.as_ref()
    }

    fn components_folder(&self) -> std::path::PathBuf {
        self.data.components()
    }

    fn reload_tenant_from_database(
        &self,
        name: &str,
    ) -> Result<(), patrol_store::tokens::StoreError> {
        Shared::reload_tenant_from_database(self, name)
    }

    fn reload_all_from_database(&self) -> Result<(), patrol_store::tokens::StoreError> {
        self.reload_from_database()
    }
}

/// Locks a mutex whose data stays consistent even if a holder panicked.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The gateway front ends (forward-auth, `/authenticate`, Envoy's ext_authz) authenticate
/// through one [`patrol_gate::Gate`] over the served tenants, counting and logging through the
/// service's metrics and decision log.
impl Shared {
    pub(crate) fn gate(self: &Arc<Self>) -> patrol_gate::Gate {
        patrol_gate::Gate::new(
            Arc::clone(self) as Arc<dyn patrol_gate::TenantSource>,
            Arc::clone(&self.tokens),
            Arc::clone(self) as Arc<dyn patrol_gate::Observer>,
        )
    }
}

impl patrol_gate::TenantSource for Shared {
    fn tenant(&self, name: &str) -> Option<Arc<patrol::Tenant>> {
        Shared::tenant(self, name).map(|served| Arc::clone(&served.tenant))
    }
}

impl patrol_gate::Observer for Shared {
    fn authentication(&self, tenant: &str, outcome: &patrol_gate::Outcome) {
        self.metrics.record_authentication(tenant, outcome.label());
        if let patrol_gate::Outcome::Refused(refusal) = outcome
            && refusal.status >= 500
        {
            tracing::error!(%tenant, code = %refusal.code, message = %refusal.message, "authentication failed");
        }
    }

    /// Writes a refused use to the decision log, where the violations report finds it; the
    /// token's id is there, its secret never is.
    fn refused_use(&self, tenant: &str, denied: &patrol_store::tokens::DeniedUse) {
        let decision_id = uuid::Uuid::now_v7().to_string();
        self.log.record(&crate::decision_log::DecisionRecord::new(
            &decision_id,
            "gateway",
            tenant,
            &denied.request,
            &denied.decision,
            std::time::Duration::ZERO,
        ));
    }
}
