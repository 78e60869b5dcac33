//! `retrace serve` end to end: the real OpenTelemetry Python SDK exporting to it, spans of
//! one trace arriving over several requests and files, a watcher seeing them arrive, and a
//! clean stop on Ctrl-C. (Crashes and bad requests: tests/serve_robustness.rs.)

mod serve_support;

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use prost::Message;
use retrace::serve::proto;
use serde_json::Value;
use serve_support::*;

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
        // The exception's type is the error's code (as `error.type` would be).
        assert_eq!(failed["first_error"]["error"], "RuntimeError", "{failed}");

        let failed_steps = steps(&saved, ids["failed"].as_str().unwrap());
        let tool = failed_steps
            .iter()
            .find(|s| s["name"] == "charge_card")
            .unwrap();
        assert_eq!(tool["status"], "error", "{tool}");
        assert_eq!(tool["error"]["type"], "RuntimeError", "{tool}");
        // The exception's own message, not the status's `RuntimeError: card declined`
        // again; the stack trace stays out of the summary.
        assert_eq!(tool["error"]["message"], "card declined", "{tool}");
        assert!(!tool["summary"].as_str().unwrap().contains("Traceback"));
        assert!(!tool["parent"].is_null());

        // The tree: the model call and the tool call hang under the agent's root span.
        let steps = steps(&saved, ids["ok"].as_str().unwrap());
        let root = steps.iter().find(|s| s["parent"].is_null()).unwrap();
        assert_eq!(root["name"], "invoke_agent support");
        let by_name = |n: &str| steps.iter().find(|s| s["name"] == n).unwrap().clone();
        assert_eq!(by_name("chat")["kind"], "llm_call");
        assert_eq!(
            by_name("chat")["summary"],
            r#"calls search({"q":"refund policy"})"#,
            "the proposed call, not the raw output"
        );
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

#[test]
fn a_middle_span_sent_after_its_children_still_heads_them_in_the_tree() {
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("received");
    let server = Server::start(&saved, &["--max-file", "700"]);
    let trace = "1234567890abcdef1234567890abcdef";
    let (root, llm) = ("00000000000000a0", "00000000000000b0");
    let t = 1_700_000_000_000;
    // As SDKs export: each span when it ends, so children first, in reverse order within
    // one request, then their parent (the model call), then the root.
    let send = |spans: Vec<Value>| {
        let reply = post(
            server.addr,
            "/v1/traces",
            "application/json",
            "",
            &request_json("late-parent", spans),
        );
        assert_eq!(reply.status, 200);
    };
    send(vec![
        span_json(trace, "00000000000000c2", Some(llm), "tool-two", t + 30),
        span_json(trace, "00000000000000c1", Some(llm), "tool-one", t + 20),
    ]);
    send(vec![span_json(trace, llm, Some(root), "model", t + 10)]);
    let runs = runs_by_id(&saved);
    assert_eq!(runs[trace]["outcome"], "running", "no root yet");
    send(vec![span_json(trace, root, None, "agent", t)]);

    let runs = runs_by_id(&saved);
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[trace]["outcome"], "success");
    assert!(runs[trace]["files"].as_array().unwrap().len() >= 2);
    let steps = steps(&saved, trace);
    let by_name = |name: &str| steps.iter().find(|s| s["name"] == name).unwrap();
    assert_eq!(by_name("model")["parent"], root);
    assert_eq!(by_name("tool-one")["parent"], llm);
    assert_eq!(by_name("tool-two")["parent"], llm);
    let out = Command::new(env!("CARGO_BIN_EXE_retrace"))
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .args(["show", trace, "--tree"])
        .arg(&saved)
        .output()
        .unwrap();
    let tree = String::from_utf8_lossy(&out.stdout);
    // The two tools branch under the model call; nothing is left without its parent.
    assert!(
        tree.contains("├─· #2 tool-one") && tree.contains("└─· #3 tool-two"),
        "{tree}"
    );
    assert!(!tree.contains("not found"), "{tree}");
}

#[test]
fn what_is_received_appears_to_a_watcher_of_the_folder_as_it_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("received");
    let server = Server::start(&saved, &[]);
    let mut watch = Command::new(env!("CARGO_BIN_EXE_retrace"))
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
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

#[test]
fn the_browsers_listen_flag_needs_a_terminal_and_names_retrace_serve() {
    let out = Command::new(env!("CARGO_BIN_EXE_retrace"))
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .args(["--listen", "127.0.0.1:0", "assets/demo"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("retrace serve"), "{err}");
    // A value that is not an address is a usage error naming it.
    let out = Command::new(env!("CARGO_BIN_EXE_retrace"))
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .args(["--listen", "assets/demo"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("assets/demo"));
}

#[test]
fn genai_events_posted_to_v1_logs_are_saved_and_hang_under_their_span() {
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("received");
    let server = Server::start(&saved, &[]);
    let trace = "4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e";
    let chat = span_json(trace, "00000000000000e1", None, "chat", 1_000);
    let reply = post(
        server.addr,
        "/v1/traces",
        "application/json",
        "",
        &request_json("events", vec![chat]),
    );
    assert_eq!(reply.status, 200);
    let record = |name: &str, body: &str| {
        serde_json::json!({"timeUnixNano": "1000002000000", "traceId": trace,
            "spanId": "00000000000000e1", "eventName": name,
            "body": {"kvlistValue": {"values": [
                {"key": "content", "value": {"stringValue": body}}]}}})
    };
    let logs = serde_json::json!({"resourceLogs": [{"scopeLogs": [{"logRecords": [
        record("gen_ai.choice", "The order shipped."),
        serde_json::json!({"traceId": trace, "body": {"stringValue": "GET /orders 200"}}),
    ]}]}]});
    let reply = post(
        server.addr,
        "/v1/logs",
        "application/json",
        "",
        logs.to_string().as_bytes(),
    );
    assert_eq!(reply.status, 200);
    // The server prints its line as it answers: wait for it (bounded).
    let deadline = Instant::now() + Duration::from_secs(10);
    let logs_event = loop {
        let received = server.events("received");
        if let Some(e) = received.into_iter().find(|e| e["signal"] == "logs") {
            break e;
        }
        assert!(Instant::now() < deadline, "no received event for the logs");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(logs_event["genai_events"], 1, "{logs_event}");
    assert!(logs_event["file"].is_string());
    let steps = steps(&saved, trace);
    let names: Vec<&str> = steps.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["chat", "gen_ai.choice"],
        "the application log passed over"
    );
    assert_eq!(steps[1]["parent"], "00000000000000e1");
    assert_eq!(steps[1]["summary"], "The order shipped.");
    // A malformed log export is refused like a malformed trace export.
    let reply = post(
        server.addr,
        "/v1/logs",
        "application/json",
        "",
        b"{not json",
    );
    assert_eq!(reply.status, 400);
}
