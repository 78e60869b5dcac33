//! `retrace show`: one run's timeline, the trigger first, then every step; or (`--tree`)
//! its decision tree, as the browser's tree pane shows it ([`crate::tree`]).

use std::io::{self, Write};

use anyhow::Context;
use serde_json::{json, Value};

use super::{cell, problems_json, CliError, Common, Paths, RunJson};
use crate::describe::{step_summary, trigger, trigger_line};
use crate::index::RunRef;
use crate::model::{Step, StepKind};
use crate::sanitize;
use crate::time::{format_duration, format_rfc3339};

/// The arguments of `retrace show`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// A run id, or a unique prefix of one.
    pub run: String,
    #[command(flatten)]
    pub paths: Paths,
    /// Print one JSON object {"run": {...}, "steps": [...], "problems": [...]}.
    #[arg(long)]
    pub json: bool,
    /// Print the decision tree (parent links) instead of the step table.
    #[arg(long, conflicts_with = "json")]
    pub tree: bool,
    #[command(flatten)]
    pub common: Common,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let common = &args.common;
    let history = super::load(&args.paths, common)?;
    if !args.json {
        super::report_problems(&history, 5);
    }
    let found = history.find_run(&args.run)?;
    let mut out = super::stdout();
    let reading = || format!("reading the steps of run {}", found.id());
    if args.json {
        // Written piece by piece as the steps are read (the keys in the order a JSON
        // object of them is written: sorted).
        let mut run_obj = serde_json::to_value(RunJson::new(&found))?;
        run_obj["trigger"] = trigger(&trigger_step(&found).with_context(reading)?)
            .cloned()
            .unwrap_or(Value::Null);
        out.write_all(b"{\"problems\":")?;
        serde_json::to_writer(&mut out, &problems_json(history.problems()))?;
        out.write_all(b",\"run\":")?;
        serde_json::to_writer(&mut out, &run_obj)?;
        out.write_all(b",\"steps\":[")?;
        write_steps_json(&found, &mut out).with_context(reading)?;
        out.write_all(b"]}\n")?;
    } else if args.tree {
        let steps = found.load_steps().with_context(reading)?;
        print_tree(&found, &steps, &mut out)?;
    } else {
        write_table(&found, &mut out).with_context(reading)?;
    }
    out.flush()?;
    super::finish(&history, common)
}

/// The run's timeline as text (as [`print`] writes it), read and written a chunk at a
/// time.
fn write_table(run: &RunRef, out: &mut impl Write) -> anyhow::Result<()> {
    header(run, &trigger_step(run)?, out)?;
    print_heading(out)?;
    write_chunks(run, false, out, |_, steps, buf| {
        Ok(print_rows(run, steps, buf)?)
    })
}

/// The run's steps as the elements of a JSON array (without its brackets), read and
/// written a chunk at a time.
fn write_steps_json(run: &RunRef, out: &mut impl Write) -> anyhow::Result<()> {
    write_chunks(run, true, out, |first, steps, buf| {
        for (i, step) in steps.iter().enumerate() {
            if !(first && i == 0) {
                buf.push(b',');
            }
            serde_json::to_writer(&mut *buf, &step_json(step))?;
        }
        Ok(())
    })
}

/// Keeps memory freed by the workers for their next chunk. Each chunk's steps are
/// allocated and freed on a worker thread; glibc would hand that memory back to the
/// system after every chunk and fault it in again (a million page faults, seconds of
/// system time, on a run of a million steps).
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters (thread-safe in glibc).
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, 64 << 20);
        // Setting one parameter fixes the others: large blocks still come from the heap.
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
    }
}

/// Steps read at first, so that the first rows come at once; later reads are larger.
const FIRST_CHUNK: usize = 256;
const MAX_CHUNK: usize = 8_192;

/// The run's steps cut into chunks, in order: [`FIRST_CHUNK`] first, growing to
/// [`MAX_CHUNK`].
fn chunks(total: usize) -> Vec<std::ops::Range<usize>> {
    let (mut at, mut chunk, mut out) = (0, FIRST_CHUNK, Vec::new());
    while at < total {
        let end = (at + chunk).min(total);
        out.push(at..end);
        at = end;
        chunk = (chunk * 4).min(MAX_CHUNK);
    }
    out
}

/// Reads the run's steps a chunk at a time (only what summaries need, and tokens when
/// `tokens`), formats each
/// chunk with `format(first, steps, bytes)` on worker threads, and writes the chunks to
/// `out` in order as they are done: a long run is written as it is read, on every core,
/// in bounded memory (a few chunks ahead of the writing at most).
fn write_chunks(
    run: &RunRef,
    tokens: bool,
    out: &mut impl Write,
    format: impl Fn(bool, &[Step], &mut Vec<u8>) -> anyhow::Result<()> + Sync,
) -> anyhow::Result<()> {
    keep_freed_memory();
    let chunks = chunks(run.step_count());
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let ahead = workers * 2;
    let next = std::sync::atomic::AtomicUsize::new(0);
    let (done_tx, done_rx) = std::sync::mpsc::channel::<(usize, anyhow::Result<Vec<u8>>)>();
    // How far the writing is: a worker does not start a chunk more than `ahead` past it.
    let written = std::sync::Mutex::new(0usize);
    let wake = std::sync::Condvar::new();
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let done_tx = done_tx.clone();
            let (chunks, next, written, wake, stop, format) =
                (&chunks, &next, &written, &wake, &stop, &format);
            scope.spawn(move || loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(range) = chunks.get(i) else { break };
                let mut at = written.lock().unwrap_or_else(|e| e.into_inner());
                while i >= *at + ahead && !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    at = wake.wait(at).unwrap_or_else(|e| e.into_inner());
                }
                drop(at);
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                let formatted = run
                    .plan(range.clone())
                    .read_summaries(tokens)
                    .map_err(anyhow::Error::from)
                    .and_then(|steps| {
                        let mut bytes = Vec::with_capacity(steps.len() * 160);
                        format(i == 0, &steps, &mut bytes)?;
                        Ok(bytes)
                    });
                if done_tx.send((i, formatted)).is_err() {
                    break;
                }
            });
        }
        drop(done_tx);
        let result = write_in_order(chunks.len(), &done_rx, out, |i| {
            *written.lock().unwrap_or_else(|e| e.into_inner()) = i;
            wake.notify_all();
        });
        // Workers waiting for the writing stop when it ends early (an error, a closed
        // pipe).
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        wake.notify_all();
        result
    })
}

/// Writes chunks `0..count`, arriving in any order on `done`, in order; `progress(i)`
/// after each, with how many are written.
fn write_in_order(
    count: usize,
    done: &std::sync::mpsc::Receiver<(usize, anyhow::Result<Vec<u8>>)>,
    out: &mut impl Write,
    progress: impl Fn(usize),
) -> anyhow::Result<()> {
    let mut pending = std::collections::BTreeMap::new();
    let mut at = 0;
    while at < count {
        let Ok((i, bytes)) = done.recv() else {
            anyhow::bail!("a worker stopped before chunk {at} of {count}");
        };
        pending.insert(i, bytes);
        while let Some(bytes) = pending.remove(&at) {
            out.write_all(&bytes?)?;
            at += 1;
            progress(at);
        }
    }
    Ok(())
}

/// The run's `run_start` step (what started it), read alone; empty when it has none.
fn trigger_step(run: &RunRef) -> Result<Vec<Step>, crate::Error> {
    match run.steps().position(|s| s.kind == StepKind::RunStart) {
        Some(i) => run.load_range(i..i + 1),
        None => Ok(Vec::new()),
    }
}

/// The run's header, then its decision tree, one step a line.
pub fn print_tree(run: &RunRef, steps: &[Step], out: &mut impl Write) -> io::Result<()> {
    header(run, steps, out)?;
    let tree = crate::tree::RunStructure::of_steps(run.index(), steps);
    crate::tree::write_text(run, &tree, out)
}

/// The run's timeline as text: its header, then a row per step.
pub fn print(run: &RunRef, steps: &[Step], out: &mut impl Write) -> io::Result<()> {
    header(run, steps, out)?;
    print_heading(out)?;
    print_rows(run, steps, out)
}

fn print_heading(out: &mut impl Write) -> io::Result<()> {
    writeln!(
        out,
        "{:>4} {:>9} {} {} {:<6} {:>8} {} SUMMARY",
        "#",
        "TIME",
        cell("KIND", 11),
        cell("NAME", 18),
        "STATUS",
        "DURATION",
        cell("ERROR", 20)
    )
}

/// A row per step. Built in one reused line buffer: a long run's rows cost no
/// allocations of their own beyond the summary's.
fn print_rows(run: &RunRef, steps: &[Step], out: &mut impl Write) -> io::Result<()> {
    use std::fmt::Write as _;
    let t0 = run.started_at();
    let mut line = String::with_capacity(256);
    let mut rel = String::with_capacity(16);
    for s in steps {
        line.clear();
        rel.clear();
        match (s.ts, t0) {
            (Some(t), Some(t0)) => {
                rel.push('+');
                rel.push_str(&format_duration((t - t0) as f64));
            }
            _ => rel.push('-'),
        }
        let error = s
            .error
            .as_ref()
            .filter(|_| s.is_error())
            .map(|e| e.label().to_string());
        // Writing to a String cannot fail.
        let _ = write!(line, "{:>4} {:>9} ", s.step, rel);
        push_cell(&mut line, &sanitize::line(&s.kind_name), 11);
        line.push(' ');
        push_cell(
            &mut line,
            &sanitize::line(s.name.as_deref().unwrap_or("")),
            18,
        );
        let duration = s.duration_ms.map(format_duration);
        let _ = write!(
            line,
            " {:<6} {:>8} ",
            s.status.as_str(),
            duration.as_deref().unwrap_or("")
        );
        push_cell(
            &mut line,
            &sanitize::line(error.as_deref().unwrap_or("")),
            20,
        );
        line.push(' ');
        line.push_str(&sanitize::line(&step_summary(s, 100)));
        line.push('\n');
        out.write_all(line.as_bytes())?;
    }
    Ok(())
}

/// Appends `s` cut or padded to exactly `cols` columns (as [`cell`]).
fn push_cell(line: &mut String, s: &str, cols: usize) {
    let cut = crate::width::fit(s, cols);
    line.push_str(&cut);
    let pad = cols.saturating_sub(crate::width::width(&cut));
    line.extend(std::iter::repeat(' ').take(pad));
}

/// A step as an element of `show --json`'s `steps`. The fields are in the order the
/// keys of a JSON object are written (sorted), so it is written as the object of them
/// would be, without building one.
#[derive(serde::Serialize)]
struct StepJson<'a> {
    duration_ms: Option<f64>,
    error: Option<Value>,
    id: &'a str,
    kind: &'a str,
    name: Option<&'a str>,
    parent: Option<&'a str>,
    status: Option<crate::model::Status>,
    step: u32,
    summary: String,
    /// `input`, `output`: in order already.
    tokens: Option<crate::model::Tokens>,
    ts: Option<String>,
}

fn step_json(s: &Step) -> StepJson<'_> {
    StepJson {
        duration_ms: s.duration_ms,
        // Through a JSON value: its keys sorted as everywhere else.
        error: s.error.as_ref().map(|e| json!(e)),
        id: &s.id,
        kind: &s.kind_name,
        name: s.name.as_deref(),
        parent: s.parent.as_deref(),
        status: (s.status != crate::model::Status::Unset).then_some(s.status),
        step: s.step,
        summary: step_summary(s, 200),
        tokens: s.tokens(),
        ts: s.ts.map(format_rfc3339),
    }
}

/// The run line, its trigger, labels and end error.
fn header(run: &RunRef, steps: &[Step], out: &mut impl Write) -> io::Result<()> {
    writeln!(
        out,
        "run {}  agent {} {}  model {}  outcome {}",
        sanitize::line(run.id()),
        sanitize::line(run.agent().unwrap_or("-")),
        sanitize::line(run.agent_version().unwrap_or("")),
        sanitize::line(run.model().unwrap_or("-")),
        run.outcome()
    )?;
    if let Some(t) = trigger_line(steps, 200) {
        writeln!(out, "trigger: {}", sanitize::line(&t))?;
    }
    if !run.labels().is_empty() {
        let labels: Vec<String> = run
            .labels()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        writeln!(out, "labels: {}", sanitize::line(&labels.join(" ")))?;
    }
    if let Some(e) = run.end_error() {
        writeln!(out, "error: {}", sanitize::line(e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::{History, LoadOptions};

    /// A run of every kind of step, some failing, some with tokens, calls or lines a
    /// full parse refuses, long enough for several chunks of each size.
    fn long_run(dir: &std::path::Path) -> History {
        let mut text = String::from(
            r#"{"run_id":"r","step":0,"kind":"run_start","ts":1000,"agent":"a","input":{"task":"t","z":1,"a":[1,2]}}"#,
        );
        text.push('\n');
        let lines = [
            r#""kind":"llm_call","output":{"tool_calls":[{"name":"f","args":{"q":"x"}}]},"tokens":{"input":3,"output":4}"#,
            r#""kind":"llm_call","output":{"text":"plain words"},"meta":{"deep":[[[1]]]}"#,
            r#""kind":"tool_call","name":"fetch","input":{"url":"u\"v","b":2,"a":1},"duration_ms":9"#,
            r#""kind":"tool_result","name":"fetch","status":"error","error":{"code":"E_X","message":"bad"}"#,
            r#""kind":"tool_result","name":"fetch","output":{"status":200}"#,
            r#""kind":"decision","chosen":"b","reason":"cheaper""#,
            r#""kind":"effect","action":"write","target":"/tmp/x""#,
            r#""kind":"message","output":"said \u00e9","input":"asked""#,
            r#""kind":"custom_thing","input":{"k":"v"}"#,
            r#""kind":"tool_call","input":"x","meta":1e999"#,
        ];
        let steps = 25_000;
        for i in 1..steps {
            let line = lines[i % lines.len()];
            text += &format!(
                "{{\"run_id\":\"r\",\"step\":{i},\"parent\":{},\"ts\":{},{line}}}\n",
                i - 1,
                1000 + i * 7
            );
        }
        text += &format!(
            "{{\"run_id\":\"r\",\"step\":{steps},\"kind\":\"run_end\",\"outcome\":\"failure\",\"error\":{{\"code\":\"E_END\"}}}}\n"
        );
        std::fs::write(dir.join("long.jsonl"), text).unwrap();
        History::load(&[dir.to_path_buf()], &LoadOptions::default()).unwrap()
    }

    #[test]
    fn a_long_run_is_written_the_same_in_chunks_as_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let history = long_run(dir.path());
        let run = history.find_run("r").unwrap();
        assert!(chunks(run.step_count()).len() >= 5, "chunks of every size");
        let whole = run.load_steps().unwrap();

        let mut expected = Vec::new();
        print(&run, &whole, &mut expected).unwrap();
        let mut chunked = Vec::new();
        write_table(&run, &mut chunked).unwrap();
        assert_eq!(
            String::from_utf8(chunked).unwrap(),
            String::from_utf8(expected).unwrap()
        );

        let mut expected = Vec::new();
        for (i, step) in whole.iter().enumerate() {
            if i > 0 {
                expected.push(b',');
            }
            // The object as a JSON value writes it (keys sorted).
            let value = serde_json::to_value(step_json(step)).unwrap();
            serde_json::to_writer(&mut expected, &value).unwrap();
        }
        let mut chunked = Vec::new();
        write_steps_json(&run, &mut chunked).unwrap();
        assert_eq!(
            String::from_utf8(chunked).unwrap(),
            String::from_utf8(expected).unwrap()
        );
    }
}
