//! The headless commands: each renders core results as human text or stable JSON.
//! Every string from a run file passes through [`crate::sanitize`] before it is printed
//! as text; JSON output is escaped by serde_json.

pub mod classify;
pub mod diff;
pub mod ls;
pub mod notes;
pub mod report;
pub mod search;
pub mod show;
pub mod watch;

use std::io::{self, Write};

use serde::Serialize;
use serde_json::{json, Value};

use crate::index::{History, Labels, RunRef};
use crate::model::{Format, Outcome, Problem};
use crate::sanitize;
use crate::time::format_rfc3339;

/// The JSON object describing a run, shared by `ls` and `show`. Borrowed and serialized
/// directly: `ls --json` on a large history writes tens of thousands of these.
#[derive(Serialize)]
pub struct RunJson<'h> {
    pub run_id: &'h str,
    pub agent: Option<&'h str>,
    pub agent_version: Option<&'h str>,
    pub model: Option<&'h str>,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    pub duration_ms: Option<i64>,
    pub steps: usize,
    pub errors: u32,
    pub first_error: Option<FirstErrorJson<'h>>,
    pub outcome: Outcome,
    pub end_error: Option<&'h str>,
    pub files: Vec<String>,
    pub labels: Labels<'h>,
    pub format: Format,
}

#[derive(Serialize)]
pub struct FirstErrorJson<'h> {
    pub step: u32,
    pub name: Option<&'h str>,
    pub error: Option<&'h str>,
}

impl<'h> RunJson<'h> {
    pub fn new(run: &RunRef<'h>) -> Self {
        RunJson {
            run_id: run.id(),
            agent: run.agent(),
            agent_version: run.agent_version(),
            model: run.model(),
            started_at: run.started_at().map(format_rfc3339),
            ended_at: run.ended_at().map(format_rfc3339),
            duration_ms: run.duration_ms(),
            steps: run.step_count(),
            errors: run.error_count(),
            first_error: run.first_error().map(|s| FirstErrorJson {
                step: s.step,
                name: s.name,
                error: s.error,
            }),
            outcome: run.outcome(),
            end_error: run.end_error(),
            files: run.files().map(|p| p.display().to_string()).collect(),
            labels: run.labels(),
            format: run.format(),
        }
    }
}

pub fn problems_json(problems: &[Problem]) -> Value {
    Value::Array(
        problems
            .iter()
            .map(|p| json!({"file": p.file.display().to_string(), "line": p.line, "reason": p.reason}))
            .collect(),
    )
}

/// Reports bad lines on stderr (at most `limit` of them, then a count).
pub fn report_problems(history: &History, limit: usize) {
    let problems = history.problems();
    if problems.is_empty() {
        return;
    }
    let mut err = io::stderr().lock();
    let _ = writeln!(err, "{} line(s) could not be used:", problems.len());
    for p in problems.iter().take(limit) {
        let _ = writeln!(err, "  {}", sanitize::line(&p.to_string()));
    }
    if problems.len() > limit {
        let _ = writeln!(err, "  … and {} more (see --json)", problems.len() - limit);
    }
}

/// Pads or cuts already-sanitized `s` to exactly `width` display columns.
pub fn cell(s: &str, width: usize) -> String {
    let cut = crate::describe::truncate(s, width);
    let pad = width.saturating_sub(cut.chars().count());
    format!("{cut}{}", " ".repeat(pad))
}

/// Loads the history at `paths` (default: the current folder) for the commands that
/// take a run and paths; fails when no run file is there.
pub fn load_history(
    paths: Vec<std::path::PathBuf>,
    format: Option<Format>,
) -> anyhow::Result<History> {
    let paths = if paths.is_empty() {
        vec![std::path::PathBuf::from(".")]
    } else {
        paths
    };
    let options = crate::index::LoadOptions {
        format,
        ..crate::index::LoadOptions::default()
    };
    let history = History::load(&paths, &options)?;
    if history.files().is_empty() {
        anyhow::bail!(
            "no run files (.jsonl, .ndjson, .jsonl.gz, .jsonl.zst, or .json of a known format) under {}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(history)
}
