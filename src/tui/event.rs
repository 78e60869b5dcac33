//! Everything that happens arrives as one [`Msg`] on one channel: terminal input, batches
//! of the background load, results of workers, signals. This module also starts the
//! threads that feed the channel (input, loader, watcher, OTLP receiver, signals); it
//! never changes app state.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::Duration;

use crossterm::event::Event;

use super::diff::DiffDoc;
use super::document::DetailDoc;
use super::search::SearchDoc;
use std::path::PathBuf;

use crate::index::watch::{WatchEvent, WatchOptions};
use crate::index::SharedHistory;
use crate::index::{LoadEvent, Loader};
use crate::search::BackgroundText;
use crate::tree::RunStructure;
use crate::work::Cancel;

/// Something internal happened. (What a user asks for is an `Action`.)
pub enum Msg {
    Input(Event),
    /// The terminal can no longer be read (it went away).
    InputClosed,
    /// A step of the background load, with its progress in bytes (read, total).
    Load {
        event: Box<LoadEvent>,
        progress: (u64, u64),
    },
    Job(JobOutput),
    /// The file watcher runs (`true`: by polling).
    Watching(bool),
    /// What the file watcher found (after the load, while the TUI watches its paths).
    Watch(Box<WatchEvent>),
    /// SIGINT, SIGTERM or SIGHUP.
    Signal(i32),
    /// The replay's wait is over (sent by the loop at the time the app asked for).
    Tick(std::time::Instant),
    /// What the followed presenter said.
    Heard(crate::share::Heard),
    /// What the OTLP receiver (`--listen`) answered: a request saved, or a problem.
    Serve(Box<crate::serve::ServeEvent>),
    /// How far the word index's background build is.
    TextIndex(TextIndexProgress),
}

/// The word index's build, as the status line shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TextIndexProgress {
    /// Steps indexed, of `total` (the history's steps when it was last looked at).
    pub indexed: u64,
    pub total: u64,
    /// The build runs (or waits for searches to end).
    pub building: bool,
}

/// A worker's result, tagged with the generation of its request.
pub enum JobOutput {
    Structure {
        generation: u64,
        result: Result<Arc<RunStructure>, String>,
    },
    Detail {
        generation: u64,
        result: Result<Arc<DetailDoc>, String>,
    },
    Diff {
        generation: u64,
        result: Result<Arc<DiffDoc>, String>,
    },
    Search {
        generation: u64,
        result: Result<Arc<SearchDoc>, String>,
    },
    Card {
        generation: u64,
        result: Result<Arc<crate::present::Card>, String>,
    },
    Tokens {
        generation: u64,
        result: Result<Arc<super::glance::TokensDoc>, String>,
    },
    Postmortem {
        generation: u64,
        result: Result<Arc<super::postmortem::PostmortemDoc>, String>,
    },
    Similar {
        generation: u64,
        result: Result<Arc<super::incidents::SimilarDoc>, String>,
    },
    SaveIncident {
        generation: u64,
        result: Result<Arc<super::incidents::SavedDoc>, String>,
    },
    IncidentSearch {
        generation: u64,
        result: Result<Arc<super::incidents::LibraryDoc>, String>,
    },
}

/// Reads terminal input until the terminal goes away.
pub fn spawn_input(tx: Sender<Msg>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("retrace-input".into())
        .spawn(move || loop {
            match crossterm::event::read() {
                Ok(ev) => {
                    if tx.send(Msg::Input(ev)).is_err() {
                        return;
                    }
                }
                Err(_) => {
                    let _ = tx.send(Msg::InputClosed);
                    return;
                }
            }
        })?;
    Ok(())
}

/// Forwards the background load's events, each with the progress so far.
pub fn spawn_loader(loader: Loader, tx: Sender<Msg>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("retrace-forward".into())
        .spawn(move || {
            for event in loader.events() {
                let done = matches!(event, LoadEvent::Done(_));
                let progress = loader.progress();
                let event = Box::new(event);
                if tx.send(Msg::Load { event, progress }).is_err() || done {
                    return;
                }
            }
        })?;
    Ok(())
}

/// How often the word index's build reports its progress.
const INDEX_PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// Builds the word index on a background thread (behind the UI, giving way to
/// searches), reporting its progress every `INDEX_PROGRESS_EVERY` and once at the end.
/// `delay`: waits this long first (a test hook: a small history indexes too fast for a
/// test to see a search answered before the index is ready).
pub fn spawn_indexer(
    text: Arc<BackgroundText>,
    shared: Arc<SharedHistory>,
    delay: Duration,
    tx: Sender<Msg>,
) -> std::io::Result<()> {
    let done = Arc::new(AtomicBool::new(false));
    let report = {
        let (text, shared, done) = (Arc::clone(&text), Arc::clone(&shared), Arc::clone(&done));
        move || {
            Msg::TextIndex(TextIndexProgress {
                indexed: text.indexed(),
                total: shared.read_politely().step_count() as u64,
                building: !done.load(Ordering::Acquire),
            })
        }
    };
    let (progress_tx, progress) = (tx.clone(), report.clone());
    let ended = Arc::clone(&done);
    std::thread::Builder::new()
        .name("retrace-index-progress".into())
        .spawn(move || {
            while !ended.load(Ordering::Acquire) {
                if progress_tx.send(progress()).is_err() {
                    return;
                }
                std::thread::sleep(INDEX_PROGRESS_EVERY);
            }
        })?;
    std::thread::Builder::new()
        .name("retrace-index".into())
        .spawn(move || {
            crate::work::give_way_to_the_ui();
            std::thread::sleep(delay);
            // An unreadable file leaves the index unbuilt: searches keep scanning.
            let _ = text.build(|| shared.read_politely(), &Cancel::never());
            done.store(true, Ordering::Release);
            let _ = tx.send(report());
        })?;
    Ok(())
}

/// Starts the file watcher on a worker (it opens files and registers watches, from
/// where the load stopped), says so, then forwards its events until it stops or the app
/// goes away.
pub fn spawn_watcher(
    paths: Vec<PathBuf>,
    shared: Arc<SharedHistory>,
    options: WatchOptions,
    tx: Sender<Msg>,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("retrace-watch".into())
        .spawn(move || {
            let watcher = shared.watch(paths, options);
            if tx.send(Msg::Watching(watcher.polling)).is_err() {
                return;
            }
            for event in watcher.events.iter() {
                let failed = matches!(event, WatchEvent::Failed(_));
                if tx.send(Msg::Watch(Box::new(event))).is_err() || failed {
                    return;
                }
            }
        })?;
    Ok(())
}

/// Forwards what a followed presenter says.
pub fn spawn_follower(follower: crate::share::Follower, tx: Sender<Msg>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("retrace-follow".into())
        .spawn(move || {
            for heard in follower.events.iter() {
                if tx.send(Msg::Heard(heard)).is_err() {
                    return;
                }
            }
        })?;
    Ok(())
}

/// Forwards what the OTLP receiver reports until it stops or the app goes away. (The
/// receiver itself runs on its own threads, started by the caller.)
pub fn spawn_receiver(
    events: std::sync::mpsc::Receiver<crate::serve::ServeEvent>,
    tx: Sender<Msg>,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("retrace-receive".into())
        .spawn(move || {
            for event in events.iter() {
                if tx.send(Msg::Serve(Box::new(event))).is_err() {
                    return;
                }
            }
        })?;
    Ok(())
}

/// Turns SIGINT, SIGTERM and SIGHUP into messages, so the app quits and the terminal
/// guard restores the screen. A second signal restores the terminal and exits at once,
/// in case the UI thread is stuck.
pub fn spawn_signals(tx: Sender<Msg>) -> std::io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    std::thread::Builder::new()
        .name("retrace-signals".into())
        .spawn(move || {
            let mut seen = false;
            for sig in signals.forever() {
                if seen || tx.send(Msg::Signal(sig)).is_err() {
                    super::terminal::restore();
                    std::process::exit(128 + sig);
                }
                seen = true;
            }
        })?;
    Ok(())
}
