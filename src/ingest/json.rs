//! Small helpers the adapters share for reading `serde_json::Value`s.

use std::borrow::Cow;

use serde_json::{Map, Value};

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

/// Builds a step record in the shape native records have (`kind`, `name`, `input`,
/// `output`, `error`, `meta`, ...), leaving out absent fields.
pub fn record(fields: &[(&str, Option<Value>)]) -> Value {
    Value::Object(
        fields
            .iter()
            .filter_map(|(k, v)| v.clone().map(|v| (k.to_string(), v)))
            .collect(),
    )
}
