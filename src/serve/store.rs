//! The folder of received traces: append-only JSON-lines files, each line written whole
//! and fsynced before the request is acknowledged, a new file when the current one reaches
//! its size limit or the receiver starts again (so a line torn by a crash is never glued
//! to the next). Knows nothing of HTTP or OTLP.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Appends lines to rotating files in one folder.
pub struct Store {
    dir: PathBuf,
    max_file_bytes: u64,
    current: Option<Current>,
    /// Distinguishes files started within the same second.
    seq: u32,
}

struct Current {
    file: File,
    path: PathBuf,
    len: u64,
}

impl Store {
    /// Opens (creating it if needed) the folder `dir`.
    pub fn open(dir: &Path, max_file_bytes: u64) -> io::Result<Store> {
        fs::create_dir_all(dir)?;
        Ok(Store {
            dir: dir.to_path_buf(),
            max_file_bytes: max_file_bytes.max(1),
            current: None,
            seq: 0,
        })
    }

    /// Writes `line` and a newline, durably, and returns the file it went to. On an
    /// error nothing of it is left behind (the file is cut back, or given up for a new
    /// one), so the next line starts clean.
    pub fn append(&mut self, line: &[u8]) -> io::Result<PathBuf> {
        let needed = line.len() as u64 + 1;
        if matches!(&self.current, Some(c) if c.len > 0 && c.len + needed > self.max_file_bytes) {
            self.current = None;
        }
        let mut record = Vec::with_capacity(line.len() + 1);
        record.extend_from_slice(line);
        record.push(b'\n');
        let Some(current) = self.current.as_mut() else {
            let current = self.create(&record)?;
            let path = current.path.clone();
            self.current = Some(current);
            return Ok(path);
        };
        let written = current
            .file
            .write_all(&record)
            .and_then(|()| current.file.sync_data());
        match written {
            Ok(()) => {
                current.len += needed;
                Ok(current.path.clone())
            }
            Err(e) => {
                let clean = current.file.set_len(current.len).is_ok()
                    && current.file.seek(SeekFrom::Start(current.len)).is_ok();
                if !clean {
                    self.current = None;
                }
                Err(e)
            }
        }
    }

    /// Starts a file with its first record. The file appears under its name only once
    /// that record is in it: a watcher never sees it empty or with half a first line
    /// (it would tell the format from nothing).
    fn create(&mut self, first: &[u8]) -> io::Result<Current> {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
        let pid = std::process::id();
        loop {
            self.seq += 1;
            let name = format!("traces-{stamp}-{pid}-{:03}.jsonl", self.seq);
            let path = self.dir.join(&name);
            if path.exists() {
                continue;
            }
            // Not a run file by its name, so no reader picks it up half-written.
            let staging = self.dir.join(format!(".{name}.partial"));
            let mut file = OpenOptions::new()
                .append(true)
                .create(true)
                .truncate(false)
                .open(&staging)?;
            let staged = file
                .set_len(0)
                .and_then(|()| file.write_all(first))
                .and_then(|()| file.sync_data());
            if let Err(e) = staged {
                let _ = fs::remove_file(&staging);
                return Err(e);
            }
            // A link, unlike a rename, never replaces a file of the same name; where
            // links are not supported, a rename to the name found free above.
            let published = match fs::hard_link(&staging, &path) {
                Ok(()) => fs::remove_file(&staging),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let _ = fs::remove_file(&staging);
                    continue;
                }
                Err(_) => fs::rename(&staging, &path),
            };
            if let Err(e) = published {
                let _ = fs::remove_file(&staging);
                return Err(e);
            }
            // The new name must survive a crash as well as the lines in it.
            if let Ok(dir) = File::open(&self.dir) {
                let _ = dir.sync_all();
            }
            return Ok(Current {
                file,
                path,
                len: first.len() as u64,
            });
        }
    }
}
/// A file of the folder whose last line has no newline: a request that was being
/// written when the receiver stopped, never acknowledged. Readers leave such a line out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornFile {
    pub path: PathBuf,
    /// Bytes after the last newline.
    pub partial_bytes: u64,
}

/// The `.jsonl` files of `dir` that end with a partial line.
pub fn torn_files(dir: &Path) -> io::Result<Vec<TornFile>> {
    let mut torn = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(torn),
        Err(e) => return Err(e),
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl") && p.is_file())
        .collect();
    paths.sort();
    for path in paths {
        let partial_bytes = partial_tail(&path)?;
        if partial_bytes > 0 {
            torn.push(TornFile {
                path,
                partial_bytes,
            });
        }
    }
    Ok(torn)
}

/// Bytes after the last newline of a file, read backwards in blocks.
fn partial_tail(path: &Path) -> io::Result<u64> {
    let mut file = File::open(path)?;
    let size = file.metadata()?.len();
    let mut end = size;
    let mut block = vec![0u8; 64 * 1024];
    while end > 0 {
        let start = end.saturating_sub(block.len() as u64);
        let buf = &mut block[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(buf)?;
        if let Some(p) = memchr::memrchr(b'\n', buf) {
            return Ok(size - (start + p as u64 + 1));
        }
        end = start;
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_go_to_new_files_past_the_size_limit() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("received"), 30).unwrap();
        let a = store.append(b"0123456789").unwrap();
        let b = store.append(b"0123456789").unwrap();
        let c = store.append(b"0123456789").unwrap();
        // A line longer than the limit still goes somewhere, alone.
        let d = store.append(&[b'x'; 100]).unwrap();
        assert_eq!(a, b);
        assert_ne!(b, c);
        assert_ne!(c, d);
        assert_eq!(fs::read_to_string(&a).unwrap(), "0123456789\n0123456789\n");
        // Nothing else is left in the folder (no staging files).
        let mut names: Vec<String> = fs::read_dir(dir.path().join("received"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names.len(), 3, "{names:?}");
        assert!(names
            .iter()
            .all(|n| n.starts_with("traces-") && n.ends_with(".jsonl")));
        assert!(torn_files(&dir.path().join("received")).unwrap().is_empty());
    }

    #[test]
    fn a_reopened_store_never_appends_to_an_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let first = Store::open(dir.path(), 1 << 20)
            .unwrap()
            .append(b"{}")
            .unwrap();
        let second = Store::open(dir.path(), 1 << 20)
            .unwrap()
            .append(b"{}")
            .unwrap();
        assert_ne!(first, second);
    }

    #[test]
    fn torn_files_are_found_with_the_size_of_their_partial_line() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a.jsonl"), b"{}\n{\"resou").unwrap();
        fs::write(dir.path().join("b.jsonl"), b"{}\n").unwrap();
        fs::write(dir.path().join("c.jsonl"), b"").unwrap();
        fs::write(dir.path().join("d.jsonl"), vec![b'y'; 200_000]).unwrap();
        let torn = torn_files(dir.path()).unwrap();
        assert_eq!(
            torn,
            vec![
                TornFile {
                    path: dir.path().join("a.jsonl"),
                    partial_bytes: 7
                },
                TornFile {
                    path: dir.path().join("d.jsonl"),
                    partial_bytes: 200_000
                },
            ]
        );
    }
}
