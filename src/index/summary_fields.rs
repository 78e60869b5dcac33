//! The part of a native line's record that a step's summary and tokens are made of
//! ([`summary_fields`]), read without building the rest: listing a long run's steps
//! then costs a fraction of parsing each whole record. Fields a summary only shows as
//! compact JSON text are written as that text straight from the line's bytes (no JSON
//! values built) when the bytes are already in the form [`compact`] writes.

use std::fmt;

use serde::de::{
    DeserializeSeed, Deserializer, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor,
};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::describe::{compact, summary_fields, SummaryFields};
use crate::model::StepKind;

/// The fields of `line` a step of `kind` summarises with (see [`summary_fields`]), as an
/// object; those in `compacted` hold their [`compact`] text as a string. An empty object
/// when the line does not parse whole (its full record would then hold none of them
/// either: it is replaced by a note that it could not be parsed).
pub(super) fn of_native_line(line: &str, kind: StepKind, tokens: bool) -> Value {
    let wanted = summary_fields(kind, tokens);
    let fast = parse_whole(line, CompactingFields(wanted));
    // Anything the fast reading is not sure of (escapes, fractions, deep nesting,
    // repeated keys) is read the slow, exact way.
    let fields = fast.or_else(|| {
        let mut out = parse_whole(line, Fields(wanted))?;
        for name in wanted.compacted {
            if let Some(value) = out.get_mut(*name) {
                *value = Value::String(compact(value));
            }
        }
        Some(out)
    });
    Value::Object(fields.unwrap_or_default())
}

fn parse_whole<'a, T: DeserializeSeed<'a>>(line: &'a str, seed: T) -> Option<T::Value> {
    let mut de = serde_json::Deserializer::from_str(line);
    let value = seed.deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(value)
}

/// Keeps the wanted fields of an object (the last of a repeated key, as a full parse
/// does) and walks past the others.
struct Fields(SummaryFields);

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
        while let Some(key) = map.next_key_seed(Key(self.0))? {
            match key {
                Some((name, _)) => {
                    let value: Value = map.next_value()?;
                    out.insert(name.to_owned(), value);
                }
                None => map.next_value_seed(Skip)?,
            }
        }
        Ok(out)
    }
}

/// Like [`Fields`], but writes the compacted fields' text straight from the line's
/// bytes; fails on one whose bytes are not already in [`compact`]'s form.
struct CompactingFields(SummaryFields);

impl<'de> DeserializeSeed<'de> for CompactingFields {
    type Value = Map<String, Value>;
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        de.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for CompactingFields {
    type Value = Map<String, Value>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key_seed(Key(self.0))? {
            let value = match key {
                Some((name, true)) => {
                    let raw: &'de RawValue = map.next_value()?;
                    let text = compact_text(raw.get())
                        .ok_or_else(|| A::Error::custom("not in compact form"))?;
                    (name, Value::String(text))
                }
                Some((name, false)) => (name, map.next_value()?),
                None => {
                    map.next_value_seed(Skip)?;
                    continue;
                }
            };
            out.insert(value.0.to_owned(), value.1);
        }
        Ok(out)
    }
}

/// Nesting the fast reading handles (a full parse allows 128 levels).
const MAX_DEPTH: usize = 64;

/// The [`compact`] text of the JSON value `raw` (valid JSON, as the parser checked),
/// written from its bytes: whitespace dropped, object keys sorted (as the parsed
/// value's map keeps them), strings re-escaped as serde_json writes them. `None` when
/// the bytes hold something a parse could change or refuse: a number other than a
/// plain integer, a repeated key, a key with escapes, deep nesting.
fn compact_text(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if raw.starts_with('"') {
        // A string is shown as it is, without quotes.
        return serde_json::from_str(raw).ok();
    }
    let mut compactor = Compactor {
        raw,
        at: 0,
        entries: Vec::new(),
    };
    let mut out = String::with_capacity(raw.len());
    compactor.value(&mut out, 0)?;
    (compactor.at == raw.len()).then_some(out)
}

/// Walks a JSON text once, writing it compact.
struct Compactor<'a> {
    raw: &'a str,
    at: usize,
    /// The entries of the objects being written (innermost last), as ranges of the
    /// output: where the entry starts, where its key ends, where it ends.
    entries: Vec<(usize, usize, usize)>,
}

impl Compactor<'_> {
    fn skip_space(&mut self) {
        let bytes = self.raw.as_bytes();
        while self.at < bytes.len() && matches!(bytes[self.at], b' ' | b'\t' | b'\n' | b'\r') {
            self.at += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_space();
        self.raw.as_bytes().get(self.at).copied()
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    fn value(&mut self, out: &mut String, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        match self.peek()? {
            b'{' => self.object(out, depth),
            b'[' => {
                self.at += 1;
                out.push('[');
                if self.peek()? != b']' {
                    loop {
                        self.value(out, depth + 1)?;
                        if self.peek()? != b',' {
                            break;
                        }
                        self.at += 1;
                        out.push(',');
                    }
                }
                self.expect(b']')?;
                out.push(']');
                Some(())
            }
            b'"' => self.string(out, false),
            b't' | b'f' | b'n' => {
                let rest = &self.raw[self.at..];
                let word = ["true", "false", "null"]
                    .into_iter()
                    .find(|w| rest.starts_with(w))?;
                out.push_str(word);
                self.at += word.len();
                Some(())
            }
            _ => {
                let rest = &self.raw.as_bytes()[self.at..];
                let len = rest
                    .iter()
                    .position(|c| !matches!(c, b'-' | b'0'..=b'9' | b'.' | b'e' | b'E' | b'+'))
                    .unwrap_or(rest.len());
                let number = &self.raw[self.at..self.at + len];
                if !plain_integer(number) {
                    return None;
                }
                out.push_str(number);
                self.at += len;
                Some(())
            }
        }
    }

    fn object(&mut self, out: &mut String, depth: usize) -> Option<()> {
        self.at += 1;
        let start = out.len();
        out.push('{');
        let first = self.entries.len();
        if self.peek()? != b'}' {
            loop {
                let entry = out.len();
                self.string(out, true)?;
                let key_end = out.len();
                self.expect(b':')?;
                out.push(':');
                self.value(out, depth + 1)?;
                self.entries.push((entry, key_end, out.len()));
                if self.peek()? != b',' {
                    break;
                }
                self.at += 1;
                out.push(',');
            }
        }
        self.expect(b'}')?;
        let key = |&(entry, key_end, _): &(usize, usize, usize)| (entry, key_end);
        let in_order = self.entries[first..].windows(2).all(|pair| {
            out[key(&pair[0]).0..key(&pair[0]).1] < out[key(&pair[1]).0..key(&pair[1]).1]
        });
        if !in_order {
            // Keys without escapes: their quoted texts sort as the keys do.
            let written = out[start..].to_owned();
            let mut entries: Vec<_> = self.entries[first..]
                .iter()
                .map(|&(entry, key_end, end)| {
                    (
                        &written[entry - start..key_end - start],
                        &written[entry - start..end - start],
                    )
                })
                .collect();
            entries.sort_unstable_by_key(|&(key, _)| key);
            if entries.windows(2).any(|pair| pair[0].0 == pair[1].0) {
                return None;
            }
            out.truncate(start + 1);
            for (i, (_, entry)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(entry);
            }
        }
        self.entries.truncate(first);
        out.push('}');
        Some(())
    }

    /// A string, quoted; a key must have no escapes (its order is that of its text).
    fn string(&mut self, out: &mut String, key: bool) -> Option<()> {
        if self.peek()? != b'"' {
            return None;
        }
        let rest = &self.raw.as_bytes()[self.at + 1..];
        let len = memchr::memchr2(b'"', b'\\', rest)?;
        if rest[len] == b'"' && !rest[..len].iter().any(|&c| c < 0x20) {
            out.push_str(&self.raw[self.at..self.at + len + 2]);
            self.at += len + 2;
            return Some(());
        }
        if key {
            return None;
        }
        // Escapes: read the string, write it as serde_json escapes it.
        let mut end = self.at + 1;
        loop {
            end += memchr::memchr2(b'"', b'\\', &self.raw.as_bytes()[end..])?;
            if self.raw.as_bytes()[end] == b'"' {
                break;
            }
            end += 2;
        }
        end += 1;
        let text: String = serde_json::from_str(self.raw.get(self.at..end)?).ok()?;
        out.push_str(&serde_json::to_string(&text).ok()?);
        self.at = end;
        Some(())
    }
}

/// An integer written as `compact` writes it: digits, maybe a minus, no leading zero,
/// small enough to be read as an integer (not as a float).
fn plain_integer(number: &str) -> bool {
    let digits = number.strip_prefix('-').unwrap_or(number);
    !digits.is_empty()
        && digits.len() <= 18
        && digits.bytes().all(|c| c.is_ascii_digit())
        && (digits == "0" && digits.len() == number.len() || !digits.starts_with('0'))
}

/// A key: which wanted field it is, if any, and whether compacted.
#[derive(Clone, Copy)]
struct Key(SummaryFields);

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Option<(&'static str, bool)>;
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        de.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Option<(&'static str, bool)>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self.0.wants(key))
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

    const KINDS: [StepKind; 10] = [
        StepKind::RunStart,
        StepKind::LlmCall,
        StepKind::ToolCall,
        StepKind::ToolResult,
        StepKind::Error,
        StepKind::Decision,
        StepKind::Effect,
        StepKind::RunEnd,
        StepKind::Message,
        StepKind::Other,
    ];

    fn fields(line: &str) -> Value {
        of_native_line(line, StepKind::ToolCall, true)
    }

    /// The wanted fields of a full parse of `line`, for comparison.
    fn from_full_parse(line: &str, wanted: SummaryFields) -> Value {
        let full: Value = serde_json::from_str(line).unwrap_or(Value::Null);
        let kept = (full.as_object().into_iter().flatten())
            .filter_map(|(k, v)| {
                let (_, compacted) = wanted.wants(k)?;
                let v = if compacted {
                    Value::String(compact(v))
                } else {
                    v.clone()
                };
                Some((k.clone(), v))
            })
            .collect();
        Value::Object(kept)
    }

    #[test]
    fn keeps_exactly_the_summary_fields_a_full_parse_has() {
        let lines = [
            r#"{"run_id":"r","step":1,"kind":"tool_call","input":{"url":"a\"b","n":[1,2.5e3,null]},"meta":{"x":[{"y":true}]},"tokens":{"input":3,"output":4}}"#,
            r#"{"kind":"llm_call","output":"first","output":{"text":"last wins"},"extra":"\u00e9\n"}"#,
            r#"{"kind":"decision","chosen":"b","reason":"cheaper","action":"x","target":"y"}"#,
            r#"{"input": {"b": 1, "a": [true, false, null, -3]}, "output": {"a": 1, "b": {"c": "d é"}}}"#,
            r#"{"input": "plain", "output": [{"z": 0, "z": 1}], "tokens": 5}"#,
            r#"{"kind":"other"}"#,
        ];
        for line in lines {
            for kind in KINDS {
                for tokens in [false, true] {
                    let wanted = summary_fields(kind, tokens);
                    assert_eq!(
                        of_native_line(line, kind, tokens),
                        from_full_parse(line, wanted),
                        "{kind:?} {line}"
                    );
                }
            }
        }
    }

    #[test]
    fn compact_text_is_what_compact_writes_or_nothing() {
        let plain = [
            r#"{"url": "https://example.com/page/1"}"#,
            r#"{"status": 200, "bytes": 1500}"#,
            r#"{ "b" : [ 1 , -2 , 0 , true , false , null , {} , [] ] , "a" : "é ✓" }"#,
            r#"{"z": {"y": 1, "x": [{"d": 1, "c": 2}]}, "a": {"": 0}}"#,
            r#""just words""#,
            r#""tab\there \u00e9 \ud83d\ude00 \"q\" \/""#,
            r#"{"q": "say \"hi\"\n\u0001\u007f\/"}"#,
            "17",
            "[]",
            r#"{"":1,"a":{"":2}}"#,
        ];
        for raw in plain {
            let parsed: Value = serde_json::from_str(raw).unwrap();
            assert_eq!(compact_text(raw), Some(compact(&parsed)), "{raw}");
        }
        let refused = [
            r#"{"a": 1, "a": 2}"#,
            r#"{"b": 1, "a": 2, "b": 3}"#,
            r#"{"k\u0065y": 1}"#,
            "[1.5]",
            "[1e3]",
            "-0",
            "[12345678901234567890]",
        ];
        for raw in refused {
            assert_eq!(compact_text(raw), None, "{raw}");
        }
        let deep = format!(
            "{}1{}",
            "[".repeat(MAX_DEPTH + 1),
            "]".repeat(MAX_DEPTH + 1)
        );
        assert_eq!(compact_text(&deep), None);
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
        let deep_input = format!(r#"{{"input":{}1{}}}"#, "[".repeat(128), "]".repeat(128));
        assert!(serde_json::from_str::<Value>(&deep_input).is_err());
        assert_eq!(fields(&deep_input), Value::Object(Map::new()));
        let out_of_range = r#"{"input":"x","meta":1e999}"#;
        assert!(serde_json::from_str::<Value>(out_of_range).is_err());
        assert_eq!(fields(out_of_range), Value::Object(Map::new()));
        let out_of_range_input = r#"{"input":[1e999]}"#;
        assert_eq!(fields(out_of_range_input), Value::Object(Map::new()));
        assert_eq!(
            fields(r#"{"input":"x"} trailing"#),
            Value::Object(Map::new())
        );
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            "[a-c\\\\\"\\n\\t\u{1}é✓ ]{0,6}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map("[a-c\\\\\\n]{0,2}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// `v` as JSON text with spaces around every token and object keys in reverse order.
    fn written_loosely(v: &Value) -> String {
        match v {
            Value::Array(items) => {
                let items: Vec<String> = items.iter().map(written_loosely).collect();
                format!("[ {} ]", items.join(" , "))
            }
            Value::Object(map) => {
                let entries: Vec<String> = (map.iter().rev())
                    .map(|(k, v)| format!("{} : {}", Value::from(k.as_str()), written_loosely(v)))
                    .collect();
                format!("{{ {} }}", entries.join(" , "))
            }
            _ => v.to_string(),
        }
    }

    proptest::proptest! {
        #[test]
        fn compact_text_never_differs_from_compact(v in json_value()) {
            let raw = written_loosely(&v);
            let parsed: Value = serde_json::from_str(&raw).unwrap();
            if let Some(text) = compact_text(&raw) {
                proptest::prop_assert_eq!(text, compact(&parsed), "{}", raw);
            }
        }
    }
}
