//! The in-memory history: runs by id, and per run the ordered compact summaries of its
//! steps with where their bytes live. Full steps are read back from the files only when a
//! run is opened ([`RunRef::load_steps`]).

pub mod cache;
mod interner;
mod leaves;
mod line_scan;
mod link;
mod merge;
mod parse;
mod pipeline;
mod plan;
mod records;
mod shared;
mod summary_fields;
pub mod watch;

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::ingest::TokenCount;

use crate::model::{Format, Outcome, Problem, Status, Step, StepKind, Tokens};
use crate::Error;

use interner::Interner;
pub use leaves::SUMMARY_LABEL;
pub use line_scan::{LineScan, LineScanHook, ScannedLines};
pub use pipeline::{Batch, LoadEvent, Loader};
pub use plan::StepPlan;
pub use records::{Record, RecordBatch, RecordKey, SlotInfo, StrId};
pub use shared::SharedHistory;

/// How to load a history.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Parser threads; `None` uses every core.
    pub threads: Option<usize>,
    /// Bytes read per chunk.
    pub chunk_size: usize,
    /// A run without `run_end` whose file changed within this window counts as running.
    pub running_window: std::time::Duration,
    /// Read every file as this format instead of detecting it.
    pub format: Option<Format>,
    /// The loading threads give way to a UI thread (see [`crate::work::give_way_to_the_ui`]).
    pub behind_ui: bool,
    /// The index cache folder (see [`cache`]); `None` parses every file.
    pub cache: Option<PathBuf>,
    /// Files smaller than this are not cached (see [`cache::MIN_CACHED_BYTES`]).
    pub cache_min_bytes: u64,
    /// A test of every native line, run as each chunk is parsed ([`LineScan`]): a one-shot
    /// search then reads the files once.
    pub line_scan: Option<LineScanHook>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            threads: None,
            chunk_size: 2 << 20,
            running_window: std::time::Duration::from_secs(60),
            format: None,
            behind_ui: false,
            cache: None,
            cache_min_bytes: cache::MIN_CACHED_BYTES,
            line_scan: None,
        }
    }
}

/// A file the history was read from.
#[derive(Debug, Clone)]
pub struct FileInfo {
    pub path: PathBuf,
    pub format: Format,
    pub modified: Option<SystemTime>,
    /// Lines read (complete lines only).
    pub lines: u64,
    /// Bytes read: the offset just past the last complete line.
    pub consumed: u64,
    /// Of those, the bytes whose index was read from the index cache, not parsed.
    pub cached: u64,
    /// Problems about the whole file already reported (each once).
    notes: std::collections::BTreeSet<String>,
}

/// Marks a missing value in the compact step summary.
const NO_STRING: u32 = u32::MAX;
const NO_TS: i64 = i64::MIN;

/// Bits of a step's location that hold its byte offset; the file index has the rest.
/// 24 file bits: 16,777,216 files; 40 offset bits: 1 TiB of content per file.
const OFFSET_BITS: u32 = 40;
/// Files a history can hold.
pub const MAX_FILES: usize = 1 << (64 - OFFSET_BITS);
/// Content of one file past this offset is not indexed (reported as a problem).
pub const MAX_FILE_OFFSET: u64 = 1 << OFFSET_BITS;

/// Lines longer than this are indexed without their length; the reader finds their end.
const LEN_BITS: u32 = 26;
const LEN_UNKNOWN: u32 = (1 << LEN_BITS) - 1;

/// The compact summary kept for every step (32 bytes). Error labels live in a side
/// table ([`History::step_errors`]): few steps have one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StepSummary {
    /// File index in the top 24 bits, byte offset in the low 40 (see [`OFFSET_BITS`]).
    loc: u64,
    ts: i64,
    /// Record length (26 bits), kind (4 bits), status (2 bits).
    packed: u32,
    name: u32,
    /// The `step` field, or `u32::MAX` when absent.
    seq: u32,
    duration_ms: f32,
}

impl StepSummary {
    fn new(file: u32, offset: u64, len: usize, kind: StepKind, status: Status) -> StepSummary {
        let len = u32::try_from(len).unwrap_or(LEN_UNKNOWN).min(LEN_UNKNOWN);
        StepSummary {
            loc: (u64::from(file) << OFFSET_BITS) | (offset & (MAX_FILE_OFFSET - 1)),
            ts: NO_TS,
            packed: len | (kind as u32) << LEN_BITS | (status as u32) << 30,
            name: NO_STRING,
            seq: u32::MAX,
            duration_ms: f32::NAN,
        }
    }
    fn file(&self) -> usize {
        (self.loc >> OFFSET_BITS) as usize
    }
    fn offset(&self) -> u64 {
        self.loc & (MAX_FILE_OFFSET - 1)
    }
    /// The record's length, or `None` when it is too long to have been stored.
    fn len(&self) -> Option<u32> {
        let len = self.packed & LEN_UNKNOWN;
        (len != LEN_UNKNOWN).then_some(len)
    }
    fn kind(&self) -> StepKind {
        StepKind::from_u8(((self.packed >> LEN_BITS) & 0xF) as u8)
    }
    fn status(&self) -> Status {
        Status::from_u8((self.packed >> 30) as u8)
    }
    fn set_kind(&mut self, kind: StepKind) {
        self.packed = (self.packed & !(0xF << LEN_BITS)) | (kind as u32) << LEN_BITS;
    }
    fn is_error(&self) -> bool {
        crate::model::is_error(self.kind(), self.status())
    }
}

/// A run's aliases (see [`crate::ingest::Alias`]): by name key, the id and whether the
/// declaration was weak.
pub(crate) type AliasTable = FxHashMap<u64, (Box<str>, bool)>;

/// A run's steps that sit next to each other in `History::steps`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Segment {
    start: u32,
    /// Steps of the run up to and including this segment.
    end_position: u32,
}

/// What the index keeps of a run.
#[derive(Debug, Clone, Default)]
pub(crate) struct RunEntry {
    id: Box<str>,
    // Interned: thousands of runs share a few agents, versions, models and labels.
    agent: u32,
    agent_version: u32,
    model: u32,
    labels: Box<[(u32, u32)]>,
    declared: Option<Outcome>,
    end_error: Option<Box<str>>,
    files: Vec<u32>,
    /// Where the run's steps are in `History::steps`, in run order once the history is
    /// finished. Concurrent runs interleave in a file, but within a chunk the parser
    /// groups each run's steps, so a run has a few segments, not one index per step.
    segments: Vec<Segment>,
    started_at: Option<i64>,
    ended_at: Option<i64>,
    tokens: RunTokens,
    errors: u32,
    first_error: Option<u32>,
    /// Steps whose figures are counted above; the rest arrived since the last settle.
    counted: u32,
    /// Touched since the last settle (and listed in `History::dirty`).
    dirty: bool,
    /// Names the run's records gave to its steps, shared with reads in flight.
    aliases: Option<std::sync::Arc<AliasTable>>,
    /// One of the run's steps was made its trigger (its `run_start`).
    has_trigger: bool,
}

/// A run's token total as its records add up: summed usages, and usages reported several
/// times (see [`TokenCount::Once`]) at their largest, each once.
#[derive(Debug, Clone, Default)]
pub(crate) struct RunTokens {
    /// Set once any usage was seen: summed usages plus each repeated usage once.
    total: Option<Tokens>,
    /// The largest figures seen of each usage reported several times.
    once: Option<Box<FxHashMap<u64, Tokens>>>,
}

impl RunTokens {
    fn add(&mut self, tokens: Tokens, count: TokenCount) {
        let total = self.total.get_or_insert_with(Tokens::default);
        match count {
            TokenCount::Add => *total += tokens,
            TokenCount::Once(key) => {
                let once = self.once.get_or_insert_with(Default::default);
                let seen = once.entry(key).or_default();
                let grown = seen.max(tokens);
                // Only the growth is added: the total counts each usage once.
                *total += grown.minus(*seen);
                *seen = grown;
            }
            TokenCount::Shown => {}
        }
    }

    /// Adds the usages of a later part of the run (another chunk or file).
    fn merge(&mut self, other: RunTokens) {
        let Some(total) = other.total else { return };
        let mut summed = total;
        for (key, tokens) in other.once.into_iter().flat_map(|m| m.into_iter()) {
            summed = summed.minus(tokens);
            self.add(tokens, TokenCount::Once(key));
        }
        self.add(summed, TokenCount::Add);
    }
}

/// The loaded run history.
#[derive(Debug, Default)]
pub struct History {
    files: Vec<FileInfo>,
    runs: Vec<RunEntry>,
    run_by_id: FxHashMap<Box<str>, u32>,
    steps: Vec<StepSummary>,
    /// Error label (code, else message) of the steps that have one, by step index.
    step_errors: FxHashMap<u32, u32>,
    strings: Interner,
    problems: Vec<Problem>,
    /// Runs touched since the last settle.
    dirty: Vec<u32>,
    skipped_files: usize,
    /// A run without `run_end` whose file changed this recently is taken as still running.
    running_window_ms: i64,
    /// Resolved places (see [`crate::ingest::Place`]) by step location and place in record.
    links: FxHashMap<(u64, u32), link::Link>,
    /// Where the resolution of each file's places stands.
    file_links: FxHashMap<u32, link::FileLinks>,
    /// What finds the runs summaries sum up.
    leaves: leaves::Leaves,
    /// The index cache folder it was opened with, and the smallest file cached.
    cache: Option<(PathBuf, u64)>,
}

/// A run of the history, borrowed.
#[derive(Clone, Copy)]
pub struct RunRef<'h> {
    history: &'h History,
    index: usize,
    entry: &'h RunEntry,
}

/// A run's labels, borrowed; serializes as a JSON object.
#[derive(Clone, Copy)]
pub struct Labels<'h> {
    history: &'h History,
    pairs: &'h [(u32, u32)],
}

impl<'h> Labels<'h> {
    pub fn iter(&self) -> impl Iterator<Item = (&'h str, &'h str)> + 'h {
        let strings = &self.history.strings;
        self.pairs
            .iter()
            .map(move |&(k, v)| (strings.get(k), strings.get(v)))
    }
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

impl serde::Serialize for Labels<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
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

impl StepInfo<'_> {
    /// Whether the step failed ([`crate::model::is_error`]).
    pub fn is_error(&self) -> bool {
        crate::model::is_error(self.kind, self.status)
    }
}

impl History {
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

    /// The index cache folder the history was opened with (`None`: no cache), and the
    /// size below which files are not cached.
    pub fn cache(&self) -> Option<(&Path, u64)> {
        self.cache.as_ref().map(|(dir, min)| (dir.as_path(), *min))
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
        let Some(modified) = self.files[file].modified else {
            return false;
        };
        SystemTime::now()
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
        self.history.string(self.entry.agent)
    }
    pub fn agent_version(&self) -> Option<&'h str> {
        self.history.string(self.entry.agent_version)
    }
    pub fn model(&self) -> Option<&'h str> {
        self.history.string(self.entry.model)
    }
    /// The run's labels (from `run_start`), sorted by key.
    pub fn labels(&self) -> Labels<'h> {
        Labels {
            history: self.history,
            pairs: &self.entry.labels,
        }
    }
    pub fn label(&self, key: &str) -> Option<&'h str> {
        self.labels()
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
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
        self.entry.step_count()
    }
    /// Steps with status error (or of kind `error`).
    pub fn error_count(&self) -> u32 {
        self.entry.errors
    }
    /// The run's token total, `None` when none of its records reports a usage.
    pub fn tokens(&self) -> Option<Tokens> {
        self.entry.tokens.total
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
        let index = self.entry.global_index(i);
        let s = &self.history.steps[index as usize];
        StepInfo {
            step: i as u32,
            kind: s.kind(),
            name: self.history.string(s.name),
            status: s.status(),
            error: self
                .history
                .step_errors
                .get(&index)
                .map(|&e| self.history.strings.get(e)),
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
        self.decode_range(range, true)
    }

    /// Like [`RunRef::load_range`], but without building each step's `record` (it is
    /// `null`): ids, parents, kinds, names, statuses and errors only. Much cheaper for
    /// native files, whose payloads are skipped, not parsed (the decision tree of a long
    /// run needs only this).
    pub fn load_links(&self, range: std::ops::Range<usize>) -> Result<Vec<Step>, Error> {
        self.decode_range(range, false)
    }

    fn decode_range(
        &self,
        range: std::ops::Range<usize>,
        with_records: bool,
    ) -> Result<Vec<Step>, Error> {
        self.plan(range).read(with_records)
    }

    /// Where steps `range` of the run live, owned: read it ([`StepPlan::read`]) after
    /// letting go of the history (a lock on it need not be held across the reads).
    pub fn plan(&self, range: std::ops::Range<usize>) -> StepPlan {
        let mut files: BTreeMap<usize, (PathBuf, Format)> = BTreeMap::new();
        let steps = range
            .clone()
            .map(|i| {
                let summary = &self.history.steps[self.entry.global_index(i) as usize];
                let file = summary.file();
                let info = &self.history.files[file];
                files
                    .entry(file)
                    .or_insert_with(|| (info.path.clone(), info.format));
                let sub = if info.format == Format::Native {
                    0
                } else {
                    summary.seq as usize
                };
                let trigger = summary.kind() == StepKind::RunStart;
                (file, summary.offset(), summary.len(), sub, trigger)
            })
            .collect();
        let links = if self.history.links.is_empty() {
            Vec::new()
        } else {
            let text = |s: u32| self.history.string(s).map(str::to_owned);
            range
                .clone()
                .map(|i| {
                    let summary = &self.history.steps[self.entry.global_index(i) as usize];
                    let link = self.history.links.get(&(summary.loc, summary.seq))?;
                    Some((text(link.id), text(link.parent), link.start))
                })
                .collect()
        };
        StepPlan {
            start: range.start,
            files,
            steps,
            aliases: self.entry.aliases.clone(),
            links,
        }
    }
}

impl RunEntry {
    fn reset_figures(&mut self) {
        self.started_at = None;
        self.ended_at = None;
        self.errors = 0;
        self.first_error = None;
        self.counted = 0;
    }

    fn step_count(&self) -> usize {
        self.segments.last().map_or(0, |s| s.end_position as usize)
    }

    /// The index in `History::steps` of the run's step at `position`.
    fn global_index(&self, position: usize) -> u32 {
        let position = position as u32;
        let seg = self
            .segments
            .partition_point(|s| s.end_position <= position);
        let s = &self.segments[seg];
        let seg_start = if seg == 0 {
            0
        } else {
            self.segments[seg - 1].end_position
        };
        s.start + (position - seg_start)
    }

    /// Every step index of the run, in run order.
    fn global_indices(&self) -> impl Iterator<Item = u32> + '_ {
        let mut prev_end = 0;
        self.segments.iter().flat_map(move |s| {
            let len = s.end_position - prev_end;
            prev_end = s.end_position;
            s.start..s.start + len
        })
    }

    /// Appends `len` steps stored from `start`, extending the last segment when adjacent.
    fn push_steps(&mut self, start: u32, len: u32) {
        let n = self.segments.len();
        let end = self.step_count() as u32 + len;
        if n > 0 {
            let prev_end = if n >= 2 {
                self.segments[n - 2].end_position
            } else {
                0
            };
            let last = &mut self.segments[n - 1];
            if last.start + (last.end_position - prev_end) == start {
                last.end_position = end;
                return;
            }
        }
        self.segments.push(Segment {
            start,
            end_position: end,
        });
    }
}
