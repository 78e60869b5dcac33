//! `retrace watch`: what is already there (unless `--new-only`), then every arrival, one
//! line each, until interrupted (SIGINT, SIGTERM, SIGHUP); on the way out, every file
//! left ending in a partial line is reported.

use std::io::{self, LineWriter, Write};

use serde_json::json;

use super::{CliError, Common, Paths};
use crate::index::watch::{watch, WatchEvent, WatchOptions, Watcher};
use crate::index::{History, LoadOptions};
use crate::model::Status;
use crate::sanitize;
use crate::time::format_short;

/// The arguments of `retrace watch`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub paths: Paths,
    /// One JSON object per line: {"event":"run"|"step"|"problem", ...}.
    #[arg(long)]
    pub json: bool,
    /// Print only what arrives from now on.
    #[arg(long)]
    pub new_only: bool,
    /// Poll the files instead of using file events (network filesystems).
    #[arg(long)]
    pub poll: bool,
    #[command(flatten)]
    pub common: Common,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let common = &args.common;
    let paths = args.paths.resolved();
    let mut history = History::load(
        &paths,
        &LoadOptions {
            format: common.format,
            cache: common.cache_dir(),
            ..LoadOptions::default()
        },
    )?;
    let options = WatchOptions {
        poll: args.poll,
        format: common.format,
        ..WatchOptions::default()
    };
    let watcher = watch(paths, &history, options);
    if watcher.polling && !args.poll {
        eprintln!("retrace: no file events here; polling");
    }
    // Line-buffered: each arrival reaches a pipe as it happens.
    let mut out = LineWriter::new(io::stdout());
    follow(&mut history, watcher, args.json, args.new_only, &mut out)?;
    super::finish(&history, common)
}

/// Prints arrivals as they are applied to `history`.
pub struct Reporter {
    json: bool,
    /// Steps already reported, per run.
    reported: Vec<usize>,
    problems: usize,
}

impl Reporter {
    /// Starts from `history` as loaded; with `new_only`, what is there is not printed.
    pub fn new(
        history: &History,
        json: bool,
        new_only: bool,
        out: &mut impl Write,
    ) -> io::Result<Reporter> {
        let mut reporter = Reporter {
            json,
            reported: Vec::new(),
            problems: 0,
        };
        if new_only {
            reporter.reported = history.runs().map(|r| r.step_count()).collect();
            reporter.problems = history.problems().len();
        } else {
            reporter.report(history, out)?;
        }
        Ok(reporter)
    }

    /// Applies one watcher event and prints what it brought.
    pub fn apply(
        &mut self,
        history: &mut History,
        event: WatchEvent,
        out: &mut impl Write,
    ) -> io::Result<()> {
        if let WatchEvent::Failed(reason) = &event {
            return Err(io::Error::other(reason.clone()));
        }
        history.apply_watch(event);
        history.settle();
        self.report(history, out)
    }

    fn report(&mut self, history: &History, out: &mut impl Write) -> io::Result<()> {
        for problem in &history.problems()[self.problems..] {
            if self.json {
                let line = json!({"event": "problem", "file": problem.file.display().to_string(), "line": problem.line, "reason": problem.reason});
                writeln!(out, "{line}")?;
            } else {
                writeln!(out, "problem {}", sanitize::line(&problem.to_string()))?;
            }
        }
        self.problems = history.problems().len();
        for run in history.runs() {
            let index = run.index();
            if index >= self.reported.len() {
                self.reported.resize(index + 1, usize::MAX);
            }
            if self.reported[index] == usize::MAX {
                if self.json {
                    writeln!(
                        out,
                        "{}",
                        json!({"event": "run", "run_id": run.id(), "agent": run.agent(), "format": run.format()})
                    )?;
                } else {
                    writeln!(
                        out,
                        "run {} {} {}",
                        sanitize::line(run.id()),
                        sanitize::line(run.agent().unwrap_or("-")),
                        run.started_at().map(format_short).unwrap_or_default()
                    )?;
                }
                self.reported[index] = 0;
            }
            let from = self.reported[index].min(run.step_count());
            // Step ids live in the files, as for `show --json`; a file gone since has none.
            let ids: Vec<String> = if self.json && from < run.step_count() {
                run.load_links(from..run.step_count())
                    .map(|steps| steps.into_iter().map(|s| s.id).collect())
                    .unwrap_or_default()
            } else {
                Vec::new()
            };
            for i in from..run.step_count() {
                let s = run.step(i);
                if self.json {
                    let line = json!({
                        "event": "step", "run_id": run.id(), "step": s.step,
                        "id": ids.get(i - from), "kind": s.kind,
                        "name": s.name, "status": (s.status != Status::Unset).then_some(s.status), "error": s.error,
                    });
                    writeln!(out, "{line}")?;
                } else {
                    writeln!(
                        out,
                        "  {} #{} {} {} {} {}",
                        sanitize::line(run.id()),
                        s.step,
                        s.kind,
                        sanitize::line(s.name.unwrap_or("")),
                        s.status.as_str(),
                        sanitize::line(s.error.unwrap_or("")),
                    )?;
                }
            }
            self.reported[index] = run.step_count();
        }
        out.flush()
    }

    /// Watching stops: reports each file left ending in a line without its newline.
    pub fn finish(&mut self, history: &History, out: &mut impl Write) -> io::Result<()> {
        for problem in history.partial_last_lines() {
            if self.json {
                let line = json!({"event": "problem", "file": problem.file.display().to_string(), "line": problem.line, "reason": problem.reason});
                writeln!(out, "{line}")?;
            } else {
                writeln!(out, "problem {}", sanitize::line(&problem.to_string()))?;
            }
        }
        out.flush()
    }
}

/// Runs until the watcher stops or output fails (a closed pipe ends it quietly).
pub fn follow(
    history: &mut History,
    watcher: Watcher,
    json: bool,
    new_only: bool,
    out: &mut impl Write,
) -> io::Result<()> {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::mpsc::RecvTimeoutError;
    use std::sync::Arc;
    let stop = Arc::new(AtomicBool::new(false));
    #[cfg(unix)]
    for signal in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        signal_hook::flag::register(signal, Arc::clone(&stop))?;
    }
    let mut reporter = Reporter::new(history, json, new_only, out)?;
    while !stop.load(Ordering::Relaxed) {
        match watcher
            .events
            .recv_timeout(std::time::Duration::from_millis(100))
        {
            Ok(event) => reporter.apply(history, event, out)?,
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    // What already arrived is reported before the files' pending lines.
    while let Ok(event) = watcher.events.try_recv() {
        reporter.apply(history, event, out)?;
    }
    reporter.finish(history, out)
}
