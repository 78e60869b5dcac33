//! `retrace stats` on the demo history: the rotated SMTP credential of 2026-11-25 shows as
//! a window of failures with SMTP_AUTH_INVALID counted, and ranks first by error. The
//! figures are checked against the demo files read independently here, and the morning's
//! are pinned.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn demo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo")
}

fn stats(args: &[&str], config: Option<&Path>) -> Value {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_retrace"));
    cmd.env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"));
    cmd.arg("stats").arg(demo()).args(args).arg("--json");
    cmd.env(
        "RETRACE_CONFIG",
        config.unwrap_or(Path::new("/nonexistent/retrace-config")),
    );
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// One demo run as read straight from its lines.
#[derive(Default, Debug)]
struct Run {
    start: Option<String>,
    outcome: String,
    steps: u64,
    errors: BTreeMap<String, u64>,
    tokens: (u64, u64),
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else if path.extension().is_some_and(|e| e == "jsonl") {
            out.push(path);
        }
    }
    out
}

fn demo_runs() -> BTreeMap<String, Run> {
    let mut runs: BTreeMap<String, Run> = BTreeMap::new();
    for file in files(&demo()) {
        for line in std::fs::read_to_string(file).unwrap().lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            let run = runs
                .entry(v["run_id"].as_str().unwrap().into())
                .or_default();
            run.steps += 1;
            let ts = v["ts"].as_str().unwrap().to_string();
            if run.start.as_ref().map_or(true, |s| ts < *s) {
                run.start = Some(ts);
            }
            if let Some(o) = v["outcome"].as_str() {
                run.outcome = o.into();
            }
            if v["status"] == "error" || v["kind"] == "error" {
                let e = &v["error"];
                let label = e["code"].as_str().or(e["message"].as_str()).unwrap();
                *run.errors.entry(label.into()).or_default() += 1;
            }
            if let Some(t) = v.get("tokens") {
                run.tokens.0 += t["input"].as_u64().unwrap();
                run.tokens.1 += t["output"].as_u64().unwrap();
            }
        }
    }
    runs
}

fn is_bad(outcome: &str) -> bool {
    matches!(outcome, "failure" | "timeout" | "cancelled")
}

#[test]
fn by_hour_matches_the_files_and_shows_the_credential_window() {
    let got = stats(&["--by", "hour"], None);
    assert_eq!(got["by"], "hour");
    let runs = demo_runs();
    let groups = got["groups"].as_array().unwrap();
    // Every group agrees with the files: runs by the hour they started in (all demo
    // times are UTC, `Z`).
    let mut expected: BTreeMap<String, Vec<&Run>> = BTreeMap::new();
    for run in runs.values() {
        let start = run.start.as_ref().unwrap();
        expected
            .entry(format!("{}:00:00Z", &start[..13]))
            .or_default()
            .push(run);
    }
    let keys: Vec<&str> = groups.iter().map(|g| g["key"].as_str().unwrap()).collect();
    assert_eq!(
        keys,
        expected.keys().map(String::as_str).collect::<Vec<_>>()
    );
    for g in groups {
        let runs = &expected[g["key"].as_str().unwrap()];
        let key = &g["key"];
        assert_eq!(g["runs"], runs.len(), "{key}");
        let failures = runs.iter().filter(|r| is_bad(&r.outcome)).count();
        assert_eq!(g["failures"], failures, "{key}");
        assert_eq!(
            g["steps"],
            runs.iter().map(|r| r.steps).sum::<u64>(),
            "{key}"
        );
        let mut errors: BTreeMap<String, u64> = BTreeMap::new();
        for r in runs {
            for (code, n) in &r.errors {
                *errors.entry(code.clone()).or_default() += n;
            }
        }
        assert_eq!(g["errors"], serde_json::to_value(&errors).unwrap(), "{key}");
        let input: u64 = runs.iter().map(|r| r.tokens.0).sum();
        assert_eq!(g["tokens"]["input"], input, "{key}");
    }

    // The morning of 2026-11-25: the SMTP credential was rotated at ~08:00; every run
    // sending mail fails until the redeploy.
    let group = |key: &str| {
        groups
            .iter()
            .find(|g| g["key"] == key)
            .unwrap_or_else(|| panic!("no group {key}"))
    };
    let nine = group("2026-11-25T09:00:00Z");
    assert_eq!(
        (nine["runs"].as_u64(), nine["failures"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(nine["failure_rate"], 1.0);
    assert_eq!(nine["errors"], serde_json::json!({"SMTP_AUTH_INVALID": 4}));
    assert_eq!(nine["first_failure"], "2026-11-25T09:12:49.686Z");
    assert_eq!(nine["last_failure"], "2026-11-25T09:41:20.012Z");
    let eleven = group("2026-11-25T11:00:00Z");
    assert_eq!(
        (eleven["runs"].as_u64(), eleven["failures"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(
        eleven["errors"],
        serde_json::json!({"SMTP_AUTH_INVALID": 2})
    );
    // The hours before had no failures.
    assert_eq!(group("2026-11-25T05:00:00Z")["failures"], 0);
    assert!(groups.iter().all(|g| g.get("cost").is_none()));
}

#[test]
fn by_error_ranks_the_rotated_credential_first() {
    let got = stats(&["--by", "error"], None);
    let first = &got["groups"][0];
    assert_eq!(first["key"], "SMTP_AUTH_INVALID");
    assert_eq!(first["runs"], 3);
    assert_eq!(first["failures"], 3);
    assert_eq!(first["errors"]["SMTP_AUTH_INVALID"], 6);
    assert_eq!(first["first_failure"], "2026-11-25T09:12:49.686Z");
    assert_eq!(first["last_failure"], "2026-11-25T11:38:25.231Z");
    // Every group has the fields of the format.
    for g in got["groups"].as_array().unwrap() {
        for field in [
            "key",
            "runs",
            "failures",
            "failure_rate",
            "duration_ms_p50",
            "duration_ms_p95",
            "steps",
            "tokens",
            "errors",
            "first_failure",
            "last_failure",
        ] {
            assert!(g.get(field).is_some(), "{field} missing in {g}");
        }
    }
    // The runs without any failing step come last, keyed null.
    let last = got["groups"].as_array().unwrap().last().unwrap();
    assert!(last["key"].is_null());
}

#[test]
fn filter_and_cost_from_the_price_table() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::write(
        &config,
        "theme = dark\nprice.gpt-4.1-2025-04-14 = 0.002 0.008\n",
    )
    .unwrap();
    let got = stats(
        &["--by", "agent", "--filter", "agent:support-bot"],
        Some(&config),
    );
    let groups = got["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1);
    let support = &groups[0];
    assert_eq!(support["key"], "support-bot");
    assert_eq!(support["runs"], 10);
    // support-bot runs on the priced model: every run's tokens are priced.
    let (input, output) = (
        support["tokens"]["input"].as_u64().unwrap(),
        support["tokens"]["output"].as_u64().unwrap(),
    );
    let want = input as f64 / 1000.0 * 0.002 + output as f64 / 1000.0 * 0.008;
    let cost = &support["cost"];
    assert!(
        (cost["total"].as_f64().unwrap() - want).abs() < 1e-9,
        "{cost}"
    );
    assert_eq!(cost["unpriced_runs"], 0);

    // Another agent's model has no price: its cost is not guessed.
    let got = stats(
        &["--by", "agent", "--filter", "agent:billing-agent"],
        Some(&config),
    );
    let billing = &got["groups"][0]["cost"];
    assert_eq!(billing["total"], 0.0);
    assert_eq!(billing["unpriced_runs"], 8);
}

#[test]
fn text_table_names_the_groups_and_their_errors() {
    let out = Command::new(env!("CARGO_BIN_EXE_retrace"))
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .args(["stats", "--by", "error"])
        .arg(demo())
        .env("RETRACE_CONFIG", "/nonexistent/retrace-config")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let first_row = text.lines().nth(1).unwrap();
    assert!(first_row.starts_with("SMTP_AUTH_INVALID"), "{text}");
    assert!(
        text.contains("SMTP_AUTH_INVALID: 3 failed 2026-11-25 09:12:49"),
        "{text}"
    );
}

#[test]
fn a_bad_filter_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_retrace"))
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .args(["stats", "--filter", "since:yesterdayish"])
        .arg(demo())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("filter"));
}

#[test]
fn a_history_of_bad_lines_only_is_an_error_after_the_figures() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.jsonl"), "not json\n{\"kind\":\"x\"}\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_retrace"))
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .args(["stats", "--json"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["groups"], serde_json::json!([]));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing could be read: 2 problem"));
}
