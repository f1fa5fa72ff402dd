//! What a SCIM write does, computed from what is stored: the resources to store, the group
//! directory's groups it changes (a SCIM group's `displayName` with the `userName` of each of
//! its active members), the users it deprovisions or provisions again, and its audit entry. The
//! store applies all of it in one transaction, or nothing if the resources changed meanwhile,
//! in which case it is computed again.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use patrol::identity::{self, Kind};
use patrol_store::tokens::{
    AuditEntry, AuditEvent, MAX_GROUP_MEMBERS, Outcome, ScimConflict, ScimKind, ScimRecord,
    ScimWrite, Tokens,
};

use super::error::ScimError;

/// How often a write is computed again when a resource changed under it.
const ATTEMPTS: usize = 5;

/// A resource's new attributes, from the resource as stored (a PATCH applies its operations).
pub(crate) type Replacement =
    Box<dyn Fn(&ScimRecord) -> Result<Map<String, Value>, ScimError> + Send>;

/// What a client asked for.
pub(crate) enum Change {
    /// A new resource with these (checked, canonical) attributes.
    Create(Map<String, Value>),
    /// The resource `id` gets these attributes (PUT; PATCH passes the patched whole).
    Replace(String, Replacement),
    /// The resource `id` goes.
    Delete(String),
}

/// Applies a change to a resource of `kind` in `tenant`, made by `actor` (the SCIM client):
/// the resource as stored afterwards (`None` after a delete).
pub(crate) fn write(
    tokens: &Tokens,
    tenant: &str,
    kind: ScimKind,
    change: &Change,
    actor: &str,
) -> Result<Option<ScimRecord>, ScimError> {
    for _ in 0..ATTEMPTS {
        let now = patrol::timestamp::now();
        let (write, result) = plan(tokens, tenant, kind, change, actor, now)?;
        match tokens
            .apply_scim(&write, actor)
            .map_err(|error| ScimError::failed(&error))?
        {
            Ok(_) => return Ok(result),
            Err(ScimConflict::NameTaken(name)) => {
                return Err(ScimError::uniqueness(format!(
                    "a {} called `{name}` exists already in this tenant",
                    kind.as_str()
                )));
            }
            Err(ScimConflict::Changed) => continue,
        }
    }
    Err(ScimError::new(
        axum::http::StatusCode::CONFLICT,
        None,
        "the resource kept changing while this request was applied: retry it",
    ))
}

fn plan(
    tokens: &Tokens,
    tenant: &str,
    kind: ScimKind,
    change: &Change,
    actor: &str,
    now: i64,
) -> Result<(ScimWrite, Option<ScimRecord>), ScimError> {
    let store = tokens.store();
    let failed = |error: patrol_store::tokens::StoreError| ScimError::failed(&error);
    let mut users = Users::new(tokens, tenant);
    let groups = store.scim_list(tenant, ScimKind::Group).map_err(failed)?;
    let existing = match change {
        Change::Create(_) => None,
        Change::Replace(id, _) | Change::Delete(id) => Some(
            store
                .scim_get(tenant, kind, id)
                .map_err(failed)?
                .ok_or_else(|| not_found(kind, id))?,
        ),
    };
    let next = match change {
        Change::Create(attributes) => Some(record(
            tenant,
            kind,
            uuid::Uuid::new_v4().to_string(),
            attributes.clone(),
            None,
            now,
        )?),
        Change::Replace(id, replace) => {
            let existing = existing.as_ref().expect("read above");
            let attributes = replace(existing)?;
            Some(record(
                tenant,
                kind,
                id.clone(),
                attributes,
                Some(existing),
                now,
            )?)
        }
        Change::Delete(_) => None,
    };
    let mut write = ScimWrite {
        tenant: tenant.to_string(),
        at: now,
        ..ScimWrite::default()
    };
    if let Some(next) = &next {
        write
            .put
            .push((next.clone(), existing.as_ref().map(|record| record.version)));
    }
    if let (None, Some(existing)) = (&next, &existing) {
        write.delete = Some((kind, existing.id.clone(), existing.version));
    }
    match kind {
        ScimKind::User => plan_user(
            &mut write,
            &mut users,
            &groups,
            existing.as_ref(),
            next.as_ref(),
        )?,
        ScimKind::Group => plan_group(&mut write, &mut users, existing.as_ref(), next.as_ref())?,
    }
    // What the write was worked out from: every group (a user's write reprojects those that
    // hold them; a group's write is its own), and every user it asked about.
    if kind == ScimKind::User {
        for group in &groups {
            write
                .read
                .push((ScimKind::Group, group.id.clone(), Some(group.version)));
        }
    }
    write.read.append(&mut users.read);
    let operation = match (&existing, &next) {
        (None, _) => "create",
        (Some(_), Some(_)) => "replace",
        (Some(_), None) => "delete",
    };
    let subject = next.as_ref().or(existing.as_ref()).expect("one of them");
    write.audit.push(AuditEntry {
        time: now,
        tenant: tenant.to_string(),
        event: match kind {
            ScimKind::User => AuditEvent::ScimUser,
            ScimKind::Group => AuditEvent::ScimGroup,
        },
        actor: actor.to_lowercase(),
        token_id: None,
        outcome: Outcome::Success,
        details: json!({
            "operation": operation,
            "id": subject.id,
            "name": subject.name,
            "externalId": subject.external_id,
            "active": next.as_ref().map(|next| next.active),
        }),
    });
    Ok((write, next))
}

/// A resource's record from its checked attributes.
fn record(
    tenant: &str,
    kind: ScimKind,
    id: String,
    mut attributes: Map<String, Value>,
    existing: Option<&ScimRecord>,
    now: i64,
) -> Result<ScimRecord, ScimError> {
    let name_field = match kind {
        ScimKind::User => "userName",
        ScimKind::Group => "displayName",
    };
    let name = attributes
        .get(name_field)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .trim()
        .to_string();
    let identity_kind = match kind {
        ScimKind::User => Kind::UserId,
        ScimKind::Group => Kind::GroupId,
    };
    identity::check(identity_kind, &name)
        .map_err(|invalid| ScimError::invalid_value(format!("`{name_field}`: {invalid}")))?;
    // Stored as it is looked up: without surrounding whitespace.
    attributes.insert(name_field.to_string(), Value::String(name.clone()));
    // A user without `active` is active (RFC 7643 leaves it to the service provider).
    let active = match kind {
        ScimKind::User => attributes
            .get("active")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        ScimKind::Group => true,
    };
    if kind == ScimKind::Group {
        dedupe_members(&mut attributes)?;
    }
    let external_id = attributes
        .get("externalId")
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok(ScimRecord {
        tenant: tenant.to_string(),
        kind,
        id,
        name,
        external_id,
        active,
        document: Value::Object(attributes),
        version: existing.map_or(1, |existing| existing.version + 1),
        created_at: existing.map_or(now, |existing| existing.created_at),
        modified_at: now,
    })
}

fn dedupe_members(attributes: &mut Map<String, Value>) -> Result<(), ScimError> {
    let Some(Value::Array(members)) = attributes.get_mut("members") else {
        return Ok(());
    };
    let mut seen = std::collections::HashSet::new();
    members.retain(|member| seen.insert(member.get("value").cloned()));
    if members.len() > MAX_GROUP_MEMBERS {
        return Err(ScimError::invalid_value(format!(
            "`members` has {} members; a group has at most {MAX_GROUP_MEMBERS}",
            members.len()
        )));
    }
    for (index, member) in members.iter().enumerate() {
        let Some(Value::String(_)) = member.get("value") else {
            return Err(ScimError::invalid_value(format!(
                "`members[{index}].value` is required: the id of a user of this tenant"
            )));
        };
    }
    Ok(())
}

/// The ids a group's members name.
pub(crate) fn member_ids(group: &ScimRecord) -> Vec<String> {
    group
        .document
        .get("members")
        .and_then(Value::as_array)
        .map(|members| {
            members
                .iter()
                .filter_map(|member| member.get("value").and_then(Value::as_str))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Past this many users read one by one, a write reads the tenant's users all at once.
const READ_ONE_BY_ONE: usize = 64;

/// The tenant's SCIM users, read as a write needs them: one by one when it needs a few (a user
/// created, a member added), all at once when it needs many (a large group).
struct Users<'a> {
    tokens: &'a Tokens,
    tenant: &'a str,
    /// What was read (`None`: no such user), and what the write changes.
    known: HashMap<String, Option<ScimRecord>>,
    /// Whether `known` holds every user.
    all: bool,
    /// The users asked for, with the version each had: what the write depends on.
    read: Vec<(ScimKind, String, Option<i64>)>,
    /// The user the write itself changes (its version is checked as the write's own).
    written: std::collections::HashSet<String>,
}

impl<'a> Users<'a> {
    fn new(tokens: &'a Tokens, tenant: &'a str) -> Self {
        Users {
            tokens,
            tenant,
            known: HashMap::new(),
            all: false,
            read: Vec::new(),
            written: Default::default(),
        }
    }

    fn get(&mut self, id: &str) -> Result<Option<&ScimRecord>, ScimError> {
        let failed = |error: patrol_store::tokens::StoreError| ScimError::failed(&error);
        if !self.all && !self.known.contains_key(id) {
            if self.known.len() >= READ_ONE_BY_ONE {
                for user in self
                    .tokens
                    .store()
                    .scim_list(self.tenant, ScimKind::User)
                    .map_err(failed)?
                {
                    self.known.entry(user.id.clone()).or_insert(Some(user));
                }
                self.all = true;
            } else {
                let user = self
                    .tokens
                    .store()
                    .scim_get(self.tenant, ScimKind::User, id)
                    .map_err(failed)?;
                self.known.insert(id.to_string(), user);
            }
        }
        let version = self
            .known
            .get(id)
            .and_then(Option::as_ref)
            .map(|user| user.version);
        if !self.read.iter().any(|(_, read, _)| read == id) && !self.written.contains(id) {
            self.read.push((ScimKind::User, id.to_string(), version));
        }
        Ok(self.known.get(id).and_then(Option::as_ref))
    }

    /// The user `id` as the write leaves it.
    fn set(&mut self, id: &str, user: Option<ScimRecord>) {
        self.written.insert(id.to_string());
        self.known.insert(id.to_string(), user);
    }
}

/// The directory's members of a group: the `userName` of each active member, lowercase.
fn directory_members(group: &ScimRecord, users: &mut Users<'_>) -> Result<Vec<String>, ScimError> {
    let mut members = Vec::new();
    for id in member_ids(group) {
        if let Some(user) = users.get(&id)?
            && user.active
        {
            members.push(user.name.to_lowercase());
        }
    }
    members.sort();
    members.dedup();
    Ok(members)
}

fn plan_user(
    write: &mut ScimWrite,
    users: &mut Users<'_>,
    groups: &[ScimRecord],
    existing: Option<&ScimRecord>,
    next: Option<&ScimRecord>,
) -> Result<(), ScimError> {
    let id = next
        .or(existing)
        .map(|user| user.id.clone())
        .unwrap_or_default();
    let active_name = next
        .filter(|user| user.active)
        .map(|user| user.name.to_lowercase());
    if let Some(name) = &active_name {
        write.reprovision.push(name.clone());
    }
    // Deactivated, deleted or renamed: the name it had is deprovisioned (its tokens revoked);
    // an inactive user is deprovisioned under the name they have now too.
    let names = [
        existing.map(|user| user.name.to_lowercase()),
        next.filter(|user| !user.active)
            .map(|user| user.name.to_lowercase()),
    ];
    for name in names.into_iter().flatten() {
        if active_name.as_deref() != Some(name.as_str()) && !write.deprovision.contains(&name) {
            write.deprovision.push(name);
        }
    }
    users.set(&id, next.cloned());
    for group in groups {
        if !member_ids(group).contains(&id) {
            continue;
        }
        if next.is_none() {
            // A deleted user leaves every group.
            let mut document = group.document.clone();
            if let Some(Value::Array(members)) = document.get_mut("members") {
                members.retain(|member| member.get("value").and_then(Value::as_str) != Some(&id));
            }
            let mut changed = group.clone();
            changed.document = document;
            changed.version += 1;
            changed.modified_at = write.at;
            write.put.push((changed, Some(group.version)));
        }
        write
            .groups
            .push((group.name.clone(), Some(directory_members(group, users)?)));
    }
    Ok(())
}

fn plan_group(
    write: &mut ScimWrite,
    users: &mut Users<'_>,
    existing: Option<&ScimRecord>,
    next: Option<&ScimRecord>,
) -> Result<(), ScimError> {
    if let Some(next) = next {
        for (index, id) in member_ids(next).iter().enumerate() {
            if users.get(id)?.is_none() {
                return Err(ScimError::invalid_value(format!(
                    "`members[{index}].value`: no user `{id}` in this tenant (groups hold users \
                     of their tenant; nested groups are not supported)"
                )));
            }
        }
        write
            .groups
            .push((next.name.clone(), Some(directory_members(next, users)?)));
    }
    if let Some(existing) = existing
        && next.is_none_or(|next| next.name != existing.name)
    {
        write.groups.push((existing.name.clone(), None));
    }
    Ok(())
}

pub(crate) fn not_found(kind: ScimKind, id: &str) -> ScimError {
    ScimError::not_found(format!("no {} `{id}` in this tenant", kind.as_str()))
}
