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
//! Anything else gets 404. Each turn takes the next `Answer` of its
//! `Script` (`script.rs`) when one is queued — an error, a slow reply in
//! several events, another call — and logs its moments there.

use super::script::{self as scripted, Answer};
use serde_json::{json, Value};
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

pub struct FakeGemini {
    pub port: u16,
    script: scripted::Script,
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
        let queue = scripted::Script::default();
        let stop = Arc::new(AtomicBool::new(false));
        let script = Script {
            command: command.to_string(),
            reply: reply.to_string(),
        };
        let (answers, flag) = (queue.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (answers, script) = (answers.clone(), script.clone());
                        std::thread::spawn(move || serve(stream, &answers, &script));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        FakeGemini {
            port,
            script: queue,
            stop,
            thread: Some(thread),
        }
    }

    /// Model turns answered so far.
    pub fn turns(&self) -> usize {
        self.script.turns()
    }

    /// How coming turns are answered, and when they were.
    pub fn script(&self) -> &scripted::Script {
        &self.script
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

fn serve(mut stream: TcpStream, answers: &scripted::Script, script: &Script) {
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
        let reply = candidate(json!([{"text": text}]), true).to_string();
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
    let (n, answer) = answers.next();
    let last = (body["contents"].as_array())
        .and_then(|c| c.iter().rev().find(|c| c["role"] == "user"))
        .cloned()
        .unwrap_or(Value::Null);
    let said = last.to_string();
    let answer = match answer {
        Answer::Default if said.contains("functionResponse") => reply(&script.reply),
        Answer::Default if said.contains("failnow") => Answer::Fail {
            status: 400,
            retry_after: None,
        },
        Answer::Default if said.contains("runcmd") => Answer::Tool {
            name: "run_shell_command".into(),
            input: json!({"command": script.command, "description": "make the file"}),
        },
        Answer::Default => reply(&script.reply),
        other => other,
    };
    let (parts, gap) = match answer {
        Answer::Fail { status, .. } => {
            let error = json!({"error": {"code": status, "message": "fake invalid argument",
                "status": "INVALID_ARGUMENT"}})
            .to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 {status} Bad Request\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{error}",
                error.len()
            );
            answers.mark("sent", n);
            return;
        }
        Answer::Slow { text, chunks, gap } => {
            let parts = scripted::pieces(&text, chunks)
                .iter()
                .map(|p| json!([{"text": p}]))
                .collect();
            (parts, gap)
        }
        Answer::Tool { name, input } => (
            vec![json!([{"functionCall": {"name": name, "args": input}}])],
            Duration::ZERO,
        ),
        Answer::Default => (Vec::new(), Duration::ZERO),
    };
    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n");
    let count = parts.len();
    for (k, p) in parts.into_iter().enumerate() {
        let done = k + 1 == count;
        let event = format!("data: {}\r\n\r\n", candidate(p, done));
        if stream
            .write_all(event.as_bytes())
            .and_then(|()| stream.flush())
            .is_err()
        {
            return;
        }
        if k == 0 && !done {
            answers.mark("first", n);
        }
        if !done {
            std::thread::sleep(gap);
        }
    }
    answers.mark("sent", n);
}

/// A text reply in one piece.
fn reply(text: &str) -> Answer {
    Answer::Slow {
        text: text.to_string(),
        chunks: 1,
        gap: Duration::ZERO,
    }
}

/// A response of one candidate with `parts`, the last one (`done`) with
/// its finish reason.
fn candidate(parts: Value, done: bool) -> Value {
    let mut c = json!({"content": {"role": "model", "parts": parts}, "index": 0});
    if done {
        c["finishReason"] = json!("STOP");
    }
    json!({"candidates": [c],
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
