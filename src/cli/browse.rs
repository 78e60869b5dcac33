//! `retrace [PATH...]`: the full-screen browser when stdout is a terminal (and the
//! `tui` feature is built); otherwise what `retrace ls` prints.

use std::io::Write;

use super::{CliError, Common, Paths};
use crate::runs::{self, Order};

/// The browser's colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Theme {
    Dark,
    Light,
}

impl Theme {
    pub fn as_str(self) -> &'static str {
        match self {
            Theme::Dark => "dark",
            Theme::Light => "light",
        }
    }
}

/// The arguments of `retrace [PATH...]`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub paths: Paths,
    /// The full-screen browser's colours: dark or light (default: the config file's
    /// `theme`, else dark).
    #[arg(long, value_enum)]
    pub theme: Option<Theme>,
    /// The full-screen browser watches its paths for new runs and steps: poll the files
    /// instead of using file events (network filesystems).
    #[arg(long)]
    pub poll: bool,
    #[command(flatten)]
    pub common: Common,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let common = &args.common;
    #[cfg(feature = "tui")]
    if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        return browse(args);
    }
    let history = super::load(&args.paths, common)?;
    super::report_problems(&history, 20);
    let mut out = super::stdout();
    let listed = runs::list(&history, None, Order::OLDEST_FIRST);
    super::ls::print(&history, &listed, false, &mut out)?;
    out.flush()?;
    super::finish(&history, common)
}

#[cfg(feature = "tui")]
fn browse(args: Args) -> Result<(), CliError> {
    let common = args.common;
    let paths = args.paths.resolved();
    let load = crate::index::LoadOptions {
        format: common.format,
        ..crate::index::LoadOptions::default()
    };
    let options = crate::tui::options(args.theme.map(Theme::as_str), paths.clone(), args.poll);
    match crate::tui::run(paths, load, options)? {
        crate::tui::Exit::Signal(sig) => Err(CliError::Signal(sig)),
        crate::tui::Exit::Quit => Ok(()),
    }
}
