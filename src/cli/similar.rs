//! `retrace similar`: the resolved incidents of the library most like a failing run, best
//! first, each with its score and the reasons; only those above the documented threshold
//! ([`crate::incidents::similar::THRESHOLD`]). Renders [`crate::incidents::similar`] only.

use std::io::Write;
use std::path::PathBuf;

use super::{CliError, Common, Paths};
use crate::incidents::cache::{self, PreparedLibrary};
use crate::incidents::similar::{Match, SimilarIndex, THRESHOLD};
use crate::incidents::store::IncidentStore;
use crate::postmortem::notes::Library;
use crate::sanitize;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The failing run: a run id, or a unique prefix of one.
    pub run: String,
    #[command(flatten)]
    pub paths: Paths,
    /// The library folder (default: $RETRACE_LIBRARY, else $XDG_DATA_HOME/retrace, else
    /// ~/.local/share/retrace).
    #[arg(long, value_name = "DIR")]
    pub library: Option<PathBuf>,
    /// Most incidents shown.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
    pub limit: u64,
    /// One JSON array, best first: [{"incident", "score", "reasons", "category",
    /// "title", "recurrence", "runs"}] (empty when nothing is similar).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub common: Common,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let library = Library::locate(args.library.as_deref())?;
    let history = super::load(&args.paths, &args.common)?;
    if !args.json {
        super::report_problems(&history, 5);
    }
    let run = history.find_run(&args.run)?;
    let store = IncidentStore::new(library);
    let failure = crate::incidents::failure_of(&history, run, store.library())
        .map_err(|e| CliError::Failed(e.into()))?;
    let (count, matches, problems) = match cache::default_dir().filter(|_| !args.common.no_cache) {
        Some(dir) => {
            let library = PreparedLibrary::load(&store, &dir)?;
            let matches = library.similar(&store, &failure, args.limit as usize);
            (library.len(), matches, library.problems)
        }
        None => {
            let loaded = store.load_all()?;
            let count = loaded.incidents.len();
            let index = SimilarIndex::new(loaded.incidents);
            let matches = index.similar(&failure, args.limit as usize);
            (count, matches, loaded.problems)
        }
    };
    for p in &problems {
        eprintln!("retrace: {}", sanitize::line(&p.to_string()));
    }
    let mut out = super::stdout();
    if args.json {
        serde_json::to_writer(&mut out, &matches)?;
        writeln!(out)?;
    } else {
        print(run.id(), count, &matches, &mut out)?;
    }
    out.flush()?;
    super::finish(&history, &args.common)
}

pub fn print(
    run: &str,
    library_size: usize,
    matches: &[Match],
    out: &mut impl Write,
) -> std::io::Result<()> {
    if matches.is_empty() {
        return writeln!(
            out,
            "no incident of the library ({library_size}) is similar to {} (score ≥ {THRESHOLD:.2})",
            sanitize::line(run)
        );
    }
    for m in matches {
        writeln!(
            out,
            "{:.2}  {}: {}  ({})",
            m.score,
            sanitize::line(&m.incident),
            sanitize::line(&m.title),
            m.category.label()
        )?;
        for r in &m.reasons {
            writeln!(out, "      · {}", sanitize::line(r))?;
        }
    }
    Ok(())
}
