//! CEL rules (`[[rules]]`) as people inspect them: the values a rule's expression saw.
//!
//! A rule is the built-in `cel_rule` policy (`policies/cel-rule`); the host runs it like any
//! other policy and knows nothing of CEL. This module only shows, for `patrol eval --explain`
//! and the server's explain, what the variables the rule reads held for one request, in the
//! form the rule sees them: names in lowercase, times in RFC 3339.

use serde_json::{Map, Value, json};

use crate::request::Request;
use crate::timestamp::format_rfc3339;

/// The name in the metadata of the component every rule runs in.
pub const RULE_POLICY: &str = "cel_rule";

/// The variables a rule sees for `request`, `params` aside, as JSON.
pub fn variables(request: &Request) -> Value {
    let lower = |items: &[String]| -> Vec<String> {
        items.iter().map(|item| item.to_ascii_lowercase()).collect()
    };
    json!({
        "operation": request.operation.as_str(),
        "now": format_rfc3339(request.now),
        "org": request.org.to_ascii_lowercase(),
        "user": {
            "id": request.user.id.to_ascii_lowercase(),
            "groups": lower(&request.user.groups),
        },
        "token": {
            "scopes": lower(&request.token.scopes),
            "all_orgs": request.token.all_orgs,
            "orgs": lower(&request.token.orgs),
            "valid_from": format_rfc3339(request.token.valid_from),
            "valid_to": format_rfc3339(request.token.valid_to),
        },
    })
}

/// What a rule with these effective settings saw for `request`: each variable its expression
/// reads (`references`, such as `token.scopes` or `params.max_days`), with its value. `None`
/// when the settings are not a rule's.
pub fn seen(request: &Request, effective_settings: &Value) -> Option<Map<String, Value>> {
    let references = effective_settings.get("references")?.as_array()?;
    let mut variables = variables(request);
    if let Some(params) = effective_settings.get("params") {
        variables["params"] = params.clone();
    }
    Some(
        references
            .iter()
            .filter_map(Value::as_str)
            .map(|path| {
                let value = path
                    .split('.')
                    .try_fold(&variables, |value, key| value.get(key))
                    .cloned()
                    .unwrap_or(Value::Null);
                (path.to_string(), value)
            })
            .collect(),
    )
}
