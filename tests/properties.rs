//! Property tests on untrusted input: arbitrary bytes and mutated valid records fed to
//! the scanner, every adapter, the format detector, the sanitizer, the query parser and
//! the divergence alignment. Nothing panics, nothing hangs, valid input round-trips.
//!
//! `cargo test` runs 1,000 cases per property; `.ci/proptest-deep` runs 10,000 or more
//! in release mode (`PROPTEST_CASES`).

use proptest::prelude::*;
use retrace::diverge;
use retrace::ingest::scan::{array_elements, scan_object, ValueType};
use retrace::ingest::{detect::detect, native::parse_event, parse_record, Context, Event};
use retrace::model::{Format, Status, Step, StepKind};
use retrace::sanitize;
use retrace::search::Query;

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

/// Valid records of every format, to mutate.
const SEEDS: [(Format, &str); 5] = [
    (
        Format::Native,
        include_str!("fixtures/native/interleaved.jsonl"),
    ),
    (Format::Otel, include_str!("fixtures/otel/traces.jsonl")),
    (
        Format::ClaudeCode,
        include_str!("fixtures/claude_code/session.jsonl"),
    ),
    (
        Format::Codex,
        include_str!(
            "fixtures/codex/rollout-2026-02-23T10-00-00-0199aaaa-bbbb-7ccc-8ddd-eeeeffff0000.jsonl"
        ),
    ),
    (
        Format::TauBench,
        include_str!("fixtures/tau_bench/mini.json"),
    ),
];

/// The records of a seed: its lines, or the whole document.
fn records(format: Format, text: &str) -> Vec<&str> {
    if format == Format::TauBench {
        vec![text]
    } else {
        text.lines().filter(|l| !l.trim().is_empty()).collect()
    }
}

/// Parses one record as `format`, with and without full records; must not panic.
fn parse(format: Format, text: &str) -> Result<usize, String> {
    let ctx = Context { file_stem: "prop" };
    let mut steps = 0;
    for with_records in [false, true] {
        let mut out: Vec<Event> = Vec::new();
        let mut problems = Vec::new();
        parse_record(format, text, &ctx, with_records, &mut out, &mut problems)?;
        for (offset, _) in &problems {
            // A note about the whole file (a record type not known) has no place in it.
            let whole_file = *offset == retrace::ingest::FILE_NOTE;
            assert!(
                *offset <= text.len() || whole_file,
                "a problem inside the record"
            );
        }
        for ev in &out {
            if let Some((start, len)) = ev.span {
                assert!(start + len <= text.len(), "a span inside the record");
            }
        }
        steps = out.len();
    }
    Ok(steps)
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Delete(usize, usize),
    Insert(usize, Vec<u8>),
    Truncate(usize),
    Duplicate(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Mutation::Flip(at, b)),
        (any::<usize>(), 1..64usize).prop_map(|(at, n)| Mutation::Delete(at, n)),
        (
            any::<usize>(),
            prop::collection::vec(
                prop_oneof![
                    Just(b'{'),
                    Just(b'}'),
                    Just(b'['),
                    Just(b']'),
                    Just(b'"'),
                    Just(b'\\'),
                    Just(b','),
                    Just(b':'),
                    Just(b'\n'),
                    any::<u8>()
                ],
                1..8
            )
        )
            .prop_map(|(at, bytes)| Mutation::Insert(at, bytes)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), 1..200usize).prop_map(|(at, n)| Mutation::Duplicate(at, n)),
    ]
}

fn mutate(text: &str, mutations: &[Mutation]) -> String {
    let mut b = text.as_bytes().to_vec();
    for m in mutations {
        let at = |i: usize, b: &Vec<u8>| if b.is_empty() { 0 } else { i % (b.len() + 1) };
        match m {
            Mutation::Flip(i, byte) if !b.is_empty() => {
                let i = i % b.len();
                b[i] ^= byte | 1;
            }
            Mutation::Flip(..) => {}
            Mutation::Delete(i, n) => {
                let i = at(*i, &b);
                let end = (i + n).min(b.len());
                b.drain(i..end);
            }
            Mutation::Insert(i, bytes) => {
                let i = at(*i, &b);
                b.splice(i..i, bytes.iter().copied());
            }
            Mutation::Truncate(i) => {
                let i = at(*i, &b);
                b.truncate(i);
            }
            Mutation::Duplicate(i, n) => {
                let i = at(*i, &b);
                let end = (i + n).min(b.len());
                let part = b[i..end].to_vec();
                b.splice(end..end, part);
            }
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

/// A seed record and mutations to apply to it.
fn mutated_record() -> impl Strategy<Value = (Format, String, String)> {
    (
        0..SEEDS.len(),
        any::<prop::sample::Index>(),
        prop::collection::vec(mutation(), 1..6),
    )
        .prop_map(|(seed, pick, mutations)| {
            let (format, text) = SEEDS[seed];
            let recs = records(format, text);
            let original = recs[pick.index(recs.len())].to_string();
            let mutated = mutate(&original, &mutations);
            (format, original, mutated)
        })
}

fn format() -> impl Strategy<Value = Format> {
    prop::sample::select(Format::ALL.to_vec())
}

/// JSON-ish text: arbitrary, but made mostly of JSON's own characters so that parsers
/// get past their first byte.
fn jsonish() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            3 => prop::sample::select(vec![
                "{", "}", "[", "]", "\"", ":", ",", "\\", "\\u", "\\ud800", "null", "true",
                "-0.5e9", "123", "\"run_id\"", "\"kind\"", "\"step\"", "\"type\"",
                "\"resourceSpans\"", "\"message\"", "\"payload\"", " ", "\n", "é", "\u{202e}",
            ])
            .prop_map(str::to_owned),
            1 => any::<String>(),
        ],
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

fn assert_all_valid_records_parse() {
    for (format, text) in SEEDS {
        for record in records(format, text) {
            let result = parse(format, record);
            assert!(result.is_ok(), "{format:?}: {record}: {result:?}");
        }
    }
}

#[test]
fn every_valid_seed_record_parses() {
    assert_all_valid_records_parse();
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn adapters_never_panic_on_arbitrary_text(format in format(), text in jsonish()) {
        let _ = parse(format, &text);
    }

    #[test]
    fn adapters_never_panic_on_arbitrary_bytes(format in format(), bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = parse(format, &String::from_utf8_lossy(&bytes));
        let _ = detect(&bytes);
    }

    #[test]
    fn adapters_never_panic_on_mutated_valid_records((format, original, mutated) in mutated_record()) {
        for f in Format::ALL {
            let _ = parse(f, &mutated);
        }
        let _ = detect(mutated.as_bytes());
        // The unmutated record still parses (the seed is valid, or was bad already).
        let _ = parse(format, &original);
    }

    #[test]
    fn scanner_never_panics_and_spans_are_in_bounds(text in jsonish()) {
        let _ = scan_object(&text, |m| {
            assert!(m.value.len() <= text.len());
            if m.ty == ValueType::String {
                assert!(m.value.len() >= 2 && m.value.starts_with('"'));
                let _ = m.string();
            }
        });
        if let Ok(spans) = array_elements(&text) {
            for (start, len) in spans {
                assert!(text.get(start..start + len).is_some(), "span on char boundaries");
            }
        }
    }

    #[test]
    fn scanner_round_trips_any_object(members in prop::collection::btree_map(any::<String>(), json_value(), 0..8)) {
        let text = format!(
            "{{{}}}",
            members
                .iter()
                .map(|(k, v)| format!("{}: {}", serde_json::to_string(k).unwrap(), v))
                .collect::<Vec<_>>()
                .join(" , ")
        );
        let mut seen = Vec::new();
        scan_object(&text, |m| {
            let key: String = serde_json::from_str(&format!("\"{}\"", std::str::from_utf8(m.key).unwrap())).unwrap();
            let value: serde_json::Value = serde_json::from_str(m.value).unwrap();
            if let Some(s) = m.string() {
                assert_eq!(Some(s.as_str()), value.as_str());
            }
            seen.push((key, value));
        }).unwrap();
        let want: Vec<(String, serde_json::Value)> = members.into_iter().collect();
        prop_assert_eq!(seen, want);
    }

    #[test]
    fn native_lines_round_trip(
        run_id in any::<String>().prop_filter("a run id", |s| !s.is_empty()),
        step in any::<u32>(),
        kind in prop::sample::select(vec!["tool_call", "tool_result", "llm_call", "message", "error", "custom_kind"]),
        name in proptest::option::of(any::<String>()),
        payload in json_value(),
    ) {
        let mut record = serde_json::json!({"run_id": run_id, "step": step, "kind": kind, "input": payload});
        if let Some(name) = &name {
            record["name"] = serde_json::Value::from(name.clone());
        }
        let line = record.to_string();
        let ev = parse_event(&line).unwrap();
        prop_assert_eq!(ev.run_id.as_ref(), run_id.as_str());
        prop_assert_eq!(ev.step, Some(step));
        prop_assert_eq!(ev.kind.as_ref(), kind);
        prop_assert_eq!(ev.name.as_deref(), name.as_deref());
    }

    #[test]
    fn sanitized_text_never_holds_a_control_character(text in any::<String>()) {
        for safe in [sanitize::line(&text), sanitize::text(&text)] {
            prop_assert!(!safe.chars().any(|c| (c.is_control() && c != '\n') || is_bidi(c)), "{:?}", safe);
        }
        prop_assert!(!sanitize::line(&text).contains('\n'));
    }

    #[test]
    fn sanitizing_plain_text_changes_nothing(text in "[^\\p{Cc}\u{061C}\u{200E}\u{200F}\u{202A}-\u{202E}\u{2066}-\u{2069}]*") {
        let safe = sanitize::line(&text);
        prop_assert_eq!(safe.as_ref(), text.as_str());
    }

    #[test]
    fn query_parser_never_panics_and_errors_point_inside_the_query(text in query_text()) {
        if let Err(e) = Query::parse(&text) {
            prop_assert!(e.span.start <= e.span.end && e.span.end <= text.len());
            prop_assert!(text.get(e.span.clone()).is_some(), "span on char boundaries");
        }
    }

    #[test]
    fn query_words_round_trip(words in prop::collection::vec("[a-z]{1,10}", 1..6)) {
        // The free text's words come back in order (very short ones may be left out),
        // whatever their case, and a phrase holds the same words.
        let query = Query::parse(&words.join(" ")).unwrap();
        let got: Vec<&str> = query.words().collect();
        let mut rest = words.iter();
        for w in &got {
            prop_assert!(rest.any(|x| x == w), "{:?} in order in {:?}", w, words);
        }
        let long: Vec<&str> = words.iter().map(String::as_str).filter(|w| w.len() >= 3).collect();
        prop_assert!(long.iter().all(|w| got.contains(w)), "{:?} keeps {:?}", got, long);
        let upper = Query::parse(&words.join(" ").to_uppercase()).unwrap();
        prop_assert_eq!(upper.words().collect::<Vec<_>>(), got.clone());
        let phrase = Query::parse(&format!("\"{}\"", words.join(" "))).unwrap();
        prop_assert_eq!(phrase.words().collect::<Vec<_>>(), got);
    }

    #[test]
    fn redaction_never_panics_and_hides_a_planted_key(before in jsonish(), after in jsonish()) {
        let key = "sk-proj-Zq8Xw3Vt6Ys9Ru2Pq5On";
        let text = format!("{before} {key} {after}");
        let hidden = retrace::redact::text(&text, retrace::redact::Redaction::default());
        prop_assert!(!hidden.contains(key), "{}", hidden);
        let _ = retrace::redact::text(&before, retrace::redact::Redaction::default());
    }

    #[test]
    fn alignment_keeps_every_step_once_in_order(a in run(), b in run()) {
        let cmp = diverge::compare(&a, &b);
        // Every step once; in order, except inside a parallel group, whose members are
        // matched by what they are, not by position.
        let side = |pick: fn(&diverge::Row) -> Option<usize>| {
            let mut all: Vec<usize> = cmp.rows.iter().filter_map(pick).collect();
            let outside: Vec<usize> = cmp.rows.iter().filter(|r| r.group.is_none()).filter_map(pick).collect();
            all.sort_unstable();
            (all, outside)
        };
        let (firsts, outside_a) = side(|r| r.a);
        let (seconds, outside_b) = side(|r| r.b);
        prop_assert_eq!(firsts, (0..a.len()).collect::<Vec<_>>());
        prop_assert_eq!(seconds, (0..b.len()).collect::<Vec<_>>());
        prop_assert!(outside_a.windows(2).all(|w| w[0] < w[1]), "{:?}", outside_a);
        prop_assert!(outside_b.windows(2).all(|w| w[0] < w[1]), "{:?}", outside_b);
        prop_assert!(cmp.rows.iter().all(|r| r.a.is_some() || r.b.is_some()));
        if let Some(d) = &cmp.divergence {
            prop_assert!(d.row < cmp.rows.len());
            let _ = diverge::explain_row(&a, &b, &cmp, d.row);
        }
    }

    #[test]
    fn a_run_never_diverges_from_itself(a in run()) {
        let cmp = diverge::compare(&a, &a);
        prop_assert!(cmp.divergence.is_none(), "{:?}", cmp.divergence);
        prop_assert!(cmp.rows.iter().all(|r| r.a == r.b && r.is_same()));
    }
}

fn is_bidi(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn query_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            3 => prop::sample::select(vec![
                "outcome:", "status:", "tool:", "agent:", "kind:", "error:", "label:", "since:",
                "until:", "model:", "\"", "'", " ", "=", "2h", "7d", "-", "failure", "error",
                "x=y", "é", ":", "\\", "2026-01-01T00:00:00Z",
            ])
            .prop_map(str::to_owned),
            1 => any::<String>(),
        ],
        0..12,
    )
    .prop_map(|parts| parts.concat())
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<String>().prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map("[a-z\"\\\\]{0,5}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A generated run: steps of a few kinds and names, some failing, with inputs.
fn run() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        (
            prop::sample::select(vec![
                StepKind::LlmCall,
                StepKind::ToolCall,
                StepKind::ToolResult,
                StepKind::Message,
                StepKind::Error,
            ]),
            prop::sample::select(vec!["search", "refund", "lookup", "email", "plan"]),
            any::<bool>(),
            0..4u8,
        ),
        0..40,
    )
    .prop_map(|steps| {
        steps
            .into_iter()
            .enumerate()
            .map(|(i, (kind, name, failed, arg))| Step {
                step: i as u32,
                id: i.to_string(),
                parent: None,
                kind,
                kind_name: kind.as_str().to_string(),
                name: Some(name.to_string()),
                status: if failed { Status::Error } else { Status::Ok },
                error: None,
                ts: Some(1_700_000_000_000 + i as i64 * 1000),
                duration_ms: None,
                record: serde_json::json!({"kind": kind.as_str(), "name": name, "input": {"arg": arg}}),
            })
            .collect()
    })
}
