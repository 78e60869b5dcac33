//! The problems view: `!` lists every bad line and damaged file with its file, line and
//! reason; it scrolls, Esc closes it, and the status bar names the key next to the count.

use super::*;
use crate::tui::overlays::Overlay;

/// A good run with a broken line (3) and a line with control characters in it (5).
fn bad_lines(w: u16, h: u16) -> (App, tempfile::TempDir) {
    let lines = vec![
        r#"{"run_id":"r-ok","step":0,"ts":"2026-11-20T10:00:00Z","kind":"run_start","agent":"a"}"#.to_string(),
        r#"{"run_id":"r-ok","step":1,"parent":0,"ts":"2026-11-20T10:00:01Z","kind":"tool_call","name":"lookup"}"#.to_string(),
        r#"{"run_id":"r-ok","step":2,"#.to_string(),
        r#"{"run_id":"r-ok","step":3,"parent":1,"ts":"2026-11-20T10:00:02Z","kind":"run_end","outcome":"success"}"#.to_string(),
        "not json \u{1b}]0;PWNED\u{7} at all".to_string(),
    ];
    let (dir, path) = write_fixture("runs.jsonl", &lines);
    let app = load(&[path], "runs.jsonl", w, h);
    (app, dir)
}

#[test]
fn bang_opens_the_problems_and_lists_file_line_and_reason() {
    let (mut app, _dir) = bad_lines(160, 48);
    let problems: Vec<(u64, String)> = app
        .shared
        .read()
        .problems()
        .iter()
        .map(|p| (p.line, p.reason.clone()))
        .collect();
    assert_eq!(problems.iter().map(|p| p.0).collect::<Vec<_>>(), [3, 5]);
    let s = screen(&app);
    assert!(s.contains("2 problems (! shows)"), "{s}");

    act(&mut app, &[Action::Problems]);
    assert!(matches!(app.overlay(), Some(Overlay::Problems(_))));
    let s = screen(&app);
    assert!(s.contains("runs.jsonl:3"), "{s}");
    assert!(s.contains("runs.jsonl:5"), "{s}");
    let first_reason: String = problems[0].1.chars().take(20).collect();
    assert!(s.contains(&first_reason), "{first_reason:?} in\n{s}");
    // Escapes from the file are shown as harmless text, never sent raw.
    assert!(!s.contains('\u{1b}'), "{s}");

    // Scrolling moves the selection within the list; nothing else moves meanwhile.
    let run_before = app.runs.cursor.selected;
    act(&mut app, &[Action::MoveDown, Action::MoveDown]);
    let Some(Overlay::Problems(p)) = app.overlay() else {
        panic!("the view closed");
    };
    assert_eq!(p.cursor.selected, 1);
    assert_eq!(app.runs.cursor.selected, run_before);
    act(&mut app, &[Action::Top]);
    let Some(Overlay::Problems(p)) = app.overlay() else {
        panic!("the view closed");
    };
    assert_eq!(p.cursor.selected, 0);

    act(&mut app, &[Action::Back]);
    assert!(app.overlay().is_none());
    // `!` again toggles it shut.
    act(&mut app, &[Action::Problems, Action::Problems]);
    assert!(app.overlay().is_none());
}

#[test]
fn a_clean_history_says_there_are_no_problems() {
    let mut app = demo(80, 24);
    act(&mut app, &[Action::Problems]);
    assert!(screen(&app).contains("no problems"));
}

/// The demo runs plus problems the watcher reported, at fixed paths (a temp folder's
/// name would change the snapshot): bad lines, a whole damaged file, a hostile name.
fn many_problems(w: u16, h: u16) -> App {
    use crate::index::watch::WatchEvent;
    use crate::model::Problem;
    let mut history = History::load(&[demo_path()], &LoadOptions::default()).unwrap();
    let problem = |file: &str, line: u64, reason: &str| {
        WatchEvent::Problem(Problem {
            file: PathBuf::from(file),
            line,
            reason: reason.to_string(),
        })
    };
    history.apply_watch(problem(
        "logs/archive.jsonl.gz",
        0,
        "damaged compressed file: unexpected end of stream",
    ));
    for line in 1..=30 {
        history.apply_watch(problem(
            "logs/agent-7.jsonl",
            line * 10,
            "not valid JSON: EOF while parsing an object",
        ));
    }
    history.apply_watch(problem(
        "logs/evil\u{1b}[2J.jsonl",
        2,
        "bad \u{1b}]0;title\u{7} line",
    ));
    let mut app = App::loaded(history, options("logs"), Rect::new(0, 0, w, h));
    app.run_jobs_now();
    app
}

#[test]
fn problems_view_snapshots() {
    for (w, h) in SIZES {
        let mut app = many_problems(w, h);
        act(&mut app, &[Action::Problems]);
        snap("problems_view", &app);
        // The end of a long list: only the rows in view are drawn.
        act(&mut app, &[Action::Bottom]);
        let s = screen(&app);
        assert!(s.contains("evil"), "{s}");
        assert!(!s.contains('\u{1b}'), "{s}");
        if h == 24 {
            assert!(!s.contains("archive.jsonl.gz"), "{s}");
        }
        snap("problems_view_scrolled", &app);
    }
}
