//! Byte finders for the scan ([`super::scan`]): where in a block of lines a query word
//! could be, found 16 or 64 bytes at a time rather than byte by byte.
//!
//! - [`Literal`]: a word, ASCII case ignored, found by two of its rarer bytes at their
//!   offsets (a "packed pair": one rare byte alone, such as the `m` of `SCHEMA_MISMATCH`,
//!   occurs in nearly every line), each candidate then compared in full.
//! - [`next_long_run`]: a run of at least so many word bytes, which any word holding a
//!   long fuzzy query word's letters in order needs (long runs are rare in text).

/// A word (ASCII) found with ASCII case ignored.
#[derive(Clone)]
pub(super) struct Literal {
    /// Lowercase.
    word: Vec<u8>,
    /// The offsets in `word` of the two bytes looked for first (equal for one byte).
    pair: (usize, usize),
}

impl Literal {
    /// `word`: not empty.
    pub(super) fn new(word: &[u8]) -> Literal {
        let word = word.to_ascii_lowercase();
        let rarest = |skip: Option<usize>| {
            (0..word.len())
                .filter(|&i| !skip.is_some_and(|s| word[i] == word[s]))
                .min_by_key(|&i| commonness(word[i]))
        };
        let first = rarest(None).unwrap_or(0);
        // A second byte unlike the first: the pair then says more than either byte.
        let second = rarest(Some(first))
            .or_else(|| (0..word.len()).find(|&i| i != first))
            .unwrap_or(first);
        Literal {
            word,
            pair: (first, second),
        }
    }

    /// How rare the literal is (lower: rarer), to pick which of a query's words to find.
    pub(super) fn commonness(&self) -> usize {
        commonness(self.word[self.pair.0]) + commonness(self.word[self.pair.1])
    }

    /// Where the first match at or after `from` starts.
    pub(super) fn find(&self, hay: &[u8], from: usize) -> Option<usize> {
        let len = self.word.len();
        let mut start = from;
        #[cfg(target_arch = "x86_64")]
        {
            let pair = sse2::Pair::new(&self.word, self.pair);
            let far = self.pair.0.max(self.pair.1);
            while start + far + 16 <= hay.len() {
                let mut candidates = pair.candidates(hay, start);
                while candidates != 0 {
                    let at = start + candidates.trailing_zeros() as usize;
                    if self.is_at(hay, at) {
                        return Some(at);
                    }
                    candidates &= candidates - 1;
                }
                start += 16;
            }
        }
        while start + len <= hay.len() {
            if self.is_at(hay, start) {
                return Some(start);
            }
            start += 1;
        }
        None
    }

    #[inline]
    fn is_at(&self, hay: &[u8], at: usize) -> bool {
        hay.get(at..at + self.word.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(&self.word))
    }
}

/// How common a byte is in text (lower: rarer), to pick the bytes looked for first.
pub(super) fn commonness(b: u8) -> usize {
    const BY_FREQUENCY: &[u8] = b"zqjxkvbpygfwmucldrhsnioate";
    match b {
        b'a'..=b'z' => BY_FREQUENCY.iter().position(|&c| c == b).unwrap_or(0) + 10,
        b'0'..=b'9' => 20,
        // `_` joins the words of many JSON keys.
        _ => 30,
    }
}

/// A byte of a raw word run: a word byte, a byte of a character outside ASCII, or a
/// backslash (an escape's letter stays in the run, so no word is split by it).
#[inline]
pub(super) fn is_run_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'\\' || b >= 0x80
}

/// Runs shorter than this are too common in text for [`next_long_run`] to pay.
pub(super) const LONG_RUN: usize = 8;

/// Where the first run of at least `min_len` (1 to 64; more is cut to 64) bytes passing
/// [`is_run_byte`] that starts at or after `from` reaches that length.
pub(super) fn next_long_run(bytes: &[u8], from: usize, min_len: usize) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the processor has AVX2 (checked above).
            return unsafe { avx2::next_long_run(bytes, from, min_len) };
        }
        next_long_run_by::<sse2::RunMask>(bytes, from, min_len)
    }
    #[cfg(not(target_arch = "x86_64"))]
    next_long_run_by::<ScalarRunMask>(bytes, from, min_len)
}

/// Marks the run bytes of up to 64 bytes (bit `i`: `bytes[i]` is one).
trait RunMask {
    fn of(bytes: &[u8]) -> u64;
}

struct ScalarRunMask;

impl RunMask for ScalarRunMask {
    #[inline]
    fn of(bytes: &[u8]) -> u64 {
        let mut mask = 0;
        for (i, &b) in bytes.iter().enumerate() {
            mask |= (is_run_byte(b) as u64) << i;
        }
        mask
    }
}

#[inline(always)]
fn next_long_run_by<M: RunMask>(bytes: &[u8], from: usize, min_len: usize) -> Option<usize> {
    let min_len = min_len.clamp(1, 64);
    let mut at = from;
    // The previous 64 bytes' mask; none before `from`.
    let mut previous = 0u64;
    while at < bytes.len() {
        let end = (at + 64).min(bytes.len());
        let mask = M::of(&bytes[at..end]);
        let ends = run_ends(((mask as u128) << 64) | previous as u128, min_len);
        if ends != 0 {
            return Some(at + ends.trailing_zeros() as usize);
        }
        previous = mask;
        at = end;
    }
    None
}

/// Bit `i` of the result is set when bits `i + 64 - len + 1 ..= i + 64` of `bits` all
/// are: where runs of `len` ones end in the upper half.
#[inline(always)]
fn run_ends(bits: u128, len: usize) -> u64 {
    let mut ends = bits;
    let mut n = 1;
    while n * 2 <= len {
        ends &= ends << n;
        n *= 2;
    }
    if n < len {
        ends &= ends << (len - n);
    }
    (ends >> 64) as u64
}

/// AVX2 (most x86_64 processors, checked at run time): 32 bytes classified at once.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    /// Safety: the processor has AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn next_long_run(bytes: &[u8], from: usize, min_len: usize) -> Option<usize> {
        super::next_long_run_by::<RunMask>(bytes, from, min_len)
    }

    pub(super) struct RunMask;

    impl super::RunMask for RunMask {
        #[inline(always)]
        fn of(bytes: &[u8]) -> u64 {
            if bytes.len() < 64 {
                return super::ScalarRunMask::of(bytes);
            }
            // SAFETY: only called from `next_long_run`, which runs with AVX2.
            unsafe { run_mask32(&bytes[..32]) as u64 | (run_mask32(&bytes[32..64]) as u64) << 32 }
        }
    }

    /// Safety: the processor has AVX2.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn run_mask32(block: &[u8]) -> u32 {
        assert!(block.len() >= 32);
        // `block` holds 32 bytes (checked above); the load is unaligned.
        let v = _mm256_loadu_si256(block.as_ptr().cast());
        let between = |v: __m256i, low: u8, high: u8| {
            _mm256_and_si256(
                _mm256_cmpgt_epi8(v, _mm256_set1_epi8(low as i8 - 1)),
                _mm256_cmpgt_epi8(_mm256_set1_epi8(high as i8 + 1), v),
            )
        };
        // Signed bytes: those from 0x80 are negative, outside both ranges.
        let letter = between(_mm256_or_si256(v, _mm256_set1_epi8(0x20)), b'a', b'z');
        let digit = between(v, b'0', b'9');
        let high = _mm256_cmpgt_epi8(_mm256_setzero_si256(), v);
        let joiner = _mm256_or_si256(
            _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'_' as i8)),
            _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'\\' as i8)),
        );
        let run = _mm256_or_si256(
            _mm256_or_si256(letter, digit),
            _mm256_or_si256(high, joiner),
        );
        _mm256_movemask_epi8(run) as u32
    }
}

/// SSE2 (every x86_64 processor has it): 16 bytes compared at once.
#[cfg(target_arch = "x86_64")]
mod sse2 {
    use std::arch::x86_64::*;

    /// The two bytes of a [`super::Literal`]'s pair, with their case folding.
    pub(super) struct Pair {
        offsets: (usize, usize),
        bytes: (__m128i, __m128i),
        /// `0x20` for a letter (`| 0x20` lowercases an ASCII letter), else 0.
        folds: (__m128i, __m128i),
    }

    impl Pair {
        pub(super) fn new(word: &[u8], offsets: (usize, usize)) -> Pair {
            let fold = |b: u8| if b.is_ascii_lowercase() { 0x20 } else { 0 };
            let (a, b) = (word[offsets.0], word[offsets.1]);
            // SAFETY (here and below): every x86_64 processor has SSE2.
            unsafe {
                Pair {
                    offsets,
                    bytes: (_mm_set1_epi8(a as i8), _mm_set1_epi8(b as i8)),
                    folds: (_mm_set1_epi8(fold(a)), _mm_set1_epi8(fold(b))),
                }
            }
        }

        /// Bit `i`: the pair's bytes are at `start + i` plus their offsets.
        #[inline]
        pub(super) fn candidates(&self, hay: &[u8], start: usize) -> u32 {
            let first = load(&hay[start + self.offsets.0..][..16]);
            let second = load(&hay[start + self.offsets.1..][..16]);
            unsafe {
                let first = _mm_cmpeq_epi8(_mm_or_si128(first, self.folds.0), self.bytes.0);
                let second = _mm_cmpeq_epi8(_mm_or_si128(second, self.folds.1), self.bytes.1);
                _mm_movemask_epi8(_mm_and_si128(first, second)) as u32
            }
        }
    }

    pub(super) struct RunMask;

    impl super::RunMask for RunMask {
        #[inline]
        fn of(bytes: &[u8]) -> u64 {
            if bytes.len() < 64 {
                return super::ScalarRunMask::of(bytes);
            }
            let mut mask = 0;
            for (k, block) in bytes.chunks_exact(16).enumerate() {
                mask |= (run_mask16(load(block)) as u64) << (16 * k);
            }
            mask
        }
    }

    #[inline]
    fn run_mask16(v: __m128i) -> u32 {
        unsafe { run_mask16_sse2(v) }
    }

    /// Safety: the processor has SSE2 (every x86_64 one has).
    #[inline]
    #[target_feature(enable = "sse2")]
    unsafe fn run_mask16_sse2(v: __m128i) -> u32 {
        let between = |v: __m128i, low: u8, high: u8| {
            _mm_and_si128(
                _mm_cmpgt_epi8(v, _mm_set1_epi8(low as i8 - 1)),
                _mm_cmpgt_epi8(_mm_set1_epi8(high as i8 + 1), v),
            )
        };
        // Signed bytes: those from 0x80 are negative, outside both ranges.
        let letter = between(_mm_or_si128(v, _mm_set1_epi8(0x20)), b'a', b'z');
        let digit = between(v, b'0', b'9');
        let high = _mm_cmplt_epi8(v, _mm_setzero_si128());
        let joiner = _mm_or_si128(
            _mm_cmpeq_epi8(v, _mm_set1_epi8(b'_' as i8)),
            _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8)),
        );
        let run = _mm_or_si128(_mm_or_si128(letter, digit), _mm_or_si128(high, joiner));
        _mm_movemask_epi8(run) as u32
    }

    /// The 16 bytes of `block`.
    #[inline]
    fn load(block: &[u8]) -> __m128i {
        assert!(block.len() >= 16);
        // SAFETY: `block` holds 16 bytes (checked above); the load is unaligned.
        unsafe { _mm_loadu_si128(block.as_ptr().cast()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn naive_find(word: &[u8], hay: &[u8], from: usize) -> Option<usize> {
        (from..=hay.len().saturating_sub(word.len())).find(|&i| {
            i + word.len() <= hay.len() && hay[i..][..word.len()].eq_ignore_ascii_case(word)
        })
    }

    fn naive_long_run(bytes: &[u8], from: usize, min_len: usize) -> Option<usize> {
        let min_len = min_len.clamp(1, 64);
        let mut run = 0;
        for (i, &b) in bytes.iter().enumerate().skip(from) {
            run = if is_run_byte(b) { run + 1 } else { 0 };
            if run >= min_len {
                return Some(i);
            }
        }
        None
    }

    /// Bytes from a small alphabet (so that words occur), in both cases, with
    /// separators, a backslash and bytes outside ASCII.
    fn hay() -> impl Strategy<Value = Vec<u8>> {
        let byte = prop::sample::select(b"aAbBmMsS_ \n\\-9\x80\xc4\xe1\xff\"".to_vec());
        prop::collection::vec(byte, 0..300)
    }

    proptest! {
        #[test]
        fn a_literal_is_found_where_a_naive_search_finds_it(
            hay in hay(),
            word in prop::collection::vec(prop::sample::select(b"abmsAM_9".to_vec()), 1..6),
            from in 0usize..40,
        ) {
            let literal = Literal::new(&word);
            let from = from.min(hay.len());
            prop_assert_eq!(literal.find(&hay, from), naive_find(&word, &hay, from));
        }

        #[test]
        fn a_long_run_is_found_where_a_naive_search_finds_it(
            hay in hay(),
            min_len in 1usize..70,
            from in 0usize..100,
        ) {
            let from = from.min(hay.len());
            prop_assert_eq!(next_long_run(&hay, from, min_len), naive_long_run(&hay, from, min_len));
        }
    }

    #[test]
    fn a_literal_is_found_at_every_place_and_case_in_a_long_haystack() {
        let word = b"schema_mismatch";
        let literal = Literal::new(word);
        for len in [word.len(), 16, 17, 31, 32, 33, 64, 100] {
            for at in 0..=len.saturating_sub(word.len()) {
                let mut hay = vec![b'm'; len];
                hay[at..at + word.len()].copy_from_slice(b"SCHEMA_misMATCH");
                assert_eq!(literal.find(&hay, 0), Some(at), "len {len}, at {at}");
                assert_eq!(literal.find(&hay, at + 1), None, "len {len}, at {at}");
                hay[at + 7] = b'n';
                assert_eq!(literal.find(&hay, 0), None, "len {len}, at {at}");
            }
        }
        assert_eq!(literal.find(b"schema_mismatc", 0), None);
        assert_eq!(literal.find(b"", 0), None);
        // Non-letters are compared exactly: `_` is not `\x7f`, `9` not `\x19`.
        assert_eq!(Literal::new(b"a_9").find(b"a\x7f9 A_\x19 a_9", 0), Some(8));
    }

    #[test]
    fn every_way_of_marking_run_bytes_agrees() {
        let bytes: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
        for block in bytes.chunks(64) {
            let scalar = ScalarRunMask::of(block);
            let expected = block
                .iter()
                .enumerate()
                .fold(0u64, |m, (i, &b)| m | (is_run_byte(b) as u64) << i);
            assert_eq!(scalar, expected);
            #[cfg(target_arch = "x86_64")]
            {
                assert_eq!(<sse2::RunMask as RunMask>::of(block), expected);
                if std::is_x86_feature_detected!("avx2") {
                    assert_eq!(<avx2::RunMask as RunMask>::of(block), expected);
                }
            }
        }
    }

    #[test]
    fn long_runs_are_found_across_64_byte_blocks() {
        for start in 0..130 {
            let mut bytes = vec![b' '; 200];
            bytes[start..start + 15].copy_from_slice(b"SCHEMA_MISMATCH");
            assert_eq!(next_long_run(&bytes, 0, 15), Some(start + 14));
            assert_eq!(next_long_run(&bytes, 0, 16), None);
            assert_eq!(next_long_run(&bytes, start + 1, 15), None);
        }
        assert_eq!(next_long_run(&[b'a'; 100], 0, 200), Some(63));
        assert_eq!(next_long_run(b"", 0, 3), None);
    }
}
