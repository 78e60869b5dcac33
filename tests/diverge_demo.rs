//! `retrace diff` on the demo history's incidents (assets/demo/README.md): for each
//! failing run, the comparison run it picks and the step where the runs diverge.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn demo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo")
}

fn diff(run: &str, against: Option<&str>) -> Value {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_retrace"));
    cmd.env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"));
    cmd.args(["diff", run]).arg(demo()).arg("--json");
    if let Some(b) = against {
        cmd.args(["--against", b]);
    }
    let out = cmd.output().expect("run retrace");
    assert!(
        out.status.success(),
        "retrace diff {run} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON document")
}

/// (a_step, b_step, kind, summary) of the divergence.
fn divergence(doc: &Value) -> (Value, Value, String, String) {
    let d = &doc["divergence"];
    assert!(d.is_object(), "no divergence: {doc:#}");
    (
        d["a_step"].clone(),
        d["b_step"].clone(),
        d["kind"].as_str().unwrap().to_string(),
        d["summary"].as_str().unwrap().to_string(),
    )
}

fn picked_from(doc: &Value, allowed: &[&str]) {
    let b = doc["b_run"].as_str().unwrap();
    assert!(
        allowed.contains(&b),
        "picked {b}, expected one of {allowed:?}"
    );
    let why = doc["picked_because"].as_str().expect("a pick reason");
    assert!(why.contains("same agent") && why.contains("task="), "{why}");
}

#[test]
fn incident_1_tool_failure_diverges_at_step_11() {
    let doc = diff("r-32281af1", None);
    picked_from(&doc, &["r-d5650a14"]);
    let (a, b, kind, summary) = divergence(&doc);
    assert_eq!((a, b), (11.into(), 11.into()));
    assert_eq!(kind, "error_vs_success");
    assert!(
        summary.contains("run_tests") && summary.contains("RUNNER_UNAVAILABLE"),
        "{summary}"
    );
    // The retries (12-14) have no counterpart, and the ship decision differs.
    let rows = doc["rows"].as_array().unwrap();
    for s in 12..=14 {
        let r = rows.iter().find(|r| r["a_step"] == s).unwrap();
        assert_eq!(r["b_step"], Value::Null, "step {s}");
        assert_eq!(r["cascade"], true);
    }
    let ship = rows.iter().find(|r| r["a_step"] == 15).unwrap();
    assert_eq!(ship["b_step"], 12);
    assert_eq!(ship["kind"], "different_decision");
}

#[test]
fn incident_2_prompt_drift_diverges_at_the_triage_against_the_older_version() {
    // Against the run the README names (1.4.2, also a damaged item past 30 days).
    let doc = diff("r-c762f4ff", Some("r-19d3f275"));
    let (a, b, kind, summary) = divergence(&doc);
    assert_eq!((a, b), (4.into(), 4.into()));
    assert_eq!(kind, "different_decision");
    assert!(
        summary.contains("issue_refund") && summary.contains("check_refund_policy"),
        "{summary}"
    );
    let rows = doc["rows"].as_array().unwrap();
    let decision = rows.iter().find(|r| r["a_step"] == 5).unwrap();
    assert_eq!(decision["kind"], "different_decision");
}

#[test]
fn incident_2_picked_twin_behaved_the_same_and_only_the_guardrail_differs() {
    // Picked by similarity, the closest success is r-a5327326: 1.5.0 too, it skipped the
    // policy check the same way and succeeded because its order was recent. The diff says
    // exactly that: identical behaviour until the guardrail error, which only A has.
    let doc = diff("r-c762f4ff", None);
    picked_from(&doc, &["r-a5327326"]);
    let (a, b, kind, summary) = divergence(&doc);
    assert_eq!((a, b), (17.into(), Value::Null));
    assert_eq!(kind, "extra_step");
    assert!(summary.contains("REFUND_OUTSIDE_WINDOW"), "{summary}");
    // The alternatives it offers are 1.4.2 runs, which check the policy: against the
    // first of them the split is the triage at step 4.
    let alt = doc["pick"]["alternatives"][0]["run"]
        .as_str()
        .unwrap()
        .to_string();
    let doc = diff("r-c762f4ff", Some(&alt));
    let (a, b, kind, _) = divergence(&doc);
    assert_eq!(
        (a, b, kind.as_str()),
        (4.into(), 4.into(), "different_decision")
    );
}

#[test]
fn incident_3_state_corruption_diverges_at_the_reused_draft() {
    // The README's "first difference" is the decision at step 6 and notes that "the data
    // already differs at 5": find_invoice_draft returned the half-written draft where the
    // successes got none. Result data counts as behaviour here, so the divergence is 5,
    // and the decision at 6 is the first row of its cascade.
    for against in [None, Some("r-b6101852")] {
        let doc = diff("r-715e60d7", against);
        if against.is_none() {
            picked_from(
                &doc,
                &["r-b6101852", "r-f982306d", "r-a92baa01", "r-2a513b3a"],
            );
        }
        let (a, b, kind, summary) = divergence(&doc);
        assert_eq!((a, b), (5.into(), 5.into()));
        assert_eq!(kind, "different_result");
        assert!(
            summary.contains("draft") && summary.contains("null"),
            "{summary}"
        );
        let rows = doc["rows"].as_array().unwrap();
        let decision = rows.iter().find(|r| r["a_step"] == 6).unwrap();
        assert_eq!(decision["b_step"], 6);
        assert_eq!(decision["kind"], "different_decision");
        assert_eq!(decision["cascade"], true);
    }
}

#[test]
fn incident_4_environmental_change_diverges_at_the_email() {
    let doc = diff("r-2bcd0cc3", None);
    // Any 1.4.2 refund of the same path is comparable; the README names r-1ee837f4.
    picked_from(&doc, &["r-1ee837f4", "r-5014ef5e", "r-9374ade1"]);
    let (a, b, kind, summary) = divergence(&doc);
    assert_eq!((a, b), (15.into(), 15.into()));
    assert_eq!(kind, "error_vs_success");
    assert!(summary.contains("SMTP_AUTH_INVALID"), "{summary}");
}

#[test]
fn incident_5_edge_case_input_diverges_at_the_upsert() {
    let doc = diff("r-01ae7873", None);
    // A run of three records, like the README's r-3203c2dc.
    picked_from(&doc, &["r-3203c2dc", "r-60d5ed1a"]);
    let (a, b, kind, summary) = divergence(&doc);
    assert_eq!((a, b), (8.into(), 8.into()));
    assert_eq!(kind, "error_vs_success");
    assert!(
        summary.contains("ER_TRUNCATED_WRONG_VALUE_FOR_FIELD"),
        "{summary}"
    );
}

#[test]
fn related_incidents_diverge_where_the_readme_says() {
    // (failing run, comparison named in the README, step on both sides)
    for (run, against, step) in [
        ("r-fe06714c", "r-19d3f275", 14),
        ("r-bb19956c", "r-b6101852", 21),
        ("r-fd757875", "r-b6101852", 18),
    ] {
        let doc = diff(run, Some(against));
        let (a, b, kind, _) = divergence(&doc);
        assert_eq!((a, b), (step.into(), step.into()), "{run}");
        assert_eq!(kind, "error_vs_success", "{run}");
    }
}

#[test]
fn a_run_against_itself_has_no_divergence() {
    let doc = diff("r-1ee837f4", Some("r-1ee837f4"));
    assert_eq!(doc["divergence"], Value::Null);
    assert_eq!(doc["input_mode"], "same_input");
    let rows = doc["rows"].as_array().unwrap();
    assert!(rows.iter().all(|r| r["kind"].is_null()));
}
