//! End to end, for post-mortem meetings: the real binary in pseudo-terminals, screens
//! parsed by vt100. Replay advances on its own and pauses at the divergence; presenter
//! mode never shows a planted secret; a follower mirrors the presenter, survives other
//! followers coming and going, and keeps working when the presenter quits; `--at` opens
//! on the named step and `y` gives the command line (and copies it with OSC 52). Every
//! check waits for the screen (with a timeout); nothing sleeps to assert.
#![cfg(feature = "tui")]

use std::path::Path;
use std::time::{Duration, Instant};

mod pty;
use pty::{Tui, TIMEOUT};

/// `retrace ARGS`, with its runtime folder (where shared sessions' sockets live).
fn spawn(args: &[&str], cols: u16, rows: u16, runtime: Option<&Path>) -> Tui {
    let runtime = runtime.map(|d| d.to_str().expect("a UTF-8 path").to_string());
    let env: Vec<(&str, &str)> = runtime
        .iter()
        .map(|d| ("XDG_RUNTIME_DIR", d.as_str()))
        .collect();
    Tui::spawn_args(args, cols, rows, &env)
}

/// The replay's position in the status bar (`replay 7/24`), 1-based.
fn replay_row(screen: &str) -> Option<usize> {
    let rest = &screen[screen.find("replay ")? + 7..];
    rest[..rest.find('/')?].trim().parse().ok()
}

/// The selected step in the status bar (`step #7 of 24`).
fn timeline_step(screen: &str) -> Option<usize> {
    let rest = &screen[screen.find("step #")? + 6..];
    rest[..rest.find(' ')?].parse().ok()
}

/// The row of the selected diff row (`›` after the frame).
fn selected_diff_row(screen: &str) -> Option<&str> {
    screen
        .lines()
        .find(|l| l.contains("│›") || l.contains("┃›"))
}

#[test]
fn replay_advances_on_its_own_and_pauses_at_the_divergence() {
    // The diff of the demo's failing run with its picked partner, from the first row.
    let mut t = spawn(
        &[
            "assets/demo",
            "--at",
            "r-2bcd0cc3#0",
            "--against",
            "r-1ee837f4",
            "--pace",
            "150",
        ],
        120,
        40,
        None,
    );
    t.wait_text("diverges at A #15");
    t.wait_for("the first row selected", |s| {
        selected_diff_row(s).is_some_and(|r| r.contains(" 0 start") || r.contains("#0 "))
    });
    t.keys(" ");
    // It moves by itself (states in between may pass unseen on a busy machine)...
    t.wait_for("the replay past row 3", |s| {
        replay_row(s).is_some_and(|r| r >= 3)
    });
    // ...and stops at the divergence row, selected.
    let screen = t.wait_text("replay paused at the divergence");
    assert!(screen.contains("⏸ replay 16/"), "{screen}");
    let row = selected_diff_row(&screen)
        .expect("a selected row")
        .to_string();
    assert!(row.contains('▶'), "the divergence row is selected: {row}");
    // Paused: it stays there.
    t.keys(".");
    t.wait_text("⏸ replay 17/");
    t.keys("q");
    t.wait_exit();
}

#[test]
fn replay_of_a_run_moves_the_timeline_by_itself() {
    let mut t = spawn(
        &["assets/demo", "--at", "r-2bcd0cc3#2", "--pace", "100"],
        120,
        40,
        None,
    );
    t.wait_text("step #2 of 24");
    t.keys(" ");
    t.wait_for("the timeline past step 5", |s| {
        s.contains("▶ replay") && timeline_step(s).is_some_and(|n| n >= 5)
    });
    t.keys(" ");
    let paused = t.wait_text("⏸ replay");
    let at = timeline_step(&paused).unwrap();
    // Paused: it stays (a redraw later shows the same step).
    t.keys("t");
    let later = t.wait_text("light theme");
    assert_eq!(timeline_step(&later), Some(at));
    t.keys("q");
    t.wait_exit();
}

/// Every planted secret (or a distinctive part of it) in tests/fixtures/meeting.
const SECRETS: [&str; 9] = [
    "sk-live-4f9a8b7c6d5e",
    "4f9a8b7c6d5e4f3a",
    "eyJhbGciOiJIUzI1NiJ9",
    "c2lnbmF0dXJlLXNlY3JldA",
    "Tr0ub4dor",
    "3-plant",
    "AKIAIOSFODNN7PLANTED",
    "ghp_abcdefghij",
    "plantedkeymaterial",
];

fn assert_no_secret(screen: &str, at: &str) {
    for s in SECRETS {
        assert!(!screen.contains(s), "{s} shown at {at}:\n{screen}");
    }
    for contact in ["dana.ops@example.com", "555 0199"] {
        assert!(
            !screen.contains(contact),
            "{contact} shown at {at}:\n{screen}"
        );
    }
}

#[test]
fn presenter_mode_never_shows_a_planted_secret() {
    for (cols, rows) in [(80, 24), (160, 48)] {
        let mut t = spawn(
            &["tests/fixtures/meeting", "--present", "--at", "r-secrets-1"],
            cols,
            rows,
            None,
        );
        for step in 0..6 {
            let screen = t.wait_for(&format!("the card of step {step}"), |s| {
                s.contains(&format!("Step #{step} ·"))
                    && s.contains("did not fail") | s.contains("FAILED")
                    && !s.contains("reading step")
            });
            assert_no_secret(&screen, &format!("step {step} at {cols}x{rows}"));
            assert!(screen.contains("[redacted]") || step == 5, "{screen}");
            // The whole walkthrough, by hand and by replay.
            t.keys(if step % 2 == 0 { "j" } else { "." });
        }
        // The diff view in presenter mode hides them too, on every row.
        t.keys("d");
        t.wait_text("diverges at A");
        t.keys("g");
        for row in 1..=6 {
            let screen = t.wait_for(&format!("diff row {row}"), |s| {
                s.contains(&format!("· row {row}/"))
            });
            assert_no_secret(&screen, &format!("diff row {row} at {cols}x{rows}"));
            t.keys("j");
        }
        t.keys("\x1b");
        t.wait_for("the diff closed", |s| !s.contains("diverges at A"));
        // Search shows step text as it is: not while secrets are hidden.
        t.keys("/");
        t.wait_text("leave presenter mode");
        // Asking to show secrets and saying no keeps them hidden.
        t.keys("k");
        t.keys("R");
        t.wait_text("Are you sure?");
        t.keys("n");
        let screen = t.wait_for("the question closed", |s| !s.contains("Are you sure?"));
        assert_no_secret(&screen, "after declining");
        // Saying yes shows them, and the status bar says so.
        t.keys("R");
        t.wait_text("Are you sure?");
        t.keys("y");
        let screen = t.wait_text("redaction OFF");
        assert!(
            SECRETS.iter().any(|s| screen.contains(s)),
            "the card shows what was hidden:\n{screen}"
        );
        t.keys("R");
        let screen = t.wait_for("redaction back on", |s| !s.contains("redaction OFF"));
        assert_no_secret(&screen, "redaction back on");
        t.keys("q");
        t.wait_exit();
    }
}

#[test]
fn at_opens_on_the_named_step_and_y_gives_the_command_line() {
    let mut t = spawn(&["assets/demo", "--at", "r-2bcd0cc3#15"], 120, 40, None);
    let screen = t.wait_text("step #15 of 24");
    assert!(screen.contains("r-2bcd0cc3"), "{screen}");
    t.keys("y");
    let screen = t.wait_text("This position");
    let line = "retrace assets/demo --at r-2bcd0cc3#15";
    assert!(screen.contains(line), "{screen}");
    let start = Instant::now();
    while t.clipboard().is_empty() {
        assert!(start.elapsed() < TIMEOUT, "nothing copied");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(t.clipboard()[0], base64(line.as_bytes()));
    t.keys("q");
    t.wait_exit();
}

/// Standard base64 with padding (what OSC 52 carries).
fn base64(bytes: &[u8]) -> Vec<u8> {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize]);
            } else {
                out.push(b'=');
            }
        }
    }
    out
}

/// Waits until the follower shows `text`; returns how long that took after the
/// presenter's key.
fn tracked(follower: &Tui, text: &str, since: Instant) -> Duration {
    follower.wait_text(text);
    since.elapsed()
}

#[test]
fn followers_track_the_presenter_come_and_go_and_outlive_it() {
    let runtime = tempfile::tempdir().unwrap();
    let rt = Some(runtime.path());
    let mut presenter = spawn(
        &["assets/demo", "--at", "r-2bcd0cc3#0", "--share", "room"],
        100,
        30,
        rt,
    );
    presenter.wait_text("sharing room");
    // The position --at names, not the first run's step #0 shown while loading: a key
    // pressed before --at is applied moves what --at then replaces.
    presenter.wait_text("Timeline r-2bcd0cc3 · step #0 of 24");
    let socket = runtime.path().join("retrace/room.sock");
    assert!(socket.exists());

    let mut first = spawn(&["assets/demo", "--follow", "room"], 100, 30, rt);
    first.wait_text("following room");
    first.wait_text("Timeline r-2bcd0cc3 · step #0 of 24");
    let mut latencies = Vec::new();
    for step in 1..=4 {
        let pressed = Instant::now();
        presenter.keys("j");
        latencies.push(tracked(&first, &format!("step #{step} of 24"), pressed));
    }
    // Read-only while attached.
    first.keys("j");
    first.wait_text("read-only");
    assert!(first.contents().contains("step #4 of 24"));

    // A second follower joins; the first is killed; the presenter goes on.
    let second = spawn(&["assets/demo", "--follow", "room"], 100, 30, rt);
    second.wait_text("step #4 of 24");
    first.child.kill().unwrap();
    drop(first);
    for step in 5..=6 {
        let pressed = Instant::now();
        presenter.keys("j");
        latencies.push(tracked(&second, &format!("step #{step} of 24"), pressed));
    }
    presenter.wait_text("step #6 of 24");
    // Another joins late and gets the current position; the diff travels too.
    let mut third = spawn(&["assets/demo", "--follow", "room"], 100, 30, rt);
    third.wait_text("step #6 of 24");
    let pressed = Instant::now();
    presenter.keys("d");
    latencies.push(tracked(&third, "diverges at A #15", pressed));
    second.wait_text("diverges at A #15");
    presenter.keys("\x1b");
    third.wait_for("the diff closed", |s| !s.contains("diverges at A #15"));

    // The presenter quits: followers keep the last position, say so, and work on.
    presenter.keys("q");
    presenter.wait_exit();
    let screen = third.wait_text("ended: staying at the last position");
    assert!(screen.contains("step #6 of 24"), "{screen}");
    third.keys("j");
    third.wait_text("step #7 of 24");
    assert!(!socket.exists(), "the presenter removed its socket");
    third.keys("q");
    third.wait_exit();

    let worst = latencies.iter().max().unwrap();
    eprintln!("follower latency per move: {latencies:?} (worst {worst:?})");
    // Speed is measured here and reported, not asserted (the brief: no timed asserts);
    // RETRACE_STRICT_LATENCY=1 makes the 200 ms target an assertion on a quiet machine.
    if std::env::var_os("RETRACE_STRICT_LATENCY").is_some() {
        assert!(*worst < Duration::from_millis(200), "{latencies:?}");
    }
}

#[test]
fn a_malformed_at_is_a_usage_error_before_anything_opens() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_retrace"))
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .args(["assets/demo", "--at", "r-2bcd0cc3#x"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--at") && err.contains("number"), "{err}");
    // --against needs --at; --share and --follow exclude each other.
    for args in [
        &["assets/demo", "--against", "r-1"][..],
        &["assets/demo", "--share", "a", "--follow", "b"][..],
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_retrace"))
            .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn following_a_presentation_that_is_not_running_says_so_before_the_screen() {
    let runtime = tempfile::tempdir().unwrap();
    let mut t = spawn(
        &["assets/demo", "--follow", "nobody"],
        80,
        24,
        Some(runtime.path()),
    );
    t.wait_text("no presentation named \"nobody\"");
    t.wait_exit();
}
