//! The native format adapter: one JSON Lines event → the fields the model needs, with every
//! field type-checked per `run-format.md`. Payloads (`input`, `output`, `meta`, ...) are
//! skipped by the scanner, never built; the index reads them back when a step is opened.

use std::borrow::Cow;

use super::scan::{scan_object, Member, ValueType};
use super::Event;
use crate::model::{Outcome, Status, StepError, StepKind, Tokens};
use crate::time::parse_rfc3339_ms;

/// Parses one line (already checked to be UTF-8, line end stripped). The error is the
/// reason the line cannot be used.
pub fn parse_event(line: &str) -> Result<Event<'_>, String> {
    let mut ev = Event::default();
    let mut has_run_id = false;
    let mut has_kind = false;
    let mut bad: Option<String> = None;
    let scanned = scan_object(line, |m| {
        if bad.is_some() {
            return;
        }
        if let Err(reason) = apply_member(&mut ev, &m, &mut has_run_id, &mut has_kind) {
            bad = Some(reason);
        }
    });
    if let Err(e) = scanned {
        return Err(if e.what == "not a JSON object" {
            if line.trim_start().starts_with('[') {
                "not a JSON object (an array)".to_string()
            } else {
                "not JSON: a line must be one JSON object".to_string()
            }
        } else {
            format!("not valid JSON: {} at column {}", e.what, e.at + 1)
        });
    }
    if let Some(reason) = bad {
        return Err(reason);
    }
    if !has_run_id {
        return Err("missing required field \"run_id\"".into());
    }
    if !has_kind {
        return Err("missing required field \"kind\"".into());
    }
    match ev.step_kind() {
        // A run_end without an outcome still ends the run; its outcome stays unknown.
        StepKind::RunEnd => {
            ev.outcome.get_or_insert(Outcome::Unknown);
        }
        StepKind::RunStart => ev.describes_run = true,
        _ => ev.outcome = None,
    }
    Ok(ev)
}

fn apply_member<'a>(
    ev: &mut Event<'a>,
    m: &Member<'a>,
    has_run_id: &mut bool,
    has_kind: &mut bool,
) -> Result<(), String> {
    match m.key {
        b"run_id" => {
            ev.run_id = string(m, "run_id")?;
            if ev.run_id.is_empty() {
                return Err("field \"run_id\" is empty".into());
            }
            *has_run_id = true;
        }
        b"kind" => {
            ev.kind = string(m, "kind")?;
            ev.parsed_kind = Some(StepKind::parse(&ev.kind));
            *has_kind = true;
        }
        b"step" => {
            ev.step = Some(
                integer(m)
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| wrong("step", "a non-negative integer below 2^32", m))?,
            )
        }
        b"id" => ev.id = Some(id_like(m, "id")?),
        b"parent" => ev.parent = id_like(m, "parent").map(Some).or_else(|e| null_ok(m, e))?,
        b"name" => ev.name = Some(string(m, "name")?),
        b"model" => ev.model = Some(string(m, "model")?),
        b"agent" => ev.agent = Some(string(m, "agent")?),
        b"agent_version" => ev.agent_version = Some(string(m, "agent_version")?),
        b"status" => {
            ev.status = match string(m, "status")?.as_ref() {
                "ok" => Some(Status::Ok),
                "error" => Some(Status::Error),
                other => {
                    return Err(format!(
                        "field \"status\" must be \"ok\" or \"error\", got {other:?}"
                    ))
                }
            }
        }
        b"error" => ev.error = error(m)?,
        b"ts" => ev.ts = Some(timestamp(m)?),
        b"duration_ms" => {
            ev.duration_ms = Some(
                number(m)
                    .filter(|d| *d >= 0.0)
                    .ok_or_else(|| wrong("duration_ms", "a non-negative number", m))?,
            )
        }
        b"outcome" => {
            let s = string(m, "outcome")?;
            ev.outcome = Some(Outcome::parse_declared(&s).ok_or_else(|| {
                format!(
                    "field \"outcome\" must be success, failure, cancelled or timeout, got {s:?}"
                )
            })?);
        }
        b"labels" => {
            if m.ty != ValueType::Object {
                return Err(wrong("labels", "an object of strings", m));
            }
            ev.labels = Some(
                serde_json::from_str(m.value)
                    .map_err(|_| wrong("labels", "an object of strings", m))?,
            );
        }
        b"tokens" => ev.tokens = tokens(m)?,
        b"meta" if m.ty != ValueType::Object => {
            let key = String::from_utf8_lossy(m.key).into_owned();
            return Err(wrong(&key, "an object", m));
        }
        b"options" if m.ty != ValueType::Array => return Err(wrong("options", "an array", m)),
        b"reason" | b"target" | b"action" => {
            let key = String::from_utf8_lossy(m.key).into_owned();
            string(m, &key)?;
        }
        _ => {}
    }
    Ok(())
}

/// `{input, output}`, each a non-negative integer when given; other keys are kept for
/// the detail view, not counted.
fn tokens(m: &Member) -> Result<Option<Tokens>, String> {
    if m.ty != ValueType::Object {
        return Err(wrong("tokens", "an object", m));
    }
    let mut counts = Tokens::default();
    let mut any = false;
    let mut bad = None;
    let scanned = scan_object(m.value, |t| {
        let slot = match t.key {
            b"input" => &mut counts.input,
            b"output" => &mut counts.output,
            _ => return,
        };
        match integer(&t).and_then(|n| u64::try_from(n).ok()) {
            Some(n) => {
                *slot = n;
                any = true;
            }
            None if t.ty == ValueType::Null => {}
            None => {
                bad.get_or_insert_with(|| {
                    let key = String::from_utf8_lossy(t.key);
                    wrong(&format!("tokens.{key}"), "a non-negative integer", &t)
                });
            }
        }
    });
    if scanned.is_err() {
        return Err(wrong("tokens", "an object", m));
    }
    match bad {
        Some(reason) => Err(reason),
        None => Ok(any.then_some(counts)),
    }
}

fn null_ok<T>(m: &Member, e: String) -> Result<Option<T>, String> {
    if m.ty == ValueType::Null {
        Ok(None)
    } else {
        Err(e)
    }
}

fn wrong(field: &str, expected: &str, m: &Member) -> String {
    format!("field \"{field}\" must be {expected}, got {}", m.ty.name())
}

fn string<'a>(m: &Member<'a>, field: &str) -> Result<Cow<'a, str>, String> {
    if m.ty != ValueType::String {
        return Err(wrong(field, "a string", m));
    }
    match m.raw_str() {
        Some(raw) => Ok(Cow::Borrowed(raw)),
        None => serde_json::from_str::<String>(m.value)
            .map(Cow::Owned)
            .map_err(|e| format!("field \"{field}\" is not a valid string: {e}")),
    }
}

fn id_like<'a>(m: &Member<'a>, field: &str) -> Result<Cow<'a, str>, String> {
    match m.ty {
        ValueType::String => string(m, field),
        ValueType::Number if integer(m).is_some() => Ok(Cow::Borrowed(m.value)),
        _ => Err(wrong(field, "a string or an integer", m)),
    }
}

fn integer(m: &Member) -> Option<i64> {
    if m.ty != ValueType::Number {
        return None;
    }
    m.value.parse().ok()
}

fn number(m: &Member) -> Option<f64> {
    if m.ty != ValueType::Number {
        return None;
    }
    // Integers are the common case and parse much faster than floats.
    if let Ok(n) = m.value.parse::<i64>() {
        return Some(n as f64);
    }
    m.value.parse().ok()
}

fn timestamp(m: &Member) -> Result<i64, String> {
    match m.ty {
        ValueType::Number => integer(m)
            .or_else(|| number(m).map(|n| n as i64))
            .ok_or_else(|| wrong("ts", "an RFC 3339 string or epoch milliseconds", m)),
        ValueType::String => {
            let s = string(m, "ts")?;
            parse_rfc3339_ms(&s)
                .ok_or_else(|| format!("field \"ts\" is not an RFC 3339 time: {s:?}"))
        }
        _ => Err(wrong("ts", "an RFC 3339 string or epoch milliseconds", m)),
    }
}

fn error(m: &Member) -> Result<Option<StepError>, String> {
    match m.ty {
        ValueType::Null => Ok(None),
        ValueType::String => Ok(Some(StepError {
            message: Some(string(m, "error")?.into_owned()),
            ..StepError::default()
        })),
        ValueType::Object => {
            #[derive(serde::Deserialize)]
            struct Obj {
                code: Option<serde_json::Value>,
                message: Option<String>,
                #[serde(rename = "type")]
                error_type: Option<String>,
            }
            let obj: Obj = serde_json::from_str(m.value).map_err(|_| {
                "field \"error\" must have string \"message\" and \"type\"".to_string()
            })?;
            // Codes are often numeric (HTTP status); keep them as text.
            let code = match obj.code {
                None | Some(serde_json::Value::Null) => None,
                Some(serde_json::Value::String(s)) => Some(s),
                Some(serde_json::Value::Number(n)) => Some(n.to_string()),
                Some(_) => return Err("field \"error.code\" must be a string or a number".into()),
            };
            Ok(Some(StepError {
                code,
                message: obj.message,
                error_type: obj.error_type,
            }))
        }
        _ => Err(wrong("error", "a string or an object", m)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_example_lines_of_the_format() {
        let ev = parse_event(r#"{"run_id":"r-7f3a","step":4,"parent":3,"kind":"tool_result","name":"send_email","status":"error","error":{"code":"SMTP_AUTH_INVALID","message":"535 5.7.8 authentication failed"},"duration_ms":310,"ts":"2026-11-20T10:00:01.5Z"}"#).unwrap();
        assert_eq!(ev.run_id, "r-7f3a");
        assert_eq!(ev.step, Some(4));
        assert_eq!(ev.parent.as_deref(), Some("3"));
        assert_eq!(ev.step_kind(), StepKind::ToolResult);
        assert_eq!(ev.effective_status(), Status::Error);
        assert_eq!(ev.error.unwrap().code.as_deref(), Some("SMTP_AUTH_INVALID"));
        assert_eq!(ev.duration_ms, Some(310.0));
        assert_eq!(ev.ts, Some(1_795_168_801_500));
        assert_eq!(ev.tokens, None);
    }

    #[test]
    fn reads_token_counts() {
        let ev = parse_event(
            r#"{"run_id":"r","kind":"llm_call","tokens":{"input":812,"output":41,"note":"x"}}"#,
        )
        .unwrap();
        assert_eq!(
            ev.tokens,
            Some(Tokens {
                input: 812,
                output: 41
            })
        );
        let ev = parse_event(r#"{"run_id":"r","kind":"llm_call","tokens":{"output":7}}"#).unwrap();
        assert_eq!(
            ev.tokens,
            Some(Tokens {
                input: 0,
                output: 7
            })
        );
        let ev = parse_event(r#"{"run_id":"r","kind":"llm_call","tokens":{}}"#).unwrap();
        assert_eq!(ev.tokens, None);
    }

    #[test]
    fn unknown_kinds_and_fields_are_kept() {
        let ev = parse_event(r#"{"run_id":"r","kind":"handoff","custom":{"x":[1]}}"#).unwrap();
        assert_eq!(ev.step_kind(), StepKind::Other);
        assert_eq!(ev.kind, "handoff");
    }

    #[test]
    fn each_bad_field_type_is_named() {
        let cases: &[(&str, &str)] = &[
            (r#"{"kind":"x"}"#, "missing required field \"run_id\""),
            (r#"{"run_id":"r"}"#, "missing required field \"kind\""),
            (
                r#"{"run_id":7,"kind":"x"}"#,
                "field \"run_id\" must be a string",
            ),
            (r#"{"run_id":"r","kind":"x","step":"3"}"#, "field \"step\""),
            (r#"{"run_id":"r","kind":"x","step":-1}"#, "field \"step\""),
            (r#"{"run_id":"r","kind":"x","ts":true}"#, "field \"ts\""),
            (
                r#"{"run_id":"r","kind":"x","ts":"yesterday"}"#,
                "field \"ts\"",
            ),
            (
                r#"{"run_id":"r","kind":"x","status":"fine"}"#,
                "field \"status\"",
            ),
            (r#"{"run_id":"r","kind":"x","error":5}"#, "field \"error\""),
            (
                r#"{"run_id":"r","kind":"x","duration_ms":"5"}"#,
                "field \"duration_ms\"",
            ),
            (
                r#"{"run_id":"r","kind":"x","labels":{"a":1}}"#,
                "field \"labels\"",
            ),
            (
                r#"{"run_id":"r","kind":"x","parent":[1]}"#,
                "field \"parent\"",
            ),
            (
                r#"{"run_id":"r","kind":"run_end","outcome":"meh"}"#,
                "field \"outcome\"",
            ),
            (
                r#"{"run_id":"r","kind":"x","tokens":3}"#,
                "field \"tokens\"",
            ),
            (
                r#"{"run_id":"r","kind":"x","tokens":{"input":-3}}"#,
                "field \"tokens.input\"",
            ),
            (
                r#"{"run_id":"r","kind":"x","tokens":{"output":"many"}}"#,
                "field \"tokens.output\"",
            ),
            ("[1,2]", "not a JSON object"),
            ("hello", "not JSON"),
            (r#"{"run_id":"r","kind":"x""#, "not valid JSON"),
        ];
        for (line, want) in cases {
            let got = parse_event(line).expect_err(line);
            assert!(got.contains(want), "{line}: {got:?} lacks {want:?}");
        }
    }
}
