//! The headless CLI through the real binary: loading native files (bad lines,
//! compression, interleaving, rotation), run lookup, and the JSON output shapes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/native")
        .join(name)
}

fn retrace(args: &[&str], paths: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_retrace"))
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .args(args)
        .args(paths)
        .output()
        .expect("run retrace")
}

fn json_of(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "retrace failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is one JSON document")
}

fn ls_json(paths: &[&Path]) -> Value {
    json_of(&retrace(&["ls", "--json"], paths))
}

/// (line, reason) of every problem, in order.
fn problems(doc: &Value) -> Vec<(u64, String)> {
    doc["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["line"].as_u64().unwrap(),
                p["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn assert_bad_lines_fixture_loaded(doc: &Value) {
    let runs = doc["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{doc:#}");
    let run = &runs[0];
    assert_eq!(run["run_id"], "good-1");
    assert_eq!(
        run["steps"], 6,
        "every good line loads, the unterminated last one does not"
    );
    assert_eq!(run["errors"], 1);
    assert_eq!(run["outcome"], "failure");
    assert_eq!(run["agent"], "support-bot");
    assert_eq!(run["labels"]["task"], "refund");
    let got = problems(doc);
    let want: &[(u64, &str)] = &[
        (2, "not JSON"),
        (4, "not a JSON object (an array)"),
        (6, "missing required field \"run_id\""),
        (8, "missing required field \"kind\""),
        (
            10,
            "field \"step\" must be a non-negative integer below 2^32, got a string",
        ),
        (12, "invalid UTF-8"),
        (13, "not valid JSON"),
    ];
    assert_eq!(got.len(), want.len(), "{got:?}");
    for ((line, reason), (want_line, want_reason)) in got.iter().zip(want) {
        assert_eq!(line, want_line, "{reason}");
        assert!(
            reason.contains(want_reason),
            "line {line}: {reason:?} lacks {want_reason:?}"
        );
    }
    for p in doc["problems"].as_array().unwrap() {
        assert!(p["file"].as_str().unwrap().contains("bad_lines.jsonl"));
    }
}

#[test]
fn bad_lines_are_reported_by_number_and_the_good_run_loads_whole() {
    let doc = ls_json(&[&fixture("bad_lines.jsonl")]);
    assert_bad_lines_fixture_loaded(&doc);
}

#[test]
fn gzip_and_zstd_copies_load_the_same() {
    let bytes = std::fs::read(fixture("bad_lines.jsonl")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gz = dir.path().join("bad_lines.jsonl.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::default(),
    );
    enc.write_all(&bytes).unwrap();
    enc.finish().unwrap();
    let zst = dir.path().join("bad_lines.jsonl.zst");
    std::fs::write(
        &zst,
        ruzstd::encoding::compress_to_vec(&bytes[..], ruzstd::encoding::CompressionLevel::Fastest),
    )
    .unwrap();
    for path in [&gz, &zst] {
        let doc = ls_json(&[path]);
        assert_bad_lines_fixture_loaded(&doc);
        // Steps are read back from the compressed stream too.
        let shown = json_of(&retrace(&["show", "good-1", "--json"], &[path]));
        assert_eq!(shown["steps"][4]["error"]["code"], "SMTP_AUTH_INVALID");
        assert_eq!(shown["steps"][3]["name"], "lookup_order");
    }
}

#[test]
fn interleaved_runs_are_assembled_by_run_id_in_step_order() {
    let doc = ls_json(&[&fixture("interleaved.jsonl")]);
    let ids: Vec<&str> = doc["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["alpha", "beta"]);
    assert_eq!(doc["runs"][0]["steps"], 5);
    assert_eq!(doc["runs"][1]["steps"], 4);
    // beta's steps 2 and 1 arrive swapped: `step` orders them.
    let beta = json_of(&retrace(
        &["show", "beta", "--json"],
        &[&fixture("interleaved.jsonl")],
    ));
    let names: Vec<&str> = beta["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(names, ["b0", "b1", "b2", ""]);
}

#[test]
fn a_run_rotated_across_files_is_one_run() {
    let doc = ls_json(&[&fixture("rotated")]);
    assert_eq!(doc["runs"].as_array().unwrap().len(), 1);
    let run = &doc["runs"][0];
    assert_eq!(run["steps"], 6);
    assert_eq!(run["outcome"], "success");
    let files: Vec<&str> = run["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(files.len(), 2);
    assert!(files[0].ends_with("agent.2026-11-24.jsonl"));
    assert!(files[1].ends_with("agent.2026-11-25.jsonl"));
    let shown = json_of(&retrace(
        &["show", "gamma", "--json"],
        &[&fixture("rotated")],
    ));
    let steps: Vec<u64> = shown["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_u64().unwrap())
        .collect();
    assert_eq!(steps, [0, 1, 2, 3, 4, 5]);
}

#[test]
fn runs_are_found_by_unique_prefix_only() {
    let dir = fixture("interleaved.jsonl");
    let by_prefix = json_of(&retrace(&["show", "al", "--json"], &[&dir]));
    assert_eq!(by_prefix["run"]["run_id"], "alpha");

    let none = retrace(&["show", "zeta"], &[&dir]);
    assert!(!none.status.success());
    assert!(String::from_utf8_lossy(&none.stderr).contains("no run matches \"zeta\""));

    let two = tempfile::tempdir().unwrap();
    std::fs::write(
        two.path().join("x.jsonl"),
        "{\"run_id\":\"run-1a\",\"kind\":\"run_start\"}\n{\"run_id\":\"run-1b\",\"kind\":\"run_start\"}\n",
    )
    .unwrap();
    let ambiguous = retrace(&["show", "run-1"], &[two.path()]);
    assert!(!ambiguous.status.success());
    let err = String::from_utf8_lossy(&ambiguous.stderr);
    assert!(
        err.contains("matches several runs") && err.contains("run-1a") && err.contains("run-1b"),
        "{err}"
    );
    // An exact id wins even when it is also a prefix of another.
    std::fs::write(
        two.path().join("y.jsonl"),
        "{\"run_id\":\"run-1\",\"kind\":\"run_start\"}\n",
    )
    .unwrap();
    let exact = json_of(&retrace(&["show", "run-1", "--json"], &[two.path()]));
    assert_eq!(exact["run"]["run_id"], "run-1");
}

#[test]
fn ls_json_has_the_documented_shape() {
    let doc = ls_json(&[&fixture("bad_lines.jsonl")]);
    let run = doc["runs"][0].as_object().unwrap();
    for key in [
        "run_id",
        "agent",
        "started_at",
        "ended_at",
        "duration_ms",
        "steps",
        "errors",
        "outcome",
        "files",
        "labels",
        "format",
    ] {
        assert!(run.contains_key(key), "missing {key}");
    }
    assert_eq!(run["started_at"], "2026-11-20T10:00:00Z");
    assert_eq!(run["ended_at"], "2026-11-20T10:00:05Z");
    assert_eq!(run["duration_ms"], 5000);
    assert_eq!(run["format"], "native");
    assert!(run["labels"].is_object());
    let problem = doc["problems"][0].as_object().unwrap();
    for key in ["file", "line", "reason"] {
        assert!(problem.contains_key(key), "missing {key}");
    }
    // Runs without labels still have an (empty) labels object.
    let doc = ls_json(&[&fixture("interleaved.jsonl")]);
    assert_eq!(doc["runs"][0]["labels"], serde_json::json!({}));
}

#[test]
fn show_json_has_the_documented_shape() {
    let doc = json_of(&retrace(
        &["show", "good-1", "--json"],
        &[&fixture("bad_lines.jsonl")],
    ));
    assert_eq!(doc["run"]["run_id"], "good-1");
    assert_eq!(doc["run"]["trigger"]["ticket"], 4411);
    let steps = doc["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 6);
    for key in [
        "step",
        "id",
        "parent",
        "kind",
        "name",
        "status",
        "error",
        "ts",
        "duration_ms",
    ] {
        assert!(
            steps[1].as_object().unwrap().contains_key(key),
            "missing {key}"
        );
    }
    assert_eq!(steps[1]["kind"], "llm_call");
    assert_eq!(steps[1]["parent"], "0");
    assert_eq!(steps[1]["id"], "1");
    assert_eq!(steps[1]["duration_ms"], 930.0);
    assert_eq!(steps[4]["status"], "error");
    assert_eq!(
        steps[4]["error"]["message"],
        "535 5.7.8 authentication failed"
    );
    assert_eq!(steps[0]["ts"], "2026-11-20T10:00:00Z");
}

#[test]
fn human_show_lists_the_trigger_then_every_step() {
    let out = retrace(&["show", "good-1"], &[&fixture("bad_lines.jsonl")]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("trigger: {\"text\":\"Refund my order\",\"ticket\":4411}"),
        "{text}"
    );
    assert!(text.contains("SMTP_AUTH_INVALID"));
    let step_rows = text
        .lines()
        .filter(|l| l.trim_start().starts_with(char::is_numeric))
        .count();
    assert_eq!(step_rows, 6, "{text}");
}

#[test]
fn a_missing_path_is_an_error_naming_it() {
    let out = retrace(&["ls"], &[Path::new("/no/such/runs")]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such/runs"));
}

#[test]
fn a_folder_without_run_files_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "hello").unwrap();
    let out = retrace(&["ls"], &[dir.path()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no run files"));
}

#[test]
fn hostile_text_is_escaped_in_human_output() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("evil.jsonl"),
        "{\"run_id\":\"evil\\u001b]0;pwned\\u0007\",\"kind\":\"run_start\",\"agent\":\"a\\u001b[2J\\u202e\"}\n",
    )
    .unwrap();
    let out = retrace(&["ls"], &[dir.path()]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains('\u{1b}') && !text.contains('\u{7}') && !text.contains('\u{202e}'));
    assert!(text.contains("evil\\x1b]0;pwned\\x07"), "{text}");
}

#[test]
fn the_demo_lists_runs_of_both_outcomes() {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo");
    let doc = ls_json(&[&demo]);
    let runs = doc["runs"].as_array().unwrap();
    assert!(runs.len() >= 30);
    assert!(
        doc["problems"].as_array().unwrap().is_empty(),
        "{:#}",
        doc["problems"]
    );
    let outcomes: std::collections::BTreeSet<&str> = runs
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert!(
        outcomes.contains("success") && outcomes.contains("failure"),
        "{outcomes:?}"
    );
}

#[test]
fn ls_filters_with_the_search_language_and_sorts() {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo");
    let all = ls_json(&[&demo]);
    let doc = json_of(&retrace(
        &[
            "ls",
            "--json",
            "--filter",
            "outcome:failure agent:support-bot",
        ],
        &[&demo],
    ));
    let runs = doc["runs"].as_array().unwrap();
    let expected = all["runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["outcome"] == "failure" && r["agent"] == "support-bot")
        .count();
    assert!(expected > 0);
    assert_eq!(runs.len(), expected);
    let sorted = json_of(&retrace(&["ls", "--json", "--sort", "duration"], &[&demo]));
    let durations: Vec<i64> = sorted["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["duration_ms"].as_i64().unwrap_or(-1))
        .collect();
    assert!(durations.windows(2).all(|w| w[0] >= w[1]), "{durations:?}");
    let bad = retrace(&["ls", "--filter", "since:banana"], &[&demo]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("banana"));
}

#[test]
fn a_step_nested_too_deep_to_parse_whole_still_shows() {
    let dir = tempfile::tempdir().unwrap();
    let deep = format!(
        "{{\"run_id\":\"deep\",\"kind\":\"tool_call\",\"name\":\"nest\",\"input\":{}{}}}\n",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    std::fs::write(dir.path().join("deep.jsonl"), deep).unwrap();
    let doc = json_of(&retrace(&["show", "deep", "--json"], &[dir.path()]));
    let step = &doc["steps"][0];
    assert_eq!(step["name"], "nest");
    assert_eq!(step["kind"], "tool_call");
}

#[test]
fn links_carry_ids_parents_and_kinds_without_records() {
    let path = fixture("bad_lines.jsonl");
    let history = retrace::index::History::load(&[path], &Default::default()).unwrap();
    let run = history.find_run("good-1").unwrap();
    let full = run.load_steps().unwrap();
    let links = run.load_links(0..run.step_count()).unwrap();
    assert_eq!(links.len(), full.len());
    for (l, f) in links.iter().zip(&full) {
        assert_eq!(
            (&l.id, &l.parent, l.kind, &l.name, l.status),
            (&f.id, &f.parent, f.kind, &f.name, f.status)
        );
        assert!(l.record.is_null());
        assert!(!f.record.is_null());
    }
}

#[test]
fn unknown_kinds_are_other_steps_with_their_raw_json_and_no_problem() {
    let dir = tempfile::tempdir().unwrap();
    let lines = [
        r#"{"run_id":"r-new","step":0,"kind":"run_start","agent":"a","input":"go"}"#,
        r#"{"run_id":"r-new","step":1,"parent":0,"kind":"handoff","to":"billing-agent","output":{"text":"passing to billing"},"extra":{"x":[1,2]}}"#,
        r#"{"run_id":"r-new","step":2,"parent":1,"kind":"checkpoint","state":{"cart":3}}"#,
        r#"{"run_id":"r-new","step":3,"kind":"run_end","outcome":"success"}"#,
    ];
    std::fs::write(dir.path().join("r.jsonl"), lines.join("\n") + "\n").unwrap();
    let doc = json_of(&retrace(&["show", "r-new", "--json"], &[dir.path()]));
    assert_eq!(doc["problems"], serde_json::json!([]));
    let steps = doc["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 4, "nothing dropped");
    assert_eq!(steps[1]["kind"], "handoff", "the kind shown as written");
    assert_eq!(steps[1]["summary"], "passing to billing");
    assert_eq!(steps[2]["kind"], "checkpoint");
    assert_eq!(steps[2]["parent"], "1");
    // The step's record (its detail) is the line itself, unknown fields and all.
    let history =
        retrace::index::History::load(&[dir.path().to_path_buf()], &Default::default()).unwrap();
    let steps = history.find_run("r-new").unwrap().load_steps().unwrap();
    assert_eq!(steps[1].kind, retrace::model::StepKind::Other);
    assert_eq!(steps[1].record["extra"]["x"][1], 2);
    assert_eq!(steps[2].record["state"]["cart"], 3);
}
