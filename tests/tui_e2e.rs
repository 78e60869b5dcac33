//! End to end: the real binary in a pseudo-terminal, its output parsed by a terminal
//! emulator (vt100), keys sent as bytes. Every check waits for the screen to show what it
//! expects (with a timeout); nothing sleeps to assert.
#![cfg(feature = "tui")]

use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

mod pty;
use pty::Tui;

fn demo() -> &'static Path {
    Path::new("assets/demo")
}

/// The row of the selected run or step starts with `›`.
fn selected_row(screen: &str) -> Option<&str> {
    screen
        .lines()
        .find(|l| l.starts_with('›') || l.starts_with("│›") || l.starts_with("┃›"))
}

#[test]
fn runs_are_listed_and_q_quits_restoring_the_screen() {
    let mut t = Tui::spawn(&[demo()], 80, 24);
    t.wait_text("r-5014ef5e");
    // The run list fills in as the history loads: wait for the sixth run's row.
    let screen = t.wait_text("#11 UPSTREAM_TIMEOUT");
    assert!(screen.contains("[1 Runs]"));
    assert!(screen.contains("✗ timeout"));
    {
        let p = t.parser.lock().unwrap();
        assert!(p.screen().alternate_screen());
        assert!(p.screen().hide_cursor());
    }
    t.keys("q");
    let status = t.wait_exit();
    assert!(status.success(), "{status:?}");
    t.assert_restored();
}

#[test]
fn moving_the_selection_updates_timeline_tree_and_detail() {
    let mut t = Tui::spawn(&[demo()], 80, 24);
    t.wait_text("34 runs");
    // Down to the fifth run, then look at its timeline, tree and detail.
    t.keys("jjjj");
    t.wait("r-b6101852 selected", |s| {
        selected_row(&s.contents()).is_some_and(|r| r.contains("r-b6101852"))
    });
    t.keys("\t");
    let screen = t.wait_text("Timeline r-b6101852");
    assert!(screen.contains("[2 Timeline]"));
    t.wait_text("trigger {");
    t.keys("jj");
    t.wait("step 2 selected", |s| {
        selected_row(&s.contents()).is_some_and(|r| r.contains(" 2 "))
    });
    let screen = t.wait_text("Detail #2");
    let step2 = t.row_with("Detail #2").unwrap();
    assert!(screen.contains(&step2));
    // The tree follows: its selected row is step 2.
    t.keys("3");
    t.wait("the tree on step 2", |s| {
        selected_row(&s.contents()).is_some_and(|r| r.contains("#2 "))
    });
    // Moving in the tree moves the detail too.
    t.keys("j");
    t.wait_text("Detail #3");
    // The detail pane, full screen.
    t.keys("4");
    t.wait_text("[4 Detail]");
    t.wait_text("── output ──");
    t.keys("q");
    t.wait_exit();
    t.assert_restored();
}

#[test]
fn the_wide_layout_shows_every_pane_and_follows_the_selection() {
    let mut t = Tui::spawn(&[demo()], 160, 48);
    t.wait_text("Decision tree");
    t.wait_text("Runs 1/34");
    t.wait_text("34 runs");
    t.wait_text("Timeline r-5014ef5e");
    t.wait_text("Detail #0");
    // Jump to a failing run and its first failure.
    for _ in 0..19 {
        t.keys("j");
    }
    t.wait_text("Timeline r-2bcd0cc3");
    t.keys("f");
    t.wait_text("Detail #15");
    let screen = t.wait_text("SMTP_AUTH_INVALID: 535 5.7.8 authentication failed");
    assert!(screen.contains("◀ first"));
    t.wait("the tree on step 15", |s| {
        s.contents()
            .lines()
            .any(|l| l.contains("›  ← #15 send_email"))
    });
    t.keys("q");
    t.wait_exit();
    t.assert_restored();
}

#[test]
fn a_click_selects_a_run_and_the_wheel_scrolls() {
    let mut t = Tui::spawn(&[demo()], 80, 24);
    t.wait_text("34 runs");
    {
        let p = t.parser.lock().unwrap();
        assert_ne!(
            p.screen().mouse_protocol_mode(),
            vt100::MouseProtocolMode::None
        );
    }
    // SGR mouse reports (1-based): a left click on screen row 10 (below the tab bar, the
    // pane's title, the two rows of the failure strip and the header), the fifth run.
    t.keys("\x1b[<0;10;10M\x1b[<0;10;10m");
    t.wait("r-b6101852 selected", |s| {
        selected_row(&s.contents()).is_some_and(|r| r.contains("r-b6101852"))
    });
    // The wheel down over the list moves three rows.
    t.keys("\x1b[<65;10;10M");
    t.wait("r-a92baa01 selected", |s| {
        selected_row(&s.contents()).is_some_and(|r| r.contains("r-a92baa01"))
    });
    t.keys("q");
    t.wait_exit();
    t.assert_restored();
}

#[test]
fn question_mark_opens_the_help_and_esc_closes_it() {
    let mut t = Tui::spawn(&[demo()], 80, 24);
    t.wait_text("r-5014ef5e");
    t.keys("?");
    let screen = t.wait_text("Keys");
    assert!(screen.contains("move down, scroll down"));
    t.keys("\x1b");
    t.wait("the help to close", |s| {
        !s.contents().contains("move down, scroll down")
    });
    t.keys("\x03"); // Ctrl-C quits too.
    let status = t.wait_exit();
    assert!(status.success());
    t.assert_restored();
}

#[test]
fn sigterm_and_sighup_restore_the_terminal() {
    for sig in ["TERM", "HUP", "INT"] {
        let mut t = Tui::spawn(&[demo()], 80, 24);
        t.wait_text("r-5014ef5e");
        let pid = t.child.process_id().expect("a pid").to_string();
        let killed = std::process::Command::new("kill")
            .args([&format!("-{sig}"), &pid])
            .status()
            .unwrap();
        assert!(killed.success());
        let status = t.wait_exit();
        assert!(!status.success(), "SIG{sig}: {status:?}");
        t.assert_restored();
    }
}

#[test]
fn a_panic_restores_the_terminal_and_says_what_happened() {
    let mut t = Tui::spawn_with(&[demo()], 80, 24, &[("RETRACE_TEST_PANIC", "1")]);
    let status = t.wait_exit();
    assert!(!status.success());
    t.assert_restored();
    t.wait_text("RETRACE_TEST_PANIC");
}

/// The colours used on screen: (any colour at all, any beyond the 16 named ones).
fn colours_used(t: &Tui) -> (bool, bool) {
    let parser = t.parser.lock().unwrap();
    let screen = parser.screen();
    let (rows, cols) = screen.size();
    let mut any = false;
    let mut beyond16 = false;
    for r in 0..rows {
        for c in 0..cols {
            let Some(cell) = screen.cell(r, c) else {
                continue;
            };
            for colour in [cell.fgcolor(), cell.bgcolor()] {
                match colour {
                    vt100::Color::Default => {}
                    vt100::Color::Idx(i) => {
                        any = true;
                        beyond16 |= i >= 16;
                    }
                    vt100::Color::Rgb(..) => {
                        any = true;
                        beyond16 = true;
                    }
                }
            }
        }
    }
    (any, beyond16)
}

#[test]
fn colours_follow_the_terminal_no_color_16_and_256() {
    for (term, no_color, want_any, want_beyond16) in [
        ("xterm-256color", "", true, true),
        ("xterm", "", true, false),
        ("xterm-256color", "1", false, false),
    ] {
        let mut t = Tui::spawn_with(&[demo()], 80, 24, &[("TERM", term), ("NO_COLOR", no_color)]);
        t.wait_text("34 runs");
        t.wait_text("✗ timeout");
        let (any, beyond16) = colours_used(&t);
        assert_eq!(
            (any, beyond16),
            (want_any, want_beyond16),
            "TERM={term} NO_COLOR={no_color:?}"
        );
        // Without colour, the selection still shows (reverse video and the `›` mark).
        let parser = t.parser.lock().unwrap();
        let screen = parser.screen();
        let row = (0..24)
            .find(|&r| screen.cell(r, 0).is_some_and(|c| c.contents() == "›"))
            .expect("a selected row");
        assert!(screen.cell(row, 5).unwrap().inverse() || want_beyond16);
        drop(parser);
        t.keys("q");
        t.wait_exit();
        t.assert_restored();
    }
}

/// Strings that try to retitle the terminal, write the clipboard, clear the screen,
/// overwrite a line and reverse text.
fn hostile_run(dir: &Path) -> std::path::PathBuf {
    let id = r"r-evil\u001b]0;PWNED\u0007";
    let lines = [
        format!(
            r#"{{"run_id":"{id}","step":0,"ts":"2026-11-20T10:00:00Z","kind":"run_start","agent":"evil\u001b[2J\u001b[H-agent","input":{{"text":"hi\u001b]52;c;aGk=\u0007there"}}}}"#
        ),
        format!(
            r#"{{"run_id":"{id}","step":1,"parent":0,"ts":"2026-11-20T10:00:01Z","kind":"tool_call","name":"send\r\u202eliame","input":{{"x":"\u001b[31mred\u001b[0m"}}}}"#
        ),
        format!(
            r#"{{"run_id":"{id}","step":2,"parent":1,"ts":"2026-11-20T10:00:02Z","kind":"tool_result","name":"x\u009b31m","status":"error","error":{{"code":"E\u001b]2;TITLE\u0007","message":"boom\rfake"}},"output":"line1\nline2\u001b]52;c;ZXZpbA==\u0007\u001b]0;OWNED\u001b\\"}}"#
        ),
        format!(
            r#"{{"run_id":"{id}","step":3,"parent":2,"ts":"2026-11-20T10:00:03Z","kind":"run_end","outcome":"failure","error":"\u001b]0;bye\u0007"}}"#
        ),
    ];
    let path = dir.join("evil.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

#[test]
fn a_hostile_run_changes_no_terminal_state_and_shows_its_text_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let path = hostile_run(dir.path());
    let mut t = Tui::spawn(&[&path], 160, 48);
    let screen = t.wait_text(r"r-evil\x1b]0;PWNED\x07");
    assert!(screen.contains(r"evil\x1b[2J"));
    // Walk every step through the timeline, tree and detail.
    t.keys("\t");
    t.wait_text("Timeline");
    for step in 0..4 {
        t.wait_text(&format!("Detail #{step}"));
        t.keys("j");
    }
    t.keys("k");
    t.wait_text("Detail #2");
    let screen = t.wait_text(r"E\x1b]2;TITLE\x07: boom\rfake");
    assert!(screen.contains(r"send\r\u{202e}liame"));
    assert!(screen.contains(r"line2\x1b]52;c;ZXZpbA==\x07\x1b]0;OWNED\x1b\"));
    assert!(screen.contains(r"x\u{9b}31m"));
    t.keys("3");
    t.wait_text("▶ Decision tree");
    t.keys("q");
    t.wait_exit();
    t.assert_restored();
    let p = t.parser.lock().unwrap();
    let rec = p.callbacks();
    assert!(rec.titles.is_empty(), "title set: {:?}", rec.titles);
    assert!(
        rec.icon_names.is_empty(),
        "icon name set: {:?}",
        rec.icon_names
    );
    assert!(
        rec.clipboard.is_empty(),
        "clipboard written: {:?}",
        rec.clipboard
    );
    assert_eq!(rec.other_osc, 0, "an OSC reached the terminal");
    assert_eq!(rec.bells, 0, "a bell rang");
}

/// A step whose output is 30 MB: the UI answers while it is read, the detail shows its
/// start and offers the rest.
#[test]
fn a_huge_output_opens_without_freezing_the_ui() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.jsonl");
    let body = "the quick brown fox jumps over the lazy dog ".repeat(700_000);
    let lines = [
        r#"{"run_id":"r-huge","step":0,"ts":"2026-11-20T10:00:00Z","kind":"run_start","agent":"scraper"}"#.to_string(),
        format!(r#"{{"run_id":"r-huge","step":1,"parent":0,"ts":"2026-11-20T10:00:01Z","kind":"tool_result","name":"fetch","status":"ok","output":{{"body":"{body}"}}}}"#),
        r#"{"run_id":"r-huge","step":2,"parent":1,"ts":"2026-11-20T10:00:02Z","kind":"run_end","outcome":"success"}"#.to_string(),
    ];
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let mut t = Tui::spawn(&[&path], 80, 24);
    t.wait_text("r-huge");
    t.keys("2");
    t.wait_text("step #0 of 3");
    t.keys("j");
    t.wait_text("Detail #1");
    // Keys are answered while the big record is read and laid out.
    t.keys("jk");
    t.wait("step 1 selected again", |s| {
        selected_row(&s.contents()).is_some_and(|r| r.contains(" 1 "))
    });
    t.keys("4");
    t.wait_text("the quick brown fox");
    t.wait_text("30.5 MB more");
    // At the end of what is shown, more is read on demand.
    t.keys("G");
    t.wait_text("29.8 MB more");
    t.keys("q");
    t.wait_exit();
    t.assert_restored();
}

#[test]
fn a_missing_path_is_an_error_before_the_screen_is_taken() {
    let mut t = Tui::spawn(&[Path::new("no/such/folder")], 80, 24);
    let status = t.wait_exit();
    assert_eq!(status.exit_code(), 1);
    t.wait_text("no/such/folder");
    t.assert_restored();
}

/// The 1 GB history of `gen_runs.py` (set `RETRACE_BIG_HISTORY` to its path): the first
/// runs are on screen within 0.3 s and the UI answers keys while indexing goes on.
#[test]
#[ignore = "needs the 1 GB benchmark history; set RETRACE_BIG_HISTORY"]
fn a_big_history_shows_its_first_runs_within_300ms() {
    let Some(big) = std::env::var_os("RETRACE_BIG_HISTORY") else {
        return;
    };
    let big = std::path::PathBuf::from(big);
    let start = Instant::now();
    let mut t = Tui::spawn(&[&big], 80, 24);
    t.wait_text("run-0000");
    let first = start.elapsed();
    let screen = t.contents();
    eprintln!("first runs on screen after {first:?}");
    // While it still loads, the UI answers.
    let loading = screen.contains("loading");
    let key = Instant::now();
    t.keys("j");
    t.wait("the second run selected", |s| {
        s.contents()
            .lines()
            .nth(4)
            .is_some_and(|l| l.starts_with('›'))
    });
    eprintln!("a key answered in {:?} (loading: {loading})", key.elapsed());
    t.wait("the load to finish", |s| !s.contents().contains("loading "));
    eprintln!("loaded after {:?}", start.elapsed());
    // Keys still answer at the end of a million-row history.
    t.keys("G");
    t.wait("the last run selected", |s| {
        s.contents().contains("Runs 51403/51403")
    });
    t.keys("q");
    t.wait_exit();
    t.assert_restored();
    assert!(first < Duration::from_millis(300), "{first:?}");
}

/// One native line of run `run`: step `step` at second `sec` (step 0 starts the run).
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
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all((lines.join("\n") + "\n").as_bytes()).unwrap();
}

/// User and system CPU time of a process, in clock ticks (Linux).
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

#[test]
fn a_run_written_while_the_tui_is_open_appears_and_follow_mode_tails_it() {
    let dir = tempfile::tempdir().unwrap();
    let old: Vec<String> = (0..3).map(|s| live_line("r-old", s, s)).collect();
    append(&dir.path().join("old.jsonl"), &old);
    let mut t = Tui::spawn(&[dir.path()], 80, 24);
    t.wait_text("◉ watching");
    t.wait_text("r-old");
    // Idle while watching: next to no CPU.
    if let Some(pid) = t.child.process_id() {
        if let Some(before) = cpu_ticks(pid) {
            std::thread::sleep(Duration::from_secs(2));
            let used = cpu_ticks(pid).unwrap() - before;
            assert!(used <= 10, "{used} ticks of CPU in 2 s of idling");
        }
    }
    // A new run arrives: listed and marked new, the selection stays on the old run.
    let live = dir.path().join("live.jsonl");
    append(
        &live,
        &[live_line("r-live", 0, 600), live_line("r-live", 1, 601)],
    );
    let screen = t.wait("r-live listed as new", |s| {
        let c = s.contents();
        c.contains("●r-live") && c.contains("◉ watching · last ")
    });
    assert!(screen.contains("● 1 new"), "{screen}");
    assert!(selected_row(&screen).unwrap().contains("r-old"), "{screen}");
    assert!(screen.contains("last "), "{screen}");
    // Open it, follow it, and write more steps: the newest is in view and selected.
    t.keys("G");
    t.wait("r-live selected", |s| {
        selected_row(&s.contents()).is_some_and(|r| r.contains("r-live"))
    });
    t.keys("\rF");
    t.wait_text("⇣ follow");
    let more: Vec<String> = (2..=40).map(|s| live_line("r-live", s, 600 + s)).collect();
    append(&live, &more);
    let screen = t.wait("step 40 selected", |s| {
        selected_row(&s.contents()).is_some_and(|r| r.contains("tool_40"))
    });
    assert!(screen.contains("step #40 of 41"), "{screen}");
    // Moving stops following: the next step arrives but the selection stays.
    t.keys("k");
    t.wait("step 39 selected", |s| {
        selected_row(&s.contents()).is_some_and(|r| r.contains("tool_39"))
    });
    append(&live, &[live_line("r-live", 41, 700)]);
    let screen = t.wait_text("of 42");
    assert!(
        selected_row(&screen).unwrap().contains("tool_39"),
        "{screen}"
    );
    t.keys("q");
    t.wait_exit();
    t.assert_restored();
}

#[test]
fn an_otel_trace_opens_with_its_format_in_the_status_bar() {
    let mut t = Tui::spawn(&[Path::new("tests/fixtures/otel/traces.jsonl")], 160, 48);
    let screen = t.wait_text("(otel) · step #0");
    assert!(screen.contains("invoke_agent"), "{screen}");
    t.keys("f");
    let screen = t.wait_text("SMTP_AUTH_INVALID: 535");
    assert!(selected_row(&screen).is_some(), "{screen}");
    t.keys("q");
    t.wait_exit();
    t.assert_restored();
}

#[test]
fn d_opens_the_diff_of_a_failing_run_at_its_divergence() {
    let mut t = Tui::spawn(&[demo()], 160, 48);
    t.wait_text("34 runs");
    // r-2bcd0cc3 is the 20th run of the demo.
    t.keys(&"j".repeat(19));
    t.wait("r-2bcd0cc3 selected", |s| {
        selected_row(&s.contents()).is_some_and(|r| r.contains("r-2bcd0cc3"))
    });
    t.keys("d");
    // Waits for the whole frame (a frame can arrive in more than one read).
    let screen = t.wait("the diff at its divergence", |s| {
        let c = s.contents();
        c.contains("▶ diverges at A #15 / B #15")
            && c.contains("┆ #16")
            && selected_row(&c).is_some_and(|r| r.contains("▶ #15 result send_email"))
    });
    assert!(
        screen.contains("B picked automatically: same agent"),
        "{screen}"
    );
    let row = selected_row(&screen).unwrap();
    assert!(
        row.contains("▶ #15 result send_email ✗ SMTP_AUTH_INVALID"),
        "{row}"
    );
    assert!(screen.contains("┆ #16"), "{screen}");
    // Esc closes the diff, back to the panes.
    t.keys("\x1b");
    t.wait("the diff closed", |s| !s.contents().contains("diverges at"));
    t.keys("q");
    t.wait_exit();
    t.assert_restored();
}

#[test]
fn slash_search_highlights_matches_and_enter_jumps_to_the_step() {
    let mut t = Tui::spawn(&[demo()], 160, 48);
    t.wait_text("34 runs");
    t.keys("/smtp_auth");
    let screen = t.wait("results for smtp_auth", |s| {
        let c = s.contents();
        c.contains("/ smtp_auth▏") && c.contains("#17 error SMTP_AUTH_INVALID")
    });
    // The matched characters are drawn bold; the rest of the snippet is not.
    {
        let p = t.parser.lock().unwrap();
        let s = p.screen();
        let (row, line) = screen
            .lines()
            .enumerate()
            .find(|(_, l)| l.contains("#17 error SMTP_AUTH_INVALID"))
            .unwrap();
        let col = line
            .find("SMTP_AUTH_INVALID")
            .map(|b| line[..b].chars().count())
            .unwrap();
        let cell = |c: usize| s.cell(row as u16, c as u16).unwrap();
        assert!(cell(col).bold(), "{line}");
        assert!(!cell(col + 20).bold(), "{line}");
    }
    // Move the selection to that step hit (results may still be re-ranked while the text
    // index grows, and run-level hits open the run list, not a step).
    let lines: Vec<&str> = screen.lines().collect();
    let selected = lines.iter().position(|l| l.contains("┃›r-")).unwrap();
    let target = lines
        .iter()
        .position(|l| l.contains("#17 error SMTP_AUTH_INVALID"))
        .unwrap();
    let hit = lines[target];
    let hit = &hit[hit.find("r-").unwrap()..];
    let mut words = hit.split_whitespace();
    let run = words.next().unwrap().to_string();
    let step = words.next().unwrap().trim_start_matches('#').to_string();
    let moves = if target >= selected {
        "\x1b[B".repeat(target - selected)
    } else {
        "\x1b[A".repeat(selected - target)
    };
    t.keys(&moves);
    t.wait("the step hit selected", |s| {
        s.contents()
            .lines()
            .any(|l| l.contains("┃›") && l.contains(&run) && l.contains("#17 error"))
    });
    t.keys("\r");
    // Waits for the whole frame (a screen caught mid-draw can hold the old rows).
    t.wait(&format!("step {step} of {run} selected"), |s| {
        let c = s.contents();
        c.contains(&format!("Timeline {run}"))
            && !c.contains("Search ·")
            && c.contains(&format!("step #{step} of"))
            && c.lines()
                .find(|l| l.starts_with("┃›"))
                .is_some_and(|r| r.contains(&format!("{step} ")))
    });
    t.keys("q");
    t.wait_exit();
    t.assert_restored();
}

#[test]
fn w_shows_the_waterfall_and_b_narrows_the_runs_to_the_strips_bucket() {
    let mut t = Tui::spawn(&[demo()], 160, 48);
    t.wait_text("34 runs");
    // The failure strip above the run list, the selected run's bucket marked.
    let screen = t.wait_text("✗ per hour");
    assert!(screen.contains("▲ 11-23 09:00"), "{screen}");
    // r-2bcd0cc3 is the 20th run of the demo; its first failure is step 15.
    t.keys(&"j".repeat(19));
    t.wait_text("Timeline r-2bcd0cc3");
    t.keys("w");
    // The axis spans the run; the failing step's bar is a ✗.
    t.wait("the waterfall's axis", |s| {
        s.contents()
            .lines()
            .any(|l| l.contains("DUR 0───") && l.contains("─7.7s ERROR"))
    });
    t.keys("f");
    t.wait("step 15 with its bar", |s| {
        s.contents().lines().any(|l| {
            l.contains("send_email") && l.contains("✗ error") && l.matches('✗').count() >= 3
        })
    });
    t.keys("w");
    t.wait("the waterfall gone", |s| !s.contents().contains("DUR 0───"));
    // b: only the runs of that hour (09:00-10:00 on 2026-11-25), and back.
    t.keys("1b");
    let screen = t.wait_text("only 11-25 09:00–10:00");
    assert!(screen.contains("Runs 1/2"), "{screen}");
    t.keys("b");
    t.wait_text("Runs 20/34");
    t.keys("q");
    t.wait_exit();
    t.assert_restored();
}

#[test]
fn bang_shows_the_problems_with_their_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.jsonl");
    std::fs::write(
        &path,
        concat!(
            r#"{"run_id":"r-ok","step":0,"ts":"2026-11-20T10:00:00Z","kind":"run_start","agent":"a"}"#,
            "\n",
            r#"{"run_id":"r-ok","step":1,"#,
            "\n",
            r#"{"run_id":"r-ok","step":2,"parent":0,"ts":"2026-11-20T10:00:01Z","kind":"run_end","outcome":"success"}"#,
            "\n",
        ),
    )
    .unwrap();
    let mut t = Tui::spawn(&[dir.path()], 160, 40);
    let screen = t.wait_text("r-ok");
    t.wait_text("1 problems (! shows)");
    assert!(!screen.contains("runs.jsonl:2"), "{screen}");
    t.keys("!");
    let screen = t.wait_text("runs.jsonl:2");
    assert!(screen.contains("Problems"), "{screen}");
    assert!(screen.contains("not valid JSON"), "{screen}");
    t.keys("\x1b");
    t.wait("the problems view to close", |s| {
        !s.contents().contains("runs.jsonl:2")
    });
    t.keys("q");
    assert!(t.wait_exit().success());
    t.assert_restored();
}

/// Opens the demo's failing run r-2bcd0cc3 at its first failure.
fn open_failing_run(t: &mut Tui) {
    t.wait_text("34 runs");
    // r-2bcd0cc3 is the 20th run of the demo.
    t.keys(&"j".repeat(19));
    t.wait("r-2bcd0cc3 selected", |s| {
        selected_row(&s.contents()).is_some_and(|r| r.contains("r-2bcd0cc3"))
    });
    t.keys("\r");
    t.keys("f");
    t.wait_text("step #15 of 24");
}

#[test]
fn a_post_mortem_is_noted_reported_and_its_notes_survive_a_restart() {
    let library = tempfile::tempdir().unwrap();
    let lib = library.path().to_str().unwrap();
    let env = [("RETRACE_LIBRARY", lib)];
    let mut t = Tui::spawn_with(&[demo()], 160, 48, &env);
    open_failing_run(&mut t);
    t.keys("x");
    t.wait_text("step 15 marked as the root cause");
    t.keys("e");
    t.wait_text("Note on step 15");
    t.keys("the CRM token was rotated at 09:00");
    t.keys("\r");
    t.wait_text("note on step 15 saved");
    t.keys("a");
    t.wait_text("New action item");
    t.keys("improve the agent");
    let screen = t.wait_text("vague");
    assert!(screen.contains("no owner"), "{screen}");
    t.keys("\r");
    t.wait_text("action item 1 saved, flagged");
    t.keys("C");
    t.wait_text("auto (the classifier's)");
    t.keys("j\r");
    t.wait_text("category: ");
    t.keys("W");
    t.wait_text("report saved: ");
    t.keys("q");
    t.wait_exit();
    t.assert_restored();
    let report = library.path().join("reports");
    assert!(
        std::fs::read_dir(&report).unwrap().count() == 1,
        "one report in {report:?}"
    );
    // Restart: the notes are back.
    let mut t = Tui::spawn_with(&[demo()], 160, 48, &env);
    open_failing_run(&mut t);
    let screen = t.wait_text("◆✎");
    assert!(screen.contains("r-2bcd0cc3"), "{screen}");
    t.keys("q");
    t.wait_exit();
    t.assert_restored();
}

/// POSTs an OTLP/JSON body to `/v1/traces`; the status code of the answer.
fn post_traces(addr: &str, body: &str) -> u16 {
    use std::net::TcpStream;
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "POST /v1/traces HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    reply
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {reply:?}"))
}

/// One span of `trace` as OTLP/JSON, in a request of the service `listen-bot`.
fn otlp_span(trace: &str, span: &str, parent: &str, name: &str, ms: u64) -> String {
    let ns = |ms: u64| (1_700_000_000_000 + ms) * 1_000_000;
    format!(
        r#"{{"resourceSpans":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"listen-bot"}}}}]}},"scopeSpans":[{{"spans":[{{"traceId":"{trace}","spanId":"{span}","parentSpanId":"{parent}","name":"{name}","startTimeUnixNano":"{}","endTimeUnixNano":"{}","status":{{"code":1}}}}]}}]}}]}}"#,
        ns(ms),
        ns(ms + 50)
    )
}

#[test]
fn listen_receives_runs_live_shows_receiver_problems_and_quits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // No path and no --save: only the per-user save folder is read, not the current one.
    let args = [Path::new("--listen"), Path::new("127.0.0.1:0")];
    let xdg = data.to_str().unwrap();
    let mut t = Tui::spawn_with(&args, 160, 40, &[("XDG_DATA_HOME", xdg)]);
    let screen = t.wait_text(" received ");
    let addr = screen
        .split("⇠ OTLP ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("the address in the status line:\n{screen}"))
        .to_string();
    assert!(addr.starts_with("127.0.0.1:"), "{screen}");
    assert!(!addr.ends_with(":0"), "the port it got is shown: {screen}");
    t.wait_text("◉ watching");

    // A child arrives before its root: one run, still running.
    let trace = "5e1ec7ed5e1ec7ed5e1ec7ed5e1ec7ed";
    let child = otlp_span(trace, "00000000000000c1", "00000000000000a1", "lookup", 10);
    assert_eq!(post_traces(&addr, &child), 200);
    // (The count comes from the receiver, the run from the watcher: either may be first.)
    t.wait("the run listed as running, the request counted", |s| {
        let c = s.contents();
        c.contains("1 received")
            && c.lines()
                .any(|l| l.contains("5e1ec7ed") && l.contains("running"))
    });
    // Its root (the parent, sent last) completes it.
    let root = otlp_span(trace, "00000000000000a1", "", "agent", 0);
    assert_eq!(post_traces(&addr, &root), 200);
    let screen = t.wait("the run succeeded, with its agent", |s| {
        let c = s.contents();
        c.contains("2 received")
            && c.lines()
                .any(|l| l.contains("listen-bot") && l.contains("success"))
    });
    let rows = screen.lines().filter(|l| l.contains("listen-bot")).count();
    assert_eq!(rows, 1, "one run, not two: {screen}");
    // The tree is rebuilt: the child hangs under its late parent.
    t.wait("the child under its parent in the tree", |s| {
        let c = s.contents();
        c.contains("#1 lookup") && !c.contains("not found")
    });

    // A malformed request is answered 400, and is a problem of the `!` view.
    assert_eq!(post_traces(&addr, "{not json"), 400);
    t.keys("!");
    let screen = t.wait_text(&format!("http://{addr}/v1/traces"));
    assert!(screen.contains("400 POST from 127.0.0.1:"), "{screen}");
    assert!(!screen.contains("(whole file)"), "{screen}");
    t.keys("\x1b");
    t.wait("the problems view closed", |s| {
        !s.contents().contains("/v1/traces")
    });
    t.keys("q");
    let status = t.wait_exit();
    assert!(status.success(), "{status:?}");
    t.assert_restored();
    // The port is closed, and what was received is saved in the per-user folder.
    assert!(std::net::TcpStream::connect(&addr).is_err());
    let saved = data.join("retrace/received");
    let files: Vec<_> = std::fs::read_dir(&saved).unwrap().collect();
    assert!(!files.is_empty(), "nothing saved in {}", saved.display());
}

#[test]
fn a_failing_run_like_a_saved_incident_names_it_and_l_lists_the_reasons() {
    let lib = tempfile::tempdir().unwrap();
    let lib_path = lib.path().to_str().unwrap();
    let saved = std::process::Command::new(env!("CARGO_BIN_EXE_retrace"))
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .args([
            "incidents",
            "add",
            "r-2bcd0cc3",
            "--title",
            "Rotated SMTP credential",
        ])
        .arg(demo())
        .env("RETRACE_LIBRARY", lib_path)
        .output()
        .unwrap();
    assert!(saved.status.success(), "{saved:?}");
    // The billing agent's failure the same morning, opened directly.
    let mut t = Tui::spawn_with(
        &[demo(), Path::new("--at"), Path::new("r-bb19956c")],
        160,
        48,
        &[("RETRACE_LIBRARY", lib_path)],
    );
    t.wait_text("≈ looks like INC-r-2bcd0cc3: Rotated SMTP credential");
    t.keys("L");
    let screen = t.wait("the similar incidents with their reasons", |s| {
        let c = s.contents();
        c.contains("Similar past incidents") && c.contains("same error code SMTP_AUTH_INVALID")
    });
    assert!(screen.contains("environmental change"), "{screen}");
    t.keys("\x1b");
    t.wait("the list closed", |s| {
        !s.contents().contains("Similar past incidents")
    });
    // Notes on the run, then I saves it as an incident of its own.
    t.keys("x");
    t.wait_text("marked as the root cause");
    t.keys("I");
    t.wait_text("incident saved INC-r-bb19956c");
    assert!(lib.path().join("incidents/INC-r-bb19956c.json").exists());
    t.keys("q");
    t.wait_exit();
    t.assert_restored();
}

/// The word index's build waits this long (`RETRACE_TEST_INDEX_DELAY_MS`, a test hook
/// that only delays the build's start): the demo indexes in milliseconds, too fast for
/// a test to search before the index is ready.
const INDEX_NEVER: (&str, &str) = ("RETRACE_TEST_INDEX_DELAY_MS", "600000");

#[test]
fn a_search_typed_before_the_word_index_is_built_finds_text_hits_by_scanning() {
    let mut t = Tui::spawn_with(&[demo()], 160, 48, &[INDEX_NEVER]);
    t.wait_text("34 runs");
    t.wait_text("indexing text 0%");
    // "blender" is only in a tool's output: a hit from the records' text.
    t.keys("/blender");
    let screen = t.wait("a hit in a step's output", |s| {
        let c = s.contents();
        c.contains("/ blender▏") && c.contains("Vita blender")
    });
    assert!(
        screen.contains("indexing text 0%"),
        "built meanwhile:\n{screen}"
    );
    close_search_and_quit(&mut t);
    t.assert_restored();
}

#[test]
fn the_word_index_builds_after_the_load_with_its_progress_in_the_status_line() {
    let delay = ("RETRACE_TEST_INDEX_DELAY_MS", "1500");
    let mut t = Tui::spawn_with(&[demo()], 80, 24, &[delay]);
    t.wait_text("indexing text 0%");
    t.wait("the index built", |s| {
        let c = s.contents();
        c.contains("34 runs") && !c.contains("indexing text")
    });
    t.keys("/blender");
    t.wait("a hit from the index", |s| {
        s.contents().contains("Vita blender")
    });
    close_search_and_quit(&mut t);
    t.assert_restored();
}

/// Esc, then `q` once the prompt is gone (sent together they read as Alt+q).
fn close_search_and_quit(t: &mut Tui) {
    t.keys("\x1b");
    t.wait("the search closed", |s| !s.contents().contains("Search ·"));
    t.keys("q");
    t.wait_exit();
}
