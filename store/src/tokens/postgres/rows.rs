//! Reading PostgreSQL rows into the store's types (and writing a token's row), and the types
//! only this store has.

use tokio_postgres::{GenericClient, Row};

use crate::tokens::StoreError;
use crate::tokens::accounts::{CredentialRecord, Role, ScimKind, ScimRecord};

use crate::tokens::store::{
    Notification, NotificationEvent, PendingNotification, TokenRecord, words,
};
use patrol::timestamp::Timestamp;

/// A version of a tenant's configuration, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredConfig {
    /// The tenant.
    pub tenant: String,
    /// Its version: 1 for the first, one more for each change (a deletion counts).
    pub version: i32,
    /// `toml` or `json`.
    pub format: String,
    /// The configuration as authored.
    pub text: String,
    /// The SHA-256 of `text`, as `sha256:<hex>`.
    pub digest: String,
    /// Who stored it.
    pub actor: String,
    /// When.
    pub created_at: Timestamp,
}

/// A replica's heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReplicaStatus {
    /// The replica's id.
    pub id: String,
    /// When it last reported, in Unix milliseconds.
    pub heartbeat_at_ms: i64,
    /// The change-log entry it has applied up to.
    pub applied_seq: i64,
}

/// Inserts `token`, with the SHA-256 of its secret, as a row of `tokens`.
pub(super) async fn insert_token(
    client: &impl GenericClient,
    token: &TokenRecord,
    secret_hash: &[u8],
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            &format!(
                "INSERT INTO tokens ({}, secret_hash) VALUES
                 ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
                crate::tokens::store::TOKEN_COLUMNS
            ),
            &[
                &token.id,
                &token.tenant,
                &token.owner,
                &token.display_name,
                &token.scopes.join(" "),
                &token.all_orgs,
                &token.orgs.join(" "),
                &token.valid_from,
                &token.valid_to,
                &token.created_at,
                &token.last_used_at,
                &token.last_user_agent,
                &token.last_address,
                &token.revoked_at,
                &token.revocation_reason,
                &secret_hash,
            ],
        )
        .await?;
    Ok(())
}

/// A token record from a row of `SELECT {TOKEN_COLUMNS}`.
pub(crate) fn record(row: &Row) -> TokenRecord {
    TokenRecord {
        id: row.get(0),
        tenant: row.get(1),
        owner: row.get(2),
        display_name: row.get(3),
        scopes: words(row.get(4)),
        all_orgs: row.get(5),
        orgs: words(row.get(6)),
        valid_from: row.get(7),
        valid_to: row.get(8),
        created_at: row.get(9),
        last_used_at: row.get(10),
        last_user_agent: row.get(11),
        last_address: row.get(12),
        revoked_at: row.get(13),
        revocation_reason: row.get(14),
    }
}

/// A notification from a row of the outbox (`seq, attempts, tenant, event, token_id, owner,
/// payload`).
pub(super) fn pending_notification(row: &Row) -> PendingNotification {
    let event: String = row.get(3);
    let payload: String = row.get(6);
    PendingNotification {
        seq: row.get(0),
        attempts: u32::try_from(row.get::<_, i32>(1)).unwrap_or(0),
        notification: Notification {
            tenant: row.get(2),
            event: NotificationEvent::parse(&event).unwrap_or(NotificationEvent::ExpiringSoon),
            token_id: row.get(4),
            owner: row.get(5),
            payload: serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null),
        },
    }
}

/// A configuration version from a row of `tenant_configs`.
pub(super) fn stored_config(row: &Row) -> StoredConfig {
    StoredConfig {
        tenant: row.get(0),
        version: row.get(1),
        format: row.get(2),
        text: row.get(3),
        digest: row.get(5),
        actor: row.get(6),
        created_at: row.get(7),
    }
}

/// A credential from a row of `SELECT {CREDENTIAL_COLUMNS}`.
pub(super) fn credential(row: &Row) -> Result<CredentialRecord, StoreError> {
    let role: String = row.get(3);
    Ok(CredentialRecord {
        id: row.get(0),
        tenant: row.get(1),
        name: row.get(2),
        role: Role::parse(&role)
            .ok_or_else(|| StoreError::Unreadable(format!("a credential's role `{role}`")))?,
        created_at: row.get(4),
        created_by: row.get(5),
        rotated_at: row.get(6),
        last_used_at: row.get(7),
        revoked_at: row.get(8),
    })
}

/// A SCIM resource from a row of `SELECT {SCIM_COLUMNS}`.
pub(super) fn scim_record(row: &Row) -> Result<ScimRecord, StoreError> {
    let kind: String = row.get(1);
    let document: String = row.get(6);
    Ok(ScimRecord {
        tenant: row.get(0),
        kind: ScimKind::parse(&kind)
            .ok_or_else(|| StoreError::Unreadable(format!("a SCIM resource type `{kind}`")))?,
        id: row.get(2),
        name: row.get(3),
        external_id: row.get(4),
        active: row.get(5),
        document: serde_json::from_str(&document)
            .map_err(|error| StoreError::Unreadable(format!("a SCIM document: {error}")))?,
        version: row.get(7),
        created_at: row.get(8),
        modified_at: row.get(9),
    })
}
