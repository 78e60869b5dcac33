//! A lazy structural scanner over one JSON object: yields its top-level members with the
//! byte span of each value, skipping nested values at memory speed (strings are crossed
//! with `memchr`, containers by bracket counting) instead of building them.
//!
//! Skipped values are checked for structure (strings closed, brackets balanced and
//! matched), not for full JSON grammar; a value that is read is parsed strictly.

use memchr::memchr2;

/// What a value starts with: enough to type-check fields without parsing them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    String,
    Number,
    Object,
    Array,
    Bool,
    Null,
}

impl ValueType {
    pub fn name(self) -> &'static str {
        match self {
            ValueType::String => "a string",
            ValueType::Number => "a number",
            ValueType::Object => "an object",
            ValueType::Array => "an array",
            ValueType::Bool => "a boolean",
            ValueType::Null => "null",
        }
    }
}

/// One top-level member: its key (raw bytes between the quotes) and its value's span.
#[derive(Debug, Clone, Copy)]
pub struct Member<'a> {
    pub key: &'a [u8],
    pub value: &'a str,
    pub ty: ValueType,
    /// The string value contains escapes (so `value` must be unescaped to be read).
    pub escaped: bool,
}

impl<'a> Member<'a> {
    /// The string contents between the quotes, if the value is a string without escapes.
    pub fn raw_str(&self) -> Option<&'a str> {
        (self.ty == ValueType::String && !self.escaped)
            .then(|| &self.value[1..self.value.len() - 1])
    }

    /// The value as an owned string, unescaping when needed; `None` if not a string.
    pub fn string(&self) -> Option<String> {
        if self.ty != ValueType::String {
            return None;
        }
        match self.raw_str() {
            Some(raw) => Some(raw.to_owned()),
            None => serde_json::from_str(self.value).ok(),
        }
    }
}

/// Why a line is not a usable JSON object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanError {
    pub at: usize,
    pub what: &'static str,
}

/// Calls `visit` for each top-level member of the object in `line`. Stops at the first
/// structural error. Duplicate keys are passed through in order.
pub fn scan_object<'a>(text: &'a str, mut visit: impl FnMut(Member<'a>)) -> Result<(), ScanError> {
    // Every position the scanner stops at is an ASCII delimiter, so slicing `text` at
    // them is always on a character boundary.
    let line = text.as_bytes();
    let mut i = skip_ws(line, 0);
    if line.get(i) != Some(&b'{') {
        return Err(ScanError {
            at: i,
            what: if i >= line.len() {
                "empty line"
            } else {
                "not a JSON object"
            },
        });
    }
    i = skip_ws(line, i + 1);
    if line.get(i) == Some(&b'}') {
        return finish(line, i + 1);
    }
    loop {
        if line.get(i) != Some(&b'"') {
            return Err(err(i, "expected a key string"));
        }
        let (key_end, _) = skip_string(line, i)?;
        let key = &line[i + 1..key_end - 1];
        i = skip_ws(line, key_end);
        if line.get(i) != Some(&b':') {
            return Err(err(i, "expected ':' after a key"));
        }
        i = skip_ws(line, i + 1);
        let start = i;
        let (end, ty, escaped) = skip_value(line, i)?;
        visit(Member {
            key,
            value: &text[start..end],
            ty,
            escaped,
        });
        i = skip_ws(line, end);
        match line.get(i) {
            Some(b',') => i = skip_ws(line, i + 1),
            Some(b'}') => return finish(line, i + 1),
            _ => return Err(err(i, "expected ',' or '}' after a value")),
        }
    }
}

/// The byte spans `(start, len)` of the elements of the JSON array in `text`, checked
/// for structure as skipped values are.
pub fn array_elements(text: &str) -> Result<Vec<(usize, usize)>, ScanError> {
    let b = text.as_bytes();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'[') {
        return Err(err(i, "not a JSON array"));
    }
    let mut spans = Vec::new();
    i = skip_ws(b, i + 1);
    if b.get(i) == Some(&b']') {
        return finish(b, i + 1).map(|()| spans);
    }
    loop {
        let (end, _, _) = skip_value(b, i)?;
        spans.push((i, end - i));
        i = skip_ws(b, end);
        match b.get(i) {
            Some(b',') => i = skip_ws(b, i + 1),
            Some(b']') => return finish(b, i + 1).map(|()| spans),
            _ => return Err(err(i, "expected ',' or ']' after an element")),
        }
    }
}

fn finish(line: &[u8], i: usize) -> Result<(), ScanError> {
    let j = skip_ws(line, i);
    if j == line.len() {
        Ok(())
    } else {
        Err(err(j, "trailing characters after the object"))
    }
}

fn err(at: usize, what: &'static str) -> ScanError {
    ScanError { at, what }
}

#[inline]
fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while let Some(c) = b.get(i) {
        if !matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
            break;
        }
        i += 1;
    }
    i
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Flags (high bit) the zero bytes of `v`; the lowest flag is always exact.
#[inline]
fn zero_bytes(v: u64) -> u64 {
    v.wrapping_sub(LO) & !v & HI
}

/// `b[i]` is an opening quote; returns the index after the closing quote and whether
/// the string holds escapes.
#[inline]
fn skip_string(b: &[u8], i: usize) -> Result<(usize, bool), ScanError> {
    let mut j = i + 1;
    let mut escaped = false;
    // Most strings (keys, names, ids) are short: test 8 bytes at a time for a quote or
    // a backslash before paying for a vectorised search.
    let short_end = b.len().min(j + 32);
    while j + 8 <= short_end {
        let word = u64::from_le_bytes(b[j..j + 8].try_into().expect("8 bytes"));
        let hits =
            zero_bytes(word ^ (LO * u64::from(b'"'))) | zero_bytes(word ^ (LO * u64::from(b'\\')));
        if hits == 0 {
            j += 8;
            continue;
        }
        // The lowest flagged byte is exact (only bytes above a zero can be false hits).
        let p = j + (hits.trailing_zeros() / 8) as usize;
        if b[p] == b'"' {
            return Ok((p + 1, escaped));
        }
        escaped = true;
        j = p + 2;
    }
    loop {
        if j > b.len() {
            return Err(err(i, "unterminated string"));
        }
        match memchr2(b'"', b'\\', &b[j..]) {
            Some(k) => {
                let p = j + k;
                if b[p] == b'"' {
                    return Ok((p + 1, escaped));
                }
                escaped = true;
                j = p + 2;
            }
            None => return Err(err(i, "unterminated string")),
        }
    }
}

/// Returns the end of the value at `b[i]`, its type, and (for strings) whether it is escaped.
fn skip_value(b: &[u8], i: usize) -> Result<(usize, ValueType, bool), ScanError> {
    match b.get(i) {
        Some(b'"') => skip_string(b, i).map(|(e, esc)| (e, ValueType::String, esc)),
        Some(b'{') => skip_container(b, i).map(|e| (e, ValueType::Object, false)),
        Some(b'[') => skip_container(b, i).map(|e| (e, ValueType::Array, false)),
        Some(b't') => literal(b, i, b"true", ValueType::Bool),
        Some(b'f') => literal(b, i, b"false", ValueType::Bool),
        Some(b'n') => literal(b, i, b"null", ValueType::Null),
        Some(c) if *c == b'-' || c.is_ascii_digit() => {
            let mut j = i + 1;
            while let Some(c) = b.get(j) {
                if !(c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-')) {
                    break;
                }
                j += 1;
            }
            Ok((j, ValueType::Number, false))
        }
        Some(_) => Err(err(i, "invalid value")),
        None => Err(err(i, "missing value")),
    }
}

fn literal(
    b: &[u8],
    i: usize,
    word: &[u8],
    ty: ValueType,
) -> Result<(usize, ValueType, bool), ScanError> {
    if b[i..].starts_with(word) {
        Ok((i + word.len(), ty, false))
    } else {
        Err(err(i, "invalid literal"))
    }
}

/// Skips a nested object or array, checking that brackets balance and match.
fn skip_container(b: &[u8], i: usize) -> Result<usize, ScanError> {
    // One bit per open level (1 = object); deeper nesting than 64 is checked for
    // balance only.
    let mut kinds: u64 = 0;
    let mut depth: usize = 0;
    let mut j = i;
    while j < b.len() {
        let c = b[j];
        match c {
            b'"' => {
                j = skip_string(b, j)?.0;
                continue;
            }
            b'{' | b'[' => {
                if depth < 64 {
                    kinds = (kinds << 1) | u64::from(c == b'{');
                }
                depth += 1;
            }
            b'}' | b']' => {
                if depth == 0 {
                    return Err(err(j, "unbalanced brackets"));
                }
                depth -= 1;
                if depth < 64 {
                    let open_is_object = kinds & 1 == 1;
                    if open_is_object != (c == b'}') {
                        return Err(err(j, "mismatched brackets"));
                    }
                    kinds >>= 1;
                }
                if depth == 0 {
                    return Ok(j + 1);
                }
            }
            _ => {}
        }
        j += 1;
    }
    Err(err(i, "unterminated object or array"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(line: &str) -> Result<Vec<(String, String, ValueType)>, ScanError> {
        let mut out = Vec::new();
        scan_object(line, |m| {
            out.push((
                String::from_utf8_lossy(m.key).into_owned(),
                m.value.to_owned(),
                m.ty,
            ))
        })?;
        Ok(out)
    }

    #[test]
    fn yields_top_level_members_and_skips_nested_ones() {
        let got = members(
            r#" {"a": 1, "name":"x", "input": {"name": "inner", "l": [1, {"}": "]"}]}, "b": null, "c":true, "d":-1.5e3}"#,
        )
        .unwrap();
        let keys: Vec<_> = got.iter().map(|m| m.0.as_str()).collect();
        assert_eq!(keys, ["a", "name", "input", "b", "c", "d"]);
        assert_eq!(got[2].1, r#"{"name": "inner", "l": [1, {"}": "]"}]}"#);
        assert_eq!(got[2].2, ValueType::Object);
        assert_eq!(got[5].1, "-1.5e3");
    }

    #[test]
    fn escaped_strings_are_flagged_and_unescaped_on_demand() {
        let line = r#"{"k":"a\"b\\","p":"plain"}"#;
        let mut seen = Vec::new();
        scan_object(line, |m| seen.push((m.escaped, m.string()))).unwrap();
        assert_eq!(
            seen,
            [(true, Some("a\"b\\".into())), (false, Some("plain".into()))]
        );
    }

    #[test]
    fn rejects_broken_structure() {
        for bad in [
            "",
            "[1,2]",
            "not json",
            r#"{"a":1"#,
            r#"{"a":"x}"#,
            r#"{"a":{"b":[1,2}}"#,
            r#"{"a":1} x"#,
            r#"{"a" 1}"#,
            r#"{a:1}"#,
            r#"{"a":tru}"#,
            r#"{"a":1,}"#,
        ] {
            assert!(members(bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn empty_object_is_fine() {
        assert!(members("{ }").unwrap().is_empty());
    }
}
