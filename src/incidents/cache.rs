//! A derived cache of the library's incidents prepared for `similar`, so the command line
//! does not read and parse every record file on each call. It is kept outside the
//! library (`$XDG_CACHE_HOME/retrace/incidents/`, else `~/.cache/retrace/incidents/`),
//! one file per library named after its canonical path: the library may be shared (a
//! git repository), the cache is this user's, owner-only. Each entry is checked against
//! its record file's name, size and modification time (one folder listing and a stat per
//! file); added and changed records are read again, removed ones dropped, the rest
//! reused. The file starts with a text line giving its format, its body's length and CRC-32: a damaged cache is never
//! trusted, only rebuilt. It is written atomically, so processes sharing it each see a
//! whole one (the last written wins).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::similar::{rank, Failure, Match, Prepared};
use super::store::{problem_reason, read_record, IncidentStore, ReadError, StoreProblem};
use crate::postmortem::notes::{atomic_write_private, remove_stale_temporaries, safe_file_name};

/// The first word of a cache file; the number after it changes with the format.
const MAGIC: &str = "retrace-incidents-cache";
/// The body is bincode (fixed-width integers, length-prefixed strings): a third of the
/// size of JSON, and parsed several times faster.
const FORMAT: u32 = 1;

/// A record modified this close to the listing could change again within the
/// filesystem's clock tick without its size or time changing: it is not cached, and is
/// read again next time (as git treats "racily clean" files).
const RACY: Duration = Duration::from_secs(2);

/// What identifies one version of a record file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Stamp {
    size: u64,
    secs: u64,
    nanos: u32,
}

impl Stamp {
    fn of(meta: &std::fs::Metadata) -> Option<Stamp> {
        let since = meta.modified().ok()?.duration_since(UNIX_EPOCH).ok()?;
        Some(Stamp {
            size: meta.len(),
            secs: since.as_secs(),
            nanos: since.subsec_nanos(),
        })
    }

    fn modified(&self) -> SystemTime {
        UNIX_EPOCH + Duration::new(self.secs, self.nanos)
    }
}

/// One record file as cached: its facts, or why it could not be read.
// Nearly every entry is `Prepared`: boxing it would only add an allocation each.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Serialize, Deserialize)]
enum Content {
    #[serde(rename = "ok")]
    Prepared(Prepared),
    #[serde(rename = "bad")]
    Problem(String),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    name: String,
    stamp: Stamp,
    content: Content,
}

#[derive(Serialize, Deserialize)]
struct CacheFile {
    /// The library's canonical path (two libraries never share a file).
    library: String,
    entries: Vec<Entry>,
}

/// Where the incident caches live: `$XDG_CACHE_HOME/retrace/incidents`, else
/// `~/.cache/retrace/incidents`; `None` when neither is set.
pub fn default_dir() -> Option<PathBuf> {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    env("XDG_CACHE_HOME")
        .or_else(|| env("HOME").map(|h| h.join(".cache")))
        .map(|d| d.join("retrace").join("incidents"))
}

/// The cache file of the library at `root` in `dir`; `None` when the library's path
/// cannot be resolved or is not text.
pub fn file_for(dir: &Path, root: &Path) -> Option<(PathBuf, String)> {
    let canonical = std::fs::canonicalize(root).ok()?;
    let key = canonical.to_str()?.to_string();
    Some((dir.join(format!("{}.cache", safe_file_name(&key))), key))
}

/// How a [`PreparedLibrary`] was obtained (for the benchmark and tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheUse {
    /// Entries taken from the cache.
    pub reused: usize,
    /// Record files read (new, changed, or not cacheable).
    pub read: usize,
    /// The cache file was missing, damaged or of another library, and was rebuilt.
    pub rebuilt: bool,
    /// The cache file was written.
    pub written: bool,
}

/// Every incident of a library prepared for ranking, and the files that could not be
/// read; the records themselves stay on disk until one is shown.
#[derive(Debug, Default)]
pub struct PreparedLibrary {
    /// In the library's order (failure time, then id)…
    prepared: Vec<Prepared>,
    /// …and each one's record file name.
    names: Vec<String>,
    pub problems: Vec<StoreProblem>,
    pub cache: CacheUse,
}

impl PreparedLibrary {
    /// The library of `store`, through the cache in `cache_dir` (read, brought up to
    /// date, and written back when anything changed). A cache that cannot be written is
    /// not an error: the answer is the same, only the next call is slower.
    pub fn load(
        store: &IncidentStore,
        cache_dir: &Path,
    ) -> Result<PreparedLibrary, crate::postmortem::notes::NotesError> {
        let listed_at = SystemTime::now();
        let files = store.record_files()?;
        if files.is_empty() {
            return Ok(PreparedLibrary::default());
        }
        let Some((cache_file, key)) = file_for(cache_dir, store.library().root()) else {
            return Ok(Self::from_entries(read_entries(&files), store, true));
        };
        let mut cache = CacheUse::default();
        // The cache is read while the record files are stat'ed (both wait on the disk).
        let (from_cache, stamps) = std::thread::scope(|scope| {
            let reader = scope.spawn(|| read_cache(&cache_file, &key));
            let stamps = super::parallel_map(&files, |p| std::fs::metadata(p).ok());
            let from_cache = reader
                .join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e));
            (from_cache, stamps)
        });
        let mut cached: HashMap<String, Entry> = match from_cache {
            Some(entries) => entries.into_iter().map(|e| (e.name.clone(), e)).collect(),
            None => {
                cache.rebuilt = true;
                HashMap::new()
            }
        };
        let mut entries: Vec<Entry> = Vec::with_capacity(files.len());
        let mut to_read: Vec<PathBuf> = Vec::new();
        for (path, meta) in files.iter().zip(stamps) {
            let Some(meta) = meta else { continue }; // Removed while listing.
            let name = file_name(path);
            match (cached.remove(&name), Stamp::of(&meta)) {
                (Some(e), Some(stamp)) if e.stamp == stamp => entries.push(e),
                _ => to_read.push(path.clone()),
            }
        }
        cache.reused = entries.len();
        cache.read = to_read.len();
        entries.extend(read_entries(&to_read));
        // Entries left in `cached` are of removed records.
        let changed = cache.read > 0 || !cached.is_empty() || cache.rebuilt;
        if changed {
            let settled: Vec<Entry> = entries
                .iter()
                .filter(|e| {
                    e.stamp
                        .modified()
                        .checked_add(RACY)
                        .is_some_and(|t| t < listed_at)
                })
                .cloned()
                .collect();
            cache.written = write_cache(&cache_file, &key, settled).is_ok();
        }
        let mut library = Self::from_entries(entries, store, false);
        library.cache = cache;
        Ok(library)
    }

    fn from_entries(entries: Vec<Entry>, store: &IncidentStore, all_read: bool) -> PreparedLibrary {
        let mut library = PreparedLibrary::default();
        let mut named = Vec::with_capacity(entries.len());
        for e in entries {
            match e.content {
                Content::Prepared(p) => named.push((e.name, p)),
                Content::Problem(reason) => library.problems.push(StoreProblem {
                    file: store.dir().join(&e.name),
                    reason,
                }),
            }
        }
        named.sort_by(|a, b| a.1.order_key().cmp(&b.1.order_key()));
        (library.names, library.prepared) = named.into_iter().unzip();
        library.problems.sort_by(|a, b| a.file.cmp(&b.file));
        if all_read {
            library.cache.read = library.prepared.len() + library.problems.len();
        }
        library
    }

    /// How many incidents could be read.
    pub fn len(&self) -> usize {
        self.prepared.len()
    }

    pub fn is_empty(&self) -> bool {
        self.prepared.is_empty()
    }

    /// The incidents most like `failure`, best first, at most `limit`, as
    /// [`super::similar::SimilarIndex::similar`] answers: only the shown incidents' records
    /// (and their notes, for ticked action items) are read. A record removed or damaged
    /// since the library was listed is passed over.
    pub fn similar(&self, store: &IncidentStore, failure: &Failure, limit: usize) -> Vec<Match> {
        let ranking = rank(&self.prepared, failure);
        let (mut hits, mut incidents) = (Vec::new(), Vec::new());
        for hit in &ranking.hits {
            if incidents.len() == limit {
                break;
            }
            if let Ok(incident) = read_record(&store.dir().join(&self.names[hit.index])) {
                hits.push(hit);
                incidents.push(incident);
            }
        }
        store.refresh_actions(&mut incidents);
        hits.iter()
            .zip(&incidents)
            .map(|(hit, incident)| ranking.explain(hit, incident, &self.prepared[hit.index]))
            .collect()
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Reads and prepares `files` (in parallel), stamped as they were read.
fn read_entries(files: &[PathBuf]) -> Vec<Entry> {
    super::parallel_map(files, |path| {
        // The stamp is taken before reading: a record replaced meanwhile has another
        // stamp, and is read again next time.
        let stamp = std::fs::metadata(path).ok().as_ref().and_then(Stamp::of);
        let content = match read_record(path) {
            Ok(i) => Content::Prepared(Prepared::of(&i)),
            Err(ReadError::Missing) => return None,
            Err(ReadError::Other(e)) => Content::Problem(problem_reason(e)),
        };
        Some(Entry {
            name: file_name(path),
            // Without a stamp the entry never matches, so it is read each time.
            stamp: stamp.unwrap_or(Stamp {
                size: u64::MAX,
                secs: 0,
                nanos: 0,
            }),
            content,
        })
    })
    .into_iter()
    .flatten()
    .collect()
}

/// The cache's entries, when the file is whole, this user's, and of this library.
fn read_cache(path: &Path, library: &str) -> Option<Vec<Entry>> {
    let bytes = std::fs::read(path).ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // Someone else's file in our cache folder is not trusted.
        let meta = std::fs::metadata(path).ok()?;
        // SAFETY: geteuid has no preconditions and cannot fail.
        if meta.uid() != unsafe { libc::geteuid() } {
            return None;
        }
    }
    let newline = bytes.iter().position(|&b| b == b'\n')?;
    let header = std::str::from_utf8(&bytes[..newline]).ok()?;
    let body = &bytes[newline + 1..];
    let mut words = header.split(' ');
    let well_formed = words.next() == Some(MAGIC)
        && words.next()?.parse::<u32>().ok()? == FORMAT
        && words.next()?.parse::<usize>().ok()? == body.len()
        && u32::from_str_radix(words.next()?, 16).ok()? == crc32(body)
        && words.next().is_none();
    if !well_formed {
        return None;
    }
    let file: CacheFile = bincode::deserialize(body).ok()?;
    (file.library == library).then_some(file.entries)
}

fn write_cache(path: &Path, library: &str, entries: Vec<Entry>) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    create_private_dir(dir)?;
    let body = bincode::serialize(&CacheFile {
        library: library.to_string(),
        entries,
    })
    .map_err(std::io::Error::other)?;
    let mut bytes = format!("{MAGIC} {FORMAT} {} {:08x}\n", body.len(), crc32(&body)).into_bytes();
    bytes.extend_from_slice(&body);
    atomic_write_private(path, &bytes)?;
    remove_stale_temporaries(path);
    Ok(())
}

/// Creates `dir` (and its parents) readable by its owner only.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = flate2::Crc::new();
    crc.update(bytes);
    crc.sum()
}
