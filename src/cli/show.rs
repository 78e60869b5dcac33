//! `retrace show`: one run's timeline, the trigger first, then every step; or (`--tree`)
//! its decision tree, as the browser's tree pane shows it ([`crate::tree`]).

use std::io::{self, Write};

use anyhow::Context;
use serde_json::{json, Value};

use super::{cell, problems_json, CliError, Common, Paths, RunJson};
use crate::describe::{step_summary, trigger, trigger_line};
use crate::index::RunRef;
use crate::model::{Step, StepKind};
use crate::sanitize;
use crate::time::{format_duration, format_rfc3339};

/// The arguments of `retrace show`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// A run id, or a unique prefix of one.
    pub run: String,
    #[command(flatten)]
    pub paths: Paths,
    /// Print one JSON object {"run": {...}, "steps": [...], "problems": [...]}.
    #[arg(long)]
    pub json: bool,
    /// Print the decision tree (parent links) instead of the step table.
    #[arg(long, conflicts_with = "json")]
    pub tree: bool,
    #[command(flatten)]
    pub common: Common,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let common = &args.common;
    let history = super::load(&args.paths, common)?;
    if !args.json {
        super::report_problems(&history, 5);
    }
    let found = history.find_run(&args.run)?;
    let mut out = super::stdout();
    let reading = || format!("reading the steps of run {}", found.id());
    if args.json {
        // Written piece by piece as the steps are read (the keys in the order a JSON
        // object of them is written: sorted).
        let mut run_obj = serde_json::to_value(RunJson::new(&found))?;
        run_obj["trigger"] = trigger(&trigger_step(&found).with_context(reading)?)
            .cloned()
            .unwrap_or(Value::Null);
        out.write_all(b"{\"problems\":")?;
        serde_json::to_writer(&mut out, &problems_json(history.problems()))?;
        out.write_all(b",\"run\":")?;
        serde_json::to_writer(&mut out, &run_obj)?;
        out.write_all(b",\"steps\":[")?;
        let mut first = true;
        for_each_chunk(&found, |steps| {
            for step in steps {
                if !std::mem::take(&mut first) {
                    out.write_all(b",")?;
                }
                serde_json::to_writer(&mut out, &step_json(step))?;
            }
            Ok(())
        })
        .with_context(reading)?;
        out.write_all(b"]}\n")?;
    } else if args.tree {
        let steps = found.load_steps().with_context(reading)?;
        print_tree(&found, &steps, &mut out)?;
    } else {
        header(
            &found,
            &trigger_step(&found).with_context(reading)?,
            &mut out,
        )?;
        print_heading(&mut out)?;
        for_each_chunk(&found, |steps| {
            print_rows(&found, steps, &mut out)?;
            Ok(())
        })
        .with_context(reading)?;
    }
    out.flush()?;
    super::finish(&history, common)
}

/// Steps read at first, so that the first rows come at once; later reads are larger.
const FIRST_CHUNK: usize = 256;
const MAX_CHUNK: usize = 8_192;

/// Reads the run's steps a chunk at a time, in order, and hands each chunk to `each`:
/// a long run is written as it is read, in bounded memory.
fn for_each_chunk(
    run: &RunRef,
    mut each: impl FnMut(&[Step]) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let total = run.step_count();
    let (mut at, mut chunk) = (0, FIRST_CHUNK);
    while at < total {
        let end = (at + chunk).min(total);
        each(&run.load_range(at..end)?)?;
        at = end;
        chunk = (chunk * 4).min(MAX_CHUNK);
    }
    Ok(())
}

/// The run's `run_start` step (what started it), read alone; empty when it has none.
fn trigger_step(run: &RunRef) -> Result<Vec<Step>, crate::Error> {
    match run.steps().position(|s| s.kind == StepKind::RunStart) {
        Some(i) => run.load_range(i..i + 1),
        None => Ok(Vec::new()),
    }
}

/// The run's header, then its decision tree, one step a line.
pub fn print_tree(run: &RunRef, steps: &[Step], out: &mut impl Write) -> io::Result<()> {
    header(run, steps, out)?;
    let tree = crate::tree::RunStructure::of_steps(run.index(), steps);
    crate::tree::write_text(run, &tree, out)
}

/// The run's timeline as text: its header, then a row per step.
pub fn print(run: &RunRef, steps: &[Step], out: &mut impl Write) -> io::Result<()> {
    header(run, steps, out)?;
    print_heading(out)?;
    print_rows(run, steps, out)
}

fn print_heading(out: &mut impl Write) -> io::Result<()> {
    writeln!(
        out,
        "{:>4} {:>9} {} {} {:<6} {:>8} {} SUMMARY",
        "#",
        "TIME",
        cell("KIND", 11),
        cell("NAME", 18),
        "STATUS",
        "DURATION",
        cell("ERROR", 20)
    )
}

/// A row per step.
fn print_rows(run: &RunRef, steps: &[Step], out: &mut impl Write) -> io::Result<()> {
    let t0 = run.started_at();
    for s in steps {
        let rel = match (s.ts, t0) {
            (Some(t), Some(t0)) => format!("+{}", format_duration((t - t0) as f64)),
            _ => "-".into(),
        };
        let error = s
            .error
            .as_ref()
            .filter(|_| s.is_error())
            .map(|e| e.label().to_string());
        writeln!(
            out,
            "{:>4} {:>9} {} {} {:<6} {:>8} {} {}",
            s.step,
            rel,
            cell(&sanitize::line(&s.kind_name), 11),
            cell(&sanitize::line(s.name.as_deref().unwrap_or("")), 18),
            s.status.as_str(),
            s.duration_ms.map(format_duration).unwrap_or_default(),
            cell(&sanitize::line(error.as_deref().unwrap_or("")), 20),
            sanitize::line(&step_summary(s, 100)),
        )?;
    }
    Ok(())
}

fn step_json(s: &Step) -> Value {
    json!({
        "step": s.step,
        "id": s.id,
        "parent": s.parent,
        "kind": s.kind_name,
        "name": s.name,
        "status": match s.status { crate::model::Status::Unset => Value::Null, st => json!(st) },
        "error": s.error,
        "ts": s.ts.map(format_rfc3339),
        "duration_ms": s.duration_ms,
        "tokens": s.tokens(),
        "summary": step_summary(s, 200),
    })
}

/// The run line, its trigger, labels and end error.
fn header(run: &RunRef, steps: &[Step], out: &mut impl Write) -> io::Result<()> {
    writeln!(
        out,
        "run {}  agent {} {}  model {}  outcome {}",
        sanitize::line(run.id()),
        sanitize::line(run.agent().unwrap_or("-")),
        sanitize::line(run.agent_version().unwrap_or("")),
        sanitize::line(run.model().unwrap_or("-")),
        run.outcome()
    )?;
    if let Some(t) = trigger_line(steps, 200) {
        writeln!(out, "trigger: {}", sanitize::line(&t))?;
    }
    if !run.labels().is_empty() {
        let labels: Vec<String> = run
            .labels()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        writeln!(out, "labels: {}", sanitize::line(&labels.join(" ")))?;
    }
    if let Some(e) = run.end_error() {
        writeln!(out, "error: {}", sanitize::line(e))?;
    }
    Ok(())
}
