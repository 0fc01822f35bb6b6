//! Intake of the preload's events (DESIGN §4.2, §4.3), from the FIFO or
//! from `POST /shim/event`.
//!
//! An event is one JSON object. `hello` marks the shim active; `write` and
//! `append` carry a path, which becomes the session file only if the
//! adapter accepts it: under its session root, or a file whose first line
//! is its session header. Anything else is an error, never a crash: a 400
//! over HTTP; on the FIFO, where nobody could be answered, the line is
//! dropped. `read_fifo`
//! is the FIFO's task: lines of at most `MAX_EVENT` bytes, each applied
//! like a `POST /shim/event` body.

use super::session::Session;
use super::Runner;
use async_io::Async;
use futures_lite::{AsyncBufReadExt, AsyncReadExt};
use serde::Deserialize;
use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// Shim events are small; this bounds what the FIFO reader buffers.
pub const MAX_EVENT: usize = 512 * 1024;

#[derive(Deserialize)]
struct Event {
    op: String,
    pid: Option<u32>,
    path: Option<PathBuf>,
    runtime: Option<String>,
}

#[derive(Debug, PartialEq)]
pub enum ShimError {
    Json(String),
    UnknownOp(String),
    MissingPath,
}

impl fmt::Display for ShimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShimError::Json(e) => write!(f, "invalid shim event: {e}"),
            ShimError::UnknownOp(op) => write!(
                f,
                "unknown shim op {op:?} (expected hello, write or append)"
            ),
            ShimError::MissingPath => f.write_str("shim event without an absolute \"path\""),
        }
    }
}

impl std::error::Error for ShimError {}

/// Applies one event; returns the SSE events to publish.
pub fn apply(session: &mut Session, raw: &[u8]) -> Result<Vec<(&'static str, String)>, ShimError> {
    let event: Event = serde_json::from_slice(raw).map_err(|e| ShimError::Json(e.to_string()))?;
    match event.op.as_str() {
        "hello" => {
            let runtime = event.runtime.as_deref().unwrap_or("node");
            Ok(vec![session.set_shim(runtime, event.pid.unwrap_or(0))])
        }
        "write" | "append" => {
            let path = event
                .path
                .filter(|p| p.is_absolute())
                .ok_or(ShimError::MissingPath)?;
            if !accepts(session, &path) {
                return Ok(Vec::new());
            }
            Ok(session.set_session_file(path).into_iter().collect())
        }
        other => Err(ShimError::UnknownOp(other.chars().take(64).collect())),
    }
}

fn accepts(session: &Session, path: &Path) -> bool {
    let first_line = first_line(path);
    session
        .kind
        .accepts(path, &session.roots, first_line.as_deref())
}

/// The file's first line, read with a bound (headers are small).
fn first_line(path: &Path) -> Option<Vec<u8>> {
    let file = crate::paths::open_untrusted(path).ok()?;
    let mut line = Vec::new();
    BufReader::new(file.take(64 * 1024))
        .read_until(b'\n', &mut line)
        .ok()?;
    if line.last() == Some(&b'\n') {
        line.pop();
    }
    Some(line)
}

/// The FIFO's reading end, if the runner made one. O_RDWR: we hold a
/// writer ourselves, so the FIFO never reports EOF when one agent process
/// closes it (and opening it never blocks).
pub fn open_fifo(path: &Path) -> Option<std::fs::File> {
    if !path.exists() {
        return None;
    }
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .ok()
}

pub async fn read_fifo(runner: Rc<Runner>, file: std::fs::File) {
    let Ok(fifo) = Async::new(file) else { return };
    let mut reader = futures_lite::io::BufReader::new(fifo);
    let mut line = Vec::new();
    loop {
        line.clear();
        let mut limited = (&mut reader).take(MAX_EVENT as u64);
        match limited.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => handle_shim_line(&runner, &line),
        }
    }
}

fn handle_shim_line(runner: &Runner, line: &[u8]) {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return;
    }
    let result = apply(&mut runner.session.borrow_mut(), line);
    // A malformed line on the FIFO has nobody to answer; it is dropped
    // (over HTTP the same error gets a 400).
    if let Ok(events) = result {
        events.into_iter().for_each(|e| runner.publish(e));
    }
}
