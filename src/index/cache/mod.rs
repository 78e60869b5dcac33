//! The index cache: what parsing a file gave (its batches, see `codec`) kept under
//! the user's cache folder, so that reopening a history skips parsing files it has seen.
//!
//! One cache file per source file, named by the file's identity (device and inode). It
//! is used only while it still describes the file: the same identity, format, name stem
//! and build of retrace, the same first bytes (up to 4 KiB), and either the same size and
//! modification time (used whole) or a larger size with the same bytes just before where
//! it stopped (a file that grew: the cached batches, then only the new bytes are parsed,
//! and the cache is extended). Anything else — a rewritten file, a damaged or truncated
//! cache (length and checksum) — is not trusted: the file is parsed and its cache written
//! again. Writes go to a temporary file renamed into place, so a reader sees a whole
//! cache or none. The folder and files are the user's own (0700 and 0600), and hold only
//! what the index keeps (names, error labels, problems): no payload text.

pub(super) mod codec;
pub mod prune;
pub mod stamp;

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::ingest::{framing, Framing};
use crate::model::Format;
use crate::source::{self, Source};

const MAGIC: &[u8; 8] = b"RTRCIDX1";
/// Bumped whenever the byte form changes.
const VERSION: u32 = 2;
/// Bytes at the head of a file whose checksum tells a rewritten file from a grown one.
const HEAD_BYTES: usize = 4096;
/// Bytes before the end of what was read whose checksum must not have changed when a
/// file grew.
pub(super) const TAIL_BYTES: usize = 4096;
/// Files smaller than this are parsed, not cached: parsing them costs less than a cache
/// file's round trip (and a folder of many small files would fill the cache).
pub const MIN_CACHED_BYTES: u64 = 256 << 10;
/// Temporary files older than this were left by a process that ended mid-write.
const STALE_TEMP: std::time::Duration = std::time::Duration::from_secs(3600);

/// The index cache folder: `$XDG_CACHE_HOME/retrace/index`, else
/// `~/.cache/retrace/index`; `None` when neither is known.
pub fn default_dir() -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").filter(|v| !v.is_empty())?).join(".cache"),
    };
    // Relative values are to be ignored (XDG base directory specification).
    base.is_absolute()
        .then(|| base.join("retrace").join("index"))
}

/// What identifies a file's content, taken before it is read.
#[derive(Debug, Clone, PartialEq)]
struct FileKey {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_secs: i64,
    mtime_nanos: u32,
}

/// A file about to be read, with what its cache must match.
pub(super) struct Probe {
    key: FileKey,
    /// Up to [`HEAD_BYTES`] of the file's stored bytes.
    head: Vec<u8>,
    format: Format,
    stem: String,
    path: PathBuf,
    cache: PathBuf,
    /// Growth is not followed in compressed files or whole documents: they are reparsed.
    extensible: bool,
}

impl Probe {
    /// The file's size when probed.
    pub(super) fn size(&self) -> u64 {
        self.key.size
    }

    /// The file's cache.
    pub(super) fn cache_path(&self) -> &Path {
        &self.cache
    }
}

/// A cache that still describes its file, checked whole; its batches are read back one
/// at a time ([`Found::next_batch`]), so that they are decoded and handed over as they
/// are read, never all held at once.
pub(super) struct Found {
    cache: File,
    /// Where the body starts in the cache file.
    body_start: u64,
    body_len: u64,
    /// Per batch: its length in the cache, and the end of the bytes it covers in the
    /// source file (it starts where the one before ends).
    batches: std::vec::IntoIter<(u64, u64)>,
    /// The source bytes the next batch covers start here.
    covered: u64,
    pub(super) batch_count: u32,
    /// Where reading stopped (the end of the last complete line), and the bytes before.
    pub(super) consumed: u64,
    pub(super) tail: TailBytes,
    /// The file grew since: its bytes from `consumed` on are still to be parsed.
    pub(super) grown: bool,
}

/// One cached batch read back: its byte form, or why it could not be read, and the
/// source bytes it covers (to parse them instead when it cannot be used).
pub(super) struct CachedBatch {
    pub(super) bytes: std::io::Result<Vec<u8>>,
    pub(super) covers: std::ops::Range<u64>,
}

impl Found {
    /// The next batch, in file order.
    pub(super) fn next_batch(&mut self) -> Option<CachedBatch> {
        let (len, end) = self.batches.next()?;
        let covers = self.covered..end;
        self.covered = end;
        let mut bytes = Vec::new();
        let read = usize::try_from(len)
            .map_err(std::io::Error::other)
            .and_then(|len| {
                let mut header = [0; 8];
                self.cache.read_exact(&mut header)?;
                bytes.resize(len, 0);
                self.cache.read_exact(&mut bytes)
            });
        Some(CachedBatch {
            bytes: read.map(|()| bytes),
            covers,
        })
    }

    /// The cached batches' bytes as stored (to extend the cache when the file grew).
    /// Read after the batches.
    pub(super) fn body(&mut self) -> std::io::Result<Vec<u8>> {
        use std::io::{Seek, SeekFrom};
        let mut body = vec![0; usize::try_from(self.body_len).map_err(std::io::Error::other)?];
        self.cache.seek(SeekFrom::Start(self.body_start))?;
        self.cache.read_exact(&mut body)?;
        Ok(body)
    }
}

/// The checksum of the bytes just before where reading stopped.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct Tail {
    pub(super) len: u32,
    pub(super) crc: u32,
}

/// The last bytes read of a file (up to [`TAIL_BYTES`]), kept while it is read.
#[derive(Debug, Default)]
pub(super) struct TailBytes(Vec<u8>);

impl TailBytes {
    /// Notes `bytes` read after those before.
    pub(super) fn push(&mut self, bytes: &[u8]) {
        let bytes = &bytes[bytes.len().saturating_sub(TAIL_BYTES)..];
        let keep = TAIL_BYTES - bytes.len();
        let drop = self.0.len().saturating_sub(keep);
        self.0.drain(..drop);
        self.0.extend_from_slice(bytes);
    }

    pub(super) fn tail(&self) -> Tail {
        Tail {
            len: self.0.len() as u32,
            crc: crc32fast::hash(&self.0),
        }
    }
}

/// What a load read of one file, to be written as its cache.
pub(super) struct Update {
    pub(super) probe: Probe,
    /// The batches already cached (when the file grew), and how many.
    pub(super) body: Vec<u8>,
    pub(super) batch_count: u32,
    /// The byte forms of the batches parsed now, in order.
    pub(super) new: Vec<Vec<u8>>,
    pub(super) consumed: u64,
    pub(super) tail: Tail,
}

/// Looks at `src` before it is read: `None` when it cannot be cached (a stream, not a
/// regular file, or not on a system with inode numbers).
#[cfg(unix)]
pub(super) fn probe(dir: &Path, src: &Source, min_bytes: u64) -> Option<Probe> {
    use std::os::unix::fs::MetadataExt;
    if src.size < min_bytes || source::is_stream(&src.path) {
        return None;
    }
    let mut file = File::open(&src.path).ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() || meta.len() < min_bytes {
        return None;
    }
    let mut head = Vec::with_capacity(HEAD_BYTES);
    (&mut file)
        .take(HEAD_BYTES as u64)
        .read_to_end(&mut head)
        .ok()?;
    let key = FileKey {
        dev: meta.dev(),
        ino: meta.ino(),
        size: meta.len(),
        mtime_secs: meta.mtime(),
        mtime_nanos: u32::try_from(meta.mtime_nsec()).unwrap_or(0),
    };
    Some(Probe {
        cache: dir.join(cache_name(&key, "idx")),
        key,
        head,
        format: src.format,
        stem: src.stem.to_string(),
        path: src.path.clone(),
        extensible: !source::is_compressed(&src.path) && framing(src.format) == Framing::Lines,
    })
}

#[cfg(not(unix))]
pub(super) fn probe(_dir: &Path, _src: &Source, _min_bytes: u64) -> Option<Probe> {
    None
}

/// The cache of the probed file, when there is one that still describes it and is whole
/// (its length and checksum hold, every batch's length fits): checked in one pass over
/// its bytes with a small buffer, before any batch is used.
pub(super) fn find(probe: &Probe) -> Option<Found> {
    let mut cache = File::open(&probe.cache).ok()?;
    let len = cache.metadata().ok()?.len();
    let mut start = [0; 12];
    cache.read_exact(&mut start).ok()?;
    if start[..8] != MAGIC[..] {
        return None;
    }
    let header_len = u32::from_le_bytes(start[8..].try_into().ok()?) as usize;
    let mut header_bytes = vec![0; header_len.checked_add(4)?];
    if (header_len as u64).saturating_add(16) > len {
        return None;
    }
    cache.read_exact(&mut header_bytes).ok()?;
    let (header_bytes, crc) = header_bytes.split_at(header_len);
    if crc32fast::hash(header_bytes) != u32::from_le_bytes(crc.try_into().ok()?) {
        return None;
    }
    let header = Header::decode(header_bytes)?;
    let body_start = 16 + header_len as u64;
    if len != body_start.checked_add(header.body_len)? {
        return None;
    }
    let tail = header.stamp.check(probe)?;
    let batches = check_body(
        &mut cache,
        header.body_len,
        header.batch_count,
        header.body_crc,
    )?;
    use std::io::{Seek, SeekFrom};
    cache.seek(SeekFrom::Start(body_start)).ok()?;
    prune::touch(&cache);
    let grown = tail.is_some();
    Some(Found {
        cache,
        body_start,
        body_len: header.body_len,
        batches: batches.into_iter(),
        covered: 0,
        batch_count: header.batch_count,
        consumed: header.stamp.consumed(),
        tail: tail.unwrap_or_default(),
        grown,
    })
}

/// Reads the body (`body_len` bytes, `count` batches) once, checking its framing and
/// checksum; gives each batch's length and the end of the source bytes it covers.
fn check_body(
    cache: &mut File,
    body_len: u64,
    count: u32,
    body_crc: u32,
) -> Option<Vec<(u64, u64)>> {
    let mut reader = std::io::BufReader::with_capacity(1 << 20, cache.take(body_len));
    let mut crc = crc32fast::Hasher::new();
    let mut batches = Vec::with_capacity(count as usize);
    let mut buf = vec![0; 1 << 20];
    for _ in 0..count {
        let mut len = [0; 8];
        reader.read_exact(&mut len).ok()?;
        crc.update(&len);
        let len = u64::from_le_bytes(len);
        // A batch starts with its line count and the end of what it covers.
        let mut end = None;
        let mut left = len;
        while left > 0 {
            let n = left.min(buf.len() as u64) as usize;
            reader.read_exact(&mut buf[..n]).ok()?;
            crc.update(&buf[..n]);
            if end.is_none() {
                end = Some(u64::from_le_bytes(buf[..n].get(8..16)?.try_into().ok()?));
            }
            left -= n as u64;
        }
        batches.push((len, end?));
    }
    let mut rest = [0; 1];
    (reader.read(&mut rest).ok()? == 0 && crc.finalize() == body_crc).then_some(batches)
}

/// Writes the cache of a file just read; a failure only means no cache.
pub(super) fn store(dir: &Path, update: Update) -> std::io::Result<()> {
    create_private_dir(dir)?;
    // The body is written in its parts, not gathered: it is as large as the index.
    let lengths: Vec<[u8; 8]> = (update.new.iter())
        .map(|batch| (batch.len() as u64).to_le_bytes())
        .collect();
    let mut body: Vec<&[u8]> = vec![&update.body];
    for (len, batch) in lengths.iter().zip(&update.new) {
        body.push(len);
        body.push(batch);
    }
    let mut crc = crc32fast::Hasher::new();
    body.iter().for_each(|part| crc.update(part));
    let probe = &update.probe;
    let header = Header {
        stamp: stamp::Stamp::of(probe, update.consumed, update.tail),
        batch_count: update.batch_count + update.new.len() as u32,
        body_len: body.iter().map(|part| part.len() as u64).sum(),
        body_crc: crc.finalize(),
    };
    let header = header.encode();
    let mut start = Vec::with_capacity(MAGIC.len() + 8 + header.len());
    start.extend_from_slice(MAGIC);
    start.extend_from_slice(&(header.len() as u32).to_le_bytes());
    start.extend_from_slice(&header);
    start.extend_from_slice(&crc32fast::hash(&header).to_le_bytes());
    body.insert(0, &start);
    write_atomically(&probe.cache, &body)?;
    if let Some(root) = dir.parent() {
        prune::prune(root, prune::limit(), &probe.cache);
    }
    Ok(())
}

/// The cache file name of the file `key` for this build: `DEV-INODE-BUILD.EXT`, so that
/// two builds sharing a cache folder (a release and a debug build, an upgrade) each keep
/// their own cache of a file instead of replacing each other's; the size limit removes
/// those no longer used ([`prune`]).
fn cache_name(key: &FileKey, ext: &str) -> String {
    static TAG: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    let tag = TAG.get_or_init(|| crc32fast::hash(build().as_bytes()));
    format!("{:x}-{:x}-{tag:08x}.{ext}", key.dev, key.ino)
}

/// This build of retrace: a cache written by another is not read (its parser may differ).
fn build() -> String {
    let exe = std::env::current_exe()
        .and_then(std::fs::metadata)
        .ok()
        .map(|m| {
            let modified = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            format!("{}-{modified}", m.len())
        })
        .unwrap_or_default();
    format!("{} {exe}", env!("CARGO_PKG_VERSION"))
}

/// The bytes before `consumed`, when they are still those the cache saw.
fn unchanged_tail(path: &Path, consumed: u64, tail: Tail) -> Option<TailBytes> {
    use std::io::{Seek, SeekFrom};
    let from = consumed.checked_sub(u64::from(tail.len))?;
    let mut bytes = vec![0; tail.len as usize];
    let mut file = File::open(path).ok()?;
    file.seek(SeekFrom::Start(from)).ok()?;
    file.read_exact(&mut bytes).ok()?;
    (crc32fast::hash(&bytes) == tail.crc).then_some(TailBytes(bytes))
}

/// The index cache's header: what it keeps of its file (the [`stamp::Stamp`] every
/// per-file cache keeps), then its body's framing.
struct Header {
    stamp: stamp::Stamp,
    batch_count: u32,
    body_len: u64,
    body_crc: u32,
}

impl Header {
    fn encode(&self) -> Vec<u8> {
        let mut out = VERSION.to_le_bytes().to_vec();
        self.stamp.encode(&mut out);
        out.extend_from_slice(&self.batch_count.to_le_bytes());
        out.extend_from_slice(&self.body_len.to_le_bytes());
        out.extend_from_slice(&self.body_crc.to_le_bytes());
        out
    }

    fn decode(bytes: &[u8]) -> Option<Header> {
        let mut r = codec::In::new(bytes);
        if r.u32()? != VERSION {
            return None;
        }
        let header = Header {
            stamp: stamp::Stamp::read(&mut r)?,
            batch_count: r.u32()?,
            body_len: r.u64()?,
            body_crc: r.u32()?,
        };
        r.is_done().then_some(header)
    }
}

fn format_index(format: Format) -> u8 {
    Format::ALL.iter().position(|&f| f == format).unwrap_or(0) as u8
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// Writes `parts` to a new file beside `path` (owner-only) and renames it over `path`.
fn write_atomically(path: &Path, parts: &[&[u8]]) -> std::io::Result<()> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("cache");
    let temp = dir.join(format!(
        "{name}.tmp.{}.{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&temp).and_then(|file| {
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        for part in parts {
            out.write_all(part)?;
        }
        out.flush()
    });
    let renamed = written.and_then(|()| std::fs::rename(&temp, path));
    if renamed.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    renamed
}

/// Removes temporary files that a process ended while writing left behind.
pub(super) fn remove_stale_temps(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let stale = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.contains(".tmp."))
            && entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > STALE_TEMP);
        if stale {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}
