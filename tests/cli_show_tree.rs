//! `retrace show RUN --tree`: the decision tree as text, with the same branches, unknown
//! parents and cut cycles the browser's tree pane shows (src/tui/tests.rs checks the pane
//! against the same function), and `--json` unchanged by it.

use std::path::Path;
use std::process::Command;

/// A run with a branch (1 → 2, 3), an unknown parent (4), a two-step cycle (5 ↔ 6) and a
/// failing step.
fn tree_run(dir: &Path) -> std::path::PathBuf {
    let t = |s: u32| format!("2026-11-20T10:00:{s:02}Z");
    let lines = [
        format!(
            r#"{{"run_id":"r-tree","step":0,"ts":"{}","kind":"run_start","agent":"router","input":{{"ticket":7}}}}"#,
            t(0)
        ),
        format!(
            r#"{{"run_id":"r-tree","step":1,"parent":0,"ts":"{}","kind":"decision","name":"route","options":["left","right"],"chosen":"left","reason":"shorter"}}"#,
            t(1)
        ),
        format!(
            r#"{{"run_id":"r-tree","step":2,"parent":1,"ts":"{}","kind":"tool_call","name":"go_left"}}"#,
            t(2)
        ),
        format!(
            r#"{{"run_id":"r-tree","step":3,"parent":1,"ts":"{}","kind":"tool_call","name":"go_right"}}"#,
            t(3)
        ),
        format!(
            r#"{{"run_id":"r-tree","step":4,"parent":"nope","ts":"{}","kind":"message","name":"orphan"}}"#,
            t(4)
        ),
        format!(
            r#"{{"run_id":"r-tree","step":5,"parent":6,"ts":"{}","kind":"llm_call","name":"loop_a"}}"#,
            t(5)
        ),
        format!(
            r#"{{"run_id":"r-tree","step":6,"parent":5,"ts":"{}","kind":"llm_call","name":"loop_b","status":"error","error":"LOOP"}}"#,
            t(6)
        ),
        format!(
            r#"{{"run_id":"r-tree","step":7,"parent":3,"ts":"{}","kind":"run_end","outcome":"failure"}}"#,
            t(7)
        ),
    ];
    let path = dir.join("tree.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

fn show(args: &[&str], path: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_retrace"))
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .arg("show")
        .args(args)
        .arg(path)
        .output()
        .unwrap()
}

#[test]
fn show_tree_prints_branches_unknown_parents_and_cut_cycles() {
    let dir = tempfile::tempdir().unwrap();
    let path = tree_run(dir.path());
    let out = show(&["r-tree", "--tree"], &path);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let tree: Vec<&str> = text.lines().skip_while(|l| !l.contains("#0")).collect();
    assert_eq!(
        tree,
        [
            "▶ #0 run_start",
            "◆ #1 route → left: shorter",
            "├─→ #2 go_left",
            "└─→ #3 go_right",
            "  ■ #7 run_end",
            "¶ #4 orphan ? parent nope not found",
            "◇ #5 loop_a ↻ cycle: parent #6 cut",
            "◇ #6 loop_b ✗ LOOP",
        ],
        "{text}"
    );
    assert!(
        text.starts_with("run r-tree"),
        "the run's header first: {text}"
    );
}

#[test]
fn show_json_is_the_same_with_or_without_a_tree_flag_and_they_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let path = tree_run(dir.path());
    let json = show(&["r-tree", "--json"], &path);
    assert!(json.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(
        doc.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["problems", "run", "steps"],
        "show --json gains nothing from the tree"
    );
    let both = show(&["r-tree", "--json", "--tree"], &path);
    assert!(!both.status.success(), "--tree is text only");
}
