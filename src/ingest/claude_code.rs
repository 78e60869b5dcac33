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
    // Per step, how it links to the others (see `Link`).
    let mut links: Vec<Link> = Vec::new();
    match (line_type, message.and_then(|m| m.get("content"))) {
        ("user" | "assistant", Some(content)) => {
            let blocks: Vec<Value> = match content {
                Value::Array(blocks) => blocks.clone(),
                other => vec![json!({"type": "text", "text": other})],
            };
            let several = blocks.len() > 1;
            for block in &blocks {
                let block_type = str_of(block, "type").unwrap_or("unknown");
                links.push(match block_type {
                    "tool_use" => Link::Call(str_of(block, "id").map(str::to_owned)),
                    // Results given together each hang under their own call, by its id.
                    "tool_result" if several => {
                        Link::Answers(str_of(block, "tool_use_id").map(str::to_owned))
                    }
                    "thinking" | "text" if line_type == "assistant" => Link::ModelCall,
                    _ => Link::Chain,
                });
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
            links.push(Link::Chain);
        }
    }

    let ts = rfc3339_of(&v, "timestamp");
    let first = out.len();
    debug_assert_eq!(links.len(), steps.len(), "one link per step");
    let (ids, parents) = link_blocks(uuid.as_deref(), parent.as_deref(), &links);
    for (mut record, (id, step_parent)) in steps.into_iter().zip(ids.into_iter().zip(parents)) {
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

/// How one block of a line links to the others.
enum Link {
    /// A model's text or thinking: the model call the line's tool calls hang under.
    ModelCall,
    /// A `tool_use`, with its id.
    Call(Option<String>),
    /// A `tool_result` given together with others, with the id of the call it answers.
    Answers(Option<String>),
    /// Anything else: follows the block before it.
    Chain,
}

/// Ids and parents of a line's steps. The first keeps the line's `uuid` (other lines point
/// at it) and its `parentUuid`. Several tool calls of one message are siblings under the
/// model call before them in the line (else under the line's parent), each known by its
/// `tool_use` id; results given together hang under their calls by that id; other blocks
/// follow the one before.
fn link_blocks(
    uuid: Option<&str>,
    parent: Option<&str>,
    links: &[Link],
) -> (Vec<Option<String>>, Vec<Option<String>>) {
    let mut ids: Vec<Option<String>> = Vec::with_capacity(links.len());
    let mut parents = Vec::with_capacity(links.len());
    let mut model_call: Option<String> = None;
    for (k, link) in links.iter().enumerate() {
        let id = match (uuid, k, link) {
            (None, _, _) => None,
            (Some(u), 0, _) => Some(u.to_string()),
            (Some(_), _, Link::Call(Some(block_id))) => Some(block_id.clone()),
            (Some(u), _, _) => Some(format!("{u}#{k}")),
        };
        let step_parent = match (k, link) {
            (_, Link::Call(_)) if k > 0 => model_call.clone().or(parent.map(str::to_owned)),
            (_, Link::Answers(Some(call))) => Some(call.clone()),
            (0, _) => parent.map(str::to_owned),
            _ => ids[k - 1].clone().or(parent.map(str::to_owned)),
        };
        if matches!(link, Link::ModelCall) {
            model_call = id.clone();
        }
        ids.push(id);
        parents.push(step_parent);
    }
    (ids, parents)
}
