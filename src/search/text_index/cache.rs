//! The word index kept on disk, one cache file per source file, beside the index cache
//! (`$XDG_CACHE_HOME/retrace/words`), so that a reopened history is searchable at once.
//!
//! A file's cache holds the segments of its steps (vocabularies and slot lists, no other
//! text), numbered by the step's place in the file (by offset, then place in its
//! record) rather than by slot, and is keyed and checked like the index cache (see
//! [`crate::index::cache::stamp`]): the same identity, head and build, and either the
//! same size and modification time or a file that grew with the bytes before where the
//! cache stopped unchanged. Loading maps places back to the history's slots: a file's
//! steps get consecutive slots in file order when it is loaded, except for runs put in
//! order afterwards (a late `step`): those steps' slots are indexed again from their
//! records. A file that grew is taken from its cache up to where that stopped, and only
//! its new steps are indexed. Anything that does not check out (a rewritten file, a
//! damaged or truncated cache, lengths or checksums off) is not used: the steps are
//! indexed from their records and the cache written again.

use std::path::{Path, PathBuf};

use rustc_hash::FxHashMap;

use super::bytes::{map_or_read, Backing, Bytes};
use super::segment::Segment;
use super::TextIndex;
use crate::index::cache::stamp::{self, FileProbe, Stamp};
use crate::index::History;

const MAGIC: &[u8; 8] = b"RTRCWRD1";
/// Bumped whenever the byte form changes.
const VERSION: u32 = 1;
const EXTENSION: &str = "words";

/// The word caches' folder for a history opened with the index cache folder `index_dir`.
pub fn dir_for(index_dir: &Path) -> PathBuf {
    stamp::sibling_dir(index_dir, "words")
}

/// What the caches gave for the first slots of a history.
#[derive(Default)]
pub(super) struct Loaded {
    /// Segments covering slots `0..covered`, in order.
    pub(super) segments: Vec<Segment>,
    pub(super) covered: u32,
    /// Slots (sorted) whose cached words are not those of the step now there.
    pub(super) stale: Vec<u32>,
    /// The files taken from their caches, and how many of their steps.
    pub(super) files: Vec<(u32, u32)>,
}

/// One file's cache, read and checked.
struct Cached {
    /// Steps covered (`0..records` from the file's first slot).
    records: u32,
    /// Where each of them is in the file, as stored (see [`Places`]).
    places: Bytes,
    stale: Vec<u32>,
    segments: Vec<Segment>,
}

/// The segments the caches in `dir` hold for `history`, from slot 0 on, as far as they
/// go: file after file while each file's steps are one run of slots and its cache
/// checks out.
pub(super) fn load(dir: &Path, min_bytes: u64, history: &History, ahead: ReadAhead) -> Loaded {
    let mut ahead = ahead.0;
    let mut loaded = Loaded::default();
    let spans = history.file_spans(0..history.step_count() as u32);
    let mut span_count: FxHashMap<u32, u32> = FxHashMap::default();
    spans
        .iter()
        .for_each(|(f, _)| *span_count.entry(*f).or_default() += 1);
    for (file, span) in spans {
        if span_count.get(&file) != Some(&1) {
            break;
        }
        let info = &history.files()[file as usize];
        let Some(probe) = FileProbe::new(dir, EXTENSION, &info.path, info.format, min_bytes) else {
            break;
        };
        // Read ahead while the history loaded, and still describing the file: used.
        let read_ahead = ahead
            .remove(probe.cache_path())
            .filter(|(stamp, _)| probe.fit(stamp).is_some());
        let Some(cached) = read_ahead
            .map(|(_, cached)| cached)
            .or_else(|| read(&probe))
        else {
            break;
        };
        let records = cached.records;
        let len = span.end - span.start;
        if records == 0 || records > len {
            break;
        }
        // Steps not where the cache had them (their runs' steps moved).
        let mut places = Places::new(&cached.places);
        let mut moved = Vec::new();
        let mut whole = true;
        let slots = span.start..span.start + records;
        for (slot, now) in slots.clone().zip(history.slot_places(slots)) {
            match places.next() {
                Some(place) if place == now => {}
                Some(_) => moved.push(slot),
                None => {
                    whole = false;
                    break;
                }
            }
        }
        if !whole || !places.at_end() {
            break;
        }
        for mut segment in cached.segments {
            segment.base += span.start;
            loaded.segments.push(segment);
        }
        loaded
            .stale
            .extend(cached.stale.iter().map(|&p| span.start + p));
        loaded.stale.extend(moved);
        loaded.covered = span.start + records;
        loaded.files.push((file, records));
        if records < len {
            break;
        }
    }
    loaded.stale.sort_unstable();
    loaded.stale.dedup();
    loaded
}

/// What writing the word caches needs of the history: each file whose steps the index
/// covers as one run of slots, with where its steps are. Taken while the history is read;
/// the writing then runs without holding it.
#[derive(Default)]
pub struct StorePlan(Vec<PlannedFile>);

struct PlannedFile {
    path: PathBuf,
    format: crate::model::Format,
    modified: Option<std::time::SystemTime>,
    consumed: u64,
    span: std::ops::Range<u32>,
    places: Vec<(u64, u32)>,
}

/// The files of `history` whose caches are to be written for `index`: those whose steps
/// it covers as one run of slots, except those in `unchanged` (file, steps) that their
/// cache already holds.
pub(super) fn plan(history: &History, index: &TextIndex, unchanged: &[(u32, u32)]) -> StorePlan {
    let spans = history.file_spans(0..index.covered);
    let mut span_count: FxHashMap<u32, u32> = FxHashMap::default();
    spans
        .iter()
        .for_each(|(f, _)| *span_count.entry(*f).or_default() += 1);
    let planned = spans.into_iter().filter_map(|(file, span)| {
        let len = span.end - span.start;
        if span_count.get(&file) != Some(&1) || unchanged.contains(&(file, len)) {
            return None;
        }
        let info = &history.files()[file as usize];
        Some(PlannedFile {
            path: info.path.clone(),
            format: info.format,
            modified: info.modified,
            consumed: info.consumed,
            places: span
                .clone()
                .map(|s| history.slot_offset_and_sub(s))
                .collect(),
            span,
        })
    });
    StorePlan(planned.collect())
}

/// Writes the cache of every file in `plan` whose steps `index` covers in whole
/// segments. Failures only mean no cache.
pub(super) fn store(dir: &Path, min_bytes: u64, index: &TextIndex, plan: StorePlan) {
    stamp::remove_stale_temps(dir);
    let open = index.open.as_ref().map(|b| b.sealed_copy());
    let segments: Vec<&Segment> = index.sealed.iter().chain(&open).collect();
    for file in plan.0 {
        let Some(probe) = FileProbe::new(dir, EXTENSION, &file.path, file.format, min_bytes) else {
            continue;
        };
        // Changed since it was read: what the history holds may not be what it says now.
        if file.modified != Some(probe.modified()) {
            continue;
        }
        let span = file.span;
        let first = segments.partition_point(|s| s.base < span.start);
        let mut mine = Vec::new();
        let mut at = span.start;
        for segment in &segments[first..] {
            if segment.base != at || at >= span.end {
                break;
            }
            at += segment.len;
            mine.push(*segment);
        }
        if at != span.end {
            continue;
        }
        // Slots whose words in the segments are not their steps' (their runs' steps moved).
        let stale: Vec<u32> = (0..span.end - span.start)
            .filter(|&p| index.patched.contains(&(span.start + p)))
            .collect();
        let Some(stamp) = probe.stamp(file.consumed) else {
            continue;
        };
        let body = encode_body(&file.places, &stale, &mine, span.start);
        let head = encode_head(&stamp, &body);
        let _ = stamp::write_private(dir, probe.cache_path(), &[&head, &body]);
    }
}

fn encode_head(stamp: &Stamp, body: &[u8]) -> Vec<u8> {
    let mut header = Vec::new();
    header.extend_from_slice(&VERSION.to_le_bytes());
    let mut stamp_bytes = Vec::new();
    stamp.encode(&mut stamp_bytes);
    header.extend_from_slice(&(stamp_bytes.len() as u32).to_le_bytes());
    header.extend_from_slice(&stamp_bytes);
    header.extend_from_slice(&(body.len() as u64).to_le_bytes());
    header.extend_from_slice(&crc32fast::hash(body).to_le_bytes());
    let mut out = Vec::with_capacity(header.len() + 16);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(&crc32fast::hash(&header).to_le_bytes());
    out
}

/// The body: steps covered, where they are in the file, the stale ones, the segments
/// (bases from the file's first slot).
fn encode_body(places: &[(u64, u32)], stale: &[u32], segments: &[&Segment], first: u32) -> Vec<u8> {
    let size: usize = segments.iter().map(|s| s.byte_len() + 64).sum();
    let mut out = Vec::with_capacity(size + places.len() * 4 + stale.len() * 4 + 16);
    put_u32(&mut out, places.len() as u32);
    // Offsets as differences from the one before (zigzag varints), places as varints.
    let mut places_bytes = Vec::with_capacity(places.len() * 3);
    let mut prev = 0u64;
    for &(offset, sub) in places {
        let delta = offset.wrapping_sub(prev) as i64;
        put_varint(&mut places_bytes, ((delta << 1) ^ (delta >> 63)) as u64);
        put_varint(&mut places_bytes, u64::from(sub));
        prev = offset;
    }
    put_bytes(&mut out, &places_bytes);
    put_u32s(&mut out, stale);
    put_u32(&mut out, segments.len() as u32);
    for s in segments {
        put_u32(&mut out, s.base - first);
        put_u32(&mut out, s.len);
        put_u32(&mut out, s.letters as u32);
        put_bytes(&mut out, &s.text);
        put_u32_bytes(&mut out, &s.ends);
        put_u32_bytes(&mut out, &s.post);
        put_bytes(&mut out, &s.pool);
        put_u32(&mut out, s.dense.len() as u32);
        for &(word, bitmap) in &s.dense {
            put_u32(&mut out, word);
            put_u32(&mut out, bitmap);
        }
        put_u32(&mut out, s.bitmaps.len() as u32);
        for bits in &s.bitmaps {
            put_u32(&mut out, (bits.len() / 8) as u32);
            out.extend_from_slice(bits);
        }
    }
    out
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// The places [`encode_body`] wrote, one after the other; stops at one cut short.
struct Places<'a> {
    bytes: &'a [u8],
    at: usize,
    prev: u64,
}

impl<'a> Places<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Places {
            bytes,
            at: 0,
            prev: 0,
        }
    }

    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.bytes.get(self.at)?;
            self.at += 1;
            v |= u64::from(b & 0x7F) << shift;
            if b < 0x80 {
                return Some(v);
            }
        }
        None
    }

    /// Whether every byte was read (a whole list of places has no bytes left over).
    fn at_end(&self) -> bool {
        self.at == self.bytes.len()
    }
}

impl Iterator for Places<'_> {
    type Item = (u64, u32);
    fn next(&mut self) -> Option<(u64, u32)> {
        let zigzag = self.varint()?;
        let delta = ((zigzag >> 1) as i64) ^ -((zigzag & 1) as i64);
        self.prev = self.prev.wrapping_add(delta as u64);
        Some((self.prev, u32::try_from(self.varint()?).ok()?))
    }
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_u32s(out: &mut Vec<u8>, values: &[u32]) {
    put_u32(out, values.len() as u32);
    values.iter().for_each(|v| put_u32(out, *v));
}

/// A list of `u32`s kept as little-endian bytes, written as [`put_u32s`] writes it.
fn put_u32_bytes(out: &mut Vec<u8>, values: &[u8]) {
    put_u32(out, (values.len() / 4) as u32);
    out.extend_from_slice(values);
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_u32(out, bytes.len() as u32);
    out.extend_from_slice(bytes);
}

/// The probed file's cache, when it checks out whole.
fn read(probe: &FileProbe) -> Option<Cached> {
    read_stamped(probe).map(|(_, cached)| cached)
}

/// [`read`], with the stamp the cache was checked against.
fn read_stamped(probe: &FileProbe) -> Option<(Stamp, Cached)> {
    let backing = open_cache(probe.cache_path())?;
    let bytes = (*backing).as_ref();
    let (stamp, mut h, body) = split_head(bytes)?;
    // A cache of another state of the file is told before its body is checked.
    probe.fit(&stamp)?;
    if h.u64()? != body.len() as u64 || h.u32()? != crc32fast::hash(body) || !h.rest().is_empty() {
        return None;
    }
    let body_start = bytes.len() - body.len();
    Some((stamp, decode_body(&backing, body_start)?))
}

/// The cache file at `path` (see [`map_or_read`]), noted as used.
fn open_cache(path: &Path) -> Option<Backing> {
    let file = std::fs::File::open(path).ok()?;
    crate::index::cache::prune::touch(&file);
    map_or_read(&file)
}

/// Word caches read and checked ahead of the history they are for (while it loads), by
/// cache file; each is checked again against its file when taken.
#[derive(Default)]
pub struct ReadAhead(FxHashMap<PathBuf, (Stamp, Cached)>);

impl ReadAhead {
    /// Caches read and checked.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Reads the word caches of the run files under `paths` (read as `format`, else as each
/// cache says), for [`crate::search::TextIndex::from_cache`]: on a thread of its own
/// while the history loads, a reopened history's word index is ready about when it is.
pub fn read_ahead(
    dir: &Path,
    min_bytes: u64,
    paths: &[PathBuf],
    format: Option<crate::model::Format>,
) -> ReadAhead {
    let Ok(found) = crate::source::discover(paths) else {
        return ReadAhead::default();
    };
    let read = |path: &Path| -> Option<(PathBuf, (Stamp, Cached))> {
        let probe = probe_as_cached(dir, min_bytes, path, format)?;
        let read = read_stamped(&probe)?;
        Some((probe.cache_path().to_path_buf(), read))
    };
    ReadAhead(found.files.iter().filter_map(|f| read(&f.path)).collect())
}

/// The probe of the file at `path` read as `format`, else as its word cache's header
/// says (`None` without a cache whose header checks out).
fn probe_as_cached(
    dir: &Path,
    min_bytes: u64,
    path: &Path,
    format: Option<crate::model::Format>,
) -> Option<FileProbe> {
    let guess = format.unwrap_or(crate::model::Format::Native);
    let probe = FileProbe::new(dir, EXTENSION, path, guess, min_bytes)?;
    let mut head = vec![0; 4096];
    let mut file = std::fs::File::open(probe.cache_path()).ok()?;
    let n = std::io::Read::read(&mut file, &mut head).ok()?;
    let (stamp, _, _) = split_head(&head[..n])?;
    match format {
        None if stamp.format() != guess => {
            FileProbe::new(dir, EXTENSION, path, stamp.format(), min_bytes)
        }
        _ => Some(probe),
    }
    .filter(|probe| probe.fit(&stamp).is_some())
}

/// A cache file's stamp, the rest of its (checked) header, and what follows the header.
fn split_head(bytes: &[u8]) -> Option<(Stamp, Reader<'_>, &[u8])> {
    let rest = bytes.strip_prefix(MAGIC.as_slice())?;
    let mut r = Reader::new(rest);
    let header_len = r.u32()? as usize;
    let header = r.take(header_len)?;
    if crc32fast::hash(header) != r.u32()? {
        return None;
    }
    let mut h = Reader::new(header);
    if h.u32()? != VERSION {
        return None;
    }
    let stamp_len = h.u32()? as usize;
    let stamp = Stamp::decode(h.take(stamp_len)?)?;
    Some((stamp, h, r.rest()))
}

/// Whether the word caches in `dir` will likely answer a search of the run files under
/// `paths` (read as `format`, else as each cache says): every file has a cache that still
/// describes it, whole or as the head of the grown file. Only the caches' headers are
/// read; a one-shot search then skips scanning the records as they load. A guess: the
/// caches are checked in full when the index is taken from them, and what they lack is
/// indexed then.
pub fn likely_answer(
    dir: &Path,
    min_bytes: u64,
    paths: &[PathBuf],
    format: Option<crate::model::Format>,
) -> bool {
    let Ok(found) = crate::source::discover(paths) else {
        return false;
    };
    let fits = |path: &Path| probe_as_cached(dir, min_bytes, path, format).is_some();
    !found.files.is_empty() && found.files.iter().all(|f| fits(&f.path))
}

/// The body of the cache in `backing` that starts at `start`, checked so that no lookup in
/// it can go out of bounds. Its segments' parts stay in `backing`.
fn decode_body(backing: &Backing, start: usize) -> Option<Cached> {
    let mut r = Reader::at((**backing).as_ref(), start);
    let records = r.u32()?;
    let places = r.bytes()?;
    let places = Bytes::shared(backing, places)?;
    let stale = r.u32s()?;
    if stale.iter().any(|&p| p >= records) {
        return None;
    }
    let count = r.count(12)?;
    let mut segments = Vec::with_capacity(count);
    let mut at = 0u32;
    for _ in 0..count {
        let segment = decode_segment(&mut r, backing)?;
        if segment.base != at {
            return None;
        }
        at = at.checked_add(segment.len)?;
        segments.push(segment);
    }
    (at == records && r.rest().is_empty()).then_some(Cached {
        records,
        places,
        stale,
        segments,
    })
}

/// A segment whose vocabulary is checked whole (sorted words and list bounds, UTF-8);
/// its slot lists are bounded as they are read ([`super::segment::ListIter`]).
fn decode_segment(r: &mut Reader<'_>, backing: &Backing) -> Option<Segment> {
    let base = r.u32()?;
    let len = r.u32()?;
    let letters = r.u32()? as usize;
    let text = Bytes::shared(backing, r.bytes()?)?;
    let ends = Bytes::shared(backing, r.u32_list()?)?;
    let post = Bytes::shared(backing, r.u32_list()?)?;
    let pool = Bytes::shared(backing, r.bytes()?)?;
    let words = ends.u32_count();
    let sorted = |v: &Bytes| (1..v.u32_count()).all(|i| v.u32_at(i - 1) <= v.u32_at(i));
    if letters > words
        || (words > 0 && ends.u32_at(words - 1) as usize > text.len())
        || !sorted(&ends)
        || post.u32_count() != words + 1
        || !sorted(&post)
        || post.u32_at(words) as usize != pool.len()
        || simdutf8::basic::from_utf8(&text).is_err()
    {
        return None;
    }
    let dense_count = r.count(8)?;
    let mut dense = Vec::with_capacity(dense_count);
    for _ in 0..dense_count {
        dense.push((r.u32()?, r.u32()?));
    }
    let bitmap_count = r.count(4)?;
    let bitmap_words = len.div_ceil(64) as usize;
    let mut bitmaps = Vec::with_capacity(bitmap_count);
    for _ in 0..bitmap_count {
        if r.u32()? as usize != bitmap_words {
            return None;
        }
        let bits = Bytes::shared(backing, r.range(bitmap_words.checked_mul(8)?)?)?;
        // No slot past the segment's end.
        let last = bits.len().checked_sub(8).map_or(0, |at| {
            u64::from_le_bytes(bits[at..].try_into().unwrap_or_default())
        });
        if len % 64 != 0 && last >> (len % 64) != 0 {
            return None;
        }
        bitmaps.push(bits);
    }
    let dense_ok = dense.windows(2).all(|w| w[0].0 < w[1].0)
        && dense
            .iter()
            .all(|&(w, b)| (w as usize) < words && (b as usize) < bitmaps.len());
    dense_ok.then_some(Segment {
        base,
        len,
        text,
        ends,
        post,
        pool,
        dense,
        bitmaps,
        letters,
    })
}

/// Reads little-endian values from `bytes` at `at` on; `None` past the end.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader::at(bytes, 0)
    }
    fn at(bytes: &'a [u8], at: usize) -> Self {
        Reader { bytes, at }
    }
    /// The bytes not read yet.
    fn rest(&self) -> &'a [u8] {
        self.bytes.get(self.at..).unwrap_or_default()
    }
    /// Where the next `n` bytes are, taken.
    fn range(&mut self, n: usize) -> Option<std::ops::Range<usize>> {
        if n > self.rest().len() {
            return None;
        }
        self.at += n;
        Some(self.at - n..self.at)
    }
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let range = self.range(n)?;
        self.bytes.get(range)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    /// A count of items of at least `least` bytes, refused when the rest cannot hold
    /// them (a damaged count asks for no huge allocation).
    fn count(&mut self, least: usize) -> Option<usize> {
        let n = self.u32()? as usize;
        (n.checked_mul(least)? <= self.rest().len()).then_some(n)
    }
    /// Where the bytes of a length and bytes ([`put_bytes`]) are.
    fn bytes(&mut self) -> Option<std::ops::Range<usize>> {
        let n = self.u32()? as usize;
        self.range(n)
    }
    /// Where the values of a list of `u32`s ([`put_u32s`]) are.
    fn u32_list(&mut self) -> Option<std::ops::Range<usize>> {
        let n = self.count(4)?;
        self.range(n * 4)
    }
    fn u32s(&mut self) -> Option<Vec<u32>> {
        let raw = self.u32_list()?;
        Some(
            self.bytes[raw]
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::segment::{segment_candidates, Builder};
    use super::*;
    use crate::search::matcher::Matcher;

    /// A body of one segment of 100 slots: "alpha" in every third, "beta" in a few.
    fn body() -> Vec<u8> {
        let mut b = Builder::new(0);
        for offset in 0..100 {
            if offset % 3 == 0 {
                b.add(offset, "alpha");
            }
            if offset % 40 == 1 {
                b.add(offset, "beta");
            }
        }
        b.len = 100;
        let places: Vec<(u64, u32)> = (0..100).map(|i| (i * 10, 0)).collect();
        encode_body(&places, &[], &[&b.seal()], 0)
    }

    fn decode(bytes: Vec<u8>) -> Option<Cached> {
        decode_body(&(std::sync::Arc::new(bytes) as Backing), 0)
    }

    fn candidates(segment: &Segment, word: &str) -> Vec<u32> {
        let m = Matcher::default();
        let mut found = Vec::new();
        let mut budget = usize::MAX;
        segment_candidates(
            segment,
            &[m.spec(word, false)],
            &m,
            &mut budget,
            &mut |slot, _| found.push(slot),
        );
        found
    }

    #[test]
    fn a_decoded_segment_is_used_in_place_and_finds_what_was_encoded() {
        let cached = decode(body()).expect("a whole body decodes");
        assert_eq!(cached.records, 100);
        assert_eq!(Places::new(&cached.places).nth(7), Some((70, 0)));
        let segment = &cached.segments[0];
        assert_eq!(
            segment.heap_bytes(),
            segment.dense.capacity() * 8
                + segment.bitmaps.capacity() * std::mem::size_of::<Bytes>(),
            "parts not copied"
        );
        assert_eq!((segment.word(0), segment.word(1)), ("alpha", "beta"));
        assert_eq!(candidates(segment, "beta"), [1, 41, 81]);
        assert_eq!(candidates(segment, "alpha").len(), 34);
    }

    #[test]
    fn damaged_slot_lists_give_only_slots_inside_their_segment() {
        let clean = decode(body()).expect("decodes");
        let Bytes::Shared(_, pool) = &clean.segments[0].pool else {
            panic!("a decoded pool is shared");
        };
        // Varints cut short, huge deltas, offsets past the end: whatever the bytes, a
        // lookup stays inside the segment (the checksum is what tells damage; this is
        // what a list that got past it can do).
        for fill in [0xFF, 0x7F, 0x00, 0x80] {
            let mut bytes = body();
            bytes[pool.clone()].fill(fill);
            let cached = decode(bytes).expect("the vocabulary still checks out");
            for word in ["alpha", "beta"] {
                let slots = candidates(&cached.segments[0], word);
                assert!(
                    slots.iter().all(|&s| s < 100),
                    "{fill:#x} {word}: {slots:?}"
                );
            }
        }
    }

    #[test]
    fn a_vocabulary_out_of_order_or_bounds_is_refused() {
        let clean = decode(body()).expect("decodes");
        let Bytes::Shared(_, ends) = &clean.segments[0].ends else {
            panic!("shared");
        };
        let mut swapped = body();
        swapped[ends.clone()].reverse();
        assert!(decode(swapped).is_none(), "ends out of order");
        let mut cut = body();
        cut.truncate(cut.len() - 1);
        assert!(decode(cut).is_none(), "truncated");
    }
}
