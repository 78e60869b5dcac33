//! Turns an OTLP trace export request (protobuf or JSON) into the one line the Collector's
//! file exporter would write for it (OTLP/JSON: hex ids, nanosecond times as strings),
//! keeping the usable spans and counting the rest; and encodes the OTLP responses.
//! Pure functions: no IO.

use prost::Message;
use serde_json::{json, Map, Value};

use super::proto::{self, any_value};

/// How a request body (and so its response) is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    /// The encoding of a `Content-Type` (parameters such as `charset` ignored).
    pub fn of_content_type(content_type: &str) -> Option<Encoding> {
        let media = content_type.split(';').next().unwrap_or("").trim();
        if media.eq_ignore_ascii_case("application/x-protobuf")
            || media.eq_ignore_ascii_case("application/protobuf")
        {
            Some(Encoding::Protobuf)
        } else if media.eq_ignore_ascii_case("application/json") {
            Some(Encoding::Json)
        } else {
            None
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }
}

/// A span nested deeper than this (in its JSON form) is refused: the line it would be
/// written on must stay readable by a JSON parser's recursion limit (128 in serde_json).
pub const MAX_SPAN_DEPTH: usize = 64;

/// What one trace export request holds.
#[derive(Debug, Default)]
pub struct Traces {
    /// The file-exporter line (without its newline) of the usable spans; `None` when
    /// there is none.
    pub line: Option<String>,
    /// Spans kept.
    pub spans: usize,
    /// Distinct trace ids among them.
    pub traces: usize,
    /// Spans refused, and why (the first reason, with the count).
    pub rejected: usize,
    pub rejection: Option<String>,
}

/// Decodes a trace export request. An error is a malformed request as a whole (answered
/// with 400); unusable spans in a well-formed one are counted in [`Traces::rejected`].
pub fn decode_traces(body: &[u8], encoding: Encoding) -> Result<Traces, String> {
    let mut request = match encoding {
        Encoding::Protobuf => {
            let request = proto::ExportTraceServiceRequest::decode(body)
                .map_err(|e| format!("not an OTLP ExportTraceServiceRequest: {e}"))?;
            request_json(&request)
        }
        Encoding::Json => {
            let value: Value =
                serde_json::from_slice(body).map_err(|e| format!("not valid JSON: {e}"))?;
            if !value.is_object() {
                return Err("not an OTLP/JSON ExportTraceServiceRequest: not an object".into());
            }
            value
        }
    };
    let mut out = Traces::default();
    let mut trace_ids = std::collections::HashSet::new();
    let mut first_reason = None;
    let Some(resource_spans) = take_list(&mut request, "resourceSpans", "resource_spans")? else {
        return Ok(out);
    };
    let mut kept_resources = Vec::new();
    for mut rs in resource_spans {
        let Some(scope_spans) = take_list(&mut rs, "scopeSpans", "scope_spans")? else {
            continue;
        };
        // Resource and scope attributes are written with every span of theirs.
        let shared_depth = depth(rs.get("resource").unwrap_or(&Value::Null));
        let mut kept_scopes = Vec::new();
        for mut ss in scope_spans {
            let spans = take_list(&mut ss, "spans", "spans")?.unwrap_or_default();
            let scope_depth = shared_depth.max(depth(ss.get("scope").unwrap_or(&Value::Null)));
            let mut kept = Vec::new();
            for mut span in spans {
                match check_span(&mut span, scope_depth) {
                    Ok(trace_id) => {
                        trace_ids.insert(trace_id);
                        kept.push(span);
                    }
                    Err(reason) => {
                        out.rejected += 1;
                        first_reason.get_or_insert(reason);
                    }
                }
            }
            if !kept.is_empty() {
                out.spans += kept.len();
                ss["spans"] = Value::Array(kept);
                kept_scopes.push(ss);
            }
        }
        if !kept_scopes.is_empty() {
            rs["scopeSpans"] = Value::Array(kept_scopes);
            kept_resources.push(rs);
        }
    }
    out.traces = trace_ids.len();
    if let Some(reason) = first_reason {
        out.rejection = Some(format!(
            "{} span(s) rejected; the first because {reason}",
            out.rejected
        ));
    }
    if !kept_resources.is_empty() {
        let line = json!({ "resourceSpans": kept_resources });
        out.line = Some(serde_json::to_string(&line).map_err(|e| e.to_string())?);
    }
    Ok(out)
}

/// Takes a list field out of an object, under its lowerCamelCase or its snake_case name
/// (OTLP/JSON receivers accept both). Absent or null is `None`; not a list is an error.
pub(super) fn take_list(
    obj: &mut Value,
    camel: &str,
    snake: &str,
) -> Result<Option<Vec<Value>>, String> {
    let Some(map) = obj.as_object_mut() else {
        return Err(format!("{camel}: an element is not an object"));
    };
    let value = map.remove(camel).or_else(|| map.remove(snake));
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => Ok(Some(items)),
        Some(_) => Err(format!("{camel} is not a list")),
    }
}

/// Checks a span (OTLP/JSON form) and normalises its ids (lowercase hex, an all-zero
/// parent removed); returns its trace id.
fn check_span(span: &mut Value, shared_depth: usize) -> Result<String, String> {
    let Some(map) = span.as_object_mut() else {
        return Err("a span is not an object".into());
    };
    for (snake, camel) in [
        ("trace_id", "traceId"),
        ("span_id", "spanId"),
        ("parent_span_id", "parentSpanId"),
        ("start_time_unix_nano", "startTimeUnixNano"),
        ("end_time_unix_nano", "endTimeUnixNano"),
    ] {
        if !map.contains_key(camel) {
            if let Some(v) = map.remove(snake) {
                map.insert(camel.to_string(), v);
            }
        }
    }
    let trace_id = hex_id(map.get("traceId"), 16).map_err(|e| format!("its traceId {e}"))?;
    let span_id = hex_id(map.get("spanId"), 8).map_err(|e| format!("its spanId {e}"))?;
    let parent = match map.get("parentSpanId") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        p => match hex_id(p, 8) {
            Ok(p) => Some(p),
            Err(e) if e.contains("all zero") => None,
            Err(e) => return Err(format!("its parentSpanId {e}")),
        },
    };
    map.insert("traceId".into(), Value::String(trace_id.clone()));
    map.insert("spanId".into(), Value::String(span_id));
    match parent {
        Some(p) => map.insert("parentSpanId".into(), Value::String(p)),
        None => map.remove("parentSpanId"),
    };
    if shared_depth.max(depth(span)) > MAX_SPAN_DEPTH {
        return Err(format!(
            "it is nested more than {MAX_SPAN_DEPTH} levels deep"
        ));
    }
    Ok(trace_id)
}

/// A hex id of `bytes` bytes, not all zero, in lowercase.
pub(super) fn hex_id(v: Option<&Value>, bytes: usize) -> Result<String, String> {
    let s = match v {
        None | Some(Value::Null) => return Err("is missing".into()),
        Some(Value::String(s)) => s,
        Some(_) => return Err("is not a string".into()),
    };
    if s.len() != bytes * 2 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("is not {} hex digits", bytes * 2));
    }
    if s.bytes().all(|b| b == b'0') {
        return Err("is all zero".into());
    }
    Ok(s.to_ascii_lowercase())
}

/// Nesting depth of a JSON value (a scalar is 0).
pub(super) fn depth(v: &Value) -> usize {
    match v {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

// --- protobuf to OTLP/JSON, as the Collector's file exporter writes it -------------------

fn request_json(request: &proto::ExportTraceServiceRequest) -> Value {
    let resource_spans: Vec<Value> = request
        .resource_spans
        .iter()
        .map(|rs| {
            let mut obj = Map::new();
            if let Some(resource) = &rs.resource {
                obj.insert("resource".into(), resource_json(resource));
            }
            let scopes = rs.scope_spans.iter().map(scope_spans_json).collect();
            obj.insert("scopeSpans".into(), Value::Array(scopes));
            put_str(&mut obj, "schemaUrl", &rs.schema_url);
            Value::Object(obj)
        })
        .collect();
    json!({ "resourceSpans": resource_spans })
}

pub(super) fn resource_json(resource: &proto::Resource) -> Value {
    let mut r = Map::new();
    r.insert("attributes".into(), attributes(&resource.attributes));
    put_count(
        &mut r,
        "droppedAttributesCount",
        resource.dropped_attributes_count,
    );
    Value::Object(r)
}

pub(super) fn scope_json(scope: &proto::InstrumentationScope) -> Value {
    let mut s = Map::new();
    put_str(&mut s, "name", &scope.name);
    put_str(&mut s, "version", &scope.version);
    if !scope.attributes.is_empty() {
        s.insert("attributes".into(), attributes(&scope.attributes));
    }
    put_count(
        &mut s,
        "droppedAttributesCount",
        scope.dropped_attributes_count,
    );
    Value::Object(s)
}

fn scope_spans_json(ss: &proto::ScopeSpans) -> Value {
    let mut obj = Map::new();
    if let Some(scope) = &ss.scope {
        obj.insert("scope".into(), scope_json(scope));
    }
    obj.insert(
        "spans".into(),
        Value::Array(ss.spans.iter().map(span_json).collect()),
    );
    put_str(&mut obj, "schemaUrl", &ss.schema_url);
    Value::Object(obj)
}

fn span_json(span: &proto::Span) -> Value {
    let mut obj = Map::new();
    obj.insert("traceId".into(), Value::String(hex(&span.trace_id)));
    obj.insert("spanId".into(), Value::String(hex(&span.span_id)));
    put_str(&mut obj, "traceState", &span.trace_state);
    if !span.parent_span_id.is_empty() {
        obj.insert(
            "parentSpanId".into(),
            Value::String(hex(&span.parent_span_id)),
        );
    }
    put_count(&mut obj, "flags", span.flags);
    obj.insert("name".into(), Value::String(span.name.clone()));
    obj.insert("kind".into(), Value::from(span.kind));
    obj.insert(
        "startTimeUnixNano".into(),
        Value::String(span.start_time_unix_nano.to_string()),
    );
    obj.insert(
        "endTimeUnixNano".into(),
        Value::String(span.end_time_unix_nano.to_string()),
    );
    if !span.attributes.is_empty() {
        obj.insert("attributes".into(), attributes(&span.attributes));
    }
    put_count(
        &mut obj,
        "droppedAttributesCount",
        span.dropped_attributes_count,
    );
    if !span.events.is_empty() {
        let events = span
            .events
            .iter()
            .map(|e| {
                let mut ev = Map::new();
                ev.insert(
                    "timeUnixNano".into(),
                    Value::String(e.time_unix_nano.to_string()),
                );
                ev.insert("name".into(), Value::String(e.name.clone()));
                if !e.attributes.is_empty() {
                    ev.insert("attributes".into(), attributes(&e.attributes));
                }
                put_count(
                    &mut ev,
                    "droppedAttributesCount",
                    e.dropped_attributes_count,
                );
                Value::Object(ev)
            })
            .collect();
        obj.insert("events".into(), Value::Array(events));
    }
    put_count(&mut obj, "droppedEventsCount", span.dropped_events_count);
    if !span.links.is_empty() {
        let links = span
            .links
            .iter()
            .map(|l| {
                let mut link = Map::new();
                link.insert("traceId".into(), Value::String(hex(&l.trace_id)));
                link.insert("spanId".into(), Value::String(hex(&l.span_id)));
                put_str(&mut link, "traceState", &l.trace_state);
                if !l.attributes.is_empty() {
                    link.insert("attributes".into(), attributes(&l.attributes));
                }
                put_count(
                    &mut link,
                    "droppedAttributesCount",
                    l.dropped_attributes_count,
                );
                put_count(&mut link, "flags", l.flags);
                Value::Object(link)
            })
            .collect();
        obj.insert("links".into(), Value::Array(links));
    }
    put_count(&mut obj, "droppedLinksCount", span.dropped_links_count);
    let mut status = Map::new();
    if let Some(s) = &span.status {
        put_str(&mut status, "message", &s.message);
        if s.code != 0 {
            status.insert("code".into(), Value::from(s.code));
        }
    }
    obj.insert("status".into(), Value::Object(status));
    Value::Object(obj)
}

pub(super) fn attributes(list: &[proto::KeyValue]) -> Value {
    Value::Array(
        list.iter()
            .map(|kv| {
                let value = kv.value.as_ref().map_or(json!({}), any_value_json);
                json!({ "key": kv.key, "value": value })
            })
            .collect(),
    )
}

pub(super) fn any_value_json(v: &proto::AnyValue) -> Value {
    match &v.value {
        None => json!({}),
        Some(any_value::Value::StringValue(s)) => json!({ "stringValue": s }),
        Some(any_value::Value::BoolValue(b)) => json!({ "boolValue": b }),
        // 64-bit integers are strings in OTLP/JSON.
        Some(any_value::Value::IntValue(i)) => json!({ "intValue": i.to_string() }),
        Some(any_value::Value::DoubleValue(d)) => json!({ "doubleValue": double(*d) }),
        Some(any_value::Value::ArrayValue(a)) => {
            json!({ "arrayValue": { "values": a.values.iter().map(any_value_json).collect::<Vec<_>>() } })
        }
        Some(any_value::Value::KvlistValue(kvs)) => {
            json!({ "kvlistValue": { "values": attributes(&kvs.values) } })
        }
        Some(any_value::Value::BytesValue(b)) => json!({ "bytesValue": base64(b) }),
    }
}

/// Non-finite doubles have no JSON number: proto3 JSON writes them as strings.
fn double(d: f64) -> Value {
    if d.is_nan() {
        json!("NaN")
    } else if d.is_infinite() {
        json!(if d > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        json!(d)
    }
}

pub(super) fn put_str(obj: &mut Map<String, Value>, key: &str, value: &str) {
    if !value.is_empty() {
        obj.insert(key.into(), Value::String(value.to_string()));
    }
}

pub(super) fn put_count(obj: &mut Map<String, Value>, key: &str, value: u32) {
    if value != 0 {
        obj.insert(key.into(), Value::from(value));
    }
}

pub(super) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

// --- responses ----------------------------------------------------------------------------

/// The body of a 200 answer to a trace export: empty, or a partial success.
pub fn success_body(encoding: Encoding, rejected: usize, message: Option<&str>) -> Vec<u8> {
    let partial = (rejected > 0).then(|| proto::ExportTracePartialSuccess {
        rejected_spans: rejected as i64,
        error_message: message.unwrap_or_default().to_string(),
    });
    match (encoding, partial) {
        (Encoding::Protobuf, partial) => proto::ExportTraceServiceResponse {
            partial_success: partial,
        }
        .encode_to_vec(),
        (Encoding::Json, None) => b"{}".to_vec(),
        (Encoding::Json, Some(p)) => json!({
            "partialSuccess": {
                "rejectedSpans": p.rejected_spans.to_string(),
                "errorMessage": p.error_message,
            }
        })
        .to_string()
        .into_bytes(),
    }
}

/// The gRPC status code OTLP/HTTP error bodies carry for a malformed request.
pub const INVALID_ARGUMENT: i32 = 3;
/// ... and for a request the receiver could not take now (retryable).
pub const UNAVAILABLE: i32 = 14;

/// The body of an error answer: a `google.rpc.Status`.
pub fn error_body(encoding: Encoding, code: i32, message: &str) -> Vec<u8> {
    match encoding {
        Encoding::Protobuf => proto::RpcStatus {
            code,
            message: message.to_string(),
        }
        .encode_to_vec(),
        Encoding::Json => json!({ "code": code, "message": message })
            .to_string()
            .into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(key: &str, value: any_value::Value) -> proto::KeyValue {
        proto::KeyValue {
            key: key.into(),
            value: Some(proto::AnyValue { value: Some(value) }),
        }
    }

    fn span(trace: u8, id: u8, parent: Option<u8>) -> proto::Span {
        proto::Span {
            trace_id: vec![trace; 16],
            span_id: vec![id; 8],
            parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
            name: format!("span-{id}"),
            start_time_unix_nano: 1_700_000_000_000_000_000 + u64::from(id),
            end_time_unix_nano: 1_700_000_000_500_000_000,
            ..proto::Span::default()
        }
    }

    fn request(spans: Vec<proto::Span>) -> Vec<u8> {
        proto::ExportTraceServiceRequest {
            resource_spans: vec![proto::ResourceSpans {
                resource: Some(proto::Resource {
                    attributes: vec![kv(
                        "service.name",
                        any_value::Value::StringValue("agent".into()),
                    )],
                    ..Default::default()
                }),
                scope_spans: vec![proto::ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
        .encode_to_vec()
    }

    #[test]
    fn protobuf_becomes_the_file_exporter_json_the_otel_adapter_reads() {
        let mut s = span(0xab, 1, Some(2));
        s.attributes = vec![
            kv(
                "gen_ai.tool.name",
                any_value::Value::StringValue("search".into()),
            ),
            kv("count", any_value::Value::IntValue(7)),
            kv("raw", any_value::Value::BytesValue(b"hi!?".to_vec())),
        ];
        s.status = Some(proto::Status {
            code: 2,
            message: "boom".into(),
        });
        let out = decode_traces(&request(vec![s]), Encoding::Protobuf).unwrap();
        assert_eq!((out.spans, out.traces, out.rejected), (1, 1, 0));
        let line: Value = serde_json::from_str(out.line.as_deref().unwrap()).unwrap();
        let span = &line["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
        assert_eq!(span["traceId"], "ab".repeat(16));
        assert_eq!(span["spanId"], "01".repeat(8));
        assert_eq!(span["parentSpanId"], "02".repeat(8));
        assert_eq!(span["startTimeUnixNano"], "1700000000000000001");
        assert_eq!(span["attributes"][1]["value"]["intValue"], "7");
        assert_eq!(span["attributes"][2]["value"]["bytesValue"], "aGkhPw==");
        assert_eq!(span["status"]["code"], 2);
        assert_eq!(
            line["resourceSpans"][0]["resource"]["attributes"][0]["value"]["stringValue"],
            "agent"
        );

        let mut events = Vec::new();
        crate::ingest::otel::parse_line(
            out.line.as_deref().unwrap(),
            false,
            &mut events,
            &mut Vec::new(),
        )
        .unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].run_id, "ab".repeat(16));
        assert_eq!(events[0].name.as_deref(), Some("search"));
        assert_eq!(events[0].kind, "tool_call");
        assert_eq!(events[0].parent.as_deref(), Some("02".repeat(8).as_str()));
    }

    #[test]
    fn spans_without_usable_ids_are_rejected_and_the_rest_kept() {
        let mut no_trace = span(1, 1, None);
        no_trace.trace_id.clear();
        let zero_span = span(1, 0, None);
        let mut short = span(1, 3, None);
        short.span_id.truncate(4);
        let good = span(1, 4, None);
        let out = decode_traces(
            &request(vec![no_trace, zero_span, short, good]),
            Encoding::Protobuf,
        )
        .unwrap();
        assert_eq!((out.spans, out.rejected), (1, 3));
        let why = out.rejection.unwrap();
        assert!(why.starts_with("3 span(s) rejected"), "{why}");
        assert!(why.contains("traceId"), "{why}");
    }

    #[test]
    fn json_requests_are_checked_and_normalised_alike() {
        let body = json!({"resource_spans": [{"scope_spans": [{"spans": [
            {"trace_id": "ABCDEF0123456789ABCDEF0123456789", "span_id": "0011223344556677",
             "parentSpanId": "0000000000000000", "name": "root"},
            {"traceId": "not hex", "spanId": "0011223344556677"},
        ]}]}]});
        let out = decode_traces(body.to_string().as_bytes(), Encoding::Json).unwrap();
        assert_eq!((out.spans, out.rejected), (1, 1));
        let line: Value = serde_json::from_str(out.line.as_deref().unwrap()).unwrap();
        let span = &line["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
        assert_eq!(span["traceId"], "abcdef0123456789abcdef0123456789");
        assert!(span.get("parentSpanId").is_none(), "{span}");
    }

    #[test]
    fn malformed_requests_are_errors_not_panics() {
        assert!(decode_traces(b"\xff\xff\xff\xff", Encoding::Protobuf).is_err());
        assert!(decode_traces(b"{", Encoding::Json).is_err());
        assert!(decode_traces(b"[1]", Encoding::Json).is_err());
        assert!(decode_traces(br#"{"resourceSpans": 3}"#, Encoding::Json).is_err());
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(decode_traces(deep.as_bytes(), Encoding::Json).is_err());
        // An empty request is valid and holds nothing.
        let empty = decode_traces(b"", Encoding::Protobuf).unwrap();
        assert!(empty.line.is_none() && empty.spans == 0);
    }

    #[test]
    fn deeply_nested_attributes_are_refused_per_span() {
        let mut value = any_value::Value::StringValue("leaf".into());
        for _ in 0..40 {
            value = any_value::Value::ArrayValue(proto::ArrayValue {
                values: vec![proto::AnyValue { value: Some(value) }],
            });
        }
        let mut deep = span(5, 1, None);
        deep.attributes = vec![kv("deep", value)];
        let out =
            decode_traces(&request(vec![deep, span(5, 2, None)]), Encoding::Protobuf).unwrap();
        assert_eq!((out.spans, out.rejected), (1, 1));
        assert!(out.rejection.unwrap().contains("nested"));
    }

    #[test]
    fn responses_decode_as_otlp_messages() {
        let body = success_body(Encoding::Protobuf, 2, Some("why"));
        let r = proto::ExportTraceServiceResponse::decode(&body[..]).unwrap();
        assert_eq!(r.partial_success.unwrap().rejected_spans, 2);
        assert!(success_body(Encoding::Protobuf, 0, None).is_empty());
        let status =
            proto::RpcStatus::decode(&error_body(Encoding::Protobuf, 3, "bad")[..]).unwrap();
        assert_eq!((status.code, status.message.as_str()), (3, "bad"));
        let json: Value = serde_json::from_slice(&error_body(Encoding::Json, 3, "bad")).unwrap();
        assert_eq!(json, json!({"code": 3, "message": "bad"}));
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"abc"), "YWJj");
    }
}
