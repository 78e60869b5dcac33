//! The query language: free text (words and "quoted phrases") combined with filters
//! such as `outcome:failure`, `tool:send_email` or `since:2h`. Parsing only: what a
//! query matches is decided here for runs ([`Query::matches_run`]) and steps
//! ([`StepFilter::matches`]), and by the search engine for text.
//!
//! Grammar: whitespace separates parts; `"…"` quotes a phrase (or a filter value with
//! spaces: `label:team="data eng"`). A part `KEY:VALUE` with a known key is a filter;
//! anything else (`http://x`, `foo:bar`) is text. Repeating a key, or listing values
//! with commas (`outcome:failure,timeout`), allows any of them; different keys must all
//! hold. Names match case-insensitively, whole, with `*` as a wildcard.

use std::fmt;
use std::ops::Range;

use chrono::{NaiveDate, NaiveDateTime};

use crate::index::RunRef;
use crate::model::{Outcome, Status, StepKind};

/// A parsed query.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Query {
    /// Free text: every term must match.
    pub terms: Vec<Term>,
    pub run: RunFilter,
    pub step: StepFilter,
}

/// A word (or several, as in `db.write`) or a quoted phrase of the free text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// As typed, without quotes.
    pub text: String,
    /// Its words, lowercased (see [`super::tokens`]).
    pub words: Vec<String>,
    /// Quoted: its words must appear together, in order, and each exactly.
    pub phrase: bool,
}

/// Filters on runs: a run must pass each kind of filter given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunFilter {
    pub outcomes: Vec<Outcome>,
    pub agents: Vec<Pattern>,
    pub models: Vec<Pattern>,
    /// All must hold.
    pub labels: Vec<LabelFilter>,
    /// The run was active at or after this time (its end, else its start).
    pub since: Option<TimeBound>,
    /// The run started at or before this time.
    pub until: Option<TimeBound>,
}

/// Filters on steps: a step must pass each kind of filter given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StepFilter {
    pub statuses: Vec<StatusFilter>,
    /// Tool calls and results with one of these names.
    pub tools: Vec<Pattern>,
    pub kinds: Vec<StepKind>,
    /// Steps whose error label (the code, else the message) matches.
    pub errors: Vec<Pattern>,
}

/// `status:` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    /// Status error, or a step of kind `error`.
    Error,
    Ok,
    Unset,
}

/// `label:KEY` (the run has the label) or `label:KEY=VALUE`.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelFilter {
    pub key: Pattern,
    pub value: Option<Pattern>,
}

/// A case-insensitive name pattern; `*` matches any run of characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    lower: String,
}

/// A point in time, absolute or relative to when the query is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeBound {
    /// Epoch milliseconds.
    At(i64),
    /// This many milliseconds before now.
    Ago(i64),
}

/// Why a query could not be read, and where (a byte range of the input).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    pub message: String,
    pub span: Range<usize>,
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for QueryError {}

/// The filter keys, for help and error messages.
pub const FILTER_KEYS: [&str; 10] = [
    "outcome", "status", "tool", "agent", "kind", "error", "label", "since", "until", "model",
];

const OUTCOMES: [Outcome; 6] = [
    Outcome::Success,
    Outcome::Failure,
    Outcome::Cancelled,
    Outcome::Timeout,
    Outcome::Running,
    Outcome::Unknown,
];

impl Query {
    /// Parses a query. Relative times (`since:2h`) stay relative: they are resolved
    /// against the `now` given when the query is applied.
    pub fn parse(input: &str) -> Result<Query, QueryError> {
        let mut query = Query::default();
        for part in split(input)? {
            let raw = &input[part.span.clone()];
            match filter_key(raw) {
                Some((key, value_at)) => {
                    let value = unquote(&raw[value_at..]);
                    let span = part.span.start + value_at..part.span.end;
                    query.add_filter(key, &value, span)?;
                }
                None => {
                    let phrase = part.quoted;
                    let text = if phrase { unquote(raw) } else { raw.to_owned() };
                    let words = super::tokens::query_words(&text);
                    if text.trim().is_empty() {
                        continue;
                    }
                    query.terms.push(Term {
                        text,
                        words,
                        phrase,
                    });
                }
            }
        }
        Ok(query)
    }

    /// No text and no filters: matches everything.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty() && !self.run.is_active() && !self.step.is_active()
    }

    pub fn has_text(&self) -> bool {
        !self.terms.is_empty()
    }

    /// Whether `run` passes the run filters (`now`: epoch ms, for relative times).
    pub fn matches_run(&self, run: &RunRef, now: i64) -> bool {
        self.run.matches(run, now)
    }

    /// The free text's words, lowercased, in order.
    pub fn words(&self) -> impl Iterator<Item = &str> {
        self.terms
            .iter()
            .flat_map(|t| t.words.iter().map(String::as_str))
    }

    fn add_filter(&mut self, key: &str, value: &str, span: Range<usize>) -> Result<(), QueryError> {
        let fail = |message: String| QueryError {
            message,
            span: span.clone(),
        };
        if value.trim().is_empty() {
            return Err(fail(format!(
                "{key}: needs a value, as in {}",
                example(key)
            )));
        }
        let values = || value.split(',').map(str::trim).filter(|v| !v.is_empty());
        match key {
            "outcome" => {
                for v in values() {
                    let lower = v.to_ascii_lowercase();
                    let outcome = OUTCOMES
                        .into_iter()
                        .find(|o| o.as_str() == lower)
                        .or_else(|| (lower == "failed").then_some(Outcome::Failure))
                        .ok_or_else(|| {
                            let known: Vec<&str> = OUTCOMES.iter().map(|o| o.as_str()).collect();
                            fail(format!(
                                "outcome: unknown outcome {v:?}; known: {}",
                                known.join(", ")
                            ))
                        })?;
                    self.run.outcomes.push(outcome);
                }
            }
            "status" => {
                for v in values() {
                    let status = match v.to_ascii_lowercase().as_str() {
                        "error" | "err" | "failed" => StatusFilter::Error,
                        "ok" => StatusFilter::Ok,
                        "unset" | "none" => StatusFilter::Unset,
                        _ => {
                            return Err(fail(format!(
                                "status: unknown status {v:?}; known: error, ok, unset"
                            )))
                        }
                    };
                    self.step.statuses.push(status);
                }
            }
            "kind" => {
                for v in values() {
                    let lower = v.to_ascii_lowercase();
                    let kind = StepKind::ALL
                        .into_iter()
                        .find(|k| k.as_str() == lower)
                        .ok_or_else(|| {
                            let known: Vec<&str> =
                                StepKind::ALL.iter().map(|k| k.as_str()).collect();
                            fail(format!(
                                "kind: unknown kind {v:?}; known: {}",
                                known.join(", ")
                            ))
                        })?;
                    self.step.kinds.push(kind);
                }
            }
            "tool" => self.step.tools.extend(values().map(Pattern::new)),
            "error" => self.step.errors.extend(values().map(Pattern::new)),
            "agent" => self.run.agents.extend(values().map(Pattern::new)),
            "model" => self.run.models.extend(values().map(Pattern::new)),
            "label" => {
                let (k, v) = match value.split_once('=') {
                    Some((k, v)) => (k.trim(), Some(v.trim())),
                    None => (value.trim(), None),
                };
                if k.is_empty() || v.is_some_and(str::is_empty) {
                    return Err(fail(format!(
                        "label: give KEY=VALUE or KEY, as in label:env=prod (got {value:?})"
                    )));
                }
                self.run.labels.push(LabelFilter {
                    key: Pattern::new(k),
                    value: v.map(Pattern::new),
                });
            }
            "since" | "until" => {
                let bound = parse_time(value.trim(), key == "until").ok_or_else(|| {
                    fail(format!(
                        "{key}: cannot read {value:?} as a time: give a duration ago \
                         (30s, 15m, 2h, 7d, 1h30m) or a time (2026-11-20, \
                         2026-11-20T10:00, 2026-11-20T10:00:00Z)"
                    ))
                })?;
                if key == "since" {
                    self.run.since = Some(bound);
                } else {
                    self.run.until = Some(bound);
                }
            }
            _ => unreachable!("filter_key returns known keys"),
        }
        Ok(())
    }
}

fn example(key: &str) -> &'static str {
    match key {
        "outcome" => "outcome:failure",
        "status" => "status:error",
        "tool" => "tool:send_email",
        "agent" => "agent:support-bot",
        "kind" => "kind:tool_call",
        "error" => "error:SMTP_AUTH_INVALID",
        "label" => "label:env=prod",
        "since" => "since:2h",
        "until" => "until:2026-11-20",
        "model" => "model:gpt-4o",
        _ => "KEY:VALUE",
    }
}

impl RunFilter {
    pub fn is_active(&self) -> bool {
        !(self.outcomes.is_empty()
            && self.agents.is_empty()
            && self.models.is_empty()
            && self.labels.is_empty()
            && self.since.is_none()
            && self.until.is_none())
    }

    pub fn matches(&self, run: &RunRef, now: i64) -> bool {
        if !self.outcomes.is_empty() && !self.outcomes.contains(&run.outcome()) {
            return false;
        }
        if !any_matches(&self.agents, run.agent()) || !any_matches(&self.models, run.model()) {
            return false;
        }
        for label in &self.labels {
            let found = run.labels().iter().any(|(k, v)| {
                label.key.matches(k) && label.value.as_ref().map_or(true, |p| p.matches(v))
            });
            if !found {
                return false;
            }
        }
        if let Some(since) = self.since {
            let last = run.ended_at().or(run.started_at());
            if last.map_or(true, |t| t < since.resolve(now)) {
                return false;
            }
        }
        if let Some(until) = self.until {
            if run.started_at().map_or(true, |t| t > until.resolve(now)) {
                return false;
            }
        }
        true
    }
}

/// An empty list allows anything; otherwise the value must be there and match one.
fn any_matches(patterns: &[Pattern], value: Option<&str>) -> bool {
    patterns.is_empty() || value.is_some_and(|v| patterns.iter().any(|p| p.matches(v)))
}

impl StepFilter {
    pub fn is_active(&self) -> bool {
        !(self.statuses.is_empty()
            && self.tools.is_empty()
            && self.kinds.is_empty()
            && self.errors.is_empty())
    }

    /// Whether a step with these fields passes (`error`: its error label).
    pub fn matches(
        &self,
        kind: StepKind,
        status: Status,
        name: Option<&str>,
        error: Option<&str>,
    ) -> bool {
        self.matches_kind_status(kind, status)
            && (self.tools.is_empty()
                || (matches!(kind, StepKind::ToolCall | StepKind::ToolResult)
                    && any_matches(&self.tools, name)))
            && any_matches(&self.errors, error)
    }

    /// The part of the filter about kind and status only.
    pub fn matches_kind_status(&self, kind: StepKind, status: Status) -> bool {
        (self.kinds.is_empty() || self.kinds.contains(&kind))
            && (self.statuses.is_empty()
                || self.statuses.iter().any(|s| match s {
                    StatusFilter::Error => status == Status::Error || kind == StepKind::Error,
                    StatusFilter::Ok => status == Status::Ok,
                    StatusFilter::Unset => status == Status::Unset && kind != StepKind::Error,
                }))
    }
}

impl Pattern {
    pub fn new(text: &str) -> Pattern {
        Pattern {
            lower: text.to_lowercase(),
        }
    }

    pub fn matches(&self, value: &str) -> bool {
        let value = value.to_lowercase();
        if !self.lower.contains('*') {
            return value == self.lower;
        }
        glob(self.lower.as_bytes(), value.as_bytes())
    }
}

/// `*` matches any run of bytes; everything else matches itself.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

impl TimeBound {
    /// Epoch milliseconds, given the current time.
    pub fn resolve(self, now: i64) -> i64 {
        match self {
            TimeBound::At(t) => t,
            TimeBound::Ago(d) => now - d,
        }
    }
}

/// A duration ago (`30s`, `15m`, `2h`, `7d`, `1w`, `1h30m`) or a time: RFC 3339, a date
/// (UTC midnight; with `end_of_day`, the end of that day) or a date and time without a
/// zone (UTC).
fn parse_time(s: &str, end_of_day: bool) -> Option<TimeBound> {
    if let Some(ms) = parse_duration(s) {
        return Some(TimeBound::Ago(ms));
    }
    if let Some(ms) = crate::time::parse_rfc3339_ms(s) {
        return Some(TimeBound::At(ms));
    }
    for format in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, format) {
            return Some(TimeBound::At(t.and_utc().timestamp_millis()));
        }
    }
    let date = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    let start = date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis();
    Some(TimeBound::At(if end_of_day {
        start + 86_400_000 - 1
    } else {
        start
    }))
}

fn parse_duration(s: &str) -> Option<i64> {
    if s.is_empty() {
        return None;
    }
    let mut total: i64 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let n: i64 = rest[..digits].parse().ok()?;
        let unit = rest[digits..].chars().next()?;
        let ms = match unit.to_ascii_lowercase() {
            's' => 1_000,
            'm' => 60_000,
            'h' => 3_600_000,
            'd' => 86_400_000,
            'w' => 7 * 86_400_000,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(ms)?)?;
        rest = &rest[digits + 1..];
    }
    Some(total)
}

struct Part {
    span: Range<usize>,
    /// Starts with a quote: a phrase.
    quoted: bool,
}

/// Cuts the input at whitespace outside quotes. An unclosed quote runs to the end (the
/// user is still typing).
fn split(input: &str) -> Result<Vec<Part>, QueryError> {
    let mut parts = Vec::new();
    let mut chars = input.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let quoted = c == '"';
        let mut in_quote = false;
        let mut end = input.len();
        while let Some(&(i, c)) = chars.peek() {
            if c == '"' {
                in_quote = !in_quote;
            } else if c.is_whitespace() && !in_quote {
                end = i;
                break;
            }
            chars.next();
        }
        parts.push(Part {
            span: start..end,
            quoted,
        });
    }
    Ok(parts)
}

/// `key:` of a known filter (case-insensitive), and where its value starts.
fn filter_key(part: &str) -> Option<(&'static str, usize)> {
    if part.starts_with('"') {
        return None;
    }
    let colon = part.find(':')?;
    let key = part[..colon].to_ascii_lowercase();
    let known = FILTER_KEYS.into_iter().find(|k| *k == key)?;
    Some((known, colon + 1))
}

/// Removes quotes (a value may be quoted whole or in part: `team="data eng"`).
fn unquote(s: &str) -> String {
    s.replace('"', "")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Query {
        Query::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    #[test]
    fn text_and_filters_are_told_apart() {
        let q = parse(r#"refund "refund policy" outcome:failure http://x foo:bar tool:send_*"#);
        let texts: Vec<(&str, bool)> = q
            .terms
            .iter()
            .map(|t| (t.text.as_str(), t.phrase))
            .collect();
        assert_eq!(
            texts,
            [
                ("refund", false),
                ("refund policy", true),
                ("http://x", false),
                ("foo:bar", false)
            ]
        );
        assert_eq!(q.terms[1].words, ["refund", "policy"]);
        assert_eq!(q.terms[2].words, ["http"]);
        assert_eq!(q.run.outcomes, [Outcome::Failure]);
        assert!(q.step.tools[0].matches("SEND_EMAIL"));
        assert!(!q.step.tools[0].matches("resend_email"));
    }

    #[test]
    fn every_filter_parses() {
        let q = parse(
            "outcome:failure,timeout status:error tool:lookup_order agent:support-bot \
             kind:tool_result error:SMTP_AUTH_INVALID label:env=prod label:team \
             since:2h until:2026-11-20 model:gpt-4o",
        );
        assert!(q.terms.is_empty());
        assert_eq!(q.run.outcomes, [Outcome::Failure, Outcome::Timeout]);
        assert_eq!(q.step.statuses, [StatusFilter::Error]);
        assert_eq!(q.step.kinds, [StepKind::ToolResult]);
        assert!(q.step.errors[0].matches("smtp_auth_invalid"));
        assert!(q.run.agents[0].matches("Support-Bot"));
        assert!(q.run.models[0].matches("gpt-4o"));
        assert_eq!(q.run.labels.len(), 2);
        assert!(q.run.labels[1].value.is_none());
        assert_eq!(q.run.since, Some(TimeBound::Ago(2 * 3_600_000)));
        // A date given as `until` includes that whole day.
        let end = crate::time::parse_rfc3339_ms("2026-11-20T23:59:59.999Z").unwrap();
        assert_eq!(q.run.until, Some(TimeBound::At(end)));
    }

    #[test]
    fn times_read_as_durations_dates_and_rfc3339() {
        let at = |s| parse_time(s, false);
        assert_eq!(at("90m"), Some(TimeBound::Ago(90 * 60_000)));
        assert_eq!(at("1h30m"), Some(TimeBound::Ago(90 * 60_000)));
        assert_eq!(at("7d"), Some(TimeBound::Ago(7 * 86_400_000)));
        assert_eq!(at("30s"), Some(TimeBound::Ago(30_000)));
        let t = crate::time::parse_rfc3339_ms("2026-11-20T10:00:00Z").unwrap();
        assert_eq!(at("2026-11-20T10:00:00Z"), Some(TimeBound::At(t)));
        assert_eq!(at("2026-11-20T11:00:00+01:00"), Some(TimeBound::At(t)));
        assert_eq!(at("2026-11-20T10:00"), Some(TimeBound::At(t)));
        assert_eq!(at("2026-11-20"), Some(TimeBound::At(t - 10 * 3_600_000)));
        for bad in ["banana", "2", "h", "2x", "2026-13-01", "-2h", ""] {
            assert_eq!(at(bad), None, "{bad}");
        }
        assert_eq!(TimeBound::Ago(1000).resolve(5000), 4000);
    }

    #[test]
    fn malformed_filters_say_what_and_where() {
        let input = "refund since:banana";
        let e = Query::parse(input).unwrap_err();
        assert!(
            e.message.contains("since") && e.message.contains("banana"),
            "{e}"
        );
        assert_eq!(&input[e.span.clone()], "banana");
        for bad in [
            "outcome:maybe",
            "status:weird",
            "kind:blob",
            "label:=x",
            "label:env=",
            "tool:",
            "until:tomorrow",
            "agent:\"\"",
        ] {
            assert!(Query::parse(bad).is_err(), "{bad} was accepted");
        }
        let e = Query::parse("outcome:maybe").unwrap_err();
        assert!(e.message.contains("failure"), "lists the known values: {e}");
    }

    #[test]
    fn quoted_values_and_unclosed_quotes() {
        let q = parse(r#"label:team="data eng" "unclosed phrase"#);
        assert!(q.run.labels[0].value.as_ref().unwrap().matches("Data Eng"));
        assert_eq!(q.terms[0].text, "unclosed phrase");
        assert!(q.terms[0].phrase);
        assert!(parse("   ").is_empty());
    }

    #[test]
    fn globs_match_whole_names() {
        let p = Pattern::new("*refund*");
        assert!(p.matches("issue_refund") && p.matches("REFUND") && !p.matches("refnd"));
        let p = Pattern::new("send_*_v2");
        assert!(p.matches("send_email_v2") && !p.matches("send_email_v3"));
        assert!(Pattern::new("a*b*c").matches("aXXbYYc"));
        assert!(!Pattern::new("a*b*c").matches("aXXbYY"));
    }
}
