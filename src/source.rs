//! Finds run files under the given paths and opens them, decompressing gzip and zstd.
//! Knows nothing about JSON. Folder walks take regular files only; a pipe or device
//! named on the command line is read once, as a stream, into a private spool (see
//! [`discover`]).

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use crate::model::{Format, Problem};
use crate::Error;

/// How a file's bytes are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    pub fn of(path: &Path) -> Compression {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        if name.ends_with(".gz") {
            Compression::Gzip
        } else if name.ends_with(".zst") {
            Compression::Zstd
        } else {
            Compression::None
        }
    }

    /// By content (a stream has no telling name).
    fn sniff(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

/// A file to read, and how.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: PathBuf,
    pub format: Format,
    /// The file name without extensions (tau-bench run ids are made unique with it).
    pub stem: Arc<str>,
    /// Its size when the history was opened.
    pub size: u64,
}

/// A file discovery found.
#[derive(Debug, Clone)]
pub struct Found {
    pub path: PathBuf,
    /// Named on the command line (always read), or found in a folder by its name.
    pub explicit: bool,
    /// A `.json` file in a folder: read only when its content is a known format.
    pub needs_known_format: bool,
}

/// What discovery found.
#[derive(Debug, Default)]
pub struct Discovered {
    /// Candidate files, in a stable order (each argument in turn, folders sorted by path).
    pub files: Vec<Found>,
    /// Files inside folders that are not run files, passed over.
    pub skipped: usize,
    /// What could not be taken: pipes, sockets and devices in folders, unreadable
    /// folders, broken links, streams that could not be read whole. Line 0: the whole file.
    pub problems: Vec<Problem>,
}

const RUN_FILE_SUFFIXES: [&str; 4] = [".jsonl", ".ndjson", ".jsonl.gz", ".jsonl.zst"];

/// True for names retrace reads when it finds them in a folder.
pub fn is_run_file_name(name: &str) -> bool {
    RUN_FILE_SUFFIXES.iter().any(|s| name.ends_with(s))
}

fn file_problem(path: &Path, reason: String) -> Problem {
    Problem {
        file: path.to_path_buf(),
        line: 0,
        reason,
    }
}

/// Expands the given paths: files are taken as they are (whatever their name), folders
/// are walked recursively for regular run files. A pipe or device named here (`<(zcat
/// x.gz)`, `/dev/stdin`) is read to its end once, decompressed when its content is gzip
/// or zstd, and kept in a private spool so its steps can be read back (see
/// [`is_stream`]). A missing or unreadable path given here is an error; anything wrong
/// found inside a folder is a problem.
pub fn discover(paths: &[PathBuf]) -> Result<Discovered, Error> {
    let mut found = Discovered::default();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if meta.is_dir() {
            let entries = std::fs::read_dir(path).map_err(|e| Error::io(path, e))?;
            walk(entries, &mut found);
            continue;
        }
        if !meta.is_file() && !tried(path) {
            if let Err(reason) = spool(path) {
                found.problems.push(file_problem(path, reason));
            }
        }
        if !meta.is_file() && !is_stream(path) {
            continue;
        }
        found.files.push(Found {
            path: path.clone(),
            explicit: true,
            needs_known_format: false,
        });
    }
    Ok(found)
}

fn walk(entries: std::fs::ReadDir, found: &mut Discovered) {
    let mut entries: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        // Follow symlinks to files, but not to folders: that could loop.
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let candidate = is_run_file_name(&name) || name.ends_with(".json");
        if meta.is_dir() {
            match std::fs::read_dir(&path) {
                Ok(entries) => walk(entries, found),
                Err(e) => found
                    .problems
                    .push(file_problem(&path, format!("folder not read: {e}"))),
            }
            continue;
        }
        let target = if meta.file_type().is_symlink() {
            match std::fs::metadata(&path) {
                Ok(target) => target,
                Err(e) if candidate => {
                    found
                        .problems
                        .push(file_problem(&path, format!("broken link: {e}")));
                    continue;
                }
                Err(_) => {
                    found.skipped += 1;
                    continue;
                }
            }
        } else {
            meta
        };
        if target.is_dir() {
            found.skipped += 1;
        } else if !target.is_file() {
            // Opening a pipe blocks until someone writes; a device may never end.
            found.problems.push(file_problem(
                &path,
                format!("skipped: {}, not a regular file", special_kind(&target)),
            ));
        } else if candidate {
            found.files.push(Found {
                needs_known_format: !is_run_file_name(&name),
                path,
                explicit: false,
            });
        } else {
            found.skipped += 1;
        }
    }
}

fn special_kind(meta: &std::fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_fifo() {
            return "a named pipe (FIFO)";
        } else if t.is_socket() {
            return "a socket";
        } else if t.is_char_device() {
            return "a character device";
        } else if t.is_block_device() {
            return "a block device";
        }
    }
    let _ = meta;
    "a special file"
}

/// Streams read so far, by the path they were named by: their spooled content.
/// `None`: reading it was tried and failed (it is not tried again: opening a pipe
/// blocks until it has a writer).
type Spools = HashMap<PathBuf, Option<Arc<Mutex<File>>>>;

fn streams() -> &'static Mutex<Spools> {
    static STREAMS: OnceLock<Mutex<Spools>> = OnceLock::new();
    STREAMS.get_or_init(Default::default)
}

fn spooled(path: &Path) -> Option<Arc<Mutex<File>>> {
    streams().lock().ok()?.get(path).cloned().flatten()
}

fn tried(path: &Path) -> bool {
    streams().lock().is_ok_and(|s| s.contains_key(path))
}

/// True for a pipe or device named on the command line and read once into a spool: its
/// bytes never change and it is never watched.
pub fn is_stream(path: &Path) -> bool {
    spooled(path).is_some()
}

/// Reads the stream at `path` to its end into an unnamed temporary file (decompressing
/// gzip or zstd content). What was read before a failure is kept; the failure is
/// returned as a problem's reason.
fn spool(path: &Path) -> Result<(), String> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    if let Ok(mut map) = streams().lock() {
        map.insert(path.to_path_buf(), None);
    }
    let input = File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let name = format!(
        "retrace-stream-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let spool_path = std::env::temp_dir().join(name);
    let mut spool = File::options()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&spool_path)
        .map_err(|e| format!("cannot keep a copy of the stream: {e}"))?;
    // Unnamed from here on: it goes away with the process.
    let _ = std::fs::remove_file(&spool_path);
    let mut input = BufReader::new(input);
    let head = input.fill_buf().map_err(|e| format!("cannot read: {e}"))?;
    let compression = Compression::sniff(head);
    let compressed = compression != Compression::None;
    let mut reader: Box<dyn Read> = match compression {
        Compression::None => Box::new(input),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(input)),
        Compression::Zstd => Box::new(ZstdFrames::new(input)),
    };
    let copied = copy_until_error(&mut reader, &mut spool);
    if let Ok(mut map) = streams().lock() {
        map.insert(path.to_path_buf(), Some(Arc::new(Mutex::new(spool))));
    }
    match copied {
        (_, None) => Ok(()),
        (at, Some(e)) => Err(stopped_reason(at, compressed, &e)),
    }
}

/// Copies until the end or the first error; returns the bytes copied and the error.
pub fn copy_until_error(from: &mut impl Read, to: &mut impl io::Write) -> (u64, Option<io::Error>) {
    let mut buf = vec![0; 1 << 16];
    let mut total = 0;
    loop {
        match from.read(&mut buf) {
            Ok(0) => return (total, None),
            Ok(n) => {
                if let Err(e) = to.write_all(&buf[..n]) {
                    return (total, Some(e));
                }
                total += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (total, Some(e)),
        }
    }
}

/// How a problem says where reading stopped and why (the cause once).
pub fn stopped_reason(at: u64, compressed: bool, error: &io::Error) -> String {
    let what = if compressed {
        "decoding stopped at byte"
    } else {
        "reading stopped at byte"
    };
    let content = if compressed {
        " of the decompressed content"
    } else {
        ""
    };
    format!("{what} {at}{content}: {error}; the lines before were kept")
}

/// The first `limit` bytes of a file's (decompressed) content; fewer when the content
/// is damaged early (the load reports the damage).
pub fn head(path: &Path, limit: usize) -> Result<Vec<u8>, Error> {
    let mut head = Vec::with_capacity(limit.min(1 << 16));
    let mut reader = open(path)?.take(limit as u64);
    let _ = copy_until_error(&mut reader, &mut head);
    Ok(head)
}

/// The file name without its run-file extensions: `rollout-x.jsonl.gz` → `rollout-x`.
pub fn stem(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut stem = name.as_str();
    for ext in [".gz", ".zst", ".jsonl", ".ndjson", ".json"] {
        stem = stem.strip_suffix(ext).unwrap_or(stem);
    }
    stem.to_string()
}

/// True when the file is read through a decompressor (it cannot seek).
pub fn is_compressed(path: &Path) -> bool {
    Compression::of(path) != Compression::None && !is_stream(path)
}

/// Opens a file for sequential reading, decompressing by its name. Decoding errors come
/// from reads, with what was decoded before them already handed out.
pub fn open(path: &Path) -> Result<Box<dyn Read + Send>, Error> {
    if let Some(spool) = spooled(path) {
        return Ok(Box::new(Raw::Spooled(spool, 0)));
    }
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    Ok(match Compression::of(path) {
        Compression::None => Box::new(file),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(file))),
        Compression::Zstd => Box::new(ZstdFrames::new(BufReader::new(file))),
    })
}

/// A file's stored bytes, seekable: the file itself, or a stream's spool.
pub enum Raw {
    File(File),
    /// The spool, shared, and this reader's position in it.
    Spooled(Arc<Mutex<File>>, u64),
}

/// Opens the stored bytes of an uncompressed file (or stream) for seeking.
pub fn open_raw(path: &Path) -> io::Result<Raw> {
    match spooled(path) {
        Some(spool) => Ok(Raw::Spooled(spool, 0)),
        None => File::open(path).map(Raw::File),
    }
}

impl Read for Raw {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Raw::File(f) => f.read(buf),
            Raw::Spooled(spool, pos) => {
                let mut file = spool
                    .lock()
                    .map_err(|_| io::Error::other("stream spool poisoned"))?;
                file.seek(SeekFrom::Start(*pos))?;
                let n = file.read(buf)?;
                *pos += n as u64;
                Ok(n)
            }
        }
    }
}

impl Seek for Raw {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        match self {
            Raw::File(f) => f.seek(to),
            Raw::Spooled(spool, pos) => {
                let len = spool
                    .lock()
                    .map_err(|_| io::Error::other("stream spool poisoned"))?
                    .metadata()?
                    .len();
                let target = match to {
                    SeekFrom::Start(p) => Some(p),
                    SeekFrom::End(d) => len.checked_add_signed(d),
                    SeekFrom::Current(d) => pos.checked_add_signed(d),
                };
                *pos = target.ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidInput, "seek before the start")
                })?;
                Ok(*pos)
            }
        }
    }
}

/// Decodes every zstd frame of a file in turn (skippable frames skipped), checking each
/// frame's checksum when it has one. The decoder is set up lazily, so a damaged header
/// is a read error like any other damage.
struct ZstdFrames<R> {
    source: R,
    decoder: ruzstd::decoding::FrameDecoder,
    in_frame: bool,
}

impl<R: BufRead> ZstdFrames<R> {
    fn new(source: R) -> ZstdFrames<R> {
        ZstdFrames {
            source,
            decoder: ruzstd::decoding::FrameDecoder::new(),
            in_frame: false,
        }
    }
}

fn invalid(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("zstd: {e}"))
}

impl<R: BufRead> Read for ZstdFrames<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use ruzstd::decoding::errors::{FrameDecoderError, ReadFrameHeaderError};
        use ruzstd::decoding::BlockDecodingStrategy;
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if !self.in_frame {
                if self.source.fill_buf()?.is_empty() {
                    return Ok(0);
                }
                match self.decoder.reset(&mut self.source) {
                    Ok(()) => self.in_frame = true,
                    Err(FrameDecoderError::ReadFrameHeaderError(
                        ReadFrameHeaderError::SkipFrame { length, .. },
                    )) => {
                        let want = u64::from(length);
                        let skipped =
                            io::copy(&mut (&mut self.source).take(want), &mut io::sink())?;
                        if skipped < want {
                            return Err(invalid("truncated skippable frame"));
                        }
                        continue;
                    }
                    Err(e) => return Err(invalid(e)),
                }
            }
            let d = &mut self.decoder;
            while d.can_collect() < buf.len() && !d.is_finished() {
                let need = buf.len() - d.can_collect();
                d.decode_blocks(&mut self.source, BlockDecodingStrategy::UptoBytes(need))
                    .map_err(invalid)?;
            }
            let n = d.read(buf)?;
            if n > 0 {
                return Ok(n);
            }
            if !d.is_finished() {
                return Err(invalid("the decoder made no progress"));
            }
            if let (Some(stored), Some(computed)) =
                (d.get_checksum_from_data(), d.get_calculated_checksum())
            {
                if stored != computed {
                    return Err(invalid("frame checksum does not match its content"));
                }
            }
            self.in_frame = false;
        }
    }
}

/// Records closer than this are read together.
const COALESCE_GAP: u64 = 64 * 1024;
/// The most bytes read at once when reading records together.
const COALESCE_MAX: u64 = 4 << 20;

/// Reads byte ranges `(offset, len)` of a file's (decompressed) content, in one pass;
/// a range without a length runs to the end of its line. Ranges are returned in the
/// order asked.
pub fn read_ranges(path: &Path, ranges: &[(u64, Option<u32>)]) -> Result<Vec<Vec<u8>>, Error> {
    let mut order: Vec<usize> = (0..ranges.len()).collect();
    order.sort_by_key(|&i| ranges[i].0);
    let mut out = vec![Vec::new(); ranges.len()];
    let ioerr = |e| Error::io(path, e);
    if !is_compressed(path) {
        let mut file = open_raw(path).map_err(ioerr)?;
        // Neighbouring records (a run's steps often sit together) come in one read.
        let mut k = 0;
        while k < order.len() {
            let (offset, len) = ranges[order[k]];
            let Some(len) = len else {
                file.seek(SeekFrom::Start(offset)).map_err(ioerr)?;
                out[order[k]] = read_record(&mut file, None).map_err(ioerr)?;
                k += 1;
                continue;
            };
            let mut end = offset + u64::from(len);
            let mut last = k;
            while let Some(&next) = order.get(last + 1) {
                match ranges[next] {
                    (o, Some(l))
                        if o <= end + COALESCE_GAP && o + u64::from(l) - offset <= COALESCE_MAX =>
                    {
                        end = end.max(o + u64::from(l));
                        last += 1;
                    }
                    _ => break,
                }
            }
            file.seek(SeekFrom::Start(offset)).map_err(ioerr)?;
            let block = read_record(&mut file, Some((end - offset) as u32)).map_err(ioerr)?;
            for &i in &order[k..=last] {
                let (o, l) = ranges[i];
                let from = (o - offset) as usize;
                out[i] = block[from..from + l.unwrap_or(0) as usize].to_vec();
            }
            k = last + 1;
        }
    } else {
        // Compressed streams cannot seek: decompress once, skipping between ranges.
        let mut reader = open(path)?;
        let mut pos = 0u64;
        for i in order {
            let (offset, len) = ranges[i];
            if offset < pos {
                // Overlapping ranges are not produced by the index; reopen to be safe.
                reader = open(path)?;
                pos = 0;
            }
            io::copy(&mut (&mut reader).take(offset - pos), &mut io::sink()).map_err(ioerr)?;
            let buf = read_record(&mut reader, len).map_err(ioerr)?;
            // After a line of unknown length the reader has read ahead: start over.
            pos = len.map_or(u64::MAX, |l| offset + u64::from(l));
            out[i] = buf;
        }
    }
    Ok(out)
}

/// Reads `len` bytes, or without a length up to (not including) the next newline.
fn read_record(reader: &mut impl Read, len: Option<u32>) -> io::Result<Vec<u8>> {
    match len {
        Some(len) => {
            let mut buf = vec![0; len as usize];
            reader.read_exact(&mut buf)?;
            Ok(buf)
        }
        None => {
            let mut buf = Vec::new();
            BufReader::new(reader.take(u64::MAX)).read_until(b'\n', &mut buf)?;
            if buf.last() == Some(&b'\n') {
                buf.pop();
            }
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
            Ok(buf)
        }
    }
}
