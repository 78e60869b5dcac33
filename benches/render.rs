//! The time to draw one frame of the full-screen browser (160x48, every pane showing,
//! the selection in the middle of the run) for runs of 10 to 1,000,000 steps. Lists are
//! virtualised, so the figures should be flat; so should they with the timeline's
//! waterfall on (its bars are computed for the visible rows only). The runs are generated once into
//! `$CARGO_TARGET_DIR/bench-data/` (default `target/bench-data/`).

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use ratatui::Terminal;
use retrace::index::{History, LoadOptions};
use retrace::tui::app::{App, Options};
use retrace::tui::layout::Pane;
use retrace::tui::theme::{ColorDepth, ThemeName};
use retrace::tui::ui::render;

const SIZES: [usize; 4] = [10, 1_000, 100_000, 1_000_000];

/// One run of `steps` steps: a chain of calls and results with a decision every 10
/// steps, an effect every 25, a failure at 60% and a side branch every 50.
fn run_file(steps: usize) -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let dir = PathBuf::from(target).join("bench-data");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("render-{steps}.jsonl"));
    if path.exists() {
        return path;
    }
    let tmp = path.with_extension("tmp");
    let mut out = BufWriter::new(std::fs::File::create(&tmp).unwrap());
    let t0: i64 = 1_763_000_000_000;
    for i in 0..steps {
        let ts = t0 + i as i64 * 250;
        let parent = match i {
            0 => String::new(),
            _ if i % 50 == 0 && i > 2 => format!(",\"parent\":{}", i - 2),
            _ => format!(",\"parent\":{}", i - 1),
        };
        let body = if i == 0 {
            r#""kind":"run_start","agent":"bench-agent","input":{"ticket":1}"#.to_string()
        } else if i == steps - 1 {
            r#""kind":"run_end","outcome":"failure""#.to_string()
        } else if i == steps * 3 / 5 + 1 {
            r#""kind":"tool_result","name":"send_email","status":"error","error":{"code":"SMTP_AUTH_INVALID","message":"535"}"#.to_string()
        } else if i % 10 == 0 {
            r#""kind":"decision","name":"route","options":["a","b"],"chosen":"a","reason":"shorter""#.to_string()
        } else if i % 25 == 0 {
            r#""kind":"effect","name":"db.write","target":"db:orders/1","action":"update","status":"ok""#.to_string()
        } else if i % 2 == 1 {
            format!(
                r#""kind":"tool_call","name":"tool_{}","input":{{"id":{i}}}"#,
                i % 7
            )
        } else {
            format!(
                r#""kind":"tool_result","name":"tool_{}","status":"ok","duration_ms":120,"output":{{"ok":true}}"#,
                i % 7
            )
        };
        writeln!(
            out,
            r#"{{"run_id":"r-bench","step":{i},"ts":{ts}{parent},{body}}}"#
        )
        .unwrap();
    }
    out.flush().unwrap();
    drop(out);
    std::fs::rename(&tmp, &path).unwrap();
    path
}

fn app_for(steps: usize) -> App {
    let history = History::load(&[run_file(steps)], &LoadOptions::default()).unwrap();
    let options = Options {
        theme: ThemeName::Dark,
        depth: ColorDepth::Ansi256,
        mouse: false,
        sources: vec![PathBuf::from(format!("render-{steps}.jsonl"))],
        ..Options::default()
    };
    let mut app = App::loaded(history, options, Rect::new(0, 0, 160, 48));
    app.run_jobs_now();
    app.select_step((steps / 2) as u32, Pane::Runs);
    app.run_jobs_now();
    app.update(retrace::tui::action::Action::FocusTimeline);
    assert_eq!(app.timeline.len, steps);
    assert_eq!(app.tree.len(), steps, "the tree covers every step");
    app
}

fn draw_one_frame(c: &mut Criterion) {
    let mut group = c.benchmark_group("draw_one_frame_160x48");
    group.sample_size(50);
    for steps in SIZES {
        let app = app_for(steps);
        let mut terminal = Terminal::new(TestBackend::new(160, 48)).unwrap();
        group.bench_with_input(BenchmarkId::from_parameter(steps), &app, |b, app| {
            b.iter(|| {
                terminal.draw(|f| render(app, f)).unwrap();
            })
        });
    }
    group.finish();
}

fn draw_one_frame_with_the_waterfall(c: &mut Criterion) {
    let mut group = c.benchmark_group("draw_one_frame_160x48_waterfall");
    group.sample_size(50);
    for steps in SIZES {
        let mut app = app_for(steps);
        app.update(retrace::tui::action::Action::ToggleWaterfall);
        app.run_jobs_now();
        assert!(app.glance.waterfall);
        let mut terminal = Terminal::new(TestBackend::new(160, 48)).unwrap();
        group.bench_with_input(BenchmarkId::from_parameter(steps), &app, |b, app| {
            b.iter(|| {
                terminal.draw(|f| render(app, f)).unwrap();
            })
        });
    }
    group.finish();
}

criterion_group!(benches, draw_one_frame, draw_one_frame_with_the_waterfall);
criterion_main!(benches);
