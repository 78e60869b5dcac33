//! The post-mortem keys: root cause, bookmark, a note, the category, an action item
//! (flagged as typed), the report and the incident timeline, saved in a temporary library.

use crossterm::event::{Event, KeyCode, KeyEvent};

use super::*;
use crate::postmortem::notes::Library;
use crate::postmortem::Category;
use crate::tui::overlays::Overlay;

const FAILING: &str = "r-2bcd0cc3";

/// The demo with its failing run shown and a library in `dir`.
fn failing(dir: &Path, w: u16, h: u16) -> App {
    let history = History::load(&[demo_path()], &LoadOptions::default()).unwrap();
    let mut o = options("assets/demo");
    o.library = Some(dir.to_path_buf());
    let mut app = App::loaded(history, o, Rect::new(0, 0, w, h));
    app.run_jobs_now();
    let run = run_index(&app, FAILING);
    app.select_run(run);
    act(&mut app, &[Action::FocusTimeline, Action::FirstFailure]);
    app
}

fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        app.handle(Msg::Input(Event::Key(KeyEvent::from(KeyCode::Char(c)))));
    }
    app.after_drain();
}

fn saved(dir: &Path) -> crate::postmortem::notes::Notes {
    Library::at(dir).load_notes(FAILING).unwrap()
}

#[test]
fn root_cause_bookmark_and_note_are_saved_and_shown() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = failing(dir.path(), 160, 48);
    let step = app.timeline.cursor.selected as u32;
    act(&mut app, &[Action::MarkRootCause]);
    assert_eq!(saved(dir.path()).root_cause, Some(step));
    act(&mut app, &[Action::ToggleBookmark]);
    assert_eq!(saved(dir.path()).bookmarks, vec![step]);
    act(&mut app, &[Action::EditNote]);
    assert!(matches!(app.overlay(), Some(Overlay::Input(_))));
    type_text(&mut app, "token rotated at 09:00");
    act(&mut app, &[Action::Open]);
    assert!(app.overlay().is_none());
    assert_eq!(
        saved(dir.path()).step_note(step),
        Some("token rotated at 09:00")
    );
    let s = screen(&app);
    assert!(s.contains("◆★✎"), "{s}");
    // The presenter's marks come from the notes.
    let kinds: Vec<_> = app.meeting.marks.iter().map(|m| m.kind.clone()).collect();
    assert_eq!(kinds.len(), 3, "{kinds:?}");
    act(&mut app, &[Action::Present]);
    let s = screen(&app);
    assert!(s.contains("◆ root cause"), "{s}");
    assert!(!s.contains("root cause: root cause"), "the label once: {s}");
    assert!(s.contains("✎ note: token rotated at 09:00"), "{s}");
    act(&mut app, &[Action::Present]);
    // Again: unmarked, unbookmarked.
    act(&mut app, &[Action::MarkRootCause, Action::ToggleBookmark]);
    let n = saved(dir.path());
    assert_eq!((n.root_cause, n.bookmarks.len()), (None, 0));
}

#[test]
fn the_category_is_chosen_and_auto_clears_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = failing(dir.path(), 80, 24);
    act(
        &mut app,
        &[Action::SetCategory, Action::MoveDown, Action::Open],
    );
    assert_eq!(saved(dir.path()).category, Some(Category::ALL[0]));
    act(&mut app, &[Action::SetCategory, Action::Top, Action::Open]);
    assert_eq!(saved(dir.path()).category, None);
    act(&mut app, &[Action::SetCategory, Action::Back]);
    assert!(app.overlay().is_none());
}

#[test]
fn a_vague_action_item_is_flagged_as_it_is_typed() {
    let dir = tempfile::tempdir().unwrap();
    for (w, h) in SIZES {
        let mut app = failing(dir.path(), w, h);
        act(&mut app, &[Action::AddActionItem]);
        type_text(&mut app, "improve the agent");
        let s = screen(&app);
        assert!(s.contains("vague"), "{s}");
        snap("action_item_input_flags_a_vague_item", &app);
    }
    let mut app = failing(dir.path(), 80, 24);
    act(&mut app, &[Action::AddActionItem]);
    type_text(
        &mut app,
        "rotate the CRM token from the vault owner=ana component=infra done_when=\"alert test passes\"",
    );
    act(&mut app, &[Action::Open]);
    let n = saved(dir.path());
    assert_eq!(n.action_items.len(), 1);
    assert_eq!(n.action_items[0].owner.as_deref(), Some("ana"));
}

#[test]
fn the_report_is_written_into_the_library() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = failing(dir.path(), 80, 24);
    act(&mut app, &[Action::MarkRootCause, Action::WriteReport]);
    let msg = app.message.clone().unwrap_or_default();
    assert!(msg.starts_with("report saved: "), "{msg}");
    let path = Library::at(dir.path()).report_path(FAILING);
    let md = std::fs::read_to_string(&path).unwrap();
    assert!(md.contains(FAILING), "{md}");
}

#[test]
fn the_incident_timeline_lists_its_rows_and_jumps_to_a_step() {
    let dir = tempfile::tempdir().unwrap();
    for (w, h) in SIZES {
        let mut app = failing(dir.path(), w, h);
        act(&mut app, &[Action::IncidentTimeline]);
        let Some(Overlay::Incident(i)) = app.overlay() else {
            panic!("no incident timeline");
        };
        let t = i.timeline.clone().expect("loaded");
        assert!(t.rows.len() >= 3, "{t:?}");
        let s = screen(&app);
        assert!(s.contains("trigger"), "{s}");
        snap("incident_timeline", &app);
        act(&mut app, &[Action::Bottom, Action::Open]);
        assert!(app.overlay().is_none());
        assert_eq!(
            app.timeline.cursor.selected as u32,
            t.rows.last().unwrap().step
        );
        assert_eq!(app.focus, crate::tui::layout::Pane::Timeline);
    }
}

#[test]
fn notes_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = failing(dir.path(), 160, 48);
    act(&mut app, &[Action::MarkRootCause]);
    drop(app);
    let app = failing(dir.path(), 160, 48);
    assert!(app.notes.current.as_ref().unwrap().root_cause.is_some());
    assert!(screen(&app).contains('◆'));
}

#[test]
fn the_narrative_is_written_in_the_app_and_kept_in_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = failing(dir.path(), 160, 48);
    act(&mut app, &[Action::EditNarrative]);
    assert!(screen(&app).contains("Narrative"));
    type_text(
        &mut app,
        "The SMTP credential was rotated; the agent refunded first.",
    );
    act(&mut app, &[Action::Open]);
    assert!(app.overlay().is_none());
    assert_eq!(
        saved(dir.path()).narrative.as_deref(),
        Some("The SMTP credential was rotated; the agent refunded first.")
    );
    // Editing starts from the saved text; emptying it removes it.
    act(&mut app, &[Action::EditNarrative]);
    for _ in 0.."The SMTP credential was rotated; the agent refunded first.".len() {
        app.handle(Msg::Input(Event::Key(KeyEvent::from(KeyCode::Backspace))));
    }
    act(&mut app, &[Action::Open]);
    assert_eq!(saved(dir.path()).narrative, None);
}
