//! The word index over the text of every step's record (inputs, outputs, messages,
//! error messages…), so that text search does not need the records in memory.
//!
//! Each step's record is read once (in the background: [`IndexJob`]s run anywhere and
//! are added in order; [`TextIndex::build`] runs them on several threads) and cut into
//! words ([`super::tokens`]). Steps are numbered by their slot in the history
//! ([`crate::index::History::slot_info`]); the index is a list of segments, each
//! covering a range of slots with its own sorted vocabulary and, per word, the slots
//! holding it: a list of sorted slot deltas as varints, or a bitmap for a word in more
//! than 1/32 of the segment's steps. New steps get higher slots, so the index grows by
//! appending to its last, open segment ([`TextIndex::update`]).
//!
//! A query word is looked up in each segment's vocabulary exactly, by prefix (a binary
//! search: the vocabulary is sorted) and fuzzily (words of 4 letters or more, against
//! the words that start with a letter, with a budget of fuzzy comparisons); the slots of
//! all matching words are united per query word and intersected across query words.
//! What a slot holds is known only as "has these words": the search reads the few best
//! candidates back to confirm them and cut snippets.

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};

use rustc_hash::{FxHashMap, FxHashSet};

use super::matcher::{Matcher, Unit, WordSpec, EXACT};
use super::tokens::{raw_record_text, value_text, Words};
use crate::index::{History, Record, RecordBatch, RecordKey};
use crate::model::Format;
use crate::work::Cancel;
use crate::Error;

/// Slots per segment.
pub const SEGMENT_SLOTS: u32 = 1 << 18;
/// A word in more than 1/`DENSE_DIVISOR` of a segment's steps is kept as a bitmap.
const DENSE_DIVISOR: u32 = 32;
/// Fuzzy comparisons one query may make, over all segments and words.
pub const FUZZY_BUDGET: usize = 200_000;

/// The text index of a history.
#[derive(Default)]
pub struct TextIndex {
    sealed: Vec<Segment>,
    /// The segment new steps are appended to.
    open: Option<Builder>,
    /// Slots `0..covered` are indexed.
    covered: u32,
    /// Records that could not be read or parsed while indexing (indexed as empty).
    unreadable: u64,
    /// Per run: how many of its steps are indexed, and which record the last of them
    /// was; when that changes, the run's steps moved (see below).
    marks: Vec<(u32, Option<RecordKey>)>,
    /// A run's steps move between its slots when a step arrives late with an earlier
    /// `step`: the words indexed under those slots are stale. Such runs are indexed
    /// again here, and their slots are ignored in the segments.
    patch: Option<Builder>,
    patched_runs: Vec<u32>,
    patched: FxHashSet<u32>,
}

/// Work that brings the index closer to its history: index slots `range`. Owns what it
/// needs, so it runs on any thread while the history changes.
pub struct IndexJob {
    range: Range<u32>,
    batch: RecordBatch,
    marks: Vec<(u32, u32, RecordKey)>,
    /// The runs to index again, and the records of their slots below `range`.
    patch: Option<(Vec<u32>, RecordBatch)>,
}

/// What a job made: the index of its slots, to [`TextIndex::add`].
pub struct IndexPart {
    range: Range<u32>,
    builder: Builder,
    unreadable: u64,
    marks: Vec<(u32, u32, RecordKey)>,
    patch: Option<(Vec<u32>, Builder, FxHashSet<u32>)>,
}

/// Figures about the index.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TextIndexStats {
    pub slots: u32,
    pub segments: usize,
    /// Vocabulary entries, summed over segments.
    pub words: usize,
    /// Words kept as bitmaps.
    pub dense_words: usize,
    /// Bytes of slot lists, of bitmaps, and of the vocabularies.
    pub list_bytes: usize,
    pub bitmap_bytes: usize,
    pub vocabulary_bytes: usize,
    /// Heap bytes held, all told.
    pub heap_bytes: usize,
    pub unreadable: u64,
}

impl TextIndex {
    pub fn new() -> TextIndex {
        TextIndex::default()
    }

    /// Slots `0..covered()` are indexed.
    pub fn covered(&self) -> u32 {
        self.covered
    }

    /// Whether every step of `history` is indexed.
    pub fn is_current(&self, history: &History) -> bool {
        self.covered as usize >= history.step_count()
    }

    /// The next piece of work to bring the index up to `history`, or `None` when it is
    /// current. Jobs must be added in the order they were made.
    pub fn next_job(&self, history: &History) -> Option<IndexJob> {
        let total = history.step_count() as u32;
        if self.covered >= total {
            return None;
        }
        let room = SEGMENT_SLOTS - self.open.as_ref().map_or(0, |b| b.len);
        let range = self.covered..total.min(self.covered + room);
        let (marks, moved) = self.marks_for(history, range.clone());
        let patch = (!moved.is_empty()).then(|| {
            let mut runs = self.patched_runs.clone();
            runs.extend(moved);
            runs.sort_unstable();
            runs.dedup();
            let mut slots: Vec<u32> = runs
                .iter()
                .flat_map(|&r| history.run(r as usize).slot_ranges().flatten())
                .filter(|&s| s < range.start)
                .collect();
            slots.sort_unstable();
            (runs, history.record_batch_in_order(slots))
        });
        Some(IndexJob {
            batch: history.record_batch_in_order(range.clone()),
            range,
            marks,
            patch,
        })
    }

    /// The marks of the runs with steps in `range` once it is indexed, and the runs
    /// whose indexed steps moved.
    fn marks_for(
        &self,
        history: &History,
        range: Range<u32>,
    ) -> (Vec<(u32, u32, RecordKey)>, Vec<u32>) {
        let mut marks = Vec::new();
        let mut moved = Vec::new();
        for run in history.runs() {
            // Slots grow with positions; new steps get new slots, so a run without
            // slots in `range` has not changed.
            if run
                .slot_ranges()
                .last()
                .map_or(true, |r| r.end <= range.start)
            {
                continue;
            }
            let slots: Vec<Range<u32>> = run.slot_ranges().collect();
            let nth = |n: u32| slots.iter().flat_map(|r| r.clone()).nth(n as usize);
            if let Some(&(count, Some(key))) = self.marks.get(run.index()) {
                if count > 0 && nth(count - 1).map(|s| history.record_key(s)) != Some(key) {
                    moved.push(run.index() as u32);
                }
            }
            let count = slots
                .iter()
                .map(|r| r.end.min(range.end).saturating_sub(r.start))
                .sum::<u32>();
            if let Some(last) = count.checked_sub(1).and_then(nth) {
                marks.push((run.index() as u32, count, history.record_key(last)));
            }
        }
        (marks, moved)
    }

    /// Adds a finished job. Returns false (and adds nothing) when the part does not
    /// continue the index (it was made before another part was added).
    pub fn add(&mut self, part: IndexPart) -> bool {
        if part.range.start != self.covered {
            return false;
        }
        self.covered = part.range.end;
        self.unreadable += part.unreadable;
        for (run, count, key) in part.marks {
            if self.marks.len() <= run as usize {
                self.marks.resize(run as usize + 1, (0, None));
            }
            self.marks[run as usize] = (count, Some(key));
        }
        if let Some((runs, builder, slots)) = part.patch {
            self.patch = Some(builder);
            self.patched_runs = runs;
            self.patched = slots;
        }
        let open = match self.open.take() {
            Some(mut open) => {
                open.append(part.builder);
                open
            }
            None => part.builder,
        };
        if open.len >= SEGMENT_SLOTS {
            self.sealed.push(open.seal());
        } else {
            self.open = Some(open);
        }
        true
    }

    /// Indexes the steps added to `history` since the last call, on every core.
    /// Returns `Ok(false)` when cancelled.
    pub fn update(&mut self, history: &History, cancel: &Cancel) -> Result<bool, Error> {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        self.update_from(|| history, threads, cancel, &AtomicU64::new(0))
    }

    /// Indexes every step of `history` with `threads` threads. `progress` counts the
    /// steps done. Returns `Ok(None)` when cancelled.
    pub fn build(
        history: &History,
        threads: usize,
        cancel: &Cancel,
        progress: &AtomicU64,
    ) -> Result<Option<TextIndex>, Error> {
        let mut index = TextIndex::new();
        Ok(index
            .update_from(|| history, threads, cancel, progress)?
            .then_some(index))
    }

    /// Brings the index up to the history that `read` gives access to (a plain
    /// reference, or a lock's read guard). The history is held only while the next few
    /// jobs are planned; they are read and indexed after letting go of it, on up to
    /// `threads` threads, and added in order. `progress` counts the steps done. Returns
    /// `Ok(false)` when cancelled (what was finished is kept).
    pub fn update_from<G: std::ops::Deref<Target = History>>(
        &mut self,
        read: impl Fn() -> G,
        threads: usize,
        cancel: &Cancel,
        progress: &AtomicU64,
    ) -> Result<bool, Error> {
        loop {
            let jobs = self.next_jobs(&read(), threads.max(1));
            if jobs.is_empty() {
                return Ok(true);
            }
            // A failing part stops its siblings, not the caller's other work.
            let cancel = &cancel.child();
            let parts: Vec<Result<Option<IndexPart>, Error>> = if jobs.len() == 1 {
                jobs.into_iter().map(|j| j.run(cancel, progress)).collect()
            } else {
                std::thread::scope(|scope| {
                    let running: Vec<_> = jobs
                        .into_iter()
                        .map(|job| {
                            scope.spawn(move || {
                                let part = job.run(cancel, progress);
                                if part.is_err() {
                                    cancel.cancel();
                                }
                                part
                            })
                        })
                        .collect();
                    running
                        .into_iter()
                        .map(|r| {
                            r.join().unwrap_or_else(|_| {
                                Err(Error::Internal("an index thread panicked".into()))
                            })
                        })
                        .collect()
                })
            };
            for part in parts {
                match part? {
                    Some(part) => _ = self.add(part),
                    None => return Ok(false),
                }
            }
        }
    }

    /// Up to `max` jobs that continue the index one after the other, or none when it is
    /// current. Several only when they need no patch (steps that moved): the common case
    /// of a first build or a burst of new steps.
    fn next_jobs(&self, history: &History, max: usize) -> Vec<IndexJob> {
        let Some(first) = self.next_job(history) else {
            return Vec::new();
        };
        let total = history.step_count() as u32;
        let mut end = first.range.end;
        let mut jobs = vec![first];
        if jobs[0].patch.is_some() {
            return jobs;
        }
        while jobs.len() < max && end < total {
            let range = end..total.min(end + SEGMENT_SLOTS);
            let (marks, moved) = self.marks_for(history, range.clone());
            if !moved.is_empty() {
                break;
            }
            end = range.end;
            jobs.push(IndexJob {
                batch: history.record_batch_in_order(range.clone()),
                range,
                marks,
                patch: None,
            });
        }
        jobs
    }

    pub fn stats(&self) -> TextIndexStats {
        let mut stats = TextIndexStats {
            slots: self.covered,
            segments: self.sealed.len() + usize::from(self.open.is_some()),
            unreadable: self.unreadable,
            heap_bytes: self.sealed.capacity() * std::mem::size_of::<Segment>()
                + self.marks.capacity() * std::mem::size_of::<(u32, Option<RecordKey>)>()
                + self.patched.capacity() * 5
                + self.patched_runs.capacity() * 4,
            ..TextIndexStats::default()
        };
        for s in &self.sealed {
            stats.words += s.ends.len();
            stats.dense_words += s.dense.len();
            stats.list_bytes += s.pool.len();
            stats.bitmap_bytes += s.bitmaps.iter().map(|b| b.len() * 8).sum::<usize>();
            stats.vocabulary_bytes += s.text.len() + s.ends.len() * 4 + s.post.len() * 4;
            stats.heap_bytes += s.heap_bytes();
        }
        for open in self.open.iter().chain(&self.patch) {
            stats.words += open.words.len();
            stats.list_bytes += open.words.iter().map(|w| w.list.len()).sum::<usize>();
            stats.heap_bytes += open.heap_bytes();
        }
        stats
    }

    /// Candidate steps for `units`: every slot whose words match each unit (a phrase:
    /// holds each of its words), with the sum over units of its best word's score.
    /// Returns `None` when cancelled.
    pub fn candidates(
        &self,
        units: &[Unit],
        matcher: &Matcher,
        budget: &mut usize,
        cancel: &Cancel,
        mut each: impl FnMut(u32, u32),
    ) -> Option<()> {
        // A phrase must hold each of its words, exactly.
        let specs: Vec<WordSpec> = units
            .iter()
            .flat_map(|u| match u {
                Unit::Word(spec) => vec![spec.clone()],
                Unit::Phrase(words) => words.iter().map(|w| matcher.spec(w, true)).collect(),
            })
            .collect();
        if specs.is_empty() {
            return Some(());
        }
        let patched = &self.patched;
        let mut fresh = |slot: u32, score: u32| {
            if !patched.contains(&slot) {
                each(slot, score)
            }
        };
        for segment in &self.sealed {
            if cancel.is_cancelled() {
                return None;
            }
            segment_candidates(segment, &specs, matcher, budget, &mut fresh);
        }
        if let Some(open) = &self.open {
            if cancel.is_cancelled() {
                return None;
            }
            segment_candidates(open, &specs, matcher, budget, &mut fresh);
        }
        if let Some(patch) = &self.patch {
            // Slots below `covered` only: newer ones are in the segments, fresh.
            let covered = self.covered;
            segment_candidates(patch, &specs, matcher, budget, &mut |slot, score| {
                if slot < covered {
                    each(slot, score)
                }
            });
        }
        Some(())
    }
}

impl IndexJob {
    pub fn range(&self) -> Range<u32> {
        self.range.clone()
    }

    /// Reads and indexes the job's records. `progress` counts the steps done. Returns
    /// `Ok(None)` when cancelled.
    pub fn run(self, cancel: &Cancel, progress: &AtomicU64) -> Result<Option<IndexPart>, Error> {
        let Some((mut builder, mut unreadable)) =
            index_records(&self.batch, self.range.start, cancel, progress)?
        else {
            return Ok(None);
        };
        builder.len = self.range.end - self.range.start;
        let patch = match self.patch {
            Some((runs, batch)) => {
                let Some((mut patch, bad)) = index_records(&batch, 0, cancel, progress)? else {
                    return Ok(None);
                };
                unreadable += bad;
                let slots: FxHashSet<u32> = batch.slots().collect();
                patch.len = slots.iter().max().map_or(0, |&m| m + 1);
                Some((runs, patch, slots))
            }
            None => None,
        };
        Ok(Some(IndexPart {
            range: self.range,
            builder,
            unreadable,
            marks: self.marks,
            patch,
        }))
    }
}

/// Indexes the records of `batch` (in increasing slot order) into a segment starting at
/// slot `base`. Returns `Ok(None)` when cancelled.
fn index_records(
    batch: &RecordBatch,
    base: u32,
    cancel: &Cancel,
    progress: &AtomicU64,
) -> Result<Option<(Builder, u64)>, Error> {
    let mut builder = Builder::new(base);
    let mut words = Words::default();
    let mut scratch = String::new();
    let mut unreadable = 0;
    // Non-native records may hold several steps: parsed once for all of them.
    let mut decoded: Vec<crate::model::Step> = Vec::new();
    let mut counted = 0u64;
    let done = batch.read(cancel, |record: Record<'_>| {
        let offset = record.slot - base;
        let mut add = |text: &str| words.each(text, true, &mut |w| builder.add(offset, w));
        match record.format {
            Format::Native => match std::str::from_utf8(record.bytes) {
                Ok(line) => raw_record_text(line, &mut scratch, &mut add),
                Err(_) => unreadable += 1,
            },
            _ => {
                if !record.same_record {
                    decoded = record.steps().unwrap_or_default();
                }
                match decoded.get(record.sub as usize) {
                    Some(step) => {
                        if let Some(name) = &step.name {
                            add(name);
                        }
                        if let Some(error) = &step.error {
                            add(&error.to_string());
                        }
                        value_text(&step.record, true, &mut add);
                    }
                    None => unreadable += 1,
                }
            }
        }
        counted += 1;
        if counted % 4096 == 0 {
            progress.fetch_add(4096, Ordering::Relaxed);
        }
    })?;
    progress.fetch_add(counted % 4096, Ordering::Relaxed);
    Ok(done.then_some((builder, unreadable)))
}

// ---------------------------------------------------------------------------------
// Slot lists

fn push_varint(out: &mut Vec<u8>, mut v: u32) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Iterates the offsets of a slot list (deltas as varints; the first from 0).
struct ListIter<'a> {
    bytes: &'a [u8],
    at: usize,
    prev: u32,
    first: bool,
}

impl<'a> ListIter<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        ListIter {
            bytes,
            at: 0,
            prev: 0,
            first: true,
        }
    }
}

impl Iterator for ListIter<'_> {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        if self.at >= self.bytes.len() {
            return None;
        }
        let mut v = 0u32;
        let mut shift = 0;
        loop {
            let b = self.bytes[self.at];
            self.at += 1;
            v |= u32::from(b & 0x7F) << shift;
            if b < 0x80 {
                break;
            }
            shift += 7;
        }
        let value = if self.first { v } else { self.prev + v };
        self.first = false;
        self.prev = value;
        Some(value)
    }
}

/// The slots holding a word, relative to the segment's first slot.
#[derive(Clone, Copy)]
enum Postings<'a> {
    List(&'a [u8]),
    Bitmap(&'a [u64]),
}

impl Postings<'_> {
    /// About how many slots (a list's byte count is an upper bound).
    fn estimate(&self) -> usize {
        match self {
            Postings::List(b) => b.len(),
            Postings::Bitmap(words) => words.len() * 32,
        }
    }

    fn for_each(&self, mut f: impl FnMut(u32)) {
        match self {
            Postings::List(bytes) => ListIter::new(bytes).for_each(f),
            Postings::Bitmap(words) => {
                for (i, &w) in words.iter().enumerate() {
                    let mut w = w;
                    while w != 0 {
                        let bit = w.trailing_zeros();
                        f(i as u32 * 64 + bit);
                        w &= w - 1;
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// Segments

/// A segment being built (or the open one): words by hash, slot lists growing.
struct Builder {
    base: u32,
    len: u32,
    ids: FxHashMap<Box<str>, u32>,
    words: Vec<BuildWord>,
}

struct BuildWord {
    /// The last offset added, plus one (0: none yet).
    last: u32,
    count: u32,
    list: Vec<u8>,
}

impl Builder {
    fn new(base: u32) -> Builder {
        Builder {
            base,
            len: 0,
            ids: FxHashMap::default(),
            words: Vec::new(),
        }
    }

    /// Notes that the step at `offset` (from `base`; never below an offset added
    /// before) holds `word`.
    fn add(&mut self, offset: u32, word: &str) {
        let id = match self.ids.get(word) {
            Some(&id) => id,
            None => {
                let id = self.words.len() as u32;
                self.ids.insert(word.into(), id);
                self.words.push(BuildWord {
                    last: 0,
                    count: 0,
                    list: Vec::new(),
                });
                id
            }
        };
        let w = &mut self.words[id as usize];
        if w.last == offset + 1 {
            return;
        }
        let delta = if w.last == 0 {
            offset
        } else {
            offset + 1 - w.last
        };
        push_varint(&mut w.list, delta);
        w.last = offset + 1;
        w.count += 1;
    }

    /// Appends a builder of the slots that follow this one's.
    fn append(&mut self, other: Builder) {
        let shift = other.base - self.base;
        let mut ids: Vec<(Box<str>, u32)> = other.ids.into_iter().collect();
        ids.sort_unstable_by_key(|(_, id)| *id);
        for (word, id) in ids {
            for offset in ListIter::new(&other.words[id as usize].list) {
                self.add(offset + shift, &word);
            }
        }
        self.len = shift + other.len;
    }

    fn heap_bytes(&self) -> usize {
        let map = self.ids.capacity() * (std::mem::size_of::<(Box<str>, u32)>() + 1)
            + self.ids.keys().map(|k| k.len()).sum::<usize>();
        let words = self.words.capacity() * std::mem::size_of::<BuildWord>()
            + self.words.iter().map(|w| w.list.capacity()).sum::<usize>();
        map + words
    }

    fn seal(self) -> Segment {
        let mut order: Vec<(&str, u32)> = self.ids.iter().map(|(w, &id)| (&**w, id)).collect();
        order.sort_unstable();
        let dense_min = (self.len / DENSE_DIVISOR).max(64);
        let mut segment = Segment {
            base: self.base,
            len: self.len,
            text: Vec::with_capacity(order.iter().map(|(w, _)| w.len()).sum()),
            ends: Vec::with_capacity(order.len()),
            post: Vec::with_capacity(order.len() + 1),
            pool: Vec::new(),
            dense: Vec::new(),
            bitmaps: Vec::new(),
            letters: 0,
        };
        let pool_len: usize = order
            .iter()
            .map(|(_, id)| &self.words[*id as usize])
            .filter(|w| w.count <= dense_min)
            .map(|w| w.list.len())
            .sum();
        segment.pool.reserve_exact(pool_len);
        for (i, (word, id)) in order.iter().enumerate() {
            segment.text.extend_from_slice(word.as_bytes());
            segment.ends.push(segment.text.len() as u32);
            segment.post.push(segment.pool.len() as u32);
            let w = &self.words[*id as usize];
            if w.count > dense_min {
                let mut bits = vec![0u64; self.len.div_ceil(64) as usize];
                for offset in ListIter::new(&w.list) {
                    bits[(offset / 64) as usize] |= 1 << (offset % 64);
                }
                segment.dense.push((i as u32, segment.bitmaps.len() as u32));
                segment.bitmaps.push(bits.into_boxed_slice());
            } else {
                segment.pool.extend_from_slice(&w.list);
            }
        }
        segment.post.push(segment.pool.len() as u32);
        segment.letters =
            order.partition_point(|(w, _)| w.starts_with(|c: char| c.is_ascii_digit()));
        segment
    }
}

/// A finished segment: a sorted vocabulary and compact slot lists.
struct Segment {
    base: u32,
    len: u32,
    /// The words, sorted, one after the other; word `i` ends at `ends[i]`.
    text: Vec<u8>,
    ends: Vec<u32>,
    /// Word `i`'s list is `pool[post[i]..post[i + 1]]` (empty for bitmap words).
    post: Vec<u32>,
    pool: Vec<u8>,
    /// (word, bitmap) of the words kept as bitmaps, by word.
    dense: Vec<(u32, u32)>,
    bitmaps: Vec<Box<[u64]>>,
    /// Words before this index start with a digit (never matched fuzzily).
    letters: usize,
}

impl Segment {
    fn word(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        // Built from `&str`s cut on char boundaries.
        std::str::from_utf8(&self.text[start..self.ends[i] as usize]).unwrap_or("")
    }

    fn postings(&self, i: usize) -> Postings<'_> {
        match self.dense.binary_search_by_key(&(i as u32), |d| d.0) {
            Ok(k) => Postings::Bitmap(&self.bitmaps[self.dense[k].1 as usize]),
            Err(_) => Postings::List(&self.pool[self.post[i] as usize..self.post[i + 1] as usize]),
        }
    }

    fn heap_bytes(&self) -> usize {
        self.text.capacity()
            + self.ends.capacity() * 4
            + self.post.capacity() * 4
            + self.pool.capacity()
            + self.dense.capacity() * 8
            + self.bitmaps.iter().map(|b| b.len() * 8 + 16).sum::<usize>()
    }
}

/// What candidate generation needs of a segment, sealed or open.
trait Vocabulary {
    fn base(&self) -> u32;
    fn slots(&self) -> u32;
    /// Calls `f` with each word that `spec` may match (exactly, by prefix, fuzzily) and
    /// its slots.
    fn matching<'s>(
        &'s self,
        spec: &WordSpec,
        matcher: &Matcher,
        budget: &mut usize,
        f: &mut dyn FnMut(u32, Postings<'s>),
    );
}

impl Vocabulary for Segment {
    fn base(&self) -> u32 {
        self.base
    }
    fn slots(&self) -> u32 {
        self.len
    }
    fn matching<'s>(
        &'s self,
        spec: &WordSpec,
        matcher: &Matcher,
        budget: &mut usize,
        f: &mut dyn FnMut(u32, Postings<'s>),
    ) {
        let n = self.ends.len();
        let w = spec.word.as_str();
        let lo = partition(n, |i| self.word(i) < w);
        if spec.exact_only {
            if lo < n && self.word(lo) == w {
                f(EXACT, self.postings(lo));
            }
            return;
        }
        // Words with the prefix `w` follow each other from `lo`.
        let hi = partition(n, |i| {
            let x = self.word(i);
            x < w || x.starts_with(w)
        });
        for i in lo..hi {
            if let Some(score) = matcher.score_word(spec, self.word(i)) {
                f(score, self.postings(i));
            }
        }
        if spec.fuzzy {
            for i in (self.letters..lo).chain(hi.max(self.letters)..n) {
                if *budget == 0 {
                    break;
                }
                let x = self.word(i);
                if !Matcher::fuzzy_possible(spec, x) {
                    continue;
                }
                *budget -= 1;
                if let Some(score) = matcher.score_word(spec, x) {
                    f(score, self.postings(i));
                }
            }
        }
    }
}

impl Vocabulary for Builder {
    fn base(&self) -> u32 {
        self.base
    }
    fn slots(&self) -> u32 {
        self.len
    }
    fn matching<'s>(
        &'s self,
        spec: &WordSpec,
        matcher: &Matcher,
        budget: &mut usize,
        f: &mut dyn FnMut(u32, Postings<'s>),
    ) {
        if spec.exact_only {
            if let Some(&id) = self.ids.get(spec.word.as_str()) {
                f(EXACT, Postings::List(&self.words[id as usize].list));
            }
            return;
        }
        for (word, &id) in &self.ids {
            let fuzzy = !word.starts_with(&*spec.word) && Matcher::fuzzy_possible(spec, word);
            if fuzzy {
                if *budget == 0 {
                    continue;
                }
                *budget -= 1;
            }
            if let Some(score) = matcher.score_word(spec, word) {
                f(score, Postings::List(&self.words[id as usize].list));
            }
        }
    }
}

/// The first `i` in `0..n` where `pred(i)` is false (`pred` true then false).
fn partition(n: usize, pred: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if pred(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// The slots of one segment matching one query word, with the best score of each.
enum ScoreSet {
    /// Sorted by offset.
    Sparse(Vec<(u32, u32)>),
    /// A score per offset (0: no match).
    Dense(Vec<u32>),
}

impl ScoreSet {
    fn get(&self, offset: u32) -> u32 {
        match self {
            ScoreSet::Sparse(v) => v
                .binary_search_by_key(&offset, |p| p.0)
                .map_or(0, |k| v[k].1),
            ScoreSet::Dense(v) => v[offset as usize],
        }
    }
}

fn segment_candidates<'s>(
    segment: &'s dyn Vocabulary,
    specs: &[WordSpec],
    matcher: &Matcher,
    budget: &mut usize,
    each: &mut impl FnMut(u32, u32),
) {
    let len = segment.slots();
    // Each query word's matching words.
    let mut matches: Vec<Vec<(u32, Postings<'s>)>> = Vec::with_capacity(specs.len());
    for spec in specs {
        let mut found = Vec::new();
        segment.matching(spec, matcher, budget, &mut |score, postings| {
            found.push((score, postings))
        });
        if found.is_empty() {
            return;
        }
        matches.push(found);
    }
    let estimate =
        |m: &Vec<(u32, Postings<'_>)>| m.iter().map(|(_, p)| p.estimate()).sum::<usize>();
    let mut order: Vec<usize> = (0..matches.len()).collect();
    order.sort_by_key(|&k| estimate(&matches[k]));
    let sets: Vec<ScoreSet> = order
        .iter()
        .map(|&k| {
            let m = &matches[k];
            if estimate(m) > (len / 16) as usize {
                let mut dense = vec![0u32; len as usize];
                for (score, p) in m {
                    p.for_each(|o| {
                        if let Some(slot) = dense.get_mut(o as usize) {
                            *slot = (*slot).max(*score);
                        }
                    });
                }
                ScoreSet::Dense(dense)
            } else {
                let mut sparse = Vec::with_capacity(estimate(m));
                for (score, p) in m {
                    p.for_each(|o| sparse.push((o, *score)));
                }
                // Best score first for each offset, then keep one per offset.
                sparse.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
                sparse.dedup_by_key(|p| p.0);
                ScoreSet::Sparse(sparse)
            }
        })
        .collect();
    let base = segment.base();
    let mut emit = |offset: u32, first: u32| {
        let mut total = first;
        for set in &sets[1..] {
            let s = set.get(offset);
            if s == 0 {
                return;
            }
            total += s;
        }
        each(base + offset, total);
    };
    match &sets[0] {
        ScoreSet::Sparse(v) => v.iter().for_each(|&(o, s)| emit(o, s)),
        ScoreSet::Dense(v) => v
            .iter()
            .enumerate()
            .filter(|(_, &s)| s > 0)
            .for_each(|(o, &s)| emit(o as u32, s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_and_parts_travel_between_threads() {
        fn send<T: Send>() {}
        fn shared<T: Send + Sync>() {}
        send::<IndexJob>();
        send::<IndexPart>();
        shared::<TextIndex>();
    }

    #[test]
    fn slot_lists_round_trip_and_dedup() {
        let mut b = Builder::new(100);
        for (offset, word) in [
            (0, "a1"),
            (0, "a1"),
            (3, "a1"),
            (3, "b2"),
            (200, "a1"),
            (70_000, "a1"),
        ] {
            b.add(offset, word);
        }
        b.len = 70_001;
        let list: Vec<u32> = ListIter::new(&b.words[0].list).collect();
        assert_eq!(list, [0, 3, 200, 70_000]);
        let mut more = Builder::new(100 + 70_001);
        more.add(5, "b2");
        more.add(6, "c3");
        more.len = 10;
        b.append(more);
        assert_eq!(b.len, 70_011);
        let s = b.seal();
        let words: Vec<&str> = (0..s.ends.len()).map(|i| s.word(i)).collect();
        assert_eq!(words, ["a1", "b2", "c3"]);
        let mut got = Vec::new();
        s.postings(1).for_each(|o| got.push(o));
        assert_eq!(got, [3, 70_006]);
    }

    #[test]
    fn frequent_words_become_bitmaps() {
        let mut b = Builder::new(0);
        for offset in 0..4096 {
            b.add(offset, "common");
            if offset % 1000 == 0 {
                b.add(offset, "rare");
            }
        }
        b.len = 4096;
        let s = b.seal();
        assert_eq!(s.dense.len(), 1);
        assert!(matches!(s.postings(0), Postings::Bitmap(_)));
        let mut n = 0;
        s.postings(0).for_each(|_| n += 1);
        assert_eq!(n, 4096);
        let mut rare = Vec::new();
        s.postings(1).for_each(|o| rare.push(o));
        assert_eq!(rare, [0, 1000, 2000, 3000, 4000]);
    }

    fn candidates_of(index: &TextIndex, m: &Matcher, units: &[Unit]) -> Vec<(u32, u32)> {
        let mut got = Vec::new();
        let mut budget = FUZZY_BUDGET;
        index
            .candidates(units, m, &mut budget, &Cancel::never(), |slot, score| {
                got.push((slot, score))
            })
            .unwrap();
        got.sort();
        got
    }

    #[test]
    fn candidates_intersect_words_and_keep_the_best_score() {
        let m = Matcher::default();
        let docs = [
            "refund policy",
            "refunded policyholder",
            "refund only",
            "policy only",
            "refnd polcy typo",
        ];
        let build = || {
            let mut b = Builder::new(10);
            for (i, d) in docs.iter().enumerate() {
                Words::default().each(d, true, &mut |w| b.add(i as u32, w));
            }
            b.len = docs.len() as u32;
            b
        };
        for sealed in [false, true] {
            let mut index = TextIndex::new();
            if sealed {
                index.sealed.push(build().seal());
            } else {
                index.open = Some(build());
            }
            let exact = [
                Unit::Word(m.spec("refund", false)),
                Unit::Word(m.spec("policy", false)),
            ];
            let got = candidates_of(&index, &m, &exact);
            assert_eq!(
                got.iter().map(|g| g.0).collect::<Vec<_>>(),
                [10, 11],
                "sealed: {sealed}"
            );
            assert_eq!(got[0].1, 2 * EXACT);
            assert!(got[1].1 < got[0].1);

            let fuzzy = [
                Unit::Word(m.spec("refnd", false)),
                Unit::Word(m.spec("polcy", false)),
            ];
            let got = candidates_of(&index, &m, &fuzzy);
            assert_eq!(
                got.iter().map(|g| g.0).collect::<Vec<_>>(),
                [10, 11, 14],
                "sealed: {sealed}"
            );
            assert_eq!(got[2].1, 2 * EXACT, "the typo itself is an exact word");
            assert!(got[0].1 < got[2].1);

            let phrase = [Unit::Phrase(vec!["policy".into(), "only".into()])];
            let got = candidates_of(&index, &m, &phrase);
            assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), [13]);
        }
    }
}
