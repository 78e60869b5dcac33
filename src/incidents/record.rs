//! One resolved incident as it is kept in the library: the runs, agent, task labels,
//! category, the failing step's signature (kind, tool, error code, normalised
//! arguments), the divergence kind, error codes, narrative, action items and dates.
//! [`build`] gathers it from a post-mortem ([`crate::postmortem::report`]); this module
//! neither reads nor writes files.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::diverge::normalize::{is_prose, is_volatile_key, normalize_str};
use crate::index::History;
use crate::model::{Step, StepKind};
use crate::postmortem::notes::{safe_file_name, ActionItem, Notes};
use crate::postmortem::{evidence, report, values, Category, Investigation};
use crate::time::format_rfc3339;

/// What identifies a step's failure across runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// The step's position in its run.
    pub step: u32,
    /// `tool_result`, `tool_call`, `error`, `run_end`, …
    pub kind: String,
    /// The tool called (for other kinds, the step's name).
    #[serde(default)]
    pub tool: Option<String>,
    #[serde(default)]
    pub error_code: Option<String>,
    #[serde(default)]
    pub error_type: Option<String>,
    #[serde(default)]
    pub error_message: Option<String>,
    /// The call's arguments as `path=value`, sorted: volatile fields (ids, times) left
    /// out, ids and hashes in values replaced by placeholders, numbers by `<number>`,
    /// prose by `<text>`.
    #[serde(default)]
    pub args: Vec<String>,
}

/// Where the failing run split from the run it was compared with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DivergenceSummary {
    /// `error_vs_success`, `different_decision`, … (see `retrace diff`).
    pub kind: String,
    #[serde(default)]
    pub step: Option<u32>,
    #[serde(default)]
    pub summary: String,
}

/// A resolved incident. Unknown fields (from a newer retrace) are ignored when read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// `INC-` and the failing run's id made safe for a file name.
    pub id: String,
    pub title: String,
    /// The failing run first, then the runs that failed the same way.
    pub runs: Vec<String>,
    #[serde(default)]
    pub against: Option<String>,
    #[serde(default)]
    pub agent: Option<String>,
    #[serde(default)]
    pub agent_version: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    /// The failing run's labels (the task labels among them: `task`, `task_id`, …).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    pub category: Category,
    /// `engineer` (set in the notes or with `--category`) or `classifier`.
    #[serde(default)]
    pub category_source: String,
    /// The first failing step.
    #[serde(default)]
    pub failure: Option<Signature>,
    /// The step marked as the root cause (else the first failing step).
    #[serde(default)]
    pub root_cause: Option<Signature>,
    #[serde(default)]
    pub divergence: Option<DivergenceSummary>,
    /// Every error code (else message) of the failing run, in step order.
    #[serde(default)]
    pub error_codes: Vec<String>,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub narrative: Option<String>,
    #[serde(default)]
    pub action_items: Vec<ActionItem>,
    /// RFC 3339 times.
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub failed_at: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
}

impl Incident {
    /// The failing run.
    pub fn run_id(&self) -> &str {
        self.runs.first().map_or("", String::as_str)
    }

    /// The step whose signature stands for the failure: the first failing step, else
    /// the root cause.
    pub fn signature(&self) -> Option<&Signature> {
        self.failure.as_ref().or(self.root_cause.as_ref())
    }

    /// Action items not done yet.
    pub fn open_actions(&self) -> impl Iterator<Item = (usize, &ActionItem)> {
        self.action_items
            .iter()
            .enumerate()
            .filter(|(_, a)| !a.done)
    }

    /// Every action item is done (and there is at least one): the fix is in.
    pub fn all_actions_done(&self) -> bool {
        !self.action_items.is_empty() && self.action_items.iter().all(|a| a.done)
    }

    /// The time of the failure (epoch ms): its first failing step, else the run's start.
    pub fn failed_at_ms(&self) -> Option<i64> {
        self.failed_at
            .as_deref()
            .or(self.started_at.as_deref())
            .and_then(crate::time::parse_rfc3339_ms)
    }
}

/// The incident id of a failing run: stable, so saving the same run again updates it.
pub fn incident_id(run_id: &str) -> String {
    format!("INC-{}", safe_file_name(run_id))
}

/// What the engineer chose when saving, over the notes' and the classifier's.
#[derive(Debug, Clone, Default)]
pub struct AddOptions {
    pub title: Option<String>,
    pub category: Option<Category>,
}

/// The incident of an investigated run with its notes, and its Markdown report.
pub fn build(
    history: &History,
    inv: &Investigation,
    notes: &Notes,
    options: &AddOptions,
) -> Result<(Incident, String), crate::Error> {
    let mut notes = notes.clone();
    if options.category.is_some() {
        notes.category = options.category;
    }
    let doc = report::build(history, inv, &notes)?;
    let markdown = report::markdown(&doc);
    let steps = &inv.steps;
    let first = inv.first_failure();
    let failure = first.map(|s| signature(steps, s));
    let root_cause = notes
        .root_cause
        .and_then(|n| steps.iter().find(|s| s.step == n))
        .map(|s| signature(steps, s))
        .or_else(|| failure.clone());
    let divergence = inv.diff.as_ref().and_then(|d| {
        let div = d.comparison.divergence.as_ref()?;
        Some(DivergenceSummary {
            kind: div.kind.as_str().to_string(),
            step: div.a_step,
            summary: div.summary.clone(),
        })
    });
    let mut error_codes: Vec<String> = Vec::new();
    for s in steps.iter().filter(|s| s.is_error()) {
        if let Some(e) = &s.error {
            let label = e.label().to_string();
            if !label.is_empty() && !error_codes.contains(&label) {
                error_codes.push(label);
            }
        }
    }
    let run = &inv.run;
    let now = format_rfc3339(chrono::Utc::now().timestamp_millis());
    let incident = Incident {
        id: incident_id(run.id()),
        title: options
            .title
            .clone()
            .filter(|t| !t.trim().is_empty())
            .unwrap_or_else(|| doc.title.clone()),
        runs: doc.impact.runs.clone(),
        against: inv.against().map(str::to_string),
        agent: run.agent().map(str::to_string),
        agent_version: run.agent_version().map(str::to_string),
        model: run.model().map(str::to_string),
        labels: run
            .labels()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        category: doc.category.category,
        category_source: doc.category.source.to_string(),
        failure,
        root_cause,
        divergence,
        error_codes,
        summary: doc.summary.clone(),
        narrative: doc.narrative.clone(),
        action_items: notes.action_items.clone(),
        started_at: run.started_at().map(format_rfc3339),
        failed_at: first
            .and_then(|s| s.ts)
            .or(run.started_at())
            .map(format_rfc3339),
        created_at: Some(now.clone()),
        updated_at: Some(now),
    };
    Ok((incident, markdown))
}

/// The signature of `step` of a run (`steps`: the run's steps, to find a result's call).
pub fn signature(steps: &[Step], step: &Step) -> Signature {
    let input = match step.kind {
        StepKind::ToolResult => evidence::call_of(steps, step).and_then(|c| c.field("input")),
        _ => step.field("input"),
    };
    let error = step.error.as_ref();
    Signature {
        step: step.step,
        kind: step.kind_name.clone(),
        tool: step.name.clone(),
        error_code: error.and_then(|e| e.code.clone()),
        error_type: error.and_then(|e| e.error_type.clone()),
        error_message: error.and_then(|e| e.message.clone()),
        args: input.map(normalised_args).unwrap_or_default(),
    }
}

/// At most this many arguments are kept per signature.
const MAX_ARGS: usize = 40;

/// The arguments of a call as sorted `path=value` pairs, free of what varies between
/// two runs doing the same thing (see [`Signature::args`]).
pub fn normalised_args(input: &Value) -> Vec<String> {
    let mut out: Vec<String> = values::leaves(input)
        .into_iter()
        .filter(|(path, _)| {
            let key = path.rsplit('.').next().unwrap_or("").trim_end_matches("[]");
            !is_volatile_key(key)
        })
        .map(|(path, v)| {
            let value = match v {
                Value::String(s) if is_prose(s) => "<text>".to_string(),
                Value::String(s) => crate::describe::truncate(&normalize_str(s, true), 60),
                Value::Number(_) => "<number>".to_string(),
                other => other.to_string(),
            };
            let path = if path.is_empty() { "." } else { &path };
            format!("{}={value}", path.trim_start_matches('.'))
        })
        .collect();
    out.sort();
    out.dedup();
    out.truncate(MAX_ARGS);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn arguments_lose_ids_times_and_numbers_but_keep_their_shape() {
        let args = normalised_args(&json!({
            "to": "a@example.com",
            "request_id": "8c1f0f1e-1111-4222-8333-444455556666",
            "vars": {"amount": 42.5, "order": "A-10301"},
            "body": "Dear customer, your refund is on its way to you.",
            "tags": ["refund", "refund"],
        }));
        assert_eq!(
            args,
            [
                "body=<text>",
                "tags[]=refund",
                "to=a@example.com",
                "vars.amount=<number>",
                "vars.order=A-10301",
            ]
        );
    }

    #[test]
    fn the_id_is_stable_and_safe_for_a_file_name() {
        assert_eq!(incident_id("r-2bcd0cc3"), "INC-r-2bcd0cc3");
        assert_eq!(incident_id("a/b"), "INC-a%2Fb");
    }
}
