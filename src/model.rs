//! The run model shared by every layer: kinds, statuses, outcomes, problems, and the
//! fully parsed form of one step. Holds no IO and no terminal code.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

/// What a step is. Unknown kinds are kept as [`StepKind::Other`] and their name shown as-is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum StepKind {
    RunStart,
    LlmCall,
    ToolCall,
    ToolResult,
    Decision,
    Message,
    Effect,
    Error,
    RunEnd,
    Other,
}

impl StepKind {
    /// One character for the kind, the same in every view.
    pub fn glyph(self) -> &'static str {
        match self {
            StepKind::RunStart => "▶",
            StepKind::LlmCall => "◇",
            StepKind::ToolCall => "→",
            StepKind::ToolResult => "←",
            StepKind::Decision => "◆",
            StepKind::Message => "¶",
            StepKind::Effect => "⇄",
            StepKind::Error => "✗",
            StepKind::RunEnd => "■",
            StepKind::Other => "·",
        }
    }

    pub const ALL: [StepKind; 10] = [
        StepKind::RunStart,
        StepKind::LlmCall,
        StepKind::ToolCall,
        StepKind::ToolResult,
        StepKind::Decision,
        StepKind::Message,
        StepKind::Effect,
        StepKind::Error,
        StepKind::RunEnd,
        StepKind::Other,
    ];

    pub fn parse(s: &str) -> StepKind {
        match s {
            "run_start" => StepKind::RunStart,
            "llm_call" => StepKind::LlmCall,
            "tool_call" => StepKind::ToolCall,
            "tool_result" => StepKind::ToolResult,
            "decision" => StepKind::Decision,
            "message" => StepKind::Message,
            "effect" => StepKind::Effect,
            "error" => StepKind::Error,
            "run_end" => StepKind::RunEnd,
            _ => StepKind::Other,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::RunStart => "run_start",
            StepKind::LlmCall => "llm_call",
            StepKind::ToolCall => "tool_call",
            StepKind::ToolResult => "tool_result",
            StepKind::Decision => "decision",
            StepKind::Message => "message",
            StepKind::Effect => "effect",
            StepKind::Error => "error",
            StepKind::RunEnd => "run_end",
            StepKind::Other => "other",
        }
    }

    pub(crate) fn from_u8(v: u8) -> StepKind {
        StepKind::ALL
            .get(v as usize)
            .copied()
            .unwrap_or(StepKind::Other)
    }
}

impl fmt::Display for StepKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome a step reports about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum Status {
    /// No status given.
    Unset,
    Ok,
    Error,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Unset => "",
            Status::Ok => "ok",
            Status::Error => "error",
        }
    }

    pub(crate) fn from_u8(v: u8) -> Status {
        match v {
            1 => Status::Ok,
            2 => Status::Error,
            _ => Status::Unset,
        }
    }
}

/// How a run ended. `Running` and `Unknown` are inferred for runs without `run_end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Failure,
    Cancelled,
    Timeout,
    Running,
    Unknown,
}

impl Outcome {
    /// Parses a `run_end` outcome; anything else is not a valid outcome.
    pub fn parse_declared(s: &str) -> Option<Outcome> {
        match s {
            "success" => Some(Outcome::Success),
            "failure" => Some(Outcome::Failure),
            "cancelled" => Some(Outcome::Cancelled),
            "timeout" => Some(Outcome::Timeout),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Cancelled => "cancelled",
            Outcome::Timeout => "timeout",
            Outcome::Running => "running",
            Outcome::Unknown => "unknown",
        }
    }

    /// True for outcomes a post-mortem cares about.
    pub fn is_bad(self) -> bool {
        matches!(
            self,
            Outcome::Failure | Outcome::Timeout | Outcome::Cancelled
        )
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A line (or record) that could not be used. Problems are data: they never stop a load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub file: PathBuf,
    /// 1-based line number in the (decompressed) file; 0 when about the whole file.
    pub line: u64,
    pub reason: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Line 0: about the whole file.
        match self.line {
            0 => write!(f, "{}: {}", self.file.display(), self.reason),
            line => write!(f, "{}:{}: {}", self.file.display(), line, self.reason),
        }
    }
}

/// The format a file was read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Format {
    #[serde(rename = "native")]
    Native,
    #[serde(rename = "otel")]
    Otel,
    #[serde(rename = "claude-code")]
    ClaudeCode,
    #[serde(rename = "codex")]
    Codex,
    #[serde(rename = "tau-bench")]
    TauBench,
}

impl Format {
    pub const ALL: [Format; 5] = [
        Format::Native,
        Format::Otel,
        Format::ClaudeCode,
        Format::Codex,
        Format::TauBench,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Native => "native",
            Format::Otel => "otel",
            Format::ClaudeCode => "claude-code",
            Format::Codex => "codex",
            Format::TauBench => "tau-bench",
        }
    }

    pub fn parse(s: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error a step reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct StepError {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
}

impl StepError {
    /// The shortest useful label: the code, else the message.
    pub fn label(&self) -> &str {
        self.code
            .as_deref()
            .or(self.message.as_deref())
            .or(self.error_type.as_deref())
            .unwrap_or("error")
    }
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.code, &self.message) {
            (Some(c), Some(m)) => write!(f, "{c}: {m}"),
            _ => f.write_str(self.label()),
        }
    }
}

/// Token counts of a model call, or summed over several. `input` counts every token the
/// model read, cached or not (Claude Code's cache reads and writes included, as OpenAI
/// and Codex count them); `output` every token it wrote, reasoning included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Tokens {
    pub input: u64,
    pub output: u64,
}

impl Tokens {
    /// Reads a native-shaped `{"input": N, "output": M}` object; either may be absent.
    pub fn from_value(v: &serde_json::Value) -> Option<Tokens> {
        let count = |k: &str| v.get(k).and_then(count_of);
        let (input, output) = (count("input"), count("output"));
        (input.is_some() || output.is_some()).then(|| Tokens {
            input: input.unwrap_or(0),
            output: output.unwrap_or(0),
        })
    }

    pub fn total(&self) -> u64 {
        self.input + self.output
    }

    /// Each count at its largest: the final figures of a usage reported several times.
    pub fn max(self, other: Tokens) -> Tokens {
        Tokens {
            input: self.input.max(other.input),
            output: self.output.max(other.output),
        }
    }
}

impl Tokens {
    /// `self - other`, stopping at zero.
    pub fn minus(self, other: Tokens) -> Tokens {
        Tokens {
            input: self.input.saturating_sub(other.input),
            output: self.output.saturating_sub(other.output),
        }
    }
}

impl std::ops::Add for Tokens {
    type Output = Tokens;
    fn add(self, other: Tokens) -> Tokens {
        Tokens {
            input: self.input.saturating_add(other.input),
            output: self.output.saturating_add(other.output),
        }
    }
}

impl std::ops::AddAssign for Tokens {
    fn add_assign(&mut self, other: Tokens) {
        *self = *self + other;
    }
}

/// A token count as JSON writes it: a non-negative integer (or a whole float, or an integer
/// in a string, as OTLP writes 64-bit integers).
pub fn count_of(v: &serde_json::Value) -> Option<u64> {
    match v {
        serde_json::Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| *f >= 0.0 && f.fract() == 0.0)
                .map(|f| f as u64)
        }),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// One step, fully parsed from its source record (loaded lazily, when a run is opened).
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// Position in the run, 0-based, after ordering.
    pub step: u32,
    /// The event's own id (defaults to its `step` number).
    pub id: String,
    pub parent: Option<String>,
    pub kind: StepKind,
    /// The raw `kind` string (differs from `kind.as_str()` for unknown kinds).
    pub kind_name: String,
    pub name: Option<String>,
    pub status: Status,
    pub error: Option<StepError>,
    /// Epoch milliseconds.
    pub ts: Option<i64>,
    pub duration_ms: Option<f64>,
    /// The whole source record, for the detail view and the adapters' unmapped fields.
    pub record: serde_json::Value,
}

impl Step {
    pub fn field(&self, key: &str) -> Option<&serde_json::Value> {
        self.record.get(key)
    }

    pub fn str_field(&self, key: &str) -> Option<&str> {
        self.field(key).and_then(|v| v.as_str())
    }

    pub fn is_error(&self) -> bool {
        is_error(self.kind, self.status)
    }

    /// The step's token counts: every adapter writes them as native `tokens`
    /// (`{input, output}`) into the record. `None` without a record or a usage.
    pub fn tokens(&self) -> Option<Tokens> {
        self.field("tokens").and_then(Tokens::from_value)
    }
}

/// Whether a step of this kind and status failed: the one rule every view and
/// analysis uses (an `error` step, or any step whose status is `error`).
pub fn is_error(kind: StepKind, status: Status) -> bool {
    status == Status::Error || kind == StepKind::Error
}
