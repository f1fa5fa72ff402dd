//! A tool's arguments, read strictly: an argument the tool does not take, a missing one or one
//! of the wrong type is refused with a message that names it, never ignored and never in the
//! SDK's words. The type is named `Parameters`, as rmcp's own wrapper is, so that the `#[tool]`
//! macro takes the tool's input schema from it.

use std::borrow::Cow;

use rmcp::ErrorData;
use rmcp::handler::server::common::FromContextPart;
use rmcp::handler::server::tool::ToolCallContext;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;

/// A tool's arguments, `T` (which denies unknown fields).
pub struct Parameters<T>(pub T);

impl<T: JsonSchema> JsonSchema for Parameters<T> {
    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
}

impl<S, T: DeserializeOwned> FromContextPart<ToolCallContext<'_, S>> for Parameters<T> {
    fn from_context_part(context: &mut ToolCallContext<'_, S>) -> Result<Self, ErrorData> {
        let arguments = context.arguments.take().unwrap_or_default();
        let tool = context.name.to_string();
        read(&tool, serde_json::Value::Object(arguments))
            .map(Parameters)
            .map_err(|message| ErrorData::invalid_params(message, None))
    }
}

/// Reads `T` from `arguments`, or says which argument is wrong and how.
pub fn read<T: DeserializeOwned>(tool: &str, arguments: serde_json::Value) -> Result<T, String> {
    serde_path_to_error::deserialize(arguments).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner().to_string();
        explain(tool, &path, &inner)
    })
}

/// serde's message, said of the argument it concerns.
fn explain(tool: &str, path: &str, inner: &str) -> String {
    // "unknown field `foo`, expected one of `a`, `b`" (or "expected `a`", or "there are no
    // fields").
    if let Some(rest) = inner.strip_prefix("unknown field `") {
        let (name, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let known = expected
            .trim_start_matches(", ")
            .trim_start_matches("expected one of ")
            .trim_start_matches("expected ")
            .replace('`', "")
            // serde says "`a` or `b`" of two, "one of `a`, `b`, `c`" of more.
            .replace(" or ", ", ");
        return if known.is_empty() || known == "there are no fields" {
            format!("argument `{name}`: `{tool}` takes no arguments")
        } else {
            format!("argument `{name}`: `{tool}` has no such argument; its arguments are: {known}")
        };
    }
    if let Some(rest) = inner.strip_prefix("missing field `") {
        let name = rest.trim_end_matches('`');
        return format!("argument `{name}` is required by `{tool}`");
    }
    // "invalid type: string \"x\", expected i64": the argument is the path.
    let said = inner
        .replace("expected i64", "expected an integer")
        .replace("expected u32", "expected a whole number")
        .replace("expected usize", "expected a whole number")
        .replace("expected a string", "expected text");
    if path.is_empty() || path == "." {
        format!("the arguments of `{tool}`: {said}")
    } else {
        format!("argument `{path}`: {said}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Args {
        tenant: String,
        days: Option<i64>,
    }

    fn fails(value: serde_json::Value) -> String {
        read::<Args>("report_expiring", value).unwrap_err()
    }

    #[test]
    fn each_wrong_argument_is_named() {
        assert_eq!(
            fails(serde_json::json!({"tenant": "a", "dayz": 3})),
            "argument `dayz`: `report_expiring` has no such argument; its arguments are: \
             tenant, days"
        );
        assert_eq!(
            fails(serde_json::json!({"days": 3})),
            "argument `tenant` is required by `report_expiring`"
        );
        assert_eq!(
            fails(serde_json::json!({"tenant": "a", "days": "soon"})),
            "argument `days`: invalid type: string \"soon\", expected an integer"
        );
        assert_eq!(
            fails(serde_json::json!({"tenant": 7})),
            "argument `tenant`: invalid type: integer `7`, expected a string"
                .replace("expected a string", "expected text")
        );
    }
}
