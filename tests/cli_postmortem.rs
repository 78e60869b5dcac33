//! `retrace classify`, `report` and `notes` through the binary: JSON shapes, the
//! Markdown post-mortem's structure (snapshot), the same facts in JSON, notes that
//! survive restarts and a writer killed mid-save.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn demo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo")
}

fn retrace(args: &[&str], library: &Path) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_retrace"))
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .args(args)
        .env("RETRACE_LIBRARY", library)
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

#[test]
fn classify_json_has_the_documented_shape() {
    let lib = tempfile::tempdir().unwrap();
    let d = demo();
    let d = d.to_str().unwrap();
    let v = json(&retrace(
        &["classify", "r-01ae7873", d, "--json"],
        lib.path(),
    ));
    assert_eq!(v["run_id"], "r-01ae7873");
    assert_eq!(v["category"], "edge_case_input");
    let c = v["confidence"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&c));
    let ev = v["evidence"].as_array().unwrap();
    assert!(!ev.is_empty());
    assert!(ev
        .iter()
        .all(|e| e["step"].is_u64() && e["why"].is_string()));
    assert!(v["alternatives"]
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["category"].is_string() && a["confidence"].is_f64()));
    assert_eq!(v["against"], "r-3203c2dc");
    let v = json(&retrace(
        &[
            "classify",
            "r-c762f4ff",
            d,
            "--json",
            "--against",
            "r-19d3f275",
        ],
        lib.path(),
    ));
    assert_eq!(v["category"], "prompt_drift");
    assert_eq!(v["against"], "r-19d3f275");
}

/// The outline of a Markdown document: headings, and each table row's first cell.
fn outline(md: &str) -> String {
    md.lines()
        .filter_map(|l| {
            if l.starts_with('#') {
                Some(l.to_string())
            } else if l.starts_with("| ") || l.starts_with("|---") {
                let cells: Vec<&str> = l.split('|').collect();
                Some(format!(
                    "|{}|{}| …",
                    cells.get(1).unwrap_or(&""),
                    cells.get(2).unwrap_or(&"")
                ))
            } else if l.starts_with("- ") {
                Some("- …".to_string())
            } else {
                None
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn annotate_credential_incident(lib: &Path) {
    let d = demo();
    retrace(
        &[
            "notes", "r-2bcd0cc3", d.to_str().unwrap(),
            "--root-cause", "15",
            "--bookmark", "19",
            "--note", "15", "SMTP relay credential rotated at 08:00; agents still on v13",
            "--narrative", "Security rotated the SMTP relay credential at 08:00. The agents kept v13 until the 15:41 redeploy.",
            "--action", "Reload credentials and retry once on SMTP 535 in send_email owner=maria component=tool done_when=\"test_send_email_reloads_on_535 passes in CI\"",
            "--action", "be more careful owner=sam component=agent done_when=\"it is better\"",
        ],
        lib,
    );
}

#[test]
fn the_credential_incident_report_is_a_complete_markdown_post_mortem() {
    let lib = tempfile::tempdir().unwrap();
    annotate_credential_incident(lib.path());
    let d = demo();
    let out = retrace(
        &[
            "report",
            "r-2bcd0cc3",
            d.to_str().unwrap(),
            "--format",
            "md",
        ],
        lib.path(),
    );
    let md = String::from_utf8(out.stdout).unwrap();
    for section in [
        "# Post-mortem: ",
        "## Impact",
        "## Incident timeline",
        "## Divergence",
        "## Category: environmental change",
        "## Narrative",
        "## Notes on steps",
        "## Action items",
        "## References",
    ] {
        assert!(md.contains(section), "{section} in\n{md}");
    }
    assert!(
        md.contains("SMTP\\_AUTH\\_INVALID"),
        "run text is Markdown-escaped"
    );
    assert!(
        md.contains("`r-1ee837f4#15`"),
        "the comparison side of the divergence"
    );
    assert!(md.contains("Security rotated the SMTP relay credential"));
    assert!(md.contains("| Root cause | `r-2bcd0cc3#15` |"));
    assert!(
        md.contains("`r-fe06714c`") && md.contains("`r-bb19956c`"),
        "impact lists the runs failing alike"
    );
    assert!(md.contains("⚠ vague"), "the vague action item is flagged");
    assert!(
        !md.chars().any(|c| c.is_control() && c != '\n'),
        "no raw control characters"
    );
    insta::assert_snapshot!("credential_incident_report_outline", outline(&md));
    // --save keeps the same document in the library.
    retrace(
        &["report", "r-2bcd0cc3", d.to_str().unwrap(), "--save"],
        lib.path(),
    );
    let saved = std::fs::read_to_string(lib.path().join("reports/r-2bcd0cc3.md")).unwrap();
    assert_eq!(saved, md);
}

#[test]
fn the_json_report_carries_the_same_facts() {
    let lib = tempfile::tempdir().unwrap();
    annotate_credential_incident(lib.path());
    let d = demo();
    let d = d.to_str().unwrap();
    let md = String::from_utf8(retrace(&["report", "r-2bcd0cc3", d], lib.path()).stdout).unwrap();
    let v = json(&retrace(
        &["report", "r-2bcd0cc3", d, "--format", "json"],
        lib.path(),
    ));
    let title = v["title"].as_str().unwrap();
    assert!(md.contains(&retrace::postmortem::report::md(title)));
    assert_eq!(v["category"]["category"], "environmental_change");
    assert_eq!(v["category"]["classification"]["against"], "r-1ee837f4");
    assert_eq!(v["root_cause"]["step"], 15);
    assert_eq!(v["divergence"]["failing"]["step"], 15);
    assert_eq!(v["divergence"]["comparison"]["run_id"], "r-1ee837f4");
    assert!(v["divergence"]["comparison"]["value"]
        .as_str()
        .unwrap()
        .contains("send_email"));
    let refs: Vec<&str> = v["references"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    for r in &refs {
        assert!(md.contains(&format!("`{r}`")), "{r} is in the Markdown");
    }
    assert!(refs.contains(&"r-2bcd0cc3#15"));
    let effects = v["impact"]["effects"].as_array().unwrap();
    assert!(effects.iter().any(|e| e["target"] == "db:refunds/4437"));
    for e in effects {
        assert!(md.contains(&format!("`r-2bcd0cc3#{}`", e["step"])));
    }
    let actions = v["action_items"].as_array().unwrap();
    assert_eq!(actions.len(), 2);
    assert!(actions[0]["issues"].as_array().unwrap().is_empty());
    assert!(!actions[1]["issues"].as_array().unwrap().is_empty());
    assert_eq!(
        v["timeline"]["rows"].as_array().unwrap().len(),
        md.lines()
            .filter(|l| l.starts_with("| `r-2bcd0cc3#"))
            .count()
    );
}

#[test]
fn notes_come_back_after_a_restart_and_the_category_can_be_overridden() {
    let lib = tempfile::tempdir().unwrap();
    let d = demo();
    let d = d.to_str().unwrap();
    retrace(
        &[
            "notes",
            "r-01ae",
            d,
            "--root-cause",
            "16",
            "--category",
            "state-corruption",
        ],
        lib.path(),
    );
    // A new process, with only the id: the notes are read back.
    let v = json(&retrace(&["notes", "r-01ae7873", "--json"], lib.path()));
    assert_eq!(v["notes"]["root_cause"], 16);
    assert_eq!(v["notes"]["category"], "state_corruption");
    assert!(v["file"]
        .as_str()
        .unwrap()
        .starts_with(lib.path().to_str().unwrap()));
    let r = json(&retrace(
        &["report", "r-01ae7873", d, "--format", "json"],
        lib.path(),
    ));
    assert_eq!(r["category"]["category"], "state_corruption");
    assert_eq!(r["category"]["source"], "engineer");
    assert_eq!(
        r["category"]["classification"]["category"],
        "edge_case_input"
    );
    // Nothing was written among the logs.
    let written: Vec<_> = walk(&demo())
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("notes"))
        .collect();
    assert!(written.is_empty(), "{written:?}");
    // A step that does not exist is refused.
    let bad = Command::new(env!("CARGO_BIN_EXE_retrace"))
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .args(["notes", "r-01ae7873", d, "--root-cause", "999"])
        .env("RETRACE_LIBRARY", lib.path())
        .output()
        .unwrap();
    assert!(!bad.status.success());
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[cfg(unix)]
#[test]
fn a_writer_killed_mid_save_leaves_the_notes_readable() {
    use std::os::unix::process::CommandExt;
    let lib = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_retrace");
    // A large narrative makes each save take a while, so kills land inside writes.
    let narrative: String = "The relay credential was rotated. ".repeat(8_000);
    let narrative_file = lib.path().join("narrative.txt");
    std::fs::write(&narrative_file, &narrative).unwrap();
    let path = lib.path().join("notes").join("r-kill.json");
    // One complete save first: from then on the file must always be whole.
    let first = Command::new(bin)
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .args(["notes", "r-kill", "--narrative", "-"])
        .env("RETRACE_LIBRARY", lib.path())
        .stdin(std::fs::File::open(&narrative_file).unwrap())
        .output()
        .unwrap();
    assert!(first.status.success());
    for round in 0..6u64 {
        let script = format!(
            "while true; do \"{bin}\" notes r-kill --bookmark {round} --narrative - < \"{}\" > /dev/null || exit 1; done",
            narrative_file.display()
        );
        let mut child = Command::new("sh")
            .args(["-c", &script])
            .env("RETRACE_LIBRARY", lib.path())
            .process_group(0)
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(150 + 70 * round));
        // The shell leads its own process group: kill it and the writer it started.
        let pgid = child.id();
        assert!(pgid > 1);
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &format!("-{pgid}")])
            .status();
        let _ = child.wait();
        let text = std::fs::read_to_string(&path).expect("the notes file is still there");
        let v: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("round {round}: torn notes file: {e}"));
        assert_eq!(v["run_id"], "r-kill");
        assert_eq!(v["narrative"].as_str().map(str::len), Some(narrative.len()));
    }
    let v = json(&retrace(&["notes", "r-kill", "--json"], lib.path()));
    assert_eq!(v["notes"]["run_id"], "r-kill");
}
