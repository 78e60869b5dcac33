//! What a model-call span says it read and answered, in whichever layout its
//! instrumentation wrote: the GenAI conventions' `gen_ai.input.messages` /
//! `gen_ai.output.messages` (JSON, messages of typed `parts`) and `gen_ai.choice` events;
//! OpenInference's flattened `llm.input_messages.N.message.*` / `llm.output_messages.N.*`;
//! OpenLLMetry's flattened `gen_ai.prompt.N.*` / `gen_ai.completion.N.*`; the Vercel AI
//! SDK's `ai.response.text` / `ai.response.toolCalls`; and lists of calls such as
//! any-agent's `gen_ai.output`. The answer becomes `{"role", "text", "tool_calls":
//! [{"id", "name", "arguments"}], "finish_reason"}` — what the run model reads as a model
//! call's output — instead of the framework's raw output JSON (kept in the step's meta).

use serde_json::{json, Map, Value};

use super::attributes;
use crate::ingest::json::{content_text, parse_embedded, str_of};

/// The messages a model call was given, when the span lists them.
pub fn model_input(attrs: &Map<String, Value>) -> Option<Value> {
    if let Some(v) = attrs.get("gen_ai.input.messages") {
        return Some(embedded(v));
    }
    ["llm.input_messages", "gen_ai.prompt"]
        .iter()
        .find_map(|prefix| unflatten(attrs, prefix))
        .map(|messages| match messages {
            // OpenInference nests each message under `message`.
            Value::Array(list) => Value::Array(
                list.into_iter()
                    .map(|m| match m {
                        Value::Object(mut o) if o.len() == 1 && o.contains_key("message") => {
                            o.remove("message").unwrap_or(Value::Null)
                        }
                        other => other,
                    })
                    .collect(),
            ),
            other => other,
        })
}

/// A model call's answer: its text and the tool calls it proposed, from the first source
/// the span has that says anything; `None` when none does.
pub fn model_output(attrs: &Map<String, Value>, events: Option<&Value>) -> Option<Value> {
    let from_attribute = |key: &str| attrs.get(key).map(embedded);
    let sources = [
        from_attribute("gen_ai.output.messages"),
        unflatten(attrs, "llm.output_messages"),
        unflatten(attrs, "gen_ai.completion"),
        choice_events(events),
        vercel_response(attrs),
        from_attribute("gen_ai.output"),
        from_attribute("gen_ai.completion"),
    ];
    sources.into_iter().flatten().find_map(|v| answer_of(&v))
}

/// The text and tool calls of one answer in any of the layouts (a message, a choice, a
/// list of either); `None` when it holds neither.
pub fn answer_of(v: &Value) -> Option<Value> {
    let mut answer = Answer::default();
    answer.collect(v, 0);
    answer.into_value()
}

/// `gen_ai.choice` span events: their content as one JSON attribute
/// (`gen_ai.event.content`), or their body's fields as attributes (`message`,
/// `finish_reason`, perhaps flattened).
fn choice_events(events: Option<&Value>) -> Option<Value> {
    let choices: Vec<Value> = events?
        .as_array()?
        .iter()
        .filter(|e| str_of(e, "name") == Some("gen_ai.choice"))
        .map(|e| {
            let attrs = attributes(e.get("attributes"));
            match attrs.get("gen_ai.event.content") {
                Some(content) => embedded(content),
                None => unflatten(&attrs, "").unwrap_or(Value::Object(attrs)),
            }
        })
        .collect();
    (!choices.is_empty()).then_some(Value::Array(choices))
}

/// The Vercel AI SDK's `ai.response.text` and `ai.response.toolCalls`.
fn vercel_response(attrs: &Map<String, Value>) -> Option<Value> {
    let text = attrs.get("ai.response.text");
    let calls = attrs.get("ai.response.toolCalls").map(embedded);
    (text.is_some() || calls.is_some())
        .then(|| json!({"role": "assistant", "content": text, "tool_calls": calls}))
}

/// What was gathered from an answer.
#[derive(Default)]
struct Answer {
    texts: Vec<String>,
    calls: Vec<Value>,
    finish_reason: Option<Value>,
}

/// Nesting deeper than this is not an answer's shape (and is not followed).
const MAX_DEPTH: usize = 8;

impl Answer {
    fn collect(&mut self, v: &Value, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        match v {
            Value::String(s) if !s.is_empty() => self.texts.push(s.clone()),
            Value::Array(items) => items.iter().for_each(|i| self.collect(i, depth + 1)),
            Value::Object(o) => {
                if let Some(call) = tool_call(o) {
                    self.calls.push(call);
                } else {
                    self.message(o, depth);
                }
            }
            _ => {}
        }
    }

    /// One message (or a choice wrapping one): its text, parts and tool calls.
    fn message(&mut self, o: &Map<String, Value>, depth: usize) {
        if let Some(reason) = o.get("finish_reason").filter(|r| !r.is_null()) {
            self.finish_reason.get_or_insert_with(|| reason.clone());
        }
        // The model's history echoed back is not its answer.
        if let Some(role) = o.get("role").and_then(Value::as_str) {
            if matches!(role, "user" | "system" | "tool" | "developer" | "human") {
                return;
            }
        }
        for wrapped in ["message", "message_content"] {
            if let Some(inner) = o.get(wrapped) {
                self.collect(inner, depth + 1);
            }
        }
        if let Some(text) = o.get("text").and_then(Value::as_str) {
            self.texts.push(text.to_string());
        }
        match o.get("content") {
            Some(Value::Array(blocks)) => blocks.iter().for_each(|b| self.collect(b, depth + 1)),
            Some(content) => self.texts.extend(content_text(content)),
            None => {}
        }
        for list in ["parts", "contents", "tool_calls"] {
            if let Some(items) = o.get(list) {
                self.collect(items, depth + 1);
            }
        }
        if let Some(Value::Object(call)) = o.get("function_call") {
            self.calls.extend(tool_call(call));
        }
    }

    fn into_value(self) -> Option<Value> {
        let texts: Vec<String> = self.texts.into_iter().filter(|t| !t.is_empty()).collect();
        if texts.is_empty() && self.calls.is_empty() {
            return None;
        }
        let mut out = Map::new();
        out.insert("role".into(), Value::from("assistant"));
        if !texts.is_empty() {
            out.insert("text".into(), Value::from(texts.join("\n")));
        }
        if !self.calls.is_empty() {
            out.insert("tool_calls".into(), Value::Array(self.calls));
        }
        if let Some(reason) = self.finish_reason {
            out.insert("finish_reason".into(), reason);
        }
        Some(Value::Object(out))
    }
}

/// A proposed tool call in any of the layouts: `{name, arguments}` (GenAI `tool_call`
/// parts, OpenLLMetry), `{function: {name, arguments}}` (OpenAI), `{tool_call: {...}}`
/// (OpenInference), `{toolName, args|input}` (Vercel), `{"tool.name", "tool.args"}`
/// (any-agent), Anthropic `tool_use` blocks. Arguments given as JSON text are parsed.
fn tool_call(o: &Map<String, Value>) -> Option<Value> {
    if let Some(Value::Object(inner)) = o.get("tool_call") {
        return tool_call(inner);
    }
    let kind = o.get("type").and_then(Value::as_str);
    if matches!(kind, Some("text" | "reasoning" | "thinking")) {
        return None;
    }
    let function = o.get("function").and_then(Value::as_object);
    let name = ["name", "toolName", "tool_name", "tool.name"]
        .iter()
        .find_map(|k| o.get(*k))
        .or_else(|| function.and_then(|f| f.get("name")))
        .and_then(Value::as_str)?;
    let is_call = function.is_some()
        || matches!(
            kind,
            Some("tool_call" | "function" | "tool_use" | "tool-call")
        )
        || ["arguments", "args", "input", "tool.args"]
            .iter()
            .any(|k| o.contains_key(*k));
    if !is_call {
        return None;
    }
    let arguments = ["arguments", "args", "input", "tool.args"]
        .iter()
        .find_map(|k| o.get(*k))
        .or_else(|| function.and_then(|f| f.get("arguments")))
        .map(embedded)
        .unwrap_or(Value::Null);
    let mut call = Map::new();
    if let Some(id) = ["id", "toolCallId", "tool_call_id"]
        .iter()
        .find_map(|k| o.get(*k))
    {
        call.insert("id".into(), id.clone());
    }
    call.insert("name".into(), Value::from(name));
    call.insert("arguments".into(), arguments);
    Some(Value::Object(call))
}

/// Attribute values that hold JSON text (tool arguments, messages) are read parsed.
pub fn embedded(v: &Value) -> Value {
    match v {
        Value::String(s) if s.trim_start().starts_with(['{', '[']) => parse_embedded(s),
        other => other.clone(),
    }
}

/// The attributes under `prefix.` (all of them for an empty prefix) as one JSON value,
/// the dotted rest of each key as a path: `prefix.0.message.role` becomes
/// `[{"message": {"role": …}}]` (objects whose keys are all indexes become arrays, in
/// index order). `None` when no attribute has the prefix.
pub fn unflatten(attrs: &Map<String, Value>, prefix: &str) -> Option<Value> {
    let mut root = Map::new();
    for (key, value) in attrs {
        let rest = if prefix.is_empty() {
            key.as_str()
        } else {
            match key.strip_prefix(prefix).and_then(|r| r.strip_prefix('.')) {
                Some(rest) => rest,
                None => continue,
            }
        };
        insert_path(&mut root, rest, value);
    }
    (!root.is_empty()).then(|| arrays_of_indexes(Value::Object(root)))
}

/// Keys of more dotted segments than this are no message layout (and would nest the
/// value as deep): they are left in the step's meta only.
const MAX_PATH_SEGMENTS: usize = 16;

fn insert_path(root: &mut Map<String, Value>, path: &str, value: &Value) {
    if path.split('.').nth(MAX_PATH_SEGMENTS).is_some() {
        return;
    }
    let mut node = root;
    let mut segments = path.split('.').peekable();
    while let Some(segment) = segments.next() {
        if segments.peek().is_none() {
            node.entry(segment).or_insert_with(|| value.clone());
            return;
        }
        let next = node
            .entry(segment)
            .or_insert_with(|| Value::Object(Map::new()));
        // A key that is both a value and a prefix of others keeps its value.
        let Value::Object(next) = next else { return };
        node = next;
    }
}

fn arrays_of_indexes(v: Value) -> Value {
    let Value::Object(map) = v else { return v };
    let all_indexes = !map.is_empty() && map.keys().all(|k| k.parse::<usize>().is_ok());
    if all_indexes {
        let mut items: Vec<(usize, Value)> = map
            .into_iter()
            .filter_map(|(k, v)| Some((k.parse().ok()?, arrays_of_indexes(v))))
            .collect();
        items.sort_by_key(|(i, _)| *i);
        Value::Array(items.into_iter().map(|(_, v)| v).collect())
    } else {
        Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, arrays_of_indexes(v)))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn flattened_attributes_nest_with_indexes_as_arrays_in_order() {
        let a = attrs(json!({
            "llm.output_messages.1.message.role": "assistant",
            "llm.output_messages.0.message.tool_calls.10.tool_call.function.name": "b",
            "llm.output_messages.0.message.tool_calls.2.tool_call.function.name": "a",
            "llm.model_name": "m",
        }));
        let v = unflatten(&a, "llm.output_messages").unwrap();
        let calls = &v[0]["message"]["tool_calls"];
        assert_eq!(calls[0]["tool_call"]["function"]["name"], "a", "{v}");
        assert_eq!(calls[1]["tool_call"]["function"]["name"], "b", "{v}");
        assert_eq!(v[1]["message"]["role"], "assistant");
        assert!(unflatten(&a, "llm.input_messages").is_none());
        // A hostile key cannot nest the value without bound.
        let deep = format!("llm.output_messages.{}", vec!["0"; 100_000].join("."));
        let hostile = attrs(json!({ deep: "x" }));
        assert!(unflatten(&hostile, "llm.output_messages").is_none());
    }

    #[test]
    fn answers_read_from_every_layout() {
        let openinference = attrs(json!({
            "llm.output_messages.0.message.role": "assistant",
            "llm.output_messages.0.message.content": "Let me look.",
            "llm.output_messages.0.message.tool_calls.0.tool_call.id": "call_1",
            "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "lookup",
            "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments": "{\"id\": 7}",
            "output.value": "{\"generations\": [[{\"text\": \"raw\"}]]}",
        }));
        let out = model_output(&openinference, None).unwrap();
        assert_eq!(out["text"], "Let me look.");
        assert_eq!(
            out["tool_calls"],
            json!([{"id": "call_1", "name": "lookup", "arguments": {"id": 7}}])
        );

        let semconv = attrs(json!({"gen_ai.output.messages": json!([{
            "role": "assistant", "finish_reason": "tool_call",
            "parts": [{"type": "text", "content": "Checking."},
                      {"type": "tool_call", "id": "c", "name": "weather", "arguments": {"city": "Oslo"}}],
        }]).to_string()}));
        let out = model_output(&semconv, None).unwrap();
        assert_eq!(out["text"], "Checking.");
        assert_eq!(out["tool_calls"][0]["name"], "weather");
        assert_eq!(out["tool_calls"][0]["arguments"]["city"], "Oslo");
        assert_eq!(out["finish_reason"], "tool_call");

        let openllmetry = attrs(json!({
            "gen_ai.completion.0.role": "assistant",
            "gen_ai.completion.0.finish_reason": "stop",
            "gen_ai.completion.0.content": "It is 2025.",
        }));
        assert_eq!(
            model_output(&openllmetry, None).unwrap()["text"],
            "It is 2025."
        );

        let events = json!([{"name": "gen_ai.choice", "attributes": [
            {"key": "gen_ai.event.content", "value": {"stringValue":
                "{\"index\":0,\"finish_reason\":\"tool_calls\",\"message\":{\"tool_calls\":[{\"id\":\"x\",\"type\":\"function\",\"function\":{\"name\":\"refund\",\"arguments\":\"{\\\"amount\\\":5}\"}}]}}"}}
        ]}]);
        let out = model_output(&Map::new(), Some(&events)).unwrap();
        assert_eq!(out["tool_calls"][0]["name"], "refund");
        assert_eq!(out["tool_calls"][0]["arguments"]["amount"], 5);

        let any_agent = attrs(json!({
            "gen_ai.output": "[{\"tool.name\": \"write_file\", \"tool.args\": \"{\\\"text\\\": \\\"2025\\\"}\"}]",
        }));
        let out = model_output(&any_agent, None).unwrap();
        assert_eq!(out["tool_calls"][0]["name"], "write_file");
        assert_eq!(out["tool_calls"][0]["arguments"]["text"], "2025");

        // Nothing that reads as an answer: the caller keeps the raw output.
        let structured = attrs(json!({"gen_ai.output": "{\"steps\": [{\"number\": 1}]}"}));
        assert!(model_output(&structured, None).is_none());
    }

    #[test]
    fn echoed_history_is_not_the_answer_and_inputs_unwrap_their_messages() {
        let echoed = attrs(json!({"gen_ai.output.messages": [
            {"role": "user", "parts": [{"type": "text", "content": "question"}]},
            {"role": "assistant", "parts": [{"type": "text", "content": "answer"}]},
        ]}));
        assert_eq!(model_output(&echoed, None).unwrap()["text"], "answer");
        let input = attrs(json!({
            "llm.input_messages.0.message.role": "system",
            "llm.input_messages.0.message.content": "Be brief.",
            "llm.input_messages.1.message.role": "user",
            "llm.input_messages.1.message.content": "Hi",
        }));
        assert_eq!(
            model_input(&input).unwrap(),
            json!([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])
        );
    }
}
