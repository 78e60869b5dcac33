//! The browser on a big history, driving its own loop ([`retrace::tui::turn`]) with its
//! workers, the background load and the word index's background build (started when the
//! load is in, as the browser does), drawing into an in-memory terminal of 160x48. Three
//! rounds (`RETRACE_BENCH_ROUNDS`), each from a fresh open, side by side with `retrace
//! ls PATH --json --no-cache` timed just before it:
//! - keys: a key (down, up, next pane…) is sent every 25 ms while the history loads and
//!   its word index builds; the time from sending it to the end of the next drawn frame
//!   is recorded, and the percentiles printed, with the time to fully loaded (every
//!   batch folded in) and to text-indexed;
//! - search: `/` and a query (`RETRACE_BENCH_QUERY`, default `SCHEMA_MISMATCH`) are
//!   typed at once on opening; the time until its results cover the whole history
//!   (answered by scanning: the word index is not built yet), beside `grep -c QUERY`.
//! - reopen: the history opened again with its index cache and word cache warm (as the
//!   browser opens it by default; the caches are written by a first open, in a folder
//!   of their own under `target/`): the time to fully loaded and to searchable (the word
//!   index taken from its cache), beside `retrace ls PATH --json` with its own warm
//!   index cache and `cat PATH`.
//!
//! The history is written once to `target/bench-data/big.jsonl` by
//! `../shared/tools/gen_runs.py` (env `RETRACE_SHARED` names the shared folder; size from
//! `RETRACE_BENCH_SIZE`, default 1G). Without the generator the benchmark says so and
//! skips. Run: `cargo bench --bench browse_1g`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use ratatui::Terminal;
use retrace::index::{History, LoadOptions, SharedHistory};
use retrace::search::BackgroundText;
use retrace::tui::event::{spawn_indexer, spawn_loader, Msg};
use retrace::tui::workers::Workers;
use retrace::tui::{turn, App, Options, Output};

fn history_file() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let shared = std::env::var_os("RETRACE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared"));
    let generator = shared.join("tools/gen_runs.py");
    let size = std::env::var("RETRACE_BENCH_SIZE").unwrap_or_else(|_| "1G".into());
    let name = if size == "1G" {
        "big.jsonl".to_string()
    } else {
        format!("big-{size}.jsonl")
    };
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let data = target.join("bench-data").join(name);
    if data.exists() {
        return Some(data);
    }
    if !generator.exists() {
        println!(
            "browse_1g: skipped: {} is missing (set RETRACE_SHARED to the shared folder)",
            generator.display()
        );
        return None;
    }
    std::fs::create_dir_all(data.parent()?).ok()?;
    println!("browse_1g: writing {} ({size})…", data.display());
    let ok = std::process::Command::new("python3")
        .arg(&generator)
        .arg(&data)
        .args(["--size", &size])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        println!("browse_1g: skipped: the generator failed");
        return None;
    }
    Some(data)
}

fn key(code: KeyCode) -> Msg {
    Msg::Input(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

/// Sends a key every 25 ms until `stop`, noting when each was sent.
fn spawn_keys(tx: Sender<Msg>, sent: Arc<Mutex<Vec<Instant>>>, stop: Arc<AtomicBool>) {
    let keys = [
        KeyCode::Down,
        KeyCode::Down,
        KeyCode::Up,
        KeyCode::Tab,
        KeyCode::Down,
        KeyCode::BackTab,
    ];
    std::thread::spawn(move || {
        for code in keys.iter().cycle() {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
            sent.lock().unwrap().push(Instant::now());
            if tx.send(key(*code)).is_err() {
                return;
            }
        }
    });
}

/// The query typed on opening (`RETRACE_BENCH_QUERY`): a rare error code, by default.
fn query() -> String {
    std::env::var("RETRACE_BENCH_QUERY").unwrap_or_else(|_| "SCHEMA_MISMATCH".into())
}

/// `retrace ls PATH --json --no-cache` (to /dev/null), timed: the load alone, for
/// comparison (the browser here reads no index cache either).
fn ls_json(data: &std::path::Path) -> Option<Duration> {
    timed(
        std::process::Command::new(env!("CARGO_BIN_EXE_retrace"))
            .arg("ls")
            .arg(data)
            .args(["--json", "--no-cache"]),
    )
}

/// `retrace ls PATH --json` with the index cache under `cache_home` (its own: a cache is
/// read only by the build that wrote it).
fn ls_json_cached(data: &std::path::Path, cache_home: &std::path::Path) -> Option<Duration> {
    timed(
        std::process::Command::new(env!("CARGO_BIN_EXE_retrace"))
            .env("XDG_CACHE_HOME", cache_home)
            .arg("ls")
            .arg(data)
            .arg("--json"),
    )
}

/// `cat PATH` (to /dev/null), timed.
fn cat(data: &std::path::Path) -> Option<Duration> {
    timed(std::process::Command::new("cat").arg(data))
}

/// How long `command` took, its output thrown away; `None` when it failed.
fn timed(command: &mut std::process::Command) -> Option<Duration> {
    let started = Instant::now();
    let ok = command
        .stdout(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then(|| started.elapsed())
}

/// `grep -c QUERY PATH`, timed: finding the bytes without understanding them.
fn grep_c(data: &std::path::Path) -> f64 {
    let started = Instant::now();
    // Its count is read: GNU grep stops at the first match when writing to /dev/null.
    let ok = std::process::Command::new("grep")
        .arg("-c")
        .arg(query())
        .arg(data)
        .output()
        .is_ok_and(|o| !o.stdout.is_empty());
    if ok {
        started.elapsed().as_secs_f64()
    } else {
        f64::NAN
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    let Some(data) = history_file() else { return };
    let bytes = std::fs::metadata(&data).map_or(0, |m| m.len());
    println!(
        "browse_1g: {} ({:.0} MB)",
        data.display(),
        bytes as f64 / 1e6
    );
    let rounds: usize = std::env::var("RETRACE_BENCH_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3);
    let secs = |d: Option<Duration>| d.map_or(f64::NAN, |d| d.as_secs_f64());
    // The caches of the reopen rounds: written by a first open (and `ls`), kept apart.
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let caches = root.join("target/bench-cache-browse");
    let _ = std::fs::remove_dir_all(&caches);
    let browser_cache = caches.join("browser/retrace/index");
    let cli_cache = caches.join("cli");
    let first = open_with(&data, Mode::Keys, Some(&browser_cache), false);
    let _ = ls_json_cached(&data, &cli_cache);
    println!(
        "caches written: the first open loaded in {:.2} s, text-indexed at {:.1} s",
        first.loaded, first.indexed
    );
    for round in 1..=rounds {
        let ls = secs(ls_json_cached(&data, &cli_cache));
        let cat = secs(cat(&data));
        let reopen = open_with(&data, Mode::Keys, Some(&browser_cache), false);
        println!(
            "round {round}: reopened with warm caches: loaded in {:.3} s, searchable at {:.3} s (word index from its cache: {} of {} steps) | warm ls --json {ls:.3} s, cat {cat:.3} s | searchable ÷ cat {:.2}",
            reopen.loaded,
            reopen.indexed,
            reopen.cached_steps,
            reopen.steps,
            reopen.indexed / cat,
        );
    }
    let _ = std::fs::remove_dir_all(&caches);
    for round in 1..=rounds {
        let ls = ls_json(&data).map_or(f64::NAN, |d| d.as_secs_f64());
        let keys = open(&data, Mode::Keys);
        let ls2 = ls_json(&data).map_or(f64::NAN, |d| d.as_secs_f64());
        let grep = grep_c(&data);
        let search = open(&data, Mode::Search(query()));
        println!(
            "round {round}: ls --json {ls:.2} s | keys: read in {:.2} s, loaded in {:.2} s (×{:.2} ls), text-indexed at {:.1} s, {} frames, key to drawn frame over {} keys: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            keys.read,
            keys.loaded,
            keys.loaded / ls,
            keys.indexed,
            keys.frames,
            keys.latencies.len(),
            percentile(&keys.latencies, 0.5),
            percentile(&keys.latencies, 0.9),
            percentile(&keys.latencies, 0.99),
            keys.latencies.last().copied().unwrap_or(f64::NAN),
        );
        println!(
            "round {round}: ls --json {ls2:.2} s, grep -c {grep:.2} s | search {:?} typed on opening: read in {:.2} s, loaded in {:.2} s (×{:.2} ls), first search answered at {:.2} s (×{:.2} ls, ×{:.2} grep -c), {} hits, text-indexed at {:.1} s",
            query(),
            search.read,
            search.loaded,
            search.loaded / ls2,
            search.answered,
            search.answered / ls2,
            search.answered / grep,
            search.hits,
            search.indexed,
        );
    }
}

enum Mode {
    Keys,
    Search(String),
}

#[derive(Default)]
struct Figures {
    /// Seconds from opening to every batch folded in.
    loaded: f64,
    /// Seconds from opening to the loader's end (every batch sent).
    read: f64,
    /// Seconds from opening to the word index built (keys round).
    indexed: f64,
    /// Seconds from opening to results over the whole history (search round).
    answered: f64,
    hits: usize,
    frames: usize,
    /// Steps in the history, and those the word index took from its cache.
    steps: usize,
    cached_steps: u64,
    /// Key to drawn frame, ms, sorted.
    latencies: Vec<f64>,
}

/// Opens the history as the browser does, without caches, and runs its loop until the
/// round is over.
fn open(data: &std::path::Path, mode: Mode) -> Figures {
    open_with(data, mode, None, true)
}

/// [`open`], with the index cache (and the word caches beside it) in `cache`, sending
/// keys or not.
fn open_with(
    data: &std::path::Path,
    mode: Mode,
    cache: Option<&std::path::Path>,
    send_keys: bool,
) -> Figures {
    // As the browser loads: behind the UI thread, with the search session's hook.
    let started = Instant::now();
    let text = Arc::new(BackgroundText::new());
    let options = LoadOptions {
        behind_ui: true,
        line_scan: Some(text.load_hook()),
        cache: cache.map(|c| c.to_path_buf()),
        cache_min_bytes: retrace::index::cache::MIN_CACHED_BYTES,
        ..LoadOptions::default()
    };
    let (history, loader) = History::open(&[data.to_path_buf()], &options).unwrap();
    let (tx, rx) = channel::<Msg>();
    let shared = Arc::new(SharedHistory::new(history));
    let workers = Workers::spawn_searching(Arc::clone(&shared), tx.clone(), text).unwrap();
    let size = Rect::new(0, 0, 160, 48);
    let mut app = App::new(Arc::clone(&shared), Options::default(), size);
    let mut terminal = Terminal::new(TestBackend::new(size.width, size.height)).unwrap();
    spawn_loader(loader, tx.clone()).unwrap();

    let sent = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    match &mode {
        Mode::Keys if send_keys => spawn_keys(tx.clone(), Arc::clone(&sent), Arc::clone(&stop)),
        Mode::Keys => {}
        Mode::Search(query) => {
            for c in std::iter::once('/').chain(query.chars()) {
                tx.send(key(KeyCode::Char(c))).unwrap();
            }
        }
    }

    let mut figures = Figures::default();
    let mut latencies: Vec<f64> = Vec::new();
    let mut answered = 0;
    let mut frames = 0usize;
    let mut draw = |app: &mut App, output: Output| -> std::io::Result<()> {
        if output != Output::Frame {
            return Ok(());
        }
        app.take_dirty();
        let _ = terminal.draw(|f| retrace::tui::ui::render(app, f));
        frames += 1;
        let now = Instant::now();
        let sent = sent.lock().unwrap();
        // Every key sent since the last frame was handled before this draw.
        for t in &sent[answered..] {
            latencies.push(now.duration_since(*t).as_secs_f64() * 1e3);
        }
        answered = sent.len();
        Ok(())
    };
    let mut last_draw = Instant::now();
    let mut loaded = None;
    let mut indexing = false;
    loop {
        if !turn(&mut app, &rx, &workers, &mut last_draw, &mut draw).unwrap() {
            break;
        }
        if app.load.done && figures.read == 0.0 {
            figures.read = started.elapsed().as_secs_f64();
        }
        if app.wants_watcher() {
            // The load is folded in: the browser starts the word index's build now.
            loaded = Some(started.elapsed());
            spawn_indexer(
                workers.text(),
                Arc::clone(&shared),
                Duration::ZERO,
                tx.clone(),
            )
            .unwrap();
            indexing = true;
        }
        match &mode {
            Mode::Keys => {
                if indexing && app.text_index.is_some_and(|t| !t.building) {
                    figures.indexed = started.elapsed().as_secs_f64();
                    break;
                }
            }
            Mode::Search(_) => {
                let steps = shared.read().step_count();
                let whole = app
                    .search()
                    .and_then(|s| s.doc.as_ref())
                    .filter(|d| loaded.is_some() && d.text_covered == steps);
                if let Some(doc) = whole.filter(|_| figures.answered == 0.0) {
                    figures.answered = started.elapsed().as_secs_f64();
                    figures.hits = doc.hits.len();
                }
                // The build runs on to its end, so as not to slow the next round.
                if figures.answered > 0.0 && app.text_index.is_some_and(|t| !t.building) {
                    figures.indexed = started.elapsed().as_secs_f64();
                    break;
                }
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    figures.steps = shared.read().step_count();
    figures.cached_steps = workers.text().cached();
    latencies.sort_by(f64::total_cmp);
    figures.loaded = loaded.unwrap_or(started.elapsed()).as_secs_f64();
    figures.frames = frames;
    figures.latencies = latencies;
    figures
}
