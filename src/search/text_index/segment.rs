//! The parts of the text index: slot lists (sorted slot deltas as varints, or bitmaps
//! for frequent words), segments being built and sealed (a sorted vocabulary with the
//! slots of each word), and the candidate slots of one segment for a query's words.

use rustc_hash::FxHashMap;

use super::super::matcher::{Matcher, WordSpec, EXACT};
use super::bytes::{u32_bytes, Bytes};

/// A word in more than 1/`DENSE_DIVISOR` of a segment's steps is kept as a bitmap.
const DENSE_DIVISOR: u32 = 32;

// ---------------------------------------------------------------------------------
// Slot lists

pub(super) fn push_varint(out: &mut Vec<u8>, mut v: u32) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Iterates the offsets of a slot list (deltas as varints; the first from 0).
pub(super) struct ListIter<'a> {
    bytes: &'a [u8],
    at: usize,
    prev: u32,
    first: bool,
}

impl<'a> ListIter<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Self {
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
    /// Stops at the end of the bytes, and at a varint cut short or too long (only a
    /// damaged list read from a cache has one; their slots are bounded where used).
    fn next(&mut self) -> Option<u32> {
        let mut v = 0u32;
        let mut shift = 0;
        loop {
            let b = *self.bytes.get(self.at)?;
            self.at += 1;
            v |= u32::from(b & 0x7F).checked_shl(shift)?;
            if b < 0x80 {
                break;
            }
            shift += 7;
        }
        let value = if self.first {
            v
        } else {
            self.prev.wrapping_add(v)
        };
        self.first = false;
        self.prev = value;
        Some(value)
    }
}

/// The slots holding a word, relative to the segment's first slot.
#[derive(Clone, Copy)]
pub(super) enum Postings<'a> {
    List(&'a [u8]),
    /// Little-endian 64-bit words, slot `i` in bit `i % 64` of word `i / 64`.
    Bitmap(&'a [u8]),
}

impl Postings<'_> {
    /// About how many slots (a list's byte count is an upper bound).
    pub(super) fn estimate(&self) -> usize {
        match self {
            Postings::List(b) => b.len(),
            Postings::Bitmap(bytes) => bytes.len() * 4,
        }
    }

    pub(super) fn for_each(&self, mut f: impl FnMut(u32)) {
        match self {
            Postings::List(bytes) => ListIter::new(bytes).for_each(f),
            Postings::Bitmap(bytes) => {
                for (i, word) in bytes.chunks_exact(8).enumerate() {
                    let mut w = u64::from_le_bytes(word.try_into().unwrap_or_default());
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
pub(super) struct Builder {
    pub(super) base: u32,
    pub(super) len: u32,
    pub(super) ids: FxHashMap<Box<str>, u32>,
    pub(super) words: Vec<BuildWord>,
}

pub(super) struct BuildWord {
    /// The last offset added, plus one (0: none yet).
    pub(super) last: u32,
    pub(super) count: u32,
    pub(super) list: Vec<u8>,
}

impl Builder {
    pub(super) fn new(base: u32) -> Builder {
        Builder {
            base,
            len: 0,
            ids: FxHashMap::default(),
            words: Vec::new(),
        }
    }

    /// Notes that the step at `offset` (from `base`; never below an offset added
    /// before) holds `word`.
    pub(super) fn add(&mut self, offset: u32, word: &str) {
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
    pub(super) fn append(&mut self, other: Builder) {
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

    pub(super) fn heap_bytes(&self) -> usize {
        let map = self.ids.capacity() * (std::mem::size_of::<(Box<str>, u32)>() + 1)
            + self.ids.keys().map(|k| k.len()).sum::<usize>();
        let words = self.words.capacity() * std::mem::size_of::<BuildWord>()
            + self.words.iter().map(|w| w.list.capacity()).sum::<usize>();
        map + words
    }

    pub(super) fn seal(self) -> Segment {
        self.sealed_copy()
    }

    /// The sealed form of the segment so far, the builder left as it is.
    pub(super) fn sealed_copy(&self) -> Segment {
        let mut order: Vec<(&str, u32)> = self.ids.iter().map(|(w, &id)| (&**w, id)).collect();
        order.sort_unstable();
        let dense_min = (self.len / DENSE_DIVISOR).max(64);
        let mut text = Vec::with_capacity(order.iter().map(|(w, _)| w.len()).sum());
        let mut ends = Vec::with_capacity(order.len());
        let mut post = Vec::with_capacity(order.len() + 1);
        let pool_len: usize = order
            .iter()
            .map(|(_, id)| &self.words[*id as usize])
            .filter(|w| w.count <= dense_min)
            .map(|w| w.list.len())
            .sum();
        let mut pool = Vec::with_capacity(pool_len);
        let (mut dense, mut bitmaps) = (Vec::new(), Vec::new());
        for (i, (word, id)) in order.iter().enumerate() {
            text.extend_from_slice(word.as_bytes());
            ends.push(text.len() as u32);
            post.push(pool.len() as u32);
            let w = &self.words[*id as usize];
            if w.count > dense_min {
                let mut bits = vec![0u64; self.len.div_ceil(64) as usize];
                for offset in ListIter::new(&w.list) {
                    bits[(offset / 64) as usize] |= 1 << (offset % 64);
                }
                dense.push((i as u32, bitmaps.len() as u32));
                bitmaps.push(
                    bits.into_iter()
                        .flat_map(u64::to_le_bytes)
                        .collect::<Vec<u8>>()
                        .into(),
                );
            } else {
                pool.extend_from_slice(&w.list);
            }
        }
        post.push(pool.len() as u32);
        Segment {
            base: self.base,
            len: self.len,
            text: text.into(),
            ends: u32_bytes(ends).into(),
            post: u32_bytes(post).into(),
            pool: pool.into(),
            dense,
            bitmaps,
            letters: order.partition_point(|(w, _)| w.starts_with(|c: char| c.is_ascii_digit())),
        }
    }
}

/// A finished segment: a sorted vocabulary and compact slot lists. Its bytes are its own
/// or those of a word cache file (see [`Bytes`]); lists of `u32` are kept as
/// little-endian bytes, so that a cache's are used as they are stored.
pub(super) struct Segment {
    pub(super) base: u32,
    pub(super) len: u32,
    /// The words, sorted, one after the other; word `i` ends at `ends[i]`.
    pub(super) text: Bytes,
    /// `u32`s.
    pub(super) ends: Bytes,
    /// Word `i`'s list is `pool[post[i]..post[i + 1]]` (empty for bitmap words); `u32`s.
    pub(super) post: Bytes,
    pub(super) pool: Bytes,
    /// (word, bitmap) of the words kept as bitmaps, by word.
    pub(super) dense: Vec<(u32, u32)>,
    /// Each `len.div_ceil(64)` little-endian `u64`s.
    pub(super) bitmaps: Vec<Bytes>,
    /// Words before this index start with a digit (never matched fuzzily).
    pub(super) letters: usize,
}

impl Segment {
    /// How many words the vocabulary holds.
    pub(super) fn word_count(&self) -> usize {
        self.ends.u32_count()
    }

    /// Word `i` ("" for a word out of bounds, which a checked cache never has).
    pub(super) fn word(&self, i: usize) -> &str {
        let start = if i == 0 {
            0
        } else {
            self.ends.u32_at(i - 1) as usize
        };
        let end = self.ends.u32_at(i) as usize;
        // Built from `&str`s cut on char boundaries.
        (self.text.get(start..end)).map_or("", |w| std::str::from_utf8(w).unwrap_or(""))
    }

    pub(super) fn postings(&self, i: usize) -> Postings<'_> {
        let bitmap = (self.dense.binary_search_by_key(&(i as u32), |d| d.0).ok())
            .and_then(|k| self.bitmaps.get(self.dense[k].1 as usize));
        match bitmap {
            Some(bits) => Postings::Bitmap(bits),
            None => {
                let (start, end) = (
                    self.post.u32_at(i) as usize,
                    self.post.u32_at(i + 1) as usize,
                );
                Postings::List(self.pool.get(start..end).unwrap_or_default())
            }
        }
    }

    pub(super) fn heap_bytes(&self) -> usize {
        [&self.text, &self.ends, &self.post, &self.pool]
            .into_iter()
            .chain(&self.bitmaps)
            .map(|b| b.heap_bytes())
            .sum::<usize>()
            + self.dense.capacity() * 8
            + self.bitmaps.capacity() * std::mem::size_of::<Bytes>()
    }

    /// The bytes the segment's parts take, wherever they are.
    pub(super) fn byte_len(&self) -> usize {
        [&self.text, &self.ends, &self.post, &self.pool]
            .into_iter()
            .chain(&self.bitmaps)
            .map(|b| b.len())
            .sum::<usize>()
            + self.dense.len() * 8
    }
}

/// What candidate generation needs of a segment, sealed or open.
pub(super) trait Vocabulary {
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
        let n = self.word_count();
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
pub(super) fn partition(n: usize, pred: impl Fn(usize) -> bool) -> usize {
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
pub(super) enum ScoreSet {
    /// Sorted by offset.
    Sparse(Vec<(u32, u32)>),
    /// A score per offset (0: no match).
    Dense(Vec<u32>),
}

impl ScoreSet {
    pub(super) fn get(&self, offset: u32) -> u32 {
        match self {
            ScoreSet::Sparse(v) => v
                .binary_search_by_key(&offset, |p| p.0)
                .map_or(0, |k| v[k].1),
            ScoreSet::Dense(v) => v[offset as usize],
        }
    }
}

pub(super) fn segment_candidates<'s>(
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
                // A slot past the segment's end only a damaged cache could hold: dropped.
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
                    p.for_each(|o| {
                        if o < len {
                            sparse.push((o, *score));
                        }
                    });
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
        let words: Vec<&str> = (0..s.word_count()).map(|i| s.word(i)).collect();
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
}
