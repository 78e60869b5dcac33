//! A step's detail as styled lines, built off the UI thread from the full record: a
//! header (kind, name, status, times, ids), the error first, the decision or effect
//! fields, then input, output, model text and the remaining fields, pretty-printed and
//! highlighted. Values past a byte budget are cut (the pane offers to load more), so a
//! 50 MB output costs what its first screens cost. Every string passes
//! [`crate::sanitize`] here; nothing is drawn here.

use std::sync::Arc;

use serde_json::Value;

use super::highlight;
use super::text::{bytes, Piece};
use super::theme::Role;
use crate::describe::compact;
use crate::index::SharedHistory;
use crate::model::{Status, Step, StepKind};
use crate::sanitize;
use crate::time::{format_duration, format_rfc3339};

/// The first budget for values; each "load more" multiplies it by four, up to
/// [`MAX_LIMIT`] (past that, the rest is for a pager: the file and offset are known).
pub const FIRST_LIMIT: usize = 256 * 1024;
pub const MAX_LIMIT: usize = 16 * 1024 * 1024;

/// The lines of one step's detail.
#[derive(Debug, Clone, Default)]
pub struct DetailDoc {
    pub run: usize,
    pub step: u32,
    pub lines: Vec<Vec<Piece>>,
    /// Bytes of values not shown (0 when everything is).
    pub cut: u64,
    /// The budget this document was built with.
    pub limit: usize,
}

/// Fields shown in the header or a section of their own.
const SHOWN: &[&str] = &[
    "run_id",
    "step",
    "id",
    "parent",
    "kind",
    "name",
    "status",
    "error",
    "ts",
    "duration_ms",
    "input",
    "output",
    "chosen",
    "options",
    "reason",
    "target",
    "action",
    "outcome",
    "tokens",
];

struct Builder {
    lines: Vec<Vec<Piece>>,
    budget: usize,
    cut: u64,
}

impl Builder {
    fn field(&mut self, label: &str, value: Vec<Piece>) {
        let mut line = vec![(Role::Dim, format!("{label:<9}"))];
        line.extend(value);
        self.lines.push(line);
    }

    fn text_field(&mut self, label: &str, role: Role, value: &str) {
        self.field(label, vec![(role, sanitize::line(value).into_owned())]);
    }

    fn section(&mut self, title: &str) {
        self.lines.push(Vec::new());
        self.lines.push(vec![(
            Role::Header,
            format!("── {} ──", sanitize::line(title)),
        )]);
    }

    /// Takes at most the remaining budget of `text`, counting what is cut.
    fn take<'t>(&mut self, text: &'t str) -> &'t str {
        if text.len() <= self.budget {
            self.budget -= text.len();
            return text;
        }
        let mut end = self.budget;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        self.cut += (text.len() - end) as u64;
        self.budget = 0;
        &text[..end]
    }

    fn json(&mut self, title: &str, value: &Value) {
        self.section(title);
        match value {
            Value::String(s) => self.model_text(s),
            _ => {
                let pretty = serde_json::to_string_pretty(value).unwrap_or_default();
                let kept = self.take(&pretty);
                let safe = sanitize::text(kept);
                self.lines.extend(highlight::json(&safe));
                self.mark_cut(kept.len() < pretty.len());
            }
        }
    }

    fn model_text(&mut self, s: &str) {
        let kept = self.take(s);
        let safe = sanitize::text(kept);
        self.lines.extend(highlight::model_text(&safe));
        self.mark_cut(kept.len() < s.len());
    }

    fn mark_cut(&mut self, cut: bool) {
        if cut {
            self.lines
                .push(vec![(Role::Warn, "… (cut here)".to_string())]);
        }
    }
}

/// Builds the detail of `step`; `run_start` (epoch ms) gives relative times.
pub fn build(run: usize, step: &Step, run_start: Option<i64>, limit: usize) -> DetailDoc {
    let mut b = Builder {
        lines: Vec::new(),
        budget: limit,
        cut: 0,
    };
    let r = &step.record;
    let mut title = vec![
        (Role::Title, format!("#{} ", step.step)),
        (
            kind_role(step.kind),
            sanitize::line(&step.kind_name).into_owned(),
        ),
    ];
    if let Some(name) = &step.name {
        title.push((Role::Dim, " · ".into()));
        title.push((Role::Title, sanitize::line(name).into_owned()));
    }
    b.lines.push(title);
    let (status_role, status) = match step.status {
        Status::Ok => (Role::Ok, "✓ ok"),
        Status::Error => (Role::Error, "✗ error"),
        Status::Unset => (Role::Dim, "-"),
    };
    let mut status_line = vec![(status_role, status.to_string())];
    if let Some(d) = step.duration_ms {
        status_line.push((Role::Dim, "   duration ".into()));
        status_line.push((Role::Text, format_duration(d)));
    }
    b.field("status", status_line);
    if let Some(t) = step.tokens() {
        b.field(
            "tokens",
            vec![
                (Role::Text, format!("in {}", t.input)),
                (Role::Dim, " · ".into()),
                (Role::Text, format!("out {}", t.output)),
            ],
        );
    }
    if let Some(ts) = step.ts {
        let mut v = vec![(Role::Text, format_rfc3339(ts))];
        if let Some(t0) = run_start {
            v.push((
                Role::Dim,
                format!("  (+{})", format_duration((ts - t0) as f64)),
            ));
        }
        b.field("time", v);
    }
    let mut ids = vec![(Role::Text, sanitize::line(&step.id).into_owned())];
    if let Some(p) = &step.parent {
        ids.push((Role::Dim, "  ← parent ".into()));
        ids.push((Role::Text, sanitize::line(p).into_owned()));
    }
    b.field("id", ids);
    if let Some(e) = &step.error {
        let mut v = Vec::new();
        if let Some(code) = &e.code {
            v.push((Role::Error, format!("✗ {}", sanitize::line(code))));
        }
        if let Some(msg) = &e.message {
            let sep = if v.is_empty() { "✗ " } else { ": " };
            v.push((Role::Error, format!("{sep}{}", sanitize::line(msg))));
        }
        if let Some(t) = &e.error_type {
            v.push((Role::Dim, format!("  (type {})", sanitize::line(t))));
        }
        if v.is_empty() {
            v.push((Role::Error, "✗ error".into()));
        }
        b.field("error", v);
    }
    match step.kind {
        StepKind::Decision => {
            if let Some(c) = r.get("chosen") {
                b.text_field("chosen", Role::Decision, &format!("→ {}", compact(c)));
            }
            if let Some(Value::Array(opts)) = r.get("options") {
                let opts: Vec<String> = opts.iter().map(compact).collect();
                b.text_field("options", Role::Text, &opts.join(" · "));
            }
            if let Some(reason) = r.get("reason") {
                b.text_field("reason", Role::Text, &compact(reason));
            }
        }
        StepKind::Effect => {
            for key in ["target", "action"] {
                if let Some(v) = r.get(key) {
                    b.text_field(key, Role::Effect, &compact(v));
                }
            }
        }
        StepKind::RunEnd => {
            if let Some(o) = r.get("outcome") {
                b.text_field("outcome", Role::Title, &compact(o));
            }
        }
        _ => {}
    }
    if let Some(input) = r.get("input") {
        b.json("input", input);
    }
    if let Some(output) = r.get("output") {
        b.json("output", output);
        if let Some(text) = output
            .get("text")
            .or_else(|| output.get("content"))
            .and_then(Value::as_str)
            .filter(|t| t.contains('\n'))
        {
            b.section("output text");
            b.model_text(text);
        }
    }
    if let Value::Object(map) = r {
        let rest: serde_json::Map<String, Value> = map
            .iter()
            .filter(|(k, _)| !SHOWN.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !rest.is_empty() {
            b.json("other fields", &Value::Object(rest));
        }
    }
    if b.cut > 0 {
        b.lines.push(Vec::new());
        b.lines.push(vec![(
            Role::Warn,
            if limit >= MAX_LIMIT {
                format!(
                    "── {} more not shown (the detail shows at most {}) ──",
                    bytes(b.cut),
                    bytes(MAX_LIMIT as u64)
                )
            } else {
                format!("── {} more not shown · Enter loads more ──", bytes(b.cut))
            },
        )]);
    }
    DetailDoc {
        run,
        step: step.step,
        lines: b.lines,
        cut: b.cut,
        limit,
    }
}

/// The worker's side: reads one step and builds its detail. Keeps the last step read,
/// so that "load more" does not read and parse a big record again.
#[derive(Default)]
pub struct DetailLoader {
    last: Option<Cached>,
}

/// The last step read: its (run, step), the step, and the run's start.
type Cached = ((usize, u32), Arc<Step>, Option<i64>);

impl DetailLoader {
    pub fn load(
        &mut self,
        shared: &SharedHistory,
        run: usize,
        step: u32,
        limit: usize,
    ) -> Result<DetailDoc, String> {
        let cached = match &self.last {
            Some((key, s, t0)) if *key == (run, step) => Some((Arc::clone(s), *t0)),
            _ => None,
        };
        let (s, t0) = match cached {
            Some(c) => c,
            None => {
                self.last = None;
                let (s, t0) = shared.load_step(run, step as usize)?;
                let s = Arc::new(s);
                self.last = Some(((run, step), Arc::clone(&s), t0));
                (s, t0)
            }
        };
        Ok(build(run, &s, t0, limit))
    }
}

/// The role of a kind's name.
pub fn kind_role(kind: StepKind) -> Role {
    match kind {
        StepKind::Effect => Role::Effect,
        StepKind::Decision => Role::Decision,
        StepKind::Error => Role::Error,
        StepKind::RunStart | StepKind::RunEnd => Role::Title,
        StepKind::LlmCall
        | StepKind::ToolCall
        | StepKind::ToolResult
        | StepKind::Message
        | StepKind::Other => Role::Accent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::StepError;
    use serde_json::json;

    fn step(kind: StepKind, record: Value) -> Step {
        Step {
            step: 3,
            id: "3".into(),
            parent: Some("2".into()),
            kind,
            kind_name: kind.as_str().into(),
            name: record
                .get("name")
                .and_then(Value::as_str)
                .map(str::to_owned),
            status: Status::Unset,
            error: None,
            ts: Some(1_000),
            duration_ms: None,
            record,
        }
    }

    fn text(doc: &DetailDoc) -> String {
        doc.lines
            .iter()
            .map(|l| l.iter().map(|(_, s)| s.as_str()).collect::<String>())
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn the_error_comes_before_the_payloads() {
        let mut s = step(
            StepKind::ToolResult,
            json!({"name": "send_email", "output": {"big": "x".repeat(5000)}}),
        );
        s.status = Status::Error;
        s.error = Some(StepError {
            code: Some("SMTP_AUTH_INVALID".into()),
            message: Some("535 5.7.8 authentication failed".into()),
            error_type: None,
        });
        let doc = build(0, &s, Some(0), FIRST_LIMIT);
        let t = text(&doc);
        let err = t.find("SMTP_AUTH_INVALID: 535").unwrap();
        assert!(err < t.find("── output ──").unwrap());
        assert!(t.contains("(+1.0s)"));
        assert_eq!(doc.cut, 0);
    }

    #[test]
    fn a_huge_output_is_cut_to_the_budget_and_says_how_much_is_left() {
        let s = step(
            StepKind::ToolResult,
            json!({"output": {"log": "y".repeat(3_000_000)}}),
        );
        let doc = build(0, &s, None, 10_000);
        assert!(doc.cut > 2_900_000);
        let shown: usize = doc.lines.iter().flatten().map(|(_, s)| s.len()).sum();
        assert!(shown < 20_000, "{shown}");
        assert!(text(&doc).contains("more not shown"));
        let more = build(0, &s, None, 8_000_000);
        assert_eq!(more.cut, 0);
    }

    #[test]
    fn escapes_in_values_are_shown_not_sent() {
        let s = step(
            StepKind::ToolResult,
            json!({"name": "x\u{1b}]0;pwned\u{7}", "output": "a\u{1b}[2Jb\u{202e}c\rd"}),
        );
        let doc = build(0, &s, None, FIRST_LIMIT);
        let t = text(&doc);
        assert!(!t.chars().any(|c| c.is_control() && c != '\n'), "{t:?}");
        assert!(t.contains("x\\x1b]0;pwned\\x07"));
        assert!(t.contains("a\\x1b[2Jb\\u{202e}c\\rd"));
    }

    #[test]
    fn decisions_show_the_choice_options_and_reason() {
        let s = step(
            StepKind::Decision,
            json!({"name": "route", "options": ["refund", "deny"], "chosen": "refund", "reason": "within 30 days"}),
        );
        let t = text(&build(0, &s, None, FIRST_LIMIT));
        assert!(t.contains("→ refund"));
        assert!(t.contains("refund · deny"));
        assert!(t.contains("within 30 days"));
    }

    #[test]
    fn model_text_with_code_is_its_own_section() {
        let s = step(
            StepKind::LlmCall,
            json!({"output": {"text": "Fix:\n```rust\nfn main() {}\n```"}, "tokens": {"input": 5}, "temperature": 0.2}),
        );
        let doc = build(0, &s, None, FIRST_LIMIT);
        let t = text(&doc);
        assert!(t.contains("── output text ──"));
        assert!(t.contains("fn main() {}"));
        assert!(t.contains("── other fields ──"));
        assert!(t.contains("tokens   in 5 · out 0"), "{t}");
        assert!(doc
            .lines
            .iter()
            .flatten()
            .any(|(r, s)| *r == Role::SynKeyword && s.contains("fn")));
    }
}
