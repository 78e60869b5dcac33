//! The in-memory history: runs by id, and per run the ordered compact summaries of its
//! steps with where their bytes live. Full steps are read back from the files only when a
//! run is opened ([`History::load_steps`]).

mod build;
mod interner;

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::ingest::native::parse_event;
use crate::model::{Format, Outcome, Problem, Status, Step, StepKind};
use crate::Error;

pub use build::LoadOptions;
use interner::Interner;

/// A file the history was read from.
#[derive(Debug, Clone)]
pub struct FileInfo {
    pub path: PathBuf,
    pub format: Format,
    pub modified: Option<SystemTime>,
    /// Lines read (complete lines only).
    pub lines: u64,
}

/// Marks a missing value in the compact step summary.
const NO_STRING: u32 = u32::MAX;
const NO_TS: i64 = i64::MIN;

/// The compact summary kept for every step (40 bytes).
#[derive(Debug, Clone, Copy)]
pub(crate) struct StepSummary {
    /// File index in the top 16 bits, byte offset in the low 48.
    loc: u64,
    ts: i64,
    len: u32,
    name: u32,
    error: u32,
    /// The `step` field, or `u32::MAX` when absent.
    seq: u32,
    duration_ms: f32,
    kind: u8,
    status: u8,
}

impl StepSummary {
    fn file(&self) -> usize {
        (self.loc >> 48) as usize
    }
    fn offset(&self) -> u64 {
        self.loc & ((1 << 48) - 1)
    }
}

/// What the index keeps of a run.
#[derive(Debug, Clone, Default)]
pub(crate) struct RunEntry {
    id: Box<str>,
    agent: Option<Box<str>>,
    agent_version: Option<Box<str>>,
    model: Option<Box<str>>,
    labels: BTreeMap<String, String>,
    declared: Option<Outcome>,
    end_error: Option<Box<str>>,
    files: Vec<u32>,
    /// Indices into `History::steps`, in run order once the history is finished.
    steps: Vec<u32>,
    started_at: Option<i64>,
    ended_at: Option<i64>,
    errors: u32,
    first_error: Option<u32>,
}

/// The loaded run history.
#[derive(Debug, Default)]
pub struct History {
    files: Vec<FileInfo>,
    runs: Vec<RunEntry>,
    run_by_id: FxHashMap<Box<str>, u32>,
    steps: Vec<StepSummary>,
    strings: Interner,
    problems: Vec<Problem>,
    skipped_files: usize,
    /// A run without `run_end` whose file changed this recently is taken as still running.
    running_window_ms: i64,
    loaded_at: Option<SystemTime>,
}

/// A run of the history, borrowed.
#[derive(Clone, Copy)]
pub struct RunRef<'h> {
    history: &'h History,
    index: usize,
    entry: &'h RunEntry,
}

/// The summary of one step, borrowed from the index.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepInfo<'h> {
    /// Position in the run.
    pub step: u32,
    pub kind: StepKind,
    pub name: Option<&'h str>,
    pub status: Status,
    /// The error code, or the message when the error has no code.
    pub error: Option<&'h str>,
    pub ts: Option<i64>,
    pub duration_ms: Option<f64>,
}

impl History {
    /// Loads every run file under `paths` (see [`crate::source::discover`]).
    pub fn load(paths: &[PathBuf], options: &LoadOptions) -> Result<History, Error> {
        build::load(paths, options)
    }

    pub fn runs(&self) -> impl ExactSizeIterator<Item = RunRef<'_>> + '_ {
        (0..self.runs.len()).map(|i| self.run(i))
    }

    pub fn run_count(&self) -> usize {
        self.runs.len()
    }

    /// The run at `index` (in load order). Panics when out of range, like slice indexing.
    pub fn run(&self, index: usize) -> RunRef<'_> {
        RunRef {
            history: self,
            index,
            entry: &self.runs[index],
        }
    }

    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    pub fn files(&self) -> &[FileInfo] {
        &self.files
    }

    /// Files found in folders that are not run files.
    pub fn skipped_files(&self) -> usize {
        self.skipped_files
    }

    pub fn step_count(&self) -> usize {
        self.steps.len()
    }

    /// Finds a run by its exact id, or else by a unique prefix of it.
    pub fn find_run(&self, query: &str) -> Result<RunRef<'_>, Error> {
        if let Some(&i) = self.run_by_id.get(query) {
            return Ok(self.run(i as usize));
        }
        let mut matches = self.runs().filter(|r| r.id().starts_with(query));
        match (matches.next(), matches.next()) {
            (Some(r), None) => Ok(r),
            (None, _) => Err(Error::RunNotFound(query.to_string())),
            (Some(a), Some(b)) => {
                let mut candidates = vec![a.id().to_string(), b.id().to_string()];
                candidates.extend(matches.take(8).map(|r| r.id().to_string()));
                Err(Error::AmbiguousRun {
                    prefix: query.to_string(),
                    candidates,
                })
            }
        }
    }

    fn string(&self, id: u32) -> Option<&str> {
        (id != NO_STRING).then(|| self.strings.get(id))
    }

    fn file_is_fresh(&self, file: usize) -> bool {
        let (Some(modified), Some(loaded)) = (self.files[file].modified, self.loaded_at) else {
            return false;
        };
        loaded
            .duration_since(modified)
            .map(|age| (age.as_millis() as i64) < self.running_window_ms)
            .unwrap_or(true)
    }
}

impl<'h> RunRef<'h> {
    /// Position in [`History::runs`].
    pub fn index(&self) -> usize {
        self.index
    }
    pub fn id(&self) -> &'h str {
        &self.entry.id
    }
    pub fn agent(&self) -> Option<&'h str> {
        self.entry.agent.as_deref()
    }
    pub fn agent_version(&self) -> Option<&'h str> {
        self.entry.agent_version.as_deref()
    }
    pub fn model(&self) -> Option<&'h str> {
        self.entry.model.as_deref()
    }
    pub fn labels(&self) -> &'h BTreeMap<String, String> {
        &self.entry.labels
    }
    pub fn format(&self) -> Format {
        self.entry
            .files
            .first()
            .map(|&f| self.history.files[f as usize].format)
            .unwrap_or(Format::Native)
    }
    pub fn files(&self) -> impl Iterator<Item = &'h Path> + 'h {
        let history = self.history;
        self.entry
            .files
            .iter()
            .map(move |&f| history.files[f as usize].path.as_path())
    }
    pub fn started_at(&self) -> Option<i64> {
        self.entry.started_at
    }
    pub fn ended_at(&self) -> Option<i64> {
        self.entry.ended_at
    }
    pub fn duration_ms(&self) -> Option<i64> {
        Some(self.entry.ended_at? - self.entry.started_at?)
    }
    pub fn step_count(&self) -> usize {
        self.entry.steps.len()
    }
    /// Steps with status error (or of kind `error`).
    pub fn error_count(&self) -> u32 {
        self.entry.errors
    }
    /// The `run_end` error, when the run declared one.
    pub fn end_error(&self) -> Option<&'h str> {
        self.entry.end_error.as_deref()
    }

    /// The declared outcome; without `run_end`, `running` while a file of the run is still
    /// being written (changed within the last minute), `unknown` otherwise.
    pub fn outcome(&self) -> Outcome {
        if let Some(o) = self.entry.declared {
            return o;
        }
        if self
            .entry
            .files
            .iter()
            .any(|&f| self.history.file_is_fresh(f as usize))
        {
            Outcome::Running
        } else {
            Outcome::Unknown
        }
    }

    /// The first failing step, if any.
    pub fn first_error(&self) -> Option<StepInfo<'h>> {
        self.entry.first_error.map(|i| self.step(i as usize))
    }

    /// The summary of step `i` (0-based position in the run).
    pub fn step(&self, i: usize) -> StepInfo<'h> {
        let s = &self.history.steps[self.entry.steps[i] as usize];
        StepInfo {
            step: i as u32,
            kind: StepKind::from_u8(s.kind),
            name: self.history.string(s.name),
            status: Status::from_u8(s.status),
            error: self.history.string(s.error),
            ts: (s.ts != NO_TS).then_some(s.ts),
            duration_ms: (!s.duration_ms.is_nan()).then_some(f64::from(s.duration_ms)),
        }
    }

    pub fn steps(&self) -> impl ExactSizeIterator<Item = StepInfo<'h>> + '_ {
        (0..self.step_count()).map(|i| self.step(i))
    }

    /// Reads and parses every step of the run from its files.
    pub fn load_steps(&self) -> Result<Vec<Step>, Error> {
        self.load_range(0..self.step_count())
    }

    /// Reads and parses steps `range` of the run.
    pub fn load_range(&self, range: std::ops::Range<usize>) -> Result<Vec<Step>, Error> {
        let summaries: Vec<&StepSummary> = self.entry.steps[range.clone()]
            .iter()
            .map(|&i| &self.history.steps[i as usize])
            .collect();
        let mut records: Vec<Option<Vec<u8>>> = vec![None; summaries.len()];
        let mut by_file: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (i, s) in summaries.iter().enumerate() {
            by_file.entry(s.file()).or_default().push(i);
        }
        for (file, idxs) in by_file {
            let ranges: Vec<(u64, u32)> = idxs
                .iter()
                .map(|&i| (summaries[i].offset(), summaries[i].len))
                .collect();
            let path = &self.history.files[file].path;
            for (i, bytes) in idxs.into_iter().zip(crate::source::read_ranges(path, &ranges)?) {
                records[i] = Some(bytes);
            }
        }
        records
            .into_iter()
            .zip(summaries)
            .enumerate()
            .map(|(i, (bytes, summary))| {
                let bytes = bytes.unwrap_or_default();
                let position = (range.start + i) as u32;
                decode_step(&bytes, position).map_err(|reason| Error::Changed {
                    path: self.history.files[summary.file()].path.clone(),
                    offset: summary.offset(),
                    reason,
                })
            })
            .collect()
    }
}

/// Parses one stored record into a full [`Step`].
fn decode_step(bytes: &[u8], position: u32) -> Result<Step, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("invalid UTF-8: {e}"))?;
    let ev = parse_event(text)?;
    let record: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    Ok(Step {
        step: position,
        id: ev
            .id
            .as_deref()
            .map(str::to_owned)
            .or_else(|| ev.step.map(|s| s.to_string()))
            .unwrap_or_else(|| position.to_string()),
        parent: ev.parent.as_deref().map(str::to_owned),
        kind: ev.step_kind(),
        kind_name: ev.kind.to_string(),
        name: ev.name.as_deref().map(str::to_owned),
        status: ev.effective_status(),
        error: ev.error.clone(),
        ts: ev.ts,
        duration_ms: ev.duration_ms,
        record,
    })
}
