//! What differs on each aligned row, and the divergence: the first row where the runs'
//! behaviour differs, with its kind and a one-line explanation naming both sides' values.
//! Input rows (the trigger, messages from a user or the system) are compared and marked,
//! but they are what the agent was given, not what it did: they are never the divergence.

use std::fmt::Write as _;

use serde_json::Value;

use super::label::{call_text, name, outcome_text, preview, proposals_text, quote, step_label};
use super::normalize::{
    identity_hash, is_prose, is_traceable, is_volatile_key, norm_hash, shape_hash, text_similarity,
    SAME_TEXT,
};
use super::signature::{
    error_label, find_path, is_input_step, target_kind, text_of, Analysis, InputMode, Source,
};
use crate::describe::truncate;
use crate::model::{Step, StepKind};

/// How an aligned row differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Another tool was called (or another effect made) at the same point.
    DifferentTool,
    /// The same tool, called with other arguments (or a model proposed it with others).
    DifferentArguments,
    /// One side failed where the other succeeded (a tool result, an effect, the run).
    ErrorVsSuccess,
    /// The same call returned other data, or failed with another error.
    DifferentResult,
    /// A step only run A has.
    ExtraStep,
    /// A step only run B has.
    MissingStep,
    /// A model call proposed other tool calls or said something else, or a decision
    /// chose another branch.
    DifferentDecision,
    /// An input row differs (the trigger, a user's message): shown, never the divergence.
    DifferentInput,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::DifferentTool => "different_tool",
            Kind::DifferentArguments => "different_arguments",
            Kind::ErrorVsSuccess => "error_vs_success",
            Kind::DifferentResult => "different_result",
            Kind::ExtraStep => "extra_step",
            Kind::MissingStep => "missing_step",
            Kind::DifferentDecision => "different_decision",
            Kind::DifferentInput => "different_input",
        }
    }

    /// A short human label.
    pub fn label(self) -> &'static str {
        match self {
            Kind::DifferentTool => "different tool chosen",
            Kind::DifferentArguments => "different arguments",
            Kind::ErrorVsSuccess => "error versus success",
            Kind::DifferentResult => "different result data",
            Kind::ExtraStep => "extra step",
            Kind::MissingStep => "missing step",
            Kind::DifferentDecision => "different model decision",
            Kind::DifferentInput => "different input",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How values are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// As they are (volatile parts aside); prose by word overlap.
    Exact { timestamps: bool },
    /// By where they were copied from; values copied from nowhere by type only.
    Provenance,
    /// Keys, types, nulls, empties and booleans only.
    Shape,
}

/// The first place two values differ.
struct ValueDiff<'v> {
    path: String,
    a: Option<&'v Value>,
    b: Option<&'v Value>,
    /// Set when the values differ by where they came from.
    sources: Option<(Option<Source>, Option<Source>)>,
    /// Lists that differ in length only.
    lengths: Option<(usize, usize)>,
}

impl<'v> ValueDiff<'v> {
    fn at(a: Option<&'v Value>, b: Option<&'v Value>) -> ValueDiff<'v> {
        ValueDiff {
            path: String::new(),
            a,
            b,
            sources: None,
            lengths: None,
        }
    }
    fn under_key(mut self, k: &str) -> Self {
        self.path = format!(".{k}{}", self.path);
        self
    }
    fn under_index(mut self, i: usize) -> Self {
        self.path = format!("[{i}]{}", self.path);
        self
    }
}

/// A pair of analysed runs, compared row by row.
pub(crate) struct Pair<'x, 's> {
    pub a: &'x Analysis<'s>,
    pub b: &'x Analysis<'s>,
}

impl<'s> Pair<'_, 's> {
    fn rule_for_args(&self) -> Rule {
        match self.a.mode {
            InputMode::SameInput => Rule::Exact { timestamps: false },
            InputMode::DifferentInput => Rule::Provenance,
        }
    }

    /// How rows `i` (in A) and `j` (in B) differ, or `None` when they did the same thing.
    pub fn verdict(&self, i: usize, j: usize) -> Option<Kind> {
        if self.a.sigs[i].fine == self.b.sigs[j].fine
            && self.signature_decides(i)
            && self.signature_decides_b(j)
        {
            return None;
        }
        self.finding(i, j, false).map(|(k, _)| k)
    }

    /// True when equal signatures already mean the same behaviour for this step of A:
    /// nothing the signature leaves out (prose, result values, messages) is compared.
    fn signature_decides(&self, i: usize) -> bool {
        match self.a.steps[i].kind {
            StepKind::Decision | StepKind::RunEnd | StepKind::Error => true,
            StepKind::RunStart => self.a.mode == InputMode::SameInput,
            StepKind::ToolCall | StepKind::Effect => !self.a.prose[i],
            StepKind::LlmCall => !self.a.proposals[i].is_empty() && !self.a.prose[i],
            StepKind::ToolResult | StepKind::Message | StepKind::Other => false,
        }
    }

    fn signature_decides_b(&self, j: usize) -> bool {
        match self.b.steps[j].kind {
            StepKind::ToolCall | StepKind::Effect | StepKind::LlmCall => !self.b.prose[j],
            _ => true,
        }
    }

    /// The verdict and a one-line explanation naming both sides' values.
    pub fn explain(&self, i: usize, j: usize) -> Option<(Kind, String)> {
        self.finding(i, j, true)
            .map(|(k, s)| (k, s.unwrap_or_default()))
    }

    fn finding(&self, i: usize, j: usize, text: bool) -> Option<(Kind, Option<String>)> {
        let (sa, sb) = (&self.a.steps[i], &self.b.steps[j]);
        let say = |f: &dyn Fn() -> String| if text { Some(f()) } else { None };
        if sa.kind != sb.kind {
            // The aligner never pairs different kinds; treat it as a decision.
            return Some((
                Kind::DifferentDecision,
                say(&|| format!("{} instead of {}", step_label(sa), step_label(sb))),
            ));
        }
        match sa.kind {
            StepKind::RunStart => {
                if self.a.mode == InputMode::SameInput {
                    return None;
                }
                let (ta, tb) = (sa.field("input"), sb.field("input"));
                let d = self.compare(ta, tb, Rule::Exact { timestamps: false }, i, j)?;
                Some((
                    Kind::DifferentInput,
                    say(&|| format!("trigger {}", self.describe(&d))),
                ))
            }
            StepKind::Message => {
                let (ta, tb) = (text_of(sa), text_of(sb));
                let role = sa.name.as_deref().unwrap_or("message");
                let sim = text_similarity(&ta, &tb);
                if sim >= SAME_TEXT {
                    return None;
                }
                let kind = if is_input_step(sa) {
                    Kind::DifferentInput
                } else {
                    Kind::DifferentDecision
                };
                Some((
                    kind,
                    say(&|| {
                        format!(
                            "{role} said {} instead of {}",
                            quote(&ta, 60),
                            quote(&tb, 60)
                        )
                    }),
                ))
            }
            StepKind::LlmCall => self.llm_finding(i, j, text),
            StepKind::ToolCall => {
                let (na, nb) = (name(sa), name(sb));
                if na != nb {
                    return Some((
                        Kind::DifferentTool,
                        say(&|| {
                            format!(
                                "calls {} instead of {}",
                                call_text(na, sa.field("input")),
                                call_text(nb, sb.field("input"))
                            )
                        }),
                    ));
                }
                let d = self.compare(
                    sa.field("input"),
                    sb.field("input"),
                    self.rule_for_args(),
                    i,
                    j,
                )?;
                Some((
                    Kind::DifferentArguments,
                    say(&|| format!("{na} called with {}", self.describe(&d))),
                ))
            }
            StepKind::ToolResult | StepKind::Error => self.result_finding(i, j, text),
            StepKind::Decision => {
                let (ca, cb) = (sa.field("chosen"), sb.field("chosen"));
                let same = match (ca, cb) {
                    (Some(x), Some(y)) => norm_hash(x, true) == norm_hash(y, true),
                    (None, None) => true,
                    _ => false,
                };
                if same && name(sa) == name(sb) {
                    return None;
                }
                Some((
                    Kind::DifferentDecision,
                    say(&|| {
                        let mut s = format!(
                            "decision {} chose {} instead of {}",
                            name(sa),
                            preview(ca, 40),
                            preview(cb, 40)
                        );
                        if let Some(r) = sa.str_field("reason") {
                            let _ = write!(s, " ({})", quote(r, 80));
                        }
                        s
                    }),
                ))
            }
            StepKind::Effect => self.effect_finding(i, j, text),
            StepKind::RunEnd => {
                let (oa, ob) = (sa.str_field("outcome"), sb.str_field("outcome"));
                if oa == ob {
                    return None;
                }
                Some((
                    Kind::ErrorVsSuccess,
                    say(&|| {
                        let err = sa
                            .error
                            .as_ref()
                            .map(|e| format!(": {}", truncate(&e.to_string(), 80)))
                            .unwrap_or_default();
                        format!(
                            "run ended {}{err} instead of {}",
                            oa.unwrap_or("without an outcome"),
                            ob.unwrap_or("without an outcome")
                        )
                    }),
                ))
            }
            StepKind::Other => {
                if sa.kind_name != sb.kind_name || sa.name != sb.name {
                    return Some((
                        Kind::DifferentTool,
                        say(&|| format!("{} instead of {}", step_label(sa), step_label(sb))),
                    ));
                }
                if sa.is_error() != sb.is_error() {
                    return Some((
                        Kind::ErrorVsSuccess,
                        say(&|| format!("{} instead of {}", step_label(sa), step_label(sb))),
                    ));
                }
                let rule = self.rule_for_args();
                if let Some(d) = self.compare(sa.field("input"), sb.field("input"), rule, i, j) {
                    return Some((
                        Kind::DifferentArguments,
                        say(&|| format!("{} with {}", step_label(sa), self.describe(&d))),
                    ));
                }
                let d = self.compare(sa.field("output"), sb.field("output"), Rule::Shape, i, j)?;
                Some((
                    Kind::DifferentResult,
                    say(&|| format!("{} returned {}", step_label(sa), self.describe(&d))),
                ))
            }
        }
    }

    fn llm_finding(&self, i: usize, j: usize, text: bool) -> Option<(Kind, Option<String>)> {
        let (sa, sb) = (&self.a.steps[i], &self.b.steps[j]);
        let (pa, pb) = (&self.a.proposals[i], &self.b.proposals[j]);
        let who = match sa.name.as_deref() {
            Some(n) => format!("model call {n}"),
            None => "model call".to_string(),
        };
        let say = |f: &dyn Fn() -> String| if text { Some(f()) } else { None };
        if sa.is_error() != sb.is_error() {
            return Some((
                Kind::ErrorVsSuccess,
                say(&|| format!("{who} {} instead of {}", outcome_text(sa), outcome_text(sb))),
            ));
        }
        match (pa.is_empty(), pb.is_empty()) {
            (true, true) => {
                let (ta, tb) = (text_of(sa), text_of(sb));
                let sim = text_similarity(&ta, &tb);
                if sim >= SAME_TEXT {
                    return None;
                }
                Some((
                    Kind::DifferentDecision,
                    say(&|| {
                        format!(
                            "{who} answered {} instead of {} (word overlap {sim:.2})",
                            quote(&ta, 60),
                            quote(&tb, 60)
                        )
                    }),
                ))
            }
            (true, false) => Some((
                Kind::DifferentDecision,
                say(&|| {
                    format!(
                        "{who} answered {} instead of calling {}",
                        quote(&text_of(sa), 60),
                        proposals_text(pb)
                    )
                }),
            )),
            (false, true) => Some((
                Kind::DifferentDecision,
                say(&|| {
                    format!(
                        "{who} called {} instead of answering {}",
                        proposals_text(pa),
                        quote(&text_of(sb), 60)
                    )
                }),
            )),
            (false, false) => {
                let names_a: Vec<&str> = pa.iter().map(|p| p.name.as_ref()).collect();
                let names_b: Vec<&str> = pb.iter().map(|p| p.name.as_ref()).collect();
                if names_a != names_b {
                    return Some((
                        Kind::DifferentDecision,
                        say(&|| {
                            format!(
                                "{who} proposed {} instead of {}",
                                proposals_text(pa),
                                proposals_text(pb)
                            )
                        }),
                    ));
                }
                let rule = self.rule_for_args();
                for (x, y) in pa.iter().zip(pb) {
                    if let Some(d) = self.compare(Some(&x.args), Some(&y.args), rule, i, j) {
                        return Some((
                            Kind::DifferentArguments,
                            say(&|| {
                                format!("{who} proposed {} with {}", x.name, self.describe(&d))
                            }),
                        ));
                    }
                }
                None
            }
        }
    }

    fn result_finding(&self, i: usize, j: usize, text: bool) -> Option<(Kind, Option<String>)> {
        let (sa, sb) = (&self.a.steps[i], &self.b.steps[j]);
        let say = |f: &dyn Fn() -> String| if text { Some(f()) } else { None };
        let (na, nb) = if sa.kind == StepKind::ToolResult {
            (self.a.result_name(i), self.b.result_name(j))
        } else {
            (name(sa), name(sb))
        };
        if na != nb {
            return Some((
                Kind::DifferentTool,
                say(&|| format!("result of {na} instead of {nb}")),
            ));
        }
        let (ea, eb) = (self.a.status_is_error(i), self.b.status_is_error(j));
        if ea != eb {
            return Some((
                Kind::ErrorVsSuccess,
                say(&|| format!("{na} {} instead of {}", outcome_text(sa), outcome_text(sb))),
            ));
        }
        if ea {
            let (la, lb) = (error_label(sa), error_label(sb));
            if la != lb {
                return Some((
                    Kind::DifferentResult,
                    say(&|| format!("{na} {} instead of {}", outcome_text(sa), outcome_text(sb))),
                ));
            }
            return None;
        }
        // Data: compared as values when both calls asked the same thing, else by shape.
        let rule = match (self.a.call_args_hash(i), self.b.call_args_hash(j)) {
            (Some(x), Some(y)) if x == y => Rule::Exact { timestamps: true },
            (None, None) if self.a.mode == InputMode::SameInput => Rule::Exact { timestamps: true },
            _ => Rule::Shape,
        };
        let same_data = match rule {
            Rule::Exact { .. } => self.a.data[i] == self.b.data[j],
            _ => self.a.sigs[i].fine == self.b.sigs[j].fine,
        };
        if same_data && sa.kind == StepKind::ToolResult {
            return None;
        }
        let d = self.compare(sa.field("output"), sb.field("output"), rule, i, j)?;
        Some((
            Kind::DifferentResult,
            say(&|| format!("{na} returned {}", self.describe(&d))),
        ))
    }

    fn effect_finding(&self, i: usize, j: usize, text: bool) -> Option<(Kind, Option<String>)> {
        let (sa, sb) = (&self.a.steps[i], &self.b.steps[j]);
        let say = |f: &dyn Fn() -> String| if text { Some(f()) } else { None };
        let what = |s: &Step| {
            format!(
                "{} {}",
                s.str_field("action").unwrap_or("change"),
                s.str_field("target").unwrap_or("?")
            )
        };
        if name(sa) != name(sb) || sa.str_field("action") != sb.str_field("action") {
            return Some((
                Kind::DifferentTool,
                say(&|| {
                    format!(
                        "effect {} ({}) instead of {} ({})",
                        name(sa),
                        what(sa),
                        name(sb),
                        what(sb)
                    )
                }),
            ));
        }
        if sa.is_error() != sb.is_error() {
            return Some((
                Kind::ErrorVsSuccess,
                say(&|| {
                    format!(
                        "effect {} {} instead of {}",
                        name(sa),
                        outcome_text(sa),
                        outcome_text(sb)
                    )
                }),
            ));
        }
        let (ta, tb) = (sa.str_field("target"), sb.str_field("target"));
        let same_target = match self.a.mode {
            InputMode::SameInput => {
                ta.map(|t| super::normalize::normalize_str(t, true))
                    == tb.map(|t| super::normalize::normalize_str(t, true))
            }
            InputMode::DifferentInput => ta.map(target_kind) == tb.map(target_kind),
        };
        if !same_target {
            return Some((
                Kind::DifferentArguments,
                say(&|| {
                    format!(
                        "effect {} on {} instead of {}",
                        name(sa),
                        what(sa),
                        what(sb)
                    )
                }),
            ));
        }
        let d = self.compare(
            sa.field("input"),
            sb.field("input"),
            self.rule_for_args(),
            i,
            j,
        )?;
        Some((
            Kind::DifferentArguments,
            say(&|| format!("effect {} with {}", name(sa), self.describe(&d))),
        ))
    }

    /// The first difference between two optional values under `rule`, `None` when they
    /// count as the same. `i` and `j` are the steps using them (for provenance).
    fn compare<'v>(
        &self,
        a: Option<&'v Value>,
        b: Option<&'v Value>,
        rule: Rule,
        i: usize,
        j: usize,
    ) -> Option<ValueDiff<'v>> {
        match (a, b) {
            (None, None) => None,
            (Some(x), Some(y)) => self.compare_values(x, y, rule, i as u32, j as u32),
            (Some(Value::Null), None) | (None, Some(Value::Null)) => None,
            _ => Some(ValueDiff::at(a, b)),
        }
    }

    fn compare_values<'v>(
        &self,
        a: &'v Value,
        b: &'v Value,
        rule: Rule,
        i: u32,
        j: u32,
    ) -> Option<ValueDiff<'v>> {
        match rule {
            Rule::Exact { timestamps } => {
                if norm_hash(a, timestamps) == norm_hash(b, timestamps) {
                    return None;
                }
            }
            Rule::Provenance => {
                if norm_hash(a, false) == norm_hash(b, false) {
                    return None;
                }
            }
            Rule::Shape => {
                if shape_hash(a) == shape_hash(b) {
                    return None;
                }
            }
        }
        let (src_a, src_b) = if rule == Rule::Provenance && is_traceable(a) && is_traceable(b) {
            (
                self.a.prov.lookup(identity_hash(a), i),
                self.b.prov.lookup(identity_hash(b), j),
            )
        } else {
            (None, None)
        };
        if let (Some(x), Some(y)) = (src_a, src_b) {
            if x.origin == y.origin {
                return None;
            }
        }
        match (a, b) {
            (Value::Object(ma), Value::Object(mb)) => {
                let mut keys: Vec<&String> = ma
                    .keys()
                    .chain(mb.keys())
                    .filter(|k| !is_volatile_key(k))
                    .collect();
                keys.sort();
                keys.dedup();
                for k in keys {
                    let d = match (ma.get(k.as_str()), mb.get(k.as_str())) {
                        (Some(x), Some(y)) => self.compare_values(x, y, rule, i, j),
                        (x, y) => Some(ValueDiff::at(x, y)),
                    };
                    if let Some(d) = d {
                        return Some(d.under_key(k));
                    }
                }
                if rule == Rule::Provenance && (src_a.is_some() || src_b.is_some()) {
                    return Some(self.source_diff(a, b, src_a, src_b));
                }
                None
            }
            (Value::Array(xa), Value::Array(xb)) => {
                if rule == Rule::Shape {
                    return match (xa.first(), xb.first()) {
                        (Some(x), Some(y)) => self
                            .compare_values(x, y, rule, i, j)
                            .map(|d| d.under_index(0)),
                        _ => Some(ValueDiff::at(Some(a), Some(b))),
                    };
                }
                for (n, (x, y)) in xa.iter().zip(xb).enumerate() {
                    if let Some(d) = self.compare_values(x, y, rule, i, j) {
                        return Some(d.under_index(n));
                    }
                }
                if xa.len() != xb.len() && rule != Rule::Provenance {
                    let mut d = ValueDiff::at(Some(a), Some(b));
                    d.lengths = Some((xa.len(), xb.len()));
                    return Some(d);
                }
                if rule == Rule::Provenance && (src_a.is_some() || src_b.is_some()) {
                    return Some(self.source_diff(a, b, src_a, src_b));
                }
                None
            }
            (Value::String(x), Value::String(y)) => match rule {
                Rule::Shape => {
                    (x.is_empty() != y.is_empty()).then(|| ValueDiff::at(Some(a), Some(b)))
                }
                Rule::Provenance => {
                    if src_a.is_none() && src_b.is_none() {
                        return None;
                    }
                    Some(self.source_diff(a, b, src_a, src_b))
                }
                Rule::Exact { .. } => {
                    if is_prose(x) && is_prose(y) && text_similarity(x, y) >= SAME_TEXT {
                        return None;
                    }
                    Some(ValueDiff::at(Some(a), Some(b)))
                }
            },
            (Value::Number(_), Value::Number(_)) => match rule {
                Rule::Shape => None,
                Rule::Provenance => {
                    if src_a.is_none() && src_b.is_none() {
                        return None;
                    }
                    Some(self.source_diff(a, b, src_a, src_b))
                }
                Rule::Exact { .. } => Some(ValueDiff::at(Some(a), Some(b))),
            },
            _ => Some(ValueDiff::at(Some(a), Some(b))),
        }
    }

    fn source_diff<'v>(
        &self,
        a: &'v Value,
        b: &'v Value,
        src_a: Option<Source>,
        src_b: Option<Source>,
    ) -> ValueDiff<'v> {
        let mut d = ValueDiff::at(Some(a), Some(b));
        d.sources = Some((src_a, src_b));
        d
    }

    /// "`.path` = A's value instead of B's value", with provenance when it is the reason.
    fn describe(&self, d: &ValueDiff) -> String {
        let path = if d.path.is_empty() {
            String::new()
        } else {
            format!("{} = ", d.path.trim_start_matches('.'))
        };
        if let Some((la, lb)) = d.lengths {
            let p = if d.path.is_empty() {
                "a list".to_string()
            } else {
                d.path.trim_start_matches('.').to_string()
            };
            return format!("{p} of {la} items instead of {lb}");
        }
        let mut s = format!("{path}{} instead of {}", preview(d.a, 48), preview(d.b, 48));
        if let Some((sa, sb)) = d.sources {
            let _ = write!(
                s,
                " ({} / {})",
                self.source_text(self.a, sa, d.a),
                self.source_text(self.b, sb, d.b)
            );
        }
        s
    }

    fn source_text(&self, run: &Analysis, src: Option<Source>, v: Option<&Value>) -> String {
        let Some(src) = src else {
            return "not copied from the input or an earlier result".into();
        };
        let step = &run.steps[src.pos as usize];
        let place = match step.kind {
            StepKind::RunStart => "the trigger".to_string(),
            StepKind::ToolResult => format!(
                "{}'s result at step {}",
                run.result_name(src.pos as usize),
                step.step
            ),
            _ => format!(
                "the {} message at step {}",
                step.name.as_deref().unwrap_or("input"),
                step.step
            ),
        };
        let path = v.and_then(|v| {
            let holder = match step.kind {
                StepKind::ToolResult => step.field("output"),
                StepKind::RunStart => step.field("input"),
                _ => Some(&step.record),
            }?;
            find_path(holder, identity_hash(v))
        });
        match path {
            Some(p) if !p.is_empty() => format!("from {place} {}", p.trim_start_matches('.')),
            _ => format!("from {place}"),
        }
    }
}

/// The label of a row's step for an input difference used as context.
pub(crate) fn context_text(pair: &Pair, a: Option<usize>, b: Option<usize>) -> Option<String> {
    match (a, b) {
        (Some(i), Some(j)) => pair.explain(i, j).map(|(_, s)| format!("before it, {s}")),
        (Some(i), None) => Some(format!(
            "before it, only A has {}",
            truncate(&step_label(&pair.a.steps[i]), 100)
        )),
        (None, Some(j)) => Some(format!(
            "before it, only B has {}",
            truncate(&step_label(&pair.b.steps[j]), 100)
        )),
        (None, None) => None,
    }
}
