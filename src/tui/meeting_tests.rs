//! The meeting features driven by actions and messages: replay (a run, a diff pausing
//! at its divergence), presenter mode and its redaction, `--at`, positions for
//! followers, following; and snapshots of the presenter's card at 80x24 and 160x48.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use ratatui::Terminal;

use super::action::Action;
use super::app::{App, MeetingOptions, Options, ReplayOn};
use super::event::Msg;
use super::layout::Pane;
use super::overlays::Overlay;
use super::theme::{ColorDepth, ThemeName};
use super::ui::render;
use crate::index::{History, LoadOptions};
use crate::share::{Heard, Position};

fn demo_with(meeting: MeetingOptions, w: u16, h: u16) -> App {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo");
    let history = History::load(&[path], &LoadOptions::default()).unwrap();
    let options = Options {
        theme: ThemeName::Dark,
        depth: ColorDepth::Ansi256,
        mouse: true,
        sources: vec![PathBuf::from("assets/demo")],
        poll: false,
        meeting,
        library: Some(PathBuf::from("/nonexistent/retrace-tests/library")),
        receiving: None,
    };
    let mut app = App::loaded(history, options, Rect::new(0, 0, w, h));
    settle(&mut app);
    app
}

fn demo() -> App {
    demo_with(MeetingOptions::default(), 80, 24)
}

fn settle(app: &mut App) {
    for _ in 0..4 {
        app.after_drain();
        app.run_jobs_now();
    }
}

fn act(app: &mut App, actions: &[Action]) {
    for &a in actions {
        app.update(a);
        settle(app);
    }
}

/// The wait is over, whenever it was due.
fn tick(app: &mut App) {
    app.handle(Msg::Tick(Instant::now() + Duration::from_secs(3600)));
    settle(app);
}

fn open(app: &mut App, id: &str, step: u32) {
    let run = app.shared.read().find_run(id).unwrap().index();
    app.select_run(run);
    app.select_step(step, Pane::Runs);
    act(app, &[Action::FocusTimeline]);
}

fn screen(app: &App) -> String {
    let mut t = Terminal::new(TestBackend::new(app.size.width, app.size.height)).unwrap();
    t.draw(|f| render(app, f)).unwrap();
    t.backend().to_string()
}

#[test]
fn replay_moves_timeline_tree_and_detail_together_on_its_timer() {
    let mut app = demo();
    open(&mut app, "r-2bcd0cc3", 3);
    assert!(app.next_tick().is_none(), "nothing is due before a replay");
    act(&mut app, &[Action::PlayPause]);
    let (r, on) = app.meeting.replay.clone().unwrap();
    assert!(r.playing);
    assert_eq!(on, ReplayOn::Run(app.timeline.run.unwrap()));
    let due = app.next_tick().expect("the next step is due");
    // Real time, speed 1: the gap between steps 3 and 4 (21 ms) is raised to the shortest.
    assert!(due <= Instant::now() + crate::replay::LONGEST_GAP);
    // A tick before it is due does nothing.
    app.handle(Msg::Tick(Instant::now() - Duration::from_secs(1)));
    assert_eq!(app.timeline.cursor.selected, 3);
    tick(&mut app);
    tick(&mut app);
    let run = app.timeline.run.unwrap();
    assert_eq!(app.timeline.cursor.selected, 5);
    assert_eq!(app.detail.target, Some((run, 5)));
    assert_eq!(app.tree.selected_step(), Some(5));
    // Pause: nothing is due, ticks change nothing.
    act(&mut app, &[Action::PlayPause]);
    assert!(app.next_tick().is_none());
    tick(&mut app);
    assert_eq!(app.timeline.cursor.selected, 5);
    // One step on and back by hand; speed and pace.
    act(
        &mut app,
        &[Action::StepForward, Action::StepForward, Action::StepBack],
    );
    assert_eq!(app.timeline.cursor.selected, 6);
    act(&mut app, &[Action::Faster, Action::Faster]);
    assert_eq!(app.meeting.replay.as_ref().unwrap().0.speed(), 4.0);
    act(&mut app, &[Action::TogglePace]);
    assert_eq!(
        app.meeting.replay.as_ref().unwrap().0.pace,
        crate::replay::Pace::Fixed(super::app::DEFAULT_FIXED)
    );
    assert!(screen(&app).contains("replay 7/24"), "{}", screen(&app));
    // The user moves: the replay goes on from there.
    act(&mut app, &[Action::MoveDown, Action::PlayPause]);
    tick(&mut app);
    assert_eq!(app.timeline.cursor.selected, 8);
    act(&mut app, &[Action::Replay]);
    assert!(app.meeting.replay.is_none() && app.next_tick().is_none());
}

#[test]
fn a_diff_replays_both_runs_row_by_row_and_pauses_at_the_divergence() {
    let mut app = demo();
    open(&mut app, "r-2bcd0cc3", 0);
    act(&mut app, &[Action::Diff]);
    let divergence = {
        let d = app.diff().unwrap();
        d.doc.as_ref().unwrap().divergence.as_ref().unwrap().0
    };
    act(&mut app, &[Action::Top, Action::PlayPause]);
    assert_eq!(app.meeting.replay.as_ref().unwrap().1, ReplayOn::Diff);
    let mut rows = vec![app.diff().unwrap().cursor.selected];
    while app.next_tick().is_some() {
        tick(&mut app);
        rows.push(app.diff().unwrap().cursor.selected);
        assert!(rows.len() < 100, "the replay never paused");
    }
    assert_eq!(rows, (0..=divergence).collect::<Vec<_>>());
    assert!(!app.meeting.replay.as_ref().unwrap().0.playing);
    assert!(screen(&app).contains("divergence"));
    // Playing on goes past it.
    act(&mut app, &[Action::PlayPause]);
    tick(&mut app);
    assert_eq!(app.diff().unwrap().cursor.selected, divergence + 1);
    // Closing the diff ends its replay.
    act(&mut app, &[Action::Back]);
    tick(&mut app);
    assert!(app.meeting.replay.is_none());
}

#[test]
fn at_opens_the_named_step_and_against_opens_the_diff_there() {
    let app = demo_with(
        MeetingOptions {
            at: Some(("r-2bcd0cc3".into(), Some(15))),
            ..MeetingOptions::default()
        },
        80,
        24,
    );
    let run = app.shared.read().find_run("r-2bcd0cc3").unwrap().index();
    assert_eq!(app.timeline.run, Some(run));
    assert_eq!(app.timeline.cursor.selected, 15);
    assert_eq!(app.focus, Pane::Timeline);

    let app = demo_with(
        MeetingOptions {
            at: Some(("r-2bcd0cc3".into(), Some(9))),
            against: Some("r-1ee837f4".into()),
            ..MeetingOptions::default()
        },
        80,
        24,
    );
    let d = app.diff().expect("the diff is open");
    let doc = d.doc.as_ref().unwrap();
    assert_eq!(doc.b_id, "r-1ee837f4");
    assert_eq!(doc.rows[d.cursor.selected].a.as_ref().unwrap().step, 9);

    let mut app = demo_with(
        MeetingOptions {
            at: Some(("r-nonesuch".into(), None)),
            ..MeetingOptions::default()
        },
        80,
        24,
    );
    assert!(app.message.as_deref().unwrap_or("").contains("r-nonesuch"));
    app.after_drain();
}

#[test]
fn the_position_is_a_command_line_and_is_published_when_it_changes() {
    let mut app = demo_with(
        MeetingOptions {
            share: Some("room".into()),
            ..MeetingOptions::default()
        },
        80,
        24,
    );
    open(&mut app, "r-2bcd0cc3", 4);
    let p = app.take_position().expect("a first position");
    assert_eq!((p.run.as_deref(), p.step), (Some("r-2bcd0cc3"), Some(4)));
    assert_eq!(app.take_position(), None, "unchanged: nothing to publish");
    act(&mut app, &[Action::PlayPause]);
    let p = app.take_position().unwrap();
    assert!(p.replay.unwrap().playing);
    act(&mut app, &[Action::Diff]);
    let p = app.take_position().unwrap();
    assert_eq!(p.against.as_deref(), Some("r-1ee837f4"));
    act(&mut app, &[Action::ShowPosition]);
    let line = app.take_clipboard().expect("copied");
    assert!(
        line.starts_with("retrace assets/demo --at r-2bcd0cc3#"),
        "{line}"
    );
    assert!(line.ends_with(" --against r-1ee837f4"), "{line}");
    assert!(matches!(app.overlay(), Some(Overlay::Note(_))));
    assert!(screen(&app).contains("--against r-1ee837f4"));
    act(&mut app, &[Action::Back]);
    assert!(app.diff().is_some(), "any key closes the note only");
}

#[test]
fn a_follower_mirrors_read_only_detaches_and_keeps_the_last_position() {
    let mut app = demo_with(
        MeetingOptions {
            follow: Some("room".into()),
            ..MeetingOptions::default()
        },
        80,
        24,
    );
    let at = |step| Position {
        run: Some("r-2bcd0cc3".into()),
        step: Some(step),
        view: "present".into(),
        ..Position::default()
    };
    app.handle(Msg::Heard(Heard::Position(at(7))));
    settle(&mut app);
    assert_eq!(app.timeline.cursor.selected, 7);
    assert!(app.meeting.presenting, "the presenter's view is mirrored");
    let run = app.timeline.run;
    act(&mut app, &[Action::MoveDown]);
    assert_eq!(app.timeline.cursor.selected, 7, "read-only while attached");
    assert!(app.message.as_deref().unwrap().contains("A detaches"));
    act(&mut app, &[Action::Attach, Action::MoveDown]);
    assert_eq!(app.timeline.cursor.selected, 8, "detached: free to explore");
    app.handle(Msg::Heard(Heard::Position(at(11))));
    settle(&mut app);
    assert_eq!(app.timeline.cursor.selected, 8, "detached: positions wait");
    act(&mut app, &[Action::Attach]);
    assert_eq!(
        app.timeline.cursor.selected, 11,
        "attached: the latest position"
    );
    app.handle(Msg::Heard(Heard::Ended));
    settle(&mut app);
    assert_eq!((app.timeline.run, app.timeline.cursor.selected), (run, 11));
    assert!(screen(&app).contains("ended"), "{}", screen(&app));
}

#[test]
fn presenter_mode_redacts_until_a_confirmed_key_turns_it_off() {
    let mut app = demo();
    open(&mut app, "r-2bcd0cc3", 14);
    act(&mut app, &[Action::Present]);
    assert!(app.meeting.presenting && app.theme.contrast);
    let s = screen(&app);
    assert!(s.contains("CALLED") && s.contains("send_email"), "{s}");
    assert!(
        !s.contains("jonas.weber@example.com"),
        "contacts are hidden: {s}"
    );
    assert!(s.contains("[redacted]"));
    act(&mut app, &[Action::ToggleRedaction]);
    assert!(matches!(app.overlay(), Some(Overlay::Confirm(_))));
    act(&mut app, &[Action::Back]);
    assert!(app.meeting.redact, "no: still hidden");
    act(&mut app, &[Action::ToggleRedaction, Action::Confirm]);
    assert!(!app.meeting.redact);
    let s = screen(&app);
    assert!(s.contains("jonas.weber@example.com"), "{s}");
    assert!(s.contains("redaction OFF"), "the status bar says so: {s}");
    act(&mut app, &[Action::ToggleRedaction]);
    assert!(app.meeting.redact, "back on without asking");
    assert!(!screen(&app).contains("jonas.weber@example.com"));
    act(&mut app, &[Action::Present]);
    assert!(!app.meeting.presenting && !app.theme.contrast);
}

#[test]
fn marks_from_the_post_mortem_show_on_the_card_and_the_timeline() {
    use crate::present::{Mark, MarkKind};
    let mut app = demo();
    open(&mut app, "r-2bcd0cc3", 15);
    app.meeting.marks = vec![
        Mark {
            run: "r-2bcd0cc3".into(),
            step: Some(15),
            kind: MarkKind::RootCause,
            text: "SMTP credentials rotated without updating the mailer (ops@example.com)".into(),
        },
        Mark {
            run: "r-2bcd0cc3".into(),
            step: Some(17),
            kind: MarkKind::Bookmark,
            text: "the retry".into(),
        },
    ];
    act(&mut app, &[Action::Present]);
    let s = screen(&app);
    assert!(s.contains("◆ root cause: SMTP credentials rotated"), "{s}");
    assert!(
        !s.contains("ops@example.com"),
        "mark text is redacted too: {s}"
    );
    let row = s.lines().find(|l| l.contains("#17")).unwrap();
    assert!(row.contains('★'), "{row}");
}

fn present_snapshot(w: u16, h: u16) -> String {
    let mut app = demo_with(
        MeetingOptions {
            at: Some(("r-2bcd0cc3".into(), Some(15))),
            present: true,
            ..MeetingOptions::default()
        },
        w,
        h,
    );
    settle(&mut app);
    screen(&app)
}

#[test]
fn presenter_card_80x24() {
    insta::assert_snapshot!(present_snapshot(80, 24));
}

#[test]
fn presenter_card_160x48() {
    insta::assert_snapshot!(present_snapshot(160, 48));
}
