//! A search session: what `retrace search` and the browser's `/` share. It owns the
//! text index for its whole life (built on first need on every core, brought up to date
//! incrementally as the history grows, stopped by a [`Cancel`]) and runs queries
//! against it. The history is reached through a `read` function (a plain reference, or
//! a lock's read guard taken briefly while work is planned); no terminal code.
//!
//! When the history was opened with the index cache, the text index starts from the word
//! caches beside it ([`super::text_index::cache`]) and writes them back once it has
//! grown by a good part (so a reopened history is searchable at once).

use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::text_index::{cache, SEGMENT_SLOTS};
use super::{search, Query, SearchOptions, SearchResult, TextIndex};
use crate::index::History;
use crate::work::Cancel;
use crate::Error;

/// Why a session's search gave no result.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("search cancelled")]
    Cancelled,
    #[error(transparent)]
    Index(#[from] Error),
}

/// The text index and the queries run against it.
pub struct Session {
    index: TextIndex,
    threads: usize,
    /// Steps indexed by the build in progress (for a progress figure).
    progress: Arc<AtomicU64>,
    /// Steps the word caches held or were written with last.
    cached: u32,
}

impl Default for Session {
    fn default() -> Self {
        Session::new()
    }
}

impl Session {
    /// A session that indexes on every core.
    pub fn new() -> Session {
        Session::with_threads(std::thread::available_parallelism().map_or(2, |n| n.get()))
    }

    pub fn with_threads(threads: usize) -> Session {
        Session {
            index: TextIndex::new(),
            threads: threads.max(1),
            progress: Arc::new(AtomicU64::new(0)),
            cached: 0,
        }
    }

    /// The steps indexed so far (shared, so another thread can show progress).
    pub fn progress(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.progress)
    }

    pub fn index(&self) -> &TextIndex {
        &self.index
    }

    /// Brings the text index up to the history. Returns `Ok(false)` when cancelled
    /// (what was indexed is kept; the next call continues).
    pub fn catch_up<G: Deref<Target = History>>(
        &mut self,
        read: impl Fn() -> G,
        cancel: &Cancel,
    ) -> Result<bool, Error> {
        let words = read().cache().map(|(dir, min)| (cache::dir_for(dir), min));
        if let Some((dir, min)) = words.as_ref().filter(|_| self.index.covered() == 0) {
            match TextIndex::from_cache(
                dir,
                *min,
                &read(),
                Default::default(),
                cancel,
                &self.progress,
            )? {
                Some(index) => {
                    self.cached = index.covered();
                    self.index = index;
                }
                None => return Ok(false),
            }
        }
        self.progress
            .store(u64::from(self.index.covered()), Ordering::Relaxed);
        let done = self
            .index
            .update_from(&read, self.threads, cancel, &self.progress)?;
        // Written again when it grew by an eighth (or a segment's worth), so that a
        // history that keeps growing does not rewrite its caches at every step.
        let covered = self.index.covered();
        let worth = (self.cached / 8).max(SEGMENT_SLOTS / 4).min(covered);
        if let Some((dir, min)) = words.filter(|_| done && covered >= self.cached + worth) {
            // The history is read only to plan the writing: the browser's folding
            // does not wait for the caches to be encoded and written.
            let plan = self.index.cache_plan(&read());
            self.index.store_planned_cache(&dir, min, plan);
            self.cached = covered;
        }
        Ok(done)
    }

    /// Runs `query`, first indexing what the text index lacks when the query has text.
    pub fn search<G: Deref<Target = History>>(
        &mut self,
        read: impl Fn() -> G,
        query: &Query,
        options: &SearchOptions,
        cancel: &Cancel,
    ) -> Result<SearchResult, SessionError> {
        if query.has_text() && !self.catch_up(&read, cancel)? {
            return Err(SessionError::Cancelled);
        }
        let text = query.has_text().then_some(&self.index);
        search(&read(), text, query, options, cancel).map_err(|_| SessionError::Cancelled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::LoadOptions;
    use std::path::Path;

    fn demo() -> History {
        let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo");
        History::load(&[demo], &LoadOptions::default()).unwrap()
    }

    #[test]
    fn a_text_query_indexes_once_and_later_queries_reuse_the_index() {
        let history = demo();
        let mut session = Session::with_threads(2);
        let query = Query::parse("refund").unwrap();
        let found = session
            .search(
                || &history,
                &query,
                &SearchOptions::default(),
                &Cancel::never(),
            )
            .unwrap();
        assert_eq!(session.index().covered() as usize, history.step_count());
        assert_eq!(found.text_covered, history.step_count());
        assert_eq!(
            session.progress().load(Ordering::Relaxed) as usize,
            history.step_count()
        );
        let again = session
            .search(
                || &history,
                &query,
                &SearchOptions::default(),
                &Cancel::never(),
            )
            .unwrap();
        assert_eq!(found.hits, again.hits);
    }

    /// A reading of the history that notes whether the word caches were there when it
    /// ended.
    struct Watched<'a> {
        history: &'a History,
        words: &'a Path,
        written_while_read: &'a std::sync::atomic::AtomicBool,
    }

    impl Deref for Watched<'_> {
        type Target = History;
        fn deref(&self) -> &History {
            self.history
        }
    }

    impl Drop for Watched<'_> {
        fn drop(&mut self) {
            let written = std::fs::read_dir(self.words).is_ok_and(|mut d| d.next().is_some());
            if written {
                self.written_while_read.store(true, Ordering::Relaxed);
            }
        }
    }

    #[test]
    fn the_word_caches_are_written_without_holding_the_history() {
        let dir = tempfile::tempdir().unwrap();
        let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo");
        let options = LoadOptions {
            cache: Some(dir.path().join("index")),
            cache_min_bytes: 0,
            ..LoadOptions::default()
        };
        let history = History::load(&[demo], &options).unwrap();
        let words = cache::dir_for(&dir.path().join("index"));
        let written_while_read = std::sync::atomic::AtomicBool::new(false);
        let read = || Watched {
            history: &history,
            words: &words,
            written_while_read: &written_while_read,
        };
        let mut session = Session::with_threads(2);
        assert!(session.catch_up(read, &Cancel::never()).unwrap());
        let written = std::fs::read_dir(&words).unwrap().count();
        assert!(written > 0, "the word caches were written");
        assert!(
            !written_while_read.load(Ordering::Relaxed),
            "the history was held while the caches were written"
        );
    }

    #[test]
    fn a_cancelled_session_says_so_and_a_filter_only_query_needs_no_index() {
        let history = demo();
        let mut session = Session::with_threads(2);
        let cancel = Cancel::new();
        cancel.cancel();
        let text = Query::parse("refund").unwrap();
        let r = session.search(|| &history, &text, &SearchOptions::default(), &cancel);
        assert!(matches!(r, Err(SessionError::Cancelled)), "{r:?}");
        let filter = Query::parse("outcome:failure").unwrap();
        let r = session
            .search(
                || &history,
                &filter,
                &SearchOptions::default(),
                &Cancel::never(),
            )
            .unwrap();
        assert!(!r.hits.is_empty());
        assert_eq!(session.index().covered(), 0, "no text, no index");
    }
}
