//! `/v1/logs`: the GenAI events among the log records (records named `gen_ai.*` by their
//! `eventName` or `event.name` attribute, with the trace id of the model call they belong
//! to) are kept as one `resourceLogs` line, which the reader turns into steps under their
//! spans. Other log records (application logs) are passed over.

use prost::Message;
use serde_json::{json, Map, Value};

use super::otlp::{
    any_value_json, attributes, depth, hex, hex_id, put_count, put_str, resource_json, scope_json,
    take_list, Encoding, MAX_SPAN_DEPTH,
};
use super::proto;

/// What one log export request holds for retrace.
#[derive(Debug, Default)]
pub struct GenAiEvents {
    /// The file-exporter line (without its newline) of the GenAI events; `None` when the
    /// request has none.
    pub line: Option<String>,
    /// GenAI events kept.
    pub events: usize,
}

/// Decodes a log export request and keeps its GenAI events. An error is a malformed
/// request (answered with 400).
pub fn decode_genai_events(body: &[u8], encoding: Encoding) -> Result<GenAiEvents, String> {
    let mut request = match encoding {
        Encoding::Protobuf => {
            let request = proto::ExportLogsServiceRequest::decode(body)
                .map_err(|e| format!("not an OTLP ExportLogsServiceRequest: {e}"))?;
            request_json(&request)
        }
        Encoding::Json => {
            let value: Value =
                serde_json::from_slice(body).map_err(|e| format!("not valid JSON: {e}"))?;
            if !value.is_object() {
                return Err("not an OTLP/JSON ExportLogsServiceRequest: not an object".into());
            }
            value
        }
    };
    let mut out = GenAiEvents::default();
    let Some(resource_logs) = take_list(&mut request, "resourceLogs", "resource_logs")? else {
        return Ok(out);
    };
    let mut kept_resources = Vec::new();
    for mut rl in resource_logs {
        let Some(scope_logs) = take_list(&mut rl, "scopeLogs", "scope_logs")? else {
            continue;
        };
        let shared_depth = depth(rl.get("resource").unwrap_or(&Value::Null));
        let mut kept_scopes = Vec::new();
        for mut sl in scope_logs {
            let records = take_list(&mut sl, "logRecords", "log_records")?.unwrap_or_default();
            let scope_depth = shared_depth.max(depth(sl.get("scope").unwrap_or(&Value::Null)));
            let kept: Vec<Value> = records
                .into_iter()
                .filter_map(|r| genai_event(r, scope_depth))
                .collect();
            if !kept.is_empty() {
                out.events += kept.len();
                sl["logRecords"] = Value::Array(kept);
                kept_scopes.push(sl);
            }
        }
        if !kept_scopes.is_empty() {
            rl["scopeLogs"] = Value::Array(kept_scopes);
            kept_resources.push(rl);
        }
    }
    if !kept_resources.is_empty() {
        let line = json!({ "resourceLogs": kept_resources });
        out.line = Some(serde_json::to_string(&line).map_err(|e| e.to_string())?);
    }
    Ok(out)
}

/// The record (ids normalised) when it is a GenAI event of a trace and nested no deeper
/// than a saved line may be.
fn genai_event(mut record: Value, shared_depth: usize) -> Option<Value> {
    let map = record.as_object_mut()?;
    for (snake, camel) in [
        ("trace_id", "traceId"),
        ("span_id", "spanId"),
        ("event_name", "eventName"),
        ("time_unix_nano", "timeUnixNano"),
    ] {
        if !map.contains_key(camel) {
            if let Some(v) = map.remove(snake) {
                map.insert(camel.to_string(), v);
            }
        }
    }
    let named = |name: Option<&Value>| {
        name.and_then(Value::as_str)
            .is_some_and(|n| n.starts_with("gen_ai."))
    };
    let by_attribute = map
        .get("attributes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|kv| {
            kv.get("key").and_then(Value::as_str) == Some("event.name")
                && named(kv.pointer("/value/stringValue"))
        });
    if !named(map.get("eventName")) && !by_attribute {
        return None;
    }
    let trace_id = hex_id(map.get("traceId"), 16).ok()?;
    map.insert("traceId".into(), Value::String(trace_id));
    match hex_id(map.get("spanId"), 8) {
        Ok(span_id) => map.insert("spanId".into(), Value::String(span_id)),
        Err(_) => map.remove("spanId"),
    };
    (shared_depth.max(depth(&record)) <= MAX_SPAN_DEPTH).then_some(record)
}

// --- protobuf to OTLP/JSON ----------------------------------------------------------------

fn request_json(request: &proto::ExportLogsServiceRequest) -> Value {
    let resource_logs: Vec<Value> = request
        .resource_logs
        .iter()
        .map(|rl| {
            let mut obj = Map::new();
            if let Some(resource) = &rl.resource {
                obj.insert("resource".into(), resource_json(resource));
            }
            let scopes: Vec<Value> = rl.scope_logs.iter().map(scope_logs_json).collect();
            obj.insert("scopeLogs".into(), Value::Array(scopes));
            put_str(&mut obj, "schemaUrl", &rl.schema_url);
            Value::Object(obj)
        })
        .collect();
    json!({ "resourceLogs": resource_logs })
}

fn scope_logs_json(sl: &proto::ScopeLogs) -> Value {
    let mut obj = Map::new();
    if let Some(scope) = &sl.scope {
        obj.insert("scope".into(), scope_json(scope));
    }
    let records: Vec<Value> = sl.log_records.iter().map(record_json).collect();
    obj.insert("logRecords".into(), Value::Array(records));
    put_str(&mut obj, "schemaUrl", &sl.schema_url);
    Value::Object(obj)
}

fn record_json(r: &proto::LogRecord) -> Value {
    let mut obj = Map::new();
    let nanos = |n: u64| Value::String(n.to_string());
    if r.time_unix_nano != 0 {
        obj.insert("timeUnixNano".into(), nanos(r.time_unix_nano));
    }
    if r.observed_time_unix_nano != 0 {
        obj.insert(
            "observedTimeUnixNano".into(),
            nanos(r.observed_time_unix_nano),
        );
    }
    if r.severity_number != 0 {
        obj.insert("severityNumber".into(), Value::from(r.severity_number));
    }
    put_str(&mut obj, "severityText", &r.severity_text);
    if let Some(body) = &r.body {
        obj.insert("body".into(), any_value_json(body));
    }
    obj.insert("attributes".into(), attributes(&r.attributes));
    put_count(
        &mut obj,
        "droppedAttributesCount",
        r.dropped_attributes_count,
    );
    put_count(&mut obj, "flags", r.flags);
    put_str(&mut obj, "traceId", &hex(&r.trace_id));
    put_str(&mut obj, "spanId", &hex(&r.span_id));
    put_str(&mut obj, "eventName", &r.event_name);
    Value::Object(obj)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(event_name: &str, trace: u8) -> proto::LogRecord {
        proto::LogRecord {
            time_unix_nano: 1_700_000_000_000_000_000,
            event_name: event_name.into(),
            trace_id: vec![trace; 16],
            span_id: vec![2; 8],
            body: Some(proto::AnyValue {
                value: Some(proto::any_value::Value::StringValue("hi".into())),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn only_genai_events_of_a_trace_are_kept_from_either_encoding() {
        let request = proto::ExportLogsServiceRequest {
            resource_logs: vec![proto::ResourceLogs {
                scope_logs: vec![proto::ScopeLogs {
                    log_records: vec![
                        record("gen_ai.choice", 1),
                        record("http.request", 1),
                        record("gen_ai.user.message", 0), // no trace: nothing to hang under
                        record("", 1),
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let out = decode_genai_events(&request.encode_to_vec(), Encoding::Protobuf).unwrap();
        assert_eq!(out.events, 1);
        let line: Value = serde_json::from_str(out.line.as_deref().unwrap()).unwrap();
        let kept = &line["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0];
        assert_eq!(kept["eventName"], "gen_ai.choice");
        assert_eq!(kept["traceId"], "01".repeat(16));
        assert_eq!(kept["body"]["stringValue"], "hi");
        assert_eq!(kept["timeUnixNano"], "1700000000000000000");

        // JSON, snake_case, named by the older `event.name` attribute.
        let body = json!({"resource_logs": [{"scope_logs": [{"log_records": [
            {"trace_id": "AB".repeat(16), "attributes": [
                {"key": "event.name", "value": {"stringValue": "gen_ai.choice"}}]},
            {"trace_id": "ab".repeat(16), "body": {"stringValue": "GET / 200"}},
        ]}]}]});
        let out = decode_genai_events(body.to_string().as_bytes(), Encoding::Json).unwrap();
        assert_eq!(out.events, 1);
        assert!(out
            .line
            .unwrap()
            .contains(&format!("\"traceId\":\"{}\"", "ab".repeat(16))));
        assert!(decode_genai_events(b"nonsense", Encoding::Json).is_err());
        let none = decode_genai_events(br#"{"resourceLogs":[]}"#, Encoding::Json).unwrap();
        assert!(none.line.is_none());
    }
}
