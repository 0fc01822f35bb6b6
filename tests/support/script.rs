//! Scripted answers for the fake model servers (`model.rs`, `anthropic.rs`,
//! `responses.rs`), and the moments they keep, for the accuracy matrix
//! (`tests/accuracy/`).
//!
//! A `Script` is a queue shared by a server's connection threads. Each
//! model turn the server answers (not a side call: titles, token counts)
//! pops one `Answer`; an empty queue gives the server's own answer, so a
//! test that scripts nothing sees the server exactly as before. Every turn
//! logs two moments: `request N` when its request was read, `sent N` when
//! the answer's last byte was written (`first N` after a slow answer's
//! first piece) — the server's side of "what the screen shows", taken on
//! the same monotonic clock as the tests' observations.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How one turn is answered.
#[derive(Clone, Debug)]
pub enum Answer {
    /// What the server gives with nothing scripted.
    Default,
    /// An HTTP error, with `Retry-After: SECONDS` when given.
    Fail {
        status: u16,
        retry_after: Option<u32>,
    },
    /// A text reply streamed in `chunks` pieces `gap` apart.
    Slow {
        text: String,
        chunks: usize,
        gap: Duration,
    },
    /// A call of tool `name` with the JSON `input`.
    Tool {
        name: String,
        input: serde_json::Value,
    },
}

/// A moment a server logged: `request N`, `first N` or `sent N`.
#[derive(Clone, Debug)]
pub struct Moment {
    pub at: Instant,
    pub what: String,
}

#[derive(Default)]
struct Inner {
    queue: VecDeque<Answer>,
    moments: Vec<Moment>,
    turns: usize,
}

#[derive(Clone, Default)]
pub struct Script {
    inner: Arc<Mutex<Inner>>,
}

impl Script {
    /// Queues `answer` for a coming turn.
    pub fn push(&self, answer: Answer) {
        self.lock().queue.push_back(answer);
    }

    /// Drops the answers no turn took (a step that failed half-way must
    /// not leave them to the next).
    pub fn clear(&self) {
        self.lock().queue.clear();
    }

    /// A turn's request was read: its number (from 1) and its answer.
    pub fn next(&self) -> (usize, Answer) {
        let mut inner = self.lock();
        inner.turns += 1;
        let n = inner.turns;
        let answer = inner.queue.pop_front().unwrap_or(Answer::Default);
        inner.moments.push(Moment {
            at: Instant::now(),
            what: format!("request {n}"),
        });
        (n, answer)
    }

    /// Logs `WHAT N` now (`first`, `sent`).
    pub fn mark(&self, what: &str, n: usize) {
        self.lock().moments.push(Moment {
            at: Instant::now(),
            what: format!("{what} {n}"),
        });
    }

    /// Turns answered (or being answered) so far.
    pub fn turns(&self) -> usize {
        self.lock().turns
    }

    /// When `what` (`sent 3`) was logged, waiting for it up to `timeout`.
    pub fn wait(&self, what: &str, timeout: Duration) -> Option<Instant> {
        let deadline = Instant::now() + timeout;
        loop {
            let found = self
                .lock()
                .moments
                .iter()
                .find(|m| m.what == what)
                .map(|m| m.at);
            if found.is_some() || Instant::now() >= deadline {
                return found;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `text` cut into `n` pieces on char boundaries (the last takes the rest).
pub fn pieces(text: &str, n: usize) -> Vec<&str> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let n = n.clamp(1, chars.len().max(1));
    let mut out = Vec::with_capacity(n);
    let mut start = 0;
    for k in 1..=n {
        let end = if k == n {
            text.len()
        } else {
            chars[k * chars.len() / n].0
        };
        out.push(&text[start..end]);
        start = end;
    }
    out
}

/// A whole HTTP error response whose JSON body reads as an error to the
/// OpenAI, Anthropic and Responses clients alike.
pub fn failure(status: u16, retry_after: Option<u32>) -> String {
    let reason = match status {
        400 => "Bad Request",
        429 => "Too Many Requests",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    };
    let kind = if status == 429 {
        "rate_limit_error"
    } else {
        "api_error"
    };
    let body = serde_json::json!({"type": "error",
        "error": {"type": kind, "message": format!("scripted failure {status}"),
                  "code": kind}})
    .to_string();
    let after = retry_after.map_or(String::new(), |s| format!("Retry-After: {s}\r\n"));
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n{after}\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}
