//! SCIM PATCH (RFC 7644 §3.5.2) on a resource's attributes: `add`, `replace` and `remove`, with
//! a path (`displayName`, `name.givenName`, `emails[type eq "work"].value`,
//! `members[value eq "..."]`, an extension's `urn:...:User:department`) or, for `add` and
//! `replace`, without one (the value is an object of attributes). Microsoft Entra's forms are
//! accepted too: operation names in any case (`"Replace"`), `remove` of members by a list of
//! values, and booleans as strings (checked when the result is, see [`super::resource`]).
//!
//! The result is checked as a whole afterwards, exactly like a PUT.

use serde::Deserialize;
use serde_json::{Map, Value};

use patrol_store::tokens::ScimKind;

use super::error::ScimError;
use super::filter::{self, Filter};
use super::resource::split_urn;
use super::schema;

/// The most operations one PATCH may carry.
pub(crate) const MAX_OPERATIONS: usize = 1000;

/// A PATCH request's body.
#[derive(Deserialize)]
pub(crate) struct PatchRequest {
    #[serde(default)]
    pub(crate) schemas: Vec<String>,
    #[serde(rename = "Operations", alias = "operations")]
    pub(crate) operations: Vec<Value>,
}

/// Where an operation applies.
struct Path {
    /// The extension schema the attribute belongs to, if any.
    urn: Option<&'static str>,
    /// The attribute, lowercase.
    attribute: String,
    /// Which values of a multi-valued attribute.
    filter: Option<Filter>,
    /// The sub-attribute, lowercase.
    sub: Option<String>,
}

fn parse_path(text: &str) -> Result<Path, ScimError> {
    let invalid = |why: &str| ScimError::invalid_path(format!("`path` `{text}`: {why}"));
    let lower = text.trim().to_ascii_lowercase();
    let (urn, rest) = split_urn(&lower);
    let rest = rest.to_string();
    if rest.is_empty() {
        // The extension as a whole (`urn:...:enterprise:2.0:User`).
        return match urn {
            Some(urn) => Ok(Path {
                urn: Some(urn),
                attribute: String::new(),
                filter: None,
                sub: None,
            }),
            None => Err(invalid("names no attribute")),
        };
    }
    let (head, filter, tail) = match rest.find('[') {
        Some(open) => {
            let close = rest
                .rfind(']')
                .ok_or_else(|| invalid("a `[` is not closed"))?;
            if close < open {
                return Err(invalid("`]` before `[`"));
            }
            // The filter keeps the original case of its values.
            let original = text.trim();
            let offset = original.len() - rest.len();
            let inner = &original[offset + open + 1..offset + close];
            let parsed = filter::parse(inner).map_err(|why| invalid(&why))?;
            let tail = rest[close + 1..].to_string();
            (rest[..open].to_string(), Some(parsed), tail)
        }
        None => (rest.clone(), None, String::new()),
    };
    let (attribute, mut sub) = match head.split_once('.') {
        Some((attribute, sub)) => (attribute.to_string(), Some(sub.to_string())),
        None => (head, None),
    };
    if !tail.is_empty() {
        let tail = tail
            .strip_prefix('.')
            .ok_or_else(|| invalid("expected `.sub-attribute` after `]`"))?;
        if sub.is_some() {
            return Err(invalid("names two sub-attributes"));
        }
        sub = Some(tail.to_string());
    }
    let name_ok = |name: &str| {
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '$'))
    };
    if !name_ok(&attribute) || sub.as_deref().is_some_and(|sub| !name_ok(sub)) {
        return Err(invalid("is not an attribute path"));
    }
    Ok(Path {
        urn,
        attribute,
        filter,
        sub,
    })
}

/// Applies the operations to `resource` (a `kind`'s attributes, canonical names), in order.
pub(crate) fn apply(
    kind: ScimKind,
    resource: &mut Map<String, Value>,
    request: &PatchRequest,
) -> Result<(), ScimError> {
    if !request
        .schemas
        .iter()
        .any(|schema| schema.eq_ignore_ascii_case(super::schema::PATCH))
    {
        return Err(ScimError::invalid_syntax(format!(
            "`schemas` must be [\"{}\"]",
            super::schema::PATCH
        )));
    }
    if request.operations.is_empty() {
        return Err(ScimError::invalid_syntax("`Operations` is empty"));
    }
    if request.operations.len() > MAX_OPERATIONS {
        return Err(ScimError::invalid_syntax(format!(
            "`Operations` has {} operations; at most {MAX_OPERATIONS}",
            request.operations.len()
        )));
    }
    for (index, operation) in request.operations.iter().enumerate() {
        apply_one(kind, resource, operation).map_err(|error| ScimError {
            detail: format!("Operations[{index}]: {}", error.detail),
            ..error
        })?;
    }
    Ok(())
}

fn apply_one(
    kind: ScimKind,
    resource: &mut Map<String, Value>,
    operation: &Value,
) -> Result<(), ScimError> {
    let Value::Object(fields) = operation else {
        return Err(ScimError::invalid_syntax("an operation must be an object"));
    };
    let field = |name: &str| {
        fields
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    };
    for key in fields.keys() {
        if !["op", "path", "value"]
            .iter()
            .any(|known| key.eq_ignore_ascii_case(known))
        {
            return Err(ScimError::invalid_syntax(format!(
                "`{key}` is not a member of an operation (op, path, value)"
            )));
        }
    }
    let op = match field("op") {
        Some(Value::String(op)) => op.to_ascii_lowercase(),
        _ => {
            return Err(ScimError::invalid_syntax(
                "`op` is required: \"add\", \"replace\" or \"remove\"",
            ));
        }
    };
    let path = match field("path") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => {
            let path = parse_path(text)?;
            writable(kind, &path, text)?;
            Some(path)
        }
        Some(_) => return Err(ScimError::invalid_path("`path` must be a string")),
    };
    let value = field("value").cloned();
    match (op.as_str(), path) {
        ("add" | "replace", None) => {
            let Some(Value::Object(attributes)) = value else {
                return Err(ScimError::invalid_value(
                    "without a `path`, `value` must be an object of attributes",
                ));
            };
            for (name, value) in attributes {
                // An extension given whole: each of its attributes.
                if name.eq_ignore_ascii_case(super::schema::ENTERPRISE) {
                    let Value::Object(extension) = value else {
                        return Err(ScimError::invalid_value(format!(
                            "`{name}` must be an object of enterprise attributes"
                        )));
                    };
                    for (attribute, value) in extension {
                        if attribute.eq_ignore_ascii_case("schemas") {
                            continue;
                        }
                        let path = parse_path(&format!("{name}:{attribute}"))?;
                        set(resource, &path, value, op == "add")?;
                    }
                    continue;
                }
                let path = parse_path(&name)?;
                set(resource, &path, value, op == "add")?;
            }
            Ok(())
        }
        ("add" | "replace", Some(path)) if path.attribute.is_empty() => {
            let urn = path
                .urn
                .expect("only an extension's path names no attribute");
            let Some(Value::Object(extension)) = value else {
                return Err(ScimError::invalid_value(format!(
                    "`{urn}` takes an object of its attributes"
                )));
            };
            if op == "replace" {
                resource.remove(urn);
            }
            for (attribute, value) in extension {
                // A client may send the extension's object with its own `schemas`.
                if attribute.eq_ignore_ascii_case("schemas") {
                    continue;
                }
                let path = parse_path(&format!("{urn}:{attribute}"))?;
                set(resource, &path, value, op == "add")?;
            }
            Ok(())
        }
        ("add" | "replace", Some(path)) => {
            let value = value.ok_or_else(|| ScimError::invalid_value("`value` is required"))?;
            set(resource, &path, value, op == "add")
        }
        ("remove", None) => Err(ScimError::no_target("`remove` needs a `path`")),
        ("remove", Some(path)) if path.attribute.is_empty() => {
            resource.remove(
                path.urn
                    .expect("only an extension's path names no attribute"),
            );
            Ok(())
        }
        ("remove", Some(path)) => remove(resource, &path, value),
        (other, _) => Err(ScimError::invalid_syntax(format!(
            "`{other}` is not an operation: use \"add\", \"replace\" or \"remove\""
        ))),
    }
}

/// Refuses a path to an attribute the resource does not have (`invalidPath`) or may not
/// change (`mutability`: `id`, `meta`, a user's `groups`).
fn writable(kind: ScimKind, path: &Path, text: &str) -> Result<(), ScimError> {
    let attributes = match (kind, path.urn) {
        (ScimKind::User, Some(_)) => schema::ENTERPRISE_ATTRIBUTES,
        (ScimKind::Group, Some(_)) => {
            return Err(ScimError::invalid_path(format!(
                "`path` `{text}`: a Group has no extension"
            )));
        }
        (_, None) => super::resource::attributes(kind),
    };
    if path.attribute.is_empty() {
        return Ok(());
    }
    if matches!(path.attribute.as_str(), "id" | "meta" | "schemas") {
        return Err(ScimError::mutability(format!(
            "`path` `{text}`: `{}` is read-only",
            path.attribute
        )));
    }
    let attribute = schema::find(attributes, &path.attribute)
        .or_else(|| {
            path.urn
                .is_none()
                .then(|| schema::find(schema::COMMON_ATTRIBUTES, &path.attribute))
                .flatten()
        })
        .ok_or_else(|| {
            ScimError::invalid_path(format!(
                "`path` `{text}`: a {} has no attribute `{}`",
                kind.as_str(),
                path.attribute
            ))
        })?;
    if attribute.mutability == "readOnly" {
        return Err(ScimError::mutability(format!(
            "`path` `{text}`: `{}` is read-only",
            attribute.name
        )));
    }
    if let Some(sub) = &path.sub
        && !attribute.sub.is_empty()
        && schema::find(attribute.sub, sub).is_none()
    {
        return Err(ScimError::invalid_path(format!(
            "`path` `{text}`: `{}` has no sub-attribute `{sub}`",
            attribute.name
        )));
    }
    Ok(())
}

/// The object holding `path`'s attribute: the resource, or its extension's object.
fn holder<'a>(
    resource: &'a mut Map<String, Value>,
    path: &Path,
    create: bool,
) -> Option<&'a mut Map<String, Value>> {
    match path.urn {
        None => Some(resource),
        Some(urn) => {
            if create && !resource.contains_key(urn) {
                resource.insert(urn.to_string(), Value::Object(Map::new()));
            }
            resource.get_mut(urn).and_then(Value::as_object_mut)
        }
    }
}

/// The key of `name` in `object`, regardless of case.
fn key_of(object: &Map<String, Value>, name: &str) -> Option<String> {
    object
        .keys()
        .find(|key| key.eq_ignore_ascii_case(name))
        .cloned()
}

fn set(
    resource: &mut Map<String, Value>,
    path: &Path,
    value: Value,
    add: bool,
) -> Result<(), ScimError> {
    // An extension given whole, with no attribute (`"urn:...:User": {...}` without a path).
    let object = holder(resource, path, true)
        .ok_or_else(|| ScimError::invalid_path("the extension is not an object"))?;
    let key = key_of(object, &path.attribute).unwrap_or_else(|| path.attribute.clone());
    match (&path.filter, &path.sub) {
        (None, None) => {
            match (object.get_mut(&key), value) {
                // `add` to a multi-valued attribute appends, without repeats.
                (Some(Value::Array(items)), Value::Array(new)) if add => {
                    for item in new {
                        if !items.contains(&item) {
                            items.push(item);
                        }
                    }
                }
                (Some(Value::Array(items)), item @ Value::Object(_)) if add => {
                    if !items.contains(&item) {
                        items.push(item);
                    }
                }
                // A complex attribute takes the sub-attributes given.
                (Some(Value::Object(existing)), Value::Object(new)) => {
                    for (name, value) in new {
                        let name = key_of(existing, &name).unwrap_or(name);
                        existing.insert(name, value);
                    }
                }
                (_, value) => {
                    object.insert(key, value);
                }
            }
            Ok(())
        }
        (None, Some(sub)) => {
            let entry = object
                .entry(key)
                .or_insert_with(|| Value::Object(Map::new()));
            match entry {
                Value::Object(fields) => {
                    let sub_key = key_of(fields, sub).unwrap_or_else(|| sub.clone());
                    fields.insert(sub_key, value);
                    Ok(())
                }
                Value::Array(items) => {
                    // `emails.value` on a multi-valued attribute: every value's sub-attribute.
                    for item in items.iter_mut().filter_map(Value::as_object_mut) {
                        let sub_key = key_of(item, sub).unwrap_or_else(|| sub.clone());
                        item.insert(sub_key, value.clone());
                    }
                    Ok(())
                }
                _ => Err(ScimError::invalid_path(format!(
                    "`{}` has no sub-attributes",
                    path.attribute
                ))),
            }
        }
        (Some(filter), sub) => {
            let items = match object.get_mut(&key) {
                Some(Value::Array(items)) => items,
                _ if add => {
                    // Entra adds `emails[type eq "work"].value` to a user without emails.
                    let mut item = Map::new();
                    seed_from_filter(filter, &mut item);
                    match sub {
                        Some(sub) => item.insert(sub.clone(), value),
                        None => return Err(ScimError::invalid_path("a filter needs a target")),
                    };
                    object.insert(key, Value::Array(vec![Value::Object(item)]));
                    return Ok(());
                }
                _ => {
                    return Err(ScimError::no_target(format!(
                        "`{}` has no values to filter",
                        path.attribute
                    )));
                }
            };
            let mut matched = false;
            for item in items.iter_mut() {
                if !filter::matches(filter, item) {
                    continue;
                }
                matched = true;
                match (sub, item) {
                    (Some(sub), Value::Object(fields)) => {
                        let sub_key = key_of(fields, sub).unwrap_or_else(|| sub.clone());
                        fields.insert(sub_key, value.clone());
                    }
                    (None, item) => *item = value.clone(),
                    _ => {}
                }
            }
            if !matched {
                if add && let Some(sub) = sub {
                    let mut item = Map::new();
                    seed_from_filter(filter, &mut item);
                    item.insert(sub.clone(), value);
                    items.push(Value::Object(item));
                    return Ok(());
                }
                return Err(ScimError::no_target(format!(
                    "no value of `{}` matches the filter",
                    path.attribute
                )));
            }
            Ok(())
        }
    }
}

/// `type eq "work"` as `{"type": "work"}`, for a value an `add` creates.
fn seed_from_filter(filter: &Filter, item: &mut Map<String, Value>) {
    match filter {
        Filter::Compare {
            path,
            op: filter::Op::Eq,
            value: Some(value),
        } if path.len() == 1 => {
            item.insert(path[0].clone(), value.clone());
        }
        Filter::And(left, right) => {
            seed_from_filter(left, item);
            seed_from_filter(right, item);
        }
        _ => {}
    }
}

fn remove(
    resource: &mut Map<String, Value>,
    path: &Path,
    value: Option<Value>,
) -> Result<(), ScimError> {
    let Some(object) = holder(resource, path, false) else {
        return Ok(());
    };
    let Some(key) = key_of(object, &path.attribute) else {
        if path.filter.is_some() {
            return Err(ScimError::no_target(format!(
                "`{}` has no values to filter",
                path.attribute
            )));
        }
        return Ok(());
    };
    match (&path.filter, &path.sub, value) {
        // Entra: `{"op": "Remove", "path": "members", "value": [{"value": "<id>"}]}`.
        (None, None, Some(Value::Array(values))) if object[&key].is_array() => {
            let Some(Value::Array(items)) = object.get_mut(&key) else {
                return Ok(());
            };
            let wanted: Vec<&Value> = values
                .iter()
                .map(|value| value.get("value").unwrap_or(value))
                .collect();
            items.retain(|item| !wanted.contains(&item.get("value").unwrap_or(item)));
            Ok(())
        }
        (None, None, _) => {
            object.remove(&key);
            Ok(())
        }
        (None, Some(sub), _) => {
            match object.get_mut(&key) {
                Some(Value::Object(fields)) => {
                    if let Some(sub_key) = key_of(fields, sub) {
                        fields.remove(&sub_key);
                    }
                }
                Some(Value::Array(items)) => {
                    for item in items.iter_mut().filter_map(Value::as_object_mut) {
                        if let Some(sub_key) = key_of(item, sub) {
                            item.remove(&sub_key);
                        }
                    }
                }
                _ => {}
            }
            Ok(())
        }
        (Some(filter), sub, _) => {
            let Some(Value::Array(items)) = object.get_mut(&key) else {
                return Err(ScimError::no_target(format!(
                    "`{}` has no values to filter",
                    path.attribute
                )));
            };
            let before = items.len();
            let mut matched = false;
            match sub {
                None => items.retain(|item| !filter::matches(filter, item)),
                Some(sub) => {
                    for item in items.iter_mut() {
                        if filter::matches(filter, item)
                            && let Value::Object(fields) = item
                        {
                            matched = true;
                            if let Some(sub_key) = key_of(fields, sub) {
                                fields.remove(&sub_key);
                            }
                        }
                    }
                }
            }
            if !matched && items.len() == before {
                return Err(ScimError::no_target(format!(
                    "no value of `{}` matches the filter",
                    path.attribute
                )));
            }
            Ok(())
        }
    }
}
