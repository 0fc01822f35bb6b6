//! A runner's session state: what `/meta` reports and what `/events`
//! replays to a new subscriber.
//!
//! One `Session` lives behind the runner's `Rc<RefCell<…>>`; every change
//! goes through a method here that updates the state and returns the SSE
//! event to publish, so state and stream never disagree.

use crate::adapters::Kind;
use crate::http::sse::{frame, Frame};
use serde_json::{json, Value};
use std::path::PathBuf;

pub struct Shim {
    pub runtime: String,
    pub pid: u32,
}

pub enum Exit {
    Code(i32),
    Signal(i32),
}

pub struct Session {
    pub id: String,
    pub kind: Kind,
    pub command: Vec<String>,
    pub cwd: PathBuf,
    pub pid: u32,
    pub runner_pid: u32,
    pub started_at: String,
    /// The same in milliseconds: orders sessions started within a second.
    pub started_ms: i64,
    pub exit: Option<Exit>,
    pub exited_at: Option<String>,
    pub session_file: Option<PathBuf>,
    /// `session_file` is the one the launch line named and the agent has
    /// not reported it yet (source `argv`, not `shim`).
    pub file_from_argv: bool,
    pub shim: Option<Shim>,
    pub cols: u16,
    pub rows: u16,
    pub title: Option<String>,
    /// Lines submitted at a terminal (Enter typed in the foreground or by
    /// an attacher).
    pub submitted: u64,
    /// How deep below `roots` it keeps them (`Kind::root_depth`).
    pub root_depth: usize,
    /// Where this agent keeps conversations (for DESIGN §4.3 acceptance).
    pub roots: Vec<PathBuf>,
}

impl Session {
    pub fn meta(&self) -> Value {
        let (exit_code, signal) = match self.exit {
            Some(Exit::Code(c)) => (Some(c), None),
            Some(Exit::Signal(s)) => (Some(128 + s), Some(s)),
            None => (None, None),
        };
        json!({
            "id": self.id,
            "kind": self.kind.as_str(),
            "command": self.command,
            "cwd": self.cwd,
            "pid": self.pid,
            "runner_pid": self.runner_pid,
            "alive": self.exit.is_none(),
            "exit_code": exit_code,
            "signal": signal,
            "started_at": self.started_at,
            "started_ms": self.started_ms,
            "exited_at": self.exited_at,
            "session_file": self.session_file,
            "session_file_source": self.session_file.as_ref().map(|_| self.file_source()),
            "shim": self.shim_json(),
            "size": {"cols": self.cols, "rows": self.rows},
            "title": self.title,
            "submitted": self.submitted,
            "roots": self.roots,
            "root_depth": self.root_depth,
        })
    }

    fn shim_json(&self) -> Value {
        match &self.shim {
            Some(s) => json!({"active": true, "runtime": s.runtime, "pid": s.pid}),
            None => json!({"active": false, "runtime": null, "pid": null}),
        }
    }

    /// What a new `/events` subscriber gets first: `meta`, then `shim`
    /// (after hello), then `session_file` (once known), then `exit`.
    pub fn replay(&self) -> Vec<Frame> {
        let mut frames = vec![frame("meta", &self.meta().to_string())];
        if self.shim.is_some() {
            frames.push(frame("shim", &self.shim_json().to_string()));
        }
        if self.session_file.is_some() {
            frames.push(frame("session_file", &self.file_json().to_string()));
        }
        if self.exit.is_some() {
            frames.push(frame("exit", &self.exit_json().to_string()));
        }
        frames
    }

    pub fn exit_json(&self) -> Value {
        match self.exit {
            Some(Exit::Code(c)) => json!({"exit_code": c}),
            Some(Exit::Signal(s)) => json!({"signal": s, "exit_code": 128 + s}),
            None => Value::Null,
        }
    }

    pub fn set_shim(&mut self, runtime: &str, pid: u32) -> (&'static str, String) {
        self.shim = Some(Shim {
            runtime: runtime.to_string(),
            pid,
        });
        ("shim", self.shim_json().to_string())
    }

    fn file_source(&self) -> &'static str {
        if self.file_from_argv {
            "argv"
        } else {
            "shim"
        }
    }

    /// The `session_file` event: `source` is `argv` for the launch line's
    /// file, `shim` once the agent reported it.
    fn file_json(&self) -> Value {
        json!({"path": self.session_file, "source": self.file_source()})
    }

    /// The preload reported `path`. `None` when it is already the session
    /// file as the agent's own report (no event).
    pub fn set_session_file(&mut self, path: PathBuf) -> Option<(&'static str, String)> {
        if self.session_file.as_ref() == Some(&path) && !self.file_from_argv {
            return None;
        }
        self.session_file = Some(path);
        self.file_from_argv = false;
        Some(("session_file", self.file_json().to_string()))
    }

    pub fn set_size(&mut self, cols: u16, rows: u16) -> (&'static str, String) {
        self.cols = cols;
        self.rows = rows;
        ("resize", json!({"cols": cols, "rows": rows}).to_string())
    }

    pub fn set_exit(&mut self, exit: Exit) -> (&'static str, String) {
        self.exit = Some(exit);
        self.exited_at = Some(crate::timefmt::now());
        ("exit", self.exit_json().to_string())
    }
}
