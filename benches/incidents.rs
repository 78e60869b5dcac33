//! The incident library at 10,000 incidents (the budget: `similar` under 100 ms).
//! The incidents are generated: 40 agents, 60 tools, 120 error codes with messages in
//! several vocabularies (access, outage, rejected values, consistency, policy), all five
//! categories, arguments of several shapes, failures spread over a year, a third with
//! action items. Written once into a temporary library (as the store names and formats
//! them; without the store's fsyncs, to keep the setup short). Measurements:
//!
//! - `similar/10k`: one failure against the prepared library (what the browser does on
//!   opening a failing run: the library stays prepared on its worker).
//! - `prepare/10k`: preparing the loaded records for comparison (once per library).
//! - `load/10k`: reading and parsing the 10,000 record files (the command line's first
//!   step; a cold start also pays the filesystem).
//! - `command/10k`: what `retrace similar` does with the library: load, prepare, compare
//!   (the run's own post-mortem, which depends on its history, aside).
//! - `cache/10k`: the library through a warm cache of prepared facts (list, stat each
//!   record, read the cache file), what `retrace similar` does instead of `load` and
//!   `prepare`.
//! - `cli/10k/warm-cache`, `cli/10k/no-cache`, `cli/empty`: the whole `retrace similar
//!   RUN PATH --json` as a new process (the release binary), against the 10,000
//!   incidents with the cache written by an earlier call, with `--no-cache`, and against
//!   an empty library (the process and the run's own post-mortem alone). The record
//!   files are dated an hour back, as in a library checked out earlier, so the cache
//!   keeps them (it leaves out records changed in the last 2 seconds). The files are in
//!   the OS page cache, as on a second call.

use criterion::{criterion_group, criterion_main, Criterion};
use retrace::incidents::cache::PreparedLibrary;
use retrace::incidents::record::{DivergenceSummary, Incident, Signature};
use retrace::incidents::similar::{Failure, SimilarIndex};
use retrace::incidents::store::IncidentStore;
use retrace::postmortem::notes::{ActionItem, Library};
use retrace::postmortem::Category;

const INCIDENTS: usize = 10_000;

struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

const VERBS: &[&str] = &[
    "send", "fetch", "create", "update", "query", "post", "charge", "sync", "upload", "resolve",
];
const NOUNS: &[&str] = &[
    "email",
    "invoice",
    "contact",
    "ticket",
    "page",
    "webhook",
    "partition",
    "label",
];
const MESSAGES: &[&str] = &[
    "authentication failed for user",
    "permission denied on resource",
    "quota exceeded, retry later",
    "certificate has expired",
    "upstream timeout after 30s",
    "connection reset by peer",
    "service unavailable",
    "invalid value for field",
    "value too long for column",
    "checksum mismatch between ledger and journal",
    "duplicate key violates unique constraint",
    "policy violation: refund outside window",
];
const CODES: &[&str] = &[
    "AUTH",
    "FORBIDDEN",
    "QUOTA",
    "CERT",
    "TIMEOUT",
    "RESET",
    "UNAVAILABLE",
    "INVALID",
    "TOO_LONG",
    "MISMATCH",
    "DUPLICATE",
    "POLICY",
];
const KINDS: &[&str] = &[
    "error_vs_success",
    "different_result",
    "different_decision",
    "different_arguments",
];

fn generate(n: usize) -> Vec<Incident> {
    let mut noise = Noise(0x9e37_79b9_7f4a_7c15);
    (0..n)
        .map(|i| {
            let tool = format!("{}_{}", noise.pick(VERBS), noise.pick(NOUNS));
            let which = (noise.next() % MESSAGES.len() as u64) as usize;
            let code = format!("{}_{}", CODES[which], noise.next() % 10);
            let agent = format!("agent-{}", noise.next() % 40);
            let category = Category::ALL[(noise.next() % 5) as usize];
            let day = noise.next() % 365;
            let at =
                1_767_225_600_000 + day as i64 * 86_400_000 + (noise.next() % 86_400_000) as i64;
            let args: Vec<String> = (0..(noise.next() % 6 + 1))
                .map(|k| {
                    format!(
                        "{}={}",
                        noise.pick(NOUNS),
                        if k % 2 == 0 {
                            "<number>".to_string()
                        } else {
                            format!("v{}", noise.next() % 50)
                        }
                    )
                })
                .collect();
            let signature = Signature {
                step: (noise.next() % 40) as u32,
                kind: "tool_result".into(),
                tool: Some(tool.clone()),
                error_code: Some(code.clone()),
                error_type: None,
                error_message: Some(format!("{} ({})", MESSAGES[which], noise.next() % 1000)),
                args,
            };
            let actions = if i % 3 == 0 {
                vec![ActionItem {
                    text: format!("fix {tool}"),
                    owner: Some("team".into()),
                    component: None,
                    done_when: Some("a drill passes".into()),
                    done: noise.next() % 2 == 0,
                }]
            } else {
                Vec::new()
            };
            let run = format!("g-{i:06}");
            Incident {
                id: retrace::incidents::record::incident_id(&run),
                title: format!("{} of {agent}: {tool} failed with {code}", category.label()),
                runs: vec![run],
                against: None,
                agent: Some(agent),
                agent_version: Some("1.0.0".into()),
                model: None,
                labels: [("task".to_string(), format!("task-{}", noise.next() % 80))]
                    .into_iter()
                    .collect(),
                category,
                category_source: "classifier".into(),
                failure: Some(signature.clone()),
                root_cause: Some(signature),
                divergence: Some(DivergenceSummary {
                    kind: noise.pick(KINDS).into(),
                    step: None,
                    summary: String::new(),
                }),
                error_codes: vec![code],
                summary: String::new(),
                narrative: Some("What happened, in order.".into()),
                action_items: actions,
                started_at: Some(retrace::time::format_rfc3339(at - 5_000)),
                failed_at: Some(retrace::time::format_rfc3339(at)),
                created_at: None,
                updated_at: None,
            }
        })
        .collect()
}

fn query() -> Failure {
    Failure {
        run_id: Some("new-run".into()),
        agent: Some("agent-7".into()),
        task: vec![("task".into(), "task-3".into())],
        category: Some(Category::EnvironmentalChange),
        divergence: Some("error_vs_success".into()),
        signature: Some(Signature {
            step: 15,
            kind: "tool_result".into(),
            tool: Some("send_email".into()),
            error_code: Some("AUTH_3".into()),
            error_type: None,
            error_message: Some("535 authentication failed for user".into()),
            args: vec!["email=<number>".into(), "ticket=v3".into()],
        }),
        at: Some(1_780_000_000_000),
    }
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temporary library");
    let store = IncidentStore::new(Library::at(dir.path()));
    std::fs::create_dir_all(store.dir()).expect("incidents folder");
    for incident in generate(INCIDENTS) {
        let bytes = serde_json::to_vec_pretty(&incident).expect("serialises");
        std::fs::write(store.record_path(&incident.id), bytes).expect("written");
        std::fs::write(store.report_path(&incident.id), "# Post-mortem\n").expect("written");
    }
    // The demo's credential incident, which the command-line query (the same failure
    // elsewhere) finds, so the shown records are read and explained too.
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo");
    let saved = std::process::Command::new(env!("CARGO_BIN_EXE_retrace"))
        .args(["incidents", "add", "r-2bcd0cc3", "--library"])
        .arg(dir.path())
        .arg(&demo)
        .output()
        .expect("retrace runs");
    assert!(
        saved.status.success(),
        "{}",
        String::from_utf8_lossy(&saved.stderr)
    );
    let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    for entry in std::fs::read_dir(store.dir()).expect("incidents folder") {
        let file = std::fs::File::options()
            .write(true)
            .open(entry.expect("an entry").path())
            .expect("a record");
        file.set_modified(an_hour_ago).expect("dated");
    }
    let loaded = store.load_all().expect("loads");
    assert_eq!(loaded.incidents.len(), INCIDENTS + 1);
    let index = SimilarIndex::new(loaded.incidents.clone());
    let failure = query();
    assert!(
        !index.similar(&failure, 5).is_empty(),
        "the query finds something"
    );

    c.bench_function("similar/10k", |b| b.iter(|| index.similar(&failure, 5)));
    c.bench_function("prepare/10k", |b| {
        b.iter_batched(
            || loaded.incidents.clone(),
            SimilarIndex::new,
            criterion::BatchSize::LargeInput,
        )
    });
    c.bench_function("load/10k", |b| b.iter(|| store.load_all().expect("loads")));
    c.bench_function("command/10k", |b| {
        b.iter(|| {
            let loaded = store.load_all().expect("loads");
            SimilarIndex::new(loaded.incidents).similar(&failure, 5)
        })
    });

    let cache = tempfile::tempdir().expect("a cache folder");
    let warmed = PreparedLibrary::load(&store, cache.path()).expect("loads");
    assert!(warmed.cache.written, "the cache is written");
    c.bench_function("cache/10k", |b| {
        b.iter(|| {
            let library = PreparedLibrary::load(&store, cache.path()).expect("loads");
            assert_eq!(library.cache.reused, INCIDENTS + 1);
            library.similar(&store, &failure, 5)
        })
    });

    let history = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/incidents/mail_auth_again");
    let empty = tempfile::tempdir().expect("an empty library");
    let similar = |library: &std::path::Path, extra: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_retrace"))
            .args(["similar", "n-0003", "--json", "--library"])
            .arg(library)
            .arg(&history)
            .args(extra)
            .env("XDG_CACHE_HOME", cache.path())
            .output()
            .expect("retrace runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let cached = similar(dir.path(), &[]);
    assert_eq!(
        cached,
        similar(dir.path(), &["--no-cache"]),
        "the same answer"
    );
    assert!(
        String::from_utf8_lossy(&cached).contains("INC-r-2bcd0cc3"),
        "the query finds the credential incident"
    );
    c.bench_function("cli/10k/warm-cache", |b| {
        b.iter(|| similar(dir.path(), &[]))
    });
    c.bench_function("cli/10k/no-cache", |b| {
        b.iter(|| similar(dir.path(), &["--no-cache"]))
    });
    c.bench_function("cli/empty", |b| b.iter(|| similar(empty.path(), &[])));
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench
}
criterion_main!(benches);
