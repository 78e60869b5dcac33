//! Error vocabularies: which class of failure an error's code, type and message speak
//! of (credentials, quotas, outages, rejected input, inconsistent data, policy). Words
//! and status codes common across APIs, databases, clouds and agent frameworks; nothing
//! here is keyed to one system's names.

/// What an error says went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum ErrorClass {
    /// Credentials, permissions, quotas, API versions, certificates, endpoints moved:
    /// the world around the agent changed.
    Access,
    /// The tool was down, slow, overloaded or crashed.
    Outage,
    /// The tool rejected a value: invalid, malformed, too long, out of range.
    Rejected,
    /// The data disagrees with itself: mismatches, conflicts, duplicates, stale reads.
    Inconsistent,
    /// A check on the agent's behaviour fired: policy, guardrail, not allowed.
    Policy,
}

impl ErrorClass {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            ErrorClass::Access => {
                "an access error (credentials, permission, quota, API version or certificate)"
            }
            ErrorClass::Outage => "an outage error (unavailable, timeout, overloaded, crash)",
            ErrorClass::Rejected => {
                "a rejected-value error (invalid, malformed, out of range, too long)"
            }
            ErrorClass::Inconsistent => {
                "a data-consistency error (mismatch, conflict, duplicate, stale)"
            }
            ErrorClass::Policy => "a policy or guardrail violation",
        }
    }
}

/// (class, phrase, weight). Phrases are matched against the lower-cased text with `_`,
/// `-` and `.` read as spaces, on word boundaries.
const PHRASES: &[(ErrorClass, &str, f64)] = &[
    // Access: credentials and permissions.
    (ErrorClass::Access, "auth", 2.0),
    (ErrorClass::Access, "authentication", 2.0),
    (ErrorClass::Access, "unauthenticated", 2.0),
    (ErrorClass::Access, "unauthorized", 2.0),
    (ErrorClass::Access, "unauthorised", 2.0),
    (ErrorClass::Access, "not authorized", 2.0),
    (ErrorClass::Access, "authorization", 1.5),
    (ErrorClass::Access, "forbidden", 2.0),
    (ErrorClass::Access, "permission", 2.0),
    (ErrorClass::Access, "permissions", 2.0),
    (ErrorClass::Access, "permission denied", 2.5),
    (ErrorClass::Access, "access denied", 2.5),
    (ErrorClass::Access, "accessdenied", 2.5),
    (ErrorClass::Access, "access denied exception", 2.5),
    (ErrorClass::Access, "insufficient scope", 2.0),
    (ErrorClass::Access, "scope", 0.8),
    (ErrorClass::Access, "credential", 2.0),
    (ErrorClass::Access, "credentials", 2.0),
    (ErrorClass::Access, "password", 1.5),
    (ErrorClass::Access, "login", 1.2),
    (ErrorClass::Access, "api key", 2.0),
    (ErrorClass::Access, "apikey", 2.0),
    (ErrorClass::Access, "invalid api key", 2.5),
    (ErrorClass::Access, "token expired", 2.5),
    (ErrorClass::Access, "expired token", 2.5),
    (ErrorClass::Access, "invalid token", 2.0),
    (ErrorClass::Access, "invalid grant", 2.0),
    (ErrorClass::Access, "revoked", 2.0),
    (ErrorClass::Access, "rotated", 1.5),
    (ErrorClass::Access, "signature does not match", 2.0),
    (ErrorClass::Access, "401", 2.0),
    (ErrorClass::Access, "403", 2.0),
    (ErrorClass::Access, "407", 1.5),
    (ErrorClass::Access, "535", 1.5),
    (ErrorClass::Access, "eacces", 2.0),
    (ErrorClass::Access, "eperm", 2.0),
    // Access: quotas and billing limits.
    (ErrorClass::Access, "quota", 2.0),
    (ErrorClass::Access, "rate limit", 2.0),
    (ErrorClass::Access, "ratelimit", 2.0),
    (ErrorClass::Access, "rate limited", 2.0),
    (ErrorClass::Access, "throttled", 1.5),
    (ErrorClass::Access, "throttling", 1.5),
    (ErrorClass::Access, "too many requests", 2.0),
    (ErrorClass::Access, "429", 2.0),
    (ErrorClass::Access, "limit exceeded", 1.5),
    (ErrorClass::Access, "insufficient quota", 2.5),
    (ErrorClass::Access, "resource exhausted", 1.5),
    (ErrorClass::Access, "payment required", 1.5),
    (ErrorClass::Access, "402", 1.2),
    (ErrorClass::Access, "subscription", 1.0),
    // Access: API versions and moved endpoints.
    (ErrorClass::Access, "deprecated", 2.0),
    (ErrorClass::Access, "api version", 2.0),
    (ErrorClass::Access, "unsupported version", 2.0),
    (ErrorClass::Access, "version not supported", 2.0),
    (ErrorClass::Access, "no longer supported", 2.0),
    (ErrorClass::Access, "no longer available", 1.5),
    (ErrorClass::Access, "sunset", 1.5),
    (ErrorClass::Access, "decommissioned", 1.5),
    (ErrorClass::Access, "gone", 1.0),
    (ErrorClass::Access, "410", 1.5),
    (ErrorClass::Access, "unknown field", 1.0),
    (ErrorClass::Access, "schema changed", 1.5),
    (ErrorClass::Access, "moved permanently", 1.5),
    (ErrorClass::Access, "endpoint", 0.6),
    // Access: certificates and TLS.
    (ErrorClass::Access, "certificate", 2.5),
    (ErrorClass::Access, "cert", 2.0),
    (ErrorClass::Access, "x509", 2.5),
    (ErrorClass::Access, "tls", 1.8),
    (ErrorClass::Access, "ssl", 1.8),
    (ErrorClass::Access, "handshake", 1.5),
    (ErrorClass::Access, "self signed", 2.0),
    (ErrorClass::Access, "untrusted", 1.2),
    (ErrorClass::Access, "expired", 1.2),
    (ErrorClass::Access, "pkix", 2.0),
    // Outage.
    (ErrorClass::Outage, "timeout", 2.0),
    (ErrorClass::Outage, "timed out", 2.0),
    (ErrorClass::Outage, "deadline exceeded", 2.0),
    (ErrorClass::Outage, "unavailable", 2.0),
    (ErrorClass::Outage, "service unavailable", 2.5),
    (ErrorClass::Outage, "no healthy", 2.0),
    (ErrorClass::Outage, "503", 2.0),
    (ErrorClass::Outage, "502", 2.0),
    (ErrorClass::Outage, "504", 2.0),
    (ErrorClass::Outage, "500", 1.5),
    (ErrorClass::Outage, "bad gateway", 2.0),
    (ErrorClass::Outage, "gateway timeout", 2.0),
    (ErrorClass::Outage, "internal server error", 2.0),
    (ErrorClass::Outage, "internal error", 1.5),
    (ErrorClass::Outage, "overloaded", 2.0),
    (ErrorClass::Outage, "capacity", 1.0),
    (ErrorClass::Outage, "connection refused", 2.0),
    (ErrorClass::Outage, "connection reset", 2.0),
    (ErrorClass::Outage, "econnrefused", 2.0),
    (ErrorClass::Outage, "econnreset", 2.0),
    (ErrorClass::Outage, "etimedout", 2.0),
    (ErrorClass::Outage, "broken pipe", 1.5),
    (ErrorClass::Outage, "crash", 2.0),
    (ErrorClass::Outage, "crashed", 2.0),
    (ErrorClass::Outage, "panic", 1.5),
    (ErrorClass::Outage, "segfault", 2.0),
    (ErrorClass::Outage, "out of memory", 2.0),
    (ErrorClass::Outage, "oom", 2.0),
    (ErrorClass::Outage, "killed", 1.2),
    (ErrorClass::Outage, "exit code", 1.0),
    (ErrorClass::Outage, "stack trace", 1.0),
    (ErrorClass::Outage, "traceback", 1.0),
    (ErrorClass::Outage, "exception", 0.8),
    (ErrorClass::Outage, "down", 1.0),
    (ErrorClass::Outage, "outage", 2.0),
    (ErrorClass::Outage, "maintenance", 1.5),
    (ErrorClass::Outage, "try again", 1.0),
    (ErrorClass::Outage, "retry later", 1.5),
    (ErrorClass::Outage, "temporarily", 1.5),
    (ErrorClass::Outage, "runner", 0.8),
    (ErrorClass::Outage, "hung", 1.5),
    (ErrorClass::Outage, "not responding", 2.0),
    (ErrorClass::Outage, "upstream", 0.8),
    // Rejected values.
    (ErrorClass::Rejected, "invalid", 1.2),
    (ErrorClass::Rejected, "incorrect", 1.2),
    (ErrorClass::Rejected, "malformed", 2.0),
    (ErrorClass::Rejected, "parse", 1.5),
    (ErrorClass::Rejected, "parse error", 2.0),
    (ErrorClass::Rejected, "cannot parse", 2.0),
    (ErrorClass::Rejected, "unparseable", 2.0),
    (ErrorClass::Rejected, "encoding", 2.0),
    (ErrorClass::Rejected, "decode", 1.5),
    (ErrorClass::Rejected, "unicode", 2.0),
    (ErrorClass::Rejected, "utf8", 2.0),
    (ErrorClass::Rejected, "utf 8", 2.0),
    (ErrorClass::Rejected, "charset", 2.0),
    (ErrorClass::Rejected, "character", 1.0),
    (ErrorClass::Rejected, "string value", 1.5),
    (ErrorClass::Rejected, "wrong value", 2.0),
    (ErrorClass::Rejected, "truncated", 1.5),
    (ErrorClass::Rejected, "out of range", 2.0),
    (ErrorClass::Rejected, "overflow", 1.8),
    (ErrorClass::Rejected, "too long", 2.0),
    (ErrorClass::Rejected, "too large", 1.5),
    (ErrorClass::Rejected, "exceeds maximum", 1.5),
    (ErrorClass::Rejected, "maximum length", 2.0),
    (ErrorClass::Rejected, "max length", 2.0),
    (ErrorClass::Rejected, "must be", 1.2),
    (ErrorClass::Rejected, "must not be", 1.2),
    (ErrorClass::Rejected, "cannot be empty", 2.0),
    (ErrorClass::Rejected, "empty", 1.2),
    (ErrorClass::Rejected, "required", 1.0),
    (ErrorClass::Rejected, "missing required", 1.8),
    (ErrorClass::Rejected, "negative", 1.8),
    (ErrorClass::Rejected, "non negative", 1.5),
    (ErrorClass::Rejected, "not a valid", 2.0),
    (ErrorClass::Rejected, "invalid date", 2.0),
    (ErrorClass::Rejected, "invalid argument", 2.0),
    (ErrorClass::Rejected, "invalid input", 2.0),
    (ErrorClass::Rejected, "invalid value", 2.0),
    (ErrorClass::Rejected, "invalid format", 2.0),
    (ErrorClass::Rejected, "format", 0.8),
    (ErrorClass::Rejected, "validation", 1.8),
    (ErrorClass::Rejected, "validation error", 2.0),
    (ErrorClass::Rejected, "unprocessable", 2.0),
    (ErrorClass::Rejected, "422", 1.8),
    (ErrorClass::Rejected, "400", 1.2),
    (ErrorClass::Rejected, "bad request", 1.5),
    (ErrorClass::Rejected, "type error", 1.2),
    (ErrorClass::Rejected, "typeerror", 1.2),
    (ErrorClass::Rejected, "value error", 1.5),
    (ErrorClass::Rejected, "valueerror", 1.5),
    (ErrorClass::Rejected, "unsupported character", 2.0),
    (ErrorClass::Rejected, "data error", 1.2),
    (ErrorClass::Rejected, "dataerror", 1.2),
    (ErrorClass::Rejected, "division by zero", 1.5),
    (ErrorClass::Rejected, "no such", 0.6),
    // Inconsistent data.
    (ErrorClass::Inconsistent, "mismatch", 2.5),
    (ErrorClass::Inconsistent, "does not match", 2.0),
    (ErrorClass::Inconsistent, "do not match", 2.0),
    (ErrorClass::Inconsistent, "inconsistent", 2.5),
    (ErrorClass::Inconsistent, "inconsistency", 2.5),
    (ErrorClass::Inconsistent, "conflict", 2.0),
    (ErrorClass::Inconsistent, "409", 1.5),
    (ErrorClass::Inconsistent, "duplicate", 2.0),
    (ErrorClass::Inconsistent, "already exists", 1.5),
    (ErrorClass::Inconsistent, "stale", 2.0),
    (ErrorClass::Inconsistent, "out of sync", 2.0),
    (ErrorClass::Inconsistent, "integrity", 2.0),
    (ErrorClass::Inconsistent, "checksum", 2.0),
    (ErrorClass::Inconsistent, "corrupt", 2.5),
    (ErrorClass::Inconsistent, "corrupted", 2.5),
    (ErrorClass::Inconsistent, "partial", 1.2),
    (ErrorClass::Inconsistent, "half written", 2.0),
    (ErrorClass::Inconsistent, "reconciliation", 1.5),
    (ErrorClass::Inconsistent, "discrepancy", 2.5),
    (ErrorClass::Inconsistent, "unexpected state", 2.0),
    (ErrorClass::Inconsistent, "precondition failed", 1.5),
    (ErrorClass::Inconsistent, "version conflict", 2.0),
    (ErrorClass::Inconsistent, "concurrent modification", 2.0),
    (ErrorClass::Inconsistent, "lock", 0.8),
    (ErrorClass::Inconsistent, "deadlock", 1.2),
    (ErrorClass::Inconsistent, "orphan", 1.5),
    (ErrorClass::Inconsistent, "double", 1.0),
    // Policy.
    (ErrorClass::Policy, "policy", 2.0),
    (ErrorClass::Policy, "guardrail", 2.5),
    (ErrorClass::Policy, "violation", 2.0),
    (ErrorClass::Policy, "not allowed", 1.5),
    (ErrorClass::Policy, "disallowed", 1.5),
    (ErrorClass::Policy, "prohibited", 1.5),
    (ErrorClass::Policy, "outside window", 1.5),
    (ErrorClass::Policy, "unapproved", 1.5),
    (ErrorClass::Policy, "without approval", 1.5),
    (ErrorClass::Policy, "compliance", 1.5),
    (ErrorClass::Policy, "safety", 1.0),
    (ErrorClass::Policy, "refused", 0.8),
    (ErrorClass::Policy, "hallucinat", 1.5),
];

/// Lower-cases and turns separators into spaces, then splits camelCase and digits off
/// words, so `SMTP_AUTH_INVALID`, `AuthFailed` and `auth.failed` all read "auth".
pub(crate) fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev: Option<char> = None;
    for c in text.chars() {
        if c.is_alphanumeric() {
            let boundary = match prev {
                Some(p) => {
                    (p.is_lowercase() && c.is_uppercase())
                        || (p.is_ascii_digit() != c.is_ascii_digit())
                }
                None => false,
            };
            if boundary && !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            cur.extend(c.to_lowercase());
        } else if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        prev = Some(c);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Scores `text` against each class: the phrases found and their summed weight.
pub(crate) fn classes(text: &str) -> Vec<(ErrorClass, f64, Vec<&'static str>)> {
    let ws = words(text);
    // Also the words glued together, so "ratelimit" and "rate limit" both match.
    let joined = format!(" {} ", ws.join(" "));
    let mut out: Vec<(ErrorClass, f64, Vec<&'static str>)> = Vec::new();
    for &(class, phrase, weight) in PHRASES {
        let hit = if let Some((first, _)) = phrase.split_once(' ') {
            // Only a text holding the first word can hold the phrase (saves the search).
            ws.iter().any(|w| w == first) && joined.contains(&format!(" {phrase} "))
        } else if phrase == "hallucinat" {
            ws.iter().any(|w| w.starts_with(phrase))
        } else {
            ws.iter().any(|w| w == phrase)
        };
        if !hit {
            continue;
        }
        match out.iter_mut().find(|(c, _, _)| *c == class) {
            Some((_, w, found)) => {
                *w += weight;
                found.push(phrase);
            }
            None => out.push((class, weight, vec![phrase])),
        }
    }
    out.sort_by(|a, b| b.1.total_cmp(&a.1));
    out
}

/// The class an error speaks of most, with the phrases that said so.
pub(crate) fn dominant(text: &str) -> Option<(ErrorClass, f64, Vec<&'static str>)> {
    classes(text).into_iter().next()
}

/// Words of a tool or step name that mean it changes something outside.
const WRITE_VERBS: &[&str] = &[
    "create",
    "update",
    "delete",
    "insert",
    "upsert",
    "write",
    "put",
    "post",
    "patch",
    "send",
    "charge",
    "refund",
    "merge",
    "push",
    "deploy",
    "set",
    "remove",
    "finalize",
    "finalise",
    "close",
    "issue",
    "publish",
    "apply",
    "submit",
    "save",
    "store",
    "cancel",
    "transfer",
    "pay",
    "book",
    "grant",
    "revoke",
    "rotate",
    "drop",
    "truncate",
    "upload",
    "commit",
    "approve",
    "assign",
    "notify",
    "email",
    "restart",
    "scale",
    "release",
    "rollback",
    "archive",
    "move",
    "rename",
    "open",
    "mutate",
    "enqueue",
    "trigger",
    "provision",
    "terminate",
    "kill",
    "reset",
    "migrate",
];

/// Leading words of a tool's name that say it only reads or checks.
const READ_VERBS: &[&str] = &[
    "get",
    "fetch",
    "list",
    "read",
    "lookup",
    "look",
    "find",
    "search",
    "check",
    "query",
    "describe",
    "show",
    "count",
    "validate",
    "verify",
    "wait",
    "compute",
    "calculate",
    "estimate",
    "preview",
    "dry",
    "load",
    "download",
    "inspect",
    "diff",
    "plan",
    "test",
];

/// True when a tool's name says it writes (creates, updates, sends, deletes ...): a
/// write verb, unless the name starts with a read verb (`check_refund_policy`).
pub(crate) fn is_write_name(name: &str) -> bool {
    let ws = words(name);
    if ws.first().is_some_and(|w| READ_VERBS.contains(&w.as_str())) {
        return false;
    }
    ws.iter().any(|w| {
        WRITE_VERBS.contains(&w.as_str())
            || (w.len() > 3 && w.ends_with('s') && WRITE_VERBS.contains(&&w[..w.len() - 1]))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_codes_camel_case_and_digits() {
        assert_eq!(words("SMTP_AUTH_INVALID"), ["smtp", "auth", "invalid"]);
        assert_eq!(words("AuthFailed: 401"), ["auth", "failed", "401"]);
        assert_eq!(words("ER_TRUNCATED.value"), ["er", "truncated", "value"]);
    }

    #[test]
    fn errors_of_many_vocabularies_find_their_class() {
        let cases = [
            (
                "SMTP_AUTH_INVALID 535 5.7.8 authentication failed",
                ErrorClass::Access,
            ),
            (
                "AccessDenied: User is not authorized to perform s3:PutObject",
                ErrorClass::Access,
            ),
            (
                "insufficient_quota: You exceeded your current quota",
                ErrorClass::Access,
            ),
            (
                "x509: certificate has expired or is not yet valid",
                ErrorClass::Access,
            ),
            (
                "API version 2023-01 is deprecated and no longer supported",
                ErrorClass::Access,
            ),
            (
                "RUNNER_UNAVAILABLE 503 Service Unavailable",
                ErrorClass::Outage,
            ),
            ("ETIMEDOUT connect timed out", ErrorClass::Outage),
            (
                "(1366) Incorrect string value for column",
                ErrorClass::Rejected,
            ),
            ("ValueError: month must be in 1..12", ErrorClass::Rejected),
            (
                "TOTAL_MISMATCH charged 10 but usage is 40",
                ErrorClass::Inconsistent,
            ),
            ("REFUND_OUTSIDE_WINDOW policy violation", ErrorClass::Policy),
        ];
        for (text, class) in cases {
            assert_eq!(dominant(text).map(|d| d.0), Some(class), "{text}");
        }
        assert!(dominant("something odd happened").is_none());
    }

    #[test]
    fn write_names() {
        assert!(is_write_name("send_email"));
        assert!(is_write_name("createInvoice"));
        assert!(is_write_name("db.updates"));
        assert!(!is_write_name("lookup_order"));
        assert!(!is_write_name("fetch_page"));
        assert!(!is_write_name("check_refund_policy"));
    }
}
