//! Claude Code session transcripts (JSON Lines under `~/.claude/projects/`). A session
//! (`sessionId`) is a run; each line's content blocks become steps (see `blocks`): the
//! session's first request is its trigger, assistant text and thinking are model calls,
//! `tool_use` blocks tool calls, `tool_result` blocks their results (errors whatever their
//! shape). System records (compaction boundaries, API errors, local commands), hook
//! progress, summaries and record types not known here are steps of their own; an
//! interrupted turn cancels the run unless a later request carries the session on (the
//! index decides, in file order: see [`Place::Abort`]). How lines link into a tree is in `links`. Lines
//! without a session that hold nothing (`file-history-snapshot`) add no steps.

mod blocks;
mod links;

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::json::{content_text, owned, rfc3339_of, str_of, without, StepRecord};
use super::{Context, Event, PartProblem, Place, SumsUp, TokenCount};
use crate::model::{count_of, Status, StepError, Tokens};
use blocks::{block_step, text_block, Link, UserText};
use links::{agent_name, alias, link_blocks, prompt_name, LineLinks};

/// Record types known to hold no step.
const PASSED_OVER: [&str; 1] = ["file-history-snapshot"];
/// Record types read by their known fields; any other type is kept whole.
const KNOWN: [&str; 6] = [
    "user",
    "assistant",
    "system",
    "summary",
    "progress",
    "queue-operation",
];
/// The newest Claude Code release (major, minor) whose transcripts this reader was
/// checked with; later ones are read as far as their records are known, and said so.
const NEWEST_SEEN: (u64, u64) = (2, 1);

pub fn parse_line<'a>(
    line: &'a str,
    ctx: &Context,
    with_records: bool,
    out: &mut Vec<Event<'a>>,
    problems: &mut Vec<PartProblem>,
) -> Result<(), String> {
    let v: Value = serde_json::from_str(line).map_err(|e| format!("not valid JSON: {e}"))?;
    if !v.is_object() {
        return Err("not a JSON object".into());
    }
    let line_type = str_of(&v, "type").unwrap_or("unknown");
    // Summaries and records of unknown types may lack a session: they belong to the
    // session of their file, which Claude Code names by the session id.
    let session = match str_of(&v, "sessionId") {
        Some(s) => s,
        None if PASSED_OVER.contains(&line_type) => return Ok(()),
        None if ctx.file_stem.is_empty() => "claude-code-session",
        None => ctx.file_stem,
    };
    if let Some(note) = version_note(&v) {
        problems.push((super::FILE_NOTE, note));
    }
    let uuid = str_of(&v, "uuid");
    let sidechain = v.get("isSidechain").and_then(Value::as_bool) == Some(true);
    let agent_id = str_of(&v, "agentId");
    let message = v.get("message");
    let model = message
        .and_then(|m| str_of(m, "model"))
        .filter(|m| !m.starts_with('<'));
    let usage = message.and_then(|m| m.get("usage"));
    let tokens = usage.and_then(usage_tokens);
    // Every line of a streamed message repeats its usage, the output count growing: the
    // run counts each message once, at its largest figures.
    let usage_key = message
        .and_then(|m| str_of(m, "id"))
        .or(str_of(&v, "requestId"))
        .or(uuid)
        .map(super::usage_key);

    // A compaction boundary starts a new chain: it follows from its logical parent.
    let mut parent = str_of(&v, "parentUuid")
        .or(str_of(&v, "logicalParentUuid"))
        .map(str::to_owned);
    // A summary names the last message of the conversation it sums up, often one of
    // another session (Claude Code writes the summaries it has into the session file it
    // starts): the index finds where that message is.
    let mut sums_up = match (line_type, str_of(&v, "leafUuid"), v.get("summary")) {
        ("summary", Some(leaf), Some(text)) => content_text(text).map(|text| SumsUp {
            leaf: Cow::Owned(leaf.to_string()),
            text: Cow::Owned(text),
        }),
        _ => None,
    };
    let mut aliases = Vec::new();
    let mut steps: Vec<(StepRecord, Link)> = Vec::new();
    let mut request: Option<usize> = None;
    // Interruptions and requests of the main conversation, by step: an interruption
    // cancels the run unless a later request carries the session on.
    let mut places: Vec<Place> = Vec::new();
    match (line_type, message.and_then(|m| m.get("content"))) {
        ("user" | "assistant", Some(content)) => {
            let blocks: Vec<Value> = match content {
                Value::Array(blocks) => blocks.clone(),
                other => vec![text_block(other)],
            };
            for block in &blocks {
                let text = str_of(block, "text")
                    .map(str::to_owned)
                    .or_else(|| block.get("content").and_then(content_text));
                let what = text.as_deref().map(|t| UserText::classify(&v, t));
                let main_user = line_type == "user" && !sidechain;
                let asks = str_of(block, "type") == Some("text") && what == Some(UserText::Request);
                places.push(match what {
                    Some(UserText::Interrupted) if main_user => Place::Abort,
                    Some(UserText::Request) if main_user && asks => Place::Resume,
                    _ => Place::Given,
                });
                if main_user && asks && request.is_none() {
                    request = Some(steps.len());
                }
                // The call that launched a sub-agent is named by the prompt it gave.
                if let (Some(id), Some(prompt)) = (
                    str_of(block, "id"),
                    block.pointer("/input/prompt").and_then(Value::as_str),
                ) {
                    aliases.push(alias(prompt_name(prompt), id.to_string(), false));
                }
                steps.push(block_step(&v, line_type, model, block));
            }
            // A sidechain starts under the call that launched its agent: named by the
            // agent id when the session's records give it, else by the prompt.
            if sidechain && parent.is_none() {
                let prompt = content_text(content).map(|p| prompt_name(&p));
                parent = match (agent_id, prompt) {
                    (Some(agent), Some(prompt)) => {
                        aliases.push(alias(agent_name(agent), prompt, true));
                        Some(agent_name(agent))
                    }
                    (Some(agent), None) => Some(agent_name(agent)),
                    (None, prompt) => prompt,
                };
            }
            // A result naming the sub-agent that produced it names the call that launched it.
            let answered = content
                .as_array()
                .and_then(|b| b.iter().find_map(|b| str_of(b, "tool_use_id")));
            if let (Some(agent), Some(call)) = (
                v.pointer("/toolUseResult/agentId").and_then(Value::as_str),
                answered,
            ) {
                aliases.push(alias(agent_name(agent), call.to_string(), false));
            }
        }
        _ => {
            if let (Some(agent), Some(call)) = (
                v.pointer("/data/agentId").and_then(Value::as_str),
                str_of(&v, "parentToolUseID"),
            ) {
                aliases.push(alias(agent_name(agent), call.to_string(), false));
            }
            steps.push((record_step(&v, line_type), Link::Chain));
            places.push(Place::Given);
        }
    }

    let ts = rfc3339_of(&v, "timestamp");
    let (records, step_links): (Vec<StepRecord>, Vec<Link>) = steps.into_iter().unzip();
    let linked = link_blocks(
        &LineLinks {
            uuid,
            parent,
            message: (line_type == "assistant")
                .then(|| message.and_then(|m| str_of(m, "id")))
                .flatten(),
        },
        &step_links,
    );
    aliases.extend(linked.aliases);
    // A record of a type not known here is its step's output already.
    let meta = (with_records && KNOWN.contains(&line_type)).then(|| without(&v, &["message"]));
    let first = out.len();
    for (k, (mut record, (id, step_parent))) in records
        .into_iter()
        .zip(linked.ids.into_iter().zip(linked.parents))
        .enumerate()
    {
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
            may_trigger: request == Some(k),
            place: places.get(k).copied().unwrap_or_default(),
            ..Event::default()
        };
        if k == 0 {
            ev.aliases = std::mem::take(&mut aliases);
            // What a summary may name: messages of the main conversation.
            ev.record_id = uuid
                .filter(|_| !sidechain)
                .map(|u| Cow::Owned(u.to_string()));
            ev.sums_up = sums_up.take();
        }
        ev.labels = Some(labels(&v, session, model));
        if with_records {
            record.model = model.map(str::to_owned);
            record.tokens = tokens.map(|t| shown_tokens(t, usage));
            record.meta = meta.clone();
            ev.record = Some(record.into_value());
        }
        out.push(ev);
    }
    for (sub, ev) in out[first..].iter_mut().enumerate() {
        ev.sub = sub as u32;
    }
    Ok(())
}

/// The step of a line that is no user or assistant message.
fn record_step(v: &Value, line_type: &str) -> StepRecord {
    let step = |kind: &str, name: String, output: Option<Value>| StepRecord {
        kind: kind.to_string(),
        name: Some(name),
        output,
        ..StepRecord::default()
    };
    match line_type {
        "progress" => step(
            "progress",
            v.pointer("/data/type")
                .and_then(Value::as_str)
                .unwrap_or("progress")
                .to_string(),
            v.get("data").cloned(),
        ),
        "system" => {
            let subtype = str_of(v, "subtype").unwrap_or("system");
            let output = match (v.get("content"), v.get("compactMetadata")) {
                (Some(c), Some(m)) => Some(json!({"content": c, "compactMetadata": m})),
                (c, m) => c.or(m).cloned(),
            };
            let mut record = step("message", subtype.to_string(), output);
            // API errors and other failures the session reports as system records.
            let failed = str_of(v, "level") == Some("error") || subtype.contains("error");
            if failed {
                record.status = Some(Status::Error);
                record.error = Some(system_error(v));
            }
            record
        }
        "summary" => step("message", "summary".into(), v.get("summary").cloned()),
        known if KNOWN.contains(&known) => step(
            line_type,
            line_type.to_string(),
            v.get("data").or(v.get("content")).cloned(),
        ),
        // A record type not known here: kept whole.
        other => step(other, other.to_string(), Some(v.clone())),
    }
}

/// The error of a system record that reports one: its code and message where given.
fn system_error(v: &Value) -> StepError {
    let error = v.get("error");
    let text = |x: Option<&Value>| -> Option<String> {
        match x? {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    };
    let message = error
        .and_then(|e| e.pointer("/error/message").or(e.get("message")))
        .and_then(|m| text(Some(m)))
        .or_else(|| text(v.get("content")))
        .or_else(|| text(error));
    let code = error
        .and_then(|e| {
            e.get("status")
                .or(e.pointer("/error/type"))
                .or(e.get("type"))
        })
        .and_then(|c| text(Some(c)));
    StepError {
        code,
        message: message.map(|m| m.chars().take(500).collect()),
        ..StepError::default()
    }
}

fn labels(v: &Value, session: &str, model: Option<&str>) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::from([("session_id".to_string(), session.to_string())]);
    for (label, key) in [
        ("cwd", "cwd"),
        ("version", "version"),
        ("git_branch", "gitBranch"),
    ] {
        if let Some(value) = str_of(v, key) {
            labels.insert(label.to_string(), value.to_string());
        }
    }
    if let Some(m) = model {
        labels.insert("model".into(), m.to_string());
    }
    // The session's name given by `/rename` (`custom-title`), or by the model (`ai-title`).
    for (key, label) in [("customTitle", "title"), ("aiTitle", "ai_title")] {
        if let Some(title) = str_of(v, key) {
            labels.insert(label.to_string(), title.to_string());
        }
    }
    labels
}

/// A version later than those this reader was checked with (or not a version at all):
/// what to say about it, once per file.
fn version_note(v: &Value) -> Option<String> {
    let version = str_of(v, "version")?;
    let mut parts = version.split('.').map(|p| p.parse::<u64>());
    let seen = match (parts.next(), parts.next()) {
        (Some(Ok(major)), Some(Ok(minor))) => (major, minor) <= NEWEST_SEEN,
        _ => false,
    };
    (!seen).then(|| {
        format!(
            "Claude Code version {version} is not one this reader was checked with (up to {}.{}.x): read as far as its records are known",
            NEWEST_SEEN.0, NEWEST_SEEN.1
        )
    })
}

/// The usage as a step record shows it: with cache reads and writes beside.
fn shown_tokens(t: Tokens, usage: Option<&Value>) -> Value {
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
