//! `retrace ls`: the runs of a history, one per row.

use std::io::{self, Write};

use super::{cell, problems_json, RunJson};
use crate::index::{History, RunRef};
use crate::sanitize;
use crate::time::{format_duration, format_short};

/// Every run, oldest first; runs without any time keep load order, at the end.
pub fn all_runs(history: &History) -> Vec<RunRef<'_>> {
    let mut runs: Vec<_> = history.runs().collect();
    runs.sort_by_key(|r| (r.started_at().is_none(), r.started_at()));
    runs
}

/// Prints `runs` (all of the history's, or those a filter kept), in their order.
pub fn print(
    history: &History,
    runs: &[RunRef],
    as_json: bool,
    out: &mut impl Write,
) -> io::Result<()> {
    if as_json {
        // Streamed run by run: building one document would cost more than the load.
        out.write_all(b"{\"runs\":[")?;
        for (i, run) in runs.iter().enumerate() {
            if i > 0 {
                out.write_all(b",")?;
            }
            serde_json::to_writer(&mut *out, &RunJson::new(run))?;
        }
        out.write_all(b"],\"problems\":")?;
        serde_json::to_writer(&mut *out, &problems_json(history.problems()))?;
        return out.write_all(b"}\n");
    }
    // Ids are shown whole up to a point (trace ids and session ids are long).
    let id_width = runs
        .iter()
        .map(|r| sanitize::line(r.id()).chars().count())
        .max()
        .unwrap_or(0)
        .clamp(6, 40);
    writeln!(
        out,
        "{} {} {} {:>6} {:>8}  {} FIRST ERROR",
        cell("RUN", id_width),
        cell("AGENT", 18),
        cell("STARTED (UTC)", 19),
        "STEPS",
        "DURATION",
        cell("OUTCOME", 10),
    )?;
    for run in runs {
        let first_error = run
            .first_error()
            .and_then(|s| s.error.map(|e| format!("#{} {}", s.step, e)))
            .or_else(|| run.end_error().map(str::to_owned))
            .unwrap_or_default();
        let mark = if run.outcome().is_bad() {
            "✗"
        } else if run.outcome() == crate::model::Outcome::Success {
            "✓"
        } else {
            "…"
        };
        let row = format!(
            "{} {} {} {:>6} {:>8}  {} {}",
            cell(&sanitize::line(run.id()), id_width),
            cell(&sanitize::line(run.agent().unwrap_or("-")), 18),
            cell(&run.started_at().map(format_short).unwrap_or_default(), 19),
            run.step_count(),
            run.duration_ms()
                .map_or("-".into(), |d| format_duration(d as f64)),
            cell(&format!("{mark} {}", run.outcome()), 10),
            crate::describe::truncate(&sanitize::line(&first_error), 60),
        );
        writeln!(out, "{}", row.trim_end())?;
    }
    let failed = runs.iter().filter(|r| r.outcome().is_bad()).count();
    let shown = if runs.len() == history.run_count() {
        runs.len().to_string()
    } else {
        format!("{} of {}", runs.len(), history.run_count())
    };
    writeln!(
        out,
        "{shown} runs ({} failed), {} steps, {} files{}",
        failed,
        history.step_count(),
        history.files().len(),
        match history.problems().len() {
            0 => String::new(),
            n => format!(", {n} bad lines"),
        }
    )
}
