//! Reading JSON documents strictly, for every way a document comes in (requests, API bodies,
//! configurations): exactly one document with nothing after it but whitespace, and every problem
//! reported with the path of the field at fault, in words rather than Rust type names.

use serde::de::DeserializeOwned;

use crate::serde_message;

/// A JSON document that cannot be used: where, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", describe(.field, .problem))]
pub struct JsonError {
    /// The path of the field at fault, such as `token.scopes[1]`; empty for the document as a
    /// whole (malformed JSON, trailing content, a document of the wrong kind).
    pub field: String,
    /// What is wrong.
    pub problem: String,
}

fn describe(field: &str, problem: &str) -> String {
    if field.is_empty() {
        problem.to_string()
    } else {
        format!("`{field}`: {problem}")
    }
}

/// Parses `bytes` as one JSON document of type `T`.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, JsonError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let problem = serde_message::plain(&error.into_inner().to_string());
        located(&path, problem)
    })?;
    deserializer.end().map_err(|error| JsonError {
        field: String::new(),
        problem: format!(
            "unexpected content after the JSON document ({})",
            serde_message::plain(&error.to_string())
        ),
    })?;
    Ok(value)
}

/// Like [`parse`], for text.
pub fn parse_str<T: DeserializeOwned>(text: &str) -> Result<T, JsonError> {
    parse(text.as_bytes())
}

/// The error for `problem` at serde's `path` (`.` for the document itself). A missing field is
/// reported at the field's own path, not its parent's.
fn located(path: &str, problem: String) -> JsonError {
    let parent = if path == "." { "" } else { path };
    if let Some(name) = problem
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
    {
        let field = if parent.is_empty() {
            name.to_string()
        } else {
            format!("{parent}.{name}")
        };
        return JsonError {
            field,
            problem: "is missing".to_string(),
        };
    }
    JsonError {
        field: parent.to_string(),
        problem,
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        name: String,
        inner: Inner,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        count: u64,
    }

    fn error(text: &str) -> JsonError {
        parse_str::<Outer>(text).unwrap_err()
    }

    #[test]
    fn problems_name_their_field_in_words() {
        let cases = [
            (r#"{"inner":{"count":1}}"#, "name", "is missing"),
            (r#"{"name":"a","inner":{}}"#, "inner.count", "is missing"),
            (
                r#"{"name":"a","inner":"x"}"#,
                "inner",
                "invalid type: string \"x\", expected an object",
            ),
            (
                r#"{"name":"a","inner":{"count":-1}}"#,
                "inner.count",
                "expected a non-negative integer",
            ),
            (
                r#"{"name":"a","inner":{"count":1},"colour":2}"#,
                "colour",
                "unknown field `colour`",
            ),
            (
                r#"{"name":"a","inner":{"count":1}}}}"#,
                "",
                "after the JSON document",
            ),
            (
                r#"{"name":"a","inner":{"count":1}} x"#,
                "",
                "after the JSON document",
            ),
        ];
        for (text, field, problem) in cases {
            let error = error(text);
            assert_eq!(error.field, field, "{text}: {error}");
            assert!(error.problem.contains(problem), "{text}: {error}");
            assert!(!error.to_string().contains("Outer") && !error.to_string().contains("Inner"));
        }
        assert!(parse_str::<Outer>("{\"name\":\"a\",\"inner\":{\"count\":1}} \n").is_ok());
    }
}
