//! A query's line test that a load already under way takes up: the browser's load runs
//! this [`LineScan`] on every chunk, and once a search is typed (before the word index
//! is built) the chunks parsed from then on are tested while their bytes are in memory,
//! as a one-shot search's load does ([`QueryLineScan`]). A search then scans in blocks
//! only the bytes that went by before ([`FusedText::new`] finds the gaps): the first
//! search typed while a big history opens is answered about when the load ends, instead
//! of after a second pass over the files.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::fused::BlockFindings;
use super::query::Term;
use super::{FusedText, Query, QueryLineScan, ScanReports};
use crate::index::{History, LineScan, LineScanHook};
use crate::work::Cancel;

/// The test of the latest query's words, and what it found in the chunks it saw.
struct Following {
    terms: Vec<Term>,
    scan: QueryLineScan,
    found: Mutex<BlockFindings>,
}

/// The load's hook: tests nothing until [`LateScan::text`] is first asked for a query.
#[derive(Default)]
pub struct LateScan {
    current: Mutex<Option<Arc<Following>>>,
}

impl LateScan {
    /// The hook for [`crate::index::LoadOptions::line_scan`].
    pub fn hook(self: &Arc<Self>) -> LineScanHook {
        LineScanHook(Arc::clone(self) as Arc<dyn LineScan>)
    }

    /// The text of `history`'s steps for `query`: what the load's chunks showed since
    /// the query's words were first asked for, and a block scan of the rest. The load's
    /// chunks are tested for `query`'s words from now on (in place of any earlier
    /// query's). `None` as for [`FusedText::new`].
    pub fn text(
        &self,
        history: &History,
        query: &Query,
        threads: usize,
        cancel: &Cancel,
    ) -> Option<FusedText> {
        let following = self.following(query);
        let mut reports = ScanReports::default();
        reports.add_blocks(lock(&following.found).clone());
        FusedText::new(history, &following.scan, &mut reports, threads, cancel)
    }

    /// Tests the load's chunks for `query`'s words from now on (in place of any earlier
    /// query's; what was found for the same words is kept).
    pub fn follow(&self, query: &Query) {
        self.following(query);
    }

    fn following(&self, query: &Query) -> Arc<Following> {
        let mut current = lock(&self.current);
        match current.as_ref() {
            Some(f) if f.terms == query.terms => Arc::clone(f),
            _ => {
                let fresh = Arc::new(Following {
                    terms: query.terms.clone(),
                    scan: QueryLineScan::new(query),
                    found: Mutex::new(BlockFindings::default()),
                });
                *current = Some(Arc::clone(&fresh));
                fresh
            }
        }
    }

    /// Bytes of the load's chunks tested for the latest query as they were parsed.
    pub fn followed_bytes(&self) -> u64 {
        lock(&self.current)
            .as_ref()
            .map_or(0, |f| lock(&f.found).bytes())
    }

    /// Stops testing the load's chunks and lets go of what was found (the word index
    /// answers from now on).
    pub fn stop(&self) {
        lock(&self.current).take();
    }
}

impl LineScan for LateScan {
    /// Pushes nothing for the batch: what was found is kept here, for the query.
    fn scan(&self, file: u32, lines: &[u8], base: u64, _found: &mut Vec<(u64, u32)>) {
        let Some(following) = lock(&self.current).clone() else {
            return;
        };
        let mut mine = Vec::new();
        following.scan.scan(file, lines, base, &mut mine);
        let end = base + lines.len() as u64;
        lock(&following.found).add(file, base..end, &mine);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
