//! Tables keep their columns aligned by display width, whatever the script: CJK names
//! take two columns a character, emoji too, and a long name is cut, never shifts a row.

use std::process::Command;

use retrace::width::width;

fn retrace(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_retrace"))
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A history whose agents and tools are named in several scripts and lengths.
fn history() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let agents = [
        "plain-agent",
        "日本語エージェント",
        "🚀🚀 rocket",
        "客服机器人客服机器人客服机器人客服机器人",
        "émigré",
    ];
    let tools = [
        "lookup",
        "検索ツール",
        "📧 send",
        "一二三四五六七八九十一二三四五",
        "x",
    ];
    let mut lines = String::new();
    for (i, agent) in agents.iter().enumerate() {
        let run = format!("r-{i}");
        lines += &serde_json::json!({"run_id": run, "step": 0, "kind": "run_start",
            "ts": format!("2026-11-2{i}T10:00:00Z"), "agent": agent})
        .to_string();
        lines.push('\n');
        lines += &serde_json::json!({"run_id": run, "step": 1, "kind": "tool_call",
            "ts": format!("2026-11-2{i}T10:00:01Z"), "name": tools[i], "status": "ok",
            "duration_ms": 12})
        .to_string();
        lines.push('\n');
        lines += &serde_json::json!({"run_id": run, "step": 2, "kind": "run_end",
            "ts": format!("2026-11-2{i}T10:00:02Z"), "outcome": "success"})
        .to_string();
        lines.push('\n');
    }
    std::fs::write(dir.path().join("runs.jsonl"), lines).unwrap();
    dir
}

/// The display column where `needle` starts in `line`.
fn column_of(line: &str, needle: &str) -> usize {
    let at = line
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} in {line:?}"));
    width(&line[..at])
}

#[test]
fn ls_columns_stay_aligned_with_wide_agent_names() {
    let dir = history();
    let text = retrace(&["ls", dir.path().to_str().unwrap()]);
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let started = column_of(header, "STARTED");
    let outcome = column_of(header, "OUTCOME");
    let rows: Vec<&str> = lines.filter(|l| l.starts_with("r-")).collect();
    assert_eq!(rows.len(), 5, "{text}");
    for row in rows {
        assert_eq!(column_of(row, "2026-"), started, "start column: {row:?}");
        assert_eq!(
            column_of(row, "✓ success"),
            outcome,
            "outcome column: {row:?}"
        );
    }
}

#[test]
fn show_columns_stay_aligned_with_wide_tool_names() {
    let dir = history();
    for run in ["r-0", "r-1", "r-2", "r-3", "r-4"] {
        let text = retrace(&["show", run, dir.path().to_str().unwrap()]);
        let header = text.lines().find(|l| l.contains("KIND")).unwrap();
        let status = column_of(header, "STATUS");
        let row = text.lines().find(|l| l.contains("tool_call")).unwrap();
        assert_eq!(column_of(row, " ok ") + 1, status, "status column: {row:?}");
    }
}
