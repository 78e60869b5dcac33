//! Post-mortem core: classification of the demo's five incidents and of labelled
//! incidents from other domains, the incident timeline, and notes stored atomically.

use std::path::{Path, PathBuf};

use retrace::index::{History, LoadOptions};
use retrace::postmortem::notes::{check_action, parse_action, safe_file_name, Library, Notes};
use retrace::postmortem::timeline::{self, Role};
use retrace::postmortem::{classify, Category, Investigation};

fn load(path: &str) -> History {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    History::load(&[p], &LoadOptions::default()).expect("history loads")
}

fn classify_run(history: &History, run: &str) -> classify::Classification {
    let r = history.find_run(run).unwrap();
    let inv = Investigation::open(history, r, None).unwrap();
    classify::classify(history, &inv).unwrap()
}

#[test]
fn each_demo_incident_is_classified_into_its_own_category_with_evidence() {
    let history = load("assets/demo");
    // (run, category, a step the evidence must cite, a word the evidence must use)
    let cases = [
        ("r-32281af1", Category::ToolFailure, 11, "outage"),
        ("r-c762f4ff", Category::PromptDrift, 4, "before any error"),
        ("r-715e60d7", Category::StateCorruption, 5, "other data"),
        (
            "r-2bcd0cc3",
            Category::EnvironmentalChange,
            15,
            "access error",
        ),
        ("r-01ae7873", Category::EdgeCaseInput, 7, "emoji"),
    ];
    for (run, category, step, word) in cases {
        let c = classify_run(&history, run);
        assert_eq!(c.category, category, "{run}: {c:#?}");
        assert!(
            c.confidence > 0.4 && c.confidence <= 1.0,
            "{run}: confidence {}",
            c.confidence
        );
        assert!(
            c.evidence.iter().any(|e| e.run_id == run && e.step == step),
            "{run}: evidence cites step {step}: {:#?}",
            c.evidence
        );
        assert!(
            c.evidence.iter().any(|e| e.why.contains(word)),
            "{run}: evidence says {word:?}: {:#?}",
            c.evidence
        );
        assert!(c
            .alternatives
            .iter()
            .all(|a| a.category != category && a.confidence < c.confidence));
        assert!(c.against.is_some(), "{run} has a comparison run");
    }
}

#[test]
fn the_credential_incident_finds_the_other_runs_failing_the_same_way() {
    let history = load("assets/demo");
    let c = classify_run(&history, "r-2bcd0cc3");
    let related: Vec<&str> = c.related.iter().map(|r| r.run_id.as_str()).collect();
    assert!(
        related.contains(&"r-fe06714c") && related.contains(&"r-bb19956c"),
        "{related:?}"
    );
    // The state-corruption evidence points into the run that left the half-written draft.
    let s = classify_run(&history, "r-715e60d7");
    assert!(
        s.evidence.iter().any(|e| e.run_id == "r-9a67e3a4"),
        "{:#?}",
        s.evidence
    );
}

#[test]
fn labelled_incidents_from_other_domains_are_classified() {
    let cases = [
        ("deploy_permission", "d-0003", Category::EnvironmentalChange),
        ("etl_impossible_date", "e-0009", Category::EdgeCaseInput),
        ("release_tool_crash", "m-0003", Category::ToolFailure),
        ("triage_prompt_change", "t-0003", Category::PromptDrift),
        (
            "ledger_partial_snapshot",
            "l-0003",
            Category::StateCorruption,
        ),
    ];
    for (folder, run, category) in cases {
        let history = load(&format!("tests/fixtures/classify/{folder}"));
        let c = classify_run(&history, run);
        assert_eq!(c.category, category, "{folder}: {c:#?}");
        assert!(!c.evidence.is_empty());
    }
}

#[test]
fn the_incident_timeline_keeps_only_the_steps_a_post_mortem_talks_about() {
    let history = load("assets/demo");
    let run = history.find_run("r-32281af1").unwrap();
    let inv = Investigation::open(&history, run, None).unwrap();
    let t = timeline::of(&inv);
    assert!(t.rows.len() < inv.steps.len());
    assert_eq!(t.rows[0].roles, vec![Role::Trigger]);
    let at = |step: u32| {
        t.row(step)
            .unwrap_or_else(|| panic!("row {step} in {t:#?}"))
    };
    assert!(at(11).roles.contains(&Role::Divergence));
    assert!(at(11).roles.contains(&Role::FirstFailure));
    let decision = at(15);
    assert!(decision.roles.contains(&Role::Decision));
    assert_eq!(
        decision.choice.as_deref(),
        Some("merge_pr_bypassing_checks")
    );
    assert!(decision.reason.is_some());
    assert!(at(24).roles.contains(&Role::ExternalChange) && at(24).roles.contains(&Role::Cascade));
    assert!(
        at(26).roles.contains(&Role::Cascade),
        "the later CI failure is in the cascade"
    );
    assert!(t.rows.iter().all(|r| r.run_id == "r-32281af1"));
}

fn temp_library() -> (tempfile::TempDir, Library) {
    let dir = tempfile::tempdir().unwrap();
    let lib = Library::at(dir.path().join("lib"));
    (dir, lib)
}

#[test]
fn notes_survive_a_save_and_load_round_trip_in_stable_pretty_json() {
    let (_dir, lib) = temp_library();
    let id = "r-2bcd0cc3";
    assert!(lib.load_notes(id).unwrap().is_empty(), "no notes yet");
    let saved = lib
        .update_notes(id, |n| {
            n.root_cause = Some(15);
            n.toggle_bookmark(19);
            n.toggle_bookmark(12);
            n.set_step_note(15, "SMTP password rotated at 08:00");
            n.category = Some(Category::EnvironmentalChange);
            n.narrative = Some("The relay credential was rotated.\nThe agents kept v13.".into());
            n.action_items.push(
                parse_action("Reload SMTP credentials on 535 in send_email owner=maria component=tool done_when=\"test_reload_on_535 passes\"").unwrap(),
            );
        })
        .unwrap();
    let loaded = lib.load_notes(id).unwrap();
    assert_eq!(loaded, saved);
    assert_eq!(loaded.bookmarks, vec![12, 19], "kept sorted");
    let text = std::fs::read_to_string(lib.notes_path(id)).unwrap();
    assert!(
        text.starts_with("{\n  \"run_id\": \"r-2bcd0cc3\",\n  \"category\""),
        "{text}"
    );
    assert!(text.ends_with("}\n"));
    // Unknown fields written by a newer version are kept.
    let newer = text.replacen("{\n", "{\n  \"incident\": \"INC-7\",\n", 1);
    std::fs::write(lib.notes_path(id), newer).unwrap();
    let mut n = lib.load_notes(id).unwrap();
    lib.save_notes(&mut n).unwrap();
    assert!(std::fs::read_to_string(lib.notes_path(id))
        .unwrap()
        .contains("\"incident\": \"INC-7\""));
    // Removing a bookmark and a step note.
    let n = lib
        .update_notes(id, |n| {
            n.toggle_bookmark(12);
            n.set_step_note(15, "");
        })
        .unwrap();
    assert_eq!(n.bookmarks, vec![19]);
    assert!(n.step_notes.is_empty());
}

#[test]
fn run_ids_become_safe_distinct_file_names() {
    let names = [
        "../../etc/passwd",
        "a/b",
        "a%2Fb",
        ".hidden",
        "",
        "r-1 2",
        "ü",
    ];
    let safe: Vec<String> = names.iter().map(|n| safe_file_name(n)).collect();
    for s in &safe {
        assert!(
            s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_%~".contains(c)),
            "{s}"
        );
        assert!(!s.starts_with('.'));
    }
    let unique: std::collections::BTreeSet<&String> = safe.iter().collect();
    assert_eq!(unique.len(), names.len());
    let long = "x".repeat(500);
    let long2 = format!("{}y", "x".repeat(499));
    assert!(safe_file_name(&long).len() <= 120);
    assert_ne!(safe_file_name(&long), safe_file_name(&long2));
    let (_dir, lib) = temp_library();
    let mut n = Notes::new("../../escape");
    let path = lib.save_notes(&mut n).unwrap();
    assert!(path.starts_with(lib.notes_dir()));
    assert_eq!(
        lib.load_notes("../../escape").unwrap().run_id,
        "../../escape"
    );
}

#[test]
fn a_library_inside_the_log_folders_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let logs: PathBuf = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    assert!(Library::at(logs.join("notes-here"))
        .ensure_outside(std::slice::from_ref(&logs))
        .is_err());
    assert!(Library::at(dir.path().join("lib"))
        .ensure_outside(&[logs])
        .is_ok());
}

#[test]
fn vague_action_items_are_flagged_and_specific_ones_are_not() {
    for vague in [
        "improve the agent",
        "be more careful",
        "look into it",
        "fix",
    ] {
        let item = parse_action(&format!(
            "{vague} owner=sam component=agent done_when=\"CI passes\""
        ));
        let issues = item.map(|i| check_action(&i)).unwrap_or_default();
        assert!(!issues.is_empty(), "{vague:?} is flagged");
    }
    let ok = parse_action("Add an is_within_window check to issue_refund owner=li component=tool done_when=\"refund_window eval passes\"").unwrap();
    assert!(check_action(&ok).is_empty(), "{:?}", check_action(&ok));
}

#[test]
fn a_run_with_nothing_to_go_on_gets_no_confidence_and_no_evidence() {
    let history = load("tests/fixtures/classify/release_tool_crash");
    // A successful run: nothing failed, nothing diverged.
    let c = classify_run(&history, "m-0001");
    assert!(c.confidence < 0.2, "{c:#?}");
}

#[test]
fn temporaries_left_by_a_dead_writer_are_cleared_on_the_next_save() {
    let (_dir, lib) = temp_library();
    let mut n = Notes::new("r-1");
    let path = lib.save_notes(&mut n).unwrap();
    let dir = path.parent().unwrap();
    let stale = dir.join(".r-1.json.99999.0.tmp");
    let fresh = dir.join(".r-1.json.99999.1.tmp");
    std::fs::write(&stale, "{\"run_id\": \"r-").unwrap();
    std::fs::write(&fresh, "{").unwrap();
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(hour_ago)
        .unwrap();
    lib.save_notes(&mut n).unwrap();
    assert!(!stale.exists(), "an hour-old temporary is removed");
    assert!(fresh.exists(), "a writer may still be using a fresh one");
    assert_eq!(
        lib.all_notes().unwrap().len(),
        1,
        "temporaries are not notes"
    );
}
