//! A word index built in the background, with searches answered meanwhile by scanning
//! the files (same hits and scores, no index needed): what the browser's `/` uses, so
//! that its first search does not wait for the index. A search typed while the history
//! loads is looked for in the chunks the load parses from then on ([`LateScan`], the
//! load's hook), and the bytes read before are scanned in blocks ([`super::FusedText`]).
//!
//! The build gives way to searches: while one runs, the build's pass is cancelled (the
//! segments it finished are kept) and it waits for the search to end. A scan answers the
//! user now and wants every core; the build only makes later searches faster. Once the
//! build has finished, searches use the index (a [`Session`], which brings it up to date
//! as the history grows). No terminal code.

use std::ops::Deref;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::{search_in, LateScan, Query, SearchOptions, SearchResult, Session, SessionError};
use crate::index::{History, LineScanHook};
use crate::work::Cancel;
use crate::Error;

/// Who holds the cores: searches running, and the token of the build's pass.
#[derive(Default)]
struct Turns {
    searching: usize,
    pass: Option<Cancel>,
}

/// A search session whose word index builds in the background.
pub struct BackgroundText {
    session: Mutex<Session>,
    /// Steps indexed so far (shared with the session's build).
    progress: Arc<AtomicU64>,
    /// The build finished once: searches use the index from now on.
    ready: AtomicBool,
    turns: Mutex<Turns>,
    quiet: Condvar,
    threads: usize,
    /// The load's hook: a search typed while the history loads is tested on the chunks
    /// parsed from then on.
    late: Arc<LateScan>,
}

impl Default for BackgroundText {
    fn default() -> Self {
        BackgroundText::new()
    }
}

impl BackgroundText {
    /// Builds and scans on every core.
    pub fn new() -> BackgroundText {
        BackgroundText::with_threads(std::thread::available_parallelism().map_or(2, |n| n.get()))
    }

    pub fn with_threads(threads: usize) -> BackgroundText {
        let session = Session::with_threads(threads);
        BackgroundText {
            progress: session.progress(),
            session: Mutex::new(session),
            ready: AtomicBool::new(false),
            turns: Mutex::new(Turns::default()),
            quiet: Condvar::new(),
            threads: threads.max(1),
            late: Arc::default(),
        }
    }

    /// The hook for the history's load ([`crate::index::LoadOptions::line_scan`]): a
    /// search typed while it loads has its words looked for in the chunks parsed from
    /// then on, so that only what was read before is scanned again.
    pub fn load_hook(&self) -> LineScanHook {
        self.late.hook()
    }

    /// Steps in the word index so far (while building: a progress figure).
    pub fn indexed(&self) -> u64 {
        self.progress.load(Ordering::Relaxed)
    }

    /// Steps the word index took from the word caches (see [`super::TextIndex::cached`]).
    pub fn cached(&self) -> u64 {
        u64::from(lock(&self.session).index().cached())
    }

    /// The build has finished: searches use the word index.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Builds the word index up to the history, pausing while searches run. Returns
    /// `Ok(false)` when `stop` was cancelled first.
    pub fn build<G: Deref<Target = History>>(
        &self,
        read: impl Fn() -> G,
        stop: &Cancel,
    ) -> Result<bool, Error> {
        loop {
            let Some(pass) = self.wait_for_quiet(stop) else {
                return Ok(false);
            };
            let done = lock(&self.session).catch_up(&read, &pass)?;
            lock(&self.turns).pass = None;
            if done {
                self.ready.store(true, Ordering::Release);
                self.late.stop();
                return Ok(true);
            }
        }
    }

    /// Waits until no search runs, then hands out the token of the next pass (which a
    /// search cancels); `None` when `stop` was cancelled.
    fn wait_for_quiet(&self, stop: &Cancel) -> Option<Cancel> {
        let mut turns = lock(&self.turns);
        loop {
            if stop.is_cancelled() {
                return None;
            }
            if turns.searching == 0 {
                let pass = stop.child();
                turns.pass = Some(pass.clone());
                return Some(pass);
            }
            // Woken when the last search ends; the timeout only re-checks `stop`.
            turns = self
                .quiet
                .wait_timeout(turns, Duration::from_millis(100))
                .map_or_else(|e| e.into_inner().0, |(t, _)| t);
        }
    }

    /// Runs `query`: from the word index once it is built, else by scanning the
    /// files (the build waits meanwhile). Filter-only queries need neither.
    pub fn search<G: Deref<Target = History>>(
        &self,
        read: impl Fn() -> G,
        query: &Query,
        options: &SearchOptions,
        cancel: &Cancel,
    ) -> Result<SearchResult, SessionError> {
        if !query.has_text() {
            return search_in(&read(), None, query, options, cancel)
                .map_err(|_| SessionError::Cancelled);
        }
        let _turn = SearchTurn::take(self);
        if !self.is_ready() {
            let history = read();
            if let Some(text) = self.late.text(&history, query, self.threads, cancel) {
                return search_in(&history, Some(&text), query, options, cancel)
                    .map_err(|_| SessionError::Cancelled);
            }
            if cancel.is_cancelled() {
                return Err(SessionError::Cancelled);
            }
            // Not scannable (another format): the index it is, built here if need be.
        }
        lock(&self.session).search(read, query, options, cancel)
    }
}

/// A search holding the cores: the build's pass is stopped while it lives.
struct SearchTurn<'a>(&'a BackgroundText);

impl<'a> SearchTurn<'a> {
    fn take(text: &'a BackgroundText) -> SearchTurn<'a> {
        let mut turns = lock(&text.turns);
        turns.searching += 1;
        if let Some(pass) = turns.pass.take() {
            pass.cancel();
        }
        SearchTurn(text)
    }
}

impl Drop for SearchTurn<'_> {
    fn drop(&mut self) {
        let mut turns = lock(&self.0.turns);
        turns.searching -= 1;
        if turns.searching == 0 {
            self.0.quiet.notify_all();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
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
    fn a_search_before_the_build_scans_and_finds_what_the_index_finds() {
        let history = demo();
        let text = BackgroundText::with_threads(2);
        let query = Query::parse("refund").unwrap();
        let options = SearchOptions {
            now: 0,
            ..SearchOptions::default()
        };
        let scanned = text
            .search(|| &history, &query, &options, &Cancel::never())
            .unwrap();
        assert!(!text.is_ready());
        assert_eq!(text.indexed(), 0, "the scan built nothing");
        assert!(!scanned.hits.is_empty());
        assert!(text.build(|| &history, &Cancel::never()).unwrap());
        assert!(text.is_ready());
        assert_eq!(text.indexed() as usize, history.step_count());
        let indexed = text
            .search(|| &history, &query, &options, &Cancel::never())
            .unwrap();
        assert_eq!(scanned.hits, indexed.hits);
    }

    #[test]
    fn the_build_waits_while_a_search_runs_and_a_stopped_build_says_so() {
        let history = demo();
        let text = BackgroundText::with_threads(2);
        let turn = SearchTurn::take(&text);
        let stop = Cancel::new();
        std::thread::scope(|scope| {
            let building = scope.spawn(|| text.build(|| &history, &stop));
            std::thread::sleep(Duration::from_millis(150));
            assert_eq!(text.indexed(), 0, "nothing indexed while a search runs");
            stop.cancel();
            assert!(!building.join().unwrap().unwrap());
        });
        drop(turn);
        assert!(!text.is_ready());
        assert!(text.build(|| &history, &Cancel::never()).unwrap());
    }
}
