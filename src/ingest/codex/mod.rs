//! Codex CLI session rollouts (`rollout-*.jsonl`): one session per file, so the run id is
//! the session id at the end of the file name. Every layout is read: the oldest writes the
//! session object itself (`{id, timestamp, instructions}`) on the first line and bare
//! response items after it; later ones wrap each record as `{timestamp, type, payload}`
//! (`session_meta`, `response_item`, `event_msg`, `turn_context`, `compacted`).
//!
//! The session header is the tree's root; each user request opens a turn (the first is
//! the run's start: its trigger); a model's reasoning and text are a model call, the tool
//! calls it proposes its children, and their outputs hang under them by `call_id` (see
//! [`Place`]). Harness context (`<environment_context>`, AGENTS.md instructions) is not a
//! request. `event_msg` lines that repeat the response items are passed over; errors,
//! aborted turns and the ends of commands and patches are steps; unknown records are kept
//! as `other` steps with their JSON.

mod outcome;

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::json::{content_text, parse_embedded, rfc3339_of, str_of, without, StepRecord};
use super::{Context, Event, PartProblem, Place, TokenCount};
use crate::model::{count_of, Status, StepError, Tokens};

/// The newest `cli_version` whose rollouts were studied; newer ones are read the same
/// way and reported once per file.
const NEWEST_KNOWN: (u64, u64) = (0, 130);

/// The id of the session header step, the root turns hang under.
const ROOT_ID: &str = "session";

/// The wrapped layout's record types.
const WRAPPERS: [&str; 5] = [
    "session_meta",
    "response_item",
    "event_msg",
    "turn_context",
    "compacted",
];

/// `event_msg` types that repeat what response items or other lines already say.
const ECHOES: [&str; 20] = [
    "user_message",
    "agent_message",
    "agent_message_delta",
    "agent_reasoning",
    "agent_reasoning_delta",
    "agent_reasoning_raw_content",
    "agent_reasoning_raw_content_delta",
    "agent_reasoning_section_break",
    "task_started",
    "task_complete",
    "turn_started",
    "turn_complete",
    "exec_command_begin",
    "exec_command_output_delta",
    "patch_apply_begin",
    "mcp_tool_call_begin",
    "web_search_begin",
    "context_compacted",
    "item_started",
    "item_completed",
];

pub fn parse_line<'a>(
    line: &'a str,
    ctx: &Context,
    with_records: bool,
    out: &mut Vec<Event<'a>>,
    problems: &mut Vec<PartProblem>,
) -> Result<(), String> {
    let v: Value = serde_json::from_str(line).map_err(|e| format!("not valid JSON: {e}"))?;
    let Value::Object(obj) = &v else {
        return Err("not a Codex rollout line: not a JSON object".into());
    };
    // The record's type and body, whichever layout wrote it.
    let (line_type, payload) = match (str_of(&v, "type"), v.get("payload")) {
        (Some(t), Some(p)) => (t, p),
        (Some(t), None) if WRAPPERS.contains(&t) => (t, &Value::Null),
        // The oldest layout: bare response items…
        (Some(_), None) => ("response_item", &v),
        // …bookkeeping markers (`{"record_type":"state"}`) with nothing to show…
        (None, _) if obj.contains_key("record_type") => return Ok(()),
        // …and the session object itself on the first line.
        (None, _) if obj.contains_key("id") => ("session_meta", &v),
        (None, _) => return Err("not a Codex rollout line: no \"type\"".into()),
    };
    let p_type = str_of(payload, "type").unwrap_or("");
    let run_id = session_id(ctx.file_stem);
    // A line's time, when the layout gives lines one (the oldest layout's header carries
    // the session's time but its items none: steps keep their order in the file).
    let wrapped = v.get("payload").is_some() || !std::ptr::eq(payload, &v);
    let mut ev = Event {
        ts: rfc3339_of(&v, "timestamp").filter(|_| wrapped),
        ..Event::default()
    };
    let mapped = match line_type {
        "session_meta" => session(payload, &run_id, &mut ev, problems),
        "turn_context" => {
            // Run information only: the model in use.
            if let Some(model) = str_of(payload, "model") {
                ev.run_id = Cow::Owned(run_id);
                ev.describes_run = true;
                ev.model = Some(Cow::Owned(model.to_string()));
                ev.labels = Some(BTreeMap::from([("model".to_string(), model.to_string())]));
                ev.run_info_only = true;
                out.push(ev);
            }
            return Ok(());
        }
        "response_item" => response_item(payload, p_type, &mut ev),
        "event_msg" if p_type == "token_count" => {
            // Run information only: the session's running token total (it repeats, and
            // only grows), counted once at its largest.
            let total = payload.pointer("/info/total_token_usage");
            if let Some(tokens) = total.and_then(usage_tokens) {
                ev.run_id = Cow::Owned(run_id);
                ev.tokens = Some(tokens);
                ev.tokens_count = TokenCount::Once(super::usage_key("codex total_token_usage"));
                ev.run_info_only = true;
                out.push(ev);
            }
            return Ok(());
        }
        "event_msg" if ECHOES.contains(&p_type) => return Ok(()),
        "event_msg" => event(payload, p_type, &mut ev),
        "compacted" => {
            ev.place = Place::Input;
            let text = payload.get("message").cloned();
            Mapped::new("message", "compacted", None, text)
        }
        other => {
            problems.push((
                super::FILE_NOTE,
                format!("unknown Codex record type {other:?}: kept as `other` steps"),
            ));
            ev.place = Place::Aside;
            Mapped::new("other", other, None, Some(payload.clone()))
        }
    };
    ev.run_id = Cow::Owned(run_id);
    ev.kind = Cow::Owned(mapped.kind.to_string());
    ev.name = Some(Cow::Owned(mapped.name.clone()));
    if with_records {
        let meta = json!({
            "timestamp": v.get("timestamp"),
            "type": line_type,
            "payload": without(payload, &["content", "arguments", "input", "output", "summary",
                "encrypted_content", "base_instructions", "instructions", "message"]),
        });
        ev.record = Some(
            StepRecord {
                kind: mapped.kind.to_string(),
                name: Some(mapped.name),
                input: mapped.input,
                output: mapped.output,
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

/// What a record maps to, besides what is set on its event.
struct Mapped {
    kind: &'static str,
    name: String,
    input: Option<Value>,
    output: Option<Value>,
}

impl Mapped {
    fn new(kind: &'static str, name: &str, input: Option<Value>, output: Option<Value>) -> Self {
        Mapped {
            kind,
            name: name.to_string(),
            input,
            output,
        }
    }
}

/// The session header: run information, and the tree's root. A forked session repeats
/// its parent's header after its own: only the header of this file's session describes
/// the run and is the root.
fn session(
    payload: &Value,
    run_id: &str,
    ev: &mut Event,
    problems: &mut Vec<PartProblem>,
) -> Mapped {
    let id = str_of(payload, "id").or(str_of(payload, "session_id"));
    let own = id.map_or(true, |id| id == run_id || !is_uuid(run_id));
    if own {
        ev.describes_run = true;
        ev.id = Some(Cow::Borrowed(ROOT_ID));
        ev.place = Place::Root;
        ev.agent = Some(Cow::Owned(
            str_of(payload, "originator").unwrap_or("codex").to_string(),
        ));
        ev.agent_version = str_of(payload, "cli_version").map(|s| Cow::Owned(s.to_string()));
        let mut labels = BTreeMap::new();
        for (label, key) in [
            ("session_id", "id"),
            ("session_id", "session_id"),
            ("cwd", "cwd"),
            ("version", "cli_version"),
            ("originator", "originator"),
            ("model_provider", "model_provider"),
            ("model", "model"),
        ] {
            if let Some(value) = str_of(payload, key) {
                labels.insert(label.to_string(), value.to_string());
            }
        }
        // `source` is a word (`cli`, `vscode`) or, for a sub-agent, an object naming it.
        match payload.get("source") {
            Some(Value::String(s)) => {
                labels.insert("source".into(), s.clone());
            }
            Some(Value::Object(o)) => {
                if let Some(kind) = o.keys().next() {
                    labels.insert("source".into(), kind.clone());
                }
            }
            _ => {}
        }
        ev.labels = Some(labels);
        if let Some(version) = str_of(payload, "cli_version").filter(|v| !is_known_version(v)) {
            problems.push((
                super::FILE_NOTE,
                format!(
                    "Codex cli_version {version:?} is newer than the rollouts retrace knows \
                     (up to {}.{}): read as the newest known layout",
                    NEWEST_KNOWN.0, NEWEST_KNOWN.1
                ),
            ));
        }
    } else {
        ev.place = Place::Aside;
    }
    let name = if own {
        "session"
    } else {
        "forked from session"
    };
    let shown = without(payload, &["base_instructions", "instructions"]);
    Mapped::new("message", name, None, Some(shown))
}

/// A response item: a message, reasoning, a tool call or a tool's output.
fn response_item(payload: &Value, p_type: &str, ev: &mut Event) -> Mapped {
    let call_id = str_of(payload, "call_id").map(|s| Cow::Owned(s.to_string()));
    match p_type {
        "message" => {
            let role = str_of(payload, "role").unwrap_or("unknown");
            let text = payload.get("content").and_then(content_text);
            match role {
                "assistant" => {
                    ev.place = Place::Model;
                    let output = text.map(|t| json!({"text": t}));
                    Mapped::new("llm_call", "assistant", None, output)
                }
                "user" if !text.as_deref().is_some_and(is_harness_context) => {
                    ev.place = Place::Turn;
                    Mapped::new("message", "user", text.map(Value::String), None)
                }
                _ => {
                    ev.place = Place::Input;
                    let name = if role == "user" { "context" } else { role };
                    Mapped::new("message", name, None, text.map(Value::String))
                }
            }
        }
        "reasoning" => {
            ev.place = Place::Model;
            let summary = payload.get("summary").and_then(content_text);
            Mapped::new("llm_call", "reasoning", None, summary.map(Value::String))
        }
        output if output.ends_with("_call_output") => {
            ev.place = Place::Input;
            ev.parent = call_id;
            let output = payload.get("output").map(|o| match o {
                Value::String(s) => parse_embedded(s),
                other => other.clone(),
            });
            ev.error = output.as_ref().and_then(outcome::output_error);
            ev.status = Some(if ev.error.is_some() {
                Status::Error
            } else {
                Status::Ok
            });
            Mapped::new("tool_result", "output", None, output)
        }
        call if call.ends_with("_call") => {
            ev.place = Place::Call;
            ev.id = call_id.or(str_of(payload, "id").map(|s| Cow::Owned(s.to_string())));
            let args = payload
                .get("arguments")
                .or(payload.get("input"))
                .or(payload.get("action"))
                .map(|a| match a {
                    Value::String(s) => parse_embedded(s),
                    other => other.clone(),
                });
            if matches!(str_of(payload, "status"), Some("failed" | "incomplete")) {
                ev.status = Some(Status::Error);
                ev.error = Some(StepError {
                    code: str_of(payload, "status").map(str::to_owned),
                    ..StepError::default()
                });
            }
            let name = str_of(payload, "name").unwrap_or(call.trim_end_matches("_call"));
            Mapped::new("tool_call", name, args, None)
        }
        other => {
            ev.place = Place::Aside;
            let name = if other.is_empty() {
                "response_item"
            } else {
                other
            };
            Mapped::new("other", name, None, Some(payload.clone()))
        }
    }
}

/// An `event_msg` that says something the response items do not.
fn event(payload: &Value, p_type: &str, ev: &mut Event) -> Mapped {
    let call_id: Option<Cow<'static, str>> =
        str_of(payload, "call_id").map(|s| Cow::Owned(s.to_string()));
    match p_type {
        "turn_aborted" => {
            ev.place = Place::Abort;
            ev.status = Some(Status::Error);
            ev.error = Some(StepError {
                code: Some("turn_aborted".into()),
                message: str_of(payload, "reason").map(str::to_owned),
                ..StepError::default()
            });
            Mapped::new("error", "turn_aborted", None, None)
        }
        "exec_command_end" => {
            ended(ev, outcome::exec_end_error(payload), call_id);
            let shown = without(payload, &["stdout", "stderr", "formatted_output"]);
            Mapped::new("other", p_type, None, Some(shown))
        }
        "patch_apply_end" => {
            ended(ev, outcome::patch_end_error(payload), call_id);
            Mapped::new("other", p_type, None, Some(payload.clone()))
        }
        kind if kind.contains("error") => {
            ev.place = Place::Input;
            ev.status = Some(Status::Error);
            ev.error = Some(StepError {
                message: str_of(payload, "message").map(str::to_owned),
                ..StepError::default()
            });
            Mapped::new("error", kind, None, None)
        }
        other => {
            ev.place = Place::Aside;
            ev.parent = call_id;
            Mapped::new("other", other, None, Some(payload.clone()))
        }
    }
}

/// The end of a command or patch: under its call, failed or not.
fn ended(ev: &mut Event, error: Option<StepError>, call_id: Option<Cow<'static, str>>) {
    ev.place = if call_id.is_some() {
        Place::Given
    } else {
        Place::Aside
    };
    ev.parent = call_id;
    ev.status = Some(if error.is_some() {
        Status::Error
    } else {
        Status::Ok
    });
    ev.error = error;
}

/// Text Codex puts in a user message itself, not typed by the user: the environment
/// context, AGENTS.md and other instructions, each wholly wrapped in one tag, or the
/// AGENTS.md heading.
fn is_harness_context(text: &str) -> bool {
    let text = text.trim();
    if text.starts_with("# AGENTS.md instructions for ") {
        return true;
    }
    let Some(rest) = text.strip_prefix('<') else {
        return false;
    };
    let Some(end) = rest.find('>') else {
        return false;
    };
    let tag = &rest[..end];
    !tag.is_empty()
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == ' ')
        && text.ends_with(&format!("</{tag}>"))
}

/// Whether a `cli_version` is one of those studied (an unparsable one is not).
fn is_known_version(version: &str) -> bool {
    let mut parts = version.split(['.', '-']).map(str::parse::<u64>);
    match (parts.next(), parts.next()) {
        (Some(Ok(major)), Some(Ok(minor))) => (major, minor) <= NEWEST_KNOWN,
        _ => false,
    }
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

fn is_uuid(s: &str) -> bool {
    s.len() == 36 && s.chars().filter(|c| *c == '-').count() == 4
}

/// The session id: the UUID that ends a rollout file's name, else the whole stem.
fn session_id(stem: &str) -> String {
    let tail = stem.len().saturating_sub(36);
    match stem.get(tail..) {
        Some(id) if is_uuid(id) => id.to_string(),
        _ => stem.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn harness_context_is_told_from_requests() {
        for context in [
            "<environment_context>\n  <cwd>/x</cwd>\n</environment_context>",
            "<user_instructions>be brief</user_instructions>",
            "# AGENTS.md instructions for /repo\n\n<INSTRUCTIONS>x</INSTRUCTIONS>",
        ] {
            assert!(is_harness_context(context), "{context}");
        }
        for request in [
            "fix the failing test",
            "<b>bold</b> is what I want in the header",
            "<not closed",
        ] {
            assert!(!is_harness_context(request), "{request}");
        }
    }

    #[test]
    fn versions_newer_than_the_studied_ones_are_unknown() {
        assert!(is_known_version("0.104.0-alpha.1"));
        assert!(is_known_version("0.1.2505161800"));
        assert!(!is_known_version("0.131.0"));
        assert!(!is_known_version("1.0.0"));
        assert!(!is_known_version("dev"));
    }
}
