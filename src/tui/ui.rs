//! Draws one frame from the app's state: lays out the panes for the frame's size and has
//! each draw itself, then the bars and the help overlay. Only draws: it changes nothing
//! and reads nothing but the state and the (in-memory) index.

use ratatui::widgets::Widget;
use ratatui::Frame;

use super::app::App;
use super::keymap::{hints, DEFAULT_KEYMAP};
use super::layout::areas;
use super::overlays::Overlay;
use super::panes::clear;
use super::panes::detail::DetailView;
use super::panes::help::{self, HelpView};
use super::panes::present::{draw_box, PresentView};
use super::panes::run_list::RunListView;
use super::panes::status::{hint_pieces, StatusLine, TabBar};
use super::panes::timeline::TimelineView;
use super::panes::tree::TreeView;
use super::text::{self, bytes, Piece};
use super::theme::Role;
use crate::index::History;
use crate::redact::Redaction;
use crate::sanitize;
use crate::time::format_short;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

pub fn render(app: &App, frame: &mut Frame) {
    let h = app.shared.read();
    let size = frame.area();
    let a = areas(size, app.focus);
    let buf = frame.buffer_mut();
    clear(buf, size);
    let theme = &app.theme;
    let run = app
        .timeline
        .run
        .filter(|&r| r < h.run_count())
        .map(|r| h.run(r));
    if let Some(t) = a.tabs {
        TabBar {
            focus: app.focus,
            theme,
        }
        .render(t, buf);
    }
    if let Some(r) = a.runs {
        RunListView {
            state: &app.runs,
            history: &h,
            theme,
            focused: app.focus == super::layout::Pane::Runs,
            mode: a.mode,
            loading: app.load.fraction(),
        }
        .render(r, buf);
    }
    let structure = app
        .tree
        .structure
        .as_ref()
        .filter(|s| Some(s.run) == app.timeline.run);
    if let Some(r) = a.timeline {
        TimelineView {
            state: &app.timeline,
            run,
            trigger: structure.map(|s| s.trigger.as_deref()),
            theme,
            focused: app.focus == super::layout::Pane::Timeline,
            mode: a.mode,
            glance: &app.glance,
            notes: app.notes.current.as_ref(),
        }
        .render(r, buf);
    }
    if let Some(r) = a.tree {
        TreeView {
            state: &app.tree,
            run,
            theme,
            focused: app.focus == super::layout::Pane::Tree,
            mode: a.mode,
        }
        .render(r, buf);
    }
    if let Some(r) = a.detail {
        let summary = run.and_then(|run| {
            let step = app.detail.target.map(|(_, s)| s as usize)?;
            (step < run.step_count()).then(|| run.step(step))
        });
        DetailView {
            state: &app.detail,
            summary,
            theme,
            focused: app.focus == super::layout::Pane::Detail,
            mode: a.mode,
        }
        .render(r, buf);
    }
    let presenting = app.meeting.presenting;
    if presenting {
        // Presenter mode covers the panes and both bars; its status goes on the last line.
        let body = Rect::new(size.x, size.y, size.width, size.height.saturating_sub(1));
        clear(buf, size);
        present(app, run, body, buf);
    }
    for overlay in &app.overlays {
        match overlay {
            Overlay::Diff(d) => {
                let r = super::panes::diff::area(size);
                clear(buf, r);
                let shown = app.shown_diff(d);
                super::panes::diff::DiffView {
                    state: &shown,
                    theme,
                }
                .render(r, buf);
            }
            Overlay::Search(s) => super::panes::search::SearchView { state: s, theme }
                .render(super::panes::search::area(size), buf),
            Overlay::Problems(p) => super::panes::problems::ProblemsView {
                problems: h.problems(),
                state: p,
                theme,
            }
            .render(super::panes::problems::area(size), buf),
            Overlay::Chooser(c) => super::panes::notes::draw_chooser(buf, size, c, theme),
            Overlay::Incident(i) => super::panes::notes::draw_incident(buf, size, i, theme),
            Overlay::Similar(s) => super::panes::similar::draw(buf, size, s, theme),
            Overlay::Library(l) => super::panes::library::draw(buf, size, l, theme),
            Overlay::Input(i) => super::panes::notes::draw_input(buf, size, i, theme),
            // Over the status and hint lines too: drawn last.
            Overlay::Help(_) | Overlay::Confirm(_) | Overlay::Note(_) => {}
        }
    }
    // Presenter mode: the status on the last line, no key hints.
    let status = if presenting { a.hints } else { a.status };
    StatusLine {
        base: Role::Status,
        left: status_left(app, &h, status.width as usize),
        right: status_right(app, status.width as usize),
        theme,
    }
    .render(status, buf);
    if !presenting {
        let hint_list = hints(DEFAULT_KEYMAP, &app.hint_contexts());
        StatusLine {
            base: Role::Text,
            left: hint_pieces(&hint_list, a.hints.width as usize),
            right: Vec::new(),
            theme,
        }
        .render(a.hints, buf);
    }
    if let Some(scroll) = app.help() {
        HelpView {
            lines: &app.help_lines,
            scroll,
            theme,
        }
        .render(help::area(size, app.help_lines.len()), buf);
    }
    match app.overlay() {
        Some(Overlay::Confirm(q)) => draw_box(
            buf,
            size,
            "Are you sure?",
            q.text(),
            "y: yes   n or Esc: no",
            theme,
        ),
        Some(Overlay::Note(line)) => draw_box(
            buf,
            size,
            "This position",
            &sanitize::line(line),
            "copied to the clipboard where the terminal allows (OSC 52) · any key closes",
            theme,
        ),
        _ => {}
    }
}

/// Presenter mode's screen: the step's card and the timeline around it.
fn present(app: &App, run: Option<crate::index::RunRef<'_>>, body: Rect, buf: &mut Buffer) {
    let step = app.timeline.cursor.selected;
    PresentView {
        run,
        step,
        len: app.timeline.len,
        card: app.meeting.card_for_step(step as u32),
        card_error: app.meeting.card_error.as_deref(),
        marks: &app.meeting.marks,
        redaction: app.meeting.redact.then(Redaction::default),
        replay: app.meeting.replay.as_ref().map(|(r, _)| {
            let state = if r.playing { "▶" } else { "⏸" };
            format!("{state} replay ×{}", r.speed())
        }),
        theme: &app.theme,
    }
    .render(body, buf);
}

fn status_left(app: &App, h: &History, cols: usize) -> Vec<Piece> {
    let mut p: Vec<Piece> = Vec::new();
    let sources: Vec<String> = app
        .options
        .sources
        .iter()
        .map(|s| sanitize::line(&s.display().to_string()).into_owned())
        .collect();
    if !sources.is_empty() {
        p.push((Role::Title, format!(" {} · ", sources.join(" "))));
    }
    if let Some(run) = app.timeline.run {
        if run < h.run_count() {
            p.push((
                Role::Status,
                format!(
                    "run {}/{} ({}) · step #{} of {} · ",
                    app.runs.cursor.selected + 1,
                    app.runs.len(),
                    h.run(run).format().as_str(),
                    app.timeline.cursor.selected,
                    app.timeline.len
                ),
            ));
        }
    }
    p.push((
        Role::Status,
        if cols >= 100 {
            format!(
                "{} runs ({} ✗) · {} steps · {} files",
                h.run_count(),
                app.runs.failed,
                h.step_count(),
                h.files().len()
            )
        } else {
            format!(
                "{} runs ({} ✗) · {} files",
                h.run_count(),
                app.runs.failed,
                h.files().len()
            )
        },
    ));
    if !h.problems().is_empty() {
        p.push((
            Role::Status,
            format!(" · ⚠ {} problems (! shows)", h.problems().len()),
        ));
    }
    if let Some(took) = app.load.took {
        p.push((
            Role::Status,
            format!(" · loaded in {:.1}s", took.as_secs_f64()),
        ));
    }
    if let Some(e) = &app.load.error {
        p.push((Role::Error, format!(" · ✗ {}", sanitize::line(e))));
    }
    p
}

/// ` ⇠ OTLP 127.0.0.1:4318 · 3 received `: where the receiver listens (a warning when
/// other machines can send), and the requests saved so far.
fn receiving(addr: std::net::SocketAddr, r: &crate::tui::app::ReceiverState) -> Piece {
    let role = if addr.ip().is_loopback() {
        Role::Ok
    } else {
        Role::Warn
    };
    let open = if addr.ip().is_loopback() {
        ""
    } else {
        " (open to the network)"
    };
    (
        role,
        format!(" ⇠ OTLP {addr}{open} · {} received ", r.requests),
    )
}

/// Kept whole at the right of the status line: loading progress, watching and follow
/// mode, and the last message.
fn status_right(app: &App, cols: usize) -> Vec<Piece> {
    let mut p = Vec::new();
    if let Some(w) = &app.watch {
        match &w.failed {
            Some(e) => p.push((
                Role::Error,
                format!(" ✗ watch stopped: {} ", sanitize::line(e)),
            )),
            None => {
                let mut s = String::from(" ◉ watching");
                if w.polling {
                    s.push_str(" (polling)");
                }
                if let Some(t) = w.last_event {
                    let t = format_short(t);
                    s.push_str(&format!(" · last {}", t.get(11..).unwrap_or(&t)));
                }
                s.push(' ');
                p.push((Role::Ok, s));
            }
        }
    }
    if let Some(addr) = app.options.receiving {
        p.push(receiving(addr, &app.receiver));
    }
    if app.follow {
        p.push((Role::Accent, " ⇣ follow ".into()));
    }
    p.extend(app.meeting_status());
    if let Some(f) = app.load.fraction() {
        p.push((
            Role::Warn,
            format!(
                " loading {:.0}% {}/{} ",
                f * 100.0,
                bytes(app.load.read),
                bytes(app.load.total)
            ),
        ));
    }
    if let Some(t) = app.text_index.filter(|t| t.building) {
        let done = if t.total == 0 {
            0.0
        } else {
            (t.indexed as f64 / t.total as f64).min(1.0)
        };
        p.push((
            Role::Warn,
            format!(" indexing text {:.0}% ", (done * 100.0).floor()),
        ));
    }
    if app.detail.loading_more {
        p.push((Role::Warn, " loading more… ".into()));
    }
    if let Some(m) = &app.message {
        p.push((Role::Warn, format!(" {} ", sanitize::line(m))));
    }
    // Never more than the line: the oldest news (watching) goes first, then the rest.
    while p.len() > 1 && p.iter().map(|(_, s)| text::width(s)).sum::<usize>() >= cols {
        p.remove(0);
    }
    p
}
