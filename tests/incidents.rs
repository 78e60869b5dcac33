//! The incident library through the binary and the core: saving the demo's credential
//! incident and recognising the same failure elsewhere (another agent, another day),
//! unrelated failures left out, labelled incidents of other domains, recurrence, open
//! action items, search over incidents, and several writers (at once, or killed
//! mid-save) leaving the library whole.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use retrace::incidents::record::AddOptions;
use retrace::incidents::similar::{Failure, SimilarIndex, THRESHOLD};
use retrace::incidents::store::IncidentStore;
use retrace::index::{History, LoadOptions};
use retrace::postmortem::notes::Library;
use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn demo() -> String {
    root().join("assets/demo").display().to_string()
}

fn mail_again() -> String {
    root()
        .join("tests/fixtures/incidents/mail_auth_again")
        .display()
        .to_string()
}

fn retrace(args: &[&str], library: &Path) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_retrace"))
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .args(args)
        .env("RETRACE_LIBRARY", library)
        // The cache of prepared incidents goes under target/, not the user's ~/.cache.
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .output()
        .expect("retrace runs");
    assert!(
        out.status.success(),
        "retrace {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

/// The demo's rotated-credential incident saved, with its notes.
fn save_demo_incident(lib: &Path) {
    retrace(
        &[
            "notes",
            "r-2bcd0cc3",
            "--narrative",
            "Security rotated the SMTP relay credential at 08:00; the agents kept the old one until a redeploy.",
            "--action",
            "Reload SMTP credentials when vault rotates them owner=ops component=infra done_when=\"a rotation drill sends mail within 5 minutes\"",
        ],
        lib,
    );
    let out = retrace(
        &[
            "incidents",
            "add",
            "r-2bcd0cc3",
            &demo(),
            "--title",
            "Rotated SMTP credential",
        ],
        lib,
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("saved INC-r-2bcd0cc3"));
}

#[test]
fn the_same_auth_error_on_a_mail_tool_elsewhere_finds_the_credential_incident_first() {
    let lib = tempfile::tempdir().unwrap();
    save_demo_incident(lib.path());
    // A second, unrelated incident in the library: the credential one must still win.
    retrace(&["incidents", "add", "r-32281af1", &demo()], lib.path());

    let v = json(&retrace(
        &["similar", "n-0003", &mail_again(), "--json"],
        lib.path(),
    ));
    let list = v.as_array().expect("a JSON array");
    assert!(!list.is_empty(), "nothing similar: {v}");
    let best = &list[0];
    assert_eq!(best["incident"], "INC-r-2bcd0cc3");
    assert_eq!(best["title"], "Rotated SMTP credential");
    assert_eq!(best["category"], "environmental_change");
    assert!(best["score"].as_f64().unwrap() >= THRESHOLD);
    let reasons: Vec<&str> = best["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(
        reasons[0].contains("same error code SMTP_AUTH_INVALID at the same tool send_email"),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("same category")),
        "{reasons:?}"
    );
    // Another agent: the agent is not a reason.
    assert!(
        !reasons.iter().any(|r| r.contains("same agent")),
        "{reasons:?}"
    );
    assert!(list
        .iter()
        .all(|m| m["score"].as_f64().unwrap() >= THRESHOLD));

    // The human form names the incident and its reasons.
    let text = String::from_utf8(retrace(&["similar", "n-0003", &mail_again()], lib.path()).stdout)
        .unwrap();
    assert!(
        text.contains("INC-r-2bcd0cc3: Rotated SMTP credential"),
        "{text}"
    );
    assert!(
        text.contains("· same error code SMTP_AUTH_INVALID"),
        "{text}"
    );
}

#[test]
fn unrelated_failures_match_nothing_above_the_threshold() {
    let lib = tempfile::tempdir().unwrap();
    save_demo_incident(lib.path());
    let v = json(&retrace(
        &["similar", "n-0004", &mail_again(), "--json"],
        lib.path(),
    ));
    assert_eq!(
        v,
        serde_json::json!([]),
        "ORDER_NOT_FOUND is not the SMTP incident"
    );
    // The demo's other incidents (other categories, tools and errors).
    for run in [
        "r-32281af1",
        "r-c762f4ff",
        "r-715e60d7",
        "r-01ae7873",
        "r-fd757875",
    ] {
        let v = json(&retrace(&["similar", run, &demo(), "--json"], lib.path()));
        assert_eq!(v, serde_json::json!([]), "{run} matched: {v}");
    }
    // The runs that failed the same way the same morning do match it.
    for run in ["r-fe06714c", "r-bb19956c"] {
        let v = json(&retrace(&["similar", run, &demo(), "--json"], lib.path()));
        assert_eq!(v[0]["incident"], "INC-r-2bcd0cc3", "{run}: {v}");
    }
    let text = String::from_utf8(retrace(&["similar", "n-0004", &mail_again()], lib.path()).stdout)
        .unwrap();
    assert!(
        text.contains("no incident of the library (1) is similar"),
        "{text}"
    );
}

/// The labelled incidents of the classifier's fixtures: (folder, failing run).
const LABELLED: &[(&str, &str)] = &[
    ("deploy_permission", "d-0003"),
    ("embeddings_quota", "q-0003"),
    ("etl_impossible_date", "e-0009"),
    ("label_script", "p-0009"),
    ("ledger_partial_snapshot", "l-0003"),
    ("release_tool_crash", "m-0003"),
    ("triage_prompt_change", "t-0003"),
    ("webhook_certificate", "w-0002"),
];

fn fixture(folder: &str) -> History {
    let path: PathBuf = root().join("tests/fixtures/classify").join(folder);
    History::load(&[path], &LoadOptions::default()).expect("fixture loads")
}

#[test]
fn labelled_incidents_of_other_domains_match_their_own_kind_only() {
    let lib = tempfile::tempdir().unwrap();
    let store = IncidentStore::new(Library::at(lib.path()));
    let mut histories = Vec::new();
    for (folder, run) in LABELLED {
        let h = fixture(folder);
        let r = h.find_run(run).unwrap();
        retrace::incidents::add(&h, r, None, &store, &AddOptions::default()).unwrap();
        histories.push((folder, h));
    }
    let loaded = store.load_all().unwrap();
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    assert_eq!(loaded.incidents.len(), LABELLED.len());

    // Each incident, seen as a new failure, resembles no incident of another domain.
    for inc in &loaded.incidents {
        let others: Vec<_> = loaded
            .incidents
            .iter()
            .filter(|o| o.id != inc.id)
            .cloned()
            .collect();
        let index = SimilarIndex::new(others);
        let found = index.similar(&Failure::of_incident(inc), 5);
        assert!(
            found.is_empty(),
            "{} looks like {:?}",
            inc.id,
            found
                .iter()
                .map(|m| (&m.incident, m.score, &m.reasons))
                .collect::<Vec<_>>()
        );
    }

    // The same failure again in the same domain finds its incident first.
    let index = SimilarIndex::new(loaded.incidents.clone());
    for (folder, again, expected) in [
        ("deploy_permission", "s-0100", "INC-d-0003"),
        ("webhook_certificate", "w-0003", "INC-w-0002"),
    ] {
        let (_, h) = histories.iter().find(|(f, _)| **f == folder).unwrap();
        let failure =
            retrace::incidents::failure_of(h, h.find_run(again).unwrap(), store.library()).unwrap();
        let found = index.similar(&failure, 5);
        assert_eq!(
            found.first().map(|m| m.incident.as_str()),
            Some(expected),
            "{again}: {found:?}"
        );
        assert!(
            found[0].reasons[0].starts_with("same error code"),
            "{found:?}"
        );
    }
}

#[test]
fn a_recurrence_after_every_action_item_is_done_says_the_fix_did_not_hold() {
    let lib = tempfile::tempdir().unwrap();
    save_demo_incident(lib.path());
    let v = json(&retrace(
        &["similar", "n-0003", &mail_again(), "--json"],
        lib.path(),
    ));
    assert_eq!(v[0]["recurrence"], false, "an action item is still open");

    let open = json(&retrace(
        &["incidents", "--open-actions", "--json"],
        lib.path(),
    ));
    let rows = open["open_actions"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["incident"], "INC-r-2bcd0cc3");
    assert_eq!(rows[0]["owner"], "ops");
    assert_eq!(rows[0]["item"], 1);

    // Ticked off in the notes: the library reads the newer notes.
    retrace(&["notes", "r-2bcd0cc3", "--done", "1"], lib.path());
    let open = json(&retrace(
        &["incidents", "--open-actions", "--json"],
        lib.path(),
    ));
    assert_eq!(open["open_actions"], serde_json::json!([]));
    let v = json(&retrace(
        &["similar", "n-0003", &mail_again(), "--json"],
        lib.path(),
    ));
    assert_eq!(v[0]["recurrence"], true);
    assert!(
        v[0]["reasons"][0]
            .as_str()
            .unwrap()
            .contains("the fix did not hold"),
        "{v}"
    );
}

#[test]
fn incidents_list_and_search_with_the_query_language() {
    let lib = tempfile::tempdir().unwrap();
    save_demo_incident(lib.path());
    retrace(&["incidents", "add", "r-01ae7873", &demo()], lib.path());

    let v = json(&retrace(&["incidents", "--json"], lib.path()));
    let list = v["incidents"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    // Oldest failure first.
    assert_eq!(list[0]["id"], "INC-r-01ae7873");
    let smtp = &list[1];
    assert_eq!(smtp["runs"][0], "r-2bcd0cc3");
    assert_eq!(smtp["agent"], "support-bot");
    assert_eq!(smtp["labels"]["task"], "refund_ticket");
    assert_eq!(smtp["failure"]["tool"], "send_email");
    assert_eq!(smtp["failure"]["error_code"], "SMTP_AUTH_INVALID");
    assert_eq!(smtp["divergence"]["kind"], "error_vs_success");
    assert!(smtp["narrative"].as_str().unwrap().contains("rotated"));
    assert!(smtp["created_at"].is_string());

    let text = String::from_utf8(retrace(&["incidents"], lib.path()).stdout).unwrap();
    assert!(text.contains("INC-r-2bcd0cc3"), "{text}");
    assert!(text.contains("1 open/1"), "{text}");
    assert!(text.contains("2 incident(s)"), "{text}");

    let hits = |q: &str| -> Vec<Value> {
        String::from_utf8(retrace(&["search", q, "--incidents", "--json"], lib.path()).stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let found = hits("SMTP");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["incident"], "INC-r-2bcd0cc3");
    assert!(hits("emoji contact")
        .iter()
        .all(|h| h["incident"] == "INC-r-01ae7873"));
    assert_eq!(hits("agent:data-sync").len(), 1);
    assert_eq!(
        hits("tool:send_email error:SMTP_*")[0]["incident"],
        "INC-r-2bcd0cc3"
    );
    assert!(hits("agent:billing-agent SMTP").is_empty());
    assert!(hits("outcome:success").is_empty());
    // A malformed query is a usage error, as for runs.
    let bad = Command::new(env!("CARGO_BIN_EXE_retrace"))
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .args(["search", "since:", "--incidents"])
        .env("RETRACE_LIBRARY", lib.path())
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn a_damaged_record_is_reported_and_the_rest_still_loads() {
    let lib = tempfile::tempdir().unwrap();
    save_demo_incident(lib.path());
    let dir = lib.path().join("incidents");
    std::fs::write(
        dir.join("INC-broken.json"),
        "{\"id\": \"INC-broken\", \"tit",
    )
    .unwrap();
    // A writer's abandoned temporary file is not an incident.
    std::fs::write(dir.join(".INC-x.json.4242.0.tmp"), "{\"id\"").unwrap();
    let out = retrace(&["incidents", "--json"], lib.path());
    let v = json(&out);
    assert_eq!(v["incidents"].as_array().unwrap().len(), 1);
    let problems = v["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1);
    assert!(problems[0]["file"]
        .as_str()
        .unwrap()
        .ends_with("INC-broken.json"));
    assert!(problems[0]["reason"]
        .as_str()
        .unwrap()
        .contains("not an incident record"));
}

#[test]
fn several_processes_saving_at_once_leave_every_incident_whole() {
    let lib = tempfile::tempdir().unwrap();
    let runs = [
        "r-2bcd0cc3",
        "r-32281af1",
        "r-c762f4ff",
        "r-715e60d7",
        "r-01ae7873",
    ];
    // Every run once, and the credential incident three times over, all at once.
    let mut children = Vec::new();
    for run in runs.iter().chain(["r-2bcd0cc3", "r-2bcd0cc3"].iter()) {
        children.push(
            Command::new(env!("CARGO_BIN_EXE_retrace"))
                .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
                .args(["incidents", "add", run, &demo()])
                .env("RETRACE_LIBRARY", lib.path())
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap(),
        );
    }
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let v = json(&retrace(&["incidents", "--json"], lib.path()));
    assert_eq!(v["problems"], serde_json::json!([]));
    let mut ids: Vec<&str> = v["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    ids.sort();
    let mut want: Vec<String> = runs.iter().map(|r| format!("INC-{r}")).collect();
    want.sort();
    assert_eq!(ids, want);
    for id in &want {
        let md =
            std::fs::read_to_string(lib.path().join("incidents").join(format!("{id}.md"))).unwrap();
        assert!(md.starts_with("# Post-mortem:"), "{id}");
        assert!(md.contains("## References"), "{id}: the report is whole");
    }
    // No temporary file is left behind by writers that finished.
    let leftovers: Vec<_> = std::fs::read_dir(lib.path().join("incidents"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_writer_killed_mid_save_leaves_the_library_readable_and_complete() {
    use std::os::unix::process::CommandExt;
    let lib = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_retrace");
    let history = mail_again();
    // A long narrative makes each record and report large, so kills land inside writes.
    let narrative: String = "The relay credential was rotated without notice. ".repeat(6_000);
    let narrative_file = lib.path().join("narrative.txt");
    std::fs::write(&narrative_file, &narrative).unwrap();
    let first = Command::new(bin)
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .args(["notes", "n-0003", "--narrative", "-"])
        .env("RETRACE_LIBRARY", lib.path())
        .stdin(std::fs::File::open(&narrative_file).unwrap())
        .output()
        .unwrap();
    assert!(first.status.success());
    retrace(&["incidents", "add", "n-0003", &history], lib.path());
    let record = lib.path().join("incidents/INC-n-0003.json");
    for round in 0..6u64 {
        // Keep saving (updates of one incident, and new incidents) until killed.
        let script = format!(
            "while true; do \"{bin}\" incidents add n-0003 \"{history}\" --title \"round {round}\" > /dev/null || exit 1; \
             \"{bin}\" incidents add n-0004 \"{history}\" > /dev/null || exit 1; done"
        );
        let mut child = Command::new("sh")
            .args(["-c", &script])
            .env("RETRACE_LIBRARY", lib.path())
            .process_group(0)
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(120 + 60 * round));
        let pgid = child.id();
        assert!(pgid > 1);
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &format!("-{pgid}")])
            .status();
        let _ = child.wait();
        let text = std::fs::read_to_string(&record).expect("the record is still there");
        let v: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("round {round}: torn record: {e}"));
        assert_eq!(v["id"], "INC-n-0003");
        assert_eq!(v["narrative"].as_str().map(str::len), Some(narrative.len()));
        let v = json(&retrace(&["incidents", "--json"], lib.path()));
        assert_eq!(v["problems"], serde_json::json!([]), "round {round}");
        for inc in v["incidents"].as_array().unwrap() {
            assert!(inc["failure"]["tool"].is_string(), "round {round}: {inc}");
        }
    }
}
