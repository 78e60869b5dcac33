//! Action items: parsing `owner=… component=… done_when=… text`, and telling a specific
//! item from a vague one ("improve the agent", "be more careful") as it is typed.

use serde::Serialize;

use super::notes::{ActionItem, Component};
use super::vocab::words;

/// What keeps an action item from being specific.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "issue", rename_all = "snake_case")]
pub enum ActionIssue {
    NoOwner,
    NoComponent,
    NoDoneWhen,
    /// The text says what to hope for, not what to do.
    Vague {
        phrase: String,
    },
    /// "Done when" names nothing anyone could check.
    UncheckableDoneWhen,
}

impl ActionIssue {
    pub fn message(&self) -> String {
        match self {
            ActionIssue::NoOwner => "no owner: who will do it? (owner=NAME)".into(),
            ActionIssue::NoComponent => "no component: tool, prompt, agent or infra? (component=…)".into(),
            ActionIssue::NoDoneWhen => "no way to know it is done (done_when=\"…\")".into(),
            ActionIssue::Vague { phrase } => format!(
                "vague: \"{phrase}\" names no concrete change; say what changes where (a tool, a prompt rule, a check, a setting)"
            ),
            ActionIssue::UncheckableDoneWhen => {
                "\"done when\" cannot be checked: name a test, an alert, a metric or a review that shows it".into()
            }
        }
    }
}

/// Phrases that promise effort without a change.
const VAGUE: &[&str] = &[
    "improve",
    "improved",
    "better",
    "be careful",
    "more careful",
    "be more careful",
    "more robust",
    "robustness",
    "look into",
    "looking into",
    "try to",
    "make sure",
    "ensure",
    "keep an eye",
    "pay attention",
    "be aware",
    "fix the agent",
    "fix it",
    "fix things",
    "handle errors",
    "handle errors better",
    "as needed",
    "somehow",
    "etc",
    "enhance",
    "optimize",
    "optimise",
    "in general",
    "generally",
    "avoid mistakes",
    "do better",
    "work on",
    "think about",
    "consider",
];

/// Words that make a "done when" checkable.
const CHECKABLE: &[&str] = &[
    "test",
    "tests",
    "ci",
    "alert",
    "alerts",
    "metric",
    "metrics",
    "dashboard",
    "check",
    "checks",
    "passes",
    "pass",
    "fails",
    "fail",
    "zero",
    "no",
    "review",
    "reviewed",
    "merged",
    "deployed",
    "released",
    "runbook",
    "documented",
    "rate",
    "below",
    "above",
    "under",
    "over",
    "within",
    "every",
    "each",
    "eval",
    "evals",
    "replay",
    "monitor",
    "page",
    "pages",
    "ticket",
    "shipped",
    "rotated",
    "expires",
    "audit",
    "canary",
];

/// A concrete anchor: an identifier (`send_email`, `api.v2`, `PROJ-12`), a number, a
/// path or a quoted name.
fn has_anchor(text: &str) -> bool {
    text.split_whitespace().any(|w| {
        let w = w.trim_matches(|c: char| c.is_ascii_punctuation() && c != '_' && c != '/');
        w.chars().any(|c| c.is_ascii_digit())
            || w.contains('_')
            || w.contains('/')
            || (w.contains('.') && w.len() > 3)
            || w.chars().skip(1).any(|c| c.is_uppercase())
    }) || text.contains('`')
        || text.contains('"')
}

fn vague_phrase(text: &str) -> Option<&'static str> {
    let joined = format!(" {} ", words(text).join(" "));
    VAGUE
        .iter()
        .filter(|p| joined.contains(&format!(" {p} ")))
        .max_by_key(|p| p.len())
        .copied()
}

/// What keeps `item` from being specific; empty when it is.
pub fn check_action(item: &ActionItem) -> Vec<ActionIssue> {
    let mut out = Vec::new();
    if item.owner.as_deref().map_or(true, |o| o.trim().is_empty()) {
        out.push(ActionIssue::NoOwner);
    }
    if item.component.is_none() {
        out.push(ActionIssue::NoComponent);
    }
    let text = item.text.trim();
    let n_words = words(text).len();
    match vague_phrase(text) {
        Some(p) if !has_anchor(text) || n_words <= 4 => out.push(ActionIssue::Vague {
            phrase: p.to_string(),
        }),
        None if n_words < 3 => out.push(ActionIssue::Vague {
            phrase: text.to_string(),
        }),
        _ => {}
    }
    match item.done_when.as_deref().map(str::trim) {
        None | Some("") => out.push(ActionIssue::NoDoneWhen),
        Some(d) => {
            let ws = words(d);
            let checkable = ws.iter().any(|w| CHECKABLE.contains(&w.as_str())) || has_anchor(d);
            if !checkable || (vague_phrase(d).is_some() && !has_anchor(d)) {
                out.push(ActionIssue::UncheckableDoneWhen);
            }
        }
    }
    out
}

/// Checks the text of an action item as typed (`owner=… component=… done_when=… text`):
/// parse problems and vagueness together, for a view to show under the input.
pub fn check_action_text(spec: &str) -> Vec<String> {
    match parse_action(spec) {
        Ok(item) => check_action(&item)
            .iter()
            .map(ActionIssue::message)
            .collect(),
        Err(e) => vec![e],
    }
}

const KEYS: &[&str] = &["owner", "component", "done_when", "done-when", "text"];

/// Parses `text owner=NAME component=tool|prompt|agent|infra done_when="…"`. Values may
/// be quoted ("…" or '…'); unquoted, `owner` and `component` take one word and
/// `done_when` runs to the next key. Words outside any key are the item's text.
pub fn parse_action(spec: &str) -> Result<ActionItem, String> {
    let mut item = ActionItem {
        text: String::new(),
        owner: None,
        component: None,
        done_when: None,
        done: false,
    };
    let mut text_words: Vec<String> = Vec::new();
    let mut rest = spec.trim();
    while !rest.is_empty() {
        let key = KEYS.iter().find(|k| {
            rest.len() > k.len() && rest.starts_with(*k) && rest.as_bytes()[k.len()] == b'='
        });
        let Some(key) = key else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            text_words.push(rest[..end].to_string());
            rest = rest[end..].trim_start();
            continue;
        };
        rest = &rest[key.len() + 1..];
        let (value, after) =
            if let Some(q) = rest.chars().next().filter(|c| *c == '"' || *c == '\'') {
                match rest[1..].find(q) {
                    Some(end) => (rest[1..1 + end].to_string(), &rest[2 + end..]),
                    None => return Err(format!("{key}: the closing {q} is missing")),
                }
            } else if matches!(*key, "owner" | "component") {
                let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
                (rest[..end].to_string(), &rest[end..])
            } else {
                let end = next_key(rest).unwrap_or(rest.len());
                (rest[..end].trim().to_string(), &rest[end..])
            };
        match *key {
            "owner" => item.owner = Some(value),
            "component" => {
                item.component = Some(Component::parse(&value).ok_or_else(|| {
                    format!("component {value:?}: one of tool, prompt, agent, infra")
                })?)
            }
            "text" => text_words.push(value),
            _ => item.done_when = Some(value),
        }
        rest = after.trim_start();
    }
    item.text = text_words.join(" ");
    if item.text.trim().is_empty() {
        return Err("the action item has no text: say what will change".into());
    }
    Ok(item)
}

fn next_key(s: &str) -> Option<usize> {
    s.char_indices()
        .filter(|(i, c)| c.is_whitespace() && *i + 1 < s.len())
        .map(|(i, _)| i + 1)
        .find(|&i| {
            KEYS.iter()
                .any(|k| s[i..].starts_with(k) && s.as_bytes().get(i + k.len()) == Some(&b'='))
        })
        .map(|i| i - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_spec_parses_in_any_order() {
        let a = parse_action(
            "Alert on SMTP_AUTH_INVALID in send_email owner=maria component=infra done_when=\"the alert fires in a staging rotation drill\"",
        )
        .unwrap();
        assert_eq!(a.owner.as_deref(), Some("maria"));
        assert_eq!(a.component, Some(Component::Infra));
        assert_eq!(
            a.done_when.as_deref(),
            Some("the alert fires in a staging rotation drill")
        );
        assert_eq!(a.text, "Alert on SMTP_AUTH_INVALID in send_email");
        assert!(check_action(&a).is_empty(), "{:?}", check_action(&a));
        let b = parse_action("owner=li component=prompt done_when=eval refund_window passes text='Restore the policy check rule'").unwrap();
        assert_eq!(b.done_when.as_deref(), Some("eval refund_window passes"));
        assert_eq!(b.text, "Restore the policy check rule");
        assert!(parse_action("owner=li component=database x")
            .unwrap_err()
            .contains("component"));
        assert!(parse_action("owner=li").is_err());
    }

    #[test]
    fn vague_items_are_flagged() {
        let issues = |s: &str| check_action(&parse_action(s).unwrap());
        let vague =
            issues("improve the agent owner=sam component=agent done_when=\"it is better\"");
        assert!(
            vague.iter().any(|i| matches!(i, ActionIssue::Vague { .. })),
            "{vague:?}"
        );
        assert!(vague.contains(&ActionIssue::UncheckableDoneWhen));
        let careful = issues("be more careful");
        assert!(careful.contains(&ActionIssue::NoOwner));
        assert!(careful.contains(&ActionIssue::NoComponent));
        assert!(careful.contains(&ActionIssue::NoDoneWhen));
        assert!(careful.contains(&ActionIssue::Vague {
            phrase: "be more careful".into()
        }));
        let specific = issues("Make send_email retry 535 errors once after reloading credentials owner=sam component=tool done_when=\"test_send_email_reloads passes in CI\"");
        assert!(specific.is_empty(), "{specific:?}");
        assert!(!check_action_text("improve things").is_empty());
    }
}
