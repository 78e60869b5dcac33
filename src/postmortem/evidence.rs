//! What the rest of the history says about a failing run: the runs like it that
//! succeeded (peers), what each run was configured with (version, model, prompt), whether
//! the failing call succeeded elsewhere, and which other runs failed the same way around
//! the same time. Read from the index summaries where possible; peers' steps are loaded.

use serde_json::Value;

use super::vocab;
use crate::diverge::TASK_LABELS;
use crate::index::{History, RunRef};
use crate::model::{Outcome, Status, Step, StepKind};

/// At most this many successful runs (the closest in time) are read as peers.
const MAX_PEERS: usize = 40;

/// Other runs failing the same way count when they fail this close in time (24 h).
pub(crate) const WINDOW_MS: i64 = 24 * 3600 * 1000;

/// A successful run like the failing one, with its steps.
pub(crate) struct Peer<'h> {
    pub run: RunRef<'h>,
    pub steps: Vec<Step>,
}

fn same_kind_of_work(a: &RunRef, b: &RunRef) -> bool {
    let same_agent = a.agent().is_some() && a.agent() == b.agent();
    let tasks: Vec<(&str, &str)> = a
        .labels()
        .iter()
        .filter(|(k, _)| TASK_LABELS.contains(k))
        .collect();
    let same_task = !tasks.is_empty() && tasks.iter().all(|(k, v)| b.label(k) == Some(*v));
    same_agent || same_task
}

/// The successful runs of the same agent or task, closest in time first.
pub(crate) fn peers<'h>(
    history: &'h History,
    run: &RunRef<'h>,
) -> Result<Vec<Peer<'h>>, crate::Error> {
    let when = run.started_at();
    let mut runs: Vec<RunRef<'h>> = history
        .runs()
        .filter(|r| r.index() != run.index() && r.outcome() == Outcome::Success)
        .filter(|r| same_kind_of_work(run, r))
        .collect();
    runs.sort_by_key(|r| match (when, r.started_at()) {
        (Some(a), Some(b)) => (a - b).unsigned_abs(),
        _ => u64::MAX,
    });
    runs.truncate(MAX_PEERS);
    runs.into_iter()
        .map(|r| {
            Ok(Peer {
                steps: r.load_steps()?,
                run: r,
            })
        })
        .collect()
}

/// What a run was configured with: the things that change an agent's behaviour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Config {
    pub agent_version: Option<String>,
    pub model: Option<String>,
    /// A prompt revision, version or id declared in `meta`, `labels` or the record.
    pub prompt_rev: Option<String>,
    /// The words of the system prompt (numbers and ids left out, so templated values do
    /// not count as a change), and the step it was first seen at.
    pub system_prompt: Option<(Vec<String>, u32)>,
}

fn prompt_key(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    k.contains("prompt")
        && ["rev", "version", "id", "hash", "sha", "tag", "name"]
            .iter()
            .any(|s| k.contains(s))
}

fn find_prompt_rev(v: &Value) -> Option<String> {
    let o = v.as_object()?;
    for (k, x) in o {
        if prompt_key(k) {
            if let Some(s) = x.as_str() {
                return Some(s.to_string());
            }
            if x.is_number() {
                return Some(x.to_string());
            }
        }
    }
    ["meta", "labels", "metadata", "attributes"]
        .iter()
        .find_map(|k| o.get(*k).and_then(find_prompt_rev))
}

fn system_text(input: &Value) -> Option<String> {
    if let Some(s) = input
        .get("system")
        .or_else(|| input.get("instructions"))
        .or_else(|| input.get("system_prompt"))
    {
        return Some(crate::describe::text_of(s));
    }
    input
        .get("messages")?
        .as_array()?
        .iter()
        .find(|m| m.get("role").and_then(Value::as_str) == Some("system"))
        .and_then(|m| m.get("content"))
        .map(crate::describe::text_of)
}

impl Config {
    pub(crate) fn of(run: &RunRef, steps: &[Step]) -> Config {
        let mut prompt_rev = None;
        let mut system_prompt = None;
        let mut model = run.model().map(str::to_string);
        for s in steps {
            if !matches!(s.kind, StepKind::RunStart | StepKind::LlmCall) {
                continue;
            }
            if prompt_rev.is_none() {
                prompt_rev = find_prompt_rev(&s.record);
            }
            if s.kind == StepKind::LlmCall {
                if model.is_none() {
                    model = s.str_field("model").map(str::to_string);
                }
                if system_prompt.is_none() {
                    if let Some(text) = s.field("input").and_then(system_text) {
                        let mut words: Vec<String> = vocab::words(&text)
                            .into_iter()
                            .filter(|w| !w.chars().any(|c| c.is_ascii_digit()))
                            .collect();
                        words.sort();
                        words.dedup();
                        system_prompt = Some((words, s.step));
                    }
                }
            }
        }
        Config {
            agent_version: run.agent_version().map(str::to_string),
            model,
            prompt_rev,
            system_prompt,
        }
    }

    /// What differs from `other`, as readable phrases, and the step of this run where
    /// the change shows first (the system prompt's model call, else the start).
    pub(crate) fn changes(&self, other: &Config) -> (Vec<String>, u32) {
        let mut out = Vec::new();
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".into());
        if self.agent_version != other.agent_version {
            out.push(format!(
                "agent_version {} (was {})",
                show(&self.agent_version),
                show(&other.agent_version)
            ));
        }
        if self.model != other.model {
            out.push(format!(
                "model {} (was {})",
                show(&self.model),
                show(&other.model)
            ));
        }
        if self.prompt_rev != other.prompt_rev {
            out.push(format!(
                "prompt revision {} (was {})",
                show(&self.prompt_rev),
                show(&other.prompt_rev)
            ));
        }
        let mut at = 0;
        if let (Some((a, step)), Some((b, _))) = (&self.system_prompt, &other.system_prompt) {
            if word_overlap(a, b) < PROMPT_SAME {
                out.push("system prompt text".to_string());
                at = *step;
            }
        }
        (out, at)
    }
}

/// System prompts sharing less of their words than this (Jaccard) have changed.
const PROMPT_SAME: f64 = 0.85;

/// Jaccard overlap of two sorted, deduplicated word lists.
fn word_overlap(a: &[String], b: &[String]) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let common = a.iter().filter(|w| b.binary_search(w).is_ok()).count();
    common as f64 / (a.len() + b.len() - common) as f64
}

/// Successful results of tool `name` in other runs: how many before `before` (epoch ms)
/// and after, with the latest one before and the first one after.
pub(crate) struct CallRecord {
    pub before: usize,
    pub after: usize,
    pub last_before: Option<(String, u32)>,
    pub first_after: Option<(String, u32, i64)>,
}

pub(crate) fn call_record(history: &History, run: &RunRef, name: &str, at: i64) -> CallRecord {
    let mut rec = CallRecord {
        before: 0,
        after: 0,
        last_before: None,
        first_after: None,
    };
    let mut last_ts = i64::MIN;
    for r in history.runs().filter(|r| r.index() != run.index()) {
        for s in r.steps() {
            if s.kind != StepKind::ToolResult || s.name != Some(name) || s.status == Status::Error {
                continue;
            }
            let ts = s.ts.or(r.started_at()).unwrap_or(i64::MIN);
            if ts <= at {
                rec.before += 1;
                if ts >= last_ts {
                    last_ts = ts;
                    rec.last_before = Some((r.id().to_string(), s.step));
                }
            } else {
                rec.after += 1;
                if rec.first_after.as_ref().map_or(true, |f| ts < f.2) {
                    rec.first_after = Some((r.id().to_string(), s.step, ts));
                }
            }
        }
    }
    rec
}

/// A step of another run that failed the same way.
#[derive(Debug, Clone)]
pub(crate) struct SameFailure {
    pub run_id: String,
    pub agent: Option<String>,
    pub step: u32,
    pub label: String,
    pub ts: Option<i64>,
}

/// Other runs whose steps failed with the same error (code or message), or at the same
/// tool with an error of the same class, within [`WINDOW_MS`] of `at`. One per run.
pub(crate) fn failing_the_same_way(
    history: &History,
    run: &RunRef,
    tool: Option<&str>,
    label: &str,
    at: Option<i64>,
) -> Vec<SameFailure> {
    let class = vocab::dominant(label).map(|d| d.0);
    let mut out = Vec::new();
    for r in history.runs().filter(|r| r.index() != run.index()) {
        let hit = r.steps().find(|s| {
            let Some(err) = s.error else { return false };
            let close = match (at, s.ts.or(r.started_at())) {
                (Some(a), Some(b)) => (a - b).abs() <= WINDOW_MS,
                _ => true,
            };
            let same = err == label
                || (tool.is_some()
                    && s.name == tool
                    && class.is_some()
                    && vocab::dominant(err).map(|d| d.0) == class);
            close && same
        });
        if let Some(s) = hit {
            out.push(SameFailure {
                run_id: r.id().to_string(),
                agent: r.agent().map(str::to_string),
                step: s.step,
                label: s.error.unwrap_or("").to_string(),
                ts: s.ts,
            });
        }
    }
    out.sort_by_key(|f| f.ts);
    out
}

/// The call a tool result answers: its parent, else the closest earlier call of the same
/// tool.
pub(crate) fn call_of<'s>(steps: &'s [Step], result: &Step) -> Option<&'s Step> {
    if result.kind == StepKind::ToolCall {
        return steps.iter().find(|s| s.step == result.step);
    }
    let before = steps.iter().filter(|s| s.step < result.step);
    if let Some(p) = &result.parent {
        if let Some(c) = before
            .clone()
            .find(|s| &s.id == p && s.kind == StepKind::ToolCall)
        {
            return Some(c);
        }
    }
    let mut before = before;
    before.rfind(|s| s.kind == StepKind::ToolCall && s.name == result.name)
}

/// The whole error text of a step: code, type and message.
pub(crate) fn error_text(s: &Step) -> String {
    let mut parts = Vec::new();
    if let Some(e) = &s.error {
        parts.extend(e.code.iter().cloned());
        parts.extend(e.error_type.iter().cloned());
        parts.extend(e.message.iter().cloned());
    }
    if parts.is_empty() {
        if let Some(o) = s.field("output") {
            parts.push(crate::describe::compact(o));
        }
    }
    parts.join(" ")
}

/// Strings in `v` distinctive enough to recognise when copied elsewhere: ids, numbers
/// with letters, names of six characters or more.
pub(crate) fn distinctive_strings(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = super::values::leaves(v)
        .into_iter()
        .filter_map(|(_, x)| x.as_str())
        .filter(|s| {
            let n = s.chars().count();
            (6..=200).contains(&n)
                && s.chars().any(|c| c.is_ascii_digit())
                && crate::time::parse_rfc3339_ms(s).is_none()
        })
        .map(str::to_string)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// True when `needle` occurs in `v`'s strings.
pub(crate) fn mentions(v: &Value, needle: &str) -> bool {
    super::values::leaves(v)
        .into_iter()
        .any(|(_, x)| x.as_str().is_some_and(|s| s.contains(needle)))
}
