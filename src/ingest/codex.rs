//! Codex CLI session rollouts (`rollout-*.jsonl`): one session per file, so the run id is
//! the session id at the end of the file name. `session_meta` starts the run; response
//! items become steps: messages (user and developer messages, assistant replies as model
//! calls), reasoning, function and custom tool calls and their outputs (paired by
//! `call_id`). `turn_context` lines give the model; `event_msg` lines repeat what the
//! response items say and are passed over, except errors.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::json::{content_text, parse_embedded, rfc3339_of, str_of, without, StepRecord};
use super::{Context, Event, TokenCount};
use crate::model::{count_of, Status, StepError, Tokens};

pub fn parse_line<'a>(
    line: &'a str,
    ctx: &Context,
    with_records: bool,
    out: &mut Vec<Event<'a>>,
) -> Result<(), String> {
    let v: Value = serde_json::from_str(line).map_err(|e| format!("not valid JSON: {e}"))?;
    let line_type = str_of(&v, "type").ok_or("not a Codex rollout line: no \"type\"")?;
    let payload = v.get("payload").cloned().unwrap_or(Value::Null);
    let p_type = str_of(&payload, "type").unwrap_or("");
    let run_id = session_id(ctx.file_stem);
    let mut ev = Event {
        run_id: Cow::Owned(run_id),
        ts: rfc3339_of(&v, "timestamp"),
        ..Event::default()
    };
    let (kind, name, input, output): (&str, String, Option<Value>, Option<Value>) =
        match (line_type, p_type) {
            ("session_meta", _) => {
                ev.describes_run = true;
                ev.agent = str_of(&payload, "originator")
                    .map(|s| Cow::Owned(s.to_string()))
                    .or(Some(Cow::Borrowed("codex")));
                ev.agent_version =
                    str_of(&payload, "cli_version").map(|s| Cow::Owned(s.to_string()));
                let mut labels = BTreeMap::new();
                for (label, key) in [
                    ("session_id", "id"),
                    ("cwd", "cwd"),
                    ("version", "cli_version"),
                    ("model_provider", "model_provider"),
                    ("source", "source"),
                ] {
                    if let Some(value) = str_of(&payload, key) {
                        labels.insert(label.to_string(), value.to_string());
                    }
                }
                ev.labels = Some(labels);
                (
                    "run_start",
                    "session".into(),
                    Some(without(&payload, &["base_instructions"])),
                    None,
                )
            }
            ("turn_context", _) => {
                // Run information only: the model in use.
                if let Some(model) = str_of(&payload, "model") {
                    ev.describes_run = true;
                    ev.model = Some(Cow::Owned(model.to_string()));
                    ev.labels = Some(BTreeMap::from([("model".to_string(), model.to_string())]));
                    ev.run_info_only = true;
                    out.push(ev);
                }
                return Ok(());
            }
            ("response_item", "message") => {
                let role = str_of(&payload, "role").unwrap_or("unknown");
                let text = payload
                    .get("content")
                    .and_then(content_text)
                    .map(Value::String);
                if role == "assistant" {
                    (
                        "llm_call",
                        "assistant".into(),
                        None,
                        text.map(|t| json!({"text": t})),
                    )
                } else {
                    ("message", role.to_string(), None, text)
                }
            }
            ("response_item", "reasoning") => {
                let summary = payload
                    .get("summary")
                    .and_then(content_text)
                    .map(Value::String);
                ("llm_call", "reasoning".into(), None, summary)
            }
            (
                "response_item",
                call @ ("function_call" | "custom_tool_call" | "local_shell_call"
                | "web_search_call"),
            ) => {
                ev.id = str_of(&payload, "call_id").map(|s| Cow::Owned(s.to_string()));
                let args = payload
                    .get("arguments")
                    .or(payload.get("input"))
                    .or(payload.get("action"));
                let args = args.map(|a| match a {
                    Value::String(s) => parse_embedded(s),
                    other => other.clone(),
                });
                let name = str_of(&payload, "name").unwrap_or(call).to_string();
                ("tool_call", name, args, None)
            }
            ("response_item", "function_call_output" | "custom_tool_call_output") => {
                ev.parent = str_of(&payload, "call_id").map(|s| Cow::Owned(s.to_string()));
                let output = payload.get("output").map(|o| match o {
                    Value::String(s) => parse_embedded(s),
                    other => other.clone(),
                });
                let exit_code = output
                    .as_ref()
                    .and_then(|o| o.pointer("/metadata/exit_code"))
                    .and_then(Value::as_i64);
                if let Some(code) = exit_code.filter(|c| *c != 0) {
                    ev.status = Some(Status::Error);
                    ev.error = Some(StepError {
                        code: Some(format!("exit {code}")),
                        ..StepError::default()
                    });
                } else {
                    ev.status = Some(Status::Ok);
                }
                ("tool_result", "output".into(), None, output)
            }
            ("response_item", other) => ("message", other.to_string(), None, Some(payload.clone())),
            ("event_msg", kind) if kind.contains("error") => {
                ev.status = Some(Status::Error);
                ev.error = Some(StepError {
                    message: str_of(&payload, "message").map(str::to_owned),
                    ..StepError::default()
                });
                ("error", kind.to_string(), None, None)
            }
            ("event_msg", "token_count") => {
                // Run information only: the session's running token total (it repeats,
                // and only grows), counted once at its largest.
                let total = payload.pointer("/info/total_token_usage");
                if let Some(tokens) = total.and_then(usage_tokens) {
                    ev.tokens = Some(tokens);
                    ev.tokens_count = TokenCount::Once(super::usage_key("codex total_token_usage"));
                    ev.run_info_only = true;
                    out.push(ev);
                }
                return Ok(());
            }
            ("event_msg", _) | ("compacted", _) => return Ok(()),
            (other, _) => (other, other.to_string(), None, Some(payload.clone())),
        };
    ev.kind = Cow::Owned(kind.to_string());
    ev.name = Some(Cow::Owned(name.clone()));
    if with_records {
        let meta = json!({
            "timestamp": v.get("timestamp"),
            "type": line_type,
            "payload": without(&payload, &["content", "arguments", "output", "summary", "encrypted_content"]),
        });
        ev.record = Some(
            StepRecord {
                kind: kind.to_string(),
                name: Some(name),
                input,
                output,
                status: ev.status,
                error: ev.error.clone(),
                meta: Some(meta),
                ..StepRecord::default()
            }
            .into_value(),
        );
    }
    out.push(ev);
    Ok(())
}

/// An OpenAI usage record: `input_tokens` (cached ones included), `output_tokens`
/// (reasoning included).
fn usage_tokens(usage: &Value) -> Option<Tokens> {
    let input = usage.get("input_tokens").and_then(count_of);
    let output = usage.get("output_tokens").and_then(count_of);
    (input.is_some() || output.is_some()).then(|| Tokens {
        input: input.unwrap_or(0),
        output: output.unwrap_or(0),
    })
}

/// The session id: the UUID that ends a rollout file's name, else the whole stem.
fn session_id(stem: &str) -> String {
    let tail = stem.len().saturating_sub(36);
    match stem.get(tail..) {
        Some(id) if id.len() == 36 && id.chars().filter(|c| *c == '-').count() == 4 => {
            id.to_string()
        }
        _ => stem.to_string(),
    }
}
