//! The incident library in the browser: opening a failing run shows the resolved
//! incident it looks like (status line, then `L` with the reasons), an unrelated failing
//! run shows nothing, and `I` saves the shown run with its notes.

use super::*;
use crate::incidents::store::IncidentStore;
use crate::postmortem::notes::Library;
use crate::tui::overlays::Overlay;

/// A library holding the demo's rotated-credential incident, with an action item.
fn library_with_the_credential_incident(dir: &Path) {
    let history = History::load(&[demo_path()], &LoadOptions::default()).unwrap();
    let library = Library::at(dir);
    library
        .update_notes("r-2bcd0cc3", |n| {
            n.narrative = Some("The SMTP credential was rotated.".into());
        })
        .unwrap();
    let store = IncidentStore::new(library);
    let run = history.find_run("r-2bcd0cc3").unwrap();
    let options = crate::incidents::record::AddOptions {
        title: Some("Rotated SMTP credential".into()),
        category: None,
    };
    crate::incidents::add(&history, run, None, &store, &options).unwrap();
}

fn app_with_library(dir: &Path, w: u16, h: u16) -> App {
    let history = History::load(&[demo_path()], &LoadOptions::default()).unwrap();
    let mut o = options("assets/demo");
    o.library = Some(dir.to_path_buf());
    let mut app = App::loaded(history, o, Rect::new(0, 0, w, h));
    app.run_jobs_now();
    app
}

#[test]
fn opening_a_failing_run_names_the_incident_it_looks_like_and_l_lists_the_reasons() {
    let dir = tempfile::tempdir().unwrap();
    library_with_the_credential_incident(dir.path());
    for (w, h) in SIZES {
        let mut app = app_with_library(dir.path(), w, h);
        // The billing agent's receipt that was never sent, the same morning.
        let run = run_index(&app, "r-bb19956c");
        app.select_run(run);
        act(&mut app, &[Action::FocusTimeline]);
        let msg = app.message.clone().unwrap_or_default();
        assert!(
            msg.starts_with("≈ looks like INC-r-2bcd0cc3: Rotated SMTP credential"),
            "{msg}"
        );
        let doc = app.incidents.similar.clone().expect("compared");
        assert_eq!(doc.run, run);
        act(&mut app, &[Action::SimilarIncidents]);
        let Some(Overlay::Similar(s)) = app.overlay() else {
            panic!("no similar incidents overlay");
        };
        assert!(s.doc.is_some(), "the result was ready: shown at once");
        let screen = screen(&app);
        assert!(screen.contains("Similar past incidents"), "{screen}");
        assert!(
            screen.contains("same error code SMTP_AUTH_INVALID"),
            "{screen}"
        );
        snap("similar_incidents", &app);
        act(&mut app, &[Action::Back]);
        assert!(app.overlay().is_none());
    }
}

#[test]
fn an_unrelated_failing_run_shows_no_similar_incident() {
    let dir = tempfile::tempdir().unwrap();
    library_with_the_credential_incident(dir.path());
    let mut app = app_with_library(dir.path(), 160, 48);
    let run = run_index(&app, "r-01ae7873");
    app.select_run(run);
    act(&mut app, &[Action::FocusTimeline]);
    assert!(
        !app.message
            .clone()
            .unwrap_or_default()
            .contains("looks like"),
        "{:?}",
        app.message
    );
    act(&mut app, &[Action::SimilarIncidents]);
    let s = screen(&app);
    assert!(
        s.contains("no incident of the library (1) scores 0.50 or more"),
        "{s}"
    );
}

#[test]
fn i_saves_a_run_with_notes_as_an_incident() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app_with_library(dir.path(), 80, 24);
    let run = run_index(&app, "r-32281af1");
    app.select_run(run);
    act(&mut app, &[Action::FocusTimeline, Action::SaveIncident]);
    let msg = app.message.clone().unwrap_or_default();
    assert!(msg.starts_with("no notes on this run yet"), "{msg}");
    assert!(!dir.path().join("incidents").exists(), "nothing written");
    act(
        &mut app,
        &[
            Action::FirstFailure,
            Action::MarkRootCause,
            Action::SaveIncident,
        ],
    );
    let msg = app.message.clone().unwrap_or_default();
    assert!(msg.starts_with("incident saved INC-r-32281af1"), "{msg}");
    let loaded = IncidentStore::new(Library::at(dir.path()))
        .load_all()
        .unwrap();
    assert_eq!(loaded.incidents.len(), 1);
    let inc = &loaded.incidents[0];
    assert_eq!(inc.run_id(), "r-32281af1");
    assert_eq!(
        inc.root_cause.as_ref().map(|s| s.step),
        Some(app.timeline.cursor.selected as u32)
    );
    act(&mut app, &[Action::SaveIncident]);
    let msg = app.message.clone().unwrap_or_default();
    assert!(msg.starts_with("incident updated INC-r-32281af1"), "{msg}");
}

#[test]
fn i_searches_the_library_with_the_search_language() {
    let dir = tempfile::tempdir().unwrap();
    library_with_the_credential_incident(dir.path());
    for (w, h) in SIZES {
        let mut app = app_with_library(dir.path(), w, h);
        act(&mut app, &[Action::IncidentLibrary]);
        let Some(Overlay::Library(l)) = app.overlay() else {
            panic!("no library overlay");
        };
        assert_eq!(
            l.doc.as_ref().map(|d| d.hits.len()),
            Some(1),
            "empty query: all"
        );
        for c in "error:SMTP_* agent:billing-agent".chars() {
            app.handle(Msg::Input(crossterm::event::Event::Key(
                crossterm::event::KeyEvent::from(crossterm::event::KeyCode::Char(c)),
            )));
        }
        app.after_drain();
        app.run_jobs_now();
        let s = screen(&app);
        assert!(s.contains("no incident of the library (1) matches"), "{s}");
        for _ in 0.." agent:billing-agent".len() {
            app.handle(Msg::Input(crossterm::event::Event::Key(
                crossterm::event::KeyEvent::from(crossterm::event::KeyCode::Backspace),
            )));
        }
        app.after_drain();
        app.run_jobs_now();
        let s = screen(&app);
        assert!(s.contains("INC-r-2bcd0cc3 Rotated SMTP credential"), "{s}");
        snap("incident_library_search", &app);
        act(&mut app, &[Action::Back]);
        assert!(app.overlay().is_none());
    }
}
