//! One run list everywhere: `ls`, `ls --filter`, the browser's run list and the search's
//! run filter give the same runs, in the same order, with the same marks, on the demo.
#![cfg(feature = "tui")]

use std::path::{Path, PathBuf};
use std::process::Command;

use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use ratatui::Terminal;
use retrace::index::{History, LoadOptions};
use retrace::search::Query;
use retrace::tui::{ui, App, Options};
use serde_json::Value;

/// A run as a list shows it: id, outcome mark (`✗ failure`), first-error text.
type Row = (String, String, String);

const QUERIES: [&str; 6] = [
    "",
    "outcome:failure",
    "agent:support-bot",
    "since:2026-11-25",
    "status:error",
    "tool:send_email outcome:failure",
];

const RUN_FILTERS: [&str; 3] = ["outcome:failure", "agent:support-bot", "since:2026-11-25"];

fn demo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo")
}

fn retrace(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_retrace"))
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .args(args)
        .arg(demo())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Splits a list row after its id: the outcome mark and the first error are found by
/// their shape, whatever the column widths.
fn row_of(line: &str) -> Option<Row> {
    let start = line.find("r-")?;
    let rest = &line[start..];
    let id = rest.split_whitespace().next()?.to_string();
    let (mark_at, mark) = [
        "✓ success",
        "✗ failure",
        "✗ timeout",
        "✗ cancelled",
        "… running",
        "? unknown",
    ]
    .iter()
    .find_map(|m| rest.find(m).map(|at| (at, m.to_string())))?;
    let error = rest[mark_at + mark.len()..].trim().to_string();
    Some((id, mark, error))
}

fn ls_rows(query: &str) -> Vec<Row> {
    let mut args = vec!["ls"];
    if !query.is_empty() {
        args.extend(["--filter", query]);
    }
    retrace(&args).lines().skip(1).filter_map(row_of).collect()
}

fn ls_json_ids(query: &str) -> Vec<String> {
    let mut args = vec!["ls", "--json"];
    if !query.is_empty() {
        args.extend(["--filter", query]);
    }
    let doc: Value = serde_json::from_str(&retrace(&args)).unwrap();
    doc["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap().to_string())
        .collect()
}

/// The runs `retrace search QUERY` returns as run hits (it ranks them; the set counts).
fn search_run_ids(query: &str) -> Vec<String> {
    let text = retrace(&["search", query, "--json", "--limit", "10000"]);
    let mut ids: Vec<String> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v.get("run_id").is_some() && v["step"].is_null())
        .map(|v| v["run_id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

/// The browser's run list, drawn tall enough for every run (tabs layout, so the list
/// has the whole screen), with the query's run filter applied as `/` applies it.
fn browser_rows(query: &str) -> Vec<Row> {
    let history = History::load(&[demo()], &LoadOptions::default()).unwrap();
    let options = Options {
        sources: vec![demo()],
        ..Options::default()
    };
    let mut app = App::loaded(history, options, Rect::new(0, 0, 110, 60));
    app.run_jobs_now();
    if !query.is_empty() {
        app.runs.filter = Some((Query::parse(query).unwrap(), retrace::search::now_ms()));
        let history = app.shared.read();
        app.runs.refresh(&history);
    }
    let mut t = Terminal::new(TestBackend::new(110, 60)).unwrap();
    t.draw(|f| ui::render(&app, f)).unwrap();
    let buffer = t.backend().buffer().clone();
    (0..buffer.area.height)
        .map(|y| {
            (0..buffer.area.width)
                .map(|x| buffer[(x, y)].symbol().to_string())
                .collect::<String>()
        })
        .filter_map(|line| row_of(line.trim_end_matches(['│', ' '])))
        .collect()
}

/// Two cuts of one text at different widths (each may end in `…`).
fn same_text_cut(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim_end_matches('…'), b.trim_end_matches('…'));
    !a.is_empty() && !b.is_empty() && (a.starts_with(b) || b.starts_with(a)) || a == b
}

#[test]
fn every_front_end_lists_the_same_runs_in_the_same_order_with_the_same_marks() {
    for query in QUERIES {
        let ls = ls_rows(query);
        assert!(!ls.is_empty(), "{query:?} lists runs on the demo");
        let ids: Vec<String> = ls.iter().map(|r| r.0.clone()).collect();
        assert_eq!(ls_json_ids(query), ids, "ls --json order, {query:?}");
        let browser = browser_rows(query);
        assert_eq!(browser.len(), ls.len(), "the browser's run list, {query:?}");
        for (b, l) in browser.iter().zip(&ls) {
            assert_eq!(
                (&b.0, &b.1),
                (&l.0, &l.1),
                "the browser's run list, {query:?}"
            );
            assert!(same_text_cut(&b.2, &l.2), "first error {b:?} vs {l:?}");
        }
        // Step filters (status:, tool:) select steps in a search; run filters select
        // the runs a search returns.
        if RUN_FILTERS.contains(&query) {
            let mut sorted = ids.clone();
            sorted.sort();
            assert_eq!(
                search_run_ids(query),
                sorted,
                "search's run filter, {query:?}"
            );
        }
    }
}

#[test]
fn the_demo_has_runs_of_every_mark_the_test_compares() {
    let marks: std::collections::BTreeSet<String> = ls_rows("").into_iter().map(|r| r.1).collect();
    assert!(
        marks.contains("✓ success") && marks.contains("✗ failure"),
        "{marks:?}"
    );
}

/// While a history loads, the browser re-places only the runs each batch touched: after
/// the last batch its list is the one a full sort of the loaded history gives, in every
/// order, with the same failure count.
#[test]
fn a_run_list_kept_up_batch_by_batch_is_the_full_list() {
    use retrace::index::{LoadEvent, SharedHistory};
    use retrace::runs::{self, Order, RunSort};
    use retrace::tui::event::Msg;
    use std::sync::Arc;

    let small_batches = LoadOptions {
        threads: Some(1),
        chunk_size: 256,
        ..LoadOptions::default()
    };
    let full = History::load(&[demo()], &LoadOptions::default()).unwrap();
    for by in RunSort::ALL {
        let order = Order::natural(by);
        let (history, loader) = History::open(&[demo()], &small_batches).unwrap();
        let mut app = App::new(
            Arc::new(SharedHistory::new(history)),
            Options::default(),
            Rect::new(0, 0, 120, 40),
        );
        app.runs.sort = order;
        let mut batches = 0;
        for (i, event) in loader.events().iter().enumerate() {
            let done = matches!(event, LoadEvent::Done(_));
            batches += usize::from(!done);
            app.handle(Msg::Load {
                event: Box::new(event),
                progress: (0, 0),
            });
            // Folded after every batch, and after bursts of three.
            if i % 3 != 1 || done {
                while app.has_deferred_work() {
                    app.after_drain();
                }
            }
            if done {
                break;
            }
        }
        assert!(batches > 10, "the demo arrives in many batches ({batches})");
        let expected: Vec<u32> = runs::list(&full, None, order)
            .iter()
            .map(|r| r.index() as u32)
            .collect();
        let ids = |h: &History, order: &[u32]| -> Vec<String> {
            order
                .iter()
                .map(|&i| h.run(i as usize).id().to_string())
                .collect()
        };
        let loaded = app.shared.read();
        assert_eq!(
            ids(&loaded, &app.runs.order),
            ids(&full, &expected),
            "{order:?}"
        );
        let all: Vec<_> = full.runs().collect();
        assert_eq!(app.runs.failed, runs::failed_count(&all), "{order:?}");
    }
}
