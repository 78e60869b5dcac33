//! One-line texts of steps and values for explanations and side-by-side views: a step's
//! label (kind, name and what it did), call and value previews. Output is untrusted text:
//! views pass it through [`crate::sanitize`] before display.

use serde_json::Value;

use super::normalize::is_volatile_key;
use super::signature::{proposals_of, text_of, Proposal};
use crate::describe::{compact, truncate};
use crate::model::{Step, StepKind};

pub(crate) fn name(s: &Step) -> &str {
    s.name.as_deref().unwrap_or("?")
}

/// "failed with CODE: message" or "succeeded (output)".
pub(crate) fn outcome_text(s: &Step) -> String {
    if s.is_error() {
        match &s.error {
            Some(e) => format!("failed with {}", truncate(&e.to_string(), 80)),
            None => "failed".to_string(),
        }
    } else {
        match s.field("output") {
            Some(o) => format!("succeeded ({})", preview(Some(o), 48)),
            None => "succeeded".to_string(),
        }
    }
}

pub(crate) fn call_text(name: &str, args: Option<&Value>) -> String {
    match args {
        Some(a) if !a.is_null() => format!("{name}({})", args_preview(a, 60)),
        _ => format!("{name}()"),
    }
}

pub(crate) fn proposals_text(ps: &[Proposal]) -> String {
    let parts: Vec<String> = ps
        .iter()
        .take(3)
        .map(|p| call_text(&p.name, Some(&p.args)))
        .collect();
    let more = if ps.len() > 3 {
        format!(" and {} more", ps.len() - 3)
    } else {
        String::new()
    };
    format!("{}{more}", parts.join(", "))
}

/// Arguments without their braces: `order_id: "A-1", amount: 64`.
pub(crate) fn args_preview(v: &Value, max: usize) -> String {
    let s = match v {
        Value::Object(map) => map
            .iter()
            .filter(|(k, _)| !is_volatile_key(k))
            .map(|(k, x)| format!("{k}: {x}"))
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    };
    truncate(&s, max)
}

pub(crate) fn preview(v: Option<&Value>, max: usize) -> String {
    match v {
        None => "nothing".to_string(),
        Some(Value::String(s)) => quote(s, max),
        Some(v) => truncate(&v.to_string(), max),
    }
}

pub(crate) fn quote(s: &str, max: usize) -> String {
    format!("\"{}\"", truncate(s, max))
}

/// A short one-line label of a step for side-by-side views: kind, name and what it did.
pub fn step_label(s: &Step) -> String {
    let name = s.name.as_deref().unwrap_or("");
    match s.kind {
        StepKind::RunStart => match s.field("input") {
            Some(v) => format!("start {}", compact(v)),
            None => "start".to_string(),
        },
        StepKind::LlmCall => {
            let proposals = proposals_of(s);
            let what = if proposals.is_empty() {
                format!("\"{}\"", text_of(s))
            } else {
                let names: Vec<&str> = proposals.iter().map(|p| p.name.as_ref()).collect();
                format!("→ {}", names.join(", "))
            };
            let err = if s.is_error() { " ✗" } else { "" };
            format!("llm {name}{err} {what}")
        }
        StepKind::ToolCall => format!(
            "call {name}({})",
            s.field("input")
                .map(|v| args_preview(v, 200))
                .unwrap_or_default()
        ),
        StepKind::ToolResult | StepKind::Error => {
            let head = if s.kind == StepKind::Error {
                format!("error {name}")
            } else {
                format!("result {name}")
            };
            if s.is_error() {
                let e = s
                    .error
                    .as_ref()
                    .map(|e| e.label().to_string())
                    .unwrap_or_else(|| "error".into());
                format!("{head} ✗ {e}")
            } else {
                let out = s.field("output").map(compact).unwrap_or_default();
                format!("{head} ✓ {out}")
            }
        }
        StepKind::Decision => format!(
            "decision {name} → {}",
            s.field("chosen").map(compact).unwrap_or_default()
        ),
        StepKind::Effect => format!(
            "effect {} {}{}",
            s.str_field("action").unwrap_or(name),
            s.str_field("target").unwrap_or(""),
            if s.is_error() { " ✗" } else { "" }
        ),
        StepKind::Message => format!("{name}: \"{}\"", text_of(s)),
        StepKind::RunEnd => {
            let outcome = s.str_field("outcome").unwrap_or("end");
            match &s.error {
                Some(e) => format!("end {outcome}: {e}"),
                None => format!("end {outcome}"),
            }
        }
        StepKind::Other => format!("{} {name}", s.kind_name),
    }
}
