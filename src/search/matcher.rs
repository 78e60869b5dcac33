//! How well query text matches a word or a field, with the places to highlight: exact,
//! prefix and fuzzy word matches (fuzzy: `fuzzy-matcher`'s SkimMatcherV2), bonuses for
//! a field that equals or contains the whole query, and snippets cut around a match.
//! Shared by the text index (matching its vocabulary), the metadata search and the
//! final scoring, so that a candidate is scored the same way everywhere.

use std::ops::Range;

use fuzzy_matcher::skim::SkimMatcherV2;
use fuzzy_matcher::FuzzyMatcher;

use super::query::Query;
use super::tokens::{cut_word, Words};
use crate::sanitize;

/// A word equal to the query word.
pub const EXACT: u32 = 1000;
/// A word starting with the query word: this, plus up to [`PREFIX_SPAN`] the more of
/// the word the query covers.
pub const PREFIX: u32 = 600;
pub const PREFIX_SPAN: u32 = 300;
/// The best fuzzy match; scattered matches score less, down to [`FUZZY_MIN`].
pub const FUZZY_MAX: u32 = 400;
pub const FUZZY_MIN: u32 = 100;
/// A field (an error code, a tool name, a run id…) equal to the whole query text.
pub const EXACT_FIELD_BONUS: u32 = 2000;
/// A name or error label holding the whole query text; or any field holding a query
/// of several words, in order.
pub const SUBSTRING_BONUS: u32 = 500;

/// Query words shorter than this are matched exactly or as a prefix only.
pub const FUZZY_MIN_CHARS: usize = 4;

/// One query word, prepared for matching many candidate words.
#[derive(Debug, Clone)]
pub struct WordSpec {
    pub word: String,
    /// Only an equal word matches (words of a quoted phrase).
    pub exact_only: bool,
    pub fuzzy: bool,
    chars: usize,
    mask: u64,
    self_score: i64,
}

/// What must match for a query to match: each unit, somewhere in the step or run.
#[derive(Debug, Clone)]
pub enum Unit {
    Word(WordSpec),
    /// Words that must follow each other (a quoted phrase).
    Phrase(Vec<String>),
}

/// The matcher: one per search (it keeps scratch space).
pub struct Matcher {
    skim: SkimMatcherV2,
    words: Words,
    /// Scratch space for a field's words.
    buffer: String,
    spans: Vec<(Range<usize>, u64, Range<usize>)>,
}

impl Default for Matcher {
    fn default() -> Self {
        Matcher {
            skim: SkimMatcherV2::default().ignore_case(),
            words: Words::default(),
            buffer: String::new(),
            spans: Vec::new(),
        }
    }
}

/// A set of characters, for rejecting words that lack some of the query's characters
/// before the fuzzy matcher is asked. Letters count case-insensitively.
pub fn char_mask(word: &str) -> u64 {
    let mut mask = 0;
    for c in word.chars() {
        let bit = match c {
            'a'..='z' => c as u32 - 'a' as u32,
            'A'..='Z' => c as u32 - 'A' as u32,
            '0'..='9' => 26 + c as u32 - '0' as u32,
            '_' => 36,
            c if c.is_ascii() => continue,
            c => match c.to_lowercase().next().unwrap_or(c) {
                // A character whose lowercase is an ASCII letter (the Kelvin sign).
                lower @ 'a'..='z' => lower as u32 - 'a' as u32,
                lower => 37 + (lower as u32 % 27),
            },
        };
        mask |= 1u64 << bit;
    }
    mask
}

/// The characters a unit needs (see [`char_mask`]).
pub fn unit_mask(unit: &Unit) -> u64 {
    match unit {
        Unit::Word(spec) => spec.mask,
        Unit::Phrase(words) => words.iter().map(|w| char_mask(w)).fold(0, |a, b| a | b),
    }
}

impl Matcher {
    pub fn spec(&self, word: &str, exact_only: bool) -> WordSpec {
        let word = cut_word(word).to_owned();
        let chars = word.chars().count();
        let fuzzy = !exact_only
            && chars >= FUZZY_MIN_CHARS
            && !word.starts_with(|c: char| c.is_ascii_digit());
        WordSpec {
            self_score: self.skim.fuzzy_match(&word, &word).unwrap_or(1).max(1),
            mask: char_mask(&word),
            chars,
            fuzzy,
            exact_only,
            word,
        }
    }

    /// The units of a query's free text.
    pub fn units(&self, query: &Query) -> Vec<Unit> {
        let mut units = Vec::new();
        for term in &query.terms {
            if term.phrase && term.words.len() > 1 {
                units.push(Unit::Phrase(term.words.clone()));
            } else if term.words.is_empty() {
                // Too short to be a word (one letter): matches no word.
                units.push(Unit::Word(self.spec(&term.text.to_lowercase(), true)));
            } else {
                for w in &term.words {
                    units.push(Unit::Word(self.spec(w, term.phrase)));
                }
            }
        }
        units
    }

    /// Whether the fuzzy matcher could match `candidate` at all (cheap checks first).
    pub fn fuzzy_possible(spec: &WordSpec, candidate: &str) -> bool {
        spec.fuzzy
            && !candidate.starts_with(|c: char| c.is_ascii_digit())
            && candidate.len() >= spec.chars
            && candidate.len() <= spec.word.len() * 3 + 4
            && spec.mask & !char_mask(candidate) == 0
    }

    /// The score of a (lowercased) word for a query word, or `None`.
    pub fn score_word(&self, spec: &WordSpec, candidate: &str) -> Option<u32> {
        if candidate == spec.word {
            return Some(EXACT);
        }
        if spec.exact_only {
            return None;
        }
        if candidate.starts_with(&spec.word) {
            return Some(prefix_score(spec, candidate));
        }
        if !Self::fuzzy_possible(spec, candidate) {
            return None;
        }
        let (score, indices) = self.skim.fuzzy_indices(candidate, &spec.word)?;
        fuzzy_score(spec, score, &indices)
    }

    /// Like [`Matcher::score_word`], with the byte ranges of `candidate` that matched.
    pub fn score_word_at(
        &self,
        spec: &WordSpec,
        candidate: &str,
    ) -> Option<(u32, Vec<Range<usize>>)> {
        if candidate == spec.word {
            return Some((EXACT, std::iter::once(0..candidate.len()).collect()));
        }
        if spec.exact_only {
            return None;
        }
        if candidate.starts_with(&spec.word) {
            return Some((
                prefix_score(spec, candidate),
                std::iter::once(0..spec.word.len()).collect(),
            ));
        }
        if !Self::fuzzy_possible(spec, candidate) {
            return None;
        }
        let (score, indices) = self.skim.fuzzy_indices(candidate, &spec.word)?;
        let score = fuzzy_score(spec, score, &indices)?;
        Some((score, char_ranges(candidate, &indices)))
    }

    /// A fuzzy match of a query word against a whole short field (a name, an error
    /// code, a run id), across its word boundaries; positions are byte ranges of `field`.
    pub fn score_whole_field(
        &self,
        spec: &WordSpec,
        field: &str,
    ) -> Option<(u32, Vec<Range<usize>>)> {
        if !spec.fuzzy || field.len() > 200 || spec.mask & !char_mask(field) != 0 {
            return None;
        }
        let (score, indices) = self.skim.fuzzy_indices(field, &spec.word)?;
        let score = fuzzy_score(spec, score, &indices)?;
        Some((score, char_ranges(field, &indices)))
    }

    /// Matches the units against one field's text. `meta`: a short field named by the
    /// index (name, error label, run field), where the whole field is also fuzzy-matched
    /// and holding the whole query earns [`SUBSTRING_BONUS`].
    pub fn match_field(
        &mut self,
        units: &[Unit],
        query_norm: &str,
        text: &str,
        meta: bool,
    ) -> FieldMatch {
        let mut out = FieldMatch::none(units.len());
        let field_mask = char_mask(text);
        if !units.iter().any(|u| unit_mask(u) & !field_mask == 0) {
            return out;
        }
        // The field's words: lowercased text in one buffer, with each word's character
        // set and its place in `text`.
        let mut buffer = std::mem::take(&mut self.buffer);
        let mut spans = std::mem::take(&mut self.spans);
        buffer.clear();
        spans.clear();
        self.words.each_at(text, true, &mut |w, r| {
            let start = buffer.len();
            buffer.push_str(w);
            spans.push((start..buffer.len(), char_mask(w), r));
        });
        let mut best_unit_score = 0;
        for (u, unit) in units.iter().enumerate() {
            if unit_mask(unit) & !field_mask != 0 {
                continue;
            }
            match unit {
                Unit::Word(spec) => {
                    for (at, mask, range) in &spans {
                        if spec.mask & !mask != 0 {
                            continue;
                        }
                        let w = &buffer[at.clone()];
                        if let Some((score, ranges)) = self.score_word_at(spec, w) {
                            out.units[u] = out.units[u].max(score);
                            if score > best_unit_score {
                                best_unit_score = score;
                                out.anchor = Some(range.start);
                            }
                            out.highlights.extend(ranges.into_iter().map(|r| {
                                // Ranges of the lowercased word: the same bytes in the
                                // text when lowercasing kept the length, else the word.
                                if w.len() == range.len() {
                                    range.start + r.start..range.start + r.end
                                } else {
                                    range.clone()
                                }
                            }));
                        }
                    }
                    if meta {
                        if let Some((score, ranges)) = self.score_whole_field(spec, text) {
                            if score > out.units[u] {
                                out.units[u] = score;
                                out.highlights.extend(ranges);
                            }
                        }
                    }
                }
                Unit::Phrase(phrase) => {
                    let words: Vec<(&str, Range<usize>)> = spans
                        .iter()
                        .map(|(at, _, range)| (&buffer[at.clone()], range.clone()))
                        .collect();
                    for found in find_phrase(&words, phrase) {
                        out.units[u] = EXACT * phrase.len() as u32;
                        if best_unit_score < out.units[u] {
                            best_unit_score = out.units[u];
                            out.anchor = Some(found.start);
                        }
                        out.highlights.push(found);
                    }
                }
            }
        }
        // A field can equal or hold the whole query only if every unit matched in it.
        if !out.units.contains(&0) {
            out.bonus = field_bonus(query_norm, &normalize(text), meta, units.len());
        }
        self.buffer = buffer;
        self.spans = spans;
        out
    }
}

fn prefix_score(spec: &WordSpec, candidate: &str) -> u32 {
    PREFIX + PREFIX_SPAN * spec.word.len() as u32 / candidate.len().max(1) as u32
}

/// A fuzzy score scaled to [`FUZZY_MAX`] by how close it is to the query word's own
/// score and how compact the matched characters are; `None` below [`FUZZY_MIN`].
fn fuzzy_score(spec: &WordSpec, score: i64, indices: &[usize]) -> Option<u32> {
    let span = match (indices.first(), indices.last()) {
        (Some(a), Some(b)) => b - a + 1,
        _ => return None,
    };
    let ratio = (score as f64 / spec.self_score as f64).clamp(0.0, 1.0);
    let compact = spec.chars as f64 / span.max(spec.chars) as f64;
    let scaled = (f64::from(FUZZY_MAX) * ratio * compact) as u32;
    (scaled >= FUZZY_MIN).then_some(scaled)
}

/// Byte ranges of the characters at `indices` (character positions) of `text`.
fn char_ranges(text: &str, indices: &[usize]) -> Vec<Range<usize>> {
    let mut out = Vec::with_capacity(indices.len());
    let mut want = indices.iter().peekable();
    for (i, (at, c)) in text.char_indices().enumerate() {
        match want.peek() {
            Some(&&w) if w == i => {
                out.push(at..at + c.len_utf8());
                want.next();
            }
            Some(_) => {}
            None => break,
        }
    }
    out
}

/// Where the phrase's words follow each other among `words` (each with its byte range;
/// a joined word is followed by its parts, which start where it starts).
fn find_phrase(words: &[(&str, Range<usize>)], phrase: &[String]) -> Vec<Range<usize>> {
    let mut found = Vec::new();
    for (i, (w, r)) in words.iter().enumerate() {
        if *w != phrase[0].as_str() {
            continue;
        }
        let mut end = r.end;
        let mut at = i;
        let mut ok = true;
        for next in &phrase[1..] {
            // The words starting first at or after `end`.
            let Some(first) = words[at + 1..].iter().position(|(_, r)| r.start >= end) else {
                ok = false;
                break;
            };
            let start = words[at + 1 + first].1.start;
            let hit = words[at + 1 + first..]
                .iter()
                .position(|(w, r)| r.start == start && *w == next.as_str())
                .filter(|&k| {
                    words[at + 1 + first..at + 1 + first + k]
                        .iter()
                        .all(|(_, r)| r.start == start)
                });
            match hit {
                Some(k) => {
                    at = at + 1 + first + k;
                    end = words[at].1.end;
                }
                None => {
                    ok = false;
                    break;
                }
            }
        }
        if ok {
            found.push(r.start..end);
        }
    }
    found
}

/// How well one field matched: per unit, its best score there; the field's bonus; the
/// byte ranges to highlight; the start of its best match.
#[derive(Debug, Clone)]
pub struct FieldMatch {
    pub units: Vec<u32>,
    pub bonus: u32,
    pub highlights: Vec<Range<usize>>,
    pub anchor: Option<usize>,
}

impl FieldMatch {
    /// Nothing matched.
    pub fn none(units: usize) -> FieldMatch {
        FieldMatch {
            units: vec![0; units],
            bonus: 0,
            highlights: Vec::new(),
            anchor: None,
        }
    }

    pub fn matched_any(&self) -> bool {
        self.units.iter().any(|&s| s > 0)
    }

    /// The field's own score: what matched here, and its bonus.
    pub fn score(&self) -> u32 {
        self.units.iter().sum::<u32>() + self.bonus
    }
}

/// Text reduced to its letters and digits, lowercased, one space between runs: the form
/// in which a field and the whole query are compared (`SCHEMA_MISMATCH` and `schema
/// mismatch` agree).
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut gap = false;
    for c in text.chars() {
        if c.is_alphanumeric() {
            if gap && !out.is_empty() {
                out.push(' ');
            }
            gap = false;
            out.extend(c.to_lowercase());
        } else {
            gap = true;
        }
    }
    out
}

/// The query's whole free text, normalized: what a field must equal or hold for the
/// field bonus.
pub fn query_norm(query: &Query) -> String {
    normalize(
        &query
            .terms
            .iter()
            .map(|t| t.text.as_str())
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// The bonus of a field (normalized) for the whole query (normalized).
pub fn field_bonus(query_norm: &str, field_norm: &str, meta: bool, units: usize) -> u32 {
    if query_norm.is_empty() {
        return 0;
    }
    if field_norm == query_norm {
        return EXACT_FIELD_BONUS;
    }
    if (meta || units > 1 || query_norm.contains(' '))
        && field_norm.len() > query_norm.len()
        && format!(" {field_norm} ").contains(&format!(" {query_norm} "))
    {
        return SUBSTRING_BONUS;
    }
    0
}

/// Characters of a snippet around its anchor.
pub const SNIPPET_CHARS: usize = 120;
const SNIPPET_BEFORE: usize = 40;

/// A one-line, display-safe snippet of `text` around `anchor` (a byte offset), and the
/// character positions in it of the `highlights` (byte ranges of `text`). Control
/// characters are made visible by [`crate::sanitize::line`]; line breaks become spaces.
pub fn snippet(text: &str, anchor: usize, highlights: &[Range<usize>]) -> (String, Vec<usize>) {
    let anchor = anchor.min(text.len());
    // Start a little before the anchor, at a word start when one is near.
    let before: Vec<(usize, char)> = text[..floor_boundary(text, anchor)]
        .char_indices()
        .rev()
        .take(SNIPPET_BEFORE)
        .collect();
    let mut start = before.last().map_or(anchor, |&(i, _)| i);
    if before.len() == SNIPPET_BEFORE {
        if let Some(&(i, _)) = before.iter().rev().find(|(_, c)| c.is_whitespace()) {
            start = i + 1;
        }
    } else {
        start = 0;
    }
    let start = floor_boundary(text, start);
    let mut out = String::new();
    let mut positions = Vec::new();
    let mut count = 0;
    if start > 0 {
        out.push('…');
        count += 1;
    }
    let mut cut = false;
    let mut buf = [0u8; 4];
    let mut last_space = false;
    for (i, c) in text[start..].char_indices() {
        let at = start + i;
        if count >= SNIPPET_CHARS {
            cut = true;
            break;
        }
        let lit = highlights.iter().any(|r| r.start <= at && at < r.end);
        let shown: std::borrow::Cow<'_, str> = if matches!(c, '\n' | '\r' | '\t') || c == ' ' {
            if last_space {
                continue;
            }
            " ".into()
        } else {
            sanitize::line(c.encode_utf8(&mut buf)).into_owned().into()
        };
        last_space = shown == " ";
        for sc in shown.chars() {
            if lit {
                positions.push(count);
            }
            out.push(sc);
            count += 1;
        }
    }
    if cut {
        out.push('…');
    }
    (out, positions)
}

fn floor_boundary(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(word: &str) -> WordSpec {
        Matcher::default().spec(word, false)
    }

    #[test]
    fn exact_beats_prefix_beats_fuzzy() {
        let m = Matcher::default();
        let s = spec("refund");
        let exact = m.score_word(&s, "refund").unwrap();
        let prefix = m.score_word(&s, "refunded").unwrap();
        let fuzzy = m.score_word(&spec("refnd"), "refund").unwrap();
        assert!(exact > prefix && prefix > fuzzy, "{exact} {prefix} {fuzzy}");
        assert_eq!(m.score_word(&s, "policy"), None);
        // Short words are not matched fuzzily, and numbers are never.
        assert_eq!(m.score_word(&spec("rfd"), "refund"), None);
        assert_eq!(m.score_word(&spec("4411"), "44911"), None);
        assert!(m.score_word(&spec("4411"), "44110").is_some());
    }

    #[test]
    fn compact_fuzzy_matches_score_above_scattered_ones() {
        let m = Matcher::default();
        let s = spec("refnd");
        let close = m.score_word(&s, "refund").unwrap();
        let far = m.score_word(&s, "referenced").unwrap_or(0);
        assert!(close > far, "{close} {far}");
    }

    #[test]
    fn phrases_need_their_words_in_order() {
        let mut m = Matcher::default();
        let units = [Unit::Phrase(vec!["refund".into(), "policy".into()])];
        let hit = m.match_field(&units, "", "see the issue_refund Policy now", false);
        assert_eq!(hit.units, [2 * EXACT]);
        assert_eq!(hit.highlights, std::iter::once(14..27).collect::<Vec<_>>());
        let miss = m.match_field(&units, "", "policy refund", false);
        assert_eq!(miss.units, [0]);
    }

    #[test]
    fn whole_field_bonuses() {
        assert_eq!(normalize("SCHEMA_MISMATCH"), "schema mismatch");
        assert_eq!(
            field_bonus("schema mismatch", "schema mismatch", true, 1),
            EXACT_FIELD_BONUS
        );
        assert_eq!(
            field_bonus("refund", "issue refund", true, 1),
            SUBSTRING_BONUS
        );
        assert_eq!(field_bonus("refund", "issue refund", false, 1), 0);
        assert_eq!(field_bonus("fund", "issue refund", true, 1), 0);
    }

    #[test]
    fn snippets_are_one_safe_line_with_positions() {
        let text = format!("{}needle\x1b[31m here\nnext", "x ".repeat(60));
        let anchor = text.find("needle").unwrap();
        let lit = std::iter::once(anchor..anchor + 6).collect::<Vec<_>>();
        let (snip, pos) = snippet(&text, anchor, &lit);
        assert!(snip.starts_with('…'));
        assert!(!snip.contains('\x1b') && !snip.contains('\n'));
        assert!(snip.contains("needle\\x1b[31m here next"), "{snip}");
        let lit: String = snip
            .chars()
            .enumerate()
            .filter(|(i, _)| pos.contains(i))
            .map(|(_, c)| c)
            .collect();
        assert_eq!(lit, "needle");
    }
}
