//! `retrace serve` end to end: the real OpenTelemetry Python SDK exporting to it, spans of
//! one trace arriving over several requests and files, a SIGKILL that loses nothing
//! acknowledged, and bad requests that get errors while the server stays up. Requests
//! from Rust are raw HTTP/1.1 over a TcpStream.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prost::Message;
use retrace::serve::proto;
use serde_json::{json, Value};

// --- the server and a client ---------------------------------------------------------

struct Server {
    child: Child,
    addr: SocketAddr,
    lines: Arc<Mutex<Vec<Value>>>,
}

impl Server {
    fn start(dir: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_retrace"))
            .args(["serve", "--listen", "127.0.0.1:0", "--json", "--save"])
            .arg(dir)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start retrace serve");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        let listening: Value = serde_json::from_str(&first).expect(&first);
        assert_eq!(listening["event"], "listening", "{first}");
        let addr = listening["addr"].as_str().unwrap().parse().unwrap();
        let lines = Arc::new(Mutex::new(vec![listening]));
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in stdout.lines() {
                let Ok(line) = line else { break };
                if let Ok(v) = serde_json::from_str(&line) {
                    sink.lock().unwrap().push(v);
                }
            }
        });
        Server { child, addr, lines }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    fn events(&self, kind: &str) -> Vec<Value> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l["event"] == kind)
            .cloned()
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Reply {
    status: u16,
    body: Vec<u8>,
}

/// One request on its own connection; `headers` are extra lines ending in CRLF.
fn send(addr: SocketAddr, head: &str, body: &[u8]) -> std::io::Result<Reply> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status in {text:?}")))?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(raw.len(), |p| p + 4);
    Ok(Reply {
        status,
        body: raw[split..].to_vec(),
    })
}

fn post(addr: SocketAddr, path: &str, content_type: &str, headers: &str, body: &[u8]) -> Reply {
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n",
        body.len()
    );
    send(addr, &head, body).expect("request")
}

fn span_json(trace: &str, span: &str, parent: Option<&str>, name: &str, start_ms: u64) -> Value {
    let mut s = json!({
        "traceId": trace, "spanId": span, "name": name, "kind": 1,
        "startTimeUnixNano": (start_ms * 1_000_000).to_string(),
        "endTimeUnixNano": ((start_ms + 10) * 1_000_000).to_string(),
        "status": {},
    });
    if let Some(p) = parent {
        s["parentSpanId"] = json!(p);
    }
    s
}

fn request_json(service: &str, spans: Vec<Value>) -> Vec<u8> {
    json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
        "scopeSpans": [{"scope": {"name": "test"}, "spans": spans}],
    }]})
    .to_string()
    .into_bytes()
}

fn retrace(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_retrace"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "retrace {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn runs_by_id(dir: &Path) -> HashMap<String, Value> {
    let ls = retrace(&["ls", "--json", dir.to_str().unwrap()]);
    assert_eq!(ls["problems"], json!([]), "{ls}");
    ls["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["run_id"].as_str().unwrap().to_string(), r.clone()))
        .collect()
}

fn steps(dir: &Path, run: &str) -> Vec<Value> {
    retrace(&["show", "--json", run, dir.to_str().unwrap()])["steps"]
        .as_array()
        .unwrap()
        .clone()
}

// --- the OpenTelemetry Python SDK ---------------------------------------------------

/// The venv `.ci/run` prepares (and this test too, when it can reach the registry).
fn otel_venv() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("otel-venv")
}

fn venv_python() -> PathBuf {
    otel_venv().join("bin").join("python")
}

fn can_import(module: &str) -> bool {
    Command::new(venv_python())
        .args(["-c", &format!("import {module}")])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

const PROTO_EXPORTER: &str = "opentelemetry.exporter.otlp.proto.http.trace_exporter";
const JSON_EXPORTER: &str = "opentelemetry.exporter.otlp.json.http.trace_exporter";

/// Installs the SDK and its OTLP/HTTP exporters into the venv if they are not there.
/// The JSON exporter is newer and its releases do not always match the SDK's, so a
/// known-good set is tried when the latest do not resolve together.
fn install_otel_sdk() {
    if can_import(PROTO_EXPORTER) {
        return;
    }
    let venv = otel_venv();
    let _ = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status();
    let pip = venv.join("bin").join("pip");
    for packages in [
        &[
            "opentelemetry-sdk",
            "opentelemetry-exporter-otlp-proto-http",
            "opentelemetry-exporter-otlp-json-http",
        ][..],
        &[
            "opentelemetry-sdk==1.45.1",
            "opentelemetry-exporter-otlp-proto-http==1.45.1",
            "opentelemetry-exporter-otlp-json-http==0.66b1",
        ][..],
        &[
            "opentelemetry-sdk",
            "opentelemetry-exporter-otlp-proto-http",
        ][..],
    ] {
        let ok = Command::new(&pip)
            .args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--retries",
                "2",
            ])
            .args(packages)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return;
        }
    }
}

fn send_with_sdk(server: &Server, encoding: &str, compression: &str) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/serve/send_spans.py");
    let out = Command::new(venv_python())
        .arg(script)
        .args([&server.url(), encoding, compression])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "send_spans.py {encoding} {compression}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_python_sdk_exports_runs_that_ls_and_show_read() {
    static SETUP: Mutex<()> = Mutex::new(());
    {
        let _one_at_a_time = SETUP.lock().unwrap();
        install_otel_sdk();
    }
    if !can_import(PROTO_EXPORTER) {
        eprintln!(
            "SKIPPED the_python_sdk_exports_runs_that_ls_and_show_read: the OpenTelemetry \
             Python SDK could not be installed into {}",
            otel_venv().display()
        );
        return;
    }
    let mut variants = vec![("protobuf", "gzip"), ("protobuf", "none")];
    if can_import(JSON_EXPORTER) {
        variants.push(("json", "gzip"));
        variants.push(("json", "none"));
    } else {
        eprintln!("SKIPPED the JSON variants: opentelemetry-exporter-otlp-json-http is missing");
    }
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("received");
    let mut server = Server::start(&saved, &[]);
    let mut sent = Vec::new();
    for (encoding, compression) in variants {
        let ids = send_with_sdk(&server, encoding, compression);
        // One request per span: children are sent before their parents.
        assert_eq!(ids["exports"], 5, "{ids}");
        sent.push((encoding, ids));
    }
    assert!(server.alive());
    assert!(
        server.events("problem").is_empty(),
        "{:?}",
        server.events("problem")
    );

    let runs = runs_by_id(&saved);
    assert_eq!(runs.len(), sent.len() * 2);
    for (encoding, ids) in &sent {
        let agent = format!("py-agent-{encoding}");
        let ok = &runs[ids["ok"].as_str().unwrap()];
        assert_eq!(ok["agent"], agent.as_str(), "{ok}");
        assert_eq!(ok["outcome"], "success", "{ok}");
        assert_eq!(
            (ok["steps"].as_u64(), ok["errors"].as_u64()),
            (Some(3), Some(0))
        );
        assert_eq!(ok["format"], "otel");
        let failed = &runs[ids["failed"].as_str().unwrap()];
        assert_eq!(failed["outcome"], "failure", "{failed}");
        assert_eq!(failed["steps"], 2);
        // The exception propagates: the tool span and its root both failed (which is
        // first depends on their start times, often within one millisecond).
        assert_eq!(failed["errors"], 2, "{failed}");
        assert!(
            failed["first_error"]["error"]
                .as_str()
                .unwrap()
                .contains("card declined"),
            "{failed}"
        );

        let failed_steps = steps(&saved, ids["failed"].as_str().unwrap());
        let tool = failed_steps
            .iter()
            .find(|s| s["name"] == "charge_card")
            .unwrap();
        assert_eq!(tool["status"], "error", "{tool}");
        assert_eq!(tool["error"]["type"], "RuntimeError", "{tool}");
        assert!(!tool["parent"].is_null());

        // The tree: the model call and the tool call hang under the agent's root span.
        let steps = steps(&saved, ids["ok"].as_str().unwrap());
        let root = steps.iter().find(|s| s["parent"].is_null()).unwrap();
        assert_eq!(root["name"], "invoke_agent support");
        let by_name = |n: &str| steps.iter().find(|s| s["name"] == n).unwrap().clone();
        assert_eq!(by_name("chat")["kind"], "llm_call");
        assert_eq!(by_name("chat")["parent"], root["id"]);
        assert_eq!(by_name("search")["kind"], "tool_call");
        assert_eq!(by_name("search")["parent"], root["id"]);
    }
}

// --- assembly, running --------------------------------------------------------------

#[test]
fn a_trace_sent_in_pieces_across_files_is_one_run_running_until_its_root_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("received");
    // Files of about one request each, so the trace spans several files.
    let server = Server::start(&saved, &["--max-file", "700"]);
    let trace = "0af7651916cd43dd8448eb211c80319c";
    let root = "b7ad6b7169203331";
    let t = 1_700_000_000_000;
    // The second tool call arrives first, as protobuf; the first as JSON; the root last.
    let late = proto::ExportTraceServiceRequest {
        resource_spans: vec![proto::ResourceSpans {
            scope_spans: vec![proto::ScopeSpans {
                spans: vec![proto::Span {
                    trace_id: hex(trace),
                    span_id: hex("00000000000000b2"),
                    parent_span_id: hex(root),
                    name: "second".into(),
                    start_time_unix_nano: (t + 200) * 1_000_000,
                    end_time_unix_nano: (t + 300) * 1_000_000,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let reply = post(
        server.addr,
        "/v1/traces",
        "application/x-protobuf",
        "",
        &late.encode_to_vec(),
    );
    assert_eq!(reply.status, 200);
    let first = span_json(trace, "00000000000000b1", Some(root), "first", t + 100);
    let reply = post(
        server.addr,
        "/v1/traces",
        "application/json",
        "",
        &request_json("pieces", vec![first]),
    );
    assert_eq!(reply.status, 200);

    let runs = runs_by_id(&saved);
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[trace]["outcome"], "running", "{}", runs[trace]);
    assert_eq!(runs[trace]["steps"], 2);

    let root_span = span_json(trace, root, None, "agent", t);
    let reply = post(
        server.addr,
        "/v1/traces",
        "application/json",
        "",
        &request_json("pieces", vec![root_span]),
    );
    assert_eq!(reply.status, 200);
    let runs = runs_by_id(&saved);
    let run = &runs[trace];
    assert_eq!(run["outcome"], "success", "{run}");
    assert_eq!(run["agent"], "pieces");
    assert!(run["files"].as_array().unwrap().len() >= 2, "{run}");
    let steps = steps(&saved, trace);
    let names: Vec<&str> = steps.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["agent", "first", "second"], "ordered by time");
    assert!(steps[1..].iter().all(|s| s["parent"] == root));
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

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

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

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

#[test]
fn what_is_received_appears_to_a_watcher_of_the_folder_as_it_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("received");
    let server = Server::start(&saved, &[]);
    let mut watch = Command::new(env!("CARGO_BIN_EXE_retrace"))
        .args(["watch", "--json", "--new-only"])
        .arg(&saved)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = BufReader::new(watch.stdout.take().unwrap());
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let trace = "77777777777777777777777777777777";
    let mut seen = Vec::new();
    // The watcher may start after the first requests: send until it reports a step
    // arriving (bounded), each request a new step of the same trace. The receiver's files
    // appear with their first line in them, so the watcher tells their format right.
    for i in 0..50u64 {
        let span = span_json(trace, &format!("{:016x}", i + 1), None, "live", i);
        let r = post(
            server.addr,
            "/v1/traces",
            "application/json",
            "",
            &request_json("live", vec![span]),
        );
        assert_eq!(r.status, 200);
        while let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            seen.push(serde_json::from_str::<Value>(&line).unwrap());
        }
        if seen
            .iter()
            .any(|e| e["event"] == "step" && e["run_id"] == trace)
        {
            break;
        }
    }
    let _ = watch.kill();
    let _ = watch.wait();
    // With --new-only, a step printed is one that arrived while watching.
    assert!(
        seen.iter()
            .any(|e| e["event"] == "step" && e["run_id"] == trace && e["name"] == "live"),
        "{seen:?}"
    );
    assert!(seen.iter().all(|e| e["event"] != "problem"), "{seen:?}");
}

#[test]
fn ctrl_c_stops_the_server_cleanly_after_what_it_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("received");
    let mut server = Server::start(&saved, &[]);
    let span = span_json(
        "88888888888888888888888888888888",
        "8888888888888888",
        None,
        "s",
        1,
    );
    let r = post(
        server.addr,
        "/v1/traces",
        "application/json",
        "",
        &request_json("sigint", vec![span]),
    );
    assert_eq!(r.status, 200);
    let interrupted = Command::new("kill")
        .args(["-INT", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let status = server.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    // The reader thread sees the last line before the pipe closes.
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.events("stopped").is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let stopped = server.events("stopped");
    assert_eq!(stopped.len(), 1, "{stopped:?}");
    assert_eq!(
        (
            stopped[0]["requests"].as_u64(),
            stopped[0]["spans"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert!(
        TcpStream::connect(server.addr).is_err(),
        "no longer listening"
    );
    assert!(runs_by_id(&saved).contains_key("88888888888888888888888888888888"));
}
