//! Follows the files of a history as agents write them: reads only appended bytes (a
//! partial last line waits for its newline), follows rotation (rename + new file) and
//! truncation (copytruncate, noticed by size or by a changed first-bytes fingerprint, as
//! log shippers do), picks up new files and lets deleted ones go. Every event is read
//! once: a rotated file is drained through its open handle before the new one is read,
//! and the tail of a truncated file is read from its copy when one is found.
//!
//! The watcher runs on its own thread and sends [`WatchEvent`]s; the owner of the
//! [`History`] applies them in order with [`History::apply_watch`].

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use memchr::memrchr;

use super::parse::{parse_chunk, Chunk};
use super::pipeline::Batch;
use super::History;
use crate::ingest::detect::{detect, SNIFF_BYTES};
use crate::ingest::{framing, Framing};
use crate::model::Format;
use crate::source::{self, Compression};

/// How many leading bytes identify a file's content.
const FINGERPRINT_BYTES: usize = 1024;

/// How to watch.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// Poll instead of using the platform's file events (network filesystems).
    pub poll: bool,
    /// Time between looks when polling; with file events, the longest wait between
    /// safety looks.
    pub interval: Duration,
    pub format: Option<Format>,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            poll: false,
            interval: Duration::from_millis(100),
            format: None,
        }
    }
}

/// What the watcher found, to apply to the history in order.
pub enum WatchEvent {
    /// A new file: it gets the next file index.
    NewFile { path: PathBuf, format: Format },
    /// A file's bytes now live under another name.
    Renamed { file: u32, path: PathBuf },
    /// New steps (and problems) of a file.
    Batch(Box<Batch>),
    /// The watcher stopped: it could not go on.
    Failed(String),
}

/// The running watcher; dropping the receiver stops it.
pub struct Watcher {
    pub events: Receiver<WatchEvent>,
    /// Whether it fell back to (or was asked for) polling.
    pub polling: bool,
}

impl History {
    /// Applies one watcher event. Events must be applied in the order they arrive.
    pub fn apply_watch(&mut self, event: WatchEvent) {
        match event {
            WatchEvent::NewFile { path, format } => {
                self.add_file(path, format);
            }
            WatchEvent::Renamed { file, path } => self.rename_file(file, path),
            WatchEvent::Batch(batch) => {
                let file = batch.0.file;
                self.apply(*batch);
                self.touch_file(file);
            }
            WatchEvent::Failed(_) => {}
        }
    }
}

/// Starts watching `roots` (the paths the history was loaded from), continuing each of
/// the history's files from where its load stopped.
pub fn watch(roots: Vec<PathBuf>, history: &History, options: WatchOptions) -> Watcher {
    let (tx, events) = channel();
    let (wake_tx, wake_rx) = channel::<()>();
    let mut polling = options.poll;
    let mut notifier = None;
    if !polling {
        match start_notify(&roots, wake_tx) {
            Ok(n) => notifier = Some(n),
            // No file events here (e.g. too many watches, unsupported filesystem): poll.
            Err(_) => polling = true,
        }
    }
    let tracked: Vec<Tracked> = history
        .files()
        .iter()
        .enumerate()
        .map(|(i, f)| Tracked::resume(i as u32, &f.path, f.format, f.consumed))
        .collect();
    let mut state = State {
        roots,
        format: options.format,
        next_file: tracked.len() as u32,
        tracked,
        out: tx,
    };
    let interval = options.interval;
    let spawned = std::thread::Builder::new()
        .name("retrace-watch".into())
        .spawn(move || {
            let _keep_alive = notifier;
            loop {
                if state.look().is_err() {
                    return;
                }
                // Sleep until a file event (or the interval, as a safety net when
                // polling or when an event was missed).
                match wake_rx.recv_timeout(if polling { interval } else { interval * 10 }) {
                    Ok(()) => while wake_rx.try_recv().is_ok() {},
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => std::thread::sleep(interval),
                }
            }
        });
    if let Err(e) = spawned {
        let (tx, rx) = channel();
        let _ = tx.send(WatchEvent::Failed(format!("cannot start the watcher: {e}")));
        return Watcher {
            events: rx,
            polling,
        };
    }
    Watcher { events, polling }
}

fn start_notify(roots: &[PathBuf], wake: Sender<()>) -> notify::Result<notify::RecommendedWatcher> {
    use notify::event::{AccessKind, AccessMode, EventKind};
    use notify::{RecursiveMode, Watcher as _};
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        // Opening files is an event too, and the watcher opens files and folders itself:
        // wake only for changes, or it would wake itself forever.
        let wakes = match res.map(|e| e.kind) {
            Ok(EventKind::Access(AccessKind::Close(AccessMode::Write))) => true,
            Ok(EventKind::Access(_)) => false,
            _ => true,
        };
        if wakes {
            let _ = wake.send(());
        }
    })?;
    for root in roots {
        if root.is_dir() {
            watcher.watch(root, RecursiveMode::Recursive)?;
        } else {
            // Watch the folder too, to see the file replaced by rotation.
            let parent = root
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            watcher.watch(parent, RecursiveMode::NonRecursive)?;
        }
    }
    Ok(watcher)
}

/// (device, inode): who a file is, whatever its name.
type Identity = (u64, u64);

fn identity(meta: &std::fs::Metadata) -> Option<Identity> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some((meta.dev(), meta.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        None
    }
}

/// One followed file.
struct Tracked {
    file: u32,
    path: PathBuf,
    format: Format,
    id: Option<Identity>,
    /// Keeps following the same file through renames.
    handle: Option<File>,
    /// Bytes read: the offset just past the last complete line.
    pos: u64,
    /// The first bytes, as last seen.
    fingerprint: Vec<u8>,
    /// (size, modified) at the last look: unchanged means nothing to do.
    last: Option<(u64, Option<SystemTime>)>,
    /// Read whole when complete (compressed files, whole-file documents).
    whole: bool,
    /// A whole file was read.
    done: bool,
    /// The file is gone (deleted, or renamed where it could not be found).
    gone: bool,
}

impl Tracked {
    fn resume(file: u32, path: &Path, format: Format, consumed: u64) -> Tracked {
        let whole = is_whole(path, format);
        let handle = File::open(path).ok();
        let id = handle
            .as_ref()
            .and_then(|h| h.metadata().ok())
            .as_ref()
            .and_then(identity);
        let mut t = Tracked {
            file,
            path: path.to_path_buf(),
            format,
            id,
            handle,
            pos: consumed,
            fingerprint: Vec::new(),
            // Not yet looked at: what was appended since the load is read at the first look.
            last: None,
            whole,
            done: whole,
            gone: false,
        };
        t.fingerprint = t.read_fingerprint();
        t
    }

    fn new(file: u32, path: PathBuf, format: Format) -> Tracked {
        let whole = is_whole(&path, format);
        let handle = File::open(&path).ok();
        let id = handle
            .as_ref()
            .and_then(|h| h.metadata().ok())
            .as_ref()
            .and_then(identity);
        Tracked {
            file,
            path,
            format,
            id,
            handle,
            pos: 0,
            fingerprint: Vec::new(),
            last: None,
            whole,
            done: false,
            gone: false,
        }
    }

    fn read_fingerprint(&mut self) -> Vec<u8> {
        let Some(handle) = self.handle.as_mut() else {
            return Vec::new();
        };
        let mut buf = vec![0; FINGERPRINT_BYTES];
        let n = read_at(handle, 0, &mut buf).unwrap_or(0);
        buf.truncate(n);
        buf
    }
}

fn is_whole(path: &Path, format: Format) -> bool {
    Compression::of(path) != Compression::None || framing(format) == Framing::Document
}

fn read_at(file: &mut File, offset: u64, buf: &mut [u8]) -> std::io::Result<usize> {
    file.seek(SeekFrom::Start(offset))?;
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

struct State {
    roots: Vec<PathBuf>,
    format: Option<Format>,
    tracked: Vec<Tracked>,
    next_file: u32,
    out: Sender<WatchEvent>,
}

/// The receiver is gone: stop.
struct Stopped;

impl State {
    fn send(&self, event: WatchEvent) -> Result<(), Stopped> {
        self.out.send(event).map_err(|_| Stopped)
    }

    /// One look at every file and folder.
    fn look(&mut self) -> Result<(), Stopped> {
        for i in 0..self.tracked.len() {
            self.check(i)?;
        }
        self.discover()
    }

    fn check(&mut self, i: usize) -> Result<(), Stopped> {
        if self.tracked[i].gone {
            return Ok(());
        }
        let path = self.tracked[i].path.clone();
        let meta = std::fs::metadata(&path).ok();
        let same_file = match (&meta, self.tracked[i].id) {
            (Some(m), Some(id)) => identity(m) == Some(id),
            (Some(_), None) => true,
            (None, _) => false,
        };
        if self.tracked[i].whole {
            return self.check_whole(i, meta.as_ref());
        }
        if !same_file {
            // Renamed away or deleted (and perhaps replaced by a new file, found by
            // discovery): read what the writer still added, then find the new name.
            self.drain(i)?;
            match self.find_by_identity(self.tracked[i].id) {
                Some(new_path) => {
                    self.tracked[i].path = new_path.clone();
                    self.send(WatchEvent::Renamed {
                        file: self.tracked[i].file,
                        path: new_path,
                    })?;
                }
                None => {
                    self.tracked[i].gone = true;
                    self.tracked[i].handle = None;
                }
            }
            return Ok(());
        }
        let Some(meta) = meta else { return Ok(()) };
        let now = (meta.len(), meta.modified().ok());
        if self.tracked[i].last == Some(now) {
            return Ok(());
        }
        self.tracked[i].last = Some(now);
        let fingerprint = self.tracked[i].read_fingerprint();
        let t = &self.tracked[i];
        let prefix = t.fingerprint.len().min(fingerprint.len());
        let replaced = meta.len() < t.pos || fingerprint[..prefix] != t.fingerprint[..prefix];
        if replaced {
            return self.restart_truncated(i);
        }
        self.tracked[i].fingerprint = fingerprint;
        self.drain(i)
    }

    /// Reads the complete lines appended since the last read.
    fn drain(&mut self, i: usize) -> Result<(), Stopped> {
        let t = &mut self.tracked[i];
        let Some(handle) = t.handle.as_mut() else {
            return Ok(());
        };
        let mut buf = Vec::new();
        if handle.seek(SeekFrom::Start(t.pos)).is_err() || handle.read_to_end(&mut buf).is_err() {
            return Ok(());
        }
        let Some(last) = memrchr(b'\n', &buf) else {
            return Ok(());
        };
        let len = last + 1;
        let base = t.pos;
        t.pos += len as u64;
        if t.fingerprint.len() < FINGERPRINT_BYTES {
            t.fingerprint = t.read_fingerprint();
        }
        let batch = batch_of(t, base, buf, len);
        self.send(WatchEvent::Batch(Box::new(batch)))
    }

    /// The file shrank or its first bytes changed: its old content was moved or
    /// overwritten. Read the old content's unread tail from a copy when one exists,
    /// then read the file as a new one from its start.
    fn restart_truncated(&mut self, i: usize) -> Result<(), Stopped> {
        let (file, pos) = (self.tracked[i].file, self.tracked[i].pos);
        if let Some(copy) = self.find_copy(i) {
            let mut tail = Tracked::new(file, copy.clone(), self.tracked[i].format);
            tail.pos = pos;
            tail.fingerprint = self.tracked[i].fingerprint.clone();
            self.send(WatchEvent::Renamed { file, path: copy })?;
            let index = self.tracked.len();
            self.tracked.push(tail);
            self.drain(index)?;
            self.tracked[index].last = None;
        }
        let path = self.tracked[i].path.clone();
        let format = self.tracked[i].format;
        self.send(WatchEvent::NewFile {
            path: path.clone(),
            format,
        })?;
        self.tracked[i] = Tracked::new(self.next_file, path, format);
        self.next_file += 1;
        self.drain(i)
    }

    /// A file elsewhere that starts with the same bytes and holds at least what was read:
    /// where copytruncate put the old content.
    fn find_copy(&self, i: usize) -> Option<PathBuf> {
        let t = &self.tracked[i];
        if t.fingerprint.is_empty() {
            return None;
        }
        let dir = t.path.parent()?;
        let entries = std::fs::read_dir(dir).ok()?;
        entries.filter_map(|e| e.ok().map(|e| e.path())).find(|p| {
            if p == &t.path || Compression::of(p) != Compression::None {
                return false;
            }
            let Ok(mut f) = File::open(p) else {
                return false;
            };
            let size = f.metadata().map(|m| m.len()).unwrap_or(0);
            let mut head = vec![0; t.fingerprint.len()];
            size >= t.pos
                && read_at(&mut f, 0, &mut head).ok() == Some(head.len())
                && head == t.fingerprint
        })
    }

    fn find_by_identity(&self, id: Option<Identity>) -> Option<PathBuf> {
        let id = id?;
        let found = source::discover(&self.roots).ok()?;
        let mut dirs: Vec<PathBuf> = found.files.iter().map(|f| f.path.clone()).collect();
        // Rotated names need not be run-file names (`app.jsonl.1`): look at siblings too.
        for t in &self.tracked {
            if let Some(parent) = t.path.parent() {
                if let Ok(entries) = std::fs::read_dir(parent) {
                    dirs.extend(entries.filter_map(|e| e.ok().map(|e| e.path())));
                }
            }
        }
        dirs.into_iter()
            .find(|p| std::fs::metadata(p).ok().as_ref().and_then(identity) == Some(id))
    }

    /// Compressed files and whole documents are read once, when their size has held
    /// still between two looks (a half-written gzip stream cannot be read).
    fn check_whole(&mut self, i: usize, meta: Option<&std::fs::Metadata>) -> Result<(), Stopped> {
        let Some(meta) = meta else { return Ok(()) };
        let now = (meta.len(), meta.modified().ok());
        let t = &mut self.tracked[i];
        if t.done || t.last != Some(now) {
            t.last = Some(now);
            return Ok(());
        }
        t.done = true;
        let mut buf = Vec::new();
        if source::open(&t.path)
            .and_then(|mut r| {
                r.read_to_end(&mut buf)
                    .map_err(|e| crate::Error::io(&t.path, e))
            })
            .is_err()
        {
            return Ok(());
        }
        let len = if framing(t.format) == Framing::Document {
            buf.len()
        } else {
            memrchr(b'\n', &buf).map_or(0, |p| p + 1)
        };
        let batch = batch_of(t, 0, buf, len);
        self.send(WatchEvent::Batch(Box::new(batch)))
    }

    /// Starts following files that appeared under the roots.
    fn discover(&mut self) -> Result<(), Stopped> {
        let Ok(found) = source::discover(&self.roots) else {
            return Ok(());
        };
        for f in found.files {
            if self.tracked.iter().any(|t| t.path == f.path && !t.gone) {
                continue;
            }
            let Ok(meta) = std::fs::metadata(&f.path) else {
                continue;
            };
            let id = identity(&meta);
            if id.is_some() && self.tracked.iter().any(|t| t.id == id && !t.gone) {
                // A followed file under a new name: the rename was already handled.
                continue;
            }
            let Ok(head) = source::head(&f.path, SNIFF_BYTES) else {
                continue;
            };
            if head.is_empty() {
                // Nothing to tell the format by yet.
                continue;
            }
            let format = match (self.format, detect(&head), f.needs_known_format) {
                (Some(forced), _, false) => forced,
                (_, Some(detected), _) => detected,
                (_, None, true) => continue,
                (_, None, false) => Format::Native,
            };
            self.send(WatchEvent::NewFile {
                path: f.path.clone(),
                format,
            })?;
            let index = self.tracked.len();
            self.tracked
                .push(Tracked::new(self.next_file, f.path, format));
            self.next_file += 1;
            if self.tracked[index].whole {
                self.check(index)?;
            } else {
                self.drain(index)?;
            }
        }
        Ok(())
    }
}

fn batch_of(t: &Tracked, base: u64, buf: Vec<u8>, len: usize) -> Batch {
    let chunk = Chunk {
        seq: 0,
        file: t.file,
        format: t.format,
        stem: Arc::from(source::stem(&t.path)),
        base,
        buf,
        len,
        stopped: None,
    };
    Batch(parse_chunk(chunk).0)
}
