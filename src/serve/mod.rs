//! The OTLP/HTTP receiver: agents (or a Collector's `otlphttp` exporter) POST traces to
//! `/v1/traces`, protobuf or JSON, gzip or not; each request is saved as one line of
//! Collector file-exporter JSON in a folder of its own, fsynced before it is
//! acknowledged, so that what was received is history like any other file (`ls`, `diff`,
//! `search`, and the watcher, which picks up the new lines). From `/v1/logs` the GenAI
//! events are kept (a model call's messages, when an instrumentation logs them);
//! `/v1/metrics` is accepted and passed over. Runs on threads of its own ([`start`] gives a
//! [`Handle`] to stop it); no terminal code, no async runtime.
//!
//! Spans of one trace that arrive in several requests, out of order or late, are lines
//! (perhaps in several files) with the same trace id: the index assembles them into one
//! run. A trace whose root span has not arrived has no outcome yet, so it shows as
//! `running` while its file is being written (see [`crate::index::LoadOptions`]).

mod http;
mod logs;
mod otlp;
pub mod proto;
mod receiver;
mod store;

use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde::Serialize;

pub use logs::{decode_genai_events, GenAiEvents};
pub use otlp::{decode_traces, Encoding, Traces, MAX_SPAN_DEPTH};
pub use store::{torn_files, Store, TornFile};

/// The address OTLP/HTTP exporters send to by default, on loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:4318";
/// The largest request body taken, compressed or not (larger ones get 413).
pub const DEFAULT_MAX_BODY: u64 = 32 * 1024 * 1024;
/// The size at which a new file is started in the save folder.
pub const DEFAULT_MAX_FILE: u64 = 64 * 1024 * 1024;
/// Connections served at once; more are answered 503 and closed.
pub const MAX_CONNECTIONS: usize = 64;

/// How to run the receiver.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// Where received traces are written (created if missing).
    pub save_dir: PathBuf,
    /// The largest request body, before and after decompression.
    pub max_body: u64,
    /// The size at which a new file is started.
    pub max_file_bytes: u64,
    /// How long a connection may sit idle, or stall inside a request, before it is closed.
    pub idle_timeout: Duration,
}

impl Config {
    pub fn new(listen: SocketAddr, save_dir: PathBuf) -> Config {
        Config {
            listen,
            save_dir,
            max_body: DEFAULT_MAX_BODY,
            max_file_bytes: DEFAULT_MAX_FILE,
            idle_timeout: Duration::from_secs(30),
        }
    }
}

/// Errors starting the receiver.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {cause}")]
    Bind { addr: String, cause: std::io::Error },
    #[error("cannot use the folder {}: {cause}", path.display())]
    Folder {
        path: PathBuf,
        cause: std::io::Error,
    },
}

/// Resolves a `--listen` value: `HOST:PORT`, `[V6]:PORT`, or `:PORT` (loopback).
pub fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    let text = text.trim();
    let full = match text.strip_prefix(':') {
        Some(port) => format!("127.0.0.1:{port}"),
        None => text.to_string(),
    };
    full.to_socket_addrs()
        .map_err(|e| format!("{text:?} is not an address (HOST:PORT): {e}"))?
        .next()
        .ok_or_else(|| format!("{text:?} resolves to no address"))
}

/// The default save folder: `$XDG_DATA_HOME/retrace/received`, else
/// `~/.local/share/retrace/received`; `None` without either variable.
pub fn default_save_dir() -> Option<PathBuf> {
    let data = std::env::var_os("XDG_DATA_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .map(|h| Path::new(&h).join(".local/share"))
        })?;
    Some(data.join("retrace").join("received"))
}

/// Which OTLP signal a request carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    Traces,
    Logs,
    Metrics,
}

/// A request that was answered 200.
#[derive(Debug, Clone, Serialize)]
pub struct Received {
    pub peer: Option<SocketAddr>,
    pub signal: Signal,
    pub encoding: Encoding,
    /// Body bytes as received (before decompression).
    pub bytes: u64,
    pub spans: usize,
    pub traces: usize,
    pub rejected_spans: usize,
    /// GenAI events kept from a log export (`gen_ai.*` log records of a trace).
    pub genai_events: usize,
    /// Where the spans or events were written (none for metrics, or nothing usable).
    pub file: Option<PathBuf>,
}

/// A request that could not be (wholly) used, and what it was answered.
#[derive(Debug, Clone, Serialize)]
pub struct ServeProblem {
    pub peer: Option<SocketAddr>,
    pub method: String,
    pub path: String,
    /// The HTTP status sent (200 for a partial success; 0 for no request).
    pub status: u16,
    pub reason: String,
    /// The saved file the problem is about (one left with a torn line by a crash).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
}

/// What the save folder holds from an earlier run that ended badly: each file whose last
/// line was cut off (a request never acknowledged, left out when read), as a problem.
/// Reported on every start, by `retrace serve` and the browser's `--listen` alike.
pub fn torn_problems(save_dir: &Path) -> Vec<ServeProblem> {
    let problem = |file: Option<PathBuf>, reason: String| ServeProblem {
        peer: None,
        method: String::new(),
        path: String::new(),
        status: 0,
        reason,
        file,
    };
    match torn_files(save_dir) {
        Ok(torn) => torn
            .into_iter()
            .map(|t| {
                let reason = format!(
                    "{} ends with a partial line of {} bytes (a request cut off before it \
                     was acknowledged); it is left out when read",
                    t.path.display(),
                    t.partial_bytes
                );
                problem(Some(t.path), reason)
            })
            .collect(),
        Err(e) => vec![problem(
            Some(save_dir.to_path_buf()),
            format!(
                "cannot look for lines an earlier crash cut off in {}: {e}",
                save_dir.display()
            ),
        )],
    }
}

/// What the receiver reports, in order.
#[derive(Debug, Clone)]
pub enum ServeEvent {
    Received(Received),
    Problem(ServeProblem),
}

/// State the connection threads share.
struct Shared {
    config: Config,
    store: Mutex<Store>,
    stop: AtomicBool,
    connections: AtomicUsize,
    /// Requests between their head and their answer.
    in_flight: AtomicUsize,
    events: Mutex<std::sync::mpsc::Sender<ServeEvent>>,
    problems: Mutex<Vec<ServeProblem>>,
}

/// Problems kept for [`Handle::problems`]; the oldest are dropped past this.
const KEPT_PROBLEMS: usize = 1000;

impl Shared {
    fn report(&self, event: ServeEvent) {
        if let ServeEvent::Problem(p) = &event {
            if let Ok(mut kept) = self.problems.lock() {
                if kept.len() >= KEPT_PROBLEMS {
                    kept.remove(0);
                }
                kept.push(p.clone());
            }
        }
        if let Ok(events) = self.events.lock() {
            // Nobody listening is fine: the problems are kept all the same.
            let _ = events.send(event);
        }
    }
}

/// A running receiver. Dropping it stops it too.
pub struct Handle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
    /// Every request answered and every problem, in order.
    pub events: Receiver<ServeEvent>,
}

impl Handle {
    /// The address it listens on (with the port chosen when 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The save folder.
    pub fn save_dir(&self) -> &Path {
        &self.shared.config.save_dir
    }

    /// Takes [`Handle::events`] for another thread to read (the browser forwards them to
    /// its loop); the handle keeps an empty one, and still stops the receiver.
    pub fn take_events(&mut self) -> Receiver<ServeEvent> {
        std::mem::replace(&mut self.events, channel().1)
    }

    /// The latest problems (at most 1000).
    pub fn problems(&self) -> Vec<ServeProblem> {
        self.shared
            .problems
            .lock()
            .map(|p| p.clone())
            .unwrap_or_default()
    }

    /// Stops accepting, lets requests in progress finish (everything acknowledged is on
    /// disk before its answer), and returns the events not yet taken from
    /// [`Handle::events`].
    pub fn shutdown(mut self) -> Vec<ServeEvent> {
        self.stop();
        self.events.try_iter().collect()
    }

    fn stop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        // A request still being received is given a moment to be written and answered.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while self.shared.in_flight.load(Ordering::SeqCst) > 0
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Binds, opens the save folder, and starts serving on threads of its own. The first
/// events are the save folder's [`torn_problems`].
pub fn start(config: Config) -> Result<Handle, ServeError> {
    // Looked for before anything new is written to the folder.
    let torn = torn_problems(&config.save_dir);
    let store = Store::open(&config.save_dir, config.max_file_bytes).map_err(|cause| {
        ServeError::Folder {
            path: config.save_dir.clone(),
            cause,
        }
    })?;
    let listener = TcpListener::bind(config.listen).map_err(|cause| ServeError::Bind {
        addr: config.listen.to_string(),
        cause,
    })?;
    let addr = listener.local_addr().map_err(|cause| ServeError::Bind {
        addr: config.listen.to_string(),
        cause,
    })?;
    // Non-blocking, so that the acceptor notices a stop within a tick.
    listener
        .set_nonblocking(true)
        .map_err(|cause| ServeError::Bind {
            addr: addr.to_string(),
            cause,
        })?;
    let (sender, events) = channel();
    let shared = Arc::new(Shared {
        config,
        store: Mutex::new(store),
        stop: AtomicBool::new(false),
        connections: AtomicUsize::new(0),
        in_flight: AtomicUsize::new(0),
        events: Mutex::new(sender),
        problems: Mutex::new(Vec::new()),
    });
    for problem in torn {
        shared.report(ServeEvent::Problem(problem));
    }
    let acceptor = {
        let shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("retrace-serve".into())
            .spawn(move || receiver::accept(listener, shared))
            .map_err(|cause| ServeError::Bind {
                addr: addr.to_string(),
                cause,
            })?
    };
    Ok(Handle {
        addr,
        shared,
        acceptor: Some(acceptor),
        events,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpStream;

    fn post_json(addr: SocketAddr, body: &str) -> String {
        let mut stream = TcpStream::connect(addr).unwrap();
        write!(
            stream,
            "POST /v1/traces HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).unwrap();
        reply
    }

    #[test]
    fn a_started_receiver_reports_what_it_saved_and_stops_on_shutdown() {
        let dir = tempfile::tempdir().unwrap();
        let listen = parse_listen("127.0.0.1:0").unwrap();
        let handle = start(Config::new(listen, dir.path().join("in"))).unwrap();
        let addr = handle.addr();
        assert_ne!(addr.port(), 0);
        let span = r#"{"traceId":"0123456789abcdef0123456789abcdef","spanId":"0123456789abcdef","name":"s"}"#;
        let body = format!(r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{span}]}}]}}]}}"#);
        assert!(post_json(addr, &body).starts_with("HTTP/1.1 200"));
        assert!(post_json(addr, "nonsense").starts_with("HTTP/1.1 400"));
        let events = handle.shutdown();
        let saved = events.iter().find_map(|e| match e {
            ServeEvent::Received(r) => r.file.clone(),
            ServeEvent::Problem(_) => None,
        });
        let saved = saved.expect("a received event with its file");
        let line = std::fs::read_to_string(saved).unwrap();
        assert!(
            line.starts_with(r#"{"resourceSpans":"#)
                && line.contains(r#""spanId":"0123456789abcdef""#)
        );
        assert!(events.iter().any(
            |e| matches!(e, ServeEvent::Problem(p) if p.status == 400 && p.reason.contains("JSON"))
        ));
        assert!(TcpStream::connect(addr).is_err(), "no longer listening");
    }

    #[test]
    fn listen_addresses_and_the_default_folder() {
        assert_eq!(
            parse_listen(":4319").unwrap(),
            "127.0.0.1:4319".parse().unwrap()
        );
        assert_eq!(
            parse_listen("[::1]:4318").unwrap(),
            "[::1]:4318".parse().unwrap()
        );
        assert!(parse_listen("nonsense").is_err());
        assert!(parse_listen(DEFAULT_LISTEN).unwrap().ip().is_loopback());
    }
}
