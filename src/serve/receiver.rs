//! The receiver's threads: the acceptor, one thread per connection (bounded), and the
//! answer to each request — route, limits, decompression, decoding, the durable write,
//! then the OTLP response. Every failure is an answer and a problem, never a panic.

use std::io::{self, BufReader, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::http::{self, BodyError, Head, HeadRead};
use super::otlp::{self, Encoding};
use super::{Received, ServeEvent, ServeProblem, Shared, Signal, MAX_CONNECTIONS};

/// How much of an unwanted body is read and dropped so the client sees the answer.
const DISCARD_LIMIT: u64 = 256 * 1024 * 1024;

pub(super) fn accept(listener: TcpListener, shared: Arc<Shared>) {
    while !shared.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, peer)) => {
                let _ = stream.set_nonblocking(false);
                if shared.connections.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
                    shared.connections.fetch_sub(1, Ordering::SeqCst);
                    refuse(stream, peer, &shared);
                    continue;
                }
                let conn_shared = Arc::clone(&shared);
                let spawned = std::thread::Builder::new()
                    .name("retrace-serve-conn".into())
                    .spawn(move || {
                        serve_connection(stream, peer, &conn_shared);
                        conn_shared.connections.fetch_sub(1, Ordering::SeqCst);
                    });
                if spawned.is_err() {
                    // The connection was dropped unanswered with the closure.
                    shared.connections.fetch_sub(1, Ordering::SeqCst);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(25));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(25)),
        }
    }
}

fn refuse(mut stream: TcpStream, peer: SocketAddr, shared: &Shared) {
    let message = format!("more than {MAX_CONNECTIONS} connections at once");
    let body = otlp::error_body(Encoding::Json, otlp::UNAVAILABLE, &message);
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    let _ = http::write_response(&mut stream, 503, "application/json", &body, true);
    shared.report(ServeEvent::Problem(ServeProblem {
        peer: Some(peer),
        method: String::new(),
        path: String::new(),
        status: 503,
        reason: message,
        file: None,
    }));
}

/// What to send back for one request.
struct Answer {
    status: u16,
    encoding: Encoding,
    body: Vec<u8>,
    /// Close the connection afterwards (its framing can no longer be trusted, or the
    /// body was not read).
    close: bool,
}

fn serve_connection(stream: TcpStream, peer: SocketAddr, shared: &Shared) {
    let timeout = Some(shared.config.idle_timeout);
    if stream.set_read_timeout(timeout).is_err() || stream.set_write_timeout(timeout).is_err() {
        return;
    }
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::with_capacity(64 * 1024, stream);
    loop {
        let head = match http::read_head(&mut reader) {
            Ok(HeadRead::Head(head)) => head,
            Ok(HeadRead::Closed) | Err(_) => return,
            Ok(HeadRead::Bad(reason)) => {
                let body = otlp::error_body(Encoding::Json, otlp::INVALID_ARGUMENT, &reason);
                let _ = http::write_response(&mut writer, 400, "application/json", &body, true);
                problem(shared, peer, "", "", 400, reason);
                return;
            }
        };
        shared.in_flight.fetch_add(1, Ordering::SeqCst);
        let answer = answer(&head, &mut reader, &mut writer, peer, shared);
        let close = answer.close || head.wants_close() || shared.stop.load(Ordering::SeqCst);
        let sent = http::write_response(
            &mut writer,
            answer.status,
            answer.encoding.content_type(),
            &answer.body,
            close,
        );
        shared.in_flight.fetch_sub(1, Ordering::SeqCst);
        if sent.is_err() || close {
            return;
        }
    }
}

fn answer(
    head: &Head,
    reader: &mut BufReader<TcpStream>,
    writer: &mut TcpStream,
    peer: SocketAddr,
    shared: &Shared,
) -> Answer {
    let content_type = head.header("content-type").unwrap_or("");
    let encoding = Encoding::of_content_type(content_type);
    // Errors are told in the request's encoding; JSON when it has none we know.
    let reply_encoding = encoding.unwrap_or(Encoding::Json);
    let refuse = |status: u16, code: i32, reason: String| {
        problem(
            shared,
            peer,
            &head.method,
            &head.path,
            status,
            reason.clone(),
        );
        Answer {
            status,
            encoding: reply_encoding,
            body: otlp::error_body(reply_encoding, code, &reason),
            close: false,
        }
    };
    let unread = |mut a: Answer, reader: &mut BufReader<TcpStream>| {
        // The body was not read: drop what the client still sends (within reason), and
        // close, since where the next request starts is not known.
        if let Ok(Some(n)) = head.content_length() {
            if n <= DISCARD_LIMIT && !head.is_chunked() {
                http::discard(reader, n);
            }
        }
        a.close = true;
        a
    };
    let signal = match head.path.as_str() {
        "/v1/traces" => Signal::Traces,
        "/v1/logs" => Signal::Logs,
        "/v1/metrics" => Signal::Metrics,
        other => {
            let a = refuse(
                404,
                otlp::INVALID_ARGUMENT,
                format!("no such endpoint {other:?}: OTLP/HTTP takes POST /v1/traces (and /v1/logs, /v1/metrics)"),
            );
            return unread(a, reader);
        }
    };
    if head.method != "POST" {
        let a = refuse(
            405,
            otlp::INVALID_ARGUMENT,
            format!("{} is not allowed: send POST", head.method),
        );
        return unread(a, reader);
    }
    if shared.stop.load(Ordering::SeqCst) {
        let a = refuse(503, otlp::UNAVAILABLE, "the receiver is stopping".into());
        return unread(a, reader);
    }
    let Some(encoding) = encoding else {
        let a = refuse(
            415,
            otlp::INVALID_ARGUMENT,
            format!(
                "Content-Type {content_type:?} is not application/x-protobuf or application/json"
            ),
        );
        return unread(a, reader);
    };
    let compression = match head
        .header("content-encoding")
        .map(|e| e.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("" | "identity") => None,
        Some("gzip" | "x-gzip") => Some(Compression::Gzip),
        Some("deflate") => Some(Compression::Deflate),
        Some("zstd") => Some(Compression::Zstd),
        Some(other) => {
            let a = refuse(
                415,
                otlp::INVALID_ARGUMENT,
                format!(
                    "Content-Encoding {other:?} is not supported (gzip, deflate, zstd or none)"
                ),
            );
            return unread(a, reader);
        }
    };
    let max = shared.config.max_body;
    let too_large = || format!("request body larger than the limit of {max} bytes");
    match head.content_length() {
        Ok(Some(n)) if n > max => {
            let a = refuse(413, otlp::INVALID_ARGUMENT, too_large());
            return unread(a, reader);
        }
        Err(e) => {
            let mut a = refuse(400, otlp::INVALID_ARGUMENT, e);
            a.close = true;
            return a;
        }
        Ok(_) => {}
    }
    if head
        .header("expect")
        .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
        && http::write_continue(writer).is_err()
    {
        return Answer {
            status: 400,
            encoding,
            body: Vec::new(),
            close: true,
        };
    }
    let raw = match http::read_body(reader, head, max) {
        Ok(body) => body,
        Err(BodyError::TooLarge) => {
            let mut a = refuse(413, otlp::INVALID_ARGUMENT, too_large());
            a.close = true;
            return a;
        }
        Err(BodyError::Bad(reason)) => {
            let mut a = refuse(400, otlp::INVALID_ARGUMENT, reason);
            a.close = true;
            return a;
        }
        Err(BodyError::Io(e)) => {
            let mut a = refuse(
                400,
                otlp::INVALID_ARGUMENT,
                format!("the body could not be read: {e}"),
            );
            a.close = true;
            return a;
        }
    };
    let bytes = raw.len() as u64;
    let body = if let Some(compression) = compression {
        match decompress(compression, &raw, max) {
            Ok(body) => body,
            Err(DecompressError::TooLarge) => {
                return refuse(
                    413,
                    otlp::INVALID_ARGUMENT,
                    format!("decompressed body larger than the limit of {max} bytes"),
                )
            }
            Err(DecompressError::Bad(e)) => {
                return refuse(
                    400,
                    otlp::INVALID_ARGUMENT,
                    format!("the body is not valid {}: {e}", compression.name()),
                )
            }
        }
    } else {
        raw
    };
    let mut received = Received {
        peer: Some(peer),
        signal,
        encoding,
        bytes,
        spans: 0,
        traces: 0,
        rejected_spans: 0,
        genai_events: 0,
        file: None,
    };
    if signal == Signal::Logs {
        let events = match super::logs::decode_genai_events(&body, encoding) {
            Ok(events) => events,
            Err(reason) => return refuse(400, otlp::INVALID_ARGUMENT, reason),
        };
        if let Some(line) = &events.line {
            match save(shared, line) {
                Ok(path) => received.file = Some(path),
                Err(reason) => return refuse(503, otlp::UNAVAILABLE, reason),
            }
        }
        received.genai_events = events.events;
    }
    if signal != Signal::Traces {
        // Metrics (and the logs that are not GenAI events) are accepted so that a shared
        // exporter config works, and passed over: an empty response is a full success.
        shared.report(ServeEvent::Received(received));
        return Answer {
            status: 200,
            encoding,
            body: match encoding {
                Encoding::Protobuf => Vec::new(),
                Encoding::Json => b"{}".to_vec(),
            },
            close: false,
        };
    }
    let traces = match otlp::decode_traces(&body, encoding) {
        Ok(traces) => traces,
        Err(reason) => return refuse(400, otlp::INVALID_ARGUMENT, reason),
    };
    if let Some(line) = &traces.line {
        match save(shared, line) {
            Ok(path) => received.file = Some(path),
            Err(reason) => return refuse(503, otlp::UNAVAILABLE, reason),
        }
    }
    received.spans = traces.spans;
    received.traces = traces.traces;
    received.rejected_spans = traces.rejected;
    if let Some(why) = &traces.rejection {
        problem(shared, peer, &head.method, &head.path, 200, why.clone());
    }
    shared.report(ServeEvent::Received(received));
    Answer {
        status: 200,
        encoding,
        body: otlp::success_body(encoding, traces.rejected, traces.rejection.as_deref()),
        close: false,
    }
}

/// Appends one line to the save folder (durably: see [`super::Store`]); the file it went to.
fn save(shared: &Shared, line: &str) -> Result<std::path::PathBuf, String> {
    let written = match shared.store.lock() {
        Ok(mut store) => store.append(line.as_bytes()),
        Err(_) => Err(io::Error::other("the store was poisoned by a panic")),
    };
    written.map_err(|e| {
        format!(
            "could not save what was received in {}: {e}",
            shared.config.save_dir.display()
        )
    })
}

#[derive(Debug, Clone, Copy)]
enum Compression {
    Gzip,
    /// HTTP's "deflate" is zlib-wrapped; raw deflate is taken too, as browsers do.
    Deflate,
    Zstd,
}

impl Compression {
    fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Deflate => "deflate",
            Compression::Zstd => "zstd",
        }
    }
}

enum DecompressError {
    TooLarge,
    Bad(io::Error),
}

/// Decompresses at most `max` bytes (a small body may inflate enormously).
fn decompress(compression: Compression, raw: &[u8], max: u64) -> Result<Vec<u8>, DecompressError> {
    let inflate = |reader: &mut dyn Read| {
        let mut out = Vec::new();
        reader
            .take(max + 1)
            .read_to_end(&mut out)
            .map_err(DecompressError::Bad)?;
        if out.len() as u64 > max {
            return Err(DecompressError::TooLarge);
        }
        Ok(out)
    };
    match compression {
        Compression::Gzip => inflate(&mut flate2::read::MultiGzDecoder::new(raw)),
        Compression::Deflate => match inflate(&mut flate2::read::ZlibDecoder::new(raw)) {
            Err(DecompressError::Bad(_)) => inflate(&mut flate2::read::DeflateDecoder::new(raw)),
            other => other,
        },
        Compression::Zstd => {
            let mut decoder = ruzstd::decoding::StreamingDecoder::new(raw)
                .map_err(|e| DecompressError::Bad(io::Error::other(e.to_string())))?;
            inflate(&mut decoder)
        }
    }
}

fn problem(
    shared: &Shared,
    peer: SocketAddr,
    method: &str,
    path: &str,
    status: u16,
    reason: String,
) {
    shared.report(ServeEvent::Problem(ServeProblem {
        peer: Some(peer),
        method: method.to_string(),
        path: path.to_string(),
        status,
        reason,
        file: None,
    }));
}
