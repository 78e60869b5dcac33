//! The failure strip above the run list and its bucket filter (`b`), the timeline's
//! waterfall (`w`) from a 2-second run to a 2-hour one and a million steps, tokens in the
//! timeline, the detail and the run list, and the diff's totals.

use std::io::Write;

use super::*;
use crate::tui::glance::TokensDoc;
use crate::tui::jobs::JobRequest;

/// Runs queued work except tree builds (a million-step tree is the render benchmark's
/// business, not a unit test's).
fn run_jobs_but_trees(app: &mut App) {
    loop {
        let requests: Vec<JobRequest> = app
            .take_requests()
            .into_iter()
            .filter(|r| !matches!(r, JobRequest::Structure { .. }))
            .collect();
        if requests.is_empty() {
            return;
        }
        for r in requests {
            let out = super::super::workers::run_now(&app.shared, r);
            app.handle(Msg::Job(out));
        }
    }
}

#[test]
fn b_lists_only_the_runs_of_the_selected_runs_bucket_and_back() {
    let mut app = demo(160, 48);
    let run = run_index(&app, "r-2bcd0cc3");
    app.select_run(run);
    app.run_jobs_now();
    let strip = app
        .runs
        .strip
        .strip
        .clone()
        .expect("the demo's runs have times");
    act(&mut app, &[Action::OnlyBucket]);
    let window = app.runs.window.clone().expect("narrowed to a bucket");
    assert_eq!(window.end - window.start, strip.bucket_ms);
    let start = app.shared.read().run(run).started_at().unwrap();
    assert!(window.contains(&start));
    assert!(app.runs.len() < 34 && !app.runs.is_empty());
    {
        let h = app.shared.read();
        for &r in &app.runs.order {
            let t = h.run(r as usize).started_at().unwrap();
            assert!(
                window.contains(&t),
                "{} outside the bucket",
                h.run(r as usize).id()
            );
        }
        // Every run of the bucket is listed.
        let inside = h
            .runs()
            .filter(|r| r.started_at().is_some_and(|t| window.contains(&t)))
            .count();
        assert_eq!(app.runs.len(), inside);
    }
    assert_eq!(app.runs.selected, Some(run), "the selected run stays");
    let s = screen(&app);
    assert!(s.contains("· only 11-25"), "{s}");
    // The strip still shows every bucket, the window underlined.
    assert!(s.contains('━') || app.runs.len() == 1, "{s}");
    // Sorting keeps the window; b again lists every run.
    act(&mut app, &[Action::SortRuns]);
    assert_eq!(app.runs.len(), inside_count(&app, &window));
    act(&mut app, &[Action::OnlyBucket]);
    assert_eq!(app.runs.window, None);
    assert_eq!(app.runs.len(), 34);
    assert_eq!(app.runs.selected, Some(run));
}

fn inside_count(app: &App, window: &std::ops::Range<i64>) -> usize {
    let h = app.shared.read();
    h.runs()
        .filter(|r| r.started_at().is_some_and(|t| window.contains(&t)))
        .count()
}

#[test]
fn w_toggles_the_waterfall_and_the_help_lists_it() {
    let mut app = demo(160, 48);
    open(&mut app, "r-2bcd0cc3", 15, Pane::Timeline);
    assert!(!app.glance.waterfall);
    assert!(!screen(&app).contains("0────"));
    act(&mut app, &[Action::ToggleWaterfall]);
    assert!(app.glance.waterfall);
    let s = screen(&app);
    assert!(s.contains("0────"), "{s}");
    // The failing step's bar is marked ✗ (beside the row's own ✗ mark).
    let failing = s.lines().find(|l| l.contains("✗15")).unwrap_or_default();
    assert!(s.contains('█') && failing.matches('✗').count() >= 2, "{s}");
    act(&mut app, &[Action::ToggleWaterfall]);
    assert!(!app.glance.waterfall);
    assert!(!screen(&app).contains("0────"));
    assert!(app
        .help_lines
        .iter()
        .any(|l| l.iter().any(|(_, t)| t.contains("waterfall"))));
}

#[test]
fn failure_strip_shows_failures_over_time_and_the_selected_bucket() {
    for (w, h) in SIZES {
        let mut app = demo(w, h);
        let run = run_index(&app, "r-2bcd0cc3");
        app.select_run(run);
        app.run_jobs_now();
        let s = screen(&app);
        assert!(s.contains("✗ per "), "{s}");
        assert!(s.contains('▲') && s.contains('█'), "{s}");
        snap(
            "failure_strip_shows_failures_over_time_and_the_selected_bucket",
            &app,
        );
    }
}

#[test]
fn failure_strip_hides_when_the_list_has_no_room() {
    let app = demo(80, 9);
    let s = screen(&app);
    assert!(!s.contains("✗ per "), "{s}");
    assert!(s.contains("r-5014ef5e"), "{s}");
}

/// A 2-hour run with one very long tool call, a failure at the end, and a 2-second run.
fn long_step_fixture(w: u16, h: u16) -> (App, tempfile::TempDir) {
    let lines = [
        r#"{"run_id":"r-slow","step":0,"ts":"2026-11-20T10:00:00Z","kind":"run_start","agent":"crawler","input":{"site":"example.com"}}"#,
        r#"{"run_id":"r-slow","step":1,"ts":"2026-11-20T10:00:00Z","kind":"llm_call","name":"plan","duration_ms":2000,"status":"ok","tokens":{"input":1500,"output":220}}"#,
        r#"{"run_id":"r-slow","step":2,"ts":"2026-11-20T10:00:02Z","kind":"tool_call","name":"crawl_site","duration_ms":7080000,"status":"ok"}"#,
        r#"{"run_id":"r-slow","step":3,"ts":"2026-11-20T11:58:02Z","kind":"llm_call","name":"summarise","duration_ms":30000,"status":"ok","tokens":{"input":98000,"output":1200}}"#,
        r#"{"run_id":"r-slow","step":4,"ts":"2026-11-20T11:59:40Z","kind":"tool_call","name":"upload","duration_ms":20000,"status":"error","error":{"code":"UPLOAD_TIMEOUT"}}"#,
        r#"{"run_id":"r-slow","step":5,"ts":"2026-11-20T12:00:00Z","kind":"run_end","outcome":"failure"}"#,
        r#"{"run_id":"r-quick","step":0,"ts":"2026-11-20T12:30:00Z","kind":"run_start","agent":"crawler"}"#,
        r#"{"run_id":"r-quick","step":1,"ts":"2026-11-20T12:30:00.200Z","kind":"tool_call","name":"fetch","duration_ms":800,"status":"ok"}"#,
        r#"{"run_id":"r-quick","step":2,"ts":"2026-11-20T12:30:01.500Z","kind":"tool_call","name":"store","duration_ms":400,"status":"ok"}"#,
        r#"{"run_id":"r-quick","step":3,"ts":"2026-11-20T12:30:02Z","kind":"run_end","outcome":"success"}"#,
    ]
    .map(String::from);
    let (dir, path) = write_fixture("slow.jsonl", &lines);
    (load(&[path], "slow.jsonl", w, h), dir)
}

#[test]
fn waterfall_of_a_run_with_one_very_long_step() {
    for (w, h) in SIZES {
        let (mut app, _dir) = long_step_fixture(w, h);
        open(&mut app, "r-slow", 2, Pane::Timeline);
        act(&mut app, &[Action::ToggleWaterfall]);
        let s = screen(&app);
        assert!(s.contains("2h00m"), "the axis spans the run: {s}");
        // The long call's bar runs across most of the axis; the failure is marked.
        let row = s.lines().find(|l| l.contains("call   crawl_s")).expect(&s);
        let longest = row
            .split(|c| c != '█')
            .map(|r| r.chars().count())
            .max()
            .unwrap();
        let axis = s
            .lines()
            .find_map(|l| {
                l.find("0─")
                    .map(|i| l[i..].split(' ').next().unwrap().chars().count())
            })
            .unwrap();
        assert!(longest * 10 >= axis * 9, "{longest} of {axis}: {s}");
        assert!(
            s.lines().any(|l| l.contains("upload") && l.contains('✗')),
            "{s}"
        );
        snap("waterfall_of_a_run_with_one_very_long_step", &app);
        // A 2-second run spreads over the same width.
        open(&mut app, "r-quick", 1, Pane::Timeline);
        let s = screen(&app);
        assert!(s.contains("2.0s"), "{s}");
        let row = s.lines().find(|l| l.contains("call   fetch")).expect(&s);
        let bar = row.chars().filter(|&c| c == '█').count();
        assert!(
            bar * 3 >= axis,
            "800 ms of 2 s is a long bar: {bar} of {axis}: {s}"
        );
        snap("waterfall_of_a_two_second_run", &app);
    }
}

#[test]
fn tokens_show_in_the_timeline_the_detail_and_the_run_list() {
    let (mut app, _dir) = long_step_fixture(160, 48);
    open(&mut app, "r-slow", 3, Pane::Timeline);
    let run = run_index(&app, "r-slow");
    // Read by a worker for the visible window, never the whole run.
    let doc: &TokensDoc = app.glance.tokens.as_deref().expect("tokens read");
    assert_eq!((doc.run, doc.start, doc.tokens.len()), (run, 0, 6));
    let s = screen(&app);
    assert!(s.contains(" 98k→1200 "), "{s}");
    assert!(s.contains("tokens   in 98000 · out 1200"), "{s}");
    // Run totals in the run list.
    let row = s
        .lines()
        .find(|l| l.contains("r-slow") && l.contains("crawler"))
        .unwrap();
    assert!(row.contains("99.5k→1420"), "{row}");
}

#[test]
fn the_diff_shows_both_runs_time_and_token_totals() {
    let mut app = demo(160, 48);
    open(&mut app, "r-2bcd0cc3", 15, Pane::Timeline);
    act(&mut app, &[Action::Diff]);
    let doc = app.diff().and_then(|d| d.doc.clone()).expect("aligned");
    let h = app.shared.read();
    let (a, b) = (h.run(doc.a_run), h.run(doc.b_run));
    let want = |r: &crate::index::RunRef| {
        crate::tui::panes::diff::totals_text(crate::tui::diff::RunTotals::of(r))
    };
    let (ta, tb) = (want(&a), want(&b));
    drop(h);
    assert!(ta.contains(" tok") && tb.contains(" tok"), "{ta} {tb}");
    let s = screen(&app);
    let header = s.lines().find(|l| l.contains("│ B r-")).unwrap();
    assert!(header.contains(&ta) && header.contains(&tb), "{header}");
}

/// A run of a million one-second steps, every 1000th a 5-minute call, a failure in the
/// middle; written cheaply (short lines) into a temporary folder.
fn million_step_fixture() -> (History, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("million.jsonl");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let t0: i64 = 1_795_000_000_000;
    let n = 1_000_000u32;
    for i in 0..n {
        let ts = t0 + i64::from(i) * 1000;
        let (kind, extra) = match i {
            0 => ("run_start", String::new()),
            _ if i == n - 1 => ("run_end", r#","outcome":"failure""#.to_string()),
            500_010 => (
                "tool_result",
                r#","status":"error","duration_ms":900,"error":"BOOM""#.to_string(),
            ),
            _ if i % 1000 == 0 => ("tool_call", r#","duration_ms":300000"#.to_string()),
            _ => ("llm_call", r#","duration_ms":900"#.to_string()),
        };
        writeln!(
            out,
            r#"{{"run_id":"m","step":{i},"kind":"{kind}","ts":{ts}{extra}}}"#
        )
        .unwrap();
    }
    out.flush().unwrap();
    drop(out);
    let history = History::load(&[path], &LoadOptions::default()).unwrap();
    (history, dir)
}

#[test]
fn waterfall_of_a_million_steps_draws_the_window_only() {
    let (history, _dir) = million_step_fixture();
    let mut app = App::loaded(history, options("million.jsonl"), Rect::new(0, 0, 80, 24));
    run_jobs_but_trees(&mut app);
    assert_eq!(app.timeline.len, 1_000_000);
    app.select_step(500_008, Pane::Runs);
    act_but_trees(&mut app, &[Action::FocusTimeline, Action::ToggleWaterfall]);
    for (w, h) in SIZES {
        app.resize(Rect::new(0, 0, w, h));
        run_jobs_but_trees(&mut app);
        let s = screen(&app);
        let column = |l: &str, at: usize| l[..at].chars().count();
        // The failing step: marked, and its bar is a `✗`.
        let failed = s.lines().find(|l| l.contains("500010 +")).expect(&s);
        assert!(failed.matches('✗').count() >= 3, "{failed}");
        // Halfway through the run is halfway across the axis.
        let (axis_line, axis_at) = s
            .lines()
            .find_map(|l| l.find("0─").map(|i| (l, i)))
            .expect(&s);
        let axis_w = axis_line[axis_at..]
            .split(' ')
            .next()
            .unwrap()
            .chars()
            .count();
        let row = s.lines().find(|l| l.contains("500008 +")).expect(&s);
        let bar = column(row, row.find('█').expect(&s)) - column(axis_line, axis_at);
        assert!(
            bar * 2 + 2 >= axis_w && bar * 2 <= axis_w + 2,
            "{bar} of {axis_w}: {s}"
        );
        // Tokens were read for a window around the visible rows only.
        let doc = app.glance.tokens.as_deref().unwrap();
        assert!(doc.tokens.len() <= 3 * h as usize, "{}", doc.tokens.len());
        assert!(doc.start <= 500_008 && 500_008 < doc.start + doc.tokens.len());
        snap("waterfall_of_a_million_steps_draws_the_window_only", &app);
    }
}

fn act_but_trees(app: &mut App, actions: &[Action]) {
    for &a in actions {
        app.update(a);
        app.after_drain();
        run_jobs_but_trees(app);
    }
}

#[test]
fn the_strip_counts_the_runs_a_search_keeps_and_b_narrows_them_further() {
    let mut app = demo(160, 48);
    act(&mut app, &[Action::Search]);
    super::type_text(&mut app, "agent:support-bot");
    act(&mut app, &[Action::Open, Action::FocusRuns]);
    let agents = |app: &App| -> Vec<String> {
        let h = app.shared.read();
        app.runs
            .order
            .iter()
            .map(|&r| h.run(r as usize).agent().unwrap_or("-").to_string())
            .collect()
    };
    let listed = app.runs.len();
    assert!(listed > 0 && listed < 34);
    assert!(agents(&app).iter().all(|a| a == "support-bot"));
    let strip = app.runs.strip.strip.clone().unwrap();
    let counted: u32 = strip.buckets.iter().map(|b| b.runs).sum();
    assert_eq!(counted as usize, listed, "the strip counts the listed runs");
    let run = run_index(&app, "r-2bcd0cc3");
    app.select_run(run);
    app.run_jobs_now();
    act(&mut app, &[Action::OnlyBucket]);
    let window = app.runs.window.clone().unwrap();
    assert!(app.runs.len() < listed);
    assert!(agents(&app).iter().all(|a| a == "support-bot"));
    let h = app.shared.read();
    assert!(app
        .runs
        .order
        .iter()
        .all(|&r| window.contains(&h.run(r as usize).started_at().unwrap())));
}
