//! Moving a single-node installation into PostgreSQL (`patrol store copy`): the rows of the
//! tables both stores have, as they are (tokens keep their hashes, audit entries and
//! notifications their numbers), and a summary of each table (its row count and a SHA-256 over
//! its rows in a fixed order) to check that what arrived is what left. The SQLite store reads
//! them ([`super::SqliteStore::export`]); the PostgreSQL store writes and reads them back
//! ([`super::PgStore::import`], [`super::PgStore::export`]).

use serde::Serialize;
use sha2::{Digest as _, Sha256};

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

/// An API credential as stored, with the hash of its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CredentialRow {
    pub id: String,
    pub tenant: String,
    pub name: String,
    pub role: String,
    /// The SHA-256 of its secret, hex.
    pub secret_hash: String,
    pub created_at: i64,
    pub created_by: String,
    pub rotated_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// A SCIM user or group as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScimRow {
    pub tenant: String,
    pub kind: String,
    pub id: String,
    pub name: String,
    pub external_id: Option<String>,
    pub active: bool,
    /// The attributes, JSON.
    pub document: String,
    pub version: i64,
    pub created_at: i64,
    pub modified_at: i64,
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
    /// By id.
    pub credentials: Vec<CredentialRow>,
    /// By tenant, kind and id.
    pub scim_resources: Vec<ScimRow>,
    /// (tenant, user, when), in that order.
    pub deprovisioned_users: Vec<(String, String, i64)>,
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
        self.credentials.sort_by(|a, b| a.id.cmp(&b.id));
        self.scim_resources
            .sort_by(|a, b| (&a.tenant, &a.kind, &a.id).cmp(&(&b.tenant, &b.kind, &b.id)));
        self.deprovisioned_users.sort();
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
            TableSummary {
                table: "credentials",
                rows: self.credentials.len(),
                digest: digest_of(&self.credentials),
            },
            TableSummary {
                table: "scim_resources",
                rows: self.scim_resources.len(),
                digest: digest_of(&self.scim_resources),
            },
            TableSummary {
                table: "deprovisioned_users",
                rows: self.deprovisioned_users.len(),
                digest: digest_of(&self.deprovisioned_users),
            },
        ]
    }
}
