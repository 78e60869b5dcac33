//! One-line descriptions of steps and JSON values, shared by every view. Output is
//! still untrusted text: views pass it through [`crate::sanitize`] before display.

use serde_json::Value;

use crate::model::{Step, StepKind};

/// A one-line summary of what a step did, at most `max` characters.
pub fn step_summary(step: &Step, max: usize) -> String {
    let r = &step.record;
    let text = match step.kind {
        StepKind::RunStart => r.get("input").map(compact).unwrap_or_default(),
        StepKind::LlmCall => llm_summary(r.get("output")),
        StepKind::ToolCall => r.get("input").map(compact).unwrap_or_default(),
        StepKind::ToolResult | StepKind::Error => match &step.error {
            Some(e) if step.is_error() => e.to_string(),
            _ => r.get("output").map(compact).unwrap_or_default(),
        },
        StepKind::Decision => {
            let chosen = r.get("chosen").map(compact).unwrap_or_default();
            match r.get("reason").and_then(Value::as_str) {
                Some(reason) => format!("→ {chosen}: {reason}"),
                None => format!("→ {chosen}"),
            }
        }
        StepKind::Effect => {
            let action = r.get("action").and_then(Value::as_str).unwrap_or("change");
            let target = r.get("target").and_then(Value::as_str).unwrap_or("?");
            format!("{action} {target}")
        }
        StepKind::RunEnd => {
            let outcome = r.get("outcome").and_then(Value::as_str).unwrap_or("ended");
            match &step.error {
                Some(e) => format!("{outcome}: {e}"),
                None => outcome.to_string(),
            }
        }
        StepKind::Message | StepKind::Other => r
            .get("output")
            .or_else(|| r.get("input"))
            .map(text_of)
            .unwrap_or_default(),
    };
    truncate(&text, max)
}

/// A model call's result: its tool calls when it made some, else its text.
fn llm_summary(output: Option<&Value>) -> String {
    let Some(out) = output else {
        return String::new();
    };
    if let Some(calls) = out.get("tool_calls").and_then(Value::as_array) {
        let names: Vec<String> = calls
            .iter()
            .map(|c| {
                let name = c
                    .get("name")
                    .or_else(|| c.pointer("/function/name"))
                    .and_then(Value::as_str)
                    .unwrap_or("?");
                let args = c.get("args").or_else(|| c.get("arguments"));
                match args {
                    Some(a) => format!("{name}({})", compact(a)),
                    None => format!("{name}()"),
                }
            })
            .collect();
        if !names.is_empty() {
            return format!("calls {}", names.join(", "));
        }
    }
    text_of(out)
}

/// The readable text of a value: a string as-is, `text`/`content` fields, else compact JSON.
pub fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Object(o) => o
            .get("text")
            .or_else(|| o.get("content"))
            .and_then(Value::as_str)
            .map_or_else(|| compact(v), str::to_owned),
        _ => compact(v),
    }
}

/// Compact one-line JSON; strings are shown without quotes.
pub fn compact(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        _ => v.to_string(),
    }
}

/// Cuts `s` to at most `max` characters, on one line, marking the cut with `…`.
pub fn truncate(s: &str, max: usize) -> String {
    let one_line: String = s
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    if one_line.chars().count() <= max {
        return one_line;
    }
    let mut out: String = one_line.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}
