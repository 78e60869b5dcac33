//! The `retrace` binary: parses arguments, runs one command, maps errors to exit codes.

use std::io::{self, BufWriter, LineWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use retrace::cli;
use retrace::index::watch::{watch, WatchOptions};
use retrace::index::{History, LoadOptions};
use retrace::model::Format;

/// Post-mortems of AI-agent runs: load run histories, read timelines, find where runs split.
#[derive(Parser)]
#[command(
    name = "retrace",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// Files or folders of runs (default: the current folder).
    paths: Vec<PathBuf>,
    /// Read every file as this format instead of detecting it: native, otel,
    /// claude-code, codex, tau-bench.
    #[arg(long, global = true, value_parser = parse_format)]
    format: Option<Format>,
    /// The full-screen browser's colours: dark or light (default: the config file's
    /// `theme`, else dark).
    #[arg(long, value_parser = ["dark", "light"])]
    theme: Option<String>,
    /// The full-screen browser watches its paths for new runs and steps: poll the files
    /// instead of using file events (network filesystems).
    #[arg(long)]
    poll: bool,
}

fn parse_format(s: &str) -> Result<Format, String> {
    Format::parse(s).ok_or_else(|| {
        let known: Vec<&str> = Format::ALL.iter().map(|f| f.as_str()).collect();
        format!("unknown format {s:?}; known: {}", known.join(", "))
    })
}

#[derive(Subcommand)]
enum Command {
    /// List the runs: id, agent, start, steps, duration, outcome, first error.
    Ls {
        /// Files or folders of runs (default: the current folder).
        paths: Vec<PathBuf>,
        /// Print one JSON object {"runs": [...], "problems": [...]}.
        #[arg(long)]
        json: bool,
        /// Only runs passing these filters of the search language, e.g.
        /// 'outcome:failure agent:support-bot since:2d'.
        #[arg(long, value_name = "QUERY")]
        filter: Option<String>,
        /// Order: time (oldest first), or duration, steps, errors (most first).
        #[arg(long, value_parser = ["time", "duration", "steps", "errors"], default_value = "time")]
        sort: String,
    },
    /// Watch files and folders: print the runs there, then every run, step and bad line
    /// as it arrives, until interrupted.
    Watch {
        /// Files or folders of runs (default: the current folder).
        paths: Vec<PathBuf>,
        /// One JSON object per line: {"event":"run"|"step"|"problem", ...}.
        #[arg(long)]
        json: bool,
        /// Print only what arrives from now on.
        #[arg(long)]
        new_only: bool,
        /// Poll the files instead of using file events (network filesystems).
        #[arg(long)]
        poll: bool,
    },
    /// Show one run's timeline: the trigger, then every step.
    Show {
        /// A run id, or a unique prefix of one.
        run: String,
        /// Files or folders of runs (default: the current folder).
        paths: Vec<PathBuf>,
        /// Print one JSON object {"run": {...}, "steps": [...]}.
        #[arg(long)]
        json: bool,
    },
    /// Compare a run with another (by default the most similar successful run): both
    /// timelines aligned by behaviour, and the step where they first diverge.
    Diff {
        /// The run to investigate: a run id, or a unique prefix of one.
        run: String,
        /// Files or folders of runs (default: the current folder).
        paths: Vec<PathBuf>,
        /// The run to compare with (default: the most similar successful run).
        #[arg(long, value_name = "RUN_B")]
        against: Option<String>,
        /// Print one JSON object {"a_run", "b_run", "divergence", "alignment", ...}.
        #[arg(long)]
        json: bool,
    },
    /// Search every run: fuzzy text over run ids, agents, tool names, error codes and
    /// messages, inputs and outputs, combined with filters (outcome:failure,
    /// status:error, tool:NAME, agent:NAME, kind:KIND, error:CODE, label:KEY=VALUE,
    /// since:2h, until:TIME, model:NAME). Best hits first.
    Search {
        /// The query, e.g. 'refund polcy error:SCHEMA_MISMATCH since:7d'.
        query: String,
        /// Files or folders of runs (default: the current folder).
        paths: Vec<PathBuf>,
        /// One JSON object per hit and line: {"run_id", "step", "field", "score",
        /// "snippet", "positions"}.
        #[arg(long)]
        json: bool,
        /// Most hits shown.
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..))]
        limit: u64,
        /// Report timings and text-index figures on stderr.
        #[arg(long)]
        stats: bool,
    },
    /// Classify a failing run: tool_failure, prompt_drift, state_corruption,
    /// environmental_change or edge_case_input, with confidence, evidence and runner-ups.
    Classify(cli::classify::Args),
    /// Write the post-mortem of a run: title, summary, impact, incident timeline,
    /// divergence, category with evidence, narrative, action items, references
    /// (--format md|json).
    Report(cli::report::Args),
    /// Show or change the notes on a run (root cause, bookmarks, step notes, category,
    /// narrative, action items), kept in the library, never in the log folders.
    Notes(cli::notes::Args),
}

fn main() -> ExitCode {
    let args = Args::parse_from(cli::report::output_format_alias(
        std::env::args_os().collect(),
    ));
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let text = format!("{e:#}");
            eprintln!("retrace: {}", retrace::sanitize::line(&text));
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<io::Error>())
        .any(|io| io.kind() == io::ErrorKind::BrokenPipe)
}

fn load(paths: Vec<PathBuf>, format: Option<Format>) -> anyhow::Result<History> {
    let paths = if paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        paths
    };
    let options = LoadOptions {
        format,
        ..LoadOptions::default()
    };
    let history = History::load(&paths, &options)?;
    if history.files().is_empty() {
        anyhow::bail!(
            "no run files (.jsonl, .ndjson, .jsonl.gz, .jsonl.zst, or .json of a known format) under {}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(history)
}

/// Files whose every line was bad: an error for scripts, after the problems were shown.
fn nothing_read(history: &History) -> anyhow::Result<()> {
    if history.run_count() == 0 && !history.problems().is_empty() {
        anyhow::bail!(
            "nothing could be read: {} bad lines and no runs",
            history.problems().len()
        );
    }
    Ok(())
}

fn run(args: Args) -> anyhow::Result<()> {
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    match args.command {
        // The full-screen browser when stdout is a terminal; else the run list.
        None => {
            #[cfg(feature = "tui")]
            if io::IsTerminal::is_terminal(&io::stdout()) {
                let paths = if args.paths.is_empty() {
                    vec![PathBuf::from(".")]
                } else {
                    args.paths
                };
                let load_options = LoadOptions {
                    format: args.format,
                    ..LoadOptions::default()
                };
                let options =
                    retrace::tui::options(args.theme.as_deref(), paths.clone(), args.poll);
                if let retrace::tui::Exit::Signal(sig) =
                    retrace::tui::run(paths, load_options, options)?
                {
                    std::process::exit(128 + sig);
                }
                return Ok(());
            }
            let history = load(args.paths, args.format)?;
            cli::report_problems(&history, 20);
            cli::ls::print(&history, &cli::ls::all_runs(&history), false, &mut out)?;
        }
        Some(Command::Ls {
            paths,
            json,
            filter,
            sort,
        }) => {
            let query = match filter
                .as_deref()
                .map(retrace::search::Query::parse)
                .transpose()
            {
                Ok(q) => q,
                Err(e) => {
                    eprintln!("retrace: filter: {}", retrace::sanitize::line(&e.message));
                    std::process::exit(2);
                }
            };
            let history = load(paths, args.format)?;
            if !json {
                cli::report_problems(&history, 20);
            }
            let mut runs = cli::ls::all_runs(&history);
            if let Some(q) = &query {
                let now = retrace::search::now_ms();
                runs.retain(|r| q.matches_run(r, now));
            }
            let by = match sort.as_str() {
                "duration" => Some(retrace::search::RunSort::Duration),
                "steps" => Some(retrace::search::RunSort::Steps),
                "errors" => Some(retrace::search::RunSort::Errors),
                _ => None,
            };
            if let Some(by) = by {
                retrace::search::sort_runs(&mut runs, by, true);
            }
            cli::ls::print(&history, &runs, json, &mut out)?;
            nothing_read(&history)?;
        }
        Some(Command::Watch {
            paths,
            json,
            new_only,
            poll,
        }) => {
            let paths = if paths.is_empty() {
                vec![PathBuf::from(".")]
            } else {
                paths
            };
            let mut history = History::load(
                &paths,
                &LoadOptions {
                    format: args.format,
                    ..LoadOptions::default()
                },
            )?;
            let options = WatchOptions {
                poll,
                format: args.format,
                ..WatchOptions::default()
            };
            let watcher = watch(paths, &history, options);
            if watcher.polling && !poll {
                eprintln!("retrace: no file events here; polling");
            }
            cli::watch::run(
                &mut history,
                watcher,
                json,
                new_only,
                &mut LineWriter::new(io::stdout()),
            )?;
        }
        Some(Command::Show { run, paths, json }) => {
            let history = load(paths, args.format)?;
            if !json {
                cli::report_problems(&history, 5);
            }
            let found = history.find_run(&run)?;
            let steps = found
                .load_steps()
                .with_context(|| format!("reading the steps of run {}", found.id()))?;
            cli::show::print(&found, &steps, json, &mut out)?;
        }
        Some(Command::Diff {
            run,
            paths,
            against,
            json,
        }) => {
            let history = load(paths, args.format)?;
            if !json {
                cli::report_problems(&history, 5);
            }
            let a = history.find_run(&run)?;
            let b = against
                .as_deref()
                .map(|r| history.find_run(r))
                .transpose()?;
            let diff = retrace::diverge::diff(&history, a, b)?;
            cli::diff::print(&diff, json, &mut out)?;
        }
        Some(Command::Search {
            query,
            paths,
            json,
            limit,
            stats,
        }) => {
            let query = match retrace::search::Query::parse(&query) {
                Ok(q) => q,
                Err(e) => {
                    // A malformed query is a usage error.
                    eprintln!("retrace: query: {}", retrace::sanitize::line(&e.message));
                    std::process::exit(2);
                }
            };
            let started = std::time::Instant::now();
            let history = load(paths, args.format)?;
            if stats {
                eprintln!(
                    "load: {} steps, {} runs in {:.2} s",
                    history.step_count(),
                    history.run_count(),
                    started.elapsed().as_secs_f64()
                );
            }
            if !json {
                cli::report_problems(&history, 5);
            }
            let options = cli::search::Options {
                json,
                limit: limit as usize,
                highlight: !json && io::IsTerminal::is_terminal(&io::stdout()),
                stats,
            };
            cli::search::run(&history, &query, &options, &mut out)?;
            nothing_read(&history)?;
        }
        Some(Command::Classify(a)) => cli::classify::run(a, args.format)?,
        Some(Command::Report(a)) => cli::report::run(a, args.format)?,
        Some(Command::Notes(a)) => cli::notes::run(a, args.format)?,
    }
    out.flush()?;
    Ok(())
}
