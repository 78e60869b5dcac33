//! Faults injected while `retrace watch --json` runs: a writer killed mid-line, a file
//! replaced by a folder, permissions revoked, a folder deleted and re-created, a disk-full
//! writer leaving a truncated line, thousands of files under a small descriptor limit.
//! The watcher keeps going, reports each, and loses nothing.

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
    events: Vec<Value>,
}

impl Watching {
    fn start(command: Command) -> Watching {
        let mut command = command;
        let mut child = command
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
        Watching {
            child,
            lines,
            events: Vec::new(),
        }
    }

    fn watch(dir: &Path, extra: &[&str]) -> Watching {
        let mut command = Command::new(env!("CARGO_BIN_EXE_retrace"));
        command.env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"));
        command.arg("watch").arg(dir).arg("--json").args(extra);
        Watching::start(command)
    }

    /// Waits until an event matches, or fails after a generous deadline.
    fn wait_for(&mut self, what: &str, found: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        if let Some(e) = self.events.iter().find(|e| found(e)) {
            return e.clone();
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(v) => {
                    self.events.push(v.clone());
                    if found(&v) {
                        return v;
                    }
                }
                Err(_) => panic!("timed out waiting for {what}; got {:?}", self.events),
            }
        }
    }

    /// Asks the watcher to stop (SIGTERM, as a service manager would) and collects
    /// what it says on the way out.
    fn stop(mut self) -> Vec<Value> {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(v) => self.events.push(v),
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => panic!("watch did not stop"),
            }
        }
        let status = self.child.wait().unwrap();
        assert!(status.success(), "{status}");
        std::mem::take(&mut self.events)
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn step_line(run: &str, step: usize) -> String {
    format!("{{\"run_id\":\"{run}\",\"step\":{step},\"kind\":\"tool_call\",\"name\":\"{run}-{step}\",\"id\":\"{run}/{step}\"}}\n")
}

fn append(path: &Path, bytes: &[u8]) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(bytes).unwrap();
}

fn is_step(e: &Value, name: &str) -> bool {
    e["event"] == "step" && e["name"] == name
}

fn is_problem(e: &Value, file_suffix: &str, says: &str) -> bool {
    e["event"] == "problem"
        && e["file"].as_str().is_some_and(|f| f.ends_with(file_suffix))
        && e["reason"].as_str().is_some_and(|r| r.contains(says))
}

#[test]
fn a_writer_killed_mid_line_leaves_it_pending_and_it_is_reported_when_watching_stops() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("agent.jsonl");
    fs::write(&log, step_line("r", 0)).unwrap();
    let mut watching = Watching::watch(dir.path(), &[]);
    let first = watching.wait_for("the first step", |e| is_step(e, "r-0"));
    assert_eq!(first["id"], "r/0", "step events carry the step's id");
    // A writer appends one line and half of the next, then is killed.
    let script = format!(
        "printf '%s\\n%s' '{}' '{}' >> '{}'; kill -KILL $$",
        step_line("r", 1).trim_end(),
        &step_line("r", 2)[..20],
        log.display()
    );
    let _ = Command::new("sh").arg("-c").arg(&script).status().unwrap();
    watching.wait_for("the complete line", |e| is_step(e, "r-1"));
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !watching.events.iter().any(|e| e["event"] == "problem"),
        "a partial line is pending, not bad: {:?}",
        watching.events
    );
    let events = watching.stop();
    let partial: Vec<&Value> = events
        .iter()
        .filter(|e| is_problem(e, "agent.jsonl", "partial last line"))
        .collect();
    assert_eq!(partial.len(), 1, "{events:?}");
    assert_eq!(partial[0]["line"], 3);
}

#[test]
fn a_disk_full_writer_leaving_a_truncated_line_is_one_bad_line_and_watching_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("agent.jsonl");
    fs::write(&log, step_line("d", 0)).unwrap();
    let mut watching = Watching::watch(dir.path(), &[]);
    watching.wait_for("the first step", |e| is_step(e, "d-0"));
    // The disk fills up mid-line; once space is back the writer goes on with new lines.
    append(&log, &step_line("d", 1).as_bytes()[..25]);
    std::thread::sleep(Duration::from_millis(300));
    append(&log, step_line("d", 2).as_bytes());
    append(&log, step_line("d", 3).as_bytes());
    watching.wait_for("the line after", |e| is_step(e, "d-3"));
    let bad = watching.wait_for("the truncated line", |e| is_problem(e, "agent.jsonl", ""));
    assert_eq!(bad["line"], 2);
    let steps = watching
        .events
        .iter()
        .filter(|e| e["event"] == "step")
        .count();
    assert_eq!(steps, 2, "d-0 and d-3; d-2 was glued to the truncated line");
}

#[test]
fn a_file_replaced_by_a_folder_is_reported_and_the_folder_is_followed() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("agent.jsonl");
    let other = dir.path().join("other.jsonl");
    fs::write(&log, step_line("a", 0)).unwrap();
    fs::write(&other, step_line("o", 0)).unwrap();
    let mut watching = Watching::watch(dir.path(), &[]);
    watching.wait_for("the first step", |e| is_step(e, "a-0"));
    fs::remove_file(&log).unwrap();
    fs::create_dir(&log).unwrap();
    fs::write(log.join("inner.jsonl"), step_line("inner", 0)).unwrap();
    watching.wait_for("a problem naming the file", |e| {
        is_problem(e, "agent.jsonl", "no longer followed")
    });
    watching.wait_for("the run inside the folder", |e| is_step(e, "inner-0"));
    append(&other, step_line("o", 1).as_bytes());
    watching.wait_for("watching goes on", |e| is_step(e, "o-1"));
}

#[test]
fn a_folder_deleted_and_re_created_is_reported_and_followed_again() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    fs::create_dir(&logs).unwrap();
    fs::write(logs.join("old.jsonl"), step_line("old", 0)).unwrap();
    let mut watching = Watching::watch(&logs, &[]);
    watching.wait_for("the first step", |e| is_step(e, "old-0"));
    fs::remove_dir_all(&logs).unwrap();
    watching.wait_for("the folder gone", |e| is_problem(e, "logs", "come back"));
    watching.wait_for("its file gone", |e| {
        is_problem(e, "old.jsonl", "no longer followed")
    });
    fs::create_dir(&logs).unwrap();
    fs::write(logs.join("new.jsonl"), step_line("new", 0)).unwrap();
    watching.wait_for("a run in the new folder", |e| is_step(e, "new-0"));
    append(&logs.join("new.jsonl"), step_line("new", 1).as_bytes());
    watching.wait_for("appends to it", |e| is_step(e, "new-1"));
}

/// Runs `command` as an unprivileged user when running as root (root reads any file
/// whatever its mode), if `setpriv` is there; `None` when permission cannot be revoked.
#[cfg(unix)]
fn unprivileged(command: Command) -> Option<Command> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some(command);
    }
    let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"]
        .into_iter()
        .find(|p| Path::new(p).exists())?;
    let mut wrapped = Command::new(setpriv);
    wrapped
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(command.get_program())
        .args(command.get_args());
    Some(wrapped)
}

#[cfg(unix)]
#[test]
fn permissions_revoked_mid_watch_are_reported_and_reading_resumes_when_restored() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    // More files than the watcher keeps open, so the first one is reopened by path.
    let first = dir.path().join("a-first.jsonl");
    fs::write(&first, step_line("first", 0)).unwrap();
    for i in 0..100 {
        fs::write(
            dir.path().join(format!("b-{i:03}.jsonl")),
            step_line(&format!("b{i}"), 0),
        )
        .unwrap();
    }
    for entry in fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o666)).unwrap();
    }
    let mut command = Command::new(env!("CARGO_BIN_EXE_retrace"));
    command.env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"));
    command.arg("watch").arg(dir.path()).arg("--json");
    let Some(command) = unprivileged(command) else {
        eprintln!("SKIPPED: running as root without setpriv: permission cannot be revoked");
        return;
    };
    let mut watching = Watching::start(command);
    watching.wait_for("the last file's step", |e| is_step(e, "b99-0"));
    fs::set_permissions(&first, fs::Permissions::from_mode(0o000)).unwrap();
    append(&first, step_line("first", 1).as_bytes());
    watching.wait_for("the file reported unreadable", |e| {
        is_problem(e, "a-first.jsonl", "ermission denied")
    });
    fs::set_permissions(&first, fs::Permissions::from_mode(0o644)).unwrap();
    watching.wait_for("the appended step, once readable", |e| {
        is_step(e, "first-1")
    });
}

#[cfg(unix)]
#[test]
fn watching_five_thousand_files_under_a_256_descriptor_limit_loses_nothing() {
    const FILES: usize = 5000;
    let dir = fleet_dir();
    let files: Vec<_> = (0..FILES)
        .map(|i| {
            let folder = dir.path().join(format!("{:02}", i / 500));
            fs::create_dir_all(&folder).unwrap();
            let path = folder.join(format!("s-{i:04}.jsonl"));
            fs::write(&path, step_line(&format!("w{i}"), 0)).unwrap();
            path
        })
        .collect();
    let mut command = Command::new("sh");
    command
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .arg("-c")
        .arg("ulimit -n 256 && exec \"$0\" watch --json \"$1\"")
        .arg(env!("CARGO_BIN_EXE_retrace"))
        .arg(dir.path());
    let mut watching = Watching::start(command);
    // Everything already there is reported first.
    let last = format!("w{}-0", FILES - 1);
    watching.wait_for("the existing steps", |e| is_step(e, &last));
    // Appends across the whole set, and new files.
    let mut want = Vec::new();
    for (i, path) in files.iter().enumerate().step_by(7) {
        append(path, step_line(&format!("w{i}"), 1).as_bytes());
        want.push(format!("w{i}-1"));
    }
    for i in 0..10 {
        let path = dir.path().join(format!("new-{i}.jsonl"));
        fs::write(&path, step_line(&format!("new{i}"), 0)).unwrap();
        want.push(format!("new{i}-0"));
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut missing: std::collections::HashSet<String> = want.iter().cloned().collect();
    for e in &watching.events {
        if let Some(name) = e["name"].as_str() {
            missing.remove(name);
        }
    }
    while !missing.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        let e = watching
            .lines
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("{} appended steps never arrived", missing.len()));
        if let Some(name) = e["name"].as_str() {
            missing.remove(name);
        }
        watching.events.push(e);
    }
    let problems: Vec<&Value> = watching
        .events
        .iter()
        .filter(|e| e["event"] == "problem")
        .collect();
    assert!(
        problems.is_empty(),
        "nothing lost or unopened: {problems:?}"
    );
    let steps = watching
        .events
        .iter()
        .filter(|e| e["event"] == "step")
        .count();
    assert_eq!(steps, FILES + want.len(), "each step once");
}

/// A temporary folder for tens of thousands of small files: in memory (`/dev/shm`) when
/// there is one, so that creating them takes seconds even on a busy disk.
fn fleet_dir() -> tempfile::TempDir {
    tempfile::tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .unwrap()
}
