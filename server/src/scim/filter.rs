//! SCIM filters (RFC 7644 §3.4.2.2): `userName eq "alice@contoso.com"`, `externalId eq "..."`,
//! `displayName eq "..." and externalId pr`, `emails[type eq "work"]`, joined with `and`, `or`,
//! `not (...)` and parentheses. Attribute names and, for the attributes patrol compares
//! regardless of case (all but `id` and `externalId`, as RFC 7643 declares them), values too,
//! are compared regardless of case.

use serde_json::Value;

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Filter {
    /// `attr op value`, or `attr pr`.
    Compare {
        path: Vec<String>,
        op: Op,
        value: Option<Value>,
    },
    /// `attr[filter]`: some value of a multi-valued attribute matches.
    Has {
        path: Vec<String>,
        filter: Box<Filter>,
    },
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
    Pr,
}

/// The longest filter accepted, and the deepest nesting.
const MAX_FILTER_BYTES: usize = 4096;
const MAX_DEPTH: usize = 16;

/// Parses a filter; the error says where and why, for a SCIM `invalidFilter`.
pub(crate) fn parse(text: &str) -> Result<Filter, String> {
    if text.len() > MAX_FILTER_BYTES {
        return Err(format!(
            "the filter is {} bytes long; at most {MAX_FILTER_BYTES}",
            text.len()
        ));
    }
    let tokens = lex(text)?;
    let mut parser = Parser {
        tokens,
        at: 0,
        depth: 0,
    };
    let filter = parser.or()?;
    match parser.tokens.get(parser.at) {
        None => Ok(filter),
        Some(token) => Err(format!(
            "unexpected {} after a complete filter",
            token.describe()
        )),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Str(String),
    Open,
    Close,
    OpenBracket,
    CloseBracket,
}

impl Token {
    fn describe(&self) -> String {
        match self {
            Token::Word(word) => format!("`{word}`"),
            Token::Str(text) => format!("the string \"{text}\""),
            Token::Open => "`(`".into(),
            Token::Close => "`)`".into(),
            Token::OpenBracket => "`[`".into(),
            Token::CloseBracket => "`]`".into(),
        }
    }
}

fn lex(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '(' => tokens.push(Token::Open),
            ')' => tokens.push(Token::Close),
            '[' => tokens.push(Token::OpenBracket),
            ']' => tokens.push(Token::CloseBracket),
            '"' => {
                let mut value = String::new();
                let mut closed = false;
                while let Some((_, c)) = chars.next() {
                    match c {
                        '"' => {
                            closed = true;
                            break;
                        }
                        '\\' => match chars.next() {
                            Some((_, c)) => value.push(c),
                            None => break,
                        },
                        c => value.push(c),
                    }
                }
                if !closed {
                    return Err(format!("the string starting at byte {at} is not closed"));
                }
                tokens.push(Token::Str(value));
            }
            _ => {
                let mut word = String::from(c);
                while let Some(&(_, c)) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | '"') {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                tokens.push(Token::Word(word));
            }
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    depth: usize,
}

impl Parser {
    fn peek_word(&self) -> Option<String> {
        match self.tokens.get(self.at) {
            Some(Token::Word(word)) => Some(word.to_ascii_lowercase()),
            _ => None,
        }
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn or(&mut self) -> Result<Filter, String> {
        let mut left = self.and()?;
        while self.peek_word().as_deref() == Some("or") {
            self.at += 1;
            left = Filter::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, String> {
        let mut left = self.unary()?;
        while self.peek_word().as_deref() == Some("and") {
            self.at += 1;
            left = Filter::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Filter, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!("the filter nests deeper than {MAX_DEPTH} levels"));
        }
        let filter = self.unary_inner();
        self.depth -= 1;
        filter
    }

    fn unary_inner(&mut self) -> Result<Filter, String> {
        if self.peek_word().as_deref() == Some("not") {
            self.at += 1;
            if self.tokens.get(self.at) != Some(&Token::Open) {
                return Err("`not` must be followed by a filter in parentheses".into());
            }
            return Ok(Filter::Not(Box::new(self.unary()?)));
        }
        match self.next() {
            Some(Token::Open) => {
                let inner = self.or()?;
                match self.next() {
                    Some(Token::Close) => Ok(inner),
                    Some(other) => Err(format!("expected `)`, found {}", other.describe())),
                    None => Err("a `(` is not closed".into()),
                }
            }
            Some(Token::Word(word)) => self.comparison(&word),
            Some(other) => Err(format!("expected an attribute, found {}", other.describe())),
            None => Err("the filter is empty or ends too early".into()),
        }
    }

    fn comparison(&mut self, attribute: &str) -> Result<Filter, String> {
        let path = attribute_path(attribute)?;
        if self.tokens.get(self.at) == Some(&Token::OpenBracket) {
            self.at += 1;
            let inner = self.or()?;
            match self.next() {
                Some(Token::CloseBracket) => {}
                Some(other) => return Err(format!("expected `]`, found {}", other.describe())),
                None => return Err("a `[` is not closed".into()),
            }
            // `emails[type eq "work"].value eq "..."`: some value matches both.
            if let Some(Token::Word(word)) = self.tokens.get(self.at)
                && let Some(sub) = word.strip_prefix('.')
            {
                let sub = sub.to_string();
                self.at += 1;
                let compared = self.comparison(&sub)?;
                return Ok(Filter::Has {
                    path,
                    filter: Box::new(Filter::And(Box::new(inner), Box::new(compared))),
                });
            }
            return Ok(Filter::Has {
                path,
                filter: Box::new(inner),
            });
        }
        let op = match self.next() {
            Some(Token::Word(word)) => match word.to_ascii_lowercase().as_str() {
                "eq" => Op::Eq,
                "ne" => Op::Ne,
                "co" => Op::Co,
                "sw" => Op::Sw,
                "ew" => Op::Ew,
                "gt" => Op::Gt,
                "ge" => Op::Ge,
                "lt" => Op::Lt,
                "le" => Op::Le,
                "pr" => Op::Pr,
                _ => {
                    return Err(format!(
                        "`{word}` is not a comparison operator (eq, ne, co, sw, ew, gt, ge, lt, \
                         le, pr)"
                    ));
                }
            },
            Some(other) => {
                return Err(format!(
                    "expected an operator after `{attribute}`, found {}",
                    other.describe()
                ));
            }
            None => return Err(format!("expected an operator after `{attribute}`")),
        };
        if op == Op::Pr {
            return Ok(Filter::Compare {
                path,
                op,
                value: None,
            });
        }
        let value = match self.next() {
            Some(Token::Str(text)) => Value::String(text),
            Some(Token::Word(word)) => match word.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "null" => Value::Null,
                // Microsoft's SCIM documentation shows `externalId eq jyoung`, unquoted: a
                // bare word that is no keyword or number is taken as the string it spells.
                other => serde_json::from_str::<serde_json::Number>(other)
                    .map(Value::Number)
                    .unwrap_or_else(|_| Value::String(other.to_string())),
            },
            Some(other) => {
                return Err(format!(
                    "expected a value after the operator, found {}",
                    other.describe()
                ));
            }
            None => return Err(format!("expected a value after `{attribute}`'s operator")),
        };
        Ok(Filter::Compare {
            path,
            op,
            value: Some(value),
        })
    }
}

/// An attribute path, split at its dots, lowercase; a schema URN prefix is dropped (patrol
/// keeps extension attributes under the extension's URN, see [`super::resource`]).
pub(crate) fn attribute_path(text: &str) -> Result<Vec<String>, String> {
    let lower = text.to_ascii_lowercase();
    let (urn, rest) = super::resource::split_urn(&lower);
    let mut path: Vec<String> = Vec::new();
    if let Some(urn) = urn {
        path.push(urn.to_string());
    }
    for part in rest.split('.') {
        let valid = !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$');
        if !valid {
            return Err(format!("`{text}` is not an attribute path"));
        }
        path.push(part.to_string());
    }
    Ok(path)
}

/// The string a filter requires `attribute` (lowercase, a top-level attribute) to equal, if it
/// does: `attribute eq "..."`, alone or as one side of an `and`.
pub(crate) fn name_eq<'a>(filter: &'a Filter, attribute: &str) -> Option<&'a str> {
    match filter {
        Filter::Compare {
            path,
            op: Op::Eq,
            value: Some(Value::String(text)),
        } if path.len() == 1 && path[0] == attribute => Some(text),
        Filter::And(left, right) => name_eq(left, attribute).or_else(|| name_eq(right, attribute)),
        _ => None,
    }
}

/// Whether `resource` (a rendered SCIM resource) matches.
pub(crate) fn matches(filter: &Filter, resource: &Value) -> bool {
    match filter {
        Filter::And(left, right) => matches(left, resource) && matches(right, resource),
        Filter::Or(left, right) => matches(left, resource) || matches(right, resource),
        Filter::Not(inner) => !matches(inner, resource),
        Filter::Has { path, filter } => items_at(resource, path)
            .into_iter()
            .flat_map(flatten)
            .any(|value| matches(filter, value)),
        Filter::Compare { path, op, value } => {
            let found = values_at(resource, path);
            if *op == Op::Pr {
                return found.iter().any(|value| present(value));
            }
            let expected = value.as_ref().unwrap_or(&Value::Null);
            let case_exact = matches!(path.last().map(String::as_str), Some("id" | "externalid"));
            if *op == Op::Ne {
                return !found
                    .iter()
                    .any(|value| compare(value, Op::Eq, expected, case_exact));
            }
            found
                .iter()
                .any(|value| compare(value, *op, expected, case_exact))
        }
    }
}

fn present(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(text) => !text.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(fields) => !fields.is_empty(),
        _ => true,
    }
}

/// Every value at `path` (case-insensitive names), looking through multi-valued attributes; a
/// path to a multi-valued complex attribute's values without a sub-attribute compares their
/// `value`.
fn values_at<'a>(resource: &'a Value, path: &[String]) -> Vec<&'a Value> {
    items_at(resource, path)
        .into_iter()
        .flat_map(|value| match value {
            Value::Array(items) => items
                .iter()
                .map(|item| match item {
                    Value::Object(fields) => fields.get("value").unwrap_or(item),
                    _ => item,
                })
                .collect(),
            other => vec![other],
        })
        .collect()
}

/// The values at `path` as they are (case-insensitive names).
fn items_at<'a>(resource: &'a Value, path: &[String]) -> Vec<&'a Value> {
    let mut current = vec![resource];
    for name in path {
        let mut next = Vec::new();
        for value in current {
            for item in flatten(value) {
                if let Value::Object(fields) = item
                    && let Some((_, found)) = fields
                        .iter()
                        .find(|(key, _)| key.eq_ignore_ascii_case(name))
                {
                    next.push(found);
                }
            }
        }
        current = next;
    }
    current
}

fn flatten(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    }
}

fn compare(found: &Value, op: Op, expected: &Value, case_exact: bool) -> bool {
    match (found, expected) {
        (Value::String(found), Value::String(expected)) => {
            let (found, expected) = if case_exact {
                (found.clone(), expected.clone())
            } else {
                (found.to_lowercase(), expected.to_lowercase())
            };
            match op {
                Op::Eq => found == expected,
                Op::Co => found.contains(&expected),
                Op::Sw => found.starts_with(&expected),
                Op::Ew => found.ends_with(&expected),
                Op::Gt => found > expected,
                Op::Ge => found >= expected,
                Op::Lt => found < expected,
                Op::Le => found <= expected,
                Op::Ne | Op::Pr => false,
            }
        }
        (Value::Bool(found), Value::Bool(expected)) => op == Op::Eq && found == expected,
        (Value::Number(found), Value::Number(expected)) => {
            let (Some(found), Some(expected)) = (found.as_f64(), expected.as_f64()) else {
                return false;
            };
            match op {
                Op::Eq => found == expected,
                Op::Gt => found > expected,
                Op::Ge => found >= expected,
                Op::Lt => found < expected,
                Op::Le => found <= expected,
                _ => false,
            }
        }
        (Value::Null, Value::Null) => op == Op::Eq,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn what_entra_sends_parses_and_matches() {
        let user = json!({ "userName": "Carol@contoso.com", "externalId": "carol",
                           "emails": [{ "type": "work", "value": "carol@contoso.com" }] });
        for (filter, expected) in [
            (r#"userName eq "carol@CONTOSO.com""#, true),
            (r#"externalId eq "carol""#, true),
            (r#"externalId eq "Carol""#, false),
            (
                r#"userName eq "carol@contoso.com" and externalId eq "carol""#,
                true,
            ),
            (r#"emails[type eq "work" and value co "contoso"]"#, true),
            (r#"emails.value ew ".com""#, true),
            (r#"not (userName sw "bob")"#, true),
            (r#"displayName pr or userName pr"#, true),
            (
                r#"emails[type eq "work"].value eq "carol@contoso.com""#,
                true,
            ),
            (
                r#"emails[type eq "home"].value eq "carol@contoso.com""#,
                false,
            ),
            ("externalId eq carol", true),
        ] {
            assert_eq!(
                matches(&parse(filter).unwrap(), &user),
                expected,
                "{filter}"
            );
        }
    }

    #[test]
    fn malformed_filters_say_why() {
        for (filter, expected) in [
            (r#"userName eq"#, "expected a value"),
            (r#"userName equals "x""#, "not a comparison operator"),
            (r#"userName eq "x"#, "is not closed"),
            (r#"(userName eq "x""#, "is not closed"),
            (r#"userName eq "x" extra"#, "unexpected `extra`"),
            (r#"userName eq "x" and"#, "ends too early"),
            ("", "empty"),
        ] {
            let error = parse(filter).unwrap_err();
            assert!(error.contains(expected), "{filter}: {error}");
        }
    }
}
