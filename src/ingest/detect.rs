//! Tells a file's format from its first bytes.

use serde_json::Value;

use super::tau_bench;
use crate::model::Format;

/// How many bytes of a file detection looks at.
pub const SNIFF_BYTES: usize = 64 * 1024;

/// The format of a file starting with `head`, or `None` when it is no known format.
/// JSON Lines formats are told by the keys of the first complete lines; a JSON array of
/// tau-bench trials by its first element.
pub fn detect(head: &[u8]) -> Option<Format> {
    let text = String::from_utf8_lossy(head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head));
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') {
        return looks_like_tau_bench(trimmed).then_some(Format::TauBench);
    }
    if trimmed.starts_with('{') && looks_like_tau2_results(trimmed) {
        return Some(Format::TauBench);
    }
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take(20)
    {
        let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if obj.contains_key("resourceSpans")
            || obj.contains_key("resourceMetrics")
            || obj.contains_key("resourceLogs")
        {
            return Some(Format::Otel);
        }
        if obj.contains_key("run_id") && obj.contains_key("kind") {
            return Some(Format::Native);
        }
        let line_type = obj.get("type").and_then(Value::as_str);
        let is_summary = line_type == Some("summary") && obj.contains_key("leafUuid");
        // A message line that lost its session id still links to its parent, or holds
        // an API message with its role.
        let is_message = matches!(line_type, Some("user" | "assistant"))
            && (obj.contains_key("parentUuid")
                || obj.get("message").is_some_and(|m| m.get("role").is_some()));
        if obj.contains_key("sessionId")
            || (obj.contains_key("messageId") && obj.contains_key("snapshot"))
            || is_summary
            || is_message
        {
            return Some(Format::ClaudeCode);
        }
        if obj.contains_key("payload")
            && obj.get("type").and_then(Value::as_str).is_some_and(|t| {
                matches!(
                    t,
                    "session_meta" | "response_item" | "event_msg" | "turn_context"
                )
            })
        {
            return Some(Format::Codex);
        }
        // The oldest Codex layout: the session object itself, then bare items.
        if !obj.contains_key("type")
            && obj.contains_key("id")
            && obj.contains_key("timestamp")
            && (obj.contains_key("instructions") || obj.contains_key("git"))
        {
            return Some(Format::Codex);
        }
    }
    None
}

/// Checks the first element of an array for the keys of a trial; the element may be cut
/// off by the sniff window, so its start is read by keys, not parsed whole.
fn looks_like_tau_bench(text: &str) -> bool {
    if let Ok(Value::Array(items)) = serde_json::from_str::<Value>(text) {
        return items.first().is_some_and(tau_bench::is_trial);
    }
    let head: String = text.chars().take(SNIFF_BYTES).collect();
    head.contains("\"task_id\"") && head.contains("\"traj\"")
}

/// A tau2-bench results object: `simulations`, or (when its `tasks` fill the sniff window)
/// the `info` that comes first, naming the user and agent simulated.
fn looks_like_tau2_results(text: &str) -> bool {
    if let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(text) {
        return obj.get("simulations").is_some_and(Value::is_array);
    }
    // A JSON Lines file's first line is a whole object; a results document's is not.
    let first_line = text.lines().next().unwrap_or("");
    if serde_json::from_str::<Value>(first_line).is_ok() {
        return false;
    }
    let head: String = text.chars().take(SNIFF_BYTES).collect();
    head.contains("\"simulations\"")
        || (head.contains("\"agent_info\"") && head.contains("\"user_info\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_format_is_told_by_its_first_lines() {
        let cases: &[(&str, Option<Format>)] = &[
            (r#"{"run_id":"r","kind":"run_start"}"#, Some(Format::Native)),
            ("{\"resourceMetrics\":[]}\n", Some(Format::Otel)),
            (
                r#"{"type":"file-history-snapshot","messageId":"m","snapshot":{}}"#,
                Some(Format::ClaudeCode),
            ),
            (
                "{\"type\":\"summary\",\"summary\":\"Fix the tests\",\"leafUuid\":\"u9\"}\n{\"type\":\"summary\",\"summary\":\"Refactor\",\"leafUuid\":\"u7\"}",
                Some(Format::ClaudeCode),
            ),
            (
                r#"{"type":"user","message":{"role":"user","content":"hi"}}"#,
                Some(Format::ClaudeCode),
            ),
            (
                r#"{"type":"assistant","parentUuid":null,"uuid":"a"}"#,
                Some(Format::ClaudeCode),
            ),
            (r#"{"type":"user","text":"hi"}"#, None),
            (
                r#"{"timestamp":"t","type":"session_meta","payload":{"id":"x"}}"#,
                Some(Format::Codex),
            ),
            (
                r#"{"id":"x","timestamp":"2025-08-01T10:00:00.000Z","instructions":null}"#,
                Some(Format::Codex),
            ),
            (
                r#"[{"task_id": 1, "reward": 1.0, "traj": []}]"#,
                Some(Format::TauBench),
            ),
            (
                r#"{"info": {"agent_info": {}, "user_info": {}}, "tasks": [], "simulations": []}"#,
                Some(Format::TauBench),
            ),
            (r#"[{"name": "x"}]"#, None),
            (r#"{"hello":"world"}"#, None),
            ("not json at all", None),
        ];
        for (head, want) in cases {
            assert_eq!(detect(head.as_bytes()), *want, "{head}");
        }
    }
}
