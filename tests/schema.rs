//! The JSON Schema in assets/ describes the native format: every demo line validates
//! against it, and lines the loader rejects for a field type are rejected by it too.

use std::path::Path;

use serde_json::Value;

fn compiled() -> (boon::Schemas, boon::SchemaIndex) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("assets/run-format.schema.json")).unwrap(),
    )
    .unwrap();
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler.enable_format_assertions();
    compiler
        .add_resource("run-format.schema.json", schema)
        .unwrap();
    let index = compiler
        .compile("run-format.schema.json", &mut schemas)
        .unwrap();
    (schemas, index)
}

fn demo_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            demo_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "jsonl") {
            out.push(path);
        }
    }
}

#[test]
fn every_demo_line_validates_against_the_schema() {
    let (schemas, index) = compiled();
    let mut files = Vec::new();
    demo_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo"),
        &mut files,
    );
    assert!(files.len() >= 3);
    let mut lines = 0;
    for file in files {
        for (n, line) in std::fs::read_to_string(&file).unwrap().lines().enumerate() {
            let value: Value = serde_json::from_str(line).unwrap();
            if let Err(e) = schemas.validate(&value, index) {
                panic!("{}:{}: {e}", file.display(), n + 1);
            }
            lines += 1;
        }
    }
    assert!(lines > 300, "only {lines} lines");
}

#[test]
fn the_schema_rejects_what_the_loader_rejects() {
    let (schemas, index) = compiled();
    for bad in [
        r#"{"kind":"llm_call"}"#,
        r#"{"run_id":"r"}"#,
        r#"{"run_id":"r","kind":"x","step":"3"}"#,
        r#"{"run_id":"r","kind":"x","status":"fine"}"#,
        r#"{"run_id":"r","kind":"x","ts":"yesterday"}"#,
        r#"{"run_id":"r","kind":"x","labels":{"a":1}}"#,
        r#"{"run_id":"r","kind":"run_end","outcome":"meh"}"#,
    ] {
        let value: Value = serde_json::from_str(bad).unwrap();
        assert!(schemas.validate(&value, index).is_err(), "accepted {bad}");
    }
    let ok: Value = serde_json::from_str(
        r#"{"run_id":"r","kind":"handoff","parent":null,"error":{"code":503},"ts":1763000000000.5,"custom":1}"#,
    )
    .unwrap();
    assert!(schemas.validate(&ok, index).is_ok());
}
