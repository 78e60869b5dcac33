//! Search: ranking, every filter and their combinations (checked against an oracle
//! over the fixture's own description), text in inputs and outputs through the text
//! index, the binary's output, and runs that arrive while watching.
//!
//! The 1 GB benchmark is an ignored test here (`bench_search_1g`), run by
//! `benches/search_1g.sh`.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicU64;

use retrace::work::Cancel;
use std::time::{Duration, Instant};

use fuzzy_matcher::skim::SkimMatcherV2;
use fuzzy_matcher::FuzzyMatcher;
use retrace::index::watch::{watch, WatchEvent, WatchOptions};
use retrace::index::{History, LoadOptions};
use retrace::runs::{self, Order, RunSort};
use retrace::search::{self, Hit, Query, SearchOptions, TextIndex};
use serde_json::{json, Value};

/// 2026-11-20T12:00:00Z: "now" for every test with times.
const NOW: i64 = 1_795_176_000_000;
const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;

#[derive(Clone)]
struct StepSpec {
    kind: &'static str,
    name: Option<&'static str>,
    status: Option<&'static str>,
    error: Option<(&'static str, &'static str)>,
    input: Option<Value>,
    output: Option<Value>,
}

#[derive(Clone)]
struct RunSpec {
    id: &'static str,
    agent: &'static str,
    model: &'static str,
    env: &'static str,
    start: i64,
    outcome: &'static str,
    /// Steps between `run_start` (position 0) and `run_end` (last).
    steps: Vec<StepSpec>,
}

fn step(kind: &'static str, name: &'static str) -> StepSpec {
    StepSpec {
        kind,
        name: Some(name),
        status: None,
        error: None,
        input: None,
        output: None,
    }
}

impl StepSpec {
    fn ok(mut self) -> Self {
        self.status = Some("ok");
        self
    }
    fn failed(mut self, code: &'static str, message: &'static str) -> Self {
        self.status = Some("error");
        self.error = Some((code, message));
        self
    }
    fn input(mut self, v: Value) -> Self {
        self.input = Some(v);
        self
    }
    fn output(mut self, v: Value) -> Self {
        self.output = Some(v);
        self
    }
}

/// What a step is, as the oracle sees it (positions as in the history).
struct Flat<'a> {
    run: &'a RunSpec,
    position: u32,
    kind: &'static str,
    name: Option<&'static str>,
    status: Option<&'static str>,
    error: Option<&'static str>,
    /// Its JSON line.
    line: String,
}

impl RunSpec {
    fn lines(&self) -> Vec<String> {
        let mut lines = vec![json!({
            "run_id": self.id, "step": 0, "ts": self.start, "kind": "run_start",
            "agent": self.agent, "model": self.model, "labels": {"env": self.env},
            "input": {"ticket": 4000 + self.start % 997},
        })
        .to_string()];
        for (i, s) in self.steps.iter().enumerate() {
            let mut v = json!({"run_id": self.id, "step": i + 1, "ts": self.start + (i as i64 + 1) * 1000, "kind": s.kind});
            if let Some(n) = s.name {
                v["name"] = json!(n);
            }
            if let Some(st) = s.status {
                v["status"] = json!(st);
            }
            if let Some((code, message)) = s.error {
                v["error"] = json!({"code": code, "message": message});
            }
            if let Some(i) = &s.input {
                v["input"] = i.clone();
            }
            if let Some(o) = &s.output {
                v["output"] = o.clone();
            }
            lines.push(v.to_string());
        }
        lines.push(
            json!({"run_id": self.id, "step": self.steps.len() + 1,
                   "ts": self.start + (self.steps.len() as i64 + 1) * 1000, "kind": "run_end", "outcome": self.outcome})
            .to_string(),
        );
        lines
    }

    /// The last activity (for `since`): the end of its last step.
    fn last(&self) -> i64 {
        self.start + (self.steps.len() as i64 + 1) * 1000
    }

    fn flat(&self) -> Vec<Flat<'_>> {
        let lines = self.lines();
        let mut out = vec![Flat {
            run: self,
            position: 0,
            kind: "run_start",
            name: None,
            status: None,
            error: None,
            line: lines[0].clone(),
        }];
        for (i, s) in self.steps.iter().enumerate() {
            out.push(Flat {
                run: self,
                position: i as u32 + 1,
                kind: s.kind,
                name: s.name,
                status: s.status,
                error: s.error.map(|e| e.0),
                line: lines[i + 1].clone(),
            });
        }
        out.push(Flat {
            run: self,
            position: self.steps.len() as u32 + 1,
            kind: "run_end",
            name: None,
            status: None,
            error: None,
            line: lines[self.steps.len() + 1].clone(),
        });
        out
    }
}

fn fixture() -> Vec<RunSpec> {
    vec![
        RunSpec {
            id: "r-001",
            agent: "support-bot",
            model: "gpt-4o",
            env: "prod",
            start: NOW - 30 * MIN,
            outcome: "success",
            steps: vec![
                step("llm_call", "think")
                    .output(json!({"text": "I will look up the order first; schema check found no mismatch"})),
                step("tool_call", "lookup_order").input(json!({"order": 4411})),
                step("tool_result", "lookup_order").ok().output(json!({"status": "shipped", "carrier": "Parcelforce"})),
            ],
        },
        RunSpec {
            id: "r-002",
            agent: "support-bot",
            model: "gpt-4o",
            env: "prod",
            start: NOW - 3 * HOUR,
            outcome: "failure",
            steps: vec![
                step("tool_call", "send_email").input(json!({"to": "c@example.com", "body": "Your refund was issued"})),
                step("tool_result", "send_email").failed("SMTP_AUTH_INVALID", "535 5.7.8 authentication failed"),
            ],
        },
        RunSpec {
            id: "r-003",
            agent: "billing-agent",
            model: "claude-3",
            env: "staging",
            start: NOW - 2 * DAY,
            outcome: "failure",
            steps: vec![
                step("llm_call", "think").output(json!({"text": "The refund policy allows 30 days"})),
                step("tool_call", "issue_refund").input(json!({"amount": "64.00"})),
                step("tool_result", "issue_refund").failed("SCHEMA_MISMATCH", "field 'amount' expected number, got string"),
            ],
        },
        RunSpec {
            id: "r-004",
            agent: "billing-agent",
            model: "claude-3",
            env: "prod",
            start: NOW - 10 * DAY,
            outcome: "timeout",
            steps: vec![
                step("tool_call", "charge_card").input(json!({"card": "visa"})),
                step("tool_result", "charge_card").failed("TIMEOUT", "upstream did not answer within 30s"),
            ],
        },
        RunSpec {
            id: "r-005",
            agent: "triage",
            model: "gpt-4o-mini",
            env: "staging",
            start: NOW - HOUR,
            outcome: "success",
            steps: vec![
                step("decision", "route").input(json!({"options": ["proceed", "escalate"]})),
                step("message", "note").output(json!("escalated to the billing queue")),
            ],
        },
        RunSpec {
            id: "r-006",
            agent: "billing-agent",
            model: "gpt-4o",
            env: "prod",
            start: NOW - 5 * HOUR,
            outcome: "success",
            steps: vec![
                step("tool_call", "issue_refund").input(json!({"amount": 12})),
                step("tool_result", "issue_refund").ok().output(json!({"refund_id": "re_77"})),
            ],
        },
        RunSpec {
            id: "r-007",
            agent: "support-bot",
            model: "claude-3",
            env: "staging",
            start: NOW - 20 * DAY,
            outcome: "failure",
            steps: vec![
                // A name that scatters the letters of "timeout": a fuzzy match only.
                step("tool_call", "t_i_m_e_o_u_t"),
                step("tool_result", "lookup_order").failed("NOT_FOUND", "order 0 does not exist"),
            ],
        },
    ]
}

fn write_fixture(dir: &Path, runs: &[RunSpec]) {
    // Two files, runs interleaved line by line in the first.
    let mut a = std::fs::File::create(dir.join("agents.jsonl")).unwrap();
    let mut b = std::fs::File::create(dir.join("more.jsonl")).unwrap();
    let (first, second) = runs.split_at(runs.len() - 2);
    let lines: Vec<Vec<String>> = first.iter().map(RunSpec::lines).collect();
    let longest = lines.iter().map(Vec::len).max().unwrap_or(0);
    for i in 0..longest {
        for run in &lines {
            if let Some(l) = run.get(i) {
                writeln!(a, "{l}").unwrap();
            }
        }
    }
    for run in second {
        for l in run.lines() {
            writeln!(b, "{l}").unwrap();
        }
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    path: PathBuf,
    runs: Vec<RunSpec>,
    history: History,
    index: TextIndex,
}

fn load(path: &Path) -> History {
    let options = LoadOptions {
        chunk_size: 512,
        ..LoadOptions::default()
    };
    History::load(&[path.to_path_buf()], &options).unwrap()
}

fn build(history: &History) -> TextIndex {
    TextIndex::build(history, 2, &Cancel::never(), &AtomicU64::new(0))
        .unwrap()
        .expect("not cancelled")
}

fn setup() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let runs = fixture();
    write_fixture(dir.path(), &runs);
    let history = load(dir.path());
    let index = build(&history);
    Fixture {
        path: dir.path().to_path_buf(),
        _dir: dir,
        runs,
        history,
        index,
    }
}

fn run_search(history: &History, index: Option<&TextIndex>, query: &str, limit: usize) -> Vec<Hit> {
    let query = Query::parse(query).unwrap_or_else(|e| panic!("{query}: {e}"));
    let options = SearchOptions {
        limit,
        now: NOW,
        only_run: None,
    };
    search::search(history, index, &query, &options, &Cancel::never())
        .unwrap()
        .hits
}

type Key = (String, Option<u32>);

fn keys(f: &Fixture, hits: &[Hit]) -> BTreeSet<Key> {
    hits.iter()
        .map(|h| (f.history.run(h.run).id().to_owned(), h.step))
        .collect()
}

impl Fixture {
    fn search(&self, query: &str) -> Vec<Hit> {
        run_search(&self.history, Some(&self.index), query, 1000)
    }

    fn steps_where(&self, pred: impl Fn(&Flat) -> bool) -> BTreeSet<Key> {
        self.runs
            .iter()
            .flat_map(|r| r.flat())
            .filter(|s| pred(s))
            .map(|s| (s.run.id.to_owned(), Some(s.position)))
            .collect()
    }

    fn runs_where(&self, pred: impl Fn(&RunSpec) -> bool) -> BTreeSet<Key> {
        self.runs
            .iter()
            .filter(|r| pred(r))
            .map(|r| (r.id.to_owned(), None))
            .collect()
    }
}

type RunPred = Box<dyn Fn(&RunSpec) -> bool>;
type StepPred = Box<dyn Fn(&Flat) -> bool>;

fn is_tool(kind: &str) -> bool {
    kind == "tool_call" || kind == "tool_result"
}

#[test]
fn an_exact_error_code_beats_a_scattered_fuzzy_match() {
    // On their own, the fuzzy matcher's scores put the scattered name first: the
    // bonuses for an exact field are what turn the order around.
    let skim = SkimMatcherV2::default().ignore_case();
    let exact = skim.fuzzy_match("TIMEOUT", "timeout").unwrap();
    let scattered = skim.fuzzy_match("t_i_m_e_o_u_t", "timeout").unwrap();
    assert!(scattered > exact, "premise: {scattered} > {exact}");

    let f = setup();
    for index in [Some(&f.index), None] {
        for query in ["TIMEOUT", "timeout"] {
            let hits = run_search(&f.history, index, query, 50);
            let code = hits
                .iter()
                .position(|h| f.history.run(h.run).id() == "r-004" && h.step == Some(2))
                .unwrap_or_else(|| panic!("{query}: the TIMEOUT step is found: {hits:?}"));
            let fuzzy = hits
                .iter()
                .position(|h| f.history.run(h.run).id() == "r-007" && h.step == Some(1))
                .unwrap_or_else(|| panic!("{query}: the scattered name is found: {hits:?}"));
            assert_eq!(code, 0, "{query}: exact code first: {hits:?}");
            assert!(code < fuzzy);
            assert!(hits[code].score > hits[fuzzy].score);
            assert_eq!(hits[code].field, "error");
            assert_eq!(hits[fuzzy].field, "name");
            // Highlighted: the code's letters, and the scattered letters.
            let lit = |h: &Hit| -> String {
                h.snippet
                    .chars()
                    .enumerate()
                    .filter(|(i, _)| h.positions.contains(i))
                    .map(|(_, c)| c)
                    .collect()
            };
            assert_eq!(lit(&hits[code]).to_lowercase(), "timeout");
            assert_eq!(lit(&hits[fuzzy]), "timeout");
        }
        // Two words: the step whose error code is exactly them comes before a newer
        // step that has both words in its text (they would tie without the bonus).
        let hits = run_search(&f.history, index, "schema mismatch", 50);
        let at = |run: &str, step: u32| {
            hits.iter()
                .position(|h| f.history.run(h.run).id() == run && h.step == Some(step))
        };
        if index.is_some() {
            assert!(at("r-001", 1).is_some(), "{hits:?}");
        }
        assert_eq!(at("r-003", 3), Some(0), "{hits:?}");
    }
}

#[test]
fn an_exact_word_beats_a_prefix_and_a_typo_still_finds_it() {
    let f = setup();
    // "refund" is a word of r-003's llm output; "refund_id" of r-006 only starts so.
    let hits = f.search("refund");
    let first_exact = hits.iter().position(|h| h.score >= 1000).unwrap();
    assert_eq!(first_exact, 0);
    // Steps named issue_refund hold the word in a name: they come first, before the
    // newer step that has it in its input only.
    let named = f.steps_where(|s| s.name == Some("issue_refund"));
    assert_eq!(keys(&f, &hits[..named.len()]), named, "{hits:?}");
    assert!(keys(&f, &hits).contains(&("r-002".to_owned(), Some(1))));
    let typo = f.search("refnd polcy");
    assert_eq!(
        keys(&f, &typo[..1]),
        BTreeSet::from([("r-003".to_owned(), Some(1))]),
        "{typo:?}"
    );
    assert_eq!(typo[0].field, "output");
}

#[test]
fn every_run_filter_selects_what_the_oracle_selects() {
    let f = setup();
    let cases: Vec<(&str, RunPred)> = vec![
        ("outcome:failure", Box::new(|r| r.outcome == "failure")),
        (
            "outcome:failure,timeout",
            Box::new(|r| r.outcome == "failure" || r.outcome == "timeout"),
        ),
        ("outcome:success", Box::new(|r| r.outcome == "success")),
        (
            "agent:billing-agent",
            Box::new(|r| r.agent == "billing-agent"),
        ),
        (
            "agent:SUPPORT-*",
            Box::new(|r| r.agent.starts_with("support-")),
        ),
        (
            "agent:triage agent:support-bot",
            Box::new(|r| r.agent == "triage" || r.agent == "support-bot"),
        ),
        ("model:gpt-4o", Box::new(|r| r.model == "gpt-4o")),
        ("model:gpt-4o*", Box::new(|r| r.model.starts_with("gpt-4o"))),
        ("label:env=prod", Box::new(|r| r.env == "prod")),
        ("label:env", Box::new(|_| true)),
        ("label:team", Box::new(|_| false)),
        ("since:2h", Box::new(|r| r.last() >= NOW - 2 * HOUR)),
        ("since:1d", Box::new(|r| r.last() >= NOW - DAY)),
        ("until:4h", Box::new(|r| r.start <= NOW - 4 * HOUR)),
        (
            "since:2026-11-18",
            Box::new(|r| r.last() >= NOW - 2 * DAY - 12 * HOUR),
        ),
        (
            "until:2026-11-10",
            Box::new(|r| r.start < NOW - 10 * DAY + 12 * HOUR),
        ),
        (
            "since:2026-11-20T08:00:00Z",
            Box::new(|r| r.last() >= NOW - 4 * HOUR),
        ),
    ];
    for (query, pred) in cases {
        let want = f.runs_where(|r| pred(r));
        let got = keys(&f, &f.search(query));
        assert_eq!(got, want, "{query}");
        // The same filter through the run-list API.
        let q = Query::parse(query).unwrap();
        let filter = runs::Filter {
            query: &q,
            now: NOW,
        };
        let listed: BTreeSet<Key> = runs::list(&f.history, Some(filter), Order::default())
            .iter()
            .map(|r| (r.id().to_owned(), None))
            .collect();
        assert_eq!(listed, want, "{query} (the run list)");
    }
}

#[test]
fn every_step_filter_selects_what_the_oracle_selects() {
    let f = setup();
    let cases: Vec<(&str, StepPred)> = vec![
        ("status:error", Box::new(|s| s.status == Some("error"))),
        ("status:ok", Box::new(|s| s.status == Some("ok"))),
        (
            "tool:issue_refund",
            Box::new(|s| is_tool(s.kind) && s.name == Some("issue_refund")),
        ),
        (
            "tool:*_order",
            Box::new(|s| is_tool(s.kind) && s.name.is_some_and(|n| n.ends_with("_order"))),
        ),
        ("tool:think", Box::new(|_| false)),
        ("kind:tool_result", Box::new(|s| s.kind == "tool_result")),
        (
            "kind:run_start,run_end",
            Box::new(|s| s.kind == "run_start" || s.kind == "run_end"),
        ),
        (
            "error:SCHEMA_MISMATCH",
            Box::new(|s| s.error == Some("SCHEMA_MISMATCH")),
        ),
        (
            "error:smtp_*",
            Box::new(|s| s.error.is_some_and(|e| e.starts_with("SMTP_"))),
        ),
        ("error:NOPE", Box::new(|_| false)),
    ];
    for (query, pred) in cases {
        let want = f.steps_where(|s| pred(s));
        let got = keys(&f, &f.search(query));
        assert_eq!(got, want, "{query}");
    }
}

#[test]
fn filters_combine_with_each_other_and_with_text() {
    let f = setup();
    let cases: Vec<(&str, StepPred)> = vec![
        (
            "status:error agent:support-bot",
            Box::new(|s| s.status == Some("error") && s.run.agent == "support-bot"),
        ),
        (
            "kind:tool_call label:env=prod since:6h",
            Box::new(|s| {
                s.kind == "tool_call" && s.run.env == "prod" && s.run.last() >= NOW - 6 * HOUR
            }),
        ),
        (
            "tool:issue_refund outcome:success model:gpt-4o",
            Box::new(|s| {
                is_tool(s.kind) && s.name == Some("issue_refund") && s.run.outcome == "success"
            }),
        ),
        // Text and filters: "refund" is in the names and texts of several steps.
        (
            "refund agent:billing-agent status:error",
            Box::new(|s| {
                s.run.agent == "billing-agent"
                    && s.status == Some("error")
                    && s.line.to_lowercase().contains("refund")
            }),
        ),
        (
            "refund kind:tool_call",
            Box::new(|s| s.kind == "tool_call" && s.line.to_lowercase().contains("refund")),
        ),
        (
            "order outcome:success",
            Box::new(|s| {
                s.run.outcome == "success"
                    && s.kind != "run_start"
                    && s.line.to_lowercase().contains("order")
            }),
        ),
    ];
    for (query, pred) in cases {
        let want = f.steps_where(|s| pred(s));
        assert!(!want.is_empty(), "{query}: the oracle selects something");
        let got = keys(&f, &f.search(query));
        assert_eq!(got, want, "{query}");
    }
    // Run filters with text that only runs have.
    let got = keys(&f, &f.search("gpt-4o outcome:failure"));
    assert_eq!(
        got,
        f.runs_where(|r| r.model == "gpt-4o" && r.outcome == "failure")
    );
}

#[test]
fn text_of_inputs_and_outputs_is_found_through_the_index_only() {
    let f = setup();
    let cases = [
        ("parcelforce", "r-001", 3, "output"),
        ("4411", "r-001", 2, "input"),
        ("\"refund was issued\"", "r-002", 1, "input"),
        ("escalated billing", "r-005", 2, "output"),
        ("escalate", "r-005", 1, "input"),
    ];
    for (query, run, position, field) in cases {
        let hits = f.search(query);
        let hit = hits
            .iter()
            .find(|h| f.history.run(h.run).id() == run && h.step == Some(position))
            .unwrap_or_else(|| panic!("{query}: {run}#{position} in {hits:?}"));
        assert_eq!(hit.field, field, "{query}");
        assert!(!hit.positions.is_empty(), "{query}: highlighted");
        // Without the text index, only names and error labels are searched.
        let meta = run_search(&f.history, None, query, 100);
        assert!(
            !meta
                .iter()
                .any(|h| f.history.run(h.run).id() == run && h.step == Some(position)),
            "{query}: found without the index?"
        );
    }
    // A phrase needs its words together and in order.
    let hits = f.search("\"issued was refund\"");
    assert!(hits.is_empty(), "{hits:?}");
    // One letter is no word: nothing, rather than everything.
    assert!(f.search("a").is_empty());
}

#[test]
fn every_step_is_found_by_a_word_of_its_record_in_every_format() {
    // For each fixture format, pick for some steps a word of their own record that is
    // rare in the history, search it, and expect that step among the hits.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for format in [
        "assets/demo",
        "tests/fixtures/otel",
        "tests/fixtures/claude_code",
        "tests/fixtures/codex",
        "tests/fixtures/tau_bench/mini.json",
    ] {
        let history = load(&root.join(format));
        let index = build(&history);
        assert!(index.is_current(&history));
        let mut words_per_step = Vec::new();
        let mut frequency = std::collections::HashMap::<String, usize>::new();
        for run in history.runs() {
            for step in run.load_steps().unwrap() {
                let mut words = BTreeSet::new();
                let mut add = |t: &str| {
                    search::tokens::Words::default().each(t, true, &mut |w| {
                        words.insert(w.to_owned());
                    })
                };
                if let Some(n) = &step.name {
                    add(n);
                }
                search::tokens::value_text(&step.record, true, &mut add);
                for w in &words {
                    *frequency.entry(w.clone()).or_default() += 1;
                }
                words_per_step.push((run.index(), step.step, words));
            }
        }
        let mut checked = 0;
        for (run, position, words) in words_per_step.iter().step_by(3) {
            // Its rarest word (the longest of those).
            let Some(word) = words
                .iter()
                .filter(|w| w.len() >= 3)
                .min_by_key(|w| (frequency[*w], std::cmp::Reverse(w.len())))
            else {
                continue;
            };
            let hits = run_search(&history, Some(&index), word, frequency[word] + 50);
            assert!(
                hits.iter()
                    .any(|h| h.run == *run && h.step == Some(*position)),
                "{format}: {word:?} finds run {run} step {position}: {hits:?}"
            );
            checked += 1;
        }
        assert!(checked >= 2, "{format}: {checked} steps checked");
    }
}

#[test]
fn runs_that_arrive_while_watching_are_found_after_an_update() {
    let f = setup();
    let mut history = load(&f.path);
    let mut index = build(&history);
    let watcher = watch(
        vec![f.path.clone()],
        &history,
        WatchOptions {
            poll: true,
            interval: Duration::from_millis(20),
            ..WatchOptions::default()
        },
    );
    let late = RunSpec {
        id: "r-late",
        agent: "support-bot",
        model: "gpt-4o",
        env: "prod",
        start: NOW - MIN,
        outcome: "failure",
        steps: vec![
            step("llm_call", "think")
                .output(json!({"text": "the zebrafish supplier is unreachable"})),
            step("tool_result", "call_supplier").failed("SUPPLIER_DOWN", "connection refused"),
        ],
    };
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(f.path.join("more.jsonl"))
        .unwrap();
    for line in late.lines() {
        writeln!(file, "{line}").unwrap();
    }
    drop(file);
    let deadline = Instant::now() + Duration::from_secs(30);
    while history
        .find_run("r-late")
        .map_or(true, |r| r.step_count() < 4)
    {
        let left = deadline.saturating_duration_since(Instant::now());
        match watcher.events.recv_timeout(left) {
            Ok(WatchEvent::Failed(reason)) => panic!("watch failed: {reason}"),
            Ok(event) => {
                history.apply_watch(event);
                history.settle();
            }
            Err(_) => panic!("the late run did not arrive"),
        }
    }
    let late_run = history.find_run("r-late").unwrap().index();
    let found = |history: &History, index: &TextIndex, q: &str| -> Vec<Option<u32>> {
        run_search(history, Some(index), q, 50)
            .iter()
            .filter(|h| h.run == late_run)
            .map(|h| h.step)
            .collect()
    };
    // Before the update its names and error code are found, not its text.
    assert!(!index.is_current(&history));
    assert_eq!(found(&history, &index, "SUPPLIER_DOWN"), [Some(2)]);
    assert!(found(&history, &index, "zebrafish").is_empty());
    // The index catches up with the new steps only.
    let before = index.covered();
    assert!(index.update(&history, &Cancel::never()).unwrap());
    assert!(index.is_current(&history));
    assert_eq!(index.covered() as usize - before as usize, 4);
    assert_eq!(found(&history, &index, "zebrafish"), [Some(1)]);
    assert_eq!(found(&history, &index, "zebrafsh supplier"), [Some(1)]);
    assert_eq!(found(&history, &index, "SUPPLIER_DOWN"), [Some(2)]);
    // And the old runs are still found as before.
    let hits = run_search(&history, Some(&index), "parcelforce", 10);
    assert_eq!(hits.len(), 1);
    assert_eq!(history.run(hits[0].run).id(), "r-001");
    // An index built from scratch agrees.
    let fresh = build(&history);
    for q in ["zebrafish", "refund", "order", "SUPPLIER_DOWN"] {
        let a = run_search(&history, Some(&index), q, 100);
        let b = run_search(&history, Some(&fresh), q, 100);
        assert_eq!(a, b, "{q}");
    }
}

#[test]
fn a_step_that_arrives_late_and_reorders_its_run_is_found_where_it_lands() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("a.jsonl");
    let line = |step: u32, text: &str| {
        json!({"run_id": "r-9", "step": step, "kind": "message", "output": text}).to_string() + "\n"
    };
    // Step 2 is missing at first.
    let first = [
        line(0, "opening words"),
        line(1, "firstword here"),
        line(3, "thirdword here"),
    ]
    .concat();
    std::fs::write(&log, first).unwrap();
    let mut history = load(dir.path());
    let mut index = build(&history);
    let watcher = watch(
        vec![dir.path().to_path_buf()],
        &history,
        WatchOptions {
            poll: true,
            interval: Duration::from_millis(20),
            ..WatchOptions::default()
        },
    );
    let mut file = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    write!(
        file,
        "{}{}",
        line(2, "latecomer here"),
        line(4, "fourthword here")
    )
    .unwrap();
    drop(file);
    let deadline = Instant::now() + Duration::from_secs(30);
    while history.find_run("r-9").unwrap().step_count() < 5 {
        let left = deadline.saturating_duration_since(Instant::now());
        match watcher.events.recv_timeout(left) {
            Ok(WatchEvent::Failed(reason)) => panic!("watch failed: {reason}"),
            Ok(event) => {
                history.apply_watch(event);
                history.settle();
            }
            Err(_) => panic!("the late steps did not arrive"),
        }
    }
    assert!(index.update(&history, &Cancel::never()).unwrap());
    for (word, position) in [
        ("firstword", 1),
        ("latecomer", 2),
        ("thirdword", 3),
        ("fourthword", 4),
    ] {
        let hits: Vec<Option<u32>> = run_search(&history, Some(&index), word, 10)
            .iter()
            .map(|h| h.step)
            .collect();
        assert_eq!(hits, [Some(position)], "{word}");
    }
    // The same as an index built from scratch.
    let fresh = build(&history);
    for q in ["here", "latecomer", "thirdword", "words"] {
        assert_eq!(
            run_search(&history, Some(&index), q, 10),
            run_search(&history, Some(&fresh), q, 10),
            "{q}"
        );
    }
}

#[test]
fn walking_matches_inside_one_run() {
    let f = setup();
    let run = f.history.find_run("r-003").unwrap();
    let query = Query::parse("refund").unwrap();
    let options = SearchOptions {
        limit: 100,
        now: NOW,
        only_run: Some(run.index()),
    };
    let hits = search::search(
        &f.history,
        Some(&f.index),
        &query,
        &options,
        &Cancel::never(),
    )
    .unwrap()
    .hits;
    let got: BTreeSet<Key> = keys(&f, &hits);
    let want = f.steps_where(|s| s.run.id == "r-003" && s.line.to_lowercase().contains("refund"));
    assert_eq!(got, want);
}

#[test]
fn a_cancelled_search_stops() {
    let f = setup();
    let query = Query::parse("refund").unwrap();
    let result = search::search(
        &f.history,
        Some(&f.index),
        &query,
        &SearchOptions::default(),
        &cancelled(),
    );
    assert!(result.is_err());
}

#[test]
fn runs_sort_by_time_duration_steps_and_errors() {
    let f = setup();
    let mut listed: Vec<_> = f.history.runs().collect();
    for (by, descending) in [
        (RunSort::Time, false),
        (RunSort::Time, true),
        (RunSort::Duration, true),
        (RunSort::Steps, true),
        (RunSort::Errors, true),
    ] {
        runs::sort_runs(&mut listed, Order { by, descending });
        let figures: Vec<i64> = listed
            .iter()
            .map(|r| match by {
                RunSort::Time => r.started_at().unwrap(),
                RunSort::Duration => r.duration_ms().unwrap(),
                RunSort::Steps => r.step_count() as i64,
                RunSort::Errors => i64::from(r.error_count()),
            })
            .collect();
        let mut sorted = figures.clone();
        sorted.sort();
        if descending {
            sorted.reverse();
        }
        assert_eq!(figures, sorted, "{by:?}");
    }
}

fn retrace(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_retrace"))
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .args(args)
        .output()
        .expect("run retrace")
}

#[test]
fn json_lines_have_the_documented_shape() {
    let f = setup();
    let path = f.path.to_str().unwrap();
    let out = retrace(&["search", "refund", path, "--json", "--limit", "5"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // The last line carries the history's problems, as `ls --json` does.
    let last = lines.pop().unwrap();
    assert_eq!(last, json!({"problems": []}));
    assert_eq!(lines.len(), 5);
    let expected: Vec<Hit> = f.search("refund").into_iter().take(5).collect();
    let mut previous = u64::MAX;
    for (line, hit) in lines.iter().zip(&expected) {
        let obj = line.as_object().unwrap();
        let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["field", "positions", "run_id", "score", "snippet", "step"]
        );
        assert_eq!(line["run_id"], f.history.run(hit.run).id());
        assert_eq!(line["step"], json!(hit.step));
        assert!(line["field"].is_string() && line["snippet"].is_string());
        let score = line["score"].as_u64().unwrap();
        assert!(score <= previous, "ranked");
        previous = score;
        let chars = line["snippet"].as_str().unwrap().chars().count() as u64;
        for p in line["positions"].as_array().unwrap() {
            assert!(p.as_u64().unwrap() < chars);
        }
    }
    // Run hits have a null step.
    let out = retrace(&["search", "r-001", path, "--json"]);
    let first: Value = serde_json::from_str(
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(first["step"], Value::Null);
    assert_eq!(first["field"], "run_id");
}

#[test]
fn human_output_is_sanitized_and_plain_when_not_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let hostile = json!({"run_id": "r-x", "step": 1, "kind": "message",
                         "output": "evil \u{1b}]0;pwned\u{7} title \u{1b}[2J wipe \u{202e}desrever"})
    .to_string();
    std::fs::write(dir.path().join("h.jsonl"), format!("{hostile}\n")).unwrap();
    let out = retrace(&["search", "pwned", dir.path().to_str().unwrap()]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("r-x"), "{text}");
    assert!(text.contains("\\x1b]0;pwned\\x07"), "{text}");
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{7}') && !text.contains('\u{202e}'),
        "{text:?}"
    );
}

#[test]
fn malformed_queries_are_usage_errors() {
    let f = setup();
    let path = f.path.to_str().unwrap();
    for query in [
        "since:banana",
        "outcome:maybe",
        "kind:blob refund",
        "label:=",
    ] {
        let out = retrace(&["search", query, path]);
        assert_eq!(out.status.code(), Some(2), "{query}");
        let err = String::from_utf8_lossy(&out.stderr);
        let key = query.split(':').next().unwrap().split(' ').next().unwrap();
        assert!(err.contains(key), "{query}: {err}");
        assert!(out.stdout.is_empty());
    }
    let out = retrace(&["search", "refund", path, "--limit", "0"]);
    assert_eq!(out.status.code(), Some(2));
}

/// The 1 GB benchmark: `benches/search_1g.sh` (or `RETRACE_BENCH_FILE=... cargo test
/// --release --test search -- --ignored --nocapture bench_search_1g`).
#[test]
#[ignore]
fn bench_search_1g() {
    let path =
        std::env::var("RETRACE_BENCH_FILE").unwrap_or_else(|_| "/work/bench/big.jsonl".into());
    let rss = || -> u64 {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            })
            .unwrap_or(0)
            * 1024
    };
    let started = Instant::now();
    let history = History::load(&[PathBuf::from(&path)], &LoadOptions::default()).unwrap();
    println!(
        "load: {} runs, {} steps in {:.2} s",
        history.run_count(),
        history.step_count(),
        started.elapsed().as_secs_f64()
    );
    let rss_before = rss();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let started = Instant::now();
    let index = TextIndex::build(&history, threads, &Cancel::never(), &AtomicU64::new(0))
        .unwrap()
        .unwrap();
    let took = started.elapsed();
    let stats = index.stats();
    println!(
        "text index: built in {:.2} s on {threads} threads; {:.1} MB held ({} words in {} segments, {} as bitmaps; lists {:.1} MB, bitmaps {:.1} MB, vocabulary {:.1} MB); RSS +{:.1} MB",
        took.as_secs_f64(),
        stats.heap_bytes as f64 / 1e6,
        stats.words,
        stats.segments,
        stats.dense_words,
        stats.list_bytes as f64 / 1e6,
        stats.bitmap_bytes as f64 / 1e6,
        stats.vocabulary_bytes as f64 / 1e6,
        (rss().saturating_sub(rss_before)) as f64 / 1e6,
    );
    let queries = [
        "SCHEMA_MISMATCH",
        "error:SCHEMA_MISMATCH",
        "refnd polcy",
        "schema_mismtch",
        "refund",
        "\"refund policy\"",
        "refund policy outcome:failure agent:billing-agent",
        "tool:issue_refund status:error",
        "run-00051301",
        "support-bot",
    ];
    for q in queries {
        let query = Query::parse(q).unwrap();
        let mut times = Vec::new();
        let mut result = None;
        for _ in 0..7 {
            let started = Instant::now();
            let r = search::search(
                &history,
                Some(&index),
                &query,
                &SearchOptions {
                    limit: 20,
                    ..SearchOptions::default()
                },
                &Cancel::never(),
            )
            .unwrap();
            times.push(started.elapsed().as_secs_f64() * 1e3);
            result = Some(r);
        }
        times.sort_by(f64::total_cmp);
        let r = result.unwrap();
        println!(
            "query {q:?}: median {:.1} ms (min {:.1}, max {:.1}); {} candidates, {} hits, first: {}",
            times[times.len() / 2],
            times[0],
            times[times.len() - 1],
            r.candidates,
            r.hits.len(),
            r.hits
                .first()
                .map(|h| format!("{} #{:?} {} {}", history.run(h.run).id(), h.step, h.field, h.snippet))
                .unwrap_or_default()
        );
    }
}

/// A token cancelled before the work starts.
fn cancelled() -> Cancel {
    let c = Cancel::new();
    c.cancel();
    c
}
