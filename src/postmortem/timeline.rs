//! The incident timeline: only the steps a post-mortem talks about (the trigger, each
//! decision with its choice and reason, the divergence, the first failure, its cascade,
//! the changes made in outside systems), each a link to its step. Derived from the run's
//! steps and the divergence; text is raw run data (sanitize before display).

use serde::Serialize;
use serde_json::Value;

use super::{vocab, Investigation};
use crate::describe::{compact, step_summary};
use crate::model::{Step, StepKind};

/// Why a step is on the incident timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Trigger,
    Decision,
    Divergence,
    FirstFailure,
    /// A failure after the first one, or an outside change after the split.
    Cascade,
    /// An `effect`, or a call to a tool that writes.
    ExternalChange,
}

impl Role {
    pub fn label(self) -> &'static str {
        match self {
            Role::Trigger => "trigger",
            Role::Decision => "decision",
            Role::Divergence => "divergence",
            Role::FirstFailure => "first failure",
            Role::Cascade => "cascade",
            Role::ExternalChange => "external change",
        }
    }
}

/// One row: a step and why it matters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub run_id: String,
    pub step: u32,
    pub roles: Vec<Role>,
    pub kind: StepKind,
    pub name: Option<String>,
    pub ts: Option<i64>,
    /// What the step did, one line (at most 160 characters).
    pub summary: String,
    /// A decision's choice and reason.
    pub choice: Option<String>,
    pub reason: Option<String>,
    /// An effect's or write's target and action.
    pub target: Option<String>,
    pub action: Option<String>,
    pub error: Option<String>,
}

/// The incident timeline of one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timeline {
    pub run_id: String,
    pub rows: Vec<Row>,
}

impl Timeline {
    /// The row of `step`, for a view that links a row back into the full timeline.
    pub fn row(&self, step: u32) -> Option<&Row> {
        self.rows.iter().find(|r| r.step == step)
    }
}

/// True when the step changes something outside the agent: an effect, or a call of a
/// tool whose name or HTTP method says it writes.
pub fn is_external_change(s: &Step) -> bool {
    match s.kind {
        StepKind::Effect => true,
        StepKind::ToolCall => {
            s.name.as_deref().is_some_and(vocab::is_write_name)
                || s.field("input")
                    .and_then(|i| i.get("method"))
                    .and_then(Value::as_str)
                    .is_some_and(|m| {
                        matches!(
                            m.to_ascii_uppercase().as_str(),
                            "POST" | "PUT" | "PATCH" | "DELETE"
                        )
                    })
        }
        _ => false,
    }
}

/// The incident timeline of an investigated run.
pub fn of(inv: &Investigation) -> Timeline {
    build(
        inv.run.id(),
        &inv.steps,
        inv.divergence_step(),
        inv.first_failure().map(|s| s.step),
    )
}

/// The incident timeline of `steps`, given the divergence and first failure steps.
pub fn build(
    run_id: &str,
    steps: &[Step],
    divergence: Option<u32>,
    first_failure: Option<u32>,
) -> Timeline {
    let split = match (divergence, first_failure) {
        (Some(d), Some(f)) => Some(d.min(f)),
        (d, f) => d.or(f),
    };
    let mut rows = Vec::new();
    for s in steps {
        let mut roles = Vec::new();
        if s.kind == StepKind::RunStart {
            roles.push(Role::Trigger);
        }
        if s.kind == StepKind::Decision {
            roles.push(Role::Decision);
        }
        if Some(s.step) == divergence {
            roles.push(Role::Divergence);
        }
        if Some(s.step) == first_failure {
            roles.push(Role::FirstFailure);
        }
        let external = is_external_change(s);
        if external {
            roles.push(Role::ExternalChange);
        }
        let after = split.is_some_and(|x| s.step > x);
        if after
            && Some(s.step) != first_failure
            && (s.is_error() || external || s.kind == StepKind::RunEnd)
        {
            roles.push(Role::Cascade);
        }
        if roles.is_empty() {
            continue;
        }
        let str_of = |k: &str| s.field(k).map(compact);
        rows.push(Row {
            run_id: run_id.to_string(),
            step: s.step,
            roles,
            kind: s.kind,
            name: s.name.clone(),
            ts: s.ts,
            summary: step_summary(s, 160),
            choice: if s.kind == StepKind::Decision {
                str_of("chosen")
            } else {
                None
            },
            reason: if s.kind == StepKind::Decision {
                str_of("reason")
            } else {
                None
            },
            target: str_of("target"),
            action: str_of("action")
                .or_else(|| (s.kind == StepKind::ToolCall && external).then(|| "call".to_string())),
            error: s.error.as_ref().map(|e| e.to_string()),
        });
    }
    Timeline {
        run_id: run_id.to_string(),
        rows,
    }
}
