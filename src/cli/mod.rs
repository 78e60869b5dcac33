//! The headless commands: one module per command, each with its own `Args` (parsed by
//! clap in `main.rs`) and a `run(args) -> Result<(), CliError>` that renders
//! core results as human text or stable JSON. Every string from a run file passes
//! through [`crate::sanitize`] before it is printed as text; JSON output is escaped by
//! serde_json. Exit codes are decided once, from [`CliError`], in `main`.

pub mod browse;
pub mod classify;
pub mod diff;
pub mod incidents;
pub mod ls;
pub mod notes;
pub mod report;
pub mod search;
pub mod serve;
pub mod show;
pub mod similar;
pub mod stats;
pub mod watch;

use std::io::{self, Write};
use std::mem::ManuallyDrop;
use std::path::PathBuf;

use serde::Serialize;
use serde_json::{json, Value};

use crate::index::{Batch, History, Labels, LineScanHook, LoadEvent, LoadOptions, RunRef};
use crate::model::{Format, Outcome, Problem, Tokens};
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
    /// `{input, output}`, or `null` when no record of the run reports a usage.
    pub tokens: Option<Tokens>,
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
            tokens: run.tokens(),
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
    let lines = problems.iter().filter(|p| p.line > 0).count();
    let files = problems.len() - lines;
    let counted = match (lines, files) {
        (l, 0) => format!("{l} line(s) could not be used"),
        (0, f) => format!("{f} file problem(s)"),
        (l, f) => format!("{l} line(s) could not be used, {f} file problem(s)"),
    };
    let _ = writeln!(err, "{counted} (the rest loaded):");
    for p in problems.iter().take(limit) {
        let _ = writeln!(err, "  {}", sanitize::line(&p.to_string()));
    }
    if problems.len() > limit {
        let _ = writeln!(err, "  … and {} more (see --json)", problems.len() - limit);
    }
}

pub use crate::width::{cell, width};

/// Options every command takes (each flattens them into its own arguments, so that a
/// command may give a flag its own meaning, as `report --format md` does).
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct Common {
    /// Read every file as this format instead of detecting it: native, otel,
    /// claude-code, codex, tau-bench.
    #[arg(long, value_parser = parse_format)]
    pub format: Option<Format>,
    /// Exit with status 1 when any problem was found (a bad line, a damaged or
    /// unreadable file), after the output; for scripts and CI gates.
    #[arg(long)]
    pub strict: bool,
    /// Neither read nor write the caches under $XDG_CACHE_HOME/retrace (else
    /// ~/.cache/retrace): every file is parsed again (the index cache) and `similar`
    /// reads every incident record (the incident cache). The per-file caches are kept
    /// under $RETRACE_CACHE_LIMIT (default 4G), least recently used removed first.
    #[arg(long)]
    pub no_cache: bool,
}

impl Common {
    /// The index cache folder, unless `--no-cache`.
    pub fn cache_dir(&self) -> Option<PathBuf> {
        if self.no_cache {
            None
        } else {
            crate::index::cache::default_dir()
        }
    }
}

pub fn parse_format(s: &str) -> Result<Format, String> {
    Format::parse(s).ok_or_else(|| {
        let known: Vec<&str> = Format::ALL.iter().map(|f| f.as_str()).collect();
        format!("unknown format {s:?}; known: {}", known.join(", "))
    })
}

/// The files and folders a command reads.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Paths {
    /// Files or folders of runs (default: the current folder).
    pub paths: Vec<PathBuf>,
}

impl Paths {
    /// The paths given, or the current folder.
    pub fn resolved(&self) -> Vec<PathBuf> {
        if self.paths.is_empty() {
            vec![PathBuf::from(".")]
        } else {
            self.paths.clone()
        }
    }
}

/// Why a command did not succeed, and so the exit status.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad arguments or a malformed query (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The reader of our output went away (`retrace ls | head`): a quiet success.
    #[error("broken pipe")]
    BrokenPipe,
    /// The browser was ended by a signal (exit 128 + the signal).
    #[error("ended by signal {0}")]
    Signal(i32),
    /// `--strict`, and problems were found (they were reported with the output).
    #[error("{0} problem(s) found (--strict)")]
    Strict(usize),
    /// Anything else (exit 1).
    #[error(transparent)]
    Failed(anyhow::Error),
}

impl CliError {
    /// The process's exit status.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            CliError::BrokenPipe => 0,
            CliError::Signal(sig) => u8::try_from(128 + sig).unwrap_or(1),
            CliError::Strict(_) => 1,
            CliError::Failed(e) if is_broken_pipe(e) => 0,
            CliError::Failed(_) => 1,
        }
    }

    /// What to tell the user on stderr, if anything.
    pub fn message(&self) -> Option<String> {
        match self {
            CliError::BrokenPipe | CliError::Signal(_) => None,
            CliError::Failed(e) if is_broken_pipe(e) => None,
            CliError::Failed(e) => Some(format!("{e:#}")),
            other => Some(other.to_string()),
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<io::Error>())
        .any(|io| io.kind() == io::ErrorKind::BrokenPipe)
}

impl From<io::Error> for CliError {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::BrokenPipe {
            CliError::BrokenPipe
        } else {
            CliError::Failed(e.into())
        }
    }
}

impl From<anyhow::Error> for CliError {
    fn from(e: anyhow::Error) -> Self {
        CliError::Failed(e)
    }
}

/// Errors of the core that end a command with their message (exit 1).
macro_rules! failed_from {
    ($($error:ty),*) => {$(
        impl From<$error> for CliError {
            fn from(e: $error) -> Self {
                CliError::Failed(e.into())
            }
        }
    )*};
}

failed_from!(
    crate::Error,
    crate::diverge::DiffError,
    crate::postmortem::notes::NotesError
);

impl From<serde_json::Error> for CliError {
    fn from(e: serde_json::Error) -> Self {
        match e.io_error_kind() {
            Some(io::ErrorKind::BrokenPipe) => CliError::BrokenPipe,
            _ => CliError::Failed(e.into()),
        }
    }
}

/// Parses a query of the search language; a malformed one is a usage error.
pub fn parse_query(what: &str, text: &str) -> Result<crate::search::Query, CliError> {
    crate::search::Query::parse(text)
        .map_err(|e| CliError::Usage(format!("{what}: {}", sanitize::line(&e.message))))
}

/// Loads the history under `paths`; no run file at all is an error.
///
/// The history is never dropped: a one-shot command ends with the process, and freeing
/// millions of steps one allocation at a time costs a tenth of a warm reopen; the
/// operating system takes the memory back at exit at no cost.
pub fn load(paths: &Paths, common: &Common) -> Result<ManuallyDrop<History>, CliError> {
    load_scanning(paths, common, None, |_| {})
}

/// [`load`], with `line_scan` run on every chunk as it is parsed, and each batch shown
/// to `each_batch` before it is applied.
pub fn load_scanning(
    paths: &Paths,
    common: &Common,
    line_scan: Option<LineScanHook>,
    mut each_batch: impl FnMut(&mut Batch),
) -> Result<ManuallyDrop<History>, CliError> {
    let paths = paths.resolved();
    let options = LoadOptions {
        format: common.format,
        cache: common.cache_dir(),
        line_scan,
        ..LoadOptions::default()
    };
    let (mut history, loader) = History::open(&paths, &options)?;
    for event in loader.events() {
        match event {
            LoadEvent::Batch(mut batch) => {
                each_batch(&mut batch);
                history.apply(batch);
            }
            LoadEvent::Done(result) => {
                result?;
                break;
            }
        }
    }
    history.settle();
    if history.files().is_empty() {
        return Err(CliError::Failed(anyhow::anyhow!(
            "no run files (.jsonl, .ndjson, .jsonl.gz, .jsonl.zst, or .json of a known format) under {}",
            paths
                .iter()
                .map(|p| sanitize::line(&p.display().to_string()).into_owned())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(ManuallyDrop::new(history))
}

/// The end of every command that read a history, after its output: nothing readable at
/// all is an error for scripts, and so is any problem under `--strict`.
pub fn finish(history: &History, common: &Common) -> Result<(), CliError> {
    let problems = history.problems().len();
    if history.run_count() == 0 && problems > 0 {
        return Err(CliError::Failed(anyhow::anyhow!(
            "nothing could be read: {problems} problem(s) and no runs"
        )));
    }
    if common.strict && problems > 0 {
        return Err(CliError::Strict(problems));
    }
    Ok(())
}

/// A buffered standard output for one command's output.
pub fn stdout() -> io::BufWriter<io::StdoutLock<'static>> {
    io::BufWriter::new(io::stdout().lock())
}
