//! Codex rollouts of every layout and tau2-bench results through the real binary: the
//! user's request as the trigger, the turn → model call → tool call → output tree, errors
//! in every recorded shape, aborted turns, unknown records kept, an unseen version
//! reported once, and a real rollout compared with itself reordered inside its parallel
//! groups (no divergence).

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

mod common;
use common::retrace_ok as retrace;

const SESSION: &str = "0199aaaa-bbbb-7ccc-8ddd-eeeeffff0042";

fn json_of(args: &[&str], path: &Path) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    serde_json::from_slice(&retrace(&all, path).stdout).expect("one JSON document")
}

fn rollout(lines: &[Value]) -> tempfile::TempDir {
    write_rollout(&lines.iter().map(Value::to_string).collect::<Vec<_>>())
}

fn write_rollout(lines: &[String]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let name = format!("rollout-2026-02-23T10-00-00-{SESSION}.jsonl");
    std::fs::write(dir.path().join(name), lines.join("\n") + "\n").unwrap();
    dir
}

/// (kind, name, id, parent) of each step.
fn links(path: &Path) -> Vec<(String, String, String, String)> {
    let s = |v: &Value| v.as_str().unwrap_or("-").to_string();
    json_of(&["show", SESSION], path)["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|st| {
            (
                s(&st["kind"]),
                s(&st["name"]),
                s(&st["id"]),
                s(&st["parent"]),
            )
        })
        .collect()
}

fn wrapped(ms: u32, line_type: &str, payload: Value) -> Value {
    json!({"timestamp": format!("2026-02-23T10:00:{:02}.{:03}Z", ms / 1000, ms % 1000), "type": line_type, "payload": payload})
}

fn item(ms: u32, payload: Value) -> Value {
    wrapped(ms, "response_item", payload)
}

fn session_meta(version: &str) -> Value {
    wrapped(
        0,
        "session_meta",
        json!({"id": SESSION, "cwd": "/w", "originator": "codex_cli_rs", "cli_version": version}),
    )
}

fn user(text: &str) -> Value {
    json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]})
}

fn call(id: &str, cmd: &str) -> Value {
    json!({"type": "function_call", "name": "shell", "call_id": id, "arguments": json!({"command": ["bash", "-lc", cmd]}).to_string()})
}

fn output(id: &str, text: &str) -> Value {
    json!({"type": "function_call_output", "call_id": id, "output": text})
}

/// A two-turn session: context, a request, reasoning proposing two calls in parallel,
/// their outputs in the other order, an answer, then a second request.
fn two_turns() -> Vec<Value> {
    vec![
        session_meta("0.104.0"),
        item(
            10,
            json!({"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "<permissions instructions>x</permissions instructions>"}]}),
        ),
        item(
            20,
            user("<environment_context>\n  <cwd>/w</cwd>\n</environment_context>"),
        ),
        item(30, user("why does the build fail?")),
        wrapped(
            40,
            "turn_context",
            json!({"turn_id": "a", "cwd": "/w", "model": "gpt-5-codex"}),
        ),
        item(
            50,
            json!({"type": "reasoning", "summary": [{"type": "summary_text", "text": "look at both"}]}),
        ),
        item(60, call("call_a", "cat a")),
        item(70, call("call_b", "cat b")),
        item(
            80,
            output("call_b", "Exit code: 0\nWall time: 0.1 seconds\nOutput:\nb"),
        ),
        item(
            90,
            output(
                "call_a",
                "Exit code: 2\nWall time: 0.1 seconds\nOutput:\nno such file",
            ),
        ),
        item(
            100,
            json!({"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "a is missing"}]}),
        ),
        item(110, user("then create it")),
        item(
            120,
            json!({"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "done"}]}),
        ),
    ]
}

fn row<'a>(
    l: &'a [(String, String, String, String)],
    name: &str,
) -> &'a (String, String, String, String) {
    l.iter()
        .find(|r| r.1 == name || r.2 == name)
        .unwrap_or_else(|| panic!("no {name} in {l:?}"))
}

#[test]
fn the_users_request_is_the_trigger_and_turns_model_calls_calls_and_outputs_form_a_tree() {
    let dir = rollout(&two_turns());
    let l = links(dir.path());
    let doc = json_of(&["show", SESSION], dir.path());
    assert_eq!(doc["steps"][3]["summary"], "why does the build fail?");
    assert_eq!(row(&l, "session").2, "session");
    assert_eq!(
        l[1].3, "session",
        "context before the first turn hangs under the session"
    );
    assert_eq!(
        (l[2].1.as_str(), l[2].3.as_str()),
        ("context", "session"),
        "harness context is no request"
    );
    assert_eq!(
        (l[3].0.as_str(), l[3].2.as_str(), l[3].3.as_str()),
        ("run_start", "t1", "session")
    );
    assert_eq!(
        (l[4].1.as_str(), l[4].2.as_str(), l[4].3.as_str()),
        ("reasoning", "t1.m1", "t1")
    );
    // Parallel calls are siblings under the model call; outputs under their call.
    assert_eq!(row(&l, "call_a").3, "t1.m1");
    assert_eq!(row(&l, "call_b").3, "t1.m1");
    let outputs: Vec<&str> = l
        .iter()
        .filter(|r| r.0 == "tool_result")
        .map(|r| r.3.as_str())
        .collect();
    assert_eq!(outputs, ["call_b", "call_a"]);
    // After the outputs, the answer is a new model call of the same turn.
    assert_eq!((l[9].2.as_str(), l[9].3.as_str()), ("t1.m2", "t1"));
    // The second request is a turn of its own, not a second start.
    assert_eq!(
        (l[10].0.as_str(), l[10].2.as_str(), l[10].3.as_str()),
        ("message", "t2", "session")
    );
    assert_eq!((l[11].2.as_str(), l[11].3.as_str()), ("t2.m1", "t2"));
    assert_eq!(l.iter().filter(|r| r.0 == "run_start").count(), 1);
    // The failing command is the run's first error.
    let run = &json_of(&["ls"], dir.path())["runs"][0];
    assert_eq!(run["errors"], 1, "{run:#}");
    assert_eq!(run["model"], "gpt-5-codex");

    let tree = String::from_utf8(retrace(&["show", SESSION, "--tree"], dir.path()).stdout).unwrap();
    assert!(tree.contains("trigger: why does the build fail?"), "{tree}");
    assert!(tree.contains("✗ exit 2"), "{tree}");
    assert!(
        !tree.contains("not found"),
        "every parent resolves:\n{tree}"
    );
}

#[test]
fn a_chunk_boundary_inside_a_turn_changes_nothing() {
    // Many filler lines push the turn across the loader's chunks.
    let mut lines = two_turns();
    let filler: Vec<Value> = (0..4000)
        .map(|_| {
            wrapped(
                45,
                "event_msg",
                json!({"type": "agent_reasoning", "text": "x".repeat(600)}),
            )
        })
        .collect();
    lines.splice(5..5, filler);
    let dir = rollout(&lines);
    let l = links(dir.path());
    assert_eq!(row(&l, "call_a").3, "t1.m1");
    assert_eq!(row(&l, "call_b").3, "t1.m1");
    assert_eq!(l.iter().filter(|r| r.0 == "run_start").count(), 1);
}

#[test]
fn the_oldest_layout_reads_like_the_newest() {
    let lines = [
        json!({"id": SESSION, "timestamp": "2025-08-01T10:00:00.000Z", "instructions": null, "git": {"branch": "main"}}),
        json!({"record_type": "state"}),
        json!({"type": "message", "id": null, "role": "user", "content": [{"type": "input_text", "text": "<environment_context>\n<cwd>/w</cwd>\n</environment_context>"}]}),
        json!({"type": "message", "id": null, "role": "user", "content": [{"type": "input_text", "text": "list files"}]}),
        json!({"type": "reasoning", "id": "rs_1", "summary": []}),
        json!({"type": "function_call", "id": "fc_1", "name": "shell", "arguments": "{\"command\":[\"ls\"]}", "call_id": "call_1"}),
        json!({"record_type": "state"}),
        json!({"type": "function_call_output", "call_id": "call_1", "output": "{\"output\":\"\",\"metadata\":{\"exit_code\":1,\"duration_seconds\":0.0}}"}),
    ];
    let dir = rollout(&lines);
    let ls = json_of(&["ls"], dir.path());
    assert_eq!(ls["problems"], json!([]), "{:#}", ls["problems"]);
    let run = &ls["runs"][0];
    assert_eq!(run["format"], "codex");
    assert_eq!(run["errors"], 1);
    let l = links(dir.path());
    let kinds: Vec<&str> = l.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "message",
            "message",
            "run_start",
            "llm_call",
            "tool_call",
            "tool_result"
        ]
    );
    assert_eq!(row(&l, "call_1").3, "t1.m1");
}

#[test]
fn failures_in_every_recorded_shape_are_errors_and_an_abort_at_the_end_cancels_the_run() {
    let mut lines = vec![
        session_meta("0.104.0"),
        item(10, user("apply the fix")),
        item(20, call("c1", "make")),
        wrapped(
            30,
            "event_msg",
            json!({"type": "exec_command_end", "call_id": "c1", "exit_code": 2, "stderr": "make: *** [all] Error 2\n", "stdout": ""}),
        ),
        item(40, output("c1", "Process exited with code 2\nOutput:\n")),
        item(
            50,
            json!({"type": "custom_tool_call", "name": "apply_patch", "call_id": "c2", "input": "*** Begin Patch"}),
        ),
        wrapped(
            60,
            "event_msg",
            json!({"type": "patch_apply_end", "call_id": "c2", "success": false, "stderr": "hunk failed"}),
        ),
        item(
            70,
            json!({"type": "custom_tool_call_output", "call_id": "c2", "output": "{\"output\":\"hunk failed\",\"metadata\":{\"exit_code\":1}}"}),
        ),
        wrapped(
            80,
            "event_msg",
            json!({"type": "turn_aborted", "reason": "interrupted"}),
        ),
    ];
    let dir = rollout(&lines);
    let run = &json_of(&["ls"], dir.path())["runs"][0];
    assert_eq!(run["outcome"], "cancelled", "{run:#}");
    assert_eq!(
        run["errors"], 5,
        "exec end, output, patch end, patch output, abort"
    );
    let steps = json_of(&["show", SESSION], dir.path())["steps"].clone();
    let end = steps
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "exec_command_end")
        .unwrap();
    assert_eq!(
        (end["parent"].as_str(), end["error"]["code"].as_str()),
        (Some("c1"), Some("exit 2"))
    );

    // The session goes on after the abort: not cancelled.
    lines.push(item(90, user("try again")));
    let dir = rollout(&lines);
    let run = &json_of(&["ls"], dir.path())["runs"][0];
    assert_ne!(run["outcome"], "cancelled", "{run:#}");
}

#[test]
fn unknown_records_are_kept_and_an_unseen_version_is_reported_once_per_file() {
    let lines = vec![
        session_meta("0.999.0"),
        item(10, user("hello")),
        wrapped(20, "world_state", json!({"agents_md": "x"})),
        wrapped(30, "world_state", json!({"agents_md": "y"})),
        item(40, json!({"type": "hologram", "shape": "cube"})),
        wrapped(
            50,
            "event_msg",
            json!({"type": "brand_new_event", "detail": 1}),
        ),
        // Optional fields missing: no timestamp, no call id, no content.
        json!({"type": "response_item", "payload": {"type": "message", "role": "assistant"}}),
        item(
            60,
            json!({"type": "function_call_output", "output": "orphan"}),
        ),
    ];
    let dir = rollout(&lines);
    let ls = json_of(&["ls"], dir.path());
    let problems: Vec<String> = ls["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["reason"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        problems.iter().filter(|p| p.contains("0.999.0")).count(),
        1,
        "{problems:?}"
    );
    assert_eq!(
        problems
            .iter()
            .filter(|p| p.contains("world_state"))
            .count(),
        1,
        "{problems:?}"
    );
    let l = links(dir.path());
    let others: Vec<&str> = l
        .iter()
        .filter(|r| r.0 == "other")
        .map(|r| r.1.as_str())
        .collect();
    assert_eq!(
        others,
        ["world_state", "world_state", "hologram", "brand_new_event"]
    );
    assert_eq!(l.len(), 8, "every record is a step: {l:?}");
    // The raw JSON of an unknown record is shown.
    let steps = json_of(&["show", SESSION], dir.path())["steps"].clone();
    let hologram = steps
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "hologram")
        .unwrap();
    assert!(
        hologram["summary"].as_str().unwrap().contains("cube"),
        "{hologram:#}"
    );
}

/// Reverses the outputs of each parallel group (the results of the calls one response
/// proposed), keeping every line's timestamp where it was: the same behaviour, the results
/// logged in another order. (The calls stay in place: in this redacted sample several
/// calls of one response look alike, so their own order is what tells them apart.)
fn reordered_in_parallel_groups(text: &str) -> (Vec<String>, usize) {
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kind = |v: &Value| {
        let t = v
            .pointer("/payload/type")
            .and_then(Value::as_str)
            .unwrap_or("");
        match (v["type"].as_str(), t) {
            (Some("response_item"), "function_call") => 1,
            (Some("response_item"), "function_call_output") => 2,
            (Some("response_item"), _) => 3,
            _ => 0,
        }
    };
    let mut out = lines.clone();
    let mut groups = 0;
    let mut i = 0;
    while i < lines.len() {
        let k = kind(&lines[i]);
        if k != 2 {
            i += 1;
            continue;
        }
        // The group: lines of this kind, other lines (events) between them passed over.
        let mut members = vec![i];
        let mut j = i + 1;
        while j < lines.len() && kind(&lines[j]) != 3 && kind(&lines[j]) != 3 - k {
            if kind(&lines[j]) == k {
                members.push(j);
            }
            j += 1;
        }
        if members.len() > 1 {
            groups += 1;
            for (a, b) in members.iter().zip(members.iter().rev()) {
                out[*a]["payload"] = lines[*b]["payload"].clone();
            }
        }
        i = j;
    }
    (out.iter().map(Value::to_string).collect(), groups)
}

#[test]
fn a_real_rollout_compared_with_itself_reordered_inside_parallel_groups_has_no_divergence() {
    let real = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(
        "tests/fixtures/realdata/codex/rollout-2026-02-23T12-47-42-019c8a53-a0dd-7130-bcd7-95445d84846a.jsonl",
    );
    let text = std::fs::read_to_string(&real).unwrap();
    let (reordered, groups) = reordered_in_parallel_groups(&text);
    assert!(groups >= 3, "the rollout has parallel calls: {groups}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&real, dir.path().join(real.file_name().unwrap())).unwrap();
    let other = "rollout-2026-02-23T12-47-42-019c8a53-a0dd-7130-bcd7-0000000000ff.jsonl";
    std::fs::write(dir.path().join(other), reordered.join("\n") + "\n").unwrap();

    // The parallel calls of one response are siblings under its model call.
    let show = json_of(
        &["show", "019c8a53-a0dd-7130-bcd7-95445d84846a"],
        dir.path(),
    );
    let steps = show["steps"].as_array().unwrap();
    let parent_of = |id: &str| {
        steps
            .iter()
            .find(|s| s["id"] == id)
            .map(|s| s["parent"].clone())
            .unwrap()
    };
    assert_eq!(
        parent_of("call_5tcmcvPueMOTIeYuTUGW0Ss3"),
        parent_of("call_XAvrBDIjPkjS77pyK6Vf4vBD")
    );
    assert!(parent_of("call_5tcmcvPueMOTIeYuTUGW0Ss3")
        .as_str()
        .unwrap()
        .contains(".m"));

    let diff = json_of(
        &[
            "diff",
            "019c8a53-a0dd-7130-bcd7-95445d84846a",
            "--against",
            "019c8a53-a0dd-7130-bcd7-0000000000ff",
        ],
        dir.path(),
    );
    assert_eq!(diff["divergence"], Value::Null, "{:#}", diff["divergence"]);

    // A parallel call that fails in the copy is where they split.
    let mut broken: Vec<Value> = reordered
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let failing = broken
        .iter()
        .position(|v| {
            v.pointer("/payload/call_id") == Some(&json!("call_XAvrBDIjPkjS77pyK6Vf4vBD"))
                && v.pointer("/payload/type") == Some(&json!("function_call_output"))
        })
        .unwrap();
    broken[failing]["payload"]["output"] =
        json!("Exit code: 1\nWall time: 0 seconds\nOutput:\nboom");
    let lines: Vec<String> = broken.iter().map(Value::to_string).collect();
    std::fs::write(dir.path().join(other), lines.join("\n") + "\n").unwrap();
    let diff = json_of(
        &[
            "diff",
            "019c8a53-a0dd-7130-bcd7-95445d84846a",
            "--against",
            "019c8a53-a0dd-7130-bcd7-0000000000ff",
        ],
        dir.path(),
    );
    let d = &diff["divergence"];
    assert_ne!(*d, Value::Null);
    let b_step = d["b_step"].as_u64().expect("the failing output is named") as usize;
    let b = json_of(
        &["show", "019c8a53-a0dd-7130-bcd7-0000000000ff"],
        dir.path(),
    );
    assert_eq!(
        b["steps"][b_step]["parent"], "call_XAvrBDIjPkjS77pyK6Vf4vBD",
        "{d:#}"
    );
}
