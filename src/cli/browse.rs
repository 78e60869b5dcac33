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
    /// Open at a run, or a step of it: `RUN` or `RUN#STEP` (an id or a unique prefix).
    #[arg(long, value_name = "RUN[#STEP]")]
    pub at: Option<String>,
    /// With --at: open the diff of that run with this one.
    #[arg(long, value_name = "RUN", requires = "at")]
    pub against: Option<String>,
    /// Presenter mode: the step as a large card, high contrast, no key hints, secrets
    /// redacted.
    #[arg(long)]
    pub present: bool,
    /// Replay at a fixed pace of one step every MS milliseconds (default: real time,
    /// long gaps shortened; `p` switches).
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(10..))]
    pub pace: Option<u64>,
    /// Publish this screen's position for others on this host to follow (a Unix socket
    /// under $XDG_RUNTIME_DIR/retrace/, yours only; no network).
    #[arg(long, value_name = "NAME", conflicts_with = "follow")]
    pub share: Option<String>,
    /// With --share: let the members of GROUP follow (the socket goes in a shared
    /// folder, readable by you and GROUP only).
    #[arg(long, value_name = "GROUP", requires = "share")]
    pub share_group: Option<String>,
    /// Follow the presenter sharing NAME on this host (read-only; `A` detaches).
    #[arg(long, value_name = "NAME")]
    pub follow: Option<String>,
    /// The post-mortem's library folder, where the browser keeps notes and writes
    /// reports (default: $RETRACE_LIBRARY, else $XDG_DATA_HOME/retrace).
    #[arg(long, value_name = "DIR")]
    pub library: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub common: Common,
}

impl Args {
    /// The meeting options, or why they are wrong.
    #[cfg(feature = "tui")]
    fn meeting(&self) -> Result<crate::tui::MeetingOptions, CliError> {
        let at = match &self.at {
            Some(at) => {
                Some(crate::share::parse_at(at).map_err(|e| CliError::Usage(format!("--at {e}")))?)
            }
            None => None,
        };
        Ok(crate::tui::MeetingOptions {
            at,
            against: self.against.clone(),
            present: self.present,
            pace: self.pace.map(std::time::Duration::from_millis),
            share: self.share.clone(),
            share_group: self.share_group.clone(),
            follow: self.follow.clone(),
        })
    }
}

pub fn run(args: Args) -> Result<(), CliError> {
    let common = &args.common;
    // A malformed position is an error whether or not the browser opens.
    if let Some(at) = &args.at {
        crate::share::parse_at(at).map_err(|e| CliError::Usage(format!("--at {e}")))?;
    }
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
    let mut options = crate::tui::options(args.theme.map(Theme::as_str), paths.clone(), args.poll);
    options.meeting = args.meeting()?;
    options.library = args.library.clone();
    match crate::tui::run(paths, load, options)? {
        crate::tui::Exit::Signal(sig) => Err(CliError::Signal(sig)),
        crate::tui::Exit::Quit => Ok(()),
    }
}
