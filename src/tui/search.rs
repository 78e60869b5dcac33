//! `/` search, as the browser runs it: a thin adapter over a search
//! [`Session`](crate::search::Session) kept by the search worker (latest wins: a
//! keystroke replaces the search in flight, and results of an older query are dropped).
//! Results come back ready to draw (sanitized snippets with the character positions to
//! highlight).

use crate::sanitize;
use crate::search::{Query, SearchOptions, Session};

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
}

/// Most results shown.
pub const LIMIT: usize = 200;

/// The worker's side: a search [`Session`], kept between searches (its text index
/// grows with the history).
#[derive(Default)]
pub struct Searcher {
    session: Session,
}

impl Searcher {
    /// Runs `query` over the history (`only_run`: the steps of that run only). A newer
    /// request stops it (indexing keeps what it finished). The history's lock is taken
    /// only in short holds: indexing reads files outside it.
    pub fn run(
        &mut self,
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
            .session
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
        })
    }
}
