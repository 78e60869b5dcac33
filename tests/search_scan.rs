//! The scan (text search without a word index, `retrace search`'s one-shot path) finds
//! what the word index finds: the same candidates, hits, scores and snippets, on the
//! demo, the native fixtures and generated histories whose text hides words behind
//! JSON escapes, case, characters outside ASCII and joined words. So does the scan fused
//! with the load (`retrace search`'s path: the load's parser threads test each chunk's
//! lines), cold, from a warm index cache (the cached files' bytes scanned in blocks
//! alongside the load, or after it), and for a file grown since it was cached. So does
//! the browser's search before its word index (every file scanned in blocks).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;

use std::sync::Arc;

use retrace::index::{History, LineScanHook, LoadEvent, LoadOptions};
use retrace::search::{
    self, FusedText, LateScan, Query, QueryLineScan, ScanReports, ScanText, SearchOptions,
    SearchResult, TextIndex,
};
use retrace::work::Cancel;

const NOW: i64 = 1_795_176_000_000;

fn load(paths: &[PathBuf]) -> History {
    let options = LoadOptions {
        chunk_size: 4096,
        ..LoadOptions::default()
    };
    History::load(paths, &options).unwrap()
}

fn index(history: &History) -> TextIndex {
    TextIndex::build(history, 2, &Cancel::never(), &AtomicU64::new(0))
        .unwrap()
        .expect("not cancelled")
}

/// By the word index, by the record scan, by the block scan (the browser's, before its
/// word index is built).
fn three(history: &History, index: &TextIndex, query: &str, limit: usize) -> [SearchResult; 3] {
    let parsed = Query::parse(query).unwrap_or_else(|e| panic!("{query}: {e}"));
    let options = SearchOptions {
        limit,
        now: NOW,
        only_run: None,
    };
    let never = Cancel::never();
    let by_index = search::search(history, Some(index), &parsed, &options, &never).unwrap();
    let scan = ScanText::new(history, 3).expect("native files");
    let by_scan = search::search_in(history, Some(&scan), &parsed, &options, &never).unwrap();
    let blocks = FusedText::scan(history, &parsed, 3, &never).expect("native files");
    let by_blocks = search::search_in(history, Some(&blocks), &parsed, &options, &never).unwrap();
    [by_index, by_scan, by_blocks]
}

/// Every query gives the same result all three ways, with a small and a large limit.
fn assert_same(history: &History, queries: &[&str]) -> usize {
    let index = index(history);
    let mut found = 0;
    for query in queries {
        for limit in [3, 1000] {
            let [a, b, c] = three(history, &index, query, limit);
            assert!(
                !a.fuzzy_truncated,
                "{query}: the index ran out of fuzzy budget"
            );
            for (how, other) in [("records", &b), ("blocks", &c)] {
                assert_eq!(a.hits, other.hits, "{query} (limit {limit}, {how})");
                assert_eq!(
                    a.candidates, other.candidates,
                    "{query} (limit {limit}, {how})"
                );
                assert_eq!(a.text_covered, other.text_covered, "{query} ({how})");
            }
            found += a.hits.len();
        }
    }
    found
}

const QUERIES: &[&str] = &[
    "refund",
    "Refund",
    "REFUND",
    "refnd",
    "refund policy",
    "\"refund policy\"",
    "\"policy refund\"",
    "polcy",
    "ref",
    "re",
    "x",
    "schema_mismatch",
    "SCHEMA_MISMATCH",
    "schema_mismtch",
    // Long fuzzy words: lines found by their long runs of word bytes.
    "issue_refnd",
    "schemamismatch",
    "\"SCHEMA_MISMATCH\"",
    "error:SCHEMA_MISMATCH",
    "schema outcome:failure",
    "refund tool:issue_refund",
    "refund status:error",
    "kind:tool_call refund",
    "issue",
    "issue_refund",
    "kelvin",
    "istanbul",
    "café",
    "CAFÉ",
    "ärger",
    "hidden",
    "hiddenword",
    "escaped",
    "broken_escape",
    "brokenescape",
    "42",
    "4242",
    "2026",
    "timeout",
    "tmeout",
    "db.write",
    "support-bot",
    "agent:billing-agent refund",
    "label:env=prod refund",
    "newline",
    "tabbed words",
    "\"tabbed words\"",
    "zzzzunknown",
];

/// A small history generator: runs interleaved in two files, text built from a
/// vocabulary that includes escaped, joined, cased and non-ASCII words.
fn generate(dir: &Path, runs: usize, seed: u64) -> Vec<PathBuf> {
    const TEXT: &[&str] = &[
        "refund",
        "Refund",
        "REFUNDED",
        "refunds",
        "policy",
        "the",
        "order",
        "issue_refund",
        "schema_mismatch",
        "SCHEMA_MISMATCH",
        "Schema",
        "mismatch",
        "r\\u0065fund",
        "hidd\\u0065nword",
        "h\\u0069dden",
        "esc\\\"aped",
        "broken\\_escape",
        "\\u212Aelvin",
        "\u{212A}ELVIN",
        "\u{0130}stanbul",
        "café",
        "CAFÉ",
        "Ärger",
        "new\\nline",
        "tabbed\\twords",
        "timeout",
        "TIME_OUT",
        "4242",
        "42",
        "db.write",
        "refund\\npolicy",
        "policy\\u0020refund",
        "ref",
        "x",
        "C:\\\\refund\\\\dir",
        "\\ud83d\\ude00emoji",
    ];
    let mut state = seed;
    let mut next = move |n: usize| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((state >> 33) as usize) % n
    };
    let mut files = [Vec::new(), Vec::new()];
    for r in 0..runs {
        let id = format!("r-{seed}-{r}");
        let agent = ["support-bot", "billing-agent", "crawler"][next(3)];
        let start = NOW - (r as i64) * 60_000;
        let mut lines = vec![format!(
            r#"{{"run_id":"{id}","kind":"run_start","ts":{start},"agent":"{agent}","model":"m-1","labels":{{"env":"{}"}},"input":{{"text":"{} {}"}}}}"#,
            ["prod", "dev"][next(2)],
            TEXT[next(TEXT.len())],
            TEXT[next(TEXT.len())]
        )];
        let steps = 2 + next(6);
        for s in 1..=steps {
            let words: Vec<&str> = (0..1 + next(5)).map(|_| TEXT[next(TEXT.len())]).collect();
            let text = words.join([" ", "-", ", "][next(3)].as_ref());
            let (kind, name) = [
                ("tool_call", "issue_refund"),
                ("tool_result", "issue_refund"),
                ("llm_call", "plan"),
                ("tool_call", "db.write"),
            ][next(4)];
            let error = if next(5) == 0 {
                let code = ["SCHEMA_MISMATCH", "TIMEOUT", "Refund_Failed"][next(3)];
                format!(
                    r#","status":"error","error":{{"code":"{code}","message":"{code} in {name}"}}"#
                )
            } else {
                String::new()
            };
            lines.push(format!(
                r#"{{"run_id":"{id}","step":{s},"kind":"{kind}","name":"{name}","ts":{},"input":{{"q":"{text}","n":{}}},"output":["{}"]{error}}}"#,
                start + s as i64 * 1000,
                next(5000),
                TEXT[next(TEXT.len())]
            ));
        }
        let outcome = ["success", "failure", "timeout"][next(3)];
        lines.push(format!(
            r#"{{"run_id":"{id}","step":{},"kind":"run_end","ts":{},"outcome":"{outcome}"}}"#,
            steps + 1,
            start + 60_000
        ));
        let file = next(2);
        files[file].extend(lines);
    }
    let mut paths = Vec::new();
    for (i, lines) in files.iter().enumerate() {
        let path = dir.join(format!("gen-{i}.jsonl"));
        let mut f = std::fs::File::create(&path).unwrap();
        for l in lines {
            writeln!(f, "{l}").unwrap();
        }
        paths.push(path);
    }
    paths
}

#[test]
fn the_scan_finds_what_the_index_finds_in_generated_histories() {
    for seed in [1, 2, 3] {
        let dir = tempfile::tempdir().unwrap();
        let paths = generate(dir.path(), 120, seed);
        let history = load(&paths);
        assert!(history.problems().is_empty(), "{:?}", history.problems());
        let found = assert_same(&history, QUERIES);
        assert!(found > 500, "the queries find something: {found}");
    }
}

#[test]
fn words_behind_escapes_and_outside_ascii_are_found_by_the_scan() {
    let dir = tempfile::tempdir().unwrap();
    let paths = generate(dir.path(), 60, 7);
    let history = load(&paths);
    let scan = ScanText::new(&history, 2).unwrap();
    for (query, escaped) in [
        ("hiddenword", "hidd\\u0065nword"),
        ("hidden", "h\\u0069dden"),
        ("kelvin", "\u{212A}ELVIN"),
        ("istanbul", "\u{0130}stanbul"),
        ("ärger", "Ärger"),
        ("\"refund policy\"", "refund\\npolicy"),
    ] {
        let raw_lines = paths
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect::<String>();
        assert!(raw_lines.contains(escaped), "{escaped} in the data");
        let parsed = Query::parse(query).unwrap();
        let options = SearchOptions {
            limit: 1000,
            now: NOW,
            only_run: None,
        };
        let r =
            search::search_in(&history, Some(&scan), &parsed, &options, &Cancel::never()).unwrap();
        let index = index(&history);
        let by_index =
            search::search(&history, Some(&index), &parsed, &options, &Cancel::never()).unwrap();
        assert_eq!(r.hits, by_index.hits, "{query}");
        assert!(
            r.hits.iter().any(|h| h.step.is_some()),
            "{query}: found through its escaped form"
        );
    }
}

#[test]
fn the_scan_finds_what_the_index_finds_in_the_demo_and_native_fixtures() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for path in [root.join("assets/demo"), root.join("tests/fixtures/native")] {
        let history = load(std::slice::from_ref(&path));
        if ScanText::new(&history, 2).is_none() {
            continue;
        }
        let found = assert_same(&history, QUERIES);
        assert!(found > 0, "{}: the queries find something", path.display());
    }
}

#[test]
fn histories_with_other_formats_are_not_scanned() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let history = load(&[root.join("tests/fixtures/otel")]);
    assert!(history.step_count() > 0);
    assert!(ScanText::new(&history, 2).is_none());
}

/// Loads `paths` with `query`'s line scan run by the load (as `retrace search` does):
/// the history and its fused text. `alongside`: the bytes the load takes from the
/// index cache are scanned in blocks while it runs (as `retrace search` does), else
/// after it.
fn load_fused(
    paths: &[PathBuf],
    query: &Query,
    cache: Option<&Path>,
    alongside: bool,
) -> (History, FusedText) {
    let scan = Arc::new(QueryLineScan::new(query));
    let options = LoadOptions {
        chunk_size: 4096,
        cache: cache.map(Path::to_path_buf),
        cache_min_bytes: 0,
        line_scan: Some(LineScanHook(scan.clone())),
        ..LoadOptions::default()
    };
    let mut reports = ScanReports::default();
    let mut load = || {
        let (mut history, loader) = History::open(paths, &options).unwrap();
        for event in loader.events() {
            match event {
                LoadEvent::Batch(mut batch) => {
                    if let Some(scanned) = batch.take_scanned() {
                        reports.add(scanned);
                    }
                    history.apply(batch);
                }
                LoadEvent::Done(result) => {
                    result.unwrap();
                    break;
                }
            }
        }
        history.settle();
        history
    };
    let history = if alongside {
        let (history, blocks) = scan.scan_while(2, load);
        let cached = history.files().iter().any(|f| f.cached > 0);
        assert_eq!(
            blocks.bytes() > 0,
            cached,
            "the cached bytes scanned alongside"
        );
        reports.add_blocks(blocks);
        history
    } else {
        load()
    };
    let never = Cancel::never();
    let text = FusedText::new(&history, &scan, &mut reports, 2, &never).expect("native files");
    (history, text)
}

/// Every query gives, through the fused scan, what the word index gives, the cached
/// bytes scanned alongside the load and after it; returns how many loads had some
/// steps' bytes read apart from the load (from the cache).
fn assert_fused_same(paths: &[PathBuf], cache: Option<&Path>) -> usize {
    let history = load(paths);
    let index = index(&history);
    let never = Cancel::never();
    let mut read_after = 0;
    for query in QUERIES {
        let parsed = Query::parse(query).unwrap();
        for alongside in [true, false] {
            let (fused_history, fused) = load_fused(paths, &parsed, cache, alongside);
            read_after += usize::from(fused.scanned_after_load());
            assert_eq!(fused_history.step_count(), history.step_count());
            for limit in [3, 1000] {
                let options = SearchOptions {
                    limit,
                    now: NOW,
                    only_run: None,
                };
                let a = search::search(&history, Some(&index), &parsed, &options, &never).unwrap();
                let b = search::search_in(&fused_history, Some(&fused), &parsed, &options, &never)
                    .unwrap();
                assert_eq!(
                    a.hits, b.hits,
                    "{query} (limit {limit}, alongside {alongside})"
                );
                assert_eq!(a.candidates, b.candidates, "{query} (limit {limit})");
                assert_eq!(a.text_covered, b.text_covered, "{query}");
            }
        }
    }
    read_after
}

#[test]
fn the_scan_fused_with_the_load_finds_what_the_index_finds() {
    for seed in [1, 2, 3] {
        let dir = tempfile::tempdir().unwrap();
        let paths = generate(dir.path(), 120, seed);
        assert_eq!(
            assert_fused_same(&paths, None),
            0,
            "every line scanned by the load"
        );
    }
}

#[test]
fn the_fused_scan_reads_what_came_from_the_index_cache_and_what_a_file_grew_by() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let paths = generate(dir.path(), 120, 4);
    // The first query's load writes the cache; every later one reads it back.
    let read_after = assert_fused_same(&paths, Some(&cache));
    assert_eq!(
        read_after,
        2 * QUERIES.len() - 1,
        "cached batches are not scanned by the load"
    );
    // Grown: the cached part is read after the load, the new lines are scanned by it.
    let more_dir = dir.path().join("more");
    std::fs::create_dir(&more_dir).unwrap();
    let more = generate(&more_dir, 40, 5);
    let grown = std::fs::read(&more[0]).unwrap();
    std::fs::OpenOptions::new()
        .append(true)
        .open(&paths[0])
        .unwrap()
        .write_all(&grown)
        .unwrap();
    assert!(assert_fused_same(&paths, Some(&cache)) > 0);
}

#[test]
fn the_fused_scan_reads_lines_as_the_parser_does_byte_order_mark_and_crlf() {
    let dir = tempfile::tempdir().unwrap();
    let paths = generate(dir.path(), 80, 6);
    for path in &paths {
        let text = std::fs::read_to_string(path).unwrap();
        let crlf = format!("\u{feff}{}", text.replace('\n', "\r\n"));
        std::fs::write(path, crlf).unwrap();
    }
    assert_eq!(assert_fused_same(&paths, None), 0);
    // Read again after a load from the index cache.
    let cache = dir.path().join("cache");
    assert_eq!(
        assert_fused_same(&paths, Some(&cache)),
        2 * QUERIES.len() - 1
    );
}

#[test]
fn the_block_scan_stops_when_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let paths = generate(dir.path(), 40, 8);
    let history = load(&paths);
    let query = Query::parse("refund").unwrap();
    let cancel = Cancel::new();
    cancel.cancel();
    assert!(FusedText::scan(&history, &query, 2, &cancel).is_none());
    assert!(FusedText::scan(&history, &query, 2, &Cancel::never()).is_some());
}

/// The browser's path: its load runs the search session's hook ([`LateScan`]), which
/// tests nothing until a query is asked for; the chunks parsed from then on are tested
/// as they load, the bytes before are scanned in blocks. The result, midway and once the
/// load is in, is the word index's; a query asked later replaces the one before.
#[test]
fn a_query_taken_up_by_the_load_finds_what_the_index_finds() {
    let dir = tempfile::tempdir().unwrap();
    let paths = generate(dir.path(), 60, 11);
    let whole = load(&paths);
    let index = index(&whole);
    let never = Cancel::never();
    let options = SearchOptions {
        limit: 1000,
        now: NOW,
        only_run: None,
    };
    let file_bytes: u64 = paths
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    for (first, second) in [
        ("refund", "schema_mismtch"),
        ("\"refund policy\"", "CAFÉ"),
        ("polcy", "schema outcome:failure"),
    ] {
        let late = Arc::new(LateScan::default());
        let first_query = Query::parse(first).unwrap();
        let second_query = Query::parse(second).unwrap();
        // Asked for before the load starts: every chunk is tested as it is parsed.
        late.follow(&first_query);
        let load_options = LoadOptions {
            chunk_size: 512,
            line_scan: Some(late.hook()),
            ..LoadOptions::default()
        };
        let (mut history, loader) = History::open(&paths, &load_options).unwrap();
        for event in loader.events() {
            match event {
                LoadEvent::Batch(batch) => history.apply(batch),
                LoadEvent::Done(result) => {
                    result.unwrap();
                    break;
                }
            }
        }
        history.settle();
        assert_eq!(
            late.followed_bytes(),
            file_bytes,
            "{first}: every byte tested"
        );
        assert_same_as_index(&history, &index, &late, first, &first_query, &options);

        // Asked for midway (one query, then another): answered over what is in so far,
        // and over the whole history once it is in.
        let late = Arc::new(LateScan::default());
        let load_options = LoadOptions {
            line_scan: Some(late.hook()),
            ..load_options
        };
        let (mut history, loader) = History::open(&paths, &load_options).unwrap();
        let mut batches = 0;
        for event in loader.events() {
            match event {
                LoadEvent::Batch(batch) => {
                    history.apply(batch);
                    batches += 1;
                    let asked = match batches {
                        3 => &first_query,
                        6 => &second_query,
                        _ => continue,
                    };
                    history.settle();
                    let text = late.text(&history, asked, 2, &never).unwrap();
                    let partial =
                        search::search_in(&history, Some(&text), asked, &options, &never).unwrap();
                    assert_eq!(partial.text_covered, history.step_count());
                }
                LoadEvent::Done(result) => {
                    result.unwrap();
                    break;
                }
            }
        }
        assert!(batches > 6, "the history loads in many chunks: {batches}");
        history.settle();
        for (query, parsed) in [(second, &second_query), (first, &first_query)] {
            assert_same_as_index(&history, &index, &late, query, parsed, &options);
        }
    }
}

fn assert_same_as_index(
    history: &History,
    index: &TextIndex,
    late: &LateScan,
    query: &str,
    parsed: &Query,
    options: &SearchOptions,
) {
    let never = Cancel::never();
    let text = late.text(history, parsed, 2, &never).unwrap();
    let by_late = search::search_in(history, Some(&text), parsed, options, &never).unwrap();
    let by_index = search::search(history, Some(index), parsed, options, &never).unwrap();
    assert!(!by_index.hits.is_empty(), "{query}");
    assert_eq!(by_late.hits, by_index.hits, "{query}");
    assert_eq!(by_late.candidates, by_index.candidates, "{query}");
    assert_eq!(by_late.text_covered, history.step_count(), "{query}");
}
