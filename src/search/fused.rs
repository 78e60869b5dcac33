//! A one-shot search that reads the files once: the query's line test (`LineTest`)
//! runs inside the load, on each chunk while its bytes are in memory ([`QueryLineScan`],
//! a [`LineScan`] for [`crate::index::LoadOptions::line_scan`]), and what it found is
//! mapped to slots once the history is settled ([`FusedText`]). The bytes the load did
//! not scan (batches read back from the index cache) are read and scanned the same way,
//! in large blocks, alongside the load ([`QueryLineScan::scan_while`]) or after it
//! ([`ScanReports::scan_the_rest`]); the records of compressed files among them are
//! scanned as [`ScanText`] does. With no load at all, every file is scanned in blocks
//! ([`FusedText::scan`]: the browser's search before its word index). Candidates and
//! scores are those of the word index.

use std::io::Read;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, sync_channel, Sender};
use std::sync::{Mutex, MutexGuard, PoisonError};

use memchr::{memchr, memrchr};
use rustc_hash::FxHashMap;

use super::matcher::{Matcher, Unit};
use super::scan::{next_needing_words, LineFinder, LineScorer, LineTest, ScanText};
use super::text_index::TextSource;
use super::Query;
use crate::index::{History, LineScan, ScannedLines};
use crate::model::Format;
use crate::work::Cancel;

/// A query's line test, run by the load's parser threads on every native chunk.
pub struct QueryLineScan {
    test: LineTest,
    /// Scorers between chunks (one per parser thread), so that fuzzy scores carry over.
    scorers: Mutex<Vec<LineScorer>>,
    /// Where the bytes the load will not scan go, while [`QueryLineScan::scan_while`] runs.
    gaps: Mutex<Option<Sender<Gap>>>,
}

impl QueryLineScan {
    pub fn new(query: &Query) -> QueryLineScan {
        let matcher = Matcher::default();
        QueryLineScan {
            test: LineTest::new(&matcher.units(query), &matcher),
            scorers: Mutex::new(Vec::new()),
            gaps: Mutex::new(None),
        }
    }

    /// Runs `load` (a load with this scan as its hook) while the bytes it reads back from
    /// the index cache, which it reports before decoding them, are read and scanned in
    /// blocks on `threads` more threads: a warm search costs about the longer of the two,
    /// not their sum.
    pub fn scan_while<T>(&self, threads: usize, load: impl FnOnce() -> T) -> (T, BlockFindings) {
        let (gaps_tx, gaps_rx) = channel();
        *lock(&self.gaps) = Some(gaps_tx);
        std::thread::scope(|scope| {
            let scanner = scope
                .spawn(move || scan_gaps(self, gaps_rx.into_iter(), threads, &Cancel::never()));
            // Ends the scanner's list of gaps once the load is over (also if it panics).
            let close = CloseGaps(self);
            let loaded = load();
            drop(close);
            // A scanner that failed leaves its gaps to `ScanReports::scan_the_rest`.
            (loaded, scanner.join().unwrap_or_default())
        })
    }
}

/// Drops the sender of the gaps to scan: the scanner then ends.
struct CloseGaps<'a>(&'a QueryLineScan);

impl Drop for CloseGaps<'_> {
    fn drop(&mut self) {
        lock(&self.0.gaps).take();
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl LineScan for QueryLineScan {
    fn scan(&self, _file: u32, lines: &[u8], base: u64, found: &mut Vec<(u64, u32)>) {
        if self.test.finds_nothing() {
            return;
        }
        let pooled = self.scorers.lock().ok().and_then(|mut pool| pool.pop());
        let mut scorer = pooled.unwrap_or_else(|| LineScorer::new(&self.test));
        let mut each_line = |start: usize, end: usize| {
            let mut line = &lines[start..end];
            if line.last() == Some(&b'\r') {
                line = &line[..line.len() - 1];
            }
            if let Some(score) = scorer.score(&self.test, line) {
                found.push((base + start as u64, score));
            }
        };
        match self.test.finder() {
            Some(finder) => lines_holding(lines, &finder, &mut each_line),
            None => {
                let mut start = 0;
                while start < lines.len() {
                    let end = memchr(b'\n', &lines[start..]).map_or(lines.len(), |p| start + p);
                    each_line(start, end);
                    start = end + 1;
                }
            }
        }
        if let Ok(mut pool) = self.scorers.lock() {
            pool.push(scorer);
        }
    }

    fn not_scanned(&self, file: u32, path: &Path, bytes: Range<u64>) {
        // Compressed files cannot be read from an offset: their records are scanned.
        if crate::source::is_compressed(path) || crate::source::is_stream(path) {
            return;
        }
        if let Some(gaps) = lock(&self.gaps).as_ref() {
            let _ = gaps.send(Gap {
                file,
                path: path.to_owned(),
                bytes,
            });
        }
    }
}

/// Calls `each_line` with the bounds of every line that `finder` finds or that needs
/// its words cut (see [`next_needing_words`]), in order: the chunk is searched as a
/// whole, not line by line.
fn lines_holding(lines: &[u8], finder: &LineFinder, each_line: &mut dyn FnMut(usize, usize)) {
    let find = |from: usize| finder.find(lines, from);
    let mut hit = find(0);
    let mut escape = next_needing_words(lines, 0);
    loop {
        let at = match (hit, escape) {
            (Some(h), Some(e)) => h.min(e),
            (Some(p), None) | (None, Some(p)) => p,
            (None, None) => break,
        };
        let start = memrchr(b'\n', &lines[..at]).map_or(0, |p| p + 1);
        let end = memchr(b'\n', &lines[at..]).map_or(lines.len(), |p| at + p);
        each_line(start, end);
        let next = end + 1;
        if next >= lines.len() {
            break;
        }
        if hit.is_some_and(|h| h < next) {
            hit = find(next);
        }
        if escape.is_some_and(|e| e < next) {
            escape = next_needing_words(lines, next);
        }
    }
}

/// The text of a history's steps, searched by the load's [`QueryLineScan`] and, for the
/// lines it did not see, by a scan of the records.
pub struct FusedText {
    test: LineTest,
    /// Slots that matched, with their scores.
    found: Vec<(u32, u32)>,
    /// The slots whose bytes were not scanned (compressed files the cache had).
    rest: Option<ScanText>,
    /// Some bytes were read again after the load (the cache had them).
    read_after_load: bool,
    covered: u32,
}

/// What the load's [`QueryLineScan`] reported, batch by batch.
#[derive(Default)]
pub struct ScanReports {
    /// By file: the byte ranges scanned (merged when they touch), and what was found.
    files: FxHashMap<u32, (Vec<Range<u64>>, FoundLines)>,
    /// Some bytes were read again for the scan (the load took them from the cache).
    read_in_blocks: bool,
}

/// The lines found in a file: score by offset.
type FoundLines = FxHashMap<u64, u32>;

impl ScanReports {
    /// Adds one batch's report (batches in file order).
    pub fn add(&mut self, scanned: ScannedLines) {
        let (ranges, found) = self.files.entry(scanned.file).or_default();
        match ranges.last_mut() {
            Some(last) if last.end == scanned.bytes.start => last.end = scanned.bytes.end,
            _ => ranges.push(scanned.bytes),
        }
        found.extend(scanned.found);
    }

    /// Adds what a block scan found (during the load: [`QueryLineScan::scan_while`]).
    pub fn add_blocks(&mut self, blocks: BlockFindings) {
        if blocks.scanned.is_empty() {
            return;
        }
        self.read_in_blocks = true;
        for (file, range) in blocks.scanned {
            self.files.entry(file).or_default().0.push(range);
        }
        for (file, at, score) in blocks.found {
            self.files.entry(file).or_default().1.insert(at, score);
        }
        // Sorted and disjoint, for `scanned` (a batch the cache could not decode is
        // parsed, and scanned, again).
        for (ranges, _) in self.files.values_mut() {
            ranges.sort_by_key(|r| r.start);
            let mut merged: Vec<Range<u64>> = Vec::with_capacity(ranges.len());
            for r in ranges.drain(..) {
                match merged.last_mut() {
                    Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
                    _ => merged.push(r),
                }
            }
            *ranges = merged;
        }
    }

    /// Reads and scans in blocks, on `threads` threads, the bytes of each plain file that
    /// no scan has seen (the load took them from the index cache; or all of them, for
    /// reports of no load), until `cancel`. Returns whether there were any.
    pub fn scan_the_rest(
        &mut self,
        history: &History,
        scan: &QueryLineScan,
        threads: usize,
        cancel: &Cancel,
    ) -> bool {
        let mut gaps = Vec::new();
        for (file, info) in history.files().iter().enumerate() {
            let path = info.path.as_path();
            if crate::source::is_compressed(path) || crate::source::is_stream(path) {
                continue;
            }
            let ranges = self.files.get(&(file as u32)).map_or(&[][..], |(r, _)| r);
            let mut at = 0;
            let gap = |bytes: Range<u64>| Gap {
                file: file as u32,
                path: path.to_owned(),
                bytes,
            };
            for r in ranges {
                if r.start > at {
                    gaps.push(gap(at..r.start));
                }
                at = at.max(r.end);
            }
            if at < info.consumed {
                gaps.push(gap(at..info.consumed));
            }
        }
        if gaps.is_empty() {
            return false;
        }
        self.add_blocks(scan_gaps(scan, gaps.into_iter(), threads, cancel));
        true
    }

    fn scanned(&self, file: u32, offset: u64) -> Option<&FoundLines> {
        let (ranges, found) = self.files.get(&file)?;
        let i = ranges.partition_point(|r| r.end <= offset);
        ranges
            .get(i)
            .is_some_and(|r| r.contains(&offset))
            .then_some(found)
    }
}

/// Bytes of a file that the load did not scan, to read and scan in blocks.
struct Gap {
    file: u32,
    path: PathBuf,
    bytes: Range<u64>,
}

/// What a block scan read and found.
#[derive(Default, Clone)]
pub struct BlockFindings {
    /// The byte ranges read whole and scanned, by file.
    scanned: Vec<(u32, Range<u64>)>,
    /// The lines that qualified: file, offset, score.
    found: Vec<(u32, u64, u32)>,
}

impl BlockFindings {
    /// Adds what scanning `bytes` of `file` found (`found`: offset and score of each line).
    pub(super) fn add(&mut self, file: u32, bytes: Range<u64>, found: &[(u64, u32)]) {
        self.scanned.push((file, bytes));
        (self.found).extend(found.iter().map(|&(at, score)| (file, at, score)));
    }

    /// Bytes read and scanned.
    pub fn bytes(&self) -> u64 {
        self.scanned.iter().map(|(_, r)| r.end - r.start).sum()
    }
}

/// Reads `gaps` in blocks on this thread and scans the blocks on `threads` others,
/// until `cancel` (checked between blocks).
fn scan_gaps(
    scan: &QueryLineScan,
    gaps: impl Iterator<Item = Gap>,
    threads: usize,
    cancel: &Cancel,
) -> BlockFindings {
    let (blocks_tx, blocks_rx) = sync_channel::<ScannedBlock>(threads * 2);
    let blocks_rx = Mutex::new(blocks_rx);
    // Buffers go back to the reader: fresh ones would cost a page fault per page.
    let (spare_tx, spare_rx) = channel::<Vec<u8>>();
    let mut scanned = Vec::new();
    let found: Vec<Vec<(u32, u64, u32)>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.max(1))
            .map(|_| {
                let spare_tx = spare_tx.clone();
                let blocks_rx = &blocks_rx;
                scope.spawn(move || {
                    let mut found = Vec::new();
                    let mut lines = Vec::new();
                    loop {
                        let next = blocks_rx.lock().map(|rx| rx.recv());
                        let Ok(Ok(block)) = next else { break };
                        lines.clear();
                        let base = block.base + block.skip as u64;
                        scan.scan(block.file, &block.bytes[block.skip..], base, &mut lines);
                        found.extend(lines.iter().map(|&(at, score)| (block.file, at, score)));
                        let _ = spare_tx.send(block.bytes);
                    }
                    found
                })
            })
            .collect();
        for gap in gaps {
            if cancel.is_cancelled() {
                break;
            }
            let mut spare = || spare_rx.try_recv().unwrap_or_default();
            let mut hand_over = |base, skip, bytes| {
                let block = ScannedBlock {
                    file: gap.file,
                    base,
                    skip,
                    bytes,
                };
                !cancel.is_cancelled() && blocks_tx.send(block).is_ok()
            };
            // A file that cannot be read now keeps its gap: its records are scanned one
            // by one (and their reading fails the same way).
            if let Ok(true) = read_blocks(&gap.path, gap.bytes.clone(), &mut spare, &mut hand_over)
            {
                scanned.push((gap.file, gap.bytes));
            }
        }
        drop(blocks_tx);
        workers.into_iter().filter_map(|w| w.join().ok()).collect()
    });
    BlockFindings {
        scanned,
        found: found.into_iter().flatten().collect(),
    }
}

/// Bytes of whole lines of a file, starting at `base`.
struct ScannedBlock {
    file: u32,
    base: u64,
    /// Bytes of `bytes` before its first line.
    skip: usize,
    bytes: Vec<u8>,
}

/// Bytes read per block when the rest is scanned.
const BLOCK_BYTES: usize = 4 << 20;

/// Reads `range` of the file at `path` (whole lines) in blocks that end on a line
/// boundary, handing each to `each` with its offset and the bytes to skip (a byte-order
/// mark), until `each` returns `false`. Blocks are read into buffers from `spare`.
/// Returns whether the whole range was handed over.
fn read_blocks(
    path: &Path,
    range: Range<u64>,
    spare: &mut dyn FnMut() -> Vec<u8>,
    each: &mut dyn FnMut(u64, usize, Vec<u8>) -> bool,
) -> std::io::Result<bool> {
    use std::io::{Seek, SeekFrom};
    const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";
    let mut file = std::fs::File::open(path)?;
    file.seek(SeekFrom::Start(range.start))?;
    let mut left = range.end - range.start;
    let mut base = range.start;
    let mut carry: Vec<u8> = Vec::new();
    while left > 0 || !carry.is_empty() {
        let want = (BLOCK_BYTES as u64).min(left) as usize;
        let mut buf = spare();
        buf.clear();
        buf.extend_from_slice(&carry);
        carry.clear();
        let filled = buf.len();
        // Read into the spare capacity: zeroing it first would cost a pass over the block.
        (&mut file).take(want as u64).read_to_end(&mut buf)?;
        if buf.len() != filled + want {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        left -= want as u64;
        let cut = match memrchr(b'\n', &buf) {
            Some(p) if left > 0 => p + 1,
            _ => buf.len(),
        };
        carry.extend_from_slice(&buf[cut..]);
        buf.truncate(cut);
        // The parser leaves a file's byte-order mark out of its first record.
        let skip = if base == 0 && buf.starts_with(UTF8_BOM) {
            UTF8_BOM.len()
        } else {
            0
        };
        if !each(base, skip, buf) {
            return Ok(false);
        }
        base += cut as u64;
    }
    Ok(true)
}

impl FusedText {
    /// The text of every step of `history`, from what `scan` found during the load
    /// (`reports`), a scan in blocks of the bytes it did not see, and a scan of the
    /// records of compressed files it did not see, on `threads` threads. `None` when a
    /// file is not in the native format, or when `cancel` stopped the scan.
    pub fn new(
        history: &History,
        scan: &QueryLineScan,
        reports: &mut ScanReports,
        threads: usize,
        cancel: &Cancel,
    ) -> Option<FusedText> {
        if history.files().iter().any(|f| f.format != Format::Native) {
            return None;
        }
        let covered = history.step_count() as u32;
        let scanned_rest = reports.scan_the_rest(history, scan, threads, cancel);
        if cancel.is_cancelled() {
            return None;
        }
        let mut text = FusedText {
            test: scan.test.clone(),
            found: Vec::new(),
            rest: None,
            read_after_load: scanned_rest || reports.read_in_blocks,
            covered,
        };
        let mut unscanned = Vec::new();
        for slot in 0..covered {
            let (file, offset) = history.slot_place(slot);
            match reports.scanned(file, offset) {
                Some(found) => {
                    if let Some(&score) = found.get(&offset) {
                        text.found.push((slot, score));
                    }
                }
                None => unscanned.push(slot),
            }
        }
        if !unscanned.is_empty() {
            text.rest = ScanText::of_slots(history, unscanned, threads);
        }
        Some(text)
    }

    /// The text of every step of `history` for `query`, with no load to start from:
    /// every plain file read and scanned in 4 MB blocks on `threads` threads (about what
    /// `grep` costs), the records of compressed files one by one. What the browser
    /// searches before its word index is built. `None` as for [`FusedText::new`].
    pub fn scan(
        history: &History,
        query: &Query,
        threads: usize,
        cancel: &Cancel,
    ) -> Option<FusedText> {
        let scan = QueryLineScan::new(query);
        FusedText::new(history, &scan, &mut ScanReports::default(), threads, cancel)
    }

    /// Some steps' bytes were read apart from the load (their index came from the cache).
    pub fn scanned_after_load(&self) -> bool {
        self.read_after_load || self.rest.is_some()
    }
}

impl TextSource for FusedText {
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
        if !self.test.is_for(units, matcher) {
            // Not the query the load scanned for: what it found says nothing (a caller's
            // mistake; answered as a cancelled search rather than a wrong one).
            return None;
        }
        for &(slot, score) in &self.found {
            each(slot, score);
        }
        match &self.rest {
            Some(rest) => rest.candidates(units, matcher, budget, cancel, each),
            None => Some(()),
        }
    }
}
