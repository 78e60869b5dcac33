//! The word index's background build in the status line: its progress while it builds,
//! nothing once it is done.

use super::*;
use crate::tui::event::{Msg, TextIndexProgress};

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
