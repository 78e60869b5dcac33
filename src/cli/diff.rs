//! `retrace diff`: two runs side by side, aligned by behaviour, with the divergence marked
//! and the rows after it marked as its cascade. Renders [`crate::diverge`]'s results only.

use std::io::{self, Write};

use serde_json::{json, Value};

use super::{cell, problems_json, CliError, Common, Paths};
use crate::diverge::{step_label, Diff, InputMode, Kind};
use crate::index::RunRef;
use crate::model::Tokens;
use crate::sanitize;
use crate::time::format_duration;

/// Width of one side's step label in the text view (two sides fit in 80 columns).
const LABEL: usize = 32;

/// The arguments of `retrace diff`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The run to investigate: a run id, or a unique prefix of one.
    pub run: String,
    #[command(flatten)]
    pub paths: Paths,
    /// The run to compare with (default: the most similar successful run).
    #[arg(long, value_name = "RUN_B")]
    pub against: Option<String>,
    /// Print one JSON object {"a_run", "b_run", "divergence", "alignment", ...,
    /// "problems"}.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub common: Common,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let common = &args.common;
    let history = super::load(&args.paths, common)?;
    if !args.json {
        super::report_problems(&history, 5);
    }
    let a = history.find_run(&args.run)?;
    let b = args
        .against
        .as_deref()
        .map(|r| history.find_run(r))
        .transpose()?;
    let diff = crate::diverge::diff(&history, a, b)?;
    let mut out = super::stdout();
    if args.json {
        let mut doc = to_json(&diff);
        doc["problems"] = problems_json(history.problems());
        serde_json::to_writer(&mut out, &doc)?;
        writeln!(out)?;
    } else {
        print(&diff, &mut out)?;
    }
    out.flush()?;
    super::finish(&history, common)
}

/// The two runs aligned, as text.
pub fn print(diff: &Diff, out: &mut impl Write) -> io::Result<()> {
    let cmp = &diff.comparison;
    for (tag, run, steps) in [("A", &diff.a, &diff.a_steps), ("B", &diff.b, &diff.b_steps)] {
        writeln!(
            out,
            "{tag} {}  {} {}  {}  ({} steps)",
            sanitize::line(run.id()),
            sanitize::line(run.agent().unwrap_or("-")),
            sanitize::line(run.agent_version().unwrap_or("")),
            run.outcome(),
            steps.len()
        )?;
    }
    writeln!(out, "{}", totals_text(&diff.a, &diff.b))?;
    if let Some(p) = &diff.pick {
        writeln!(
            out,
            "picked {}: {}",
            sanitize::line(p.run.id()),
            sanitize::line(&p.reason)
        )?;
        if !p.alternatives.is_empty() {
            let others: Vec<String> = p
                .alternatives
                .iter()
                .map(|(r, score)| format!("{} ({score:.2})", sanitize::line(r.id())))
                .collect();
            writeln!(out, "also close (--against): {}", others.join(", "))?;
        }
    }
    if cmp.mode == InputMode::DifferentInput {
        writeln!(
            out,
            "the triggers differ: values copied from them or from earlier results are compared by where they came from"
        )?;
    }
    match &cmp.divergence {
        None => writeln!(out, "no divergence: both runs did the same thing")?,
        Some(d) => {
            writeln!(
                out,
                "divergence at {}: {}",
                at_text(d.a_step, d.b_step),
                d.kind.label()
            )?;
            writeln!(out, "  {}", sanitize::line(&d.summary))?;
            if let Some(c) = &d.context {
                writeln!(out, "  ({})", sanitize::line(c))?;
            }
        }
    }
    writeln!(out)?;
    writeln!(
        out,
        "  {:>4} {}    {:>4} {}",
        "A",
        cell(&sanitize::line(diff.a.id()), LABEL),
        "B",
        sanitize::line(diff.b.id())
    )?;
    for (n, row) in cmp.rows.iter().enumerate() {
        let mark = match &cmp.divergence {
            Some(d) if d.row == n => '>',
            _ if cmp.is_cascade(n) => '~',
            _ => ' ',
        };
        let rel = match row.kind {
            None => '=',
            Some(Kind::ExtraStep) => '+',
            Some(Kind::MissingStep) => '-',
            Some(_) if row.input => '≈',
            Some(_) => '≠',
        };
        let side = |i: Option<usize>, steps: &[crate::model::Step]| match i {
            Some(i) => (
                format!("{:>4}", steps[i].step),
                sanitize::line(&step_label(&steps[i])).into_owned(),
            ),
            None => (String::from("    "), String::new()),
        };
        let (an, al) = side(row.a, &diff.a_steps);
        let (bn, bl) = side(row.b, &diff.b_steps);
        // Members of a parallel group are marked: they are matched by what they are, not
        // by the order they were logged in.
        let parallel = row
            .group
            .and_then(|g| cmp.groups.get(g))
            .is_some_and(|g| g.parallel);
        let grouped = if parallel { '│' } else { ' ' };
        let line = format!(
            "{mark}{grouped}{an} {} {rel}  {bn} {}",
            cell(&al, LABEL),
            cell(&bl, LABEL)
        );
        writeln!(out, "{}", line.trim_end())?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "= same  ≠ differs  ≈ input differs  + only in A  - only in B  > divergence  ~ cascade{}",
        if !cmp.groups.iter().any(|g| g.parallel) {
            ""
        } else {
            "  │ parallel group (matched by what the steps are, not their order)"
        }
    )
}

fn at_text(a: Option<u32>, b: Option<u32>) -> String {
    let side = |s: Option<u32>| s.map_or("-".to_string(), |s| format!("#{s}"));
    format!("A {} / B {}", side(a), side(b))
}

/// The two runs' time and token totals side by side: `time 15.1s / 10.9s · tokens in …`.
fn totals_text(a: &RunRef, b: &RunRef) -> String {
    let time = |r: &RunRef| {
        r.duration_ms()
            .map_or("-".into(), |d| format_duration(d as f64))
    };
    let count = |r: &RunRef, pick: fn(Tokens) -> u64| {
        r.tokens().map_or("-".into(), |t| pick(t).to_string())
    };
    format!(
        "time A {} / B {} · tokens in A {} / B {} · out A {} / B {}",
        time(a),
        time(b),
        count(a, |t| t.input),
        count(b, |t| t.input),
        count(a, |t| t.output),
        count(b, |t| t.output),
    )
}

/// The JSON document of a diff: `a_run`, `b_run`, `totals` (`{a, b}`, each
/// `{duration_ms, tokens}`), `picked_because` (when picked), `input_mode`, `divergence`,
/// `alignment`, `rows` and `groups` (parallel groups: the rows each occupies,
/// `[start, end)`, and its steps on each side; a row's and the divergence's `group`
/// index this list).
pub fn to_json(diff: &Diff) -> Value {
    let cmp = &diff.comparison;
    let alignment: Vec<Value> = cmp
        .alignment(&diff.a_steps, &diff.b_steps)
        .into_iter()
        .map(|(a, b)| json!([a, b]))
        .collect();
    let rows: Vec<Value> = cmp
        .rows
        .iter()
        .enumerate()
        .map(|(n, r)| {
            json!({
                "a_step": r.a.map(|i| diff.a_steps[i].step),
                "b_step": r.b.map(|j| diff.b_steps[j].step),
                "kind": r.kind,
                "input": r.input,
                "cascade": cmp.is_cascade(n),
                "group": r.group,
            })
        })
        .collect();
    let divergence = cmp.divergence.as_ref().map(|d| {
        json!({
            "a_step": d.a_step,
            "b_step": d.b_step,
            "kind": d.kind,
            "summary": d.summary,
            "context": d.context,
            "group": d.group,
        })
    });
    let step_of = |steps: &[crate::model::Step], i: usize| steps[i].step;
    let groups: Vec<Value> = cmp
        .groups
        .iter()
        .map(|g| {
            json!({
                "rows": [g.rows.start, g.rows.end],
                "a_head": g.a_head.map(|i| step_of(&diff.a_steps, i)),
                "b_head": g.b_head.map(|j| step_of(&diff.b_steps, j)),
                "a_steps": g.a_members.iter().map(|&i| step_of(&diff.a_steps, i)).collect::<Vec<_>>(),
                "b_steps": g.b_members.iter().map(|&j| step_of(&diff.b_steps, j)).collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut doc = json!({
        "a_run": diff.a.id(),
        "b_run": diff.b.id(),
        "totals": {
            "a": {"duration_ms": diff.a.duration_ms(), "tokens": diff.a.tokens()},
            "b": {"duration_ms": diff.b.duration_ms(), "tokens": diff.b.tokens()},
        },
        "input_mode": cmp.mode,
        "divergence": divergence,
        "alignment": alignment,
        "rows": rows,
        "groups": groups,
    });
    if let Some(p) = &diff.pick {
        doc["picked_because"] = json!(p.reason);
        doc["pick"] = json!({
            "trigger_similarity": p.trigger_similarity,
            "structure_similarity": p.structure_similarity,
            "candidates": p.candidates,
            "alternatives": p.alternatives.iter().map(|(r, score)| json!({"run": r.id(), "score": score})).collect::<Vec<_>>(),
        });
    }
    doc
}
