//! Sequence alignment of two runs' step signatures: which step of one run corresponds to
//! which step of the other, with steps only one run has aligned against gaps. Knows
//! nothing about JSON or runs: it sees one [`Sig`] per step.
//!
//! The method, cheapest first:
//! 1. the common prefix and suffix of identical signatures are matched directly;
//! 2. when what is left is too big for one dynamic-programming table, steps whose
//!    signature occurs exactly once in each run anchor the alignment (their longest
//!    increasing chain, as in patience diff), and the stretches between anchors are
//!    aligned one by one;
//! 3. each stretch is aligned by Needleman–Wunsch scoring restricted to a diagonal band
//!    (the whole table when it fits in [`MAX_CELLS`]): memory is `O(n · band)`, never
//!    quadratic in the run length.
//!
//! Scores: identical signatures +3, same kind and name (a tool called with other
//! arguments, a result with another status, two free-text answers) +1, same kind but another name −1 (a
//! different tool in the same place), a gap −1 per step; steps of different kinds are
//! never paired. Ties go to the alignment that pairs steps earliest.

use rustc_hash::FxHashMap;

/// What the aligner knows of one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sig {
    /// The step kind (or any small class number): steps of different classes never pair.
    pub class: u8,
    /// Kind and name: the same kind of step for the same tool or purpose.
    pub coarse: u64,
    /// The whole behavioural signature: equal when the steps did the same thing.
    pub fine: u64,
    /// The fine signature leaves out what matters (free text, compared later by word
    /// overlap): equal signatures score only as a partial match.
    pub weak: bool,
}

/// One row of an alignment: indices into the two runs, `None` for a gap.
pub type Pair = (Option<usize>, Option<usize>);

const GAP: i32 = -1;
/// Worse than two gaps: different kinds are never paired inside the band.
const FORBIDDEN: i32 = -3;
const NEG: i32 = i32::MIN / 4;

/// Largest dynamic-programming table (cells, one byte each) built for one stretch.
pub const MAX_CELLS: usize = 2 << 20;
/// The band is at least this wide on each side of the diagonal.
const MIN_BAND: usize = 24;

/// Aligns `a` with `b`: every index of each appears exactly once, in order.
pub fn align(a: &[Sig], b: &[Sig]) -> Vec<Pair> {
    let mut out = Vec::with_capacity(a.len().max(b.len()) + 8);
    segment(a, b, 0, 0, 0, &mut out);
    // Safety net for the band's edges: never report a pair of different kinds.
    if out
        .iter()
        .any(|&(i, j)| matches!((i, j), (Some(i), Some(j)) if a[i].class != b[j].class))
    {
        out = out
            .into_iter()
            .flat_map(|(i, j)| match (i, j) {
                (Some(x), Some(y)) if a[x].class != b[y].class => {
                    vec![(Some(x), None), (None, Some(y))]
                }
                p => vec![p],
            })
            .collect();
    }
    out
}

/// Aligns `a` (starting at `ao` in the whole run) with `b` (at `bo`).
fn segment(a: &[Sig], b: &[Sig], ao: usize, bo: usize, depth: u32, out: &mut Vec<Pair>) {
    let prefix = a
        .iter()
        .zip(b)
        .take_while(|(x, y)| x.fine == y.fine)
        .count();
    for k in 0..prefix {
        out.push((Some(ao + k), Some(bo + k)));
    }
    let (a, b) = (&a[prefix..], &b[prefix..]);
    let (ao, bo) = (ao + prefix, bo + prefix);
    let suffix = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take_while(|(x, y)| x.fine == y.fine)
        .count();
    let (am, bm) = (&a[..a.len() - suffix], &b[..b.len() - suffix]);
    middle(am, bm, ao, bo, depth, out);
    for k in 0..suffix {
        out.push((Some(ao + am.len() + k), Some(bo + bm.len() + k)));
    }
}

fn middle(a: &[Sig], b: &[Sig], ao: usize, bo: usize, depth: u32, out: &mut Vec<Pair>) {
    if a.is_empty() {
        out.extend((0..b.len()).map(|j| (None, Some(bo + j))));
        return;
    }
    if b.is_empty() {
        out.extend((0..a.len()).map(|i| (Some(ao + i), None)));
        return;
    }
    let full = (a.len() + 1).saturating_mul(b.len() + 1);
    if full > MAX_CELLS && depth < 4 {
        let anchors = unique_anchors(a, b);
        if !anchors.is_empty() {
            let (mut pi, mut pj) = (0, 0);
            for (i, j) in anchors {
                segment(&a[pi..i], &b[pj..j], ao + pi, bo + pj, depth + 1, out);
                out.push((Some(ao + i), Some(bo + j)));
                pi = i + 1;
                pj = j + 1;
            }
            segment(&a[pi..], &b[pj..], ao + pi, bo + pj, depth + 1, out);
            return;
        }
    }
    banded(a, b, ao, bo, out);
}

/// Pairs of steps whose fine signature occurs exactly once in each of `a` and `b`, reduced
/// to their longest chain increasing in both (patience diff's anchors).
fn unique_anchors(a: &[Sig], b: &[Sig]) -> Vec<(usize, usize)> {
    // fine -> (count in a, index in a, count in b, index in b)
    let mut seen: FxHashMap<u64, (u32, usize, u32, usize)> = FxHashMap::default();
    for (i, s) in a.iter().enumerate() {
        let e = seen.entry(s.fine).or_insert((0, i, 0, 0));
        e.0 += 1;
    }
    for (j, s) in b.iter().enumerate() {
        if let Some(e) = seen.get_mut(&s.fine) {
            e.2 += 1;
            e.3 = j;
        }
    }
    let mut pairs: Vec<(usize, usize)> = seen
        .values()
        .filter(|e| e.0 == 1 && e.2 == 1 && !a[e.1].weak)
        .map(|e| (e.1, e.3))
        .collect();
    pairs.sort_unstable();
    longest_increasing(&pairs)
}

/// The longest subsequence of `pairs` (sorted by `.0`) increasing in `.1`.
fn longest_increasing(pairs: &[(usize, usize)]) -> Vec<(usize, usize)> {
    // tails[k]: index into pairs of the smallest tail of an increasing run of length k+1.
    let mut tails: Vec<usize> = Vec::new();
    let mut prev: Vec<Option<usize>> = vec![None; pairs.len()];
    for (p, &(_, j)) in pairs.iter().enumerate() {
        let k = tails.partition_point(|&t| pairs[t].1 < j);
        if k > 0 {
            prev[p] = Some(tails[k - 1]);
        }
        if k == tails.len() {
            tails.push(p);
        } else {
            tails[k] = p;
        }
    }
    let mut chain = Vec::with_capacity(tails.len());
    let mut at = tails.last().copied();
    while let Some(p) = at {
        chain.push(pairs[p]);
        at = prev[p];
    }
    chain.reverse();
    chain
}

/// The band of columns computed for row `i`: `[lo, hi]` around the diagonal from (0, 0)
/// to (n, m).
struct Band {
    n: usize,
    m: usize,
    half: usize,
    width: usize,
}

impl Band {
    fn new(n: usize, m: usize) -> Band {
        let full = m + 1;
        // Wide enough for consecutive rows' bands to overlap when m > n.
        let slope = m.div_ceil(n.max(1)) + 1;
        let budget = MAX_CELLS / (n + 1);
        let half = (budget.saturating_sub(1) / 2).max(MIN_BAND).max(slope);
        let width = (2 * half + 1).min(full);
        Band { n, m, half, width }
    }
    fn center(&self, i: usize) -> usize {
        (i * self.m + self.n / 2) / self.n.max(1)
    }
    /// First column of row `i` (its band is `lo..lo + width`, clipped to `0..=m`).
    fn lo(&self, i: usize) -> usize {
        if self.width == self.m + 1 {
            return 0;
        }
        self.center(i)
            .saturating_sub(self.half)
            .min(self.m + 1 - self.width)
    }
}

/// Needleman–Wunsch over suffixes, restricted to a band around the diagonal. `S(i, j)` is
/// the best score of aligning `a[i..]` with `b[j..]`; the traceback runs forward from
/// (0, 0) and prefers pairing, so ties pair the earliest steps.
///
/// Every cell of the band can reach (n, m) by moves inside the band (bands of consecutive
/// rows overlap and only move right), so cells outside it are plain `NEG` sentinels: sums
/// with them stay far below any real score and never win a comparison.
fn banded(a: &[Sig], b: &[Sig], ao: usize, bo: usize, out: &mut Vec<Pair>) {
    let (n, m) = (a.len(), b.len());
    let band = Band::new(n, m);
    let w = band.width;
    // Moves: 0 pair, 1 gap in b (take a[i]), 2 gap in a (take b[j]).
    let mut moves = vec![0u8; (n + 1) * w];
    // Scores of row i + 1 and row i by absolute column, NEG outside their bands; one
    // spare NEG column at m + 1. Two rows of m + 2: linear memory.
    let mut next = vec![NEG; m + 2];
    let mut cur = vec![NEG; m + 2];
    let mut prev_hi = m + 1; // end of the band last computed into `cur` (row i + 2)
    let mut tmp_score = vec![0i32; w];
    let mut tmp_move = vec![0u8; w];
    for i in (0..=n).rev() {
        let lo = band.lo(i);
        let hi = (lo + w).min(m + 1);
        // `cur` still holds row i + 2, whose band lies at or right of this one: clear
        // what this row does not overwrite.
        if prev_hi > hi {
            cur[hi..prev_hi].fill(NEG);
        }
        let row = &mut moves[i * w..i * w + (hi - lo)];
        // Column m (all of b used): only gaps in b remain.
        let end = hi.min(m);
        if hi == m + 1 {
            cur[m] = if i == n { 0 } else { next[m] + GAP };
            row[m - lo] = if i == n { 0 } else { 1 };
        }
        if i == n {
            for j in (lo..end).rev() {
                cur[j] = cur[j + 1] + GAP;
                row[j - lo] = 2;
            }
        } else {
            let x = a[i];
            let len = end - lo;
            let nx = &next[lo..end + 1];
            let bs = &b[lo..end];
            // Pass 1, no dependency between columns: the better of pairing and a gap in b.
            let (tv, tm) = (&mut tmp_score[..len], &mut tmp_move[..len]);
            for c in 0..len {
                let diag = nx[c + 1] + score(&x, &bs[c]);
                let down = nx[c] + GAP;
                tv[c] = diag.max(down);
                tm[c] = u8::from(down > diag);
            }
            // Pass 2, right to left: a gap in a wins only when strictly better.
            let mut right = cur[end];
            let (cu, mv_row) = (&mut cur[lo..end], &mut row[..len]);
            for c in (0..len).rev() {
                let r = right + GAP;
                let t = tv[c];
                let take_right = u8::from(r > t);
                let best = r.max(t);
                cu[c] = best;
                // Branch-free: 2 when the gap in a is strictly better, else pass 1's move.
                mv_row[c] = tm[c] * (1 - take_right) + 2 * take_right;
                right = best;
            }
        }
        prev_hi = next_hi_of(&band, i + 1, m);
        std::mem::swap(&mut next, &mut cur);
    }
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        let mv = if i == n {
            2
        } else if j == m {
            1
        } else {
            let lo = band.lo(i);
            debug_assert!(j >= lo && j < lo + w, "the traced path stays in the band");
            moves[i * w + (j - lo)]
        };
        match mv {
            0 => {
                out.push((Some(ao + i), Some(bo + j)));
                i += 1;
                j += 1;
            }
            1 => {
                out.push((Some(ao + i), None));
                i += 1;
            }
            _ => {
                out.push((None, Some(bo + j)));
                j += 1;
            }
        }
    }
}

/// The end of row `i`'s band (`m + 1` past the last row, where nothing was written).
fn next_hi_of(band: &Band, i: usize, m: usize) -> usize {
    if i > band.n {
        return m + 1;
    }
    (band.lo(i) + band.width).min(m + 1)
}

/// The score of pairing two steps (see the module docs), without branches: this is the
/// aligner's inner loop.
#[inline(always)]
fn score(x: &Sig, y: &Sig) -> i32 {
    // `|` and `&`, not `||` and `&&`: no branches on data.
    let same_class = i32::from(x.class == y.class);
    let fine = x.fine == y.fine;
    let near = i32::from(fine | (x.coarse == y.coarse));
    let full = i32::from(fine & !(x.weak | y.weak));
    // same class: -1, +1 for same kind and name (or weak equal), +3 when identical.
    same_class * (2 + 2 * near + 2 * full) + FORBIDDEN
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Signatures from letters: the class is the lowercase letter, the coarse key the
    /// letter, the fine key letter plus digit (`a1` and `a2` are the same step done
    /// differently).
    fn sigs(s: &str) -> Vec<Sig> {
        s.split_whitespace()
            .map(|t| {
                let c = t.as_bytes()[0];
                Sig {
                    class: c.to_ascii_lowercase(),
                    coarse: c as u64,
                    fine: t.bytes().fold(7u64, |h, b| h * 31 + b as u64),
                    weak: false,
                }
            })
            .collect()
    }

    fn check_valid(a: usize, b: usize, pairs: &[Pair]) {
        let ai: Vec<usize> = pairs.iter().filter_map(|p| p.0).collect();
        let bi: Vec<usize> = pairs.iter().filter_map(|p| p.1).collect();
        assert_eq!(ai, (0..a).collect::<Vec<_>>());
        assert_eq!(bi, (0..b).collect::<Vec<_>>());
    }

    fn show(a: &[Sig], b: &[Sig], pairs: &[Pair]) -> String {
        let _ = (a, b);
        pairs
            .iter()
            .map(|p| match p {
                (Some(i), Some(j)) => format!("{i}={j}"),
                (Some(i), None) => format!("{i}-"),
                (None, Some(j)) => format!("-{j}"),
                (None, None) => "?".into(),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn identical_runs_pair_every_step() {
        let a = sigs("s l t r l t r e");
        let p = align(&a, &a);
        assert_eq!(show(&a, &a, &p), "0=0 1=1 2=2 3=3 4=4 5=5 6=6 7=7");
    }

    #[test]
    fn an_inserted_retry_is_a_gap_not_a_shift() {
        // A retries the call (t r) once more than B.
        let a = sigs("s t1 r2 l t1 r2 d e");
        let b = sigs("s t1 r1 d e");
        let p = align(&a, &b);
        check_valid(a.len(), b.len(), &p);
        // The first result pairs with B's result (earliest pairing), the retry is extra.
        assert_eq!(show(&a, &b, &p), "0=0 1=1 2=2 3- 4- 5- 6=3 7=4");
    }

    #[test]
    fn a_different_tool_in_lockstep_is_a_substitution() {
        let a = sigs("s l T1 R1 e");
        let b = sigs("s l t1 r1 e");
        let p = align(&a, &b);
        assert_eq!(show(&a, &b, &p), "0=0 1=1 2=2 3=3 4=4");
    }

    #[test]
    fn different_kinds_are_never_paired() {
        let a = sigs("s x y e");
        let b = sigs("s u v e");
        let p = align(&a, &b);
        check_valid(a.len(), b.len(), &p);
        for (i, j) in p.iter().filter_map(|&(i, j)| Some((i?, j?))) {
            assert_eq!(a[i].class, b[j].class);
        }
    }

    #[test]
    fn empty_sides_are_all_gaps() {
        let a = sigs("s t r");
        assert_eq!(show(&a, &[], &align(&a, &[])), "0- 1- 2-");
        assert_eq!(show(&[], &a, &align(&[], &a)), "-0 -1 -2");
        assert!(align(&[], &[]).is_empty());
    }

    #[test]
    fn long_runs_align_in_a_band_with_anchors() {
        // 20,000 x 20,000 would be 400M cells; the band and anchors keep it small.
        let n = 20_000;
        let mut a = Vec::with_capacity(n);
        let mut b = Vec::with_capacity(n);
        for i in 0..n {
            let s = Sig {
                class: (i % 3) as u8,
                coarse: (i % 7) as u64,
                fine: i as u64,
                weak: false,
            };
            a.push(s);
            if i % 1000 == 500 {
                // B lacks this step, and has another one instead a bit later.
                continue;
            }
            b.push(s);
            if i % 1000 == 700 {
                b.push(Sig {
                    class: 9,
                    coarse: 99,
                    fine: 1_000_000 + i as u64,
                    weak: false,
                });
            }
        }
        let p = align(&a, &b);
        check_valid(a.len(), b.len(), &p);
        let matched = p
            .iter()
            .filter(|&&(i, j)| matches!((i, j), (Some(i), Some(j)) if a[i].fine == b[j].fine))
            .count();
        assert_eq!(matched, n - n / 1000);
    }

    /// The score of an alignment, by the aligner's own scores.
    fn total(a: &[Sig], b: &[Sig], pairs: &[Pair]) -> i32 {
        pairs
            .iter()
            .map(|p| match *p {
                (Some(i), Some(j)) => score(&a[i], &b[j]),
                _ => GAP,
            })
            .sum()
    }

    /// The optimal score by a plain full-table Needleman–Wunsch.
    fn optimum(a: &[Sig], b: &[Sig]) -> i32 {
        let (n, m) = (a.len(), b.len());
        let mut s = vec![vec![0i32; m + 1]; n + 1];
        for i in 0..=n {
            for j in 0..=m {
                s[i][j] = match (i, j) {
                    (0, 0) => 0,
                    (0, _) => s[0][j - 1] + GAP,
                    (_, 0) => s[i - 1][0] + GAP,
                    _ => (s[i - 1][j - 1] + score(&a[i - 1], &b[j - 1]))
                        .max(s[i - 1][j] + GAP)
                        .max(s[i][j - 1] + GAP),
                };
            }
        }
        s[n][m]
    }

    #[test]
    fn random_small_runs_align_validly_and_optimally() {
        let mut state = 0x1234_5678_9abc_def1u64;
        let mut next = move |k: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % k
        };
        for _ in 0..2000 {
            let mut run = |len: u64| -> Vec<Sig> {
                (0..next(len))
                    .map(|_| {
                        let class = next(3) as u8;
                        let coarse = u64::from(class) * 10 + next(3);
                        Sig {
                            class,
                            coarse,
                            fine: coarse * 10 + next(2),
                            weak: false,
                        }
                    })
                    .collect()
            };
            let a = run(25);
            let b = run(25);
            let p = align(&a, &b);
            check_valid(a.len(), b.len(), &p);
            assert_eq!(total(&a, &b, &p), optimum(&a, &b), "{a:?} {b:?}");
        }
    }

    #[test]
    fn unrelated_long_runs_still_align_within_the_band() {
        let a: Vec<Sig> = (0..6000)
            .map(|i| Sig {
                class: (i % 2) as u8,
                coarse: (i % 5) as u64,
                fine: (i * 7 % 13) as u64,
                weak: false,
            })
            .collect();
        let b: Vec<Sig> = (0..9000)
            .map(|i| Sig {
                class: (i % 2) as u8,
                coarse: (i % 3) as u64,
                fine: (i * 5 % 11) as u64,
                weak: false,
            })
            .collect();
        let p = align(&a, &b);
        check_valid(a.len(), b.len(), &p);
    }
}
