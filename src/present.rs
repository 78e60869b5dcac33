//! Presenting a step to a room: the step as a card (what the agent was trying to do, what
//! it called, what came back, whether it failed), the marks the post-mortem put on it,
//! and a position as the command line that opens it. Every string on a card is redacted
//! (unless the presenter turned that off) and sanitized here, so views draw it as it is.

use serde_json::Value;

use crate::describe::{compact, step_summary, text_of, truncate};
use crate::index::SharedHistory;
use crate::model::{Step, StepKind};
use crate::redact::{self, Redaction};
use crate::sanitize;

/// Most characters of a field kept on a card (a card is read from across a room).
pub const FIELD_CHARS: usize = 600;
/// Most characters of a value looked at before redaction: enough for the card, and a
/// secret cut at this boundary falls in the part the card drops anyway.
const SCAN_CHARS: usize = 16 * 1024;
/// How far back a card looks for the model call or decision behind a step.
pub const LOOK_BACK: usize = 64;
/// How far ahead it looks for what came back from a call.
pub const LOOK_AHEAD: usize = 8;

/// One step, as a presenter shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    pub step: u32,
    /// `tool_call send_email`.
    pub title: String,
    /// What the agent was trying to do: the model call or decision behind the step (its
    /// own, if it is one), and that step's number.
    pub intent: Option<(u32, String)>,
    /// What it called, with what.
    pub call: Option<String>,
    /// What came back (from this step, or the result answering this call), and the
    /// step it came from.
    pub result: Option<(u32, String)>,
    /// Why it failed, when it did (this step, or the result answering it).
    pub failed: Option<String>,
    /// Whether secrets were hidden.
    pub redacted: bool,
}

/// The steps a card of step `step` needs (a window around it).
pub fn window(step: usize, len: usize) -> std::ops::Range<usize> {
    step.saturating_sub(LOOK_BACK)..(step + 1 + LOOK_AHEAD).min(len)
}

/// Reads the steps around `step` of `run` (outside the history's lock) and builds its
/// card.
pub fn load(
    shared: &SharedHistory,
    run: usize,
    step: u32,
    redaction: Option<Redaction>,
) -> Result<Card, String> {
    let i = step as usize;
    let (plan, start) = {
        let h = shared.read_politely();
        if run >= h.run_count() {
            return Err("the run is gone".into());
        }
        let r = h.run(run);
        if i >= r.step_count() {
            return Err("the step is gone".into());
        }
        let w = window(i, r.step_count());
        (r.plan(w.clone()), w.start)
    };
    let steps = plan.read(true).map_err(|e| e.to_string())?;
    card(&steps, i - start, redaction).ok_or_else(|| "the step could not be read".into())
}

/// The card of `steps[at]` (`steps`: a [`window`] of the run, in order).
pub fn card(steps: &[Step], at: usize, redaction: Option<Redaction>) -> Option<Card> {
    let s = steps.get(at)?;
    let show = |text: &str| field(text, redaction);
    let show_value = |v: &Value| value(v, redaction);
    let intent = steps[..=at]
        .iter()
        .rev()
        .find(|p| matches!(p.kind, StepKind::LlmCall | StepKind::Decision))
        .map(|p| {
            let text = step_summary(&redacted_step(p, redaction), SCAN_CHARS);
            (p.step, show(&text))
        })
        .filter(|(_, t)| !t.is_empty());
    let name = s.name.as_deref().unwrap_or("");
    let title = sanitize::line(format!("{} {name}", s.kind_name).trim()).into_owned();
    let answer = match s.kind {
        StepKind::ToolCall => steps[at + 1..]
            .iter()
            .find(|r| r.kind == StepKind::ToolResult && answers(r, s)),
        _ => None,
    };
    let call = match s.kind {
        StepKind::ToolResult => steps[..at]
            .iter()
            .rev()
            .find(|c| c.kind == StepKind::ToolCall && answers(s, c))
            .or(Some(s)),
        StepKind::RunEnd | StepKind::Message => None,
        _ => Some(s),
    }
    .map(|c| {
        let name = c.name.as_deref().unwrap_or(c.kind_name.as_str());
        match c.field("input") {
            Some(input) => format!("{} {}", sanitize::line(name), show_value(input)),
            None => sanitize::line(name).into_owned(),
        }
    });
    let result_step = answer.unwrap_or(s);
    let result = result_step
        .field("output")
        .map(|o| (result_step.step, show_value(o)))
        .or_else(|| {
            (s.kind == StepKind::RunEnd).then(|| (s.step, show(&step_summary(s, SCAN_CHARS))))
        })
        .filter(|(_, t)| !t.is_empty());
    let failed = [Some(s), answer]
        .into_iter()
        .flatten()
        .find(|x| x.is_error())
        .map(|x| match &x.error {
            Some(e) => show(&e.to_string()),
            None => "failed".to_string(),
        });
    Some(Card {
        step: s.step,
        title,
        intent,
        call,
        result,
        failed,
        redacted: redaction.is_some(),
    })
}

/// Whether `result` answers `call`: its parent is the call, or (no parent) the names
/// match.
fn answers(result: &Step, call: &Step) -> bool {
    match &result.parent {
        Some(p) => *p == call.id,
        None => result.name.is_some() && result.name == call.name,
    }
}

/// The step with its record's secret-named fields hidden (so summaries built from it
/// never see them).
fn redacted_step(s: &Step, redaction: Option<Redaction>) -> Step {
    let mut s = s.clone();
    if let Some(r) = redaction {
        s.record = redact::json(&s.record, r);
    }
    s
}

/// A value on one line, secrets hidden, cut to the card's width.
fn value(v: &Value, redaction: Option<Redaction>) -> String {
    let v = match redaction {
        Some(r) => redact::json(v, r),
        None => v.clone(),
    };
    let text = match &v {
        Value::String(_) | Value::Object(_) => text_of(&v),
        _ => compact(&v),
    };
    field(&text, redaction)
}

/// Text on one line: cut for scanning, secrets hidden, cut again for the card,
/// sanitized.
fn field(text: &str, redaction: Option<Redaction>) -> String {
    let scanned: String = text.chars().take(SCAN_CHARS).collect();
    let hidden = match redaction {
        Some(r) => redact::text(&scanned, r).into_owned(),
        None => scanned,
    };
    sanitize::line(&truncate(&hidden, FIELD_CHARS)).into_owned()
}

/// What the post-mortem put on a step (from the notes store): shown on the card and the
/// timeline while presenting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarkKind {
    Bookmark,
    Note,
    RootCause,
}

impl MarkKind {
    pub fn glyph(&self) -> &'static str {
        match self {
            MarkKind::Bookmark => "★",
            MarkKind::Note => "✎",
            MarkKind::RootCause => "◆",
        }
    }

    pub fn label(&self) -> &'static str {
        match self {
            MarkKind::Bookmark => "bookmark",
            MarkKind::Note => "note",
            MarkKind::RootCause => "root cause",
        }
    }
}

/// A mark on a step of a run (`step` `None`: on the run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    pub run: String,
    pub step: Option<u32>,
    pub kind: MarkKind,
    pub text: String,
}

/// The marks on `step` of `run`, their text redacted and sanitized for the screen.
pub fn marks_at(
    marks: &[Mark],
    run: &str,
    step: u32,
    redaction: Option<Redaction>,
) -> Vec<(MarkKind, String)> {
    marks
        .iter()
        .filter(|m| m.run == run && m.step == Some(step))
        .map(|m| (m.kind.clone(), field(&m.text, redaction)))
        .collect()
}

/// The command line that opens a position: `retrace PATH... --at RUN#STEP [--against B]`.
pub fn command_line(
    paths: &[String],
    run: &str,
    step: Option<u32>,
    against: Option<&str>,
) -> String {
    let mut out = String::from("retrace");
    for p in paths {
        out.push(' ');
        out.push_str(&shell_quote(p));
    }
    let at = match step {
        Some(s) => format!("{run}#{s}"),
        None => run.to_string(),
    };
    out.push_str(" --at ");
    out.push_str(&shell_quote(&at));
    if let Some(b) = against {
        out.push_str(" --against ");
        out.push_str(&shell_quote(b));
    }
    out
}

/// `s` as one shell word: as it is when that is safe, else in single quotes.
pub fn shell_quote(s: &str) -> String {
    // `#` starts a comment only at the start of a word.
    let plain = !s.is_empty()
        && !s.starts_with('#')
        && s.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(c, '-' | '_' | '.' | '/' | ':' | '@' | '+' | '=' | ',' | '#')
        });
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Status;
    use serde_json::json;

    fn step(n: u32, kind: StepKind, name: &str, record: Value) -> Step {
        Step {
            step: n,
            id: format!("s{n}"),
            parent: record
                .get("parent")
                .and_then(Value::as_str)
                .map(str::to_owned),
            kind,
            kind_name: kind.as_str().to_string(),
            name: Some(name.to_string()),
            status: if record.get("error").is_some() {
                Status::Error
            } else {
                Status::Ok
            },
            error: record.get("error").map(|e| crate::model::StepError {
                code: e.as_str().map(str::to_owned),
                ..Default::default()
            }),
            ts: None,
            duration_ms: None,
            record,
        }
    }

    fn run() -> Vec<Step> {
        vec![
            step(
                0,
                StepKind::RunStart,
                "start",
                json!({"input": "refund order 7"}),
            ),
            step(
                1,
                StepKind::LlmCall,
                "gpt",
                json!({"output": {"text": "I will call the payments API with key sk-live-abcdefghijklmnop1234"}}),
            ),
            step(
                2,
                StepKind::ToolCall,
                "refund",
                json!({"input": {"order": 7, "api_key": "hunter2-is-not-a-key", "auth": "Bearer abc.def.ghi-123456789"}}),
            ),
            step(
                3,
                StepKind::ToolResult,
                "refund",
                json!({"parent": "s2", "output": "denied for ops@example.com", "error": "E_DENIED"}),
            ),
        ]
    }

    #[test]
    fn a_call_shows_the_intent_before_it_what_came_back_and_the_failure() {
        let steps = run();
        let c = card(&steps, 2, Some(Redaction::default())).unwrap();
        assert_eq!(c.title, "tool_call refund");
        let (from, intent) = c.intent.unwrap();
        assert_eq!(from, 1);
        assert!(intent.contains("payments API"), "{intent}");
        let call = c.call.unwrap();
        assert!(call.starts_with("refund "), "{call}");
        assert_eq!(
            c.result.as_ref().map(|r| r.0),
            Some(3),
            "the answering result"
        );
        assert_eq!(c.failed.as_deref(), Some("E_DENIED"));
        assert!(c.redacted);
    }

    #[test]
    fn secrets_never_reach_a_redacted_card_and_do_when_redaction_is_off() {
        let steps = run();
        for at in 0..steps.len() {
            let c = card(&steps, at, Some(Redaction::default())).unwrap();
            let all = format!("{c:?}");
            for secret in [
                "sk-live-abcdefghijklmnop1234",
                "hunter2",
                "abc.def.ghi",
                "ops@example.com",
            ] {
                assert!(!all.contains(secret), "step {at} shows {secret}: {all}");
            }
        }
        let open = format!("{:?}", card(&steps, 2, None).unwrap());
        assert!(
            open.contains("hunter2") && open.contains("ops@example.com"),
            "{open}"
        );
    }

    #[test]
    fn a_result_names_the_call_it_answers() {
        let steps = run();
        let c = card(&steps, 3, None).unwrap();
        assert!(c.call.unwrap().starts_with("refund "));
        assert_eq!(c.result.unwrap().0, 3);
        assert_eq!(c.failed.as_deref(), Some("E_DENIED"));
        assert!(card(&steps, 9, None).is_none());
    }

    #[test]
    fn marks_are_found_by_run_and_step_and_redacted() {
        let marks = vec![
            Mark {
                run: "r-1".into(),
                step: Some(3),
                kind: MarkKind::RootCause,
                text: "token sk-live-abcdefghijklmnop1234 expired".into(),
            },
            Mark {
                run: "r-2".into(),
                step: Some(3),
                kind: MarkKind::Note,
                text: "other run".into(),
            },
        ];
        let found = marks_at(&marks, "r-1", 3, Some(Redaction::default()));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, MarkKind::RootCause);
        assert!(!found[0].1.contains("sk-live"), "{}", found[0].1);
        assert!(marks_at(&marks, "r-1", 2, None).is_empty());
    }

    #[test]
    fn command_lines_quote_what_the_shell_would_split() {
        assert_eq!(
            command_line(&["assets/demo".into()], "r-2bcd0cc3", Some(5), None),
            "retrace assets/demo --at r-2bcd0cc3#5"
        );
        assert_eq!(
            command_line(&["my logs".into()], "it's", None, Some("r-2")),
            r"retrace 'my logs' --at 'it'\''s' --against r-2"
        );
        assert_eq!(window(2, 100), 0..11);
        assert_eq!(window(100, 104), 36..104);
    }
}
