//! Whether a Codex tool step failed, from the shapes its versions record: a function
//! output whose JSON carries `metadata.exit_code`, text headed `Exit code: N` (the shell
//! tool) or `Process exited with code N` (unified exec), `success: false`; an
//! `exec_command_end` event's `exit_code`; a `patch_apply_end` event's `success`.

use serde_json::Value;

use crate::model::StepError;

/// Lines of an output's head searched for an exit code: the header Codex writes before
/// the command's own output (`Output:`), never the output itself.
const HEADER_LINES: usize = 8;

/// The error a tool output reports, if any. `output` is the parsed output value.
pub fn output_error(output: &Value) -> Option<StepError> {
    if let Some(code) = output
        .pointer("/metadata/exit_code")
        .and_then(Value::as_i64)
    {
        return exit_error(code, output.get("output").and_then(Value::as_str));
    }
    if output.get("success").and_then(Value::as_bool) == Some(false) {
        let text = output
            .get("content")
            .or(output.get("output"))
            .and_then(super::super::json::content_text);
        return Some(StepError {
            code: Some("failed".into()),
            message: text.map(|t| first_line(&t)),
            ..StepError::default()
        });
    }
    let text = match output {
        Value::String(s) => Some(s.clone()),
        Value::Array(_) => super::super::json::content_text(output),
        Value::Object(_) => output
            .get("output")
            .and_then(Value::as_str)
            .map(str::to_owned),
        _ => None,
    }?;
    exit_error(header_exit_code(&text)?, Some(&text))
}

/// An `exec_command_end` event's error (non-zero `exit_code`).
pub fn exec_end_error(payload: &Value) -> Option<StepError> {
    let code = payload.get("exit_code").and_then(Value::as_i64)?;
    let stderr = payload
        .get("stderr")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .or(payload.get("aggregated_output").and_then(Value::as_str));
    exit_error(code, stderr)
}

/// A `patch_apply_end` event's error (`success: false`).
pub fn patch_end_error(payload: &Value) -> Option<StepError> {
    (payload.get("success").and_then(Value::as_bool) == Some(false)).then(|| StepError {
        code: Some("patch failed".into()),
        message: payload
            .get("stderr")
            .and_then(Value::as_str)
            .map(first_line),
        ..StepError::default()
    })
}

fn exit_error(code: i64, text: Option<&str>) -> Option<StepError> {
    (code != 0).then(|| StepError {
        code: Some(format!("exit {code}")),
        message: text.map(first_line).filter(|t| !t.is_empty()),
        ..StepError::default()
    })
}

/// The exit code in the header Codex writes above a command's output.
fn header_exit_code(text: &str) -> Option<i64> {
    for line in text.lines().take(HEADER_LINES) {
        let line = line.trim();
        if line == "Output:" {
            break;
        }
        for prefix in ["Exit code:", "Process exited with code"] {
            if let Some(rest) = line.strip_prefix(prefix) {
                return rest.trim().parse().ok();
            }
        }
    }
    None
}

/// The first non-empty line, at most 200 characters.
fn first_line(text: &str) -> String {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty());
    line.unwrap_or("").chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_recorded_shape_of_a_failed_command_is_an_error() {
        let failing = [
            json!({"output": "boom", "metadata": {"exit_code": 2, "duration_seconds": 0.1}}),
            json!("Exit code: 1\nWall time: 0.2 seconds\nOutput:\nno such file"),
            json!("Chunk ID: 9\nWall time: 1.0 seconds\nProcess exited with code 127\nOutput:\nx"),
            json!({"content": "denied", "success": false}),
            json!([{"type": "input_text", "text": "Exit code: 3\nOutput:\n"}]),
        ];
        for output in &failing {
            assert!(output_error(output).is_some(), "{output}");
        }
        let code = output_error(&failing[2]).and_then(|e| e.code);
        assert_eq!(code.as_deref(), Some("exit 127"));
    }

    #[test]
    fn succeeding_outputs_and_exit_codes_inside_program_output_are_not_errors() {
        let fine = [
            json!({"output": "ok", "metadata": {"exit_code": 0}}),
            json!("Exit code: 0\nWall time: 0.2 seconds\nOutput:\nExit code: 1"),
            json!("plain text result"),
            json!({"content": "done", "success": true}),
            json!(null),
        ];
        for output in &fine {
            assert!(output_error(output).is_none(), "{output}");
        }
    }

    #[test]
    fn exec_and_patch_end_events_report_their_failures() {
        let failed = exec_end_error(&json!({"exit_code": 1, "stderr": "bad\n"}));
        assert_eq!(failed.and_then(|e| e.message).as_deref(), Some("bad"));
        assert!(exec_end_error(&json!({"exit_code": 0})).is_none());
        assert!(patch_end_error(&json!({"success": false, "stderr": "hunk"})).is_some());
        assert!(patch_end_error(&json!({"success": true})).is_none());
    }
}
