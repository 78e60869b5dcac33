//! `retrace report`: the post-mortem of a run as Markdown or JSON, with the notes saved
//! for it. Renders [`crate::postmortem::report`] only.

use std::io::{self, Write};
use std::path::PathBuf;

use crate::model::Format;
use crate::postmortem::notes::Library;
use crate::postmortem::{report, Investigation};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The failing run: a run id, or a unique prefix of one.
    pub run: String,
    /// Files or folders of runs (default: the current folder).
    pub paths: Vec<PathBuf>,
    /// The run to compare with (default: the most similar successful run).
    #[arg(long, value_name = "RUN_B")]
    pub against: Option<String>,
    /// md (Markdown for a wiki, an issue or a chat) or json (the same facts for tools).
    #[arg(long = "as", value_name = "FORMAT", value_parser = ["md", "json"], default_value = "md")]
    pub output: String,
    /// The library folder with the notes (default: $RETRACE_LIBRARY, else
    /// $XDG_DATA_HOME/retrace, else ~/.local/share/retrace).
    #[arg(long, value_name = "DIR")]
    pub library: Option<PathBuf>,
    /// Also save the Markdown report in the library (reports/RUN.md), atomically, and
    /// name the file on stderr.
    #[arg(long)]
    pub save: bool,
}

pub fn run(args: Args, format: Option<Format>) -> anyhow::Result<()> {
    let library = Library::locate(args.library.as_deref())?;
    let history = super::load_history(args.paths, format)?;
    if args.output != "json" {
        super::report_problems(&history, 5);
    }
    let run = history.find_run(&args.run)?;
    let against = args
        .against
        .as_deref()
        .map(|r| history.find_run(r))
        .transpose()?;
    let notes = library.load_notes(run.id())?;
    let inv = Investigation::open(&history, run, against)?;
    let doc = report::build(&history, &inv, &notes)?;
    if args.save {
        let path = library.save_report(run.id(), &report::markdown(&doc))?;
        eprintln!("saved {}", path.display());
    }
    let mut out = io::BufWriter::new(io::stdout().lock());
    if args.output == "json" {
        serde_json::to_writer_pretty(&mut out, &doc)?;
        writeln!(out)?;
    } else {
        out.write_all(report::markdown(&doc).as_bytes())?;
    }
    out.flush()?;
    Ok(())
}

/// `retrace report … --format md|json`: `--format` is also the global input-format flag
/// (native, otel, …), so for `report` a Markdown or JSON value is read as the output
/// format (`--as`). Other commands' arguments are returned unchanged.
pub fn output_format_alias(args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let is_report = args
        .iter()
        .skip(1)
        .find(|a| !a.to_string_lossy().starts_with('-'))
        .is_some_and(|a| a == "report");
    if !is_report {
        return args;
    }
    let mut out = Vec::with_capacity(args.len());
    let mut i = 0;
    while i < args.len() {
        let a = args[i].to_string_lossy();
        if a == "--format" && args.get(i + 1).is_some_and(|v| v == "md" || v == "json") {
            out.push("--as".into());
            out.push(args[i + 1].clone());
            i += 2;
            continue;
        }
        if let Some(v) = a
            .strip_prefix("--format=")
            .filter(|v| *v == "md" || *v == "json")
        {
            out.push(format!("--as={v}").into());
            i += 1;
            continue;
        }
        out.push(args[i].clone());
        i += 1;
    }
    out
}
