//! Claude Code session transcripts (JSON Lines under `~/.claude/projects/`). A session
//! (`sessionId`) is a run; each line's content blocks become steps: user text, assistant
//! text and thinking (model calls), `tool_use` (tool calls) and `tool_result` (results,
//! errors when `is_error`). `parentUuid` links the tree; sub-agent (sidechain) files carry
//! the same session id and appear as their own subtree. Lines without a session
//! (`file-history-snapshot`) hold no steps.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::json::{content_text, owned, rfc3339_of, str_of, without, StepRecord};
use super::{Event, TokenCount};
use crate::model::{count_of, Status, StepError, Tokens};

pub fn parse_line<'a>(
    line: &'a str,
    with_records: bool,
    out: &mut Vec<Event<'a>>,
) -> Result<(), String> {
    let v: Value = serde_json::from_str(line).map_err(|e| format!("not valid JSON: {e}"))?;
    if !v.is_object() {
        return Err("not a JSON object".into());
    }
    let Some(session) = str_of(&v, "sessionId") else {
        return Ok(());
    };
    let line_type = str_of(&v, "type").unwrap_or("unknown");
    let uuid = str_of(&v, "uuid").map(str::to_owned);
    let sidechain = v
        .get("isSidechain")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let agent_id = str_of(&v, "agentId");
    // A sidechain's first line has no parent: hang it under a node named for its agent.
    let parent = str_of(&v, "parentUuid")
        .map(str::to_owned)
        .or_else(|| sidechain.then(|| format!("agent-{}", agent_id.unwrap_or("sidechain"))));
    let message = v.get("message");
    let model = message
        .and_then(|m| str_of(m, "model"))
        .filter(|m| !m.starts_with('<'));
    let meta = without(&v, &["message"]);
    let usage = message.and_then(|m| m.get("usage"));
    let tokens = usage.and_then(usage_tokens);
    // Every line of a streamed message repeats its usage, the output count growing: the
    // run counts each message once, at its largest figures.
    let usage_key = message
        .and_then(|m| str_of(m, "id"))
        .or(str_of(&v, "requestId"))
        .or(uuid.as_deref())
        .map(super::usage_key);

    // One record per step of this line; model, tokens and meta are added below.
    let step = |kind: &str, name: String, input: Option<Value>, output: Option<Value>| StepRecord {
        kind: kind.to_string(),
        name: Some(name),
        input,
        output,
        ..StepRecord::default()
    };
    let mut steps: Vec<StepRecord> = Vec::new();
    match (line_type, message.and_then(|m| m.get("content"))) {
        ("user" | "assistant", Some(content)) => {
            let blocks: Vec<Value> = match content {
                Value::Array(blocks) => blocks.clone(),
                other => vec![json!({"type": "text", "text": other})],
            };
            for block in &blocks {
                let block_type = str_of(block, "type").unwrap_or("unknown");
                steps.push(match (line_type, block_type) {
                    (_, "tool_use") => step(
                        "tool_call",
                        str_of(block, "name").unwrap_or("tool").to_string(),
                        block.get("input").cloned(),
                        None,
                    ),
                    (_, "tool_result") => {
                        let failed = block
                            .get("is_error")
                            .and_then(Value::as_bool)
                            .unwrap_or(false);
                        let text = block.get("content").and_then(content_text);
                        StepRecord {
                            status: Some(if failed { Status::Error } else { Status::Ok }),
                            error: failed.then(|| StepError {
                                message: text.map(|t| t.chars().take(500).collect()),
                                ..StepError::default()
                            }),
                            ..step(
                                "tool_result",
                                "tool_result".into(),
                                None,
                                block.get("content").cloned(),
                            )
                        }
                    }
                    ("assistant", "thinking") => step(
                        "llm_call",
                        "thinking".into(),
                        None,
                        Some(without(block, &["signature"])),
                    ),
                    ("assistant", "text") => step(
                        "llm_call",
                        model.unwrap_or("assistant").to_string(),
                        None,
                        Some(without(block, &["signature"])),
                    ),
                    (_, "text") => step(
                        "message",
                        line_type.to_string(),
                        None,
                        block.get("text").cloned(),
                    ),
                    (_, other) => step(
                        "message",
                        format!("{line_type} {other}"),
                        None,
                        Some(block.clone()),
                    ),
                });
            }
        }
        _ => {
            let name = match line_type {
                "progress" => v
                    .pointer("/data/type")
                    .and_then(Value::as_str)
                    .unwrap_or("progress")
                    .to_string(),
                "system" => str_of(&v, "subtype").unwrap_or("system").to_string(),
                other => other.to_string(),
            };
            let kind = if line_type == "system" {
                "message"
            } else {
                line_type
            };
            steps.push(step(
                kind,
                name,
                None,
                v.get("data").or(v.get("content")).cloned(),
            ));
        }
    }

    let ts = rfc3339_of(&v, "timestamp");
    let first = out.len();
    let count = steps.len();
    for (k, mut record) in steps.into_iter().enumerate() {
        let id = match (&uuid, count) {
            (Some(u), 1) => Some(u.clone()),
            (Some(u), _) => Some(if k == 0 {
                u.clone()
            } else {
                format!("{u}#{k}")
            }),
            (None, _) => None,
        };
        let step_parent = match (k, &uuid) {
            (0, _) | (_, None) => parent.clone(),
            (1, Some(u)) => Some(u.clone()),
            (_, Some(u)) => Some(format!("{u}#{}", k - 1)),
        };
        if sidechain {
            record.name = record
                .name
                .map(|n| format!("[{}] {n}", agent_id.unwrap_or("agent")));
        }
        let mut ev = Event {
            run_id: Cow::Owned(session.to_string()),
            kind: Cow::Owned(record.kind.clone()),
            id: id.map(Cow::Owned),
            parent: step_parent.map(Cow::Owned),
            name: record.name.clone().map(Cow::Owned),
            status: Some(record.status.unwrap_or(Status::Unset)),
            error: record.error.clone(),
            ts,
            model: model.map(|m| Cow::Owned(m.to_string())),
            describes_run: true,
            agent: Some(Cow::Borrowed("claude-code")),
            agent_version: owned(&v, "version"),
            tokens,
            tokens_count: usage_key.map_or(TokenCount::Add, TokenCount::Once),
            ..Event::default()
        };
        let mut labels = BTreeMap::from([("session_id".to_string(), session.to_string())]);
        for (label, key) in [
            ("cwd", "cwd"),
            ("version", "version"),
            ("git_branch", "gitBranch"),
        ] {
            if let Some(value) = str_of(&v, key) {
                labels.insert(label.to_string(), value.to_string());
            }
        }
        if let Some(m) = model {
            labels.insert("model".into(), m.to_string());
        }
        ev.labels = Some(labels);
        if with_records {
            record.model = model.map(str::to_owned);
            record.tokens = tokens.map(|t| {
                let mut shown = json!({"input": t.input, "output": t.output});
                for (key, name) in [
                    ("cache_read_input_tokens", "cache_read"),
                    ("cache_creation_input_tokens", "cache_creation"),
                ] {
                    if let Some(n) = usage.and_then(|u| u.get(key)).and_then(count_of) {
                        shown[name] = n.into();
                    }
                }
                shown
            });
            record.meta = Some(meta.clone());
            ev.record = Some(record.into_value());
        }
        out.push(ev);
    }
    for (sub, ev) in out[first..].iter_mut().enumerate() {
        ev.sub = sub as u32;
    }
    Ok(())
}

/// An Anthropic `usage` record as tokens: input counts the cache reads and writes too (all
/// the prompt the model read), output the tokens it wrote.
fn usage_tokens(usage: &Value) -> Option<Tokens> {
    let count = |k: &str| usage.get(k).and_then(count_of);
    let output = count("output_tokens");
    let inputs = [
        count("input_tokens"),
        count("cache_creation_input_tokens"),
        count("cache_read_input_tokens"),
    ];
    if output.is_none() && inputs.iter().all(Option::is_none) {
        return None;
    }
    Some(Tokens {
        input: inputs.iter().flatten().sum(),
        output: output.unwrap_or(0),
    })
}
