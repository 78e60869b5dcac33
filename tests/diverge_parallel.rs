//! The divergence engine on runs that do several things at once: long generated runs
//! (thousands of steps, the same tools called again and again) where each model call
//! proposes a group of tool calls whose calls and results are logged in another order in
//! each run. Pairs that differ only by that order have no divergence; pairs that split in
//! one known way inside one group diverge at the member that differs, on both sides.
//! Written as native JSON Lines (calls link to their model call, results to their call
//! through `parent`) and read back through the public API and the `retrace diff` binary.

use std::path::Path;
use std::process::Command;

use retrace::diverge::{self, Kind};
use retrace::index::{History, LoadOptions};
use serde_json::{json, Value};

struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn id(&mut self) -> String {
        format!("{:016x}{:08x}", self.next(), self.next() >> 32)
    }
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

/// How run A departs from run B inside one group.
#[derive(Clone, Copy, Debug)]
enum Split {
    None,
    Tool,
    Arguments,
    Error,
    Extra,
    Missing,
    Result,
}

const ITEMS: usize = 700;
/// The item whose group splits, and the member of the group that differs.
const SPLIT_ITEM: usize = 530;
const SPLIT_MEMBER: usize = 2;
/// Tools, reused in every group (a group calls `lookup` twice with other arguments).
const TOOLS: [&str; 3] = ["lookup", "get_price", "lookup"];

/// Steps of the member that differs: (call, result) in the run.
#[derive(Default, Debug, Clone, Copy)]
struct Marks {
    call: Option<u32>,
    result: Option<u32>,
}

struct Run {
    text: String,
    steps: usize,
    marks: Marks,
}

/// One run: per item a model call and a group of 2–4 parallel tool calls (every fourth
/// item a single call), their results in an order drawn from `seed`, every fifth item a
/// decision. `split` changes member `SPLIT_MEMBER` of item `SPLIT_ITEM`'s group.
/// With `propose`, each model call also lists the calls it proposes (in an order drawn
/// from `seed`, as a model may write them in any order).
fn run(id: &str, seed: u64, split: Split, propose: bool) -> Run {
    let mut n = Noise(seed | 1);
    let mut lines: Vec<Value> = Vec::new();
    let mut marks = Marks::default();
    let mut prev = n.id();
    lines.push(
        json!({"kind": "run_start", "id": prev, "input": {"batch": "nightly", "region": "eu"}}),
    );
    for item in 0..ITEMS {
        let head = n.id();
        lines.push(
            json!({"kind": "llm_call", "id": head, "parent": prev, "name": "planner",
            "output": {"text": format!("Checking the order lines of batch item {item}.")},
            "tokens": {"input": n.next() % 4000, "output": n.next() % 300}}),
        );
        let size = if item % 4 == 3 { 1 } else { 2 + item % 3 };
        let splitting = item == SPLIT_ITEM;
        // (tool, arguments, failed, output, member)
        let mut members: Vec<(String, Value, bool, Value, usize)> = (0..size)
            .map(|m| {
                let tool = TOOLS[m % 3];
                (
                    tool.to_string(),
                    json!({"sku": format!("sku-{item}-{m}"), "request_id": n.id()}),
                    false,
                    json!({"sku": format!("sku-{item}-{m}"), "value": item * 10 + m, "fetched_at": format!("2026-11-24T10:{:02}:00Z", n.next() % 60)}),
                    m,
                )
            })
            .collect();
        if splitting {
            assert!(
                members.len() > SPLIT_MEMBER,
                "the split group has the member"
            );
            let m = &mut members[SPLIT_MEMBER];
            match split {
                Split::None => {}
                Split::Tool => m.0 = "fetch_archive".into(),
                Split::Arguments => m.1["sku"] = json!("sku-archived"),
                Split::Error => m.2 = true,
                Split::Result => m.3["value"] = json!(-1),
                Split::Missing => {
                    members.remove(SPLIT_MEMBER);
                }
                Split::Extra => members.push((
                    "get_price".into(),
                    json!({"sku": "sku-extra", "request_id": n.id()}),
                    false,
                    json!({"sku": "sku-extra", "value": 0}),
                    99,
                )),
            }
        }
        if propose {
            let mut listed: Vec<Value> = members
                .iter()
                .map(|(tool, args, ..)| json!({"name": tool, "args": {"sku": args["sku"]}}))
                .collect();
            n.shuffle(&mut listed);
            let head_line = lines.last_mut().unwrap();
            head_line["output"]["tool_calls"] = Value::Array(listed);
        }
        // The member that differs: the extra one when A has one more.
        let marked = if matches!(split, Split::Extra) {
            99
        } else {
            SPLIT_MEMBER
        };
        // Calls are logged in proposal order or not; results in the order they finish.
        let mut call_order: Vec<usize> = (0..members.len()).collect();
        if item % 2 == 0 {
            n.shuffle(&mut call_order);
        }
        let mut ids = vec![String::new(); members.len()];
        for &k in &call_order {
            let (tool, args, _, _, m) = &members[k];
            ids[k] = n.id();
            if splitting && *m == marked {
                marks.call = Some(lines.len() as u32);
            }
            lines.push(json!({"kind": "tool_call", "id": ids[k], "parent": head, "name": tool, "input": args}));
        }
        let mut result_order: Vec<usize> = (0..members.len()).collect();
        n.shuffle(&mut result_order);
        for &k in &result_order {
            let (tool, _, failed, output, m) = &members[k];
            if splitting && *m == marked {
                marks.result = Some(lines.len() as u32);
            }
            let mut v =
                json!({"kind": "tool_result", "id": n.id(), "parent": ids[k], "name": tool});
            if *failed {
                v["status"] = json!("error");
                v["error"] =
                    json!({"code": "upstream_timeout", "message": "the price service timed out"});
            } else {
                v["status"] = json!("ok");
                v["output"] = output.clone();
            }
            lines.push(v);
        }
        prev = head;
        if item % 5 == 4 {
            let d = n.id();
            lines.push(
                json!({"kind": "decision", "id": d, "parent": prev, "name": "route",
                "options": ["keep", "drop"], "chosen": "keep"}),
            );
            prev = d;
        }
    }
    lines.push(json!({"kind": "run_end", "id": n.id(), "parent": prev, "outcome": "success"}));
    let mut text = String::new();
    let mut t = 1_764_000_000_000i64 + (seed % 1000) as i64 * 86_400_000;
    let steps = lines.len();
    for (i, mut v) in lines.into_iter().enumerate() {
        t += 5 + (n.next() % 2000) as i64;
        v["run_id"] = json!(id);
        v["step"] = json!(i);
        v["ts"] = json!(t);
        text.push_str(&v.to_string());
        text.push('\n');
    }
    Run { text, steps, marks }
}

struct Fixture {
    dir: tempfile::TempDir,
    history: History,
    a: Run,
    b: Run,
}

fn pair(split: Split, seeds: (u64, u64)) -> Fixture {
    pair_proposing(split, seeds, false)
}

fn pair_proposing(split: Split, seeds: (u64, u64), propose: bool) -> Fixture {
    let a = run("run-a", seeds.0, split, propose);
    let b = run("run-b", seeds.1, Split::None, propose);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.jsonl"), &a.text).unwrap();
    std::fs::write(dir.path().join("b.jsonl"), &b.text).unwrap();
    let history = History::load(&[dir.path().to_path_buf()], &LoadOptions::default()).unwrap();
    assert!(history.problems().is_empty(), "{:?}", history.problems());
    Fixture { dir, history, a, b }
}

fn diff(f: &Fixture) -> diverge::Diff<'_> {
    let a = f.history.find_run("run-a").unwrap();
    let b = f.history.find_run("run-b").unwrap();
    let d = diverge::diff(&f.history, a, Some(b)).unwrap();
    assert!(d.a_steps.len() > 3000, "long runs: {}", d.a_steps.len());
    assert_eq!((d.a_steps.len(), d.b_steps.len()), (f.a.steps, f.b.steps));
    check_rows(&d);
    d
}

/// Every step of each run appears in exactly one row, rows never pair different kinds,
/// and steps outside groups keep their order.
fn check_rows(d: &diverge::Diff) {
    let rows = &d.comparison.rows;
    let mut a: Vec<usize> = rows.iter().filter_map(|r| r.a).collect();
    let mut b: Vec<usize> = rows.iter().filter_map(|r| r.b).collect();
    let outside: Vec<usize> = rows
        .iter()
        .filter(|r| r.group.is_none())
        .filter_map(|r| r.a)
        .collect();
    assert!(outside.windows(2).all(|w| w[0] < w[1]));
    a.sort_unstable();
    b.sort_unstable();
    assert_eq!(a, (0..d.a_steps.len()).collect::<Vec<_>>());
    assert_eq!(b, (0..d.b_steps.len()).collect::<Vec<_>>());
    for r in rows {
        if let (Some(i), Some(j)) = (r.a, r.b) {
            assert_eq!(d.a_steps[i].kind, d.b_steps[j].kind);
        }
    }
    for (n, g) in d.comparison.groups.iter().enumerate() {
        for r in &rows[g.rows.clone()] {
            assert_eq!(r.group, Some(n));
        }
    }
}

const SEEDS: [(u64, u64); 3] = [(3, 4), (17, 29), (101, 7)];

#[test]
fn runs_that_differ_only_by_the_order_of_parallel_steps_have_no_divergence() {
    for seeds in SEEDS {
        let f = pair(Split::None, seeds);
        // The orders really differ: the first group's results are logged differently.
        assert_ne!(f.a.text.len(), 0);
        let d = diff(&f);
        let reordered = d
            .comparison
            .rows
            .iter()
            .filter(|r| matches!((r.a, r.b), (Some(i), Some(j)) if i != j))
            .count();
        assert!(reordered > 100, "the pair is reordered: {reordered} rows");
        assert!(
            d.comparison.divergence.is_none(),
            "{:?}",
            d.comparison.divergence
        );
        assert!(d.comparison.groups.len() >= ITEMS);
    }
}

#[test]
fn calls_a_model_proposed_together_are_the_same_decision_in_any_order() {
    let f = pair_proposing(Split::None, (5, 6), true);
    let d = diff(&f);
    assert!(
        d.comparison.divergence.is_none(),
        "{:?}",
        d.comparison.divergence
    );
    // A failing result is still found where it is, behind the same proposals.
    let f = pair_proposing(Split::Error, (5, 6), true);
    let div = diff(&f).comparison.divergence.expect("a divergence");
    assert_eq!(
        (div.kind, div.a_step, div.b_step),
        (Kind::ErrorVsSuccess, f.a.marks.result, f.b.marks.result),
        "{}",
        div.summary
    );
}

/// The divergence of a split pair: kind and steps on both sides, and the group named.
fn assert_split(split: Split, kind: Kind, a: Side, b: Side) {
    for seeds in SEEDS {
        let f = pair(split, seeds);
        let d = diff(&f);
        let div = d.comparison.divergence.clone().expect("a divergence");
        let step = |side: Side, marks: Marks| match side {
            Side::Call => marks.call,
            Side::Result => marks.result,
            Side::Gap => None,
        };
        assert_eq!(
            (div.kind, div.a_step, div.b_step),
            (kind, step(a, f.a.marks), step(b, f.b.marks)),
            "{split:?} {seeds:?}: {}",
            div.summary
        );
        let g = div.group.expect("the divergence is inside a group");
        let group = &d.comparison.groups[g];
        assert!(group.rows.contains(&div.row));
        assert!(div.summary.contains("parallel group"), "{}", div.summary);
        // Both sides' groups are named, by the steps that ran together.
        let first = |m: &[usize], steps: &[retrace::model::Step]| steps[m[0]].step;
        assert!(div
            .summary
            .contains(&format!("A #{}", first(&group.a_members, &d.a_steps))));
        assert!(div
            .summary
            .contains(&format!("B #{}", first(&group.b_members, &d.b_steps))));
    }
}

#[derive(Clone, Copy)]
enum Side {
    Call,
    Result,
    Gap,
}

#[test]
fn a_different_tool_in_a_group_diverges_at_that_call() {
    assert_split(Split::Tool, Kind::DifferentTool, Side::Call, Side::Call);
}

#[test]
fn different_arguments_in_a_group_diverge_at_that_call() {
    assert_split(
        Split::Arguments,
        Kind::DifferentArguments,
        Side::Call,
        Side::Call,
    );
}

#[test]
fn one_failing_result_in_a_group_diverges_at_that_result() {
    assert_split(
        Split::Error,
        Kind::ErrorVsSuccess,
        Side::Result,
        Side::Result,
    );
}

#[test]
fn different_result_data_in_a_group_diverges_at_that_result() {
    assert_split(
        Split::Result,
        Kind::DifferentResult,
        Side::Result,
        Side::Result,
    );
}

#[test]
fn an_extra_call_in_a_group_diverges_at_that_call() {
    assert_split(Split::Extra, Kind::ExtraStep, Side::Call, Side::Gap);
}

#[test]
fn a_missing_call_in_a_group_diverges_at_that_call() {
    assert_split(Split::Missing, Kind::MissingStep, Side::Gap, Side::Call);
}

fn retrace(args: &[&str], dir: &Path) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_retrace"))
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .args(args)
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn binary_json_names_the_groups_of_rows_and_of_the_divergence() {
    let f = pair(Split::Error, (3, 4));
    let doc = retrace(
        &["diff", "run-a", "--against", "run-b", "--json"],
        f.dir.path(),
    );
    let d = &doc["divergence"];
    assert_eq!(d["kind"], "error_vs_success");
    assert_eq!(d["a_step"], json!(f.a.marks.result));
    let g = d["group"].as_u64().expect("the divergence names its group") as usize;
    let group = &doc["groups"][g];
    let (start, end) = (
        group["rows"][0].as_u64().unwrap(),
        group["rows"][1].as_u64().unwrap(),
    );
    for n in start..end {
        assert_eq!(doc["rows"][n as usize]["group"], json!(g));
    }
    let a_steps: Vec<u64> = group["a_steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_u64)
        .collect();
    assert!(a_steps.contains(&u64::from(f.a.marks.result.unwrap())));
    assert!(a_steps.contains(&u64::from(f.a.marks.call.unwrap())));
    // The model call that proposed them is named on both sides.
    assert_eq!(group["a_head"].as_u64(), Some(a_steps[0] - 1));
    assert!(group["b_head"].is_u64());
    // Rows outside groups say so.
    assert_eq!(doc["rows"][0]["group"], Value::Null);
}

// ---------------------------------------------------------------------------------------
// A real Claude Code session with parallel tool use (tests/fixtures/realdata/claude-code/
// tool_heavy.jsonl: one assistant message proposes WebSearch and Glob at once, and their
// results come back in the other order). Copies are changed in a temporary folder.

const SESSION: &str = "tests/fixtures/realdata/claude-code/tool_heavy.jsonl";

/// The session's steps after `change` was applied to its lines (parsed JSON, in file
/// order), loaded on its own (a changed copy keeps the session id).
fn claude_steps(
    change: impl FnOnce(&mut Vec<Value>),
) -> (tempfile::TempDir, Vec<retrace::model::Step>) {
    let text = std::fs::read_to_string(SESSION).unwrap();
    let mut lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    change(&mut lines);
    let dir = tempfile::tempdir().unwrap();
    let out: String = lines.iter().map(|v| format!("{v}\n")).collect();
    std::fs::write(dir.path().join("session.jsonl"), out).unwrap();
    let history = History::load(&[dir.path().to_path_buf()], &LoadOptions::default()).unwrap();
    assert!(history.problems().is_empty(), "{:?}", history.problems());
    let run = history.runs().next().expect("one session");
    let steps = run.load_steps().unwrap();
    (dir, steps)
}

/// Line indices (0-based) of the results of the parallel `WebSearch` and `Glob` calls.
fn parallel_results(lines: &[Value]) -> (usize, usize) {
    let calls: Vec<(String, String)> = lines
        .iter()
        .filter_map(|v| {
            let block = v.pointer("/message/content/0")?;
            (block["type"] == "tool_use").then(|| {
                (
                    block["id"].as_str().unwrap().to_string(),
                    block["name"].as_str().unwrap().to_string(),
                )
            })
        })
        .collect();
    let result_of = |tool: &str| {
        let id = &calls.iter().find(|(_, n)| n == tool).unwrap().0;
        lines
            .iter()
            .position(|v| {
                v.pointer("/message/content/0/tool_use_id")
                    .and_then(Value::as_str)
                    == Some(id)
            })
            .unwrap()
    };
    (result_of("WebSearch"), result_of("Glob"))
}

/// The step holding the result of the call named `tool`.
fn result_step(steps: &[retrace::model::Step], tool: &str) -> usize {
    let call = steps
        .iter()
        .find(|s| s.name.as_deref() == Some(tool))
        .unwrap();
    steps
        .iter()
        .position(|s| {
            s.kind == retrace::model::StepKind::ToolResult
                && s.parent.as_deref() == Some(call.id.as_str())
        })
        .unwrap()
}

#[test]
fn a_real_claude_code_session_against_itself_with_parallel_results_swapped_has_no_divergence() {
    let (_da, a) = claude_steps(|_| {});
    let (_db, b) = claude_steps(|lines| {
        let (web, glob) = parallel_results(lines);
        assert_eq!(glob + 1, web, "the fixture logs Glob's result first");
        // Swap the two results, keeping the file in time order.
        let (tw, tg) = (
            lines[web]["timestamp"].clone(),
            lines[glob]["timestamp"].clone(),
        );
        lines[web]["timestamp"] = tg;
        lines[glob]["timestamp"] = tw;
        lines.swap(web, glob);
    });
    // The copy really logs them the other way round.
    assert!(result_step(&a, "Glob") < result_step(&a, "WebSearch"));
    assert!(result_step(&b, "Glob") > result_step(&b, "WebSearch"));
    let cmp = diverge::compare(&a, &b);
    assert!(cmp.divergence.is_none(), "{:?}", cmp.divergence);
    assert!(!cmp.groups.is_empty());
}

#[test]
fn a_real_claude_code_session_against_a_copy_where_one_parallel_call_fails_diverges_there() {
    let (_da, a) = claude_steps(|_| {});
    let (_db, b) = claude_steps(|lines| {
        let (_, glob) = parallel_results(lines);
        lines[glob]["message"]["content"][0]["is_error"] = json!(true);
    });
    let cmp = diverge::compare(&a, &b);
    let d = cmp.divergence.expect("a divergence");
    let (at_a, at_b) = (result_step(&a, "Glob"), result_step(&b, "Glob"));
    assert_eq!(
        (d.kind, d.a_step, d.b_step),
        (Kind::ErrorVsSuccess, Some(a[at_a].step), Some(b[at_b].step)),
        "{}",
        d.summary
    );
    assert!(d.group.is_some(), "{}", d.summary);
}

#[test]
fn binary_text_marks_the_rows_of_parallel_groups() {
    let f = pair(Split::Error, (3, 4));
    let out = Command::new(env!("CARGO_BIN_EXE_retrace"))
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .args(["diff", "run-a", "--against", "run-b"])
        .arg(f.dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let call = f.a.marks.result.unwrap();
    // The divergence row is a group row: `>` then the group mark.
    let row = text
        .lines()
        .find(|l| l.starts_with(&format!(">│{call:>4} ")))
        .unwrap_or_else(|| panic!("no marked divergence row for #{call}"));
    assert!(row.contains('≠'), "{row}");
    assert!(
        text.contains("│ parallel group"),
        "the legend explains the mark"
    );
    // Rows outside groups keep their blank mark (the run's start).
    assert!(
        text.lines().any(|l| l.starts_with("     0 ")),
        "{text:.600}"
    );
}
