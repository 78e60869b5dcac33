//! The incident library: resolved incidents kept as plain files in the library folder
//! ([`store`]), each a record of the post-mortem ([`record`]); the resolved incidents
//! most like a new failure, with a score and the reasons ([`similar`]); and the search
//! language over them ([`search`]). Headless: the CLI and the browser call these and
//! render what they return.
//!
//! ```no_run
//! use retrace::incidents::{self, similar::{Failure, SimilarIndex}, store::IncidentStore};
//! use retrace::index::{History, LoadOptions};
//! use retrace::postmortem::notes::Library;
//! let history = History::load(&["assets/demo".into()], &LoadOptions::default())?;
//! let store = IncidentStore::new(Library::at("/tmp/library"));
//! incidents::add(&history, history.find_run("r-2bcd0cc3")?, None, &store, &Default::default())?;
//! let index = SimilarIndex::new(store.load_all()?.incidents);
//! let failure = incidents::failure_of(&history, history.find_run("r-bb19956c")?, store.library())?;
//! for m in index.similar(&failure, 5) {
//!     println!("{} {:.2} {}", m.incident, m.score, m.reasons.join("; "));
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod cache;
pub mod record;
pub mod search;
pub mod similar;
pub mod store;

use crate::index::{History, RunRef};
use crate::postmortem::notes::{Library, NotesError};
use crate::postmortem::Investigation;
use record::{AddOptions, Incident};
use similar::Failure;
use store::{IncidentStore, Saved};

/// `f` over `items`, in order, spread over the cores (a library of thousands of records
/// is read and prepared in parallel); small inputs stay on this thread.
pub(crate) fn parallel_map<T: Sync, U: Send>(items: &[T], f: impl Fn(&T) -> U + Sync) -> Vec<U> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    if threads < 2 || items.len() < 256 {
        return items.iter().map(f).collect();
    }
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(items.len().div_ceil(threads))
            .map(|chunk| scope.spawn(move || chunk.iter().map(f).collect::<Vec<U>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// Why an incident could not be saved or compared.
#[derive(Debug, thiserror::Error)]
pub enum IncidentError {
    #[error(transparent)]
    Core(#[from] crate::Error),
    #[error(transparent)]
    Library(#[from] NotesError),
    #[error("run {0} did not fail: there is no failure to save or compare")]
    NotAFailure(String),
}

/// Saves the incident of the failing `run` (compared with `against`, else the picked
/// run) from its notes in the store's library; returns the record and where it went.
pub fn add<'h>(
    history: &'h History,
    run: RunRef<'h>,
    against: Option<RunRef<'h>>,
    store: &IncidentStore,
    options: &AddOptions,
) -> Result<(Incident, Saved), IncidentError> {
    let notes = store.library().load_notes(run.id())?;
    let inv = Investigation::open(history, run, against)?;
    if inv.first_failure().is_none() {
        return Err(IncidentError::NotAFailure(run.id().to_string()));
    }
    let (mut incident, markdown) = record::build(history, &inv, &notes, options)?;
    let saved = store.save(&mut incident, &markdown)?;
    Ok((incident, saved))
}

/// The failure of `run` as `similar` compares it (its category: the one set in its
/// notes in `library`, else the classifier's).
pub fn failure_of<'h>(
    history: &'h History,
    run: RunRef<'h>,
    library: &Library,
) -> Result<Failure, IncidentError> {
    let category = library.load_notes(run.id()).ok().and_then(|n| n.category);
    let inv = Investigation::open(history, run, None)?;
    if inv.first_failure().is_none() {
        return Err(IncidentError::NotAFailure(run.id().to_string()));
    }
    Ok(Failure::of_run(history, &inv, category)?)
}

/// The library's incidents prepared for `similar`, read again only when the incidents
/// or notes folder changed (a save elsewhere, a ticked action item): for a long-lived
/// caller such as the browser's worker.
pub struct LiveIndex {
    store: IncidentStore,
    stamp: Option<[Option<std::time::SystemTime>; 2]>,
    index: similar::SimilarIndex,
}

impl LiveIndex {
    pub fn new(store: IncidentStore) -> LiveIndex {
        LiveIndex {
            store,
            stamp: None,
            index: similar::SimilarIndex::default(),
        }
    }

    pub fn store(&self) -> &IncidentStore {
        &self.store
    }

    /// The prepared incidents, read again if the folders changed since the last call.
    pub fn current(&mut self) -> Result<&similar::SimilarIndex, NotesError> {
        let modified = |p: std::path::PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        let stamp = [
            modified(self.store.dir()),
            modified(self.store.library().notes_dir()),
        ];
        if self.stamp != Some(stamp) {
            let loaded = self.store.load_all()?;
            self.index = similar::SimilarIndex::new(loaded.incidents);
            self.stamp = Some(stamp);
        }
        Ok(&self.index)
    }
}
