//! Key to drawn frame while a big history loads and its text index builds: the browser's
//! own loop ([`retrace::tui::turn`]) runs with its workers, the background load and a
//! text-index build (a search [`Session`] on a worker, as `/` does), drawing into an
//! in-memory terminal of 160x48. A key (down, up, next pane…) is sent every 25 ms; the
//! time from sending it to the end of the next drawn frame is recorded, and the
//! percentiles printed.
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
use retrace::search::Session;
use retrace::tui::event::{spawn_loader, Msg};
use retrace::tui::workers::Workers;
use retrace::tui::{turn, App, Options, Output};
use retrace::work::Cancel;

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

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    let Some(data) = history_file() else { return };
    let bytes = std::fs::metadata(&data).map_or(0, |m| m.len());
    // As the browser loads: behind the UI thread.
    let options = LoadOptions {
        behind_ui: true,
        ..LoadOptions::default()
    };
    let (history, loader) = History::open(std::slice::from_ref(&data), &options).unwrap();
    let (tx, rx) = channel::<Msg>();
    let shared = Arc::new(SharedHistory::new(history));
    let workers = Workers::spawn(Arc::clone(&shared), tx.clone()).unwrap();
    let size = Rect::new(0, 0, 160, 48);
    let mut app = App::new(Arc::clone(&shared), Options::default(), size);
    let mut terminal = Terminal::new(TestBackend::new(size.width, size.height)).unwrap();
    let started = Instant::now();
    spawn_loader(loader, tx.clone()).unwrap();

    // The text index builds on a worker while the history loads (as `/` does).
    let indexing = Arc::new(AtomicBool::new(true));
    let (h, busy) = (Arc::clone(&shared), Arc::clone(&indexing));
    let loaded = Arc::new(AtomicBool::new(false));
    let done_loading = Arc::clone(&loaded);
    std::thread::spawn(move || {
        let mut session = Session::new();
        let cancel = Cancel::never();
        loop {
            let finished = done_loading.load(Ordering::Acquire);
            let _ = session.catch_up(|| h.read_politely(), &cancel);
            if finished {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        busy.store(false, Ordering::Release);
    });

    let sent = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    spawn_keys(tx.clone(), Arc::clone(&sent), Arc::clone(&stop));

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
    let mut load_took = None;
    loop {
        if !turn(&mut app, &rx, &workers, &mut last_draw, &mut draw).unwrap() {
            break;
        }
        if app.load.done && load_took.is_none() && !app.has_deferred_work() {
            load_took = Some(started.elapsed());
            loaded.store(true, Ordering::Release);
        }
        if load_took.is_some() && !indexing.load(Ordering::Acquire) {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let took = started.elapsed();
    latencies.sort_by(f64::total_cmp);
    if latencies.is_empty() {
        println!("browse_1g: no key was answered");
        return;
    }
    println!(
        "browse_1g: {} ({:.0} MB), loaded in {:.1} s, loaded and text-indexed in {:.1} s, {} frames",
        data.display(),
        bytes as f64 / 1e6,
        load_took.unwrap_or(took).as_secs_f64(),
        took.as_secs_f64(),
        frames
    );
    println!(
        "key to drawn frame over {} keys: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        latencies.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.9),
        percentile(&latencies, 0.99),
        latencies[latencies.len() - 1]
    );
}
