//! Keeps the per-file caches (the index cache and the word caches beside it) under a
//! size limit: after a cache is written, the least recently used cache files are removed
//! until all of them fit. A cache file's modification time is when it was last used
//! (written, or read to open its file), so a history opened every day keeps its caches
//! while those of files long gone go first.

use std::path::Path;
use std::time::SystemTime;

/// The variable that sets the limit: bytes, or with a suffix `K`, `M` or `G` (powers of
/// 1024); `0` keeps no cache file beyond the one just written.
pub const LIMIT_ENV: &str = "RETRACE_CACHE_LIMIT";
/// The limit when [`LIMIT_ENV`] is not set (or not a size).
pub const DEFAULT_LIMIT: u64 = 4 << 30;
/// The folders of per-file caches, beside each other under the cache root.
const FOLDERS: [&str; 2] = ["index", "words"];

/// The limit in force (see [`LIMIT_ENV`]).
pub fn limit() -> u64 {
    std::env::var(LIMIT_ENV)
        .ok()
        .and_then(|v| parse_size(&v))
        .unwrap_or(DEFAULT_LIMIT)
}

/// `123`, `64K`, `512M`, `4G` (case-insensitive, powers of 1024) as bytes.
fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let (digits, unit) = match text.char_indices().last()? {
        (at, c) if c.is_ascii_alphabetic() => (&text[..at], c.to_ascii_uppercase()),
        _ => (text, 'B'),
    };
    let shift = match unit {
        'B' => 0,
        'K' => 10,
        'M' => 20,
        'G' => 30,
        _ => return None,
    };
    digits.trim().parse::<u64>().ok()?.checked_mul(1 << shift)
}

/// Notes that the cache file `file` was used now. Failing only makes it look older.
pub fn touch(file: &std::fs::File) {
    let _ = file.set_modified(SystemTime::now());
}

/// Removes the least recently used cache files in the per-file cache folders under
/// `root` (`…/retrace`) until they hold at most `limit` bytes; `keep` (the file just
/// written) is never removed. Files being written (temporary names) are left alone; a
/// file another process has open or mapped stays readable to it until it closes it.
pub fn prune(root: &Path, limit: u64, keep: &Path) {
    let mut files: Vec<(SystemTime, u64, std::path::PathBuf)> = FOLDERS
        .iter()
        .filter_map(|folder| std::fs::read_dir(root.join(folder)).ok())
        .flatten()
        .flatten()
        .filter(|entry| {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            (name.ends_with(".idx") || name.ends_with(".words")) && !name.contains(".tmp.")
        })
        .filter_map(|entry| {
            let meta = entry.metadata().ok()?;
            let used = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            meta.is_file().then(|| (used, meta.len(), entry.path()))
        })
        .collect();
    let mut total: u64 = files.iter().map(|f| f.1).sum();
    if total <= limit {
        return;
    }
    files.sort();
    for (_, len, path) in files {
        if total <= limit {
            break;
        }
        if path != keep && std::fs::remove_file(&path).is_ok() {
            total -= len;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_with_or_without_a_unit() {
        assert_eq!(parse_size("1234"), Some(1234));
        assert_eq!(parse_size("64k"), Some(64 << 10));
        assert_eq!(parse_size(" 512M "), Some(512 << 20));
        assert_eq!(parse_size("4G"), Some(4 << 30));
        assert_eq!(parse_size("0"), Some(0));
        for bad in ["", "G", "lots", "4T", "-1", "1.5G"] {
            assert_eq!(parse_size(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_least_recently_used_files_go_first_until_the_rest_fit() {
        let root = tempfile::tempdir().expect("temp dir");
        let (index, words) = (root.path().join("index"), root.path().join("words"));
        std::fs::create_dir_all(&index).expect("index folder");
        std::fs::create_dir_all(&words).expect("words folder");
        let base = SystemTime::now() - std::time::Duration::from_secs(1000);
        let put = |path: std::path::PathBuf, age: u64| {
            std::fs::write(&path, vec![0u8; 100]).expect("write");
            let file = std::fs::File::options()
                .write(true)
                .open(&path)
                .expect("open");
            file.set_modified(base + std::time::Duration::from_secs(age))
                .expect("set time");
            path
        };
        let oldest = put(index.join("1-1.idx"), 1);
        let old_words = put(words.join("1-1.words"), 2);
        let recent = put(index.join("2-2.idx"), 3);
        let written = put(words.join("3-3.words"), 0);
        let temp = put(index.join("4-4.idx.tmp.9.0"), 0);
        let other = put(root.path().join("index/notes.txt"), 0);
        prune(root.path(), 250, &written);
        for (path, kept) in [
            (&oldest, false),
            (&old_words, false),
            (&recent, true),
            (&written, true),
            (&temp, true),
            (&other, true),
        ] {
            assert_eq!(path.exists(), kept, "{}", path.display());
        }
        // Under the limit: nothing goes.
        prune(root.path(), 1 << 20, &written);
        assert!(recent.exists());
    }
}
