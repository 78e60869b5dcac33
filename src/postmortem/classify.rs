//! The failure category of a run, with a confidence, the evidence steps behind it and
//! the runner-up categories. Rules over the model, no network: each rule reads one kind
//! of evidence (the divergence from a comparable run, the error's vocabulary, the same
//! call elsewhere in the history, other runs failing the same way, a changed
//! configuration, unusual input values, data built on after it came back different) and
//! adds weight to the categories it speaks for, with a sentence saying why.

use serde::Serialize;

use super::evidence::{self, Config, Peer};
use super::values::Usual;
use super::vocab::{self, ErrorClass};
use super::{Category, Investigation};
use crate::diverge::{self, Kind};
use crate::index::{History, RunRef};
use crate::model::{Outcome, Step, StepKind};
use crate::time::format_rfc3339;

/// One piece of evidence: a step (of this run, or of another run of the history) and why
/// it points at the category.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    pub run_id: String,
    pub step: u32,
    /// Untrusted text (it quotes run files): sanitize before display.
    pub why: String,
    /// How much it weighed.
    pub weight: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alternative {
    pub category: Category,
    pub confidence: f64,
}

/// The verdict on a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Classification {
    pub run_id: String,
    pub category: Category,
    /// 0 to 1: how strong the evidence is and how far ahead of the runner-up.
    pub confidence: f64,
    /// The evidence for `category`, strongest first.
    pub evidence: Vec<Evidence>,
    /// The other categories with any evidence, most likely first.
    pub alternatives: Vec<Alternative>,
    /// The comparison run.
    pub against: Option<String>,
    /// Other runs that failed the same way around the same time (`run_id#step`).
    pub related: Vec<super::StepRef>,
    /// The evidence for every category, for views that explain the runner-ups.
    #[serde(skip)]
    pub all_evidence: Vec<(Category, Evidence)>,
}

/// Evidence gathered so far, by category.
struct Tally {
    run_id: String,
    items: Vec<(Category, Evidence)>,
}

impl Tally {
    fn add(&mut self, c: Category, weight: f64, step: u32, why: String) {
        self.add_in(c, weight, &self.run_id.clone(), step, why);
    }
    fn add_in(&mut self, c: Category, weight: f64, run_id: &str, step: u32, why: String) {
        if weight > 0.0 {
            self.items.push((
                c,
                Evidence {
                    run_id: run_id.to_string(),
                    step,
                    why,
                    weight,
                },
            ));
        }
    }
    fn score(&self, c: Category) -> f64 {
        self.items
            .iter()
            .filter(|(x, _)| *x == c)
            .map(|(_, e)| e.weight)
            .sum()
    }
}

/// How sure a score is against the strongest competitor.
fn confidence(score: f64, rival: f64) -> f64 {
    if score <= 0.0 {
        return 0.0;
    }
    let strength = 1.0 - (-score / 3.0).exp();
    let margin = score / (score + rival);
    (strength * margin * 100.0).round() / 100.0
}

/// Classifies the failing run of `inv`.
pub fn classify(history: &History, inv: &Investigation) -> Result<Classification, crate::Error> {
    let run = &inv.run;
    let steps = &inv.steps;
    let mut t = Tally {
        run_id: run.id().to_string(),
        items: Vec::new(),
    };
    let peers = evidence::peers(history, run)?;
    let config = Config::of(run, steps);
    let first = inv.first_failure();
    let first_step = first.map_or(u32::MAX, |s| s.step);
    let tool_failed =
        first.is_some_and(|s| matches!(s.kind, StepKind::ToolResult | StepKind::ToolCall));
    let class = first.and_then(|s| vocab::dominant(&evidence::error_text(s)));
    let mut related = Vec::new();

    divergence_rules(&mut t, inv, &config, first_step);
    config_baseline(&mut t, inv, &peers, &config, first_step)?;
    if let Some(f) = first {
        error_rules(
            &mut t,
            history,
            inv,
            f,
            tool_failed,
            class.as_ref(),
            &mut related,
        );
        input_rules(&mut t, inv, &peers, f, tool_failed);
    }
    state_rules(&mut t, history, inv, first_step);

    let mut scores: Vec<(Category, f64)> = Category::ALL.iter().map(|&c| (c, t.score(c))).collect();
    // Stable: ties keep the order of Category::ALL.
    scores.sort_by(|a, b| b.1.total_cmp(&a.1));
    let (category, top) = scores[0];
    let rival = scores[1].1;
    let mut ev: Vec<Evidence> = t
        .items
        .iter()
        .filter(|(c, _)| *c == category)
        .map(|(_, e)| e.clone())
        .collect();
    ev.sort_by(|a, b| b.weight.total_cmp(&a.weight).then(a.step.cmp(&b.step)));
    let alternatives = scores[1..]
        .iter()
        .filter(|(_, s)| *s > 0.0)
        .map(|&(c, s)| Alternative {
            category: c,
            confidence: confidence(s, top),
        })
        .collect();
    Ok(Classification {
        run_id: run.id().to_string(),
        category,
        confidence: confidence(top, rival),
        evidence: ev,
        alternatives,
        against: inv.against().map(str::to_string),
        related,
        all_evidence: t.items,
    })
}

fn is_choice(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::DifferentDecision | Kind::DifferentTool | Kind::DifferentArguments
    )
}

/// The divergence from the comparison run: where and how the runs split.
fn divergence_rules(t: &mut Tally, inv: &Investigation, config: &Config, first_step: u32) {
    let Some(diff) = &inv.diff else { return };
    let Some(d) = &diff.comparison.divergence else {
        return;
    };
    let Some(at) = d.a_step else { return };
    let b = diff.b.id();
    let step = inv.steps.iter().find(|s| s.step == at);
    let b_config = Config::of(&diff.b, &diff.b_steps);
    let (changes, changed_at) = config.changes(&b_config);
    let before_error = at < first_step;
    match d.kind {
        Kind::ErrorVsSuccess if step.is_some_and(|s| s.is_error()) => {
            t.add(
                Category::ToolFailure,
                1.0,
                at,
                format!(
                    "first difference from {b}: this step failed where {b} succeeded ({})",
                    d.summary
                ),
            );
            if changes.is_empty() {
                let why = format!(
                    "same agent version, model and prompt as {b}, which succeeded at this call: the change is not on the agent's side"
                );
                t.add(Category::EnvironmentalChange, 0.5, at, why.clone());
                t.add(Category::EdgeCaseInput, 0.3, at, why);
            }
        }
        Kind::DifferentResult if before_error && step.is_some_and(|s| !s.is_error()) => {
            t.add(
                Category::StateCorruption,
                2.0,
                at,
                format!(
                    "first difference from {b}: the same call came back ok with other data, before any error ({})",
                    d.summary
                ),
            );
        }
        k if (is_choice(k) || matches!(k, Kind::ExtraStep | Kind::MissingStep)) && before_error => {
            if !changes.is_empty() {
                t.add(
                    Category::PromptDrift,
                    3.0,
                    at,
                    format!(
                        "first difference from {b} is a choice, before any error: {} ({})",
                        d.kind.label(),
                        d.summary
                    ),
                );
                t.add(
                    Category::PromptDrift,
                    1.0,
                    changed_at,
                    format!("changed since {b}: {}", changes.join(", ")),
                );
            } else if is_choice(k) {
                t.add(
                    Category::PromptDrift,
                    0.8,
                    at,
                    format!(
                        "the agent chose differently from {b} before any error ({})",
                        d.summary
                    ),
                );
            }
        }
        _ => {}
    }
}

/// When the comparison run shares this run's configuration, the successful runs from
/// before a change of version, model or prompt show whether the behaviour changed with it.
fn config_baseline(
    t: &mut Tally,
    inv: &Investigation,
    peers: &[Peer],
    config: &Config,
    first_step: u32,
) -> Result<(), crate::Error> {
    if let Some(diff) = &inv.diff {
        if !Config::of(&diff.b, &diff.b_steps)
            .changes(config)
            .0
            .is_empty()
        {
            return Ok(()); // The divergence rules compared across the change already.
        }
    }
    let started = inv.run.started_at();
    let before: Vec<(&Peer, Config)> = peers
        .iter()
        .filter(|p| match (started, p.run.started_at()) {
            (Some(a), Some(b)) => b < a,
            _ => false,
        })
        .map(|p| (p, Config::of(&p.run, &p.steps)))
        .filter(|(_, c)| !c.changes(config).0.is_empty())
        .take(3)
        .collect();
    // The most similar of the closest earlier runs: the one that splits latest.
    let mut best: Option<(usize, &Peer, &Config, diverge::Divergence)> = None;
    for (p, c) in &before {
        let cmp = diverge::compare(&inv.steps, &p.steps);
        if let Some(d) = cmp.divergence {
            if best.as_ref().map_or(true, |b| d.row > b.0) {
                best = Some((d.row, p, c, d));
            }
        }
    }
    let Some((_, p, c, d)) = best else {
        return Ok(());
    };
    let Some(at) = d.a_step else { return Ok(()) };
    if !(is_choice(d.kind) || d.kind == Kind::ExtraStep) || at >= first_step {
        return Ok(());
    }
    // A tool that broke in the same-configuration comparison speaks louder.
    let broke = inv
        .diff
        .as_ref()
        .and_then(|x| x.comparison.divergence.as_ref())
        .is_some_and(|x| x.kind == Kind::ErrorVsSuccess);
    let weight = if broke { 1.0 } else { 3.0 };
    let (changes, changed_at) = config.changes(c);
    let b = p.run.id();
    t.add(
        Category::PromptDrift,
        weight,
        at,
        format!(
            "against {b}, a success from before the change, the run first differs by a choice, before any error: {} ({})",
            d.kind.label(),
            d.summary
        ),
    );
    t.add(
        Category::PromptDrift,
        weight / 3.0,
        changed_at,
        format!("changed since {b}: {}", changes.join(", ")),
    );
    Ok(())
}

/// The first failure's error: its vocabulary, the same call elsewhere, and other runs
/// failing the same way.
#[allow(clippy::too_many_arguments)]
fn error_rules(
    t: &mut Tally,
    history: &History,
    inv: &Investigation,
    first: &Step,
    tool_failed: bool,
    class: Option<&(ErrorClass, f64, Vec<&'static str>)>,
    related: &mut Vec<super::StepRef>,
) {
    let at = first.step;
    if tool_failed {
        t.add(
            Category::ToolFailure,
            1.0,
            at,
            format!(
                "the first failure is a tool error: {} returned {}",
                first.name.as_deref().unwrap_or("a tool"),
                first.error.as_ref().map_or("an error", |e| e.label())
            ),
        );
    }
    if let Some((class, weight, phrases)) = class {
        let w = weight.min(3.0);
        let why = format!(
            "the error reads as {} (\"{}\")",
            class.describe(),
            phrases.join("\", \"")
        );
        match class {
            ErrorClass::Access => t.add(Category::EnvironmentalChange, w, at, why),
            ErrorClass::Outage => t.add(Category::ToolFailure, w, at, why),
            ErrorClass::Rejected => {
                t.add(Category::EdgeCaseInput, w * 0.7, at, why.clone());
                t.add(Category::ToolFailure, w * 0.2, at, why);
            }
            ErrorClass::Inconsistent => t.add(Category::StateCorruption, w * 0.8, at, why),
            ErrorClass::Policy => t.add(Category::PromptDrift, w * 0.5, at, why),
        }
    }
    let class = class.map(|c| c.0);
    let when = first.ts.or(inv.run.started_at());
    if let (true, Some(name), Some(when)) = (tool_failed, first.name.as_deref(), when) {
        let rec = evidence::call_record(history, &inv.run, name, when);
        if let Some((run_id, step)) = &rec.last_before {
            let why = format!(
                "{name} succeeded {} time(s) in other runs before this failure (last {run_id}#{step})",
                rec.before
            );
            t.add(Category::ToolFailure, 0.5, at, why.clone());
            t.add(Category::EnvironmentalChange, 0.5, at, why.clone());
            t.add(Category::EdgeCaseInput, 0.5, at, why);
        }
        let label = first.error.as_ref().map(|e| e.label()).unwrap_or("");
        if !label.is_empty() {
            let same =
                evidence::failing_the_same_way(history, &inv.run, Some(name), label, Some(when));
            if !same.is_empty() {
                let n = same.len();
                let weight = 1.0 + 0.5 * (n.min(3) - 1) as f64;
                let mut agents: std::collections::BTreeSet<&str> =
                    same.iter().filter_map(|f| f.agent.as_deref()).collect();
                agents.extend(inv.run.agent());
                for f in same.iter().take(3) {
                    t.add_in(
                        Category::EnvironmentalChange,
                        weight / n.min(3) as f64,
                        &f.run_id,
                        f.step,
                        format!(
                            "{} failed the same way ({}) {}",
                            f.run_id,
                            f.label,
                            f.ts.map(|x| format!("at {}", format_rfc3339(x)))
                                .unwrap_or_default()
                        ),
                    );
                }
                if agents.len() > 1 {
                    t.add(
                        Category::EnvironmentalChange,
                        0.5,
                        at,
                        format!(
                            "runs of {} agents failed this way within 24 hours",
                            agents.len()
                        ),
                    );
                }
                if class == Some(ErrorClass::Outage) {
                    t.add(
                        Category::ToolFailure,
                        0.5,
                        at,
                        format!("{n} other run(s) hit the same outage"),
                    );
                }
                related.extend(same.iter().map(|f| super::StepRef {
                    run_id: f.run_id.clone(),
                    step: f.step,
                }));
                if let Some((run_id, step, ts)) = &rec.first_after {
                    let last_failure = same.iter().filter_map(|f| f.ts).max().unwrap_or(when);
                    if *ts > last_failure {
                        t.add_in(
                            Category::EnvironmentalChange,
                            0.5,
                            run_id,
                            *step,
                            format!("{name} worked again afterwards ({run_id}#{step}): the failures sit in one window of time"),
                        );
                    }
                }
            }
        }
    }
}

/// Values unlike those of successful runs reaching the failing step: in the failing
/// call's arguments, or in the trigger when they travel to the failure.
fn input_rules(
    t: &mut Tally,
    inv: &Investigation,
    peers: &[Peer],
    first: &Step,
    tool_failed: bool,
) {
    let call = if tool_failed {
        evidence::call_of(&inv.steps, first)
    } else {
        None
    };
    let mut found_in_call = Vec::new();
    if let (Some(call), Some(name)) = (call, first.name.as_deref()) {
        let mut usual = Usual::default();
        for p in peers {
            for s in p
                .steps
                .iter()
                .filter(|s| s.kind == StepKind::ToolCall && s.name.as_deref() == Some(name))
            {
                if let Some(input) = s.field("input") {
                    usual.add(input);
                }
            }
        }
        if let Some(input) = call.field("input") {
            for (n, (path, value, why)) in usual.unusual(input).into_iter().enumerate() {
                let w = if n == 0 { 2.5 } else { 0.5 };
                t.add(
                    Category::EdgeCaseInput,
                    w,
                    call.step,
                    format!(
                        "the failing call's {}{path} = {}: {why} (in {} successful calls of {name})",
                        name,
                        crate::describe::truncate(&crate::describe::compact(value), 60),
                        usual.samples()
                    ),
                );
                found_in_call.push(crate::describe::compact(value));
            }
        }
    }
    let trigger = inv
        .steps
        .iter()
        .find(|s| s.kind == StepKind::RunStart)
        .and_then(|s| s.field("input"));
    let Some(trigger) = trigger else { return };
    let mut usual = Usual::default();
    for p in peers {
        if let Some(v) = p
            .steps
            .iter()
            .find(|s| s.kind == StepKind::RunStart)
            .and_then(|s| s.field("input"))
        {
            usual.add(v);
        }
    }
    for (path, value, why) in usual.unusual(trigger) {
        let text = crate::describe::compact(value);
        if found_in_call.contains(&text) {
            continue;
        }
        // It reaches the failure when a tool call on the way carries it, or the error
        // quotes it (a model call reading the whole trigger does not count).
        let reaches = !text.is_empty()
            && (evidence::error_text(first).contains(&text)
                || inv
                    .steps
                    .iter()
                    .filter(|s| s.kind == StepKind::ToolCall && s.step <= first.step)
                    .any(|s| {
                        s.field("input")
                            .is_some_and(|v| evidence::mentions(v, &text))
                    }));
        let (w, tail) = if reaches {
            (
                2.5,
                format!("; it reaches the failing step #{}", first.step),
            )
        } else {
            (1.0, String::new())
        };
        t.add(
            Category::EdgeCaseInput,
            w,
            0,
            format!(
                "the trigger's {path} = {}: {why} (in {} successful runs){tail}",
                crate::describe::truncate(&text, 60),
                usual.samples()
            ),
        );
    }
}

/// Data that came back different and was built on: values reused by later steps, data
/// stamped inside another run that did not finish, later consistency errors.
fn state_rules(t: &mut Tally, history: &History, inv: &Investigation, first_step: u32) {
    let Some(diff) = &inv.diff else { return };
    let Some(d) = &diff.comparison.divergence else {
        return;
    };
    let Some(at) = d.a_step else { return };
    if d.kind != Kind::DifferentResult {
        return;
    }
    let Some(result) = inv.steps.iter().find(|s| s.step == at && !s.is_error()) else {
        return;
    };
    let Some(output) = result.field("output") else {
        return;
    };
    // Later steps that build on it.
    let ids = evidence::distinctive_strings(output);
    let users: Vec<u32> = inv
        .steps
        .iter()
        .filter(|s| {
            s.step > at
                && matches!(
                    s.kind,
                    StepKind::ToolCall | StepKind::Effect | StepKind::Decision
                )
        })
        .filter(|s| {
            ids.iter().any(|id| {
                s.field("input").is_some_and(|v| evidence::mentions(v, id))
                    || s.str_field("reason")
                        .is_some_and(|r| r.contains(id.as_str()))
            })
        })
        .map(|s| s.step)
        .collect();
    if !users.is_empty() {
        let list: Vec<String> = users.iter().take(6).map(|s| format!("#{s}")).collect();
        t.add(
            Category::StateCorruption,
            1.0,
            at,
            format!("later steps build on this result: {}", list.join(", ")),
        );
    }
    // Data stamped before this run started, inside another run that did not succeed.
    if let Some(started) = inv.run.started_at() {
        let stamps: Vec<(String, i64)> = super::values::leaves(output)
            .into_iter()
            .filter_map(|(p, v)| Some((p, crate::time::parse_rfc3339_ms(v.as_str()?)?)))
            .filter(|(_, ms)| *ms < started)
            .collect();
        'stamps: for (path, ms) in stamps {
            for r in history.runs().filter(|r| r.index() != inv.run.index()) {
                if r.outcome() == Outcome::Success || !same_work(&inv.run, &r) {
                    continue;
                }
                let (Some(s), e) = (r.started_at(), r.ended_at()) else {
                    continue;
                };
                if ms < s || ms > e.unwrap_or(s) + 60_000 {
                    continue;
                }
                let writer = r
                    .steps()
                    .filter(|x| x.ts.is_some_and(|ts| ts <= ms))
                    .filter(|x| {
                        x.kind == StepKind::ToolCall && x.name.is_some_and(vocab::is_write_name)
                    })
                    .last()
                    .map_or(0, |x| x.step);
                t.add_in(
                    Category::StateCorruption,
                    1.5,
                    r.id(),
                    writer,
                    format!(
                        "the result's {path} ({}) falls inside run {}, which ended {} while writing: the data is its partial work",
                        format_rfc3339(ms),
                        r.id(),
                        r.outcome()
                    ),
                );
                break 'stamps;
            }
        }
    }
    // Later checks that found the data inconsistent.
    for s in inv
        .steps
        .iter()
        .filter(|s| s.step > at && s.is_error() && s.step != first_step)
    {
        if let Some((ErrorClass::Inconsistent, _, phrases)) =
            vocab::dominant(&evidence::error_text(s))
        {
            t.add(
                Category::StateCorruption,
                1.0,
                s.step,
                format!(
                    "a later check found the data inconsistent (\"{}\")",
                    phrases.join("\", \"")
                ),
            );
            break;
        }
    }
}

fn same_work(a: &RunRef, b: &RunRef) -> bool {
    a.agent().is_some() && a.agent() == b.agent()
        || a.labels()
            .iter()
            .any(|(k, v)| diverge::TASK_LABELS.contains(&k) && b.label(k) == Some(v))
}

/// The category the engineer set, else the classifier's.
pub fn effective(c: &Classification, overridden: Option<Category>) -> Category {
    overridden.unwrap_or(c.category)
}
