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
    /// Receive OTLP/HTTP traces while browsing (as `retrace serve` does): runs appear as
    /// they are sent. ADDR is HOST:PORT or :PORT (default 127.0.0.1:4318); anything but
    /// loopback lets other machines send.
    #[arg(long, value_name = "ADDR", num_args = 0..=1,
          default_missing_value = crate::serve::DEFAULT_LISTEN,
          value_parser = crate::serve::parse_listen)]
    pub listen: Option<std::net::SocketAddr>,
    /// With --listen: the folder received traces are saved in, and read from (default:
    /// $XDG_DATA_HOME/retrace/received, else ~/.local/share/retrace/received).
    #[arg(long, value_name = "DIR", requires = "listen")]
    pub save: Option<std::path::PathBuf>,
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
    if args.listen.is_some() {
        return Err(CliError::Usage(
            "--listen receives while the browser is open, on a terminal: without one, \
             use `retrace serve`"
                .into(),
        ));
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
    let load = crate::index::LoadOptions {
        format: common.format,
        behind_ui: true,
        cache: common.cache_dir(),
        ..crate::index::LoadOptions::default()
    };
    // The receiver starts first: its errors (the port taken) are plain messages, and its
    // save folder exists before the history is opened on it.
    let mut receiver = match args.listen {
        Some(addr) => Some(start_receiver(addr, args.save.clone())?),
        None => None,
    };
    let paths = match &receiver {
        Some(r) => with_save_dir(&args.paths.paths, r.save_dir()),
        None => args.paths.resolved(),
    };
    let mut options = crate::tui::options(args.theme.map(Theme::as_str), paths.clone(), args.poll);
    options.meeting = args.meeting()?;
    options.library = args.library.clone();
    options.receiving = receiver.as_ref().map(crate::serve::Handle::addr);
    let events = receiver.as_mut().map(crate::serve::Handle::take_events);
    let exit = crate::tui::run(paths, load, options, events);
    // The screen is restored by now; requests in progress finish and are saved.
    if let Some(r) = receiver {
        r.shutdown();
    }
    match exit? {
        crate::tui::Exit::Signal(sig) => Err(CliError::Signal(sig)),
        crate::tui::Exit::Quit => Ok(()),
    }
}

/// Starts the OTLP receiver for `--listen`, saving into `save` (else the per-user
/// default, never one of the folders being read).
#[cfg(feature = "tui")]
fn start_receiver(
    addr: std::net::SocketAddr,
    save: Option<std::path::PathBuf>,
) -> Result<crate::serve::Handle, CliError> {
    let Some(save_dir) = save.or_else(crate::serve::default_save_dir) else {
        return Err(CliError::Usage(
            "--listen: no save folder: pass --save DIR (neither XDG_DATA_HOME nor HOME is set)"
                .into(),
        ));
    };
    let handle = crate::serve::start(crate::serve::Config::new(addr, save_dir))
        .map_err(|e| CliError::Failed(anyhow::anyhow!("--listen: {e}")))?;
    if !handle.addr().ip().is_loopback() {
        eprintln!(
            "retrace: warning: receiving OTLP on {}, which other machines can reach \
             (no authentication, no TLS)",
            handle.addr()
        );
    }
    Ok(handle)
}

/// The paths to read and watch: those given (none: only the save folder, not the current
/// one) and the receiver's save folder, unless it is already under one of them.
#[cfg(feature = "tui")]
fn with_save_dir(
    given: &[std::path::PathBuf],
    save_dir: &std::path::Path,
) -> Vec<std::path::PathBuf> {
    let canonical =
        |p: &std::path::Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let save = canonical(save_dir);
    let mut paths = given.to_vec();
    if !given.iter().any(|p| save.starts_with(canonical(p))) {
        paths.push(save_dir.to_path_buf());
    }
    paths
}

#[cfg(all(test, feature = "tui"))]
mod tests {
    use super::with_save_dir;

    #[test]
    fn the_save_folder_is_read_beside_the_paths_unless_already_under_one() {
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("logs");
        let inside = logs.join("received");
        let apart = dir.path().join("received");
        std::fs::create_dir_all(&inside).unwrap();
        std::fs::create_dir_all(&apart).unwrap();
        let given = vec![logs.clone()];
        assert_eq!(with_save_dir(&[], &apart), vec![apart.clone()]);
        assert_eq!(with_save_dir(&given, &apart), vec![logs.clone(), apart]);
        // Read once, through the folder that holds it.
        assert_eq!(with_save_dir(&given, &inside), given);
        let relative = logs.join("..").join("logs").join("received");
        assert_eq!(with_save_dir(&given, &relative), given);
    }
}
