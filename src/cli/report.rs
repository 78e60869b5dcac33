//! `retrace report`: the post-mortem of a run as Markdown or JSON, with the notes saved
//! for it. Renders [`crate::postmortem::report`] only.

use std::io::Write;
use std::path::PathBuf;

use super::{parse_format, CliError, Common, Paths};
use crate::model::Format;
use crate::postmortem::notes::Library;
use crate::postmortem::{report, Investigation};

/// The document's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// Markdown, for a wiki, an issue or a chat.
    Md,
    /// The same facts as JSON, for tools.
    Json,
}

/// The arguments of `retrace report`. Here `--format` is the document's format; the
/// runs' format (`--format` of the other commands) is `--input-format`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The failing run: a run id, or a unique prefix of one.
    pub run: String,
    #[command(flatten)]
    pub paths: Paths,
    /// The run to compare with (default: the most similar successful run).
    #[arg(long, value_name = "RUN_B")]
    pub against: Option<String>,
    /// md (Markdown for a wiki, an issue or a chat) or json (the same facts for tools).
    #[arg(long = "format", value_enum, default_value = "md")]
    pub output: Output,
    /// Read every file as this format instead of detecting it: native, otel,
    /// claude-code, codex, tau-bench.
    #[arg(long, value_parser = parse_format)]
    pub input_format: Option<Format>,
    /// Exit with status 1 when any problem was found, after the output.
    #[arg(long)]
    pub strict: bool,
    /// Parse every file again: neither read nor write the index cache.
    #[arg(long)]
    pub no_cache: bool,
    /// The library folder with the notes (default: $RETRACE_LIBRARY, else
    /// $XDG_DATA_HOME/retrace, else ~/.local/share/retrace).
    #[arg(long, value_name = "DIR")]
    pub library: Option<PathBuf>,
    /// Also save the Markdown report in the library (reports/RUN.md), atomically, and
    /// name the file on stderr.
    #[arg(long)]
    pub save: bool,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let common = Common {
        format: args.input_format,
        strict: args.strict,
        no_cache: args.no_cache,
    };
    let library = Library::locate(args.library.as_deref())?;
    let history = super::load(&args.paths, &common)?;
    if args.output != Output::Json {
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
    let mut out = super::stdout();
    if args.output == Output::Json {
        serde_json::to_writer_pretty(&mut out, &doc)?;
        writeln!(out)?;
    } else {
        out.write_all(report::markdown(&doc).as_bytes())?;
    }
    out.flush()?;
    super::finish(&history, &common)
}
