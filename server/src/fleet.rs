//! Serving as one of several replicas on one PostgreSQL database.
//!
//! Everything durable is in the database; a replica keeps in memory what the hot path reads
//! (tenants, token records, groups) and follows the database's change log to keep it true:
//!
//! - one thread waits for `NOTIFY patrol_changes` (on a connection of its own, see
//!   [`PgStore::subscribe`]) or for [`CATCH_UP_INTERVAL`], whichever comes first, then reads the
//!   log from the last entry it applied: notifications can be lost, the log cannot;
//! - each entry makes the cache forget what it changed (a token, a tenant's groups, a tenant)
//!   and reloads a changed tenant configuration or fetches a new component;
//! - after each complete read the replica records its heartbeat and the entry it has applied
//!   (which is what `DELETE .../tokens/{id}?wait=propagated` waits on), and the cache counts as
//!   fresh for the staleness bound. A replica that cannot read the log for longer reads
//!   through to the database, and `/readyz` says it is not ready.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use patrol_store::tokens::{Cache, Change, ChangeKind, PgStore, StoreError, TokenStore};

/// What following the change log changes besides the cache: the tenants being served. (The
/// service's state implements it; this module knows nothing else of it.)
pub(crate) trait Follower: Send + Sync + 'static {
    /// The replica's part in the fleet, if it serves as a replica.
    fn fleet(&self) -> Option<&Fleet>;
    /// Where the engine finds components named by digest.
    fn components_folder(&self) -> PathBuf;
    /// Brings tenant `name` in line with its configuration in the database.
    fn reload_tenant_from_database(&self, name: &str) -> Result<(), StoreError>;
    /// Brings every tenant in line with the database.
    fn reload_all_from_database(&self) -> Result<(), StoreError>;
}

/// How often the log is read even when no notification arrives.
pub(crate) const CATCH_UP_INTERVAL: Duration = Duration::from_millis(250);
/// How often a replica records that it is alive, at least.
const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(1);
/// A replica that has not recorded a heartbeat for this long is taken for gone.
pub(crate) const LIVENESS: Duration = Duration::from_secs(3);
/// How many log entries one read takes.
const PAGE: usize = 500;

/// This replica's part in the fleet.
pub(crate) struct Fleet {
    pub(crate) store: Arc<PgStore>,
    pub(crate) cache: Arc<Cache>,
    /// This replica's id in the heartbeat table.
    pub(crate) replica: String,
    /// The last change-log entry applied.
    applied: AtomicI64,
}

/// How a revocation reached the fleet.
#[derive(Debug, serde::Serialize)]
pub(crate) struct Propagation {
    /// The change-log entry waited for.
    pub(crate) seq: i64,
    /// The live replicas, all of which have applied it.
    pub(crate) replicas: Vec<String>,
    /// How long it took.
    pub(crate) waited_ms: u64,
}

impl Fleet {
    /// Joins the fleet: the change log is taken as applied up to its current end, since
    /// whatever the replica loads next is at least that recent.
    pub(crate) fn join(
        store: Arc<PgStore>,
        staleness: Duration,
        replica: String,
    ) -> Result<Fleet, StoreError> {
        let applied = store.last_change()?;
        // Replicas that stopped long ago (each start has a new id by default) are forgotten.
        store.forget_replicas(now_ms() - 86_400_000)?;
        Ok(Fleet {
            store,
            cache: Arc::new(Cache::new(staleness)),
            replica,
            applied: AtomicI64::new(applied),
        })
    }

    /// The last change-log entry applied.
    pub(crate) fn applied(&self) -> i64 {
        self.applied.load(Ordering::Acquire)
    }

    /// Marks the log as read to its end now, and says so in the heartbeat table.
    pub(crate) fn caught_up(&self) -> Result<(), StoreError> {
        self.cache.caught_up();
        self.heartbeat()
    }

    fn heartbeat(&self) -> Result<(), StoreError> {
        self.store
            .heartbeat(&self.replica, self.applied(), now_ms())
    }

    /// Follows the change log on a thread of its own until `stop` is set.
    pub(crate) fn follow(
        state: Arc<impl Follower>,
        stop: Arc<AtomicBool>,
    ) -> std::io::Result<JoinHandle<()>> {
        std::thread::Builder::new()
            .name("patrol-fleet".to_string())
            .spawn(move || {
                let Some(fleet) = state.fleet() else {
                    return;
                };
                let woken = fleet.store.subscribe();
                let mut last_heartbeat = Instant::now();
                let mut failing = false;
                while !stop.load(Ordering::Relaxed) {
                    let _ = woken.recv_timeout(CATCH_UP_INTERVAL);
                    while woken.try_recv().is_ok() {}
                    match fleet.catch_up(&*state) {
                        Ok(advanced) => {
                            fleet.cache.caught_up();
                            if advanced || last_heartbeat.elapsed() >= HEARTBEAT_INTERVAL {
                                match fleet.heartbeat() {
                                    Ok(()) => last_heartbeat = Instant::now(),
                                    Err(error) => tracing::warn!(error = %patrol::with_causes(&error), "cannot record this replica's heartbeat"),
                                }
                            }
                            if failing {
                                tracing::info!(applied = fleet.applied(), "caught up with the database again");
                                failing = false;
                            }
                        }
                        Err(error) => {
                            if !failing {
                                tracing::error!(
                                    error = %patrol::with_causes(&error),
                                    staleness_ms = u64::try_from(fleet.cache.staleness().as_millis()).unwrap_or(u64::MAX),
                                    "cannot read the change log; cached tokens are trusted for the staleness bound, then every lookup goes to the database"
                                );
                                failing = true;
                            }
                        }
                    }
                }
            })
    }

    /// Applies the log from the last entry applied to its end. Returns whether anything was
    /// applied.
    fn catch_up(&self, state: &impl Follower) -> Result<bool, StoreError> {
        let mut tenants = BTreeSet::new();
        let mut components = false;
        let mut applied = self.applied();
        let start = applied;
        loop {
            let changes: Vec<Change> = self.store.changes_since(applied, PAGE)?;
            let Some(last) = changes.last() else {
                break;
            };
            applied = last.seq;
            for change in &changes {
                self.cache.apply(change);
                match change.kind {
                    ChangeKind::Tenant => {
                        tenants.insert(change.tenant.clone());
                    }
                    ChangeKind::Component => components = true,
                    ChangeKind::Token | ChangeKind::Group => {}
                }
            }
            if changes.len() < PAGE {
                break;
            }
        }
        // Read after the log: a prune that deleted entries before the read above had committed
        // its mark by then, so it shows here.
        let pruned = self.store.pruned_upto()?;
        if start < pruned {
            // Entries this replica had not applied were pruned (it was cut off for longer than
            // the log is kept): start afresh rather than miss them.
            let last = self.store.last_change()?.max(pruned);
            tracing::warn!(
                applied = start,
                last,
                "the change log was pruned past what this replica had applied; reloading everything"
            );
            self.cache.clear();
            self.sync_components(&state.components_folder())?;
            state.reload_all_from_database()?;
            self.applied.store(last, Ordering::Release);
            return Ok(true);
        }
        if components {
            self.sync_components(&state.components_folder())?;
        }
        for tenant in tenants {
            state.reload_tenant_from_database(&tenant)?;
        }
        self.applied.store(applied, Ordering::Release);
        Ok(applied != start)
    }

    /// Writes every stored component this replica does not have yet into its component
    /// folder, where the engine finds components named by digest.
    pub(crate) fn sync_components(&self, folder: &Path) -> Result<(), StoreError> {
        for digest in self.store.fetch_components(folder)? {
            tracing::info!(%digest, "component fetched from the database");
        }
        Ok(())
    }

    /// Waits until every live replica has applied the change log up to its current end (so
    /// up to a change just made), for at most `timeout`.
    pub(crate) fn wait_propagated(&self, timeout: Duration) -> Result<Propagation, String> {
        let started = Instant::now();
        let target = self
            .store
            .last_change()
            .map_err(|error| patrol::with_causes(&error))?;
        loop {
            let live = self
                .store
                .live_replicas(now_ms() - millis(LIVENESS))
                .map_err(|error| patrol::with_causes(&error))?;
            let behind: Vec<&str> = live
                .iter()
                .filter(|replica| replica.applied_seq < target)
                .map(|replica| replica.id.as_str())
                .collect();
            if behind.is_empty() {
                return Ok(Propagation {
                    seq: target,
                    replicas: live.into_iter().map(|replica| replica.id).collect(),
                    waited_ms: millis(started.elapsed()).unsigned_abs(),
                });
            }
            if started.elapsed() >= timeout {
                return Err(format!(
                    "the change was made, but {} of {} live replicas ({}) had not applied it \
                     after {} ms",
                    behind.len(),
                    live.len(),
                    behind.join(", "),
                    millis(timeout)
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Now, in Unix milliseconds.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, millis)
}

/// A replica id: the host's name, if known, and a random part.
pub(crate) fn replica_id() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "patrol".to_string());
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}-{}", &random[..8])
}
