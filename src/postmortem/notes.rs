//! The engineer's notes on a run, kept in the library folder, never in the log folders:
//! the root-cause step, bookmarks, notes on steps, the category set by hand, the
//! narrative and action items. One pretty-printed JSON file per run (stable key order,
//! friendly to a git repository), written atomically (temporary file, fsync, rename), so
//! a reader or a killed writer never sees a torn file. Concurrent writers: the last
//! complete write wins. Action items are checked for being specific
//! ([`check_action`]), as the user types.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Category;

/// The library folder holds `notes/` (this module) and, beside it, the incident records.
pub const LIBRARY_ENV: &str = "RETRACE_LIBRARY";

/// Why notes could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum NotesError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a notes file: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("no library folder: set --library, RETRACE_LIBRARY, XDG_DATA_HOME or HOME")]
    NoLibrary,
    #[error("the library {library} is inside the log folder {logs}: notes are never written among the logs")]
    InsideLogs { library: PathBuf, logs: PathBuf },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> NotesError + '_ {
    move |source| NotesError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The part of a system an action item changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Component {
    Tool,
    Prompt,
    Agent,
    Infra,
}

impl Component {
    pub const ALL: [Component; 4] = [
        Component::Tool,
        Component::Prompt,
        Component::Agent,
        Component::Infra,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Component::Tool => "tool",
            Component::Prompt => "prompt",
            Component::Agent => "agent",
            Component::Infra => "infra",
        }
    }
    pub fn parse(s: &str) -> Option<Component> {
        let s = s.trim().to_ascii_lowercase();
        Component::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// One thing the team will do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionItem {
    pub text: String,
    pub owner: Option<String>,
    pub component: Option<Component>,
    /// How we will know it is done.
    pub done_when: Option<String>,
    #[serde(default)]
    pub done: bool,
}

/// A note attached to one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepNote {
    pub step: u32,
    pub text: String,
}

/// The notes on one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notes {
    pub run_id: String,
    /// The category set by the engineer; overrides the classifier's.
    #[serde(default)]
    pub category: Option<Category>,
    #[serde(default)]
    pub root_cause: Option<u32>,
    /// Sorted, without duplicates.
    #[serde(default)]
    pub bookmarks: Vec<u32>,
    /// Sorted by step; at most one per step.
    #[serde(default)]
    pub step_notes: Vec<StepNote>,
    #[serde(default)]
    pub narrative: Option<String>,
    #[serde(default)]
    pub action_items: Vec<ActionItem>,
    /// When the notes were last saved (RFC 3339).
    #[serde(default)]
    pub updated_at: Option<String>,
    /// Fields written by a newer retrace, kept as they are.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

impl Notes {
    pub fn new(run_id: &str) -> Notes {
        Notes {
            run_id: run_id.to_string(),
            category: None,
            root_cause: None,
            bookmarks: Vec::new(),
            step_notes: Vec::new(),
            narrative: None,
            action_items: Vec::new(),
            updated_at: None,
            other: BTreeMap::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.category.is_none()
            && self.root_cause.is_none()
            && self.bookmarks.is_empty()
            && self.step_notes.is_empty()
            && self
                .narrative
                .as_deref()
                .map_or(true, |n| n.trim().is_empty())
            && self.action_items.is_empty()
    }

    /// Bookmarks `step`, or removes the bookmark when it is there. Returns whether the
    /// step is bookmarked now.
    pub fn toggle_bookmark(&mut self, step: u32) -> bool {
        match self.bookmarks.binary_search(&step) {
            Ok(i) => {
                self.bookmarks.remove(i);
                false
            }
            Err(i) => {
                self.bookmarks.insert(i, step);
                true
            }
        }
    }

    /// Sets the note on `step`; an empty text removes it.
    pub fn set_step_note(&mut self, step: u32, text: &str) {
        let text = text.trim();
        match self.step_notes.binary_search_by_key(&step, |n| n.step) {
            Ok(i) if text.is_empty() => {
                self.step_notes.remove(i);
            }
            Ok(i) => self.step_notes[i].text = text.to_string(),
            Err(_) if text.is_empty() => {}
            Err(i) => self.step_notes.insert(
                i,
                StepNote {
                    step,
                    text: text.to_string(),
                },
            ),
        }
    }

    pub fn step_note(&self, step: u32) -> Option<&str> {
        self.step_notes
            .iter()
            .find(|n| n.step == step)
            .map(|n| n.text.as_str())
    }

    /// Puts the lists in their canonical order (files stay diff-friendly).
    fn normalise(&mut self) {
        self.bookmarks.sort_unstable();
        self.bookmarks.dedup();
        self.step_notes.sort_by_key(|n| n.step);
        self.step_notes.dedup_by_key(|n| n.step);
    }
}

/// A file name for `run_id` that is safe on every filesystem and unique per id: letters,
/// digits, `-` and `_` are kept, every other byte becomes `%XX`; long ids are cut and
/// end with a hash of the whole id.
pub fn safe_file_name(run_id: &str) -> String {
    let mut out = String::with_capacity(run_id.len());
    for b in run_id.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.is_empty() {
        out.push_str("%00");
    }
    const MAX: usize = 120;
    if out.len() > MAX {
        // FNV-1a: stable across builds and platforms, unlike std's hasher.
        let hash = run_id.bytes().fold(0xcbf29ce484222325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
        });
        out.truncate(100);
        out.push_str(&format!("~{hash:016x}"));
    }
    out
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, fsynced,
/// then renamed over `path`, and the folder fsynced. Readers see the old file or the new
/// one, never a part of either.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    atomic_write_mode(path, bytes, 0o666)
}

/// [`atomic_write`] of a file only its owner may read or write (a cache of this user's).
pub(crate) fn atomic_write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    atomic_write_mode(path, bytes, 0o600)
}

fn atomic_write_mode(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
        #[cfg(not(unix))]
        let _ = mode;
        let mut f = options.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        #[cfg(unix)]
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Temporary files older than this were left by a writer that died mid-save.
const STALE_TEMPORARY: std::time::Duration = std::time::Duration::from_secs(600);

/// Removes the temporary files that writers killed mid-save left beside `path`.
pub(crate) fn remove_stale_temporaries(path: &Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return;
    };
    let prefix = format!(".{name}.");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let file = e.file_name();
        let Some(f) = file.to_str() else { continue };
        if !(f.starts_with(&prefix) && f.ends_with(".tmp")) {
            continue;
        }
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE_TEMPORARY);
        if old {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// The library folder: where notes (and incident records) are kept.
#[derive(Debug, Clone)]
pub struct Library {
    root: PathBuf,
}

impl Library {
    /// The folder given, else `$RETRACE_LIBRARY`, else `$XDG_DATA_HOME/retrace`, else
    /// `~/.local/share/retrace`. Nothing is created until something is saved.
    pub fn locate(explicit: Option<&Path>) -> Result<Library, NotesError> {
        let env = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let root = explicit
            .map(Path::to_path_buf)
            .or_else(|| env(LIBRARY_ENV))
            .or_else(|| env("XDG_DATA_HOME").map(|d| d.join("retrace")))
            .or_else(|| env("HOME").map(|h| h.join(".local/share/retrace")))
            .ok_or(NotesError::NoLibrary)?;
        Ok(Library { root })
    }

    pub fn at(root: impl Into<PathBuf>) -> Library {
        Library { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Refuses a library inside any of the log folders being read.
    pub fn ensure_outside(&self, logs: &[PathBuf]) -> Result<(), NotesError> {
        let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        let mut lib = canon(&self.root);
        // The library may not exist yet: resolve its closest existing ancestor.
        if !self.root.exists() {
            let mut existing = self.root.as_path();
            let mut rest = Vec::new();
            while !existing.exists() {
                match (existing.parent(), existing.file_name()) {
                    (Some(p), Some(n)) => {
                        rest.push(n.to_os_string());
                        existing = p;
                    }
                    _ => break,
                }
            }
            lib = canon(if existing.as_os_str().is_empty() {
                Path::new(".")
            } else {
                existing
            });
            lib.extend(rest.iter().rev());
        }
        for l in logs {
            let l = canon(l);
            if l.is_dir() && lib.starts_with(&l) {
                return Err(NotesError::InsideLogs {
                    library: lib,
                    logs: l,
                });
            }
        }
        Ok(())
    }

    pub fn notes_dir(&self) -> PathBuf {
        self.root.join("notes")
    }

    pub fn notes_path(&self, run_id: &str) -> PathBuf {
        self.notes_dir()
            .join(format!("{}.json", safe_file_name(run_id)))
    }

    /// The notes on `run_id`; empty notes when there are none yet.
    pub fn load_notes(&self, run_id: &str) -> Result<Notes, NotesError> {
        let path = self.notes_path(run_id);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Notes::new(run_id)),
            Err(e) => return Err(io_err(&path)(e)),
        };
        let notes: Notes = serde_json::from_slice(&bytes).map_err(|e| NotesError::Corrupt {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        if notes.run_id != run_id {
            return Err(NotesError::Corrupt {
                path,
                reason: format!("it holds the notes of run {:?}", notes.run_id),
            });
        }
        Ok(notes)
    }

    /// Saves `notes` (stamping `updated_at`) and returns the file written.
    pub fn save_notes(&self, notes: &mut Notes) -> Result<PathBuf, NotesError> {
        notes.normalise();
        notes.updated_at = Some(crate::time::format_rfc3339(
            chrono::Utc::now().timestamp_millis(),
        ));
        let path = self.notes_path(&notes.run_id);
        let mut bytes = serde_json::to_vec_pretty(notes).map_err(|e| NotesError::Corrupt {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        bytes.push(b'\n');
        atomic_write(&path, &bytes).map_err(io_err(&path))?;
        remove_stale_temporaries(&path);
        Ok(path)
    }

    pub fn reports_dir(&self) -> PathBuf {
        self.root.join("reports")
    }

    /// Where the Markdown post-mortem of `run_id` is saved.
    pub fn report_path(&self, run_id: &str) -> PathBuf {
        self.reports_dir()
            .join(format!("{}.md", safe_file_name(run_id)))
    }

    /// Saves the Markdown post-mortem of `run_id` atomically; returns the file written.
    pub fn save_report(&self, run_id: &str, markdown: &str) -> Result<PathBuf, NotesError> {
        let path = self.report_path(run_id);
        atomic_write(&path, markdown.as_bytes()).map_err(io_err(&path))?;
        remove_stale_temporaries(&path);
        Ok(path)
    }

    /// Loads the notes on `run_id`, applies `change`, and saves them.
    pub fn update_notes(
        &self,
        run_id: &str,
        change: impl FnOnce(&mut Notes),
    ) -> Result<Notes, NotesError> {
        let mut notes = self.load_notes(run_id)?;
        change(&mut notes);
        self.save_notes(&mut notes)?;
        Ok(notes)
    }

    /// Every notes file of the library (unreadable ones as errors), by run id.
    pub fn all_notes(&self) -> Result<Vec<Result<Notes, NotesError>>, NotesError> {
        let dir = self.notes_dir();
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(&dir)(e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let path = entry.map_err(io_err(&dir))?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.starts_with('.') || !name.ends_with(".json") {
                continue; // Temporary files of writers.
            }
            out.push(std::fs::read(&path).map_err(io_err(&path)).and_then(|b| {
                serde_json::from_slice::<Notes>(&b).map_err(|e| NotesError::Corrupt {
                    path: path.clone(),
                    reason: e.to_string(),
                })
            }));
        }
        out.sort_by(|a, b| match (a, b) {
            (Ok(a), Ok(b)) => a.run_id.cmp(&b.run_id),
            (Ok(_), Err(_)) => std::cmp::Ordering::Less,
            (Err(_), Ok(_)) => std::cmp::Ordering::Greater,
            _ => std::cmp::Ordering::Equal,
        });
        Ok(out)
    }
}

pub use super::actions::{check_action, check_action_text, parse_action, ActionIssue};
