//! Search across the whole history: free text matched fuzzily against run fields (id,
//! agent, model, labels, end error), step names and error labels, and the text of every
//! record (through the [`TextIndex`]), combined with filters ([`Query`]); results
//! ranked, with snippets and the positions of the matched characters. Run lists
//! (filtered by a query's run filters) are [`crate::runs`].
//!
//! Headless and synchronous: a search takes a cancel flag (checked between segments
//! and batches), so a UI can run it on a worker and drop stale searches. Metadata
//! (names, error labels) is matched once per distinct string, then mapped to steps.
//! Steps not yet in the text index are still found by their names and error labels.
//!
//! Ranking: each query word scores its best match in a step or run (exact word 1000,
//! prefix 600–900, fuzzy 100–400); a field equal to the whole query (an exact error
//! code, tool name or run id) adds 2000, a name or error label containing it 500. Ties
//! go to the most recent.

pub mod background;
mod engine;
mod find;
pub mod fused;
pub mod late;
pub mod matcher;
pub mod query;
pub mod scan;
pub mod session;
pub mod text_index;
pub mod tokens;

use crate::index::History;
use crate::work::Cancel;
pub use background::BackgroundText;
pub use fused::{BlockFindings, FusedText, QueryLineScan, ScanReports};
pub use late::LateScan;
pub use query::{Query, QueryError};
pub use scan::ScanText;
pub use session::{Session, SessionError};
pub use text_index::{IndexJob, IndexPart, TextIndex, TextIndexStats, TextSource};

/// One result: a run (`step: None`) or a step of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// The run's index in [`History::run`].
    pub run: usize,
    /// The step's position in the run.
    pub step: Option<u32>,
    /// Where the match is: `run_id`, `agent`, `model`, `label`, `end_error` for runs;
    /// `name`, `error`, or the record field (`input`, `output`, `reason`, …) for steps.
    pub field: String,
    pub score: u32,
    /// One display-safe line of the field around the match (already sanitized).
    pub snippet: String,
    /// Character positions in `snippet` of the matched characters.
    pub positions: Vec<usize>,
}

/// How to search.
#[derive(Debug, Clone)]
pub struct SearchOptions {
    /// Most hits returned.
    pub limit: usize,
    /// The current time (epoch ms), for relative times in the query.
    pub now: i64,
    /// Only the steps of this run (by index): for walking matches inside a run.
    pub only_run: Option<usize>,
}

impl Default for SearchOptions {
    fn default() -> Self {
        SearchOptions {
            limit: 50,
            now: now_ms(),
            only_run: None,
        }
    }
}

/// The current time in epoch milliseconds.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// What a search found.
#[derive(Debug, Clone, Default)]
pub struct SearchResult {
    /// Best first, at most `limit`.
    pub hits: Vec<Hit>,
    /// Steps and runs that matched the filters and the words before confirmation (an
    /// upper bound of all hits).
    pub candidates: usize,
    /// Steps whose text was searched (the rest were searched by name and error only).
    pub text_covered: usize,
    /// The fuzzy budget ran out: some fuzzy matches may be missing.
    pub fuzzy_truncated: bool,
}

/// The search was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cancelled;

/// Searches `history` for `query`. Without a text index (or for steps it does not cover
/// yet) steps are matched by name and error label only.
pub fn search(
    history: &History,
    text: Option<&TextIndex>,
    query: &Query,
    options: &SearchOptions,
    cancel: &Cancel,
) -> Result<SearchResult, Cancelled> {
    search_in(
        history,
        text.map(|t| t as &dyn TextSource),
        query,
        options,
        cancel,
    )
}

/// Like [`search`], with the steps' text searched in `text`: a word index, or a scan of
/// the records ([`ScanText`], for a search that cannot wait for the index).
pub fn search_in(
    history: &History,
    text: Option<&dyn TextSource>,
    query: &Query,
    options: &SearchOptions,
    cancel: &Cancel,
) -> Result<SearchResult, Cancelled> {
    engine::Search::new(history, query, options).run(text, cancel)
}
