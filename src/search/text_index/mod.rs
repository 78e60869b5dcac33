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
//!
//! A segment never holds the steps of two files when either is large enough to be cached:
//! each such file's segments are kept in its word cache ([`cache`]), and a reopened
//! history takes them from there.

use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use rustc_hash::FxHashSet;

mod bytes;
pub mod cache;
mod segment;

use super::matcher::{Matcher, Unit, WordSpec};
use super::tokens::{raw_record_text, value_text, Words};
use crate::index::{History, Record, RecordBatch, RecordKey};
use crate::model::Format;
use crate::work::Cancel;
use crate::Error;
use segment::{segment_candidates, Builder, Segment};

/// Slots per segment.
pub const SEGMENT_SLOTS: u32 = 1 << 18;
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
    /// The files taken whole from their word caches (file, steps): not written again.
    from_cache: Vec<(u32, u32)>,
}

/// Work that brings the index closer to its history: index slots `range`. Owns what it
/// needs, so it runs on any thread while the history changes.
pub struct IndexJob {
    range: Range<u32>,
    /// The range starts another file's steps: a new segment.
    fresh: bool,
    batch: RecordBatch,
    marks: Vec<(u32, u32, RecordKey)>,
    /// The runs to index again, and the records of their slots below `range`.
    patch: Option<(Vec<u32>, RecordBatch)>,
}

/// What a job made: the index of its slots, to [`TextIndex::add`].
pub struct IndexPart {
    range: Range<u32>,
    fresh: bool,
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
        let fresh = starts_file(history, self.covered);
        let room = match fresh {
            true => SEGMENT_SLOTS,
            false => SEGMENT_SLOTS - self.open.as_ref().map_or(0, |b| b.len),
        };
        let range = job_range(history, self.covered, room);
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
            fresh,
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
        // The `n`th of a run's slots (in position order).
        fn nth(mut ranges: impl Iterator<Item = Range<u32>>, mut n: u32) -> Option<u32> {
            ranges.find_map(|r| match n.checked_sub(r.end - r.start) {
                Some(rest) => {
                    n = rest;
                    None
                }
                None => Some(r.start + n),
            })
        }
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
            if let Some(&(count, Some(key))) = self.marks.get(run.index()) {
                let last = count.checked_sub(1).and_then(|n| nth(run.slot_ranges(), n));
                if count > 0 && last.map(|s| history.record_key(s)) != Some(key) {
                    moved.push(run.index() as u32);
                }
            }
            let count = run
                .slot_ranges()
                .map(|r| r.end.min(range.end).saturating_sub(r.start))
                .sum::<u32>();
            if let Some(last) = count.checked_sub(1).and_then(|n| nth(run.slot_ranges(), n)) {
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
            Some(open) if part.fresh => {
                self.sealed.push(open.seal());
                part.builder
            }
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
            let range = job_range(history, end, SEGMENT_SLOTS);
            let (marks, moved) = self.marks_for(history, range.clone());
            if !moved.is_empty() {
                break;
            }
            end = range.end;
            jobs.push(IndexJob {
                batch: history.record_batch_in_order(range.clone()),
                fresh: starts_file(history, range.start),
                range,
                marks,
                patch: None,
            });
        }
        jobs
    }

    /// The index that the word caches in `dir` (see [`cache`]) hold for the first steps
    /// of `history`, as far as they go (empty without caches); [`TextIndex::update`]
    /// indexes the rest. The steps whose cached words are not those of the step now in
    /// their slot have their runs indexed again here (`progress` counts those steps).
    /// `Ok(None)` when cancelled.
    /// `ahead`: caches read while the history loaded ([`cache::read_ahead`]).
    pub fn from_cache(
        dir: &Path,
        min_bytes: u64,
        history: &History,
        ahead: cache::ReadAhead,
        cancel: &Cancel,
        progress: &AtomicU64,
    ) -> Result<Option<TextIndex>, Error> {
        // Each run's mark is taken alongside, for all its steps: what the caches hold
        // unless a file grew since.
        let all = 0..history.step_count() as u32;
        let (loaded, marks) = std::thread::scope(|scope| {
            let marks = scope.spawn(|| TextIndex::default().marks_for(history, all.clone()).0);
            let loaded = cache::load(dir, min_bytes, history, ahead);
            (loaded, marks.join())
        });
        let marks = match marks {
            Ok(marks) if loaded.covered == all.end => marks,
            _ => TextIndex::default().marks_for(history, 0..loaded.covered).0,
        };
        let mut index = TextIndex {
            sealed: loaded.segments,
            covered: loaded.covered,
            from_cache: loaded.files,
            ..TextIndex::default()
        };
        for (run, count, key) in marks {
            if index.marks.len() <= run as usize {
                index.marks.resize(run as usize + 1, (0, None));
            }
            index.marks[run as usize] = (count, Some(key));
        }
        if !loaded.stale.is_empty() {
            let runs = history.runs_of_slots(&loaded.stale);
            let covered = index.covered;
            let mut slots: Vec<u32> = (runs.iter())
                .flat_map(|&r| history.run(r as usize).slot_ranges().flatten())
                .filter(|&s| s < covered)
                .collect();
            slots.sort_unstable();
            let batch = history.record_batch_in_order(slots);
            let Some((mut patch, unreadable)) = index_records(&batch, 0, cancel, progress)? else {
                return Ok(None);
            };
            index.patched = batch.slots().collect();
            patch.len = index.patched.iter().max().map_or(0, |&m| m + 1);
            index.patch = Some(patch);
            index.patched_runs = runs;
            index.unreadable += unreadable;
        }
        Ok(Some(index))
    }

    /// Writes the word cache (see [`cache`]) of each file of `history` whose steps the
    /// index covers in segments of their own, unless its cache already holds them. A
    /// cache that cannot be written only means indexing next time.
    pub fn store_cache(&self, dir: &Path, min_bytes: u64, history: &History) {
        self.store_planned_cache(dir, min_bytes, self.cache_plan(history));
    }

    /// What [`TextIndex::store_cache`] needs of the history, taken while it is read, so
    /// that [`TextIndex::store_planned_cache`] writes without holding it.
    pub fn cache_plan(&self, history: &History) -> cache::StorePlan {
        cache::plan(history, self, &self.from_cache)
    }

    /// Writes the word caches `plan` names (see [`TextIndex::store_cache`]).
    pub fn store_planned_cache(&self, dir: &Path, min_bytes: u64, plan: cache::StorePlan) {
        cache::store(dir, min_bytes, self, plan);
    }

    /// Steps taken from the word caches when the index was made ([`TextIndex::from_cache`]).
    pub fn cached(&self) -> u32 {
        self.from_cache.iter().map(|f| f.1).sum()
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
            stats.words += s.word_count();
            stats.dense_words += s.dense.len();
            stats.list_bytes += s.pool.len();
            stats.bitmap_bytes += s.bitmaps.iter().map(|b| b.len()).sum::<usize>();
            stats.vocabulary_bytes += s.text.len() + s.ends.len() + s.post.len();
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
        let specs = unit_specs(units, matcher);
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

/// The words a step's text must hold for `units`: a phrase must hold each of its words,
/// exactly.
pub(crate) fn unit_specs(units: &[Unit], matcher: &Matcher) -> Vec<WordSpec> {
    units
        .iter()
        .flat_map(|u| match u {
            Unit::Word(spec) => vec![spec.clone()],
            Unit::Phrase(words) => words.iter().map(|w| matcher.spec(w, true)).collect(),
        })
        .collect()
}

/// Whether `slot` starts the steps of another file than the slot before, and the two
/// files' words are to be kept apart (the history is cached, and either file is large
/// enough to have a word cache).
fn starts_file(history: &History, slot: u32) -> bool {
    let Some((_, min_bytes)) = history.cache() else {
        return false;
    };
    if slot == 0 || slot as usize >= history.step_count() {
        return false;
    }
    let (before, after) = (history.slot_file(slot - 1), history.slot_file(slot));
    let large = |file: u32| history.files()[file as usize].consumed >= min_bytes;
    before != after && (large(before) || large(after))
}

/// The slots of the next job from `start`: up to `room`, and no further than the end of
/// a file whose words are kept apart ([`starts_file`]).
fn job_range(history: &History, start: u32, room: u32) -> Range<u32> {
    let end = (history.step_count() as u32).min(start.saturating_add(room));
    let cut = (history.file_spans(start..end).iter())
        .map(|(_, span)| span.end)
        .find(|&e| e < end && starts_file(history, e));
    start..cut.unwrap_or(end)
}

/// Where the text of steps is searched: the word index, or a scan of the records
/// ([`crate::search::ScanText`]). Both give the same candidates and scores.
pub trait TextSource: Sync {
    /// Slots `0..covered()` are searched.
    fn covered(&self) -> u32;
    /// Calls `each` with every slot whose text matches all `units`, and its score (the
    /// sum of each word's best match). `None` when cancelled.
    fn candidates(
        &self,
        units: &[Unit],
        matcher: &Matcher,
        budget: &mut usize,
        cancel: &Cancel,
        each: &mut dyn FnMut(u32, u32),
    ) -> Option<()>;
}

impl TextSource for TextIndex {
    fn covered(&self) -> u32 {
        self.covered
    }

    fn candidates(
        &self,
        units: &[Unit],
        matcher: &Matcher,
        budget: &mut usize,
        cancel: &Cancel,
        each: &mut dyn FnMut(u32, u32),
    ) -> Option<()> {
        TextIndex::candidates(self, units, matcher, budget, cancel, each)
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
            fresh: self.fresh,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::matcher::EXACT;

    #[test]
    fn jobs_and_parts_travel_between_threads() {
        fn send<T: Send>() {}
        fn shared<T: Send + Sync>() {}
        send::<IndexJob>();
        send::<IndexPart>();
        shared::<TextIndex>();
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
