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

/// `values` as little-endian bytes (how a segment keeps its lists of `u32`).
pub(super) fn u32_bytes(values: impl IntoIterator<Item = u32>) -> Vec<u8> {
    values.into_iter().flat_map(u32::to_le_bytes).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
