//! Small helpers the adapters share for reading `serde_json::Value`s.

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::model::{Status, StepError};
use crate::time::parse_rfc3339_ms;

/// The string at `key`, if it is one.
pub fn str_of<'v>(v: &'v Value, key: &str) -> Option<&'v str> {
    v.get(key).and_then(Value::as_str)
}

/// An owned `Cow` of the string at `key`.
pub fn owned(v: &Value, key: &str) -> Option<Cow<'static, str>> {
    str_of(v, key).map(|s| Cow::Owned(s.to_string()))
}

/// An RFC 3339 string at `key`, as epoch milliseconds.
pub fn rfc3339_of(v: &Value, key: &str) -> Option<i64> {
    str_of(v, key).and_then(parse_rfc3339_ms)
}

/// Parses a JSON-encoded string (tool-call arguments), keeping the text when it is not JSON.
pub fn parse_embedded(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.to_string()))
}

/// The text of message content: a string, or the `text` of its text blocks.
pub fn content_text(content: &Value) -> Option<String> {
    match content {
        Value::String(s) => Some(s.clone()),
        Value::Array(blocks) => {
            let texts: Vec<&str> = blocks
                .iter()
                .filter_map(|b| b.get("text").and_then(Value::as_str))
                .collect();
            (!texts.is_empty()).then(|| texts.join("\n"))
        }
        _ => None,
    }
}

/// `v` without the listed keys: what an adapter keeps under `meta`.
pub fn without(v: &Value, keys: &[&str]) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !keys.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<Map<String, Value>>(),
        ),
        other => other.clone(),
    }
}

/// A step record in the shape native records have, so that every view reads every
/// format alike; absent fields are left out.
#[derive(Default)]
pub struct StepRecord {
    pub kind: String,
    pub name: Option<String>,
    pub model: Option<String>,
    pub input: Option<Value>,
    pub output: Option<Value>,
    pub status: Option<Status>,
    pub error: Option<StepError>,
    pub tokens: Option<Value>,
    pub outcome: Option<&'static str>,
    /// Everything the mapping did not use.
    pub meta: Option<Value>,
}

impl StepRecord {
    pub fn into_value(self) -> Value {
        let mut map = Map::new();
        map.insert("kind".into(), Value::from(self.kind));
        let fields = [
            ("name", self.name.map(Value::from)),
            ("model", self.model.map(Value::from)),
            ("input", self.input),
            ("output", self.output),
            (
                "status",
                self.status
                    .filter(|s| *s != Status::Unset)
                    .map(|s| Value::from(s.as_str())),
            ),
            (
                "error",
                self.error.and_then(|e| serde_json::to_value(e).ok()),
            ),
            ("tokens", self.tokens),
            ("outcome", self.outcome.map(Value::from)),
            ("meta", self.meta),
        ];
        for (key, value) in fields {
            if let Some(v) = value {
                map.insert(key.into(), v);
            }
        }
        Value::Object(map)
    }
}
