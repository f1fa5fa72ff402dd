//! Paged results and output schemas. A tool that answers with a list answers with one page of
//! it: at most `limit` items (50 unless asked, at most 500), with `page.next_cursor` to ask for
//! the next, so that an answer never floods a model's context. A cursor is opaque to the
//! client: the list it pages and where the next page starts.

use std::sync::Arc;

use rmcp::model::JsonObject;
use schemars::JsonSchema;
use serde_json::{Value, json};

/// Items in a page when the client names no `limit`.
pub const DEFAULT_LIMIT: u32 = 50;
/// The most items a page holds.
pub const MAX_LIMIT: u32 = 500;

/// Which page to answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    limit: usize,
    offset: usize,
}

impl Page {
    /// The page `limit` and `cursor` ask for, for the list called `list`; or why not, naming
    /// the argument.
    pub fn of(list: &str, limit: Option<u32>, cursor: Option<&str>) -> anyhow::Result<Page> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            anyhow::bail!("argument `limit`: must be from 1 to {MAX_LIMIT}, got {limit}");
        }
        let offset = match cursor {
            None => 0,
            Some(cursor) => cursor
                .strip_prefix(list)
                .and_then(|rest| rest.strip_prefix(':'))
                .and_then(|offset| offset.parse::<usize>().ok())
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "argument `cursor`: `{cursor}` is not a cursor of this tool's `{list}`; \
                         pass the `page.next_cursor` of its previous answer, or none for the \
                         first page"
                    )
                })?,
        };
        Ok(Page {
            limit: limit as usize,
            offset,
        })
    }

    /// Cuts `answer[list]` (an array) to this page and says where the page is in `page`.
    pub fn apply(self, list: &str, answer: &mut Value) -> anyhow::Result<()> {
        let Some(items) = answer.get_mut(list).and_then(Value::as_array_mut) else {
            anyhow::bail!("the answer has no list `{list}` to page");
        };
        let total = items.len();
        if self.offset > total {
            anyhow::bail!(
                "argument `cursor`: it points past the end of `{list}` ({total} items now); \
                 start again without a cursor"
            );
        }
        let end = (self.offset + self.limit).min(total);
        let page: Vec<Value> = items.drain(self.offset..end).collect();
        let returned = page.len();
        *items = page;
        answer["page"] = json!({
            "list": list,
            "offset": self.offset,
            "limit": self.limit,
            "returned": returned,
            "total": total,
            "next_cursor": (end < total).then(|| format!("{list}:{end}")),
        });
        Ok(())
    }
}

/// The output schema of a tool that answers with `T`.
pub fn schema<T: JsonSchema + 'static>() -> Arc<JsonObject> {
    rmcp::handler::server::common::schema_for_output::<T>()
}

/// The output schema of a tool that answers with `T`, its `list` paged.
pub fn paged<T: JsonSchema + 'static>(list: &str) -> Arc<JsonObject> {
    let mut schema = (*schema::<T>()).clone();
    if let Some(Value::Object(properties)) = schema.get_mut("properties") {
        properties.insert(
            "page".to_string(),
            json!({
                "type": "object",
                "description": format!("Where this page of `{list}` is: pass `next_cursor` as `cursor` for the next page (null on the last)."),
                "properties": {
                    "list": { "type": "string" },
                    "offset": { "type": "integer", "minimum": 0 },
                    "limit": { "type": "integer", "minimum": 1 },
                    "returned": { "type": "integer", "minimum": 0 },
                    "total": { "type": "integer", "minimum": 0 },
                    "next_cursor": { "type": ["string", "null"] },
                },
                "required": ["list", "offset", "limit", "returned", "total", "next_cursor"],
            }),
        );
    }
    if let Some(Value::Array(required)) = schema.get_mut("required") {
        required.push(json!("page"));
    }
    Arc::new(schema)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_walk_a_list_and_stop() {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut answer = json!({ "items": (0..7).collect::<Vec<_>>() });
            Page::of("items", Some(3), cursor.as_deref())
                .unwrap()
                .apply("items", &mut answer)
                .unwrap();
            seen.extend(answer["items"].as_array().unwrap().clone());
            assert_eq!(answer["page"]["total"], 7);
            match answer["page"]["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_string()),
                None => break,
            }
        }
        assert_eq!(seen, (0..7).map(|n| json!(n)).collect::<Vec<_>>());
    }

    #[test]
    fn bad_limits_and_cursors_name_the_argument() {
        assert!(
            Page::of("items", Some(0), None)
                .unwrap_err()
                .to_string()
                .starts_with("argument `limit`")
        );
        assert!(
            Page::of("items", None, Some("owners:3"))
                .unwrap_err()
                .to_string()
                .starts_with("argument `cursor`")
        );
        let mut answer = json!({ "items": [1] });
        let page = Page::of("items", None, Some("items:5")).unwrap();
        assert!(
            page.apply("items", &mut answer)
                .unwrap_err()
                .to_string()
                .starts_with("argument `cursor`")
        );
    }
}
