//! The format adapters through the real binary, on small fixtures written from each
//! format's documentation and real files: detection, run and step counts, mapped fields,
//! parent links (the tree), statuses and labels.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

mod common;
use common::{fixture, retrace_json, runs};

fn steps_of(run: &str, path: &Path) -> Vec<Value> {
    retrace_json(&["show", run], path)["steps"]
        .as_array()
        .unwrap()
        .clone()
}

/// (kind, name, parent) of each step.
fn shape(steps: &[Value]) -> Vec<(String, String, String)> {
    let s = |v: &Value| v.as_str().unwrap_or("-").to_string();
    steps
        .iter()
        .map(|st| (s(&st["kind"]), s(&st["name"]), s(&st["parent"])))
        .collect()
}

fn owned(rows: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    rows.iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect()
}

#[test]
fn otel_traces_become_runs_with_the_span_tree() {
    let path = fixture("otel/traces.jsonl");
    let runs = runs(&path);
    assert_eq!(
        runs.len(),
        2,
        "metrics lines are passed over, not runs or problems"
    );
    let genai = runs
        .iter()
        .find(|r| r["run_id"] == "4bf92f3577b34da6a3ce929d0e0e4736")
        .unwrap();
    assert_eq!(genai["format"], "otel");
    assert_eq!(
        genai["steps"], 4,
        "spans of one trace spread over two lines"
    );
    assert_eq!(genai["agent"], "support-agent");
    assert_eq!(genai["agent_version"], "2.0.1");
    assert_eq!(genai["labels"]["gen_ai.conversation.id"], "conv-42");
    assert_eq!(genai["errors"], 1);
    assert_eq!(genai["duration_ms"], 900);

    let steps = steps_of("4bf92f", &path);
    // Ordered by start time although exported children first.
    assert_eq!(
        shape(&steps),
        owned(&[
            ("agent", "invoke_agent support", "-"),
            ("llm_call", "chat gpt-4.1", "00f067aa0ba902b7"),
            ("tool_call", "lookup_order", "1111111111111111"),
            ("tool_call", "send_email", "1111111111111111"),
        ])
    );
    let chat = &steps[1];
    assert_eq!(chat["status"], "ok");
    assert_eq!(chat["duration_ms"], 390.0);
    let failed = &steps[3];
    assert_eq!(failed["status"], "error");
    assert_eq!(failed["error"]["code"], "SMTP_AUTH_INVALID");
    assert_eq!(
        failed["error"]["message"],
        "535 5.7.8 authentication failed"
    );
    assert_eq!(failed["error"]["type"], "SMTPAuthenticationError");
    assert!(steps[2]["summary"].as_str().unwrap().contains("4411"));

    let oi = steps_of_openinference(&path);
    assert_eq!(
        shape(&oi),
        owned(&[
            ("chain", "RetrievalQA", "-"),
            ("tool_call", "search_kb", "aaaaaaaaaaaaaaaa"),
            ("llm_call", "ChatOpenAI", "aaaaaaaaaaaaaaaa"),
        ])
    );
}

fn steps_of_openinference(path: &Path) -> Vec<Value> {
    steps_of("a1b2c3d4", path)
}

#[test]
fn otel_step_records_keep_inputs_outputs_and_every_attribute() {
    let path = fixture("otel/traces.jsonl");
    // The detail of a step is its record: check it through the library.
    let history = retrace::index::History::load(&[path], &Default::default()).unwrap();
    let run = history.find_run("4bf92f").unwrap();
    let steps = run.load_steps().unwrap();
    let chat = &steps[1].record;
    assert_eq!(chat["model"], "gpt-4.1-2025-04-14");
    assert_eq!(chat["tokens"]["input"], 812);
    assert_eq!(chat["input"][0]["content"], "Refund order 4411");
    assert_eq!(
        chat["meta"]["attributes"]["gen_ai.request.model"],
        "gpt-4.1"
    );
    assert_eq!(chat["meta"]["resource"]["service.name"], "support-agent");
    let tool = &steps[2].record;
    assert_eq!(tool["input"]["order"], 4411);
    assert_eq!(tool["output"]["amount"], 42.0);
}

#[test]
fn claude_code_sessions_map_blocks_to_steps() {
    let path = fixture("claude_code/session.jsonl");
    let runs = runs(&path);
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run["format"], "claude-code");
    assert_eq!(run["run_id"], "11111111-2222-4333-8444-555555555555");
    assert_eq!(run["agent"], "claude-code");
    assert_eq!(run["labels"]["cwd"], "/home/dev/shop");
    assert_eq!(run["labels"]["version"], "2.1.40");
    assert_eq!(
        run["labels"]["session_id"],
        "11111111-2222-4333-8444-555555555555"
    );
    assert_eq!(
        run["steps"], 8,
        "the snapshot line holds no step; two blocks make two steps"
    );
    let steps = steps_of("1111", &path);
    assert_eq!(
        shape(&steps),
        owned(&[
            ("run_start", "user", "-"),
            ("llm_call", "claude-sonnet-4-5", "u1"),
            ("tool_call", "Bash", "a1"),
            ("tool_result", "tool_result", "toolu_1"),
            ("tool_call", "Task", "u2"),
            // The sub-agent hangs under the Task call that gave it its prompt.
            ("message", "[f00d] user", "toolu_2"),
            ("llm_call", "[f00d] claude-haiku-4-5", "s1"),
            ("tool_result", "tool_result", "toolu_2"),
        ])
    );
    assert_eq!(steps[3]["status"], "error");
    assert_eq!(steps[3]["error"]["message"], "error: 2 tests failed");
    assert_eq!(
        steps[2]["id"], "toolu_1",
        "a tool call is known by its tool_use id"
    );
}

#[test]
fn codex_rollouts_map_calls_and_outputs() {
    let path = fixture("codex");
    let runs = runs(&path);
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run["format"], "codex");
    assert_eq!(
        run["run_id"], "0199aaaa-bbbb-7ccc-8ddd-eeeeffff0000",
        "the session id from the file name"
    );
    assert_eq!(run["agent"], "codex_cli_rs");
    assert_eq!(run["agent_version"], "0.104.0");
    assert_eq!(run["model"], "gpt-5-codex", "from turn_context");
    assert_eq!(run["labels"]["cwd"], "/work/shop");
    let steps = steps_of("0199", &path);
    assert_eq!(
        shape(&steps),
        owned(&[
            ("message", "session", "-"),
            ("run_start", "user", "session"),
            ("llm_call", "reasoning", "t1"),
            ("tool_call", "shell", "t1.m1"),
            ("tool_result", "output", "call_A"),
            ("llm_call", "assistant", "t1"),
            ("error", "stream_error", "t1"),
        ])
    );
    assert_eq!(
        steps[1]["summary"], "run the tests",
        "the user's request is the trigger"
    );
    assert_eq!(steps[3]["id"], "call_A");
    assert_eq!(steps[4]["status"], "error");
    assert_eq!(steps[4]["error"]["code"], "exit 101");
    assert_eq!(steps[6]["error"]["message"], "stream disconnected");
}

#[test]
fn tau_bench_trials_are_runs_and_results_pair_by_order() {
    let path = fixture("tau_bench");
    let doc = retrace_json(&["ls"], &path);
    let runs = doc["runs"].as_array().unwrap();
    assert_eq!(
        runs.len(),
        2,
        "notes.json is no known format and is passed over"
    );
    assert_eq!(doc["problems"], serde_json::json!([]));
    let ok = runs
        .iter()
        .find(|r| r["run_id"] == "mini/task-7/trial-0")
        .unwrap();
    let bad = runs
        .iter()
        .find(|r| r["run_id"] == "mini/task-7/trial-1")
        .unwrap();
    assert_eq!(ok["format"], "tau-bench");
    assert_eq!(ok["outcome"], "success");
    assert_eq!(bad["outcome"], "failure");
    assert_eq!(ok["labels"]["task_id"], "7");
    assert_eq!(ok["labels"]["trial"], "0");
    assert_eq!(ok["labels"]["reward"], "1");
    assert_eq!(bad["labels"]["reward"], "0");
    assert_eq!(ok["steps"], 13);
    assert_eq!(bad["errors"], 1);

    let steps = steps_of("mini/task-7/trial-0", &path);
    // Both calls of the first turn carry the id "call_x": results pair by order.
    let by_id = |id: &str| steps.iter().find(|s| s["id"] == id).unwrap().clone();
    assert_eq!(by_id("m3")["parent"], "m2.c0");
    assert_eq!(by_id("m3")["name"], "get_reservation_details");
    assert_eq!(by_id("m4")["parent"], "m2.c1");
    assert_eq!(by_id("m4")["name"], "get_user_details");
    assert_eq!(by_id("m2.c1")["kind"], "tool_call");
    assert!(by_id("m2")["summary"]
        .as_str()
        .unwrap()
        .contains("get_user_details"));
    let failed = steps_of("mini/task-7/trial-1", &path);
    let result = failed.iter().find(|s| s["kind"] == "tool_result").unwrap();
    assert_eq!(result["status"], "error");
    assert_eq!(result["error"]["message"], "Error: reservation not found");
}

#[test]
fn a_named_json_file_of_no_known_format_is_read_and_reported() {
    let out = Command::new(env!("CARGO_BIN_EXE_retrace"))
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .args(["ls", "--json"])
        .arg(fixture("tau_bench/notes.json"))
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["problems"][0]["line"], 1);
    assert!(!out.status.success(), "nothing could be read");
}

#[test]
fn the_format_can_be_forced() {
    let out = Command::new(env!("CARGO_BIN_EXE_retrace"))
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .args(["ls", "--json", "--format", "native"])
        .arg(fixture("codex"))
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["runs"], serde_json::json!([]));
    let problems = doc["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 10, "every line lacks run_id");
    assert!(problems[0]["reason"].as_str().unwrap().contains("run_id"));
    assert!(!out.status.success(), "nothing could be read");
}

// ---------------------------------------------------------------------------------------
// Parallel tool calls: in every format, the calls one model call proposed are siblings in
// the tree and each result hangs under its own call, whatever order they were logged in.

/// Writes `lines` as `name` in a new temporary folder.
fn temp_file(name: &str, lines: &[Value]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let text: String = lines.iter().map(|v| format!("{v}\n")).collect();
    std::fs::write(dir.path().join(name), text).unwrap();
    dir
}

/// (kind, id, parent) of each step.
fn links(steps: &[Value]) -> Vec<(String, String, String)> {
    let s = |v: &Value| v.as_str().unwrap_or("-").to_string();
    steps
        .iter()
        .map(|st| (s(&st["kind"]), s(&st["id"]), s(&st["parent"])))
        .collect()
}

#[test]
fn native_parallel_calls_are_siblings_under_their_model_call() {
    use serde_json::json;
    let step = |n: u32, kind: &str, id: &str, parent: Option<&str>| json!({"run_id": "par", "step": n, "kind": kind, "id": id, "parent": parent, "name": "t"});
    let dir = temp_file(
        "run.jsonl",
        &[
            step(0, "run_start", "s", None),
            step(1, "llm_call", "m", Some("s")),
            step(2, "tool_call", "c1", Some("m")),
            step(3, "tool_call", "c2", Some("m")),
            step(4, "tool_result", "r2", Some("c2")),
            step(5, "tool_result", "r1", Some("c1")),
        ],
    );
    let steps = steps_of("par", dir.path());
    assert_eq!(
        links(&steps)[2..],
        owned(&[
            ("tool_call", "c1", "m"),
            ("tool_call", "c2", "m"),
            ("tool_result", "r2", "c2"),
            ("tool_result", "r1", "c1"),
        ])
    );
}

#[test]
fn otel_parallel_tool_spans_are_siblings_under_their_parent_span() {
    use serde_json::json;
    let span = |id: &str, parent: &str, name: &str, op: &str, start: u64| {
        json!({"traceId": "5bf92f3577b34da6a3ce929d0e0e4736", "spanId": id, "parentSpanId": parent,
               "name": name, "startTimeUnixNano": start.to_string(), "endTimeUnixNano": (start + 500).to_string(),
               "attributes": [{"key": "gen_ai.operation.name", "value": {"stringValue": op}},
                              {"key": "gen_ai.tool.name", "value": {"stringValue": name}}]})
    };
    let line = json!({"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"spans": [
        span("aaaaaaaaaaaaaaaa", "", "agent", "invoke_agent", 1_000),
        span("bbbbbbbbbbbbbbbb", "aaaaaaaaaaaaaaaa", "chat", "chat", 1_100),
        span("dddddddddddddddd", "bbbbbbbbbbbbbbbb", "get_price", "execute_tool", 1_300),
        span("cccccccccccccccc", "bbbbbbbbbbbbbbbb", "lookup", "execute_tool", 1_200),
    ]}]}]});
    let dir = temp_file("traces.jsonl", &[line]);
    let steps = steps_of("5bf92f35", dir.path());
    let mut tools: Vec<_> = links(&steps)
        .into_iter()
        .filter(|l| l.0 == "tool_call")
        .collect();
    tools.sort();
    assert_eq!(
        tools,
        owned(&[
            ("tool_call", "cccccccccccccccc", "bbbbbbbbbbbbbbbb"),
            ("tool_call", "dddddddddddddddd", "bbbbbbbbbbbbbbbb"),
        ])
    );
}

#[test]
fn claude_code_tool_uses_of_one_message_are_siblings_and_results_find_their_call_by_id() {
    use serde_json::json;
    let line = |uuid: &str, parent: &str, kind: &str, content: Value| {
        let parent = (!parent.is_empty()).then_some(parent);
        json!({"type": kind, "uuid": uuid, "parentUuid": parent, "sessionId": "cc-par",
               "timestamp": "2026-02-10T22:59:26.000Z", "message": {"role": kind, "content": content}})
    };
    let dir = temp_file(
        "session.jsonl",
        &[
            line("u1", "", "user", json!("find the config")),
            line(
                "a1",
                "u1",
                "assistant",
                json!([
                    {"type": "text", "text": "Looking in two places."},
                    {"type": "tool_use", "id": "toolu_a", "name": "Glob", "input": {"pattern": "*.toml"}},
                    {"type": "tool_use", "id": "toolu_b", "name": "Grep", "input": {"pattern": "port"}},
                ]),
            ),
            line(
                "u2",
                "a1",
                "user",
                json!([
                    {"type": "tool_result", "tool_use_id": "toolu_b", "content": "config.toml:3"},
                    {"type": "tool_result", "tool_use_id": "toolu_a", "content": "config.toml"},
                ]),
            ),
        ],
    );
    let steps = steps_of("cc-par", dir.path());
    assert_eq!(
        links(&steps),
        owned(&[
            ("run_start", "u1", "-"),
            ("llm_call", "a1", "u1"),
            ("tool_call", "toolu_a", "a1"),
            ("tool_call", "toolu_b", "a1"),
            ("tool_result", "u2", "toolu_b"),
            ("tool_result", "u2#1", "toolu_a"),
        ])
    );
}

#[test]
fn codex_parallel_function_calls_are_siblings_and_outputs_hang_under_their_call_id() {
    use serde_json::json;
    let item = |t: &str, payload: Value| json!({"timestamp": format!("2026-02-23T10:00:0{t}.000Z"), "type": "response_item", "payload": payload});
    let dir = temp_file(
        "rollout-2026-02-23T10-00-00-0199aaaa-bbbb-7ccc-8ddd-eeeeffff0001.jsonl",
        &[
            json!({"timestamp": "2026-02-23T10:00:00.000Z", "type": "session_meta", "payload": {"id": "0199aaaa-bbbb-7ccc-8ddd-eeeeffff0001", "originator": "codex_cli_rs"}}),
            item(
                "1",
                json!({"type": "reasoning", "summary": [{"type": "summary_text", "text": "read both"}]}),
            ),
            item(
                "2",
                json!({"type": "function_call", "name": "shell", "call_id": "call_a", "arguments": "{\"command\":[\"cat\",\"a\"]}"}),
            ),
            item(
                "3",
                json!({"type": "function_call", "name": "shell", "call_id": "call_b", "arguments": "{\"command\":[\"cat\",\"b\"]}"}),
            ),
            item(
                "4",
                json!({"type": "function_call_output", "call_id": "call_b", "output": "b"}),
            ),
            item(
                "5",
                json!({"type": "function_call_output", "call_id": "call_a", "output": "a"}),
            ),
        ],
    );
    let steps = steps_of("0199aaaa", dir.path());
    let l = links(&steps);
    let calls: Vec<_> = l.iter().filter(|x| x.0 == "tool_call").collect();
    assert_eq!(calls.len(), 2);
    // Siblings: both calls hang under the same parent.
    assert_eq!(calls[0].2, calls[1].2);
    assert_eq!(
        (calls[0].1.as_str(), calls[1].1.as_str()),
        ("call_a", "call_b")
    );
    let outputs: Vec<&str> = l
        .iter()
        .filter(|x| x.0 == "tool_result")
        .map(|x| x.2.as_str())
        .collect();
    assert_eq!(outputs, ["call_b", "call_a"]);
}
