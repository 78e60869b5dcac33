//! Token counts per step and per run, from every format that reports them: native
//! `tokens`, Claude Code `usage`, Codex `token_count`, OpenTelemetry GenAI attributes.
//! Real samples are the copies under tests/fixtures/realdata/ (see PROVENANCE.md there).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use retrace::index::{History, LoadOptions};
use retrace::model::{StepKind, Tokens};

fn fixture(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(sub)
}

fn load(path: PathBuf, chunk_size: usize) -> History {
    let options = LoadOptions {
        chunk_size,
        ..LoadOptions::default()
    };
    let history = History::load(&[path], &options).expect("loads");
    assert!(history.problems().is_empty(), "{:?}", history.problems());
    history
}

fn tokens(input: u64, output: u64) -> Option<Tokens> {
    Some(Tokens { input, output })
}

#[test]
fn claude_code_counts_each_message_once_with_its_cache_tokens_as_input() {
    // One assistant message over five lines, each repeating usage {input 3, cache
    // creation 13835, cache read 11515, output 13}: counted once. Read in chunks small
    // enough to split the message's lines between batches, the total is the same.
    for chunk_size in [2 << 20, 512] {
        let history = load(fixture("realdata/claude-code/short.jsonl"), chunk_size);
        assert_eq!(history.run_count(), 1);
        let run = history.run(0);
        assert_eq!(
            run.tokens(),
            tokens(3 + 13835 + 11515, 13),
            "chunk {chunk_size}"
        );
    }
    let history = load(fixture("realdata/claude-code/short.jsonl"), 2 << 20);
    let steps = history.run(0).load_steps().unwrap();
    let model_call = steps
        .iter()
        .find(|s| s.kind == StepKind::LlmCall)
        .expect("a model call");
    assert_eq!(model_call.tokens(), tokens(25353, 13));
    // The cache figures are shown beside the counts.
    assert_eq!(model_call.record["tokens"]["cache_read"], 11515);
    assert_eq!(model_call.record["tokens"]["cache_creation"], 13835);
    // User lines report no usage.
    assert!(steps
        .iter()
        .filter(|s| s.kind == StepKind::Message)
        .all(|s| s.tokens().is_none()));
}

#[test]
fn claude_code_takes_a_streamed_messages_final_figures() {
    // Four messages; one's lines report output 25 and then 173, with a tool result
    // between them. Per message (input with cache, output):
    // (3+7883+17915, 27) (1+208+25798, 1) (3+8490+18014, 11) (47+1115+26504, 173).
    let history = load(fixture("realdata/claude-code/tool_heavy.jsonl"), 2 << 20);
    assert_eq!(history.run_count(), 1);
    assert_eq!(history.run(0).tokens(), tokens(105_981, 212));
}

#[test]
fn codex_counts_the_sessions_final_total() {
    // The last of the rollout's 12 token_count events: total_token_usage input 298373
    // (cached included), output 1123 (reasoning included).
    let history = load(
        fixture(
            "realdata/codex/rollout-2026-02-23T20-34-25-019c8bfe-ec25-79e0-97d7-bda6a9c575ff.jsonl",
        ),
        2 << 20,
    );
    assert_eq!(history.run_count(), 1);
    assert_eq!(history.run(0).tokens(), tokens(298_373, 1123));
    // token_count events are not steps.
    let steps = history.run(0).load_steps().unwrap();
    assert!(steps.iter().all(|s| !s.kind_name.contains("token")));
}

#[test]
fn otel_sums_the_model_call_spans() {
    // Three call_llm spans: 269+359+392 in, 16+14+46 out; the agent and tool spans
    // report none.
    let is_call =
        |s: &&retrace::model::Step| s.name.as_deref().is_some_and(|n| n.starts_with("call_llm"));
    let history = load(
        fixture("realdata/otel/any-agent_OPENAI_trace.otlp.jsonl"),
        2 << 20,
    );
    assert_eq!(history.run_count(), 1);
    let run = history.run(0);
    assert_eq!(run.tokens(), tokens(1020, 76));
    let steps = run.load_steps().unwrap();
    let per_step: Vec<Option<Tokens>> = steps.iter().filter(is_call).map(|s| s.tokens()).collect();
    assert_eq!(
        per_step,
        [tokens(269, 16), tokens(359, 14), tokens(392, 46)]
    );
    assert!(steps
        .iter()
        .filter(|s| !is_call(s))
        .all(|s| s.tokens().is_none()));
}

#[test]
fn otel_older_and_openinference_names_and_agent_aggregates() {
    let dir = tempfile::tempdir().unwrap();
    let span = |id: &str, parent: &str, op: &str, attrs: &str| {
        format!(
            r#"{{"traceId":"t1","spanId":"{id}","parentSpanId":"{parent}","name":"{op}","startTimeUnixNano":"1000000","endTimeUnixNano":"2000000","attributes":[{{"key":"gen_ai.operation.name","value":{{"stringValue":"{op}"}}}}{attrs}]}}"#
        )
    };
    let int = |k: &str, v: u64| format!(r#",{{"key":"{k}","value":{{"intValue":"{v}"}}}}"#);
    let spans = [
        span(
            "a",
            "",
            "invoke_agent",
            &(int("gen_ai.usage.input_tokens", 1000) + &int("gen_ai.usage.output_tokens", 100)),
        ),
        span(
            "b",
            "a",
            "chat",
            &(int("gen_ai.usage.prompt_tokens", 30) + &int("gen_ai.usage.completion_tokens", 4)),
        ),
        span(
            "c",
            "a",
            "chat",
            &(int("llm.token_count.prompt", 50) + &int("llm.token_count.completion", 6)),
        ),
    ];
    let line = format!(
        r#"{{"resourceSpans":[{{"resource":{{"attributes":[]}},"scopeSpans":[{{"spans":[{}]}}]}}]}}"#,
        spans.join(",")
    );
    std::fs::write(dir.path().join("t.jsonl"), line + "\n").unwrap();
    let history = load(dir.path().to_path_buf(), 2 << 20);
    let run = history.run(0);
    // The agent span's aggregate is shown on it, not added to its children's.
    assert_eq!(run.tokens(), tokens(80, 10));
    let steps = run.load_steps().unwrap();
    let agent = steps
        .iter()
        .find(|s| s.name.as_deref() == Some("invoke_agent"));
    assert_eq!(agent.and_then(|s| s.tokens()), tokens(1000, 100));
}

/// The demo's `tokens` per run, read straight from its files.
fn demo_tokens() -> BTreeMap<String, (u64, u64)> {
    let mut totals: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo");
    let mut files = vec![];
    for entry in walk(&demo) {
        if entry.extension().is_some_and(|e| e == "jsonl") {
            files.push(entry);
        }
    }
    for file in files {
        for line in std::fs::read_to_string(&file).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            if let Some(t) = v.get("tokens") {
                let e = totals
                    .entry(v["run_id"].as_str().unwrap().to_string())
                    .or_default();
                e.0 += t["input"].as_u64().unwrap_or(0);
                e.1 += t["output"].as_u64().unwrap_or(0);
            }
        }
    }
    totals
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn ls_json_carries_each_runs_tokens() {
    let expected = demo_tokens();
    assert!(expected.len() > 20, "the demo reports tokens");
    let out = Command::new(env!("CARGO_BIN_EXE_retrace"))
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .args(["ls", "--json", "assets/demo"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let runs = v["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 34);
    for run in runs {
        let id = run["run_id"].as_str().unwrap();
        match expected.get(id) {
            Some(&(input, output)) => {
                assert_eq!(
                    run["tokens"],
                    serde_json::json!({"input": input, "output": output}),
                    "{id}"
                )
            }
            None => assert!(run["tokens"].is_null(), "{id}"),
        }
    }
}

#[test]
fn ls_json_tokens_of_the_real_samples() {
    let out = Command::new(env!("CARGO_BIN_EXE_retrace"))
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .args(["ls", "--json"])
        .arg(fixture("realdata"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let runs = v["runs"].as_array().unwrap();
    let tokens_of = |format: &str, id_start: &str| {
        let run = runs
            .iter()
            .find(|r| r["format"] == format && r["run_id"].as_str().unwrap().starts_with(id_start))
            .unwrap_or_else(|| panic!("no {format} run {id_start}…"));
        (
            run["tokens"]["input"].as_u64(),
            run["tokens"]["output"].as_u64(),
        )
    };
    assert_eq!(
        tokens_of("claude-code", "55604662"),
        (Some(25353), Some(13))
    );
    assert_eq!(
        tokens_of("claude-code", "d6e0bada"),
        (Some(105_981), Some(212))
    );
    assert_eq!(tokens_of("codex", "019c8bfe"), (Some(298_373), Some(1123)));
    assert_eq!(tokens_of("otel", "4bedea77"), (Some(1020), Some(76)));
}

#[test]
fn show_json_carries_each_steps_tokens() {
    let out = Command::new(env!("CARGO_BIN_EXE_retrace"))
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .args(["show", "r-5014ef5e", "assets/demo", "--json"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // The demo's step 1 is `"tokens":{"input":676,"output":41}`.
    assert_eq!(
        v["steps"][1]["tokens"],
        serde_json::json!({"input": 676, "output": 41})
    );
    assert!(v["steps"][0]["tokens"].is_null());
    let sum: u64 = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["tokens"]["input"].as_u64())
        .sum();
    assert_eq!(v["run"]["tokens"]["input"], sum);
}

#[test]
fn diff_json_sets_the_two_runs_totals_side_by_side() {
    let expected = demo_tokens();
    let out = Command::new(env!("CARGO_BIN_EXE_retrace"))
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .args([
            "diff",
            "r-2bcd0cc3",
            "assets/demo",
            "--against",
            "r-1ee837f4",
            "--json",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for (side, run) in [("a", "r-2bcd0cc3"), ("b", "r-1ee837f4")] {
        let (input, output) = expected[run];
        assert_eq!(
            v["totals"][side]["tokens"],
            serde_json::json!({"input": input, "output": output}),
            "{side}"
        );
        assert!(v["totals"][side]["duration_ms"].as_i64().unwrap() > 0);
    }
}
