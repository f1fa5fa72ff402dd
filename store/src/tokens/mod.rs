//! Tokens: patrol issues them, stores them (hashed), authenticates them for gateways, revokes
//! them, and responds when one is found in public; every step is judged by the tenant's
//! policies, recorded in the audit log, and notified to the token's owner.

mod accounts;
mod admins;
mod cache;
pub mod copy;
mod format;
mod notify;
mod policy_audit;
mod postgres;
mod service;
mod sqlite;
mod store;
mod view;

pub use accounts::{
    CredentialChange, CredentialRecord, Role, ScimConflict, ScimKind, ScimRecord, ScimWrite,
    USER_DEPROVISIONED,
};
pub use admins::CREDENTIAL_USE_EVERY;
pub use cache::{Cache, Lookups};
pub use format::{
    CREDENTIAL_PREFIX, FormatError, PREFIX, Secret, SecretHash, TOKEN_LEN, find_tokens, sha256_hex,
};
pub use notify::{Notifier, NotifierConfig};
pub use policy_audit::policy_changes;
pub use postgres::{CHANNEL, PgStore, ReplicaStatus, StoredConfig};
pub use service::{
    AuthError, Authenticated, Client, DeniedUse, FILE_ACTOR, Issued, LeakOutcome, LeakReport,
    LeakSource, LifecycleError, MAX_GROUP_MEMBERS, MAX_PAGE, NewToken, TENANT_DELETED, Tokens,
};
pub use sqlite::SqliteStore;
pub use store::{
    AuditEntry, AuditEvent, AuditQuery, Change, ChangeKind, Continuation, Notification,
    NotificationEvent, Outcome, Page, PendingNotification, Pruned, StoreError, TokenFilter,
    TokenOrder, TokenQuery, TokenRecord, TokenStatus, TokenStore, TokenUse,
};
pub use view::PatTokenView;
