//! The app driven by actions and messages, with asserts on its state; and insta
//! snapshots of every pane at 80x24 and 160x48 on ratatui's `TestBackend`. Jobs run in
//! place (`App::run_jobs_now`), so every snapshot is the settled screen.

use std::path::{Path, PathBuf};

use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use ratatui::Terminal;

use super::action::Action;
use super::app::{App, Exit, Options};
use super::event::Msg;
use super::layout::Pane;
use super::theme::{ColorDepth, ThemeName};
use super::ui::render;
use crate::index::{History, LoadEvent, LoadOptions};

fn demo_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo")
}

fn options(source: &str) -> Options {
    Options {
        theme: ThemeName::Dark,
        depth: ColorDepth::Ansi256,
        mouse: true,
        sources: vec![PathBuf::from(source)],
        poll: false,
        meeting: Default::default(),
        // No notes anywhere: the post-mortem tests give their own library.
        library: Some(PathBuf::from("/nonexistent/retrace-tests/library")),
        receiving: None,
    }
}

fn load(paths: &[PathBuf], source: &str, w: u16, h: u16) -> App {
    let history = History::load(paths, &LoadOptions::default()).unwrap();
    let mut app = App::loaded(history, options(source), Rect::new(0, 0, w, h));
    app.run_jobs_now();
    app
}

fn demo(w: u16, h: u16) -> App {
    load(&[demo_path()], "assets/demo", w, h)
}

fn run_index(app: &App, id: &str) -> usize {
    app.shared.read().find_run(id).unwrap().index()
}

fn run_id(app: &App, run: usize) -> String {
    app.shared.read().run(run).id().to_string()
}

fn act(app: &mut App, actions: &[Action]) {
    for &a in actions {
        app.update(a);
        app.after_drain();
        app.run_jobs_now();
    }
}

fn screen(app: &App) -> String {
    let mut t = Terminal::new(TestBackend::new(app.size.width, app.size.height)).unwrap();
    t.draw(|f| render(app, f)).unwrap();
    t.backend().to_string()
}

/// Opens run `id` at step `step` with `focus`.
fn open(app: &mut App, id: &str, step: u32, focus: Pane) {
    let run = run_index(app, id);
    app.select_run(run);
    app.run_jobs_now();
    app.select_step(step, Pane::Runs);
    app.run_jobs_now();
    let action = match focus {
        Pane::Runs => Action::FocusRuns,
        Pane::Timeline => Action::FocusTimeline,
        Pane::Tree => Action::FocusTree,
        Pane::Detail => Action::FocusDetail,
    };
    act(app, &[action]);
}

// ---------------------------------------------------------------- state

#[test]
fn opening_selects_the_oldest_run_and_loads_its_tree_and_detail() {
    let app = demo(80, 24);
    assert_eq!(app.runs.len(), 34);
    assert_eq!(app.runs.failed, 11);
    let first = app.runs.order[0] as usize;
    assert_eq!(run_id(&app, first), "r-5014ef5e");
    assert_eq!(app.runs.selected, Some(first));
    assert_eq!(app.timeline.run, Some(first));
    assert_eq!(app.timeline.len, 21);
    let tree = app.tree.structure.as_ref().expect("tree built");
    assert_eq!((tree.run, tree.steps, tree.complete), (first, 21, true));
    assert!(tree.trigger.as_deref().unwrap().contains("4391"));
    assert_eq!(app.detail.target, Some((first, 0)));
    assert!(app.detail.doc.is_some());
    assert_eq!(app.focus, Pane::Runs);
    assert!(app.exit.is_none());
}

#[test]
fn moving_the_run_selection_updates_timeline_tree_and_detail() {
    let mut app = demo(80, 24);
    act(&mut app, &[Action::MoveDown, Action::MoveDown]);
    let run = app.runs.order[2] as usize;
    assert_eq!(app.runs.cursor.selected, 2);
    assert_eq!(app.runs.selected, Some(run));
    assert_eq!(app.timeline.run, Some(run));
    assert_eq!(app.timeline.cursor.selected, 0);
    assert_eq!(app.tree.structure.as_ref().unwrap().run, run);
    assert_eq!(app.detail.target, Some((run, 0)));
    assert_eq!(app.detail.doc.as_ref().unwrap().run, run);
    act(&mut app, &[Action::Bottom]);
    assert_eq!(app.runs.cursor.selected, 33);
    act(&mut app, &[Action::Top]);
    assert_eq!(app.runs.cursor.selected, 0);
}

#[test]
fn timeline_and_tree_selections_follow_each_other() {
    let mut app = demo(160, 48);
    let run = run_index(&app, "r-2bcd0cc3");
    app.select_run(run);
    app.run_jobs_now();
    act(&mut app, &[Action::FirstFailure]);
    assert_eq!(
        app.focus,
        Pane::Timeline,
        "f from the run list opens the timeline"
    );
    assert_eq!(app.timeline.cursor.selected, 15);
    assert_eq!(app.tree.selected_step(), Some(15));
    assert_eq!(app.detail.target, Some((run, 15)));
    act(
        &mut app,
        &[Action::FocusTree, Action::MoveUp, Action::MoveUp],
    );
    assert_eq!(app.tree.selected_step(), Some(13));
    assert_eq!(app.timeline.cursor.selected, 13);
    assert_eq!(app.detail.target, Some((run, 13)));
    act(&mut app, &[Action::FocusTimeline, Action::PageDown]);
    let step = app.timeline.cursor.selected as u32;
    assert!(step > 13);
    assert_eq!(app.tree.selected_step(), Some(step));
}

#[test]
fn failures_can_be_walked_run_by_run_and_step_by_step() {
    let mut app = demo(80, 24);
    act(&mut app, &[Action::NextFailure]);
    let run = app.runs.selected.unwrap();
    assert_eq!(run_id(&app, run), "r-9a67e3a4");
    act(&mut app, &[Action::NextFailure]);
    assert_eq!(run_id(&app, app.runs.selected.unwrap()), "r-715e60d7");
    act(&mut app, &[Action::PrevFailure]);
    assert_eq!(run_id(&app, app.runs.selected.unwrap()), "r-9a67e3a4");
    let run = run_index(&app, "r-2bcd0cc3");
    app.select_run(run);
    app.run_jobs_now();
    act(&mut app, &[Action::FocusTimeline, Action::NextFailure]);
    assert_eq!(app.timeline.cursor.selected, 15);
    act(&mut app, &[Action::NextFailure]);
    assert_eq!(app.timeline.cursor.selected, 18);
    act(&mut app, &[Action::NextFailure]);
    assert_eq!(app.timeline.cursor.selected, 18);
    assert_eq!(app.message.as_deref(), Some("no more failing steps"));
}

#[test]
fn tab_enter_and_esc_move_between_panes() {
    let mut app = demo(80, 24);
    act(&mut app, &[Action::NextPane]);
    assert_eq!(app.focus, Pane::Timeline);
    act(
        &mut app,
        &[Action::NextPane, Action::NextPane, Action::NextPane],
    );
    assert_eq!(app.focus, Pane::Runs);
    act(&mut app, &[Action::PrevPane]);
    assert_eq!(app.focus, Pane::Detail);
    act(&mut app, &[Action::FocusRuns, Action::Open]);
    assert_eq!(app.focus, Pane::Timeline);
    act(&mut app, &[Action::Open]);
    assert_eq!(app.focus, Pane::Detail);
    act(&mut app, &[Action::Back]);
    assert_eq!(app.focus, Pane::Timeline);
    act(&mut app, &[Action::FocusTree, Action::Open, Action::Back]);
    assert_eq!(
        app.focus,
        Pane::Tree,
        "Esc returns to the list it came from"
    );
    act(&mut app, &[Action::Back, Action::Back]);
    assert_eq!(app.focus, Pane::Runs);
}

#[test]
fn help_opens_scrolls_and_closes_and_nothing_else_moves_meanwhile() {
    let mut app = demo(80, 24);
    act(&mut app, &[Action::Help]);
    assert_eq!(app.help(), Some(0));
    act(&mut app, &[Action::MoveDown, Action::MoveDown]);
    assert_eq!(app.help(), Some(2));
    assert_eq!(
        app.runs.cursor.selected, 0,
        "the list under the help did not move"
    );
    act(&mut app, &[Action::NextPane]);
    assert_eq!(app.focus, Pane::Runs);
    act(&mut app, &[Action::Back]);
    assert_eq!(app.help(), None);
    act(&mut app, &[Action::Help, Action::Help]);
    assert_eq!(app.help(), None);
}

#[test]
fn quit_and_signals_stop_the_app() {
    let mut app = demo(80, 24);
    act(&mut app, &[Action::Quit]);
    assert_eq!(app.exit, Some(Exit::Quit));
    let mut app = demo(80, 24);
    app.handle(Msg::Signal(1));
    assert_eq!(app.exit, Some(Exit::Signal(1)));
}

#[test]
fn the_tree_folds_and_a_hidden_selection_unfolds() {
    let (mut app, _dir) = tree_fixture(160, 48);
    act(&mut app, &[Action::FocusTree, Action::MoveDown]);
    assert_eq!(app.tree.selected_step(), Some(1));
    let rows = app.tree.len();
    act(&mut app, &[Action::Collapse]);
    assert!(app.tree.len() < rows);
    assert_eq!(app.timeline.cursor.selected, 1);
    // Selecting a hidden step in the timeline unfolds the way to it.
    app.select_step(8, Pane::Timeline);
    assert_eq!(app.tree.len(), rows);
    assert_eq!(app.tree.selected_step(), Some(8));
    act(&mut app, &[Action::Collapse]);
    assert_eq!(
        app.tree.selected_step(),
        Some(7),
        "a leaf's fold selects its parent"
    );
}

#[test]
fn stale_job_results_are_dropped() {
    let mut app = demo(80, 24);
    let a = run_index(&app, "r-2bcd0cc3");
    let b = run_index(&app, "r-715e60d7");
    app.select_run(a);
    let old = app.take_requests();
    app.select_run(b);
    let new = app.take_requests();
    for r in old {
        let out = super::workers::run_now(&app.shared, r);
        app.handle(Msg::Job(out));
    }
    assert!(
        app.tree.structure.is_none(),
        "run a's tree arrived late and was dropped"
    );
    assert!(app.detail.doc.is_none());
    for r in new {
        let out = super::workers::run_now(&app.shared, r);
        app.handle(Msg::Job(out));
    }
    assert_eq!(app.tree.structure.as_ref().unwrap().run, b);
    assert_eq!(app.detail.doc.as_ref().unwrap().run, b);
}

#[test]
fn a_loading_history_shows_runs_early_and_the_selection_holds_its_place() {
    let opts = LoadOptions {
        chunk_size: 8 << 10,
        ..LoadOptions::default()
    };
    let (history, loader) = History::open(&[demo_path()], &opts).unwrap();
    let shared = std::sync::Arc::new(crate::index::SharedHistory::new(history));
    let mut app = App::new(shared, options("assets/demo"), Rect::new(0, 0, 80, 24));
    assert!(screen(&app).contains("loading"));
    let mut chosen: Option<String> = None;
    let mut batches = 0;
    for event in loader.events() {
        let done = matches!(event, LoadEvent::Done(_));
        app.handle(Msg::Load {
            event: Box::new(event),
            progress: loader.progress(),
        });
        app.after_drain();
        app.run_jobs_now();
        batches += 1;
        let Some(run) = app.runs.selected else {
            continue;
        };
        assert_eq!(app.runs.order[app.runs.cursor.selected] as usize, run);
        match &chosen {
            // Before the user moves, the top row stays selected as older runs arrive.
            None => assert_eq!(app.runs.cursor.selected, 0),
            // After, the chosen run stays selected wherever it moves.
            Some(id) => assert_eq!(*id, run_id(&app, run)),
        }
        if chosen.is_none() && app.runs.len() >= 3 {
            act(&mut app, &[Action::MoveDown]);
            chosen = Some(run_id(&app, app.runs.selected.unwrap()));
        }
        if done {
            break;
        }
    }
    assert!(batches > 5, "{batches} batches");
    assert!(chosen.is_some());
    assert!(app.load.done && app.load.error.is_none());
    assert_eq!(app.runs.len(), 34);
}

#[test]
fn batches_wait_while_a_worker_reads_and_the_ui_does_not() {
    let opts = LoadOptions::default();
    let (history, loader) = History::open(&[demo_path()], &opts).unwrap();
    let shared = std::sync::Arc::new(crate::index::SharedHistory::new(history));
    let mut app = App::new(
        std::sync::Arc::clone(&shared),
        options("x"),
        Rect::new(0, 0, 80, 24),
    );
    let worker = shared.read();
    for event in loader.events() {
        let done = matches!(event, LoadEvent::Done(_));
        app.handle(Msg::Load {
            event: Box::new(event),
            progress: loader.progress(),
        });
        if done {
            break;
        }
    }
    app.after_drain();
    assert!(app.has_deferred_work());
    assert_eq!(app.runs.len(), 0);
    drop(worker);
    app.after_drain();
    assert!(!app.has_deferred_work());
    assert_eq!(app.runs.len(), 34);
}

#[test]
fn a_click_selects_the_row_under_it_and_the_wheel_scrolls() {
    use crossterm::event::{Event, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
    let mut app = demo(160, 48);
    let runs = app.areas().runs.unwrap();
    // Row 0 of the list is below the frame's top line, the failure strip and the header.
    let click = |row: u16| {
        Msg::Input(Event::Mouse(MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column: 10,
            row,
            modifiers: KeyModifiers::NONE,
        }))
    };
    app.handle(click(runs.y + 2 + super::panes::strip::ROWS + 3));
    app.run_jobs_now();
    assert_eq!(app.runs.cursor.selected, 3);
    assert_eq!(app.timeline.run, Some(app.runs.order[3] as usize));
    let tl = app.areas().timeline.unwrap();
    app.handle(Msg::Input(Event::Mouse(MouseEvent {
        kind: MouseEventKind::ScrollDown,
        column: tl.x + 5,
        row: tl.y + 5,
        modifiers: KeyModifiers::NONE,
    })));
    app.run_jobs_now();
    assert_eq!(app.timeline.cursor.selected, 3);
    assert_eq!(app.focus, Pane::Runs, "the wheel does not steal the focus");
}

#[test]
fn resizing_switches_between_layouts() {
    let mut app = demo(160, 48);
    assert_eq!(app.areas().mode, super::layout::Mode::Wide);
    app.handle(Msg::Input(crossterm::event::Event::Resize(80, 24)));
    assert_eq!(app.areas().mode, super::layout::Mode::Compact);
    assert!(screen(&app).contains("[1 Runs]"));
}

#[test]
fn theme_and_mouse_toggle() {
    let mut app = demo(80, 24);
    act(&mut app, &[Action::ToggleTheme, Action::ToggleMouse]);
    assert_eq!(app.theme.name, ThemeName::Light);
    assert!(!app.mouse);
}

// ---------------------------------------------------------------- fixtures

fn write_fixture(name: &str, lines: &[String]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    (dir, path)
}

/// A run whose strings try to drive the terminal.
pub(crate) fn hostile_lines() -> Vec<String> {
    let id = r"r-evil\u001b]0;PWNED\u0007";
    vec![
        format!(
            r#"{{"run_id":"{id}","step":0,"ts":"2026-11-20T10:00:00Z","kind":"run_start","agent":"evil\u001b[2J-agent","input":{{"text":"hi\u001b]52;c;aGk=\u0007there"}}}}"#
        ),
        format!(
            r#"{{"run_id":"{id}","step":1,"parent":0,"ts":"2026-11-20T10:00:01Z","kind":"tool_call","name":"send\r\u202eliame","input":{{"x":"\u001b[31mred\u001b[0m"}}}}"#
        ),
        format!(
            r#"{{"run_id":"{id}","step":2,"parent":1,"ts":"2026-11-20T10:00:02Z","kind":"tool_result","name":"x\u009b31m","status":"error","error":{{"code":"E\u001b]2;TITLE\u0007","message":"boom\rfake"}},"output":"line1\nline2\u001b]52;c;ZXZpbA==\u0007"}}"#
        ),
        format!(
            r#"{{"run_id":"{id}","step":3,"parent":2,"ts":"2026-11-20T10:00:03Z","kind":"run_end","outcome":"failure","error":"\u001b]0;bye\u0007"}}"#
        ),
    ]
}

fn tree_fixture(w: u16, h: u16) -> (App, tempfile::TempDir) {
    let t = |s: u32| format!("2026-11-20T10:00:{s:02}Z");
    let lines = vec![
        format!(
            r#"{{"run_id":"r-tree","step":0,"ts":"{}","kind":"run_start","agent":"router","input":{{"ticket":7}}}}"#,
            t(0)
        ),
        format!(
            r#"{{"run_id":"r-tree","step":1,"parent":0,"ts":"{}","kind":"decision","name":"route","options":["left","right"],"chosen":"left","reason":"the left road is shorter"}}"#,
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
            r#"{{"run_id":"r-tree","step":7,"parent":3,"ts":"{}","kind":"effect","name":"db.write","target":"db:orders/7","action":"update","status":"ok"}}"#,
            t(7)
        ),
        format!(
            r#"{{"run_id":"r-tree","step":8,"parent":7,"ts":"{}","kind":"run_end","outcome":"failure"}}"#,
            t(8)
        ),
    ];
    let (dir, path) = write_fixture("tree.jsonl", &lines);
    (load(&[path], "tree.jsonl", w, h), dir)
}

fn long_fixture(w: u16, h: u16) -> (App, tempfile::TempDir) {
    let words = "lorem ipsum dolor sit amet consectetur ".repeat(120);
    let lines = vec![
        r#"{"run_id":"r-long","step":0,"ts":"2026-11-20T10:00:00Z","kind":"run_start","agent":"reader","input":{"url":"https://example.com/report"}}"#.to_string(),
        format!(r#"{{"run_id":"r-long","step":1,"parent":0,"ts":"2026-11-20T10:00:02Z","kind":"tool_result","name":"fetch_page","status":"error","duration_ms":1200,"error":{{"code":"PAGE_TOO_LARGE","message":"the page is larger than the 1 MB limit"}},"output":{{"body":"{words}","bytes":4000000}}}}"#),
        r#"{"run_id":"r-long","step":2,"parent":1,"ts":"2026-11-20T10:00:03Z","kind":"run_end","outcome":"failure"}"#.to_string(),
    ];
    let (dir, path) = write_fixture("long.jsonl", &lines);
    (load(&[path], "long.jsonl", w, h), dir)
}

// ---------------------------------------------------------------- snapshots

const SIZES: [(u16, u16); 2] = [(80, 24), (160, 48)];

fn snap(name: &str, app: &App) {
    let size = format!("{}x{}", app.size.width, app.size.height);
    insta::assert_snapshot!(format!("{name}_{size}"), screen(app));
}

#[test]
fn run_list_marks_failing_runs_and_shows_first_errors() {
    for (w, h) in SIZES {
        let mut app = demo(w, h);
        act(&mut app, &[Action::NextFailure]);
        let s = screen(&app);
        assert!(s.contains("✗ timeout"), "{s}");
        assert!(s.contains("#11 UPSTREAM_TIMEOUT"), "{s}");
        snap("run_list_marks_failing_runs_and_shows_first_errors", &app);
    }
}

#[test]
fn timeline_marks_the_first_failure_the_cascade_and_effects() {
    for (w, h) in SIZES {
        let mut app = demo(w, h);
        open(&mut app, "r-2bcd0cc3", 15, Pane::Timeline);
        let s = screen(&app);
        assert!(s.contains("✗15") && s.contains("◀ firs"), "{s}");
        assert!(s.contains("┆"), "{s}");
        assert!(s.contains("EFFECT"), "{s}");
        assert!(s.contains("trigger"), "{s}");
        snap(
            "timeline_marks_the_first_failure_the_cascade_and_effects",
            &app,
        );
    }
}

#[test]
fn tree_shows_decisions_with_choice_and_reason() {
    for (w, h) in SIZES {
        let mut app = demo(w, h);
        open(&mut app, "r-2bcd0cc3", 8, Pane::Tree);
        let s = screen(&app);
        assert!(s.contains("→ refund: Within the 30-day window"), "{s}");
        snap("tree_shows_decisions_with_choice_and_reason", &app);
    }
}

#[test]
fn tree_shows_branches_unknown_parents_and_cut_cycles() {
    for (w, h) in SIZES {
        let (mut app, _dir) = tree_fixture(w, h);
        open(&mut app, "r-tree", 1, Pane::Tree);
        let s = screen(&app);
        assert!(s.contains("├─"), "{s}");
        assert!(s.contains("└─"), "{s}");
        assert!(s.contains("? parent nope not found"), "{s}");
        assert!(s.contains("↻ cycle"), "{s}");
        snap("tree_shows_branches_unknown_parents_and_cut_cycles", &app);
    }
}

#[test]
fn detail_shows_the_error_before_input_and_output() {
    for (w, h) in SIZES {
        let mut app = demo(w, h);
        open(&mut app, "r-2bcd0cc3", 15, Pane::Detail);
        let s = screen(&app);
        assert!(
            s.contains("SMTP_AUTH_INVALID: 535 5.7.8 authentication failed"),
            "{s}"
        );
        snap("detail_shows_the_error_before_input_and_output", &app);
    }
}

#[test]
fn long_output_wraps_without_losing_the_error_line() {
    for (w, h) in SIZES {
        let (mut app, _dir) = long_fixture(w, h);
        open(&mut app, "r-long", 1, Pane::Detail);
        let s = screen(&app);
        assert!(
            s.contains("PAGE_TOO_LARGE: the page is larger than the 1 MB limit"),
            "{s}"
        );
        assert!(s.contains("lorem ipsum"), "{s}");
        snap("long_output_wraps_without_losing_the_error_line", &app);
    }
}

#[test]
fn help_lists_every_key() {
    for (w, h) in SIZES {
        let mut app = demo(w, h);
        act(&mut app, &[Action::Help]);
        let s = screen(&app);
        assert!(s.contains("Keys"), "{s}");
        assert!(s.contains("move down, scroll down"), "{s}");
        snap("help_lists_every_key", &app);
    }
}

#[test]
fn status_bar_shows_loading_progress_and_counts() {
    for (w, h) in SIZES {
        let mut app = demo(w, h);
        app.load.done = false;
        app.load.read = 412_000_000;
        app.load.total = 1_074_570_117;
        let s = screen(&app);
        assert!(s.contains("loading 38% 412.0 MB/1.1 GB"), "{s}");
        snap("status_bar_shows_loading_progress_and_counts", &app);
    }
}

#[test]
fn hostile_text_is_shown_escaped_and_never_raw() {
    for (w, h) in SIZES {
        let (dir, path) = write_fixture("evil.jsonl", &hostile_lines());
        let mut app = load(&[path], "evil.jsonl", w, h);
        for (step, focus) in [
            (2, Pane::Timeline),
            (2, Pane::Detail),
            (1, Pane::Tree),
            (0, Pane::Runs),
        ] {
            let id = app.shared.read().run(0).id().to_string();
            open(&mut app, &id, step, focus);
            let s = screen(&app);
            assert!(
                !s.contains('\u{1b}')
                    && !s.contains('\u{7}')
                    && !s.contains('\u{202e}')
                    && !s.contains('\u{9b}')
            );
            assert!(!s.contains('\r'));
            assert!(s.contains(r"\x1b"), "{s}");
        }
        open(&mut app, r"r-evil", 2, Pane::Detail);
        let s = screen(&app);
        assert!(s.contains(r"E\x1b]2;TITLE\x07: boom\rfake"), "{s}");
        assert!(s.contains(r"line2\x1b]52;c;ZXZpbA==\x07"), "{s}");
        snap("hostile_text_is_shown_escaped_and_never_raw", &app);
        drop(dir);
    }
}

#[test]
fn no_colour_and_sixteen_colours_draw_the_same_text() {
    let mut a = demo(80, 24);
    open(&mut a, "r-2bcd0cc3", 15, Pane::Timeline);
    let text = screen(&a);
    for depth in [ColorDepth::None, ColorDepth::Ansi16] {
        a.theme.depth = depth;
        assert_eq!(screen(&a), text);
    }
}

// ---------------------------------------------------------------- watching

/// One native line of run `run`: step `step` at second `sec` (the first is a run start).
fn live_line(run: &str, step: u32, sec: u32) -> String {
    let ts = format!("2026-11-20T11:{:02}:{:02}Z", sec / 60, sec % 60);
    if step == 0 {
        format!(
            r#"{{"run_id":"{run}","step":0,"ts":"{ts}","kind":"run_start","agent":"live-agent"}}"#
        )
    } else {
        format!(
            r#"{{"run_id":"{run}","step":{step},"parent":{},"ts":"{ts}","kind":"tool_call","name":"tool_{step}"}}"#,
            step - 1
        )
    }
}

fn append(path: &Path, lines: &[String]) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all((lines.join("\n") + "\n").as_bytes()).unwrap();
}

/// An app over a folder with `runs` runs of three steps, watching it by polling.
fn watched(runs: u32, w: u16, h: u16) -> (App, crate::index::watch::Watcher, tempfile::TempDir) {
    let lines: Vec<String> = (0..runs)
        .flat_map(|r| (0..3).map(move |s| live_line(&format!("r-old{r:02}"), s, r * 10 + s)))
        .collect();
    let (dir, _) = write_fixture("old.jsonl", &lines);
    let mut app = load(&[dir.path().to_path_buf()], "live", w, h);
    let options = crate::index::watch::WatchOptions {
        poll: true,
        interval: std::time::Duration::from_millis(20),
        ..Default::default()
    };
    let watcher =
        crate::index::watch::watch(vec![dir.path().to_path_buf()], &app.shared.read(), options);
    app.watching(watcher.polling);
    (app, watcher, dir)
}

/// Feeds watcher events to the app until `done` holds (panics after 10 s).
fn pump(app: &mut App, watcher: &crate::index::watch::Watcher, done: impl Fn(&App) -> bool) {
    let start = std::time::Instant::now();
    while !done(app) {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "timed out; the screen:\n{}",
            screen(app)
        );
        if let Ok(ev) = watcher
            .events
            .recv_timeout(std::time::Duration::from_millis(50))
        {
            app.handle(Msg::Watch(Box::new(ev)));
            app.after_drain();
            app.run_jobs_now();
        }
    }
}

#[test]
fn watching_marks_new_runs_without_moving_the_selection_or_the_view() {
    let (mut app, watcher, dir) = watched(40, 80, 24);
    // The user picks a run in the middle and scrolls there.
    act(&mut app, &[Action::PageDown, Action::MoveDown]);
    let (selected, pos, offset) = (
        app.runs.selected,
        app.runs.cursor.selected,
        app.runs.cursor.offset,
    );
    let chosen = run_id(&app, selected.unwrap());
    // A new run (started before every other: it sorts to the top) and a newest one.
    append(
        &dir.path().join("new.jsonl"),
        &[live_line("r-early", 0, 0), live_line("r-late", 0, 3000)],
    );
    pump(&mut app, &watcher, |a| a.runs.len() == 42);
    assert_eq!(run_id(&app, app.runs.selected.unwrap()), chosen);
    assert_eq!(app.runs.selected, selected);
    // The selected run moved down one row in the order, and the view with it.
    assert_eq!(app.runs.cursor.selected, pos + 1);
    assert_eq!(app.runs.cursor.offset, offset + 1);
    assert_eq!(app.runs.new.len(), 2);
    let s = screen(&app);
    assert!(s.contains("● 2 new"), "{s}");
    assert!(s.contains("◉ watching (polling) · last "), "{s}");
    // Viewing a new run clears its mark.
    act(&mut app, &[Action::Bottom]);
    assert_eq!(run_id(&app, app.runs.selected.unwrap()), "r-late");
    assert_eq!(app.runs.new.len(), 1);
    let s = screen(&app);
    assert!(s.contains("● 1 new"), "{s}");
    assert!(s.lines().any(|l| l.contains("●r-early")) || !s.contains("r-early"));
}

#[test]
fn follow_mode_keeps_the_newest_step_selected_until_the_user_moves() {
    let (mut app, watcher, dir) = watched(2, 160, 48);
    let path = dir.path().join("live.jsonl");
    append(
        &path,
        &[live_line("r-live", 0, 2000), live_line("r-live", 1, 2001)],
    );
    pump(&mut app, &watcher, |a| a.runs.len() == 3);
    let run = run_index(&app, "r-live");
    assert!(app.runs.new.contains(&run));
    act(&mut app, &[Action::Bottom, Action::Open, Action::Follow]);
    assert!(app.follow);
    assert_eq!(app.focus, Pane::Timeline);
    assert_eq!(app.timeline.cursor.selected, 1);
    assert!(!app.runs.new.contains(&run));
    // Steps arrive: the newest is selected, in the timeline, the tree and the detail.
    let more: Vec<String> = (2..60).map(|s| live_line("r-live", s, 2000 + s)).collect();
    append(&path, &more);
    pump(&mut app, &watcher, |a| {
        a.timeline.len == 60 && a.tree.len() == 60
    });
    assert_eq!(app.timeline.cursor.selected, 59);
    assert_eq!(app.tree.selected_step(), Some(59));
    assert_eq!(app.detail.target, Some((run, 59)));
    let s = screen(&app);
    assert!(s.contains("tool_59"), "{s}");
    assert!(s.contains("⇣ follow"), "{s}");
    // Moving ends follow mode: new steps no longer move the selection.
    act(&mut app, &[Action::MoveUp]);
    assert!(!app.follow);
    assert_eq!(app.timeline.cursor.selected, 58);
    append(&path, &[live_line("r-live", 60, 2060)]);
    pump(&mut app, &watcher, |a| a.timeline.len == 61);
    assert_eq!(app.timeline.cursor.selected, 58);
    // F again follows again.
    act(&mut app, &[Action::Follow]);
    assert_eq!(app.timeline.cursor.selected, 60);
}

#[test]
fn the_status_bar_names_the_format_of_every_kind_of_run() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    for (path, format) in [
        ("otel/traces.jsonl", "otel"),
        ("claude_code/session.jsonl", "claude-code"),
        (
            "codex/rollout-2026-02-23T10-00-00-0199aaaa-bbbb-7ccc-8ddd-eeeeffff0000.jsonl",
            "codex",
        ),
        ("tau_bench/mini.json", "tau-bench"),
    ] {
        let mut app = load(&[fixtures.join(path)], path, 160, 48);
        assert!(!app.runs.is_empty(), "{path}");
        assert!(app.timeline.len > 0, "{path}");
        act(&mut app, &[Action::Open, Action::Bottom]);
        assert!(!app.tree.is_empty(), "{path}");
        assert!(app.detail.doc.is_some(), "{path}");
        let s = screen(&app);
        assert!(s.contains(&format!("({format}) · step #")), "{path}:\n{s}");
        if format == "otel" {
            snap("otel_run_shows_its_format", &app);
        }
    }
}

// ---------------------------------------------------------------- diff

#[test]
fn d_opens_the_diff_at_the_divergence_and_d_d_compares_with_a_chosen_run() {
    for (w, h) in [(80, 24), (160, 48)] {
        let mut app = demo(w, h);
        open(&mut app, "r-2bcd0cc3", 0, Pane::Timeline);
        act(&mut app, &[Action::Diff]);
        let d = app.diff().unwrap();
        let doc = d.doc.as_ref().expect("aligned");
        assert!(doc.picked.is_some());
        let (row, _, _) = doc.divergence.clone().expect("a divergence");
        assert_eq!(d.cursor.selected, row);
        let s = screen(&app);
        assert!(s.contains("B picked automatically"), "{s}");
        assert!(s.contains("▶"), "{s}");
        snap("diff_opens_at_the_divergence", &app);
        // Moving, back to the divergence, closing.
        act(&mut app, &[Action::Top]);
        assert_eq!(app.diff().unwrap().cursor.selected, 0);
        act(&mut app, &[Action::Diff]);
        assert_eq!(app.diff().unwrap().cursor.selected, row);
        act(&mut app, &[Action::Back]);
        assert!(app.diff().is_none());
    }
    // D, select another run, D: a diff with the chosen run.
    let mut app = demo(160, 48);
    open(&mut app, "r-2bcd0cc3", 0, Pane::Timeline);
    let a = run_index(&app, "r-2bcd0cc3");
    act(&mut app, &[Action::DiffWith]);
    assert_eq!(app.diff_anchor, Some(a));
    assert_eq!(app.focus, Pane::Runs);
    act(&mut app, &[Action::Top, Action::DiffWith]);
    let d = app.diff().unwrap();
    assert_eq!(d.a, a);
    let doc = d.doc.as_ref().unwrap();
    assert_eq!(doc.b_run, app.runs.run_at(0).unwrap());
    assert!(doc.picked.is_none());
    assert!(screen(&app).contains("B chosen by you"));
}

// ---------------------------------------------------------------- search

fn type_text(app: &mut App, text: &str) {
    use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
    for c in text.chars() {
        let key = KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE);
        app.handle(Msg::Input(Event::Key(key)));
        app.run_jobs_now();
    }
}

#[test]
fn slash_searches_as_you_type_and_enter_jumps_to_the_step() {
    let mut app = demo(160, 48);
    act(&mut app, &[Action::Search]);
    assert!(app.search().is_some());
    // `n`, `j` and `q` are text in the prompt, not actions.
    type_text(&mut app, "smtp_auth_invalid");
    assert!(app.exit.is_none());
    let s = app.search().unwrap();
    let doc = s.doc.as_ref().expect("results");
    assert_eq!(doc.query, "smtp_auth_invalid");
    assert!(!doc.hits.is_empty());
    let hit = s.selected().unwrap().clone();
    let screen_text = screen(&app);
    assert!(screen_text.contains("/ smtp_auth_invalid"), "{screen_text}");
    assert!(screen_text.contains("SMTP_AUTH_INVALID"), "{screen_text}");
    snap("search_results", &app);
    act(&mut app, &[Action::Open]);
    assert!(app.search().is_none());
    assert_eq!(app.timeline.run, Some(hit.run));
    if let Some(step) = hit.step {
        assert_eq!(app.timeline.cursor.selected, step as usize);
        assert_eq!(app.focus, Pane::Timeline);
        // n walks the query's matches in this run (not the failures).
        let steps: Vec<u32> = app
            .last_search
            .as_ref()
            .unwrap()
            .doc
            .as_ref()
            .unwrap()
            .hits
            .iter()
            .filter(|h| h.run == hit.run)
            .filter_map(|h| h.step)
            .collect();
        act(&mut app, &[Action::Top, Action::NextFailure]);
        assert_eq!(
            Some(app.timeline.cursor.selected as u32),
            steps.iter().copied().min()
        );
    }
    // An empty query, Enter: n and N walk failures again.
    act(&mut app, &[Action::Search]);
    type_text(&mut app, "");
    for _ in 0..17 {
        app.handle(Msg::Input(crossterm::event::Event::Key(
            crossterm::event::KeyEvent::new(
                crossterm::event::KeyCode::Backspace,
                crossterm::event::KeyModifiers::NONE,
            ),
        )));
    }
    act(&mut app, &[Action::Open]);
    assert!(app.last_search.is_none());
}

#[test]
fn a_search_filters_the_run_list_and_s_sorts_it() {
    let mut app = demo(160, 48);
    act(&mut app, &[Action::Search]);
    type_text(&mut app, "outcome:failure agent:support-bot");
    assert!(!app.search().unwrap().is_empty());
    act(&mut app, &[Action::Open]);
    let failing_support: Vec<String> = {
        let h = app.shared.read();
        h.runs()
            .filter(|r| r.outcome().is_bad() && r.agent() == Some("support-bot"))
            .map(|r| r.id().to_string())
            .collect()
    };
    assert_eq!(app.runs.len(), failing_support.len());
    for pos in 0..app.runs.len() {
        let id = run_id(&app, app.runs.run_at(pos).unwrap());
        assert!(failing_support.contains(&id), "{id}");
    }
    assert!(screen(&app).contains("filtered by the search"));
    // s: by duration, longest first.
    act(&mut app, &[Action::FocusRuns, Action::SortRuns]);
    let durations: Vec<i64> = {
        let h = app.shared.read();
        app.runs
            .order
            .iter()
            .map(|&i| h.run(i as usize).duration_ms().unwrap_or(0))
            .collect()
    };
    assert!(durations.windows(2).all(|w| w[0] >= w[1]), "{durations:?}");
    assert!(screen(&app).contains("by duration ↓"));
    // An empty search clears the filter; s in turn comes back to time order.
    act(
        &mut app,
        &[Action::SortRuns, Action::SortRuns, Action::SortRuns],
    );
    assert_eq!(app.runs.sort, crate::runs::Order::OLDEST_FIRST);
    act(&mut app, &[Action::Search]);
    for _ in 0.."outcome:failure agent:support-bot".len() {
        app.handle(Msg::Input(crossterm::event::Event::Key(
            crossterm::event::KeyEvent::new(
                crossterm::event::KeyCode::Backspace,
                crossterm::event::KeyModifiers::NONE,
            ),
        )));
    }
    act(&mut app, &[Action::Open]);
    assert_eq!(app.runs.len(), 34);
}

#[test]
fn the_tree_pane_draws_what_show_tree_prints() {
    let (mut app, _dir) = tree_fixture(200, 60);
    open(&mut app, "r-tree", 0, Pane::Tree);
    let s = screen(&app);
    let text = {
        let h = app.shared.read();
        let run = h.find_run("r-tree").unwrap();
        let steps = run.load_steps().unwrap();
        let tree = crate::tree::RunStructure::of_steps(run.index(), &steps);
        let mut out = Vec::new();
        crate::tree::write_text(&run, &tree, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    };
    assert_eq!(text.lines().count(), 9, "{text}");
    for line in text.lines() {
        // The text line is the pane's row without the selection mark and fold sign.
        let glyph = line.find(|c: char| !"├└│─ ".contains(c)).unwrap();
        let (indent, rest) = line.split_at(glyph);
        let rest: String = rest.chars().take(30).collect();
        let drawn = s.lines().any(|row| {
            row.find(&rest)
                .is_some_and(|at| row[..at].trim_end().ends_with(indent.trim_end()))
        });
        assert!(drawn, "the pane lacks {line:?}:\n{s}");
    }
}

#[test]
fn panes_remember_their_viewport_and_page_by_it() {
    let mut app = demo(160, 48);
    act(&mut app, &[Action::FocusTimeline]);
    let tall = app.timeline.cursor.rows;
    assert!(tall > 2, "laid out: {tall}");
    app.resize(Rect::new(0, 0, 160, 30));
    let short = app.timeline.cursor.rows;
    assert!(short < tall, "{short} < {tall}");
    act(&mut app, &[Action::Top, Action::PageDown]);
    assert_eq!(app.timeline.cursor.selected, short - 1);
    // A new run starts at the top of the same viewport.
    act(&mut app, &[Action::FocusRuns, Action::MoveDown]);
    assert_eq!(app.timeline.cursor.rows, short);
    assert_eq!(app.timeline.cursor.selected, 0);
}

#[test]
fn loading_more_is_shown_while_it_lasts_not_kept_in_the_message() {
    let words = "lorem ipsum dolor sit amet consectetur ".repeat(8000);
    let lines = vec![
        r#"{"run_id":"r-big","step":0,"ts":"2026-11-20T10:00:00Z","kind":"run_start","agent":"reader"}"#.to_string(),
        format!(r#"{{"run_id":"r-big","step":1,"parent":0,"ts":"2026-11-20T10:00:02Z","kind":"tool_result","name":"fetch_page","output":{{"body":"{words}"}}}}"#),
    ];
    let (_dir, path) = write_fixture("big.jsonl", &lines);
    let mut app = load(&[path], "big.jsonl", 160, 48);
    open(&mut app, "r-big", 1, Pane::Detail);
    assert!(app.detail.doc.as_ref().is_some_and(|d| d.cut > 0));
    app.update(Action::LoadMore);
    assert!(app.detail.loading_more);
    assert!(screen(&app).contains("loading more…"));
    // Another key clears the message, not the fact that more is on its way.
    app.update(Action::MoveDown);
    assert!(app.message.is_none());
    assert!(screen(&app).contains("loading more…"));
    app.run_jobs_now();
    assert!(!app.detail.loading_more);
    assert!(!screen(&app).contains("loading more…"));
    assert!(app.detail.doc.as_ref().is_some_and(|d| d.cut == 0));
}

/// The failure strip, the waterfall and tokens (issue 17).
mod glance;

/// The problems view (`!`, issue 11).
mod problems;

/// Parallel groups in the diff view (issue 18).
mod diff_groups;

/// Notes, the report and the incident timeline (issue 12).
mod notes;

/// The incident library: similar incidents on opening a failing run, saving with `I`.
mod incidents;

/// The word index's background build in the status line (issue 15).
mod indexing;
