//! The variables a rule's expression sees: the request's fields with CEL types.
//!
//! | variable | CEL type |
//! |---|---|
//! | `operation` | `string`: `create`, `regenerate` or `use` |
//! | `now` | `timestamp` |
//! | `org` | `string` |
//! | `user.id`, `user.groups` | `string`, `list(string)` |
//! | `token.scopes`, `token.orgs` | `list(string)` |
//! | `token.all_orgs` | `bool` |
//! | `token.valid_from`, `token.valid_to` | `timestamp` |
//! | `params` | `map(string, dyn)`: the rule's own `params` table |
//!
//! patrol compares names case-insensitively, so every name (user id, groups, organizations,
//! scopes) arrives in lowercase: compare with lowercase literals.

use std::collections::HashMap;
use std::sync::Arc;

use cel::Value;
use chrono::{DateTime, FixedOffset};
use patrol_guest::{Operation, Request, Timestamp};

/// The top-level variables, in the order the documentation lists them.
pub const VARIABLES: [&str; 6] = ["operation", "now", "org", "user", "token", "params"];
/// The fields of `user`.
pub const USER_FIELDS: [&str; 2] = ["id", "groups"];
/// The fields of `token`.
pub const TOKEN_FIELDS: [&str; 5] = ["scopes", "all_orgs", "orgs", "valid_from", "valid_to"];

/// The largest list each list variable can hold, as patrol's request checks bound them: used
/// to estimate what an expression iterating over it costs.
pub fn list_bound(path: &str) -> Option<u64> {
    match path {
        "user.groups" => Some(256),
        "token.scopes" | "token.orgs" => Some(100),
        _ => None,
    }
}

/// The name of an operation, as rules see and configure it.
pub fn operation_name(operation: Operation) -> &'static str {
    match operation {
        Operation::Create => "create",
        Operation::Regenerate => "regenerate",
        Operation::Use => "use",
        Operation::Leak => "leak",
    }
}

/// The request's variables, `params` aside.
pub fn of_request(request: &Request) -> [(&'static str, Value); 5] {
    let user = map([
        ("id", string(&request.user.id)),
        ("groups", strings(&request.user.groups)),
    ]);
    let token = &request.token;
    let token = map([
        ("scopes", strings(&token.scopes)),
        ("all_orgs", Value::Bool(token.all_orgs)),
        ("orgs", strings(&token.orgs)),
        ("valid_from", timestamp(token.valid_from)),
        ("valid_to", timestamp(token.valid_to)),
    ]);
    [
        ("operation", Value::from(operation_name(request.operation))),
        ("now", timestamp(request.now)),
        ("org", string(&request.org)),
        ("user", user),
        ("token", token),
    ]
}

/// A CEL timestamp, in UTC. patrol's timestamps are checked at the edge to lie within years
/// 1 to 9999, so the conversion cannot fail for a request; the epoch stands in otherwise.
pub fn timestamp(seconds: Timestamp) -> Value {
    let utc = DateTime::from_timestamp(seconds, 0).unwrap_or_default();
    Value::Timestamp(utc.with_timezone(&FixedOffset::east_opt(0).expect("UTC is an offset")))
}

fn string(text: &str) -> Value {
    Value::String(Arc::new(text.to_ascii_lowercase()))
}

fn strings(items: &[String]) -> Value {
    Value::List(Arc::new(items.iter().map(|item| string(item)).collect()))
}

fn map<const N: usize>(fields: [(&str, Value); N]) -> Value {
    Value::from(
        fields
            .into_iter()
            .map(|(key, value)| (key.to_string(), value))
            .collect::<HashMap<String, Value>>(),
    )
}
