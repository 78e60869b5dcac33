//! What the integration tests share: fixture paths and running the real binary.
// Each test binary uses some of these helpers, never all.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// Where the binary keeps its caches in tests: under target/, not the user's ~/.cache.
pub const CACHE_HOME: &str = env!("CARGO_TARGET_TMPDIR");

/// A file or folder under `tests/fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Runs `retrace ARGS PATH`, which must succeed.
pub fn retrace_ok(args: &[&str], path: &Path) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_retrace"))
        .args(args)
        .arg(path)
        .env("XDG_CACHE_HOME", CACHE_HOME)
        .output()
        .expect("run retrace");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `retrace ARGS PATH --json`, which must succeed with one JSON document.
pub fn retrace_json(args: &[&str], path: &Path) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = Command::new(env!("CARGO_BIN_EXE_retrace"))
        .args(args)
        .arg(path)
        .arg("--json")
        .env("XDG_CACHE_HOME", CACHE_HOME)
        .output()
        .expect("run retrace");
    assert!(
        out.status.success(),
        "{all:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON document")
}

/// `retrace ls PATH --json`'s runs, asserting the history had no problem.
pub fn runs(path: &Path) -> Vec<Value> {
    let doc = retrace_json(&["ls"], path);
    assert_eq!(
        doc["problems"],
        serde_json::json!([]),
        "{:#}",
        doc["problems"]
    );
    doc["runs"].as_array().expect("a runs array").clone()
}

/// Damaged copies of a cache file's bytes: cut in half, missing its last byte, empty, a
/// byte flipped two thirds in, and with bytes added at the end.
pub fn damaged_copies(whole: &[u8]) -> Vec<Vec<u8>> {
    let mut flipped = whole.to_vec();
    if let Some(byte) = flipped.get_mut(whole.len() * 2 / 3) {
        *byte ^= 0x5a;
    }
    vec![
        whole[..whole.len() / 2].to_vec(),
        whole[..whole.len().saturating_sub(1)].to_vec(),
        Vec::new(),
        flipped,
        [whole, b"more"].concat(),
    ]
}
