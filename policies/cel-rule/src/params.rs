//! A rule's `params`: values an administrator tunes without touching the expression, seen by
//! it as the map `params`.

use std::collections::HashMap;
use std::sync::Arc;

use cel::Value;
use serde::{Deserialize, Serialize};

/// The most values `params` may hold, counting every element of every list and map.
pub const MAX_PARAM_VALUES: usize = 1_000;

/// The `params` table, in a form the compact encoding keeps (it cannot carry arbitrary JSON).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Params(Vec<(String, Param)>);

/// One value of `params`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Param {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Double(f64),
    String(String),
    List(Vec<Param>),
    Map(Vec<(String, Param)>),
}

impl Params {
    /// Reads the `params` table, counting its values against [`MAX_PARAM_VALUES`].
    pub fn from_json(value: &serde_json::Value) -> Result<Params, String> {
        let serde_json::Value::Object(object) = value else {
            return Err("`params` must be a table".to_string());
        };
        let mut budget = MAX_PARAM_VALUES;
        let entries = object
            .iter()
            .map(|(key, value)| Ok((key.clone(), Param::from_json(value, &mut budget)?)))
            .collect::<Result<_, String>>()?;
        Ok(Params(entries))
    }

    /// The keys, in the order written.
    pub fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(key, _)| key.as_str()).collect()
    }

    /// How many elements the list under `key` holds, if it is a list.
    pub fn list_len(&self, key: &str) -> Option<u64> {
        self.0.iter().find_map(|(k, value)| match value {
            Param::List(items) if k == key => items.len().try_into().ok(),
            _ => None,
        })
    }

    /// `params` as the CEL map the expression sees.
    pub fn to_cel(&self) -> Value {
        map(&self.0)
    }

    /// `params` as JSON, for the effective settings.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Object(
            self.0
                .iter()
                .map(|(key, value)| (key.clone(), value.to_json()))
                .collect(),
        )
    }
}

impl Param {
    fn from_json(value: &serde_json::Value, budget: &mut usize) -> Result<Param, String> {
        *budget = budget.checked_sub(1).ok_or_else(|| {
            format!("`params` holds more than {MAX_PARAM_VALUES} values; keep it small")
        })?;
        Ok(match value {
            serde_json::Value::Null => Param::Null,
            serde_json::Value::Bool(b) => Param::Bool(*b),
            serde_json::Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(i), _, _) => Param::Int(i),
                (None, Some(u), _) => Param::UInt(u),
                (_, _, Some(f)) => Param::Double(f),
                _ => return Err(format!("`params`: `{n}` is not a number CEL can hold")),
            },
            serde_json::Value::String(s) => Param::String(s.clone()),
            serde_json::Value::Array(items) => Param::List(
                items
                    .iter()
                    .map(|item| Param::from_json(item, budget))
                    .collect::<Result<_, _>>()?,
            ),
            serde_json::Value::Object(object) => Param::Map(
                object
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), Param::from_json(v, budget)?)))
                    .collect::<Result<_, String>>()?,
            ),
        })
    }

    fn to_cel(&self) -> Value {
        match self {
            Param::Null => Value::Null,
            Param::Bool(b) => Value::Bool(*b),
            Param::Int(i) => Value::Int(*i),
            Param::UInt(u) => Value::UInt(*u),
            Param::Double(f) => Value::Float(*f),
            Param::String(s) => Value::String(Arc::new(s.clone())),
            Param::List(items) => Value::List(Arc::new(items.iter().map(Param::to_cel).collect())),
            Param::Map(entries) => map(entries),
        }
    }

    fn to_json(&self) -> serde_json::Value {
        match self {
            Param::Null => serde_json::Value::Null,
            Param::Bool(b) => (*b).into(),
            Param::Int(i) => (*i).into(),
            Param::UInt(u) => (*u).into(),
            Param::Double(f) => (*f).into(),
            Param::String(s) => s.clone().into(),
            Param::List(items) => items.iter().map(Param::to_json).collect(),
            Param::Map(entries) => serde_json::Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

fn map(entries: &[(String, Param)]) -> Value {
    Value::from(
        entries
            .iter()
            .map(|(key, value)| (key.clone(), value.to_cel()))
            .collect::<HashMap<String, Value>>(),
    )
}
