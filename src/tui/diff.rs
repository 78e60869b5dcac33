//! The side-by-side diff of two runs, as the diff view shows it: built on a worker from
//! [`crate::diverge`] (the alignment, the divergence, why the other run was picked), with
//! every string from the runs sanitized here; and a word-level diff (an LCS over words)
//! of the two versions of a step's input and output.

use crate::diverge;
use crate::model::{Status, Step};
use crate::sanitize;

use super::jobs::SharedHistory;
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
}

impl DiffDoc {
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
        error: step.status == Status::Error || step.is_error(),
        error_text,
        input: value_text(step, "input"),
        output: value_text(step, "output"),
    }
}

/// Compares run `a` with run `b`, or with the run the divergence engine picks.
pub fn build(
    shared: &SharedHistory,
    a: usize,
    b: Option<usize>,
    cancel: &Cancel,
) -> Result<DiffDoc, String> {
    let h = shared.read_politely();
    if a >= h.run_count() || b.is_some_and(|b| b >= h.run_count()) {
        return Err("no such run".into());
    }
    let run_a = h.run(a);
    let run_b = b.map(|b| h.run(b));
    let d = diverge::diff_cancellable(&h, run_a, run_b, cancel).map_err(|e| e.to_string())?;
    let cmp = &d.comparison;
    let rows = cmp
        .rows
        .iter()
        .map(|r| DiffRow {
            a: r.a.map(|i| side(&d.a_steps[i])),
            b: r.b.map(|j| side(&d.b_steps[j])),
            kind: r.kind.map(|k| k.to_string()),
            input: r.input,
        })
        .collect();
    let line = |s: &str| sanitize::line(s).into_owned();
    Ok(DiffDoc {
        a_run: d.a.index(),
        b_run: d.b.index(),
        a_id: line(d.a.id()),
        b_id: line(d.b.id()),
        a_outcome: d.a.outcome().as_str().to_string(),
        b_outcome: d.b.outcome().as_str().to_string(),
        picked: d.pick.as_ref().map(|p| line(&p.reason)),
        rows,
        divergence: cmp.divergence.as_ref().map(|dv| {
            let mut summary = line(&dv.summary);
            if let Some(c) = &dv.context {
                summary.push_str(&format!(" (after: {})", line(c)));
            }
            (dv.row, dv.kind.to_string(), summary)
        }),
    })
}

/// A word of a word diff: in both, only in A (removed) or only in B (added).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Same,
    OnlyA,
    OnlyB,
}

/// Most words compared (the LCS costs their product).
const MAX_WORDS: usize = 1500;

/// The words of `a` and `b` merged in order, each marked as common or one side's.
pub fn word_diff<'s>(a: &'s str, b: &'s str) -> Vec<(Change, &'s str)> {
    let aw: Vec<&str> = a.split_whitespace().take(MAX_WORDS).collect();
    let bw: Vec<&str> = b.split_whitespace().take(MAX_WORDS).collect();
    let (n, m) = (aw.len(), bw.len());
    // lcs[i][j]: the LCS length of aw[i..] and bw[j..].
    let mut lcs = vec![0u16; (n + 1) * (m + 1)];
    let at = |i: usize, j: usize| i * (m + 1) + j;
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[at(i, j)] = if aw[i] == bw[j] {
                lcs[at(i + 1, j + 1)] + 1
            } else {
                lcs[at(i + 1, j)].max(lcs[at(i, j + 1)])
            };
        }
    }
    let mut out = Vec::with_capacity(n.max(m));
    let (mut i, mut j) = (0, 0);
    while i < n && j < m {
        if aw[i] == bw[j] {
            out.push((Change::Same, aw[i]));
            i += 1;
            j += 1;
        } else if lcs[at(i + 1, j)] >= lcs[at(i, j + 1)] {
            out.push((Change::OnlyA, aw[i]));
            i += 1;
        } else {
            out.push((Change::OnlyB, bw[j]));
            j += 1;
        }
    }
    out.extend(aw[i..].iter().map(|w| (Change::OnlyA, *w)));
    out.extend(bw[j..].iter().map(|w| (Change::OnlyB, *w)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_diff_marks_removed_and_added_words() {
        let d = word_diff("send to ops@acme.com now", "send to billing@acme.com now");
        assert_eq!(
            d,
            vec![
                (Change::Same, "send"),
                (Change::Same, "to"),
                (Change::OnlyA, "ops@acme.com"),
                (Change::OnlyB, "billing@acme.com"),
                (Change::Same, "now"),
            ]
        );
        assert!(word_diff("", "").is_empty());
        assert_eq!(word_diff("a", ""), vec![(Change::OnlyA, "a")]);
    }
}
