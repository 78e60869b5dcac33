//! Summaries and the conversations they sum up (see [`crate::ingest::SumsUp`]). A
//! summary names the last message (its leaf) of a conversation that may be in any run of
//! the history, read before or after it. Ids of messages are not kept in the index (a
//! step's id is read back from its file), so what is kept to find a leaf is small: each
//! run's latest message id, and the leaves asked for and not seen yet. A leaf read after
//! its summary is found, whatever its place; a leaf read before it is found when it was
//! then its run's latest message (a summary names the end of a conversation) or is in the
//! same batch of lines; otherwise the summary stays a root step of its own run and titles
//! nothing.

use rustc_hash::FxHashMap;

use super::parse::LocalSummary;
use super::{link, History, NO_STRING};

/// The label a summary's text is given on the run it sums up.
pub const SUMMARY_LABEL: &str = "summary";

/// What the history keeps to find summaries' leaves.
#[derive(Debug, Default)]
pub(crate) struct Leaves {
    /// Each run's latest message id (by key), and the run of each such id.
    latest: FxHashMap<u32, u64>,
    run_of_latest: FxHashMap<u64, u32>,
    /// Summaries whose leaf has not been read yet, by the leaf's key.
    wanted: FxHashMap<u64, Vec<Wanted>>,
}

/// A summary read: its run, its step's location, its leaf and its text (strings of the
/// history).
#[derive(Debug, Clone, Copy)]
pub(super) struct Wanted {
    run: u32,
    step: (u64, u32),
    leaf: u32,
    text: u32,
}

impl History {
    /// Takes in the message ids and summaries of a batch just applied. `start` is the
    /// history index of the batch's first step; `runs` maps its local runs, `local` its
    /// strings.
    pub(super) fn read_leaves(
        &mut self,
        start: u32,
        ids: &[(u64, u32)],
        summaries: &[LocalSummary],
        runs: &[u32],
        local: impl Fn(u32) -> u32,
    ) {
        // Summaries read before their leaf.
        if !self.leaves.wanted.is_empty() {
            for &(key, run) in ids {
                for wanted in self.leaves.wanted.remove(&key).unwrap_or_default() {
                    self.sum_up(runs[run as usize], wanted);
                }
            }
        }
        let in_batch: FxHashMap<u64, u32> = if summaries.is_empty() {
            FxHashMap::default()
        } else {
            ids.iter().map(|&(k, r)| (k, runs[r as usize])).collect()
        };
        for &(key, run) in ids {
            let run = runs[run as usize];
            let leaves = &mut self.leaves;
            if let Some(before) = leaves.latest.insert(run, key) {
                if leaves.run_of_latest.get(&before) == Some(&run) {
                    leaves.run_of_latest.remove(&before);
                }
            }
            leaves.run_of_latest.insert(key, run);
        }
        for s in summaries {
            let summary = &self.steps[(start + s.step) as usize];
            let wanted = Wanted {
                run: runs[s.run as usize],
                step: (summary.loc, summary.seq),
                leaf: local(s.leaf),
                text: local(s.text),
            };
            let found = in_batch
                .get(&s.leaf_key)
                .or_else(|| self.leaves.run_of_latest.get(&s.leaf_key))
                .copied();
            match found {
                Some(run) => self.sum_up(run, wanted),
                None => self
                    .leaves
                    .wanted
                    .entry(s.leaf_key)
                    .or_default()
                    .push(wanted),
            }
        }
    }

    /// A summary's leaf is in `run`: the run is labelled with its text, and the summary
    /// hangs under the leaf when it is a step of the same run.
    fn sum_up(&mut self, run: u32, wanted: Wanted) {
        let label = self.strings.intern(SUMMARY_LABEL);
        self.merge_labels(run, &[(label, wanted.text)]);
        if run == wanted.run {
            let hang = link::Link {
                id: NO_STRING,
                parent: wanted.leaf,
                start: false,
            };
            self.links.insert(wanted.step, hang);
        }
        for touched in [run, wanted.run] {
            let entry = &mut self.runs[touched as usize];
            if !entry.dirty {
                entry.dirty = true;
                self.dirty.push(touched);
            }
        }
    }
}
