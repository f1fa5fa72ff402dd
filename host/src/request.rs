//! Requests: the JSON a caller sends, checked once at the edge into types the rest of patrol
//! trusts.
//!
//! ```json
//! { "operation": "create", "now": "2026-11-28T12:00:00Z", "org": "fabrikam",
//!   "user": { "id": "bob@contoso.com", "groups": ["eng"] },
//!   "token": { "scopes": ["vso.code_write"], "all_orgs": false, "orgs": ["fabrikam"],
//!              "valid_from": "2026-11-28T12:00:00Z", "valid_to": "2027-03-01T00:00:00Z" } }
//! ```
//!
//! `now` defaults to the current time, `valid_from` to `now`, `groups` and `orgs` to empty,
//! `all_orgs` to false. Everything else is required, and every problem is reported with the
//! path of the field it concerns.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::identity::{self, Kind, MAX_GROUPS, MAX_ORGS, MAX_SCOPES};
use crate::timestamp::{self, Timestamp, parse_rfc3339};

/// What is being done with a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    /// A new token is being created.
    Create,
    /// An existing token is being renewed; judged exactly like `create`.
    Regenerate,
    /// A token is presented to authenticate in `org`.
    Use,
    /// A token was found in public.
    Leak,
}

impl Operation {
    /// Every operation, in contract order.
    pub const ALL: [Operation; 4] = [
        Operation::Create,
        Operation::Regenerate,
        Operation::Use,
        Operation::Leak,
    ];

    /// The operation's position in [`Operation::ALL`].
    pub fn index(self) -> usize {
        match self {
            Operation::Create => 0,
            Operation::Regenerate => 1,
            Operation::Use => 2,
            Operation::Leak => 3,
        }
    }

    /// The name used in JSON and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::Regenerate => "regenerate",
            Operation::Use => "use",
            Operation::Leak => "leak",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who is asking (for `use` and `leak`, the token's owner).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Actor {
    /// The user's id, for example `bob@contoso.com`.
    pub id: String,
    /// The directory groups the user belongs to.
    pub groups: Vec<String>,
}

/// The token a request is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Token {
    /// The token's id, when the caller knows it (for logs; policies do not see it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Scopes such as `vso.code_write`; `app_token` is full access.
    pub scopes: Vec<String>,
    /// A global token, valid in every organization.
    pub all_orgs: bool,
    /// The organizations the token is limited to.
    pub orgs: Vec<String>,
    /// When the token starts being valid.
    pub valid_from: Timestamp,
    /// When the token stops being valid.
    pub valid_to: Timestamp,
}

impl Token {
    /// Whether the token may be used in `org`: a global token anywhere, another in the
    /// organizations it lists (compared case-insensitively).
    pub fn is_valid_in(&self, org: &str) -> bool {
        self.all_orgs
            || self
                .orgs
                .iter()
                .any(|listed| listed.eq_ignore_ascii_case(org))
    }

    /// The organizations it is limited to, as `` `a`, `b` ``.
    pub fn orgs_in_words(&self) -> String {
        self.orgs
            .iter()
            .map(|org| format!("`{org}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// One checked request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Request {
    /// What is being done.
    pub operation: Operation,
    /// The time the request is judged at.
    pub now: Timestamp,
    /// The organization the request is made in.
    pub org: String,
    /// Who is asking.
    pub user: Actor,
    /// The token concerned.
    pub token: Token,
}

/// A request that cannot be judged, naming the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{field}`: {problem}")]
pub struct RequestError {
    /// The path of the field, such as `token.valid_to`, or `request` for the whole document.
    pub field: String,
    /// What is wrong with it.
    pub problem: String,
}

impl RequestError {
    fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        RequestError {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

impl Request {
    /// Parses and checks a request; a missing `now` means the current time.
    pub fn from_json(json: &str) -> Result<Request, RequestError> {
        Request::from_json_at(json, timestamp::now())
    }

    /// Parses and checks a request, taking `default_now` when it has no `now`.
    pub fn from_json_at(json: &str, default_now: Timestamp) -> Result<Request, RequestError> {
        // serde would also accept a struct written as an array; a request is an object.
        if !json.trim_start().starts_with('{') {
            return Err(RequestError::new("request", "must be a JSON object"));
        }
        let raw: RawRequest = crate::json::parse_str(json).map_err(|error| {
            // The document itself, or a field named "".
            let field = if error.field.is_empty() {
                "request".to_string()
            } else {
                error.field
            };
            RequestError::new(field, error.problem)
        })?;
        raw.check(default_now)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequest {
    operation: Option<Operation>,
    now: Option<String>,
    org: Option<String>,
    user: Option<RawActor>,
    token: Option<RawToken>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawActor {
    id: Option<String>,
    #[serde(default)]
    groups: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawToken {
    id: Option<String>,
    scopes: Option<Vec<String>>,
    #[serde(default)]
    all_orgs: bool,
    #[serde(default)]
    orgs: Vec<String>,
    valid_from: Option<String>,
    valid_to: Option<String>,
}

impl RawRequest {
    fn check(self, default_now: Timestamp) -> Result<Request, RequestError> {
        let operation = self.operation.ok_or_else(|| missing("operation"))?;
        let now = match self.now {
            Some(text) => time("now", &text)?,
            None => default_now,
        };
        let org = one("org", Kind::Org, self.org)?;
        let user = self.user.ok_or_else(|| missing("user"))?;
        let user = Actor {
            id: one("user.id", Kind::UserId, user.id)?,
            groups: list("user.groups", Kind::GroupId, user.groups, MAX_GROUPS)?,
        };
        let token = self.token.ok_or_else(|| missing("token"))?;
        let scopes = list(
            "token.scopes",
            Kind::Scope,
            token.scopes.ok_or_else(|| missing("token.scopes"))?,
            MAX_SCOPES,
        )?;
        if scopes.is_empty() {
            return Err(RequestError::new(
                "token.scopes",
                "must name at least one scope",
            ));
        }
        let orgs = list("token.orgs", Kind::Org, token.orgs, MAX_ORGS)?;
        if !token.all_orgs && orgs.is_empty() {
            return Err(RequestError::new(
                "token.orgs",
                "must name at least one organization unless `all_orgs` is true",
            ));
        }
        let valid_from = match token.valid_from {
            Some(text) => time("token.valid_from", &text)?,
            None => now,
        };
        let valid_to = time(
            "token.valid_to",
            &token.valid_to.ok_or_else(|| missing("token.valid_to"))?,
        )?;
        if valid_to <= valid_from {
            return Err(RequestError::new(
                "token.valid_to",
                "must be later than `token.valid_from`",
            ));
        }
        let id = token.id.map(|id| token_id(&id)).transpose()?;
        Ok(Request {
            operation,
            now,
            org,
            user,
            token: Token {
                id,
                scopes,
                all_orgs: token.all_orgs,
                orgs,
                valid_from,
                valid_to,
            },
        })
    }
}

fn missing(field: &str) -> RequestError {
    RequestError::new(field, "is missing")
}

fn time(field: &str, text: &str) -> Result<Timestamp, RequestError> {
    parse_rfc3339(text).ok_or_else(|| {
        RequestError::new(
            field,
            format!("`{text}` is not an RFC 3339 time such as `2026-11-28T12:00:00Z`"),
        )
    })
}

/// A required value of `kind`.
fn one(field: &str, kind: Kind, value: Option<String>) -> Result<String, RequestError> {
    let value = value.ok_or_else(|| missing(field))?;
    identity::check(kind, &value)
        .map_err(|invalid| RequestError::new(field, invalid.to_string()))?;
    Ok(value)
}

/// A list of values of `kind`, at most `max`.
fn list(
    field: &str,
    kind: Kind,
    values: Vec<String>,
    max: usize,
) -> Result<Vec<String>, RequestError> {
    identity::check_list(kind, &values, max).map_err(|(index, invalid)| {
        let field = match index {
            Some(index) => format!("{field}[{index}]"),
            None => field.to_string(),
        };
        RequestError::new(field, invalid.to_string())
    })?;
    Ok(values)
}

/// A token's id, for logs: printable, like a user id.
fn token_id(id: &str) -> Result<String, RequestError> {
    identity::check(Kind::UserId, id)
        .map_err(|invalid| RequestError::new("token.id", invalid.to_string()))?;
    Ok(id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = 1_795_867_200; // 2026-11-28T12:00:00Z

    fn parse(json: &str) -> Result<Request, RequestError> {
        Request::from_json_at(json, NOW)
    }

    #[test]
    fn defaults_fill_now_valid_from_groups_and_all_orgs() {
        let request = parse(
            r#"{"operation":"create","org":"fabrikam","user":{"id":"bob"},
                "token":{"scopes":["vso.code"],"orgs":["fabrikam"],"valid_to":"2026-12-01T00:00:00Z"}}"#,
        )
        .unwrap();
        assert_eq!(request.now, NOW);
        assert_eq!(request.token.valid_from, NOW);
        assert!(request.user.groups.is_empty());
        assert!(!request.token.all_orgs);
    }

    #[test]
    fn every_problem_names_its_field() {
        let cases = [
            (r#"{"operation":"create"}"#, "org", "is missing"),
            (
                r#"{"operation":"delete"}"#,
                "operation",
                "unknown variant `delete`",
            ),
            (
                r#"{"operation":"use","org":"o","user":{"id":"b"},"colour":1}"#,
                "colour",
                "unknown field `colour`",
            ),
            (
                r#"{"operation":"use","org":"o","user":{"id":""}}"#,
                "user.id",
                "must not be empty",
            ),
            (
                r#"{"operation":"use","org":"o","user":{"id":"b"},"token":{"scopes":["a",3]}}"#,
                "token.scopes[1]",
                "invalid type: integer `3`",
            ),
            (
                r#"{"operation":"use","org":"o","user":{"id":"b"},"token":{"scopes":[],"orgs":["o"]}}"#,
                "token.scopes",
                "at least one scope",
            ),
            (
                r#"{"operation":"use","org":"o","user":{"id":"b"},"token":{"scopes":["a"]}}"#,
                "token.orgs",
                "at least one organization",
            ),
            (
                r#"{"operation":"use","org":"o","user":{"id":"b"},"token":{"scopes":["a"],"all_orgs":true}}"#,
                "token.valid_to",
                "is missing",
            ),
            (
                r#"{"operation":"use","org":"o","user":{"id":"b"},"token":{"scopes":["a"],"all_orgs":true,"valid_to":"soon"}}"#,
                "token.valid_to",
                "`soon` is not an RFC 3339 time",
            ),
            (
                r#"{"operation":"use","org":"o","user":{"id":"b"},"token":{"scopes":["a"],"all_orgs":true,"valid_to":"2020-01-01T00:00:00Z"}}"#,
                "token.valid_to",
                "later than `token.valid_from`",
            ),
            ("[1,2]", "request", "must be a JSON object"),
            (r#"{"":1}"#, "request", "unknown field ``"),
            ("{\"operation\":", "operation", "EOF while parsing"),
            (
                r#"{"operation":"use","org":"o","user":"bob"}"#,
                "user",
                "expected an object",
            ),
            (
                r#"{"operation":"create","org":"o","user":{"id":"b"},"token":{"scopes":["a"],"all_orgs":true,"valid_to":"2030-01-01T00:00:00Z"}}}}"#,
                "request",
                "after the JSON document",
            ),
            (
                r#"{"operation":"use","org":"o","user":{"id":"bob\n"},"token":{"scopes":["a"],"all_orgs":true,"valid_to":"2030-01-01T00:00:00Z"}}"#,
                "user.id",
                "not printable",
            ),
        ];
        for (json, field, problem) in cases {
            let error = parse(json).unwrap_err();
            assert_eq!(error.field, field, "{json}: {error}");
            assert!(error.problem.contains(problem), "{json}: {error}");
        }
    }
}
