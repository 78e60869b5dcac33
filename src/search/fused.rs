//! A one-shot search that reads the files once: the query's line test ([`LineTest`])
//! runs inside the load, on each chunk while its bytes are in memory ([`QueryLineScan`],
//! a [`LineScan`] for [`crate::index::LoadOptions::line_scan`]), and what it found is
//! mapped to slots once the history is settled ([`FusedText`]). Lines the load did not
//! scan (batches read back from the index cache) are scanned from the files afterwards,
//! as [`ScanText`] does. Candidates and scores are those of the word index.

use std::sync::Mutex;

use memchr::{memchr, memrchr};
use rustc_hash::FxHashMap;

use super::matcher::{Matcher, Unit};
use super::scan::{next_needing_words, LineScorer, LineTest, Literal, ScanText};
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
}

impl QueryLineScan {
    pub fn new(query: &Query) -> QueryLineScan {
        let matcher = Matcher::default();
        QueryLineScan {
            test: LineTest::new(&matcher.units(query), &matcher),
            scorers: Mutex::new(Vec::new()),
        }
    }
}

impl LineScan for QueryLineScan {
    fn scan(&self, lines: &[u8], base: u64, found: &mut Vec<(u64, u32)>) {
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
        match self.test.literal() {
            Some(literal) => lines_holding(lines, literal, &mut each_line),
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
}

/// Calls `each_line` with the bounds of every line that holds `literal` or needs its
/// words cut (see [`next_needing_words`]), in order: the chunk is searched as a whole,
/// not line by line.
fn lines_holding(lines: &[u8], literal: &Literal, each_line: &mut dyn FnMut(usize, usize)) {
    let find = |from: usize| literal.find(lines, from);
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
    /// The slots the load did not scan.
    rest: Option<ScanText>,
    covered: u32,
}

/// What the load's [`QueryLineScan`] reported, batch by batch.
#[derive(Default)]
pub struct ScanReports {
    /// By file: the byte ranges scanned (merged when they touch), and what was found.
    files: FxHashMap<u32, (Vec<std::ops::Range<u64>>, FxHashMap<u64, u32>)>,
}

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

    fn scanned(&self, file: u32, offset: u64) -> Option<&FxHashMap<u64, u32>> {
        let (ranges, found) = self.files.get(&file)?;
        let i = ranges.partition_point(|r| r.end <= offset);
        ranges
            .get(i)
            .is_some_and(|r| r.contains(&offset))
            .then_some(found)
    }
}

impl FusedText {
    /// The text of every step of `history`, from what `scan` found during the load
    /// (`reports`) and a scan of the records of the steps it did not see, on `threads`
    /// threads. `None` when a file is not in the native format.
    pub fn new(
        history: &History,
        scan: &QueryLineScan,
        reports: &ScanReports,
        threads: usize,
    ) -> Option<FusedText> {
        if history.files().iter().any(|f| f.format != Format::Native) {
            return None;
        }
        let covered = history.step_count() as u32;
        let mut text = FusedText {
            test: scan.test.clone(),
            found: Vec::new(),
            rest: None,
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

    /// Steps whose records were scanned after the load (read back from the cache).
    pub fn scanned_after_load(&self) -> bool {
        self.rest.is_some()
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
