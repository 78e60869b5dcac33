//! Parses one chunk of lines into compact step summaries, on a worker thread. Strings
//! and run ids are numbered locally; the merge maps them into the history.

use memchr::memchr;
use rustc_hash::FxHashMap;

use super::interner::Interner;
use super::{StepSummary, NO_STRING, NO_TS};
use crate::ingest::native::parse_event;
use crate::ingest::{framing, parse_record, Context, Event, Framing, Place};
use crate::model::{Format, Outcome, Status, StepKind};

/// Longest error message kept in the index (the full one is in the file).
const MAX_INDEXED_ERROR: usize = 120;
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";
/// Bad lines this close together right before a decoding failure are taken as garbage
/// the failure produced (garbage may hold newlines, and blank lines are no problem).
const GARBLED_GAP: u64 = 3;

/// Newline-aligned bytes of one file.
pub(super) struct Chunk {
    pub(super) seq: u64,
    pub(super) file: u32,
    pub(super) format: Format,
    pub(super) stem: std::sync::Arc<str>,
    /// Offset of `buf[0]` in the (decompressed) file.
    pub(super) base: u64,
    pub(super) buf: Vec<u8>,
    pub(super) len: usize,
    /// Reading the file stopped after this chunk: why.
    pub(super) stopped: Option<Stop>,
}

/// Why a file's reading ended early.
pub(super) enum Stop {
    /// The file could not be opened (a problem about the whole file: line 0).
    Unopened(String),
    /// Reading or decoding failed after this chunk (a problem at the next line).
    Damaged(String),
    /// The chunk's last line stands for a line too long to keep (a problem at it).
    TooLong(String),
}

#[derive(Default)]
pub(super) struct LocalRun {
    pub(super) id: Box<str>,
    // The batch's strings (`Parsed::strings`), so that the merge interns each once per
    // batch, not once per run.
    pub(super) agent: Option<u32>,
    pub(super) agent_version: Option<u32>,
    pub(super) model: Option<u32>,
    /// (key, value) strings, in the order of the keys' text.
    pub(super) labels: Option<Vec<(u32, u32)>>,
    pub(super) declared: Option<Outcome>,
    pub(super) end_error: Option<Box<str>>,
    pub(super) tokens: super::RunTokens,
    /// Steps of the run in this chunk so far.
    pub(super) steps: u32,
    /// The first step that may be the run's trigger: its place among the run's steps of
    /// the chunk, and its own kind (the merge gives it back when the run has a trigger).
    pub(super) trigger: Option<(u32, StepKind)>,
}

/// An alias a record declared (see [`crate::ingest::Alias`]): run (local), name key, id.
pub(super) struct LocalAlias {
    pub(super) run: u32,
    pub(super) name: u64,
    pub(super) id: Box<str>,
    pub(super) weak: bool,
}

/// What a worker made of one chunk; string and run ids are local to it.
pub(super) struct Parsed {
    pub(super) seq: u64,
    pub(super) file: u32,
    pub(super) lines: u64,
    /// Grouped by run (in order of first appearance), each run's steps in file order.
    pub(super) steps: Vec<StepSummary>,
    /// The error label of each step in `steps`, or `NO_STRING`.
    pub(super) step_errors: Vec<u32>,
    /// Steps per local run, in the order of `steps`.
    pub(super) run_steps: Vec<u32>,
    /// While parsing: the local run of each step in `steps`.
    pub(super) step_runs: Vec<u32>,
    pub(super) runs: Vec<LocalRun>,
    pub(super) strings: Interner,
    /// (1-based line within the chunk, reason)
    pub(super) problems: Vec<(u64, String)>,
    /// Aliases declared, in file order.
    pub(super) aliases: Vec<LocalAlias>,
    /// What only some formats have (boxed: most chunks have none).
    pub(super) extras: Box<Extras>,
    /// Offset just past the chunk in its file: what has been read of it.
    pub(super) end: u64,
    /// Read back from the index cache rather than parsed.
    pub(super) from_cache: bool,
}

/// What an adapter says beyond steps and problems.
#[derive(Default)]
pub(super) struct Extras {
    /// Problems about the whole file noticed on a line (an unknown format version):
    /// (1-based line within the chunk, reason), reported once per file.
    pub(super) notes: Vec<(u64, String)>,
    /// Steps whose place the index resolves (see [`Place`]), in file order.
    pub(super) places: Vec<Placed>,
    /// Record ids a summary may name (see [`crate::ingest::Event::record_id`]): key, local
    /// run; in file order.
    pub(super) record_ids: Vec<(u64, u32)>,
    /// Summaries (see [`crate::ingest::SumsUp`]), in file order.
    pub(super) summaries: Vec<LocalSummary>,
}

/// A summary step of the chunk: the leaf it names (key and local string) and its text.
#[derive(Debug, Clone, Copy)]
pub(super) struct LocalSummary {
    /// Index in `Parsed::steps`.
    pub(super) step: u32,
    pub(super) run: u32,
    pub(super) leaf_key: u64,
    pub(super) leaf: u32,
    pub(super) text: u32,
}

/// A step whose place in its run is resolved when its batch is applied.
#[derive(Debug, Clone, Copy)]
pub(super) struct Placed {
    /// Index in `Parsed::steps`.
    pub(super) step: u32,
    pub(super) place: Place,
    /// The record's own id and parent (local strings), or `NO_STRING`.
    pub(super) id: u32,
    pub(super) parent: u32,
}

/// Parses a chunk; returns what it found and the emptied buffer, for reuse.
pub(super) fn parse_chunk(chunk: Chunk) -> (Parsed, Vec<u8>) {
    let mut parsed = Parsed {
        seq: chunk.seq,
        file: chunk.file,
        lines: 0,
        steps: Vec::with_capacity(chunk.len / 256),
        step_errors: Vec::with_capacity(chunk.len / 256),
        run_steps: Vec::new(),
        step_runs: Vec::with_capacity(chunk.len / 256),
        runs: Vec::new(),
        strings: Interner::default(),
        problems: Vec::new(),
        aliases: Vec::new(),
        extras: Box::default(),
        end: chunk.base + chunk.len as u64,
        from_cache: false,
    };
    let mut run_ids: FxHashMap<Box<str>, u32> = FxHashMap::default();
    let data = &chunk.buf[..chunk.len];
    let mut start = 0;
    if chunk.base == 0 && data.starts_with(UTF8_BOM) {
        start = UTF8_BOM.len();
    }
    let ctx = Context {
        file_stem: &chunk.stem,
    };
    if framing(chunk.format) == Framing::Document {
        if chunk.len > 0 {
            parse_document(&mut parsed, &mut run_ids, &chunk, start, &ctx);
        }
        parsed.group_by_run();
        parsed.note_stop(chunk.stopped);
        return (parsed, chunk.buf);
    }
    let mut part_problems = Vec::new();
    while start < data.len() {
        let end = memchr(b'\n', &data[start..]).map_or(data.len(), |p| start + p);
        parsed.lines += 1;
        let mut line = &data[start..end];
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        let offset = chunk.base + start as u64;
        start = end + 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let Ok(line) = simdutf8::basic::from_utf8(line) else {
            let at = std::str::from_utf8(line)
                .err()
                .map_or(0, |e| e.valid_up_to());
            parsed
                .problems
                .push((parsed.lines, format!("invalid UTF-8 at byte {}", at + 1)));
            continue;
        };
        if chunk.format == Format::Native {
            // The hot path of large histories: no event list, nothing built for payloads.
            match parse_event(line) {
                Ok(ev) => parsed.add(
                    &mut run_ids,
                    &ev,
                    Format::Native,
                    chunk.file,
                    offset,
                    line.len(),
                ),
                Err(reason) => parsed.problems.push((parsed.lines, reason)),
            }
            continue;
        }
        let mut line_events = Vec::new();
        match parse_record(
            chunk.format,
            line,
            &ctx,
            false,
            &mut line_events,
            &mut part_problems,
        ) {
            Ok(()) => {
                for ev in &line_events {
                    parsed.add(
                        &mut run_ids,
                        ev,
                        chunk.format,
                        chunk.file,
                        offset,
                        line.len(),
                    );
                }
            }
            Err(reason) => parsed.problems.push((parsed.lines, reason)),
        }
        // Notes about the whole file (once per file), and parts of a usable line that
        // were left out (spans without a trace id: on their line).
        for (part, reason) in part_problems.drain(..) {
            if part != crate::ingest::FILE_NOTE {
                parsed.problems.push((parsed.lines, reason));
            } else if !parsed.extras.notes.iter().any(|(_, r)| *r == reason) {
                parsed.extras.notes.push((parsed.lines, reason));
            }
        }
    }
    parsed.group_by_run();
    parsed.note_stop(chunk.stopped);
    (parsed, chunk.buf)
}

/// A whole-file document (tau-bench): each event's record is a part of it.
fn parse_document(
    parsed: &mut Parsed,
    run_ids: &mut FxHashMap<Box<str>, u32>,
    chunk: &Chunk,
    start: usize,
    ctx: &Context,
) {
    let data = &chunk.buf[start..chunk.len];
    let line_of = |offset: usize| {
        1 + memchr::memchr_iter(b'\n', &data[..offset.min(data.len())]).count() as u64
    };
    parsed.lines = memchr::memchr_iter(b'\n', data).count() as u64;
    let text = match std::str::from_utf8(data) {
        Ok(text) => text,
        Err(e) => {
            let at = e.valid_up_to();
            parsed
                .problems
                .push((line_of(at), format!("invalid UTF-8 at byte {}", at + 1)));
            return;
        }
    };
    let mut events = Vec::new();
    let mut part_problems = Vec::new();
    if let Err(reason) = parse_record(
        chunk.format,
        text,
        ctx,
        false,
        &mut events,
        &mut part_problems,
    ) {
        parsed.problems.push((1, reason));
    }
    for (offset, reason) in part_problems {
        parsed.problems.push((line_of(offset), reason));
    }
    for ev in &events {
        let (offset, len) = ev.span.unwrap_or((0, text.len()));
        let base = chunk.base + (start + offset) as u64;
        parsed.add(run_ids, ev, chunk.format, chunk.file, base, len);
    }
}

impl Parsed {
    /// Reading stopped after the chunk: a problem at the line where it stopped.
    fn note_stop(&mut self, stopped: Option<Stop>) {
        match stopped {
            Some(Stop::Unopened(reason)) => self.problems.push((0, reason)),
            Some(Stop::TooLong(reason)) => self.problems.push((self.lines, reason)),
            Some(Stop::Damaged(reason)) => {
                // A damaged compressed stream often decodes into garbage just before the
                // decoder notices: bad lines right before the stop are that garbage, and
                // belong to this one problem.
                let mut at = self.lines + 1;
                let mut garbled = 0;
                while let Some(&(line, _)) = self.problems.last() {
                    if line + GARBLED_GAP < at {
                        break;
                    }
                    self.problems.pop();
                    at = line;
                    garbled += 1;
                }
                let reason = match garbled {
                    0 => reason,
                    n => format!("{reason} ({n} garbled lines just before it dropped)"),
                };
                self.problems.push((at, reason));
            }
            None => {}
        }
    }

    fn add(
        &mut self,
        run_ids: &mut FxHashMap<Box<str>, u32>,
        ev: &Event,
        format: Format,
        file: u32,
        offset: u64,
        len: usize,
    ) {
        let run = match run_ids.get(ev.run_id.as_ref()) {
            Some(&r) => r,
            None => {
                let r = self.runs.len() as u32;
                self.runs.push(LocalRun {
                    id: ev.run_id.as_ref().into(),
                    ..LocalRun::default()
                });
                run_ids.insert(ev.run_id.as_ref().into(), r);
                r
            }
        };
        let local = &mut self.runs[run as usize];
        if ev.describes_run {
            let strings = &mut self.strings;
            for (slot, value) in [
                (&mut local.agent, &ev.agent),
                (&mut local.agent_version, &ev.agent_version),
                (&mut local.model, &ev.model),
            ] {
                if let Some(v) = value {
                    *slot = Some(strings.intern(v));
                }
            }
            if let Some(labels) = &ev.labels {
                let pairs = local.labels.get_or_insert_with(Vec::new);
                for (key, value) in labels {
                    let pair = (strings.intern(key), strings.intern(value));
                    match pairs.binary_search_by(|&(k, _)| strings.get(k).cmp(key)) {
                        Ok(at) => pairs[at] = pair,
                        Err(at) => pairs.insert(at, pair),
                    }
                }
            }
        }
        if ev.outcome.is_some() {
            local.declared = ev.outcome;
            local.end_error = ev.error.as_ref().map(|e| e.to_string().into());
        }
        if let Some(tokens) = ev.tokens {
            local.tokens.add(tokens, ev.tokens_count);
        }
        for alias in &ev.aliases {
            self.aliases.push(LocalAlias {
                run,
                name: crate::ingest::text_key(&alias.name),
                id: alias.id.as_ref().into(),
                weak: alias.weak,
            });
        }
        if ev.run_info_only {
            return;
        }
        if ev.place != Place::Given {
            let mut string = |s: Option<&str>| s.map_or(NO_STRING, |s| self.strings.intern(s));
            let placed = Placed {
                step: self.steps.len() as u32,
                place: ev.place,
                id: string(ev.id.as_deref()),
                parent: string(ev.parent.as_deref()),
            };
            self.extras.places.push(placed);
        }
        if let Some(id) = &ev.record_id {
            self.extras
                .record_ids
                .push((crate::ingest::text_key(id), run));
        }
        if let Some(sums_up) = &ev.sums_up {
            let summary = LocalSummary {
                step: self.steps.len() as u32,
                run,
                leaf_key: crate::ingest::text_key(&sums_up.leaf),
                leaf: self.strings.intern(&sums_up.leaf),
                text: self.strings.intern(&sums_up.text),
            };
            self.extras.summaries.push(summary);
        }
        let local = &mut self.runs[run as usize];
        let mut kind = ev.step_kind();
        if ev.may_trigger && local.trigger.is_none() {
            local.trigger = Some((local.steps, kind));
            kind = StepKind::RunStart;
        }
        local.steps += 1;
        let status = ev.effective_status();
        let error = match (&ev.error, status) {
            (Some(e), Status::Error) => {
                let label = e.label();
                let cut = label
                    .char_indices()
                    .nth(MAX_INDEXED_ERROR)
                    .map_or(label.len(), |(i, _)| i);
                self.strings.intern(&label[..cut])
            }
            _ => NO_STRING,
        };
        let mut summary = StepSummary::new(file, offset, len, kind, status);
        summary.ts = ev.ts.unwrap_or(NO_TS);
        summary.name = ev
            .name
            .as_deref()
            .map_or(NO_STRING, |n| self.strings.intern(n));
        // Native steps are ordered by `step`; other formats' steps by time, and there
        // `seq` holds the step's place in its record instead.
        summary.seq = if format == Format::Native {
            ev.step.unwrap_or(u32::MAX)
        } else {
            ev.sub
        };
        summary.duration_ms = ev.duration_ms.map_or(f32::NAN, |d| d as f32);
        self.steps.push(summary);
        self.step_errors.push(error);
        self.step_runs.push(run);
    }

    /// Reorders `steps` so each run's steps are adjacent (a stable counting sort), so
    /// the merge appends whole blocks per run.
    fn group_by_run(&mut self) {
        let mut counts = vec![0u32; self.runs.len()];
        for &r in &self.step_runs {
            counts[r as usize] += 1;
        }
        let mut next: Vec<u32> = counts
            .iter()
            .scan(0, |acc, &c| {
                let start = *acc;
                *acc += c;
                Some(start)
            })
            .collect();
        let n = self.steps.len();
        let mut steps = vec![StepSummary::new(0, 0, 0, StepKind::Other, Status::Unset); n];
        let mut errors = vec![NO_STRING; n];
        let mut moved_to = vec![0u32; n];
        for (i, &r) in self.step_runs.iter().enumerate() {
            let at = next[r as usize] as usize;
            next[r as usize] += 1;
            steps[at] = self.steps[i];
            errors[at] = self.step_errors[i];
            moved_to[i] = at as u32;
        }
        for placed in &mut self.extras.places {
            placed.step = moved_to[placed.step as usize];
        }
        for summary in &mut self.extras.summaries {
            summary.step = moved_to[summary.step as usize];
        }
        self.steps = steps;
        self.step_errors = errors;
        self.run_steps = counts;
        self.step_runs = Vec::new();
    }
}
