//! `retrace serve`: runs the OTLP/HTTP receiver ([`crate::serve`]) until interrupted,
//! printing one line per answered request and every problem.

use std::io::{self, LineWriter, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::CliError;
use crate::sanitize;
use crate::serve::{self, Config, Received, ServeEvent, ServeProblem};

/// The arguments of `retrace serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Address to listen on: HOST:PORT, or :PORT for loopback. Anything but a loopback
    /// address lets other machines send (a warning is printed).
    #[arg(long, value_name = "ADDR", default_value = serve::DEFAULT_LISTEN, value_parser = serve::parse_listen)]
    pub listen: SocketAddr,
    /// Folder the received traces are written to (default:
    /// $XDG_DATA_HOME/retrace/received, else ~/.local/share/retrace/received).
    #[arg(long, value_name = "DIR")]
    pub save: Option<PathBuf>,
    /// Largest request body taken, compressed or decompressed (larger: 413).
    #[arg(long, value_name = "BYTES", default_value_t = serve::DEFAULT_MAX_BODY)]
    pub max_body: u64,
    /// Size at which a new file is started in the save folder.
    #[arg(long, value_name = "BYTES", default_value_t = serve::DEFAULT_MAX_FILE)]
    pub max_file: u64,
    /// One JSON object per line: {"event":"listening"|"received"|"problem"|"stopped", ...}.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let save_dir = match args.save.or_else(serve::default_save_dir) {
        Some(dir) => dir,
        None => {
            return Err(CliError::Usage(
                "no save folder: pass --save DIR (neither XDG_DATA_HOME nor HOME is set)".into(),
            ))
        }
    };
    if args.max_body == 0 {
        return Err(CliError::Usage("--max-body must be at least 1".into()));
    }
    let config = Config {
        max_body: args.max_body,
        max_file_bytes: args.max_file,
        ..Config::new(args.listen, save_dir)
    };
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        // The first signal stops cleanly; a second one, while that waits, exits at once.
        signal_hook::flag::register_conditional_shutdown(signal, 130, Arc::clone(&stop))
            .and_then(|_| signal_hook::flag::register(signal, Arc::clone(&stop)))
            .map_err(|e| CliError::Failed(anyhow::anyhow!("cannot handle signals: {e}")))?;
    }
    let handle = serve::start(config).map_err(|e| CliError::Failed(e.into()))?;
    let addr = handle.addr();
    let dir = handle.save_dir().display().to_string();
    let mut out = LineWriter::new(io::stdout());
    if args.json {
        let line = json!({"event": "listening", "addr": addr.to_string(), "save_dir": dir});
        writeln!(out, "{line}")?;
    } else {
        eprintln!(
            "retrace: receiving OTLP/HTTP on http://{addr} (POST /v1/traces), saving to {}",
            sanitize::line(&dir)
        );
    }
    if !addr.ip().is_loopback() {
        eprintln!(
            "retrace: warning: listening on {addr}, not loopback: any machine that can reach \
             it may send traces (there is no authentication)"
        );
    }
    let mut totals = (0usize, 0usize, 0usize);
    let mut print = |out: &mut LineWriter<io::Stdout>, event: ServeEvent| -> io::Result<()> {
        match event {
            ServeEvent::Received(r) => {
                totals.0 += 1;
                totals.1 += r.spans;
                print_received(out, args.json, &r)
            }
            ServeEvent::Problem(p) => {
                totals.2 += 1;
                print_problem(out, args.json, &p)
            }
        }
    };
    while !stop.load(Ordering::SeqCst) {
        match handle.events.recv_timeout(Duration::from_millis(100)) {
            Ok(event) => print(&mut out, event)?,
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    // Stop accepting, let requests in progress finish, then report what they did.
    for event in handle.shutdown() {
        print(&mut out, event)?;
    }
    let (requests, spans, problems) = totals;
    if args.json {
        let line =
            json!({"event": "stopped", "requests": requests, "spans": spans, "problems": problems});
        writeln!(out, "{line}")?;
    } else {
        eprintln!(
            "retrace: stopped after {requests} request(s), {spans} span(s), {problems} problem(s)"
        );
    }
    Ok(())
}

fn print_received(out: &mut impl Write, json: bool, r: &Received) -> io::Result<()> {
    if json {
        let mut line = serde_json::to_value(r).map_err(io::Error::other)?;
        line["event"] = json!("received");
        line["at"] = json!(crate::time::format_rfc3339(crate::search::now_ms()));
        return writeln!(out, "{line}");
    }
    let peer = r.peer.map_or("-".into(), |p| p.to_string());
    let signal = match r.signal {
        serve::Signal::Traces => "traces",
        serve::Signal::Logs => "logs",
        serve::Signal::Metrics => "metrics (passed over)",
    };
    let encoding = match r.encoding {
        serve::Encoding::Protobuf => "protobuf",
        serve::Encoding::Json => "json",
    };
    let mut line = format!(
        "{} {peer} {signal} {encoding} {} B",
        crate::time::format_short(crate::search::now_ms()),
        r.bytes
    );
    match r.signal {
        serve::Signal::Traces => {
            line.push_str(&format!(": {} span(s) in {} trace(s)", r.spans, r.traces));
            if r.rejected_spans > 0 {
                line.push_str(&format!(", {} rejected", r.rejected_spans));
            }
        }
        serve::Signal::Logs => {
            line.push_str(&format!(
                ": {} GenAI event(s), the rest passed over",
                r.genai_events
            ));
        }
        serve::Signal::Metrics => line.push_str(" (passed over)"),
    }
    if let Some(file) = &r.file {
        line.push_str(&format!(
            " -> {}",
            sanitize::line(&file.display().to_string())
        ));
    }
    writeln!(out, "{line}")
}

fn print_problem(out: &mut impl Write, json: bool, p: &ServeProblem) -> io::Result<()> {
    if json {
        let mut line = serde_json::to_value(p).map_err(io::Error::other)?;
        line["event"] = json!("problem");
        line["at"] = json!(crate::time::format_rfc3339(crate::search::now_ms()));
        return writeln!(out, "{line}");
    }
    let peer = p.peer.map_or(String::new(), |p| format!("{p} "));
    let request = if p.path.is_empty() {
        String::new()
    } else {
        format!("{} {} ", p.method, p.path)
    };
    let status = if p.status == 0 {
        String::new()
    } else {
        format!("-> {}: ", p.status)
    };
    eprintln!(
        "retrace: problem: {}",
        sanitize::line(&format!("{peer}{request}{status}{}", p.reason))
    );
    Ok(())
}
