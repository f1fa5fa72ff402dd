//! The token lifecycle, every step judged by the tenant's policies: create, regenerate, revoke,
//! authenticate (the gateway path), and the response to a token found in public.
//!
//! - **Create** and **regenerate** build a `create` (or `regenerate`) request from what is asked
//!   and let the tenant decide. A denied request stores nothing (the attempt is audited); with a
//!   clamping policy the stored `valid_to` is the shortened one. The secret is returned once.
//! - **Authenticate** checks the token's format and checksum, finds it by the hash of its
//!   secret, refuses unknown, revoked and expired tokens, and runs the tenant's `use` policies
//!   for the organization the request is made in. Uses are recorded in batches, not a write per
//!   request.
//! - **Leaks** run the tenant's `leak` policies: with `revoke_leaked_pats` on the token is
//!   revoked and its owner notified; otherwise, or for an allowlisted owner, only notified.
//!
//! A user's groups come from the request where it carries them, and otherwise from the tenant's
//! group directory, read on every decision so that a membership change applies at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::json;

use super::cache::Cache;
use super::format::{FormatError, Secret, SecretHash};
use super::store::{
    AuditEntry, AuditEvent, AuditQuery, Notification, NotificationEvent, Outcome, Page, StoreError,
    TokenQuery, TokenRecord, TokenStore, TokenUse,
};
use patrol::Tenant;
use patrol::decision::{Action, Decision, PATROL, TOKEN_NOT_VALID_FOR_ORG};
use patrol::identity::{self, ANY_ORG, Kind, MAX_GROUPS, MAX_ORGS, MAX_SCOPES};
use patrol::request::{Actor, Operation, Request, Token};
use patrol::timestamp::{Timestamp, format_rfc3339};

/// Tokens never live longer than a year, whatever the policies say.
pub const MAX_LIFETIME_DAYS: i64 = 365;
/// The most tokens a listing returns at once.
pub const MAX_PAGE: usize = 100;
/// The most members one group of the directory may have.
pub const MAX_GROUP_MEMBERS: usize = 100_000;

/// What to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    /// The user it is for.
    pub owner: String,
    /// The owner's groups, when the caller knows them; otherwise the directory's.
    pub groups: Option<Vec<String>>,
    /// A name for people.
    pub display_name: String,
    /// Its scopes.
    pub scopes: Vec<String>,
    /// A global token.
    pub all_orgs: bool,
    /// The organizations it is for.
    pub orgs: Vec<String>,
    /// When it should stop being valid.
    pub valid_to: Timestamp,
    /// The organization the request is made in.
    pub org: String,
}

/// A token just issued: its record, its secret (shown this once), and the decision.
#[derive(Debug)]
pub struct Issued {
    /// The stored token.
    pub token: TokenRecord,
    /// The secret.
    pub secret: Secret,
    /// The tenant's decision, allowed, perhaps with an adjusted `valid_to`.
    pub decision: Decision,
}

/// Why a lifecycle operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    /// The tenant's policies refused it; nothing was stored.
    #[error("the tenant's policies refused the request")]
    Denied(Box<Decision>),
    /// No such token (or none that can be regenerated).
    #[error("no token `{0}` in this tenant")]
    NotFound(String),
    /// What was asked is malformed; `field` names the field.
    #[error("`{field}`: {problem}")]
    Invalid {
        /// The field at fault, as the token API names it (`scope`, `targetAccounts[1]`).
        field: String,
        /// What is wrong.
        problem: String,
    },
    /// The owner was deprovisioned by the tenant's identity provider (SCIM).
    #[error(
        "`{0}` was deprovisioned by the tenant's identity provider: no token can be issued to \
         them until it provisions them again"
    )]
    Deprovisioned(String),
    /// The group is kept by the tenant's identity provider over SCIM.
    #[error(
        "the group `{0}` is provisioned by the tenant's identity provider over SCIM and is \
         read-only here: change it in the identity provider"
    )]
    ManagedByScim(String),
    /// The operating system's random number generator failed.
    #[error("cannot generate a token")]
    Random(#[source] getrandom::Error),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl LifecycleError {
    /// Whether the store could not be reached.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, LifecycleError::Store(error) if error.is_unavailable())
    }
}

impl AuthError {
    /// Whether the store could not be reached (the token may well be valid).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, AuthError::Store(error) if error.is_unavailable())
    }
}

/// Who asked to authenticate, as the gateway saw them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Client {
    /// The `User-Agent`.
    pub user_agent: Option<String>,
    /// The address the request came from.
    pub address: Option<String>,
}

/// A token that authenticated a request.
#[derive(Debug)]
pub struct Authenticated {
    /// The token.
    pub token: TokenRecord,
    /// The tenant's `use` decision, allowed.
    pub decision: Decision,
}

/// Why a token did not authenticate a request.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No token in the request.
    #[error("no token: send `Authorization: Bearer <token>` or Basic with the token as password")]
    Missing,
    /// Not a patrol token, or a mistyped one.
    #[error("{0}")]
    Malformed(FormatError),
    /// Not a token of this tenant.
    #[error("unknown token")]
    Unknown,
    /// Revoked.
    #[error("the token was revoked")]
    Revoked,
    /// Limited to other organizations than the one the request is made in.
    #[error("the token is not valid in this organization")]
    NotValidForOrg(Box<DeniedUse>),
    /// Past its `valid_to`.
    #[error("the token expired at {}", format_rfc3339(*.0))]
    Expired(Timestamp),
    /// The tenant's `use` policies refused it.
    #[error("the tenant's policies refuse this token here")]
    Denied(Box<DeniedUse>),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A use the tenant's policies refused: the request they judged, and their decision.
#[derive(Debug)]
pub struct DeniedUse {
    /// The `use` request, as built from the token.
    pub request: Request,
    /// The refusal.
    pub decision: Decision,
}

/// What happened to one token found in public.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LeakOutcome {
    /// Revoked, and its owner notified.
    Revoked,
    /// Left valid (automatic revocation is off, or the owner is on its allowlist); its owner
    /// notified.
    Notified,
    /// It had already been revoked.
    AlreadyRevoked,
    /// Not a token patrol knows (in this tenant).
    Unknown,
}

/// The response to one token found in public.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LeakReport {
    /// The token's first characters, to tell reports apart; never the secret.
    pub hint: String,
    /// The token's id, when patrol knows it.
    pub token_id: Option<String>,
    /// What happened.
    pub outcome: LeakOutcome,
}

/// Where a leaked token was found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeakSource {
    /// Where, as a URL, if known.
    pub url: Option<String>,
    /// Who found it, such as `github` or `patrol scan`.
    pub reporter: String,
}

/// The token lifecycle over a [`TokenStore`].
pub struct Tokens {
    store: Arc<dyn TokenStore>,
    /// Token records and groups in memory, for a replica that follows the change log.
    cache: Option<Arc<Cache>>,
    /// Uses not yet written, by token.
    uses: Mutex<HashMap<String, TokenUse>>,
    /// When each API credential's use was last recorded.
    pub(super) credential_uses: super::admins::UseRecords,
}

impl Tokens {
    /// The lifecycle over `store`, reading it for every lookup.
    pub fn new(store: Arc<dyn TokenStore>) -> Tokens {
        Tokens {
            store,
            cache: None,
            uses: Mutex::new(HashMap::new()),
            credential_uses: Default::default(),
        }
    }

    /// The lifecycle over `store` with `cache` in front of the gateway path's lookups. Whoever
    /// creates it must keep the cache caught up with the store's change log (see [`Cache`]);
    /// until then, and whenever it falls behind, lookups read through to the store.
    pub fn with_cache(store: Arc<dyn TokenStore>, cache: Arc<Cache>) -> Tokens {
        Tokens {
            cache: Some(cache),
            ..Tokens::new(store)
        }
    }

    /// The store underneath.
    pub fn store(&self) -> &Arc<dyn TokenStore> {
        &self.store
    }

    /// The cache, if there is one.
    pub fn cache(&self) -> Option<&Arc<Cache>> {
        self.cache.as_ref()
    }

    /// The cache, when what it holds may be trusted.
    fn fresh_cache(&self) -> Option<&Cache> {
        self.cache.as_deref().filter(|cache| cache.is_fresh())
    }

    /// The token whose secret hashes to `hash`: from the cache when it is fresh, else from
    /// the store (an unreachable store is an error: the gateway path fails closed).
    fn find(&self, hash: &SecretHash) -> Result<Option<TokenRecord>, StoreError> {
        let Some(cache) = self.fresh_cache() else {
            if let Some(cache) = &self.cache {
                cache.count_read_through();
            }
            return self.store.find(hash);
        };
        if let Some(token) = cache.token(hash) {
            return Ok(Some(token));
        }
        let generation = cache.generation();
        let found = self.store.find(hash)?;
        if let Some(token) = &found {
            cache.fill_token(generation, hash, token);
        }
        Ok(found)
    }

    /// The groups `user` of `tenant` belongs to, from the cache when it is fresh.
    fn groups_of(&self, tenant: &str, user: &str) -> Result<Vec<String>, StoreError> {
        let Some(cache) = self.fresh_cache() else {
            return self.store.groups_of(tenant, user);
        };
        if let Some(groups) = cache.groups(tenant, user) {
            return Ok(groups);
        }
        let generation = cache.generation();
        let groups = self.store.groups_of(tenant, user)?;
        cache.fill_groups(generation, tenant, user, &groups);
        Ok(groups)
    }

    /// Deletes a group of the tenant's directory; returns whether it existed.
    pub fn delete_group(&self, tenant: &str, group: &str) -> Result<bool, LifecycleError> {
        self.refuse_scim_group(tenant, group)?;
        let deleted = self.store.delete_group(tenant, group)?;
        if let Some(cache) = &self.cache {
            cache.forget_groups(tenant);
        }
        Ok(deleted)
    }

    /// Creates a token for `new.owner`, if the tenant's policies allow it.
    pub fn create(
        &self,
        tenant: &Tenant,
        new: NewToken,
        now: Timestamp,
    ) -> Result<Issued, LifecycleError> {
        let owner = new.owner.trim().to_lowercase();
        let scopes = check_new(tenant, &owner, &new, now)?;
        self.refuse_deprovisioned(tenant.name(), &owner)?;
        let groups = match new.groups {
            Some(groups) => groups,
            None => self.groups_of(tenant.name(), &owner)?,
        };
        let request = Request {
            operation: Operation::Create,
            now,
            org: new.org.clone(),
            user: Actor {
                id: owner.clone(),
                groups,
            },
            token: Token {
                id: None,
                scopes,
                all_orgs: new.all_orgs,
                orgs: if new.all_orgs {
                    Vec::new()
                } else {
                    new.orgs.clone()
                },
                valid_from: now,
                valid_to: new.valid_to,
            },
        };
        let decision = tenant.evaluate(&request);
        if !decision.allowed {
            self.store.audit(&AuditEntry {
                time: now,
                tenant: tenant.name().to_string(),
                event: AuditEvent::PatCreate,
                actor: owner,
                token_id: None,
                outcome: Outcome::Denied,
                details: json!({
                    "display_name": new.display_name,
                    "scopes": request.token.scopes,
                    "violations": decision.violations,
                }),
            })?;
            return Err(LifecycleError::Denied(Box::new(decision)));
        }
        let secret = Secret::generate().map_err(LifecycleError::Random)?;
        let token = TokenRecord {
            id: uuid::Uuid::new_v4().to_string(),
            tenant: tenant.name().to_string(),
            owner: owner.clone(),
            display_name: new.display_name.trim().to_string(),
            scopes: request.token.scopes,
            all_orgs: request.token.all_orgs,
            orgs: request.token.orgs,
            valid_from: now,
            valid_to: decision.adjusted_valid_to.unwrap_or(new.valid_to),
            created_at: now,
            last_used_at: None,
            last_user_agent: None,
            last_address: None,
            revoked_at: None,
            revocation_reason: None,
        };
        let audit = AuditEntry {
            time: now,
            tenant: token.tenant.clone(),
            event: AuditEvent::PatCreate,
            actor: owner,
            token_id: Some(token.id.clone()),
            outcome: Outcome::Success,
            details: token_details(&token),
        };
        let notification = notification(&token, NotificationEvent::Created, now, None);
        match self
            .store
            .create(&token, &secret.hash(), &audit, &notification)
        {
            Err(StoreError::Deprovisioned(owner)) => {
                return Err(LifecycleError::Deprovisioned(owner));
            }
            stored => stored?,
        }
        Ok(Issued {
            token,
            secret,
            decision,
        })
    }

    /// Gives a token a new secret and lifetime (`valid_to`, or as long as it had), judged by
    /// today's policies exactly like a creation.
    pub fn regenerate(
        &self,
        tenant: &Tenant,
        id: &str,
        valid_to: Option<Timestamp>,
        org: &str,
        now: Timestamp,
    ) -> Result<Issued, LifecycleError> {
        let existing = self
            .store
            .get(tenant.name(), id)?
            .filter(|token| token.revoked_at.is_none())
            .ok_or_else(|| LifecycleError::NotFound(id.to_string()))?;
        let valid_to = valid_to.unwrap_or(now + (existing.valid_to - existing.valid_from).max(1));
        let new = NewToken {
            owner: existing.owner.clone(),
            groups: None,
            display_name: existing.display_name.clone(),
            scopes: existing.scopes.clone(),
            all_orgs: existing.all_orgs,
            orgs: existing.orgs.clone(),
            valid_to,
            org: org.to_string(),
        };
        check_new(tenant, &existing.owner, &new, now)?;
        self.refuse_deprovisioned(tenant.name(), &existing.owner)?;
        let request = Request {
            operation: Operation::Regenerate,
            now,
            org: org.to_string(),
            user: Actor {
                id: existing.owner.clone(),
                groups: self.groups_of(tenant.name(), &existing.owner)?,
            },
            token: Token {
                id: Some(existing.id.clone()),
                scopes: existing.scopes.clone(),
                all_orgs: existing.all_orgs,
                orgs: existing.orgs.clone(),
                valid_from: now,
                valid_to,
            },
        };
        let decision = tenant.evaluate(&request);
        let mut audit = AuditEntry {
            time: now,
            tenant: tenant.name().to_string(),
            event: AuditEvent::PatUpdate,
            actor: existing.owner.clone(),
            token_id: Some(existing.id.clone()),
            outcome: Outcome::Denied,
            details: json!({ "violations": decision.violations }),
        };
        if !decision.allowed {
            self.store.audit(&audit)?;
            return Err(LifecycleError::Denied(Box::new(decision)));
        }
        let secret = Secret::generate().map_err(LifecycleError::Random)?;
        let valid_to = decision.adjusted_valid_to.unwrap_or(valid_to);
        audit.outcome = Outcome::Success;
        audit.details = json!({ "valid_to": format_rfc3339(valid_to) });
        let notification = notification(&existing, NotificationEvent::Regenerated, now, None);
        let token = self
            .store
            .regenerate(
                tenant.name(),
                id,
                &secret.hash(),
                now,
                valid_to,
                &audit,
                &notification,
            )?
            .ok_or_else(|| LifecycleError::NotFound(id.to_string()))?;
        if let Some(cache) = &self.cache {
            cache.forget_token(id);
        }
        Ok(Issued {
            token,
            secret,
            decision,
        })
    }

    /// Revokes a token at `actor`'s request. Revoking a revoked token changes nothing.
    pub fn revoke(
        &self,
        tenant: &str,
        id: &str,
        actor: &str,
        reason: &str,
        now: Timestamp,
    ) -> Result<TokenRecord, LifecycleError> {
        let existing = self
            .store
            .get(tenant, id)?
            .ok_or_else(|| LifecycleError::NotFound(id.to_string()))?;
        let audit = AuditEntry {
            time: now,
            tenant: tenant.to_string(),
            event: AuditEvent::PatRevoke,
            actor: actor.to_lowercase(),
            token_id: Some(id.to_string()),
            outcome: Outcome::Success,
            details: json!({ "reason": reason }),
        };
        let notification = notification(&existing, NotificationEvent::Revoked, now, Some(reason));
        let revoked = self
            .store
            .revoke(tenant, id, now, reason, &[audit], &[notification])?
            .ok_or_else(|| LifecycleError::NotFound(id.to_string()))?;
        if let Some(cache) = &self.cache {
            cache.forget_token(id);
        }
        Ok(revoked)
    }

    /// One token of a tenant.
    pub fn get(&self, tenant: &str, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        self.store.get(tenant, id)
    }

    /// A page of a tenant's tokens (at most [`MAX_PAGE`]).
    pub fn list(
        &self,
        tenant: &str,
        query: &TokenQuery,
        now: Timestamp,
    ) -> Result<Page<TokenRecord>, StoreError> {
        let query = TokenQuery {
            owner: query.owner.as_deref().map(str::to_lowercase),
            limit: query.limit.clamp(1, MAX_PAGE),
            ..query.clone()
        };
        self.store.list(tenant, &query, now)
    }

    /// Retires a deleted tenant's tokens: every one not yet revoked is revoked (audited as
    /// `Token.PatSystemRevokeEvent` with reason `tenant_deleted`, done by `actor`) and its
    /// owner notified, and the tenant's groups are deleted, so that nothing of it stays valid
    /// for a tenant created later under the same name. Returns how many tokens were revoked.
    pub fn retire_tenant(
        &self,
        tenant: &str,
        actor: &str,
        now: Timestamp,
    ) -> Result<usize, StoreError> {
        let actor = actor.to_lowercase();
        let retired = self
            .store
            .retire_tenant(tenant, now, TENANT_DELETED, &|token| {
                let audit = AuditEntry {
                    time: now,
                    tenant: tenant.to_string(),
                    event: AuditEvent::PatSystemRevoke,
                    actor: actor.clone(),
                    token_id: Some(token.id.clone()),
                    outcome: Outcome::Success,
                    details: json!({ "reason": TENANT_DELETED }),
                };
                let notification =
                    notification(token, NotificationEvent::Revoked, now, Some(TENANT_DELETED));
                (audit, notification)
            });
        if let Some(cache) = &self.cache {
            cache.forget_tenant(tenant);
        }
        retired
    }

    /// Sets a group's members in the tenant's directory, replacing the previous ones. The
    /// group id and every member are checked; members are stored lowercase, without repeats.
    /// Returns the members as stored.
    pub fn set_group(
        &self,
        tenant: &str,
        group: &str,
        members: &[String],
    ) -> Result<Vec<String>, LifecycleError> {
        identity::check(Kind::GroupId, group).map_err(|invalid| LifecycleError::Invalid {
            field: "group".to_string(),
            problem: invalid.to_string(),
        })?;
        let mut stored: Vec<String> = members
            .iter()
            .map(|member| member.trim().to_lowercase())
            .collect();
        identity::check_list(Kind::UserId, &stored, MAX_GROUP_MEMBERS).map_err(
            |(index, invalid)| LifecycleError::Invalid {
                field: index.map_or("members".to_string(), |i| format!("members[{i}]")),
                problem: invalid.to_string(),
            },
        )?;
        stored.sort();
        stored.dedup();
        self.refuse_scim_group(tenant, group)?;
        self.store.set_group(tenant, group, &stored)?;
        if let Some(cache) = &self.cache {
            cache.forget_groups(tenant);
        }
        Ok(stored)
    }

    /// Authenticates `presented` for a request in `org`: the gateway path.
    pub fn authenticate(
        &self,
        tenant: &Tenant,
        presented: &str,
        org: &str,
        client: Client,
        now: Timestamp,
    ) -> Result<Authenticated, AuthError> {
        let secret = Secret::parse(presented).map_err(AuthError::Malformed)?;
        let token = self
            .find(&secret.hash())?
            .filter(|token| token.tenant == tenant.name())
            .ok_or(AuthError::Unknown)?;
        if token.revoked_at.is_some() {
            return Err(AuthError::Revoked);
        }
        if token.valid_to <= now {
            return Err(AuthError::Expired(token.valid_to));
        }
        let request = self.request_for(&token, Operation::Use, org, now)?;
        let decision = tenant.evaluate(&request);
        if !decision.allowed {
            let denied = Box::new(DeniedUse { request, decision });
            let elsewhere = denied.decision.enforced_violations().any(|violation| {
                &*violation.policy == PATROL && violation.code == TOKEN_NOT_VALID_FOR_ORG
            });
            return Err(if elsewhere {
                AuthError::NotValidForOrg(denied)
            } else {
                AuthError::Denied(denied)
            });
        }
        self.pending_uses().insert(
            token.id.clone(),
            TokenUse {
                token_id: token.id.clone(),
                at: now,
                user_agent: client.user_agent,
                address: client.address,
            },
        );
        Ok(Authenticated { token, decision })
    }

    /// Writes the uses recorded since the last flush, in one transaction.
    pub fn flush_uses(&self) -> Result<(), StoreError> {
        let uses: Vec<TokenUse> = self.pending_uses().drain().map(|(_, use_)| use_).collect();
        self.store.record_uses(&uses)
    }

    fn pending_uses(&self) -> std::sync::MutexGuard<'_, HashMap<String, TokenUse>> {
        self.uses
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Responds to tokens found in public. `tenant_of` gives the policies of a token's tenant;
    /// `only_tenant` limits the response to one tenant's tokens (others are reported unknown,
    /// so that a tenant learns nothing of another's).
    pub fn leaks(
        &self,
        found: &[Secret],
        only_tenant: Option<&str>,
        tenant_of: &dyn Fn(&str) -> Option<Arc<Tenant>>,
        source: &LeakSource,
        now: Timestamp,
    ) -> Result<Vec<LeakReport>, StoreError> {
        let mut reports = Vec::with_capacity(found.len());
        for secret in found {
            let known = self
                .store
                .find(&secret.hash())?
                .filter(|token| only_tenant.is_none_or(|tenant| token.tenant == tenant))
                .and_then(|token| Some((tenant_of(&token.tenant)?, token)));
            let (outcome, token_id) = match known {
                None => (LeakOutcome::Unknown, None),
                Some((tenant, token)) => {
                    (self.leaked(&tenant, &token, source, now)?, Some(token.id))
                }
            };
            reports.push(LeakReport {
                hint: secret.hint(),
                token_id,
                outcome,
            });
        }
        Ok(reports)
    }

    fn leaked(
        &self,
        tenant: &Tenant,
        token: &TokenRecord,
        source: &LeakSource,
        now: Timestamp,
    ) -> Result<LeakOutcome, StoreError> {
        let discovery = AuditEntry {
            time: now,
            tenant: token.tenant.clone(),
            event: AuditEvent::PatPublicDiscovery,
            actor: source.reporter.clone(),
            token_id: Some(token.id.clone()),
            outcome: Outcome::Success,
            details: json!({ "url": source.url }),
        };
        if token.revoked_at.is_some() {
            self.store.audit(&discovery)?;
            return Ok(LeakOutcome::AlreadyRevoked);
        }
        let request = self.request_for(token, Operation::Leak, ANY_ORG, now)?;
        let decision = tenant.evaluate(&request);
        let found = notification(
            token,
            NotificationEvent::FoundInPublic,
            now,
            source.url.as_deref(),
        );
        if decision.actions.contains(&Action::RevokeToken) {
            let reason = match &source.url {
                Some(url) => format!("found in public at {url}"),
                None => "found in public".to_string(),
            };
            let revocation = AuditEntry {
                event: AuditEvent::PatSystemRevoke,
                actor: PATROL.to_string(),
                details: json!({ "reason": reason }),
                ..discovery.clone()
            };
            let revoked = notification(
                token,
                NotificationEvent::RevokedBySystem,
                now,
                Some(&reason),
            );
            self.store.revoke(
                &token.tenant,
                &token.id,
                now,
                &reason,
                &[discovery, revocation],
                &[found, revoked],
            )?;
            if let Some(cache) = &self.cache {
                cache.forget_token(&token.id);
            }
            Ok(LeakOutcome::Revoked)
        } else {
            // Automatic revocation is off, or the owner is exempt from it: the owner is told
            // either way, so that they can revoke it themselves.
            self.store.audit_and_notify(&discovery, &found)?;
            Ok(LeakOutcome::Notified)
        }
    }

    /// A request about a stored token, with its owner's groups from the directory.
    /// The request a regeneration of `token` in `org` at `now` is judged as: the same
    /// lifetime, from now (what [`Tokens::regenerate`] asks when given no `valid_to`).
    pub fn regeneration_request(
        &self,
        token: &TokenRecord,
        org: &str,
        now: Timestamp,
    ) -> Result<Request, StoreError> {
        let mut request = self.request_for(token, Operation::Regenerate, org, now)?;
        request.token.valid_from = now;
        request.token.valid_to = now + (token.valid_to - token.valid_from).max(1);
        Ok(request)
    }

    /// The request a use of `token` in `org` at `now` is judged as, as on the gateway path.
    pub fn use_request(
        &self,
        token: &TokenRecord,
        org: &str,
        now: Timestamp,
    ) -> Result<Request, StoreError> {
        self.request_for(token, Operation::Use, org, now)
    }

    fn request_for(
        &self,
        token: &TokenRecord,
        operation: Operation,
        org: &str,
        now: Timestamp,
    ) -> Result<Request, StoreError> {
        Ok(Request {
            operation,
            now,
            org: org.to_string(),
            user: Actor {
                id: token.owner.clone(),
                groups: self.groups_of(&token.tenant, &token.owner)?,
            },
            token: Token {
                id: Some(token.id.clone()),
                scopes: token.scopes.clone(),
                all_orgs: token.all_orgs,
                orgs: token.orgs.clone(),
                valid_from: token.valid_from,
                valid_to: token.valid_to,
            },
        })
    }

    /// A tenant's audit log.
    pub fn audit_log(
        &self,
        tenant: &str,
        query: &AuditQuery,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        self.store.audit_log(tenant, query)
    }

    /// Records what changed in a tenant's policies (see [`super::policy_changes`]): one
    /// `OrganizationPolicy.PolicyValueUpdated` entry per policy changed. Returns how many.
    pub fn policies_changed(
        &self,
        tenant: &str,
        actor: &str,
        before: Option<&Tenant>,
        after: Option<&Tenant>,
        now: Timestamp,
    ) -> Result<usize, StoreError> {
        let mut changes = super::policy_changes(before, after);
        if actor == FILE_ACTOR && !changes.is_empty() {
            // A change someone made through patrol (`whatif --apply`, MCP) is recorded under
            // their name and written to the file, which a running `patrol serve` then sees
            // change. Only that second sighting is skipped: a file change whose policy's last
            // recorded entry is the very same change (same value before and after).
            let recorded = self.store.audit_log(
                tenant,
                &AuditQuery {
                    event: Some(AuditEvent::PolicyValueUpdated),
                    limit: usize::MAX,
                    ..AuditQuery::default()
                },
            )?;
            let mut latest: HashMap<(String, String), &serde_json::Value> = HashMap::new();
            for entry in &recorded {
                // Newest first: keep the first seen.
                latest
                    .entry(policy_key(&entry.details))
                    .or_insert(&entry.details);
            }
            changes.retain(|change| {
                latest.get(&policy_key(change)).is_none_or(|last| {
                    last["value"] != change["value"] || last["previous"] != change["previous"]
                })
            });
        }
        for change in &changes {
            self.store.audit(&AuditEntry {
                time: now,
                tenant: tenant.to_string(),
                event: AuditEvent::PolicyValueUpdated,
                actor: actor.to_string(),
                token_id: None,
                outcome: Outcome::Success,
                details: change.clone(),
            })?;
        }
        Ok(changes.len())
    }
}

/// The actor of policy changes `patrol serve` sees in the tenants folder.
pub const FILE_ACTOR: &str = "patrol (configuration file)";

/// A policy-change entry's policy and organization.
fn policy_key(change: &serde_json::Value) -> (String, String) {
    (change["policy"].to_string(), change["org"].to_string())
}

/// The reason recorded for the tokens of a deleted tenant.
pub const TENANT_DELETED: &str = "tenant_deleted";

/// Checks what is asked before anything is judged; returns the scopes as the tenant's
/// catalogue spells them. Fields are named as the token API names them.
fn check_new(
    tenant: &Tenant,
    owner: &str,
    new: &NewToken,
    now: Timestamp,
) -> Result<Vec<String>, LifecycleError> {
    let invalid = |field: String, problem: String| LifecycleError::Invalid { field, problem };
    let one = |field: &str, kind: Kind, value: &str| {
        identity::check(kind, value).map_err(|error| invalid(field.to_string(), error.to_string()))
    };
    let list = |field: &str, kind: Kind, values: &[String], max: usize| {
        identity::check_list(kind, values, max).map_err(|(index, error)| {
            let field = index.map_or(field.to_string(), |i| format!("{field}[{i}]"));
            invalid(field, error.to_string())
        })
    };
    one("user", Kind::UserId, owner)?;
    if let Some(groups) = &new.groups {
        list("groups", Kind::GroupId, groups, MAX_GROUPS)?;
    }
    one("displayName", Kind::DisplayName, new.display_name.trim())?;
    // Scopes travel as one space-separated string (`scope`): errors name that field, and the
    // scope at fault in the message.
    if new.scopes.is_empty() {
        return Err(invalid(
            "scope".into(),
            "must name at least one scope".into(),
        ));
    }
    identity::check_list(Kind::Scope, &new.scopes, MAX_SCOPES).map_err(|(index, error)| {
        let problem = match index {
            Some(i) => format!("the scope {:?} {error}", new.scopes[i]),
            None => error.to_string(),
        };
        invalid("scope".into(), problem)
    })?;
    let scopes = tenant
        .scopes()
        .canonicalize(&new.scopes)
        .map_err(|unknown| invalid("scope".into(), unknown.to_string()))?;
    if !new.all_orgs && new.orgs.is_empty() {
        return Err(invalid(
            "targetAccounts".into(),
            "must name at least one organization unless `allOrgs` is true".into(),
        ));
    }
    if !new.all_orgs {
        list("targetAccounts", Kind::Org, &new.orgs, MAX_ORGS)?;
    }
    one("org", Kind::Org, &new.org)?;
    if new.valid_to <= now {
        return Err(invalid("validTo".into(), "must be in the future".into()));
    }
    if new.valid_to - now > MAX_LIFETIME_DAYS * 86_400 {
        return Err(invalid(
            "validTo".into(),
            "a token may not live longer than a year".into(),
        ));
    }
    Ok(scopes)
}

fn token_details(token: &TokenRecord) -> serde_json::Value {
    json!({
        "display_name": token.display_name,
        "scopes": token.scopes,
        "all_orgs": token.all_orgs,
        "orgs": token.orgs,
        "valid_to": format_rfc3339(token.valid_to),
    })
}

/// A notification about `token`; never carries its secret.
pub(crate) fn notification(
    token: &TokenRecord,
    event: NotificationEvent,
    now: Timestamp,
    detail: Option<&str>,
) -> Notification {
    Notification {
        tenant: token.tenant.clone(),
        event,
        token_id: Some(token.id.clone()),
        owner: Some(token.owner.clone()),
        payload: json!({
            "event": event.as_str(),
            "time": format_rfc3339(now),
            "tenant": token.tenant,
            "owner": token.owner,
            "token": {
                "id": token.id,
                "display_name": token.display_name,
                "scopes": token.scopes,
                "valid_to": format_rfc3339(token.valid_to),
            },
            "detail": detail,
        }),
    }
}
