//! tau2-bench results files (`{info, tasks, simulations}`) through the real binary: each
//! simulation a run, the agent's and the simulated user's tool calls, tool errors,
//! termination reasons and rewards; and the v1 result arrays still read the same way.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

mod common;
use common::retrace_json;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

#[test]
fn each_simulation_is_a_run_and_its_termination_and_reward_decide_the_outcome() {
    let doc = retrace_json(&["ls"], &fixtures().join("tau2_bench"));
    assert_eq!(doc["problems"], json!([]), "{:#}", doc["problems"]);
    let runs = doc["runs"].as_array().unwrap();
    let outcome = |id: &str| {
        let run = runs
            .iter()
            .find(|r| r["run_id"] == id)
            .unwrap_or_else(|| panic!("{id}"));
        (run["outcome"].as_str().unwrap().to_string(), run.clone())
    };
    let (ok, run) = outcome("results/task-t-data/trial-0");
    assert_eq!(ok, "success");
    assert_eq!(run["format"], "tau-bench");
    assert_eq!(run["model"], "gpt-4.1-mini", "the agent's model from info");
    assert_eq!(run["labels"]["termination_reason"], "user_stop");
    assert_eq!(run["labels"]["domain"], "telecom");
    assert_eq!(
        outcome("results/task-t-data/trial-1").0,
        "failure",
        "reward 0"
    );
    assert_eq!(
        outcome("results/task-t-pin/trial-0").0,
        "failure",
        "too many errors"
    );
    assert_eq!(
        outcome("results/task-t-pin/trial-1").0,
        "timeout",
        "max steps, no reward"
    );
}

#[test]
fn agent_and_user_tool_calls_hang_under_their_message_and_results_under_their_call() {
    let path = fixtures().join("tau2_bench");
    let show = retrace_json(&["show", "results/task-t-data/trial-0"], &path);
    let steps = show["steps"].as_array().unwrap();
    let by_name = |name: &str| steps.iter().find(|s| s["name"] == name).unwrap();
    let lookup = by_name("get_customer_by_phone");
    let usage = by_name("get_data_usage");
    assert_eq!(
        lookup["parent"], usage["parent"],
        "parallel calls are siblings"
    );
    let toggle = by_name("toggle_data");
    let asker = steps.iter().find(|s| s["id"] == toggle["parent"]).unwrap();
    assert_eq!(
        (asker["kind"].as_str(), asker["name"].as_str()),
        (Some("message"), Some("user")),
        "the simulated user's own call"
    );
    // Results answer their call by id, whatever order they came back in.
    for call in [lookup, usage, toggle] {
        assert!(
            steps
                .iter()
                .any(|s| s["kind"] == "tool_result" && s["parent"] == call["id"]),
            "{call:#}"
        );
    }
    let trigger = &steps[0];
    assert_eq!(trigger["summary"], "My phone has no data. Can you help?");

    let failing = retrace_json(&["show", "results/task-t-data/trial-1"], &path);
    let result = failing["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == "tool_result")
        .unwrap();
    assert_eq!(
        result["status"], "error",
        "`error: true` on the tool message"
    );
}

#[test]
fn a_damaged_simulation_is_reported_and_the_others_load() {
    let text = std::fs::read_to_string(fixtures().join("tau2_bench/results.json")).unwrap();
    let mut doc: Value = serde_json::from_str(&text).unwrap();
    doc["simulations"][1] = json!({"id": "broken", "messages": "not a list"});
    doc["simulations"][2]["surprise"] = json!({"new": "field"});
    doc["simulations"][2]["messages"][0]
        .as_object_mut()
        .unwrap()
        .remove("turn_idx");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("results.json"),
        serde_json::to_string_pretty(&doc).unwrap(),
    )
    .unwrap();
    let ls = retrace_json(&["ls"], dir.path());
    assert_eq!(ls["runs"].as_array().unwrap().len(), 3);
    let problems = ls["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0]["line"].as_u64().unwrap() > 1,
        "the simulation's own line"
    );
}

#[test]
fn real_tau_bench_v1_trials_still_load_from_the_repository() {
    let doc = retrace_json(&["ls"], &fixtures().join("realdata/tau-bench"));
    assert_eq!(doc["problems"], json!([]));
    let runs = doc["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 40);
    let successes = runs.iter().filter(|r| r["outcome"] == "success").count();
    assert_eq!(successes, 19);
}
