//! A fake Gemini API server (loopback only) for the real Gemini CLI,
//! pointed at it with `GOOGLE_GEMINI_BASE_URL` and a `GEMINI_API_KEY`.
//!
//! Like `responses.rs`: a non-blocking listener in its own thread that
//! checks a stop flag between accepts, one thread per connection, one
//! request each (`model::read_request`), answered with `Connection:
//! close`. Two calls:
//!
//! - `POST /v1beta/models/<m>:generateContent` (Gemini's utility calls:
//!   its model router, titles): a request with a `responseJsonSchema`
//!   gets JSON with a value of each type the schema asks for (a router
//!   answered with anything else retries for minutes); others get `ok`;
//! - `POST /v1beta/models/<m>:streamGenerateContent?alt=sse` (a turn):
//!   one SSE event whose one candidate depends on the last user content —
//!   a tool's result gets `reply`; a prompt holding `failnow` gets HTTP
//!   400 (Gemini retries a 500 or a 429 for long, not a 400); one holding
//!   `runcmd` gets a `run_shell_command` call of `command` (a `touch`,
//!   which Gemini asks the user about); any other gets `reply`.
//!
//! Anything else gets 404. Turns are counted.

use serde_json::{json, Value};
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

pub struct FakeGemini {
    pub port: u16,
    turns: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Clone)]
struct Script {
    command: String,
    reply: String,
}

impl FakeGemini {
    /// A server whose model asks to run `command` when told `runcmd`, and
    /// says `reply` otherwise.
    pub fn start(command: &str, reply: &str) -> FakeGemini {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fake Gemini API");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let turns = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let script = Script {
            command: command.to_string(),
            reply: reply.to_string(),
        };
        let (count, flag) = (turns.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (count, script) = (count.clone(), script.clone());
                        std::thread::spawn(move || serve(stream, &count, &script));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        FakeGemini {
            port,
            turns,
            stop,
            thread: Some(thread),
        }
    }

    pub fn turns(&self) -> usize {
        self.turns.load(Ordering::SeqCst)
    }

    /// The environment that points Gemini here, with `home` as its
    /// `GEMINI_CLI_HOME`.
    pub fn env(&self, home: &Path) -> Vec<(String, String)> {
        vec![
            ("GEMINI_API_KEY".into(), "fake-key".into()),
            (
                "GOOGLE_GEMINI_BASE_URL".into(),
                format!("http://127.0.0.1:{}", self.port),
            ),
            ("GEMINI_CLI_HOME".into(), home.display().to_string()),
            ("GEMINI_CLI_TRUST_WORKSPACE".into(), "true".into()),
        ]
    }

    /// The user settings a test writes under its own `GEMINI_CLI_HOME`:
    /// an API key as the auth (else interactive Gemini asks), no folder
    /// trust dialog, no update check, no telemetry.
    pub fn settings_json() -> String {
        json!({
            "security": {"auth": {"selectedType": "gemini-api-key"},
                "folderTrust": {"enabled": false}},
            "general": {"enableAutoUpdate": false, "enableAutoUpdateNotification": false},
            "privacy": {"usageStatisticsEnabled": false},
            "telemetry": {"enabled": false}
        })
        .to_string()
    }
}

impl Drop for FakeGemini {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(mut stream: TcpStream, turns: &AtomicUsize, script: &Script) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Some((head, body)) = super::model::read_request(&mut stream) else {
        return;
    };
    let line = head.lines().next().unwrap_or("");
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if line.starts_with("POST /v1beta/models/") && line.contains(":generateContent") {
        let schema = &body["generationConfig"]["responseJsonSchema"];
        let text = match schema.is_null() {
            true => "ok".to_string(),
            false => fill(schema).to_string(),
        };
        let reply = candidate(json!([{"text": text}])).to_string();
        let _ = write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
            reply.len()
        );
        return;
    }
    if !(line.starts_with("POST /v1beta/models/") && line.contains(":streamGenerateContent")) {
        let _ = stream
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
    }
    turns.fetch_add(1, Ordering::SeqCst);
    let last = (body["contents"].as_array())
        .and_then(|c| c.iter().rev().find(|c| c["role"] == "user"))
        .cloned()
        .unwrap_or(Value::Null);
    let said = last.to_string();
    let parts = if said.contains("functionResponse") {
        json!([{"text": script.reply}])
    } else if said.contains("failnow") {
        let error = json!({"error": {"code": 400, "message": "fake invalid argument",
            "status": "INVALID_ARGUMENT"}})
        .to_string();
        let _ = write!(
            stream,
            "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{error}",
            error.len()
        );
        return;
    } else if said.contains("runcmd") {
        json!([{"functionCall": {"name": "run_shell_command",
            "args": {"command": script.command, "description": "make the file"}}}])
    } else {
        json!([{"text": script.reply}])
    };
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\ndata: {}\r\n\r\n",
        candidate(parts)
    );
}

/// A response of one finished candidate with `parts`.
fn candidate(parts: Value) -> Value {
    json!({"candidates": [{"content": {"role": "model", "parts": parts},
        "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5,
            "totalTokenCount": 15},
        "modelVersion": "gemini-fake"})
}

/// A value of the type a JSON schema asks for.
fn fill(schema: &Value) -> Value {
    match schema["type"].as_str().unwrap_or("object") {
        "object" => {
            let props = schema["properties"].as_object();
            let fields = props.into_iter().flatten();
            Value::Object(fields.map(|(k, s)| (k.clone(), fill(s))).collect())
        }
        "string" => schema["enum"][0]
            .clone()
            .as_str()
            .map_or(json!("x"), |s| json!(s)),
        "integer" | "number" => json!(1),
        "boolean" => json!(false),
        "array" => json!([]),
        _ => Value::Null,
    }
}
