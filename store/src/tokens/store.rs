//! What patrol keeps about tokens, and the storage interface it keeps it behind.
//!
//! [`TokenStore`] is everything the token lifecycle, the gateway path, leak handling,
//! notifications, audit and the group directory need from storage, in operations that each
//! stand alone and are atomic. SQLite ([`super::SqliteStore`]) is the embedded default; another
//! database implements the same trait, and nothing that calls it changes.

use std::fmt;

use super::accounts::{
    CredentialChange, CredentialRecord, ScimConflict, ScimKind, ScimRecord, ScimWrite,
};

use serde::{Deserialize, Serialize};

use super::format::SecretHash;
use patrol::timestamp::Timestamp;

/// A token as stored: everything about it but its secret, of which only the hash is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenRecord {
    /// The token's id, a UUID: what people and APIs refer to it by.
    pub id: String,
    /// The tenant it belongs to.
    pub tenant: String,
    /// The user it was issued to (lowercase).
    pub owner: String,
    /// Its name, as its owner chose it.
    pub display_name: String,
    /// Its scopes.
    pub scopes: Vec<String>,
    /// A global token, valid in every organization.
    pub all_orgs: bool,
    /// The organizations it is limited to.
    pub orgs: Vec<String>,
    /// When it became valid.
    pub valid_from: Timestamp,
    /// When it stops being valid.
    pub valid_to: Timestamp,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last authenticated a request (recorded in batches, so up to a few seconds late).
    pub last_used_at: Option<Timestamp>,
    /// The `User-Agent` of the last request it authenticated.
    pub last_user_agent: Option<String>,
    /// The address the last request it authenticated came from.
    pub last_address: Option<String>,
    /// When it was revoked.
    pub revoked_at: Option<Timestamp>,
    /// Why it was revoked.
    pub revocation_reason: Option<String>,
}

/// Where a token is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenStatus {
    /// Valid and not revoked.
    Active,
    /// Revoked.
    Revoked,
    /// Past its `valid_to`.
    Expired,
}

impl TokenRecord {
    /// Its status at `now`; a revoked token is revoked even once it would have expired.
    pub fn status(&self, now: Timestamp) -> TokenStatus {
        if self.revoked_at.is_some() {
            TokenStatus::Revoked
        } else if self.valid_to <= now {
            TokenStatus::Expired
        } else {
            TokenStatus::Active
        }
    }
}

/// Which tokens a listing returns, as Azure DevOps' `displayFilterOption`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenFilter {
    /// Valid and not revoked.
    #[default]
    Active,
    /// Revoked.
    Revoked,
    /// Expired and not revoked.
    Expired,
    /// All of them.
    All,
}

/// The order of a listing, as Azure DevOps' `sortByOption`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TokenOrder {
    /// By when the token was created (`displayDate`, the default).
    #[default]
    DisplayDate,
    /// By display name, ignoring ASCII case.
    DisplayName,
    /// By status: active, then expired, then revoked.
    Status,
}

/// Which of a tenant's tokens a listing returns, in what order, and from where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenQuery {
    /// By status.
    pub filter: TokenFilter,
    /// Only this owner's (lowercase).
    pub owner: Option<String>,
    /// The order.
    pub order: TokenOrder,
    /// Ascending (the default) or descending.
    pub ascending: bool,
    /// At most this many.
    pub limit: usize,
    /// Where the previous page ended, as its `continuation` said.
    pub continuation: Option<String>,
}

impl Default for TokenQuery {
    fn default() -> Self {
        TokenQuery {
            filter: TokenFilter::default(),
            owner: None,
            order: TokenOrder::default(),
            ascending: true,
            limit: 100,
            continuation: None,
        }
    }
}

/// Where a page of a listing ended: the sort key of its last token. Opaque to callers, who
/// get it as a string and pass it back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Continuation {
    /// The order the listing was in.
    pub order: TokenOrder,
    /// And its direction.
    pub ascending: bool,
    /// The last token's key in that order (its lowercase name, its status rank), if any.
    pub key: serde_json::Value,
    /// The last token's creation time.
    pub created_at: Timestamp,
    /// The last token's id.
    pub id: String,
}

impl Continuation {
    /// The string handed out.
    pub fn encode(&self) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// Reads a string [`Continuation::encode`] handed out for a listing of `query`'s order.
    pub fn decode(text: &str, query: &TokenQuery) -> Result<Continuation, StoreError> {
        use base64::Engine as _;
        let invalid = || StoreError::BadContinuation(text.to_string());
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| invalid())?;
        let continuation: Continuation = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
        if continuation.order != query.order || continuation.ascending != query.ascending {
            return Err(invalid());
        }
        Ok(continuation)
    }
}

/// One page of a listing, and where the next starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items, oldest first.
    pub items: Vec<T>,
    /// Pass back to get the next page; `None` on the last.
    pub continuation: Option<String>,
}

/// An event in the audit log, named as Azure DevOps names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AuditEvent {
    /// A token was created.
    #[serde(rename = "Token.PatCreateEvent")]
    PatCreate,
    /// A token was regenerated.
    #[serde(rename = "Token.PatUpdateEvent")]
    PatUpdate,
    /// A token was revoked by a person.
    #[serde(rename = "Token.PatRevokeEvent")]
    PatRevoke,
    /// A token was revoked by patrol (found in public).
    #[serde(rename = "Token.PatSystemRevokeEvent")]
    PatSystemRevoke,
    /// A token was found in public.
    #[serde(rename = "Token.PatPublicDiscoveryEvent")]
    PatPublicDiscovery,
    /// A tenant's policies changed.
    #[serde(rename = "OrganizationPolicy.PolicyValueUpdated")]
    PolicyValueUpdated,
    /// An API credential was created for the tenant.
    #[serde(rename = "Credential.CreateEvent")]
    CredentialCreate,
    /// An API credential got a new secret.
    #[serde(rename = "Credential.RotateEvent")]
    CredentialRotate,
    /// An API credential was revoked.
    #[serde(rename = "Credential.RevokeEvent")]
    CredentialRevoke,
    /// An API credential was used (recorded at most once a minute per credential).
    #[serde(rename = "Credential.UseEvent")]
    CredentialUse,
    /// The identity provider created, replaced, changed or deleted a user over SCIM.
    #[serde(rename = "Scim.UserEvent")]
    ScimUser,
    /// The identity provider created, replaced, changed or deleted a group over SCIM.
    #[serde(rename = "Scim.GroupEvent")]
    ScimGroup,
}

impl AuditEvent {
    /// Every event.
    pub const ALL: [AuditEvent; 12] = [
        AuditEvent::PatCreate,
        AuditEvent::PatUpdate,
        AuditEvent::PatRevoke,
        AuditEvent::PatSystemRevoke,
        AuditEvent::PatPublicDiscovery,
        AuditEvent::PolicyValueUpdated,
        AuditEvent::CredentialCreate,
        AuditEvent::CredentialRotate,
        AuditEvent::CredentialRevoke,
        AuditEvent::CredentialUse,
        AuditEvent::ScimUser,
        AuditEvent::ScimGroup,
    ];

    /// The event's name.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditEvent::PatCreate => "Token.PatCreateEvent",
            AuditEvent::PatUpdate => "Token.PatUpdateEvent",
            AuditEvent::PatRevoke => "Token.PatRevokeEvent",
            AuditEvent::PatSystemRevoke => "Token.PatSystemRevokeEvent",
            AuditEvent::PatPublicDiscovery => "Token.PatPublicDiscoveryEvent",
            AuditEvent::PolicyValueUpdated => "OrganizationPolicy.PolicyValueUpdated",
            AuditEvent::CredentialCreate => "Credential.CreateEvent",
            AuditEvent::CredentialRotate => "Credential.RotateEvent",
            AuditEvent::CredentialRevoke => "Credential.RevokeEvent",
            AuditEvent::CredentialUse => "Credential.UseEvent",
            AuditEvent::ScimUser => "Scim.UserEvent",
            AuditEvent::ScimGroup => "Scim.GroupEvent",
        }
    }

    /// The event called `name`.
    pub fn parse(name: &str) -> Option<AuditEvent> {
        AuditEvent::ALL
            .into_iter()
            .find(|event| event.as_str() == name)
    }
}

impl fmt::Display for AuditEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened to the operation an audit entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// It was done.
    Success,
    /// The tenant's policies refused it.
    Denied,
}

/// One entry of the audit log. It never holds a token's secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// When.
    #[serde(with = "patrol::timestamp::rfc3339::required")]
    pub time: Timestamp,
    /// Which tenant.
    pub tenant: String,
    /// What.
    pub event: AuditEvent,
    /// Who did it: a user id, or `patrol` for what patrol did by itself.
    pub actor: String,
    /// The token concerned.
    pub token_id: Option<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// Anything else worth knowing: the token's name and scopes, the violations, the policy
    /// that changed.
    pub details: serde_json::Value,
}

/// Which audit entries to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// From this time on (inclusive).
    pub since: Option<Timestamp>,
    /// Before this time (exclusive).
    pub until: Option<Timestamp>,
    /// Only this event.
    pub event: Option<AuditEvent>,
    /// At most this many, newest first.
    pub limit: usize,
}

/// Something the owner of a token, or whoever watches a tenant, should hear about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationEvent {
    /// A token was created.
    Created,
    /// A token was regenerated.
    Regenerated,
    /// A token was revoked.
    Revoked,
    /// patrol revoked a token found in public.
    RevokedBySystem,
    /// A token was found in public.
    FoundInPublic,
    /// A token expires soon.
    ExpiringSoon,
}

impl NotificationEvent {
    /// Every event.
    pub const ALL: [NotificationEvent; 6] = [
        NotificationEvent::Created,
        NotificationEvent::Regenerated,
        NotificationEvent::Revoked,
        NotificationEvent::RevokedBySystem,
        NotificationEvent::FoundInPublic,
        NotificationEvent::ExpiringSoon,
    ];

    /// The event called `name`.
    pub fn parse(name: &str) -> Option<NotificationEvent> {
        NotificationEvent::ALL
            .into_iter()
            .find(|event| event.as_str() == name)
    }

    /// The event's name in notifications.
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationEvent::Created => "created",
            NotificationEvent::Regenerated => "regenerated",
            NotificationEvent::Revoked => "revoked",
            NotificationEvent::RevokedBySystem => "revoked_by_system",
            NotificationEvent::FoundInPublic => "found_in_public",
            NotificationEvent::ExpiringSoon => "expiring_soon",
        }
    }
}

/// A notification waiting in the outbox. Its payload never holds a token's secret.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notification {
    /// Which tenant.
    pub tenant: String,
    /// What happened.
    pub event: NotificationEvent,
    /// The token concerned.
    pub token_id: Option<String>,
    /// Its owner, to address the notification to.
    pub owner: Option<String>,
    /// The JSON delivered to the webhook.
    pub payload: serde_json::Value,
}

/// A notification read back from the outbox for delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingNotification {
    /// Its position in the outbox.
    pub seq: i64,
    /// Delivery attempts so far.
    pub attempts: u32,
    /// The notification.
    pub notification: Notification,
}

/// One use of a token, recorded in batches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenUse {
    /// The token.
    pub token_id: String,
    /// When.
    pub at: Timestamp,
    /// The client's `User-Agent`.
    pub user_agent: Option<String>,
    /// The client's address.
    pub address: Option<String>,
}

/// The columns of a token record, in the order both stores select them.
pub(super) const TOKEN_COLUMNS: &str = "id, tenant, owner, display_name, scopes, all_orgs, orgs, \
     valid_from, valid_to, created_at, last_used_at, last_user_agent, last_address, revoked_at, \
     revocation_reason";

/// Scopes and organizations as stored: space-separated, as Azure DevOps writes scopes.
pub(super) fn words(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_string).collect()
}

/// What a change to the store was about, for replicas that keep some of it in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// A token was revoked or regenerated; the key is its id.
    Token,
    /// A group of the tenant changed; the key is the group.
    Group,
    /// The tenant's configuration changed or the tenant was deleted (its tokens retired);
    /// the key is empty.
    Tenant,
    /// A component was stored; the key is its digest (`sha256:<hex>`).
    Component,
}

impl ChangeKind {
    /// The kind's name in the change log.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Token => "token",
            ChangeKind::Group => "group",
            ChangeKind::Tenant => "tenant",
            ChangeKind::Component => "component",
        }
    }

    /// The kind called `name`.
    pub fn parse(name: &str) -> Option<ChangeKind> {
        [
            ChangeKind::Token,
            ChangeKind::Group,
            ChangeKind::Tenant,
            ChangeKind::Component,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == name)
    }
}

/// One entry of the ordered change log: every revocation, regeneration, group, tenant or
/// component change writes one, in the transaction of the change itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// Its position in the log; later changes have larger numbers.
    pub seq: i64,
    /// The tenant concerned (empty for a component, which is anyone's).
    pub tenant: String,
    /// What changed.
    pub kind: ChangeKind,
    /// Which one: a token id, a group, a digest.
    pub key: String,
}

/// The store failed. Each variant keeps its cause as the error's
/// [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The folder of the database cannot be created.
    #[error("the token store cannot create `{}`", path.display())]
    CreateFolder {
        /// The folder.
        path: std::path::PathBuf,
        /// Why not.
        #[source]
        source: std::io::Error,
    },
    /// The database cannot be opened.
    #[error("the token store cannot open `{}`", path.display())]
    Open {
        /// The database.
        path: std::path::PathBuf,
        /// Why not.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A file the store writes cannot be written.
    #[error("cannot write `{}`", path.display())]
    WriteFile {
        /// The file.
        path: std::path::PathBuf,
        /// Why not.
        #[source]
        source: std::io::Error,
    },
    /// The database was written by a newer patrol.
    #[error(
        "the token store's database is at schema version {found}, newer than this patrol knows \
         ({known}); use a newer patrol"
    )]
    NewerSchema {
        /// The database's version.
        found: usize,
        /// The newest this patrol knows.
        known: usize,
    },
    /// A listing was given a continuation token it did not hand out.
    #[error(
        "`{0}` is not a continuation token of this listing; pass back the `continuationToken` \
         of the previous page, with the same sort options"
    )]
    BadContinuation(String),
    /// The database cannot be reached (it is down, or the network to it is).
    #[error("the database is unreachable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The database holds a record this patrol cannot read.
    #[error("the token store holds a record patrol cannot read: {0}")]
    Unreadable(String),
    /// The database failed a query or a transaction.
    #[error("the token store failed")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A token was not stored: its owner was deprovisioned by the tenant's identity provider
    /// (checked in the transaction that would store it, so that no deprovisioning slips
    /// between the check and the write).
    #[error("`{0}` was deprovisioned by the tenant's identity provider")]
    Deprovisioned(String),
}

impl StoreError {
    /// Whether the database could not be reached: the operation may succeed if retried.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

/// Storage for tokens, the audit log, the notification outbox and the group directory. Every
/// method is atomic; the methods that change a token also write its audit entry and its
/// notifications in the same transaction, so none is ever lost or recorded without the change.
pub trait TokenStore: Send + Sync {
    /// Stores a new token.
    fn create(
        &self,
        token: &TokenRecord,
        hash: &SecretHash,
        audit: &AuditEntry,
        notification: &Notification,
    ) -> Result<(), StoreError>;

    /// Gives an unrevoked token a new secret and validity. `None` when there is no such
    /// unrevoked token.
    #[allow(clippy::too_many_arguments)]
    fn regenerate(
        &self,
        tenant: &str,
        id: &str,
        hash: &SecretHash,
        valid_from: Timestamp,
        valid_to: Timestamp,
        audit: &AuditEntry,
        notification: &Notification,
    ) -> Result<Option<TokenRecord>, StoreError>;

    /// Revokes a token (a token already revoked stays as it was, and nothing is recorded).
    /// `None` when there is no such token.
    fn revoke(
        &self,
        tenant: &str,
        id: &str,
        at: Timestamp,
        reason: &str,
        audit: &[AuditEntry],
        notifications: &[Notification],
    ) -> Result<Option<TokenRecord>, StoreError>;

    /// The token `id` of `tenant`.
    fn get(&self, tenant: &str, id: &str) -> Result<Option<TokenRecord>, StoreError>;

    /// The token whose secret hashes to `hash`, compared in constant time.
    fn find(&self, hash: &SecretHash) -> Result<Option<TokenRecord>, StoreError>;

    /// A page of a tenant's tokens, in `query`'s order (statuses as of `now`).
    fn list(
        &self,
        tenant: &str,
        query: &TokenQuery,
        now: Timestamp,
    ) -> Result<Page<TokenRecord>, StoreError>;

    /// Retires a tenant's tokens and directory, as when the tenant is deleted: revokes every
    /// token not yet revoked, recording `retired(token)`'s audit entry and notification for
    /// each, and deletes its groups, in one transaction. The audit log stays. Returns how many
    /// tokens were revoked.
    fn retire_tenant(
        &self,
        tenant: &str,
        at: Timestamp,
        reason: &str,
        retired: &dyn Fn(&TokenRecord) -> (AuditEntry, Notification),
    ) -> Result<usize, StoreError>;

    /// Records when tokens were last used.
    fn record_uses(&self, uses: &[TokenUse]) -> Result<(), StoreError>;

    /// Appends to the audit log.
    fn audit(&self, entry: &AuditEntry) -> Result<(), StoreError>;

    /// Reads a tenant's audit log, newest first.
    fn audit_log(&self, tenant: &str, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError>;

    /// Appends to the audit log and queues a notification, together.
    fn audit_and_notify(
        &self,
        entry: &AuditEntry,
        notification: &Notification,
    ) -> Result<(), StoreError>;

    /// Queues a notification.
    fn notify(&self, notification: &Notification) -> Result<(), StoreError>;

    /// Queues an `expiring_soon` notification for every unrevoked token that expires between
    /// `now` and `before` and has not had one; returns how many.
    fn notify_expiring(
        &self,
        now: Timestamp,
        before: Timestamp,
        payload: &dyn Fn(&TokenRecord) -> serde_json::Value,
    ) -> Result<usize, StoreError>;

    /// Claims notifications due for delivery at `now`, oldest first: they are not due again
    /// before `lease_until`, so that of several workers sharing the store only one delivers
    /// each (the one that claimed it marks it [`delivered`](TokenStore::delivered) or
    /// [`failed`](TokenStore::delivery_failed); if it dies, the lease runs out and another
    /// takes it).
    fn claim_notifications(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<PendingNotification>, StoreError>;

    /// Marks a notification delivered.
    fn delivered(&self, seq: i64, at: Timestamp) -> Result<(), StoreError>;

    /// Records a failed delivery and when to try again.
    fn delivery_failed(
        &self,
        seq: i64,
        error: &str,
        next_attempt_at: Timestamp,
    ) -> Result<(), StoreError>;

    /// Sets a group's members (lowercase user ids), replacing the previous ones.
    fn set_group(&self, tenant: &str, group: &str, members: &[String]) -> Result<(), StoreError>;

    /// Deletes a group; returns whether it existed.
    fn delete_group(&self, tenant: &str, group: &str) -> Result<bool, StoreError>;

    /// A tenant's groups and their members, by group.
    fn groups(&self, tenant: &str) -> Result<Vec<(String, Vec<String>)>, StoreError>;

    /// The groups `user` belongs to.
    fn groups_of(&self, tenant: &str, user: &str) -> Result<Vec<String>, StoreError>;

    /// The change log after `after`, in order, at most `limit` entries.
    fn changes_since(&self, after: i64, limit: usize) -> Result<Vec<Change>, StoreError>;

    /// The position of the latest change (0 when there is none).
    fn last_change(&self) -> Result<i64, StoreError>;

    /// Retention: deletes change-log entries written before `changes_before` (always keeping
    /// the latest) and notifications delivered before `delivered_before`. Of several workers
    /// sharing the store, one prunes at a time; the others get `None`. The audit log is never
    /// pruned.
    fn prune(
        &self,
        changes_before: Timestamp,
        delivered_before: Timestamp,
    ) -> Result<Option<Pruned>, StoreError>;

    /// The change-log entry up to which the log has been pruned (0: never): a follower that
    /// has applied less than this has missed entries and must start afresh.
    fn pruned_upto(&self) -> Result<i64, StoreError>;

    /// Stores a new API credential with its secret's hash, and its audit entry.
    fn create_credential(
        &self,
        credential: &CredentialRecord,
        hash: &SecretHash,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;

    /// The credential whose secret has `hash`, revoked or not.
    fn find_credential(&self, hash: &SecretHash) -> Result<Option<CredentialRecord>, StoreError>;

    /// Every credential, of one tenant or of all, oldest first.
    fn credentials(&self, tenant: Option<&str>) -> Result<Vec<CredentialRecord>, StoreError>;

    /// Applies `change` to the credential `id` (unless it is revoked), with `audit`; the
    /// credential as it is afterwards, `None` if there is no such credential.
    fn change_credential(
        &self,
        id: &str,
        change: CredentialChange,
        at: Timestamp,
        audit: Option<&AuditEntry>,
    ) -> Result<Option<CredentialRecord>, StoreError>;

    /// The SCIM resource `id` of the tenant.
    fn scim_get(
        &self,
        tenant: &str,
        kind: ScimKind,
        id: &str,
    ) -> Result<Option<ScimRecord>, StoreError>;

    /// The SCIM resource of the tenant with `name` (a `userName` or a group's `displayName`),
    /// compared regardless of case.
    fn scim_named(
        &self,
        tenant: &str,
        kind: ScimKind,
        name: &str,
    ) -> Result<Option<ScimRecord>, StoreError>;

    /// Every SCIM resource of a kind in the tenant, by creation.
    fn scim_list(&self, tenant: &str, kind: ScimKind) -> Result<Vec<ScimRecord>, StoreError>;

    /// Applies a SCIM write in one transaction: the resource, the group directory, the
    /// deprovisioned users (every unrevoked token of theirs revoked, with the audit entry and
    /// notification `revoked` makes for each) and the audit entries. Nothing is written if it
    /// conflicts. The number of tokens revoked.
    fn scim_apply(
        &self,
        write: &ScimWrite,
        revoked: &dyn Fn(&TokenRecord) -> (AuditEntry, Notification),
    ) -> Result<Result<usize, ScimConflict>, StoreError>;

    /// Whether the user was deprovisioned by the tenant's identity provider (no token may be
    /// issued to them).
    fn is_deprovisioned(&self, tenant: &str, user: &str) -> Result<bool, StoreError>;
}

/// What a round of retention deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Change-log entries.
    pub changes: u64,
    /// Delivered notifications.
    pub notifications: u64,
}
