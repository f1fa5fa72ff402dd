//! JSON merge patches (RFC 7396) applied to a stored tenant configuration in its own format.
//! A TOML file keeps its comments, its layout and the order of its keys wherever the patch does
//! not reach, so an administrator's notes survive a change made from the console.
//!
//! RFC 7396: an object merges key by key, `null` removes a key, anything else replaces it
//! (arrays whole). For TOML, an array of objects is an array of tables (`[[rules]]`); one that
//! replaces an array of tables is merged table by table, keeping each table's comments.

use serde_json::{Map, Value};
use toml_edit::{ArrayOfTables, DocumentMut, InlineTable, Item, Table, TableLike};

use patrol_store::ConfigFormat as Format;

/// `text` (a configuration in `format`) with `patch` applied, in the same format; or what is
/// wrong with the patch, naming where.
pub(crate) fn apply(text: &str, format: Format, patch: &Value) -> Result<String, String> {
    let Value::Object(patch) = patch else {
        return Err("the patch must be a JSON object (RFC 7396)".to_string());
    };
    match format {
        Format::Json => {
            let mut document: Value = serde_json::from_str(text)
                .map_err(|error| format!("the stored configuration is not JSON: {error}"))?;
            merge_json(&mut document, patch);
            let mut text = serde_json::to_string_pretty(&document).map_err(|e| e.to_string())?;
            text.push('\n');
            Ok(text)
        }
        Format::Toml => {
            let mut document: DocumentMut = text
                .parse()
                .map_err(|error| format!("the stored configuration is not TOML: {error}"))?;
            merge_table(document.as_table_mut(), false, patch, "")?;
            Ok(document.to_string())
        }
    }
}

/// RFC 7396's algorithm, for a JSON document.
fn merge_json(target: &mut Value, patch: &Map<String, Value>) {
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let object = target.as_object_mut().expect("made an object above");
    for (key, value) in patch {
        match value {
            Value::Null => {
                object.remove(key);
            }
            Value::Object(inner) => merge_json(object.entry(key).or_insert(Value::Null), inner),
            value => {
                object.insert(key.clone(), value.clone());
            }
        }
    }
}

/// Merges `patch` into a TOML table (`inline`: written `{ ... }`, where nested tables must be
/// inline too). `path` names the table for errors.
fn merge_table(
    table: &mut dyn TableLike,
    inline: bool,
    patch: &Map<String, Value>,
    path: &str,
) -> Result<(), String> {
    for (key, value) in patch {
        let at = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        match value {
            Value::Null => {
                table.remove(key);
            }
            Value::Object(inner) => {
                let mergeable = table.get(key).is_some_and(Item::is_table_like);
                if !mergeable {
                    let empty = if inline {
                        Item::Value(toml_edit::Value::InlineTable(InlineTable::new()))
                    } else {
                        Item::Table(Table::new())
                    };
                    table.insert(key, empty);
                }
                let item = table.get_mut(key).expect("inserted above");
                let nested_inline = inline || item.is_inline_table();
                let nested = item.as_table_like_mut().expect("a table, checked or made");
                merge_table(nested, nested_inline, inner, &at)?;
                if nested_inline {
                    // `{ a = 1 }` with a key added reads `{ a = 1 , b = 2 }` until spaced
                    // again; an inline table holds no comment to lose.
                    nested.fmt();
                }
            }
            Value::Array(items)
                if !inline && !items.is_empty() && items.iter().all(Value::is_object) =>
            {
                merge_tables(table, key, items, &at)?;
            }
            value => {
                let new = toml_value(value, &at)?;
                match table.get_mut(key) {
                    // Keep the comment that trails the old value.
                    Some(Item::Value(old)) => {
                        let decor = old.decor().clone();
                        *old = new;
                        *old.decor_mut() = decor;
                    }
                    _ => {
                        table.insert(key, Item::Value(new));
                    }
                }
            }
        }
    }
    Ok(())
}

/// Makes `table[key]` the array of tables `items`, merging each into the table already at its
/// index (keys it no longer has removed), so that each keeps its comments.
fn merge_tables(
    table: &mut dyn TableLike,
    key: &str,
    items: &[Value],
    path: &str,
) -> Result<(), String> {
    if !matches!(table.get(key), Some(Item::ArrayOfTables(_))) {
        table.insert(key, Item::ArrayOfTables(ArrayOfTables::new()));
    }
    let Some(Item::ArrayOfTables(array)) = table.get_mut(key) else {
        unreachable!("made an array of tables above")
    };
    while array.len() > items.len() {
        array.remove(array.len() - 1);
    }
    for (index, item) in items.iter().enumerate() {
        let object = item.as_object().expect("checked: every item is an object");
        let at = format!("{path}[{index}]");
        if index == array.len() {
            array.push(Table::new());
        }
        let existing = array.get_mut(index).expect("within the array");
        let gone: Vec<String> = existing
            .iter()
            .map(|(name, _)| name.to_string())
            .filter(|name| !object.contains_key(name))
            .collect();
        for name in gone {
            existing.remove(&name);
        }
        merge_table(existing, false, object, &at)?;
    }
    Ok(())
}

/// A JSON value as a TOML value (objects as inline tables).
fn toml_value(value: &Value, path: &str) -> Result<toml_edit::Value, String> {
    Ok(match value {
        Value::Null => {
            return Err(format!(
                "`{path}`: null has no TOML form; to remove a key, set it to null in an object"
            ));
        }
        Value::Bool(flag) => toml_edit::Value::from(*flag),
        Value::Number(number) => match (number.as_i64(), number.as_f64()) {
            (Some(integer), _) => toml_edit::Value::from(integer),
            (None, Some(float)) if number.is_f64() => toml_edit::Value::from(float),
            _ => return Err(format!("`{path}`: {number} is too large for TOML")),
        },
        Value::String(text) => toml_edit::Value::from(text.as_str()),
        Value::Array(items) => {
            let mut array = toml_edit::Array::new();
            for (index, item) in items.iter().enumerate() {
                array.push(toml_value(item, &format!("{path}[{index}]"))?);
            }
            toml_edit::Value::Array(array)
        }
        Value::Object(object) => {
            let mut table = InlineTable::new();
            for (key, item) in object {
                table.insert(key, toml_value(item, &format!("{path}.{key}"))?);
            }
            toml_edit::Value::InlineTable(table)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const STORED: &str = r#"# Contoso's policies. Ask #pat-admins before changing them.
tenant = "contoso"

# No global tokens, but for the PAT administrators.
[policies.restrict_global_pat_creation]
enabled = true
allowlist = { groups = ["pat-admins"] }

[policies.max_pat_lifespan]
enabled = true
max_days = 90 # the auditors asked for 90
clamp = false

# A rule, and its reason.
[[rules]]
name = "no-manage"
expression = "true"
message = "m"
"#;

    fn patched(patch: Value) -> String {
        apply(STORED, Format::Toml, &patch).unwrap()
    }

    #[test]
    fn a_toml_file_keeps_its_comments_and_layout() {
        let text = patched(json!({ "policies": { "max_pat_lifespan": { "max_days": 30 } } }));
        assert_eq!(
            text,
            STORED.replace(
                "max_days = 90 # the auditors",
                "max_days = 30 # the auditors"
            )
        );
    }

    #[test]
    fn keys_are_added_removed_and_inline_tables_stay_inline() {
        let text = patched(json!({
            "policies": {
                "restrict_global_pat_creation": { "allowlist": { "users": ["alice@contoso.com"] } },
                "max_pat_lifespan": { "clamp": null },
                "revoke_leaked_pats": { "enabled": false },
            }
        }));
        assert!(
            text.contains(
                "allowlist = { groups = [\"pat-admins\"], users = [\"alice@contoso.com\"] }"
            ),
            "{text}"
        );
        assert!(!text.contains("clamp"), "{text}");
        assert!(
            text.contains("[policies.revoke_leaked_pats]\nenabled = false\n"),
            "{text}"
        );
        assert!(text.starts_with("# Contoso's policies."), "{text}");
        let parsed: toml::Table = toml::from_str(&text).unwrap();
        assert_eq!(
            parsed["policies"]["max_pat_lifespan"]["max_days"].as_integer(),
            Some(90)
        );
    }

    #[test]
    fn arrays_of_tables_are_merged_table_by_table() {
        let text = patched(json!({ "rules": [
            { "name": "no-manage", "expression": "false", "code": "c" },
            { "name": "second", "expression": "true" },
        ] }));
        assert!(text.contains("# A rule, and its reason.\n[[rules]]\nname = \"no-manage\"\nexpression = \"false\"\ncode = \"c\"\n"), "{text}");
        assert!(!text.contains("message"), "{text}");
        assert!(
            text.contains("[[rules]]\nname = \"second\"\nexpression = \"true\"\n"),
            "{text}"
        );
        let one = patched(json!({ "rules": null }));
        assert!(!one.contains("[[rules]]"), "{one}");
    }

    #[test]
    fn json_documents_merge_as_the_rfc_says() {
        let text = apply(
            "{\"tenant\":\"t\",\"policies\":{\"a\":{\"enabled\":true,\"x\":1}}}",
            Format::Json,
            &json!({ "policies": { "a": { "x": null, "y": [1, 2] }, "b": { "enabled": true } } }),
        )
        .unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            value,
            json!({ "tenant": "t", "policies": { "a": { "enabled": true, "y": [1, 2] }, "b": { "enabled": true } } })
        );
    }

    #[test]
    fn what_has_no_toml_form_is_refused_naming_where() {
        assert_eq!(
            apply(STORED, Format::Toml, &json!([1])).unwrap_err(),
            "the patch must be a JSON object (RFC 7396)"
        );
        assert_eq!(
            apply(
                STORED,
                Format::Toml,
                &json!({ "scopes": { "extra": [null] } })
            )
            .unwrap_err(),
            "`scopes.extra[0]`: null has no TOML form; to remove a key, set it to null in an object"
        );
        assert!(
            apply(STORED, Format::Toml, &json!({ "x": u64::MAX }))
                .unwrap_err()
                .contains("too large for TOML")
        );
    }
}
