//! What the `retrace serve` tests share: the server as a child process (its JSON lines
//! collected), raw HTTP/1.1 requests over a TcpStream, OTLP/JSON spans, and reading the
//! saved folder back through `retrace ls` and `show`.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

// --- the server and a client ---------------------------------------------------------

pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    lines: Arc<Mutex<Vec<Value>>>,
}

impl Server {
    pub fn start(dir: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_retrace"))
            .args(["serve", "--listen", "127.0.0.1:0", "--json", "--save"])
            .arg(dir)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start retrace serve");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        let listening: Value = serde_json::from_str(&first).expect(&first);
        assert_eq!(listening["event"], "listening", "{first}");
        let addr = listening["addr"].as_str().unwrap().parse().unwrap();
        let lines = Arc::new(Mutex::new(vec![listening]));
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in stdout.lines() {
                let Ok(line) = line else { break };
                if let Ok(v) = serde_json::from_str(&line) {
                    sink.lock().unwrap().push(v);
                }
            }
        });
        Server { child, addr, lines }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    pub fn events(&self, kind: &str) -> Vec<Value> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l["event"] == kind)
            .cloned()
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

/// One request on its own connection; `headers` are extra lines ending in CRLF.
pub fn send(addr: SocketAddr, head: &str, body: &[u8]) -> std::io::Result<Reply> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status in {text:?}")))?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(raw.len(), |p| p + 4);
    Ok(Reply {
        status,
        body: raw[split..].to_vec(),
    })
}

pub fn post(addr: SocketAddr, path: &str, content_type: &str, headers: &str, body: &[u8]) -> Reply {
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n",
        body.len()
    );
    send(addr, &head, body).expect("request")
}

pub fn span_json(
    trace: &str,
    span: &str,
    parent: Option<&str>,
    name: &str,
    start_ms: u64,
) -> Value {
    let mut s = json!({
        "traceId": trace, "spanId": span, "name": name, "kind": 1,
        "startTimeUnixNano": (start_ms * 1_000_000).to_string(),
        "endTimeUnixNano": ((start_ms + 10) * 1_000_000).to_string(),
        "status": {},
    });
    if let Some(p) = parent {
        s["parentSpanId"] = json!(p);
    }
    s
}

pub fn request_json(service: &str, spans: Vec<Value>) -> Vec<u8> {
    json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
        "scopeSpans": [{"scope": {"name": "test"}, "spans": spans}],
    }]})
    .to_string()
    .into_bytes()
}

pub fn retrace(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_retrace"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "retrace {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

pub fn runs_by_id(dir: &Path) -> HashMap<String, Value> {
    let ls = retrace(&["ls", "--json", dir.to_str().unwrap()]);
    assert_eq!(ls["problems"], json!([]), "{ls}");
    ls["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["run_id"].as_str().unwrap().to_string(), r.clone()))
        .collect()
}

pub fn steps(dir: &Path, run: &str) -> Vec<Value> {
    retrace(&["show", "--json", run, dir.to_str().unwrap()])["steps"]
        .as_array()
        .unwrap()
        .clone()
}

pub fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}
