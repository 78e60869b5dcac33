//! The word index's cache: a reopened history takes its word index from the cache (and
//! indexes only the new steps of a grown file), finds exactly what a fresh index finds,
//! and never trusts a cache that no longer describes its file or is damaged.

mod common;

use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use retrace::index::{History, LoadOptions};
use retrace::search::text_index::cache::{dir_for, read_ahead, ReadAhead};
use retrace::search::{self, Query, SearchOptions, TextIndex};
use retrace::work::Cancel;

/// Loads `paths` with the index cache under `cache`, caching files of any size.
fn load(paths: &[PathBuf], cache: &Path) -> History {
    let options = LoadOptions {
        chunk_size: 4096,
        cache: Some(cache.join("index")),
        cache_min_bytes: 0,
        ..LoadOptions::default()
    };
    History::load(paths, &options).expect("loads")
}

/// The word index of `history` from the cache under `cache` (its files read ahead, as
/// `retrace search` does while the history loads), brought up to date, and how many
/// steps had to be read from their records for it; the cache is then written.
fn reopen(history: &History, cache: &Path) -> (TextIndex, u64) {
    let words = dir_for(&cache.join("index"));
    let paths: Vec<PathBuf> = history.files().iter().map(|f| f.path.clone()).collect();
    reopen_from(history, cache, read_ahead(&words, 0, &paths, None))
}

/// [`reopen`], with `ahead` the caches read ahead.
fn reopen_from(history: &History, cache: &Path, ahead: ReadAhead) -> (TextIndex, u64) {
    let words = dir_for(&cache.join("index"));
    let never = Cancel::never();
    let indexed = AtomicU64::new(0);
    let mut index = TextIndex::from_cache(&words, 0, history, ahead, &never, &indexed)
        .expect("reads")
        .expect("not cancelled");
    assert!(index.update_from(|| history, 2, &never, &indexed).unwrap());
    index.store_cache(&words, 0, history);
    (index, indexed.load(Ordering::Relaxed))
}

fn fresh(history: &History) -> TextIndex {
    TextIndex::build(history, 2, &Cancel::never(), &AtomicU64::new(0))
        .unwrap()
        .unwrap()
}

/// Every hit of a few queries (text, phrases, typos) with `index`.
fn hits(history: &History, index: &TextIndex) -> Vec<String> {
    let mut out = Vec::new();
    for q in [
        "refund",
        "refnd polcy",
        "\"late step\"",
        "fetch_7",
        "e_13",
        "word5",
        "word7",
        "word3",
        "policy outcome:failure",
        "zz9",
    ] {
        let query = Query::parse(q).unwrap();
        let options = SearchOptions {
            limit: 10_000,
            ..SearchOptions::default()
        };
        let found = search::search(history, Some(index), &query, &options, &Cancel::never())
            .expect("searches");
        out.push(format!("{q}: {} candidates", found.candidates));
        for h in found.hits {
            out.push(format!(
                "  {} {:?} {} {} {}",
                history.run(h.run).id(),
                h.step,
                h.field,
                h.score,
                h.snippet
            ));
        }
    }
    out
}

/// Native lines: `runs` runs of `steps` steps each, interleaved, with words to find; in
/// run 1 of each tag, step 4 comes after step 6 (a late step: the run's slots are put
/// in order after they are read).
fn lines(runs: usize, steps: usize, tag: &str) -> String {
    let mut out = String::new();
    let mut late = None;
    for step in 0..steps {
        for run in 0..runs {
            let id = format!("{tag}-{run}");
            let line = match step {
                0 => format!(
                    r#"{{"run_id":"{id}","step":0,"kind":"run_start","ts":"2025-01-01T00:00:00Z","agent":"agent-{}","name":"start"}}"#,
                    run % 3
                ),
                s if s % 5 == 3 => format!(
                    r#"{{"run_id":"{id}","step":{s},"kind":"tool_call","ts":"2025-01-01T00:01:00Z","name":"fetch_{s}","status":"error","error":{{"code":"E_{s}","message":"refund failed for {tag}"}},"input":{{"q":"policy {s} zz{run}"}}}}"#
                ),
                s => format!(
                    r#"{{"run_id":"{id}","step":{s},"kind":"llm_call","ts":"2025-01-01T00:01:00Z","name":"think","input":{{"q":"{tag} refund polcy {s} word{}"}},"output":{{"text":"late step {s}"}}}}"#,
                    (s * 7 + run) % 11
                ),
            };
            if run == 1 && step == 4 {
                late = Some(line);
                continue;
            }
            out.push_str(&line);
            out.push('\n');
            if run == 1 && step == 6 {
                out.push_str(&late.take().unwrap_or_default());
                out.push('\n');
            }
        }
    }
    out
}

fn append(path: &Path, text: &str) {
    let mut file = OpenOptions::new().append(true).open(path).unwrap();
    file.write_all(text.as_bytes()).unwrap();
}

fn word_caches(cache: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir_for(&cache.join("index")))
        .map(|entries| entries.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

#[test]
fn a_reopened_history_takes_its_word_index_from_the_cache_and_finds_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let paths: Vec<PathBuf> = (0..3)
        .map(|i| {
            let path = dir.path().join(format!("runs-{i}.jsonl"));
            fs::write(&path, lines(4 + i, 30, &format!("t{i}"))).unwrap();
            path
        })
        .collect();
    let history = load(&paths, &cache);
    let expected = hits(&history, &fresh(&history));
    let (first, indexed) = reopen(&history, &cache);
    assert_eq!(first.cached(), 0, "nothing cached yet");
    assert_eq!(indexed as usize, history.step_count());
    assert_eq!(hits(&history, &first), expected);
    assert_eq!(word_caches(&cache).len(), 3, "one cache per file");

    let history = load(&paths, &cache);
    let (second, indexed) = reopen(&history, &cache);
    assert_eq!(
        second.cached() as usize,
        history.step_count(),
        "all from the cache"
    );
    assert_eq!(indexed, 0, "nothing read from the records");
    assert_eq!(hits(&history, &second), expected);
    // The caches are read ahead whole (as `retrace search` does while loading).
    let paths: Vec<PathBuf> = history.files().iter().map(|f| f.path.clone()).collect();
    let words = dir_for(&cache.join("index"));
    assert_eq!(read_ahead(&words, 0, &paths, None).len(), 3, "one per file");
    // The same with nothing read ahead: each cache is read when the index is taken.
    let (third, indexed) = reopen_from(&history, &cache, ReadAhead::default());
    assert_eq!(third.cached() as usize, history.step_count());
    assert_eq!(indexed, 0);
    assert_eq!(hits(&history, &third), expected);
}

#[test]
fn the_word_cache_is_the_owners_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let path = dir.path().join("runs.jsonl");
    fs::write(&path, lines(3, 20, "p")).unwrap();
    let history = load(&[path], &cache);
    reopen(&history, &cache);
    let words = dir_for(&cache.join("index"));
    assert_eq!(
        fs::metadata(&words).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let [file] = &word_caches(&cache)[..] else {
        panic!("one cache file")
    };
    assert_eq!(
        fs::metadata(file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let bytes = fs::read(file).unwrap();
    assert!(
        !bytes.windows(9).any(|w| w == b"late step"),
        "words, not the text they came from"
    );
}

#[test]
fn a_grown_file_extends_its_word_cache_indexing_only_the_new_steps() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let path = dir.path().join("runs.jsonl");
    fs::write(&path, lines(5, 40, "g")).unwrap();
    let paths = [path.clone()];
    let history = load(&paths, &cache);
    let before = history.step_count();
    reopen(&history, &cache);

    // New runs, and a step of an old run numbered among its others: that run's later
    // steps move one slot on, away from where the cache has their words.
    append(&path, &lines(3, 10, "h"));
    append(
        &path,
        r#"{"run_id":"g-2","step":20,"kind":"llm_call","ts":"2025-01-01T00:02:00Z","name":"think","input":{"q":"inserted"}}"#,
    );
    append(&path, "\n");
    let history = load(&paths, &cache);
    let added = history.step_count() - before;
    let (grown, indexed) = reopen(&history, &cache);
    assert_eq!(
        grown.cached() as usize,
        before,
        "the old steps from the cache"
    );
    // The new steps, and the 40 old ones of the run whose steps moved.
    assert_eq!(
        indexed as usize,
        added + 40,
        "only the new steps and a moved run read"
    );
    assert_eq!(hits(&history, &grown), hits(&history, &fresh(&history)));

    let history = load(&paths, &cache);
    let (again, _) = reopen(&history, &cache);
    assert_eq!(
        again.cached() as usize,
        history.step_count(),
        "the cache was extended"
    );
    assert_eq!(hits(&history, &again), hits(&history, &fresh(&history)));
}

#[test]
fn a_rewritten_file_of_the_same_size_invalidates_its_word_cache() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let path = dir.path().join("runs.jsonl");
    let original = lines(5, 30, "r");
    fs::write(&path, &original).unwrap();
    let paths = [path.clone()];
    reopen(&load(&paths, &cache), &cache);
    let modified = fs::metadata(&path).unwrap().modified().unwrap();

    // Another word in the head, the old modification time given back: the head's
    // checksum tells.
    let rewritten = original.replacen("refund", "rebate", 1);
    assert_eq!(rewritten.len(), original.len());
    fs::write(&path, &rewritten).unwrap();
    OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(modified)
        .unwrap();
    let history = load(&paths, &cache);
    let (reopened, indexed) = reopen(&history, &cache);
    assert_eq!(reopened.cached(), 0, "the cache was not trusted");
    assert_eq!(indexed as usize, history.step_count());
    assert_eq!(hits(&history, &reopened), hits(&history, &fresh(&history)));
    let query = Query::parse("rebate").unwrap();
    let found = search::search(
        &history,
        Some(&reopened),
        &query,
        &SearchOptions::default(),
        &Cancel::never(),
    )
    .unwrap();
    assert!(!found.hits.is_empty(), "the new word is found");
}

#[test]
fn a_truncated_or_damaged_word_cache_is_rebuilt_never_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let path = dir.path().join("runs.jsonl");
    fs::write(&path, lines(4, 50, "d")).unwrap();
    let history = load(&[path], &cache);
    let expected = hits(&history, &fresh(&history));
    reopen(&history, &cache);
    let [file] = &word_caches(&cache)[..] else {
        panic!("one cache file")
    };
    let whole = fs::read(file).unwrap();
    for bytes in common::damaged_copies(&whole) {
        fs::write(file, &bytes).unwrap();
        let (reopened, indexed) = reopen(&history, &cache);
        assert_eq!(reopened.cached(), 0, "a damaged cache is not read");
        assert_eq!(indexed as usize, history.step_count());
        assert_eq!(hits(&history, &reopened), expected);
        assert_eq!(fs::read(file).unwrap(), whole, "and is written again");
    }
}

#[test]
fn concurrent_opens_sharing_a_word_cache_do_not_corrupt_it() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let paths: Vec<PathBuf> = (0..3)
        .map(|i| {
            let path = dir.path().join(format!("runs-{i}.jsonl"));
            fs::write(&path, lines(4, 30 + i, &format!("c{i}"))).unwrap();
            path
        })
        .collect();
    for round in 0..3 {
        if round == 2 {
            append(&paths[1], &lines(2, 6, "late"));
        }
        let history = load(&paths, &cache);
        let expected = hits(&history, &fresh(&history));
        std::thread::scope(|scope| {
            let opens: Vec<_> = (0..4)
                .map(|_| scope.spawn(|| hits(&history, &reopen(&history, &cache).0)))
                .collect();
            for o in opens {
                assert_eq!(o.join().unwrap(), expected);
            }
        });
    }
    let history = load(&paths, &cache);
    let (last, _) = reopen(&history, &cache);
    assert_eq!(
        last.cached() as usize,
        history.step_count(),
        "every cache is whole"
    );
    assert_eq!(hits(&history, &last), hits(&history, &fresh(&history)));
    let leftovers: Vec<_> = word_caches(&cache)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".tmp."))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// `retrace search` with `cache` as XDG_CACHE_HOME (or `--no-cache`); its stdout.
fn retrace(args: &[&str], cache: Option<&Path>) -> String {
    retrace_output(args, cache).0
}

/// `retrace` with `cache` as XDG_CACHE_HOME (or `--no-cache`), which must succeed: its
/// stdout and stderr.
fn retrace_output(args: &[&str], cache: Option<&Path>) -> (String, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_retrace"));
    command.args(args);
    match cache {
        Some(dir) => command.env("XDG_CACHE_HOME", dir),
        None => command
            .env("XDG_CACHE_HOME", common::CACHE_HOME)
            .arg("--no-cache"),
    };
    let out = command.output().expect("run retrace");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = |b: Vec<u8>| String::from_utf8(b).expect("utf-8");
    (text(out.stdout), text(out.stderr))
}

#[test]
fn the_command_line_finds_the_same_with_the_word_cache_as_without() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let path = dir.path().join("runs.jsonl");
    // Large enough to be cached at the default size.
    fs::write(&path, lines(20, 200, "w")).unwrap();
    assert!(fs::metadata(&path).unwrap().len() > retrace::index::cache::MIN_CACHED_BYTES);
    let path = path.to_str().unwrap();
    let words = cache.join("retrace").join("words");
    for query in ["refnd polcy", "word7", "\"late step\" think", "e_13"] {
        let args = ["search", query, path, "--json", "--limit", "500"];
        let scanned = retrace(&args, None);
        assert!(scanned.lines().count() > 1, "{query}: {scanned}");
        let indexed = retrace(&[&args[..], &["--index"]].concat(), Some(&cache));
        assert!(words.is_dir(), "--index writes the word cache");
        let from_cache = retrace(&args, Some(&cache));
        assert_eq!(indexed, scanned, "{query}");
        assert_eq!(from_cache, scanned, "{query}");
    }
}

/// The 1 GB benchmark (run by `benches/word_cache_1g.sh`): opening the history and
/// making it searchable cold (parsed or from the index cache, word index built from the
/// records and its cache written) and warm (both from their caches), in one process.
#[test]
#[ignore]
fn bench_word_cache_1g() {
    use std::time::Instant;
    let path = PathBuf::from(
        std::env::var("RETRACE_BENCH_FILE")
            .unwrap_or_else(|_| "target/bench-data/big.jsonl".into()),
    );
    let index_dir = retrace::index::cache::default_dir().expect("XDG_CACHE_HOME or HOME");
    let words = dir_for(&index_dir);
    let options = LoadOptions {
        cache: Some(index_dir.clone()),
        ..LoadOptions::default()
    };
    let query = Query::parse("SCHEMA_MISMATCH").unwrap();
    let mut answers = Vec::new();
    for round in ["cold", "warm"] {
        let started = Instant::now();
        let history = History::load(std::slice::from_ref(&path), &options).unwrap();
        let loaded = started.elapsed().as_secs_f64();
        let never = Cancel::never();
        let mut index = TextIndex::from_cache(
            &words,
            retrace::index::cache::MIN_CACHED_BYTES,
            &history,
            Default::default(),
            &never,
            &AtomicU64::new(0),
        )
        .unwrap()
        .unwrap();
        let from_cache = index.cached();
        index
            .update_from(|| &history, 2, &never, &AtomicU64::new(0))
            .unwrap();
        let searchable = started.elapsed().as_secs_f64();
        let found = search::search(
            &history,
            Some(&index),
            &query,
            &SearchOptions::default(),
            &never,
        )
        .unwrap();
        let answered = started.elapsed().as_secs_f64();
        let stored = Instant::now();
        index.store_cache(&words, retrace::index::cache::MIN_CACHED_BYTES, &history);
        println!(
            "{round}: loaded {loaded:.2} s, searchable {searchable:.2} s ({from_cache} of {} steps from the word cache), first answer {answered:.2} s ({} hits); word cache written in {:.2} s",
            history.step_count(),
            found.hits.len(),
            stored.elapsed().as_secs_f64()
        );
        answers.push(found.hits);
    }
    assert_eq!(answers[0], answers[1], "the same hits cold and warm");
    let size: u64 = fs::read_dir(&words)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    println!("word cache: {:.1} MB", size as f64 / 1e6);
}

/// `retrace search --stats` with `cache` as XDG_CACHE_HOME: (stdout, stderr).
fn retrace_stats(args: &[&str], cache: &Path) -> (String, String) {
    retrace_output(&[args, &["--stats"]].concat(), Some(cache))
}

#[test]
fn a_search_the_word_caches_answer_skips_scanning_the_records_and_a_damaged_one_falls_back() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let path = dir.path().join("runs.jsonl");
    fs::write(&path, lines(20, 200, "s")).unwrap();
    let path = path.to_str().unwrap();
    let args = ["search", "refnd polcy", path, "--json", "--limit", "500"];
    let scanned = retrace(&args, None);
    assert!(scanned.lines().count() > 2, "{scanned}");
    // Before any word cache: the records are scanned as they load.
    let (first, stats) = retrace_stats(&args, &cache);
    assert_eq!(first, scanned);
    assert!(stats.contains("load (and scan"), "{stats}");
    retrace(&[&args[..], &["--index"]].concat(), Some(&cache));
    let (warm, stats) = retrace_stats(&args, &cache);
    assert_eq!(warm, scanned);
    assert!(
        stats.contains("no scan: the word caches hold the files"),
        "{stats}"
    );
    assert!(stats.contains("word index from the cache"), "{stats}");
    // A cache whose header checks out but whose body is damaged is not trusted: the
    // records are scanned after the load instead, and the hits are the same.
    let words = word_caches(&cache.join("retrace"));
    assert_eq!(words.len(), 1, "{words:?}");
    let mut bytes = fs::read(&words[0]).unwrap();
    let at = bytes.len() - 10;
    bytes[at] ^= 0x5a;
    fs::write(&words[0], &bytes).unwrap();
    let (damaged, stats) = retrace_stats(&args, &cache);
    assert_eq!(damaged, scanned);
    assert!(
        stats.contains("no scan: the word caches hold the files"),
        "{stats}"
    );
    assert!(stats.contains("records scanned"), "{stats}");
}
