//! The token lifecycle's side of tenant administration: API credentials with a role, and the
//! writes of SCIM provisioning with what they mean for tokens (a deprovisioned user's tokens
//! are revoked, and no new one is issued to them; groups the identity provider keeps are
//! read-only elsewhere).

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::json;

use super::USER_DEPROVISIONED;
use super::accounts::{
    CredentialChange, CredentialRecord, Role, ScimConflict, ScimKind, ScimWrite,
};
use super::format::Secret;
use super::service::{LifecycleError, Tokens, notification};
use super::store::{AuditEntry, AuditEvent, NotificationEvent, Outcome, StoreError};
use patrol::identity::{self, Kind};
use patrol::timestamp::Timestamp;

/// A use of a credential is recorded (its `last_used_at`, and an audit entry) at most this
/// often, so that a provisioning run of thousands of requests is not thousands of writes.
pub const CREDENTIAL_USE_EVERY: i64 = 60;

/// When each credential's use was last recorded, by this process.
#[derive(Default)]
pub(super) struct UseRecords(Mutex<HashMap<String, Timestamp>>);

impl Tokens {
    /// Creates a credential for `tenant` with `role`; its secret is returned once, and only
    /// its hash is stored. Audited as `Credential.CreateEvent` by `actor`.
    pub fn create_credential(
        &self,
        tenant: &str,
        name: &str,
        role: Role,
        actor: &str,
        now: Timestamp,
    ) -> Result<(CredentialRecord, Secret), LifecycleError> {
        identity::check(Kind::DisplayName, name).map_err(|invalid| LifecycleError::Invalid {
            field: "name".to_string(),
            problem: invalid.to_string(),
        })?;
        let taken = self
            .store()
            .credentials(Some(tenant))?
            .into_iter()
            .any(|existing| existing.revoked_at.is_none() && existing.name == name);
        if taken {
            return Err(LifecycleError::Invalid {
                field: "name".to_string(),
                problem: format!(
                    "the tenant already has a credential called `{name}`: pick another name, \
                     or rotate that one"
                ),
            });
        }
        let secret = Secret::generate_credential().map_err(LifecycleError::Random)?;
        let credential = CredentialRecord {
            id: format!("cred_{}", &uuid::Uuid::new_v4().simple().to_string()[..16]),
            tenant: tenant.to_string(),
            name: name.to_string(),
            role,
            created_at: now,
            created_by: actor.to_lowercase(),
            rotated_at: None,
            last_used_at: None,
            revoked_at: None,
        };
        let audit = credential_audit(&credential, AuditEvent::CredentialCreate, actor, now);
        self.store()
            .create_credential(&credential, &secret.hash(), &audit)?;
        Ok((credential, secret))
    }

    /// Every credential, of one tenant or of all; never a secret.
    pub fn credentials(&self, tenant: Option<&str>) -> Result<Vec<CredentialRecord>, StoreError> {
        self.store().credentials(tenant)
    }

    /// Gives the credential `id` a new secret, returned once; the old one stops working at
    /// once. `None` if there is no such credential, or it is revoked.
    pub fn rotate_credential(
        &self,
        id: &str,
        actor: &str,
        now: Timestamp,
    ) -> Result<Option<(CredentialRecord, Secret)>, LifecycleError> {
        let Some(existing) = self.live_credential(id)? else {
            return Ok(None);
        };
        let secret = Secret::generate_credential().map_err(LifecycleError::Random)?;
        let audit = credential_audit(&existing, AuditEvent::CredentialRotate, actor, now);
        let rotated = self.store().change_credential(
            id,
            CredentialChange::Rotate(secret.hash()),
            now,
            Some(&audit),
        )?;
        Ok(rotated
            .filter(|credential| credential.revoked_at.is_none())
            .map(|credential| (credential, secret)))
    }

    /// Revokes the credential `id` for good. `None` if there is no such credential; revoking a
    /// revoked one changes nothing.
    pub fn revoke_credential(
        &self,
        id: &str,
        actor: &str,
        now: Timestamp,
    ) -> Result<Option<CredentialRecord>, StoreError> {
        let Some(existing) = self
            .store()
            .credentials(None)?
            .into_iter()
            .find(|credential| credential.id == id)
        else {
            return Ok(None);
        };
        let audit = credential_audit(&existing, AuditEvent::CredentialRevoke, actor, now);
        self.store()
            .change_credential(id, CredentialChange::Revoke, now, Some(&audit))
    }

    /// The live credential whose secret is `presented`, if any. A use is recorded (its time,
    /// and a `Credential.UseEvent` naming `what`) at most every [`CREDENTIAL_USE_EVERY`]
    /// seconds per credential.
    pub fn authenticate_credential(
        &self,
        presented: &str,
        what: &str,
        now: Timestamp,
    ) -> Result<Option<CredentialRecord>, StoreError> {
        let Ok(secret) = Secret::parse_credential(presented) else {
            return Ok(None);
        };
        let hash = secret.hash();
        let Some(credential) = self
            .store()
            .find_credential(&hash)?
            .filter(|credential| credential.revoked_at.is_none())
        else {
            return Ok(None);
        };
        let due = {
            let mut records = self
                .credential_uses
                .0
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let last = records.get(&credential.id).copied();
            let due = last.is_none_or(|last| now - last >= CREDENTIAL_USE_EVERY);
            if due {
                records.insert(credential.id.clone(), now);
            }
            due
        };
        if due {
            let mut audit = credential_audit(
                &credential,
                AuditEvent::CredentialUse,
                &credential.actor(),
                now,
            );
            audit.details["request"] = json!(what);
            self.store().change_credential(
                &credential.id,
                CredentialChange::Used,
                now,
                Some(&audit),
            )?;
        }
        Ok(Some(credential))
    }

    fn live_credential(&self, id: &str) -> Result<Option<CredentialRecord>, StoreError> {
        Ok(self
            .store()
            .credentials(None)?
            .into_iter()
            .find(|credential| credential.id == id && credential.revoked_at.is_none()))
    }

    /// Applies a SCIM write (see [`super::TokenStore::scim_apply`]): every token of a user it
    /// deprovisions is revoked with the reason `user_deprovisioned`, audited with `actor` (the
    /// SCIM client) and notified to its owner. The number of tokens revoked.
    pub fn apply_scim(
        &self,
        write: &ScimWrite,
        actor: &str,
    ) -> Result<Result<usize, ScimConflict>, StoreError> {
        let now = write.at;
        let actor = actor.to_lowercase();
        let applied = self.store().scim_apply(write, &|token| {
            let audit = AuditEntry {
                time: now,
                tenant: token.tenant.clone(),
                event: AuditEvent::PatRevoke,
                actor: actor.clone(),
                token_id: Some(token.id.clone()),
                outcome: Outcome::Success,
                details: json!({ "reason": USER_DEPROVISIONED, "owner": token.owner }),
            };
            let notification = notification(
                token,
                NotificationEvent::Revoked,
                now,
                Some(USER_DEPROVISIONED),
            );
            (audit, notification)
        })?;
        if let Some(cache) = self.cache() {
            // Tokens revoked and groups changed: what this replica holds of the tenant.
            cache.forget_tenant(&write.tenant);
        }
        Ok(applied)
    }

    /// Refuses to change a group the tenant's identity provider keeps.
    pub(super) fn refuse_scim_group(
        &self,
        tenant: &str,
        group: &str,
    ) -> Result<(), LifecycleError> {
        match self.store().scim_named(tenant, ScimKind::Group, group)? {
            Some(_) => Err(LifecycleError::ManagedByScim(group.to_string())),
            None => Ok(()),
        }
    }

    /// Refuses to issue a token to a user the tenant's identity provider deprovisioned.
    pub(super) fn refuse_deprovisioned(
        &self,
        tenant: &str,
        owner: &str,
    ) -> Result<(), LifecycleError> {
        if self.store().is_deprovisioned(tenant, owner)? {
            Err(LifecycleError::Deprovisioned(owner.to_string()))
        } else {
            Ok(())
        }
    }
}

fn credential_audit(
    credential: &CredentialRecord,
    event: AuditEvent,
    actor: &str,
    now: Timestamp,
) -> AuditEntry {
    AuditEntry {
        time: now,
        tenant: credential.tenant.clone(),
        event,
        actor: actor.to_lowercase(),
        token_id: None,
        outcome: Outcome::Success,
        details: json!({
            "credential": credential.id,
            "name": credential.name,
            "role": credential.role,
        }),
    }
}
