//! A test of each native chunk's lines that the load's parser threads run while the
//! chunk's bytes are in memory ([`LoadOptions::line_scan`](super::LoadOptions)), so that
//! a one-shot search reads the file once. The index knows nothing of what is tested:
//! the searcher implements [`LineScan`], and gets back, with each batch, the lines that
//! qualified ([`super::Batch::take_scanned`]).

use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use super::parse::Chunk;
use crate::model::Format;

/// What the parser threads run on each chunk of a native file.
pub trait LineScan: Send + Sync {
    /// `lines`: whole lines (each ending with `\n`, a byte-order mark left out) that
    /// start at byte `base` of the history's file numbered `file`. Pushes the file
    /// offset of each line that qualifies, with its score. A line's bytes are those
    /// before its `\n`, less a trailing `\r`: the bytes of the record the index keeps.
    fn scan(&self, file: u32, lines: &[u8], base: u64, found: &mut Vec<(u64, u32)>);

    /// Told by the load's reader, before it hands over a native file's batches read back
    /// from the index cache, that `bytes` of the file at `path` will not be scanned, so
    /// that the scanner can read them itself while the load goes on.
    fn not_scanned(&self, _file: u32, _path: &Path, _bytes: Range<u64>) {}
}

/// A [`LineScan`] for [`LoadOptions`](super::LoadOptions) (which is `Debug`).
#[derive(Clone)]
pub struct LineScanHook(pub Arc<dyn LineScan>);

impl fmt::Debug for LineScanHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LineScanHook")
    }
}

/// The lines of one chunk that a [`LineScan`] passed.
#[derive(Debug, Clone, Default)]
pub struct ScannedLines {
    /// The file's index in [`History::files`](super::History::files).
    pub file: u32,
    /// The bytes of the file that were scanned.
    pub bytes: Range<u64>,
    /// Offsets of the lines that qualified, with their scores, in file order.
    pub found: Vec<(u64, u32)>,
}

/// Runs `scan`, if any, over the lines of a chunk of a native file about to be parsed.
pub(super) fn scan_chunk(scan: Option<&dyn LineScan>, chunk: &Chunk) -> Option<Box<ScannedLines>> {
    const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";
    let scan = scan.filter(|_| chunk.format == Format::Native)?;
    let (base, data) = (chunk.base, &chunk.buf[..chunk.len]);
    // The parser leaves a file's byte-order mark out of its first record.
    let skip = if base == 0 && data.starts_with(UTF8_BOM) {
        UTF8_BOM.len()
    } else {
        0
    };
    let mut found = Vec::new();
    scan.scan(chunk.file, &data[skip..], base + skip as u64, &mut found);
    Some(Box::new(ScannedLines {
        file: chunk.file,
        bytes: base..base + data.len() as u64,
        found,
    }))
}
