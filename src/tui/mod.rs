//! The full-screen run browser (behind the `tui` feature): the run list, the selected
//! run's timeline beside its decision tree, the step detail, a status line and key hints.
//!
//! The loop: input, load batches, worker results and signals arrive as one stream of
//! [`event::Msg`]; keys become [`action::Action`]s through [`keymap::DEFAULT_KEYMAP`];
//! [`app::App`] is the only place state changes; [`ui::render`] only draws. After a
//! blocking receive everything queued is drained and applied, then one frame is drawn
//! (at most ~60 a second, inside a synchronized update). Nothing is drawn while nothing
//! happens. Slow work (reading steps, building trees and details) runs on
//! [`jobs`] workers; the history itself loads in the background while the first runs are
//! already on screen.

pub mod action;
pub mod app;
pub mod config;
pub mod diff;
pub mod document;
pub mod event;
pub mod glance;
pub mod highlight;
pub mod incidents;
pub mod jobs;
pub mod keymap;
pub mod layout;
pub mod overlays;
pub mod panes;
pub mod postmortem;
pub mod search;
pub mod terminal;
pub mod text;
pub mod theme;
pub mod ui;
pub mod workers;

#[cfg(test)]
mod meeting_tests;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::terminal::{BeginSynchronizedUpdate, EndSynchronizedUpdate};
use ratatui::layout::Rect;

use crate::index::SharedHistory;
pub use app::{App, Exit, MeetingOptions, Options};
use event::Msg;
use terminal::TerminalGuard;
use theme::{ColorDepth, ThemeName};
use workers::Workers;

use crate::index::watch::WatchOptions;
use crate::index::{History, LoadOptions};

/// The shortest time between two frames.
const FRAME: Duration = Duration::from_millis(16);

/// Options from the command line, the environment and the config file (in that order).
pub fn options(theme_flag: Option<&str>, sources: Vec<PathBuf>, poll: bool) -> Options {
    let config = config::load();
    let theme = theme_flag
        .and_then(ThemeName::parse)
        .or(config.theme)
        .unwrap_or(ThemeName::Dark);
    let mouse = std::env::var_os("RETRACE_NO_MOUSE").is_none() && config.mouse.unwrap_or(true);
    Options {
        theme,
        depth: ColorDepth::detect(),
        mouse,
        sources,
        poll,
        meeting: MeetingOptions::default(),
        library: None,
        receiving: None,
    }
}

/// Opens the history under `paths` and runs the browser until the user quits or a
/// signal arrives. Errors before the screen is taken (a missing path, no run files) are
/// returned as they are, for the caller to report. `received`: the events of the OTLP
/// receiver the caller started (`options.receiving` says where it listens); its save
/// folder is one of `paths`, so what it saves arrives through the watcher.
pub fn run(
    paths: Vec<PathBuf>,
    load: LoadOptions,
    options: Options,
    received: Option<Receiver<crate::serve::ServeEvent>>,
) -> anyhow::Result<Exit> {
    // A search typed while the history loads is looked for in the chunks as they are
    // parsed (the search session's hook), so that it is answered when the load ends.
    let text = Arc::new(crate::search::BackgroundText::new());
    let load = LoadOptions {
        line_scan: Some(text.load_hook()),
        ..load
    };
    let (history, loader) = History::open(&paths, &load)?;
    // A receiving browser may start empty: runs arrive as they are sent.
    if history.files().is_empty() && options.receiving.is_none() {
        anyhow::bail!(
            "no run files under {}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    // Sharing and following start before the screen is taken, so that their errors
    // (a name in use, no such presentation) are plain messages.
    let meeting = &options.meeting;
    let publisher = match &meeting.share {
        Some(name) => Some(
            crate::share::Publisher::start(name, meeting.share_group.as_deref())
                .map_err(|e| anyhow::anyhow!("--share {name}: {e}"))?,
        ),
        None => None,
    };
    let follower = match &meeting.follow {
        Some(name) => {
            Some(crate::share::follow(name).map_err(|e| anyhow::anyhow!("--follow {name}: {e}"))?)
        }
        None => None,
    };
    let (tx, rx) = channel::<Msg>();
    event::spawn_signals(tx.clone())?;
    if let Some(f) = follower {
        event::spawn_follower(f, tx.clone())?;
    }
    let shared = Arc::new(SharedHistory::new(history));
    let workers = Workers::spawn_searching(Arc::clone(&shared), tx.clone(), text)?;
    let (w, h) = crossterm::terminal::size().unwrap_or((80, 24));
    let mut app = App::new(shared, options, Rect::new(0, 0, w, h));
    let mut guard = TerminalGuard::enter(app.mouse)?;
    event::spawn_loader(loader, tx.clone())?;
    event::spawn_input(tx.clone())?;
    if let Some(events) = received {
        event::spawn_receiver(events, tx.clone())?;
    }
    let watch_options = WatchOptions {
        poll: app.options.poll,
        format: load.format,
        ..WatchOptions::default()
    };
    let panic_for_tests = std::env::var_os("RETRACE_TEST_PANIC").is_some();
    // A test hook: delays the word index's build (see `event::spawn_indexer`).
    let index_delay = std::env::var("RETRACE_TEST_INDEX_DELAY_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .map_or(Duration::ZERO, Duration::from_millis);

    let mut terminal_side = |app: &mut App, output: Output| -> std::io::Result<()> {
        match output {
            Output::Effects => {
                guard.set_mouse(app.mouse)?;
                if let Some(text) = app.take_clipboard() {
                    guard.copy_to_clipboard(&text)?;
                }
                if let (Some(p), Some(position)) = (publisher.as_ref(), app.take_position()) {
                    p.publish(&position);
                }
            }
            Output::Frame => {
                draw(&mut guard, app)?;
                if panic_for_tests {
                    panic!("RETRACE_TEST_PANIC: a panic on the UI thread");
                }
            }
        }
        Ok(())
    };
    let mut last_draw = Instant::now();
    terminal_side(&mut app, Output::Frame)?;
    while turn(&mut app, &rx, &workers, &mut last_draw, &mut terminal_side)? {
        if app.wants_watcher() {
            // The load is folded in: follow the files from where it stopped, and build
            // the word index (not before: it would compete with the load for the cores;
            // searches scan meanwhile).
            let shared = Arc::clone(&app.shared);
            event::spawn_watcher(paths.clone(), shared, watch_options.clone(), tx.clone())?;
            let shared = Arc::clone(&app.shared);
            event::spawn_indexer(workers.text(), shared, index_delay, tx.clone())?;
        }
    }
    drop(guard);
    Ok(app.exit.unwrap_or(Exit::Quit))
}

/// What a turn asks of the terminal side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// After every settle: what the app asked of the outside world (the mouse mode, the
    /// clipboard, the position followers see), whether or not a frame is drawn.
    Effects,
    /// Draw one frame.
    Frame,
}

/// One turn of the browser's loop: waits for a message, drains what is queued (within
/// one frame's time), hands queued work to the workers, and draws one frame if anything
/// changed: at most one per `FRAME` while only the load or the workers report, at once
/// when a key or the mouse asked for something. Returns false when the app stops.
/// (The benchmark `benches/browse_1g.rs` drives this same function.)
pub fn turn(
    app: &mut App,
    rx: &Receiver<Msg>,
    workers: &Workers,
    last_draw: &mut Instant,
    out: &mut dyn FnMut(&mut App, Output) -> std::io::Result<()>,
) -> std::io::Result<bool> {
    let first = if app.has_deferred_work() {
        // Batches wait (for the write lock, or their turn): look again soon.
        rx.recv_timeout(Duration::from_millis(1))
    } else if let Some(due) = app.next_tick() {
        // A replay plays: wake when its next step is due (and not before).
        rx.recv_timeout(due.saturating_duration_since(Instant::now()))
    } else {
        rx.recv().map_err(|_| RecvTimeoutError::Disconnected)
    };
    match first {
        Ok(msg) => app.handle(msg),
        Err(RecvTimeoutError::Timeout) => {}
        Err(RecvTimeoutError::Disconnected) => return Ok(false),
    }
    let budget = Instant::now() + FRAME;
    // A key waiting to be drawn ends the drain: news can wait for the next turn.
    while app.exit.is_none() && !app.input_waiting() && Instant::now() < budget {
        match rx.try_recv() {
            Ok(msg) => app.handle(msg),
            Err(_) => break,
        }
    }
    if app.next_tick().is_some_and(|due| due <= Instant::now()) {
        app.handle(Msg::Tick(Instant::now()));
    }
    settle(app, workers);
    out(app, Output::Effects)?;
    if app.exit.is_some() {
        return Ok(false);
    }
    if app.is_dirty() {
        if !app.input_waiting() {
            // Only news: keep collecting until the next frame is due, folding waiting
            // batches meanwhile (a slice at a time, so that a key waits for one slice
            // at most) rather than leaving them for the next turn.
            let due = *last_draw + FRAME;
            while let Some(left) = due.checked_duration_since(Instant::now()) {
                let wait = if app.has_deferred_work() {
                    Duration::ZERO
                } else {
                    left
                };
                match rx.recv_timeout(wait) {
                    Ok(msg) => app.handle(msg),
                    Err(RecvTimeoutError::Timeout) if wait == Duration::ZERO => {
                        if !app.fold_pending() {
                            // A worker holds the history: do not spin on it.
                            if let Ok(msg) = rx.recv_timeout(left.min(Duration::from_millis(1))) {
                                app.handle(msg);
                            }
                        }
                    }
                    Err(_) => break,
                }
                if app.input_waiting() {
                    break;
                }
            }
            settle(app, workers);
            out(app, Output::Effects)?;
            if app.exit.is_some() {
                return Ok(false);
            }
        }
        out(app, Output::Frame)?;
        *last_draw = Instant::now();
    }
    Ok(true)
}

/// Applies what the drained messages brought and hands queued work to the workers.
/// While a key waits to be drawn, the history is not grown (it is, on the next turn).
fn settle(app: &mut App, workers: &Workers) {
    app.after_drain();
    for request in app.take_requests() {
        workers.submit(request);
    }
}

fn draw(guard: &mut TerminalGuard, app: &mut App) -> std::io::Result<()> {
    app.take_dirty();
    let size = guard.terminal.size()?;
    if (size.width, size.height) != (app.size.width, app.size.height) {
        app.resize(Rect::new(0, 0, size.width, size.height));
        app.take_dirty();
    }
    crossterm::queue!(guard.terminal.backend_mut(), BeginSynchronizedUpdate)?;
    guard.terminal.draw(|f| ui::render(app, f))?;
    crossterm::execute!(guard.terminal.backend_mut(), EndSynchronizedUpdate)?;
    Ok(())
}
