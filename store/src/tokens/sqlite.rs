//! The embedded token store: one SQLite database file, in write-ahead-log mode, with every
//! commit synced to disk, so that a change patrol has acknowledged survives the process being
//! killed (or the machine losing power) right after.
//!
//! The schema is versioned by the migrations in `store/migrations/sqlite/`, applied in order and
//! recorded in SQLite's `user_version`.
//!
//! Writes go through one connection (SQLite has one writer at a time anyway); reads take a
//! connection of their own from a small pool, so that the gateway path's lookups run in
//! parallel with each other and with a write (WAL lets readers see the last commit while a
//! writer works).

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use super::USER_DEPROVISIONED;
use super::accounts::{
    CREDENTIAL_COLUMNS, CredentialChange, CredentialRecord, RETIRED_WITH_TENANT, Role,
    SCIM_COLUMNS, ScimConflict, ScimKind, ScimRecord, ScimWrite,
};
use super::format::SecretHash;
use super::store::{
    AuditEntry, AuditEvent, AuditQuery, Change, ChangeKind, Continuation, Notification,
    NotificationEvent, Page, PendingNotification, Pruned, StoreError, TokenFilter, TokenOrder,
    TokenQuery, TokenRecord, TokenStore, TokenUse, words,
};
use patrol::timestamp::Timestamp;

/// The migrations, in order; the schema's version is how many have been applied.
const MIGRATIONS: [&str; 4] = [
    include_str!("../../migrations/sqlite/0001_tokens.sql"),
    include_str!("../../migrations/sqlite/0002_changes.sql"),
    include_str!("../../migrations/sqlite/0003_retention.sql"),
    include_str!("../../migrations/sqlite/0004_accounts.sql"),
];

/// How many idle reading connections are kept.
const READERS: usize = 8;

/// The SQLite token store.
pub struct SqliteStore {
    path: PathBuf,
    writer: Mutex<Connection>,
    /// Idle reading connections; a read takes one (or opens one) and puts it back.
    readers: Mutex<Vec<Connection>>,
}

/// A reading connection, back to the pool when dropped.
struct Reader<'a> {
    store: &'a SqliteStore,
    connection: Option<Connection>,
}

impl std::ops::Deref for Reader<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.connection.as_ref().expect("present until dropped")
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        if let Some(connection) = self.connection.take() {
            let mut idle = lock(&self.store.readers);
            if idle.len() < READERS {
                idle.push(connection);
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // rusqlite leaves a connection usable after a panic elsewhere; keep going.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn connect(path: &Path) -> Result<Connection, StoreError> {
    let connection = Connection::open(path).map_err(|source| StoreError::Open {
        path: path.to_path_buf(),
        source: Box::new(source),
    })?;
    connection
        .execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             PRAGMA foreign_keys = ON;
             PRAGMA busy_timeout = 5000;",
        )
        .map_err(failed)?;
    Ok(connection)
}

fn failed(error: rusqlite::Error) -> StoreError {
    StoreError::Backend(Box::new(error))
}

const COLUMNS: &str = super::store::TOKEN_COLUMNS;

fn record(row: &Row<'_>) -> rusqlite::Result<TokenRecord> {
    Ok(TokenRecord {
        id: row.get(0)?,
        tenant: row.get(1)?,
        owner: row.get(2)?,
        display_name: row.get(3)?,
        scopes: words(&row.get::<_, String>(4)?),
        all_orgs: row.get(5)?,
        orgs: words(&row.get::<_, String>(6)?),
        valid_from: row.get(7)?,
        valid_to: row.get(8)?,
        created_at: row.get(9)?,
        last_used_at: row.get(10)?,
        last_user_agent: row.get(11)?,
        last_address: row.get(12)?,
        revoked_at: row.get(13)?,
        revocation_reason: row.get(14)?,
    })
}

impl SqliteStore {
    /// Opens (or creates) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateFolder {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let store = SqliteStore {
            path: path.to_path_buf(),
            writer: Mutex::new(connect(path)?),
            readers: Mutex::new(Vec::new()),
        };
        store.migrate()?;
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A connection to read with.
    fn read(&self) -> Result<Reader<'_>, StoreError> {
        let idle = lock(&self.readers).pop();
        let connection = match idle {
            Some(connection) => connection,
            None => connect(&self.path)?,
        };
        Ok(Reader {
            store: self,
            connection: Some(connection),
        })
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let mut connection = self.lock();
        let version: usize = connection
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(failed)?;
        if version > MIGRATIONS.len() {
            return Err(StoreError::NewerSchema {
                found: version,
                known: MIGRATIONS.len(),
            });
        }
        for (index, migration) in MIGRATIONS.iter().enumerate().skip(version) {
            let transaction = connection.transaction().map_err(failed)?;
            transaction.execute_batch(migration).map_err(failed)?;
            transaction
                .execute_batch(&format!("PRAGMA user_version = {}", index + 1))
                .map_err(failed)?;
            transaction.commit().map_err(failed)?;
        }
        Ok(())
    }

    /// The SCIM resource of the tenant whose `column` (`id` or `name_key`) is `value`.
    fn scim_one(
        &self,
        tenant: &str,
        kind: ScimKind,
        column: &str,
        value: &str,
    ) -> Result<Option<ScimRecord>, StoreError> {
        self.read()?
            .query_row(
                &format!(
                    "SELECT {SCIM_COLUMNS} FROM scim_resources
                     WHERE tenant = ?1 AND kind = ?2 AND {column} = ?3"
                ),
                params![tenant, kind.as_str(), value],
                scim_record,
            )
            .optional()
            .map_err(failed)
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        lock(&self.writer)
    }

    /// Runs `work` in a transaction, committed if it succeeds. The transaction takes the
    /// write lock as it begins (`BEGIN IMMEDIATE`): one that began as a reader and then wrote
    /// would fail at once with "database is locked" when another process (a command beside a
    /// server) wrote meanwhile, instead of waiting its turn.
    fn write<R>(
        &self,
        work: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<R>,
    ) -> Result<R, StoreError> {
        let mut connection = self.lock();
        let transaction = connection
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(failed)?;
        let result = work(&transaction).map_err(failed)?;
        transaction.commit().map_err(failed)?;
        Ok(result)
    }
}

fn insert_audit(transaction: &Transaction<'_>, entry: &AuditEntry) -> rusqlite::Result<()> {
    transaction.execute(
        "INSERT INTO audit (time, tenant, event, actor, token_id, outcome, details)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            entry.time,
            entry.tenant,
            entry.event.as_str(),
            entry.actor,
            entry.token_id,
            serde_json::to_value(entry.outcome)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            entry.details.to_string(),
        ],
    )?;
    Ok(())
}

fn insert_notification(
    transaction: &Transaction<'_>,
    notification: &Notification,
    now: Timestamp,
) -> rusqlite::Result<()> {
    transaction.execute(
        "INSERT INTO outbox (created_at, tenant, event, token_id, owner, payload, next_attempt_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?1)",
        params![
            now,
            notification.tenant,
            notification.event.as_str(),
            notification.token_id,
            notification.owner,
            notification.payload.to_string(),
        ],
    )?;
    Ok(())
}

fn insert_change(
    transaction: &Transaction<'_>,
    at: Timestamp,
    tenant: &str,
    kind: ChangeKind,
    key: &str,
) -> rusqlite::Result<()> {
    transaction.execute(
        "INSERT INTO changes (at, tenant, kind, key) VALUES (?1, ?2, ?3, ?4)",
        params![at, tenant, kind.as_str(), key],
    )?;
    Ok(())
}

fn get(transaction: &Connection, tenant: &str, id: &str) -> rusqlite::Result<Option<TokenRecord>> {
    transaction
        .query_row(
            &format!("SELECT {COLUMNS} FROM tokens WHERE tenant = ?1 AND id = ?2"),
            params![tenant, id],
            record,
        )
        .optional()
}

/// A sort key as SQLite compares it.
fn sql_value(key: &serde_json::Value) -> rusqlite::types::Value {
    match key {
        serde_json::Value::String(text) => rusqlite::types::Value::Text(text.clone()),
        serde_json::Value::Number(n) => n.as_i64().map_or(
            rusqlite::types::Value::Null,
            rusqlite::types::Value::Integer,
        ),
        _ => rusqlite::types::Value::Null,
    }
}

/// A sort key as a continuation carries it.
fn json_value(key: &rusqlite::types::Value) -> serde_json::Value {
    match key {
        rusqlite::types::Value::Text(text) => serde_json::Value::String(text.clone()),
        rusqlite::types::Value::Integer(n) => serde_json::Value::from(*n),
        _ => serde_json::Value::Null,
    }
}

impl TokenStore for SqliteStore {
    fn create(
        &self,
        token: &TokenRecord,
        hash: &SecretHash,
        audit: &AuditEntry,
        notification: &Notification,
    ) -> Result<(), StoreError> {
        let stored = self.write(|transaction| {
            // In the write lock, as SCIM's deprovisioning is: one or the other comes first.
            let deprovisioned = transaction
                .query_row(
                    "SELECT 1 FROM deprovisioned_users WHERE tenant = ?1 AND user_id = ?2",
                    params![token.tenant, token.owner],
                    |_| Ok(()),
                )
                .optional()?
                .is_some();
            if deprovisioned {
                return Ok(false);
            }
            transaction.execute(
                &format!(
                    "INSERT INTO tokens ({COLUMNS}, secret_hash)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
                ),
                params![
                    token.id,
                    token.tenant,
                    token.owner,
                    token.display_name,
                    token.scopes.join(" "),
                    token.all_orgs,
                    token.orgs.join(" "),
                    token.valid_from,
                    token.valid_to,
                    token.created_at,
                    token.last_used_at,
                    token.last_user_agent,
                    token.last_address,
                    token.revoked_at,
                    token.revocation_reason,
                    &hash.0[..],
                ],
            )?;
            insert_audit(transaction, audit)?;
            insert_notification(transaction, notification, token.created_at)?;
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
        self.write(|transaction| {
            let changed = transaction.execute(
                "UPDATE tokens SET secret_hash = ?3, valid_from = ?4, valid_to = ?5
                 WHERE tenant = ?1 AND id = ?2 AND revoked_at IS NULL",
                params![tenant, id, &hash.0[..], valid_from, valid_to],
            )?;
            if changed == 0 {
                return Ok(None);
            }
            insert_audit(transaction, audit)?;
            insert_notification(transaction, notification, audit.time)?;
            insert_change(transaction, audit.time, tenant, ChangeKind::Token, id)?;
            // A new lifetime deserves a new "expires soon" notice.
            transaction.execute(
                "DELETE FROM expiry_notices WHERE token_id = ?1",
                params![id],
            )?;
            get(transaction, tenant, id)
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
        self.write(|transaction| {
            let changed = transaction.execute(
                "UPDATE tokens SET revoked_at = ?3, revocation_reason = ?4
                 WHERE tenant = ?1 AND id = ?2 AND revoked_at IS NULL",
                params![tenant, id, at, reason],
            )?;
            if changed > 0 {
                for entry in audit {
                    insert_audit(transaction, entry)?;
                }
                for notification in notifications {
                    insert_notification(transaction, notification, at)?;
                }
                insert_change(transaction, at, tenant, ChangeKind::Token, id)?;
            }
            get(transaction, tenant, id)
        })
    }

    fn get(&self, tenant: &str, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        get(&*self.read()?, tenant, id).map_err(failed)
    }

    fn find(&self, hash: &SecretHash) -> Result<Option<TokenRecord>, StoreError> {
        let connection = self.read()?;
        // The gateway path runs this on every request: keep the statement prepared.
        let found = connection
            .prepare_cached(&format!(
                "SELECT {COLUMNS}, secret_hash FROM tokens WHERE secret_hash = ?1"
            ))
            .and_then(|mut statement| {
                statement
                    .query_row(params![&hash.0[..]], |row| {
                        let stored: Vec<u8> = row.get(15)?;
                        Ok((record(row)?, stored))
                    })
                    .optional()
            })
            .map_err(failed)?;
        Ok(found.and_then(|(token, stored)| {
            let stored = SecretHash(stored.try_into().ok()?);
            stored.matches(hash).then_some(token)
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
        let condition = match query.filter {
            TokenFilter::Active => "revoked_at IS NULL AND valid_to > ?3",
            TokenFilter::Revoked => "revoked_at IS NOT NULL",
            TokenFilter::Expired => "revoked_at IS NULL AND valid_to <= ?3",
            TokenFilter::All => "?3 = ?3",
        };
        // The sort key, then creation and id, so that every token has one place in the order.
        let key = match query.order {
            TokenOrder::DisplayDate => "0",
            TokenOrder::DisplayName => "lower(display_name)",
            TokenOrder::Status => {
                "CASE WHEN revoked_at IS NOT NULL THEN 2 WHEN valid_to <= ?3 THEN 1 ELSE 0 END"
            }
        };
        let (direction, beyond) = if query.ascending {
            ("ASC", ">")
        } else {
            ("DESC", "<")
        };
        // ?5 is NULL on the first page; every sort key is non-NULL.
        let resume = format!("AND (?5 IS NULL OR ({key}, created_at, id) {beyond} (?5, ?6, ?7))");
        // (SQLite reads a constant in ORDER BY as a column number: leave the constant key out.)
        let sort_key = match query.order {
            TokenOrder::DisplayDate => String::new(),
            _ => format!("{key} {direction}, "),
        };
        let sql = format!(
            "SELECT {COLUMNS}, {key} FROM tokens
             WHERE tenant = ?1 AND (?2 IS NULL OR owner = ?2) AND {condition} {resume}
             ORDER BY {sort_key}created_at {direction}, id {direction} LIMIT ?4"
        );
        let limit = query.limit.max(1);
        let fetch = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
        let (after_key, after_created, after_id) = match &after {
            Some(after) => (sql_value(&after.key), after.created_at, after.id.clone()),
            None => (rusqlite::types::Value::Null, 0, String::new()),
        };
        let connection = self.read()?;
        let mut statement = connection.prepare(&sql).map_err(failed)?;
        let mut rows = statement
            .query_map(
                params![
                    tenant,
                    query.owner,
                    now,
                    fetch,
                    after_key,
                    after_created,
                    after_id
                ],
                |row| Ok((record(row)?, row.get::<_, rusqlite::types::Value>(15)?)),
            )
            .map_err(failed)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(failed)?;
        let continuation = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(|(last, key)| {
                Continuation {
                    order: query.order,
                    ascending: query.ascending,
                    key: json_value(key),
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
        self.write(|transaction| {
            let unrevoked = {
                let mut statement = transaction.prepare(&format!(
                    "SELECT {COLUMNS} FROM tokens WHERE tenant = ?1 AND revoked_at IS NULL"
                ))?;
                statement
                    .query_map(params![tenant], record)?
                    .collect::<rusqlite::Result<Vec<_>>>()?
            };
            for token in &unrevoked {
                transaction.execute(
                    "UPDATE tokens SET revoked_at = ?2, revocation_reason = ?3 WHERE id = ?1",
                    params![token.id, at, reason],
                )?;
                let (entry, notification) = retired(token);
                insert_audit(transaction, &entry)?;
                insert_notification(transaction, &notification, at)?;
            }
            for table in RETIRED_WITH_TENANT {
                transaction.execute(
                    &format!("DELETE FROM {table} WHERE tenant = ?1"),
                    params![tenant],
                )?;
            }
            insert_change(transaction, at, tenant, ChangeKind::Tenant, "")?;
            Ok(unrevoked.len())
        })
    }

    fn record_uses(&self, uses: &[TokenUse]) -> Result<(), StoreError> {
        if uses.is_empty() {
            return Ok(());
        }
        self.write(|transaction| {
            let mut statement = transaction.prepare(
                "UPDATE tokens SET last_used_at = ?2, last_user_agent = ?3, last_address = ?4
                 WHERE id = ?1 AND (last_used_at IS NULL OR last_used_at <= ?2)",
            )?;
            for use_ in uses {
                statement.execute(params![
                    use_.token_id,
                    use_.at,
                    use_.user_agent,
                    use_.address
                ])?;
            }
            Ok(())
        })
    }

    fn audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        self.write(|transaction| insert_audit(transaction, entry))
    }

    fn audit_log(&self, tenant: &str, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        let connection = self.read()?;
        let mut statement = connection
            .prepare(
                "SELECT time, tenant, event, actor, token_id, outcome, details FROM audit
                 WHERE tenant = ?1 AND (?2 IS NULL OR time >= ?2) AND (?3 IS NULL OR time < ?3)
                   AND (?4 IS NULL OR event = ?4)
                 ORDER BY time DESC, seq DESC LIMIT ?5",
            )
            .map_err(failed)?;
        let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
        let rows = statement
            .query_map(
                params![
                    tenant,
                    query.since,
                    query.until,
                    query.event.map(AuditEvent::as_str),
                    limit
                ],
                |row| {
                    let event: String = row.get(2)?;
                    let outcome: String = row.get(5)?;
                    let details: String = row.get(6)?;
                    Ok((
                        row.get::<_, Timestamp>(0)?,
                        row.get::<_, String>(1)?,
                        event,
                        row.get::<_, String>(3)?,
                        row.get::<_, Option<String>>(4)?,
                        outcome,
                        details,
                    ))
                },
            )
            .map_err(failed)?;
        let mut entries = Vec::new();
        for row in rows {
            let (time, tenant, event, actor, token_id, outcome, details) = row.map_err(failed)?;
            entries.push(AuditEntry {
                time,
                tenant,
                event: AuditEvent::parse(&event).ok_or_else(|| {
                    StoreError::Unreadable(format!("unknown audit event `{event}`"))
                })?,
                actor,
                token_id,
                outcome: serde_json::from_value(serde_json::Value::String(outcome))
                    .map_err(|error| StoreError::Unreadable(error.to_string()))?,
                details: serde_json::from_str(&details).unwrap_or(serde_json::Value::Null),
            });
        }
        Ok(entries)
    }

    fn audit_and_notify(
        &self,
        entry: &AuditEntry,
        notification: &Notification,
    ) -> Result<(), StoreError> {
        self.write(|transaction| {
            insert_audit(transaction, entry)?;
            insert_notification(transaction, notification, entry.time)
        })
    }

    fn notify(&self, notification: &Notification) -> Result<(), StoreError> {
        let now = patrol::timestamp::now();
        self.write(|transaction| insert_notification(transaction, notification, now))
    }

    fn notify_expiring(
        &self,
        now: Timestamp,
        before: Timestamp,
        payload: &dyn Fn(&TokenRecord) -> serde_json::Value,
    ) -> Result<usize, StoreError> {
        self.write(|transaction| {
            let mut statement = transaction.prepare(&format!(
                "SELECT {COLUMNS} FROM tokens
                 WHERE revoked_at IS NULL AND valid_to > ?1 AND valid_to <= ?2
                   AND id NOT IN (SELECT token_id FROM expiry_notices)"
            ))?;
            let tokens = statement
                .query_map(params![now, before], record)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            for token in &tokens {
                let notification = Notification {
                    tenant: token.tenant.clone(),
                    event: NotificationEvent::ExpiringSoon,
                    token_id: Some(token.id.clone()),
                    owner: Some(token.owner.clone()),
                    payload: payload(token),
                };
                insert_notification(transaction, &notification, now)?;
                transaction.execute(
                    "INSERT INTO expiry_notices (token_id, notified_at) VALUES (?1, ?2)",
                    params![token.id, now],
                )?;
            }
            Ok(tokens.len())
        })
    }

    fn claim_notifications(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<PendingNotification>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.write(|transaction| {
            let claimed = transaction
                .prepare(
                    "SELECT seq, attempts, tenant, event, token_id, owner, payload FROM outbox
                     WHERE delivered_at IS NULL AND next_attempt_at <= ?1
                     ORDER BY seq LIMIT ?2",
                )?
                .query_map(params![now, limit], pending_notification)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            for pending in &claimed {
                transaction.execute(
                    "UPDATE outbox SET next_attempt_at = ?2 WHERE seq = ?1",
                    params![pending.seq, lease_until],
                )?;
            }
            Ok(claimed)
        })
    }

    fn delivered(&self, seq: i64, at: Timestamp) -> Result<(), StoreError> {
        self.write(|transaction| {
            transaction.execute(
                "UPDATE outbox SET delivered_at = ?2, attempts = attempts + 1, last_error = NULL
                 WHERE seq = ?1",
                params![seq, at],
            )?;
            Ok(())
        })
    }

    fn delivery_failed(
        &self,
        seq: i64,
        error: &str,
        next_attempt_at: Timestamp,
    ) -> Result<(), StoreError> {
        self.write(|transaction| {
            transaction.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3
                 WHERE seq = ?1",
                params![seq, error, next_attempt_at],
            )?;
            Ok(())
        })
    }

    fn set_group(&self, tenant: &str, group: &str, members: &[String]) -> Result<(), StoreError> {
        self.write(|transaction| {
            transaction.execute(
                "DELETE FROM group_members WHERE tenant = ?1 AND group_id = ?2",
                params![tenant, group],
            )?;
            insert_change(
                transaction,
                patrol::timestamp::now(),
                tenant,
                ChangeKind::Group,
                group,
            )?;
            for member in members {
                transaction.execute(
                    "INSERT OR IGNORE INTO group_members (tenant, group_id, user_id)
                     VALUES (?1, ?2, ?3)",
                    params![tenant, group, member],
                )?;
            }
            Ok(())
        })
    }

    fn delete_group(&self, tenant: &str, group: &str) -> Result<bool, StoreError> {
        self.write(|transaction| {
            let deleted = transaction.execute(
                "DELETE FROM group_members WHERE tenant = ?1 AND group_id = ?2",
                params![tenant, group],
            )? > 0;
            if deleted {
                insert_change(
                    transaction,
                    patrol::timestamp::now(),
                    tenant,
                    ChangeKind::Group,
                    group,
                )?;
            }
            Ok(deleted)
        })
    }

    fn groups(&self, tenant: &str) -> Result<Vec<(String, Vec<String>)>, StoreError> {
        let connection = self.read()?;
        let mut statement = connection
            .prepare(
                "SELECT group_id, user_id FROM group_members WHERE tenant = ?1
                 ORDER BY group_id, user_id",
            )
            .map_err(failed)?;
        let rows = statement
            .query_map(params![tenant], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
            })
            .map_err(failed)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(failed)?;
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
        let connection = self.read()?;
        let mut statement = connection
            .prepare_cached(
                "SELECT group_id FROM group_members WHERE tenant = ?1 AND user_id = ?2
                 ORDER BY group_id",
            )
            .map_err(failed)?;
        statement
            .query_map(params![tenant, user], |row| row.get(0))
            .map_err(failed)?
            .collect::<rusqlite::Result<Vec<String>>>()
            .map_err(failed)
    }

    fn changes_since(&self, after: i64, limit: usize) -> Result<Vec<Change>, StoreError> {
        let connection = self.read()?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = connection
            .prepare_cached(
                "SELECT seq, tenant, kind, key FROM changes WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )
            .and_then(|mut statement| {
                statement
                    .query_map(params![after, limit], |row| {
                        Ok((
                            row.get::<_, i64>(0)?,
                            row.get::<_, String>(1)?,
                            row.get::<_, String>(2)?,
                            row.get::<_, String>(3)?,
                        ))
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(failed)?;
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
        self.read()?
            .query_row("SELECT coalesce(max(seq), 0) FROM changes", [], |row| {
                row.get(0)
            })
            .map_err(failed)
    }

    fn prune(
        &self,
        changes_before: Timestamp,
        delivered_before: Timestamp,
    ) -> Result<Option<Pruned>, StoreError> {
        // One writer at a time already: nothing else to claim.
        self.write(|transaction| {
            let upto: Option<i64> = transaction.query_row(
                "SELECT max(seq) FROM changes
                 WHERE at < ?1 AND seq < (SELECT max(seq) FROM changes)",
                params![changes_before],
                |row| row.get(0),
            )?;
            let mut pruned = Pruned::default();
            if let Some(upto) = upto {
                pruned.changes = transaction
                    .execute("DELETE FROM changes WHERE seq <= ?1", params![upto])?
                    as u64;
                transaction.execute(
                    "UPDATE change_log_pruned SET upto = max(upto, ?1) WHERE id = 1",
                    params![upto],
                )?;
            }
            pruned.notifications = transaction.execute(
                "DELETE FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at < ?1",
                params![delivered_before],
            )? as u64;
            Ok(Some(pruned))
        })
    }

    fn pruned_upto(&self) -> Result<i64, StoreError> {
        self.read()?
            .query_row(
                "SELECT upto FROM change_log_pruned WHERE id = 1",
                [],
                |row| row.get(0),
            )
            .map_err(failed)
    }

    fn create_credential(
        &self,
        credential: &CredentialRecord,
        hash: &SecretHash,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.write(|transaction| {
            transaction.execute(
                "INSERT INTO credentials (id, tenant, name, role, secret_hash, created_at,
                     created_by, rotated_at, last_used_at, revoked_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL, NULL, NULL)",
                params![
                    credential.id,
                    credential.tenant,
                    credential.name,
                    credential.role.as_str(),
                    hash.0.as_slice(),
                    credential.created_at,
                    credential.created_by,
                ],
            )?;
            insert_audit(transaction, audit)
        })
    }

    fn find_credential(&self, hash: &SecretHash) -> Result<Option<CredentialRecord>, StoreError> {
        let connection = self.read()?;
        let found = connection
            .prepare_cached(&format!(
                "SELECT {CREDENTIAL_COLUMNS}, secret_hash FROM credentials WHERE secret_hash = ?1"
            ))
            .and_then(|mut statement| {
                statement
                    .query_row(params![hash.0.as_slice()], |row| {
                        Ok((credential(row)?, row.get::<_, Vec<u8>>(9)?))
                    })
                    .optional()
            })
            .map_err(failed)?;
        Ok(found.and_then(|(credential, stored)| {
            let stored = SecretHash(stored.try_into().ok()?);
            stored.matches(hash).then_some(credential)
        }))
    }

    fn credentials(&self, tenant: Option<&str>) -> Result<Vec<CredentialRecord>, StoreError> {
        let connection = self.read()?;
        let mut statement = connection
            .prepare(&format!(
                "SELECT {CREDENTIAL_COLUMNS} FROM credentials
                 WHERE ?1 IS NULL OR tenant = ?1 ORDER BY created_at, id"
            ))
            .map_err(failed)?;
        statement
            .query_map(params![tenant], credential)
            .map_err(failed)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(failed)
    }

    fn change_credential(
        &self,
        id: &str,
        change: CredentialChange,
        at: Timestamp,
        audit: Option<&AuditEntry>,
    ) -> Result<Option<CredentialRecord>, StoreError> {
        self.write(|transaction| {
            let changed = match change {
                CredentialChange::Rotate(hash) => transaction.execute(
                    "UPDATE credentials SET secret_hash = ?2, rotated_at = ?3
                     WHERE id = ?1 AND revoked_at IS NULL",
                    params![id, hash.0.as_slice(), at],
                )?,
                CredentialChange::Revoke => transaction.execute(
                    "UPDATE credentials SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                    params![id, at],
                )?,
                CredentialChange::Used => transaction.execute(
                    "UPDATE credentials SET last_used_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                    params![id, at],
                )?,
            };
            if changed > 0
                && let Some(entry) = audit
            {
                insert_audit(transaction, entry)?;
            }
            transaction
                .query_row(
                    &format!("SELECT {CREDENTIAL_COLUMNS} FROM credentials WHERE id = ?1"),
                    params![id],
                    credential,
                )
                .optional()
        })
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
        let connection = self.read()?;
        let mut statement = connection
            .prepare(&format!(
                "SELECT {SCIM_COLUMNS} FROM scim_resources WHERE tenant = ?1 AND kind = ?2
                 ORDER BY created_at, id"
            ))
            .map_err(failed)?;
        statement
            .query_map(params![tenant, kind.as_str()], scim_record)
            .map_err(failed)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(failed)
    }

    fn scim_apply(
        &self,
        write: &ScimWrite,
        revoked: &dyn Fn(&TokenRecord) -> (AuditEntry, Notification),
    ) -> Result<Result<usize, ScimConflict>, StoreError> {
        let tenant = write.tenant.as_str();
        let at = write.at;
        self.write(|transaction| {
            if let Some(conflict) = scim_conflict(transaction, write)? {
                return Ok(Err(conflict));
            }
            for (record, _) in &write.put {
                transaction.execute(
                    "INSERT INTO scim_resources (tenant, kind, id, name, name_key, external_id,
                         active, document, version, created_at, modified_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                     ON CONFLICT (tenant, kind, id) DO UPDATE SET name = excluded.name,
                         name_key = excluded.name_key, external_id = excluded.external_id,
                         active = excluded.active, document = excluded.document,
                         version = excluded.version, modified_at = excluded.modified_at",
                    params![
                        record.tenant,
                        record.kind.as_str(),
                        record.id,
                        record.name,
                        record.name.to_lowercase(),
                        record.external_id,
                        record.active,
                        record.document.to_string(),
                        record.version,
                        record.created_at,
                        record.modified_at,
                    ],
                )?;
            }
            if let Some((kind, id, _)) = &write.delete {
                transaction.execute(
                    "DELETE FROM scim_resources WHERE tenant = ?1 AND kind = ?2 AND id = ?3",
                    params![tenant, kind.as_str(), id],
                )?;
            }
            for (group, members) in &write.groups {
                // The identity provider's group takes over the directory's group of the same
                // name in any case (allowlists compare group names regardless of case).
                transaction.execute(
                    "DELETE FROM group_members WHERE tenant = ?1 AND lower(group_id) = lower(?2)",
                    params![tenant, group],
                )?;
                for member in members.iter().flatten() {
                    transaction.execute(
                        "INSERT OR IGNORE INTO group_members (tenant, group_id, user_id)
                         VALUES (?1, ?2, ?3)",
                        params![tenant, group, member],
                    )?;
                }
                insert_change(transaction, at, tenant, ChangeKind::Group, group)?;
            }
            for user in &write.reprovision {
                transaction.execute(
                    "DELETE FROM deprovisioned_users WHERE tenant = ?1 AND user_id = ?2",
                    params![tenant, user],
                )?;
            }
            let mut revoked_count = 0;
            for user in &write.deprovision {
                transaction.execute(
                    "INSERT OR IGNORE INTO deprovisioned_users (tenant, user_id, at)
                     VALUES (?1, ?2, ?3)",
                    params![tenant, user, at],
                )?;
                let unrevoked = {
                    let mut statement = transaction.prepare(&format!(
                        "SELECT {COLUMNS} FROM tokens
                         WHERE tenant = ?1 AND owner = ?2 AND revoked_at IS NULL"
                    ))?;
                    statement
                        .query_map(params![tenant, user], record)?
                        .collect::<rusqlite::Result<Vec<_>>>()?
                };
                for token in &unrevoked {
                    let (entry, notification) = revoked(token);
                    transaction.execute(
                        "UPDATE tokens SET revoked_at = ?2, revocation_reason = ?3 WHERE id = ?1",
                        params![token.id, at, USER_DEPROVISIONED],
                    )?;
                    insert_audit(transaction, &entry)?;
                    insert_notification(transaction, &notification, at)?;
                    insert_change(transaction, at, tenant, ChangeKind::Token, &token.id)?;
                }
                revoked_count += unrevoked.len();
            }
            for entry in &write.audit {
                insert_audit(transaction, entry)?;
            }
            Ok(Ok(revoked_count))
        })
    }

    fn is_deprovisioned(&self, tenant: &str, user: &str) -> Result<bool, StoreError> {
        self.read()?
            .query_row(
                "SELECT 1 FROM deprovisioned_users WHERE tenant = ?1 AND user_id = ?2",
                params![tenant, user],
                |_| Ok(()),
            )
            .optional()
            .map(|found| found.is_some())
            .map_err(failed)
    }
}

fn unreadable(column: usize, what: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        column,
        rusqlite::types::Type::Text,
        Box::new(StoreError::Unreadable(what)),
    )
}

fn credential(row: &Row<'_>) -> rusqlite::Result<CredentialRecord> {
    let role: String = row.get(3)?;
    Ok(CredentialRecord {
        id: row.get(0)?,
        tenant: row.get(1)?,
        name: row.get(2)?,
        role: Role::parse(&role).ok_or_else(|| unreadable(3, format!("a role `{role}`")))?,
        created_at: row.get(4)?,
        created_by: row.get(5)?,
        rotated_at: row.get(6)?,
        last_used_at: row.get(7)?,
        revoked_at: row.get(8)?,
    })
}

fn scim_record(row: &Row<'_>) -> rusqlite::Result<ScimRecord> {
    let kind: String = row.get(1)?;
    let document: String = row.get(6)?;
    Ok(ScimRecord {
        tenant: row.get(0)?,
        kind: ScimKind::parse(&kind)
            .ok_or_else(|| unreadable(1, format!("a SCIM resource type `{kind}`")))?,
        id: row.get(2)?,
        name: row.get(3)?,
        external_id: row.get(4)?,
        active: row.get(5)?,
        document: serde_json::from_str(&document)
            .map_err(|error| unreadable(6, format!("a SCIM document: {error}")))?,
        version: row.get(7)?,
        created_at: row.get(8)?,
        modified_at: row.get(9)?,
    })
}

/// Checks a SCIM write against what is stored: `None` when it can be applied.
fn scim_conflict(
    transaction: &Transaction<'_>,
    write: &ScimWrite,
) -> rusqlite::Result<Option<ScimConflict>> {
    let version = |kind: ScimKind, id: &str| -> rusqlite::Result<Option<i64>> {
        transaction
            .query_row(
                "SELECT version FROM scim_resources WHERE tenant = ?1 AND kind = ?2 AND id = ?3",
                params![write.tenant, kind.as_str(), id],
                |row| row.get(0),
            )
            .optional()
    };
    for (record, expected) in &write.put {
        if version(record.kind, &record.id)? != *expected {
            return Ok(Some(ScimConflict::Changed));
        }
        let holder: Option<String> = transaction
            .query_row(
                "SELECT id FROM scim_resources WHERE tenant = ?1 AND kind = ?2 AND name_key = ?3",
                params![
                    write.tenant,
                    record.kind.as_str(),
                    record.name.to_lowercase()
                ],
                |row| row.get(0),
            )
            .optional()?;
        if holder.is_some_and(|holder| holder != record.id) {
            return Ok(Some(ScimConflict::NameTaken(record.name.clone())));
        }
    }
    if let Some((kind, id, expected)) = &write.delete
        && version(*kind, id)? != Some(*expected)
    {
        return Ok(Some(ScimConflict::Changed));
    }
    for (kind, id, expected) in &write.read {
        if version(*kind, id)? != *expected {
            return Ok(Some(ScimConflict::Changed));
        }
    }
    Ok(None)
}

fn pending_notification(row: &Row<'_>) -> rusqlite::Result<PendingNotification> {
    let event: String = row.get(3)?;
    let payload: String = row.get(6)?;
    Ok(PendingNotification {
        seq: row.get(0)?,
        attempts: row.get(1)?,
        notification: Notification {
            tenant: row.get(2)?,
            event: NotificationEvent::parse(&event).unwrap_or(NotificationEvent::ExpiringSoon),
            token_id: row.get(4)?,
            owner: row.get(5)?,
            payload: serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null),
        },
    })
}

impl SqliteStore {
    /// Every row `patrol store copy` moves, in a fixed order.
    pub fn export(&self) -> Result<super::copy::Rows, StoreError> {
        use super::copy::{AuditRow, CredentialRow, OutboxRow, Rows, ScimRow, TokenRow};
        let connection = self.read()?;
        let mut rows = Rows::default();
        let query = |sql: &str| connection.prepare(sql).map_err(failed);
        rows.tokens = query(&format!("SELECT {COLUMNS}, secret_hash FROM tokens"))?
            .query_map([], |row| {
                let hash: Vec<u8> = row.get(15)?;
                Ok(TokenRow {
                    token: record(row)?,
                    secret_hash: super::format::hex(&hash),
                })
            })
            .and_then(Iterator::collect)
            .map_err(failed)?;
        rows.audit =
            query("SELECT seq, time, tenant, event, actor, token_id, outcome, details FROM audit")?
                .query_map([], |row| {
                    Ok(AuditRow {
                        seq: row.get(0)?,
                        time: row.get(1)?,
                        tenant: row.get(2)?,
                        event: row.get(3)?,
                        actor: row.get(4)?,
                        token_id: row.get(5)?,
                        outcome: row.get(6)?,
                        details: row.get(7)?,
                    })
                })
                .and_then(Iterator::collect)
                .map_err(failed)?;
        rows.outbox = query(
            "SELECT seq, created_at, tenant, event, token_id, owner, payload, attempts,
                    next_attempt_at, delivered_at, last_error FROM outbox",
        )?
        .query_map([], |row| {
            Ok(OutboxRow {
                seq: row.get(0)?,
                created_at: row.get(1)?,
                tenant: row.get(2)?,
                event: row.get(3)?,
                token_id: row.get(4)?,
                owner: row.get(5)?,
                payload: row.get(6)?,
                attempts: row.get(7)?,
                next_attempt_at: row.get(8)?,
                delivered_at: row.get(9)?,
                last_error: row.get(10)?,
            })
        })
        .and_then(Iterator::collect)
        .map_err(failed)?;
        rows.expiry_notices = query("SELECT token_id, notified_at FROM expiry_notices")?
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .and_then(Iterator::collect)
            .map_err(failed)?;
        rows.group_members = query("SELECT tenant, group_id, user_id FROM group_members")?
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .and_then(Iterator::collect)
            .map_err(failed)?;
        rows.credentials = query(&format!(
            "SELECT {CREDENTIAL_COLUMNS}, secret_hash FROM credentials"
        ))?
        .query_map([], |row| {
            let hash: Vec<u8> = row.get(9)?;
            Ok(CredentialRow {
                id: row.get(0)?,
                tenant: row.get(1)?,
                name: row.get(2)?,
                role: row.get(3)?,
                secret_hash: super::format::hex(&hash),
                created_at: row.get(4)?,
                created_by: row.get(5)?,
                rotated_at: row.get(6)?,
                last_used_at: row.get(7)?,
                revoked_at: row.get(8)?,
            })
        })
        .and_then(Iterator::collect)
        .map_err(failed)?;
        rows.scim_resources = query(&format!("SELECT {SCIM_COLUMNS} FROM scim_resources"))?
            .query_map([], |row| {
                Ok(ScimRow {
                    tenant: row.get(0)?,
                    kind: row.get(1)?,
                    id: row.get(2)?,
                    name: row.get(3)?,
                    external_id: row.get(4)?,
                    active: row.get(5)?,
                    document: row.get(6)?,
                    version: row.get(7)?,
                    created_at: row.get(8)?,
                    modified_at: row.get(9)?,
                })
            })
            .and_then(Iterator::collect)
            .map_err(failed)?;
        rows.deprovisioned_users = query("SELECT tenant, user_id, at FROM deprovisioned_users")?
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .and_then(Iterator::collect)
            .map_err(failed)?;
        rows.sort();
        Ok(rows)
    }
}
