//! A CEL syntax tree that survives the trip from `validate-settings` to `evaluate`.
//!
//! Parsing costs tens of microseconds per expression; decoding this form costs about one. The
//! tree is cel-rust's own (`cel::common::ast`), mirrored node for node with serde so it can
//! travel in the prepared settings, and rebuilt before evaluation.

use cel::common::ast::{
    CallExpr, ComprehensionExpr, EntryExpr, Expr, IdedEntryExpr, IdedExpr, ListExpr, LiteralValue,
    MapEntryExpr, MapExpr, SelectExpr, StructExpr, StructFieldExpr,
};
use cel::common::types::{CelBool, CelBytes, CelDouble, CelInt, CelString, CelUInt};
use serde::{Deserialize, Serialize};

/// One node of an expression, with the id the parser gave it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub id: u64,
    pub kind: Kind,
}

/// What a node is; the variants of `cel::common::ast::Expr`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Kind {
    Unspecified,
    Call {
        function: String,
        target: Option<Box<Node>>,
        args: Vec<Node>,
    },
    Comprehension(Box<Comprehension>),
    Ident(String),
    List {
        elements: Vec<Node>,
        optional_indices: Vec<u32>,
    },
    Literal(Literal),
    Map(Vec<Entry>),
    Select {
        operand: Box<Node>,
        field: String,
        test: bool,
    },
    Struct {
        type_name: String,
        entries: Vec<Entry>,
    },
}

/// A macro's expansion (`all`, `exists`, `map`, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comprehension {
    pub iter_range: Node,
    pub iter_var: String,
    pub iter_var2: Option<String>,
    pub accu_var: String,
    pub accu_init: Node,
    pub loop_cond: Node,
    pub loop_step: Node,
    pub result: Node,
}

/// An entry of a map or struct literal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub id: u64,
    pub key: EntryKey,
    pub value: Node,
    pub optional: bool,
}

/// A map entry's key expression, or a struct field's name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum EntryKey {
    Map(Node),
    Field(String),
}

/// A literal value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Literal {
    Bool(bool),
    Bytes(Vec<u8>),
    Double(f64),
    Int(i64),
    Null,
    String(String),
    UInt(u64),
}

/// How deeply a parsed expression nests, found without recursion (so that a tree too deep to
/// walk recursively is measured safely before anything else walks it).
pub fn depth(expr: &IdedExpr) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(expr, 1)];
    while let Some((expr, depth)) = stack.pop() {
        deepest = deepest.max(depth);
        stack.extend(
            children_of(expr)
                .into_iter()
                .map(|child| (child, depth + 1)),
        );
    }
    deepest
}

fn children_of(expr: &IdedExpr) -> Vec<&IdedExpr> {
    match &expr.expr {
        Expr::Unspecified | Expr::Ident(_) | Expr::Literal(_) => Vec::new(),
        Expr::Call(call) => call
            .target
            .as_deref()
            .into_iter()
            .chain(&call.args)
            .collect(),
        Expr::Comprehension(c) => vec![
            &c.iter_range,
            &c.accu_init,
            &c.loop_cond,
            &c.loop_step,
            &c.result,
        ],
        Expr::List(list) => list.elements.iter().collect(),
        Expr::Map(MapExpr { entries }) | Expr::Struct(StructExpr { entries, .. }) => entries
            .iter()
            .flat_map(|entry| match &entry.expr {
                EntryExpr::MapEntry(e) => vec![&e.key, &e.value],
                EntryExpr::StructField(f) => vec![&f.value],
            })
            .collect(),
        Expr::Select(select) => vec![&select.operand],
    }
}

impl Node {
    /// Mirrors a parsed expression; call it on trees whose [`depth`] is bounded.
    pub fn from_cel(expr: &IdedExpr) -> Node {
        let kind = match &expr.expr {
            Expr::Unspecified => Kind::Unspecified,
            Expr::Call(call) => Kind::Call {
                function: call.func_name.clone(),
                target: call.target.as_deref().map(|t| Box::new(Node::from_cel(t))),
                args: call.args.iter().map(Node::from_cel).collect(),
            },
            Expr::Comprehension(c) => Kind::Comprehension(Box::new(Comprehension {
                iter_range: Node::from_cel(&c.iter_range),
                iter_var: c.iter_var.clone(),
                iter_var2: c.iter_var2.clone(),
                accu_var: c.accu_var.clone(),
                accu_init: Node::from_cel(&c.accu_init),
                loop_cond: Node::from_cel(&c.loop_cond),
                loop_step: Node::from_cel(&c.loop_step),
                result: Node::from_cel(&c.result),
            })),
            Expr::Ident(name) => Kind::Ident(name.clone()),
            Expr::List(list) => Kind::List {
                elements: list.elements.iter().map(Node::from_cel).collect(),
                optional_indices: list
                    .optional_indices
                    .iter()
                    .map(|&i| u32::try_from(i).unwrap_or(u32::MAX))
                    .collect(),
            },
            Expr::Literal(literal) => Kind::Literal(match literal {
                LiteralValue::Boolean(b) => Literal::Bool(*b.inner()),
                LiteralValue::Bytes(b) => Literal::Bytes(b.inner().to_vec()),
                LiteralValue::Double(d) => Literal::Double(*d.inner()),
                LiteralValue::Int(i) => Literal::Int(*i.inner()),
                LiteralValue::Null => Literal::Null,
                LiteralValue::String(s) => Literal::String(s.inner().to_string()),
                LiteralValue::UInt(u) => Literal::UInt(*u.inner()),
            }),
            Expr::Map(map) => Kind::Map(map.entries.iter().map(Entry::from_cel).collect()),
            Expr::Select(select) => Kind::Select {
                operand: Box::new(Node::from_cel(&select.operand)),
                field: select.field.clone(),
                test: select.test,
            },
            Expr::Struct(s) => Kind::Struct {
                type_name: s.type_name.clone(),
                entries: s.entries.iter().map(Entry::from_cel).collect(),
            },
        };
        Node { id: expr.id, kind }
    }

    /// Rebuilds the parser's expression.
    pub fn to_cel(&self) -> IdedExpr {
        let expr = match &self.kind {
            Kind::Unspecified => Expr::Unspecified,
            Kind::Call {
                function,
                target,
                args,
            } => Expr::Call(CallExpr {
                func_name: function.clone(),
                target: target.as_ref().map(|t| Box::new(t.to_cel())),
                args: args.iter().map(Node::to_cel).collect(),
            }),
            Kind::Comprehension(c) => Expr::Comprehension(Box::new(ComprehensionExpr {
                iter_range: c.iter_range.to_cel(),
                iter_var: c.iter_var.clone(),
                iter_var2: c.iter_var2.clone(),
                accu_var: c.accu_var.clone(),
                accu_init: c.accu_init.to_cel(),
                loop_cond: c.loop_cond.to_cel(),
                loop_step: c.loop_step.to_cel(),
                result: c.result.to_cel(),
            })),
            Kind::Ident(name) => Expr::Ident(name.clone()),
            Kind::List {
                elements,
                optional_indices,
            } => Expr::List(ListExpr::new_with_optionals(
                elements.iter().map(Node::to_cel).collect(),
                optional_indices.iter().map(|&i| i as usize).collect(),
            )),
            Kind::Literal(literal) => Expr::Literal(match literal {
                Literal::Bool(b) => LiteralValue::Boolean(CelBool::from(*b)),
                Literal::Bytes(b) => LiteralValue::Bytes(CelBytes::from(b.clone())),
                Literal::Double(d) => LiteralValue::Double(CelDouble::from(*d)),
                Literal::Int(i) => LiteralValue::Int(CelInt::from(*i)),
                Literal::Null => LiteralValue::Null,
                Literal::String(s) => LiteralValue::String(CelString::from(s.clone())),
                Literal::UInt(u) => LiteralValue::UInt(CelUInt::from(*u)),
            }),
            Kind::Map(entries) => Expr::Map(MapExpr {
                entries: entries.iter().map(Entry::to_cel).collect(),
            }),
            Kind::Select {
                operand,
                field,
                test,
            } => Expr::Select(SelectExpr {
                operand: Box::new(operand.to_cel()),
                field: field.clone(),
                test: *test,
            }),
            Kind::Struct { type_name, entries } => Expr::Struct(StructExpr {
                type_name: type_name.clone(),
                entries: entries.iter().map(Entry::to_cel).collect(),
            }),
        };
        IdedExpr { id: self.id, expr }
    }

    /// The nodes directly below this one.
    pub fn children(&self) -> Vec<&Node> {
        match &self.kind {
            Kind::Unspecified | Kind::Ident(_) | Kind::Literal(_) => Vec::new(),
            Kind::Call { target, args, .. } => target.as_deref().into_iter().chain(args).collect(),
            Kind::Comprehension(c) => vec![
                &c.iter_range,
                &c.accu_init,
                &c.loop_cond,
                &c.loop_step,
                &c.result,
            ],
            Kind::List { elements, .. } => elements.iter().collect(),
            Kind::Map(entries) | Kind::Struct { entries, .. } => entries
                .iter()
                .flat_map(|entry| {
                    let key = match &entry.key {
                        EntryKey::Map(key) => Some(key),
                        EntryKey::Field(_) => None,
                    };
                    key.into_iter().chain(std::iter::once(&entry.value))
                })
                .collect(),
            Kind::Select { operand, .. } => vec![operand],
        }
    }

    /// The dotted name this node spells (`token.valid_to`), if it is an identifier or field
    /// selections on one.
    pub fn dotted_name(&self) -> Option<String> {
        match &self.kind {
            Kind::Ident(name) => Some(name.clone()),
            Kind::Select {
                operand,
                field,
                test: false,
            } => Some(format!("{}.{field}", operand.dotted_name()?)),
            _ => None,
        }
    }
}

impl Entry {
    fn from_cel(entry: &IdedEntryExpr) -> Entry {
        match &entry.expr {
            EntryExpr::MapEntry(e) => Entry {
                id: entry.id,
                key: EntryKey::Map(Node::from_cel(&e.key)),
                value: Node::from_cel(&e.value),
                optional: e.optional,
            },
            EntryExpr::StructField(f) => Entry {
                id: entry.id,
                key: EntryKey::Field(f.field.clone()),
                value: Node::from_cel(&f.value),
                optional: f.optional,
            },
        }
    }

    fn to_cel(&self) -> IdedEntryExpr {
        let expr = match &self.key {
            EntryKey::Map(key) => EntryExpr::MapEntry(MapEntryExpr {
                key: key.to_cel(),
                value: self.value.to_cel(),
                optional: self.optional,
            }),
            EntryKey::Field(field) => EntryExpr::StructField(StructFieldExpr {
                field: field.clone(),
                value: self.value.to_cel(),
                optional: self.optional,
            }),
        };
        IdedEntryExpr { id: self.id, expr }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_node_round_trips() {
        let source = r#"[1, 2u, 2.5, "s", b"b", null, true].size() > 0
            && {"k": token.scopes}.k.exists(s, s.startsWith("vso."))
            && has(user.id) && token.scopes.map(s, s + "!").all(x, x != "")
            && (operation == "use" ? 1 : 2) == 2"#;
        let parsed = crate::parser().parse(source).unwrap();
        let node = Node::from_cel(&parsed);
        let bytes = postcard_like_round_trip(&node);
        assert_eq!(bytes.to_cel(), parsed);
    }

    #[test]
    fn depth_counts_the_longest_path() {
        let parse = |source: &str| crate::parser().parse(source).unwrap();
        assert_eq!(depth(&parse("true")), 1);
        assert_eq!(depth(&parse("1 + 2 > 0")), 3);
        assert_eq!(depth(&parse(&vec!["1"; 50].join(" + "))), 50);
    }

    fn postcard_like_round_trip(node: &Node) -> Node {
        serde_json::from_str(&serde_json::to_string(node).unwrap()).unwrap()
    }
}
