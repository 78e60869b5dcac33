//! OpenTelemetry traces as the Collector's file exporter writes them: JSON lines of
//! `resourceSpans`. A trace is a run, each span a step, the span tree the decision tree.
//! GenAI semantic conventions (`gen_ai.*`), OpenInference (`openinference.span.kind`,
//! `input.value`, `llm.*`, `tool.name`) and OpenLLMetry (`traceloop.*`,
//! `llm.request.type`) give kinds, tools, models, inputs and outputs (`messages` reads
//! a model call's messages); span status ERROR and `exception` events are errors. Spans
//! of kinds none of these name are kept as steps of their own (`span`). `resourceLogs`
//! lines give the GenAI events among their records (`logs`); `resourceMetrics` lines
//! are passed over.

mod logs;
mod messages;

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::json::{str_of, StepRecord};
use super::{Event, TokenCount};
use crate::model::{count_of, Outcome, Status, StepError, Tokens};
use messages::embedded;

/// Parses one line into one event a span. Spans that cannot be placed in a run (no trace
/// id) are left out and said once for the line in `problems`; the rest loads.
pub fn parse_line<'a>(
    line: &'a str,
    with_records: bool,
    out: &mut Vec<Event<'a>>,
    problems: &mut Vec<super::PartProblem>,
) -> Result<(), String> {
    let v: Value = serde_json::from_str(line).map_err(|e| format!("not valid JSON: {e}"))?;
    let Some(obj) = v.as_object() else {
        return Err("not a JSON object".into());
    };
    let first = out.len();
    let Some(resource_spans) = obj.get("resourceSpans") else {
        if let Some(resource_logs) = obj.get("resourceLogs") {
            logs::parse(resource_logs, with_records, out);
            number_from(first, out);
            return Ok(());
        }
        if obj.contains_key("resourceMetrics") {
            return Ok(());
        }
        return Err("not an OTLP line: no resourceSpans, resourceMetrics or resourceLogs".into());
    };
    let mut left_out = 0;
    for rs in resource_spans.as_array().into_iter().flatten() {
        let resource = attributes(rs.pointer("/resource/attributes"));
        for ss in rs
            .get("scopeSpans")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let scope = ss.get("scope");
            for span in ss
                .get("spans")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                match map_span(span, &resource, scope, with_records) {
                    Some(ev) => out.push(ev),
                    None => left_out += 1,
                }
            }
        }
    }
    number_from(first, out);
    if left_out > 0 {
        problems.push((0, format!("{left_out} span(s) without a traceId left out")));
    }
    Ok(())
}

fn map_span<'a>(
    span: &Value,
    resource: &Map<String, Value>,
    scope: Option<&Value>,
    with_records: bool,
) -> Option<Event<'a>> {
    let trace_id = str_of(span, "traceId").filter(|t| !t.is_empty())?;
    let attrs = attributes(span.get("attributes"));
    let a = |k: &str| attrs.get(k).and_then(Value::as_str);
    let tool_name = a("gen_ai.tool.name")
        .or(a("tool.name"))
        .or(a("traceloop.entity.name").filter(|_| a("traceloop.span.kind") == Some("tool")));
    let model = a("gen_ai.response.model")
        .or(a("gen_ai.request.model"))
        .or(a("llm.model_name"))
        .or(a("llm.response.model"))
        .or(a("llm.request.model"));
    let tokens = usage(&attrs);
    let kind = span_kind(
        &attrs,
        tool_name.is_some(),
        model.is_some() && tokens.is_some(),
    );
    let span_name = str_of(span, "name").unwrap_or("span");
    let name = match kind {
        "tool_call" => tool_name.unwrap_or(span_name),
        _ => span_name,
    };
    let start = nanos(span.get("startTimeUnixNano"));
    let end = nanos(span.get("endTimeUnixNano"));
    let parent = str_of(span, "parentSpanId").filter(|p| !p.is_empty());

    let mut error = None;
    let code = span.pointer("/status/code");
    let is_error = matches!(code, Some(Value::Number(n)) if n.as_i64() == Some(2))
        || matches!(code, Some(Value::String(s)) if s == "STATUS_CODE_ERROR");
    let is_ok = matches!(code, Some(Value::Number(n)) if n.as_i64() == Some(1))
        || matches!(code, Some(Value::String(s)) if s == "STATUS_CODE_OK");
    if is_error {
        error = Some(StepError {
            message: span
                .pointer("/status/message")
                .and_then(Value::as_str)
                .map(status_message)
                .filter(|m| !m.is_empty()),
            ..StepError::default()
        });
    }
    // The last exception is the one that ended the span (earlier ones may have been
    // retried). Its type and message say what failed; its stack trace stays in the
    // detail (the span's events, under meta).
    let exception = span
        .get("events")
        .and_then(Value::as_array)
        .and_then(|events| {
            events
                .iter()
                .rfind(|event| str_of(event, "name") == Some("exception"))
        })
        .map(|event| attributes(event.get("attributes")));
    if let Some(ex) = exception {
        let text = |k: &str| {
            ex.get(k)
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
        };
        let e = error.get_or_insert_with(StepError::default);
        e.error_type = text("exception.type");
        // SDKs repeat `Type: message` as the status message: the exception's own is plainer.
        e.message = text("exception.message").or(e.message.take());
    }
    if let Some(e) = error.as_mut() {
        // `error.type` is the conventions' error class; else the exception's type.
        e.code = a("error.type")
            .map(str::to_owned)
            .or_else(|| e.error_type.clone());
    }
    let status = if error.is_some() {
        Status::Error
    } else if is_ok {
        Status::Ok
    } else {
        Status::Unset
    };

    let mut ev = Event {
        run_id: Cow::Owned(trace_id.to_string()),
        tokens,
        // An agent's or a chain's usage sums its children's: shown, not counted again.
        tokens_count: if matches!(kind, "agent" | "chain") {
            TokenCount::Shown
        } else {
            TokenCount::Add
        },
        kind: Cow::Borrowed(kind),
        id: str_of(span, "spanId").map(|s| Cow::Owned(s.to_string())),
        parent: parent.map(|p| Cow::Owned(p.to_string())),
        name: Some(Cow::Owned(name.to_string())),
        status: Some(status),
        error: error.clone(),
        ts: start.map(|n| n / 1_000_000),
        duration_ms: start.zip(end).map(|(s, e)| (e - s).max(0) as f64 / 1e6),
        model: model.map(|m| Cow::Owned(m.to_string())),
        ..Event::default()
    };
    if parent.is_none() {
        // The root span describes the trace: which agent or service, and how it ended.
        ev.describes_run = true;
        let service = resource.get("service.name").and_then(Value::as_str);
        ev.agent = a("gen_ai.agent.name")
            .or(service)
            .map(|s| Cow::Owned(s.to_string()));
        ev.agent_version = resource
            .get("service.version")
            .and_then(Value::as_str)
            .map(|s| Cow::Owned(s.to_string()));
        let mut labels = BTreeMap::new();
        if let Some(s) = service {
            labels.insert("service.name".to_string(), s.to_string());
        }
        for key in [
            "gen_ai.system",
            "gen_ai.provider.name",
            "gen_ai.conversation.id",
            "gen_ai.agent.id",
        ] {
            if let Some(v) = a(key) {
                labels.insert(key.to_string(), v.to_string());
            }
        }
        ev.labels = Some(labels);
        ev.outcome = Some(if is_error {
            Outcome::Failure
        } else {
            Outcome::Success
        });
    }
    if with_records {
        let (input, output) = input_output(kind, &attrs, span.get("events"));
        let tokens = tokens.map(|t| json!({"input": t.input, "output": t.output}));
        let mut meta = Map::new();
        for key in [
            "traceId",
            "spanId",
            "parentSpanId",
            "kind",
            "startTimeUnixNano",
            "endTimeUnixNano",
            "status",
            "events",
            "links",
            "flags",
            "traceState",
        ] {
            if let Some(v) = span.get(key) {
                meta.insert(key.to_string(), v.clone());
            }
        }
        meta.insert("attributes".into(), Value::Object(attrs.clone()));
        meta.insert("resource".into(), Value::Object(resource.clone()));
        if let Some(scope) = scope {
            meta.insert("scope".into(), scope.clone());
        }
        ev.record = Some(
            StepRecord {
                kind: kind.to_string(),
                name: Some(name.to_string()),
                model: model.map(str::to_owned),
                input,
                output,
                status: Some(status),
                error,
                tokens,
                meta: Some(Value::Object(meta)),
                ..StepRecord::default()
            }
            .into_value(),
        );
    }
    Some(ev)
}

/// Numbers the events of one line (from `first`) in their order there.
fn number_from(first: usize, out: &mut [Event<'_>]) {
    for (sub, ev) in out[first..].iter_mut().enumerate() {
        ev.sub = sub as u32;
    }
}

/// A status message as an error message: some instrumentations (OpenInference's) append
/// the whole Python traceback to it; that stays in the detail (the span's `status`, under
/// meta), the message is what precedes it, or its first line.
fn status_message(text: &str) -> String {
    let head = match text.find("Traceback (most recent call last)") {
        Some(at) => &text[..at],
        None => text,
    };
    head.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default()
        .to_string()
}

/// The step kind of a span: what the GenAI conventions' operation, OpenInference's span
/// kind or OpenLLMetry's say, else a tool call when it names a tool, a model call when it
/// names a model and reports usage, else `span` (kept, shown as-is).
fn span_kind(attrs: &Map<String, Value>, names_tool: bool, model_with_usage: bool) -> &'static str {
    let a = |k: &str| attrs.get(k).and_then(Value::as_str);
    let operation = a("gen_ai.operation.name");
    let openinference = a("openinference.span.kind").map(str::to_ascii_uppercase);
    let openllmetry = a("traceloop.span.kind");
    match (operation, openinference.as_deref(), openllmetry) {
        (Some("chat" | "text_completion" | "generate_content" | "embeddings"), _, _)
        | (_, Some("LLM" | "EMBEDDING"), _) => "llm_call",
        (Some("execute_tool"), _, _)
        | (_, Some("TOOL" | "RETRIEVER"), _)
        | (_, _, Some("tool")) => "tool_call",
        (Some("invoke_agent" | "create_agent"), _, _)
        | (_, Some("AGENT"), _)
        | (_, _, Some("agent")) => "agent",
        (_, Some("CHAIN"), _) | (_, _, Some("workflow" | "task")) => "chain",
        _ if a("llm.request.type").is_some() => "llm_call",
        _ if names_tool => "tool_call",
        _ if model_with_usage => "llm_call",
        _ => "span",
    }
}

/// A step's input and output. A model call's are its messages ([`messages`]), falling
/// back to the framework's raw `input.value` / `output.value`; a tool call's are its
/// arguments and result.
fn input_output(
    kind: &str,
    attrs: &Map<String, Value>,
    events: Option<&Value>,
) -> (Option<Value>, Option<Value>) {
    let first = |keys: &[&str]| keys.iter().find_map(|k| attrs.get(*k)).map(embedded);
    match kind {
        "llm_call" => (
            messages::model_input(attrs).or_else(|| first(&["input.value", "gen_ai.prompt"])),
            messages::model_output(attrs, events)
                .or_else(|| first(&["output.value", "gen_ai.output", "gen_ai.completion"])),
        ),
        "tool_call" => (
            first(&[
                "gen_ai.tool.call.arguments",
                "gen_ai.tool.args",
                "input.value",
                "traceloop.entity.input",
            ]),
            first(&[
                "gen_ai.tool.call.result",
                "output.value",
                "gen_ai.output",
                "traceloop.entity.output",
            ]),
        ),
        _ => (
            first(&[
                "input.value",
                "gen_ai.input.messages",
                "traceloop.entity.input",
            ]),
            first(&[
                "output.value",
                "gen_ai.output.messages",
                "gen_ai.output",
                "traceloop.entity.output",
            ]),
        ),
    }
}

/// A span's token usage: the GenAI conventions' `gen_ai.usage.input_tokens` and
/// `output_tokens` (or their older `prompt_tokens` and `completion_tokens`), else
/// OpenInference's `llm.token_count.prompt` and `completion`.
fn usage(attrs: &Map<String, Value>) -> Option<Tokens> {
    let count = |keys: &[&str]| keys.iter().find_map(|k| attrs.get(*k).and_then(count_of));
    let input = count(&[
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.prompt_tokens",
        "llm.token_count.prompt",
    ]);
    let output = count(&[
        "gen_ai.usage.output_tokens",
        "gen_ai.usage.completion_tokens",
        "llm.token_count.completion",
    ]);
    (input.is_some() || output.is_some()).then(|| Tokens {
        input: input.unwrap_or(0),
        output: output.unwrap_or(0),
    })
}

/// OTLP `[{key, value: {stringValue|intValue|...}}]` as a plain object.
pub fn attributes(list: Option<&Value>) -> Map<String, Value> {
    list.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|kv| Some((str_of(kv, "key")?.to_string(), any_value(kv.get("value")?))))
        .collect()
}

fn any_value(v: &Value) -> Value {
    let Some(obj) = v.as_object() else {
        return v.clone();
    };
    if let Some(s) = obj.get("stringValue") {
        return s.clone();
    }
    if let Some(i) = obj.get("intValue") {
        // OTLP JSON writes 64-bit integers as strings.
        return match i {
            Value::String(s) => s
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or_else(|_| i.clone()),
            other => other.clone(),
        };
    }
    if let Some(x) = obj
        .get("doubleValue")
        .or(obj.get("boolValue"))
        .or(obj.get("bytesValue"))
    {
        return x.clone();
    }
    if let Some(values) = obj
        .get("arrayValue")
        .and_then(|a| a.get("values"))
        .and_then(Value::as_array)
    {
        return Value::Array(values.iter().map(any_value).collect());
    }
    if let Some(kvs) = obj.get("kvlistValue") {
        return Value::Object(attributes(kvs.get("values")));
    }
    Value::Null
}

fn nanos(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}
