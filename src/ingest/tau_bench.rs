//! tau-bench results: a JSON array of trials `{task_id, trial, reward, info, traj}` (v1),
//! or a tau2-bench results object `{info, tasks, simulations}` whose simulations carry
//! `messages`, `termination_reason` and `reward_info`. Each trial or simulation is a run
//! labelled with its task, trial and reward; its messages become steps: system and user
//! messages, assistant turns as model calls, each proposed tool call (the agent's, or in
//! tau2 the simulated user's) as a `tool_call` under its message, and tool messages as
//! `tool_result`s paired with their call by id, else by order (ids repeat in real files).

use std::borrow::Cow;
use std::collections::{BTreeMap, VecDeque};

use serde_json::{json, Value};

use super::json::{content_text, parse_embedded, rfc3339_of, str_of, without, StepRecord};
use super::scan::{array_elements, scan_object};
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
    let mut info = Value::Null;
    let elements = if trimmed.starts_with('{') {
        let Some((elements, top_info)) = simulations(text)? else {
            // One trial or simulation, read back on its own.
            let trial: Value =
                serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
            return map_trial(&trial, ctx, with_records, None, &Value::Null, out);
        };
        info = top_info;
        elements
    } else {
        array_elements(text)
            .map_err(|e| format!("not a tau-bench array: {} at byte {}", e.what, e.at + 1))?
    };
    for (start, len) in elements {
        let part = &text[start..start + len];
        let trial = match serde_json::from_str::<Value>(part) {
            Ok(v) => v,
            Err(e) => {
                problems.push((start, format!("trial is not valid JSON: {e}")));
                continue;
            }
        };
        if let Err(reason) = map_trial(&trial, ctx, with_records, Some((start, len)), &info, out) {
            problems.push((start, reason));
        }
    }
    Ok(())
}

/// The spans `(start, len)` of a results document's simulations, and its `info`.
type Simulations = (Vec<(usize, usize)>, Value);

/// The spans of a tau2-bench results document's `simulations` and its `info`, or `None`
/// when the object is not one (a single trial or simulation).
fn simulations(text: &str) -> Result<Option<Simulations>, String> {
    let mut found = None;
    let mut info = Value::Null;
    scan_object(text, |m| match m.key {
        b"simulations" => found = Some(m.value),
        b"info" => info = serde_json::from_str(m.value).unwrap_or(Value::Null),
        _ => {}
    })
    .map_err(|e| format!("not a JSON object: {} at byte {}", e.what, e.at + 1))?;
    let Some(value) = found else { return Ok(None) };
    // Where the array sits in the document: spans are the document's.
    let base = value.as_ptr() as usize - text.as_ptr() as usize;
    let spans = array_elements(value).map_err(|e| {
        format!(
            "\"simulations\" is not an array: {} at byte {}",
            e.what,
            base + e.at + 1
        )
    })?;
    let spans = spans.into_iter().map(|(s, l)| (base + s, l)).collect();
    Ok(Some((spans, info)))
}

/// True when `v` looks like a tau-bench trial (v1) or a tau2-bench simulation.
pub fn is_trial(v: &Value) -> bool {
    v.get("task_id").is_some()
        && (v.get("traj").is_some_and(Value::is_array)
            || v.get("messages").is_some_and(Value::is_array))
}

/// A tau2-bench simulation's end: how it terminated and its reward. A normal stop (the
/// user or the agent ended the conversation) succeeds with reward 1; running out of
/// steps or time is a timeout; any other termination (too many errors, an invalid agent
/// message) fails, whatever the reward.
fn simulation_end(sim: &Value, reward: Option<f64>) -> (Option<Outcome>, Option<String>) {
    let reason = str_of(sim, "termination_reason").unwrap_or("");
    let normal = matches!(reason, "user_stop" | "agent_stop");
    match (normal, reward) {
        (true, Some(r)) if r >= 1.0 - 1e-9 => (Some(Outcome::Success), None),
        (true, Some(r)) => (Some(Outcome::Failure), Some(format!("reward {r}"))),
        (true, None) => (None, None),
        (false, _) => {
            let timeout = reason.contains("max_steps") || reason.contains("timeout");
            let outcome = if timeout {
                Outcome::Timeout
            } else {
                Outcome::Failure
            };
            let reward = reward.map_or(String::new(), |r| format!(", reward {r}"));
            (Some(outcome), Some(format!("terminated: {reason}{reward}")))
        }
    }
}

fn map_trial<'a>(
    trial: &Value,
    ctx: &Context,
    with_records: bool,
    span: Option<(usize, usize)>,
    info: &Value,
    out: &mut Vec<Event<'a>>,
) -> Result<(), String> {
    if !is_trial(trial) {
        return Err(
            "not a tau-bench trial: needs \"task_id\" and a \"traj\" or \"messages\" array".into(),
        );
    }
    // tau2-bench simulations carry `messages` and `reward_info`; v1 trials `traj`, `reward`.
    let v2 = trial.get("traj").is_none();
    let task = id_text(&trial["task_id"]);
    let number = match trial.get("trial").filter(|t| !t.is_null()) {
        Some(t) => id_text(t),
        None if v2 => str_of(trial, "id").unwrap_or("0").to_string(),
        None => "0".into(),
    };
    let reward = trial
        .get("reward")
        .or(trial.pointer("/reward_info/reward"))
        .and_then(Value::as_f64);
    let run_id = format!("{}/task-{task}/trial-{number}", ctx.file_stem);
    let mut labels = BTreeMap::from([
        ("task_id".to_string(), task.clone()),
        ("trial".to_string(), number.clone()),
    ]);
    if let Some(r) = reward {
        labels.insert("reward".into(), r.to_string());
    }
    for (label, value) in [
        ("user_id", trial.pointer("/info/task/user_id")),
        ("termination_reason", trial.get("termination_reason")),
        ("simulation_id", trial.get("id").filter(|_| v2)),
        ("domain", info.pointer("/environment_info/domain_name")),
        ("user_model", info.pointer("/user_info/llm")),
    ] {
        if let Some(value) = value.and_then(Value::as_str) {
            labels.insert(label.into(), value.to_string());
        }
    }
    let messages = trial
        .get("traj")
        .or(trial.get("messages"))
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    // Times only when every message has one, so that steps keep their order.
    let times: Vec<Option<i64>> = messages
        .iter()
        .map(|m| rfc3339_of(m, "timestamp"))
        .collect();
    let timed = !times.is_empty() && times.iter().all(Option::is_some);
    let at = |i: usize| if timed { times[i] } else { None };
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
    start.model = info
        .pointer("/agent_info/llm")
        .and_then(Value::as_str)
        .map(|m| Cow::Owned(m.to_string()));
    start.labels = Some(labels);
    start.ts = at(0);
    if with_records {
        // The trigger: the task's instruction (v1), else the simulated user's request.
        let instruction = trial
            .pointer("/info/task/instruction")
            .cloned()
            .or_else(|| {
                messages
                    .iter()
                    .find(|m| str_of(m, "role") == Some("user"))
                    .and_then(|m| m.get("content"))
                    .filter(|c| !c.is_null())
                    .cloned()
            });
        start.record = Some(
            StepRecord {
                kind: "run_start".into(),
                input: instruction,
                meta: Some(without(trial, &["traj", "messages"])),
                ..StepRecord::default()
            }
            .into_value(),
        );
    }
    out.push(start);

    let mut previous = "start".to_string();
    // Calls waiting for their result, oldest first: (tool_call_id, step id).
    let mut pending: VecDeque<(String, String)> = VecDeque::new();
    for (i, msg) in messages.iter().enumerate() {
        let role = str_of(msg, "role").unwrap_or("unknown");
        let id = format!("m{i}");
        let calls: &[Value] = msg
            .get("tool_calls")
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice);
        match role {
            "tool" => {
                // v1 names the call in `tool_call_id`, tau2 in `id`.
                let wire_id = str_of(msg, "tool_call_id")
                    .or(str_of(msg, "id"))
                    .unwrap_or_default();
                // The first waiting call with this id, else the oldest waiting call.
                let at_call = pending
                    .iter()
                    .position(|(w, _)| w == wire_id)
                    .or(if pending.is_empty() { None } else { Some(0) });
                let call = at_call
                    .and_then(|at| pending.remove(at))
                    .map(|(_, step)| step);
                let mut ev = new(
                    "tool_result",
                    id.clone(),
                    call.or_else(|| Some(previous.clone())),
                );
                ev.ts = at(i);
                ev.name = str_of(msg, "name").map(|n| Cow::Owned(n.to_string()));
                let content = msg
                    .get("content")
                    .and_then(content_text)
                    .unwrap_or_default();
                // tau2 marks failures with `error: true`; the v1 environment's text
                // starts "Error".
                let failed = msg.get("error").and_then(Value::as_bool).unwrap_or(false)
                    || content.starts_with("Error");
                if failed {
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
            _ => {
                let assistant = role == "assistant";
                let kind = if assistant { "llm_call" } else { "message" };
                let mut ev = new(kind, id.clone(), Some(previous.clone()));
                ev.ts = at(i);
                ev.name = Some(Cow::Owned(role.to_string()));
                if with_records {
                    let record = if assistant {
                        let proposed: Vec<Value> = calls.iter().map(proposed_call).collect();
                        let mut output = serde_json::Map::new();
                        if let Some(text) = msg.get("content").and_then(content_text) {
                            output.insert("text".into(), Value::String(text));
                        }
                        if !proposed.is_empty() {
                            output.insert("tool_calls".into(), Value::Array(proposed));
                        }
                        StepRecord {
                            kind: "llm_call".into(),
                            output: Some(Value::Object(output)),
                            meta: Some(without(msg, &["content", "tool_calls"])),
                            ..StepRecord::default()
                        }
                    } else {
                        StepRecord {
                            kind: "message".into(),
                            name: Some(role.to_string()),
                            output: msg.get("content").cloned(),
                            meta: Some(without(msg, &["content"])),
                            ..StepRecord::default()
                        }
                    };
                    ev.record = Some(record.into_value());
                }
                out.push(ev);
                // Calls proposed together are siblings under their message: the agent's
                // (a model call) or, in tau2, the simulated user's.
                for (j, call) in calls.iter().enumerate() {
                    let call_id = format!("m{i}.c{j}");
                    let mut ev = new("tool_call", call_id.clone(), Some(id.clone()));
                    ev.ts = at(i);
                    let proposed = proposed_call(call);
                    ev.name = str_of(&proposed, "name").map(|n| Cow::Owned(n.to_string()));
                    if with_records {
                        ev.record = Some(
                            StepRecord {
                                kind: "tool_call".into(),
                                name: str_of(&proposed, "name").map(str::to_owned),
                                input: proposed.get("args").cloned(),
                                meta: Some(without(call, &["function", "arguments"])),
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
        }
    }

    let mut end = new("run_end", "end".into(), Some(previous));
    end.ts = times.last().copied().flatten().filter(|_| timed);
    let (outcome, error) = if v2 {
        simulation_end(trial, reward)
    } else {
        let success = reward.is_some_and(|r| r >= 1.0 - 1e-9);
        let error = (!success).then(|| {
            format!(
                "reward {}",
                reward.map_or("missing".into(), |r| r.to_string())
            )
        });
        let outcome = if success {
            Outcome::Success
        } else {
            Outcome::Failure
        };
        (Some(outcome), error)
    };
    end.outcome = outcome;
    end.error = error.map(|message| StepError {
        message: Some(message),
        ..StepError::default()
    });
    if with_records {
        end.record = Some(
            StepRecord {
                kind: "run_end".into(),
                outcome: outcome.map(Outcome::as_str),
                output: trial
                    .pointer("/info/reward_info")
                    .or(trial.get("reward_info"))
                    .cloned(),
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

/// `{name, args}` of a tool call, OpenAI-style (`function.name`, JSON-string
/// `function.arguments`, v1) or tau2's (`name`, `arguments` object), arguments parsed.
fn proposed_call(call: &Value) -> Value {
    let name = call
        .pointer("/function/name")
        .or(call.get("name"))
        .cloned()
        .unwrap_or(Value::Null);
    let args = match call
        .pointer("/function/arguments")
        .or(call.get("arguments"))
    {
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
