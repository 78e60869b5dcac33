//! `/` search, as the browser runs it: a thin adapter over a
//! [`BackgroundText`] shared by the search worker and the word index's builder (latest
//! wins: a keystroke replaces the search in flight, and results of an older query are
//! dropped; until the word index is built, searches scan the records).
//! Results come back ready to draw (sanitized snippets with the character positions to
//! highlight).

use crate::sanitize;
use std::sync::Arc;

use crate::search::{BackgroundText, Query, SearchOptions};

use crate::index::SharedHistory;
use crate::work::Cancel;

/// One result row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HitRow {
    pub run: usize,
    pub step: Option<u32>,
    /// The run's id, sanitized.
    pub run_id: String,
    pub field: String,
    pub snippet: String,
    /// Character positions in `snippet` to highlight.
    pub positions: Vec<usize>,
}

/// What a query found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchDoc {
    pub query: String,
    pub hits: Vec<HitRow>,
    /// An upper bound of all hits.
    pub candidates: usize,
    /// Steps whose text was searched (those of the history as it was).
    pub text_covered: usize,
}

/// Most results shown.
pub const LIMIT: usize = 200;

/// The worker's side: the search session, kept between searches (its word index is
/// built in the background, then grows with the history).
#[derive(Default, Clone)]
pub struct Searcher {
    text: Arc<BackgroundText>,
}

impl Searcher {
    pub fn new(text: Arc<BackgroundText>) -> Searcher {
        Searcher { text }
    }

    /// The session, for the word index's builder.
    pub fn text(&self) -> Arc<BackgroundText> {
        Arc::clone(&self.text)
    }

    /// Runs `query` over the history (`only_run`: the steps of that run only). A newer
    /// request stops it (indexing keeps what it finished).
    pub fn run(
        &self,
        shared: &SharedHistory,
        query: &str,
        only_run: Option<usize>,
        cancel: &Cancel,
    ) -> Result<SearchDoc, String> {
        let parsed = Query::parse(query).map_err(|e| e.to_string())?;
        let options = SearchOptions {
            limit: LIMIT,
            only_run,
            ..SearchOptions::default()
        };
        let result = self
            .text
            .search(|| shared.read_politely(), &parsed, &options, cancel)
            .map_err(|e| e.to_string())?;
        let h = shared.read_politely();
        Ok(SearchDoc {
            query: query.to_string(),
            hits: result
                .hits
                .into_iter()
                .map(|hit| HitRow {
                    run: hit.run,
                    step: hit.step,
                    run_id: sanitize::line(h.run(hit.run).id()).into_owned(),
                    field: sanitize::line(&hit.field).into_owned(),
                    // Already display-safe; the positions count its characters.
                    snippet: hit.snippet,
                    positions: hit.positions,
                })
                .collect(),
            candidates: result.candidates,
            text_covered: result.text_covered,
        })
    }
}
