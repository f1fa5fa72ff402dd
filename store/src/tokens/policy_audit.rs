//! What changed between two versions of a tenant's policies, for the audit log: one
//! `OrganizationPolicy.PolicyValueUpdated` entry per policy switched on, switched off or changed,
//! with its value before and after (settings after defaults, mode, failure handling, allowlist
//! and component).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use patrol::{PolicyInfo, Tenant};

/// The changes from `before` to `after` (either may be absent: a tenant created or deleted),
/// in a stable order.
pub fn policy_changes(before: Option<&Tenant>, after: Option<&Tenant>) -> Vec<Value> {
    let before = values(before);
    let mut after = values(after);
    let mut changes = Vec::new();
    for (key, previous) in before {
        let value = after.remove(&key);
        if value.as_ref() != Some(&previous) {
            changes.push(change(&key, Some(previous), value));
        }
    }
    for (key, value) in after {
        changes.push(change(&key, None, Some(value)));
    }
    changes
}

type Key = (String, Option<String>);

fn values(tenant: Option<&Tenant>) -> BTreeMap<Key, Value> {
    tenant
        .map(|tenant| {
            tenant
                .policies()
                .map(|policy| {
                    (
                        (policy.name.to_string(), policy.org.map(str::to_string)),
                        value(&policy),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn value(policy: &PolicyInfo<'_>) -> Value {
    json!({
        "settings": serde_json::from_str::<Value>(policy.effective_settings).unwrap_or(Value::Null),
        "mode": policy.mode,
        "on_error": policy.on_error,
        "allowlist": policy.allowlist,
        "component": policy.digest.to_string(),
    })
}

fn change((name, org): &Key, previous: Option<Value>, value: Option<Value>) -> Value {
    json!({
        "policy": name,
        "org": org,
        "enabled": value.is_some(),
        "previous": previous,
        "value": value,
    })
}
