//! The index cache: a reopened history reads each unchanged file's index from the cache
//! (and only the new bytes of a grown one), gives exactly what parsing gives, and never
//! trusts a cache that no longer describes its file or is damaged.

mod common;

use std::fmt::Write as _;
use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use retrace::index::{History, LoadOptions};

/// Loads `paths` with the cache in `cache` (or without one), in chunks small enough that
/// every file is several batches, caching files of any size.
fn load(paths: &[PathBuf], cache: Option<&Path>) -> History {
    let options = LoadOptions {
        chunk_size: 4096,
        cache: cache.map(Path::to_path_buf),
        cache_min_bytes: 0,
        ..LoadOptions::default()
    };
    History::load(paths, &options).expect("loads")
}

/// Everything a history says: files, problems, and every run with its steps as indexed
/// and as read back from the files.
fn describe(history: &History) -> String {
    let mut out = String::new();
    for f in history.files() {
        writeln!(out, "file {} {} {}", f.path.display(), f.lines, f.consumed).unwrap();
    }
    for p in history.problems() {
        writeln!(out, "problem {p}").unwrap();
    }
    for run in history.runs() {
        let labels: Vec<_> = run.labels().iter().collect();
        writeln!(
            out,
            "run {} {:?} {:?} {:?} {labels:?} {:?} {:?} {:?} {} {} {:?} {:?} {:?}",
            run.id(),
            run.agent(),
            run.agent_version(),
            run.model(),
            run.format(),
            run.started_at(),
            run.ended_at(),
            run.step_count(),
            run.error_count(),
            run.tokens(),
            run.end_error(),
            run.outcome(),
        )
        .unwrap();
        for step in run.steps() {
            writeln!(out, "  {step:?}").unwrap();
        }
        writeln!(out, "  {:?}", run.load_steps().expect("steps read back")).unwrap();
    }
    out
}

/// Native lines: `runs` runs of `steps` steps each, interleaved, some failing.
fn lines(runs: usize, steps: usize, tag: &str) -> String {
    let mut out = String::new();
    for step in 0..steps {
        for run in 0..runs {
            let id = format!("{tag}-{run}");
            let line = match step {
                0 => format!(
                    r#"{{"run_id":"{id}","step":0,"kind":"run_start","ts":"2025-01-01T00:00:{:02}Z","agent":"agent-{}","labels":{{"env":"test"}},"name":"start"}}"#,
                    run % 60,
                    run % 3
                ),
                s if s % 5 == 3 => format!(
                    r#"{{"run_id":"{id}","step":{s},"kind":"tool_call","ts":"2025-01-01T00:01:00Z","name":"fetch_{s}","status":"error","error":{{"code":"E_{s}","message":"failed"}},"duration_ms":12}}"#
                ),
                s => format!(
                    r#"{{"run_id":"{id}","step":{s},"kind":"llm_call","ts":"2025-01-01T00:01:00Z","name":"think","input":{{"q":"{tag} {s}"}},"tokens":{{"input":{s},"output":1}}}}"#
                ),
            };
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

fn append(path: &Path, text: &str) {
    let mut file = OpenOptions::new().append(true).open(path).unwrap();
    file.write_all(text.as_bytes()).unwrap();
}

fn cached(history: &History) -> u64 {
    history.files().iter().map(|f| f.cached).sum()
}

fn cache_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .map(|entries| entries.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

#[test]
fn a_reopened_history_reads_its_index_from_the_cache_and_equals_a_fresh_load() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let path = dir.path().join("runs.jsonl");
    fs::write(&path, lines(7, 40, "a")).unwrap();
    let paths = [path.clone()];

    let first = load(&paths, Some(&cache));
    assert_eq!(cached(&first), 0, "nothing cached yet");
    let second = load(&paths, Some(&cache));
    let size = fs::metadata(&path).unwrap().len();
    assert_eq!(cached(&second), size, "the whole file came from the cache");
    let fresh = load(&paths, None);
    assert_eq!(describe(&second), describe(&fresh));
    assert_eq!(describe(&first), describe(&fresh));
}

#[test]
fn the_demo_and_real_samples_load_the_same_from_the_cache() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    for folder in [
        root.join("assets/demo"),
        common::fixture("realdata/claude-code"),
        common::fixture("realdata/codex"),
        common::fixture("realdata/otel"),
        common::fixture("realdata/tau-bench"),
    ] {
        let paths = [folder];
        let fresh = describe(&load(&paths, None));
        assert_eq!(describe(&load(&paths, Some(dir.path()))), fresh);
        let warm = load(&paths, Some(dir.path()));
        assert!(cached(&warm) > 0, "{:?}", paths[0]);
        assert_eq!(describe(&warm), fresh, "{:?}", paths[0]);
    }
}

#[test]
fn small_files_are_parsed_not_cached() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let path = dir.path().join("runs.jsonl");
    fs::write(&path, lines(2, 5, "s")).unwrap();
    let options = LoadOptions {
        cache: Some(cache.clone()),
        ..LoadOptions::default()
    };
    let paths = [path];
    History::load(&paths, &options).unwrap();
    assert!(cache_files(&cache).is_empty());
    let history = History::load(&paths, &options).unwrap();
    assert_eq!(cached(&history), 0);
}

#[test]
fn the_cache_folder_and_files_are_the_owners_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache").join("retrace").join("index");
    let path = dir.path().join("runs.jsonl");
    fs::write(&path, lines(2, 5, "p")).unwrap();
    load(&[path], Some(&cache));
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&cache), 0o700);
    assert_eq!(mode(&dir.path().join("cache").join("retrace")), 0o700);
    let files = cache_files(&cache);
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(mode(&files[0]), 0o600);
}

#[test]
fn a_grown_file_is_read_from_the_cache_then_only_its_new_bytes_are_parsed() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let path = dir.path().join("runs.jsonl");
    // The last line is not complete yet: it is not read until it is.
    let text = lines(5, 30, "g");
    let (whole, partial) = text.split_at(text.len() - 20);
    fs::write(&path, whole).unwrap();
    let paths = [path.clone()];
    let first = load(&paths, Some(&cache));
    let consumed = first.files()[0].consumed;
    assert!(
        consumed < whole.len() as u64,
        "the partial line is not read"
    );

    // The rest of that line, more steps of the same runs, and new runs.
    let mut more = partial.to_string();
    more.push_str(
        &lines(5, 30, "g")
            .replace("\"step\":", "\"step\":1")
            .replace("run_start", "message"),
    );
    more.push_str(&lines(3, 8, "h"));
    append(&path, &more);
    let grown = load(&paths, Some(&cache));
    assert_eq!(
        cached(&grown),
        consumed,
        "the old bytes came from the cache"
    );
    let fresh = load(&paths, None);
    assert_eq!(describe(&grown), describe(&fresh));

    // The cache was extended: all of it comes from the cache now.
    let again = load(&paths, Some(&cache));
    assert_eq!(cached(&again), fs::metadata(&path).unwrap().len());
    assert_eq!(describe(&again), describe(&fresh));
}

#[test]
fn a_rewritten_file_of_the_same_size_invalidates_its_cache() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let path = dir.path().join("runs.jsonl");
    let original = lines(6, 40, "r");
    assert!(original.len() > 8192);
    fs::write(&path, &original).unwrap();
    let paths = [path.clone()];
    load(&paths, Some(&cache));
    let modified = fs::metadata(&path).unwrap().modified().unwrap();

    // Rewritten in its head, and given its old modification time back: the head's
    // checksum tells.
    let rewritten = original.replacen("r-0", "q-0", 1);
    assert_eq!(rewritten.len(), original.len());
    write_keeping_time(&path, &rewritten, modified);
    let reopened = load(&paths, Some(&cache));
    assert_eq!(cached(&reopened), 0, "the cache was not trusted");
    assert_eq!(describe(&reopened), describe(&load(&paths, None)));
    assert!(reopened.find_run("q-0").is_ok());

    // Rewritten past its head, same size: the modification time tells.
    let tail_changed = rewritten.replace("fetch_8", "fetch_9");
    assert_eq!(tail_changed.len(), rewritten.len());
    std::thread::sleep(std::time::Duration::from_millis(20));
    fs::write(&path, &tail_changed).unwrap();
    let reopened = load(&paths, Some(&cache));
    assert_eq!(cached(&reopened), 0, "the cache was not trusted");
    assert_eq!(describe(&reopened), describe(&load(&paths, None)));

    // A file rewritten longer, with the same head: what was cached ended otherwise.
    let at = tail_changed.rfind("fetch_38").unwrap();
    let mut longer = tail_changed.clone();
    longer.replace_range(at..at + 8, "fetch_39");
    longer.push_str(&lines(1, 3, "z"));
    fs::write(&path, &longer).unwrap();
    let reopened = load(&paths, Some(&cache));
    assert_eq!(cached(&reopened), 0, "the cache was not trusted");
    assert_eq!(describe(&reopened), describe(&load(&paths, None)));
}

fn write_keeping_time(path: &Path, text: &str, modified: std::time::SystemTime) {
    fs::write(path, text).unwrap();
    let file = OpenOptions::new().write(true).open(path).unwrap();
    file.set_modified(modified).unwrap();
}

#[test]
fn a_truncated_or_damaged_cache_is_rebuilt_never_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let path = dir.path().join("runs.jsonl");
    fs::write(&path, lines(4, 50, "t")).unwrap();
    let paths = [path.clone()];
    let fresh = describe(&load(&paths, None));
    load(&paths, Some(&cache));
    let [cache_file] = &cache_files(&cache)[..] else {
        panic!("one cache file")
    };
    let whole = fs::read(cache_file).unwrap();
    for bytes in common::damaged_copies(&whole) {
        fs::write(cache_file, &bytes).unwrap();
        let reopened = load(&paths, Some(&cache));
        assert_eq!(cached(&reopened), 0, "a damaged cache is not read");
        assert_eq!(describe(&reopened), fresh);
        assert_eq!(fs::read(cache_file).unwrap(), whole, "and is written again");
        assert!(cached(&load(&paths, Some(&cache))) > 0);
    }
}

/// A cache whose checksums hold but whose first batch does not (as no build of retrace
/// writes it): its source bytes are parsed instead, and the cache is removed to be
/// written again.
#[test]
fn a_whole_cache_with_a_batch_that_does_not_hold_together_is_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let path = dir.path().join("runs.jsonl");
    fs::write(&path, lines(4, 50, "t")).unwrap();
    let paths = [path.clone()];
    let fresh = describe(&load(&paths, None));
    load(&paths, Some(&cache));
    let [cache_file] = &cache_files(&cache)[..] else {
        panic!("one cache file")
    };
    // The layout: magic (8), header length (4), header (ending with the body's length
    // and checksum), the header's checksum (4), then each batch as its length (8) and
    // bytes (line count 8, end 8, string count 4, ...).
    let mut bytes = fs::read(cache_file).unwrap();
    let header_len = u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize;
    let body_at = 12 + header_len + 4;
    let strings_at = body_at + 8 + 16;
    bytes[strings_at..strings_at + 4].copy_from_slice(&(u32::MAX - 1).to_le_bytes());
    let body_crc = crc32fast::hash(&bytes[body_at..]);
    let header_end = 12 + header_len;
    bytes[header_end - 4..header_end].copy_from_slice(&body_crc.to_le_bytes());
    let header_crc = crc32fast::hash(&bytes[12..header_end]);
    bytes[header_end..header_end + 4].copy_from_slice(&header_crc.to_le_bytes());
    fs::write(cache_file, &bytes).unwrap();

    let reopened = load(&paths, Some(&cache));
    assert_eq!(describe(&reopened), fresh);
    assert!(cached(&reopened) > 0, "the other batches are used");
    assert!(!cache_file.exists(), "the cache is removed");
    load(&paths, Some(&cache));
    assert!(cached(&load(&paths, Some(&cache))) > 0, "and written again");
}

#[test]
fn concurrent_loads_sharing_a_cache_do_not_corrupt_it() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let paths: Vec<PathBuf> = (0..3)
        .map(|i| {
            let path = dir.path().join(format!("runs-{i}.jsonl"));
            fs::write(&path, lines(5, 30 + i, &format!("c{i}"))).unwrap();
            path
        })
        .collect();
    let fresh = describe(&load(&paths, None));
    for round in 0..3 {
        if round == 2 {
            // Grown while the loads race: each extends the cache from what it read.
            append(&paths[1], &lines(2, 4, "late"));
        }
        let expected = describe(&load(&paths, None));
        std::thread::scope(|scope| {
            let loads: Vec<_> = (0..4)
                .map(|_| scope.spawn(|| describe(&load(&paths, Some(&cache)))))
                .collect();
            for l in loads {
                assert_eq!(l.join().unwrap(), expected);
            }
        });
    }
    let last = load(&paths, Some(&cache));
    let total: u64 = paths.iter().map(|p| fs::metadata(p).unwrap().len()).sum();
    assert_eq!(cached(&last), total, "every file's cache is whole");
    assert_ne!(describe(&last), fresh, "the grown file's new runs are in");
    assert_eq!(describe(&last), describe(&load(&paths, None)));
    let leftovers: Vec<_> = cache_files(&cache)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".tmp."))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// `retrace ARGS` with the cache under `cache`, or with `--no-cache`.
fn retrace(args: &[&str], cache: Option<&Path>) -> Vec<u8> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_retrace"));
    command.args(args);
    match cache {
        Some(dir) => command.env("XDG_CACHE_HOME", dir),
        None => command.arg("--no-cache"),
    };
    let out = command.output().expect("run retrace");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn the_command_line_gives_the_same_with_and_without_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    // Large enough to be cached.
    let generated = dir.path().join("runs");
    fs::create_dir(&generated).unwrap();
    let text = lines(30, 60, "cli");
    assert!(text.len() as u64 > retrace::index::cache::MIN_CACHED_BYTES);
    fs::write(generated.join("big.jsonl"), text).unwrap();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let folders = [generated, root.join("assets/demo")];
    for folder in &folders {
        let folder = folder.to_str().unwrap();
        let plain = retrace(&["ls", folder, "--json"], None);
        // Cold (the cache is written), then warm (read from it), two at once.
        assert_eq!(retrace(&["ls", folder, "--json"], Some(dir.path())), plain);
        let (a, b) = std::thread::scope(|scope| {
            let a = scope.spawn(|| retrace(&["ls", folder, "--json"], Some(dir.path())));
            let b = scope.spawn(|| retrace(&["ls", folder, "--json"], Some(dir.path())));
            (a.join().unwrap(), b.join().unwrap())
        });
        assert_eq!((a, b), (plain.clone(), plain.clone()), "{folder}");
        let listed: serde_json::Value = serde_json::from_slice(&plain).unwrap();
        for run in listed["runs"].as_array().unwrap().iter().take(6) {
            let id = run["run_id"].as_str().unwrap();
            let show = ["show", id, folder, "--json"];
            assert_eq!(
                retrace(&show, Some(dir.path())),
                retrace(&show, None),
                "{id}"
            );
        }
    }
    assert!(
        !cache_files(&dir.path().join("retrace/index")).is_empty(),
        "the command line writes the cache by default"
    );
}

/// Native lines of runs `cut-0`..`cut-{runs}` interleaved, for the step numbers given:
/// step `n` is named `n{n}`, logged `n` seconds in, failing when `n % 7 == 3`; step 0
/// starts the run.
fn numbered(runs: usize, numbers: impl Iterator<Item = u32> + Clone) -> String {
    let mut out = String::new();
    for n in numbers {
        for run in 0..runs {
            let kind = if n == 0 { "run_start" } else { "tool_call" };
            let status = if n % 7 == 3 { "error" } else { "ok" };
            writeln!(
                out,
                r#"{{"run_id":"cut-{run}","step":{n},"kind":"{kind}","ts":{},"name":"n{n}","status":"{status}","error":{{"code":"E{n}"}},"labels":{{"part":"{}"}},"input":{{"q":"some words to make the line longer than a few bytes"}}}}"#,
                1_700_000_000_000u64 + u64::from(n) * 1000,
                n % 2,
            )
            .unwrap();
        }
    }
    out
}

/// Each run of `history` has the steps numbered `numbers` (and no other), in step
/// order, with the figures those steps add up to.
fn assert_settled(history: &History, numbers: &[u32]) {
    let mut sorted = numbers.to_vec();
    sorted.sort();
    let names: Vec<String> = sorted.iter().map(|n| format!("n{n}")).collect();
    let failing = sorted.iter().filter(|&&n| n % 7 == 3).count() as u32;
    for run in history.runs() {
        let steps: Vec<String> = run
            .steps()
            .map(|s| s.name.unwrap_or_default().to_string())
            .collect();
        assert_eq!(steps, names, "{}", run.id());
        assert_eq!(run.error_count(), failing, "{}", run.id());
        let first_failing = sorted.iter().find(|&&n| n % 7 == 3);
        assert_eq!(
            run.first_error().and_then(|s| s.name),
            first_failing.map(|n| format!("n{n}")).as_deref(),
            "{}",
            run.id()
        );
        assert_eq!(
            run.started_at(),
            Some(1_700_000_000_000 + i64::from(sorted[0]) * 1000)
        );
    }
}

#[test]
fn runs_split_across_files_and_out_of_order_settle_the_same_from_the_cache_as_parsed() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let folder = dir.path().join("runs");
    fs::create_dir(&folder).unwrap();
    // The runs' later steps come first (a.jsonl, read first), their first ones after
    // (b.jsonl): every run is brought into order when the history settles.
    let (later, first) = (folder.join("a.jsonl"), folder.join("b.jsonl"));
    fs::write(&later, numbered(60, (10..70).step_by(2))).unwrap();
    fs::write(&first, numbered(60, 0..10)).unwrap();
    assert!(fs::metadata(&later).unwrap().len() > retrace::index::cache::MIN_CACHED_BYTES);
    let paths = [folder.clone()];
    let mut numbers: Vec<u32> = (10..70).step_by(2).chain(0..10).collect();
    let cli = |args: &[&str], cache: Option<&Path>| {
        let mut args = args.to_vec();
        args.push(folder.to_str().unwrap());
        retrace(&args, cache)
    };
    let cli_home = dir.path().join("cli-cache");
    for stage in ["cold", "warm", "grown", "grown again"] {
        if stage == "grown" {
            // Steps between those already read, at the end of the first file.
            append(&later, &numbered(60, (11..70).step_by(2)));
            numbers.extend((11..70).step_by(2));
        }
        let warm = load(&paths, Some(&cache));
        if stage != "cold" {
            assert!(cached(&warm) > 0, "{stage}: read from the cache");
        }
        let fresh = load(&paths, None);
        assert_eq!(describe(&warm), describe(&fresh), "{stage}");
        assert_settled(&warm, &numbers);
        for args in [&["ls", "--json"][..], &["show", "cut-7", "--json"]] {
            assert_eq!(
                cli(args, Some(&cli_home)),
                cli(args, None),
                "{stage} {args:?}"
            );
        }
    }
}

#[test]
fn a_history_of_many_runs_settles_each_in_order_whatever_thread_checks_it() {
    // Enough runs that settling checks them on several threads; every run's later steps
    // come first, so each is put in order after the check.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.jsonl");
    let mut text = numbered(10_000, [3, 4].into_iter());
    text.push_str(&numbered(10_000, [0, 1, 2].into_iter()));
    text.push_str(&numbered(10_000, [5].into_iter()));
    fs::write(&path, text).unwrap();
    let history = load(&[path], None);
    assert_eq!(history.run_count(), 10_000);
    assert_settled(&history, &[0, 1, 2, 3, 4, 5]);
}

#[test]
fn the_caches_stay_under_their_limit_least_recently_used_first() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let index = home.join("retrace/index");
    let files: Vec<PathBuf> = ["a", "b", "c"]
        .iter()
        .map(|name| {
            let path = dir.path().join(format!("{name}.jsonl"));
            fs::write(&path, numbered(100, 0..40)).unwrap();
            path
        })
        .collect();
    assert!(fs::metadata(&files[0]).unwrap().len() > retrace::index::cache::MIN_CACHED_BYTES);
    let open = |file: &Path, limit: Option<u64>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_retrace"));
        command.env("XDG_CACHE_HOME", &home).arg("ls").arg(file);
        if let Some(limit) = limit {
            command.env("RETRACE_CACHE_LIMIT", limit.to_string());
        }
        assert!(command.output().unwrap().status.success());
    };
    open(&files[0], None);
    open(&files[1], None);
    let sizes: Vec<u64> = cache_files(&index)
        .iter()
        .map(|f| fs::metadata(f).unwrap().len())
        .collect();
    assert_eq!(sizes.len(), 2, "a cache per file");
    // a is used again (b is now the least recently used); then c is cached with room
    // for two caches: b's goes.
    std::thread::sleep(std::time::Duration::from_millis(20));
    open(&files[0], None);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let room = sizes.iter().max().unwrap() * 5 / 2;
    open(&files[2], Some(room));
    // A cache is named by its file's device and inode (then the build).
    let ino = |path: &Path| {
        use std::os::unix::fs::MetadataExt;
        let meta = fs::metadata(path).unwrap();
        format!("{:x}-{:x}-", meta.dev(), meta.ino())
    };
    let cached = |path: &Path| {
        cache_files(&index).iter().any(|f| {
            f.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&ino(path))
        })
    };
    assert_eq!(cache_files(&index).len(), 2);
    assert!(
        cached(&files[0]) && cached(&files[2]),
        "a's (used) and c's (new) kept"
    );
    assert!(!cached(&files[1]), "b's removed");
    // A history whose cache went is parsed again, and cached again.
    open(&files[1], Some(room));
    assert!(cached(&files[1]));
}

#[test]
fn two_builds_sharing_a_cache_folder_keep_a_cache_each() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let index = home.join("retrace/index");
    let file = dir.path().join("runs.jsonl");
    fs::write(&file, numbered(100, 0..40)).unwrap();
    // Another build: the same binary copied (a build is told by its executable).
    let other = dir.path().join("retrace-other");
    fs::copy(env!("CARGO_BIN_EXE_retrace"), &other).unwrap();
    let run = |exe: &Path| {
        let mut command = Command::new(exe);
        command.env("XDG_CACHE_HOME", &home).arg("ls").arg(&file);
        // A child another test thread forked while the copy was open for writing holds
        // it a moment: "text file busy" until it execs.
        let mut tries = 0;
        let out = loop {
            match command.output() {
                Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 50 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                other => break other.unwrap(),
            }
        };
        assert!(out.status.success());
        out.stdout
    };
    let first = run(Path::new(env!("CARGO_BIN_EXE_retrace")));
    let inodes = || -> Vec<u64> {
        cache_files(&index)
            .iter()
            .map(|f| fs::metadata(f).unwrap().ino())
            .collect()
    };
    let mine = inodes();
    assert_eq!(mine.len(), 1);
    assert_eq!(run(&other), first);
    assert_eq!(
        inodes().len(),
        2,
        "the other build wrote a cache of its own"
    );
    // The first build reads its cache again: not rewritten (the same file).
    assert_eq!(run(Path::new(env!("CARGO_BIN_EXE_retrace"))), first);
    assert!(inodes().contains(&mine[0]));
    assert_eq!(inodes().len(), 2);
}
