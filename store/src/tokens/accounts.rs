//! What the store keeps about who administers a tenant: API credentials with a role, and the
//! users and groups an identity provider provisions over SCIM 2.0.
//!
//! Both are kept by both backends, in the same transactions as the token changes they cause:
//! a user deprovisioned over SCIM has their tokens revoked in the write that deactivates them.

use std::fmt;

use serde::{Deserialize, Serialize};

use patrol::timestamp::Timestamp;

/// What a tenant's API credential may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The tenant's policies, tokens and groups: everything of the tenant but SCIM.
    Admin,
    /// Read-only: the configuration, reports, the audit log, the token inventory (which never
    /// holds a secret) and the group directory.
    Auditor,
    /// SCIM provisioning only.
    Provisioner,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 3] = [Role::Admin, Role::Auditor, Role::Provisioner];

    /// The role's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Auditor => "auditor",
            Role::Provisioner => "provisioner",
        }
    }

    /// The role called `name`.
    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.as_str() == name)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An API credential as stored: never its secret, only the secret's hash (kept apart).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CredentialRecord {
    /// Its id (`cred_` and 16 hex digits): what the operator rotates and revokes it by.
    pub id: String,
    /// The one tenant it may act on.
    pub tenant: String,
    /// What the operator called it, to recognise it in lists and in the audit log.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// When it was created.
    #[serde(with = "patrol::timestamp::rfc3339::required")]
    pub created_at: Timestamp,
    /// Who created it.
    pub created_by: String,
    /// When its secret was last replaced.
    #[serde(serialize_with = "patrol::timestamp::rfc3339::serialize_option")]
    pub rotated_at: Option<Timestamp>,
    /// When it was last used (recorded at most once a minute).
    #[serde(serialize_with = "patrol::timestamp::rfc3339::serialize_option")]
    pub last_used_at: Option<Timestamp>,
    /// When it was revoked; a revoked credential is refused.
    #[serde(serialize_with = "patrol::timestamp::rfc3339::serialize_option")]
    pub revoked_at: Option<Timestamp>,
}

impl CredentialRecord {
    /// How the audit log names whoever acts with this credential.
    pub fn actor(&self) -> String {
        format!("credential:{}", self.name)
    }
}

/// A change to a stored credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialChange {
    /// A new secret replaces the old one, which stops working at once.
    Rotate(super::SecretHash),
    /// It stops working for good.
    Revoke,
    /// It was used.
    Used,
}

/// The two kinds of SCIM resource patrol keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ScimKind {
    /// `urn:ietf:params:scim:schemas:core:2.0:User`.
    User,
    /// `urn:ietf:params:scim:schemas:core:2.0:Group`.
    Group,
}

impl ScimKind {
    /// The resource type's name, as SCIM spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ScimKind::User => "User",
            ScimKind::Group => "Group",
        }
    }

    /// The kind called `name`.
    pub fn parse(name: &str) -> Option<ScimKind> {
        [ScimKind::User, ScimKind::Group]
            .into_iter()
            .find(|kind| kind.as_str() == name)
    }
}

/// A SCIM user or group as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ScimRecord {
    /// The tenant it belongs to.
    pub tenant: String,
    /// User or group.
    pub kind: ScimKind,
    /// The id patrol gave it.
    pub id: String,
    /// A user's `userName` (their patrol user id) or a group's `displayName` (the name
    /// allowlists use), unique in the tenant regardless of case.
    pub name: String,
    /// The identity provider's id for it.
    pub external_id: Option<String>,
    /// Whether a user is active (groups always are).
    pub active: bool,
    /// The resource's attributes, without `id` and `meta`.
    pub document: serde_json::Value,
    /// Its version: 1 when created, one more with every write.
    pub version: i64,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub modified_at: Timestamp,
}

/// One SCIM write, applied in one transaction with everything it implies.
#[derive(Debug, Clone, Default)]
pub struct ScimWrite {
    /// The tenant.
    pub tenant: String,
    /// When.
    pub at: Timestamp,
    /// Resources to store, each with the version it has now (`None`: it must not exist yet).
    pub put: Vec<(ScimRecord, Option<i64>)>,
    /// A resource to delete, with the version it has now.
    pub delete: Option<(ScimKind, String, i64)>,
    /// The group directory's groups this changes: members to set, or `None` to delete.
    pub groups: Vec<(String, Option<Vec<String>>)>,
    /// Users deprovisioned: their tokens are revoked, and none can be issued to them.
    pub deprovision: Vec<String>,
    /// Users provisioned (again): tokens may be issued to them.
    pub reprovision: Vec<String>,
    /// What the audit log records of the write itself.
    pub audit: Vec<super::AuditEntry>,
    /// The resources the write was worked out from, with the version each had (`None`: it did
    /// not exist). If any changed meanwhile, the write conflicts, so that one computed from a
    /// stale read (a group's members, a member's `active`) never overwrites a newer one.
    pub read: Vec<(ScimKind, String, Option<i64>)>,
}

/// Why a SCIM write was not applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScimConflict {
    /// Another resource of the tenant has the name (a `userName` or a `displayName`).
    NameTaken(String),
    /// The resource changed (or went) since it was read.
    Changed,
}

/// The columns of a credential, in the order both stores select them.
pub(super) const CREDENTIAL_COLUMNS: &str =
    "id, tenant, name, role, created_at, created_by, rotated_at, last_used_at, revoked_at";

/// The columns of a SCIM resource, in the order both stores select them.
pub(super) const SCIM_COLUMNS: &str =
    "tenant, kind, id, name, external_id, active, document, version, created_at, modified_at";

/// The revocation reason of a token whose owner the tenant's identity provider deprovisioned.
pub const USER_DEPROVISIONED: &str = "user_deprovisioned";

/// What goes with a deleted tenant in both stores, besides its tokens (revoked, and kept for
/// the record): its groups, credentials, SCIM resources and deprovisioned users.
pub(super) const RETIRED_WITH_TENANT: [&str; 4] = [
    "group_members",
    "credentials",
    "scim_resources",
    "deprovisioned_users",
];
