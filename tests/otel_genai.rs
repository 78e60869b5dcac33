//! OpenTelemetry spans as real instrumentations write them: a model call's summary is the
//! assistant's text or its proposed tool calls (OpenInference's flattened
//! `llm.output_messages.*`, the GenAI conventions' `gen_ai.output.messages` and
//! `gen_ai.choice` events, OpenLLMetry's `gen_ai.completion.N.*`), never the framework's
//! raw output JSON; an error reads as its exception's type and message, the stack trace
//! only in the detail; spans of kinds no convention names are kept as steps.

mod serve_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{json, Value};

mod common;
use common::{fixture, retrace_json, runs};

fn steps_of(run: &str, path: &Path) -> Vec<Value> {
    retrace_json(&["show", run], path)["steps"]
        .as_array()
        .unwrap()
        .clone()
}

fn by_summary<'a>(steps: &'a [Value], kind: &str) -> Vec<&'a str> {
    steps
        .iter()
        .filter(|s| s["kind"] == kind)
        .map(|s| s["summary"].as_str().unwrap())
        .collect()
}

#[test]
fn openinference_langchain_model_calls_read_as_their_answers_and_errors_as_exceptions() {
    assert_langchain_runs(&fixture("realdata/otel/openinference-langchain.otlp.jsonl"));
}

/// The two runs `record_langchain_openinference.py` makes, read from `path`.
fn assert_langchain_runs(path: &Path) {
    let path = path.to_path_buf();
    let runs = runs(&path);
    assert_eq!(runs.len(), 2, "two traces");
    let ok = runs.iter().find(|r| r["outcome"] == "success").unwrap();
    let failed = runs.iter().find(|r| r["outcome"] == "failure").unwrap();
    assert_eq!(ok["agent"], "order-agent");

    let steps = steps_of(ok["run_id"].as_str().unwrap(), &path);
    assert_eq!(
        by_summary(&steps, "llm_call"),
        [
            r#"calls get_order({"order_id":"A-17"})"#,
            "Your order A-17 shipped on 2026-11-24."
        ]
    );
    assert!(
        steps
            .iter()
            .all(|s| !s["summary"].as_str().unwrap().contains("generations")),
        "no raw LangChain output: {steps:#?}"
    );
    // The tree: the model calls and the tool under the agent's span.
    let root = steps.iter().find(|s| s["parent"].is_null()).unwrap();
    assert_eq!(root["kind"], "agent");
    assert!(steps
        .iter()
        .filter(|s| s["kind"] != "agent")
        .all(|s| s["parent"] == root["id"]));

    let steps = steps_of(failed["run_id"].as_str().unwrap(), &path);
    let tool = steps.iter().find(|s| s["kind"] == "tool_call").unwrap();
    assert_eq!(tool["name"], "refund");
    assert_eq!(tool["status"], "error");
    assert_eq!(
        tool["error"],
        json!({"code": "ValueError", "type": "ValueError", "message": "refund window closed for A-18"})
    );
    assert_eq!(tool["summary"], r#"{"amount":42.0,"order_id":"A-18"}"#);
    assert_eq!(
        failed["end_error"], "ValueError: refund window closed for A-18",
        "{failed}"
    );
    let text = serde_json::to_string(&steps).unwrap();
    assert!(
        !text.contains("Traceback"),
        "the stack trace stays in the detail"
    );

    // ... where it is: the record keeps the span's events and status.
    let history = retrace::index::History::load(&[path], &Default::default()).unwrap();
    let run = history
        .find_run(failed["run_id"].as_str().unwrap())
        .unwrap();
    let records = run.load_steps().unwrap();
    let refund = records
        .iter()
        .find(|s| s.name.as_deref() == Some("refund"))
        .unwrap();
    let stack = refund.record["meta"]["events"][0]["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["key"] == "exception.stacktrace")
        .unwrap();
    assert!(stack["value"]["stringValue"]
        .as_str()
        .unwrap()
        .contains("Traceback"));
    // The model call's raw output is kept too, under meta.
    let model = records
        .iter()
        .find(|s| s.record["kind"] == "llm_call")
        .unwrap();
    assert!(model.record["meta"]["attributes"]["output.value"]
        .as_str()
        .unwrap()
        .contains("generations"));
    assert_eq!(model.record["output"]["tool_calls"][0]["name"], "refund");
}

/// The venv the live OpenInference test installs into (its own: LangChain is large).
fn openinference_venv() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("openinference-venv")
}

fn can_import_openinference() -> bool {
    Command::new(openinference_venv().join("bin/python"))
        .args([
            "-c",
            "import openinference.instrumentation.langchain, langchain_core, \
             opentelemetry.exporter.otlp.proto.http.trace_exporter",
        ])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Today's releases of the OpenInference LangChain instrumentation, sending live to
/// `retrace serve`, read as the recorded fixture does: a newer layout that breaks the
/// reading fails here. Skipped, and said, when the packages cannot be installed.
#[test]
fn openinference_langchain_spans_sent_live_read_as_the_recorded_ones() {
    if !can_import_openinference() {
        let venv = openinference_venv();
        let _ = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .stderr(Stdio::null())
            .status();
        let _ = Command::new(venv.join("bin/pip"))
            .args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--retries",
                "2",
            ])
            .args([
                "openinference-instrumentation-langchain",
                "langchain-core",
                "opentelemetry-sdk",
                "opentelemetry-exporter-otlp-proto-http",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    if !can_import_openinference() {
        eprintln!(
            "SKIPPED openinference_langchain_spans_sent_live_read_as_the_recorded_ones: \
             openinference-instrumentation-langchain could not be installed into {}",
            openinference_venv().display()
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("received");
    let server = serve_support::Server::start(&saved, &[]);
    let out = Command::new(openinference_venv().join("bin/python"))
        .arg(fixture("realdata/otel/record_langchain_openinference.py"))
        .arg(server.url())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_langchain_runs(&saved);
}

/// One OTLP/JSON line of spans; `spans` hold `attributes` as a plain object, turned into
/// OTLP key/values here.
fn otlp_line(spans: &[Value]) -> String {
    let spans: Vec<Value> = spans
        .iter()
        .map(|s| {
            let mut s = s.clone();
            if let Some(Value::Object(attrs)) = s.get("attributes").cloned() {
                s["attributes"] = attrs
                    .into_iter()
                    .map(|(k, v)| match v {
                        Value::Number(n) => json!({"key": k, "value": {"intValue": n.to_string()}}),
                        v => json!({"key": k, "value": {"stringValue": v.as_str().map_or(v.to_string(), str::to_owned)}}),
                    })
                    .collect();
            }
            s
        })
        .collect();
    json!({"resourceSpans": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "genai-test"}}]},
        "scopeSpans": [{"spans": spans}]}]})
    .to_string()
}

fn span(id: &str, parent: Option<&str>, name: &str, start: u64, attributes: Value) -> Value {
    let mut s = json!({
        "traceId": "abcdefabcdefabcdefabcdefabcdef01", "spanId": id, "name": name,
        "startTimeUnixNano": (start * 1_000_000).to_string(),
        "endTimeUnixNano": ((start + 5) * 1_000_000).to_string(),
        "attributes": attributes,
        "status": {"code": 1},
    });
    if let Some(p) = parent {
        s["parentSpanId"] = json!(p);
    }
    s
}

#[test]
fn genai_openllmetry_and_choice_events_give_answers_models_tokens_and_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let root = "00000000000000a0";
    let mut choice = span(
        "00000000000000a4",
        Some(root),
        "chat (events)",
        40,
        json!({"gen_ai.operation.name": "chat", "gen_ai.request.model": "m-events"}),
    );
    choice["events"] = json!([{"name": "gen_ai.choice", "attributes": [
        {"key": "gen_ai.event.content", "value": {"stringValue":
            r#"{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"Done: refunded."}}"#}}]}]);
    let lines = [
        otlp_line(&[span(
            root,
            None,
            "invoke_agent support",
            0,
            json!({"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "support"}),
        )]),
        otlp_line(&[
            span(
                "00000000000000a1",
                Some(root),
                "chat gpt-x",
                10,
                json!({
                    "gen_ai.operation.name": "chat",
                    "gen_ai.request.model": "gpt-x",
                    "gen_ai.response.model": "gpt-x-2026-01-01",
                    "gen_ai.usage.input_tokens": 120,
                    "gen_ai.usage.output_tokens": 30,
                    "gen_ai.input.messages": r#"[{"role":"user","parts":[{"type":"text","content":"refund 7"}]}]"#,
                    "gen_ai.output.messages": r#"[{"role":"assistant","parts":[{"type":"text","content":"Checking the order."},{"type":"tool_call","id":"c1","name":"lookup","arguments":{"order":7}}],"finish_reason":"tool_call"}]"#,
                }),
            ),
            span(
                "00000000000000a2",
                Some(root),
                "execute_tool lookup",
                20,
                json!({
                    "gen_ai.operation.name": "execute_tool",
                    "gen_ai.tool.name": "lookup",
                    "gen_ai.tool.call.arguments": r#"{"order":7}"#,
                    "gen_ai.tool.call.result": r#"{"status":"paid"}"#,
                }),
            ),
            // OpenLLMetry: no operation name, the request type and flattened completions.
            span(
                "00000000000000a3",
                Some(root),
                "openai.chat",
                30,
                json!({
                    "llm.request.type": "chat",
                    "gen_ai.system": "openai",
                    "gen_ai.request.model": "gpt-y",
                    "gen_ai.usage.prompt_tokens": 50,
                    "gen_ai.usage.completion_tokens": 5,
                    "gen_ai.prompt.0.role": "user",
                    "gen_ai.prompt.0.content": "refund it",
                    "gen_ai.completion.0.role": "assistant",
                    "gen_ai.completion.0.finish_reason": "tool_calls",
                    "gen_ai.completion.0.tool_calls.0.id": "c2",
                    "gen_ai.completion.0.tool_calls.0.name": "refund",
                    "gen_ai.completion.0.tool_calls.0.arguments": r#"{"order":7,"amount":42}"#,
                }),
            ),
            choice,
            // A kind no convention names: kept as a step of its own.
            span(
                "00000000000000a5",
                Some(root),
                "guardrail check",
                50,
                json!({"openinference.span.kind": "GUARDRAIL", "input.value": "Done: refunded."}),
            ),
        ]),
    ];
    let file = dir.path().join("traces.jsonl");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let runs = runs(&file);
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["agent"], "support");
    assert_eq!(
        runs[0]["tokens"],
        json!({"input": 170, "output": 35}),
        "usage from gen_ai.usage.* in both namings"
    );
    let steps = steps_of("abcdef", &file);
    let step = |name: &str| steps.iter().find(|s| s["name"] == name).unwrap();
    let chat = step("chat gpt-x");
    assert_eq!(chat["kind"], "llm_call");
    assert_eq!(chat["summary"], r#"calls lookup({"order":7})"#);
    assert_eq!(chat["tokens"], json!({"input": 120, "output": 30}));
    let tool = step("lookup");
    assert_eq!(tool["kind"], "tool_call");
    assert_eq!(tool["summary"], r#"{"order":7}"#);
    let openllmetry = step("openai.chat");
    assert_eq!(openllmetry["kind"], "llm_call");
    assert_eq!(
        openllmetry["summary"],
        r#"calls refund({"amount":42,"order":7})"#
    );
    assert_eq!(step("chat (events)")["summary"], "Done: refunded.");
    let guardrail = step("guardrail check");
    assert_eq!(guardrail["kind"], "span");
    assert_eq!(guardrail["summary"], "Done: refunded.");

    // Models come from their attributes, the response's first.
    let history = retrace::index::History::load(&[file], &Default::default()).unwrap();
    let records = history.find_run("abcdef").unwrap().load_steps().unwrap();
    let model_of = |name: &str| {
        records
            .iter()
            .find(|s| s.name.as_deref() == Some(name))
            .unwrap()
            .record["model"]
            .clone()
    };
    assert_eq!(model_of("chat gpt-x"), "gpt-x-2026-01-01");
    assert_eq!(model_of("openai.chat"), "gpt-y");
    let chat = records
        .iter()
        .find(|s| s.name.as_deref() == Some("chat gpt-x"))
        .unwrap();
    assert_eq!(chat.record["input"][0]["parts"][0]["content"], "refund 7");
    assert_eq!(chat.record["output"]["text"], "Checking the order.");
}

#[test]
fn a_status_message_carrying_a_traceback_is_cut_to_its_first_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut failing = span(
        "00000000000000b1",
        None,
        "agent",
        0,
        json!({"openinference.span.kind": "AGENT"}),
    );
    failing["status"] = json!({"code": 2, "message":
        "KeyError('order')Traceback (most recent call last):\n  File \"a.py\", line 3\nKeyError: 'order'"});
    let file = dir.path().join("t.jsonl");
    std::fs::write(&file, otlp_line(&[failing]) + "\n").unwrap();
    let steps = steps_of("abcdef", &file);
    assert_eq!(steps[0]["error"]["message"], "KeyError('order')");
}

#[test]
fn the_any_agent_trace_reads_model_calls_and_tool_arguments() {
    let path = fixture("realdata/otel/any-agent_OPENAI_trace.otlp.jsonl");
    let runs = runs(&path);
    let steps = steps_of(runs[0]["run_id"].as_str().unwrap(), &path);
    // `call_llm` is no GenAI operation name, but the span names a model and its usage.
    assert_eq!(
        by_summary(&steps, "llm_call")[..2],
        [
            r#"calls get_current_time({"timezone":"America/New_York"})"#,
            r#"calls write_file({"text":"2025"})"#
        ]
    );
    assert_eq!(
        by_summary(&steps, "tool_call"),
        [r#"{"timezone":"America/New_York"}"#, r#"{"text":"2025"}"#]
    );
}

#[test]
fn a_span_without_a_trace_id_is_a_problem_of_its_line_and_the_rest_loads() {
    let dir = tempfile::tempdir().unwrap();
    let mut orphan = span("00000000000000c1", None, "lost", 0, json!({}));
    orphan.as_object_mut().unwrap().remove("traceId");
    let kept = span("00000000000000c2", None, "kept", 0, json!({}));
    let file = dir.path().join("t.jsonl");
    std::fs::write(&file, otlp_line(&[orphan, kept]) + "\n").unwrap();
    let doc = retrace_json(&["ls"], &file);
    assert_eq!(doc["runs"].as_array().unwrap().len(), 1);
    assert_eq!(doc["runs"][0]["steps"], 1);
    let problems = doc["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0]["line"], 1);
    assert_eq!(
        problems[0]["reason"],
        "1 span(s) without a traceId left out"
    );
}

#[test]
fn genai_events_sent_as_log_records_are_messages_under_their_model_call() {
    let dir = tempfile::tempdir().unwrap();
    let trace = "abcdefabcdefabcdefabcdefabcdef01";
    let chat = span(
        "00000000000000d1",
        None,
        "chat gpt-x",
        0,
        json!({"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-x"}),
    );
    let record = |name: &str, ms: u64, body: Value| {
        json!({"timeUnixNano": (ms * 1_000_000).to_string(), "traceId": trace,
               "spanId": "00000000000000d1", "eventName": name, "body": body})
    };
    // OTLP AnyValues: strings, key/value lists, arrays.
    let text = |s: &str| json!({"stringValue": s});
    let kvlist = |kvs: &[(&str, Value)]| {
        let values: Vec<Value> = kvs
            .iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect();
        json!({"kvlistValue": {"values": values}})
    };
    let function = kvlist(&[
        ("name", text("refund")),
        ("arguments", text(r#"{"order":7}"#)),
    ]);
    let call = kvlist(&[
        ("id", text("call_9")),
        ("type", text("function")),
        ("function", function),
    ]);
    let message = kvlist(&[("tool_calls", json!({"arrayValue": {"values": [call]}}))]);
    let choice = kvlist(&[
        ("index", json!({"intValue": "0"})),
        ("finish_reason", text("tool_calls")),
        ("message", message),
    ]);
    let logs = json!({"resourceLogs": [{"scopeLogs": [{"logRecords": [
        record("gen_ai.user.message", 1, kvlist(&[("content", text("refund order 7"))])),
        record("gen_ai.choice", 4, choice),
        // An application log: not a GenAI event, passed over.
        json!({"timeUnixNano": "5000000", "traceId": trace, "spanId": "00000000000000d1",
               "body": {"stringValue": "GET /orders/7 200"}}),
    ]}]}]});
    let file = dir.path().join("t.jsonl");
    std::fs::write(&file, format!("{}\n{logs}\n", otlp_line(&[chat]))).unwrap();
    let runs = runs(&file);
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["steps"], 3, "the span and its two GenAI events");
    let steps = steps_of("abcdef", &file);
    let names: Vec<&str> = steps.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["chat gpt-x", "gen_ai.user.message", "gen_ai.choice"]
    );
    assert!(steps[1..].iter().all(|s| s["parent"] == "00000000000000d1"));
    assert_eq!(steps[1]["kind"], "message");
    assert_eq!(steps[1]["summary"], "refund order 7");
    let history = retrace::index::History::load(&[file], &Default::default()).unwrap();
    let records = history.find_run("abcdef").unwrap().load_steps().unwrap();
    assert_eq!(
        records[2].record["output"]["tool_calls"],
        json!([{"id": "call_9", "name": "refund", "arguments": {"order": 7}}])
    );
}
