//! What counts as noise when two runs are compared, and the hashes built on it: volatile
//! fields (ids, timestamps, durations, token counts) dropped by key, volatile values
//! (uuids, hashes, random-looking tokens, timestamps) replaced by placeholders, prose
//! compared by word overlap. Pure functions over JSON values; no run or index knowledge.

use std::borrow::Cow;
use std::hash::Hasher;

use rustc_hash::FxHasher;
use serde_json::Value;

/// Keys whose values are noise between two runs of the same behaviour: identifiers of
/// events and requests, timestamps, durations and token counts. Business identifiers
/// (`order_id`, `reservation_id`) are not here: passing the wrong one is a real difference.
pub fn is_volatile_key(key: &str) -> bool {
    let b = key.as_bytes();
    let n = b.len();
    if !(2..=40).contains(&n) {
        return false;
    }
    // camelCase timestamps: createdAt, updatedAt.
    if n > 2 && b[n - 2] == b'A' && b[n - 1] == b't' && b[n - 3].is_ascii_lowercase() {
        return true;
    }
    // Lowercase into a stack buffer: this runs for every key of every payload.
    let mut buf = [0u8; 40];
    let k = &mut buf[..n];
    k.copy_from_slice(b);
    k.make_ascii_lowercase();
    let k = &*k;
    let exact = matches!(
        k,
        b"id"
            | b"uuid"
            | b"guid"
            | b"ts"
            | b"timestamp"
            | b"time"
            | b"created"
            | b"updated"
            | b"modified"
            | b"nonce"
            | b"etag"
            | b"request_id"
            | b"requestid"
            | b"trace_id"
            | b"traceid"
            | b"span_id"
            | b"spanid"
            | b"parent_span_id"
            | b"call_id"
            | b"callid"
            | b"tool_call_id"
            | b"toolcallid"
            | b"tool_use_id"
            | b"message_id"
            | b"messageid"
            | b"event_id"
            | b"eventid"
            | b"run_id"
            | b"runid"
            | b"session_id"
            | b"sessionid"
            | b"correlation_id"
            | b"correlationid"
            | b"idempotency_key"
            | b"idempotencykey"
            | b"tokens"
            | b"usage"
            | b"token_count"
            | b"latency"
            | b"elapsed"
            | b"took"
            | b"duration"
    );
    if exact {
        return true;
    }
    let ends = |s: &[u8]| k.ends_with(s);
    let suffix = match k[n - 1] {
        b't' => ends(b"_at"),
        b's' => {
            ends(b"_ms")
                || ends(b"_ns")
                || ends(b"_us")
                || ends(b"_ts")
                || ends(b"_tokens")
                || ends(b"_seconds")
                || ends(b"_secs")
        }
        b'd' => ends(b"_uuid") || ends(b"_guid") || ends(b"_elapsed"),
        b'p' => ends(b"_timestamp"),
        b'n' => ends(b"_duration"),
        b'y' => ends(b"_latency"),
        _ => false,
    };
    suffix
        || match k[0] {
            b'd' => k.starts_with(b"duration"),
            b'e' => k.starts_with(b"elapsed"),
            b'l' => k.starts_with(b"latency"),
            b't' => k.starts_with(b"tokens_") || k.starts_with(b"timestamp"),
            _ => false,
        }
}

/// Normalises a string for comparison: uuids, hex hashes, random-looking tokens and long
/// digit runs become placeholders; with `timestamps`, RFC 3339 times do too. Borrowed when
/// nothing changes.
pub fn normalize_str(s: &str, timestamps: bool) -> Cow<'_, str> {
    let bytes = s.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0; // bytes of `s` already handled in `out`
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if timestamps && c.is_ascii_digit() && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric()) {
            if let Some(len) = timestamp_len(&bytes[i..]) {
                let o = out.get_or_insert_with(|| String::with_capacity(s.len()));
                o.push_str(&s[copied..i]);
                o.push_str("<ts>");
                i += len;
                copied = i;
                continue;
            }
        }
        if is_token_byte(c) {
            let start = i;
            while i < bytes.len() && is_token_byte(bytes[i]) {
                i += 1;
            }
            let token = &s[start..i];
            if let Some(replaced) = normalize_token(token) {
                let o = out.get_or_insert_with(|| String::with_capacity(s.len()));
                o.push_str(&s[copied..start]);
                o.push_str(&replaced);
                copied = i;
            }
            continue;
        }
        i += 1;
    }
    match out {
        None => Cow::Borrowed(s),
        Some(mut o) => {
            o.push_str(&s[copied..]);
            Cow::Owned(o)
        }
    }
}

fn is_token_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
}

/// The replacement for one token (letters, digits, `_`, `-`), or `None` to keep it.
fn normalize_token(token: &str) -> Option<String> {
    if is_uuid(token) {
        return Some("<uuid>".into());
    }
    let mut out: Option<String> = None;
    let mut part_start = 0;
    for (i, b) in token.bytes().chain(std::iter::once(b'_')).enumerate() {
        if b != b'_' && b != b'-' {
            continue;
        }
        let part = &token[part_start..i];
        if let Some(p) = classify_part(part) {
            let o = out.get_or_insert_with(|| token[..part_start].to_string());
            o.push_str(p);
        } else if let Some(o) = out.as_mut() {
            o.push_str(part);
        }
        if i < token.len() {
            if let Some(o) = out.as_mut() {
                o.push(b as char);
            }
        }
        part_start = i + 1;
    }
    out
}

fn classify_part(part: &str) -> Option<&'static str> {
    let len = part.len();
    if len < 7 {
        return None;
    }
    let digits = part.bytes().filter(u8::is_ascii_digit).count();
    let letters = len - digits;
    if digits == len {
        return (len >= 10).then_some("<num>");
    }
    let hex = part.bytes().all(|b| b.is_ascii_hexdigit());
    let lower = part.bytes().filter(u8::is_ascii_lowercase).count();
    let upper = part.bytes().filter(u8::is_ascii_uppercase).count();
    if hex && digits >= 1 && letters >= 1 && (lower == 0 || upper == 0) {
        return Some("<hex>");
    }
    if len >= 10 && digits >= 2 && letters >= 2 {
        return Some("<rand>");
    }
    if len >= 12
        && upper * 10 >= len * 3
        && lower * 10 >= len * 3
        && part.bytes().all(|b| b.is_ascii_alphabetic())
    {
        // Mixed-case letter soup (call_ERvmOwQLnYYs), not a CamelCaseWord: both cases
        // common, and the case switching often.
        let switches = part
            .as_bytes()
            .windows(2)
            .filter(|w| w[0].is_ascii_uppercase() != w[1].is_ascii_uppercase())
            .count();
        if switches >= 5 {
            return Some("<rand>");
        }
    }
    None
}

fn is_uuid(t: &str) -> bool {
    let b = t.as_bytes();
    if b.len() != 36 {
        return false;
    }
    b.iter().enumerate().all(|(i, &c)| match i {
        8 | 13 | 18 | 23 => c == b'-',
        _ => c.is_ascii_hexdigit(),
    })
}

/// Length of an RFC 3339-like timestamp at the start of `b` (`2026-11-24T02:31:10.250Z`,
/// `2026-11-24 02:31`), or `None`.
fn timestamp_len(b: &[u8]) -> Option<usize> {
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let is = |i: usize, c: u8| b.get(i) == Some(&c);
    if !((0..4).all(digit) && is(4, b'-') && digit(5) && digit(6) && is(7, b'-')) {
        return None;
    }
    if !(digit(8) && digit(9) && (is(10, b'T') || is(10, b' ')) && digit(11) && digit(12)) {
        return None;
    }
    if !(is(13, b':') && digit(14) && digit(15)) {
        return None;
    }
    let mut i = 16;
    if is(i, b':') && digit(i + 1) && digit(i + 2) {
        i += 3;
        if is(i, b'.') && digit(i + 1) {
            i += 1;
            while digit(i) {
                i += 1;
            }
        }
    }
    if is(i, b'Z') {
        i += 1;
    } else if (is(i, b'+') || is(i, b'-')) && digit(i + 1) && digit(i + 2) {
        i += 3;
        if is(i, b':') {
            i += 1;
        }
        while digit(i) {
            i += 1;
        }
    }
    Some(i)
}

/// True for text meant to be read (a sentence, a message body), which is compared by
/// word overlap rather than exactly.
pub fn is_prose(s: &str) -> bool {
    let spaces = s.chars().filter(|c| c.is_whitespace()).count();
    spaces >= 4 || (spaces >= 1 && s.len() >= 48)
}

/// Below this word overlap ([`text_similarity`]) two texts say different things.
pub const SAME_TEXT: f64 = 0.4;

/// Word overlap of two texts (Dice coefficient over their content words, lightly stemmed),
/// from 0 (nothing shared) to 1. Two empty texts are the same.
pub fn text_similarity(a: &str, b: &str) -> f64 {
    let wa = content_words(a);
    let wb = content_words(b);
    if wa.is_empty() && wb.is_empty() {
        return 1.0;
    }
    if wa.is_empty() || wb.is_empty() {
        return 0.0;
    }
    let (small, large) = if wa.len() <= wb.len() {
        (&wa, &wb)
    } else {
        (&wb, &wa)
    };
    let shared = small
        .iter()
        .filter(|w| large.binary_search(w).is_ok())
        .count();
    2.0 * shared as f64 / (wa.len() + wb.len()) as f64
}

/// The sorted, deduplicated content words of `s`: lowercase, stop words dropped, plural
/// and verb endings cut.
pub fn content_words(s: &str) -> Vec<String> {
    const STOP: &[&str] = &[
        "a", "about", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be", "been",
        "but", "by", "can", "could", "do", "does", "for", "from", "had", "has", "have", "here",
        "how", "i", "if", "in", "into", "is", "it", "its", "just", "let", "ll", "me", "my", "no",
        "not", "of", "on", "or", "our", "please", "s", "so", "some", "than", "that", "the",
        "their", "them", "then", "there", "these", "this", "those", "to", "up", "was", "we",
        "were", "what", "when", "which", "will", "with", "would", "you", "your", "ve", "re", "d",
        "t", "m",
    ];
    let mut words: Vec<String> = s
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .filter(|w| !STOP.contains(&w.as_str()))
        .map(|w| stem(&w))
        .collect();
    words.sort_unstable();
    words.dedup();
    words
}

fn stem(w: &str) -> String {
    for suffix in ["ing", "ed", "es", "s"] {
        if w.len() > suffix.len() + 3 && w.ends_with(suffix) {
            return w[..w.len() - suffix.len()].to_string();
        }
    }
    w.to_string()
}

// ---------------------------------------------------------------------------------------
// Hashing

/// Tags that keep hashes of different node types apart.
pub(crate) mod tag {
    pub const NULL: u8 = 1;
    pub const FALSE: u8 = 2;
    pub const TRUE: u8 = 3;
    pub const NUM: u8 = 4;
    pub const STR: u8 = 5;
    pub const ARR: u8 = 6;
    pub const OBJ: u8 = 7;
    pub const TEXT: u8 = 8;
    pub const REF: u8 = 9;
    pub const EMPTY: u8 = 10;
}

/// A small hash builder (FxHash underneath, with a final mix).
#[derive(Default, Clone)]
pub struct H(FxHasher);

impl H {
    pub fn new(t: u8) -> H {
        let mut h = H::default();
        h.0.write_u8(t);
        h
    }
    pub fn u8(mut self, v: u8) -> H {
        self.0.write_u8(v);
        self
    }
    pub fn u64(mut self, v: u64) -> H {
        self.0.write_u64(v);
        self
    }
    pub fn str(mut self, s: &str) -> H {
        self.0.write(s.as_bytes());
        self.0.write_u8(0xff);
        self
    }
    pub fn opt_str(self, s: Option<&str>) -> H {
        match s {
            Some(s) => self.u8(1).str(s),
            None => self.u8(0),
        }
    }
    pub fn finish(&self) -> u64 {
        mix(self.0.finish())
    }
}

/// splitmix64's finaliser: spreads FxHash's weak low bits.
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Hash of a number that treats `2` and `2.0` alike.
pub fn num_hash(n: &serde_json::Number) -> u64 {
    match n.as_f64() {
        // 0.0 and -0.0 alike.
        Some(f) => {
            if f == 0.0 {
                0
            } else {
                f.to_bits()
            }
        }
        None => H::new(tag::NUM).str(&n.to_string()).finish(),
    }
}

/// Combines the hashes of an object's entries without depending on their order.
pub fn object_hash(entries: impl Iterator<Item = (u64, u64)>) -> u64 {
    let mut sum = 0u64;
    let mut n = 0u64;
    for (k, v) in entries {
        sum = sum.wrapping_add(mix(k ^ v.rotate_left(17)));
        n += 1;
    }
    H::new(tag::OBJ).u64(sum).u64(n).finish()
}

pub fn key_hash(k: &str) -> u64 {
    H::new(tag::STR).str(k).finish()
}

/// Hash of a value as data, volatile keys dropped and volatile values normalised (with
/// `timestamps`, RFC 3339 times too). Two values with the same hash are the same data.
pub fn norm_hash(v: &Value, timestamps: bool) -> u64 {
    match v {
        Value::Null => H::new(tag::NULL).finish(),
        Value::Bool(b) => H::new(if *b { tag::TRUE } else { tag::FALSE }).finish(),
        Value::Number(n) => H::new(tag::NUM).u64(num_hash(n)).finish(),
        Value::String(s) => H::new(tag::STR).str(&normalize_str(s, timestamps)).finish(),
        Value::Array(items) => items
            .iter()
            .fold(H::new(tag::ARR), |h, x| h.u64(norm_hash(x, timestamps)))
            .finish(),
        Value::Object(map) => object_hash(
            map.iter()
                .filter(|(k, _)| !is_volatile_key(k))
                .map(|(k, x)| (key_hash(k), norm_hash(x, timestamps))),
        ),
    }
}

/// Hash of a value's literal identity (volatile keys dropped, nothing else changed): used
/// to find where a value was copied from.
pub fn identity_hash(v: &Value) -> u64 {
    match v {
        Value::Null => H::new(tag::NULL).finish(),
        Value::Bool(b) => H::new(if *b { tag::TRUE } else { tag::FALSE }).finish(),
        Value::Number(n) => H::new(tag::NUM).u64(num_hash(n)).finish(),
        Value::String(s) => string_identity(s),
        Value::Array(items) => items
            .iter()
            .fold(H::new(tag::ARR), |h, x| h.u64(identity_hash(x)))
            .finish(),
        Value::Object(map) => object_hash(
            map.iter()
                .filter(|(k, _)| !is_volatile_key(k))
                .map(|(k, x)| (key_hash(k), identity_hash(x))),
        ),
    }
}

pub fn string_identity(s: &str) -> u64 {
    H::new(tag::STR).str(s).finish()
}

/// Hash of a value's shape: keys, types, which values are null or empty, and booleans.
/// Strings and numbers are reduced to their type.
pub fn shape_hash(v: &Value) -> u64 {
    match v {
        Value::Null => H::new(tag::NULL).finish(),
        Value::Bool(b) => H::new(if *b { tag::TRUE } else { tag::FALSE }).finish(),
        Value::Number(_) => H::new(tag::NUM).finish(),
        Value::String(s) if s.is_empty() => H::new(tag::EMPTY).u8(tag::STR).finish(),
        Value::String(_) => H::new(tag::STR).finish(),
        Value::Array(items) => match items.first() {
            None => H::new(tag::EMPTY).u8(tag::ARR).finish(),
            Some(first) => H::new(tag::ARR).u64(shape_hash(first)).finish(),
        },
        Value::Object(map) if map.is_empty() => H::new(tag::EMPTY).u8(tag::OBJ).finish(),
        Value::Object(map) => object_hash(
            map.iter()
                .filter(|(k, _)| !is_volatile_key(k))
                .map(|(k, x)| (key_hash(k), shape_hash(x))),
        ),
    }
}

/// True for values worth tracing back to where they were copied from: not booleans,
/// nulls, short strings, small integers or empty containers, which recur by chance.
pub fn is_traceable(v: &Value) -> bool {
    match v {
        Value::Null | Value::Bool(_) => false,
        Value::Number(n) => match n.as_f64() {
            Some(f) => f.fract() != 0.0 || f.abs() >= 10.0,
            None => true,
        },
        Value::String(s) => s.chars().count() >= 3,
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => o.keys().any(|k| !is_volatile_key(k)),
    }
}

/// Identifier-like words of a text (`omar_rossi_1241`, `HAT052`, `A-09961`): the values
/// an agent copies out of a message into a tool call.
pub fn identifier_tokens(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '(' | ')' | '"' | '\'' | '`'))
        .map(|w| w.trim_matches(|c: char| matches!(c, '.' | ':' | '!' | '?' | '*' | '#')))
        .filter(|w| {
            w.len() >= 4
                && w.chars().any(|c| c.is_ascii_digit() || c == '_')
                && w.chars()
                    .all(|c| c.is_alphanumeric() || "_-.@/:+".contains(c))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn volatile_keys_are_ids_times_durations_and_tokens_not_business_ids() {
        for k in [
            "id",
            "request_id",
            "traceId",
            "created_at",
            "createdAt",
            "duration_ms",
            "latency_ms",
            "tokens",
            "input_tokens",
            "ts",
            "idempotency_key",
        ] {
            assert!(is_volatile_key(k), "{k}");
        }
        for k in [
            "order_id",
            "reservation_id",
            "user_id",
            "format",
            "seat",
            "amount",
            "status",
            "chat",
        ] {
            assert!(!is_volatile_key(k), "{k}");
        }
    }

    #[test]
    fn volatile_values_become_placeholders() {
        assert_eq!(
            normalize_str("req 550e8400-e29b-41d4-a716-446655440000 ok", true),
            "req <uuid> ok"
        );
        assert_eq!(normalize_str("sha e268c02", true), "sha <hex>");
        assert_eq!(
            normalize_str("re_3QCX3DDdHSinKnWUYu2mwpKn", true),
            "re_<rand>"
        );
        assert_eq!(normalize_str("call_ERvmOwQLnYYs", true), "call_<rand>");
        assert_eq!(
            normalize_str("at 2026-11-24T02:31:10.250Z done", true),
            "at <ts> done"
        );
        assert_eq!(
            normalize_str("at 2026-11-24T02:31:10.250Z", false),
            "at 2026-11-24T02:31:10.250Z"
        );
        assert_eq!(normalize_str("epoch 1732415470250", true), "epoch <num>");
        // Business values stay.
        for keep in [
            "olivia_gonzalez_2305",
            "HAT052",
            "INV-2026-10-0452",
            "gift_card_4643416",
            "Z7GOZK",
            "refund_confirmation",
            "ci#18236",
            "CamelCaseIdentifierName",
        ] {
            assert_eq!(normalize_str(keep, true), keep);
        }
    }

    #[test]
    fn norm_hash_ignores_noise_but_not_data() {
        let a = json!({"order": "A-1", "request_id": "r1", "ts": 1, "trace": "550e8400-e29b-41d4-a716-446655440000"});
        let b = json!({"trace": "660e8400-e29b-41d4-a716-446655440001", "order": "A-1", "request_id": "r2", "ts": 2});
        assert_eq!(norm_hash(&a, true), norm_hash(&b, true));
        let c = json!({"order": "A-2", "request_id": "r1"});
        assert_ne!(norm_hash(&a, true), norm_hash(&c, true));
        assert_eq!(norm_hash(&json!(2), true), norm_hash(&json!(2.0), true));
    }

    #[test]
    fn shape_keeps_nulls_empties_and_booleans() {
        assert_eq!(
            shape_hash(&json!({"draft": null, "n": 1})),
            shape_hash(&json!({"draft": null, "n": 7}))
        );
        assert_ne!(
            shape_hash(&json!({"draft": null})),
            shape_hash(&json!({"draft": {"total": "1.00"}}))
        );
        assert_ne!(shape_hash(&json!([])), shape_hash(&json!([1])));
        assert_ne!(
            shape_hash(&json!({"ok": true})),
            shape_hash(&json!({"ok": false}))
        );
        assert_eq!(shape_hash(&json!(["a", "b"])), shape_hash(&json!(["c"])));
    }

    #[test]
    fn reworded_text_is_similar_and_different_text_is_not() {
        let a = "I'll look up the order, then issue the refund.";
        let b = "Looking up the order first, then issuing the refund.";
        assert!(
            text_similarity(a, b) >= SAME_TEXT,
            "{}",
            text_similarity(a, b)
        );
        let c = "The customer is not eligible; escalating to a human agent.";
        assert!(
            text_similarity(a, c) < SAME_TEXT,
            "{}",
            text_similarity(a, c)
        );
        assert_eq!(text_similarity("", ""), 1.0);
    }

    #[test]
    fn identifiers_are_found_in_prose() {
        let ids: Vec<&str> =
            identifier_tokens("Sure, my user ID is omar_rossi_1241, reservation HAT052.").collect();
        assert_eq!(ids, ["omar_rossi_1241", "HAT052"]);
    }
}
