//! A word-level diff of two texts (an LCS over whitespace-separated words), for showing
//! how the two versions of a step's input or output differ. Pure: no IO, no terminal.

/// A word of a word diff: in both, only in A (removed) or only in B (added).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Same,
    OnlyA,
    OnlyB,
}

/// Most words compared (the LCS costs their product).
const MAX_WORDS: usize = 1500;

/// The words of `a` and `b` merged in order, each marked as common or one side's.
pub fn word_diff<'s>(a: &'s str, b: &'s str) -> Vec<(Change, &'s str)> {
    let aw: Vec<&str> = a.split_whitespace().take(MAX_WORDS).collect();
    let bw: Vec<&str> = b.split_whitespace().take(MAX_WORDS).collect();
    let (n, m) = (aw.len(), bw.len());
    // lcs[i][j]: the LCS length of aw[i..] and bw[j..].
    let mut lcs = vec![0u16; (n + 1) * (m + 1)];
    let at = |i: usize, j: usize| i * (m + 1) + j;
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[at(i, j)] = if aw[i] == bw[j] {
                lcs[at(i + 1, j + 1)] + 1
            } else {
                lcs[at(i + 1, j)].max(lcs[at(i, j + 1)])
            };
        }
    }
    let mut out = Vec::with_capacity(n.max(m));
    let (mut i, mut j) = (0, 0);
    while i < n && j < m {
        if aw[i] == bw[j] {
            out.push((Change::Same, aw[i]));
            i += 1;
            j += 1;
        } else if lcs[at(i + 1, j)] >= lcs[at(i, j + 1)] {
            out.push((Change::OnlyA, aw[i]));
            i += 1;
        } else {
            out.push((Change::OnlyB, bw[j]));
            j += 1;
        }
    }
    out.extend(aw[i..].iter().map(|w| (Change::OnlyA, *w)));
    out.extend(bw[j..].iter().map(|w| (Change::OnlyB, *w)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_diff_marks_removed_and_added_words() {
        let d = word_diff("send to ops@acme.com now", "send to billing@acme.com now");
        assert_eq!(
            d,
            vec![
                (Change::Same, "send"),
                (Change::Same, "to"),
                (Change::OnlyA, "ops@acme.com"),
                (Change::OnlyB, "billing@acme.com"),
                (Change::Same, "now"),
            ]
        );
        assert!(word_diff("", "").is_empty());
        assert_eq!(word_diff("a", ""), vec![(Change::OnlyA, "a")]);
    }
}
