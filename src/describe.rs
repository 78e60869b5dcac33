//! One-line descriptions of steps and JSON values, shared by every view. Output is
//! still untrusted text: views pass it through [`crate::sanitize`] before display.

use std::borrow::Cow;

use serde_json::Value;

use crate::model::{Step, StepKind};

/// A run's trigger: the `input` of its `run_start` step, the one place this is decided.
pub fn trigger(steps: &[Step]) -> Option<&Value> {
    steps
        .iter()
        .find(|s| s.kind == StepKind::RunStart)
        .and_then(|s| s.field("input"))
}

/// The trigger on one line, at most `max` characters (still untrusted text).
pub fn trigger_line(steps: &[Step], max: usize) -> Option<String> {
    trigger(steps).map(|v| truncate(&compact(v), max))
}

/// The record fields [`step_summary`] reads for a step of `kind` (and [`Step::tokens`]
/// when `tokens`): a step read with only these (see
/// [`crate::index::StepPlan::read_summaries`]) summarises as a whole one. `compacted`
/// are the fields only ever shown whole as [`compact`] text (for this kind, or as the
/// trigger's `input` should the step turn out to start its run); `values` are read as
/// JSON values.
pub fn summary_fields(kind: StepKind, tokens: bool) -> SummaryFields {
    let (values, compacted): (&[&str], &[&str]) = match kind {
        StepKind::RunStart | StepKind::ToolCall => (&[], &["input"]),
        StepKind::LlmCall => (&["output"], &["input"]),
        StepKind::ToolResult | StepKind::Error => (&[], &["output", "input"]),
        StepKind::Decision => (&["chosen", "reason"], &["input"]),
        StepKind::Effect => (&["action", "target"], &["input"]),
        StepKind::RunEnd => (&["outcome"], &["input"]),
        StepKind::Message | StepKind::Other => (&["output", "input"], &[]),
    };
    SummaryFields {
        values,
        compacted,
        tokens,
    }
}

/// See [`summary_fields`].
#[derive(Debug, Clone, Copy)]
pub struct SummaryFields {
    pub values: &'static [&'static str],
    pub compacted: &'static [&'static str],
    /// Whether `tokens` is wanted too (as a value).
    pub tokens: bool,
}

impl SummaryFields {
    /// Whether `key` is wanted, and whether as compact text.
    pub fn wants(&self, key: &str) -> Option<(&'static str, bool)> {
        if let Some(&name) = self.compacted.iter().find(|&&f| f == key) {
            return Some((name, true));
        }
        if let Some(&name) = self.values.iter().find(|&&f| f == key) {
            return Some((name, false));
        }
        (self.tokens && key == "tokens").then_some(("tokens", false))
    }
}

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
    let calls: Vec<String> = proposed_calls(out)
        .into_iter()
        .map(|(name, args)| match args.as_ref() {
            Value::Null => format!("{name}()"),
            args => format!("{name}({})", compact(args)),
        })
        .collect();
    if calls.is_empty() {
        text_of(out)
    } else {
        format!("calls {}", calls.join(", "))
    }
}

/// The tool calls a model call proposed, as `(name, arguments)`: OpenAI style
/// (`tool_calls` with `name`/`args` or `function.name`/`function.arguments`, arguments
/// possibly a JSON string) or Anthropic style (content blocks of type `tool_use`).
pub fn proposed_calls(output: &Value) -> Vec<(&str, Cow<'_, Value>)> {
    let calls: Vec<&Value> = match output.get("tool_calls").and_then(Value::as_array) {
        Some(calls) => calls.iter().collect(),
        None => output
            .get("content")
            .and_then(Value::as_array)
            .or_else(|| output.as_array())
            .into_iter()
            .flatten()
            .filter(|b| b.get("type").and_then(Value::as_str) == Some("tool_use"))
            .collect(),
    };
    calls
        .into_iter()
        .map(|c| {
            let name = c
                .get("name")
                .or_else(|| c.pointer("/function/name"))
                .and_then(Value::as_str)
                .unwrap_or("?");
            let args = c
                .get("args")
                .or_else(|| c.get("arguments"))
                .or_else(|| c.get("input"))
                .or_else(|| c.pointer("/function/arguments"));
            let args = match args {
                Some(Value::String(s)) => serde_json::from_str::<Value>(s)
                    .map(Cow::Owned)
                    .unwrap_or(Cow::Owned(Value::String(s.clone()))),
                Some(v) => Cow::Borrowed(v),
                None => Cow::Owned(Value::Null),
            };
            (name, args)
        })
        .collect()
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

/// Cuts `s` to at most `max` display columns, on one line, marking the cut with `…`.
pub fn truncate(s: &str, max: usize) -> String {
    // Most summaries are short single lines: no copy char by char.
    if s.len() <= max && !s.bytes().any(|b| b == b'\n' || b == b'\r') {
        return crate::width::fit(s, max).into_owned();
    }
    let one_line: String = s
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    crate::width::fit(&one_line, max).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn proposed_calls_read_openai_and_anthropic_styles() {
        let openai = json!({"tool_calls": [
            {"name": "lookup_order", "args": {"id": 1}},
            {"function": {"name": "refund", "arguments": "{\"amount\": 5}"}},
        ]});
        let calls = proposed_calls(&openai);
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].0, "lookup_order");
        assert_eq!(calls[1].0, "refund");
        assert_eq!(calls[1].1["amount"], 5, "JSON-string arguments are parsed");
        let anthropic = json!({"content": [
            {"type": "text", "text": "checking"},
            {"type": "tool_use", "name": "Bash", "input": {"command": "ls"}},
        ]});
        let calls = proposed_calls(&anthropic);
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].0, "Bash");
        assert_eq!(
            llm_summary(Some(&anthropic)),
            "calls Bash({\"command\":\"ls\"})"
        );
        assert_eq!(llm_summary(Some(&json!({"text": "done"}))), "done");
    }
}
