//! Claude Code transcripts of several layouts and versions (tests/fixtures/claude_code/,
//! written by hand from observed transcripts; tests/fixtures/realdata/claude-code/, real
//! sessions): the trigger, the model call a message's tool calls hang under, sub-agents
//! under the call that launched them, failed results of every shape, interruptions,
//! compactions, API errors, records of unknown types, versions not seen before, files of
//! summaries only, and the same transcripts with lines reordered or fields left out.

use std::path::{Path, PathBuf};

use retrace::index::{History, LoadOptions};
use retrace::model::{Step, StepKind};
use serde_json::{json, Value};

mod common;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

const TOOL_HEAVY: &str = "realdata/claude-code/tool_heavy.jsonl";
const V1: &str = "claude_code/v1_0_inline_sidechain";
const V2_0: &str = "claude_code/v2_0_sibling_agents";
const V2_1: &str = "claude_code/v2_1_subagents";
const V3: &str = "claude_code/v3_future.jsonl";

fn retrace(args: &[&str], path: &Path) -> String {
    String::from_utf8(common::retrace_ok(args, path).stdout).expect("UTF-8 output")
}

fn load_with(path: &Path, chunk_size: usize) -> History {
    let options = LoadOptions {
        chunk_size,
        ..LoadOptions::default()
    };
    History::load(&[path.to_path_buf()], &options).unwrap()
}

/// The steps of the only run (or of the run whose id starts with `run`).
fn steps(path: &Path, run: &str) -> Vec<Step> {
    let history = load_with(path, 512);
    history.find_run(run).unwrap().load_steps().unwrap()
}

fn named<'s>(steps: &'s [Step], name: &str) -> &'s Step {
    steps
        .iter()
        .find(|s| s.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no step named {name}"))
}

fn parent_of<'s>(steps: &'s [Step], step: &Step) -> Option<&'s Step> {
    let p = step.parent.as_deref()?;
    steps.iter().find(|s| s.id == p)
}

/// A copy of a fixture's files in a temporary folder, each file's lines changed by `change`.
fn changed_copy(name: &str, mut change: impl FnMut(&Path, &mut Vec<Value>)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let from = fixture(name);
    let files: Vec<PathBuf> = if from.is_dir() {
        walk(&from)
    } else {
        vec![from.clone()]
    };
    for file in files {
        let rel = file
            .strip_prefix(if from.is_dir() {
                &from
            } else {
                from.parent().unwrap()
            })
            .unwrap();
        let mut lines: Vec<Value> = std::fs::read_to_string(&file)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        change(rel, &mut lines);
        let to = dir.path().join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        let text: String = lines.iter().map(|v| format!("{v}\n")).collect();
        std::fs::write(to, text).unwrap();
    }
    dir
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out.sort();
    out
}

// --- the trigger --------------------------------------------------------------------

#[test]
fn the_trigger_is_the_first_request_not_hooks_meta_lines_or_commands() {
    let doc: Value =
        serde_json::from_str(&retrace(&["show", "3c00", "--json"], &fixture(V2_1))).unwrap();
    assert_eq!(
        doc["run"]["trigger"],
        "why does the orders migration fail on staging?"
    );
    let kinds: Vec<&str> = doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.iter().filter(|k| **k == "run_start").count(), 1);
    // The hook's progress and the meta line come before it, and stay what they are.
    assert_eq!(&kinds[..3], ["progress", "message", "run_start"]);
    // In the real session, later requests stay messages.
    let real = steps(&fixture(TOOL_HEAVY), "d6e0");
    let requests: Vec<&Step> = real
        .iter()
        .filter(|s| s.name.as_deref() == Some("user"))
        .collect();
    assert_eq!(requests[0].kind, StepKind::RunStart);
    assert_eq!(
        retrace::describe::trigger(&real),
        Some(&json!("start phoenix in background"))
    );
    assert!(requests[1..].iter().all(|s| s.kind == StepKind::Message));
}

#[test]
fn the_browser_list_and_pick_see_the_trigger_as_the_run_start() {
    let history = load_with(&fixture(TOOL_HEAVY), 1 << 20);
    let run = history.runs().next().unwrap();
    let kinds: Vec<StepKind> = run.steps().map(|s| s.kind).collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == StepKind::RunStart).count(),
        1
    );
}

// --- parallel tool calls (issue 18) ------------------------------------------------

/// The tree lines of `retrace show RUN --tree`, with the step names they show.
fn tree(run: &str, path: &Path) -> Vec<String> {
    retrace(&["show", run, "--tree"], path)
        .lines()
        .skip_while(|l| !l.contains('#'))
        .map(str::to_owned)
        .collect()
}

/// Where the step named `name` sits in the tree: its line's indentation (the text
/// before its glyph) and the line.
fn tree_line<'t>(lines: &'t [String], name: &str) -> (usize, &'t str) {
    let line = lines
        .iter()
        .find(|l| l.ends_with(&format!(" {name}")))
        .unwrap_or_else(|| panic!("no tree line for {name}:\n{}", lines.join("\n")));
    let depth = line.find('#').unwrap();
    (depth, line)
}

#[test]
fn tool_calls_of_one_message_are_siblings_under_its_model_call_in_the_tree() {
    let lines = tree("d6e0", &fixture(TOOL_HEAVY));
    let (web, web_line) = tree_line(&lines, "WebSearch");
    let (glob, glob_line) = tree_line(&lines, "Glob");
    assert_eq!(web, glob, "siblings at one depth:\n{}", lines.join("\n"));
    assert!(
        web_line.contains("├─→") && glob_line.contains("└─→"),
        "{web_line}\n{glob_line}"
    );
    // Their results hang under each of them, not under the other call.
    let at = |l: &str| lines.iter().position(|x| x == l).unwrap();
    let (w, g) = (at(web_line), at(glob_line));
    assert!(
        lines[w + 1..g].iter().any(|l| l.contains("tool_result")),
        "WebSearch's result is under it:\n{}",
        lines.join("\n")
    );
    // The parent of both is the model call of their message (its first line's text).
    let s = steps(&fixture(TOOL_HEAVY), "d6e0");
    let (a, b) = (named(&s, "WebSearch"), named(&s, "Glob"));
    assert_eq!(a.parent, b.parent);
    let head = parent_of(&s, a).expect("the model call is a step");
    assert_eq!(head.kind, StepKind::LlmCall);
    assert_eq!(head.name.as_deref(), Some("claude-opus-4-6"));
    // The two calls of a later message, the second streamed after the first had run,
    // are siblings too.
    let (read, fetch) = (named(&s, "Read"), named(&s, "WebFetch"));
    assert_eq!(read.parent, fetch.parent);
    assert_eq!(tree_line(&lines, "Read").0, tree_line(&lines, "WebFetch").0);
    // Every result hangs under its own call.
    for r in s.iter().filter(|s| s.kind == StepKind::ToolResult) {
        let call = parent_of(&s, r).expect("a result's call");
        assert_eq!(call.kind, StepKind::ToolCall, "{r:?}");
    }
}

#[test]
fn siblings_stay_siblings_when_the_lines_of_a_message_are_logged_in_another_order() {
    // The two tool_use lines of the parallel message, and the model call's text and
    // thinking, in reverse order (times swapped with them, so the file stays in time order).
    let dir = changed_copy(TOOL_HEAVY, |_, lines| {
        let of_message: Vec<usize> = (0..lines.len())
            .filter(|&i| {
                lines[i].pointer("/message/id").and_then(Value::as_str)
                    == Some("msg_01LbyjvsALGe2gMsTgDSj7e6")
            })
            .collect();
        assert_eq!(of_message.len(), 4);
        let times: Vec<Value> = of_message
            .iter()
            .map(|&i| lines[i]["timestamp"].clone())
            .collect();
        let moved: Vec<Value> = of_message.iter().rev().map(|&i| lines[i].clone()).collect();
        for (k, &i) in of_message.iter().enumerate() {
            lines[i] = moved[k].clone();
            lines[i]["timestamp"] = times[k].clone();
        }
    });
    let s = steps(dir.path(), "d6e0");
    let (a, b) = (named(&s, "WebSearch"), named(&s, "Glob"));
    assert_eq!(a.parent, b.parent);
    assert_eq!(parent_of(&s, a).unwrap().kind, StepKind::LlmCall);
}

// --- sub-agents -----------------------------------------------------------------------

/// The tool call a sub-agent's first step hangs under, by the agent's step name prefix.
fn launcher<'s>(s: &'s [Step], agent_prefix: &str) -> &'s Step {
    let root = s
        .iter()
        .find(|x| {
            x.name
                .as_deref()
                .is_some_and(|n| n.starts_with(agent_prefix))
        })
        .unwrap_or_else(|| panic!("no step of {agent_prefix}"));
    let call = parent_of(s, root).unwrap_or_else(|| panic!("{root:?} has no parent step"));
    assert_eq!(call.kind, StepKind::ToolCall);
    call
}

#[test]
fn an_inline_sidechain_of_the_first_releases_hangs_under_its_task_call_by_prompt() {
    let s = steps(&fixture(V1), "1a00");
    assert_eq!(launcher(&s, "[agent]").id, "toolu_b1_task");
    // Its model call follows its prompt.
    let reply = named(&s, "[agent] claude-sonnet-4-20250514");
    assert_eq!(
        parent_of(&s, reply).unwrap().name.as_deref(),
        Some("[agent] user")
    );
}

#[test]
fn sibling_agent_files_hang_under_their_call_by_agent_id_even_with_one_prompt_for_two() {
    let s = steps(&fixture(V2_0), "2b00");
    assert_eq!(launcher(&s, "[ace001]").id, "toolu_c2_a");
    assert_eq!(launcher(&s, "[beef02]").id, "toolu_c2_b");
    // The two Task calls of one message are siblings.
    let calls: Vec<&Step> = s.iter().filter(|x| x.kind == StepKind::ToolCall).collect();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].parent, calls[1].parent);
}

#[test]
fn without_agent_ids_in_the_session_a_sub_agent_is_found_by_its_prompt() {
    // Results that do not name their agent: each sub-agent still finds a Task call
    // that gave its prompt.
    let dir = changed_copy(V2_0, |_, lines| {
        for l in lines.iter_mut() {
            if let Some(r) = l.get_mut("toolUseResult").and_then(Value::as_object_mut) {
                r.remove("agentId");
            }
        }
    });
    let s = steps(dir.path(), "2b00");
    for agent in ["[ace001]", "[beef02]"] {
        assert_eq!(launcher(&s, agent).name.as_deref(), Some("Task"));
    }
}

#[test]
fn a_subagents_folder_hangs_under_its_task_call_by_agent_id() {
    let s = steps(&fixture(V2_1), "3c00");
    let call = launcher(&s, "[a7e3]");
    assert_eq!(call.id, "toolu_d3_task");
    // The agent's progress lines in the session hang there too.
    let progress = named(&s, "agent_progress");
    assert_eq!(progress.parent.as_deref(), Some("toolu_d3_task"));
    // Its calls hang under it, its results under them.
    let glob = named(&s, "[a7e3] Glob");
    let result = s
        .iter()
        .find(|x| x.parent.as_deref() == Some(glob.id.as_str()))
        .unwrap();
    assert_eq!(result.kind, StepKind::ToolResult);
}

// --- errors, interruptions, compactions, unknown records ----------------------------

#[test]
fn failed_tool_results_are_errors_whatever_their_shape() {
    let v1 = steps(&fixture(V1), "1a00");
    let grep = named(&v1, "Grep");
    let result = v1
        .iter()
        .find(|x| x.parent.as_deref() == Some(grep.id.as_str()))
        .unwrap();
    assert!(result.is_error(), "a result of text blocks saying Error:");
    let v21 = steps(&fixture(V2_1), "3c00");
    let results: Vec<&Step> = v21
        .iter()
        .filter(|x| x.kind == StepKind::ToolResult)
        .collect();
    let of = |call: &str| {
        results
            .iter()
            .find(|r| r.parent.as_deref() == Some(call))
            .unwrap()
    };
    // `toolUseResult` says "Error: …" while the content does not.
    assert!(of("toolu_d3_log").is_error());
    // `is_error: true` (a rejected call).
    assert!(of("toolu_d3_edit").is_error());
    let edit_error = of("toolu_d3_edit").error.as_ref().unwrap();
    assert!(edit_error.message.as_deref().unwrap().contains("rejected"));
    // A sub-agent's answer is not an error.
    assert!(!of("toolu_d3_task").is_error());
}

#[test]
fn an_interrupted_turn_cancels_the_run() {
    let out = retrace(&["ls", "--json"], &fixture(V2_1));
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["runs"][0]["outcome"], "cancelled");
    let real: Value =
        serde_json::from_str(&retrace(&["ls", "--json"], &fixture(TOOL_HEAVY))).unwrap();
    assert_eq!(real["runs"][0]["outcome"], "cancelled");
    // A session nobody interrupted is not.
    let v1: Value = serde_json::from_str(&retrace(&["ls", "--json"], &fixture(V1))).unwrap();
    assert_ne!(v1["runs"][0]["outcome"], "cancelled");
}

#[test]
fn an_interruption_the_session_carried_on_from_does_not_cancel_the_run() {
    use retrace::model::Outcome;
    // The real session was interrupted twice: mid-way (then the user asked again) and
    // on its last line. Without that last line, it went on after its interruption.
    let carried_on = changed_copy(TOOL_HEAVY, |_, lines| {
        lines.pop();
    });
    // A later request, after the fixture's own last interruption.
    let asked_again = changed_copy(V2_1, |rel, lines| {
        if rel.components().count() == 1 {
            let mut again = lines[0].clone();
            for line in lines.iter().rev() {
                if line["type"] == "user" && line["isSidechain"] == false {
                    again = line.clone();
                    break;
                }
            }
            again["uuid"] = json!("d3-again");
            again["parentUuid"] = json!("d3-u5");
            again["message"] = json!({"role": "user", "content": "go on please"});
            lines.push(again);
        }
    });
    // A sub-agent's interruption is not the session's.
    let sub_interrupted = changed_copy(V1, |_, lines| {
        for line in lines.iter_mut() {
            if line["isSidechain"] == true && line["type"] == "user" {
                line["message"]["content"] = json!("[Request interrupted by user]");
            }
        }
    });
    for chunk in [64, 1 << 20] {
        for (dir, run) in [
            (&carried_on, "d6e0"),
            (&asked_again, "3c00"),
            (&sub_interrupted, "1a00"),
        ] {
            let history = load_with(dir.path(), chunk);
            let outcome = history.find_run(run).unwrap().outcome();
            assert_ne!(outcome, Outcome::Cancelled, "{run}, chunk {chunk}");
            assert!(history.problems().is_empty(), "{:?}", history.problems());
        }
        // The same files with their interruption last are cancelled.
        let ended = load_with(&fixture(TOOL_HEAVY), chunk);
        assert_eq!(ended.run(0).outcome(), Outcome::Cancelled, "chunk {chunk}");
        assert_eq!(ended.run(0).end_error(), Some("the last turn was aborted"));
    }
}

#[test]
fn compactions_and_api_errors_are_visible_steps() {
    let s = steps(&fixture(V2_1), "3c00");
    let boundary = named(&s, "compact_boundary");
    assert_eq!(
        boundary.record["output"]["compactMetadata"]["trigger"],
        "auto"
    );
    // A boundary starts a new chain: it follows from its logical parent.
    assert_eq!(boundary.parent.as_deref(), Some("d3-e1"));
    let summary = named(&s, "compact summary");
    assert_eq!(summary.kind, StepKind::Message);
    let api = named(&s, "API error");
    assert_eq!(api.kind, StepKind::LlmCall);
    assert!(api.is_error());
    let system = named(&s, "api_error");
    assert!(system.is_error());
    let error = system.error.as_ref().unwrap();
    assert_eq!(error.code.as_deref(), Some("529"));
    assert_eq!(error.message.as_deref(), Some("Overloaded"));
}

#[test]
fn records_of_unknown_types_are_kept_whole() {
    let s = steps(&fixture(V2_1), "3c00");
    let unknown = named(&s, "x-agent-note");
    assert_eq!(unknown.kind, StepKind::Other);
    assert_eq!(unknown.kind_name, "x-agent-note");
    assert_eq!(
        unknown.record["output"]["note"]["text"],
        "a record type this reader does not know"
    );
    let v3 = steps(&fixture(V3), "4d00");
    assert_eq!(
        named(&v3, "session-checkpoint").record["output"]["checkpoint"]["files"],
        3
    );
    // A content block of an unknown type too.
    assert_eq!(
        named(&v3, "assistant plan").record["output"]["steps"][1],
        "summarise"
    );
}

#[test]
fn a_version_not_seen_is_read_and_reported_once_per_file() {
    for chunk in [64, 512, 1 << 20] {
        let history = load_with(&fixture(V3), chunk);
        let problems = history.problems();
        assert_eq!(problems.len(), 1, "chunk {chunk}: {problems:?}");
        assert!(
            problems[0].reason.contains("3.0.1"),
            "{}",
            problems[0].reason
        );
        let run = history.find_run("4d00").unwrap();
        assert_eq!(run.step_count(), 6);
    }
    // Versions the reader was checked with are no problem.
    for seen in [V1, V2_0, V2_1, TOOL_HEAVY] {
        let history = load_with(&fixture(seen), 512);
        assert!(
            history.problems().is_empty(),
            "{seen}: {:?}",
            history.problems()
        );
    }
}

#[test]
fn lines_without_a_time_keep_their_place_and_missing_fields_are_no_problem() {
    let s = steps(&fixture(V3), "4d00");
    let names: Vec<&str> = s.iter().filter_map(|x| x.name.as_deref()).collect();
    assert_eq!(
        names,
        [
            "user",
            "assistant plan",
            "Read",
            "tool_result",
            "session-checkpoint",
            "claude-opus-5"
        ]
    );
    let result = named(&s, "tool_result");
    assert_eq!(result.parent.as_deref(), Some("toolu_f4"));
}

// --- summaries ------------------------------------------------------------------------

const SUMMARY: &str = retrace::index::SUMMARY_LABEL;

#[test]
fn a_file_of_summaries_only_is_read_as_claude_code() {
    let path = fixture("claude_code/summaries_only");
    let doc: Value = serde_json::from_str(&retrace(&["ls", "--json"], &path)).unwrap();
    assert_eq!(doc["problems"], json!([]));
    let run = &doc["runs"][0];
    assert_eq!(run["format"], "claude-code");
    assert_eq!(run["steps"], 2);
    let s = steps(&path, "5e00");
    assert_eq!(s[0].record["output"], "Orders migration fails on staging");
    assert_eq!(s[0].record["meta"]["leafUuid"], "d3-u5");
    // The sessions they name are not here: the summaries are roots, not orphans.
    assert!(s.iter().all(|x| x.parent.is_none()), "{s:?}");
    let tree = tree("5e00", &path).join("\n");
    assert!(!tree.contains("not found"), "{tree}");
}

#[test]
fn a_summary_titles_the_session_it_names_in_another_file_read_after_it() {
    // The summaries' file sorts before the two sessions they name.
    let history = load_with(&fixture("claude_code"), 512);
    let title = |run: &str| history.find_run(run).unwrap().label(SUMMARY);
    assert_eq!(title("3c00"), Some("Orders migration fails on staging"));
    assert_eq!(title("1a00"), Some("Fix the flaky upload test"));
    assert_eq!(title("5e00"), None);
    assert_eq!(title("2b00"), None);
    let doc: Value = serde_json::from_str(&retrace(
        &["ls", "--json"],
        &fixture("claude_code/summaries_only"),
    ))
    .unwrap();
    assert_eq!(doc["runs"][0]["labels"][SUMMARY], Value::Null);
    let shown = retrace(&["show", "3c00"], &fixture("claude_code"));
    assert!(
        shown.contains("summary=Orders migration fails on staging"),
        "{shown}"
    );
}

#[test]
fn a_summary_read_after_the_session_it_names_titles_it_by_its_last_message() {
    // The session's file first, then a later session holding summaries: one of the
    // session's last message, one of a message nobody has.
    let dir = tempfile::tempdir().unwrap();
    let v1 = walk(&fixture(V1)).remove(0);
    // Without its own summary line.
    let text = std::fs::read_to_string(&v1).unwrap();
    let body: String = text.lines().skip(1).map(|l| format!("{l}\n")).collect();
    std::fs::write(
        dir.path()
            .join("1a000000-0000-4000-8000-000000000001.jsonl"),
        body,
    )
    .unwrap();
    let later = [
        json!({"type": "summary", "summary": "Flaky upload test", "leafUuid": "b1-u3"}),
        json!({"type": "summary", "summary": "Gone", "leafUuid": "no-such-message"}),
    ];
    let later: String = later.iter().map(|v| format!("{v}\n")).collect();
    std::fs::write(
        dir.path()
            .join("9f000000-0000-4000-8000-000000000009.jsonl"),
        later,
    )
    .unwrap();
    for chunk in [64, 1 << 20] {
        let history = load_with(dir.path(), chunk);
        assert!(history.problems().is_empty(), "{:?}", history.problems());
        let run = history.find_run("1a00").unwrap();
        assert_eq!(
            run.label(SUMMARY),
            Some("Flaky upload test"),
            "chunk {chunk}"
        );
        let other = history.find_run("9f00").unwrap();
        assert_eq!(other.label(SUMMARY), None);
        let s = other.load_steps().unwrap();
        assert!(s.iter().all(|x| x.parent.is_none()), "{s:?}");
    }
}

#[test]
fn a_session_renamed_or_titled_by_the_model_has_that_title() {
    let mut lines = base_session();
    lines.push(json!({"type": "ai-title", "aiTitle": "Bug hunt", "sessionId": "7a000000-0000-4000-8000-000000000007"}));
    // Written without a session id: the file names it.
    lines.push(json!({"type": "custom-title", "customTitle": "Fix the bug in ls"}));
    let dir = tempfile::tempdir().unwrap();
    let text: String = lines.iter().map(|v| format!("{v}\n")).collect();
    std::fs::write(
        dir.path()
            .join("7a000000-0000-4000-8000-000000000007.jsonl"),
        text,
    )
    .unwrap();
    let history = load_with(dir.path(), 1 << 20);
    assert_eq!(history.run_count(), 1);
    let run = history.run(0);
    assert_eq!(run.label("title"), Some("Fix the bug in ls"));
    assert_eq!(run.label("ai_title"), Some("Bug hunt"));
    // Kept as steps too, never dropped.
    assert_eq!(run.step_count(), 7);
}

#[test]
fn a_summary_beside_its_session_hangs_under_the_message_it_sums_up() {
    for chunk in [64, 512, 1 << 20] {
        let history = load_with(&fixture(V1), chunk);
        let run = history.find_run("1a00").unwrap();
        assert_eq!(run.label(SUMMARY), Some("Fix the flaky upload test"));
        let s = run.load_steps().unwrap();
        let summary = named(&s, "summary");
        assert_eq!(summary.parent.as_deref(), Some("b1-u3"), "chunk {chunk}");
        assert!(parent_of(&s, summary).is_some());
    }
    // Written after its leaf, in the same file, it hangs there too.
    let moved = changed_copy(V1, |_, lines| {
        let summary = lines.remove(0);
        lines.push(summary);
    });
    let s = steps(moved.path(), "1a00");
    assert_eq!(named(&s, "summary").parent.as_deref(), Some("b1-u3"));
}

// --- reordered lines ------------------------------------------------------------------

#[test]
fn a_session_read_with_its_lines_shuffled_has_the_same_tree() {
    let shape = |s: &[Step]| {
        let mut v: Vec<(String, Option<String>, StepKind)> = s
            .iter()
            .map(|x| (x.id.clone(), x.parent.clone(), x.kind))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    let before = shape(&steps(&fixture(V2_1), "3c00"));
    let dir = changed_copy(V2_1, |_, lines| {
        // A fixed shuffle: reversed, then every other line moved to the end.
        lines.reverse();
        let (odd, even): (Vec<_>, Vec<_>) = std::mem::take(lines)
            .into_iter()
            .enumerate()
            .partition(|(i, _)| i % 2 == 1);
        lines.extend(even.into_iter().chain(odd).map(|(_, l)| l));
    });
    let after = shape(&steps(dir.path(), "3c00"));
    assert_eq!(before, after);
}

// --- variations of the format ---------------------------------------------------------

/// A small session: a request, a message with text and a tool call, its result, an answer.
fn base_session() -> Vec<Value> {
    let line = |uuid: &str, parent: Option<&str>, kind: &str, message: Value, second: u32| {
        json!({
            "type": kind, "sessionId": "7a000000-0000-4000-8000-000000000007",
            "version": "2.1.30", "uuid": uuid, "parentUuid": parent, "isSidechain": false,
            "timestamp": format!("2026-03-01T10:00:{second:02}.000Z"), "message": message,
        })
    };
    vec![
        line(
            "u1",
            None,
            "user",
            json!({"role": "user", "content": "fix the bug"}),
            0,
        ),
        line(
            "a1",
            Some("u1"),
            "assistant",
            json!({"id": "msg_1", "role": "assistant", "model": "claude-x", "content": [
                {"type": "text", "text": "looking"},
                {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}},
            ]}),
            1,
        ),
        line(
            "u2",
            Some("a1"),
            "user",
            json!({"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"},
            ]}),
            2,
        ),
        line(
            "a2",
            Some("u2"),
            "assistant",
            json!({"id": "msg_2", "role": "assistant", "model": "claude-x", "content": [
                {"type": "text", "text": "done"},
            ]}),
            3,
        ),
    ]
}

type Variation = fn(&mut Vec<Value>);

#[test]
fn variations_of_the_format_load_without_losing_steps() {
    let base = ["user", "claude-x", "Bash", "tool_result", "claude-x"];
    let plus = |extra: &'static str| -> Vec<&'static str> {
        let mut names = base.to_vec();
        names.push(extra);
        names
    };
    // (what changes, the change, the step names expected in any order)
    let cases: Vec<(&str, Variation, Vec<&str>)> = vec![
        ("as recorded", |_| {}, base.to_vec()),
        (
            "no message.id",
            |l| {
                for line in l.iter_mut() {
                    if let Some(m) = line["message"].as_object_mut() {
                        m.remove("id");
                    }
                }
            },
            base.to_vec(),
        ),
        (
            "no timestamp",
            |l| {
                for line in l.iter_mut() {
                    line.as_object_mut().unwrap().remove("timestamp");
                }
            },
            base.to_vec(),
        ),
        (
            "no uuid",
            |l| {
                for line in l.iter_mut() {
                    line.as_object_mut().unwrap().remove("uuid");
                }
            },
            base.to_vec(),
        ),
        (
            "no sessionId",
            |l| {
                for line in l.iter_mut() {
                    line.as_object_mut().unwrap().remove("sessionId");
                }
            },
            base.to_vec(),
        ),
        (
            "request as a block array",
            |l| {
                l[0]["message"]["content"] = json!([{"type": "text", "text": "fix the bug"}]);
            },
            base.to_vec(),
        ),
        (
            "answer as a plain string",
            |l| {
                l[3]["message"]["content"] = json!("done");
            },
            base.to_vec(),
        ),
        (
            "tool_result content as blocks",
            |l| {
                l[2]["message"]["content"][0]["content"] = json!([{"type": "text", "text": "ok"}]);
            },
            base.to_vec(),
        ),
        (
            "tool_result content missing",
            |l| {
                l[2]["message"]["content"][0]
                    .as_object_mut()
                    .unwrap()
                    .remove("content");
            },
            base.to_vec(),
        ),
        (
            "tool_result content null",
            |l| {
                l[2]["message"]["content"][0]["content"] = Value::Null;
            },
            base.to_vec(),
        ),
        (
            "tool_result holding an image",
            |l| {
                l[2]["message"]["content"][0]["content"] = json!([
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
                ]);
            },
            base.to_vec(),
        ),
        (
            "an image beside the request",
            |l| {
                l[0]["message"]["content"] = json!([
                    {"type": "text", "text": "fix the bug"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
                ]);
            },
            plus("user image"),
        ),
        (
            "a block of an unknown type",
            |l| {
                l[3]["message"]["content"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"type": "x-chart", "bars": [1, 2]}));
            },
            plus("assistant x-chart"),
        ),
        (
            "a record of an unknown type",
            |l| {
                let mut note = l[1].clone();
                note["type"] = json!("x-note");
                note["uuid"] = json!("n1");
                note.as_object_mut().unwrap().remove("message");
                l.insert(2, note);
            },
            plus("x-note"),
        ),
        (
            "ids of calls and results missing",
            |l| {
                l[1]["message"]["content"][1]
                    .as_object_mut()
                    .unwrap()
                    .remove("id");
                l[2]["message"]["content"][0]
                    .as_object_mut()
                    .unwrap()
                    .remove("tool_use_id");
            },
            base.to_vec(),
        ),
        (
            "message not an object",
            |l| {
                l[3]["message"] = json!("done");
            },
            vec!["user", "claude-x", "Bash", "tool_result", "assistant"],
        ),
        (
            "a line its own parent",
            |l| {
                l[3]["parentUuid"] = json!("a2");
            },
            base.to_vec(),
        ),
        (
            "a time that is no time",
            |l| {
                l[2]["timestamp"] = json!("yesterday");
            },
            base.to_vec(),
        ),
        ("lines reversed", |l| l.reverse(), base.to_vec()),
    ];
    for (what, change, expected) in cases {
        let mut lines = base_session();
        change(&mut lines);
        let text: String = lines.iter().map(|v| format!("{v}\n")).collect();
        for (framing, bytes) in [
            ("LF", text.clone().into_bytes()),
            ("CRLF", text.replace('\n', "\r\n").into_bytes()),
            (
                "BOM",
                [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat(),
            ),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir
                .path()
                .join("7a000000-0000-4000-8000-000000000007.jsonl");
            std::fs::write(&path, bytes).unwrap();
            for chunk in [64, 1 << 20] {
                let case = format!("{what} ({framing}, chunk {chunk})");
                let history = load_with(dir.path(), chunk);
                assert!(
                    history.problems().is_empty(),
                    "{case}: {:?}",
                    history.problems()
                );
                assert_eq!(history.run_count(), 1, "{case}");
                let run = history.run(0);
                assert_eq!(run.format(), retrace::model::Format::ClaudeCode, "{case}");
                let s = run.load_steps().unwrap();
                let mut names: Vec<&str> = s.iter().filter_map(|x| x.name.as_deref()).collect();
                let mut want = expected.clone();
                names.sort_unstable();
                want.sort_unstable();
                assert_eq!(names, want, "{case}");
                // The request is still the trigger, and the result still no error.
                assert_eq!(named(&s, "user").kind, StepKind::RunStart, "{case}");
                assert!(!named(&s, "tool_result").is_error(), "{case}");
            }
        }
    }
}
