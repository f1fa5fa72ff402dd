//! Moving a single-node installation into PostgreSQL (`patrol store copy`): the rows of the
//! tables both stores have, read from one and written to the other as they are (tokens keep
//! their hashes, audit entries and notifications their numbers), and a summary of each table
//! (its row count and a SHA-256 over its rows in a fixed order) to check that what arrived is
//! what left.

use serde::Serialize;
use sha2::{Digest as _, Sha256};
use tokio_postgres::GenericClient;

use super::store::TokenRecord;

/// A token with the hash of its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenRow {
    /// The token.
    pub token: TokenRecord,
    /// The SHA-256 of its secret, hex.
    pub secret_hash: String,
}

/// An audit entry as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRow {
    pub seq: i64,
    pub time: i64,
    pub tenant: String,
    pub event: String,
    pub actor: String,
    pub token_id: Option<String>,
    pub outcome: String,
    pub details: String,
}

/// A notification as stored in the outbox, delivered or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutboxRow {
    pub seq: i64,
    pub created_at: i64,
    pub tenant: String,
    pub event: String,
    pub token_id: Option<String>,
    pub owner: Option<String>,
    pub payload: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub delivered_at: Option<i64>,
    pub last_error: Option<String>,
}

/// Everything a store copy moves, each table in a fixed order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rows {
    /// By id.
    pub tokens: Vec<TokenRow>,
    /// By number.
    pub audit: Vec<AuditRow>,
    /// By number.
    pub outbox: Vec<OutboxRow>,
    /// (token id, when), by token id.
    pub expiry_notices: Vec<(String, i64)>,
    /// (tenant, group, user), in that order.
    pub group_members: Vec<(String, String, String)>,
}

/// One table's count and digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableSummary {
    /// The table.
    pub table: &'static str,
    /// How many rows.
    pub rows: usize,
    /// `sha256:<hex>` over its rows, in order.
    pub digest: String,
}

fn digest_of<T: Serialize>(rows: &[T]) -> String {
    let mut hasher = Sha256::new();
    for row in rows {
        hasher.update(serde_json::to_vec(row).unwrap_or_default());
        hasher.update(b"\n");
    }
    format!("sha256:{}", super::format::hex(&hasher.finalize()))
}

impl Rows {
    /// Puts every table in its fixed order.
    pub fn sort(&mut self) {
        self.tokens.sort_by(|a, b| a.token.id.cmp(&b.token.id));
        self.audit.sort_by_key(|row| row.seq);
        self.outbox.sort_by_key(|row| row.seq);
        self.expiry_notices.sort();
        self.group_members.sort();
    }

    /// Each table's count and digest.
    pub fn summary(&self) -> Vec<TableSummary> {
        vec![
            TableSummary {
                table: "tokens",
                rows: self.tokens.len(),
                digest: digest_of(&self.tokens),
            },
            TableSummary {
                table: "audit",
                rows: self.audit.len(),
                digest: digest_of(&self.audit),
            },
            TableSummary {
                table: "outbox",
                rows: self.outbox.len(),
                digest: digest_of(&self.outbox),
            },
            TableSummary {
                table: "expiry_notices",
                rows: self.expiry_notices.len(),
                digest: digest_of(&self.expiry_notices),
            },
            TableSummary {
                table: "group_members",
                rows: self.group_members.len(),
                digest: digest_of(&self.group_members),
            },
        ]
    }
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len() / 2)
        .filter_map(|i| u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

/// Writes `rows` into empty tables, keeping their numbers.
pub(super) async fn insert_all(
    client: &impl GenericClient,
    rows: &Rows,
) -> Result<(), tokio_postgres::Error> {
    for table in [
        "tokens",
        "audit",
        "outbox",
        "expiry_notices",
        "group_members",
    ] {
        let present: i64 = client
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await?
            .get(0);
        if present > 0 {
            // Refuse to mix two installations: raise an error the caller reports.
            client
                .execute(
                    &format!(
                        "DO $$ BEGIN RAISE EXCEPTION 'the table `{table}` of the target database \
                         already holds {present} rows; copy into an empty database'; END $$"
                    ),
                    &[],
                )
                .await?;
        }
    }
    for row in &rows.tokens {
        let t = &row.token;
        client
            .execute(
                "INSERT INTO tokens (id, tenant, owner, display_name, scopes, all_orgs, orgs,
                   valid_from, valid_to, created_at, last_used_at, last_user_agent, last_address,
                   revoked_at, revocation_reason, secret_hash)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
                &[
                    &t.id,
                    &t.tenant,
                    &t.owner,
                    &t.display_name,
                    &t.scopes.join(" "),
                    &t.all_orgs,
                    &t.orgs.join(" "),
                    &t.valid_from,
                    &t.valid_to,
                    &t.created_at,
                    &t.last_used_at,
                    &t.last_user_agent,
                    &t.last_address,
                    &t.revoked_at,
                    &t.revocation_reason,
                    &unhex(&row.secret_hash),
                ],
            )
            .await?;
    }
    for a in &rows.audit {
        client
            .execute(
                "INSERT INTO audit (seq, time, tenant, event, actor, token_id, outcome, details)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    &a.seq,
                    &a.time,
                    &a.tenant,
                    &a.event,
                    &a.actor,
                    &a.token_id,
                    &a.outcome,
                    &a.details,
                ],
            )
            .await?;
    }
    for o in &rows.outbox {
        let attempts = i32::try_from(o.attempts).unwrap_or(i32::MAX);
        client
            .execute(
                "INSERT INTO outbox (seq, created_at, tenant, event, token_id, owner, payload,
                   attempts, next_attempt_at, delivered_at, last_error)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                &[
                    &o.seq,
                    &o.created_at,
                    &o.tenant,
                    &o.event,
                    &o.token_id,
                    &o.owner,
                    &o.payload,
                    &attempts,
                    &o.next_attempt_at,
                    &o.delivered_at,
                    &o.last_error,
                ],
            )
            .await?;
    }
    for (token_id, at) in &rows.expiry_notices {
        client
            .execute(
                "INSERT INTO expiry_notices (token_id, notified_at) VALUES ($1, $2)",
                &[token_id, at],
            )
            .await?;
    }
    for (tenant, group, user) in &rows.group_members {
        client
            .execute(
                "INSERT INTO group_members (tenant, group_id, user_id) VALUES ($1, $2, $3)",
                &[tenant, group, user],
            )
            .await?;
    }
    // New entries continue after the copied ones.
    for table in ["audit", "outbox"] {
        client
            .execute(
                &format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'seq'),
                                   coalesce((SELECT max(seq) FROM {table}), 0) + 1, false)"
                ),
                &[],
            )
            .await?;
    }
    Ok(())
}

/// Reads the tables back, in their fixed order.
pub(super) async fn select_all(client: &impl GenericClient) -> Result<Rows, tokio_postgres::Error> {
    let mut rows = Rows::default();
    for row in client
        .query(
            "SELECT id, tenant, owner, display_name, scopes, all_orgs, orgs, valid_from,
                    valid_to, created_at, last_used_at, last_user_agent, last_address,
                    revoked_at, revocation_reason, secret_hash FROM tokens",
            &[],
        )
        .await?
    {
        let hash: Vec<u8> = row.get(15);
        rows.tokens.push(TokenRow {
            token: super::postgres::record(&row),
            secret_hash: super::format::hex(&hash),
        });
    }
    for row in client
        .query(
            "SELECT seq, time, tenant, event, actor, token_id, outcome, details FROM audit",
            &[],
        )
        .await?
    {
        rows.audit.push(AuditRow {
            seq: row.get(0),
            time: row.get(1),
            tenant: row.get(2),
            event: row.get(3),
            actor: row.get(4),
            token_id: row.get(5),
            outcome: row.get(6),
            details: row.get(7),
        });
    }
    for row in client
        .query(
            "SELECT seq, created_at, tenant, event, token_id, owner, payload, attempts,
                    next_attempt_at, delivered_at, last_error FROM outbox",
            &[],
        )
        .await?
    {
        rows.outbox.push(OutboxRow {
            seq: row.get(0),
            created_at: row.get(1),
            tenant: row.get(2),
            event: row.get(3),
            token_id: row.get(4),
            owner: row.get(5),
            payload: row.get(6),
            attempts: i64::from(row.get::<_, i32>(7)),
            next_attempt_at: row.get(8),
            delivered_at: row.get(9),
            last_error: row.get(10),
        });
    }
    for row in client
        .query("SELECT token_id, notified_at FROM expiry_notices", &[])
        .await?
    {
        rows.expiry_notices.push((row.get(0), row.get(1)));
    }
    for row in client
        .query("SELECT tenant, group_id, user_id FROM group_members", &[])
        .await?
    {
        rows.group_members
            .push((row.get(0), row.get(1), row.get(2)));
    }
    rows.sort();
    Ok(rows)
}
