//! The `retrace` binary: parses arguments, runs one command, maps its error to an exit
//! status. Each command lives in `retrace::cli::<command>`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use retrace::cli::{self, CliError};

/// Post-mortems of AI-agent runs: load run histories, read timelines, find where runs split.
#[derive(Parser)]
#[command(
    name = "retrace",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    browse: cli::browse::Args,
}

#[derive(Subcommand)]
enum Command {
    /// List the runs: id, agent, start, steps, duration, outcome, first error.
    Ls(cli::ls::Args),
    /// Watch files and folders: print the runs there, then every run, step and bad line
    /// as it arrives, until interrupted.
    Watch(cli::watch::Args),
    /// Show one run's timeline: the trigger, then every step.
    Show(cli::show::Args),
    /// Compare a run with another (by default the most similar successful run): both
    /// timelines aligned by behaviour, and the step where they first diverge.
    Diff(cli::diff::Args),
    /// Search every run: fuzzy text over run ids, agents, tool names, error codes and
    /// messages, inputs and outputs, combined with filters (outcome:failure,
    /// status:error, tool:NAME, agent:NAME, kind:KIND, error:CODE, label:KEY=VALUE,
    /// since:2h, until:TIME, model:NAME). Best hits first.
    Search(cli::search::Args),
    /// Figures per hour, day, agent, model, version, task, error or tool: runs,
    /// failures, failure rate, duration p50/p95, steps, tokens, error codes, first and
    /// last failure, and cost when the config file has prices.
    Stats(cli::stats::Args),
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
    /// The incident library: list the resolved incidents (--open-actions: their action
    /// items not done yet), or `add` one from a failing run's post-mortem and notes.
    Incidents(cli::incidents::Args),
    /// The resolved incidents most like a failing run, with a score and the reasons.
    Similar(cli::similar::Args),
    /// Receive OTLP/HTTP traces (POST /v1/traces, protobuf or JSON) and save them as
    /// Collector file-exporter JSON lines that every other command reads, until
    /// interrupted.
    Serve(cli::serve::Args),
}

fn main() -> ExitCode {
    let args = Cli::parse();
    let result = match args.command {
        None => cli::browse::run(args.browse),
        Some(Command::Ls(a)) => cli::ls::run(a),
        Some(Command::Watch(a)) => cli::watch::run(a),
        Some(Command::Show(a)) => cli::show::run(a),
        Some(Command::Diff(a)) => cli::diff::run(a),
        Some(Command::Search(a)) => cli::search::run(a),
        Some(Command::Stats(a)) => cli::stats::run(a),
        Some(Command::Classify(a)) => cli::classify::run(a),
        Some(Command::Report(a)) => cli::report::run(a),
        Some(Command::Notes(a)) => cli::notes::run(a),
        Some(Command::Incidents(a)) => cli::incidents::run(a),
        Some(Command::Similar(a)) => cli::similar::run(a),
        Some(Command::Serve(a)) => cli::serve::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => exit(e),
    }
}

fn exit(e: CliError) -> ExitCode {
    if let Some(message) = e.message() {
        eprintln!("retrace: {}", retrace::sanitize::line(&message));
    }
    ExitCode::from(e.exit_code())
}
