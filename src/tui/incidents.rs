//! The incident library's worker jobs for the browser: the resolved incidents most like
//! the shown failing run, and saving the shown run as an incident. The core reads,
//! compares and writes; this module only shapes the results the app shows (text from
//! the library sanitized here, once). Kept apart from the workers so that messages
//! (`event.rs`) can name its results without importing the workers.

use std::path::PathBuf;

use crate::incidents::record::AddOptions;
use crate::incidents::search::IncidentHit;
use crate::incidents::similar::Match;
use crate::incidents::store::IncidentStore;
use crate::incidents::LiveIndex;
use crate::index::SharedHistory;
use crate::postmortem::notes::Library;
use crate::sanitize;

/// The similar incidents of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct SimilarDoc {
    pub run: usize,
    pub run_id: String,
    /// Best first, above the threshold; text sanitized.
    pub matches: Vec<Match>,
    /// Incidents in the library.
    pub library: usize,
}

/// The incidents of the library matching a query.
#[derive(Debug, Clone, PartialEq)]
pub struct LibraryDoc {
    pub query: String,
    pub hits: Vec<IncidentHit>,
    /// Incidents in the library.
    pub total: usize,
}

/// An incident saved from the browser.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedDoc {
    pub run: usize,
    pub id: String,
    pub record: PathBuf,
    pub created: bool,
}

/// The incidents of the library at `root` most like failing run `run` (`live` keeps
/// the prepared library between calls, on the worker).
pub fn similar(
    shared: &SharedHistory,
    run: usize,
    root: PathBuf,
    live: &mut Option<LiveIndex>,
) -> Result<SimilarDoc, String> {
    if live
        .as_ref()
        .map_or(true, |l| l.store().library().root() != root)
    {
        *live = Some(LiveIndex::new(IncidentStore::new(Library::at(&root))));
    }
    let live = live.as_mut().ok_or("no library")?;
    let h = shared.read_politely();
    if run >= h.run_count() {
        return Err("no such run".into());
    }
    let r = h.run(run);
    let library = live.store().library().clone();
    let index = live.current().map_err(|e| e.to_string())?;
    if index.is_empty() {
        // Nothing to compare with: the classifier and the comparison need not run.
        return Ok(SimilarDoc {
            run,
            run_id: r.id().to_string(),
            matches: Vec::new(),
            library: 0,
        });
    }
    let failure = crate::incidents::failure_of(&h, r, &library).map_err(|e| e.to_string())?;
    let mut matches = index.similar(&failure, 5);
    for m in &mut matches {
        m.title = sanitize::line(&m.title).into_owned();
        m.incident = sanitize::line(&m.incident).into_owned();
        for r in &mut m.reasons {
            *r = sanitize::line(r).into_owned();
        }
    }
    Ok(SimilarDoc {
        run,
        run_id: r.id().to_string(),
        matches,
        library: index.len(),
    })
}

/// The incidents of the library at `root` matching `query` (the search language; an
/// empty query lists them all, most recent first). `live` keeps the library read.
pub fn search(
    query: &str,
    root: PathBuf,
    live: &mut Option<LiveIndex>,
) -> Result<LibraryDoc, String> {
    let parsed = crate::search::Query::parse(query).map_err(|e| e.message)?;
    if live
        .as_ref()
        .map_or(true, |l| l.store().library().root() != root)
    {
        *live = Some(LiveIndex::new(IncidentStore::new(Library::at(&root))));
    }
    let live = live.as_mut().ok_or("no library")?;
    let index = live.current().map_err(|e| e.to_string())?;
    let hits =
        crate::incidents::search::search(index.incidents(), &parsed, crate::search::now_ms(), 200)
            .into_iter()
            .map(|mut h| {
                h.incident = sanitize::line(&h.incident).into_owned();
                h
            })
            .collect();
    Ok(LibraryDoc {
        query: query.to_string(),
        hits,
        total: index.len(),
    })
}

/// Saves failing run `run` as an incident of the library at `root`, from its notes.
pub fn save(shared: &SharedHistory, run: usize, root: PathBuf) -> Result<SavedDoc, String> {
    let h = shared.read_politely();
    if run >= h.run_count() {
        return Err("no such run".into());
    }
    let store = IncidentStore::new(Library::at(root));
    let (incident, saved) =
        crate::incidents::add(&h, h.run(run), None, &store, &AddOptions::default())
            .map_err(|e| e.to_string())?;
    Ok(SavedDoc {
        run,
        id: sanitize::line(&incident.id).into_owned(),
        record: saved.record,
        created: saved.created,
    })
}
