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

use super::segment::{checked_list, Segment};
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
    /// Where each of them is in the file.
    places: Vec<(u64, u32)>,
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
        for mut segment in cached.segments {
            segment.base += span.start;
            loaded.segments.push(segment);
        }
        loaded
            .stale
            .extend(cached.stale.iter().map(|&p| span.start + p));
        let moved = (span.start..span.start + records).filter(|&slot| {
            history.slot_offset_and_sub(slot) != cached.places[(slot - span.start) as usize]
        });
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
    let size: usize = segments.iter().map(|s| s.heap_bytes() + 64).sum();
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
        put_u32s(&mut out, &s.ends);
        put_u32s(&mut out, &s.post);
        put_bytes(&mut out, &s.pool);
        put_u32(&mut out, s.dense.len() as u32);
        for &(word, bitmap) in &s.dense {
            put_u32(&mut out, word);
            put_u32(&mut out, bitmap);
        }
        put_u32(&mut out, s.bitmaps.len() as u32);
        for bits in &s.bitmaps {
            put_u32(&mut out, bits.len() as u32);
            bits.iter()
                .for_each(|w| out.extend_from_slice(&w.to_le_bytes()));
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

/// The places [`encode_body`] wrote, `count` of them, when they are whole.
fn decode_places(bytes: &[u8], count: usize) -> Option<Vec<(u64, u32)>> {
    let mut at = 0;
    let mut varint = || -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *bytes.get(at)?;
            at += 1;
            v |= u64::from(b & 0x7F) << shift;
            if b < 0x80 {
                return Some(v);
            }
        }
        None
    };
    let mut places = Vec::with_capacity(count.min(bytes.len()));
    let mut prev = 0u64;
    for _ in 0..count {
        let zigzag = varint()?;
        let delta = ((zigzag >> 1) as i64) ^ -((zigzag & 1) as i64);
        prev = prev.wrapping_add(delta as u64);
        places.push((prev, u32::try_from(varint()?).ok()?));
    }
    (at == bytes.len()).then_some(places)
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_u32s(out: &mut Vec<u8>, values: &[u32]) {
    put_u32(out, values.len() as u32);
    values.iter().for_each(|v| put_u32(out, *v));
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
    let bytes = std::fs::read(probe.cache_path()).ok()?;
    let (stamp, mut h, body) = split_head(&bytes)?;
    // A cache of another state of the file is told before its body is checked.
    probe.fit(&stamp)?;
    if h.u64()? != body.len() as u64 || h.u32()? != crc32fast::hash(body) || !h.0.is_empty() {
        return None;
    }
    Some((stamp, decode_body(body)?))
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
    let mut r = Reader(rest);
    let header_len = r.u32()? as usize;
    let header = r.take(header_len)?;
    if crc32fast::hash(header) != r.u32()? {
        return None;
    }
    let mut h = Reader(header);
    if h.u32()? != VERSION {
        return None;
    }
    let stamp_len = h.u32()? as usize;
    let stamp = Stamp::decode(h.take(stamp_len)?)?;
    Some((stamp, h, r.0))
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

fn decode_body(body: &[u8]) -> Option<Cached> {
    let mut r = Reader(body);
    let records = r.u32()?;
    let places = decode_places(r.bytes()?, records as usize)?;
    let stale = r.u32s()?;
    if stale.iter().any(|&p| p >= records) {
        return None;
    }
    let count = r.count(12)?;
    let mut segments = Vec::with_capacity(count);
    let mut at = 0u32;
    for _ in 0..count {
        let segment = decode_segment(&mut r)?;
        if segment.base != at {
            return None;
        }
        at = at.checked_add(segment.len)?;
        segments.push(segment);
    }
    (at == records && r.0.is_empty()).then_some(Cached {
        records,
        places,
        stale,
        segments,
    })
}

/// A segment, checked so that no lookup in it can go out of bounds.
fn decode_segment(r: &mut Reader<'_>) -> Option<Segment> {
    let base = r.u32()?;
    let len = r.u32()?;
    let letters = r.u32()? as usize;
    let text = r.bytes()?.to_vec();
    let ends = r.u32s()?;
    let post = r.u32s()?;
    let pool = r.bytes()?.to_vec();
    let words = ends.len();
    let sorted = |v: &[u32]| v.windows(2).all(|w| w[0] <= w[1]);
    if letters > words
        || ends.last().map_or(0, |&e| e as usize) > text.len()
        || !sorted(&ends)
        || post.len() != words + 1
        || !sorted(&post)
        || post.last().map(|&p| p as usize) != Some(pool.len())
        || std::str::from_utf8(&text).is_err()
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
        let raw = r.take(bitmap_words.checked_mul(8)?)?;
        let bits: Box<[u64]> = raw
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
            .collect();
        // No slot past the segment's end.
        if len % 64 != 0 && bits.last().is_some_and(|&w| w >> (len % 64) != 0) {
            return None;
        }
        bitmaps.push(bits);
    }
    let dense_ok = dense.windows(2).all(|w| w[0].0 < w[1].0)
        && dense
            .iter()
            .all(|&(w, b)| (w as usize) < words && (b as usize) < bitmaps.len());
    let lists_ok = post
        .windows(2)
        .all(|w| checked_list(&pool[w[0] as usize..w[1] as usize], len));
    (dense_ok && lists_ok).then_some(Segment {
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

/// Reads little-endian values; `None` past the end.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (taken, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(taken)
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
        (n.checked_mul(least)? <= self.0.len()).then_some(n)
    }
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    fn u32s(&mut self) -> Option<Vec<u32>> {
        let n = self.count(4)?;
        let raw = self.take(n * 4)?;
        Some(
            raw.chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        )
    }
}
