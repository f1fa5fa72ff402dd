//! `cel_rule`: a tenant rule written as a CEL expression, in the configuration rather than in
//! a component of its own.
//!
//! ```toml
//! [[rules]]
//! name = "contractors-no-manage"
//! operations = ["create", "regenerate"]
//! expression = '!(user.groups.exists(g, g == "contractors") && token.scopes.exists(s, s.endsWith("_manage")))'
//! code = "contractorManageScope"
//! message = "contractors may not hold manage scopes"
//! ```
//!
//! The expression must hold for the request to pass (as in Kubernetes'
//! ValidatingAdmissionPolicy). patrol's configuration resolver turns each `[[rules]]` entry
//! into this policy with the entry as its settings; everything else (mode, allowlist, limits,
//! the sandbox) is what every policy gets.
//!
//! At load (`validate-settings`) the expression is parsed, its names are checked against the
//! variables (see [`variables`]), its cost is estimated (see [`checks`]), and it is evaluated
//! once on a sample request for every operation it judges, so that a type error
//! (`token.valid_to > 7`) is refused then, not on a user's request. Every error names the position in the
//! expression. The parsed expression travels to `evaluate` as a syntax tree ([`syntax`]), so
//! requests never pay for parsing.

pub mod checks;
pub mod params;
pub mod syntax;
pub mod variables;

use std::cell::RefCell;
use std::sync::Arc;

use cel::{Context, Env, ExecutionError, Value};
use patrol_guest::{CompiledPolicy, Operation, Request, Verdict};
use serde::{Deserialize, Serialize};

use crate::params::Params;
use crate::syntax::Node;

/// The code of a violation when the rule's `code` is not set.
pub const DEFAULT_CODE: &str = "ruleViolation";
/// The code of a violation when the expression cannot be evaluated for a request (it fails
/// closed, as a failing policy does).
pub const ERROR_CODE: &str = "ruleError";
/// The longest expression (and `message_expression`), in bytes.
pub const MAX_EXPRESSION_BYTES: usize = 4_096;
/// How deeply brackets may nest in an expression: `(`, `[` and `{`.
pub const MAX_NESTING: usize = 32;
/// How deeply an expression's syntax tree may nest. Evaluation recurses once per level, and the
/// policy's stack is sized for this (see `build.rs`).
pub const MAX_DEPTH: usize = 64;
/// The most nodes an expression's syntax tree may hold, macro expansions included.
pub const MAX_NODES: usize = 2_000;
/// The longest message a `message_expression` may produce, in bytes; longer ones are cut.
pub const MAX_MESSAGE_BYTES: usize = 1_024;
/// The operations a rule may judge. Leaks are revoked by `revoke_leaked_pats`, not judged.
pub const OPERATIONS: [&str; 3] = ["create", "regenerate", "use"];
/// The operations a rule judges when it does not say.
pub const DEFAULT_OPERATIONS: [&str; 2] = ["create", "regenerate"];

/// A rule, as the tenant writes it (under `[[rules]]`; patrol adds `name`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The rule's name.
    pub name: String,
    /// A CEL expression that must evaluate to `true` for the request to pass.
    pub expression: String,
    /// The violation's message.
    #[serde(default)]
    pub message: Option<String>,
    /// A CEL expression giving the violation's message; `message` is used if it fails.
    #[serde(default)]
    pub message_expression: Option<String>,
    /// The violation's code.
    #[serde(default)]
    pub code: Option<String>,
    /// The operations the rule judges.
    #[serde(default)]
    pub operations: Option<Vec<String>>,
    /// Values the expression sees as `params`.
    #[serde(default)]
    pub params: Option<serde_json::Value>,
}

/// A rule after its checks, as `evaluate` receives it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Compiled {
    name: String,
    code: String,
    message: String,
    condition: Node,
    message_expression: Option<Node>,
    operations: Vec<String>,
    params: Params,
}

/// The policy.
pub struct CelRule;

impl CompiledPolicy for CelRule {
    const NAME: &'static str = "cel_rule";
    const VERSION: &'static str = "1.0.0";
    const DESCRIPTION: &'static str =
        "A tenant's rule written as a CEL expression that must hold for the request to pass.";
    const OPERATIONS: &'static [Operation] =
        &[Operation::Create, Operation::Regenerate, Operation::Use];
    type Settings = Settings;
    type Compiled = Compiled;

    fn compile(settings: Settings) -> Result<(Compiled, serde_json::Value), String> {
        compile(settings)
    }

    fn evaluate(compiled: &Compiled, request: &Request) -> Verdict {
        evaluate(compiled, request)
    }
}

#[cfg(feature = "component")]
patrol_guest::export_compiled_policy!(CelRule);

thread_local! {
    /// The standard CEL environment, built once per instance (a few tens of microseconds) and
    /// only when a rule is evaluated.
    static ENV: Arc<Env> = Arc::new(Env::stdlib());
}

fn env() -> Arc<Env> {
    ENV.with(Arc::clone)
}

fn compile(settings: Settings) -> Result<(Compiled, serde_json::Value), String> {
    let operations = match settings.operations {
        None => DEFAULT_OPERATIONS.map(str::to_string).to_vec(),
        Some(operations) => check_operations(operations)?,
    };
    let params = match &settings.params {
        None => Params::default(),
        Some(value) => Params::from_json(value)?,
    };
    if let Some(code) = &settings.code
        && !valid_code(code)
    {
        return Err(format!(
            "`code`: `{code}` is not a valid code: 1 to 64 ASCII letters, digits, `.`, `_` or `-`"
        ));
    }
    let condition = Checked::new("expression", &settings.expression, &params)?;
    let message_expression = settings
        .message_expression
        .as_deref()
        .map(|source| Checked::new("message_expression", source, &params))
        .transpose()?;
    // A type error shows on a sample request; a data-dependent one (an index out of range)
    // may not, and fails closed per request instead.
    for operation in &operations {
        condition.try_on_sample(operation, &params, ExpectedType::Bool)?;
        if let Some(message) = &message_expression {
            message.try_on_sample(operation, &params, ExpectedType::String)?;
        }
    }
    let message = settings.message.clone().unwrap_or_else(|| {
        format!(
            "failed rule `{}`: {}",
            settings.name,
            settings.expression.trim()
        )
    });
    let effective = serde_json::json!({
        "name": settings.name,
        "expression": settings.expression,
        "message": message,
        "message_expression": settings.message_expression,
        "code": settings.code.as_deref().unwrap_or(DEFAULT_CODE),
        "operations": operations,
        "params": params.to_json(),
        "references": condition.references(),
        "estimated_cost": condition.cost,
    });
    let compiled = Compiled {
        name: settings.name,
        code: settings.code.unwrap_or_else(|| DEFAULT_CODE.to_string()),
        message,
        condition: condition.node,
        message_expression: message_expression.map(|checked| checked.node),
        operations,
        params,
    };
    Ok((compiled, effective))
}

fn check_operations(operations: Vec<String>) -> Result<Vec<String>, String> {
    if operations.is_empty() {
        return Err(format!(
            "`operations` is empty; list some of {}",
            quoted(&OPERATIONS)
        ));
    }
    for (index, operation) in operations.iter().enumerate() {
        if operation == "leak" {
            return Err(format!(
                "`operations[{index}]`: rules do not judge leaks; a leaked token is revoked by \
                 `revoke_leaked_pats`"
            ));
        }
        if !OPERATIONS.contains(&operation.as_str()) {
            return Err(format!(
                "`operations[{index}]`: unknown operation `{operation}`; use {}",
                quoted(&OPERATIONS)
            ));
        }
    }
    Ok(operations)
}

fn quoted(items: &[&str]) -> String {
    items
        .iter()
        .map(|item| format!("`{item}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Codes as the contract allows them: ASCII letters, digits, `.`, `_` and `-`, 1 to 64 bytes.
fn valid_code(code: &str) -> bool {
    (1..=64).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// What an expression must evaluate to.
#[derive(Clone, Copy)]
enum ExpectedType {
    Bool,
    String,
}

/// An expression that parsed and passed the name and cost checks.
struct Checked<'a> {
    field: &'static str,
    source: &'a str,
    node: Node,
    cost: u64,
}

impl<'a> Checked<'a> {
    fn new(field: &'static str, source: &'a str, params: &Params) -> Result<Self, String> {
        if source.trim().is_empty() {
            return Err(format!("`{field}` is empty"));
        }
        if source.len() > MAX_EXPRESSION_BYTES {
            return Err(format!(
                "`{field}` is {} bytes long, more than the {MAX_EXPRESSION_BYTES} a rule may \
                 have; split it into several rules",
                source.len()
            ));
        }
        check_nesting(field, source)?;
        let expr = parser().parse(source).map_err(|errors| {
            let first = errors.errors.first();
            // 1-based, both.
            let (line, column) = first.map(|e| e.pos).unwrap_or((1, 1));
            let message = first.map(|e| e.msg.as_str()).unwrap_or("cannot be parsed");
            // The parser's message does not say what it found there.
            let found = usize::try_from(line - 1)
                .ok()
                .and_then(|line| source.split('\n').nth(line))
                .and_then(|text| text.chars().nth(usize::try_from(column - 1).ok()?));
            let message = match found {
                Some(c) if message == "unexpected token" => format!("unexpected `{c}`"),
                _ => message.to_string(),
            };
            format!(
                "{} does not parse, at line {line}, column {column}: {message}",
                named(field, source),
            )
        })?;
        let depth = syntax::depth(&expr);
        if depth > MAX_DEPTH {
            return Err(format!(
                "{} is nested too deeply: {depth} levels, at most {MAX_DEPTH} (a long chain of \
                 `&&`, `||` or `+` counts one level per operator); split it into several rules",
                named(field, source)
            ));
        }
        let node = Node::from_cel(&expr);
        let checked = Checked {
            field,
            source,
            node,
            cost: 0,
        };
        checks::check_names(&checked.node, params)
            .map_err(|problem| checked.at(problem.word.as_deref(), &problem.message))?;
        let cost = checks::estimated_cost(&checked.node, params);
        if cost > checks::MAX_COST {
            return Err(format!(
                "`{field}` is too costly: its estimated cost is {cost}, more than the {} a rule \
                 may have (each macro such as `exists` multiplies the cost of what it contains \
                 by the size of the list it walks); simplify it or split it into several rules",
                checks::MAX_COST
            ));
        }
        Ok(Checked { cost, ..checked })
    }

    /// An error about `word` (a name the expression uses), with where it first appears.
    fn at(&self, word: Option<&str>, message: &str) -> String {
        match word.and_then(|word| position_of_word(self.source, word)) {
            Some((line, column)) => format!(
                "{} at line {line}, column {column}: {message}",
                named(self.field, self.source)
            ),
            None => format!("{}: {message}", named(self.field, self.source)),
        }
    }

    /// Evaluates the expression on a sample request, refusing type errors and a result of the
    /// wrong type.
    fn try_on_sample(
        &self,
        operation: &str,
        params: &Params,
        expected: ExpectedType,
    ) -> Result<(), String> {
        let request = sample_request(operation);
        let result = with_context(&request, params, |context| {
            Value::resolve(&self.node.to_cel(), context)
        });
        match result {
            Ok(Value::Bool(_)) if matches!(expected, ExpectedType::Bool) => Ok(()),
            Ok(Value::String(_)) if matches!(expected, ExpectedType::String) => Ok(()),
            Ok(other) => Err(format!(
                "{} must evaluate to a {}, but gives {} (on a sample `{operation}` request)",
                named(self.field, self.source),
                match expected {
                    ExpectedType::Bool => "bool",
                    ExpectedType::String => "string",
                },
                type_name(&other)
            )),
            Err(error) if is_type_error(&error) => Err(format!(
                "{} cannot be evaluated (on a sample `{operation}` request): {error}",
                named(self.field, self.source)
            )),
            // Data-dependent: division by zero, an index out of range...
            Err(_) => Ok(()),
        }
    }

    /// The variables the expression reads, as dotted names (`token.scopes`), for `--explain`.
    fn references(&self) -> Vec<String> {
        let mut names = Vec::new();
        collect_references(&self.node, &mut names);
        names.sort();
        names.dedup();
        names
    }
}

fn collect_references(node: &Node, names: &mut Vec<String>) {
    if let Some(name) = node.dotted_name()
        && let Some(root) = name.split('.').next()
        && variables::VARIABLES.contains(&root)
    {
        // `user` and `token` are read through their fields; `params` through its keys.
        let depth = if matches!(root, "user" | "token" | "params") {
            2
        } else {
            1
        };
        let shown: Vec<&str> = name.split('.').take(depth).collect();
        names.push(shown.join("."));
        return;
    }
    for child in node.children() {
        collect_references(child, names);
    }
}

/// The errors that say the expression is wrong whatever the request: types, names, functions.
fn is_type_error(error: &ExecutionError) -> bool {
    matches!(
        error,
        ExecutionError::NoSuchOverload(_)
            | ExecutionError::UnexpectedType { .. }
            | ExecutionError::UndeclaredReference(_)
            | ExecutionError::UnsupportedBinaryOperator(..)
            | ExecutionError::ValuesNotComparable(..)
            | ExecutionError::InvalidArgumentCount { .. }
            | ExecutionError::NotSupportedAsMethod { .. }
            | ExecutionError::UnsupportedTargetType { .. }
            | ExecutionError::MissingArgumentOrTarget
            | ExecutionError::FunctionError { .. }
    )
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::List(_) => "a list",
        Value::Map(_) => "a map",
        Value::Function(..) => "a function",
        Value::Int(_) => "an int",
        Value::UInt(_) => "a uint",
        Value::Float(_) => "a double",
        Value::String(_) => "a string",
        Value::Bytes(_) => "bytes",
        Value::Bool(_) => "a bool",
        Value::Duration(_) => "a duration",
        Value::Timestamp(_) => "a timestamp",
        Value::Null => "null",
        _ => "another type",
    }
}

/// The field, followed by the expression when it is short enough to repeat in a message:
/// ``"`expression` (`token.valid_to > 7`)"``.
fn named(field: &str, source: &str) -> String {
    let source = source.trim();
    if source.len() <= 100 && !source.contains('\n') {
        format!("`{field}` (`{source}`)")
    } else {
        format!("`{field}`")
    }
}

/// The CEL parser rules are read with: cel-rust's hand-written one, with the standard macros
/// and patrol's limits. It gives the same syntax trees as the ANTLR-generated default.
pub fn parser() -> cel::parser::PrattParser {
    cel::parser::PrattParser::new()
        .max_recursion_depth(MAX_NESTING as u16)
        .max_expression_node_count(MAX_NODES)
}

/// Refuses brackets nested more than [`MAX_NESTING`] deep, before parsing (string literals are
/// skipped).
fn check_nesting(field: &str, source: &str) -> Result<(), String> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (line_index, line) in source.split('\n').enumerate() {
        for (column, c) in line.chars().enumerate() {
            match quote {
                Some(_) if escaped => escaped = false,
                Some(_) if c == '\\' => escaped = true,
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None => match c {
                    '"' | '\'' => quote = Some(c),
                    '(' | '[' | '{' => {
                        depth += 1;
                        if depth > MAX_NESTING {
                            return Err(format!(
                                "{} is nested too deeply at line {}, column {}: at most \
                                 {MAX_NESTING} levels of brackets",
                                named(field, source),
                                line_index + 1,
                                column + 1
                            ));
                        }
                    }
                    ')' | ']' | '}' => depth = depth.saturating_sub(1),
                    _ => {}
                },
            }
        }
    }
    Ok(())
}

/// Where `word` first appears in `source` as a whole name (not inside a longer one): 1-based
/// line and column.
fn position_of_word(source: &str, word: &str) -> Option<(usize, usize)> {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut from = 0;
    while let Some(found) = source[from..].find(word) {
        let start = from + found;
        let end = start + word.len();
        let before = source[..start].chars().next_back();
        let after = source[end..].chars().next();
        if !before.is_some_and(is_name) && !after.is_some_and(is_name) {
            return Some(line_and_column(source, source[..start].chars().count()));
        }
        from = end;
    }
    None
}

/// 1-based line and column (in characters) of a character offset into `source`.
fn line_and_column(source: &str, offset: usize) -> (usize, usize) {
    let before: String = source.chars().take(offset).collect();
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// A request every rule should be able to look at: one group, one scope, one organization,
/// a 30-day token.
fn sample_request(operation: &str) -> Request {
    use patrol_guest::{Actor, Token};
    const NOW: i64 = 1_795_867_200; // 2026-11-28T12:00:00Z
    Request {
        operation: match operation {
            "regenerate" => Operation::Regenerate,
            "use" => Operation::Use,
            _ => Operation::Create,
        },
        now: NOW,
        org: "sample-org".to_string(),
        user: Actor {
            id: "sample@example.com".to_string(),
            groups: vec!["sample-group".to_string()],
        },
        token: Token {
            scopes: vec!["vso.code".to_string()],
            all_orgs: false,
            orgs: vec!["sample-org".to_string()],
            valid_from: NOW,
            valid_to: NOW + 30 * 86_400,
        },
    }
}

thread_local! {
    /// The last request's variables, in a context of their own: in the rules bundle, every
    /// rule of a decision judges the same request in the same instance, and builds on this one
    /// rather than converting the request again.
    static REQUEST: RefCell<Option<(Request, Context<'static, 'static>)>> =
        const { RefCell::new(None) };
}

/// Runs `judge` with the variables a rule sees: `request`'s, and `params`.
fn with_context<R>(
    request: &Request,
    params: &Params,
    judge: impl FnOnce(&Context<'_, '_>) -> R,
) -> R {
    REQUEST.with(|cell| {
        let mut cached = cell.borrow_mut();
        if cached.as_ref().is_none_or(|(seen, _)| seen != request) {
            let mut root = Context::with_env(env());
            for (name, value) in variables::of_request(request) {
                root.add_variable_from_value(name, value);
            }
            *cached = Some((request.clone(), root));
        }
        let Some((_, root)) = cached.as_ref() else {
            unreachable!("set just above")
        };
        let mut scope = root.new_inner_scope();
        scope.add_variable_from_value("params", params.to_cel());
        judge(&scope)
    })
}

fn evaluate(rule: &Compiled, request: &Request) -> Verdict {
    let operation = variables::operation_name(request.operation);
    if !rule.operations.iter().any(|o| o == operation) {
        return Verdict::allow();
    }
    with_context(request, &rule.params, |context| judge(rule, context))
}

fn judge(rule: &Compiled, context: &Context<'_, '_>) -> Verdict {
    match Value::resolve(&rule.condition.to_cel(), context) {
        Ok(Value::Bool(true)) => Verdict::allow(),
        Ok(Value::Bool(false)) => Verdict::deny(&rule.code, message(rule, context)),
        Ok(other) => Verdict::deny(
            ERROR_CODE,
            format!(
                "rule `{}` gave {} instead of a bool",
                rule.name,
                type_name(&other)
            ),
        ),
        Err(error) => Verdict::deny(
            ERROR_CODE,
            format!("rule `{}` could not be evaluated: {error}", rule.name),
        ),
    }
}

/// The violation's message: `message_expression`'s, else `message`.
fn message(rule: &Compiled, context: &Context<'_, '_>) -> String {
    let computed = rule.message_expression.as_ref().and_then(|node| {
        match Value::resolve(&node.to_cel(), context) {
            Ok(Value::String(text)) if !text.trim().is_empty() => Some(text.to_string()),
            _ => None,
        }
    });
    let mut message = computed.unwrap_or_else(|| rule.message.clone());
    if message.len() > MAX_MESSAGE_BYTES {
        let mut end = MAX_MESSAGE_BYTES;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
    }
    message
}

#[cfg(test)]
mod tests;
