//! The post-mortem of one failing run: its failure category with evidence ([`classify`]),
//! the incident timeline ([`timeline`]), the engineer's notes kept outside the log folders
//! ([`notes`]) and the post-mortem document ([`report`]). Headless: the CLI and the
//! browser call these functions and render the view models they return; text taken from
//! run files is left raw here and sanitized by whoever displays it (the report does so
//! itself).
//!
//! ```no_run
//! use retrace::index::{History, LoadOptions};
//! use retrace::postmortem::{classify, Investigation};
//! let history = History::load(&["assets/demo".into()], &LoadOptions::default())?;
//! let run = history.find_run("r-2bcd0cc3")?;
//! let inv = Investigation::open(&history, run, None)?;
//! let verdict = classify::classify(&history, &inv)?;
//! println!("{} ({:.2})", verdict.category, verdict.confidence);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod actions;
pub mod classify;
pub(crate) mod evidence;
pub mod notes;
pub mod report;
pub mod timeline;
pub(crate) mod values;
pub(crate) mod vocab;

use serde::{Deserialize, Serialize};

use crate::diverge::{self, Diff, DiffError};
use crate::index::{History, RunRef};
use crate::model::Step;

/// The failure categories of a post-mortem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// A tool broke: it returned an error (or hung) where the same call worked before.
    ToolFailure,
    /// The agent behaves differently after its prompt, version or model changed.
    PromptDrift,
    /// The run acted on data that was wrong: half-written, stale or contradictory.
    StateCorruption,
    /// Something outside changed: credentials, permissions, quotas, API versions,
    /// certificates.
    EnvironmentalChange,
    /// An input unlike any the agent had handled: empty, huge, another script, negative,
    /// an impossible date.
    EdgeCaseInput,
}

impl Category {
    pub const ALL: [Category; 5] = [
        Category::ToolFailure,
        Category::PromptDrift,
        Category::StateCorruption,
        Category::EnvironmentalChange,
        Category::EdgeCaseInput,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::ToolFailure => "tool_failure",
            Category::PromptDrift => "prompt_drift",
            Category::StateCorruption => "state_corruption",
            Category::EnvironmentalChange => "environmental_change",
            Category::EdgeCaseInput => "edge_case_input",
        }
    }

    /// A human label ("tool failure").
    pub fn label(self) -> &'static str {
        match self {
            Category::ToolFailure => "tool failure",
            Category::PromptDrift => "prompt drift",
            Category::StateCorruption => "state corruption",
            Category::EnvironmentalChange => "environmental change",
            Category::EdgeCaseInput => "edge-case input",
        }
    }

    /// Parses `tool_failure`, `tool-failure` or `tool failure` (any case).
    pub fn parse(s: &str) -> Option<Category> {
        let norm = s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        Category::ALL.into_iter().find(|c| c.as_str() == norm)
    }
}

impl std::fmt::Display for Category {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failing run opened for a post-mortem: its steps, and its comparison with another
/// run (the one given, else the most similar successful run; `None` when the history has
/// nothing comparable).
pub struct Investigation<'h> {
    pub run: RunRef<'h>,
    pub steps: Vec<Step>,
    pub diff: Option<Diff<'h>>,
}

impl<'h> Investigation<'h> {
    /// Loads `run`'s steps and compares it with `against` (or the picked run).
    pub fn open(
        history: &'h History,
        run: RunRef<'h>,
        against: Option<RunRef<'h>>,
    ) -> Result<Investigation<'h>, crate::Error> {
        match diverge::diff(history, run, against) {
            Ok(d) => Ok(Investigation {
                run,
                steps: d.a_steps.clone(),
                diff: Some(d),
            }),
            Err(DiffError::NoComparableRun { .. }) => Ok(Investigation {
                run,
                steps: run.load_steps()?,
                diff: None,
            }),
            Err(DiffError::Core(e)) => Err(e),
            // Nothing cancels this comparison (it runs without a cancel token).
            Err(DiffError::Cancelled) => Err(crate::Error::Internal("comparison cancelled".into())),
        }
    }

    /// The comparison run's id, when there is one.
    pub fn against(&self) -> Option<&'h str> {
        self.diff.as_ref().map(|d| d.b.id())
    }

    /// The step of this run where it diverges from the comparison run.
    pub fn divergence_step(&self) -> Option<u32> {
        self.diff
            .as_ref()
            .and_then(|d| d.comparison.divergence.as_ref())
            .and_then(|d| d.a_step)
    }

    /// The first failing step: the first step with an error, else the `run_end` of a run
    /// that ended badly.
    pub fn first_failure(&self) -> Option<&Step> {
        first_failure(&self.steps, self.run.outcome().is_bad())
    }
}

pub(crate) fn first_failure(steps: &[Step], bad_outcome: bool) -> Option<&Step> {
    steps.iter().find(|s| s.is_error()).or_else(|| {
        steps
            .iter()
            .rev()
            .find(|s| bad_outcome && s.kind == crate::model::StepKind::RunEnd)
    })
}

/// A reference to one step of one run, written `run_id#step` in reports.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct StepRef {
    pub run_id: String,
    pub step: u32,
}

impl std::fmt::Display for StepRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}#{}", self.run_id, self.step)
    }
}
