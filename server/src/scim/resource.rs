//! What a client sends, checked against the schemas and put in canonical form (attribute names
//! as the schema spells them, Entra's `"True"`/`"False"` strings as booleans), and resources
//! rendered back with `id`, `schemas` and `meta`.

use serde_json::{Map, Value, json};

use patrol_store::tokens::{ScimKind, ScimRecord};

use super::error::ScimError;
use super::schema::{self, Attribute, Type};

/// Splits a lowercase attribute path into the extension schema it names, if any, and the rest;
/// the core schemas' URNs are dropped (their attributes are the resource's own).
pub(crate) fn split_urn(lower: &str) -> (Option<&'static str>, &str) {
    for (urn, kept) in [
        (schema::ENTERPRISE, true),
        (schema::USER, false),
        (schema::GROUP, false),
    ] {
        let urn_lower = urn.to_ascii_lowercase();
        if let Some(rest) = lower.strip_prefix(&urn_lower) {
            let rest = rest.strip_prefix(':').unwrap_or(rest);
            if rest.is_empty() || lower.len() > urn_lower.len() {
                return (kept.then_some(urn), rest);
            }
        }
    }
    (None, lower)
}

/// The attributes of a kind's core schema.
pub(crate) fn attributes(kind: ScimKind) -> &'static [Attribute] {
    match kind {
        ScimKind::User => schema::USER_ATTRIBUTES,
        ScimKind::Group => schema::GROUP_ATTRIBUTES,
    }
}

/// A resource as a client sent it (POST, PUT, or the result of a PATCH), checked and in
/// canonical form: the attributes to store (without `id`, `meta`, `schemas` and read-only
/// attributes, which are ignored as RFC 7643 says).
pub(crate) fn canonical(kind: ScimKind, sent: &Value) -> Result<Map<String, Value>, ScimError> {
    let Value::Object(fields) = sent else {
        return Err(ScimError::invalid_syntax("the body must be a JSON object"));
    };
    let mut document = Map::new();
    for (key, value) in fields {
        let lower = key.to_ascii_lowercase();
        match lower.as_str() {
            "id" | "meta" => continue,
            "schemas" => {
                check_schemas(value)?;
                continue;
            }
            _ => {}
        }
        if kind == ScimKind::User && lower == schema::ENTERPRISE.to_ascii_lowercase() {
            let Value::Object(extension) = value else {
                return Err(ScimError::invalid_value(format!(
                    "`{key}` must be an object of enterprise attributes"
                )));
            };
            let mut checked = Map::new();
            for (name, value) in extension {
                if name.eq_ignore_ascii_case("schemas") {
                    continue;
                }
                let attribute =
                    schema::find(schema::ENTERPRISE_ATTRIBUTES, name).ok_or_else(|| {
                        ScimError::invalid_syntax(format!("`{key}:{name}` is not an attribute"))
                    })?;
                if let Some(value) = checked_value(attribute, value, name)? {
                    checked.insert(attribute.name.to_string(), value);
                }
            }
            if !checked.is_empty() {
                document.insert(schema::ENTERPRISE.to_string(), Value::Object(checked));
            }
            continue;
        }
        let attribute = schema::find(attributes(kind), key)
            .or_else(|| schema::find(schema::COMMON_ATTRIBUTES, key))
            .ok_or_else(|| {
                ScimError::invalid_syntax(format!(
                    "`{key}` is not an attribute of a {}",
                    kind.as_str()
                ))
            })?;
        if attribute.mutability == "readOnly" {
            continue;
        }
        if let Some(value) = checked_value(attribute, value, key)? {
            document.insert(attribute.name.to_string(), value);
        }
    }
    let required = match kind {
        ScimKind::User => "userName",
        ScimKind::Group => "displayName",
    };
    match document.get(required) {
        Some(Value::String(text)) if !text.trim().is_empty() => Ok(document),
        _ => Err(ScimError::invalid_value(format!(
            "`{required}` is required and must be a non-empty string"
        ))),
    }
}

/// `schemas` must list URNs. Which ones is not checked: Entra adds its own to groups
/// (`http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group`); what counts
/// is each attribute sent, checked against the schemas patrol serves.
fn check_schemas(value: &Value) -> Result<(), ScimError> {
    match value {
        Value::Array(items) if items.iter().all(Value::is_string) => Ok(()),
        _ => Err(ScimError::invalid_syntax(
            "`schemas` must be a list of schema URNs",
        )),
    }
}

/// `value` checked against `attribute`: `None` for a null (the attribute is unassigned).
fn checked_value(
    attribute: &Attribute,
    value: &Value,
    path: &str,
) -> Result<Option<Value>, ScimError> {
    if value.is_null() {
        return Ok(None);
    }
    if attribute.multi_valued {
        let items = match value {
            Value::Array(items) => items,
            _ => {
                return Err(ScimError::invalid_value(format!(
                    "`{path}` is multi-valued: expected a list"
                )));
            }
        };
        let mut checked = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            if let Some(item) = checked_single(attribute, item, &format!("{path}[{index}]"))? {
                checked.push(item);
            }
        }
        return Ok(Some(Value::Array(checked)));
    }
    checked_single(attribute, value, path)
}

fn checked_single(
    attribute: &Attribute,
    value: &Value,
    path: &str,
) -> Result<Option<Value>, ScimError> {
    let wrong = |expected: &str| {
        Err(ScimError::invalid_value(format!(
            "`{path}`: expected {expected}, found {}",
            kind_of(value)
        )))
    };
    match (attribute.kind, value) {
        (_, Value::Null) => Ok(None),
        (Type::String | Type::Reference, Value::String(_)) => Ok(Some(value.clone())),
        (Type::String | Type::Reference, _) => wrong("a string"),
        (Type::Boolean, Value::Bool(_)) => Ok(Some(value.clone())),
        // Entra sends some booleans as the strings "True" and "False".
        (Type::Boolean, Value::String(text)) if text.eq_ignore_ascii_case("true") => {
            Ok(Some(Value::Bool(true)))
        }
        (Type::Boolean, Value::String(text)) if text.eq_ignore_ascii_case("false") => {
            Ok(Some(Value::Bool(false)))
        }
        (Type::Boolean, _) => wrong("true or false"),
        (Type::Complex, Value::Object(fields)) => {
            let mut checked = Map::new();
            for (name, value) in fields {
                let sub = schema::find(attribute.sub, name).ok_or_else(|| {
                    ScimError::invalid_syntax(format!("`{path}.{name}` is not an attribute"))
                })?;
                if sub.mutability == "readOnly" && sub.name != "display" {
                    continue;
                }
                if let Some(value) = checked_single(sub, value, &format!("{path}.{name}"))? {
                    checked.insert(sub.name.to_string(), value);
                }
            }
            Ok(Some(Value::Object(checked)))
        }
        (Type::Complex, _) => wrong("an object"),
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// The resource as SCIM returns it, with `location` under `base`.
pub(crate) fn render(record: &ScimRecord, base: &str) -> Value {
    let mut resource = Map::new();
    let mut schemas = vec![match record.kind {
        ScimKind::User => schema::USER,
        ScimKind::Group => schema::GROUP,
    }];
    if record.document.get(schema::ENTERPRISE).is_some() {
        schemas.push(schema::ENTERPRISE);
    }
    resource.insert("schemas".into(), json!(schemas));
    resource.insert("id".into(), json!(record.id));
    if let Value::Object(fields) = &record.document {
        for (key, value) in fields {
            resource.insert(key.clone(), value.clone());
        }
    }
    let plural = match record.kind {
        ScimKind::User => "Users",
        ScimKind::Group => "Groups",
    };
    resource.insert(
        "meta".into(),
        json!({
            "resourceType": record.kind.as_str(),
            "created": patrol::timestamp::format_rfc3339(record.created_at),
            "lastModified": patrol::timestamp::format_rfc3339(record.modified_at),
            "location": format!("{base}/{plural}/{}", record.id),
            "version": format!("W/\"{}\"", record.version),
        }),
    );
    Value::Object(resource)
}

/// Applies `attributes` (only those, with `id` and `schemas`) or `excludedAttributes` (all but
/// those) to a rendered resource. Names may be `attr` or `attr.sub`, regardless of case.
pub(crate) fn select(resource: &mut Value, attributes: &[String], excluded: &[String]) {
    let Value::Object(fields) = resource else {
        return;
    };
    let always = |key: &str| matches!(key, "id" | "schemas");
    if !attributes.is_empty() {
        fields.retain(|key, value| {
            if always(key) {
                return true;
            }
            let key_lower = key.to_ascii_lowercase();
            let mut keep_whole = false;
            let mut subs = Vec::new();
            for wanted in attributes {
                let wanted = wanted.to_ascii_lowercase();
                // `name.givenName`, or an extension's `urn:...:User:department`.
                let sub = wanted
                    .strip_prefix(&format!("{key_lower}."))
                    .or_else(|| wanted.strip_prefix(&format!("{key_lower}:")));
                if wanted == key_lower {
                    keep_whole = true;
                } else if let Some(sub) = sub {
                    subs.push(sub.to_string());
                }
            }
            if keep_whole {
                return true;
            }
            if subs.is_empty() {
                return false;
            }
            retain_subs(value, &subs);
            true
        });
    }
    for excluded in excluded {
        let excluded = excluded.to_ascii_lowercase();
        let (urn, rest) = split_urn(&excluded);
        let (parent, sub) = match (urn, rest) {
            (Some(urn), "") => (urn.to_ascii_lowercase(), None),
            (Some(urn), rest) => (urn.to_ascii_lowercase(), Some(rest.to_string())),
            (None, rest) => match rest.split_once('.') {
                None => (rest.to_string(), None),
                Some((parent, sub)) => (parent.to_string(), Some(sub.to_string())),
            },
        };
        match sub {
            None => fields.retain(|key, _| always(key) || key.to_ascii_lowercase() != parent),
            Some(sub) => {
                for (key, value) in fields.iter_mut() {
                    if key.eq_ignore_ascii_case(&parent) {
                        remove_sub(value, &sub);
                    }
                }
            }
        }
    }
}

fn retain_subs(value: &mut Value, subs: &[String]) {
    match value {
        Value::Object(fields) => {
            fields.retain(|key, _| subs.iter().any(|sub| key.eq_ignore_ascii_case(sub)))
        }
        Value::Array(items) => items.iter_mut().for_each(|item| retain_subs(item, subs)),
        _ => {}
    }
}

fn remove_sub(value: &mut Value, sub: &str) {
    match value {
        Value::Object(fields) => fields.retain(|key, _| !key.eq_ignore_ascii_case(sub)),
        Value::Array(items) => items.iter_mut().for_each(|item| remove_sub(item, sub)),
        _ => {}
    }
}
