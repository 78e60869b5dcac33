//! `retrace serve` under stress: a SIGKILL mid-stream loses nothing acknowledged, bad
//! requests get OTLP errors while the server stays up, keep-alive and chunked requests.

mod serve_support;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prost::Message;
use retrace::serve::proto;
use serde_json::{json, Value};
use serve_support::*;

// --- a crash ------------------------------------------------------------------------

#[test]
fn a_sigkill_mid_stream_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("received");
    let mut server = Server::start(&saved, &["--max-file", "4096"]);
    let addr = server.addr;
    let acked: Arc<Mutex<HashSet<String>>> = Arc::default();
    let senders: Vec<_> = (0..3u64)
        .map(|sender| {
            let acked = Arc::clone(&acked);
            std::thread::spawn(move || {
                // Bounded: each sender stops at its first failure (the kill) or after 400.
                for i in 0..400u64 {
                    let n = sender * 1000 + i;
                    let trace = format!("{:032x}", 0xabc000 + n % 7);
                    let spans: Vec<Value> = (0..3)
                        .map(|k| {
                            let id = format!("{:016x}", n * 10 + k + 1);
                            span_json(&trace, &id, None, "work", 1_700_000_000_000 + n)
                        })
                        .collect();
                    let ids: Vec<String> = spans
                        .iter()
                        .map(|s| s["spanId"].as_str().unwrap().to_string())
                        .collect();
                    let body = request_json("crash", spans);
                    let head = format!(
                        "POST /v1/traces HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    match send(addr, &head, &body) {
                        Ok(r) if r.status == 200 => acked.lock().unwrap().extend(ids),
                        _ => return,
                    }
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.lock().unwrap().len() < 150 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    server.child.kill().unwrap(); // SIGKILL
    server.child.wait().unwrap();
    for s in senders {
        s.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 150,
        "only {} spans acknowledged",
        acked.len()
    );

    // Every line is whole JSON, except perhaps a torn last line (never acknowledged).
    // A crash can cut a write anywhere; make sure there is one to read past.
    let mut files: Vec<PathBuf> = std::fs::read_dir(&saved)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() > 1, "rotated by size: {files:?}");
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let whole = text.rsplit_once('\n').map_or("", |(w, _)| w);
        for line in whole.lines() {
            serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("{f:?}: {e}"));
        }
    }
    let last = files.last().unwrap();
    let mut torn = std::fs::OpenOptions::new().append(true).open(last).unwrap();
    torn.write_all(br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"#)
        .unwrap();
    drop(torn);

    let mut saved_ids = HashSet::new();
    for run in runs_by_id(&saved).keys() {
        for s in steps(&saved, run) {
            saved_ids.insert(s["id"].as_str().unwrap().to_string());
        }
    }
    let lost: Vec<&String> = acked.difference(&saved_ids).collect();
    assert!(lost.is_empty(), "{} acknowledged spans lost", lost.len());

    // Started again on the same folder, the receiver names the torn line, writes to a
    // new file, and what it receives is read alongside.
    let server = Server::start(&saved, &[]);
    let body = request_json(
        "after",
        vec![span_json(
            &format!("{:032x}", 0xdef),
            "00000000000000d1",
            None,
            "after",
            1,
        )],
    );
    assert_eq!(
        post(server.addr, "/v1/traces", "application/json", "", &body).status,
        200
    );
    let problems = server.events("problem");
    assert!(
        problems
            .iter()
            .any(|p| p["reason"].as_str().unwrap().contains("partial line")),
        "{problems:?}"
    );
    assert!(runs_by_id(&saved).contains_key(&format!("{:032x}", 0xdef)));
}

// --- bad requests -------------------------------------------------------------------

#[test]
fn bad_requests_get_otlp_errors_and_the_server_stays_up() {
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("received");
    let mut server = Server::start(&saved, &[]);
    let addr = server.addr;
    let json_error = |r: &Reply| -> Value { serde_json::from_slice(&r.body).unwrap() };

    // Garbage protobuf: 400 with a protobuf google.rpc.Status.
    let r = post(
        addr,
        "/v1/traces",
        "application/x-protobuf",
        "",
        b"\xff\xff\xff\xff garbage",
    );
    assert_eq!(r.status, 400);
    let status = proto::RpcStatus::decode(&r.body[..]).unwrap();
    assert_eq!(status.code, 3);
    assert!(!status.message.is_empty());

    // Garbage JSON: 400 with a JSON status.
    let r = post(addr, "/v1/traces", "application/json", "", b"{not json");
    assert_eq!((r.status, json_error(&r)["code"].clone()), (400, json!(3)));

    // Deeply nested JSON.
    let deep = format!("{}{}", "[".repeat(200_000), "]".repeat(200_000));
    let r = post(addr, "/v1/traces", "application/json", "", deep.as_bytes());
    assert_eq!(r.status, 400);
    let deep_object = format!(
        r#"{{"resourceSpans":{}1{}}}"#,
        r#"[{"a":"#.repeat(5000),
        "}]".repeat(5000)
    );
    let r = post(
        addr,
        "/v1/traces",
        "application/json",
        "",
        deep_object.as_bytes(),
    );
    assert_eq!(r.status, 400);

    // Wrong content type, method, path.
    let r = post(addr, "/v1/traces", "text/plain", "", b"hello");
    assert_eq!(r.status, 415);
    assert_eq!(json_error(&r)["code"], 3);
    let r = send(addr, "GET /v1/traces HTTP/1.1\r\nHost: t\r\n\r\n", b"").unwrap();
    assert_eq!(r.status, 405);
    let r = post(addr, "/v2/elsewhere", "application/json", "", b"{}");
    assert_eq!(r.status, 404);

    // Not HTTP at all.
    let r = send(addr, "\x16\x03\x01 this is not http\r\n\r\n", b"").unwrap();
    assert_eq!(r.status, 400);

    // Bad gzip, and a gzip bomb (small body, huge inflation).
    let r = post(
        addr,
        "/v1/traces",
        "application/json",
        "Content-Encoding: gzip\r\n",
        b"\x1f\x8b\x08 not gzip",
    );
    assert_eq!(r.status, 400);
    let bomb = gzip(&vec![b' '; 40 * 1024 * 1024]);
    assert!(bomb.len() < 1024 * 1024);
    let r = post(
        addr,
        "/v1/traces",
        "application/json",
        "Content-Encoding: gzip\r\n",
        &bomb,
    );
    assert_eq!(r.status, 413);
    let r = post(
        addr,
        "/v1/traces",
        "application/json",
        "Content-Encoding: br\r\n",
        b"{}",
    );
    assert_eq!(r.status, 415);

    // A 100 MB body: refused by its length, read and dropped, answered 413.
    let big = vec![b'x'; 100 * 1024 * 1024];
    let r = post(addr, "/v1/traces", "application/x-protobuf", "", &big);
    assert_eq!(r.status, 413);
    drop(big);
    // A length far beyond anything: answered without reading or allocating it.
    let r = send(
        addr,
        "POST /v1/traces HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 18446744073709551615\r\n\r\n",
        b"{}",
    )
    .unwrap();
    assert_eq!(r.status, 413);

    // Some spans unusable: partial success, the rest kept.
    let good = span_json(
        "11111111111111111111111111111111",
        "2222222222222222",
        None,
        "ok",
        1,
    );
    let no_id = json!({"traceId": "11111111111111111111111111111111", "name": "no span id"});
    let r = post(
        addr,
        "/v1/traces",
        "application/json",
        "",
        &request_json("partial", vec![good, no_id]),
    );
    assert_eq!(r.status, 200);
    let partial = json_error(&r);
    assert_eq!(partial["partialSuccess"]["rejectedSpans"], "1", "{partial}");
    assert!(partial["partialSuccess"]["errorMessage"]
        .as_str()
        .unwrap()
        .contains("spanId"));

    // Logs and metrics: accepted, passed over.
    for path in ["/v1/logs", "/v1/metrics"] {
        let r = post(addr, path, "application/x-protobuf", "", b"");
        assert_eq!((r.status, r.body.len()), (200, 0));
        let r = post(
            addr,
            path,
            "application/json",
            "",
            br#"{"resourceLogs":[]}"#,
        );
        assert_eq!((r.status, json_error(&r)), (200, json!({})));
    }

    // Still up, and a good request (gzip, protobuf) is taken.
    assert!(server.alive());
    let request = proto::ExportTraceServiceRequest {
        resource_spans: vec![proto::ResourceSpans {
            scope_spans: vec![proto::ScopeSpans {
                spans: vec![proto::Span {
                    trace_id: vec![0x33; 16],
                    span_id: vec![0x44; 8],
                    name: "after the storm".into(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let r = post(
        addr,
        "/v1/traces",
        "application/x-protobuf",
        "Content-Encoding: gzip\r\n",
        &gzip(&request.encode_to_vec()),
    );
    assert_eq!(r.status, 200);
    assert!(proto::ExportTraceServiceResponse::decode(&r.body[..])
        .unwrap()
        .partial_success
        .is_none());
    let runs = runs_by_id(&saved);
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(runs.contains_key(&"33".repeat(16)));
    assert!(server.events("problem").len() >= 12);
}

#[test]
fn keep_alive_connections_take_several_requests() {
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("received");
    let server = Server::start(&saved, &[]);
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    for i in 0..3u64 {
        let body = request_json(
            "keepalive",
            vec![span_json(
                "55555555555555555555555555555555",
                &format!("{:016x}", i + 1),
                None,
                "s",
                i,
            )],
        );
        // Chunked, as streaming clients send.
        let head = "POST /v1/traces HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
        stream.write_all(head.as_bytes()).unwrap();
        let (a, b) = body.split_at(body.len() / 2);
        for part in [a, b] {
            write!(stream, "{:x}\r\n", part.len()).unwrap();
            stream.write_all(part).unwrap();
            stream.write_all(b"\r\n").unwrap();
        }
        stream.write_all(b"0\r\n\r\n").unwrap();
        let mut status = String::new();
        reader.read_line(&mut status).unwrap();
        assert!(status.starts_with("HTTP/1.1 200"), "{status}");
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
    }
    let runs = runs_by_id(&saved);
    assert_eq!(runs["55555555555555555555555555555555"]["steps"], 3);
}
