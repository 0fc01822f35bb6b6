//! A fake Anthropic Messages API (loopback only) for the real Claude Code.
//!
//! Like `model.rs`: it binds 127.0.0.1:0, accepts on a non-blocking
//! listener in its own thread (checking a stop flag between accepts, so
//! dropping the handle stops it), and gives each connection a thread that
//! reads the head and a `Content-Length` body, answers once and closes
//! (`Connection: close`: Claude opens a new connection for the next call).
//!
//! What it answers:
//! - `POST /v1/messages/count_tokens`: `{"input_tokens": 10}`.
//! - `POST /v1/messages` with `stream: true` (Claude's turns): Anthropic
//!   SSE — `message_start`, one content block (`content_block_start`,
//!   `content_block_delta`, `content_block_stop`), `message_delta` with
//!   the `stop_reason`, `message_stop`. The block is chosen from the last
//!   `user` message (Claude merges a tool result and the next prompt into
//!   one, so only its last block counts): a `tool_result` gets the text
//!   `reply` (`end_turn`) after `reply_delay`, so the turn's working state
//!   lasts long enough to be seen; text naming `touch PATH` gets a Bash
//!   `tool_use` running `touch PATH` (`tool_use`); anything else `reply`.
//! - `POST /v1/messages` without `stream` (titles and other side calls):
//!   one JSON message with the text `reply`.
//! - Anything else: 404 with an Anthropic error body, never a hang.
//!
//! Every request line is kept, with what was answered, for failure output.
//! A turn (a streamed call offering tools: side calls offer none) may be
//! answered from a `Script` (`script.rs`) instead: an error, a slow reply,
//! a tool call. A streamed call offering no tools is no turn: its last
//! byte is logged as `side N` (N from 1) in the same `Script`.

use super::script::{self as scripted, Answer};
use serde_json::{json, Value};
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

pub struct FakeAnthropic {
    pub port: u16,
    log: Arc<Mutex<Vec<String>>>,
    turns: scripted::Script,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// What one connection needs to answer.
#[derive(Clone)]
struct Script {
    reply: String,
    reply_delay: Duration,
    log: Arc<Mutex<Vec<String>>>,
    turns: scripted::Script,
    /// Streamed calls offering no tools, so far.
    sides: Arc<AtomicUsize>,
}

impl FakeAnthropic {
    /// Starts a server whose text answers are `reply`; the one after a
    /// tool result waits `reply_delay` before its text.
    pub fn start(reply: &str, reply_delay: Duration) -> FakeAnthropic {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fake Anthropic API");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let script = Script {
            reply: reply.to_string(),
            reply_delay,
            log: log.clone(),
            turns: scripted::Script::default(),
            sides: Arc::default(),
        };
        let turns = script.turns.clone();
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let script = script.clone();
                        std::thread::spawn(move || serve(stream, &script));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        FakeAnthropic {
            port,
            log,
            turns,
            stop,
            thread: Some(thread),
        }
    }

    /// `ANTHROPIC_BASE_URL` for this server.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// How coming turns are answered, and when they were.
    pub fn script(&self) -> &scripted::Script {
        &self.turns
    }

    /// One line per request: its request line and what it got.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().expect("lock").clone()
    }
}

impl Drop for FakeAnthropic {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The answer to one turn.
enum Turn {
    Text,
    /// After a tool result: the text, late.
    Reply,
    Touch(String),
}

fn serve(mut stream: TcpStream, script: &Script) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Some((head, body)) = super::model::read_request(&mut stream) else {
        return;
    };
    let request_line = head.lines().next().unwrap_or("").to_string();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let path = request_line.split(' ').nth(1).unwrap_or("");
    let path = path.split('?').next().unwrap_or("");
    let answered = match (request_line.starts_with("POST "), path) {
        (true, "/v1/messages/count_tokens") => {
            respond_json(&mut stream, 200, &json!({"input_tokens": 10}));
            "count".to_string()
        }
        (true, "/v1/messages") if body["stream"] == true && offers_tools(&body) => {
            let (n, answer) = script.turns.next();
            let said = scripted_turn(&mut stream, script, &body, answer);
            script.turns.mark("sent", n);
            said
        }
        (true, "/v1/messages") if body["stream"] == true => {
            // A streamed call offering no tools (`/compact`'s summary):
            // its last byte is logged as `side N`, apart from the turns.
            let side = script.sides.fetch_add(1, Ordering::SeqCst) + 1;
            let turn = turn(&body);
            let said = match &turn {
                Turn::Touch(path) => format!("tool_use touch {path}"),
                Turn::Reply => "reply".to_string(),
                Turn::Text => "text".to_string(),
            };
            stream_turn(&mut stream, script, &turn);
            script.turns.mark("side", side);
            said
        }
        (true, "/v1/messages") => {
            respond_json(&mut stream, 200, &message(&body, &script.reply));
            "message".to_string()
        }
        _ => {
            let error = json!({"type": "error",
                "error": {"type": "not_found_error", "message": "not here"}});
            respond_json(&mut stream, 404, &error);
            "404".to_string()
        }
    };
    let mut log = script.log.lock().expect("lock");
    log.push(format!("{request_line} -> {answered}"));
}

/// Whether a call offers tools: Claude's turns do, its side calls not.
fn offers_tools(body: &Value) -> bool {
    body["tools"].as_array().is_some_and(|t| !t.is_empty())
}

/// Answers a turn as scripted; what was answered, for the log.
fn scripted_turn(stream: &mut TcpStream, script: &Script, body: &Value, answer: Answer) -> String {
    match answer {
        Answer::Default => {
            let turn = turn(body);
            let said = match &turn {
                Turn::Touch(path) => format!("tool_use touch {path}"),
                Turn::Reply => "reply".to_string(),
                Turn::Text => "text".to_string(),
            };
            stream_turn(stream, script, &turn);
            said
        }
        Answer::Fail {
            status,
            retry_after,
        } => {
            let _ = stream.write_all(scripted::failure(status, retry_after).as_bytes());
            format!("{status}")
        }
        Answer::Slow { text, chunks, gap } => {
            let block = json!({"type": "text", "text": ""});
            let deltas = scripted::pieces(&text, chunks)
                .into_iter()
                .map(|p| json!({"type": "text_delta", "text": p}))
                .collect();
            stream_block(stream, block, deltas, gap, "end_turn", &script.turns);
            "slow".to_string()
        }
        Answer::Tool { name, input } => {
            let block = json!({"type": "tool_use", "id": fresh_id("toolu"), "name": name,
                "input": {}});
            let delta = json!({"type": "input_json_delta", "partial_json": input.to_string()});
            stream_block(
                stream,
                block,
                vec![delta],
                Duration::ZERO,
                "tool_use",
                &script.turns,
            );
            format!("tool_use {name}")
        }
    }
}

/// What the last `user` message's last block asks for.
fn turn(body: &Value) -> Turn {
    let messages = body["messages"].as_array().map_or(&[][..], Vec::as_slice);
    let Some(last) = messages.iter().rev().find(|m| m["role"] == "user") else {
        return Turn::Text;
    };
    let block = match &last["content"] {
        Value::String(text) => json!({"type": "text", "text": text}),
        Value::Array(blocks) => blocks.last().cloned().unwrap_or(Value::Null),
        _ => Value::Null,
    };
    if block["type"] == "tool_result" {
        return Turn::Reply;
    }
    let text = block["text"].as_str().unwrap_or("");
    match text.split_once("touch ") {
        Some((_, rest)) => Turn::Touch(rest.split_whitespace().next().unwrap_or("").to_string()),
        None => Turn::Text,
    }
}

fn message(body: &Value, reply: &str) -> Value {
    json!({"id": fresh_id("msg"), "type": "message", "role": "assistant", "model": body["model"],
        "content": [{"type": "text", "text": reply}],
        "stop_reason": "end_turn", "stop_sequence": null,
        "usage": {"input_tokens": 10, "output_tokens": 5}})
}

fn stream_turn(stream: &mut TcpStream, script: &Script, turn: &Turn) {
    let (block, delta, stop) = match turn {
        Turn::Touch(path) => {
            let input =
                json!({"command": format!("touch {path}"), "description": "Create the file"});
            (
                json!({"type": "tool_use", "id": fresh_id("toolu"), "name": "Bash", "input": {}}),
                json!({"type": "input_json_delta", "partial_json": input.to_string()}),
                "tool_use",
            )
        }
        Turn::Reply | Turn::Text => {
            if matches!(turn, Turn::Reply) {
                std::thread::sleep(script.reply_delay);
            }
            (
                json!({"type": "text", "text": ""}),
                json!({"type": "text_delta", "text": script.reply}),
                "end_turn",
            )
        }
    };
    let quiet = scripted::Script::default();
    stream_block(stream, block, vec![delta], Duration::ZERO, stop, &quiet);
}

/// A streamed message of one content block: `deltas` `gap` apart (the
/// first logged as `first N` in `turns`), then `stop` as its stop reason.
fn stream_block(
    stream: &mut TcpStream,
    block: Value,
    deltas: Vec<Value>,
    gap: Duration,
    stop: &str,
    turns: &scripted::Script,
) {
    let _ = stream.write_all(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n",
    );
    let mut event = |name: &str, data: Value| {
        let _ = stream.write_all(format!("event: {name}\ndata: {data}\n\n").as_bytes());
        let _ = stream.flush();
    };
    event(
        "message_start",
        json!({"type": "message_start", "message": {"id": fresh_id("msg"), "type": "message",
            "role": "assistant", "model": "claude-fake", "content": [],
            "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 10, "output_tokens": 1}}}),
    );
    event(
        "content_block_start",
        json!({"type": "content_block_start", "index": 0, "content_block": block}),
    );
    for (k, delta) in deltas.into_iter().enumerate() {
        if k > 0 {
            std::thread::sleep(gap);
        }
        event(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": delta}),
        );
        if k == 0 {
            turns.mark("first", turns.turns());
        }
    }
    event(
        "content_block_stop",
        json!({"type": "content_block_stop", "index": 0}),
    );
    event(
        "message_delta",
        json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null},
            "usage": {"output_tokens": 5}}),
    );
    event("message_stop", json!({"type": "message_stop"}));
}

/// A fresh id (`toolu_…`, `msg_…`): Claude pairs a tool result with its
/// call by id, and merges the blocks of messages that share one (a
/// constant id would fold every answer into a single message).
fn fresh_id(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(1);
    format!("{prefix}_fake{:04}", NEXT.fetch_add(1, Ordering::Relaxed))
}

fn respond_json(stream: &mut TcpStream, status: u16, body: &Value) {
    let body = body.to_string();
    let reason = if status == 200 { "OK" } else { "Not Found" };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body.as_bytes());
    let _ = stream.flush();
}
