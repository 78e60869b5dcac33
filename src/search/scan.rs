//! Text search without a word index: the records are scanned as bytes, and only the
//! lines that could hold every query word are cut into words and scored. This answers
//! a one-shot `retrace search` (or the browser's first search) before a word index
//! exists, with the same candidates and scores as the [`super::TextIndex`] would give.
//!
//! A line is cut into words (exactly as the index does) only when, for every query word:
//! - a word matched exactly or by prefix: the line holds its letters literally, ASCII
//!   case ignored (a substring test: what the index finds is always such a substring);
//! - a word also matched fuzzily: some run of word bytes of the line holds its letters
//!   in order (the fuzzy matcher only matches words that do).
//!
//! The raw bytes are not the decoded text when JSON escapes are involved: a `\u` escape
//! can spell any letter, and a broken escape (`\_`) decodes to its character. A line
//! with either is always cut into words. `\n`, `\t`… decode to separators, so they
//! only split words further; a backslash counts as a word byte in the run test, so a
//! word is never split by the raw form. Two characters outside ASCII lowercase to ASCII
//! letters (the Kelvin sign to `k`, `İ` to `i` and a dot): a line holding one is cut too.
//! Query words with characters outside ASCII have no byte test: every line is cut.

use rustc_hash::FxHashMap;

use super::find::{commonness, is_run_byte, next_long_run, Literal, LONG_RUN};
use super::matcher::{Matcher, Unit, WordSpec};
use super::text_index::TextSource;
use super::tokens::{raw_record_text, Words};
use crate::index::{History, RecordBatch};
use crate::model::Format;
use crate::work::Cancel;

/// Characters outside ASCII whose lowercase holds an ASCII letter, as UTF-8.
const ASCII_LOWERING: [&[u8]; 2] = ["\u{0130}".as_bytes(), "\u{212A}".as_bytes()];

/// Distinct words whose scores a scanning thread keeps (then it starts over).
const MAX_KNOWN_WORDS: usize = 1 << 20;

/// The text of a history's steps, searched by scanning their records.
pub struct ScanText {
    /// The records, in file order, cut into one batch per thread.
    parts: Vec<RecordBatch>,
    covered: u32,
}

impl ScanText {
    /// A scan of every step of `history` on `threads` threads; `None` when a file is not
    /// in the native format (a record of another format holds several steps, whose text
    /// is not the record's bytes).
    pub fn new(history: &History, threads: usize) -> Option<ScanText> {
        ScanText::of_slots(history, 0..history.step_count() as u32, threads)
    }

    /// A scan of the steps in `slots` (the other steps' text is searched elsewhere).
    pub fn of_slots(
        history: &History,
        slots: impl IntoIterator<Item = u32>,
        threads: usize,
    ) -> Option<ScanText> {
        if history.files().iter().any(|f| f.format != Format::Native) {
            return None;
        }
        Some(ScanText {
            parts: history.record_batch(slots).split(threads.clamp(1, 64)),
            covered: history.step_count() as u32,
        })
    }
}

impl TextSource for ScanText {
    fn covered(&self) -> u32 {
        self.covered
    }

    fn candidates(
        &self,
        units: &[Unit],
        matcher: &Matcher,
        _budget: &mut usize,
        cancel: &Cancel,
        each: &mut dyn FnMut(u32, u32),
    ) -> Option<()> {
        let test = LineTest::new(units, matcher);
        if test.finds_nothing() {
            return Some(());
        }
        let results: Vec<Option<Vec<(u32, u32)>>> = std::thread::scope(|scope| {
            let workers: Vec<_> = self
                .parts
                .iter()
                .map(|batch| scope.spawn(|| scan_batch(batch, &test, cancel)))
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().ok().flatten())
                .collect()
        });
        for found in results {
            for (slot, score) in found? {
                each(slot, score);
            }
        }
        Some(())
    }
}

/// Scans one batch: the slots whose words match every spec, with the summed scores.
/// `None` when cancelled (or a file could not be read: the caller falls back).
fn scan_batch(batch: &RecordBatch, test: &LineTest, cancel: &Cancel) -> Option<Vec<(u32, u32)>> {
    let mut scorer = LineScorer::new(test);
    let mut found = Vec::new();
    let done = batch.read(cancel, |record| {
        if let Some(score) = scorer.score(test, record.bytes) {
            found.push((record.slot, score));
        }
    });
    done.ok().filter(|&d| d).map(|_| found)
}

/// What a line must pass to match a query's words: a byte test per word, then the
/// line's words scored as the word index would.
#[derive(Clone)]
pub(super) struct LineTest {
    specs: Vec<WordSpec>,
    tests: Vec<ByteTest>,
}

impl LineTest {
    pub(super) fn new(units: &[Unit], matcher: &Matcher) -> LineTest {
        let specs = super::text_index::unit_specs(units, matcher);
        let tests = specs.iter().map(ByteTest::new).collect();
        LineTest { specs, tests }
    }

    /// No line matches: no words, or a word of one character matched exactly (such
    /// words are never indexed).
    pub(super) fn finds_nothing(&self) -> bool {
        self.specs.is_empty()
            || self
                .specs
                .iter()
                .any(|s| s.exact_only && s.word.chars().nth(1).is_none())
    }

    /// Whether these are the tests of `units` (the same words, matched the same way).
    pub(super) fn is_for(&self, units: &[Unit], matcher: &Matcher) -> bool {
        let key = |s: &WordSpec| (s.word.clone(), s.exact_only, s.fuzzy);
        let theirs = super::text_index::unit_specs(units, matcher);
        theirs.iter().map(key).eq(self.specs.iter().map(key))
    }

    /// What every matching line holds unless it [`needs_words`]: lines can be found
    /// by it in a block, not tested one by one. The rarest literal, else the longest
    /// run a fuzzy word needs when runs that long are rare.
    pub(super) fn finder(&self) -> Option<LineFinder<'_>> {
        let literals = self.tests.iter().filter_map(|t| match t {
            ByteTest::Literal(literal) => Some(literal),
            _ => None,
        });
        if let Some(rarest) = literals.min_by_key(|l| l.commonness()) {
            return Some(LineFinder::Literal(rarest));
        }
        let longest = self.tests.iter().filter_map(|t| match t {
            ByteTest::InOrder { word, .. } => Some(word.len()),
            _ => None,
        });
        longest
            .max()
            .filter(|&len| len >= LONG_RUN)
            .map(LineFinder::LongRun)
    }
}

/// Finds in a block of lines where a line could match (see [`LineTest::finder`]).
pub(super) enum LineFinder<'a> {
    Literal(&'a Literal),
    /// A run of at least this many word bytes.
    LongRun(usize),
}

impl LineFinder<'_> {
    /// A place at or after `from` inside a line that could match.
    pub(super) fn find(&self, bytes: &[u8], from: usize) -> Option<usize> {
        match self {
            LineFinder::Literal(literal) => literal.find(bytes, from),
            LineFinder::LongRun(len) => next_long_run(bytes, from, *len),
        }
    }
}

/// Scores lines' words against a [`LineTest`]; keeps scratch space and the fuzzy
/// scores of the words met so far (one per thread).
pub(super) struct LineScorer {
    matcher: Matcher,
    words: Words,
    scratch: String,
    best: Vec<u32>,
    /// Fuzzy scores of the words met so far, per query word.
    known: Vec<FxHashMap<Box<str>, Option<u32>>>,
}

impl LineScorer {
    pub(super) fn new(test: &LineTest) -> LineScorer {
        LineScorer {
            matcher: Matcher::default(),
            words: Words::default(),
            scratch: String::new(),
            best: vec![0; test.specs.len()],
            known: vec![FxHashMap::default(); test.specs.len()],
        }
    }

    /// The line's score (the sum of each query word's best match), or `None` when some
    /// query word matches none of its words.
    pub(super) fn score(&mut self, test: &LineTest, bytes: &[u8]) -> Option<u32> {
        let escaped = needs_words(bytes);
        if !escaped && !test.tests.iter().all(|t| t.possible(bytes)) {
            return None;
        }
        let line = std::str::from_utf8(bytes).ok()?;
        let LineScorer {
            matcher,
            words,
            scratch,
            best,
            known,
        } = self;
        let specs = &test.specs;
        best.iter_mut().for_each(|b| *b = 0);
        let mut score = |i: usize, w: &str| {
            if let Some(score) = word_score(matcher, &specs[i], &mut known[i], w) {
                best[i] = best[i].max(score);
            }
        };
        if escaped || test.tests.iter().any(|t| matches!(t, ByteTest::Any)) {
            // Every word is asked.
            raw_record_text(line, scratch, &mut |text| {
                words.each(text, true, &mut |w| {
                    (0..specs.len()).for_each(|i| score(i, w))
                })
            });
        } else {
            // Each query word is asked only about the words of the runs that could hold
            // a match (a word never spans runs): most of a long text is never cut.
            raw_record_text(line, scratch, &mut |text| {
                for (i, t) in test.tests.iter().enumerate() {
                    t.each_run(text, &mut |run| words.each(run, true, &mut |w| score(i, w)));
                }
            });
        }
        (!best.contains(&0)).then(|| best.iter().sum())
    }
}

/// The score of the line's word `w` for one query word, or `None`.
fn word_score(
    matcher: &Matcher,
    spec: &WordSpec,
    known: &mut FxHashMap<Box<str>, Option<u32>>,
    w: &str,
) -> Option<u32> {
    if w.starts_with(spec.word.as_str()) || spec.exact_only {
        return matcher.score_word(spec, w);
    }
    if !Matcher::fuzzy_possible(spec, w) {
        return None;
    }
    // The fuzzy matcher is costly: each word is asked once.
    if let Some(&score) = known.get(w) {
        return score;
    }
    if known.len() >= MAX_KNOWN_WORDS {
        known.clear();
    }
    let score = matcher.score_word(spec, w);
    known.insert(w.into(), score);
    score
}

/// Where the first escape or character at or after `from` is that makes its line
/// [`needs_words`] (lines start after a newline: escapes never span one).
pub(super) fn next_needing_words(bytes: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    let lowering = |end: usize| {
        memchr::memchr2_iter(
            ASCII_LOWERING[0][0],
            ASCII_LOWERING[1][0],
            &bytes[from..end],
        )
        .map(|i| from + i)
        .find(|&i| ASCII_LOWERING.iter().any(|c| bytes[i..].starts_with(c)))
    };
    while let Some(k) = memchr::memchr(b'\\', &bytes[at..]) {
        let i = at + k;
        match bytes.get(i + 1) {
            Some(b'\\' | b'"' | b'/' | b'n' | b't' | b'r' | b'b' | b'f') => at = i + 2,
            _ => return Some(lowering(i).unwrap_or(i)),
        }
    }
    lowering(bytes.len())
}

/// Whether the bytes may decode to letters they do not show: a `\u` escape, a broken
/// escape, or a character that lowercases to an ASCII letter.
fn needs_words(bytes: &[u8]) -> bool {
    next_needing_words(bytes, 0).is_some()
}

/// A byte test that every line holding a match of one query word passes.
#[derive(Clone)]
enum ByteTest {
    /// The word's letters, ASCII case ignored.
    Literal(Literal),
    /// A run of word bytes holding the word's letters in order; `anchor`: the rarest
    /// of them, looked for first.
    InOrder { word: Vec<u8>, anchor: u8 },
    /// No byte test (letters outside ASCII).
    Any,
}

impl ByteTest {
    fn new(spec: &WordSpec) -> ByteTest {
        let word = spec.word.as_bytes();
        if !spec.word.is_ascii() {
            return ByteTest::Any;
        }
        if spec.fuzzy {
            let anchor = *word.iter().min_by_key(|&&b| commonness(b)).unwrap_or(&b'_');
            return ByteTest::InOrder {
                word: word.to_vec(),
                anchor,
            };
        }
        match word {
            [] => ByteTest::Any,
            _ => ByteTest::Literal(Literal::new(word)),
        }
    }

    fn possible(&self, bytes: &[u8]) -> bool {
        match self {
            ByteTest::Literal(literal) => literal.find(bytes, 0).is_some(),
            ByteTest::InOrder { word, anchor } => {
                if word.len() >= LONG_RUN && next_long_run(bytes, 0, word.len()).is_none() {
                    return false;
                }
                let mut found = false;
                runs_in_order(bytes, word, *anchor, is_run_byte, &mut |_| {
                    found = true;
                    false
                });
                found
            }
            ByteTest::Any => true,
        }
    }

    /// Calls `each` with every run of word characters of decoded `text` (no escapes)
    /// that could hold a word matching the query word. Not for [`ByteTest::Any`].
    fn each_run(&self, text: &str, each: &mut impl FnMut(&str)) {
        let bytes = text.as_bytes();
        match self {
            ByteTest::Literal(literal) => {
                // The literal is word characters: it lies inside one run.
                let mut from = 0;
                while let Some(at) = literal.find(bytes, from) {
                    let (start, end) = run_around(bytes, at, is_text_run_byte);
                    each(&text[start..end]);
                    from = end;
                }
            }
            ByteTest::InOrder { word, anchor } => {
                runs_in_order(bytes, word, *anchor, is_text_run_byte, &mut |run| {
                    each(&text[run]);
                    true
                });
            }
            ByteTest::Any => {}
        }
    }
}

/// A byte of a run of word characters in decoded text: a word byte, or a byte of a
/// character outside ASCII (runs are cut at ASCII bytes only, so on char boundaries).
#[inline]
fn is_text_run_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

/// The bounds of the run of bytes passing `is_run` around `at`.
fn run_around(bytes: &[u8], at: usize, is_run: fn(u8) -> bool) -> (usize, usize) {
    let start = bytes[..at]
        .iter()
        .rposition(|&b| !is_run(b))
        .map_or(0, |p| p + 1);
    let end = bytes[at..]
        .iter()
        .position(|&b| !is_run(b))
        .map_or(bytes.len(), |p| at + p);
    (start, end)
}

/// Calls `each` with every run of bytes passing `is_run` in `bytes` that holds `word`
/// (lowercase ASCII) in order, ASCII case ignored, until it returns `false`.
fn runs_in_order(
    bytes: &[u8],
    word: &[u8],
    anchor: u8,
    is_run: fn(u8) -> bool,
    each: &mut dyn FnMut(std::ops::Range<usize>) -> bool,
) {
    let upper = anchor.to_ascii_uppercase();
    let mut from = 0;
    while let Some(k) = memchr::memchr2(anchor, upper, &bytes[from..]) {
        let at = from + k;
        let (start, end) = run_around(bytes, at, is_run);
        if end - start >= word.len()
            && holds_in_order(&bytes[start..end], word)
            && !each(start..end)
        {
            return;
        }
        from = end.max(at + 1);
        if from >= bytes.len() {
            break;
        }
    }
}

fn holds_in_order(run: &[u8], word: &[u8]) -> bool {
    let mut want = word.iter();
    let mut next = want.next();
    for &b in run {
        match next {
            Some(&w) if b.to_ascii_lowercase() == w => next = want.next(),
            Some(_) => {}
            None => break,
        }
    }
    next.is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_two_characters_outside_ascii_lowercase_to_ascii_letters() {
        let mut found = Vec::new();
        for c in (0x80..=0x10FFFFu32).filter_map(char::from_u32) {
            if c.to_lowercase().any(|l| l.is_ascii_alphanumeric()) {
                found.push(c);
            }
        }
        let listed: Vec<char> = ASCII_LOWERING
            .iter()
            .filter_map(|b| std::str::from_utf8(b).ok()?.chars().next())
            .collect();
        assert_eq!(found, listed);
    }

    #[test]
    fn escapes_that_hide_letters_need_words() {
        assert!(needs_words(br#"{"a":"r\u0065fund"}"#));
        assert!(needs_words(br#"{"a":"re\_fund"}"#));
        assert!(needs_words("{\"a\":\"\u{212A}ELVIN\"}".as_bytes()));
        assert!(!needs_words(br#"{"a":"line\none \"quoted\" C:\\dir"}"#));
        assert!(!needs_words("{\"a\":\"café\"}".as_bytes()));
    }

    #[test]
    fn letters_in_order_must_be_inside_one_run() {
        let test = ByteTest::InOrder {
            word: b"refnd".to_vec(),
            anchor: b'f',
        };
        assert!(test.possible(b"x Refund y"));
        assert!(test.possible(b"a\\nREFUND"));
        assert!(!test.possible(b"re fund"));
        assert!(!test.possible(b"refun"));
        assert!(!test.possible(b""));
        let mut runs = Vec::new();
        test.each_run("a refund, re fund; caf\u{e9}_ReFuNd x", &mut |r| {
            runs.push(r.to_owned())
        });
        assert_eq!(runs, ["refund", "caf\u{e9}_ReFuNd"]);
    }

    #[test]
    fn a_literal_is_found_with_ascii_case_ignored() {
        let literal = Literal::new(b"refund");
        assert_eq!(literal.find(b"rerefund", 0), Some(2));
        assert_eq!(literal.find(b"x ReFUND", 0), Some(2));
        assert_eq!(literal.find(b"refund refund", 1), Some(7));
        assert_eq!(literal.find(b"refun", 0), None);
        assert_eq!(literal.find(b"fund", 0), None);
        let digits = Literal::new(b"4242");
        assert_eq!(digits.find(b"x 424 4242", 0), Some(6));
    }

    #[test]
    fn a_literal_is_looked_for_in_the_runs_that_hold_it() {
        let test = ByteTest::new(&Matcher::default().spec("refund", true));
        let mut runs = Vec::new();
        test.each_run("REFUND issue_refund refundrefund x-refund", &mut |r| {
            runs.push(r.to_owned())
        });
        assert_eq!(runs, ["REFUND", "issue_refund", "refundrefund", "refund"]);
    }
}
