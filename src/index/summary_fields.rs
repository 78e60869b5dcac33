//! The part of a native line's record that a step's summary and tokens are made of
//! ([`SUMMARY_FIELDS`]), parsed without building the rest: listing a long run's steps
//! then costs a fraction of parsing each whole record.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::describe::SUMMARY_FIELDS;

/// The fields of `line` named in [`SUMMARY_FIELDS`], as an object; an empty one when the
/// line does not parse whole (its full record would then hold none of them either: it
/// is replaced by a note that it could not be parsed).
pub(super) fn of_native_line(line: &str) -> Value {
    let mut de = serde_json::Deserializer::from_str(line);
    let fields = Fields
        .deserialize(&mut de)
        .and_then(|fields| de.end().map(|()| fields));
    Value::Object(fields.unwrap_or_default())
}

/// Keeps the wanted fields of an object (the last of a repeated key, as a full parse
/// does) and walks past the others.
struct Fields;

impl<'de> DeserializeSeed<'de> for Fields {
    type Value = Map<String, Value>;
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        de.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Fields {
    type Value = Map<String, Value>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key_seed(Key)? {
            match key {
                Some(name) => {
                    let value: Value = map.next_value()?;
                    out.insert(name.to_owned(), value);
                }
                None => map.next_value_seed(Skip)?,
            }
        }
        Ok(out)
    }
}

/// A key: which wanted field it is, if any.
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Option<&'static str>;
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        de.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Option<&'static str>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E>(self, key: &str) -> Result<Self::Value, E> {
        Ok(SUMMARY_FIELDS.iter().copied().find(|&field| field == key))
    }
}

/// A value walked past. Through `deserialize_any`, so that it fails exactly where a
/// full parse would (nesting deeper than the parser allows, numbers out of range).
struct Skip;

impl<'de> DeserializeSeed<'de> for Skip {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Skip {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Skip)?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_key::<IgnoredAny>()?.is_some() {
            map.next_value_seed(Skip)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(line: &str) -> Value {
        of_native_line(line)
    }

    /// The wanted fields of a full parse of `line`, for comparison.
    fn from_full_parse(line: &str) -> Value {
        let full: Value = serde_json::from_str(line).unwrap_or(Value::Null);
        let kept = (full.as_object().into_iter().flatten())
            .filter(|(k, _)| SUMMARY_FIELDS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Value::Object(kept)
    }

    #[test]
    fn keeps_exactly_the_summary_fields_a_full_parse_has() {
        let lines = [
            r#"{"run_id":"r","step":1,"kind":"tool_call","input":{"url":"a\"b","n":[1,2.5e3,null]},"meta":{"x":[{"y":true}]},"tokens":{"input":3,"output":4}}"#,
            r#"{"kind":"llm_call","output":"first","output":{"text":"last wins"},"extra":"\u00e9\n"}"#,
            r#"{"kind":"decision","chosen":"b","reason":"cheaper","action":"x","target":"y"}"#,
            r#"{"kind":"other"}"#,
        ];
        for line in lines {
            assert_eq!(fields(line), from_full_parse(line), "{line}");
        }
    }

    #[test]
    fn a_line_a_full_parse_refuses_gives_no_fields() {
        let deep = format!(
            r#"{{"input":"kept?","meta":{}1{}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        assert!(serde_json::from_str::<Value>(&deep).is_err());
        assert_eq!(fields(&deep), Value::Object(Map::new()));
        let out_of_range = r#"{"input":"x","meta":1e999}"#;
        assert!(serde_json::from_str::<Value>(out_of_range).is_err());
        assert_eq!(fields(out_of_range), Value::Object(Map::new()));
        assert_eq!(
            fields(r#"{"input":"x"} trailing"#),
            Value::Object(Map::new())
        );
    }
}
