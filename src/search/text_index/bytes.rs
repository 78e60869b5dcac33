//! The bytes a sealed segment keeps: its own (built in memory), or a part of a word cache
//! file mapped into memory and shared by all the segments read from it, so that a
//! reopened index is used in place rather than copied out of the file.

use std::ops::{Deref, Range};
use std::sync::Arc;

/// A cache file's bytes: mapped when the system allows it, else read.
pub(super) type Backing = Arc<dyn AsRef<[u8]> + Send + Sync>;

/// Bytes owned or shared (see the module docs); dereferences to the bytes.
pub(super) enum Bytes {
    Owned(Box<[u8]>),
    Shared(Backing, Range<usize>),
}

impl Bytes {
    /// `range` of `backing`; `None` when it lies outside.
    pub(super) fn shared(backing: &Backing, range: Range<usize>) -> Option<Bytes> {
        let len = (**backing).as_ref().len();
        (range.start <= range.end && range.end <= len)
            .then(|| Bytes::Shared(Arc::clone(backing), range))
    }

    /// Bytes held on the heap (not those of a mapped file).
    pub(super) fn heap_bytes(&self) -> usize {
        match self {
            Bytes::Owned(b) => b.len(),
            Bytes::Shared(..) => 0,
        }
    }

    /// The `i`th little-endian `u32` (the bytes are a list of them); 0 past the end, which
    /// only a damaged cache could ask for (its lists are checked when read).
    pub(super) fn u32_at(&self, i: usize) -> u32 {
        self.get(i * 4..i * 4 + 4)
            .and_then(|b| b.try_into().ok())
            .map_or(0, u32::from_le_bytes)
    }

    /// How many `u32`s the bytes hold.
    pub(super) fn u32_count(&self) -> usize {
        self.len() / 4
    }
}

impl Default for Bytes {
    fn default() -> Self {
        Bytes::Owned(Box::default())
    }
}

impl From<Vec<u8>> for Bytes {
    fn from(v: Vec<u8>) -> Self {
        Bytes::Owned(v.into_boxed_slice())
    }
}

impl Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Owned(b) => b,
            // In range: checked when made.
            Bytes::Shared(backing, range) => &(**backing).as_ref()[range.clone()],
        }
    }
}

/// A cache file's bytes: mapped into memory (its segments are then used where they lie,
/// never copied) when it is on a local disk, else read.
pub(super) fn map_or_read(file: &std::fs::File) -> Option<Backing> {
    if on_local_disk(file) {
        // SAFETY: a mapped file must not change while mapped. Cache files are never
        // written in place: a cache is written to a temporary file renamed over the old
        // one, which stays as it was for as long as it is mapped (see
        // `stamp::write_private`); only someone truncating the user's own cache file by
        // hand could break that. On a network file system the old file can go from the
        // server under a mapping (a crash when a page is read again): such caches are read.
        if let Ok(map) = unsafe { memmap2::MmapOptions::new().populate().map(file) } {
            return Some(Arc::new(map));
        }
    }
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut &*file, &mut bytes).ok()?;
    Some(Arc::new(bytes))
}

/// Whether `file` is on a local file system (not NFS, SMB, FUSE, Ceph, AFS or 9P).
#[cfg(target_os = "linux")]
fn on_local_disk(file: &std::fs::File) -> bool {
    use std::os::fd::AsRawFd;
    const REMOTE: [i64; 8] = [
        0x6969,      // NFS
        0x517B,      // SMB
        0xFF53_4D42, // CIFS
        0xFE53_4D42, // SMB2
        0x6573_5546, // FUSE
        0x00C3_6400, // Ceph
        0x5346_414F, // AFS
        0x0102_1997, // 9P
    ];
    // SAFETY: fstatfs writes a `statfs` for the open descriptor into the zeroed one.
    let mut stat: libc::statfs = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::fstatfs(file.as_raw_fd(), &mut stat) } == 0;
    #[allow(clippy::unnecessary_cast)] // `f_type`'s width differs between targets.
    let kind = stat.f_type as i64;
    ok && !REMOTE.contains(&kind)
}

/// Elsewhere the file system is not looked at: caches are read.
#[cfg(not(target_os = "linux"))]
fn on_local_disk(_: &std::fs::File) -> bool {
    false
}

/// `values` as little-endian bytes (how a segment keeps its lists of `u32`).
pub(super) fn u32_bytes(values: impl IntoIterator<Item = u32>) -> Vec<u8> {
    values.into_iter().flat_map(u32::to_le_bytes).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_on_a_local_disk_is_mapped_and_reads_as_written() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("cache");
        std::fs::write(&path, b"some cache bytes").expect("write");
        let file = std::fs::File::open(&path).expect("open");
        #[cfg(target_os = "linux")]
        assert!(on_local_disk(&file), "a temporary folder is local here");
        let backing = map_or_read(&file).expect("mapped or read");
        assert_eq!((*backing).as_ref(), b"some cache bytes");
    }

    #[test]
    fn shared_bytes_stay_in_their_range_and_read_little_endian() {
        let backing: Backing = Arc::new(u32_bytes([7, 0x0102_0304, 9]));
        assert!(Bytes::shared(&backing, 4..16).is_none());
        let b = Bytes::shared(&backing, 4..12).expect("in range");
        assert_eq!(
            (b.u32_count(), b.u32_at(0), b.u32_at(1)),
            (2, 0x0102_0304, 9)
        );
        assert_eq!(b.u32_at(2), 0, "past the end");
        assert_eq!(b.heap_bytes(), 0);
        let owned = Bytes::from(vec![1, 2, 3]);
        assert_eq!((&*owned, owned.heap_bytes()), (&[1u8, 2, 3][..], 3));
    }
}
