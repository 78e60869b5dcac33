//! Builds a [`History`] from files in parallel: a reader thread cuts each file into
//! newline-aligned chunks (reusing buffers), worker threads parse chunks into compact step
//! summaries, and the calling thread merges results in file order.

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read};
use std::path::PathBuf;
use std::sync::mpsc::{channel, sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use memchr::{memchr, memrchr};
use rustc_hash::FxHashMap;

use super::interner::Interner;
use super::{FileInfo, History, RunEntry, StepSummary, NO_STRING, NO_TS};
use crate::ingest::native::{parse_event, NativeEvent};
use crate::model::{Format, Outcome, Problem, Status, StepKind};
use crate::source::{self, Compression};
use crate::Error;

/// How to load a history.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Parser threads; `None` uses every core.
    pub threads: Option<usize>,
    /// Bytes read per chunk.
    pub chunk_size: usize,
    /// A run without `run_end` whose file changed within this window counts as running.
    pub running_window: Duration,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            threads: None,
            chunk_size: 2 << 20,
            running_window: Duration::from_secs(60),
        }
    }
}

/// Longest error message kept in the index (the full one is in the file).
const MAX_INDEXED_ERROR: usize = 120;
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

struct Chunk {
    seq: u64,
    file: u32,
    /// Offset of `buf[0]` in the (decompressed) file.
    base: u64,
    buf: Vec<u8>,
    len: usize,
}

#[derive(Default)]
struct LocalRun {
    id: Box<str>,
    agent: Option<Box<str>>,
    agent_version: Option<Box<str>>,
    model: Option<Box<str>>,
    labels: Option<BTreeMap<String, String>>,
    declared: Option<Outcome>,
    end_error: Option<Box<str>>,
}

/// What a worker made of one chunk; string and run ids are local to it.
struct Parsed {
    seq: u64,
    file: u32,
    lines: u64,
    /// Grouped by run (in order of first appearance), each run's steps in file order.
    steps: Vec<StepSummary>,
    /// The error label of each step in `steps`, or `NO_STRING`.
    step_errors: Vec<u32>,
    /// Steps per local run, in the order of `steps`.
    run_steps: Vec<u32>,
    /// While parsing: the local run of each step in `steps`.
    step_runs: Vec<u32>,
    runs: Vec<LocalRun>,
    strings: Interner,
    /// (1-based line within the chunk, reason)
    problems: Vec<(u64, String)>,
    buf: Vec<u8>,
}

pub(super) fn load(paths: &[PathBuf], options: &LoadOptions) -> Result<History, Error> {
    let found = source::discover(paths)?;
    let mut history = History {
        skipped_files: found.skipped,
        running_window_ms: options.running_window.as_millis() as i64,
        loaded_at: Some(SystemTime::now()),
        ..History::default()
    };
    for path in &found.files {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        history.files.push(FileInfo {
            path: path.clone(),
            format: Format::Native,
            modified: meta.modified().ok(),
            lines: 0,
        });
    }
    let t = std::time::Instant::now();
    run_pipeline(&mut history, options)?;
    let t1 = t.elapsed();
    finish(&mut history);
    if std::env::var_os("RETRACE_TIMING").is_some() {
        eprintln!("pipeline {:?} finish {:?}", t1, t.elapsed());
    }
    Ok(history)
}

fn run_pipeline(history: &mut History, options: &LoadOptions) -> Result<(), Error> {
    let threads = options
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
        .max(1);
    let paths: Vec<PathBuf> = history.files.iter().map(|f| f.path.clone()).collect();
    let (chunk_tx, chunk_rx) = sync_channel::<Chunk>(threads);
    let chunk_rx = Arc::new(Mutex::new(chunk_rx));
    let (parsed_tx, parsed_rx) = channel::<Parsed>();
    let (recycle_tx, recycle_rx) = channel::<Vec<u8>>();
    let chunk_size = options.chunk_size.max(64);

    std::thread::scope(|scope| {
        let reader = std::thread::Builder::new()
            .name("retrace-read".into())
            .spawn_scoped(scope, move || read_files(&paths, chunk_size, &chunk_tx, &recycle_rx))
            .map_err(|e| Error::Internal(format!("cannot start a thread: {e}")))?;
        for _ in 0..threads {
            let rx = Arc::clone(&chunk_rx);
            let tx = parsed_tx.clone();
            std::thread::Builder::new()
                .name("retrace-parse".into())
                .spawn_scoped(scope, move || loop {
                    let next = rx.lock().map(|r| r.recv());
                    let Ok(Ok(chunk)) = next else { break };
                    if tx.send(parse_chunk(chunk)).is_err() {
                        break;
                    }
                })
                .map_err(|e| Error::Internal(format!("cannot start a thread: {e}")))?;
        }
        drop(parsed_tx);
        let mut merger = Merger::new(history);
        let mut pending: BTreeMap<u64, Parsed> = BTreeMap::new();
        let mut next_seq = 0;
        for parsed in parsed_rx {
            pending.insert(parsed.seq, parsed);
            while let Some(p) = pending.remove(&next_seq) {
                let buf = merger.merge(p);
                let _ = recycle_tx.send(buf);
                next_seq += 1;
            }
        }
        reader
            .join()
            .unwrap_or_else(|_| Err(Error::Internal("reader thread panicked".into())))
    })
}

/// Cuts every file into chunks that end on a line boundary. A last line without its
/// newline is not yet a line and is left out, except in compressed files, which are
/// complete by construction.
fn read_files(
    paths: &[PathBuf],
    chunk_size: usize,
    out: &SyncSender<Chunk>,
    recycle: &Receiver<Vec<u8>>,
) -> Result<(), Error> {
    let mut seq = 0;
    for (file, path) in paths.iter().enumerate() {
        let compressed = source::Compression::of(path) != Compression::None;
        let mut reader = source::open(path)?;
        let mut carry: Vec<u8> = Vec::new();
        let mut base = 0u64;
        let mut eof = false;
        while !eof {
            let want = chunk_size.max(carry.len() * 2);
            let mut buf = recycle.try_recv().unwrap_or_default();
            if buf.len() < want {
                // Zero-filled once per buffer, then reused for the whole load.
                buf.resize(want, 0);
            }
            buf[..carry.len()].copy_from_slice(&carry);
            let mut filled = carry.len();
            carry.clear();
            while filled < buf.len() {
                match reader.read(&mut buf[filled..]) {
                    Ok(0) => {
                        eof = true;
                        break;
                    }
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) => return Err(Error::io(path, e)),
                }
            }
            let len = match memrchr(b'\n', &buf[..filled]) {
                Some(p) => {
                    carry.extend_from_slice(&buf[p + 1..filled]);
                    p + 1
                }
                None if eof && compressed => filled,
                None if eof => 0,
                None => {
                    // One line longer than the buffer: keep all of it, read on.
                    carry.extend_from_slice(&buf[..filled]);
                    continue;
                }
            };
            if eof && compressed && !carry.is_empty() {
                // Rare: a compressed file's unterminated last line, sent on its own.
                let tail = std::mem::take(&mut carry);
                send(out, &mut seq, file, base, buf, len)?;
                let tail_len = tail.len();
                send(out, &mut seq, file, base + len as u64, tail, tail_len)?;
                break;
            }
            if len > 0 {
                send(out, &mut seq, file, base, buf, len)?;
            }
            base += len as u64;
        }
    }
    Ok(())
}

fn send(
    out: &SyncSender<Chunk>,
    seq: &mut u64,
    file: usize,
    base: u64,
    buf: Vec<u8>,
    len: usize,
) -> Result<(), Error> {
    let chunk = Chunk {
        seq: *seq,
        file: file as u32,
        base,
        buf,
        len,
    };
    *seq += 1;
    out.send(chunk)
        .map_err(|_| Error::Internal("parser threads stopped".into()))
}

fn parse_chunk(chunk: Chunk) -> Parsed {
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
        buf: Vec::new(),
    };
    let mut run_ids: FxHashMap<Box<str>, u32> = FxHashMap::default();
    let data = &chunk.buf[..chunk.len];
    let mut start = 0;
    if chunk.base == 0 && data.starts_with(UTF8_BOM) {
        start = UTF8_BOM.len();
    }
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
            let at = std::str::from_utf8(line).err().map_or(0, |e| e.valid_up_to());
            parsed
                .problems
                .push((parsed.lines, format!("invalid UTF-8 at byte {}", at + 1)));
            continue;
        };
        match parse_event(line) {
            Ok(ev) => parsed.add(&mut run_ids, &ev, chunk.file, offset, line.len()),
            Err(reason) => parsed.problems.push((parsed.lines, reason)),
        }
    }
    parsed.buf = chunk.buf;
    parsed.group_by_run();
    parsed
}

impl Parsed {
    fn add(
        &mut self,
        run_ids: &mut FxHashMap<Box<str>, u32>,
        ev: &NativeEvent,
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
        let kind = ev.step_kind();
        match kind {
            StepKind::RunStart => {
                set(&mut local.agent, ev.agent.as_deref());
                set(&mut local.agent_version, ev.agent_version.as_deref());
                set(&mut local.model, ev.model.as_deref());
                if ev.labels.is_some() {
                    local.labels.clone_from(&ev.labels);
                }
            }
            StepKind::RunEnd => {
                local.declared = ev.outcome;
                local.end_error = ev.error.as_ref().map(|e| e.to_string().into());
            }
            _ => {}
        }
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
        summary.name = ev.name.as_deref().map_or(NO_STRING, |n| self.strings.intern(n));
        summary.seq = ev.step.unwrap_or(u32::MAX);
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
        for (i, &r) in self.step_runs.iter().enumerate() {
            let at = next[r as usize] as usize;
            next[r as usize] += 1;
            steps[at] = self.steps[i];
            errors[at] = self.step_errors[i];
        }
        self.steps = steps;
        self.step_errors = errors;
        self.run_steps = counts;
        self.step_runs = Vec::new();
    }
}

fn set(slot: &mut Option<Box<str>>, value: Option<&str>) {
    if let Some(v) = value {
        *slot = Some(v.into());
    }
}

/// Folds parsed chunks, in order, into the history.
struct Merger<'h> {
    history: &'h mut History,
}

impl<'h> Merger<'h> {
    fn new(history: &'h mut History) -> Self {
        Merger { history }
    }

    fn merge(&mut self, p: Parsed) -> Vec<u8> {
        let h = &mut *self.history;
        let strings: Vec<u32> = p
            .strings
            .strings()
            .iter()
            .map(|s| h.strings.intern(s))
            .collect();
        let remap = |id: u32| if id == NO_STRING { id } else { strings[id as usize] };
        let runs: Vec<u32> = p
            .runs
            .into_iter()
            .map(|local| merge_run(h, local, p.file))
            .collect();
        let mut start = h.steps.len() as u32;
        for (i, error) in p.step_errors.into_iter().enumerate() {
            if error != NO_STRING {
                h.step_errors.insert(start + i as u32, remap(error));
            }
        }
        h.steps.extend(p.steps.into_iter().map(|mut s| {
            s.name = remap(s.name);
            s
        }));
        for (local_run, count) in p.run_steps.into_iter().enumerate() {
            h.runs[runs[local_run] as usize].push_steps(start, count);
            start += count;
        }
        let info = &mut h.files[p.file as usize];
        for (line, reason) in p.problems {
            h.problems.push(Problem {
                file: info.path.clone(),
                line: info.lines + line,
                reason,
            });
        }
        info.lines += p.lines;
        p.buf
    }
}

fn merge_run(h: &mut History, local: LocalRun, file: u32) -> u32 {
    let index = match h.run_by_id.get(&local.id) {
        Some(&i) => i,
        None => {
            let i = h.runs.len() as u32;
            h.run_by_id.insert(local.id.clone(), i);
            h.runs.push(RunEntry {
                id: local.id.clone(),
                agent: NO_STRING,
                agent_version: NO_STRING,
                model: NO_STRING,
                ..RunEntry::default()
            });
            i
        }
    };
    let entry = &mut h.runs[index as usize];
    if entry.files.last() != Some(&file) && !entry.files.contains(&file) {
        entry.files.push(file);
    }
    for (slot, value) in [
        (&mut entry.agent, &local.agent),
        (&mut entry.agent_version, &local.agent_version),
        (&mut entry.model, &local.model),
    ] {
        if let Some(v) = value {
            *slot = h.strings.intern(v);
        }
    }
    if let Some(labels) = local.labels {
        entry.labels = labels
            .iter()
            .map(|(k, v)| (h.strings.intern(k), h.strings.intern(v)))
            .collect();
    }
    if local.declared.is_some() {
        entry.declared = local.declared;
        entry.end_error = local.end_error;
    }
    index
}

/// Orders each run's steps and computes the per-run figures.
fn finish(h: &mut History) {
    for run in &mut h.runs {
        let slots: Vec<u32> = run.global_indices().collect();
        // Order by `step` where given; steps without one keep their order of appearance
        // (the sort is stable) after the numbered ones. Sorted in place, in the run's
        // own slots.
        let steps = &mut h.steps;
        if slots.windows(2).any(|w| steps[w[0] as usize].seq > steps[w[1] as usize].seq) {
            let mut ordered: Vec<(StepSummary, u32)> = slots
                .iter()
                .map(|&i| (steps[i as usize], h.step_errors.remove(&i).unwrap_or(NO_STRING)))
                .collect();
            ordered.sort_by_key(|(s, _)| s.seq);
            for (&slot, (s, error)) in slots.iter().zip(ordered) {
                steps[slot as usize] = s;
                if error != NO_STRING {
                    h.step_errors.insert(slot, error);
                }
            }
        }
        run.segments.shrink_to_fit();
        let mut started: Option<i64> = None;
        let mut ended: Option<i64> = None;
        run.errors = 0;
        run.first_error = None;
        for (pos, &i) in slots.iter().enumerate() {
            let s = &steps[i as usize];
            if s.ts != NO_TS {
                started = Some(started.map_or(s.ts, |t| t.min(s.ts)));
                let dur = if s.duration_ms.is_nan() { 0 } else { s.duration_ms as i64 };
                let end = s.ts + dur;
                ended = Some(ended.map_or(end, |t| t.max(end)));
            }
            if s.is_error() {
                run.errors += 1;
                run.first_error.get_or_insert(pos as u32);
            }
        }
        run.started_at = started;
        run.ended_at = ended;
    }
}
