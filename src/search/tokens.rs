//! Words: how text is cut into the lowercased words the text index stores and queries
//! look up, and which text of a step record is searched. One definition, used by the
//! index, by queries and by snippets, so that they always agree.
//!
//! A word is a run of letters, digits and `_` (any script), lowercased, at least two
//! characters, cut to [`MAX_WORD_BYTES`]; a word with `_` also yields its parts
//! (`issue_refund` → `issue_refund`, `issue`, `refund`). Keys of JSON objects are not
//! words, and neither are the top-level fields in [`SKIPPED_FIELDS`] (ids, times,
//! run-level fields searched elsewhere).

use std::ops::Range;

use serde_json::Value;

use crate::ingest::scan::scan_object;

/// Longer words are cut to this many bytes (on a character boundary), in the index and
/// in queries alike.
pub const MAX_WORD_BYTES: usize = 64;

/// Top-level fields of a step record that are not searched as text: structure, times,
/// figures, and run-level fields that are searched as run fields.
pub const SKIPPED_FIELDS: [&str; 14] = [
    "run_id",
    "kind",
    "ts",
    "step",
    "id",
    "parent",
    "status",
    "duration_ms",
    "tokens",
    "agent",
    "agent_version",
    "model",
    "labels",
    "outcome",
];

pub fn is_skipped_field(key: &[u8]) -> bool {
    SKIPPED_FIELDS.iter().any(|f| f.as_bytes() == key)
}

#[inline]
fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Cuts text into words. Holds a scratch buffer, so that cutting allocates nothing.
#[derive(Default)]
pub struct Words {
    word: String,
}

impl Words {
    /// Calls `emit` with every word of `text`; with `parts`, a word joined by `_` is
    /// followed by its parts.
    pub fn each(&mut self, text: &str, parts: bool, emit: &mut impl FnMut(&str)) {
        self.each_at(text, parts, &mut |w, _| emit(w));
    }

    /// Like [`Words::each`], with the byte range of each word in `text`.
    pub fn each_at(&mut self, text: &str, parts: bool, emit: &mut impl FnMut(&str, Range<usize>)) {
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b < 0x80 {
                if !is_word_byte(b) {
                    i += 1;
                    continue;
                }
            } else {
                let c = text[i..].chars().next().expect("char boundary");
                if !c.is_alphanumeric() {
                    i += c.len_utf8();
                    continue;
                }
            }
            // A word starts at `start`.
            let start = i;
            let mut ascii = true;
            while i < bytes.len() {
                let b = bytes[i];
                if b < 0x80 {
                    if !is_word_byte(b) {
                        break;
                    }
                    i += 1;
                } else {
                    let c = text[i..].chars().next().expect("char boundary");
                    if !c.is_alphanumeric() {
                        break;
                    }
                    ascii = false;
                    i += c.len_utf8();
                }
            }
            let raw = &text[start..i];
            let front = raw.trim_start_matches('_');
            let at = start + (raw.len() - front.len());
            let trimmed = front.trim_end_matches('_');
            self.emit_word(trimmed, at, ascii, emit);
            if parts && trimmed.contains('_') {
                let mut part_at = at;
                for part in trimmed.split('_') {
                    self.emit_word(part, part_at, ascii, emit);
                    part_at += part.len() + 1;
                }
            }
        }
    }

    fn emit_word(
        &mut self,
        raw: &str,
        at: usize,
        ascii: bool,
        emit: &mut impl FnMut(&str, Range<usize>),
    ) {
        let long_enough = if ascii {
            raw.len() >= 2
        } else {
            raw.chars().nth(1).is_some()
        };
        if !long_enough {
            return;
        }
        if ascii && !raw.bytes().any(|b| b.is_ascii_uppercase()) {
            emit(cut_word(raw), at..at + raw.len());
            return;
        }
        self.word.clear();
        if ascii {
            self.word.push_str(raw);
            self.word.make_ascii_lowercase();
        } else {
            self.word.extend(raw.chars().flat_map(char::to_lowercase));
        }
        emit(cut_word(&self.word), at..at + raw.len());
    }
}

/// `word` cut to at most [`MAX_WORD_BYTES`], on a character boundary.
#[inline]
pub fn cut_word(word: &str) -> &str {
    if word.len() <= MAX_WORD_BYTES {
        return word;
    }
    let mut end = MAX_WORD_BYTES;
    while !word.is_char_boundary(end) {
        end -= 1;
    }
    &word[..end]
}

/// The words of a query string, without parts, lowercased.
pub fn query_words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    Words::default().each(text, false, &mut |w| out.push(w.to_owned()));
    out
}

/// Calls `emit` with the searchable text of a raw JSON record (one native line): the
/// string and number values of every top-level field not in [`SKIPPED_FIELDS`], keys
/// left out, escapes undone. A record that is not a JSON object yields nothing.
pub fn raw_record_text(line: &str, scratch: &mut String, emit: &mut impl FnMut(&str)) {
    let _ = scan_object(line, |member| {
        if !is_skipped_field(member.key) {
            raw_value_text(member.value, scratch, emit);
        }
    });
}

/// The string and number leaves of one raw JSON value, keys left out.
pub fn raw_value_text(value: &str, scratch: &mut String, emit: &mut impl FnMut(&str)) {
    let b = value.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                let start = i + 1;
                let mut j = start;
                let mut escaped = false;
                loop {
                    match memchr::memchr2(b'"', b'\\', &b[j..]) {
                        Some(k) if b[j + k] == b'\\' => {
                            escaped = true;
                            j += k + 2;
                        }
                        Some(k) => {
                            j += k;
                            break;
                        }
                        None => {
                            j = b.len();
                            break;
                        }
                    }
                }
                let end = j.min(b.len());
                i = end + 1;
                // A key is followed by ':'.
                let mut k = i;
                while k < b.len() && b[k].is_ascii_whitespace() {
                    k += 1;
                }
                if b.get(k) == Some(&b':') {
                    i = k + 1;
                    continue;
                }
                let raw = &value[start..end.max(start)];
                if escaped {
                    unescape(raw, scratch);
                    emit(scratch);
                } else {
                    emit(raw);
                }
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < b.len()
                    && (b[i].is_ascii_digit() || matches!(b[i], b'.' | b'e' | b'E' | b'+' | b'-'))
                {
                    i += 1;
                }
                emit(&value[start..i]);
            }
            _ => i += 1,
        }
    }
}

/// Undoes JSON string escapes (`raw` is the text between the quotes). Broken escapes
/// are kept as they are.
pub fn unescape(raw: &str, out: &mut String) {
    out.clear();
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('u') => {
                let hex: String = chars.clone().take(4).collect();
                match u32::from_str_radix(&hex, 16) {
                    Ok(code) if hex.len() == 4 => {
                        for _ in 0..4 {
                            chars.next();
                        }
                        let mut code = code;
                        if (0xD800..0xDC00).contains(&code) {
                            // A surrogate pair: the low half follows as \uXXXX.
                            let rest = chars.as_str();
                            if let Some(low) = rest
                                .strip_prefix("\\u")
                                .and_then(|r| r.get(..4))
                                .and_then(|h| u32::from_str_radix(h, 16).ok())
                                .filter(|l| (0xDC00..0xE000).contains(l))
                            {
                                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                                for _ in 0..6 {
                                    chars.next();
                                }
                            }
                        }
                        out.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
                    }
                    _ => out.push_str("\\u"),
                }
            }
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
}

/// Calls `emit` with the string and number leaves of a parsed value, keys left out;
/// at the top level of an object, fields in [`SKIPPED_FIELDS`] are left out too.
pub fn value_text(value: &Value, top: bool, emit: &mut impl FnMut(&str)) {
    match value {
        Value::String(s) => emit(s),
        Value::Number(n) => emit(&n.to_string()),
        Value::Array(items) => items.iter().for_each(|v| value_text(v, false, emit)),
        Value::Object(map) => {
            for (k, v) in map {
                if !(top && is_skipped_field(k.as_bytes())) {
                    value_text(v, false, emit);
                }
            }
        }
        Value::Bool(_) | Value::Null => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str, parts: bool) -> Vec<String> {
        let mut out = Vec::new();
        Words::default().each(text, parts, &mut |w| out.push(w.to_owned()));
        out
    }

    #[test]
    fn words_are_lowercased_runs_of_two_or_more() {
        assert_eq!(
            words("Refund the ORDER #4411, a b-c x9 café Größe 東京都", false),
            [
                "refund",
                "the",
                "order",
                "4411",
                "x9",
                "café",
                "größe",
                "東京都"
            ]
        );
    }

    #[test]
    fn joined_words_yield_their_parts() {
        assert_eq!(
            words("SCHEMA_MISMATCH __init__ a_b", true),
            ["schema_mismatch", "schema", "mismatch", "init", "a_b"]
        );
        assert_eq!(words("SCHEMA_MISMATCH", false), ["schema_mismatch"]);
    }

    #[test]
    fn words_know_where_they_are() {
        let text = "Ab __Issue_Refund__ é";
        let mut got = Vec::new();
        Words::default().each_at(text, true, &mut |w, r| got.push((w.to_owned(), &text[r])));
        assert_eq!(
            got,
            [
                ("ab".to_owned(), "Ab"),
                ("issue_refund".to_owned(), "Issue_Refund"),
                ("issue".to_owned(), "Issue"),
                ("refund".to_owned(), "Refund"),
            ]
        );
    }

    #[test]
    fn long_words_are_cut_on_a_char_boundary() {
        let long = "é".repeat(40);
        let got = words(&long, false);
        assert_eq!(got.len(), 1);
        assert!(got[0].len() <= MAX_WORD_BYTES && got[0].chars().all(|c| c == 'é'));
    }

    #[test]
    fn raw_records_yield_values_not_keys_nor_skipped_fields() {
        let line = r#"{"run_id":"r-1","kind":"tool_call","ts":17,"name":"send_email","input":{"to":"c@example.com","n":[4411,-2.5e3],"ok":true,"msg":"line\nnext \"q\" \u00e9t\u00e9 \ud83d\ude00"},"labels":{"env":"prod"}}"#;
        let mut got = Vec::new();
        raw_record_text(line, &mut String::new(), &mut |t| got.push(t.to_owned()));
        assert_eq!(
            got,
            [
                "send_email",
                "c@example.com",
                "4411",
                "-2.5e3",
                "line\nnext \"q\" été 😀"
            ]
        );
    }

    #[test]
    fn parsed_values_yield_the_same_text() {
        let line =
            r#"{"run_id":"r-1","name":"send_email","input":{"to":"x","n":[4411]},"model":"m"}"#;
        let v: Value = serde_json::from_str(line).unwrap();
        let mut got = Vec::new();
        value_text(&v, true, &mut |t| got.push(t.to_owned()));
        got.sort();
        assert_eq!(got, ["4411", "send_email", "x"]);
    }
}
