//! The incident records on disk: `incidents/INC-….json` (the record) and
//! `incidents/INC-….md` (the post-mortem at the time it was saved) in the library
//! folder, beside `notes/` and `reports/`. One file per incident, named after the failing
//! run, so two people (or two processes) saving different incidents never touch the same
//! file, and there is no shared index to clobber: a git repository of the library merges
//! cleanly. Each file is written atomically (temporary file, fsync, rename); the
//! Markdown first, the JSON last, so an incident exists once its record is complete. A
//! writer killed mid-save leaves at most a hidden temporary file, which readers skip.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::record::Incident;
use crate::postmortem::notes::{atomic_write, remove_stale_temporaries, Library, NotesError};

/// A record that could not be read (the rest of the library still loads).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoreProblem {
    pub file: PathBuf,
    pub reason: String,
}

impl std::fmt::Display for StoreProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.reason)
    }
}

/// Every readable incident of a library, and the files that could not be read.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// Sorted by failure time, then id.
    pub incidents: Vec<Incident>,
    pub problems: Vec<StoreProblem>,
}

/// Where a save went.
#[derive(Debug, Clone)]
pub struct Saved {
    pub record: PathBuf,
    pub report: PathBuf,
    /// `false` when an earlier record of the same incident was replaced.
    pub created: bool,
}

/// The incidents folder of a library.
#[derive(Debug, Clone)]
pub struct IncidentStore {
    library: Library,
}

impl IncidentStore {
    pub fn new(library: Library) -> IncidentStore {
        IncidentStore { library }
    }

    pub fn library(&self) -> &Library {
        &self.library
    }

    pub fn dir(&self) -> PathBuf {
        self.library.root().join("incidents")
    }

    pub fn record_path(&self, id: &str) -> PathBuf {
        self.dir().join(format!("{id}.json"))
    }

    pub fn report_path(&self, id: &str) -> PathBuf {
        self.dir().join(format!("{id}.md"))
    }

    /// Saves `incident` and its Markdown report. Saving the same incident again updates
    /// it and keeps its creation date.
    pub fn save(&self, incident: &mut Incident, markdown: &str) -> Result<Saved, NotesError> {
        let record = self.record_path(&incident.id);
        let report = self.report_path(&incident.id);
        let earlier = match read_record(&record) {
            Ok(old) => Some(old),
            Err(ReadError::Missing) => None,
            // A damaged earlier record is replaced by the complete one.
            Err(ReadError::Other(_)) => None,
        };
        if let Some(old) = &earlier {
            if old.created_at.is_some() {
                incident.created_at = old.created_at.clone();
            }
        }
        atomic_write(&report, markdown.as_bytes()).map_err(io(&report))?;
        let mut bytes = serde_json::to_vec_pretty(incident).map_err(|e| NotesError::Corrupt {
            path: record.clone(),
            reason: e.to_string(),
        })?;
        bytes.push(b'\n');
        atomic_write(&record, &bytes).map_err(io(&record))?;
        remove_stale_temporaries(&report);
        remove_stale_temporaries(&record);
        Ok(Saved {
            record,
            report,
            created: earlier.is_none(),
        })
    }

    /// Every incident; unreadable records become problems. Action items are taken from
    /// the run's notes when they were saved after the record (the notes are where items
    /// are ticked off: `retrace notes RUN --done N`).
    pub fn load_all(&self) -> Result<Loaded, NotesError> {
        let paths = self.record_files()?;
        let mut loaded = Loaded::default();
        for (path, read) in paths
            .iter()
            .zip(super::parallel_map(&paths, |p| read_record(p)))
        {
            match read {
                Ok(i) => loaded.incidents.push(i),
                Err(ReadError::Missing) => {} // Replaced while listing.
                Err(ReadError::Other(e)) => loaded.problems.push(StoreProblem {
                    file: path.clone(),
                    reason: problem_reason(e),
                }),
            }
        }
        self.refresh_actions(&mut loaded.incidents);
        loaded
            .incidents
            .sort_by_cached_key(|i| (i.failed_at_ms(), i.id.clone()));
        loaded.problems.sort_by(|a, b| a.file.cmp(&b.file));
        Ok(loaded)
    }

    /// The record files of the library (none when it has no incidents folder yet).
    pub(crate) fn record_files(&self) -> Result<Vec<PathBuf>, NotesError> {
        let dir = self.dir();
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(&dir)(e)),
        };
        let mut paths = Vec::new();
        for entry in entries {
            let path = entry.map_err(io(&dir))?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            // Hidden files are writers' temporaries (finished or abandoned).
            if !name.starts_with('.') && name.ends_with(".json") {
                paths.push(path);
            }
        }
        Ok(paths)
    }

    /// Takes the action items of the runs' notes saved after their incident.
    pub(crate) fn refresh_actions(&self, incidents: &mut [Incident]) {
        let Ok(entries) = std::fs::read_dir(self.library.notes_dir()) else {
            return;
        };
        let names: HashSet<String> = entries
            .flatten()
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .collect();
        for incident in incidents {
            let run = incident.run_id().to_string();
            let file = self.library.notes_path(&run);
            let listed = file
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| names.contains(n));
            if !listed {
                continue;
            }
            let Ok(notes) = self.library.load_notes(&run) else {
                continue;
            };
            let newer = match (&notes.updated_at, &incident.updated_at) {
                (Some(n), Some(i)) => {
                    crate::time::parse_rfc3339_ms(n) > crate::time::parse_rfc3339_ms(i)
                }
                (Some(_), None) => true,
                _ => false,
            };
            if newer {
                incident.action_items = notes.action_items;
            }
        }
    }
}

pub(crate) enum ReadError {
    Missing,
    Other(NotesError),
}

pub(crate) fn read_record(path: &Path) -> Result<Incident, ReadError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(ReadError::Missing),
        Err(e) => return Err(ReadError::Other(io(path)(e))),
    };
    serde_json::from_slice::<Incident>(&bytes).map_err(|e| {
        ReadError::Other(NotesError::Corrupt {
            path: path.to_path_buf(),
            reason: format!("not an incident record: {e}"),
        })
    })
}

/// Why a record could not be read, as a problem tells it (its file is named beside).
pub(crate) fn problem_reason(e: NotesError) -> String {
    match e {
        NotesError::Corrupt { reason, .. } => reason,
        other => other.to_string(),
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> NotesError + '_ {
    move |source| NotesError::Io {
        path: path.to_path_buf(),
        source,
    }
}
