//! Finds run files under the given paths and opens them, decompressing gzip and zstd.
//! Knows nothing about JSON.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

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
}

const RUN_FILE_SUFFIXES: [&str; 4] = [".jsonl", ".ndjson", ".jsonl.gz", ".jsonl.zst"];

/// True for names retrace reads when it finds them in a folder.
pub fn is_run_file_name(name: &str) -> bool {
    RUN_FILE_SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// Expands the given paths: files are taken as they are (whatever their name), folders
/// are walked recursively for run files. A missing or unreadable path is an error.
pub fn discover(paths: &[PathBuf]) -> Result<Discovered, Error> {
    let mut found = Discovered::default();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if meta.is_dir() {
            walk(path, &mut found)?;
        } else {
            found.files.push(Found {
                path: path.clone(),
                explicit: true,
                needs_known_format: false,
            });
        }
    }
    Ok(found)
}

fn walk(dir: &Path, found: &mut Discovered) -> Result<(), Error> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
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
        if meta.is_dir() {
            walk(&path, found)?;
        } else if is_run_file_name(&name) || name.ends_with(".json") {
            found.files.push(Found {
                needs_known_format: !is_run_file_name(&name),
                path,
                explicit: false,
            });
        } else {
            found.skipped += 1;
        }
    }
    Ok(())
}

/// The first `limit` bytes of a file's (decompressed) content.
pub fn head(path: &Path, limit: usize) -> Result<Vec<u8>, Error> {
    let mut head = Vec::with_capacity(limit.min(1 << 16));
    open(path)?
        .take(limit as u64)
        .read_to_end(&mut head)
        .map_err(|e| Error::io(path, e))?;
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

/// Opens a file for sequential reading, decompressing by its name.
pub fn open(path: &Path) -> Result<Box<dyn Read + Send>, Error> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    Ok(match Compression::of(path) {
        Compression::None => Box::new(file),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(file))),
        Compression::Zstd => Box::new(
            ruzstd::decoding::StreamingDecoder::new(BufReader::new(file))
                .map_err(|e| Error::io(path, io::Error::new(io::ErrorKind::InvalidData, e)))?,
        ),
    })
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
    if Compression::of(path) == Compression::None {
        use std::io::{Seek, SeekFrom};
        let mut file = File::open(path).map_err(ioerr)?;
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
            io::BufRead::read_until(&mut BufReader::new(reader.take(u64::MAX)), b'\n', &mut buf)?;
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
