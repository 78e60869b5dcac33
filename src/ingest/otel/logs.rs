//! GenAI events sent as log records (`resourceLogs` lines): instrumentations that follow
//! the GenAI event conventions (the OpenTelemetry OpenAI, Vertex AI and Google GenAI
//! instrumentations, among others) write a model call's messages and choices as log
//! records named `gen_ai.*` (`eventName`, or the older `event.name` attribute), tied to
//! the model call's span by `traceId` and `spanId`. Each becomes a `message` step under
//! that span: a choice shows the assistant's text and proposed tool calls, a message its
//! content. Other log records are application logs and are passed over.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::{any_value, attributes, messages, nanos};
use crate::ingest::json::{str_of, StepRecord};
use crate::ingest::Event;
use crate::model::Status;

/// The GenAI events of one `resourceLogs` line, appended to `out`.
pub fn parse(resource_logs: &Value, with_records: bool, out: &mut Vec<Event<'_>>) {
    for rl in resource_logs.as_array().into_iter().flatten() {
        for sl in rl
            .get("scopeLogs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            for record in sl
                .get("logRecords")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                out.extend(map_record(record, with_records));
            }
        }
    }
}

fn map_record<'a>(record: &Value, with_records: bool) -> Option<Event<'a>> {
    let attrs = attributes(record.get("attributes"));
    let name = str_of(record, "eventName")
        .filter(|n| !n.is_empty())
        .or_else(|| attrs.get("event.name").and_then(Value::as_str))
        .filter(|n| n.starts_with("gen_ai."))?
        .to_string();
    let trace_id = str_of(record, "traceId").filter(|t| !t.is_empty())?;
    let span_id = str_of(record, "spanId").filter(|s| !s.is_empty());
    let time =
        nanos(record.get("timeUnixNano")).or_else(|| nanos(record.get("observedTimeUnixNano")));
    let mut ev = Event {
        run_id: Cow::Owned(trace_id.to_string()),
        kind: Cow::Borrowed("message"),
        // One span may log the same event more than once: its time tells them apart.
        id: Some(Cow::Owned(format!(
            "{}/{}@{}",
            span_id.unwrap_or(""),
            name,
            time.unwrap_or(0)
        ))),
        parent: span_id.map(|s| Cow::Owned(s.to_string())),
        name: Some(Cow::Owned(name.clone())),
        status: Some(Status::Unset),
        ts: time.map(|n| n / 1_000_000),
        ..Event::default()
    };
    if with_records {
        let body = record.get("body").map(any_value).unwrap_or(Value::Null);
        // A choice is what the model answered; the other events are what it was given.
        let (input, output) = if name == "gen_ai.choice" {
            let answer = messages::answer_of(&body).unwrap_or_else(|| body.clone());
            (None, Some(answer))
        } else {
            (Some(body), None)
        };
        let mut meta = Map::new();
        meta.insert("attributes".into(), Value::Object(attrs));
        for key in [
            "timeUnixNano",
            "severityNumber",
            "severityText",
            "traceId",
            "spanId",
        ] {
            if let Some(v) = record.get(key) {
                meta.insert(key.to_string(), v.clone());
            }
        }
        ev.record = Some(
            StepRecord {
                kind: "message".into(),
                name: Some(name),
                input,
                output,
                meta: Some(Value::Object(meta)),
                ..StepRecord::default()
            }
            .into_value(),
        );
    }
    Some(ev)
}
