//! The PostgreSQL store, for several `patrol serve` replicas sharing one database.
//!
//! It keeps what the SQLite store keeps, in the same shape, and what a fleet shares besides:
//! the ordered change log (every revocation, regeneration, group, tenant or component change
//! writes an entry and a `NOTIFY patrol_changes` in its own transaction), tenant
//! configurations with their versions, components by digest, and each replica's heartbeat.
//!
//! The store's methods block, like the SQLite store's: they run on a small runtime of the
//! store's own, which also drives the connections of a pool (deadpool) and the one connection
//! that listens for notifications ([`PgStore::subscribe`]). Call them from a thread that may
//! block (a blocking task, a command's main thread); called from inside an async task they
//! still work, on a thread of their own.
//!
//! Change-log entries are numbered in the order their transactions commit (each takes a
//! transaction-scoped advisory lock before writing its entry), so a replica that has read up
//! to entry N never sees an entry below N appear later.
//!
//! The schema is versioned by the migrations in `store/migrations/postgres/`, applied in order
//! under an advisory lock (replicas starting together apply each once) and recorded in
//! `schema_migrations`.

use std::str::FromStr;
use std::sync::mpsc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::types::ToSql;
use tokio_postgres::{AsyncMessage, GenericClient};

mod copy;
mod rows;
mod tls;

pub use rows::{ReplicaStatus, StoredConfig};
use rows::{credential, insert_token, pending_notification, record, scim_record, stored_config};

use super::USER_DEPROVISIONED;
use super::accounts::{
    CREDENTIAL_COLUMNS, CredentialChange, CredentialRecord, RETIRED_WITH_TENANT, SCIM_COLUMNS,
    ScimConflict, ScimKind, ScimRecord, ScimWrite,
};
use super::format::SecretHash;
use super::store::{
    AuditEntry, AuditEvent, AuditQuery, Change, ChangeKind, Continuation, Notification,
    NotificationEvent, Outcome, Page, PendingNotification, Pruned, StoreError, TokenFilter,
    TokenOrder, TokenQuery, TokenRecord, TokenStore, TokenUse,
};
use patrol::timestamp::Timestamp;

/// Serialises one tenant's SCIM writes across replicas (with the tenant's name hashed).
const SCIM_LOCK: i32 = 0x7363_696d;

/// The migrations, in order; the schema's version is how many have been applied.
const MIGRATIONS: [&str; 3] = [
    include_str!("../../../migrations/postgres/0001_store.sql"),
    include_str!("../../../migrations/postgres/0002_retention.sql"),
    include_str!("../../../migrations/postgres/0003_accounts.sql"),
];

/// The channel change-log entries are announced on.
pub const CHANNEL: &str = "patrol_changes";

/// Serialises change-log writers so that entries are numbered in commit order.
const CHANGE_LOCK: i64 = 0x7061_7472_6f6c_0001;
/// Serialises migrations of replicas starting together.
const MIGRATION_LOCK: i64 = 0x7061_7472_6f6c_0002;
/// Held by the replica pruning old entries, so that one prunes at a time.
const RETENTION_LOCK: i64 = 0x7061_7472_6f6c_0003;

/// How long to wait for a connection, to connect, or for a statement, before calling the
/// database unreachable: a gateway waits on some of these.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

const COLUMNS: &str = super::store::TOKEN_COLUMNS;

/// The PostgreSQL store.
pub struct PgStore {
    runtime: tokio::runtime::Runtime,
    pool: Pool,
    config: tokio_postgres::Config,
    /// How connections (the pool's and the listening one) do TLS.
    tls: tokio_postgres_rustls::MakeRustlsConnect,
    /// The URL without its password, for messages.
    shown: String,
}

/// Whether an error means the database cannot be reached rather than that it refused.
fn unreachable(error: &tokio_postgres::Error) -> bool {
    match error.code() {
        // Connection exceptions (08), operator intervention such as a shutdown (57P01..03).
        Some(code) => {
            let code = code.code();
            code.starts_with("08") || code.starts_with("57P")
        }
        None => error.as_db_error().is_none(),
    }
}

fn failed(error: tokio_postgres::Error) -> StoreError {
    if unreachable(&error) {
        StoreError::Unavailable(Box::new(error))
    } else {
        StoreError::Backend(Box::new(error))
    }
}

fn pool_failed(error: deadpool_postgres::PoolError) -> StoreError {
    match error {
        deadpool_postgres::PoolError::Backend(error) => failed(error),
        other => StoreError::Unavailable(Box::new(other)),
    }
}

fn outcome_name(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Success => "success",
        Outcome::Denied => "denied",
    }
}

fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

async fn insert_audit(
    client: &impl GenericClient,
    entry: &AuditEntry,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "INSERT INTO audit (time, tenant, event, actor, token_id, outcome, details)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &entry.time,
                &entry.tenant,
                &entry.event.as_str(),
                &entry.actor,
                &entry.token_id,
                &outcome_name(entry.outcome),
                &entry.details.to_string(),
            ],
        )
        .await?;
    Ok(())
}

async fn insert_notification(
    client: &impl GenericClient,
    notification: &Notification,
    now: Timestamp,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "INSERT INTO outbox (created_at, tenant, event, token_id, owner, payload, next_attempt_at)
             VALUES ($1, $2, $3, $4, $5, $6, $1)",
            &[
                &now,
                &notification.tenant,
                &notification.event.as_str(),
                &notification.token_id,
                &notification.owner,
                &notification.payload.to_string(),
            ],
        )
        .await?;
    Ok(())
}

/// Writes a change-log entry and announces it, in the caller's transaction. Takes the change
/// lock, held until the transaction ends: call it last in the transaction.
async fn insert_change(
    client: &impl GenericClient,
    at: Timestamp,
    tenant: &str,
    kind: ChangeKind,
    key: &str,
) -> Result<i64, tokio_postgres::Error> {
    client
        .execute("SELECT pg_advisory_xact_lock($1)", &[&CHANGE_LOCK])
        .await?;
    let row = client
        .query_one(
            "INSERT INTO changes (at, tenant, kind, key) VALUES ($1, $2, $3, $4) RETURNING seq",
            &[&at, &tenant, &kind.as_str(), &key],
        )
        .await?;
    let seq: i64 = row.get(0);
    client
        .execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &seq.to_string()])
        .await?;
    Ok(seq)
}

async fn get(
    client: &impl GenericClient,
    tenant: &str,
    id: &str,
) -> Result<Option<TokenRecord>, tokio_postgres::Error> {
    Ok(client
        .query_opt(
            &format!("SELECT {COLUMNS} FROM tokens WHERE tenant = $1 AND id = $2"),
            &[&tenant, &id],
        )
        .await?
        .as_ref()
        .map(record))
}

/// A statement's parameters, numbered as they are added.
#[derive(Default)]
struct Arguments {
    values: Vec<Box<dyn ToSql + Sync + Send>>,
}

impl Arguments {
    /// Adds a value; returns its placeholder (`$n`).
    fn add(&mut self, value: impl ToSql + Sync + Send + 'static) -> String {
        self.values.push(Box::new(value));
        format!("${}", self.values.len())
    }

    fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.values
            .iter()
            .map(|value| &**value as &(dyn ToSql + Sync))
            .collect()
    }
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/database`, or
    /// the key-value form libpq accepts, with `sslmode` and `sslrootcert` as libpq reads them:
    /// see [`tls`]), and brings its schema up to date.
    pub fn connect(url: &str) -> Result<PgStore, StoreError> {
        let shown = redact(url);
        let (url, root_cert) = tls::split_root_cert(url);
        let url = url.as_str();
        let path: std::path::PathBuf = shown.clone().into();
        let open_error = move |source: Box<dyn std::error::Error + Send + Sync>| StoreError::Open {
            path: path.clone(),
            source,
        };
        let mut config =
            tokio_postgres::Config::from_str(url).map_err(|error| open_error(Box::new(error)))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        config.keepalives_idle(Duration::from_secs(10));
        if config.get_application_name().is_none() {
            config.application_name("patrol");
        }
        let tls =
            tls::connector(root_cert.as_deref()).map_err(|problem| open_error(problem.into()))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("patrol-postgres")
            .enable_all()
            .build()
            .map_err(|error| open_error(Box::new(error)))?;
        let manager = Manager::from_config(
            config.clone(),
            tls.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(16)
            .wait_timeout(Some(CONNECT_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|error| open_error(Box::new(error)))?;
        let store = PgStore {
            runtime,
            pool,
            config,
            tls,
            shown,
        };
        store.migrate().map_err(|error| match error {
            StoreError::Unavailable(source) | StoreError::Backend(source) => open_error(source),
            other => other,
        })?;
        Ok(store)
    }

    /// The database's URL, without its password.
    pub fn url(&self) -> &str {
        &self.shown
    }

    /// Runs `work` with the pool on the store's runtime, and waits for it.
    fn run<R>(
        &self,
        work: impl AsyncFnOnce(Pool) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let future = work(self.pool.clone());
        if tokio::runtime::Handle::try_current().is_ok() {
            // Inside an async task, where blocking on another runtime is refused: wait here
            // with a plain executor, the store's runtime driving the connections.
            let _entered = self.runtime.enter();
            futures_executor::block_on(future)
        } else {
            self.runtime.block_on(future)
        }
    }

    fn migrate(&self) -> Result<(), StoreError> {
        self.run(async |pool| {
            let mut client = pool.get().await.map_err(pool_failed)?;
            let transaction = client.transaction().await.map_err(failed)?;
            transaction
                .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
                .await
                .map_err(failed)?;
            // (No "relation already exists, skipping" notices in the log at every start.)
            transaction
                .batch_execute("SET LOCAL client_min_messages = warning")
                .await
                .map_err(failed)?;
            transaction
                .batch_execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (
                         version    INTEGER PRIMARY KEY,
                         applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
                     )",
                )
                .await
                .map_err(failed)?;
            let version: i32 = transaction
                .query_one(
                    "SELECT coalesce(max(version), 0) FROM schema_migrations",
                    &[],
                )
                .await
                .map_err(failed)?
                .get(0);
            let version = usize::try_from(version).unwrap_or(0);
            if version > MIGRATIONS.len() {
                return Err(StoreError::NewerSchema {
                    found: version,
                    known: MIGRATIONS.len(),
                });
            }
            for (index, migration) in MIGRATIONS.iter().enumerate().skip(version) {
                transaction.batch_execute(migration).await.map_err(failed)?;
                let applied = i32::try_from(index + 1).unwrap_or(i32::MAX);
                transaction
                    .execute(
                        "INSERT INTO schema_migrations (version) VALUES ($1)",
                        &[&applied],
                    )
                    .await
                    .map_err(failed)?;
            }
            transaction.commit().await.map_err(failed)
        })
    }

    /// Wakes the receiver whenever a change-log entry is announced, and whenever the listening
    /// connection has been (re)established: notifications sent while it was down are lost, so
    /// the receiver then catches up by reading the log. Wake-ups coalesce; the receiver reads
    /// the log, not the notifications. The listening connection is one of its own, outside the
    /// pool, reconnecting with backoff until the receiver is dropped.
    pub fn subscribe(&self) -> mpsc::Receiver<()> {
        let (wake, woken) = mpsc::sync_channel(1);
        let config = self.config.clone();
        let tls = self.tls.clone();
        self.runtime.spawn(async move {
            let mut backoff = Duration::from_millis(100);
            loop {
                match listen(&config, &tls, &wake).await {
                    Listened::ReceiverGone => return,
                    Listened::Connected => backoff = Duration::from_millis(100),
                    Listened::Failed => {}
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
        });
        woken
    }

    /// Stores a new version of `tenant`'s configuration (already checked by the caller), with
    /// a change-log entry, and returns its version.
    pub fn put_config(
        &self,
        tenant: &str,
        format: &str,
        text: &str,
        actor: &str,
        at: Timestamp,
    ) -> Result<i32, StoreError> {
        let digest = patrol::Digest::of(text.as_bytes()).to_string();
        self.write(async |transaction| {
            let version = next_version(transaction, tenant).await?;
            transaction
                .execute(
                    "INSERT INTO tenant_configs
                           (tenant, version, format, text, deleted, digest, actor, created_at)
                         VALUES ($1, $2, $3, $4, FALSE, $5, $6, $7)",
                    &[&tenant, &version, &format, &text, &digest, &actor, &at],
                )
                .await?;
            insert_change(transaction, at, tenant, ChangeKind::Tenant, "").await?;
            Ok(version)
        })
    }

    /// Records the deletion of `tenant`'s configuration (as a version of its own); returns
    /// whether there was a configuration.
    pub fn delete_config(
        &self,
        tenant: &str,
        actor: &str,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        self.write(async |transaction| {
            let current = current_config(transaction, tenant).await?;
            if current.is_none() {
                return Ok(false);
            }
            let version = next_version(transaction, tenant).await?;
            transaction
                .execute(
                    "INSERT INTO tenant_configs
                           (tenant, version, format, text, deleted, digest, actor, created_at)
                         VALUES ($1, $2, 'toml', '', TRUE, '', $3, $4)",
                    &[&tenant, &version, &actor, &at],
                )
                .await?;
            insert_change(transaction, at, tenant, ChangeKind::Tenant, "").await?;
            Ok(true)
        })
    }

    /// The current configuration of `tenant`, if it has one (not deleted).
    pub fn config(&self, tenant: &str) -> Result<Option<StoredConfig>, StoreError> {
        self.run(async |pool| {
            let client = pool.get().await.map_err(pool_failed)?;
            current_config(&**client, tenant).await.map_err(failed)
        })
    }

    /// The current configuration of every tenant that has one, by tenant.
    pub fn configs(&self) -> Result<Vec<StoredConfig>, StoreError> {
        self.run(async |pool| {
            let client = pool.get().await.map_err(pool_failed)?;
            let rows = client
                .query(
                    "SELECT DISTINCT ON (tenant)
                            tenant, version, format, text, deleted, digest, actor, created_at
                     FROM tenant_configs ORDER BY tenant, version DESC",
                    &[],
                )
                .await
                .map_err(failed)?;
            Ok(rows
                .iter()
                .filter(|row| !row.get::<_, bool>(4))
                .map(stored_config)
                .collect())
        })
    }

    /// Every version of `tenant`'s configuration, oldest first (a deletion has empty text).
    pub fn config_history(&self, tenant: &str) -> Result<Vec<StoredConfig>, StoreError> {
        self.run(async |pool| {
            let client = pool.get().await.map_err(pool_failed)?;
            let rows = client
                .query(
                    "SELECT tenant, version, format, text, deleted, digest, actor, created_at
                     FROM tenant_configs WHERE tenant = $1 ORDER BY version",
                    &[&tenant],
                )
                .await
                .map_err(failed)?;
            Ok(rows.iter().map(stored_config).collect())
        })
    }

    /// Stores a component's bytes under `digest` (`sha256:<hex>`, which the caller computed);
    /// storing the same bytes again changes nothing.
    pub fn put_component(
        &self,
        digest: &str,
        bytes: &[u8],
        at: Timestamp,
    ) -> Result<(), StoreError> {
        self.write(async |transaction| {
            let inserted = transaction
                .execute(
                    "INSERT INTO components (digest, bytes, created_at) VALUES ($1, $2, $3)
                         ON CONFLICT (digest) DO NOTHING",
                    &[&digest, &bytes, &at],
                )
                .await?;
            if inserted > 0 {
                insert_change(transaction, at, "", ChangeKind::Component, digest).await?;
            }
            Ok(())
        })
    }

    /// The bytes of the component `digest`.
    pub fn component(&self, digest: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.run(async |pool| {
            let client = pool.get().await.map_err(pool_failed)?;
            Ok(client
                .query_opt("SELECT bytes FROM components WHERE digest = $1", &[&digest])
                .await
                .map_err(failed)?
                .map(|row| row.get(0)))
        })
    }

    /// The digests of every stored component.
    pub fn component_digests(&self) -> Result<Vec<String>, StoreError> {
        self.run(async |pool| {
            let client = pool.get().await.map_err(pool_failed)?;
            Ok(client
                .query("SELECT digest FROM components ORDER BY digest", &[])
                .await
                .map_err(failed)?
                .iter()
                .map(|row| row.get(0))
                .collect())
        })
    }

    /// Writes every stored component that `folder` lacks into it, as `sha256-<hex>.wasm`
    /// (where the engine finds components named by digest), each checked against its digest
    /// (one that does not match is left out, and logged). Returns the digests written.
    pub fn fetch_components(&self, folder: &std::path::Path) -> Result<Vec<String>, StoreError> {
        let mut written = Vec::new();
        for digest in self.component_digests()? {
            let Some(parsed) = patrol::Digest::parse(&digest) else {
                continue;
            };
            let path = folder.join(parsed.file_name());
            if path.exists() {
                continue;
            }
            let Some(bytes) = self.component(&digest)? else {
                continue;
            };
            if patrol::Digest::of(&bytes) != parsed {
                tracing::error!(%digest, "a stored component does not match its digest; not used");
                continue;
            }
            patrol::files::write_atomically(&path, &bytes)
                .map_err(|source| StoreError::WriteFile { path, source })?;
            written.push(digest);
        }
        Ok(written)
    }

    /// Records that replica `id` is alive and has applied the change log up to `applied`.
    pub fn heartbeat(&self, id: &str, applied: i64, at_ms: i64) -> Result<(), StoreError> {
        self.run(async |pool| {
            let client = pool.get().await.map_err(pool_failed)?;
            let statement = client
                .prepare_cached(
                    "INSERT INTO replicas (id, heartbeat_at, applied_seq, started_at)
                     VALUES ($1, $2, $3, $2)
                     ON CONFLICT (id) DO UPDATE
                       SET heartbeat_at = excluded.heartbeat_at,
                           applied_seq = excluded.applied_seq",
                )
                .await
                .map_err(failed)?;
            client
                .execute(&statement, &[&id, &at_ms, &applied])
                .await
                .map_err(failed)?;
            Ok(())
        })
    }

    /// The replicas that reported at or after `since_ms` (Unix milliseconds).
    pub fn live_replicas(&self, since_ms: i64) -> Result<Vec<ReplicaStatus>, StoreError> {
        self.run(async |pool| {
            let client = pool.get().await.map_err(pool_failed)?;
            Ok(client
                .query(
                    "SELECT id, heartbeat_at, applied_seq FROM replicas
                     WHERE heartbeat_at >= $1 ORDER BY id",
                    &[&since_ms],
                )
                .await
                .map_err(failed)?
                .iter()
                .map(|row| ReplicaStatus {
                    id: row.get(0),
                    heartbeat_at_ms: row.get(1),
                    applied_seq: row.get(2),
                })
                .collect())
        })
    }

    /// Forgets replicas that have not reported since `before_ms`.
    pub fn forget_replicas(&self, before_ms: i64) -> Result<u64, StoreError> {
        self.run(async |pool| {
            let client = pool.get().await.map_err(pool_failed)?;
            client
                .execute(
                    "DELETE FROM replicas WHERE heartbeat_at < $1",
                    &[&before_ms],
                )
                .await
                .map_err(failed)
        })
    }

    /// Copies rows into the tables the SQLite store also has, as they are (tokens with their
    /// hashes, audit, outbox, expiry notices, groups), in one transaction: what `patrol store
    /// copy` moves. Fails if any of those tables already holds rows, so that nothing is mixed.
    pub fn import(&self, rows: &super::copy::Rows) -> Result<(), StoreError> {
        self.write(async |transaction| copy::insert_all(transaction, rows).await)
    }

    /// Counts and digests of the tables `import` fills, to check a copy.
    pub fn export(&self) -> Result<super::copy::Rows, StoreError> {
        self.run(async |pool| {
            let client = pool.get().await.map_err(pool_failed)?;
            copy::select_all(&**client).await.map_err(failed)
        })
    }

    /// The SCIM resource of the tenant whose `column` (`id` or `name_key`) is `value`.
    fn scim_one(
        &self,
        tenant: &str,
        kind: ScimKind,
        column: &str,
        value: &str,
    ) -> Result<Option<ScimRecord>, StoreError> {
        let row = self.read(async |client| {
            client
                .query_opt(
                    &format!(
                        "SELECT {SCIM_COLUMNS} FROM scim_resources
                         WHERE tenant = $1 AND kind = $2 AND {column} = $3"
                    ),
                    &[&tenant, &kind.as_str(), &value],
                )
                .await
        })?;
        row.as_ref().map(scim_record).transpose()
    }

    /// Runs `work` in a transaction, committed if it succeeds.
    fn write<R>(
        &self,
        work: impl AsyncFnOnce(&tokio_postgres::Transaction<'_>) -> Result<R, tokio_postgres::Error>,
    ) -> Result<R, StoreError> {
        self.run(async |pool| {
            let mut client = pool.get().await.map_err(pool_failed)?;
            let transaction = client.transaction().await.map_err(failed)?;
            let result = work(&*transaction).await.map_err(failed)?;
            transaction.commit().await.map_err(failed)?;
            Ok(result)
        })
    }

    /// Runs queries with a connection from the pool.
    fn read<R>(
        &self,
        work: impl AsyncFnOnce(&deadpool_postgres::ClientWrapper) -> Result<R, tokio_postgres::Error>,
    ) -> Result<R, StoreError> {
        self.run(async |pool| {
            let client = pool.get().await.map_err(pool_failed)?;
            work(&*client).await.map_err(failed)
        })
    }
}

enum Listened {
    /// It was connected and listening, then the connection ended.
    Connected,
    /// It could not connect.
    Failed,
    /// Nobody is waiting any more.
    ReceiverGone,
}

/// Listens on one connection until it ends, waking `wake` on each notification and once when
/// listening starts.
async fn listen(
    config: &tokio_postgres::Config,
    tls: &tokio_postgres_rustls::MakeRustlsConnect,
    wake: &mpsc::SyncSender<()>,
) -> Listened {
    use futures_util::StreamExt as _;
    let Ok((client, mut connection)) = config.connect(tls.clone()).await else {
        return Listened::Failed;
    };
    let (notified, mut notifications) = tokio::sync::mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(_)) => {
                    if notified.send(()).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(_) => return,
            }
        }
    });
    if client
        .batch_execute(&format!("LISTEN {CHANNEL}"))
        .await
        .is_err()
    {
        driver.abort();
        return Listened::Failed;
    }
    // Caught up from here on: whatever was announced while not listening is in the log.
    loop {
        match wake.try_send(()) {
            Ok(()) | Err(mpsc::TrySendError::Full(())) => {}
            Err(mpsc::TrySendError::Disconnected(())) => {
                driver.abort();
                return Listened::ReceiverGone;
            }
        }
        if notifications.recv().await.is_none() {
            // The connection ended.
            return Listened::Connected;
        }
    }
}

async fn next_version(
    client: &impl GenericClient,
    tenant: &str,
) -> Result<i32, tokio_postgres::Error> {
    // Two writers of the same tenant conflict on the primary key; the loser fails cleanly.
    Ok(client
        .query_one(
            "SELECT coalesce(max(version), 0) + 1 FROM tenant_configs WHERE tenant = $1",
            &[&tenant],
        )
        .await?
        .get(0))
}

async fn current_config(
    client: &impl GenericClient,
    tenant: &str,
) -> Result<Option<StoredConfig>, tokio_postgres::Error> {
    Ok(client
        .query_opt(
            "SELECT tenant, version, format, text, deleted, digest, actor, created_at
             FROM tenant_configs WHERE tenant = $1 ORDER BY version DESC LIMIT 1",
            &[&tenant],
        )
        .await?
        .filter(|row| !row.get::<_, bool>(4))
        .as_ref()
        .map(stored_config))
}

/// `url` without its password.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme + 3],
                    &credentials[..colon],
                    &url[at..]
                ),
                None => url.to_string(),
            }
        }
        _ => url
            .split_whitespace()
            .map(|pair| {
                if pair.starts_with("password=") {
                    "password=***"
                } else {
                    pair
                }
            })
            .collect::<Vec<_>>()
            .join(" "),
    }
}

impl TokenStore for PgStore {
    fn create(
        &self,
        token: &TokenRecord,
        hash: &SecretHash,
        audit: &AuditEntry,
        notification: &Notification,
    ) -> Result<(), StoreError> {
        let stored = self.write(async |transaction| {
            // Under the tenant's SCIM lock, as a deprovisioning is: one or the other first.
            transaction
                .execute(
                    "SELECT pg_advisory_xact_lock($1, hashtext($2))",
                    &[&SCIM_LOCK, &token.tenant],
                )
                .await?;
            let deprovisioned = transaction
                .query_opt(
                    "SELECT 1 FROM deprovisioned_users WHERE tenant = $1 AND user_id = $2",
                    &[&token.tenant, &token.owner],
                )
                .await?
                .is_some();
            if deprovisioned {
                return Ok(false);
            }
            insert_token(transaction, token, &hash.0).await?;
            insert_audit(transaction, audit).await?;
            insert_notification(transaction, notification, token.created_at).await?;
            Ok(true)
        })?;
        if stored {
            Ok(())
        } else {
            Err(StoreError::Deprovisioned(token.owner.clone()))
        }
    }

    fn regenerate(
        &self,
        tenant: &str,
        id: &str,
        hash: &SecretHash,
        valid_from: Timestamp,
        valid_to: Timestamp,
        audit: &AuditEntry,
        notification: &Notification,
    ) -> Result<Option<TokenRecord>, StoreError> {
        let hash = hash.0.to_vec();
        self.write(async |transaction| {
            let changed = transaction
                .execute(
                    "UPDATE tokens SET secret_hash = $3, valid_from = $4, valid_to = $5
                         WHERE tenant = $1 AND id = $2 AND revoked_at IS NULL",
                    &[&tenant, &id, &hash, &valid_from, &valid_to],
                )
                .await?;
            if changed == 0 {
                return Ok(None);
            }
            insert_audit(transaction, audit).await?;
            insert_notification(transaction, notification, audit.time).await?;
            // A new lifetime deserves a new "expires soon" notice.
            transaction
                .execute("DELETE FROM expiry_notices WHERE token_id = $1", &[&id])
                .await?;
            let token = get(transaction, tenant, id).await?;
            insert_change(transaction, audit.time, tenant, ChangeKind::Token, id).await?;
            Ok(token)
        })
    }

    fn revoke(
        &self,
        tenant: &str,
        id: &str,
        at: Timestamp,
        reason: &str,
        audit: &[AuditEntry],
        notifications: &[Notification],
    ) -> Result<Option<TokenRecord>, StoreError> {
        self.write(async |transaction| {
            let changed = transaction
                .execute(
                    "UPDATE tokens SET revoked_at = $3, revocation_reason = $4
                         WHERE tenant = $1 AND id = $2 AND revoked_at IS NULL",
                    &[&tenant, &id, &at, &reason],
                )
                .await?;
            let token = get(transaction, tenant, id).await?;
            if changed > 0 {
                for entry in audit {
                    insert_audit(transaction, entry).await?;
                }
                for notification in notifications {
                    insert_notification(transaction, notification, at).await?;
                }
                insert_change(transaction, at, tenant, ChangeKind::Token, id).await?;
            }
            Ok(token)
        })
    }

    fn get(&self, tenant: &str, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        self.read(async |client| async move { get(&**client, tenant, id).await }.await)
    }

    fn find(&self, hash: &SecretHash) -> Result<Option<TokenRecord>, StoreError> {
        let presented = *hash;
        let found = self.read(async |client| {
            // The gateway path runs this on every cache miss: keep the statement prepared.
            let statement = client
                .prepare_cached(&format!(
                    "SELECT {COLUMNS}, secret_hash FROM tokens WHERE secret_hash = $1"
                ))
                .await?;
            let hash = presented.0.to_vec();
            Ok(client
                .query_opt(&statement, &[&hash])
                .await?
                .map(|row| (record(&row), row.get::<_, Vec<u8>>(15))))
        })?;
        Ok(found.and_then(|(token, stored)| {
            let stored = SecretHash(stored.try_into().ok()?);
            stored.matches(&presented).then_some(token)
        }))
    }

    fn list(
        &self,
        tenant: &str,
        query: &TokenQuery,
        now: Timestamp,
    ) -> Result<Page<TokenRecord>, StoreError> {
        let after = query
            .continuation
            .as_deref()
            .map(|text| Continuation::decode(text, query))
            .transpose()?;
        let mut args = Arguments::default();
        let mut conditions = vec![format!("tenant = {}", args.add(tenant.to_string()))];
        if let Some(owner) = &query.owner {
            conditions.push(format!("owner = {}", args.add(owner.clone())));
        }
        let uses_now = matches!(query.filter, TokenFilter::Active | TokenFilter::Expired)
            || query.order == TokenOrder::Status;
        let now_arg = if uses_now {
            args.add(now)
        } else {
            String::new()
        };
        match query.filter {
            TokenFilter::Active => {
                conditions.push(format!("revoked_at IS NULL AND valid_to > {now_arg}"))
            }
            TokenFilter::Revoked => conditions.push("revoked_at IS NOT NULL".to_string()),
            TokenFilter::Expired => {
                conditions.push(format!("revoked_at IS NULL AND valid_to <= {now_arg}"))
            }
            TokenFilter::All => {}
        }
        // The sort key, then creation and id, so that every token has one place in the order.
        // Text compares byte by byte (COLLATE "C"), as SQLite compares it, whatever the
        // database's locale.
        let key = match query.order {
            TokenOrder::DisplayDate => None,
            TokenOrder::DisplayName => Some(r#"lower(display_name) COLLATE "C""#.to_string()),
            TokenOrder::Status => Some(format!(
                "(CASE WHEN revoked_at IS NOT NULL THEN 2 WHEN valid_to <= {now_arg} THEN 1 \
                 ELSE 0 END)::bigint"
            )),
        };
        let (direction, beyond) = if query.ascending {
            ("ASC", ">")
        } else {
            ("DESC", "<")
        };
        if let Some(after) = &after {
            let created = args.add(after.created_at);
            let id = args.add(after.id.clone());
            let resume = match (&key, &after.key) {
                (Some(key), serde_json::Value::String(text)) => {
                    let value = args.add(text.clone());
                    format!(
                        "({key}, created_at, id COLLATE \"C\") {beyond} ({value}, {created}, {id})"
                    )
                }
                (Some(key), value) => {
                    let value = args.add(value.as_i64().unwrap_or_default());
                    format!(
                        "({key}, created_at, id COLLATE \"C\") {beyond} ({value}, {created}, {id})"
                    )
                }
                (None, _) => format!("(created_at, id COLLATE \"C\") {beyond} ({created}, {id})"),
            };
            conditions.push(resume);
        }
        let limit_rows = query.limit.max(1);
        let fetch = args.add(limit(limit_rows.saturating_add(1)));
        let (key_column, sort_key) = match &key {
            Some(key) => (format!("{key}::text"), format!("{key} {direction}, ")),
            None => ("''".to_string(), String::new()),
        };
        let sql = format!(
            "SELECT {COLUMNS}, {key_column} FROM tokens WHERE {}
             ORDER BY {sort_key}created_at {direction}, id COLLATE \"C\" {direction} LIMIT {fetch}",
            conditions.join(" AND ")
        );
        let mut rows = self.run(async |pool| {
            let client = pool.get().await.map_err(pool_failed)?;
            let rows = client.query(&sql, &args.refs()).await.map_err(failed)?;
            Ok(rows
                .iter()
                .map(|row| (record(row), row.get::<_, String>(15)))
                .collect::<Vec<_>>())
        })?;
        let continuation = if rows.len() > limit_rows {
            rows.truncate(limit_rows);
            rows.last().map(|(last, key)| {
                let key = match query.order {
                    TokenOrder::DisplayDate => serde_json::Value::from(0),
                    TokenOrder::DisplayName => serde_json::Value::String(key.clone()),
                    TokenOrder::Status => serde_json::Value::from(key.parse::<i64>().unwrap_or(0)),
                };
                Continuation {
                    order: query.order,
                    ascending: query.ascending,
                    key,
                    created_at: last.created_at,
                    id: last.id.clone(),
                }
                .encode()
            })
        } else {
            None
        };
        Ok(Page {
            items: rows.into_iter().map(|(token, _)| token).collect(),
            continuation,
        })
    }

    fn retire_tenant(
        &self,
        tenant: &str,
        at: Timestamp,
        reason: &str,
        retired: &dyn Fn(&TokenRecord) -> (AuditEntry, Notification),
    ) -> Result<usize, StoreError> {
        self.write(async |transaction| {
            // Locked as read, so that nothing revokes or regenerates them meanwhile.
            let unrevoked: Vec<TokenRecord> = transaction
                .query(
                    &format!(
                        "SELECT {COLUMNS} FROM tokens WHERE tenant = $1 AND revoked_at IS NULL
                         FOR UPDATE"
                    ),
                    &[&tenant],
                )
                .await?
                .iter()
                .map(record)
                .collect();
            for token in &unrevoked {
                transaction
                    .execute(
                        "UPDATE tokens SET revoked_at = $2, revocation_reason = $3 WHERE id = $1",
                        &[&token.id, &at, &reason],
                    )
                    .await?;
                let (entry, notification) = retired(token);
                insert_audit(transaction, &entry).await?;
                insert_notification(transaction, &notification, at).await?;
            }
            for table in RETIRED_WITH_TENANT {
                transaction
                    .execute(
                        &format!("DELETE FROM {table} WHERE tenant = $1"),
                        &[&tenant],
                    )
                    .await?;
            }
            insert_change(transaction, at, tenant, ChangeKind::Tenant, "").await?;
            Ok(unrevoked.len())
        })
    }

    fn record_uses(&self, uses: &[TokenUse]) -> Result<(), StoreError> {
        if uses.is_empty() {
            return Ok(());
        }
        // One statement for the batch; uses never notify.
        let ids: Vec<&str> = uses.iter().map(|u| u.token_id.as_str()).collect();
        let ats: Vec<i64> = uses.iter().map(|u| u.at).collect();
        let agents: Vec<Option<&str>> = uses.iter().map(|u| u.user_agent.as_deref()).collect();
        let addresses: Vec<Option<&str>> = uses.iter().map(|u| u.address.as_deref()).collect();
        self.write(async |transaction| {
                transaction
                    .execute(
                        "UPDATE tokens AS t
                         SET last_used_at = u.at, last_user_agent = u.agent, last_address = u.address
                         FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[])
                              AS u(id, at, agent, address)
                         WHERE t.id = u.id AND (t.last_used_at IS NULL OR t.last_used_at <= u.at)",
                        &[&ids, &ats, &agents, &addresses],
                    )
                    .await?;
                Ok(())
            })
    }

    fn audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        self.write(async |transaction| insert_audit(transaction, entry).await)
    }

    fn audit_log(&self, tenant: &str, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        let mut args = Arguments::default();
        let mut conditions = vec![format!("tenant = {}", args.add(tenant.to_string()))];
        if let Some(since) = query.since {
            conditions.push(format!("time >= {}", args.add(since)));
        }
        if let Some(until) = query.until {
            conditions.push(format!("time < {}", args.add(until)));
        }
        if let Some(event) = query.event {
            conditions.push(format!("event = {}", args.add(event.as_str())));
        }
        let sql = format!(
            "SELECT time, tenant, event, actor, token_id, outcome, details FROM audit
             WHERE {} ORDER BY time DESC, seq DESC LIMIT {}",
            conditions.join(" AND "),
            args.add(limit(query.limit))
        );
        let rows = self.run(async |pool| {
            let client = pool.get().await.map_err(pool_failed)?;
            client.query(&sql, &args.refs()).await.map_err(failed)
        })?;
        rows.iter()
            .map(|row| {
                let event: String = row.get(2);
                let outcome: String = row.get(5);
                let details: String = row.get(6);
                Ok(AuditEntry {
                    time: row.get(0),
                    tenant: row.get(1),
                    event: AuditEvent::parse(&event).ok_or_else(|| {
                        StoreError::Unreadable(format!("unknown audit event `{event}`"))
                    })?,
                    actor: row.get(3),
                    token_id: row.get(4),
                    outcome: serde_json::from_value(serde_json::Value::String(outcome))
                        .map_err(|error| StoreError::Unreadable(error.to_string()))?,
                    details: serde_json::from_str(&details).unwrap_or(serde_json::Value::Null),
                })
            })
            .collect()
    }

    fn audit_and_notify(
        &self,
        entry: &AuditEntry,
        notification: &Notification,
    ) -> Result<(), StoreError> {
        self.write(async |transaction| {
            insert_audit(transaction, entry).await?;
            insert_notification(transaction, notification, entry.time).await
        })
    }

    fn notify(&self, notification: &Notification) -> Result<(), StoreError> {
        let now = patrol::timestamp::now();
        self.write(async |transaction| insert_notification(transaction, notification, now).await)
    }

    fn notify_expiring(
        &self,
        now: Timestamp,
        before: Timestamp,
        payload: &dyn Fn(&TokenRecord) -> serde_json::Value,
    ) -> Result<usize, StoreError> {
        let due: Vec<TokenRecord> = self.read(async |client| {
            Ok(client
                .query(
                    &format!(
                        "SELECT {COLUMNS} FROM tokens
                             WHERE revoked_at IS NULL AND valid_to > $1 AND valid_to <= $2
                               AND id NOT IN (SELECT token_id FROM expiry_notices)"
                    ),
                    &[&now, &before],
                )
                .await?
                .iter()
                .map(record)
                .collect())
        })?;
        if due.is_empty() {
            return Ok(0);
        }
        let notifications: Vec<Notification> = due
            .iter()
            .map(|token| Notification {
                tenant: token.tenant.clone(),
                event: NotificationEvent::ExpiringSoon,
                token_id: Some(token.id.clone()),
                owner: Some(token.owner.clone()),
                payload: payload(token),
            })
            .collect();
        self.write(async |transaction| {
            let mut queued = 0;
            for notification in &notifications {
                // Of several replicas doing this at once, one inserts the notice (the
                // others wait on its row, then find it there) and only that one queues
                // the notification.
                let claimed = transaction
                    .execute(
                        "INSERT INTO expiry_notices (token_id, notified_at) VALUES ($1, $2)
                             ON CONFLICT (token_id) DO NOTHING",
                        &[&notification.token_id, &now],
                    )
                    .await?;
                if claimed > 0 {
                    insert_notification(transaction, notification, now).await?;
                    queued += 1;
                }
            }
            Ok(queued)
        })
    }

    fn claim_notifications(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit_rows: usize,
    ) -> Result<Vec<PendingNotification>, StoreError> {
        let fetch = limit(limit_rows);
        let mut claimed = self.write(async |transaction| {
            // Rows another worker is claiming right now are skipped, not waited for.
            Ok(transaction
                .query(
                    "UPDATE outbox SET next_attempt_at = $2
                         WHERE seq IN (
                             SELECT seq FROM outbox
                             WHERE delivered_at IS NULL AND next_attempt_at <= $1
                             ORDER BY seq LIMIT $3
                             FOR UPDATE SKIP LOCKED)
                         RETURNING seq, attempts, tenant, event, token_id, owner, payload",
                    &[&now, &lease_until, &fetch],
                )
                .await?
                .iter()
                .map(pending_notification)
                .collect::<Vec<_>>())
        })?;
        claimed.sort_by_key(|pending| pending.seq);
        Ok(claimed)
    }

    fn delivered(&self, seq: i64, at: Timestamp) -> Result<(), StoreError> {
        self.write(async |transaction| {
            transaction
                .execute(
                    "UPDATE outbox SET delivered_at = $2, attempts = attempts + 1,
                                last_error = NULL
                         WHERE seq = $1",
                    &[&seq, &at],
                )
                .await?;
            Ok(())
        })
    }

    fn delivery_failed(
        &self,
        seq: i64,
        error: &str,
        next_attempt_at: Timestamp,
    ) -> Result<(), StoreError> {
        self.write(async |transaction| {
            transaction
                .execute(
                    "UPDATE outbox SET attempts = attempts + 1, last_error = $2,
                                next_attempt_at = $3
                         WHERE seq = $1",
                    &[&seq, &error, &next_attempt_at],
                )
                .await?;
            Ok(())
        })
    }

    fn set_group(&self, tenant: &str, group: &str, members: &[String]) -> Result<(), StoreError> {
        self.write(async |transaction| {
            transaction
                .execute(
                    "DELETE FROM group_members WHERE tenant = $1 AND group_id = $2",
                    &[&tenant, &group],
                )
                .await?;
            transaction
                .execute(
                    "INSERT INTO group_members (tenant, group_id, user_id)
                         SELECT $1, $2, member FROM unnest($3::text[]) AS member
                         ON CONFLICT DO NOTHING",
                    &[&tenant, &group, &members],
                )
                .await?;
            insert_change(
                transaction,
                patrol::timestamp::now(),
                tenant,
                ChangeKind::Group,
                group,
            )
            .await?;
            Ok(())
        })
    }

    fn delete_group(&self, tenant: &str, group: &str) -> Result<bool, StoreError> {
        self.write(async |transaction| {
            let deleted = transaction
                .execute(
                    "DELETE FROM group_members WHERE tenant = $1 AND group_id = $2",
                    &[&tenant, &group],
                )
                .await?
                > 0;
            if deleted {
                insert_change(
                    transaction,
                    patrol::timestamp::now(),
                    tenant,
                    ChangeKind::Group,
                    group,
                )
                .await?;
            }
            Ok(deleted)
        })
    }

    fn groups(&self, tenant: &str) -> Result<Vec<(String, Vec<String>)>, StoreError> {
        let rows: Vec<(String, String)> = self.read(async |client| {
            Ok(client
                .query(
                    r#"SELECT group_id, user_id FROM group_members WHERE tenant = $1
                           ORDER BY group_id COLLATE "C", user_id COLLATE "C""#,
                    &[&tenant],
                )
                .await?
                .iter()
                .map(|row| (row.get(0), row.get(1)))
                .collect())
        })?;
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        for (group, user) in rows {
            match groups.last_mut() {
                Some((last, members)) if *last == group => members.push(user),
                _ => groups.push((group, vec![user])),
            }
        }
        Ok(groups)
    }

    fn groups_of(&self, tenant: &str, user: &str) -> Result<Vec<String>, StoreError> {
        self.read(async |client| {
            let statement = client
                .prepare_cached(
                    r#"SELECT group_id FROM group_members WHERE tenant = $1 AND user_id = $2
                           ORDER BY group_id COLLATE "C""#,
                )
                .await?;
            Ok(client
                .query(&statement, &[&tenant, &user])
                .await?
                .iter()
                .map(|row| row.get(0))
                .collect())
        })
    }

    fn changes_since(&self, after: i64, limit_rows: usize) -> Result<Vec<Change>, StoreError> {
        let fetch = limit(limit_rows);
        let rows: Vec<(i64, String, String, String)> = self.read(async |client| {
            let statement = client
                .prepare_cached(
                    "SELECT seq, tenant, kind, key FROM changes WHERE seq > $1
                         ORDER BY seq LIMIT $2",
                )
                .await?;
            Ok(client
                .query(&statement, &[&after, &fetch])
                .await?
                .iter()
                .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3)))
                .collect())
        })?;
        rows.into_iter()
            .map(|(seq, tenant, kind, key)| {
                Ok(Change {
                    seq,
                    tenant,
                    kind: ChangeKind::parse(&kind).ok_or_else(|| {
                        StoreError::Unreadable(format!("unknown change kind `{kind}`"))
                    })?,
                    key,
                })
            })
            .collect()
    }

    fn last_change(&self) -> Result<i64, StoreError> {
        self.read(async |client| {
            Ok(client
                .query_one("SELECT coalesce(max(seq), 0) FROM changes", &[])
                .await?
                .get(0))
        })
    }

    fn prune(
        &self,
        changes_before: Timestamp,
        delivered_before: Timestamp,
    ) -> Result<Option<Pruned>, StoreError> {
        self.write(async |transaction| {
            let claimed: bool = transaction
                .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&RETENTION_LOCK])
                .await?
                .get(0);
            if !claimed {
                return Ok(None);
            }
            let upto: Option<i64> = transaction
                .query_one(
                    "SELECT max(seq) FROM changes
                     WHERE at < $1 AND seq < (SELECT max(seq) FROM changes)",
                    &[&changes_before],
                )
                .await?
                .get(0);
            let mut pruned = Pruned::default();
            if let Some(upto) = upto {
                // The marker first: a follower that reads it after this commits starts afresh.
                transaction
                    .execute(
                        "UPDATE change_log_pruned SET upto = greatest(upto, $1)",
                        &[&upto],
                    )
                    .await?;
                pruned.changes = transaction
                    .execute("DELETE FROM changes WHERE seq <= $1", &[&upto])
                    .await?;
            }
            pruned.notifications = transaction
                .execute(
                    "DELETE FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at < $1",
                    &[&delivered_before],
                )
                .await?;
            Ok(Some(pruned))
        })
    }

    fn pruned_upto(&self) -> Result<i64, StoreError> {
        self.read(async |client| {
            let statement = client
                .prepare_cached("SELECT upto FROM change_log_pruned")
                .await?;
            Ok(client.query_one(&statement, &[]).await?.get(0))
        })
    }

    fn create_credential(
        &self,
        credential: &CredentialRecord,
        hash: &SecretHash,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let hash = hash.0.to_vec();
        self.write(async |transaction| {
            transaction
                .execute(
                    "INSERT INTO credentials (id, tenant, name, role, secret_hash, created_at,
                         created_by)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    &[
                        &credential.id,
                        &credential.tenant,
                        &credential.name,
                        &credential.role.as_str(),
                        &hash,
                        &credential.created_at,
                        &credential.created_by,
                    ],
                )
                .await?;
            insert_audit(transaction, audit).await
        })
    }

    fn find_credential(&self, hash: &SecretHash) -> Result<Option<CredentialRecord>, StoreError> {
        let presented = hash.0.to_vec();
        let found = self.read(async |client| {
            let statement = client
                .prepare_cached(&format!(
                    "SELECT {CREDENTIAL_COLUMNS}, secret_hash FROM credentials
                     WHERE secret_hash = $1"
                ))
                .await?;
            Ok(client
                .query_opt(&statement, &[&presented])
                .await?
                .map(|row| (credential(&row), row.get::<_, Vec<u8>>(9))))
        })?;
        let Some((credential, stored)) = found else {
            return Ok(None);
        };
        let credential = credential?;
        let matches = <[u8; 32]>::try_from(stored)
            .ok()
            .is_some_and(|stored| SecretHash(stored).matches(hash));
        Ok(matches.then_some(credential))
    }

    fn credentials(&self, tenant: Option<&str>) -> Result<Vec<CredentialRecord>, StoreError> {
        let rows = self.read(async |client| {
            client
                .query(
                    &format!(
                        r#"SELECT {CREDENTIAL_COLUMNS} FROM credentials
                           WHERE $1::text IS NULL OR tenant = $1
                           ORDER BY created_at, id COLLATE "C""#
                    ),
                    &[&tenant],
                )
                .await
        })?;
        rows.iter().map(credential).collect()
    }

    fn change_credential(
        &self,
        id: &str,
        change: CredentialChange,
        at: Timestamp,
        audit: Option<&AuditEntry>,
    ) -> Result<Option<CredentialRecord>, StoreError> {
        let row = self.write(async |transaction| {
            let changed = match change {
                CredentialChange::Rotate(hash) => {
                    transaction
                        .execute(
                            "UPDATE credentials SET secret_hash = $2, rotated_at = $3
                             WHERE id = $1 AND revoked_at IS NULL",
                            &[&id, &hash.0.to_vec(), &at],
                        )
                        .await?
                }
                CredentialChange::Revoke => {
                    transaction
                        .execute(
                            "UPDATE credentials SET revoked_at = $2
                             WHERE id = $1 AND revoked_at IS NULL",
                            &[&id, &at],
                        )
                        .await?
                }
                CredentialChange::Used => {
                    transaction
                        .execute(
                            "UPDATE credentials SET last_used_at = $2
                             WHERE id = $1 AND revoked_at IS NULL",
                            &[&id, &at],
                        )
                        .await?
                }
            };
            if changed > 0
                && let Some(entry) = audit
            {
                insert_audit(transaction, entry).await?;
            }
            transaction
                .query_opt(
                    &format!("SELECT {CREDENTIAL_COLUMNS} FROM credentials WHERE id = $1"),
                    &[&id],
                )
                .await
        })?;
        row.as_ref().map(credential).transpose()
    }

    fn scim_get(
        &self,
        tenant: &str,
        kind: ScimKind,
        id: &str,
    ) -> Result<Option<ScimRecord>, StoreError> {
        self.scim_one(tenant, kind, "id", id)
    }

    fn scim_named(
        &self,
        tenant: &str,
        kind: ScimKind,
        name: &str,
    ) -> Result<Option<ScimRecord>, StoreError> {
        self.scim_one(tenant, kind, "name_key", &name.to_lowercase())
    }

    fn scim_list(&self, tenant: &str, kind: ScimKind) -> Result<Vec<ScimRecord>, StoreError> {
        let rows = self.read(async |client| {
            client
                .query(
                    &format!(
                        r#"SELECT {SCIM_COLUMNS} FROM scim_resources
                           WHERE tenant = $1 AND kind = $2 ORDER BY created_at, id COLLATE "C""#
                    ),
                    &[&tenant, &kind.as_str()],
                )
                .await
        })?;
        rows.iter().map(scim_record).collect()
    }

    fn scim_apply(
        &self,
        write: &ScimWrite,
        revoked: &dyn Fn(&TokenRecord) -> (AuditEntry, Notification),
    ) -> Result<Result<usize, ScimConflict>, StoreError> {
        let tenant = write.tenant.as_str();
        let at = write.at;
        self.write(async |transaction| {
            transaction
                .execute(
                    "SELECT pg_advisory_xact_lock($1, hashtext($2))",
                    &[&SCIM_LOCK, &tenant],
                )
                .await?;
            let version = async |kind: ScimKind, id: &str| {
                transaction
                    .query_opt(
                        "SELECT version FROM scim_resources
                         WHERE tenant = $1 AND kind = $2 AND id = $3",
                        &[&tenant, &kind.as_str(), &id],
                    )
                    .await
                    .map(|row| row.map(|row| row.get::<_, i64>(0)))
            };
            for (record, expected) in &write.put {
                if version(record.kind, &record.id).await? != *expected {
                    return Ok(Err(ScimConflict::Changed));
                }
                let holder = transaction
                    .query_opt(
                        "SELECT id FROM scim_resources
                         WHERE tenant = $1 AND kind = $2 AND name_key = $3",
                        &[&tenant, &record.kind.as_str(), &record.name.to_lowercase()],
                    )
                    .await?
                    .map(|row| row.get::<_, String>(0));
                if holder.is_some_and(|holder| holder != record.id) {
                    return Ok(Err(ScimConflict::NameTaken(record.name.clone())));
                }
            }
            if let Some((kind, id, expected)) = &write.delete
                && version(*kind, id).await? != Some(*expected)
            {
                return Ok(Err(ScimConflict::Changed));
            }
            for (kind, id, expected) in &write.read {
                if version(*kind, id).await? != *expected {
                    return Ok(Err(ScimConflict::Changed));
                }
            }
            for (record, _) in &write.put {
                transaction
                    .execute(
                        "INSERT INTO scim_resources (tenant, kind, id, name, name_key,
                             external_id, active, document, version, created_at, modified_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                         ON CONFLICT (tenant, kind, id) DO UPDATE SET name = excluded.name,
                             name_key = excluded.name_key, external_id = excluded.external_id,
                             active = excluded.active, document = excluded.document,
                             version = excluded.version, modified_at = excluded.modified_at",
                        &[
                            &record.tenant,
                            &record.kind.as_str(),
                            &record.id,
                            &record.name,
                            &record.name.to_lowercase(),
                            &record.external_id,
                            &record.active,
                            &record.document.to_string(),
                            &record.version,
                            &record.created_at,
                            &record.modified_at,
                        ],
                    )
                    .await?;
            }
            if let Some((kind, id, _)) = &write.delete {
                transaction
                    .execute(
                        "DELETE FROM scim_resources WHERE tenant = $1 AND kind = $2 AND id = $3",
                        &[&tenant, &kind.as_str(), id],
                    )
                    .await?;
            }
            let mut changes = Vec::new();
            for (group, members) in &write.groups {
                let members: Vec<String> = members.clone().unwrap_or_default();
                // The identity provider's group takes over the directory's group of the same
                // name in any case (allowlists compare group names regardless of case).
                transaction
                    .execute(
                        "DELETE FROM group_members WHERE tenant = $1 AND lower(group_id) = lower($2)",
                        &[&tenant, group],
                    )
                    .await?;
                transaction
                    .execute(
                        "INSERT INTO group_members (tenant, group_id, user_id)
                         SELECT $1, $2, member FROM unnest($3::text[]) AS member
                         ON CONFLICT DO NOTHING",
                        &[&tenant, group, &members],
                    )
                    .await?;
                changes.push((ChangeKind::Group, group.clone()));
            }
            for user in &write.reprovision {
                transaction
                    .execute(
                        "DELETE FROM deprovisioned_users WHERE tenant = $1 AND user_id = $2",
                        &[&tenant, user],
                    )
                    .await?;
            }
            let mut revoked_count = 0;
            for user in &write.deprovision {
                transaction
                    .execute(
                        "INSERT INTO deprovisioned_users (tenant, user_id, at) VALUES ($1, $2, $3)
                         ON CONFLICT DO NOTHING",
                        &[&tenant, user, &at],
                    )
                    .await?;
                let unrevoked: Vec<TokenRecord> = transaction
                    .query(
                        &format!(
                            "SELECT {COLUMNS} FROM tokens
                             WHERE tenant = $1 AND owner = $2 AND revoked_at IS NULL FOR UPDATE"
                        ),
                        &[&tenant, user],
                    )
                    .await?
                    .iter()
                    .map(record)
                    .collect();
                for token in &unrevoked {
                    transaction
                        .execute(
                            "UPDATE tokens SET revoked_at = $2, revocation_reason = $3
                             WHERE id = $1",
                            &[&token.id, &at, &USER_DEPROVISIONED],
                        )
                        .await?;
                    let (entry, notification) = revoked(token);
                    insert_audit(transaction, &entry).await?;
                    insert_notification(transaction, &notification, at).await?;
                    changes.push((ChangeKind::Token, token.id.clone()));
                }
                revoked_count += unrevoked.len();
            }
            for entry in &write.audit {
                insert_audit(transaction, entry).await?;
            }
            // The change lock last, as `insert_change` asks.
            for (kind, key) in &changes {
                insert_change(transaction, at, tenant, *kind, key).await?;
            }
            Ok(Ok(revoked_count))
        })
    }

    fn is_deprovisioned(&self, tenant: &str, user: &str) -> Result<bool, StoreError> {
        self.read(async |client| {
            Ok(client
                .query_opt(
                    "SELECT 1 FROM deprovisioned_users WHERE tenant = $1 AND user_id = $2",
                    &[&tenant, &user],
                )
                .await?
                .is_some())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_never_appear_in_messages() {
        assert_eq!(
            redact("postgres://patrol:s3cret@db:5432/patrol"),
            "postgres://patrol:***@db:5432/patrol"
        );
        assert_eq!(
            redact("postgres://patrol@db/patrol"),
            "postgres://patrol@db/patrol"
        );
        assert_eq!(
            redact("host=db user=patrol password=s3cret"),
            "host=db user=patrol password=***"
        );
    }
}
