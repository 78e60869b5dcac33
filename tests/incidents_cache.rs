//! The derived cache of prepared incidents that `retrace similar` keeps outside the
//! library: records added, changed or removed after it was written are seen; a damaged
//! cache is rebuilt with the same answer; `--no-cache` answers the same; processes
//! sharing it leave it usable; nothing is written into the library.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

use retrace::incidents::cache::{self, PreparedLibrary};
use retrace::incidents::store::IncidentStore;
use retrace::postmortem::notes::Library;
use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn demo() -> String {
    root().join("assets/demo").display().to_string()
}

fn mail_again() -> String {
    root()
        .join("tests/fixtures/incidents/mail_auth_again")
        .display()
        .to_string()
}

/// A library and a cache home side by side in one temporary folder.
struct Setup {
    _base: tempfile::TempDir,
    library: PathBuf,
    cache_home: PathBuf,
}

impl Setup {
    fn new() -> Setup {
        let base = tempfile::tempdir().unwrap();
        let library = base.path().join("library");
        let cache_home = base.path().join("cache");
        std::fs::create_dir_all(&library).unwrap();
        Setup {
            _base: base,
            library,
            cache_home,
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_retrace"));
        c.args(args)
            .env("RETRACE_LIBRARY", &self.library)
            .env("XDG_CACHE_HOME", &self.cache_home);
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        let out = self.command(args).output().unwrap();
        assert!(
            out.status.success(),
            "retrace {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn similar(&self, run: &str, history: &str, extra: &[&str]) -> Value {
        let mut args = vec!["similar", run, history, "--json"];
        args.extend_from_slice(extra);
        serde_json::from_slice(&self.run(&args).stdout).unwrap()
    }

    fn add(&self, run: &str, title: &str) {
        self.run(&["incidents", "add", run, &demo(), "--title", title]);
    }

    fn store(&self) -> IncidentStore {
        IncidentStore::new(Library::at(&self.library))
    }

    fn cache_dir(&self) -> PathBuf {
        self.cache_home.join("retrace/incidents")
    }

    fn cache_file(&self) -> PathBuf {
        cache::file_for(&self.cache_dir(), &self.library).unwrap().0
    }

    /// The library through the cache, as the command line reads it.
    fn load(&self) -> PreparedLibrary {
        PreparedLibrary::load(&self.store(), &self.cache_dir()).unwrap()
    }

    fn record(&self, id: &str) -> PathBuf {
        self.library.join("incidents").join(format!("{id}.json"))
    }

    /// Dates every record `ago` back, as files checked out earlier (the cache leaves
    /// out records changed in the last seconds: they may change again unseen).
    fn date_records(&self, ago: Duration) {
        for e in std::fs::read_dir(self.library.join("incidents")).unwrap() {
            set_modified(&e.unwrap().path(), ago);
        }
    }

    /// Every file of the library, with its contents.
    fn library_files(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let mut out = Vec::new();
        let mut dirs = vec![self.library.clone()];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(d).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    dirs.push(p);
                } else {
                    out.push((p.clone(), std::fs::read(&p).unwrap()));
                }
            }
        }
        out.sort();
        out
    }
}

fn set_modified(path: &Path, ago: Duration) {
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(SystemTime::now() - ago).unwrap();
}

fn ids(found: &Value) -> Vec<&str> {
    found
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["incident"].as_str().unwrap())
        .collect()
}

#[test]
fn records_added_changed_or_removed_after_the_cache_was_written_are_seen() {
    let s = Setup::new();
    s.add("r-2bcd0cc3", "Rotated SMTP credential");
    s.date_records(Duration::from_secs(3600));
    let found = s.similar("n-0003", &mail_again(), &[]);
    assert_eq!(ids(&found), ["INC-r-2bcd0cc3"]);
    // The cache now holds the record: the next call reads no record to rank.
    let library = s.load();
    assert_eq!((library.cache.reused, library.cache.read), (1, 0));
    assert!(!library.cache.rebuilt);

    // Added: a second incident of the same failure, from another run.
    let original = std::fs::read_to_string(s.record("INC-r-2bcd0cc3")).unwrap();
    let mut copy: Value = serde_json::from_str(&original).unwrap();
    copy["id"] = "INC-copy".into();
    copy["runs"] = serde_json::json!(["r-copy"]);
    copy["title"] = "The copy".into();
    std::fs::write(s.record("INC-copy"), copy.to_string()).unwrap();
    set_modified(&s.record("INC-copy"), Duration::from_secs(1800));
    let found = s.similar("n-0003", &mail_again(), &[]);
    let mut got = ids(&found);
    got.sort();
    assert_eq!(got, ["INC-copy", "INC-r-2bcd0cc3"]);
    assert_eq!(s.load().cache.reused, 2);

    // Changed: the original becomes a disk failure of another tool; its cached facts
    // (an SMTP auth error) must not be used.
    let mut changed: Value = serde_json::from_str(&original).unwrap();
    for side in ["failure", "root_cause"] {
        changed[side]["tool"] = "upload_file".into();
        changed[side]["error_code"] = "DISK_FULL".into();
        changed[side]["error_message"] = "no space left on device".into();
        changed[side]["args"] = serde_json::json!(["path=<text>"]);
    }
    changed["category"] = "tool_failure".into();
    std::fs::write(s.record("INC-r-2bcd0cc3"), changed.to_string()).unwrap();
    set_modified(&s.record("INC-r-2bcd0cc3"), Duration::from_secs(600));
    let found = s.similar("n-0003", &mail_again(), &[]);
    assert_eq!(ids(&found), ["INC-copy"]);
    assert_eq!(found, s.similar("n-0003", &mail_again(), &["--no-cache"]));

    // Removed: the copy is gone from the answer and from the count.
    std::fs::remove_file(s.record("INC-copy")).unwrap();
    assert_eq!(
        ids(&s.similar("n-0003", &mail_again(), &[])),
        [] as [&str; 0]
    );
    let text = String::from_utf8(s.run(&["similar", "n-0003", &mail_again()]).stdout).unwrap();
    assert!(text.contains("no incident of the library (1)"), "{text}");
    assert_eq!(s.load().len(), 1);
}

#[test]
fn a_damaged_cache_is_rebuilt_and_answers_the_same() {
    let s = Setup::new();
    s.add("r-2bcd0cc3", "Rotated SMTP credential");
    s.add("r-32281af1", "Another");
    s.date_records(Duration::from_secs(3600));
    let first = s.similar("n-0003", &mail_again(), &[]);
    assert_eq!(ids(&first), ["INC-r-2bcd0cc3"]);
    let file = s.cache_file();
    let whole = std::fs::read(&file).unwrap();

    // Truncated (a full disk, a crash before the rename was durable).
    std::fs::write(&file, &whole[..whole.len() / 2]).unwrap();
    assert_eq!(s.similar("n-0003", &mail_again(), &[]), first);
    assert_eq!(std::fs::read(&file).unwrap(), whole, "rebuilt whole");

    // One byte changed, the length kept: the checksum catches it.
    let mut flipped = whole.clone();
    let at = flipped.len() - 10;
    flipped[at] ^= 0x01;
    std::fs::write(&file, &flipped).unwrap();
    let library = s.load();
    assert!(library.cache.rebuilt, "a damaged cache is not trusted");
    assert_eq!(library.cache.read, 2);
    assert_eq!(s.similar("n-0003", &mail_again(), &[]), first);

    // Garbage, and an empty file.
    for junk in [&b"retrace-incidents-cache 1 3 0\n{}}"[..], b""] {
        std::fs::write(&file, junk).unwrap();
        assert_eq!(s.similar("n-0003", &mail_again(), &[]), first);
        let library = s.load();
        assert!(!library.cache.rebuilt && library.cache.reused == 2);
    }
}

#[test]
fn no_cache_gives_the_same_answers_and_writes_no_cache() {
    let s = Setup::new();
    s.run(&[
        "notes",
        "r-2bcd0cc3",
        "--action",
        "Reload SMTP credentials on rotation",
    ]);
    for run in [
        "r-2bcd0cc3",
        "r-32281af1",
        "r-c762f4ff",
        "r-715e60d7",
        "r-01ae7873",
    ] {
        s.add(run, run);
    }
    s.date_records(Duration::from_secs(3600));
    let uncached: Vec<Value> = ["n-0003", "n-0004"]
        .iter()
        .map(|run| s.similar(run, &mail_again(), &["--no-cache"]))
        .chain(
            ["r-bb19956c", "r-fe06714c"]
                .iter()
                .map(|run| s.similar(run, &demo(), &["--no-cache"])),
        )
        .collect();
    assert!(!s.cache_home.exists(), "--no-cache writes no cache");
    assert!(!ids(&uncached[0]).is_empty());
    // The cached answers, from a cold cache and then a warm one.
    for _ in 0..2 {
        let cached: Vec<Value> = ["n-0003", "n-0004"]
            .iter()
            .map(|run| s.similar(run, &mail_again(), &[]))
            .chain(
                ["r-bb19956c", "r-fe06714c"]
                    .iter()
                    .map(|run| s.similar(run, &demo(), &[])),
            )
            .collect();
        assert_eq!(cached, uncached);
    }
    // A ticked action item (in the notes, not the cached records) is seen at once.
    s.run(&["notes", "r-2bcd0cc3", "--done", "1"]);
    let after = s.similar("n-0003", &mail_again(), &[]);
    assert_eq!(after[0]["recurrence"], true, "{after}");
    assert_eq!(after, s.similar("n-0003", &mail_again(), &["--no-cache"]));
}

#[test]
fn two_similar_processes_at_once_leave_a_usable_private_cache_and_the_library_untouched() {
    use std::os::unix::fs::PermissionsExt;
    let s = Setup::new();
    for run in ["r-2bcd0cc3", "r-32281af1", "r-c762f4ff"] {
        s.add(run, run);
    }
    s.date_records(Duration::from_secs(3600));
    let before = s.library_files();
    let want = s.similar("n-0003", &mail_again(), &["--no-cache"]);
    for round in 0..3 {
        let _ = std::fs::remove_dir_all(&s.cache_home);
        let children: Vec<_> = (0..4)
            .map(|_| {
                s.command(&["similar", "n-0003", &mail_again(), "--json"])
                    .stdout(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for c in children {
            let out = c.wait_with_output().unwrap();
            assert!(out.status.success(), "round {round}");
            let got: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(got, want, "round {round}");
        }
        let library = s.load();
        assert!(!library.cache.rebuilt, "round {round}: the cache is whole");
        assert_eq!((library.cache.reused, library.cache.read), (3, 0));
    }
    let names: Vec<String> = std::fs::read_dir(s.cache_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 1, "one file, no temporaries left: {names:?}");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&s.cache_file()), 0o600);
    assert_eq!(mode(&s.cache_dir()), 0o700);
    assert_eq!(
        s.library_files(),
        before,
        "nothing written into the library"
    );
}
