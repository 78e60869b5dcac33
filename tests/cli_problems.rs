//! Problems reach every command's output, and `--strict` turns them into a failing exit
//! status after the output, for scripts and CI gates.

use std::process::{Command, Output};

use serde_json::Value;

fn retrace(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_retrace"))
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .args(args)
        .output()
        .unwrap()
}

/// Two comparable runs, and one line that is not JSON (line 4 of the file).
fn history_with_a_bad_line() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    for (run, outcome) in [("r-good", "success"), ("r-bad", "failure")] {
        text += &format!(
            "{{\"run_id\":\"{run}\",\"step\":0,\"kind\":\"run_start\",\"agent\":\"a\"}}\n\
             {{\"run_id\":\"{run}\",\"step\":1,\"kind\":\"tool_call\",\"name\":\"lookup\"}}\n"
        );
        if run == "r-good" {
            text += "this is not json\n";
        }
        text += &format!(
            "{{\"run_id\":\"{run}\",\"step\":2,\"kind\":\"run_end\",\"outcome\":\"{outcome}\"}}\n"
        );
    }
    std::fs::write(dir.path().join("runs.jsonl"), text).unwrap();
    dir
}

fn json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn assert_names_the_bad_line(problems: &Value) {
    let problems = problems.as_array().expect("a problems array");
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0]["file"]
        .as_str()
        .unwrap()
        .ends_with("runs.jsonl"));
    assert_eq!(problems[0]["line"], 3);
    assert!(problems[0]["reason"].is_string());
}

#[test]
fn show_diff_and_search_json_carry_the_problems_like_ls() {
    let dir = history_with_a_bad_line();
    let path = dir.path().to_str().unwrap();
    assert_names_the_bad_line(&json(&retrace(&["ls", path, "--json"]))["problems"]);
    assert_names_the_bad_line(&json(&retrace(&["show", "r-good", path, "--json"]))["problems"]);
    let diff = retrace(&["diff", "r-bad", path, "--against", "r-good", "--json"]);
    assert_names_the_bad_line(&json(&diff)["problems"]);
    let search = retrace(&["search", "lookup", path, "--json"]);
    assert!(search.status.success());
    let text = String::from_utf8(search.stdout).unwrap();
    let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_names_the_bad_line(&last["problems"]);
}

#[test]
fn strict_fails_after_the_output_when_there_are_problems() {
    let dir = history_with_a_bad_line();
    let path = dir.path().to_str().unwrap();
    for args in [
        vec!["ls", path],
        vec!["show", "r-good", path],
        vec!["search", "lookup", path],
        vec!["diff", "r-bad", "--against", "r-good", path],
    ] {
        let relaxed = retrace(&args);
        assert!(relaxed.status.success(), "{args:?} without --strict");
        let mut strict_args = args.clone();
        strict_args.push("--strict");
        let strict = retrace(&strict_args);
        assert_eq!(strict.status.code(), Some(1), "{args:?} --strict");
        assert_eq!(strict.stdout, relaxed.stdout, "the output is still printed");
        let err = String::from_utf8_lossy(&strict.stderr);
        assert!(err.contains("--strict"), "says why: {err}");
    }
}

#[test]
fn strict_passes_a_clean_history() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("ok.jsonl"),
        "{\"run_id\":\"r\",\"kind\":\"run_start\"}\n{\"run_id\":\"r\",\"kind\":\"run_end\",\"outcome\":\"success\"}\n",
    )
    .unwrap();
    let out = retrace(&["ls", "--strict", dir.path().to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn usage_errors_exit_2_and_missing_paths_exit_1_saying_the_cause_once() {
    let dir = history_with_a_bad_line();
    let path = dir.path().to_str().unwrap();
    let bad_filter = retrace(&["ls", "--filter", "outcome:", path]);
    assert_eq!(bad_filter.status.code(), Some(2));
    let bad_query = retrace(&["search", "since:", path]);
    assert_eq!(bad_query.status.code(), Some(2));
    let missing = retrace(&["ls", "/no/such/folder"]);
    assert_eq!(missing.status.code(), Some(1));
    let err = String::from_utf8_lossy(&missing.stderr);
    assert_eq!(err.matches("No such file").count(), 1, "{err}");
}

/// The problem count on stderr tells bad lines from whole files that could not be read,
/// and says the rest loaded.
#[test]
fn the_problem_count_tells_lines_from_files() {
    let dir = history_with_a_bad_line();
    let out = retrace(&["ls", dir.path().to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("1 line(s) could not be used (the rest loaded):"),
        "{stderr}"
    );
    // A named pipe among the logs is skipped: a problem of the whole file.
    let fifo = dir.path().join("pipe.jsonl");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let out = retrace(&["ls", dir.path().to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("1 line(s) could not be used, 1 file problem(s) (the rest loaded):"),
        "{stderr}"
    );
    assert!(stderr.contains("pipe.jsonl"), "{stderr}");
}
