//! Follows the files of a history as agents write them: reads only appended bytes (a
//! partial last line waits for its newline), follows rotation (rename + new file) and
//! truncation (copytruncate, noticed by size or by a changed first-bytes fingerprint, as
//! log shippers do), picks up new files and lets deleted ones go. Every event is read
//! once: a rotated file is drained through its open handle before the new one is read,
//! and the tail of a truncated file is read from its copy when one is found.
//!
//! Open descriptors stay bounded whatever the number of files: a small pool keeps the
//! most recently read files open and the others are reopened by path, with an identity
//! (device, inode) check, when they change. A file that cannot be opened, a folder that
//! cannot be read, a file that went away: each is reported once as a problem, and
//! watching goes on. Streams (pipes named on the command line) are never followed.
//!
//! The watcher runs on its own thread and sends [`WatchEvent`]s; the owner of the
//! [`History`] applies them in order with [`History::apply_watch`].

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use memchr::memrchr;

use super::parse::{parse_chunk, Chunk, Stop};
use super::pipeline::Batch;
use super::History;
use crate::ingest::detect::{detect, SNIFF_BYTES};
use crate::ingest::{framing, Framing};
use crate::model::{Format, Problem};
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
    /// Most files kept open at once (at least 1); the others are reopened when they change.
    pub open_files: usize,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            poll: false,
            interval: Duration::from_millis(100),
            format: None,
            open_files: 64,
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
    /// Something watching could not do: a file it cannot open, a folder it cannot
    /// read, a followed file that went away. Watching goes on.
    Problem(Problem),
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
            WatchEvent::Problem(problem) => self.problems.push(problem),
            WatchEvent::Failed(_) => {}
        }
    }

    /// Files whose last bytes are a line without its newline (a writer stopped or was
    /// killed mid-line, a disk filled up): one problem each, at that line. Watching
    /// leaves such a line pending; this says so when watching stops.
    pub fn partial_last_lines(&self) -> Vec<Problem> {
        self.files
            .iter()
            .filter(|f| !source::is_stream(&f.path) && !is_whole(&f.path, f.format))
            .filter_map(|f| {
                let size = std::fs::metadata(&f.path).ok()?.len();
                (size > f.consumed).then(|| Problem {
                    file: f.path.clone(),
                    line: f.lines + 1,
                    reason: format!(
                        "partial last line: {} bytes without a newline (its writer stopped mid-line?)",
                        size - f.consumed
                    ),
                })
            })
            .collect()
    }
}

/// Starts watching `roots` (the paths the history was loaded from), continuing each of
/// the history's files from where its load stopped.
pub fn watch(roots: Vec<PathBuf>, history: &History, options: WatchOptions) -> Watcher {
    watch_files(roots, history.files(), history.problems(), options)
}

/// [`watch`] given the history's files and problems (taken from a shared history under a
/// short hold, so that opening files and registering watches happen outside it).
pub fn watch_files(
    roots: Vec<PathBuf>,
    files: &[super::FileInfo],
    problems: &[Problem],
    options: WatchOptions,
) -> Watcher {
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
    let mut state = State {
        roots,
        format: options.format,
        next_file: files.len() as u32,
        tracked: Vec::new(),
        handles: Handles::new(options.open_files),
        by_path: HashMap::new(),
        // What the load already reported about whole files is not reported again.
        reported: problems
            .iter()
            .filter(|p| p.line == 0)
            .map(|p| (p.file.clone(), p.reason.clone()))
            .collect(),
        out: tx,
    };
    for (i, f) in files.iter().enumerate() {
        let mut t = Tracked::resume(i as u32, &f.path, f.format, f.consumed);
        // A stream was read whole at load time; there is nothing to follow.
        t.gone = source::is_stream(&f.path);
        state.tracked.push(t);
        if !state.tracked[i].gone {
            let _ = state.identify(i);
        }
    }
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
    /// Why the file could not be opened at the last try (reported once).
    unopened: Option<String>,
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
    /// Follows a file of the loaded history from where its load stopped; its identity
    /// and fingerprint are taken by [`State::identify`].
    fn resume(file: u32, path: &Path, format: Format, consumed: u64) -> Tracked {
        let whole = is_whole(path, format);
        Tracked {
            file,
            path: path.to_path_buf(),
            format,
            id: None,
            unopened: None,
            pos: consumed,
            fingerprint: Vec::new(),
            // Not yet looked at: what was appended since the load is read at the first look.
            last: None,
            whole,
            done: whole,
            gone: false,
        }
    }

    fn new(file: u32, path: PathBuf, format: Format) -> Tracked {
        let mut t = Tracked::resume(file, &path, format, 0);
        t.done = false;
        t
    }
}

fn read_fingerprint(handle: &mut File) -> Vec<u8> {
    let mut buf = vec![0; FINGERPRINT_BYTES];
    let n = read_at(handle, 0, &mut buf).unwrap_or(0);
    buf.truncate(n);
    buf
}

/// Open handles of followed files, at most `capacity`: the least recently used one is
/// closed to make room. Keyed by position in `State::tracked`.
struct Handles {
    capacity: usize,
    /// Most recently used last.
    open: Vec<(usize, File)>,
}

impl Handles {
    fn new(capacity: usize) -> Handles {
        Handles {
            capacity: capacity.max(1),
            open: Vec::new(),
        }
    }

    fn close(&mut self, i: usize) {
        self.open.retain(|(k, _)| *k != i);
    }

    /// The open handle of `t` (at `i`), reopening it by path when it was closed. `Ok(None)`:
    /// the path now holds another file (its own file was renamed away or deleted).
    fn get(&mut self, i: usize, t: &mut Tracked) -> std::io::Result<Option<&mut File>> {
        if let Some(at) = self.open.iter().position(|(k, _)| *k == i) {
            let entry = self.open.remove(at);
            self.open.push(entry);
        } else {
            let file = File::open(&t.path)?;
            let id = file.metadata().ok().as_ref().and_then(identity);
            match (t.id, id) {
                (Some(want), Some(got)) if want != got => return Ok(None),
                (None, got) => t.id = got,
                _ => {}
            }
            if self.open.len() >= self.capacity {
                self.open.remove(0);
            }
            self.open.push((i, file));
        }
        Ok(self.open.last_mut().map(|(_, f)| f))
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
    handles: Handles,
    /// Followed (not gone) files by path.
    by_path: HashMap<PathBuf, usize>,
    /// Problems of the folder walk reported and still true (reported again only after
    /// they cleared).
    reported: HashSet<(PathBuf, String)>,
    next_file: u32,
    out: Sender<WatchEvent>,
}

/// The receiver is gone: stop.
struct Stopped;

impl State {
    fn send(&self, event: WatchEvent) -> Result<(), Stopped> {
        self.out.send(event).map_err(|_| Stopped)
    }

    fn problem(&self, path: &Path, line: u64, reason: String) -> Result<(), Stopped> {
        self.send(WatchEvent::Problem(Problem {
            file: path.to_path_buf(),
            line,
            reason,
        }))
    }

    /// Opens a file of the loaded history once, for its identity and first bytes.
    fn identify(&mut self, i: usize) -> Result<(), Stopped> {
        self.by_path.insert(self.tracked[i].path.clone(), i);
        let t = &mut self.tracked[i];
        match self.handles.get(i, t) {
            Ok(Some(handle)) => {
                t.fingerprint = read_fingerprint(handle);
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(e) => self.unreadable(i, format!("cannot open: {e}")),
        }
    }

    /// Reports once that a followed file cannot be opened or read; it is tried again at
    /// every look, and followed from where it was when it can be read again.
    fn unreadable(&mut self, i: usize, reason: String) -> Result<(), Stopped> {
        let t = &mut self.tracked[i];
        t.last = None;
        if t.unopened.as_deref() == Some(reason.as_str()) {
            return Ok(());
        }
        t.unopened = Some(reason.clone());
        let path = t.path.clone();
        self.problem(
            &path,
            0,
            format!("{reason}; watching goes on and reads it when it can"),
        )
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
            (Some(m), None) => m.is_file(),
            (None, _) => false,
        };
        if self.tracked[i].whole && same_file {
            return self.check_whole(i, meta.as_ref());
        }
        if !same_file {
            // Renamed away or deleted (and perhaps replaced by a new file, found by
            // discovery): read what the writer still added, then find the new name.
            if !self.tracked[i].whole {
                self.drain(i)?;
            }
            match self.find_by_identity(self.tracked[i].id) {
                Some(new_path) => {
                    self.by_path.remove(&path);
                    self.by_path.insert(new_path.clone(), i);
                    self.tracked[i].path = new_path.clone();
                    self.send(WatchEvent::Renamed {
                        file: self.tracked[i].file,
                        path: new_path,
                    })?;
                }
                None => {
                    self.tracked[i].gone = true;
                    self.handles.close(i);
                    self.by_path.remove(&path);
                    let reason = match &meta {
                        Some(m) if m.is_dir() => "replaced by a folder",
                        Some(_) => "replaced by another file, which is read as a new one",
                        None => "gone (deleted, or moved out of sight)",
                    };
                    self.problem(
                        &path,
                        0,
                        format!("{reason}: no longer followed; the steps read from it are kept"),
                    )?;
                }
            }
            return Ok(());
        }
        let Some(meta) = meta else { return Ok(()) };
        let now = (meta.len(), meta.modified().ok());
        if self.tracked[i].last == Some(now) && self.tracked[i].unopened.is_none() {
            return Ok(());
        }
        self.tracked[i].last = Some(now);
        let t = &mut self.tracked[i];
        let fingerprint = match self.handles.get(i, t) {
            Ok(Some(handle)) => read_fingerprint(handle),
            // Replaced between the look and the open: the next look sees it.
            Ok(None) => return Ok(()),
            Err(e) => return self.unreadable(i, format!("cannot open: {e}")),
        };
        let t = &mut self.tracked[i];
        let prefix = t.fingerprint.len().min(fingerprint.len());
        let replaced = meta.len() < t.pos || fingerprint[..prefix] != t.fingerprint[..prefix];
        if replaced {
            return self.restart_truncated(i);
        }
        t.fingerprint = fingerprint;
        self.drain(i)
    }

    /// Reads the complete lines appended since the last read.
    fn drain(&mut self, i: usize) -> Result<(), Stopped> {
        let t = &mut self.tracked[i];
        let handle = match self.handles.get(i, t) {
            Ok(Some(handle)) => handle,
            Ok(None) => return Ok(()),
            Err(e) => return self.unreadable(i, format!("cannot open: {e}")),
        };
        let mut buf = Vec::new();
        let read = handle
            .seek(SeekFrom::Start(t.pos))
            .and_then(|_| handle.read_to_end(&mut buf));
        if let Err(e) = read {
            let reason = format!("reading stopped at byte {}: {e}", t.pos);
            return self.unreadable(i, reason);
        }
        t.unopened = None;
        let Some(last) = memrchr(b'\n', &buf) else {
            return Ok(());
        };
        let len = last + 1;
        let base = t.pos;
        t.pos += len as u64;
        if t.fingerprint.len() < FINGERPRINT_BYTES {
            t.fingerprint = read_fingerprint(handle);
        }
        let batch = batch_of(t, base, buf, len, None);
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
            self.send(WatchEvent::Renamed {
                file,
                path: copy.clone(),
            })?;
            let index = self.tracked.len();
            self.tracked.push(tail);
            self.by_path.insert(copy, index);
            self.drain(index)?;
            self.tracked[index].last = None;
        }
        let path = self.tracked[i].path.clone();
        let format = self.tracked[i].format;
        self.send(WatchEvent::NewFile {
            path: path.clone(),
            format,
        })?;
        self.handles.close(i);
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
            if p == &t.path || Compression::of(p) != Compression::None || !p.is_file() {
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
        let mut dirs: Vec<PathBuf> = Vec::new();
        for root in &self.roots {
            if let Ok(found) = source::discover(std::slice::from_ref(root)) {
                dirs.extend(found.files.into_iter().map(|f| f.path));
            }
        }
        // Rotated names need not be run-file names (`app.jsonl.1`): look at siblings too.
        let parents: HashSet<&Path> = self
            .tracked
            .iter()
            .filter_map(|t| t.path.parent())
            .collect();
        for parent in parents {
            if let Ok(entries) = std::fs::read_dir(parent) {
                dirs.extend(entries.filter_map(|e| e.ok().map(|e| e.path())));
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
        let mut reader = match source::open(&t.path) {
            Ok(reader) => reader,
            Err(e) => return self.unreadable(i, format!("cannot open: {e}")),
        };
        t.done = true;
        t.unopened = None;
        let mut buf = Vec::new();
        let (read, error) = source::copy_until_error(&mut reader, &mut buf);
        let document = framing(t.format) == Framing::Document;
        let compressed = source::is_compressed(&t.path);
        let stopped = error.map(|e| Stop::Damaged(source::stopped_reason(read, compressed, &e)));
        let len = match (document, &stopped) {
            (true, Some(_)) => 0,
            (true, None) => buf.len(),
            (false, _) => memrchr(b'\n', &buf).map_or(0, |p| p + 1),
        };
        let batch = batch_of(t, 0, buf, len, stopped);
        self.send(WatchEvent::Batch(Box::new(batch)))
    }

    /// Starts following files that appeared under the roots; reports, once while it
    /// lasts, each thing under them that cannot be read.
    fn discover(&mut self) -> Result<(), Stopped> {
        let mut problems: HashSet<(PathBuf, String)> = HashSet::new();
        let mut files = Vec::new();
        for root in &self.roots {
            match source::discover(std::slice::from_ref(root)) {
                Ok(found) => {
                    files.extend(found.files);
                    problems.extend(found.problems.into_iter().map(|p| (p.file, p.reason)));
                }
                Err(e) => {
                    let reason = match e {
                        crate::Error::Io { cause, .. } => cause.to_string(),
                        other => other.to_string(),
                    };
                    problems.insert((
                        root.clone(),
                        format!("cannot watch: {reason}; watching for it to come back"),
                    ));
                }
            }
        }
        let mut known: Option<HashSet<Identity>> = None;
        for f in files {
            if self.by_path.contains_key(&f.path) || source::is_stream(&f.path) {
                continue;
            }
            let Ok(meta) = std::fs::metadata(&f.path) else {
                continue;
            };
            let id = identity(&meta);
            let known = known.get_or_insert_with(|| {
                self.tracked
                    .iter()
                    .filter(|t| !t.gone)
                    .filter_map(|t| t.id)
                    .collect()
            });
            if id.is_some_and(|id| known.contains(&id)) {
                // A followed file under a new name: the rename was already handled.
                continue;
            }
            let head = match source::head(&f.path, SNIFF_BYTES) {
                Ok(head) => head,
                Err(e) => {
                    let reason = match e {
                        crate::Error::Io { cause, .. } => cause.to_string(),
                        other => other.to_string(),
                    };
                    problems.insert((f.path, format!("cannot open: {reason}")));
                    continue;
                }
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
            self.by_path.insert(f.path.clone(), index);
            self.tracked
                .push(Tracked::new(self.next_file, f.path, format));
            self.next_file += 1;
            if let Some(id) = id {
                known.insert(id);
            }
            if self.tracked[index].whole {
                self.check(index)?;
            } else {
                self.drain(index)?;
            }
        }
        let mut sorted: Vec<_> = problems.difference(&self.reported).cloned().collect();
        sorted.sort();
        for (path, reason) in sorted {
            self.problem(&path, 0, reason)?;
        }
        self.reported = problems;
        Ok(())
    }
}

fn batch_of(t: &Tracked, base: u64, buf: Vec<u8>, len: usize, stopped: Option<Stop>) -> Batch {
    let chunk = Chunk {
        seq: 0,
        file: t.file,
        format: t.format,
        stem: Arc::from(source::stem(&t.path)),
        base,
        buf,
        len,
        stopped,
    };
    Batch(Box::new(parse_chunk(chunk).0), None)
}
