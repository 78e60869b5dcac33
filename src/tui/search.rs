//! `/` search, as the TUI runs it: the query parsed and run by [`crate::search`] on a
//! worker (latest wins: a keystroke replaces the search in flight, and results of an
//! older query are dropped), against a text index the worker keeps and brings up to date
//! as the history grows. Results come back ready to draw (sanitized snippets with the
//! character positions to highlight).

use crate::sanitize;
use crate::search::{self, Query, SearchOptions, TextIndex};

use super::jobs::SharedHistory;
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
}

/// Most results shown.
pub const LIMIT: usize = 200;

/// The worker's side: the text index, kept between searches.
#[derive(Default)]
pub struct Searcher {
    index: Option<TextIndex>,
}

impl Searcher {
    /// Runs `query` over the history (`only_run`: the steps of that run only). A newer
    /// request stops it (indexing keeps what it finished).
    pub fn run(
        &mut self,
        shared: &SharedHistory,
        query: &str,
        only_run: Option<usize>,
        cancel: &Cancel,
    ) -> Result<SearchDoc, String> {
        let parsed = Query::parse(query).map_err(|e| e.to_string())?;
        self.search(shared, query, &parsed, only_run, cancel)
    }

    fn search(
        &mut self,
        shared: &SharedHistory,
        query: &str,
        parsed: &Query,
        only_run: Option<usize>,
        cancel: &Cancel,
    ) -> Result<SearchDoc, String> {
        let h = shared.read_politely();
        if parsed.has_text() {
            let index = self.index.get_or_insert_with(TextIndex::new);
            if !index.is_current(&h) && !index.update(&h, cancel).map_err(|e| e.to_string())? {
                return Err("search cancelled".into());
            }
        }
        let options = SearchOptions {
            limit: LIMIT,
            only_run,
            ..SearchOptions::default()
        };
        let text = if parsed.has_text() {
            self.index.as_ref()
        } else {
            None
        };
        let result = search::search(&h, text, parsed, &options, cancel)
            .map_err(|_| "search cancelled".to_string())?;
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
        })
    }
}
