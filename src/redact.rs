//! Secrets out of sight, for whatever is shown to a room or shared: API keys (`sk-…`,
//! `AKIA…`, `ghp_…`, `xox…-`), bearer tokens and JWTs, private keys, credentials in
//! URLs, values of secret-named fields (`password`, `api_key`, `token`, …), and — unless
//! turned off — email addresses and phone numbers. Hand-written scanners, not regular
//! expressions: one pass over the text, no backtracking, nothing to compile per call.
//! It only hides; deciding what is safe to send to a terminal is [`crate::sanitize`]'s.

use std::borrow::Cow;

use serde_json::Value;

/// What stands in for a hidden value.
pub const MARK: &str = "[redacted]";

/// What to hide besides secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Redaction {
    /// Email addresses and phone numbers too.
    pub contacts: bool,
}

impl Default for Redaction {
    fn default() -> Self {
        Redaction { contacts: true }
    }
}

/// Field names whose values are secrets whatever they look like (compared without case,
/// `-` and `_`, so `apiKey`, `API-KEY` and `api_key` are one name).
const SECRET_FIELDS: [&str; 22] = [
    "password",
    "passwd",
    "pwd",
    "pass",
    "passphrase",
    "secret",
    "clientsecret",
    "apikey",
    "apisecret",
    "token",
    "accesstoken",
    "refreshtoken",
    "idtoken",
    "authtoken",
    "sessiontoken",
    "authorization",
    "proxyauthorization",
    "cookie",
    "setcookie",
    "privatekey",
    "secretkey",
    "awssecretaccesskey",
];

/// Whether a field of this name holds a secret.
pub fn is_secret_field(name: &str) -> bool {
    let folded: String = name
        .chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect();
    SECRET_FIELDS.contains(&folded.as_str())
        || folded.ends_with("password")
        || folded.ends_with("secret")
        || folded.ends_with("apikey")
        || folded.ends_with("token") && !folded.ends_with("tokens")
}

/// `value` with every secret inside it hidden: secret-named fields whole, strings
/// through [`text`]. Keys stay (what was hidden is part of the story).
pub fn json(value: &Value, r: Redaction) -> Value {
    match value {
        Value::String(s) => Value::String(text(s, r).into_owned()),
        Value::Array(items) => Value::Array(items.iter().map(|v| json(v, r)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let hidden = if is_secret_field(k) && !v.is_null() {
                        match v {
                            // Counts and flags named like secrets (`token_count`) stay.
                            Value::Bool(_) | Value::Number(_) => v.clone(),
                            _ => Value::String(MARK.into()),
                        }
                    } else {
                        json(v, r)
                    };
                    (k.clone(), hidden)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// `s` with every secret found in it replaced by [`MARK`].
pub fn text(s: &str, r: Redaction) -> Cow<'_, str> {
    let spans = find(s, r);
    if spans.is_empty() {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut at = 0;
    for (from, to) in spans {
        out.push_str(&s[at..from]);
        out.push_str(MARK);
        at = to;
    }
    out.push_str(&s[at..]);
    Cow::Owned(out)
}

/// Byte ranges of secrets in `s`, in order, not overlapping.
fn find(s: &str, r: Redaction) -> Vec<(usize, usize)> {
    let b = s.as_bytes();
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let found = private_key(s, i)
            .or_else(|| prefixed_key(b, i))
            .or_else(|| jwt(b, i))
            .or_else(|| bearer(b, i))
            .or_else(|| assignment(b, i))
            .or_else(|| url_password(b, i))
            .or_else(|| if r.contacts { email(b, i) } else { None })
            .or_else(|| if r.contacts { phone(b, i) } else { None });
        match found {
            Some((from, to)) if to > from => {
                spans.push((from, to));
                i = to;
            }
            _ => i += utf8_len(b[i]),
        }
    }
    spans
}

/// `-----BEGIN … PRIVATE KEY-----` through its END line (or the end of the text).
fn private_key(s: &str, i: usize) -> Option<(usize, usize)> {
    let rest = s.get(i..)?;
    if !rest.starts_with("-----BEGIN ") {
        return None;
    }
    let header_end = rest[11..].find("-----")? + 11;
    if !rest[..header_end].ends_with("PRIVATE KEY") {
        return None;
    }
    let end = match rest.find("-----END ") {
        Some(at) => rest[at + 9..]
            .find("-----")
            .map_or(rest.len(), |e| at + 9 + e + 5),
        None => rest.len(),
    };
    Some((i, i + end))
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

fn is_token_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
}

/// Starts a word: the text before is not part of a token.
fn at_word_start(b: &[u8], i: usize) -> bool {
    i == 0 || !is_token_byte(b[i - 1])
}

/// Text at `at` was cut short by a view (`…`): a secret's start before it still counts.
fn cut_at(b: &[u8], at: usize) -> bool {
    b[at.min(b.len())..].starts_with("…".as_bytes())
}

fn run_of(b: &[u8], from: usize, ok: impl Fn(u8) -> bool) -> usize {
    b[from..].iter().take_while(|&&c| ok(c)).count()
}

fn starts_with_ci(b: &[u8], i: usize, word: &str) -> bool {
    b.len() >= i + word.len() && b[i..i + word.len()].eq_ignore_ascii_case(word.as_bytes())
}

/// Keys that announce themselves by a prefix: OpenAI/Anthropic `sk-…`, AWS `AKIA…`,
/// GitHub `ghp_…` and kin, Slack `xoxb-…`, Stripe `sk_live_…`/`rk_live_…`, Google `AIza…`.
fn prefixed_key(b: &[u8], i: usize) -> Option<(usize, usize)> {
    if !at_word_start(b, i) {
        return None;
    }
    const PREFIXES: [(&str, usize); 14] = [
        ("sk-", 16),
        ("sk_live_", 10),
        ("sk_test_", 10),
        ("rk_live_", 10),
        ("ghp_", 20),
        ("gho_", 20),
        ("ghu_", 20),
        ("ghs_", 20),
        ("ghr_", 20),
        ("github_pat_", 20),
        ("xoxb-", 10),
        ("xoxp-", 10),
        ("xoxa-", 10),
        ("AIza", 30),
    ];
    for (prefix, min) in PREFIXES {
        if b[i..].starts_with(prefix.as_bytes()) {
            let body = run_of(b, i + prefix.len(), is_token_byte);
            let end = i + prefix.len() + body;
            if body >= min || (body >= 4 && cut_at(b, end)) {
                return Some((i, end));
            }
        }
    }
    // Other Slack token kinds: xox?-
    if b.len() > i + 5 && b[i..].starts_with(b"xox") && b[i + 4] == b'-' {
        let body = run_of(b, i + 5, is_token_byte);
        if body >= 10 {
            return Some((i, i + 5 + body));
        }
    }
    // AWS access key ids: AKIA/ASIA + 16 upper-case letters or digits.
    if b[i..].starts_with(b"AKIA") || b[i..].starts_with(b"ASIA") {
        let body = run_of(b, i + 4, |c| c.is_ascii_uppercase() || c.is_ascii_digit());
        if body >= 16 || (body >= 4 && cut_at(b, i + 4 + body)) {
            return Some((i, i + 4 + body));
        }
    }
    None
}

fn is_b64url(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-' || c == b'='
}

/// A JSON Web Token: three base64url parts, the first an encoded `{"`.
fn jwt(b: &[u8], i: usize) -> Option<(usize, usize)> {
    if !at_word_start(b, i) || !b[i..].starts_with(b"eyJ") {
        return None;
    }
    let mut end = i;
    for part in 0..3 {
        let len = run_of(b, end, is_b64url);
        if len >= 4 && cut_at(b, end + len) && (part > 0 || len >= 8) {
            return Some((i, end + len));
        }
        if len < 4 {
            return None;
        }
        end += len;
        if part < 2 {
            if b.get(end) != Some(&b'.') {
                return None;
            }
            end += 1;
        }
    }
    Some((i, end))
}

/// `Bearer <token>` / `Basic <credentials>`: the credentials, the scheme stays.
fn bearer(b: &[u8], i: usize) -> Option<(usize, usize)> {
    if !at_word_start(b, i) {
        return None;
    }
    let scheme = ["bearer", "basic", "token"]
        .into_iter()
        .find(|w| starts_with_ci(b, i, w))?;
    let mut at = i + scheme.len();
    let spaces = run_of(b, at, |c| c == b' ');
    if spaces == 0 {
        return None;
    }
    at += spaces;
    let len = run_of(b, at, |c| {
        is_b64url(c) || c == b'.' || c == b'+' || c == b'/' || c == b'~'
    });
    // A real credential is long and not an ordinary word.
    let value = &b[at..at + len];
    let mixed =
        value.iter().any(u8::is_ascii_digit) || value.iter().any(|c| !c.is_ascii_alphabetic());
    (len >= 12 && mixed).then_some((at, at + len))
}

/// `password=…`, `api_key: …`, `"token": "…"` inside free text: the value.
fn assignment(b: &[u8], i: usize) -> Option<(usize, usize)> {
    if !at_word_start(b, i) || !b[i].is_ascii_alphabetic() {
        return None;
    }
    let name_len = run_of(b, i, is_token_byte);
    let name = std::str::from_utf8(&b[i..i + name_len]).ok()?;
    if !is_secret_field(name) {
        return None;
    }
    let mut at = i + name_len;
    // Optional closing quote of a JSON key, then `=` or `:`, then spaces and a quote.
    if matches!(b.get(at), Some(b'"') | Some(b'\'')) {
        at += 1;
    }
    at += run_of(b, at, |c| c == b' ');
    if !matches!(b.get(at), Some(b'=') | Some(b':')) {
        return None;
    }
    at += 1;
    at += run_of(b, at, |c| c == b' ');
    let quote = match b.get(at) {
        Some(&q @ (b'"' | b'\'')) => {
            at += 1;
            Some(q)
        }
        _ => None,
    };
    // `Authorization: Bearer …`: the credentials after the scheme.
    if let Some(span) = bearer(b, at) {
        return Some(span);
    }
    let len = match quote {
        Some(q) => run_of(b, at, |c| c != q),
        // Up to a space or a separator; not `&`, which a password may hold (in a query
        // string this hides the parameters after it too: more, never less).
        None => run_of(b, at, |c| {
            !c.is_ascii_whitespace() && c != b',' && c != b';' && c != b'}'
        }),
    };
    (len > 0).then_some((at, at + len))
}

/// `scheme://user:password@host`: the password.
fn url_password(b: &[u8], i: usize) -> Option<(usize, usize)> {
    if !b[i..].starts_with(b"://") {
        return None;
    }
    let start = i + 3;
    let user = run_of(b, start, |c| is_token_byte(c) || c == b'.' || c == b'%');
    if b.get(start + user) != Some(&b':') {
        return None;
    }
    let pass_at = start + user + 1;
    let pass = run_of(b, pass_at, |c| {
        c != b'@' && c != b'/' && !c.is_ascii_whitespace() && c != b'"' && c != b'\'' && c < 0x80
    });
    let end = pass_at + pass;
    let found = b.get(end) == Some(&b'@')
        // Cut before the host: a password unless it is a port.
        || ((end == b.len() || cut_at(b, end))
            && !b[pass_at..end].iter().all(u8::is_ascii_digit));
    (pass > 0 && found).then_some((pass_at, end))
}

fn is_email_local(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"._%+-".contains(&c)
}

/// `local@domain.tld`, found from its local part's first byte.
fn email(b: &[u8], i: usize) -> Option<(usize, usize)> {
    if (i > 0 && is_email_local(b[i - 1])) || !is_email_local(b[i]) {
        return None;
    }
    let local = run_of(b, i, is_email_local);
    let at = i + local;
    if b.get(at) != Some(&b'@') {
        return None;
    }
    let domain = run_of(b, at + 1, |c| {
        c.is_ascii_alphanumeric() || c == b'-' || c == b'.'
    });
    let host = std::str::from_utf8(&b[at + 1..at + 1 + domain])
        .ok()?
        .trim_end_matches('.');
    let tld = host.rsplit('.').next()?;
    (host.contains('.') && tld.len() >= 2 && tld.bytes().all(|c| c.is_ascii_alphabetic()))
        .then_some((i, at + 1 + host.len()))
}

/// A phone number: `+` and 8–15 digits, or a grouped national number such as
/// `(555) 123-4567` / `555-123-4567` / `555.123.4567`. Dates, times, amounts and ids are
/// not: their digits group otherwise.
fn phone(b: &[u8], i: usize) -> Option<(usize, usize)> {
    if i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'+' || b[i - 1] == b'-') {
        return None;
    }
    let international = b[i] == b'+';
    if !(international || b[i] == b'(' || b[i].is_ascii_digit()) {
        return None;
    }
    let mut groups: Vec<usize> = Vec::new();
    let mut at = i + usize::from(international);
    let mut end = at;
    let mut separators = 0;
    while at < b.len() {
        let digits = run_of(b, at, |c| c.is_ascii_digit());
        if digits > 0 {
            groups.push(digits);
            at += digits;
            end = at;
            if b.get(at) == Some(&b')') {
                at += 1;
                end = at;
            }
        }
        match (b.get(at), b.get(at + 1)) {
            (Some(b' ' | b'-' | b'.'), Some(c)) if c.is_ascii_digit() || *c == b'(' => {
                separators += 1;
                at += 1;
            }
            (Some(b'('), _) if digits == 0 => at += 1,
            _ => break,
        }
        if b.get(at) == Some(&b'(') {
            at += 1;
        }
    }
    if end < b.len()
        && (b[end].is_ascii_alphanumeric()
            || b[end] == b'.' && b.get(end + 1).is_some_and(u8::is_ascii_digit))
    {
        return None;
    }
    let total: usize = groups.iter().sum();
    let ok = if international {
        (8..=15).contains(&total) && groups.first().is_some_and(|&g| g <= 4)
    } else {
        // North-American style 3-3-4 with separators (or parentheses).
        groups == [3, 3, 4] && separators >= 1
    };
    ok.then_some((i, end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn hidden(s: &str) -> String {
        text(s, Redaction::default()).into_owned()
    }

    #[test]
    fn api_keys_of_every_known_shape_are_hidden() {
        for secret in [
            "sk-proj-Ab3dEf6hIj9kLmNoPqRsTuVwXyZ012345",
            "sk-ant-api03-AAAABBBBCCCCDDDDEEEE",
            "AKIAIOSFODNN7EXAMPLE",
            "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
            "github_pat_11ABCDEFG0123456789_abcdefghijklmnop",
            "xoxb-2636712346-12345678901-AbCdEfGhIjKl",
            "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
        ] {
            let out = hidden(&format!("key is {secret}, use it"));
            assert!(!out.contains(secret), "{secret}: {out}");
            assert_eq!(out, format!("key is {MARK}, use it"));
        }
    }

    #[test]
    fn secrets_cut_short_by_a_view_are_still_hidden() {
        for cut in [
            "call(url: \"https://admin:Tr0ub4dor-url-pas…)",
            "key sk-live-4f9a…",
            "id AKIAIOSF…",
            "jwt eyJhbGciOiJIUzI1NiJ9.eyJzd…",
            "t ghp_abcdefg…",
        ] {
            let out = hidden(cut);
            assert!(out.contains(MARK), "{cut} -> {out}");
            for part in [
                "Tr0ub4dor",
                "4f9a",
                "AKIAIOSF",
                "eyJhbGciOiJIUzI1NiJ9",
                "abcdefg",
            ] {
                assert!(!out.contains(part), "{cut} -> {out}");
            }
        }
        // A port or a plain word before a cut is not a secret.
        assert_eq!(hidden("https://host:8080…"), "https://host:8080…");
        assert_eq!(hidden("sk-a…"), "sk-a…");
    }

    #[test]
    fn bearer_tokens_jwts_and_url_passwords_are_hidden() {
        let jwt =
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        let out = hidden(&format!("Authorization: Bearer {jwt}"));
        assert!(!out.contains("eyJ"), "{out}");
        let out = hidden("curl -H 'Authorization: Bearer abc123def456ghi789'");
        assert!(!out.contains("abc123def456ghi789"), "{out}");
        let out = hidden("postgres://app:hunter2@db.internal:5432/orders");
        assert_eq!(
            out,
            format!("postgres://app:{MARK}@db.internal:5432/orders")
        );
    }

    #[test]
    fn private_keys_are_hidden_whole() {
        let key = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA1\nabc\n-----END RSA PRIVATE KEY-----";
        let out = hidden(&format!("key:\n{key}\ndone"));
        assert!(!out.contains("MIIEow"), "{out}");
        assert!(out.ends_with("done"));
        // A key cut off before its end is hidden to the end of the text.
        let out = hidden("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1r");
        assert!(!out.contains("b3Blbn"), "{out}");
    }

    #[test]
    fn secret_named_fields_are_hidden_in_json_and_in_text() {
        let v = json!({"user": "ann", "password": "hunter2", "apiKey": "k-1",
                       "nested": [{"Authorization": "Basic YWxhZGRpbjpvcGVu"}],
                       "token_count": 12, "tokens": {"input": 3}});
        let out = json(&v, Redaction::default());
        let text_out = out.to_string();
        for secret in ["hunter2", "k-1", "YWxhZGRpbjpvcGVu"] {
            assert!(!text_out.contains(secret), "{secret}: {text_out}");
        }
        assert_eq!(out["user"], "ann");
        assert_eq!(out["token_count"], 12, "counts named like tokens stay");
        assert_eq!(out["tokens"]["input"], 3);
        assert_eq!(
            hidden("login with password=hunter2 now"),
            format!("login with password={MARK} now")
        );
        assert_eq!(
            hidden("refused password=Tr0ub4dor&3-plant today"),
            format!("refused password={MARK} today")
        );
        assert_eq!(
            hidden(r#"{"secret": "s3cr3t", "a": 1}"#),
            format!(r#"{{"secret": "{MARK}", "a": 1}}"#)
        );
    }

    #[test]
    fn contacts_are_hidden_unless_turned_off() {
        let s = "mail jonas.weber@example.com or call +49 30 1234567 / (555) 123-4567";
        let out = hidden(s);
        for contact in [
            "jonas.weber@example.com",
            "+49 30 1234567",
            "(555) 123-4567",
        ] {
            assert!(!out.contains(contact), "{contact}: {out}");
        }
        assert_eq!(text(s, Redaction { contacts: false }), s);
    }

    #[test]
    fn ordinary_text_numbers_and_dates_are_left_alone() {
        for s in [
            "2026-11-25T09:12:44Z refund of $42.00 for order #A-10301 (ticket 4437)",
            "task sk-learn is a word; ask-me-anything; the token budget is 4096",
            "version 1.4.2, ids 123456789012, port 5432, ratio 3.14159",
            "use a bearer of news",
        ] {
            assert_eq!(hidden(s), s);
        }
    }
}
