//! The side-by-side diff of two runs, as the diff view shows it: built on a worker from
//! [`crate::diverge`] (the alignment, the divergence, why the other run was picked), with
//! every string from the runs sanitized here (the word diff is
//! [`crate::diverge::words`]).

use crate::diverge;
use crate::model::Step;
use crate::sanitize;

use crate::index::SharedHistory;
use crate::work::Cancel;

/// One side of a row.
#[derive(Debug, Clone, PartialEq)]
pub struct Side {
    pub step: u32,
    /// `call send_email`, sanitized.
    pub label: String,
    pub error: bool,
    /// The error code (or message), sanitized.
    pub error_text: Option<String>,
    /// Input and output as one line of text each (sanitized, cut), for the word diff.
    pub input: String,
    pub output: String,
}

/// One aligned row: a step on each side, or a gap.
#[derive(Debug, Clone, PartialEq)]
pub struct DiffRow {
    pub a: Option<Side>,
    pub b: Option<Side>,
    /// How the row differs (`None`: the same behaviour).
    pub kind: Option<String>,
    /// The agent's input (a trigger, a message), not its behaviour.
    pub input: bool,
    /// The parallel group the row belongs to: an index into [`DiffDoc::groups`].
    pub group: Option<usize>,
}

/// A parallel group: steps one model call set off at once (its tool calls, their results,
/// what ran under them), matched between the runs by what they are, not their order.
#[derive(Debug, Clone, PartialEq)]
pub struct DiffGroup {
    /// The rows it occupies (contiguous).
    pub rows: std::ops::Range<usize>,
    /// The `step` number of the model call that proposed the calls, on each side.
    pub a_head: Option<u32>,
    pub b_head: Option<u32>,
    /// How many tool calls it holds (the more of the two sides).
    pub calls: usize,
}

impl DiffGroup {
    /// `parallel: 2 calls proposed by #3` (`A #3 / B #5` when the heads differ).
    pub fn label(&self) -> String {
        let head = match (self.a_head, self.b_head) {
            (Some(a), Some(b)) if a == b => format!(" proposed by #{a}"),
            (Some(a), Some(b)) => format!(" proposed by A #{a} / B #{b}"),
            (Some(a), None) => format!(" proposed by A #{a}"),
            (None, Some(b)) => format!(" proposed by B #{b}"),
            (None, None) => String::new(),
        };
        let s = if self.calls == 1 { "" } else { "s" };
        format!("parallel: {} call{s}{head}", self.calls)
    }
}

/// Two runs aligned, ready to draw.
#[derive(Debug, Clone, PartialEq)]
pub struct DiffDoc {
    pub a_run: usize,
    pub b_run: usize,
    pub a_id: String,
    pub b_id: String,
    pub a_outcome: String,
    pub b_outcome: String,
    /// Why run B was picked (`None`: the user chose it).
    pub picked: Option<String>,
    pub rows: Vec<DiffRow>,
    /// The divergence row, its kind and explanation (sanitized).
    pub divergence: Option<(usize, String, String)>,
    /// Each run's length and token totals, A then B (shown side by side).
    pub totals: [RunTotals; 2],
    /// The parallel groups the rows point into.
    pub groups: Vec<DiffGroup>,
}

/// A run's length and token totals, as the index has them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunTotals {
    pub duration_ms: Option<i64>,
    pub tokens: Option<crate::model::Tokens>,
}

impl RunTotals {
    pub fn of(run: &crate::index::RunRef) -> RunTotals {
        RunTotals {
            duration_ms: run.duration_ms(),
            tokens: run.tokens(),
        }
    }
}

impl DiffDoc {
    /// The same rows with secrets hidden, for presenter mode.
    pub fn redacted(&self, r: crate::redact::Redaction) -> DiffDoc {
        let hide = |s: &str| crate::redact::text(s, r).into_owned();
        let side = |s: &Side| Side {
            step: s.step,
            label: hide(&s.label),
            error: s.error,
            error_text: s.error_text.as_deref().map(hide),
            input: hide(&s.input),
            output: hide(&s.output),
        };
        DiffDoc {
            a_run: self.a_run,
            b_run: self.b_run,
            a_id: self.a_id.clone(),
            b_id: self.b_id.clone(),
            a_outcome: self.a_outcome.clone(),
            b_outcome: self.b_outcome.clone(),
            picked: self.picked.as_deref().map(hide),
            rows: self
                .rows
                .iter()
                .map(|row| DiffRow {
                    a: row.a.as_ref().map(side),
                    b: row.b.as_ref().map(side),
                    kind: row.kind.clone(),
                    input: row.input,
                    group: row.group,
                })
                .collect(),
            divergence: self
                .divergence
                .as_ref()
                .map(|(row, kind, summary)| (*row, kind.clone(), hide(summary))),
            totals: self.totals,
            groups: self.groups.clone(),
        }
    }

    /// The group of row `row`, if it is in one.
    pub fn group_of(&self, row: usize) -> Option<&DiffGroup> {
        self.rows
            .get(row)
            .and_then(|r| r.group)
            .and_then(|g| self.groups.get(g))
    }

    pub fn is_cascade(&self, row: usize) -> bool {
        self.divergence.as_ref().is_some_and(|(d, _, _)| row > *d)
    }
}

/// Most characters of an input or output kept for the word diff.
const VALUE_CHARS: usize = 4000;

fn value_text(step: &Step, key: &str) -> String {
    let Some(v) = step.field(key) else {
        return String::new();
    };
    let s = match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let s: String = s.chars().take(VALUE_CHARS).collect();
    sanitize::line(&s).into_owned()
}

fn side(step: &Step) -> Side {
    let error_text = step.error.as_ref().and_then(|e| {
        e.code
            .as_deref()
            .or(e.message.as_deref())
            .map(|s| sanitize::line(s).into_owned())
    });
    Side {
        step: step.step,
        label: sanitize::line(&diverge::step_label(step)).into_owned(),
        error: step.is_error(),
        error_text,
        input: value_text(step, "input"),
        output: value_text(step, "output"),
    }
}

/// Compares run `a` with run `b`, or with the run the divergence engine picks. The
/// history is held only to choose the runs; reading and aligning them happen outside
/// it, and stop when `cancel` is set.
pub fn build(
    shared: &SharedHistory,
    a: usize,
    b: Option<usize>,
    cancel: &Cancel,
) -> Result<DiffDoc, String> {
    let line = |s: &str| sanitize::line(s).into_owned();
    let (plan, ids, totals) = {
        let h = shared.read_politely();
        if a >= h.run_count() || b.is_some_and(|b| b >= h.run_count()) {
            return Err("no such run".into());
        }
        let plan =
            diverge::DiffPlan::new(&h, h.run(a), b.map(|b| h.run(b))).map_err(|e| e.to_string())?;
        let (ra, rb) = (h.run(plan.a), h.run(plan.b));
        let ids = [
            (line(ra.id()), ra.outcome().as_str().to_string()),
            (line(rb.id()), rb.outcome().as_str().to_string()),
        ];
        let totals = [RunTotals::of(&ra), RunTotals::of(&rb)];
        (plan, ids, totals)
    };
    let d = plan.run(cancel).map_err(|e| e.to_string())?;
    let cmp = &d.comparison;
    // Only groups of steps that ran at once are marked: a lone call is one after another.
    let mut kept = Vec::new();
    let group_index: Vec<Option<usize>> = cmp
        .groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            g.parallel.then(|| {
                kept.push(i);
                kept.len() - 1
            })
        })
        .collect();
    let rows = cmp
        .rows
        .iter()
        .map(|r| DiffRow {
            a: r.a.map(|i| side(&d.a_steps[i])),
            b: r.b.map(|j| side(&d.b_steps[j])),
            kind: r.kind.map(|k| k.to_string()),
            input: r.input,
            group: r.group.and_then(|g| group_index.get(g).copied().flatten()),
        })
        .collect();
    let calls = |steps: &[Step], members: &[usize]| {
        members
            .iter()
            .filter(|&&i| steps[i].kind == crate::model::StepKind::ToolCall)
            .count()
    };
    let groups = kept
        .iter()
        .map(|&i| &cmp.groups[i])
        .map(|g| DiffGroup {
            rows: g.rows.clone(),
            a_head: g.a_head.map(|i| d.a_steps[i].step),
            b_head: g.b_head.map(|j| d.b_steps[j].step),
            calls: calls(&d.a_steps, &g.a_members).max(calls(&d.b_steps, &g.b_members)),
        })
        .collect();
    let [(a_id, a_outcome), (b_id, b_outcome)] = ids;
    Ok(DiffDoc {
        a_run: plan.a,
        b_run: plan.b,
        a_id,
        b_id,
        a_outcome,
        b_outcome,
        picked: plan.picked.as_deref().map(line),
        rows,
        divergence: cmp.divergence.as_ref().map(|dv| {
            let mut summary = line(&dv.summary);
            if let Some(c) = &dv.context {
                summary.push_str(&format!(" (after: {})", line(c)));
            }
            (dv.row, dv.kind.to_string(), summary)
        }),
        totals,
        groups,
    })
}
