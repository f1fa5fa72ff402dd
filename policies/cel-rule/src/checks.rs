//! What is checked of an expression at load, before any request sees it: its names (variables,
//! fields, params) and its estimated cost. Types are checked by evaluating it on a sample
//! request (see `lib.rs`); cel-rust has no static type checker.

use crate::params::Params;
use crate::syntax::{Kind, Node};
use crate::variables::{TOKEN_FIELDS, USER_FIELDS, VARIABLES, list_bound};

/// The most an expression may cost, in the units of [`estimated_cost`]: about one unit per
/// node visited, with a macro's body counted once per element of the largest list it can
/// iterate over. A rule at 9,988 units took 1.4 ms in the sandbox for a user in 256 groups
/// (docs/writing-policies.md), within the default 5 ms deadline; the deadline still bounds
/// every call.
pub const MAX_COST: u64 = 10_000;

/// The size assumed for a list whose size nothing bounds (an element of a list of lists, a
/// value of a map in `params`).
const UNKNOWN_LIST_SIZE: u64 = 1_000;

/// Type names an expression may use as identifiers (`type(x) == string`).
const TYPE_NAMES: [&str; 13] = [
    "bool",
    "bytes",
    "double",
    "duration",
    "dyn",
    "int",
    "list",
    "map",
    "null_type",
    "string",
    "timestamp",
    "type",
    "uint",
];

/// A problem with a name an expression uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The name at fault as written (`tokn`, or `.valid_until` for a field), to find where it
    /// is in the source.
    pub word: Option<String>,
    /// What is wrong.
    pub message: String,
}

/// Checks that every name the expression uses exists: variables, the fields of `user` and
/// `token`, the keys of `params`, and the variables its macros bind.
pub fn check_names(node: &Node, params: &Params) -> Result<(), Problem> {
    let mut bound = Vec::new();
    names(node, params, &mut bound)
}

fn names(node: &Node, params: &Params, bound: &mut Vec<String>) -> Result<(), Problem> {
    let problem = |word: &str, message: String| Problem {
        word: Some(word.to_string()),
        message,
    };
    match &node.kind {
        Kind::Ident(name) => {
            if !bound.contains(name)
                && !VARIABLES.contains(&name.as_str())
                && !TYPE_NAMES.contains(&name.as_str())
            {
                return Err(problem(
                    name,
                    format!(
                        "unknown variable `{name}`; the variables are {}",
                        listing(&VARIABLES)
                    ),
                ));
            }
            Ok(())
        }
        Kind::Select {
            operand,
            field,
            test,
        } => {
            let root = match &operand.kind {
                Kind::Ident(name) if !bound.contains(name) => Some(name.as_str()),
                _ => None,
            };
            let fields: Option<(&str, Vec<&str>)> = match root {
                Some("user") => Some(("user", USER_FIELDS.to_vec())),
                Some("token") => Some(("token", TOKEN_FIELDS.to_vec())),
                Some("params") => Some(("params", params.keys())),
                _ => None,
            };
            if let Some((root, fields)) = fields
                && !fields.contains(&field.as_str())
                && !(root == "params" && *test)
            {
                let known = if fields.is_empty() {
                    "this rule has no `params`".to_string()
                } else {
                    format!("it has {}", listing(&fields))
                };
                return Err(problem(
                    field,
                    format!("`{root}` has no field `{field}`; {known}"),
                ));
            }
            names(operand, params, bound)
        }
        Kind::Comprehension(c) => {
            names(&c.iter_range, params, bound)?;
            names(&c.accu_init, params, bound)?;
            let depth = bound.len();
            bound.push(c.iter_var.clone());
            bound.extend(c.iter_var2.clone());
            bound.push(c.accu_var.clone());
            let inner = names(&c.loop_cond, params, bound)
                .and_then(|()| names(&c.loop_step, params, bound))
                .and_then(|()| names(&c.result, params, bound));
            bound.truncate(depth);
            inner
        }
        _ => node
            .children()
            .into_iter()
            .try_for_each(|child| names(child, params, bound)),
    }
}

/// An estimate of the most evaluating `node` can cost: one unit per node, a macro's body
/// counted once per element of the largest list it can iterate over, `in` over a list counted
/// once per element. Saturates rather than overflows.
pub fn estimated_cost(node: &Node, params: &Params) -> u64 {
    cost(node, params).0
}

/// The cost of `node`, and the most elements the list it evaluates to can have, when known.
fn cost(node: &Node, params: &Params) -> (u64, Option<u64>) {
    let children = |nodes: Vec<&Node>| -> u64 {
        nodes
            .into_iter()
            .map(|child| cost(child, params).0)
            .fold(1, u64::saturating_add)
    };
    match &node.kind {
        Kind::Unspecified | Kind::Literal(_) => (1, None),
        Kind::Ident(_) | Kind::Select { .. } => {
            let size = node.dotted_name().and_then(|name| {
                list_bound(&name).or_else(|| {
                    let key = name.strip_prefix("params.")?;
                    params.list_len(key)
                })
            });
            (children(node.children()), size)
        }
        Kind::List { elements, .. } => (
            children(node.children()),
            Some(elements.len().try_into().unwrap_or(u64::MAX)),
        ),
        Kind::Call {
            function,
            target,
            args,
        } => {
            // Each child is costed once: costing it again for its size would make a long
            // chain of `+` exponential.
            let target = target.as_deref().map(|target| cost(target, params).0);
            let args: Vec<(u64, Option<u64>)> = args.iter().map(|a| cost(a, params)).collect();
            let mut total = args
                .iter()
                .map(|(cost, _)| *cost)
                .chain(target)
                .fold(1, u64::saturating_add);
            let mut size = None;
            if function == "@in" {
                let range = args.get(1).and_then(|(_, size)| *size);
                total = total.saturating_add(range.unwrap_or(UNKNOWN_LIST_SIZE));
            } else if let ("_+_", [(_, Some(a)), (_, Some(b))]) = (function.as_str(), &args[..]) {
                // List concatenation: the result is as long as both.
                size = Some(a.saturating_add(*b));
            }
            (total, size)
        }
        Kind::Comprehension(c) => {
            let (range_cost, range_size) = cost(&c.iter_range, params);
            let rounds = range_size.unwrap_or(UNKNOWN_LIST_SIZE);
            let body = cost(&c.loop_cond, params)
                .0
                .saturating_add(cost(&c.loop_step, params).0);
            let total = range_cost
                .saturating_add(cost(&c.accu_init, params).0)
                .saturating_add(rounds.saturating_mul(body))
                .saturating_add(cost(&c.result, params).0);
            // `map` and `filter` give at most one element per round.
            (total, Some(rounds))
        }
        Kind::Map(_) | Kind::Struct { .. } => (children(node.children()), None),
    }
}

fn listing(names: &[&str]) -> String {
    names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(source: &str) -> Node {
        Node::from_cel(&crate::parser().parse(source).unwrap())
    }

    fn params(json: &str) -> Params {
        Params::from_json(&serde_json::from_str(json).unwrap()).unwrap()
    }

    #[test]
    fn names_are_checked_against_the_variables_fields_and_params() {
        let none = params("{}");
        assert!(check_names(&node("user.groups.exists(g, g == 'x')"), &none).is_ok());
        assert!(check_names(&node("type(org) == string"), &none).is_ok());
        let error = check_names(&node("tokn.scopes.size() > 1"), &none).unwrap_err();
        assert_eq!(
            error.message,
            "unknown variable `tokn`; the variables are `operation`, `now`, `org`, `user`, \
             `token`, `params`"
        );
        let error = check_names(&node("token.valid_until > now"), &none).unwrap_err();
        assert!(
            error
                .message
                .starts_with("`token` has no field `valid_until`; it has `scopes`")
        );
        let error = check_names(&node("params.max_days > 1"), &none).unwrap_err();
        assert_eq!(
            error.message,
            "`params` has no field `max_days`; this rule has no `params`"
        );
        assert!(check_names(&node("params.max_days > 1"), &params(r#"{"max_days": 3}"#)).is_ok());
        // A macro's variable is known inside the macro only.
        assert!(check_names(&node("token.scopes.all(s, s != '') && s == ''"), &none).is_err());
    }

    #[test]
    fn macros_cost_their_body_once_per_element_they_can_see() {
        let none = params("{}");
        let flat = estimated_cost(&node("token.scopes.exists(s, s == 'a')"), &none);
        assert!((100..1_000).contains(&flat), "{flat}");
        let chain = estimated_cost(&node(&vec!["1"; 60].join(" + ")), &none);
        assert_eq!(chain, 119);
        let nested = estimated_cost(
            &node("user.groups.exists(g, token.scopes.exists(s, s == g))"),
            &none,
        );
        assert!(nested > 256 * 100, "{nested}");
        let cubed = estimated_cost(
            &node("user.groups.all(a, user.groups.all(b, user.groups.all(c, a + b + c != '')))"),
            &none,
        );
        assert!(cubed > MAX_COST, "{cubed}");
        let listed = params(r#"{"groups": ["a", "b", "c"]}"#);
        let small = estimated_cost(&node("params.groups.exists(g, g in user.groups)"), &listed);
        assert!(small < 3 * 300, "{small}");
    }
}
