//! The divergence engine on real runs: tau-bench airline trajectories of gpt-4o (same
//! task, reward 1 and reward 0; see tests/fixtures/realdata/PROVENANCE-shared.md). Every
//! failing trial is compared with every successful trial of its task.

use std::collections::BTreeMap;
use std::path::PathBuf;

use retrace::diverge::{self, InputMode, Kind};
use retrace::index::{History, LoadOptions, RunRef};
use retrace::model::{Outcome, StepKind};

fn tau_bench() -> Option<History> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/realdata/tau-bench/gpt-4o-airline.subset.json");
    let history = History::load(&[path], &LoadOptions::default()).expect("loads");
    assert_eq!(history.run_count(), 40);
    Some(history)
}

fn run<'h>(history: &'h History, task: u32, trial: u32) -> RunRef<'h> {
    history
        .find_run(&format!("gpt-4o-airline.subset/task-{task}/trial-{trial}"))
        .unwrap()
}

/// Failing and successful runs per task.
fn by_task(history: &History) -> BTreeMap<String, (Vec<RunRef<'_>>, Vec<RunRef<'_>>)> {
    let mut tasks: BTreeMap<String, (Vec<RunRef>, Vec<RunRef>)> = BTreeMap::new();
    for r in history.runs() {
        let task = r.label("task_id").expect("task_id label").to_string();
        let e = tasks.entry(task).or_default();
        match r.outcome() {
            Outcome::Success => e.1.push(r),
            Outcome::Failure => e.0.push(r),
            o => panic!("unexpected outcome {o}"),
        }
    }
    tasks
}

#[test]
fn every_failure_diverges_from_every_success_of_its_task_before_the_end() {
    let Some(history) = tau_bench() else { return };
    let mut pairs = 0;
    for (task, (failures, successes)) in by_task(&history) {
        assert!(!failures.is_empty() && !successes.is_empty(), "task {task}");
        for a in &failures {
            for b in &successes {
                let d = diverge::diff(&history, *a, Some(*b)).unwrap();
                let cmp = &d.comparison;
                let what = format!("{} vs {}", a.id(), b.id());
                // Same task, same instruction: values are compared as they are.
                assert_eq!(cmp.mode, InputMode::SameInput, "{what}");
                let div = cmp
                    .divergence
                    .as_ref()
                    .unwrap_or_else(|| panic!("{what}: none"));
                // Everything before it did the same thing (inputs aside).
                for r in &cmp.rows[..div.row] {
                    assert!(r.is_same() || r.input, "{what}: {r:?} before {div:?}");
                }
                // It is something the agent did, before the end of the run: not the
                // outcome itself, not what the user said.
                let row = cmp.rows[div.row];
                assert!(!row.input, "{what}");
                let step = row
                    .a
                    .map(|i| &d.a_steps[i])
                    .or(row.b.map(|j| &d.b_steps[j]))
                    .unwrap();
                assert!(
                    matches!(
                        step.kind,
                        StepKind::LlmCall | StepKind::ToolCall | StepKind::ToolResult
                    ),
                    "{what}: diverges at a {} step",
                    step.kind
                );
                // The explanation names both sides (or the one side that has a step).
                match (div.a_step, div.b_step) {
                    (Some(_), Some(_)) => assert!(
                        div.summary.contains(" instead of "),
                        "{what}: {}",
                        div.summary
                    ),
                    (Some(_), None) => assert!(div.summary.starts_with("only in A: "), "{what}"),
                    (None, Some(_)) => assert!(div.summary.starts_with("only in B: "), "{what}"),
                    (None, None) => unreachable!(),
                }
                assert!(div.summary.len() > 40, "{what}: {}", div.summary);
                pairs += 1;
            }
        }
    }
    // 21 failures over 10 tasks, each against every success of its task:
    // 3·1 + 3·1 + 2·2 + 2·2 + 1·3 + 2·2 + 2·2 + 2·2 + 2·2 + 2·2.
    assert_eq!(pairs, 37);
}

/// (a_step, b_step, kind, summary) of the divergence of task/trial `fa` against `sb`.
fn divergence(
    history: &History,
    task: u32,
    fa: u32,
    sb: u32,
) -> (Option<u32>, Option<u32>, Kind, String, Option<String>) {
    let d = diverge::diff(
        history,
        run(history, task, fa),
        Some(run(history, task, sb)),
    )
    .unwrap();
    let div = d.comparison.divergence.expect("a divergence");
    (div.a_step, div.b_step, div.kind, div.summary, div.context)
}

#[test]
fn task_1_the_failing_agent_insists_on_a_reservation_id_instead_of_looking_the_user_up() {
    let Some(history) = tau_bench() else { return };
    for trial in [0, 2, 3] {
        let (a, b, kind, summary, _) = divergence(&history, 1, trial, 1);
        assert_eq!(
            (a, b, kind),
            (Some(5), Some(5), Kind::DifferentDecision),
            "trial {trial}: {summary}"
        );
        assert!(summary.contains("answered"), "{summary}");
        assert!(summary.contains("I need the reservati"), "{summary}");
        assert!(
            summary.contains("get_user_details(user_id: \"olivia_gonzalez_2305\")"),
            "{summary}"
        );
    }
    // Trial 0's user never gave the user id: the context says so.
    let (.., context) = divergence(&history, 1, 0, 1);
    let context = context.expect("the user's message differs just before");
    assert!(
        context.contains("user said") && context.contains("olivia_gonzalez_2305"),
        "{context}"
    );
}

#[test]
fn task_13_the_failing_agent_searches_again_where_the_success_updates_the_reservation() {
    let Some(history) = tau_bench() else { return };
    for trial in [0, 3] {
        let (a, b, kind, summary, _) = divergence(&history, 13, trial, 1);
        assert_eq!(
            (a, b, kind),
            (Some(12), Some(12), Kind::DifferentDecision),
            "{summary}"
        );
        assert!(
            summary.contains("proposed search_direct_flight(")
                && summary.contains("instead of update_reservation_flights("),
            "{summary}"
        );
    }
}

#[test]
fn task_30_the_failing_agent_transfers_to_a_human_instead_of_cancelling() {
    let Some(history) = tau_bench() else { return };
    let (a, b, kind, summary, _) = divergence(&history, 30, 0, 1);
    assert_eq!(
        (a, b, kind),
        (Some(33), Some(33), Kind::DifferentDecision),
        "{summary}"
    );
    assert!(
        summary.contains("transfer_to_human_agents(")
            && summary.contains("instead of cancel_reservation(reservation_id: \"FDZ0T5\")"),
        "{summary}"
    );
}

#[test]
fn task_44_the_failing_agent_answers_from_the_claimed_tier_without_looking_it_up() {
    let Some(history) = tau_bench() else { return };
    let (a, b, kind, summary, _) = divergence(&history, 44, 3, 0);
    assert_eq!(
        (a, b, kind),
        (Some(5), Some(5), Kind::DifferentDecision),
        "{summary}"
    );
    assert!(
        summary.contains("As a gold member")
            && summary
                .contains("instead of calling get_reservation_details(reservation_id: \"JMO1MG\")"),
        "{summary}"
    );
}

#[test]
fn picked_comparisons_are_successes_of_the_same_task() {
    let Some(history) = tau_bench() else { return };
    for (task, (failures, _)) in by_task(&history) {
        for a in failures {
            let d = diverge::diff(&history, a, None).unwrap();
            let pick = d.pick.expect("picked");
            assert_eq!(d.b.outcome(), Outcome::Success);
            assert_eq!(d.b.label("task_id"), Some(task.as_str()));
            assert!(
                pick.reason.contains(&format!("task_id={task}")),
                "{}",
                pick.reason
            );
            assert!(d.comparison.divergence.is_some(), "{}", a.id());
        }
    }
}
