//! retrace: post-mortems of AI-agent runs.
//!
//! The core is headless: it finds run files ([`source`]), reads them through format
//! adapters ([`ingest`]) into a compact [`index::History`], and exposes runs and steps
//! to the views (the CLI in `main.rs`, the TUI behind the `tui` feature).
//!
//! ```no_run
//! use retrace::index::{History, LoadOptions};
//! let history = History::load(&["assets/demo".into()], &LoadOptions::default())?;
//! for run in history.runs() {
//!     println!("{} {} {} steps", run.id(), run.outcome(), run.step_count());
//! }
//! # Ok::<(), retrace::Error>(())
//! ```

pub mod cli;
pub mod config;
pub mod describe;
pub mod diverge;
pub mod failure_strip;
pub mod incidents;
pub mod index;
pub mod ingest;
pub mod model;
pub mod postmortem;
pub mod present;
pub mod redact;
pub mod replay;
pub mod runs;
pub mod sanitize;
pub mod search;
pub mod serve;
pub mod share;
pub mod source;
pub mod stats;
pub mod time;
pub mod tree;
#[cfg(feature = "tui")]
pub mod tui;
pub mod waterfall;
pub mod width;
pub mod work;

use std::path::{Path, PathBuf};

/// Errors of the core. Bad lines are not errors: they are [`model::Problem`]s.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The cause is said in the message, not chained as a source: a chain-printing
    /// reporter (`{:#}`) would say it twice.
    #[error("{path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("no run matches {0:?}")]
    RunNotFound(String),
    #[error("{prefix:?} matches several runs: {}", candidates.join(", "))]
    AmbiguousRun {
        prefix: String,
        candidates: Vec<String>,
    },
    #[error("{path}: cannot read the record at byte {offset} (did the file change?): {reason}")]
    Unreadable {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn io(path: &Path, cause: std::io::Error) -> Error {
        Error::Io {
            path: path.to_path_buf(),
            cause,
        }
    }
}
