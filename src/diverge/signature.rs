//! One run seen as behaviour: per step a signature for the aligner (kind, tool or purpose,
//! normalised arguments, the tool calls a model call proposed, a result's status and
//! shape), where each value the run used was copied from (its provenance), and which call
//! each tool result answers. Built once per run, in step order.

use std::borrow::Cow;
use std::collections::VecDeque;

use rustc_hash::FxHashMap;
use serde_json::Value;

use crate::describe::proposed_calls;

use super::align::Sig;
use super::normalize::{
    identifier_tokens, identity_hash, is_prose, is_traceable, is_volatile_key, key_hash, norm_hash,
    num_hash, object_hash, shape_hash, string_identity, tag, H,
};
use crate::model::{Step, StepKind};

/// Whether the two runs were started by the same input: decides how strictly values that
/// were not copied from anywhere are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InputMode {
    /// The triggers are equal (ids and other volatile fields aside): every argument value
    /// is compared as it is.
    SameInput,
    /// The triggers differ: values copied from the trigger or from earlier results are
    /// compared by where they came from, other strings and numbers by their type only.
    DifferentInput,
}

/// Where a value was first seen in a run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Source {
    /// Position of the step it was seen in.
    pub pos: u32,
    /// Hash of the place: the trigger, or the n-th result of a tool, or the n-th message
    /// of a role, plus the path inside it. Equal across runs for "the same place".
    pub origin: u64,
}

/// Values the run had seen (its trigger, tool results and incoming messages), by their
/// literal identity, each with the first place it appeared.
#[derive(Default)]
pub(crate) struct Provenance {
    first: FxHashMap<u64, Source>,
}

impl Provenance {
    /// Where `identity` was seen before step `before`, if it was.
    pub fn lookup(&self, identity: u64, before: u32) -> Option<Source> {
        self.first
            .get(&identity)
            .copied()
            .filter(|s| s.pos < before)
    }

    /// Where `v` (a value used at step `before`) was copied from, if it is worth tracing.
    #[cfg(test)]
    pub fn source_of(&self, v: &Value, before: u32) -> Option<Source> {
        if !is_traceable(v) {
            return None;
        }
        self.lookup(identity_hash(v), before)
    }

    fn add(&mut self, pos: u32, origin: u64, v: &Value) -> u64 {
        let identity = match v {
            Value::Array(items) => {
                let mut h = H::new(tag::ARR);
                for (i, x) in items.iter().enumerate() {
                    let o = H::new(tag::ARR).u64(origin).u64(i as u64).finish();
                    h = h.u64(self.add(pos, o, x));
                }
                h.finish()
            }
            Value::Object(map) => {
                let mut entries = Vec::with_capacity(map.len());
                for (k, x) in map.iter().filter(|(k, _)| !is_volatile_key(k)) {
                    let o = H::new(tag::OBJ).u64(origin).str(k).finish();
                    entries.push((key_hash(k), self.add(pos, o, x)));
                }
                object_hash(entries.into_iter())
            }
            Value::String(s) => {
                if s.contains(char::is_whitespace) {
                    for (n, token) in identifier_tokens(s).enumerate() {
                        let o = H::new(tag::TEXT).u64(origin).u64(n as u64).finish();
                        self.first
                            .entry(string_identity(token))
                            .or_insert(Source { pos, origin: o });
                    }
                }
                string_identity(s)
            }
            other => identity_hash(other),
        };
        if is_traceable(v) {
            self.first.entry(identity).or_insert(Source { pos, origin });
        }
        identity
    }
}

/// A tool call a model call proposed.
pub(crate) struct Proposal<'s> {
    pub name: Cow<'s, str>,
    pub args: Cow<'s, Value>,
}

/// Roles whose messages come into the agent (from a user, the system, the environment)
/// rather than from it.
pub(crate) fn is_input_role(name: Option<&str>) -> bool {
    let Some(name) = name else { return false };
    let n = name.to_ascii_lowercase();
    matches!(
        n.as_str(),
        "user"
            | "human"
            | "system"
            | "developer"
            | "customer"
            | "environment"
            | "tool"
            | "function"
            | "observation"
    )
}

/// One run, analysed.
pub(crate) struct Analysis<'s> {
    pub steps: &'s [Step],
    pub sigs: Vec<Sig>,
    pub prov: Provenance,
    /// For each tool result, the position of the call it answers.
    pub call_of: Vec<Option<u32>>,
    /// For each model call, the tool calls it proposed.
    pub proposals: Vec<Vec<Proposal<'s>>>,
    /// Steps whose arguments hold prose, which the signature leaves out.
    pub prose: Vec<bool>,
    /// Per step, the normalised hash of its data: a call's arguments (timestamps kept),
    /// a result's output (timestamps normalised); 0 for other steps.
    pub data: Vec<u64>,
    pub mode: InputMode,
}

use crate::describe::trigger;

/// Decides the input mode of a pair of runs from their triggers.
pub(crate) fn input_mode(a: &[Step], b: &[Step]) -> InputMode {
    let same = match (trigger(a), trigger(b)) {
        (Some(x), Some(y)) => norm_hash(x, false) == norm_hash(y, false),
        (None, None) => true,
        _ => false,
    };
    if same {
        InputMode::SameInput
    } else {
        InputMode::DifferentInput
    }
}

/// The tool calls in a model call's output (see [`crate::describe::proposed_calls`]).
pub(crate) fn proposals_of(step: &Step) -> Vec<Proposal<'_>> {
    let Some(out) = step.field("output") else {
        return Vec::new();
    };
    proposed_calls(out)
        .into_iter()
        .map(|(name, args)| Proposal {
            name: Cow::Borrowed(name),
            args,
        })
        .collect()
}

/// The text a model call or message produced.
pub(crate) fn text_of(step: &Step) -> String {
    let v = step.field("output").or_else(|| step.field("input"));
    match v {
        None => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Object(o)) => match o.get("text").or_else(|| o.get("content")) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(blocks)) => blocks_text(blocks),
            Some(other) => other.to_string(),
            None => String::new(),
        },
        Some(Value::Array(blocks)) => blocks_text(blocks),
        Some(other) => other.to_string(),
    }
}

fn blocks_text(blocks: &[Value]) -> String {
    blocks
        .iter()
        .filter_map(|b| b.get("text").and_then(Value::as_str).or_else(|| b.as_str()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The error label of a step: its code, else its normalised message.
pub(crate) fn error_label(step: &Step) -> Option<String> {
    let e = step.error.as_ref()?;
    Some(match &e.code {
        Some(c) => c.clone(),
        None => super::normalize::normalize_str(e.label(), true).into_owned(),
    })
}

pub(crate) fn is_input_step(step: &Step) -> bool {
    match step.kind {
        StepKind::RunStart => true,
        StepKind::Message => is_input_role(step.name.as_deref()),
        _ => false,
    }
}

/// The prefix of an effect's target that names the kind of thing changed
/// (`stripe:refunds/re_1` → `stripe:refunds`, `smtp://mail.example.com` as is).
pub(crate) fn target_kind(target: &str) -> &str {
    if let Some(rest) = target.find("://") {
        let after = &target[rest + 3..];
        return match after.find('/') {
            Some(slash) => &target[..rest + 3 + slash],
            None => target,
        };
    }
    match target.find('/') {
        Some(slash) => &target[..slash],
        None => target,
    }
}

impl<'s> Analysis<'s> {
    pub fn new(steps: &'s [Step], mode: InputMode) -> Analysis<'s> {
        let n = steps.len();
        let mut this = Analysis {
            steps,
            sigs: Vec::with_capacity(n),
            prov: Provenance::default(),
            call_of: vec![None; n],
            proposals: Vec::with_capacity(n),
            prose: Vec::with_capacity(n),
            data: Vec::with_capacity(n),
            mode,
        };
        let mut calls_by_id: FxHashMap<&str, u32> = FxHashMap::default();
        let mut pending: FxHashMap<&str, VecDeque<u32>> = FxHashMap::default();
        let mut results_seen: FxHashMap<&str, u64> = FxHashMap::default();
        let mut messages_seen: FxHashMap<&str, u64> = FxHashMap::default();
        for (pos, step) in steps.iter().enumerate() {
            let pos32 = pos as u32;
            let mut proposals = if step.kind == StepKind::LlmCall {
                proposals_of(step)
            } else {
                Vec::new()
            };
            if proposals.len() > 1 {
                // Calls proposed together are compared in any order: tool, then arguments.
                proposals
                    .sort_by_cached_key(|p| (p.name.to_string(), this.arg_hash(&p.args, pos32).1));
            }
            if step.kind == StepKind::ToolResult {
                this.call_of[pos] = pair_result(step, steps, &calls_by_id, &mut pending);
            }
            let sig = this.signature(pos, &proposals);
            this.sigs.push(sig);
            let prose = match step.kind {
                StepKind::ToolCall | StepKind::Effect => {
                    step.field("input").is_some_and(contains_prose)
                }
                StepKind::LlmCall => proposals.iter().any(|p| contains_prose(&p.args)),
                _ => false,
            };
            this.prose.push(prose);
            this.data.push(match step.kind {
                StepKind::ToolCall => norm_hash(step.field("input").unwrap_or(&Value::Null), false),
                StepKind::ToolResult => {
                    norm_hash(step.field("output").unwrap_or(&Value::Null), true)
                }
                _ => 0,
            });
            this.proposals.push(proposals);
            match step.kind {
                StepKind::ToolCall => {
                    calls_by_id.insert(step.id.as_str(), pos32);
                    pending
                        .entry(step.name.as_deref().unwrap_or(""))
                        .or_default()
                        .push_back(pos32);
                }
                StepKind::RunStart => {
                    if let Some(input) = step.field("input") {
                        let origin = H::new(tag::REF).str("trigger").finish();
                        this.prov.add(pos32, origin, input);
                    }
                }
                StepKind::ToolResult => {
                    let name = this.result_name(pos);
                    let nth = results_seen.entry(name).or_default();
                    let origin = H::new(tag::REF).str("result").str(name).u64(*nth).finish();
                    *nth += 1;
                    if let Some(out) = step.field("output") {
                        this.prov.add(pos32, origin, out);
                    }
                }
                StepKind::Message if is_input_role(step.name.as_deref()) => {
                    let role = step.name.as_deref().unwrap_or("");
                    let nth = messages_seen.entry(role).or_default();
                    let origin = H::new(tag::REF).str("message").str(role).u64(*nth).finish();
                    *nth += 1;
                    for key in ["input", "output"] {
                        if let Some(v) = step.field(key) {
                            this.prov
                                .add(pos32, H::new(tag::OBJ).u64(origin).str(key).finish(), v);
                        }
                    }
                }
                _ => {}
            }
        }
        this
    }

    /// The tool a result belongs to: its own name, else its call's.
    pub fn result_name(&self, pos: usize) -> &'s str {
        let step = &self.steps[pos];
        if let Some(n) = step.name.as_deref() {
            return n;
        }
        self.call_of[pos]
            .and_then(|c| self.steps[c as usize].name.as_deref())
            .unwrap_or("")
    }

    fn signature(&self, pos: usize, proposals: &[Proposal]) -> Sig {
        let step = &self.steps[pos];
        let name = match step.kind {
            StepKind::ToolResult => {
                let own = step.name.as_deref();
                own.or_else(|| {
                    self.call_of[pos].and_then(|c| self.steps[c as usize].name.as_deref())
                })
            }
            _ => step.name.as_deref(),
        };
        let kind_tag = match step.kind {
            StepKind::Other => step.kind_name.as_str(),
            k => k.as_str(),
        };
        let coarse_h = H::new(tag::OBJ).str(kind_tag).opt_str(name);
        let coarse = coarse_h.finish();
        let before = pos as u32;
        let is_error = step.is_error();
        let fine = match step.kind {
            StepKind::RunStart => coarse,
            StepKind::LlmCall => {
                let mut h = coarse_h.clone().u64(proposals.len() as u64);
                if proposals.is_empty() {
                    h = h.u8(tag::TEXT);
                }
                for p in proposals {
                    h = h.str(&p.name).u64(self.arg_hash(&p.args, before).1);
                }
                h.u8(is_error as u8).finish()
            }
            StepKind::ToolCall => {
                let args = step.field("input").unwrap_or(&Value::Null);
                coarse_h.clone().u64(self.arg_hash(args, before).1).finish()
            }
            StepKind::ToolResult | StepKind::Error => {
                let mut h = coarse_h.clone().u8(is_error as u8);
                if is_error {
                    h = h.opt_str(error_label(step).as_deref());
                } else if let Some(out) = step.field("output") {
                    h = h.u64(shape_hash(out));
                }
                h.finish()
            }
            StepKind::Decision => {
                let chosen = step.field("chosen").unwrap_or(&Value::Null);
                coarse_h.clone().u64(norm_hash(chosen, true)).finish()
            }
            StepKind::Effect => {
                let action = step.str_field("action");
                let target = step.str_field("target").map(|t| match self.mode {
                    InputMode::SameInput => super::normalize::normalize_str(t, true),
                    InputMode::DifferentInput => Cow::Borrowed(target_kind(t)),
                });
                let input = step.field("input").unwrap_or(&Value::Null);
                coarse_h
                    .clone()
                    .opt_str(action)
                    .opt_str(target.as_deref())
                    .u8(is_error as u8)
                    .u64(self.arg_hash(input, before).1)
                    .finish()
            }
            StepKind::Message => {
                let input = is_input_role(name);
                coarse_h
                    .clone()
                    .u8(if input { tag::REF } else { tag::TEXT })
                    .finish()
            }
            StepKind::RunEnd => coarse_h.clone().opt_str(step.str_field("outcome")).finish(),
            StepKind::Other => coarse_h.clone().u8(is_error as u8).finish(),
        };
        // Free text is compared by word overlap on the aligned rows, not in the signature.
        let weak = match step.kind {
            StepKind::LlmCall => proposals.is_empty(),
            StepKind::Message => !is_input_role(name),
            _ => false,
        };
        Sig {
            class: step.kind as u8,
            coarse,
            fine,
            weak,
        }
    }

    /// `(identity, behaviour)` hashes of an argument value used at step `before`.
    /// Behaviour: with the same input, the normalised value itself (prose reduced to
    /// "some text"); with different inputs, where the value was copied from, or else only
    /// its type.
    pub fn arg_hash(&self, v: &Value, before: u32) -> (u64, u64) {
        let strict = self.mode == InputMode::SameInput;
        let (identity, structural) = match v {
            Value::Null | Value::Bool(_) => {
                let h = identity_hash(v);
                (h, h)
            }
            Value::Number(n) => {
                let id = H::new(tag::NUM).u64(num_hash(n)).finish();
                (
                    id,
                    if strict {
                        id
                    } else {
                        H::new(tag::NUM).finish()
                    },
                )
            }
            Value::String(s) => {
                let id = string_identity(s);
                let b = if is_prose(s) {
                    H::new(tag::TEXT).finish()
                } else if strict {
                    H::new(tag::STR)
                        .str(&super::normalize::normalize_str(s, false))
                        .finish()
                } else {
                    H::new(tag::STR).finish()
                };
                (id, b)
            }
            Value::Array(items) => {
                let mut id = H::new(tag::ARR);
                let mut b = H::new(tag::ARR);
                for (i, x) in items.iter().enumerate() {
                    let (xi, xb) = self.arg_hash(x, before);
                    id = id.u64(xi);
                    if strict || i == 0 {
                        b = b.u64(xb);
                    }
                }
                (id.finish(), b.finish())
            }
            Value::Object(map) => {
                let mut ids = Vec::with_capacity(map.len());
                let mut bs = Vec::with_capacity(map.len());
                for (k, x) in map.iter().filter(|(k, _)| !is_volatile_key(k)) {
                    let (xi, xb) = self.arg_hash(x, before);
                    let kh = key_hash(k);
                    ids.push((kh, xi));
                    bs.push((kh, xb));
                }
                (object_hash(ids.into_iter()), object_hash(bs.into_iter()))
            }
        };
        if !strict && is_traceable(v) {
            if let Some(src) = self.prov.lookup(identity, before) {
                return (identity, H::new(tag::REF).u64(src.origin).finish());
            }
        }
        (identity, structural)
    }

    /// The normalised hash of the arguments of the call a result answers (timestamps kept:
    /// a different `since` is a different question).
    pub fn call_args_hash(&self, result_pos: usize) -> Option<u64> {
        let call = self.call_of[result_pos]? as usize;
        Some(self.data[call])
    }

    pub fn status_is_error(&self, pos: usize) -> bool {
        let s = &self.steps[pos];
        s.is_error()
    }
}

fn contains_prose(v: &Value) -> bool {
    match v {
        Value::String(s) => is_prose(s),
        Value::Array(items) => items.iter().any(contains_prose),
        Value::Object(map) => map.values().any(contains_prose),
        _ => false,
    }
}

/// Finds the call a tool result answers: its `parent` when that is a tool call, else the
/// oldest unanswered call of the same tool.
fn pair_result<'s>(
    step: &'s Step,
    steps: &'s [Step],
    calls_by_id: &FxHashMap<&'s str, u32>,
    pending: &mut FxHashMap<&'s str, VecDeque<u32>>,
) -> Option<u32> {
    if let Some(&c) = step.parent.as_deref().and_then(|p| calls_by_id.get(p)) {
        let name = steps[c as usize].name.as_deref().unwrap_or("");
        if let Some(q) = pending.get_mut(name) {
            q.retain(|&x| x != c);
        }
        return Some(c);
    }
    let name = step.name.as_deref().unwrap_or("");
    if let Some(q) = pending.get_mut(name) {
        if let Some(c) = q.pop_front() {
            return Some(c);
        }
    }
    if step.name.is_none() {
        // No name: the oldest unanswered call of any tool.
        let (name, _) = pending
            .iter()
            .filter_map(|(n, q)| q.front().map(|&c| (*n, c)))
            .min_by_key(|&(_, c)| c)?;
        return pending.get_mut(name)?.pop_front();
    }
    None
}

/// The path (`.records[2].Email`) of the first node inside `v` whose identity is
/// `identity`, or of a word of a text (`.text ~ "HAT052"`).
pub(crate) fn find_path(v: &Value, identity: u64) -> Option<String> {
    fn walk(v: &Value, identity: u64, path: &mut String) -> bool {
        if is_traceable(v) && identity_hash(v) == identity {
            return true;
        }
        match v {
            Value::Array(items) => {
                for (i, x) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    if walk(x, identity, path) {
                        return true;
                    }
                    path.truncate(len);
                }
                false
            }
            Value::Object(map) => {
                for (k, x) in map.iter().filter(|(k, _)| !is_volatile_key(k)) {
                    let len = path.len();
                    path.push('.');
                    path.push_str(k);
                    if walk(x, identity, path) {
                        return true;
                    }
                    path.truncate(len);
                }
                false
            }
            Value::String(s) if s.contains(char::is_whitespace) => {
                if let Some(t) = identifier_tokens(s).find(|t| string_identity(t) == identity) {
                    path.push_str(&format!(" (the word {t:?})"));
                    return true;
                }
                false
            }
            _ => false,
        }
    }
    let mut path = String::new();
    walk(v, identity, &mut path).then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Status;
    use serde_json::json;

    fn step(pos: u32, record: Value) -> Step {
        let kind = StepKind::parse(record["kind"].as_str().unwrap());
        Step {
            step: pos,
            id: record
                .get("id")
                .and_then(Value::as_str)
                .map_or(pos.to_string(), str::to_owned),
            parent: record
                .get("parent")
                .and_then(Value::as_str)
                .map(str::to_owned),
            kind,
            kind_name: record["kind"].as_str().unwrap().to_string(),
            name: record
                .get("name")
                .and_then(Value::as_str)
                .map(str::to_owned),
            status: match record.get("status").and_then(Value::as_str) {
                Some("error") => Status::Error,
                Some("ok") => Status::Ok,
                _ => Status::Unset,
            },
            error: None,
            ts: None,
            duration_ms: None,
            record,
        }
    }

    #[test]
    fn copied_values_are_traced_to_their_source() {
        let steps = vec![
            step(
                0,
                json!({"kind": "run_start", "input": {"account": "acct_north", "note": "please look at HAT052 today"}}),
            ),
            step(
                1,
                json!({"kind": "tool_call", "name": "get_usage", "input": {"account": "acct_north"}}),
            ),
            step(
                2,
                json!({"kind": "tool_result", "name": "get_usage", "output": {"lines": [{"sku": "seats", "amount": "290.00"}]}}),
            ),
            step(
                3,
                json!({"kind": "tool_call", "name": "create", "input": {"lines": [{"sku": "seats", "amount": "290.00"}], "flight": "HAT052"}}),
            ),
        ];
        let a = Analysis::new(&steps, InputMode::DifferentInput);
        let lines = &steps[3].record["input"]["lines"];
        let src = a
            .prov
            .source_of(lines, 3)
            .expect("lines come from get_usage");
        assert_eq!(src.pos, 2);
        let path = find_path(steps[2].field("output").unwrap(), identity_hash(lines));
        assert_eq!(path.as_deref(), Some(".lines"));
        let flight = &steps[3].record["input"]["flight"];
        let src = a
            .prov
            .source_of(flight, 3)
            .expect("the flight is a word of the trigger");
        assert_eq!(src.pos, 0);
        // Not visible before it was seen.
        assert!(a.prov.source_of(lines, 2).is_none());
    }

    #[test]
    fn results_pair_with_their_calls_by_parent_then_by_order() {
        let steps = vec![
            step(0, json!({"kind": "tool_call", "id": "c1", "name": "t"})),
            step(1, json!({"kind": "tool_call", "id": "c2", "name": "t"})),
            step(
                2,
                json!({"kind": "tool_result", "parent": "c2", "name": "t"}),
            ),
            step(3, json!({"kind": "tool_result", "name": "t"})),
        ];
        let a = Analysis::new(&steps, InputMode::SameInput);
        assert_eq!(a.call_of[2], Some(1));
        assert_eq!(a.call_of[3], Some(0));
    }

    #[test]
    fn target_kind_keeps_the_resource_type() {
        assert_eq!(target_kind("stripe:refunds/re_1"), "stripe:refunds");
        assert_eq!(
            target_kind("smtp://mail.example.com"),
            "smtp://mail.example.com"
        );
        assert_eq!(target_kind("git://host/repo/x"), "git://host");
        assert_eq!(target_kind("db:orders"), "db:orders");
    }
}
