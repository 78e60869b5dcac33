//! The content blocks of one user or assistant line as steps: what each block is, whether
//! a tool result failed, and which user text is a request, a command or an interruption.

use serde_json::{json, Value};

use super::super::json::{content_text, str_of, without, StepRecord};
use crate::model::{Status, StepError};

/// Longest error message kept from a failed tool result (the whole result stays in the
/// step's output).
const MAX_ERROR: usize = 500;

/// What a user's text is, by the marks Claude Code puts on the lines it writes itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserText {
    /// Something the user asked: the first one is the run's trigger.
    Request,
    /// The user stopped the turn ("[Request interrupted by user…]").
    Interrupted,
    /// A slash command or its output, written as a user line.
    Command,
    /// Text Claude Code added (`isMeta`, hook reminders, the
    /// summary that continues a compacted conversation).
    Meta,
}

impl UserText {
    pub fn classify(line: &Value, text: &str) -> UserText {
        let flag = |key: &str| line.get(key).and_then(Value::as_bool).unwrap_or(false);
        let text = text.trim_start();
        if text.starts_with("[Request interrupted by user") {
            UserText::Interrupted
        } else if flag("isMeta")
            || flag("isCompactSummary")
            || flag("isVisibleInTranscriptOnly")
            || text.starts_with("<system-reminder>")
        {
            UserText::Meta
        } else if [
            "<command-",
            "<local-command-",
            "<bash-input>",
            "<bash-stdout>",
        ]
        .iter()
        .any(|mark| text.starts_with(mark))
        {
            UserText::Command
        } else {
            UserText::Request
        }
    }

    pub fn name(self, line: &Value) -> &'static str {
        match self {
            UserText::Request => "user",
            UserText::Interrupted => "interrupted",
            UserText::Command => "command",
            UserText::Meta if line.get("isCompactSummary").is_some() => "compact summary",
            UserText::Meta => "meta",
        }
    }
}

/// How one block links to the others of its line and to other lines.
pub enum Link {
    /// A model's text or thinking: the model call its message's tool calls hang under.
    ModelCall,
    /// A `tool_use`, with its id.
    Call(Option<String>),
    /// A `tool_result`, with the id of the call it answers.
    Answers(Option<String>),
    /// Anything else: follows the block before it.
    Chain,
}

/// The step of one content block of a `line_type` ("user" or "assistant") line.
pub fn block_step(
    line: &Value,
    line_type: &str,
    model: Option<&str>,
    block: &Value,
) -> (StepRecord, Link) {
    let step = |kind: &str, name: String, input: Option<Value>, output: Option<Value>| StepRecord {
        kind: kind.to_string(),
        name: Some(name),
        input,
        output,
        ..StepRecord::default()
    };
    let block_type = str_of(block, "type").unwrap_or("unknown");
    let assistant = line_type == "assistant";
    match block_type {
        "tool_use" | "server_tool_use" => (
            step(
                "tool_call",
                str_of(block, "name").unwrap_or("tool").to_string(),
                block.get("input").cloned(),
                None,
            ),
            Link::Call(str_of(block, "id").map(str::to_owned)),
        ),
        "tool_result" => (
            tool_result(line, block),
            Link::Answers(str_of(block, "tool_use_id").map(str::to_owned)),
        ),
        "thinking" | "redacted_thinking" if assistant => (
            step(
                "llm_call",
                "thinking".into(),
                None,
                Some(without(block, &["signature"])),
            ),
            Link::ModelCall,
        ),
        "text" if assistant => {
            let mut record = step(
                "llm_call",
                model.unwrap_or("assistant").to_string(),
                None,
                Some(without(block, &["signature"])),
            );
            // A failed API call is written as an assistant message holding its error.
            if line.get("isApiErrorMessage").and_then(Value::as_bool) == Some(true) {
                record.name = Some("API error".into());
                record.status = Some(Status::Error);
                record.error = Some(StepError {
                    message: str_of(block, "text").map(|t| cut(t, MAX_ERROR)),
                    ..StepError::default()
                });
            }
            (record, Link::ModelCall)
        }
        "text" => {
            let text = str_of(block, "text").unwrap_or("");
            let what = UserText::classify(line, text);
            // A request is the agent's input; other user text is shown as what it says.
            let value = block.get("text").cloned();
            let record = match what {
                UserText::Request => step("message", what.name(line).into(), value, None),
                _ => step("message", what.name(line).into(), None, value),
            };
            (record, Link::Chain)
        }
        other => (
            step(
                "message",
                format!("{line_type} {other}"),
                None,
                Some(block.clone()),
            ),
            Link::Chain,
        ),
    }
}

/// A `tool_result` block: an error when flagged (`is_error`) or when its text (or the
/// line's `toolUseResult`, when it is a string) is Claude Code's error text.
fn tool_result(line: &Value, block: &Value) -> StepRecord {
    let content = block.get("content");
    let text = content.and_then(content_text);
    let flagged = block.get("is_error").and_then(Value::as_bool) == Some(true);
    let result_text = line.get("toolUseResult").and_then(Value::as_str);
    let failed = flagged
        || text.as_deref().is_some_and(is_error_text)
        || result_text.is_some_and(is_error_text);
    let message = text.as_deref().or(result_text).map(|t| cut(t, MAX_ERROR));
    StepRecord {
        kind: "tool_result".into(),
        name: Some("tool_result".into()),
        output: content.cloned(),
        status: Some(if failed { Status::Error } else { Status::Ok }),
        error: failed.then(|| StepError {
            message,
            ..StepError::default()
        }),
        ..StepRecord::default()
    }
}

/// How Claude Code words a failed tool call's result.
fn is_error_text(text: &str) -> bool {
    let text = text.trim_start();
    text.starts_with("Error:") || text.starts_with("<tool_use_error>")
}

/// The whole line as one block, for content that is a plain string.
pub fn text_block(content: &Value) -> Value {
    json!({"type": "text", "text": content})
}

fn cut(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}
