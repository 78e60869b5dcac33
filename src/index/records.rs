//! Whole-history access for analysis indexes (search) that cover every step: steps by
//! *slot*, their place in the history's step table, and their raw records read back in
//! file order with large sequential reads.
//!
//! A slot never changes run, and new steps always get new, higher slots (the table only
//! grows), so an index keyed by slot can be extended incrementally. A run's steps may
//! move between that run's own slots when a step arrives late with an earlier `step`
//! (see [`History::settle`]); [`History::record_key`] lets an index notice that.
//! Nothing here builds full steps unless asked ([`Record::steps`]).

use crate::work::Cancel;
use std::io::{self, Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::PathBuf;

use super::{History, RunRef, StepSummary, NO_STRING, NO_TS};
use crate::ingest::Context;
use crate::model::{Format, Status, Step, StepKind};
use crate::source;
use crate::Error;

/// An interned string of the index (step names, error labels, agents, models, labels):
/// each distinct string has one id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StrId(pub u32);

/// What the index keeps of the step in a slot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SlotInfo {
    pub kind: StepKind,
    pub status: Status,
    pub name: Option<StrId>,
    pub ts: Option<i64>,
}

/// Identifies the record (and the step within it) a slot holds: equal keys, same step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RecordKey(u64, u32);

impl History {
    /// Every interned string with its id.
    pub fn interned(&self) -> impl ExactSizeIterator<Item = (StrId, &str)> + '_ {
        self.strings
            .strings()
            .iter()
            .enumerate()
            .map(|(i, s)| (StrId(i as u32), &**s))
    }

    /// The interned string `id`. Panics when out of range.
    pub fn interned_str(&self, id: StrId) -> &str {
        self.strings.get(id.0)
    }

    /// The summary of the step in `slot` (`0..step_count()`). Panics when out of range.
    pub fn slot_info(&self, slot: u32) -> SlotInfo {
        let s = &self.steps[slot as usize];
        SlotInfo {
            kind: s.kind(),
            status: s.status(),
            name: (s.name != NO_STRING).then_some(StrId(s.name)),
            ts: (s.ts != NO_TS).then_some(s.ts),
        }
    }

    /// The error label of the step in `slot`, if it has one.
    pub fn slot_error(&self, slot: u32) -> Option<StrId> {
        self.step_errors.get(&slot).map(|&e| StrId(e))
    }

    /// Every slot whose step has an error label, in no particular order.
    pub fn error_slots(&self) -> impl Iterator<Item = (u32, StrId)> + '_ {
        self.step_errors.iter().map(|(&slot, &e)| (slot, StrId(e)))
    }

    /// Which record (and step in it) `slot` holds now.
    pub fn record_key(&self, slot: u32) -> RecordKey {
        let s = &self.steps[slot as usize];
        RecordKey(s.loc, s.seq)
    }

    /// Where the record of the step in `slot` starts: its file (index in
    /// [`History::files`]) and byte offset (what a [`super::LineScan`] reports).
    pub fn slot_place(&self, slot: u32) -> (u32, u64) {
        let s = &self.steps[slot as usize];
        (s.file() as u32, s.offset())
    }

    /// Prepares reading the records of `slots` (any order, duplicates allowed) in file
    /// and offset order. The batch owns what it needs, so it can be read on another
    /// thread while the history changes.
    pub fn record_batch(&self, slots: impl IntoIterator<Item = u32>) -> RecordBatch {
        let mut items: Vec<Item> = slots.into_iter().map(|slot| self.item(slot)).collect();
        items.sort_unstable_by_key(|i| (i.file, i.offset, i.sub, i.slot));
        self.batch_of(items)
    }

    /// Prepares reading the records of `slots` in the order given (for indexes that
    /// append by slot: give them in increasing order). Neighbouring slots were read from
    /// neighbouring bytes, so this still reads sequentially, a few megabytes at a time.
    pub fn record_batch_in_order(&self, slots: impl IntoIterator<Item = u32>) -> RecordBatch {
        let items = slots.into_iter().map(|slot| self.item(slot)).collect();
        self.batch_of(items)
    }

    fn item(&self, slot: u32) -> Item {
        let s = &self.steps[slot as usize];
        let (offset, sub) = self.place_of(s);
        Item {
            slot,
            file: s.file() as u32,
            offset,
            len: s.len(),
            sub,
        }
    }

    /// Where step `s` is in its file: its record's offset, and its place in that record
    /// (0 for a native line, whose record is the step).
    fn place_of(&self, s: &StepSummary) -> (u64, u32) {
        let native = self.files[s.file()].format == Format::Native;
        (s.offset(), if native { 0 } else { s.seq })
    }

    fn batch_of(&self, mut items: Vec<Item>) -> RecordBatch {
        let mut files: Vec<BatchFile> = Vec::new();
        let mut index_of: rustc_hash::FxHashMap<u32, u32> = Default::default();
        for item in &mut items {
            let file = item.file;
            item.file = *index_of.entry(file).or_insert_with(|| {
                let info = &self.files[file as usize];
                files.push(BatchFile {
                    path: info.path.clone(),
                    format: info.format,
                    stem: source::stem(&info.path),
                });
                (files.len() - 1) as u32
            });
        }
        RecordBatch { files, items }
    }
}

impl<'h> RunRef<'h> {
    /// The run's slots, in run order: the step at position `p` is in the `p`-th slot of
    /// the concatenated ranges. Slots grow with positions.
    pub fn slot_ranges(&self) -> impl Iterator<Item = Range<u32>> + 'h {
        let mut prev_end = 0;
        self.entry.segments.iter().map(move |s| {
            let len = s.end_position - prev_end;
            prev_end = s.end_position;
            s.start..s.start + len
        })
    }
}

#[derive(Debug, Clone, Copy)]
struct Item {
    slot: u32,
    /// Index into `RecordBatch::files`.
    file: u32,
    offset: u64,
    len: Option<u32>,
    sub: u32,
}

#[derive(Debug, Clone)]
struct BatchFile {
    path: PathBuf,
    format: Format,
    stem: String,
}

/// Records to read (see [`History::record_batch`]).
#[derive(Debug)]
pub struct RecordBatch {
    files: Vec<BatchFile>,
    items: Vec<Item>,
}

/// One slot's raw record, borrowed from the reader's buffer.
pub struct Record<'a> {
    pub slot: u32,
    pub format: Format,
    /// The record's bytes: a whole line (native: the step itself), or the line or part
    /// of a document that holds this step among others.
    pub bytes: &'a [u8],
    /// This step's place among the steps of its record (0 for native lines).
    pub sub: u32,
    /// The same record as the previous one handed out (another step of it).
    pub same_record: bool,
    stem: &'a str,
}

impl Record<'_> {
    /// Parses the record into its full steps (one for a native line); this slot's step is
    /// `steps[sub]`. Step positions are not set.
    pub fn steps(&self) -> Result<Vec<Step>, String> {
        super::plan::decode_record(
            self.format,
            self.bytes,
            &Context {
                file_stem: self.stem,
            },
            true,
        )
    }
}

/// Most bytes read at once: neighbouring records come in one read.
const READ_AHEAD: u64 = 4 << 20;
/// Records further apart than this are read separately.
const MAX_GAP: u64 = 64 << 10;

impl RecordBatch {
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The batch cut into at most `parts` batches of consecutive records (by count),
    /// to read on several threads.
    pub fn split(mut self, parts: usize) -> Vec<RecordBatch> {
        let per = self.items.len().div_ceil(parts.max(1)).max(1);
        let mut out = Vec::new();
        while self.items.len() > per {
            let tail = self.items.split_off(self.items.len() - per);
            self.items.shrink_to_fit();
            out.push(RecordBatch {
                files: self.files.clone(),
                items: tail,
            });
        }
        out.push(self);
        out.reverse();
        out
    }

    /// The slots of the batch, in reading order.
    pub fn slots(&self) -> impl Iterator<Item = u32> + '_ {
        self.items.iter().map(|i| i.slot)
    }

    /// Reads every record, in the batch's order, and hands each to `each`. Returns
    /// `Ok(false)` when `cancel` was set before the end.
    pub fn read(&self, cancel: &Cancel, mut each: impl FnMut(Record<'_>)) -> Result<bool, Error> {
        let mut start = 0;
        while start < self.items.len() {
            let file = self.items[start].file;
            let end = start
                + self.items[start..]
                    .iter()
                    .position(|i| i.file != file)
                    .unwrap_or(self.items.len() - start);
            let info = &self.files[file as usize];
            let done = read_file(info, &self.items[start..end], cancel, &mut each)
                .map_err(|e| Error::io(&info.path, e))?;
            if !done {
                return Ok(false);
            }
            start = end;
        }
        Ok(true)
    }
}

/// A window of a file's (decompressed) bytes: `buf` holds `[start, start + buf.len())`.
struct Window {
    reader: Box<dyn Read + Send>,
    seekable: Option<source::Raw>,
    /// Position of the reader.
    pos: u64,
    start: u64,
    buf: Vec<u8>,
    eof: bool,
}

impl Window {
    fn open(info: &BatchFile) -> io::Result<Window> {
        let (reader, seekable): (Box<dyn Read + Send>, _) = if !source::is_compressed(&info.path) {
            (Box::new(io::empty()), Some(source::open_raw(&info.path)?))
        } else {
            (open_stream(info)?, None)
        };
        Ok(Window {
            reader,
            seekable,
            pos: 0,
            start: 0,
            buf: Vec::new(),
            eof: false,
        })
    }

    fn end(&self) -> u64 {
        self.start + self.buf.len() as u64
    }

    /// Makes the window start at `offset` and hold at least `want` bytes (fewer at the
    /// end of the file).
    fn fill(&mut self, info: &BatchFile, offset: u64, want: u64) -> io::Result<()> {
        if offset < self.start || offset > self.end() {
            self.buf.clear();
            self.start = offset;
            self.eof = false;
            if let Some(file) = &mut self.seekable {
                if self.pos != offset {
                    file.seek(SeekFrom::Start(offset))?;
                    self.pos = offset;
                }
            } else {
                if offset < self.pos {
                    self.reader = open_stream(info)?;
                    self.pos = 0;
                }
                let skip = offset - self.pos;
                let skipped = io::copy(&mut (&mut self.reader).take(skip), &mut io::sink())?;
                self.pos += skipped;
                if skipped < skip {
                    self.eof = true;
                }
            }
        } else {
            // Keep the part from `offset` on.
            self.buf.drain(..(offset - self.start) as usize);
            self.start = offset;
        }
        while (self.buf.len() as u64) < want && !self.eof {
            let have = self.buf.len();
            let target = want as usize;
            self.buf.resize(target, 0);
            let mut filled = have;
            while filled < target {
                let n = match &mut self.seekable {
                    Some(file) => file.read(&mut self.buf[filled..]),
                    None => self.reader.read(&mut self.buf[filled..]),
                };
                match n {
                    Ok(0) => {
                        self.eof = true;
                        break;
                    }
                    Ok(n) => {
                        filled += n;
                        self.pos += n as u64;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            self.buf.truncate(filled);
        }
        Ok(())
    }
}

fn open_stream(info: &BatchFile) -> io::Result<Box<dyn Read + Send>> {
    source::open(&info.path).map_err(|e| match e {
        Error::Io { cause, .. } => cause,
        other => io::Error::other(other.to_string()),
    })
}

fn read_file(
    info: &BatchFile,
    items: &[Item],
    cancel: &Cancel,
    each: &mut impl FnMut(Record<'_>),
) -> io::Result<bool> {
    let mut window = Window::open(info)?;
    let mut previous: Option<u64> = None;
    for (i, item) in items.iter().enumerate() {
        if i % 1024 == 0 && cancel.is_cancelled() {
            return Ok(false);
        }
        let range = match item.len {
            Some(len) => {
                let end = item.offset + u64::from(len);
                if item.offset < window.start || end > window.end() {
                    // Read this record and the following ones that are near it.
                    let mut reach = end;
                    for n in items[i + 1..].iter().take(8192) {
                        let Some(l) = n.len else { break };
                        let n_end = n.offset + u64::from(l);
                        if n.offset < item.offset {
                            continue;
                        }
                        if n.offset > reach + MAX_GAP || n_end > item.offset + READ_AHEAD {
                            break;
                        }
                        reach = reach.max(n_end);
                    }
                    window.fill(info, item.offset, reach - item.offset)?;
                }
                let from = (item.offset - window.start) as usize;
                from..(from + len as usize).min(window.buf.len())
            }
            None => {
                // A line too long to have its length stored: read up to its newline.
                let mut want = READ_AHEAD;
                loop {
                    window.fill(info, item.offset, want)?;
                    let from = (item.offset - window.start) as usize;
                    if let Some(nl) = memchr::memchr(b'\n', &window.buf[from..]) {
                        let mut to = from + nl;
                        if to > from && window.buf[to - 1] == b'\r' {
                            to -= 1;
                        }
                        break from..to;
                    }
                    if window.eof {
                        break from..window.buf.len();
                    }
                    want *= 2;
                }
            }
        };
        each(Record {
            slot: item.slot,
            format: info.format,
            bytes: &window.buf[range],
            sub: item.sub,
            same_record: previous == Some(item.offset),
            stem: &info.stem,
        });
        previous = Some(item.offset);
    }
    Ok(true)
}

impl History {
    /// The file (index into [`History::files`]) of the step in `slot`.
    pub fn slot_file(&self, slot: u32) -> u32 {
        self.steps[slot as usize].file() as u32
    }

    /// The slots of `range` as runs of consecutive slots of one file, in order:
    /// (file, slots).
    pub fn file_spans(&self, range: Range<u32>) -> Vec<(u32, Range<u32>)> {
        let mut spans: Vec<(u32, Range<u32>)> = Vec::new();
        for slot in range {
            let file = self.slot_file(slot);
            match spans.last_mut() {
                Some((f, span)) if *f == file => span.end = slot + 1,
                _ => spans.push((file, slot..slot + 1)),
            }
        }
        spans
    }

    /// Where the step in `slot` is in its file: its record's offset, and its place in
    /// that record (0 for a native line). Unique within a file.
    pub fn slot_offset_and_sub(&self, slot: u32) -> (u64, u32) {
        let item = self.item(slot);
        (item.offset, item.sub)
    }

    /// [`History::slot_offset_and_sub`] of each slot in `range` (within the history), in
    /// order.
    pub fn slot_places(&self, range: Range<u32>) -> impl Iterator<Item = (u64, u32)> + '_ {
        let steps = self.steps.get(range.start as usize..range.end as usize);
        steps.unwrap_or_default().iter().map(|s| self.place_of(s))
    }

    /// The runs (by index, in order) holding any of `slots` (sorted).
    pub fn runs_of_slots(&self, slots: &[u32]) -> Vec<u32> {
        self.runs()
            .filter(|run| {
                run.slot_ranges().any(|r| {
                    let at = slots.partition_point(|&s| s < r.start);
                    slots.get(at).is_some_and(|&s| s < r.end)
                })
            })
            .map(|run| run.index() as u32)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::index::LoadOptions;

    fn write(path: &std::path::Path, text: &str) {
        std::fs::File::create(path)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }

    fn lines(run: &str, steps: std::ops::Range<u32>) -> String {
        steps
            .map(|s| {
                format!(
                    "{{\"run_id\":\"{run}\",\"step\":{s},\"kind\":\"tool_call\",\"name\":\"t{s}\",\"input\":{{\"n\":\"{run}-{s}\"}}}}\n"
                )
            })
            .collect()
    }

    #[test]
    fn every_slot_reads_back_its_own_record_in_file_order() {
        let dir = tempfile::tempdir().unwrap();
        // Interleaved runs across two files, one compressed, with small chunks so that
        // runs have several segments.
        let mut a = String::new();
        for s in 0..40 {
            a += &lines("ra", s..s + 1);
            a += &lines("rb", s..s + 1);
        }
        write(&dir.path().join("a.jsonl"), &a);
        let gz = dir.path().join("b.jsonl.gz");
        let mut enc = flate2::write::GzEncoder::new(
            std::fs::File::create(&gz).unwrap(),
            flate2::Compression::default(),
        );
        enc.write_all(lines("rc", 0..30).as_bytes()).unwrap();
        enc.finish().unwrap();
        let options = LoadOptions {
            chunk_size: 300,
            threads: Some(2),
            ..LoadOptions::default()
        };
        let history = History::load(&[dir.path().to_path_buf()], &options).unwrap();
        assert_eq!(history.step_count(), 110);

        // Slots of a run, in run order, are its steps.
        for run in history.runs() {
            let slots: Vec<u32> = run.slot_ranges().flatten().collect();
            assert_eq!(slots.len(), run.step_count());
            for (pos, &slot) in slots.iter().enumerate() {
                let info = history.slot_info(slot);
                let step = run.step(pos);
                assert_eq!(info.name.map(|n| history.interned_str(n)), step.name);
                assert_eq!(info.kind, step.kind);
            }
            assert!(run.slot_ranges().count() > 1 || run.id() == "rc");
        }

        // Reading every slot (reversed, to show the order does not matter) hands back
        // each slot's own line, in file order.
        let all: Vec<u32> = (0..history.step_count() as u32).rev().collect();
        let batch = history.record_batch(all);
        let mut seen = Vec::new();
        let done = batch
            .read(&Cancel::never(), |r| {
                let text = std::str::from_utf8(r.bytes).unwrap().to_owned();
                seen.push((r.slot, text));
            })
            .unwrap();
        assert!(done);
        assert_eq!(seen.len(), 110);
        for (slot, text) in &seen {
            let name = history
                .slot_info(*slot)
                .name
                .map(|n| history.interned_str(n))
                .unwrap();
            assert!(text.contains(&format!("\"name\":\"{name}\"")), "{text}");
            assert!(text.starts_with('{') && text.ends_with('}'), "{text}");
        }
        // a.jsonl's lines come first, in the order they are in the file.
        let firsts: Vec<&str> = seen[..4].iter().map(|(_, t)| &t[11..13]).collect();
        assert_eq!(firsts, ["ra", "rb", "ra", "rb"]);

        // In slot order, every slot again gets its own record.
        let batch = history.record_batch_in_order(0..history.step_count() as u32);
        let mut in_order = Vec::new();
        batch
            .read(&Cancel::never(), |r| {
                in_order.push((r.slot, std::str::from_utf8(r.bytes).unwrap().to_owned()))
            })
            .unwrap();
        let slots: Vec<u32> = in_order.iter().map(|(s, _)| *s).collect();
        assert_eq!(slots, (0..110).collect::<Vec<u32>>());
        seen.sort();
        assert_eq!(in_order, seen);

        // A cancelled read stops.
        let batch = history.record_batch(0..history.step_count() as u32);
        let done = batch
            .read(
                &{
                    let c = Cancel::new();
                    c.cancel();
                    c
                },
                |_| {},
            )
            .unwrap();
        assert!(!done);
    }

    #[test]
    fn error_labels_and_record_keys_by_slot() {
        let dir = tempfile::tempdir().unwrap();
        let text = concat!(
            "{\"run_id\":\"r\",\"step\":0,\"kind\":\"run_start\"}\n",
            "{\"run_id\":\"r\",\"step\":1,\"kind\":\"tool_result\",\"name\":\"x\",\"status\":\"error\",\"error\":{\"code\":\"E_ONE\"}}\n",
        );
        write(&dir.path().join("r.jsonl"), text);
        let history = History::load(&[dir.path().to_path_buf()], &LoadOptions::default()).unwrap();
        let errors: Vec<(u32, &str)> = history
            .error_slots()
            .map(|(s, e)| (s, history.interned_str(e)))
            .collect();
        assert_eq!(errors, [(1, "E_ONE")]);
        assert_eq!(history.slot_error(0), None);
        assert_eq!(history.slot_info(1).status, Status::Error);
        assert_ne!(history.record_key(0), history.record_key(1));
        assert!(history.interned().any(|(_, s)| s == "E_ONE"));
    }
}
