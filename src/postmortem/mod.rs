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
use crate::index::{History, RunRef, StepPlan};
use crate::model::Step;
use crate::work::Cancel;

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
        let plan = InvestigationPlan::new(history, run, against)?;
        let read = plan.read(&Cancel::never())?;
        Ok(read.bind(history))
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

/// An investigation decided while holding the history (which runs, where their steps
/// live) and read after letting go of it ([`InvestigationPlan::read`]), then bound to
/// the history again under a short hold: for front ends sharing the history with a
/// writer.
pub struct InvestigationPlan {
    run: usize,
    how: Planned,
}

enum Planned {
    Diff(diverge::DiffPlan),
    /// Nothing comparable: the run alone.
    Alone(StepPlan),
}

/// What [`InvestigationPlan::read`] read, to [`ReadInvestigation::bind`].
pub struct ReadInvestigation {
    run: usize,
    read: Read,
}

enum Read {
    Diff(Box<(diverge::DiffPlan, diverge::PlannedDiff)>),
    Alone(Vec<Step>),
}

impl InvestigationPlan {
    /// Chooses the comparison run and plans the reads (short: no step is read).
    pub fn new(
        history: &History,
        run: RunRef<'_>,
        against: Option<RunRef<'_>>,
    ) -> Result<InvestigationPlan, crate::Error> {
        let how = match diverge::DiffPlan::new(history, run, against) {
            Ok(plan) => Planned::Diff(plan),
            Err(DiffError::NoComparableRun { .. }) => Planned::Alone(run.plan(0..run.step_count())),
            Err(DiffError::Core(e)) => return Err(e),
            Err(DiffError::Cancelled) => {
                return Err(crate::Error::Internal("comparison cancelled".into()))
            }
        };
        Ok(InvestigationPlan {
            run: run.index(),
            how,
        })
    }

    /// Reads the runs and aligns them (the long part), stopping once `cancel` is set.
    pub fn read(self, cancel: &Cancel) -> Result<ReadInvestigation, crate::Error> {
        let read = match self.how {
            Planned::Diff(plan) => match plan.run(cancel) {
                Ok(made) => Read::Diff(Box::new((plan, made))),
                Err(DiffError::Core(e)) => return Err(e),
                Err(_) => return Err(crate::Error::Internal("comparison cancelled".into())),
            },
            Planned::Alone(steps) => Read::Alone(steps.read(true)?),
        };
        Ok(ReadInvestigation {
            run: self.run,
            read,
        })
    }
}

impl ReadInvestigation {
    /// The investigation, bound to `history` (the one it was planned on: it only grows).
    pub fn bind(self, history: &History) -> Investigation<'_> {
        let run = history.run(self.run);
        match self.read {
            Read::Diff(read) => {
                let (plan, made) = *read;
                let diff = plan.bind(history, made);
                Investigation {
                    run,
                    steps: diff.a_steps.clone(),
                    diff: Some(diff),
                }
            }
            Read::Alone(steps) => Investigation {
                run,
                steps,
                diff: None,
            },
        }
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
