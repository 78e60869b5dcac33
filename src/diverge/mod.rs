//! Where two runs split apart: a behavioural alignment of their steps, the first aligned
//! row where behaviour differs (the divergence) with its kind and a one-line explanation,
//! and the choice of a comparison run when none is given. Headless: no terminal code;
//! the CLI and the TUI render what this computes.
//!
//! Steps are compared by behaviour, not bytes: kind, tool or purpose, arguments with
//! volatile fields (ids, uuids, timestamps, durations, token counts) removed, model calls
//! by the tool calls they proposed (their text only when they proposed none), decisions by
//! the branch chosen, results by status and data. When the two runs were started by
//! different inputs, argument values are compared by where they were copied from (the
//! trigger, an earlier result) rather than as they are, and results by their shape.
//! Steps that ran at once (the tool calls one model call proposed, their results, steps of
//! concurrent branches) are compared as a group, whatever order they were logged in
//! ([`Comparison::groups`]).
//!
//! ```no_run
//! use retrace::index::{History, LoadOptions};
//! let history = History::load(&["assets/demo".into()], &LoadOptions::default())?;
//! let failing = history.find_run("r-2bcd0cc3")?;
//! let diff = retrace::diverge::diff(&history, failing, None)?;
//! if let Some(d) = &diff.comparison.divergence {
//!     println!("{:?} / {:?}: {} — {}", d.a_step, d.b_step, d.kind, d.summary);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod align;
mod explain;
mod group;
mod label;
pub(crate) mod normalize;
mod pick;
mod signature;
pub mod words;

pub use explain::Kind;
pub use group::GroupRows;
pub use label::step_label;
pub use pick::{pick, Pick, TASK_LABELS};
pub use signature::InputMode;

use crate::index::{History, RunRef, StepPlan};
use crate::model::{Step, StepKind};
use crate::work::Cancel;

/// One row of the side-by-side alignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    /// Index of run A's step in the slice given to [`compare`] (`None`: a gap).
    pub a: Option<usize>,
    /// Index of run B's step (`None`: a gap).
    pub b: Option<usize>,
    /// How the row differs; `None` when both sides did the same thing. A gap is
    /// [`Kind::ExtraStep`] (only in A) or [`Kind::MissingStep`] (only in B).
    pub kind: Option<Kind>,
    /// The row is input given to the agent (its trigger, a user's or the system's
    /// message), not something it did: it can differ but is never the divergence.
    pub input: bool,
    /// The parallel group the row's steps belong to: an index into
    /// [`Comparison::groups`].
    pub group: Option<usize>,
}

impl Row {
    pub fn is_same(&self) -> bool {
        self.kind.is_none()
    }
}

/// The first aligned row where the runs' behaviour differs.
#[derive(Debug, Clone, PartialEq)]
pub struct Divergence {
    /// Index into [`Comparison::rows`].
    pub row: usize,
    /// The `step` number on each side; `None` where that side is a gap.
    pub a_step: Option<u32>,
    pub b_step: Option<u32>,
    pub kind: Kind,
    /// One line naming both sides' values ("… instead of …"). Untrusted text: sanitize
    /// before display.
    pub summary: String,
    /// The closest earlier input that differed (what the user said, for instance).
    pub context: Option<String>,
    /// The parallel group the divergent row belongs to (index into
    /// [`Comparison::groups`]).
    pub group: Option<usize>,
}

/// Two runs aligned row by row, and where they diverge.
#[derive(Debug, Clone)]
pub struct Comparison {
    pub mode: InputMode,
    pub rows: Vec<Row>,
    pub divergence: Option<Divergence>,
    /// Parallel groups compared as groups (empty when neither run did things at once):
    /// which rows each occupies and which steps of each side it holds.
    pub groups: Vec<GroupRows>,
}

impl Comparison {
    /// True for rows after the divergence: its cascade.
    pub fn is_cascade(&self, row: usize) -> bool {
        self.divergence.as_ref().is_some_and(|d| row > d.row)
    }

    /// The alignment as pairs of `step` numbers (`None` for a gap), for the runs given to
    /// [`compare`].
    pub fn alignment(&self, a: &[Step], b: &[Step]) -> Vec<(Option<u32>, Option<u32>)> {
        self.rows
            .iter()
            .map(|r| (r.a.map(|i| a[i].step), r.b.map(|j| b[j].step)))
            .collect()
    }
}

/// Aligns run `a`'s steps with run `b`'s and finds where their behaviour diverges.
/// Steps are given in run order (as [`RunRef::load_steps`] returns them).
pub fn compare(a: &[Step], b: &[Step]) -> Comparison {
    let mode = signature::input_mode(a, b);
    let (aa, bb) = analyse_both(a, b, mode);
    // Runs that did things at once are compared group by group; others step by step.
    let (ga, gb) = (group::groups(&aa), group::groups(&bb));
    let (pairs, groups) = if ga.iter().chain(&gb).any(|g| g.parallel) {
        group::align_grouped(&aa, &bb, ga, gb)
    } else {
        let pairs = align::align(&aa.sigs, &bb.sigs);
        (
            pairs.into_iter().map(|(i, j)| (i, j, None)).collect(),
            Vec::new(),
        )
    };
    let pair = explain::Pair { a: &aa, b: &bb };
    let rows: Vec<Row> = pairs
        .into_iter()
        .map(|(i, j, group)| {
            let input = i.is_some_and(|i| signature::is_input_step(&a[i]))
                || j.is_some_and(|j| signature::is_input_step(&b[j]));
            let kind = match (i, j) {
                (Some(i), Some(j)) => pair.verdict(i, j),
                (Some(_), None) => Some(Kind::ExtraStep),
                (None, Some(_)) => Some(Kind::MissingStep),
                (None, None) => None,
            };
            Row {
                a: i,
                b: j,
                kind,
                input,
                group,
            }
        })
        .collect();
    let divergence = rows
        .iter()
        .position(|r| r.kind.is_some() && !r.input)
        .map(|at| divergence_at(&pair, &rows, &groups, at));
    Comparison {
        mode,
        rows,
        divergence,
        groups,
    }
}

/// Runs longer than this (together) are analysed on two threads.
const PARALLEL_STEPS: usize = 2000;

/// Analyses both runs; long ones in parallel, as they are independent.
fn analyse_both<'s>(
    a: &'s [Step],
    b: &'s [Step],
    mode: InputMode,
) -> (signature::Analysis<'s>, signature::Analysis<'s>) {
    if a.len() + b.len() < PARALLEL_STEPS {
        return (
            signature::Analysis::new(a, mode),
            signature::Analysis::new(b, mode),
        );
    }
    std::thread::scope(|scope| {
        let other = scope.spawn(|| signature::Analysis::new(b, mode));
        let aa = signature::Analysis::new(a, mode);
        let bb = other
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (aa, bb)
    })
}

fn divergence_at(
    pair: &explain::Pair,
    rows: &[Row],
    groups: &[GroupRows],
    at: usize,
) -> Divergence {
    let r = rows[at];
    let (kind, mut summary) = row_explanation(pair, &r)
        .unwrap_or_else(|| (r.kind.unwrap_or(Kind::DifferentDecision), String::new()));
    if let Some(g) = r.group.and_then(|g| groups.get(g)) {
        summary.push_str(&group_note(pair, g));
    }
    let context = rows[..at]
        .iter()
        .rev()
        .find(|x| {
            x.input
                && x.kind.is_some()
                && x.a
                    .map_or(true, |i| pair.a.steps[i].kind != StepKind::RunStart)
                && x.b
                    .map_or(true, |j| pair.b.steps[j].kind != StepKind::RunStart)
        })
        .and_then(|x| explain::context_text(pair, x.a, x.b));
    Divergence {
        row: at,
        a_step: r.a.map(|i| pair.a.steps[i].step),
        b_step: r.b.map(|j| pair.b.steps[j].step),
        kind,
        summary,
        context,
        group: r.group,
    }
}

/// Names the group a divergent row belongs to on both sides: the steps that ran together
/// there, by number.
fn group_note(pair: &explain::Pair, g: &GroupRows) -> String {
    let side = |members: &[usize], head: Option<usize>, steps: &[Step]| match (
        members.first(),
        members.last(),
    ) {
        (Some(&f), Some(&l)) => {
            let by = head.map_or(String::new(), |h| {
                format!(" proposed by #{}", steps[h].step)
            });
            format!("#{}–#{}{by}", steps[f].step, steps[l].step)
        }
        _ => "none".to_string(),
    };
    format!(
        " (parallel group: A {}, B {})",
        side(&g.a_members, g.a_head, pair.a.steps),
        side(&g.b_members, g.b_head, pair.b.steps)
    )
}

fn row_explanation(pair: &explain::Pair, r: &Row) -> Option<(Kind, String)> {
    match (r.a, r.b) {
        (Some(i), Some(j)) => pair.explain(i, j),
        (Some(i), None) => Some((
            Kind::ExtraStep,
            format!(
                "only in A: {}",
                crate::describe::truncate(&step_label(&pair.a.steps[i]), 120)
            ),
        )),
        (None, Some(j)) => Some((
            Kind::MissingStep,
            format!(
                "only in B: {}",
                crate::describe::truncate(&step_label(&pair.b.steps[j]), 120)
            ),
        )),
        (None, None) => None,
    }
}

/// The one-line explanation of any row of a comparison of `a` and `b` (for a detail view),
/// naming its parallel group on both sides when it has one; `None` for rows that did the
/// same thing. Re-reads both runs: costs about as much as
/// [`compare`].
pub fn explain_row(a: &[Step], b: &[Step], cmp: &Comparison, row: usize) -> Option<(Kind, String)> {
    let r = cmp.rows.get(row)?;
    r.kind?;
    let (aa, bb) = analyse_both(a, b, cmp.mode);
    let pair = explain::Pair { a: &aa, b: &bb };
    let (kind, mut text) = row_explanation(&pair, r)?;
    if let Some(g) = r.group.and_then(|g| cmp.groups.get(g)) {
        text.push_str(&group_note(&pair, g));
    }
    Some((kind, text))
}

/// Why a diff could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error(transparent)]
    Core(#[from] crate::Error),
    #[error("cancelled")]
    Cancelled,
    #[error("no successful run shares the agent or the task of run {run} ({what}): there is nothing to compare it with")]
    NoComparableRun { run: String, what: String },
}

/// A run compared with another: both runs' steps and their comparison.
pub struct Diff<'h> {
    pub a: RunRef<'h>,
    pub b: RunRef<'h>,
    pub a_steps: Vec<Step>,
    pub b_steps: Vec<Step>,
    pub comparison: Comparison,
    /// Set when `b` was picked rather than given.
    pub pick: Option<Pick<'h>>,
}

/// The run to compare `a` with: `against`, or else the one [`pick`] chooses (and why).
fn choose<'h>(
    history: &'h History,
    a: &RunRef<'h>,
    against: Option<RunRef<'h>>,
) -> Result<(RunRef<'h>, Option<Pick<'h>>), DiffError> {
    match against {
        Some(b) => Ok((b, None)),
        None => match pick(history, a)? {
            Some(p) => Ok((p.run, Some(p))),
            None => {
                let mut what = vec![format!("agent {}", a.agent().unwrap_or("unknown"))];
                what.extend(
                    a.labels()
                        .iter()
                        .filter(|(k, _)| TASK_LABELS.contains(k))
                        .map(|(k, v)| format!("{k}={v}")),
                );
                Err(DiffError::NoComparableRun {
                    run: a.id().to_string(),
                    what: what.join(", "),
                })
            }
        },
    }
}

/// A diff decided while holding the history (the runs, where their steps live) and
/// made after letting go of it ([`DiffPlan::run`]: reading both runs and aligning them
/// is the long part). For front ends that share the history with a writer.
#[derive(Debug, Clone)]
pub struct DiffPlan {
    /// The runs, by history index.
    pub a: usize,
    pub b: usize,
    /// Why B was picked (`None`: it was given).
    pub picked: Option<String>,
    /// The whole pick, by run index, to bind again to the history ([`DiffPlan::bind`]).
    pick: Option<PickedRuns>,
    a_steps: StepPlan,
    b_steps: StepPlan,
}

/// A [`Pick`] without its borrow of the history: runs by index.
#[derive(Debug, Clone)]
struct PickedRuns {
    reason: String,
    trigger_similarity: f64,
    structure_similarity: f64,
    candidates: usize,
    alternatives: Vec<(usize, f64)>,
}

/// What [`DiffPlan::run`] made: both runs' steps and their comparison.
pub struct PlannedDiff {
    pub a_steps: Vec<Step>,
    pub b_steps: Vec<Step>,
    pub comparison: Comparison,
}

impl DiffPlan {
    /// Chooses the runs (picking B reads the candidates' triggers) and plans the reads.
    pub fn new<'h>(
        history: &'h History,
        a: RunRef<'h>,
        against: Option<RunRef<'h>>,
    ) -> Result<DiffPlan, DiffError> {
        let (b, pick) = choose(history, &a, against)?;
        Ok(DiffPlan {
            a: a.index(),
            b: b.index(),
            picked: pick.as_ref().map(|p| p.reason.clone()),
            pick: pick.map(|p| PickedRuns {
                reason: p.reason,
                trigger_similarity: p.trigger_similarity,
                structure_similarity: p.structure_similarity,
                candidates: p.candidates,
                alternatives: p
                    .alternatives
                    .iter()
                    .map(|(r, score)| (r.index(), *score))
                    .collect(),
            }),
            a_steps: a.plan(0..a.step_count()),
            b_steps: b.plan(0..b.step_count()),
        })
    }

    /// Reads both runs and compares them, stopping between stages once `cancel` is set.
    pub fn run(&self, cancel: &Cancel) -> Result<PlannedDiff, DiffError> {
        let stop = || {
            if cancel.is_cancelled() {
                Err(DiffError::Cancelled)
            } else {
                Ok(())
            }
        };
        stop()?;
        let a_steps = self.a_steps.read(true)?;
        stop()?;
        let b_steps = self.b_steps.read(true)?;
        stop()?;
        let comparison = compare(&a_steps, &b_steps);
        stop()?;
        Ok(PlannedDiff {
            a_steps,
            b_steps,
            comparison,
        })
    }

    /// The diff [`diff`] would have made, from what [`DiffPlan::run`] made (under a new
    /// short hold of the same history, which only grows).
    pub fn bind<'h>(self, history: &'h History, made: PlannedDiff) -> Diff<'h> {
        Diff {
            a: history.run(self.a),
            b: history.run(self.b),
            a_steps: made.a_steps,
            b_steps: made.b_steps,
            comparison: made.comparison,
            pick: self.pick.map(|p| Pick {
                run: history.run(self.b),
                reason: p.reason,
                trigger_similarity: p.trigger_similarity,
                structure_similarity: p.structure_similarity,
                candidates: p.candidates,
                alternatives: p
                    .alternatives
                    .into_iter()
                    .map(|(run, score)| (history.run(run), score))
                    .collect(),
            }),
        }
    }
}

/// Compares run `a` with `against`, or else with the most similar successful run of the
/// history ([`pick`]).
pub fn diff<'h>(
    history: &'h History,
    a: RunRef<'h>,
    against: Option<RunRef<'h>>,
) -> Result<Diff<'h>, DiffError> {
    let (b, pick) = choose(history, &a, against)?;
    let a_steps = a.load_steps()?;
    let b_steps = b.load_steps()?;
    let comparison = compare(&a_steps, &b_steps);
    Ok(Diff {
        a,
        b,
        a_steps,
        b_steps,
        comparison,
        pick,
    })
}
