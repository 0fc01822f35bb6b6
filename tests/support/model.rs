//! A fake OpenAI-compatible model server (loopback only) for real agents.
//!
//! It binds 127.0.0.1:0 and accepts on a non-blocking listener in its own
//! thread, checking a stop flag between accepts, so dropping the handle
//! stops it without a request. Each connection gets a thread: it reads the
//! head and a `Content-Length` body, and answers `POST …/chat/completions`
//! with SSE chunks carrying `reply` (a role chunk, the text in two pieces,
//! a `finish_reason: "stop"` chunk with usage, then `data: [DONE]`) and
//! `Connection: close`; anything else gets 404. Completions are counted.
//! A `Script` (`script.rs`) may answer a completion otherwise: an HTTP
//! error, a slow reply, a tool call. Once `side_calls` is set, a
//! completion offering no tools (OpenCode's title request) is no turn: it
//! takes no scripted answer (pi's compaction offers none either, and is
//! one).

use super::script::{self, Answer, Script};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

pub struct FakeModel {
    pub port: u16,
    requests: Arc<AtomicUsize>,
    script: Script,
    side_calls: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeModel {
    /// Starts a server whose every completion streams `reply`.
    pub fn start(reply: &str) -> FakeModel {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fake model");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let requests = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, flag, reply) = (requests.clone(), stop.clone(), reply.to_string());
        let script = Script::default();
        let turns = script.clone();
        let side_calls = Arc::new(AtomicBool::new(false));
        let side = side_calls.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (count, reply, turns) = (count.clone(), reply.clone(), turns.clone());
                        let side = side.load(Ordering::Relaxed);
                        std::thread::spawn(move || serve(stream, &count, &reply, &turns, side));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        FakeModel {
            port,
            requests,
            script,
            side_calls,
            stop,
            thread: Some(thread),
        }
    }

    /// Completions answered so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// From now on a completion offering no tools is the agent's own side
    /// call (a title), answered but no turn.
    pub fn side_calls(&self) {
        self.side_calls.store(true, Ordering::Relaxed);
    }

    /// How coming completions are answered, and when they were.
    pub fn script(&self) -> &Script {
        &self.script
    }

    /// `models.json` for pi naming this server as provider `fake`.
    pub fn pi_models_json(&self) -> String {
        serde_json::json!({"providers": {"fake": {
            "baseUrl": format!("http://127.0.0.1:{}/v1", self.port),
            "api": "openai-completions",
            "apiKey": "k",
            "models": [{"id": "fake-model", "contextWindow": 32000, "maxTokens": 1024}],
        }}})
        .to_string()
    }
}

impl Drop for FakeModel {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(mut stream: TcpStream, count: &AtomicUsize, reply: &str, script: &Script, sides: bool) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Some((head, body)) = read_request(&mut stream) else {
        return;
    };
    let request_line = head.lines().next().unwrap_or("");
    if !(request_line.starts_with("POST ") && request_line.contains("/chat/completions")) {
        let _ = stream
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
    }
    count.fetch_add(1, Ordering::SeqCst);
    // A request offering no tools is the agent's own side call (OpenCode's
    // title): answered as ever, it is no turn and takes no scripted answer.
    let side = sides
        && serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .is_some_and(|v| v["tools"].as_array().is_none_or(|t| t.is_empty()));
    let (n, answer) = match side {
        true => (0, Answer::Default),
        false => script.next(),
    };
    if let Answer::Fail {
        status,
        retry_after,
    } = answer
    {
        let _ = stream.write_all(script::failure(status, retry_after).as_bytes());
        script.mark("sent", n);
        return;
    }
    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n");
    let mut out = chunk(
        serde_json::json!({"role": "assistant", "content": ""}),
        None,
    );
    let finish = match answer {
        Answer::Slow { text, chunks, gap } => {
            for (k, piece) in script::pieces(&text, chunks).into_iter().enumerate() {
                out += &chunk(serde_json::json!({"content": piece}), None);
                if stream.write_all(out.as_bytes()).is_err() {
                    return;
                }
                let _ = stream.flush();
                out.clear();
                if k == 0 {
                    script.mark("first", n);
                }
                std::thread::sleep(gap);
            }
            "stop"
        }
        Answer::Tool { name, input } => {
            let call = serde_json::json!({"tool_calls": [{"index": 0, "id": format!("call_{n}"),
                "type": "function",
                "function": {"name": name, "arguments": input.to_string()}}]});
            out += &chunk(call, None);
            "tool_calls"
        }
        _ => {
            for piece in script::pieces(reply, 2) {
                out += &chunk(serde_json::json!({"content": piece}), None);
            }
            "stop"
        }
    };
    out += &chunk(serde_json::json!({}), Some(finish));
    out += "data: [DONE]\n\n";
    let _ = stream.write_all(out.as_bytes());
    let _ = stream.flush();
    script.mark("sent", n);
}

/// One SSE `data:` line of a chat completion chunk.
fn chunk(delta: serde_json::Value, finish: Option<&str>) -> String {
    let mut obj = serde_json::json!({
        "id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_700_000_000u64,
        "model": "fake-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    });
    if finish.is_some() {
        obj["usage"] =
            serde_json::json!({"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15});
    }
    format!("data: {obj}\n\n")
}

/// One request: its head and its `Content-Length` body (`responses.rs` too).
pub fn read_request(stream: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
        let n = stream.read(&mut chunk).ok().filter(|&n| n > 0)?;
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let length = head
        .lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(n, _)| n.trim().eq_ignore_ascii_case("content-length"))
        })
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).ok().filter(|&n| n > 0)?;
        buf.extend_from_slice(&chunk[..n]);
    }
    Some((head, buf[head_end..head_end + length].to_vec()))
}
