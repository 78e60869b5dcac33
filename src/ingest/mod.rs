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
    /// Links this record makes for steps of other records (see [`Alias`]).
    pub aliases: Vec<Alias<'a>>,
    /// The step may be the run's trigger (a user's request): the index makes the first
    /// such step of a run its `run_start`.
    pub may_trigger: bool,
    /// Where the step hangs when its record alone cannot say (see [`Place`]).
    pub place: Place,
    /// The id other records name this step's record by, where a summary may name it as
    /// the last message of what it sums up (a Claude Code line's `uuid`): on the record's
    /// first step.
    pub record_id: Option<Cow<'a, str>>,
    /// The step sums up the conversation that ends at another record (see [`SumsUp`]).
    pub sums_up: Option<SumsUp<'a>>,
}

/// A summary of the conversation that ends at the record whose [`Event::record_id`] is
/// `leaf`, wherever that record is in the history (a Claude Code `summary`): the index
/// labels the run holding the leaf `summary: text`, and hangs the summary's step under the
/// leaf when the two are in one run (else the step is a root of its own run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SumsUp<'a> {
    pub leaf: Cow<'a, str>,
    pub text: Cow<'a, str>,
}

/// A name that stands for a step id inside one run, for links records make to each other
/// that no single record can resolve (all lines of one model message, the call a
/// sub-agent was launched by). A parent naming `name` is read as `id`, itself followed
/// when it is a name (a few hops). The first declaration of a name wins; a `weak` one
/// gives way to a later one that is not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alias<'a> {
    pub name: Cow<'a, str>,
    pub id: Cow<'a, str>,
    pub weak: bool,
}

/// Where a step hangs in its run when its record alone cannot say: a Codex rollout's
/// items belong to the turn and the model call before them in the file. The index
/// resolves places in file order (see `index::link`), giving turns and model calls ids
/// and their members parents; the first turn becomes the run's start (its trigger).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Place {
    /// The record's own id and parent (or none) are the step's.
    #[default]
    Given,
    /// The run's root (a session header): turns hang under it.
    Root,
    /// A user's request: opens a turn.
    Turn,
    /// A model's output (reasoning, text): continues the model call open in the turn, or
    /// opens one.
    Model,
    /// A tool call the model proposed: under the model call open in the turn (calls of
    /// one response are siblings), else under the turn.
    Call,
    /// An input to the model (a tool's output, injected context, an error): under its
    /// given parent, else the turn; the next model output opens a new model call.
    Input,
    /// The turn was aborted: an input that leaves the run cancelled unless it goes on.
    Abort,
    /// A user's request in a conversation whose records link themselves (Claude Code):
    /// hangs by its own id and parent; the run goes on (an abort before it no longer
    /// ends the run).
    Resume,
    /// Beside the conversation (a harness event, an unknown record): under the turn,
    /// changing nothing.
    Aside,
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
    text_key(text)
}

/// A stable 64-bit key of a text (usage keys, alias names).
pub fn text_key(text: &str) -> u64 {
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

/// A part of a document that could not be used: byte offset in the document (or
/// [`FILE_NOTE`]), reason.
pub type PartProblem = (usize, String);

/// The place of a [`PartProblem`] that holds for the whole file (a format version not
/// seen, a record type not known): reported once per file, not on every line.
pub const FILE_NOTE: usize = usize::MAX;

/// Parses one record into events, appended to `out`. With `with_records`, each event
/// carries the JSON it is shown with. A record that cannot be used at all is an `Err`;
/// unusable parts of a usable document go to `problems`. For line formats, `problems` are
/// notes about a usable line that hold for its whole file (a format version not seen
/// before): the index reports each reason once per file. A record that is valid but holds
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
        Format::ClaudeCode => claude_code::parse_line(text, ctx, with_records, out, problems),
        Format::Codex => codex::parse_line(text, ctx, with_records, out, problems),
        Format::TauBench => tau_bench::parse(text, ctx, with_records, out, problems),
    }
}
