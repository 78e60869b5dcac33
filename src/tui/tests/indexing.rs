//! The word index's background build in the status line: its progress while it builds,
//! nothing once it is done; a search typed while the history loads runs again over all
//! of it once the load is in.

use super::*;
use crate::tui::event::TextIndexProgress;
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};

/// The status line and the hints below it.
fn bottom_lines(app: &App) -> String {
    let s = screen(app);
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(2)..].join("\n")
}

fn progress(indexed: u64, building: bool) -> Msg {
    Msg::TextIndex(TextIndexProgress {
        indexed,
        total: 664,
        building,
    })
}

#[test]
fn the_status_line_shows_the_word_index_progress_while_it_builds() {
    for (w, h) in SIZES {
        let mut app = demo(w, h);
        assert!(!screen(&app).contains("indexing text"), "not started yet");
        app.handle(progress(286, true));
        let lines = bottom_lines(&app);
        assert!(lines.contains("indexing text 43%"), "{lines}");
        let size = format!("{w}x{h}");
        insta::assert_snapshot!(format!("status_line_while_indexing_text_{size}"), lines);
        // Full until the build says it ended (the history may have grown meanwhile).
        app.handle(progress(664, true));
        assert!(bottom_lines(&app).contains("indexing text 100%"));
        app.handle(progress(664, false));
        let lines = bottom_lines(&app);
        assert!(!lines.contains("indexing text"), "{lines}");
    }
}

#[test]
fn a_search_typed_while_loading_runs_again_over_the_whole_history() {
    let opts = LoadOptions {
        chunk_size: 8 << 10,
        ..LoadOptions::default()
    };
    let (history, loader) = History::open(&[demo_path()], &opts).unwrap();
    let shared = std::sync::Arc::new(crate::index::SharedHistory::new(history));
    let mut app = App::new(shared, options("assets/demo"), Rect::new(0, 0, 160, 48));
    let mut covered = Vec::new();
    let mut titles = Vec::new();
    for event in loader.events() {
        let done = matches!(event, LoadEvent::Done(_));
        app.handle(Msg::Load {
            event: Box::new(event),
            progress: loader.progress(),
        });
        app.after_drain();
        if app.search().is_none() && app.runs.len() >= 3 {
            act(&mut app, &[Action::Search]);
            for c in "blender".chars() {
                let key = KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE);
                app.handle(Msg::Input(Event::Key(key)));
            }
        }
        // Drawn (a key waiting to be drawn holds the folding back).
        app.take_dirty();
        app.after_drain();
        app.run_jobs_now();
        if let Some(doc) = app.search().and_then(|s| s.doc.as_ref()) {
            if covered.last() != Some(&doc.text_covered) {
                covered.push(doc.text_covered);
                let shown = screen(&app);
                let title = shown.lines().find(|l| l.contains("Search · "));
                titles.push(title.unwrap_or_default().to_string());
            }
        }
        if done {
            break;
        }
    }
    let steps = app.shared.read().step_count();
    assert_eq!(steps, 664);
    assert!(
        covered.len() >= 2,
        "answered over part, then all: {covered:?}"
    );
    assert!(covered[0] < steps, "{covered:?}");
    assert_eq!(covered.last(), Some(&steps), "{covered:?}");
    // The pane says when its results cover only what is loaded so far.
    assert!(titles[0].contains("hits so far (loading)"), "{titles:?}");
    let last = titles.last().cloned().unwrap_or_default();
    assert!(
        last.contains(" hits") && !last.contains("so far"),
        "{titles:?}"
    );
    let doc = app.search().and_then(|s| s.doc.clone()).unwrap();
    assert!(doc.hits.iter().any(|h| h.snippet.contains("blender")));
}

/// A big history's run list catches up with the folds at most every 100 ms while it
/// loads (its layout costs time in proportion to all its runs), at once on a key, and
/// whole once the load is in.
#[test]
fn a_big_run_list_catches_up_now_and_then_while_loading_and_at_once_on_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.jsonl");
    let mut text = String::new();
    for r in 0..6000 {
        text.push_str(&format!(
            "{{\"run_id\":\"m-{r}\",\"step\":0,\"kind\":\"run_start\"}}\n\
             {{\"run_id\":\"m-{r}\",\"step\":1,\"kind\":\"run_end\",\"outcome\":\"success\"}}\n"
        ));
    }
    std::fs::write(&path, text).unwrap();
    let opts = LoadOptions {
        chunk_size: 16 << 10,
        ..LoadOptions::default()
    };
    let (history, loader) = History::open(std::slice::from_ref(&path), &opts).unwrap();
    let shared = std::sync::Arc::new(crate::index::SharedHistory::new(history));
    let source = path.to_string_lossy().into_owned();
    let mut app = App::new(shared, options(&source), Rect::new(0, 0, 160, 48));
    let mut lagged = 0;
    for event in loader.events() {
        let done = matches!(event, LoadEvent::Done(_));
        app.handle(Msg::Load {
            event: Box::new(event),
            progress: loader.progress(),
        });
        // As if the list had just caught up: a big list waits for the next turn.
        app.relisted = Some(std::time::Instant::now());
        app.take_dirty();
        app.after_drain();
        let runs = app.shared.read().run_count();
        if !done && app.runs.len() > 5000 && app.runs.len() < runs {
            lagged += 1;
            let key = KeyEvent::new(KeyCode::Down, KeyModifiers::NONE);
            app.handle(Msg::Input(Event::Key(key)));
            assert_eq!(app.runs.len(), runs, "a key sees every run loaded so far");
        }
        if done {
            break;
        }
    }
    while app.fold_pending() {}
    assert!(lagged > 0, "the big list waited for its turn while loading");
    assert_eq!(app.runs.len(), 6000, "whole once the load is in");
}
