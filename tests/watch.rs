//! Watching: a writer appends thousands of events across several runs, splitting lines
//! across writes, rotating and truncating the file; `retrace watch --json` must report
//! every event exactly once and in order per run.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

struct Watching {
    child: Child,
    lines: mpsc::Receiver<Value>,
}

impl Watching {
    fn start(dir: &Path, extra: &[&str]) -> Watching {
        let mut child = Command::new(env!("CARGO_BIN_EXE_retrace"))
            .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
            .arg("watch")
            .arg(dir)
            .arg("--json")
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start retrace watch");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let value: Value = serde_json::from_str(&line).expect("each line is JSON");
                if tx.send(value).is_err() {
                    break;
                }
            }
        });
        Watching { child, lines }
    }

    /// Collects events until `done` says so, or fails after a generous timeout.
    fn collect_until(&self, events: &mut Vec<Value>, done: impl Fn(&[Value]) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !done(events) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(v) => events.push(v),
                Err(_) => panic!("timed out; got {} events", events.len()),
            }
        }
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn steps(events: &[Value]) -> usize {
    events.iter().filter(|e| e["event"] == "step").count()
}

fn append(path: &Path, bytes: &[u8]) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(bytes).unwrap();
}

#[test]
fn every_event_arrives_once_and_in_order_through_rotation_and_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("agents.jsonl");
    fs::write(&log, "").unwrap();
    let watching = Watching::start(dir.path(), &["--new-only"]);
    std::thread::sleep(Duration::from_millis(300));

    const RUNS: usize = 5;
    const PER_RUN: usize = 600;
    let mut written = 0;
    for n in 0..PER_RUN {
        for r in 0..RUNS {
            let line = format!(
                "{{\"run_id\":\"run-{r}\",\"step\":{n},\"kind\":\"tool_call\",\"name\":\"e{n}\",\"input\":{{\"pad\":\"{}\"}}}}\n",
                "x".repeat((n * 7 + r) % 50)
            );
            // Split every line across two writes, at a point that moves.
            let cut = 1 + (n * 13 + r) % (line.len() - 1);
            append(&log, &line.as_bytes()[..cut]);
            if written % 97 == 0 {
                std::thread::sleep(Duration::from_millis(2));
            }
            append(&log, &line.as_bytes()[cut..]);
            written += 1;
        }
        if n == PER_RUN / 3 {
            // Rotation: the file is renamed and a new one takes its name.
            fs::rename(&log, dir.path().join("agents.1.jsonl")).unwrap();
            fs::write(&log, "").unwrap();
        }
        if n == 2 * PER_RUN / 3 {
            // copytruncate: the content is copied away and the file emptied in place.
            fs::copy(&log, dir.path().join("agents.jsonl.2")).unwrap();
            OpenOptions::new()
                .write(true)
                .open(&log)
                .unwrap()
                .set_len(0)
                .unwrap();
        }
    }

    let mut events = Vec::new();
    watching.collect_until(&mut events, |e| steps(e) >= RUNS * PER_RUN);
    // Anything extra would arrive right behind: give it a moment.
    std::thread::sleep(Duration::from_millis(500));
    while let Ok(v) = watching.lines.try_recv() {
        events.push(v);
    }

    let mut names: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut positions: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for e in events.iter().filter(|e| e["event"] == "step") {
        let run = e["run_id"].as_str().unwrap().to_string();
        names
            .entry(run.clone())
            .or_default()
            .push(e["name"].as_str().unwrap().to_string());
        positions
            .entry(run)
            .or_default()
            .push(e["step"].as_u64().unwrap());
    }
    assert_eq!(names.len(), RUNS);
    let want: Vec<String> = (0..PER_RUN).map(|n| format!("e{n}")).collect();
    for (run, got) in &names {
        assert_eq!(got, &want, "{run}: every event once, in order");
        assert_eq!(positions[run], (0..PER_RUN as u64).collect::<Vec<_>>());
    }
    let runs_seen = events.iter().filter(|e| e["event"] == "run").count();
    assert_eq!(runs_seen, RUNS, "each run announced once");
    assert!(
        events.iter().all(|e| e["event"] != "problem"),
        "no line was cut into a bad one"
    );
}

#[test]
fn existing_runs_are_reported_first_then_new_files_and_bad_lines() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("old.jsonl"),
        "{\"run_id\":\"old\",\"kind\":\"run_start\",\"step\":0}\n{\"run_id\":\"old\",\"kind\":\"run_end\",\"step\":1,\"outcome\":\"success\"}\n",
    )
    .unwrap();
    let watching = Watching::start(dir.path(), &[]);
    let mut events = Vec::new();
    watching.collect_until(&mut events, |e| steps(e) >= 2);
    assert_eq!(events[0]["event"], "run");
    assert_eq!(events[0]["run_id"], "old");

    let sub = dir.path().join("later");
    fs::create_dir(&sub).unwrap();
    append(
        &sub.join("new.jsonl"),
        b"{\"run_id\":\"new\",\"kind\":\"run_start\"}\nnot json\n",
    );
    watching.collect_until(&mut events, |e| {
        e.iter().any(|v| v["event"] == "problem") && steps(e) >= 3
    });
    let problem = events.iter().find(|v| v["event"] == "problem").unwrap();
    assert_eq!(problem["line"], 2);
    assert!(problem["file"].as_str().unwrap().ends_with("new.jsonl"));
    let new_step = events
        .iter()
        .find(|v| v["event"] == "step" && v["run_id"] == "new")
        .unwrap();
    assert_eq!(new_step["kind"], "run_start");
    assert_eq!(new_step["step"], 0);
}

#[test]
fn a_file_truncated_and_refilled_to_the_same_size_is_read_again() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("a.jsonl");
    fs::write(&log, "{\"run_id\":\"aaaa\",\"kind\":\"run_start\"}\n").unwrap();
    let watching = Watching::start(dir.path(), &["--poll"]);
    let mut events = Vec::new();
    watching.collect_until(&mut events, |e| steps(e) >= 1);
    // Same length, different content, written in place between two looks.
    fs::write(&log, "{\"run_id\":\"bbbb\",\"kind\":\"run_start\"}\n").unwrap();
    watching.collect_until(&mut events, |e| {
        e.iter()
            .any(|v| v["event"] == "step" && v["run_id"] == "bbbb")
    });
    assert_eq!(steps(&events), 2);
    assert_eq!(events.iter().filter(|v| v["event"] == "run").count(), 2);
}

#[test]
fn compressed_files_are_read_once_complete() {
    let dir = tempfile::tempdir().unwrap();
    let watching = Watching::start(dir.path(), &["--new-only"]);
    std::thread::sleep(Duration::from_millis(200));
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    for i in 0..50 {
        writeln!(
            enc,
            "{{\"run_id\":\"gz\",\"kind\":\"tool_call\",\"step\":{i}}}"
        )
        .unwrap();
    }
    fs::write(dir.path().join("old.jsonl.gz"), enc.finish().unwrap()).unwrap();
    let mut events = Vec::new();
    watching.collect_until(&mut events, |e| steps(e) >= 50);
    std::thread::sleep(Duration::from_millis(500));
    while let Ok(v) = watching.lines.try_recv() {
        events.push(v);
    }
    assert_eq!(steps(&events), 50, "read once");
}
