//! Writing and reading back the rows `patrol store copy` moves (see [`crate::tokens::copy`]).

use tokio_postgres::GenericClient;

use super::rows::{insert_token, record};
use crate::tokens::accounts::{CREDENTIAL_COLUMNS, SCIM_COLUMNS};
use crate::tokens::copy::{AuditRow, CredentialRow, OutboxRow, Rows, ScimRow, TokenRow};

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
        "credentials",
        "scim_resources",
        "deprovisioned_users",
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
        insert_token(client, &row.token, &unhex(&row.secret_hash)).await?;
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
    for c in &rows.credentials {
        client
            .execute(
                "INSERT INTO credentials (id, tenant, name, role, secret_hash, created_at,
                   created_by, rotated_at, last_used_at, revoked_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                &[
                    &c.id,
                    &c.tenant,
                    &c.name,
                    &c.role,
                    &unhex(&c.secret_hash),
                    &c.created_at,
                    &c.created_by,
                    &c.rotated_at,
                    &c.last_used_at,
                    &c.revoked_at,
                ],
            )
            .await?;
    }
    for r in &rows.scim_resources {
        client
            .execute(
                "INSERT INTO scim_resources (tenant, kind, id, name, name_key, external_id,
                   active, document, version, created_at, modified_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                &[
                    &r.tenant,
                    &r.kind,
                    &r.id,
                    &r.name,
                    &r.name.to_lowercase(),
                    &r.external_id,
                    &r.active,
                    &r.document,
                    &r.version,
                    &r.created_at,
                    &r.modified_at,
                ],
            )
            .await?;
    }
    for (tenant, user, at) in &rows.deprovisioned_users {
        client
            .execute(
                "INSERT INTO deprovisioned_users (tenant, user_id, at) VALUES ($1, $2, $3)",
                &[tenant, user, at],
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
            token: record(&row),
            secret_hash: crate::tokens::format::hex(&hash),
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
    for row in client
        .query(
            &format!("SELECT {CREDENTIAL_COLUMNS}, secret_hash FROM credentials"),
            &[],
        )
        .await?
    {
        let hash: Vec<u8> = row.get(9);
        rows.credentials.push(CredentialRow {
            id: row.get(0),
            tenant: row.get(1),
            name: row.get(2),
            role: row.get(3),
            secret_hash: crate::tokens::format::hex(&hash),
            created_at: row.get(4),
            created_by: row.get(5),
            rotated_at: row.get(6),
            last_used_at: row.get(7),
            revoked_at: row.get(8),
        });
    }
    for row in client
        .query(&format!("SELECT {SCIM_COLUMNS} FROM scim_resources"), &[])
        .await?
    {
        rows.scim_resources.push(ScimRow {
            tenant: row.get(0),
            kind: row.get(1),
            id: row.get(2),
            name: row.get(3),
            external_id: row.get(4),
            active: row.get(5),
            document: row.get(6),
            version: row.get(7),
            created_at: row.get(8),
            modified_at: row.get(9),
        });
    }
    for row in client
        .query("SELECT tenant, user_id, at FROM deprovisioned_users", &[])
        .await?
    {
        rows.deprovisioned_users
            .push((row.get(0), row.get(1), row.get(2)));
    }
    rows.sort();
    Ok(rows)
}
