//! The diff view on two runs whose parallel tool results came back in the other order:
//! the group's rows are marked (`┏`/`┃`), its members are matched by what they are (the
//! same tool on both sides of each row), and the divergence is the later difference.

use super::*;

/// One run: a model call proposes `search` and `fetch` at once; their results come back
/// in `results` order; then `send_email` succeeds or fails.
fn run_lines(id: &str, results: [(&str, u32); 2], send_fails: bool) -> Vec<String> {
    let t = |s: u32| format!("2026-11-20T10:00:{s:02}Z");
    let mut lines = vec![
        format!(
            r#"{{"run_id":"{id}","step":0,"ts":"{}","kind":"run_start","agent":"helper","input":{{"ticket":7}}}}"#,
            t(0)
        ),
        format!(
            r#"{{"run_id":"{id}","step":1,"parent":0,"ts":"{}","kind":"llm_call","name":"planner","output":{{"text":"look it up"}}}}"#,
            t(1)
        ),
        format!(
            r#"{{"run_id":"{id}","step":2,"parent":1,"ts":"{}","kind":"tool_call","name":"search","input":{{"q":"order 7"}}}}"#,
            t(2)
        ),
        format!(
            r#"{{"run_id":"{id}","step":3,"parent":1,"ts":"{}","kind":"tool_call","name":"fetch","input":{{"url":"/orders/7"}}}}"#,
            t(2)
        ),
    ];
    for (i, (name, call)) in results.iter().enumerate() {
        lines.push(format!(
            r#"{{"run_id":"{id}","step":{},"parent":{call},"ts":"{}","kind":"tool_result","name":"{name}","status":"ok","output":{{"{name}":"done"}}}}"#,
            4 + i,
            t(3 + i as u32)
        ));
    }
    lines.push(format!(r#"{{"run_id":"{id}","step":6,"parent":5,"ts":"{}","kind":"llm_call","name":"compose","output":{{"text":"send it"}}}}"#, t(6)));
    lines.push(format!(r#"{{"run_id":"{id}","step":7,"parent":6,"ts":"{}","kind":"tool_call","name":"send_email","input":{{"to":"a@example.com"}}}}"#, t(7)));
    let status = if send_fails {
        r#""status":"error","error":{"code":"SMTP_AUTH_INVALID","message":"535 auth failed"}"#
    } else {
        r#""status":"ok","output":{"sent":true}"#
    };
    lines.push(format!(r#"{{"run_id":"{id}","step":8,"parent":7,"ts":"{}","kind":"tool_result","name":"send_email",{status}}}"#, t(8)));
    let outcome = if send_fails { "failure" } else { "success" };
    lines.push(format!(r#"{{"run_id":"{id}","step":9,"parent":8,"ts":"{}","kind":"run_end","outcome":"{outcome}"}}"#, t(9)));
    lines
}

fn reordered_pair(w: u16, h: u16) -> (App, tempfile::TempDir) {
    let mut lines = run_lines("r-a", [("search", 2), ("fetch", 3)], true);
    lines.extend(run_lines("r-b", [("fetch", 3), ("search", 2)], false));
    let (dir, path) = write_fixture("pair.jsonl", &lines);
    let mut app = load(&[path], "pair.jsonl", w, h);
    open(&mut app, "r-a", 0, Pane::Timeline);
    act(&mut app, &[Action::Diff]);
    (app, dir)
}

#[test]
fn a_reordered_parallel_group_is_marked_and_matched_by_name() {
    let (mut app, _dir) = reordered_pair(160, 48);
    let d = app.diff().expect("the diff view");
    let doc = d.doc.as_ref().expect("aligned");
    assert_eq!(doc.b_id, "r-b");
    assert_eq!(doc.groups.len(), 1, "{:?}", doc.groups);
    let g = &doc.groups[0];
    assert_eq!((g.a_head, g.b_head, g.calls), (Some(1), Some(1), 2));
    assert_eq!(g.label(), "parallel: 2 calls proposed by #1");
    let grouped: Vec<&crate::tui::diff::DiffRow> =
        doc.rows.iter().filter(|r| r.group == Some(0)).collect();
    assert_eq!(grouped.len(), g.rows.len());
    assert!(grouped.len() >= 4, "{grouped:?}");
    // Each grouped row pairs the same step on both sides, though B logged the results
    // in the other order.
    for r in &grouped {
        let (a, b) = (r.a.as_ref().unwrap(), r.b.as_ref().unwrap());
        assert_eq!(a.label, b.label);
        assert!(r.kind.is_none(), "{r:?}");
    }
    assert!(grouped
        .iter()
        .any(|r| r.a.as_ref().unwrap().step != r.b.as_ref().unwrap().step));
    // The divergence is the later failure, not the reordering.
    let (div, _, _) = doc.divergence.clone().expect("a divergence");
    assert!(div >= g.rows.end);
    // The gutter marks the group's rows; the detail names it.
    let first = g.rows.start;
    let s = screen(&app);
    let gutters: Vec<char> = s
        .lines()
        .filter(|l| l.contains(" │ #"))
        .filter_map(|l| l.trim_start_matches('"').chars().nth(3))
        .collect();
    assert_eq!(gutters.iter().filter(|&&c| c == '┏').count(), 1, "{s}");
    assert_eq!(
        gutters.iter().filter(|&&c| c == '┃').count(),
        g.rows.len() - 1,
        "{s}"
    );
    // Wide enough: the first row names the group too.
    assert!(s.contains("┏ parallel: 2 calls proposed by #1"), "{s}");
    act(&mut app, &[Action::Top]);
    for _ in 0..first {
        act(&mut app, &[Action::MoveDown]);
    }
    let s = screen(&app);
    assert!(s.contains("┃ parallel: 2 calls proposed by #1"), "{s}");
}

#[test]
fn diff_group_snapshots() {
    for (w, h) in SIZES {
        let (mut app, _dir) = reordered_pair(w, h);
        let first = app.diff().unwrap().doc.as_ref().unwrap().groups[0]
            .rows
            .start;
        act(&mut app, &[Action::Top]);
        for _ in 0..first + 1 {
            act(&mut app, &[Action::MoveDown]);
        }
        snap("diff_marks_a_parallel_group", &app);
    }
}
