//! A fake OpenAI Responses API server (loopback only) for the real Codex.
//!
//! Like `model.rs`: it binds 127.0.0.1:0, accepts on a non-blocking
//! listener in its own thread that checks a stop flag between accepts (so
//! dropping the handle stops it), and gives each connection a thread that
//! reads one request (`model::read_request`). `POST /v1/responses` is
//! answered with `Connection: close` and an SSE stream of Responses events
//! — `response.created`, `response.output_item.added`, for text
//! `response.output_text.delta`, `response.output_item.done`, then
//! `response.completed` with usage — whose one output item depends on the
//! request:
//!
//! - a request with a `text.format` (Codex asks for a thread title on the
//!   side) gets `{"title": …}` as text;
//! - a turn whose `input` holds a `function_call_output` (the command ran)
//!   gets `reply` as text, in two deltas;
//! - any other turn gets an `exec_command` function call of `command`
//!   whose arguments ask for escalation (`"sandbox_permissions":
//!   "require_escalated"` and a `justification`): under `-a on-request`
//!   Codex asks the user before it runs it.
//!
//! Anything else gets 404. Turns (not title requests) are counted; a
//! `Script` (`script.rs`) may answer a turn otherwise: an error, a slow
//! reply, another function call.

use super::script::{self as scripted, Answer};
use serde_json::{json, Value};
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// What every request is answered with.
#[derive(Clone)]
struct Script {
    command: String,
    reply: String,
}

pub struct FakeResponses {
    pub port: u16,
    turns: Arc<AtomicUsize>,
    script: scripted::Script,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeResponses {
    /// Starts a server whose model asks to run `command`, then says `reply`.
    pub fn start(command: &str, reply: &str) -> FakeResponses {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fake Responses API");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let turns = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let script = Script {
            command: command.to_string(),
            reply: reply.to_string(),
        };
        let (count, flag) = (turns.clone(), stop.clone());
        let queue = scripted::Script::default();
        let answers = queue.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (count, script) = (count.clone(), script.clone());
                        let answers = answers.clone();
                        std::thread::spawn(move || serve(stream, &count, &script, &answers));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        FakeResponses {
            port,
            turns,
            script: queue,
            stop,
            thread: Some(thread),
        }
    }

    /// Model turns answered so far.
    pub fn turns(&self) -> usize {
        self.turns.load(Ordering::SeqCst)
    }

    /// How coming turns are answered, and when they were.
    pub fn script(&self) -> &scripted::Script {
        &self.script
    }

    /// `$CODEX_HOME/config.toml` naming this server as provider `fake`
    /// (no API key: a provider of our own needs no login), with `cwd`
    /// trusted (Codex asks about a git checkout it does not know) and no
    /// update check; `extra` is appended (tables of the user's own).
    pub fn config_toml(&self, cwd: &Path, extra: &str) -> String {
        format!(
            "model = \"gpt-fake\"\nmodel_provider = \"fake\"\n\
             check_for_update_on_startup = false\n\n\
             [model_providers.fake]\nname = \"fake\"\n\
             base_url = \"http://127.0.0.1:{}/v1\"\nwire_api = \"responses\"\n\n\
             [projects.{:?}]\ntrust_level = \"trusted\"\n{extra}",
            self.port,
            cwd.display().to_string(),
        )
    }
}

impl Drop for FakeResponses {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(mut stream: TcpStream, turns: &AtomicUsize, script: &Script, answers: &scripted::Script) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Some((head, body)) = super::model::read_request(&mut stream) else {
        return;
    };
    let request_line = head.lines().next().unwrap_or("");
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if !request_line.starts_with("POST /v1/responses ") || body["stream"] != true {
        let _ = stream
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
    }
    if !body["text"]["format"].is_null() {
        let item = message(&json!({"title": "Make the file"}).to_string());
        write_stream(&mut stream, &item, 2, Duration::ZERO, None);
        return;
    }
    turns.fetch_add(1, Ordering::SeqCst);
    let (n, answer) = answers.next();
    let mut pace = (2, Duration::ZERO);
    let item = match answer {
        Answer::Fail {
            status,
            retry_after,
        } => {
            let _ = stream.write_all(scripted::failure(status, retry_after).as_bytes());
            answers.mark("sent", n);
            return;
        }
        Answer::Slow { text, chunks, gap } => {
            pace = (chunks, gap);
            message(&text)
        }
        Answer::Tool { name, input } => json!({"type": "function_call", "id": format!("fc_{n}"),
            "call_id": format!("call_{n}"), "name": name, "arguments": input.to_string()}),
        Answer::Default => {
            let ran = body["input"]
                .as_array()
                .is_some_and(|items| items.iter().any(|i| i["type"] == "function_call_output"));
            if ran {
                message(&script.reply)
            } else {
                escalated_call(&script.command)
            }
        }
    };
    write_stream(&mut stream, &item, pace.0, pace.1, Some((answers, n)));
}

/// Writes the response whose one output is `item`, its text in `chunks`
/// deltas `gap` apart; logs `first N` and `sent N` in `log` when given.
fn write_stream(
    stream: &mut TcpStream,
    item: &Value,
    chunks: usize,
    gap: Duration,
    log: Option<(&scripted::Script, usize)>,
) {
    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n");
    let parts = events(item, chunks);
    let last = parts.len().saturating_sub(1);
    for (k, part) in parts.iter().enumerate() {
        if stream.write_all(part.as_bytes()).is_err() {
            return;
        }
        let _ = stream.flush();
        let delta = part.starts_with("event: response.output_text.delta");
        if delta && k < last {
            if let Some((log, n)) = log.filter(|_| k == 2) {
                log.mark("first", n);
            }
            std::thread::sleep(gap);
        }
    }
    if let Some((log, n)) = log {
        log.mark("sent", n);
    }
}

/// An assistant message saying `text`.
fn message(text: &str) -> Value {
    json!({"type": "message", "role": "assistant", "id": "msg_fake",
        "content": [{"type": "output_text", "text": text, "annotations": []}]})
}

/// `exec_command` of `command`, asking to run outside the sandbox.
fn escalated_call(command: &str) -> Value {
    let args = json!({"cmd": command, "sandbox_permissions": "require_escalated",
        "justification": "The test wants it run outside the sandbox"});
    json!({"type": "function_call", "id": "fc_fake", "call_id": "call_fake",
        "name": "exec_command", "arguments": args.to_string()})
}

/// The SSE events of a response whose one output is `item`, its text in
/// `chunks` deltas.
fn events(item: &Value, chunks: usize) -> Vec<String> {
    let event = |v: Value| format!("event: {}\ndata: {v}\n\n", v["type"].as_str().unwrap_or(""));
    let mut out = vec![event(
        json!({"type": "response.created", "response": {"id": "resp_fake"}}),
    )];
    let mut opened = item.clone();
    if item["type"] == "message" {
        opened["content"] = json!([]);
    }
    out.push(event(
        json!({"type": "response.output_item.added", "output_index": 0, "item": opened}),
    ));
    if let Some(text) = item["content"][0]["text"].as_str() {
        for delta in scripted::pieces(text, chunks) {
            out.push(event(
                json!({"type": "response.output_text.delta", "output_index": 0,
                "content_index": 0, "item_id": "msg_fake", "delta": delta}),
            ));
        }
    }
    out.push(event(
        json!({"type": "response.output_item.done", "output_index": 0, "item": item}),
    ));
    out.push(event(
        json!({"type": "response.completed", "response": {"id": "resp_fake",
        "usage": {"input_tokens": 10, "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 5, "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 15}}}),
    ));
    out
}
