//! `retrace show`: one run's timeline, the trigger first, then every step.

use std::io::{self, Write};

use serde_json::{json, Value};

use super::{cell, RunJson};
use crate::describe::{compact, step_summary, truncate};
use crate::index::RunRef;
use crate::model::Step;
use crate::sanitize;
use crate::time::{format_duration, format_rfc3339};

pub fn print(run: &RunRef, steps: &[Step], as_json: bool, out: &mut impl Write) -> io::Result<()> {
    if as_json {
        let mut run_obj = serde_json::to_value(RunJson::new(run))?;
        run_obj["trigger"] = trigger(steps).cloned().unwrap_or(Value::Null);
        let steps: Vec<_> = steps.iter().map(step_json).collect();
        serde_json::to_writer(&mut *out, &json!({"run": run_obj, "steps": steps}))?;
        return writeln!(out);
    }
    writeln!(
        out,
        "run {}  agent {} {}  model {}  outcome {}",
        sanitize::line(run.id()),
        sanitize::line(run.agent().unwrap_or("-")),
        sanitize::line(run.agent_version().unwrap_or("")),
        sanitize::line(run.model().unwrap_or("-")),
        run.outcome()
    )?;
    if let Some(t) = trigger(steps) {
        writeln!(
            out,
            "trigger: {}",
            sanitize::line(&truncate(&compact(t), 200))
        )?;
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
    )?;
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

/// The trigger: the `input` of the run's `run_start`.
fn trigger(steps: &[Step]) -> Option<&Value> {
    steps
        .iter()
        .find(|s| s.kind == crate::model::StepKind::RunStart)
        .and_then(|s| s.field("input"))
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
