//! The `retrace` binary: parses arguments, runs one command, maps its error to an exit
//! status. Each command lives in `retrace::cli::<command>`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use retrace::cli::{self, CliError, Common};

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
    #[command(flatten)]
    common: Common,
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
    /// Receive OTLP/HTTP traces (POST /v1/traces, protobuf or JSON) and save them as
    /// Collector file-exporter JSON lines that every other command reads, until
    /// interrupted.
    Serve(cli::serve::Args),
}

fn main() -> ExitCode {
    let args = Cli::parse();
    let common = args.common;
    let result = match args.command {
        None => cli::browse::run(args.browse, &common),
        Some(Command::Ls(a)) => cli::ls::run(a, &common),
        Some(Command::Watch(a)) => cli::watch::run(a, &common),
        Some(Command::Show(a)) => cli::show::run(a, &common),
        Some(Command::Diff(a)) => cli::diff::run(a, &common),
        Some(Command::Search(a)) => cli::search::run(a, &common),
        Some(Command::Serve(a)) => cli::serve::run(a, &common),
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
