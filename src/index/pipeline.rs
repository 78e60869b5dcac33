//! Reads files in the background: a reader thread cuts each file into newline-aligned
//! chunks (reusing buffers), parser threads turn chunks into [`Batch`]es, and a
//! coordinator hands them over in file order. The consumer folds batches into a
//! [`History`](super::History) with `apply`, so a large history shows its first runs
//! while the rest is still being read.

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};

use memchr::memrchr;

use super::cache::{self, codec, Tail, TailBytes};
use super::line_scan::{scan_chunk, LineScan, ScannedLines};
use super::parse::{parse_chunk, Chunk, Parsed, Stop};
use super::MAX_FILE_OFFSET;
use crate::ingest::{framing, Framing};
use crate::model::Format;
use crate::source::{self, Source};
use crate::Error;

/// Parsed steps of one chunk, ready to be applied to the history in order; and what the
/// load's [`LineScan`] found in its lines, if one ran.
pub struct Batch(pub(super) Box<Parsed>, pub(super) Option<Box<ScannedLines>>);

impl Batch {
    /// What the load's [`LineScan`] found in this batch's bytes; `None` when they were not
    /// scanned (no scan asked, another format than native, or the batch was read back from
    /// the index cache).
    pub fn take_scanned(&mut self) -> Option<ScannedLines> {
        self.1.take().map(|b| *b)
    }
}

/// What the background load reports.
pub enum LoadEvent {
    Batch(Batch),
    /// Every file was read (or reading failed).
    Done(Result<(), Error>),
}

/// What the reader hands the parser threads.
enum Work {
    /// Bytes to parse; `true` when the batch is also wanted in the file's cache.
    Chunk(Chunk, bool),
    /// A batch read back from the cache, to decode.
    Cached(Box<Cached>),
    /// A file read to its end (at this place in the order).
    FileEnd(u64, Box<FileEnd>),
}

/// A batch of the index cache, decoded on a parser thread.
struct Cached {
    batch: cache::CachedBatch,
    seq: u64,
    file: u32,
    src: Source,
    /// The cache file it came from.
    cache: Option<PathBuf>,
}

impl Cached {
    /// The batch decoded; when it cannot be (the cache checked whole, but a batch does
    /// not hold together: not written by this build), the source bytes it covers are
    /// parsed instead and the cache is removed, to be written again by the next load.
    fn decode(self) -> Parsed {
        let decoded =
            (self.batch.bytes.as_deref().ok()).and_then(|bytes| codec::decode(bytes, self.file));
        if let Some(mut parsed) = decoded {
            parsed.seq = self.seq;
            return parsed;
        }
        if let Some(cache) = &self.cache {
            let _ = std::fs::remove_file(cache);
        }
        let covers = self.batch.covers;
        let len = u32::try_from(covers.end.saturating_sub(covers.start));
        let read = len
            .map_err(|_| "a cached batch too long to read again".to_string())
            .and_then(|len| {
                source::read_ranges(&self.src.path, &[(covers.start, Some(len))])
                    .map_err(|e| e.to_string())
            });
        let (buf, stopped) = match read {
            Ok(mut bytes) => (bytes.pop().unwrap_or_default(), None),
            Err(reason) => (Vec::new(), Some(Stop::Damaged(reason))),
        };
        let chunk = Chunk {
            seq: self.seq,
            file: self.file,
            format: self.src.format,
            stem: Arc::clone(&self.src.stem),
            base: covers.start,
            len: buf.len(),
            buf,
            stopped,
        };
        parse_chunk(chunk).0
    }
}

/// What the parser threads hand over, in the reader's order.
enum Item {
    /// A batch, with its byte form when it is to be cached.
    Batch(Batch, Option<Vec<u8>>),
    FileEnd(u64, Box<FileEnd>),
}

impl Item {
    fn seq(&self) -> u64 {
        match self {
            Item::Batch(b, _) => b.0.seq,
            Item::FileEnd(seq, _) => *seq,
        }
    }
}

/// A file read to its end, and what its cache needs.
struct FileEnd {
    probe: cache::Probe,
    /// The cached batches the file had (when it grew), and how many.
    body: Vec<u8>,
    batch_count: u32,
    /// Where reading stopped, and the bytes just before.
    consumed: u64,
    tail: Tail,
    /// Read without damage to the end: what was read can be cached.
    cacheable: bool,
}

/// Batches handed over that the consumer has not taken yet, at most.
const BATCHES_AHEAD: usize = 16;

/// A load running in the background.
pub struct Loader {
    events: Receiver<LoadEvent>,
    bytes_read: Arc<AtomicU64>,
    bytes_total: u64,
}

impl Loader {
    /// Starts reading `paths` (all files, in this order) with `threads` parsers.
    pub(super) fn start(
        sources: Vec<Source>,
        bytes_total: u64,
        threads: usize,
        chunk_size: usize,
        behind_ui: bool,
        cache: Option<(PathBuf, u64)>,
        line_scan: Option<Arc<dyn LineScan>>,
    ) -> Loader {
        // Bounded, so that batches read back from a cache faster than they are applied
        // wait as bytes in the cache, not all decoded at once.
        let (events_tx, events) = sync_channel(BATCHES_AHEAD);
        let bytes_read = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&bytes_read);
        let spawned = std::thread::Builder::new()
            .name("retrace-load".into())
            .spawn(move || {
                if behind_ui {
                    // The reader and parsers it starts inherit the lower priority.
                    crate::work::give_way_to_the_ui();
                }
                let result = run(
                    &sources,
                    threads,
                    chunk_size,
                    cache.as_ref().map(|(dir, min)| (dir.as_path(), *min)),
                    line_scan.as_deref(),
                    &counter,
                    &events_tx,
                );
                let _ = events_tx.send(LoadEvent::Done(result));
            });
        let events = match spawned {
            Ok(_) => events,
            Err(e) => {
                let (tx, rx) = channel();
                let _ = tx.send(LoadEvent::Done(Err(spawn_error(e))));
                rx
            }
        };
        Loader {
            events,
            bytes_read,
            bytes_total,
        }
    }

    /// The events, for a blocking or polling consumer.
    pub fn events(&self) -> &Receiver<LoadEvent> {
        &self.events
    }

    /// Bytes of the files read so far, and in all (on disk, so compressed files count
    /// their compressed size when done).
    pub fn progress(&self) -> (u64, u64) {
        (self.bytes_read.load(Ordering::Relaxed), self.bytes_total)
    }
}

fn spawn_error(e: std::io::Error) -> Error {
    Error::Internal(format!("cannot start a thread: {e}"))
}

fn run(
    sources: &[Source],
    threads: usize,
    chunk_size: usize,
    cache: Option<(&std::path::Path, u64)>,
    line_scan: Option<&dyn LineScan>,
    bytes_read: &AtomicU64,
    events: &SyncSender<LoadEvent>,
) -> Result<(), Error> {
    let (chunk_tx, chunk_rx) = sync_channel::<Work>(threads);
    let chunk_rx = Arc::new(Mutex::new(chunk_rx));
    let (parsed_tx, parsed_rx) = channel::<Item>();
    let (recycle_tx, recycle_rx) = channel::<Vec<u8>>();
    let (store_tx, store_rx) = channel::<cache::Update>();

    std::thread::scope(|scope| {
        let reading = Reading {
            chunk_size,
            cache,
            line_scan,
            out: chunk_tx,
            recycle: recycle_rx,
            bytes_read,
        };
        let reader = std::thread::Builder::new()
            .name("retrace-read".into())
            .spawn_scoped(scope, move || read_files(sources, &reading))
            .map_err(spawn_error)?;
        if let Some((dir, _)) = cache {
            // Caches are written beside the load, so that no batch waits for a write.
            std::thread::Builder::new()
                .name("retrace-cache".into())
                .spawn_scoped(scope, move || {
                    let mut first = true;
                    for update in store_rx {
                        if std::mem::take(&mut first) {
                            cache::remove_stale_temps(dir);
                        }
                        // A cache that cannot be written only means parsing next time.
                        let _ = cache::store(dir, update);
                    }
                })
                .map_err(spawn_error)?;
        }
        for _ in 0..threads {
            let rx = Arc::clone(&chunk_rx);
            let tx = parsed_tx.clone();
            let recycle = recycle_tx.clone();
            std::thread::Builder::new()
                .name("retrace-parse".into())
                .spawn_scoped(scope, move || loop {
                    let next = rx.lock().map(|r| r.recv());
                    let Ok(Ok(work)) = next else { break };
                    let item = match work {
                        Work::Chunk(chunk, to_cache) => {
                            // Scanned before parsing, while the bytes are in the cache.
                            let scanned = scan_chunk(line_scan, &chunk);
                            let (parsed, buf) = parse_chunk(chunk);
                            let _ = recycle.send(buf);
                            let bytes = to_cache.then(|| {
                                let mut bytes = Vec::new();
                                codec::encode(&parsed, &mut bytes);
                                bytes
                            });
                            Item::Batch(Batch(Box::new(parsed), scanned), bytes)
                        }
                        Work::Cached(cached) => {
                            Item::Batch(Batch(Box::new(cached.decode()), None), None)
                        }
                        Work::FileEnd(seq, end) => Item::FileEnd(seq, end),
                    };
                    if tx.send(item).is_err() {
                        break;
                    }
                })
                .map_err(spawn_error)?;
        }
        drop(parsed_tx);
        // Parsers finish out of order; batches are handed over in file order.
        let mut pending: BTreeMap<u64, Item> = BTreeMap::new();
        let mut next_seq = 0;
        // The byte forms of the current file's batches parsed in this load.
        let mut encoded = Vec::new();
        for item in parsed_rx {
            pending.insert(item.seq(), item);
            while let Some(item) = pending.remove(&next_seq) {
                next_seq += 1;
                let batch = match item {
                    Item::Batch(batch, bytes) => {
                        encoded.extend(bytes);
                        batch
                    }
                    Item::FileEnd(_, end) => {
                        let new = std::mem::take(&mut encoded);
                        if end.cacheable && !new.is_empty() {
                            let _ = store_tx.send(cache::Update {
                                probe: end.probe,
                                body: end.body,
                                batch_count: end.batch_count,
                                new,
                                consumed: end.consumed,
                                tail: end.tail,
                            });
                        }
                        continue;
                    }
                };
                // A consumer that has gone away stops the load.
                if events.send(LoadEvent::Batch(batch)).is_err() {
                    return Ok(());
                }
            }
        }
        drop(store_tx);
        reader
            .join()
            .unwrap_or_else(|_| Err(Error::Internal("reader thread panicked".into())))
    })
}

/// Cuts every file into chunks that end on a line boundary. A last line without its
/// newline is not yet a line and is left out (compressed files too, so that a file and
/// its compressed copy load the same). A file that cannot be opened, or whose reading
/// or decoding fails part way, is a problem: the lines before the failure are kept and
/// the load goes on with the next file.
/// Longest line kept (the buffer holding it grows to twice this): longer ones are
/// skipped, each a problem.
const MAX_LINE: usize = 128 << 20;

fn too_long(len: u64, stopped: Option<Stop>) -> Stop {
    let reason = format!("line of {len} bytes skipped: longer than {MAX_LINE} bytes");
    match stopped {
        Some(Stop::Damaged(cause) | Stop::Unopened(cause) | Stop::TooLong(cause)) => {
            Stop::Damaged(format!("{reason}; {cause}"))
        }
        None => Stop::TooLong(reason),
    }
}

/// What the reader thread works with.
struct Reading<'a> {
    chunk_size: usize,
    /// The cache folder, and the smallest file cached.
    cache: Option<(&'a std::path::Path, u64)>,
    /// Told of the bytes read back from the cache (not scanned).
    line_scan: Option<&'a dyn LineScan>,
    out: SyncSender<Work>,
    recycle: Receiver<Vec<u8>>,
    bytes_read: &'a AtomicU64,
}

/// Where the reading of one file stands, for its cache.
struct FileState {
    consumed: u64,
    tail: TailBytes,
    cacheable: bool,
}

impl FileState {
    /// Notes a chunk about to be parsed.
    fn note(&mut self, chunk: &Chunk) {
        match &chunk.stopped {
            None => {}
            // A line skipped for its length is no damage, when its end was found.
            Some(Stop::TooLong(_)) if chunk.len > 0 => {}
            Some(_) => self.cacheable = false,
        }
        if chunk.len > 0 {
            self.consumed = chunk.base + chunk.len as u64;
            self.tail.push(&chunk.buf[..chunk.len]);
        }
    }
}

/// Opens a file to read from `start` (0, or where its cache stopped: a plain file).
fn open_at(path: &std::path::Path, start: u64) -> Result<Box<dyn Read + Send>, Error> {
    if start == 0 {
        return source::open(path);
    }
    use std::io::{Seek, SeekFrom};
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    file.seek(SeekFrom::Start(start))
        .map_err(|e| Error::io(path, e))?;
    Ok(Box::new(file))
}

fn read_files(sources: &[Source], r: &Reading) -> Result<(), Error> {
    let (chunk_size, recycle, bytes_read) = (r.chunk_size, &r.recycle, r.bytes_read);
    let mut seq = 0;
    let hand_over = |work: Work| {
        r.out
            .send(work)
            .map_err(|_| Error::Internal("parser threads stopped".into()))
    };
    for (file, src) in sources.iter().enumerate() {
        let path = &src.path;
        let compressed = source::is_compressed(path);
        let probe = r.cache.and_then(|(dir, min)| cache::probe(dir, src, min));
        let found = probe.as_ref().and_then(cache::find);
        let mut state = FileState {
            consumed: 0,
            tail: TailBytes::default(),
            cacheable: true,
        };
        let (mut body, mut batch_count) = (Vec::new(), 0);
        if let Some(mut found) = found {
            if let Some(scan) = r.line_scan.filter(|_| src.format == Format::Native) {
                scan.not_scanned(file as u32, path, 0..found.consumed);
            }
            while let Some(batch) = found.next_batch() {
                let cached = Cached {
                    batch,
                    seq,
                    file: file as u32,
                    src: src.clone(),
                    cache: probe.as_ref().map(|p| p.cache_path().to_owned()),
                };
                seq += 1;
                hand_over(Work::Cached(Box::new(cached)))?;
            }
            if !found.grown {
                let size = probe.as_ref().map_or(0, |p| p.size());
                bytes_read.fetch_add(size, Ordering::Relaxed);
                continue;
            }
            bytes_read.fetch_add(found.consumed, Ordering::Relaxed);
            match found.body() {
                Ok(cached) => (body, batch_count) = (cached, found.batch_count),
                // Without the cached bytes the cache cannot be extended.
                Err(_) => state.cacheable = false,
            }
            (state.consumed, state.tail) = (found.consumed, found.tail);
        }
        let to_cache = probe.is_some();
        let start = state.consumed;
        let mut send = |chunk: Chunk| {
            state.note(&chunk);
            hand_over(Work::Chunk(chunk, to_cache))
        };
        let chunk_of = |seq: u64, base: u64, buf: Vec<u8>, len: usize, stopped| Chunk {
            seq,
            file: file as u32,
            format: src.format,
            stem: Arc::clone(&src.stem),
            base,
            buf,
            len,
            stopped,
        };
        let mut reader = match open_at(path, start) {
            Ok(reader) => reader,
            Err(e) => {
                let reason = match e {
                    Error::Io { cause, .. } => format!("cannot open: {cause}"),
                    other => other.to_string(),
                };
                send(chunk_of(
                    seq,
                    0,
                    Vec::new(),
                    0,
                    Some(Stop::Unopened(reason)),
                ))?;
                seq += 1;
                continue;
            }
        };
        let whole = framing(src.format) == Framing::Document;
        let mut carry: Vec<u8> = Vec::new();
        let mut base = start;
        let mut eof = false;
        // Inside a line too long to keep: where it started.
        let mut skipping: Option<u64> = None;
        while !eof {
            let want = chunk_size.max(carry.len() * 2);
            let mut buf = recycle.try_recv().unwrap_or_default();
            if buf.len() < want {
                // Zero-filled once per buffer, then reused for the whole load.
                buf.resize(want, 0);
            }
            buf[..carry.len()].copy_from_slice(&carry);
            let mut filled = carry.len();
            carry.clear();
            let mut stopped = None;
            while filled < buf.len() {
                match reader.read(&mut buf[filled..]) {
                    Ok(0) => {
                        eof = true;
                        break;
                    }
                    Ok(n) => {
                        filled += n;
                        if !compressed {
                            bytes_read.fetch_add(n as u64, Ordering::Relaxed);
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) => {
                        let at = base + filled as u64;
                        stopped = Some(Stop::Damaged(source::stopped_reason(at, compressed, &e)));
                        eof = true;
                        break;
                    }
                }
            }
            if base + filled as u64 > MAX_FILE_OFFSET && stopped.is_none() {
                // Steps past this could not say where their bytes are.
                filled = (MAX_FILE_OFFSET - base) as usize;
                eof = true;
                stopped = Some(Stop::Damaged(format!(
                    "content past byte {MAX_FILE_OFFSET} is not read (the most one file can hold)"
                )));
            }
            if let Some(from) = skipping {
                // Drop the long line's bytes up to its newline; a lone newline stands
                // for it, so later lines keep their numbers.
                let Some(p) = memchr::memchr(b'\n', &buf[..filled]) else {
                    base += filled as u64;
                    if eof {
                        let reason = too_long(base - from, stopped);
                        send(chunk_of(seq, base, Vec::new(), 0, Some(reason)))?;
                        seq += 1;
                    }
                    continue;
                };
                let end = base + p as u64;
                let reason = too_long(end - from, None);
                send(chunk_of(seq, end, vec![b'\n'], 1, Some(reason)))?;
                seq += 1;
                carry.extend_from_slice(&buf[p + 1..filled]);
                base = end + 1;
                skipping = None;
                if eof {
                    // The file ends (or is damaged) right after the long line.
                    let keep = memrchr(b'\n', &carry).map_or(0, |p| p + 1);
                    let rest = std::mem::take(&mut carry);
                    if keep > 0 || stopped.is_some() {
                        send(chunk_of(seq, base, rest, keep, stopped))?;
                        seq += 1;
                    }
                }
                continue;
            }
            let last_newline = memrchr(b'\n', &buf[..filled]);
            let len = match last_newline {
                // A damaged document is not read at all: its end is missing.
                _ if whole && stopped.is_some() => 0,
                // A document is one record: read it whole, newline or not.
                _ if whole && eof => filled,
                _ if whole => {
                    carry.extend_from_slice(&buf[..filled]);
                    continue;
                }
                Some(p) => {
                    carry.extend_from_slice(&buf[p + 1..filled]);
                    p + 1
                }
                None if eof => 0,
                None if filled >= MAX_LINE && !whole => {
                    // Keeping it whole could exhaust memory: skip to its end.
                    skipping = Some(base);
                    base += filled as u64;
                    carry = Vec::new();
                    continue;
                }
                None => {
                    // One line longer than the buffer: keep all of it, read on.
                    carry.extend_from_slice(&buf[..filled]);
                    continue;
                }
            };
            if len > 0 || stopped.is_some() {
                send(chunk_of(seq, base, buf, len, stopped))?;
                seq += 1;
            }
            base += len as u64;
        }
        if compressed {
            let size = std::fs::metadata(path).map_or(0, |m| m.len());
            bytes_read.fetch_add(size, Ordering::Relaxed);
        }
        if let Some(probe) = probe {
            let end = FileEnd {
                probe,
                body,
                batch_count,
                consumed: state.consumed,
                tail: state.tail.tail(),
                cacheable: state.cacheable,
            };
            hand_over(Work::FileEnd(seq, Box::new(end)))?;
            seq += 1;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Format;

    fn source(path: PathBuf) -> Source {
        Source {
            stem: crate::source::stem(&path).into(),
            path,
            format: Format::Native,
            size: 0,
        }
    }

    #[test]
    fn a_file_gone_or_unreadable_when_read_is_a_problem_and_the_next_file_loads() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.jsonl");
        std::fs::write(&good, "{\"run_id\":\"g\",\"kind\":\"x\",\"step\":0}\n").unwrap();
        // Gone between the listing and the read; a read that fails (a folder opens, but
        // reading it fails).
        let gone = dir.path().join("gone.jsonl");
        let unreadable = dir.path().join("folder.jsonl");
        std::fs::create_dir(&unreadable).unwrap();
        let loader = Loader::start(
            vec![source(gone), source(unreadable), source(good)],
            0,
            1,
            64,
            false,
            None,
            None,
        );
        let mut problems = Vec::new();
        let mut steps = Vec::new();
        for event in loader.events() {
            match event {
                LoadEvent::Batch(Batch(parsed, _)) => {
                    problems.extend(parsed.problems.into_iter().map(|p| (parsed.file, p)));
                    steps.extend(parsed.steps.iter().map(|_| parsed.file));
                }
                LoadEvent::Done(result) => {
                    result.unwrap();
                    break;
                }
            }
        }
        assert_eq!(steps, [2], "the good file after them loads");
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!(problems[0].0, 0);
        assert_eq!(problems[0].1 .0, 0, "about the whole file");
        assert!(
            problems[0].1 .1.starts_with("cannot open: "),
            "{problems:?}"
        );
        assert_eq!(problems[1].0, 1);
        assert_eq!(problems[1].1 .0, 1, "at the line where reading stopped");
        assert!(
            problems[1].1 .1.starts_with("reading stopped at byte 0: "),
            "{problems:?}"
        );
    }
}
