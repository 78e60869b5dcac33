//! The real agent runs in `tests/fixtures/realdata/` (copied from the shared collection;
//! see PROVENANCE.md and PROVENANCE-shared.md there) load in full, with counts, mapped
//! fields and tree shapes pinned per format.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use retrace::index::{History, LoadOptions, RunRef};
use retrace::model::{Format, Outcome, StepKind};

fn realdata(sub: &str) -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/realdata")
        .join(sub);
    assert!(path.exists(), "{} is missing", path.display());
    Some(path)
}

fn load(path: PathBuf) -> History {
    let history = History::load(&[path], &LoadOptions::default()).expect("loads");
    assert!(
        history.problems().is_empty(),
        "{:?}",
        &history.problems()[..history.problems().len().min(5)]
    );
    history
}

/// Every parent names a step of the same run (or is absent, or starts with an allowed
/// prefix), and ids are unique.
fn assert_tree_links_resolve(run: &RunRef, allowed_dangling: &[&str]) {
    let steps = run.load_steps().unwrap();
    let ids: BTreeSet<&str> = steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids.len(),
        steps.len(),
        "step ids are unique in {}",
        run.id()
    );
    for s in &steps {
        if let Some(p) = &s.parent {
            assert!(
                ids.contains(p.as_str()) || allowed_dangling.iter().any(|d| p.starts_with(d)),
                "{}: step {} has unknown parent {p}",
                run.id(),
                s.step
            );
        }
    }
}

#[test]
fn tau_bench_loads_every_trial() {
    let Some(path) = realdata("tau-bench") else {
        return;
    };
    let history = load(path);
    assert_eq!(history.run_count(), 40);
    // PROVENANCE: 972 messages and 187 tool calls, plus a start and an end per trial.
    assert_eq!(history.step_count(), 972 + 187 + 2 * 40);
    let outcomes: Vec<Outcome> = history.runs().map(|r| r.outcome()).collect();
    assert_eq!(
        outcomes.iter().filter(|o| **o == Outcome::Success).count(),
        19
    );
    assert_eq!(
        outcomes.iter().filter(|o| **o == Outcome::Failure).count(),
        21
    );
    let run = history
        .find_run("gpt-4o-airline.subset/task-1/trial-1")
        .unwrap();
    assert_eq!(run.format(), Format::TauBench);
    assert_eq!(run.outcome(), Outcome::Success);
    assert_eq!(run.label("task_id"), Some("1"));
    assert_eq!(run.label("user_id"), Some("olivia_gonzalez_2305"));
    let tasks: BTreeSet<&str> = history.runs().filter_map(|r| r.label("task_id")).collect();
    assert_eq!(tasks.len(), 10);
    for run in history.runs() {
        assert_tree_links_resolve(&run, &[]);
        // Reused tool call ids: every result still pairs with its own call, of the same name.
        let steps = run.load_steps().unwrap();
        let mut results_per_call: BTreeMap<&str, usize> = BTreeMap::new();
        for result in steps.iter().filter(|s| s.kind == StepKind::ToolResult) {
            let parent = result.parent.as_deref().unwrap();
            let call = steps.iter().find(|s| s.id == parent).unwrap();
            assert_eq!(
                call.kind,
                StepKind::ToolCall,
                "{}: result {} pairs with a call",
                run.id(),
                result.id
            );
            assert_eq!(call.name, result.name, "{}: {}", run.id(), result.id);
            *results_per_call.entry(parent).or_default() += 1;
        }
        assert!(
            results_per_call.values().all(|n| *n == 1),
            "{}: {results_per_call:?}",
            run.id()
        );
    }
}

#[test]
fn otel_collector_output_loads_spans_and_passes_over_metrics_and_logs() {
    let Some(path) = realdata("otel/otel-demo.collector-file-exporter.jsonl") else {
        return;
    };
    let history = load(path);
    // PROVENANCE: 547 spans in 141 traces; 40 metric and 16 log lines are not problems.
    assert_eq!(history.run_count(), 141);
    assert_eq!(history.step_count(), 547);
    assert_eq!(history.files()[0].lines, 97);
    let run = history
        .find_run("bbad4eb5153b984404dfd154094bb031")
        .unwrap();
    assert_eq!(run.format(), Format::Otel);
    assert_eq!(run.step_count(), 18);
    assert_eq!(run.agent(), Some("frontend"));
    assert_eq!(run.label("service.name"), Some("frontend"));
    let steps = run.load_steps().unwrap();
    assert!(
        steps.windows(2).all(|w| w[0].ts <= w[1].ts),
        "spans are in start-time order"
    );
    assert_eq!(steps[0].parent, None, "the root span starts the trace");
    assert!(steps[0].record["meta"]["attributes"].is_object());
    assert_tree_links_resolve(&run, &[]);
    let failing = history.runs().filter(|r| r.error_count() > 0).count();
    assert!(failing > 0, "ERROR spans are errors");
}

#[test]
fn claude_code_transcripts_load_with_sidechains() {
    let Some(path) = realdata("claude-code") else {
        return;
    };
    let history = load(path);
    assert_eq!(history.run_count(), 4);
    let count = |prefix: &str| history.find_run(prefix).unwrap().step_count();
    // One step per line with a session (snapshots hold none), one per content block.
    assert_eq!(count("55604662"), 14);
    assert_eq!(count("d6e0bada"), 36);
    assert_eq!(count("491e126e"), 93);
    // The sub-agent files carry their parent session's id: one run from two files.
    let sub = history.find_run("4d5611e5").unwrap();
    assert_eq!(sub.step_count(), 149);
    assert_eq!(sub.files().count(), 2);
    assert_eq!(sub.agent_version(), Some("2.1.39"));
    let steps = sub.load_steps().unwrap();
    assert_eq!(
        steps
            .iter()
            .filter(|s| s.kind == StepKind::ToolCall)
            .count(),
        33
    );
    assert_eq!(
        steps
            .iter()
            .filter(|s| s.kind == StepKind::ToolResult)
            .count(),
        33
    );
    assert!(steps.iter().any(|s| s
        .name
        .as_deref()
        .is_some_and(|n| n.starts_with("[a2898e3]"))));
    let short = history.find_run("55604662").unwrap();
    assert_eq!(short.label("git_branch"), Some("master"));
    assert_eq!(short.model(), Some("claude-opus-4-6"));
    let short_steps = short.load_steps().unwrap();
    // The session's first request is its trigger.
    assert_eq!(short_steps[2].kind, StepKind::RunStart);
    assert_eq!(
        short_steps[2].record["input"],
        "mix phx.server doesnt seem to start"
    );
    assert_tree_links_resolve(&short, &[]);
    // The compaction sidechain's first three lines continue main-session lines whose file
    // was not copied (PROVENANCE), and the sub-agent's launching call (found by its
    // prompt) is in that file too: those are the only links that cannot resolve.
    assert_tree_links_resolve(
        &sub,
        &[
            "agent-",
            "prompt:",
            "6d942f99-74cb-4183-92e6-69aa915cb5f6",
            "e9fefb1c-927a-42d2-80a7-61bb6cc646d2",
            "ce1910a6-d099-47d6-b88c-2f2f8abc0cc2",
        ],
    );
}

#[test]
fn codex_rollouts_load_with_paired_calls() {
    let Some(path) = realdata("codex") else {
        return;
    };
    let history = load(path);
    assert_eq!(history.run_count(), 3);
    let run = history.find_run("019c8bfe").unwrap();
    assert_eq!(run.format(), Format::Codex);
    // session_meta + 13 messages + 6 reasoning + 5 calls + 5 outputs.
    assert_eq!(run.step_count(), 30);
    assert_eq!(run.model(), Some("gpt-5.3-codex"));
    assert_eq!(run.agent(), Some("Codex Desktop"));
    assert_eq!(history.find_run("019c8a53").unwrap().step_count(), 446);
    // With its `compacted` record as a step.
    assert_eq!(history.find_run("019c8a59").unwrap().step_count(), 1304);
    for run in history.runs() {
        let steps = run.load_steps().unwrap();
        let calls: BTreeSet<&str> = steps
            .iter()
            .filter(|s| s.kind == StepKind::ToolCall)
            .map(|s| s.id.as_str())
            .collect();
        for result in steps.iter().filter(|s| s.kind == StepKind::ToolResult) {
            assert!(
                calls.contains(result.parent.as_deref().unwrap()),
                "{}: {:?}",
                run.id(),
                result.parent
            );
        }
    }
}
