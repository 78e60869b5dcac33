//! What a per-file cache records of its source file, and whether that still describes
//! it: the same keying and checks as the index cache's own, for the other caches kept
//! per source file (the word index's, [`crate::search::text_index`]).

use std::io::Read;
use std::path::{Path, PathBuf};

use super::codec::In;
use super::{FileKey, Probe, Tail, TailBytes, HEAD_BYTES, TAIL_BYTES};
use crate::model::Format;
use crate::source::Source;

/// A source file about to be cached or checked against its cache.
pub struct FileProbe {
    probe: Probe,
}

/// How a cache fits its file now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// The file is as it was cached.
    Unchanged,
    /// The file grew; its bytes up to where the cache stopped are unchanged.
    Grown,
}

/// What a cache keeps of its file: identity, size, modification time, a checksum of
/// its head and of the bytes before where the cache stopped, this build of retrace.
#[derive(Debug, Clone, PartialEq)]
pub struct Stamp {
    build: String,
    format: Format,
    stem: String,
    key: FileKey,
    head_len: u32,
    head_crc: u32,
    /// Where what the cache holds ends in the file.
    consumed: u64,
    tail: Tail,
}

impl FileProbe {
    /// Looks at the file at `path` (read as `format`); its cache is
    /// `dir/DEV-INODE-BUILD.EXT`.
    /// `None` when it cannot be cached (not a regular file, a stream, smaller than
    /// `min_bytes`).
    pub fn new(dir: &Path, ext: &str, path: &Path, format: Format, min_bytes: u64) -> Option<Self> {
        let source = Source {
            path: path.to_path_buf(),
            format,
            stem: crate::source::stem(path).into(),
            size: std::fs::metadata(path).ok()?.len(),
        };
        let mut probe = super::probe(dir, &source, min_bytes)?;
        probe.cache = dir.join(super::cache_name(&probe.key, ext));
        Some(FileProbe { probe })
    }

    pub fn cache_path(&self) -> &Path {
        &self.probe.cache
    }

    /// The file's modification time when probed.
    pub fn modified(&self) -> std::time::SystemTime {
        let key = &self.probe.key;
        let since = std::time::Duration::new(key.mtime_secs.max(0) as u64, key.mtime_nanos);
        std::time::UNIX_EPOCH + since
    }

    /// The stamp of a cache holding what the file's bytes `..consumed` gave; `None` when
    /// those bytes cannot be read back.
    pub fn stamp(&self, consumed: u64) -> Option<Stamp> {
        let probe = &self.probe;
        let from = consumed.saturating_sub(TAIL_BYTES as u64);
        let mut bytes = vec![0; (consumed - from) as usize];
        let mut file = std::fs::File::open(&probe.path).ok()?;
        std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(from)).ok()?;
        file.read_exact(&mut bytes).ok()?;
        let tail = Tail {
            len: bytes.len() as u32,
            crc: crc32fast::hash(&bytes),
        };
        Some(Stamp::of(probe, consumed, tail))
    }

    /// Whether a cache stamped `stamp` still describes the file (see the index cache's
    /// rules), and how.
    pub fn fit(&self, stamp: &Stamp) -> Option<Fit> {
        Some(match stamp.check(&self.probe)? {
            None => Fit::Unchanged,
            Some(_) => Fit::Grown,
        })
    }
}

impl Stamp {
    /// The stamp of a cache of `probe`'s file holding what its bytes `..consumed` gave,
    /// `tail` being the checksum of the bytes just before `consumed`.
    pub(super) fn of(probe: &Probe, consumed: u64, tail: Tail) -> Stamp {
        let head_len = probe.head.len().min(HEAD_BYTES);
        Stamp {
            build: super::build(),
            format: probe.format,
            stem: probe.stem.clone(),
            key: probe.key.clone(),
            head_len: head_len as u32,
            head_crc: crc32fast::hash(&probe.head[..head_len]),
            consumed,
            tail,
        }
    }

    /// The format the file was read as.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Where what the cache holds ends in the file.
    pub(super) fn consumed(&self) -> u64 {
        self.consumed
    }

    /// Whether this stamp still describes `probe`'s file: `None` when not (another file,
    /// build or format, a changed head, or a file rewritten rather than grown);
    /// `Some(None)` when the file is as it was cached; `Some(Some(tail))` when it grew,
    /// with the unchanged bytes just before where the cache stopped.
    pub(super) fn check(&self, probe: &Probe) -> Option<Option<TailBytes>> {
        if self.build != super::build()
            || self.format != probe.format
            || self.stem != probe.stem
            || self.key.dev != probe.key.dev
            || self.key.ino != probe.key.ino
            || probe.head.len() < self.head_len as usize
            || crc32fast::hash(&probe.head[..self.head_len as usize]) != self.head_crc
        {
            return None;
        }
        if self.key == probe.key {
            return Some(None);
        }
        if probe.extensible && probe.key.size > self.key.size {
            return super::unchanged_tail(&probe.path, self.consumed, self.tail).map(Some);
        }
        None
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut put = |b: &[u8]| out.extend_from_slice(b);
        put(&(self.build.len() as u32).to_le_bytes());
        put(self.build.as_bytes());
        put(&[super::format_index(self.format)]);
        put(&(self.stem.len() as u32).to_le_bytes());
        put(self.stem.as_bytes());
        put(&self.key.dev.to_le_bytes());
        put(&self.key.ino.to_le_bytes());
        put(&self.key.size.to_le_bytes());
        put(&self.key.mtime_secs.to_le_bytes());
        put(&self.key.mtime_nanos.to_le_bytes());
        put(&self.head_len.to_le_bytes());
        put(&self.head_crc.to_le_bytes());
        put(&self.consumed.to_le_bytes());
        put(&self.tail.len.to_le_bytes());
        put(&self.tail.crc.to_le_bytes());
    }

    /// Reads a stamp that is the whole of `bytes`.
    pub fn decode(bytes: &[u8]) -> Option<Stamp> {
        let mut r = In::new(bytes);
        let stamp = Stamp::read(&mut r)?;
        r.is_done().then_some(stamp)
    }

    /// Reads a stamp from where `r` stands.
    pub(super) fn read(r: &mut In) -> Option<Stamp> {
        Some(Stamp {
            build: r.str()?.to_owned(),
            format: *Format::ALL.get(r.u8()? as usize)?,
            stem: r.str()?.to_owned(),
            key: FileKey {
                dev: r.u64()?,
                ino: r.u64()?,
                size: r.u64()?,
                mtime_secs: r.i64()?,
                mtime_nanos: r.u32()?,
            },
            head_len: r.u32()?,
            head_crc: r.u32()?,
            consumed: r.u64()?,
            tail: Tail {
                len: r.u32()?,
                crc: r.u32()?,
            },
        })
    }
}

/// Writes `parts` as the file `path` in `dir` (made owner-only if new), atomically: a
/// reader sees the whole file or the one before. The caches are then kept under their
/// size limit ([`super::prune`]).
pub fn write_private(dir: &Path, path: &Path, parts: &[&[u8]]) -> std::io::Result<()> {
    super::create_private_dir(dir)?;
    super::write_atomically(path, parts)?;
    if let Some(root) = dir.parent() {
        super::prune::prune(root, super::prune::limit(), path);
    }
    Ok(())
}

/// Removes temporary files that a process ended while writing left in `dir`.
pub fn remove_stale_temps(dir: &Path) {
    super::remove_stale_temps(dir)
}

/// A sibling folder of the index cache folder `index_dir` (`…/retrace/NAME`).
pub fn sibling_dir(index_dir: &Path, name: &str) -> PathBuf {
    index_dir.with_file_name(name)
}
