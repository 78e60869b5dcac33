//! `retrace show` writes a long run as it reads it, chunk by chunk: the output is the
//! same as for a run read at once (every step, in order, one JSON document).

use std::io::Write;
use std::path::Path;
use std::process::Command;

/// A run of `steps` steps whose lines arrive out of order (the trigger last).
fn long_run(dir: &Path, steps: usize) -> std::path::PathBuf {
    let path = dir.join("long.jsonl");
    let mut f = std::fs::File::create(&path).unwrap();
    for i in (1..=steps).rev() {
        writeln!(
            f,
            r#"{{"run_id":"long-1","step":{i},"kind":"tool_call","name":"fetch","ts":{},"input":{{"page":{i}}}}}"#,
            1_763_000_000_000i64 + i as i64
        )
        .unwrap();
    }
    writeln!(
        f,
        r#"{{"run_id":"long-1","step":0,"kind":"run_start","ts":1763000000000,"input":{{"task":"crawl all"}}}}"#
    )
    .unwrap();
    path
}

fn show(path: &Path, extra: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_retrace"))
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .arg("show")
        .arg("long-1")
        .arg(path)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_long_run_is_shown_whole_and_in_order_across_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let steps = 5000;
    let path = long_run(dir.path(), steps);

    let json: serde_json::Value = serde_json::from_str(&show(&path, &["--json"])).unwrap();
    let shown = json["steps"].as_array().unwrap();
    assert_eq!(shown.len(), steps + 1);
    for (i, s) in shown.iter().enumerate() {
        assert_eq!(s["step"], i as u64, "in order");
    }
    assert_eq!(json["run"]["trigger"]["task"], "crawl all");
    assert!(json["problems"].as_array().unwrap().is_empty());

    let text = show(&path, &[]);
    assert!(text.lines().next().unwrap().starts_with("run long-1"));
    assert!(
        text.contains("trigger: {\"task\":\"crawl all\"}"),
        "{text:.300}"
    );
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("tool_call") || l.contains("run_start"))
        .collect();
    assert_eq!(rows.len(), steps + 1);
    assert!(rows[0].trim_start().starts_with("0 "));
    assert!(rows[steps].trim_start().starts_with(&format!("{steps} ")));
}
