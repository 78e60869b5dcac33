//! Turns records of run files into model events. One adapter per format; each is a pure
//! function from a record's text to [`Event`]s, and unusable records become reasons,
//! never panics.

pub mod claude_code;
pub mod codex;
pub mod detect;
mod json;
pub mod native;
pub mod otel;
pub mod scan;
pub mod tau_bench;

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::model::{Format, Outcome, Status, StepError, StepKind, Tokens};

/// One step as an adapter sees it: the typed fields the index keeps, and (when asked
/// for) the full record the detail view shows. Strings borrow from the record when they
/// can.
#[derive(Debug, Default)]
pub struct Event<'a> {
    pub run_id: Cow<'a, str>,
    pub kind: Cow<'a, str>,
    /// `kind` parsed, when the adapter already did (the native hot path asks for it
    /// several times per line).
    pub parsed_kind: Option<StepKind>,
    /// Native `step`: the order inside the run.
    pub step: Option<u32>,
    /// This step's position among the events of its record (a record can hold several
    /// steps: spans of an OpenTelemetry batch, blocks of a Claude Code message).
    pub sub: u32,
    /// Where this step's own record sits inside the parsed text `(start, len)`, when it is
    /// a part of it (a trial of a tau-bench document).
    pub span: Option<(usize, usize)>,
    pub id: Option<Cow<'a, str>>,
    pub parent: Option<Cow<'a, str>>,
    pub name: Option<Cow<'a, str>>,
    pub status: Option<Status>,
    pub error: Option<StepError>,
    /// Epoch milliseconds.
    pub ts: Option<i64>,
    pub duration_ms: Option<f64>,
    pub model: Option<Cow<'a, str>>,
    /// `agent`, `agent_version`, `model` and `labels` describe the run, not only the step.
    pub describes_run: bool,
    pub agent: Option<Cow<'a, str>>,
    pub agent_version: Option<Cow<'a, str>>,
    pub labels: Option<BTreeMap<String, String>>,
    /// Carries run information only (a Codex `turn_context`): not a step.
    pub run_info_only: bool,
    /// The step's token usage (a model call's), as the run's total should see it.
    pub tokens: Option<Tokens>,
    /// How `tokens` add up into the run's total.
    pub tokens_count: TokenCount,
    /// Set on the event that ends the run.
    pub outcome: Option<Outcome>,
    /// The record shown for this step (filled only when asked for).
    pub record: Option<serde_json::Value>,
}

/// How a step's tokens count toward its run's total.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenCount {
    /// Added to the total (a native step, a model-call span).
    #[default]
    Add,
    /// One usage reported on several records, its figures growing (a Claude Code message
    /// split over several lines, Codex's running session total): the run counts the
    /// largest figures seen under this key, once.
    Once(u64),
    /// Shown, not added: it repeats its children's usage (an agent span's aggregate).
    Shown,
}

/// A stable key for [`TokenCount::Once`].
pub fn usage_key(text: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = rustc_hash::FxHasher::default();
    text.hash(&mut h);
    h.finish()
}

impl Event<'_> {
    pub fn step_kind(&self) -> StepKind {
        self.parsed_kind
            .unwrap_or_else(|| StepKind::parse(&self.kind))
    }

    /// The status, with an `error` field or an `error` kind implying one.
    pub fn effective_status(&self) -> Status {
        match self.status {
            Some(s) => s,
            None if self.error.is_some() && self.step_kind() != StepKind::RunEnd => Status::Error,
            None if self.step_kind() == StepKind::Error => Status::Error,
            None => Status::Unset,
        }
    }
}

/// How a format's files are cut into records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// One record per line (JSON Lines).
    Lines,
    /// The whole file is one JSON document.
    Document,
}

pub fn framing(format: Format) -> Framing {
    match format {
        Format::TauBench => Framing::Document,
        Format::Native | Format::Otel | Format::ClaudeCode | Format::Codex => Framing::Lines,
    }
}

/// What a record's parser needs to know about where the record comes from.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context<'a> {
    /// The file's name without its extensions: tau-bench run ids are made unique with it.
    pub file_stem: &'a str,
}

/// A part of a document that could not be used: byte offset in the document, reason.
pub type PartProblem = (usize, String);

/// Parses one record into events, appended to `out`. With `with_records`, each event
/// carries the JSON it is shown with. A record that cannot be used at all is an `Err`;
/// unusable parts of a usable document go to `problems`. A record that is valid but holds
/// no steps (an OpenTelemetry metrics line, a Codex `turn_context`) adds nothing.
pub fn parse_record<'a>(
    format: Format,
    text: &'a str,
    ctx: &Context,
    with_records: bool,
    out: &mut Vec<Event<'a>>,
    problems: &mut Vec<PartProblem>,
) -> Result<(), String> {
    match format {
        Format::Native => {
            let mut ev = native::parse_event(text)?;
            if with_records {
                // The index checked the line's structure but skipped its payloads; a payload
                // nested deeper than the parser allows still leaves the step readable.
                ev.record = Some(serde_json::from_str(text).unwrap_or_else(|e| {
                    serde_json::json!({
                        "run_id": ev.run_id,
                        "kind": ev.kind,
                        "name": ev.name,
                        "unreadable": format!("the full record could not be parsed: {e}"),
                    })
                }));
            }
            out.push(ev);
            Ok(())
        }
        Format::Otel => otel::parse_line(text, with_records, out, problems),
        Format::ClaudeCode => claude_code::parse_line(text, with_records, out),
        Format::Codex => codex::parse_line(text, ctx, with_records, out),
        Format::TauBench => tau_bench::parse(text, ctx, with_records, out, problems),
    }
}
