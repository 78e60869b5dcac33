//! tau-bench trajectories: a JSON array of trials `{task_id, trial, reward, info, traj}`.
//! Each trial is a run labelled with its task, trial and reward (success when the reward
//! is 1); the trajectory's messages become steps: system and user messages, assistant
//! turns as model calls, each proposed tool call as a `tool_call`, and tool messages as
//! `tool_result`s paired with their call by order (tool call ids repeat in real files).

use std::borrow::Cow;
use std::collections::{BTreeMap, VecDeque};

use serde_json::{json, Value};

use super::json::{content_text, parse_embedded, str_of, without, StepRecord};
use super::scan::array_elements;
use super::{Context, Event, PartProblem};
use crate::model::{Outcome, Status, StepError};

/// Parses a whole document (an array of trials) or, when reading a step back, one trial.
pub fn parse<'a>(
    text: &'a str,
    ctx: &Context,
    with_records: bool,
    out: &mut Vec<Event<'a>>,
    problems: &mut Vec<PartProblem>,
) -> Result<(), String> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') {
        let trial: Value =
            serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
        return map_trial(&trial, ctx, with_records, None, out);
    }
    let elements = array_elements(text)
        .map_err(|e| format!("not a tau-bench array: {} at byte {}", e.what, e.at + 1))?;
    for (start, len) in elements {
        let part = &text[start..start + len];
        let trial = match serde_json::from_str::<Value>(part) {
            Ok(v) => v,
            Err(e) => {
                problems.push((start, format!("trial is not valid JSON: {e}")));
                continue;
            }
        };
        if let Err(reason) = map_trial(&trial, ctx, with_records, Some((start, len)), out) {
            problems.push((start, reason));
        }
    }
    Ok(())
}

/// True when `v` looks like a tau-bench trial.
pub fn is_trial(v: &Value) -> bool {
    v.get("traj").is_some_and(Value::is_array) && v.get("task_id").is_some()
}

fn map_trial<'a>(
    trial: &Value,
    ctx: &Context,
    with_records: bool,
    span: Option<(usize, usize)>,
    out: &mut Vec<Event<'a>>,
) -> Result<(), String> {
    if !is_trial(trial) {
        return Err("not a tau-bench trial: needs \"task_id\" and a \"traj\" array".into());
    }
    let task = id_text(&trial["task_id"]);
    let number = trial
        .get("trial")
        .map(id_text)
        .unwrap_or_else(|| "0".into());
    let reward = trial.get("reward").and_then(Value::as_f64);
    let run_id = format!("{}/task-{task}/trial-{number}", ctx.file_stem);
    let mut labels = BTreeMap::from([
        ("task_id".to_string(), task.clone()),
        ("trial".to_string(), number.clone()),
    ]);
    if let Some(r) = reward {
        labels.insert("reward".into(), r.to_string());
    }
    if let Some(user) = trial.pointer("/info/task/user_id").and_then(Value::as_str) {
        labels.insert("user_id".into(), user.to_string());
    }
    let first = out.len();
    let new = |kind: &str, id: String, parent: Option<String>| Event {
        run_id: Cow::Owned(run_id.clone()),
        kind: Cow::Owned(kind.to_string()),
        id: Some(Cow::Owned(id)),
        parent: parent.map(Cow::Owned),
        span,
        ..Event::default()
    };

    let mut start = new("run_start", "start".into(), None);
    start.name = Some(Cow::Owned(format!("task {task}")));
    start.describes_run = true;
    start.agent = Some(Cow::Owned(ctx.file_stem.to_string()));
    start.labels = Some(labels);
    if with_records {
        let instruction = trial.pointer("/info/task/instruction").cloned();
        start.record = Some(
            StepRecord {
                kind: "run_start".into(),
                input: instruction,
                meta: Some(without(trial, &["traj"])),
                ..StepRecord::default()
            }
            .into_value(),
        );
    }
    out.push(start);

    let mut previous = "start".to_string();
    // Calls waiting for their result, oldest first: (tool_call_id, step id).
    let mut pending: VecDeque<(String, String)> = VecDeque::new();
    for (i, msg) in trial["traj"].as_array().into_iter().flatten().enumerate() {
        let role = str_of(msg, "role").unwrap_or("unknown");
        let id = format!("m{i}");
        match role {
            "assistant" => {
                let calls: &[Value] = msg
                    .get("tool_calls")
                    .and_then(Value::as_array)
                    .map_or(&[], Vec::as_slice);
                let mut ev = new("llm_call", id.clone(), Some(previous.clone()));
                ev.name = Some(Cow::Borrowed("assistant"));
                if with_records {
                    let proposed: Vec<Value> = calls.iter().map(proposed_call).collect();
                    let mut output = serde_json::Map::new();
                    if let Some(text) = msg.get("content").and_then(content_text) {
                        output.insert("text".into(), Value::String(text));
                    }
                    if !proposed.is_empty() {
                        output.insert("tool_calls".into(), Value::Array(proposed));
                    }
                    ev.record = Some(
                        StepRecord {
                            kind: "llm_call".into(),
                            output: Some(Value::Object(output)),
                            meta: Some(without(msg, &["content", "tool_calls"])),
                            ..StepRecord::default()
                        }
                        .into_value(),
                    );
                }
                out.push(ev);
                for (j, call) in calls.iter().enumerate() {
                    let call_id = format!("m{i}.c{j}");
                    let mut ev = new("tool_call", call_id.clone(), Some(id.clone()));
                    let proposed = proposed_call(call);
                    ev.name = str_of(&proposed, "name").map(|n| Cow::Owned(n.to_string()));
                    if with_records {
                        ev.record = Some(
                            StepRecord {
                                kind: "tool_call".into(),
                                name: str_of(&proposed, "name").map(str::to_owned),
                                input: proposed.get("args").cloned(),
                                meta: Some(without(call, &["function"])),
                                ..StepRecord::default()
                            }
                            .into_value(),
                        );
                    }
                    out.push(ev);
                    let wire_id = str_of(call, "id").unwrap_or_default().to_string();
                    pending.push_back((wire_id, call_id));
                }
                previous = id;
            }
            "tool" => {
                let wire_id = str_of(msg, "tool_call_id").unwrap_or_default();
                // The first waiting call with this id, else the oldest waiting call.
                let at = pending
                    .iter()
                    .position(|(w, _)| w == wire_id)
                    .or(if pending.is_empty() { None } else { Some(0) });
                let call = at.and_then(|at| pending.remove(at)).map(|(_, step)| step);
                let mut ev = new(
                    "tool_result",
                    id.clone(),
                    call.or_else(|| Some(previous.clone())),
                );
                ev.name = str_of(msg, "name").map(|n| Cow::Owned(n.to_string()));
                let content = msg
                    .get("content")
                    .and_then(content_text)
                    .unwrap_or_default();
                // The tau-bench environment reports failures as text starting "Error".
                if content.starts_with("Error") {
                    ev.status = Some(Status::Error);
                    ev.error = Some(StepError {
                        message: Some(content.clone()),
                        ..StepError::default()
                    });
                } else {
                    ev.status = Some(Status::Ok);
                }
                if with_records {
                    ev.record = Some(
                        StepRecord {
                            kind: "tool_result".into(),
                            name: str_of(msg, "name").map(str::to_owned),
                            output: Some(parse_embedded(&content)),
                            status: ev.status,
                            error: ev.error.clone(),
                            meta: Some(without(msg, &["content"])),
                            ..StepRecord::default()
                        }
                        .into_value(),
                    );
                }
                out.push(ev);
                previous = id;
            }
            role => {
                let mut ev = new("message", id.clone(), Some(previous.clone()));
                ev.name = Some(Cow::Owned(role.to_string()));
                if with_records {
                    ev.record = Some(
                        StepRecord {
                            kind: "message".into(),
                            name: Some(role.to_string()),
                            output: msg.get("content").cloned(),
                            meta: Some(without(msg, &["content"])),
                            ..StepRecord::default()
                        }
                        .into_value(),
                    );
                }
                out.push(ev);
                previous = id;
            }
        }
    }

    let mut end = new("run_end", "end".into(), Some(previous));
    let success = reward.is_some_and(|r| r >= 1.0 - 1e-9);
    end.outcome = Some(if success {
        Outcome::Success
    } else {
        Outcome::Failure
    });
    if !success {
        end.error = Some(StepError {
            message: Some(format!(
                "reward {}",
                reward.map_or("missing".into(), |r| r.to_string())
            )),
            ..StepError::default()
        });
    }
    if with_records {
        end.record = Some(
            StepRecord {
                kind: "run_end".into(),
                outcome: Some(if success { "success" } else { "failure" }),
                output: trial.pointer("/info/reward_info").cloned(),
                error: end.error.clone(),
                ..StepRecord::default()
            }
            .into_value(),
        );
    }
    out.push(end);
    for (sub, ev) in out[first..].iter_mut().enumerate() {
        ev.sub = sub as u32;
    }
    Ok(())
}

/// `{name, args}` of an OpenAI-style tool call, its JSON-string arguments parsed.
fn proposed_call(call: &Value) -> Value {
    let name = call
        .pointer("/function/name")
        .cloned()
        .unwrap_or(Value::Null);
    let args = match call.pointer("/function/arguments") {
        Some(Value::String(s)) => parse_embedded(s),
        Some(other) => other.clone(),
        None => Value::Null,
    };
    json!({"name": name, "args": args})
}

fn id_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
