//! A runner's session state: what `/meta` reports and what `/events`
//! replays to a new subscriber.
//!
//! One `Session` lives behind the runner's `Rc<RefCell<…>>`; every change
//! goes through a method here that updates the state and returns the SSE
//! event to publish, so state and stream never disagree.

use crate::adapters::Kind;
use crate::http::sse::Frame;
use crate::protocol::{self, RunnerEvent};
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
    /// How `session_file` was learned: `argv` for the launch line's file
    /// until the agent reports it, `extension` for the file pi named
    /// before writing it, `shim` once the preload saw it written.
    pub file_source: protocol::FileSource,
    /// When `session_file` was learned (epoch ms).
    pub file_since: i64,
    pub shim: Option<Shim>,
    pub cols: u16,
    pub rows: u16,
    pub title: Option<String>,
    /// Lines submitted at a terminal (Enter typed in the foreground or by
    /// an attacher).
    pub submitted: u64,
    /// When the last of them was (epoch ms): a daemon that missed it
    /// orders it against the agent's reports by this.
    pub submitted_ms: i64,
    /// How deep below `roots` it keeps them (`Kind::root_depth`).
    pub root_depth: usize,
    /// Where this agent keeps conversations: a reported path under one is
    /// accepted as the session file (`Kind::accepts`).
    pub roots: Vec<PathBuf>,
    /// The agent's own directory in its environment (`Kind::config_dir`).
    pub config_dir: Option<PathBuf>,
    /// The agent's last live report of its state from each of its signals,
    /// oldest first, replayed to a daemon that (re)connects: it cannot be
    /// read anywhere else. One per signal, not just the last: a later one
    /// may only make sense after another's (Qwen's window title says
    /// Ready just after its hook said the turn failed; the error stands).
    pub states: Vec<protocol::AgentState>,
}

impl Session {
    pub fn meta(&self) -> protocol::Meta {
        let exit = self.exit_event();
        protocol::Meta {
            id: self.id.clone(),
            kind: Some(self.kind.as_str().to_string()),
            command: self.command.clone(),
            cwd: self.cwd.clone(),
            pid: Some(self.pid),
            runner_pid: Some(self.runner_pid),
            alive: self.exit.is_none(),
            exit_code: exit.exit_code,
            signal: exit.signal,
            started_at: self.started_at.clone(),
            started_ms: self.started_ms,
            exited_at: self.exited_at.clone(),
            session_file: self.session_file.clone(),
            session_file_source: self.session_file.as_ref().map(|_| self.file_source),
            shim: self.shim_info(),
            size: protocol::Size {
                cols: self.cols,
                rows: self.rows,
            },
            title: self.title.clone(),
            submitted: self.submitted,
            submitted_ms: self.submitted_ms,
            roots: self.roots.clone(),
            root_depth: Some(self.root_depth),
            config_dir: self.config_dir.clone(),
        }
    }

    fn shim_info(&self) -> protocol::Shim {
        protocol::Shim {
            active: self.shim.is_some(),
            runtime: self.shim.as_ref().map(|s| s.runtime.clone()),
            pid: self.shim.as_ref().map(|s| s.pid),
        }
    }

    /// Keeps `state` for the replay, in place of its signal's last one.
    pub fn remember(&mut self, state: protocol::AgentState) {
        self.states.retain(|s| s.source != state.source);
        self.states.push(state);
    }

    /// What a new `/events` subscriber gets first: `meta`, then `shim`
    /// (after hello), then `session_file` (once known), then `state` (the
    /// agent's last live report from each signal, in order), then `exit`.
    pub fn replay(&self) -> Vec<Frame> {
        let mut events = vec![RunnerEvent::Meta(Box::new(self.meta()))];
        if self.shim.is_some() {
            events.push(RunnerEvent::Shim(self.shim_info()));
        }
        if self.session_file.is_some() {
            events.push(self.file_event());
        }
        for state in &self.states {
            events.push(RunnerEvent::State(state.clone()));
        }
        if self.exit.is_some() {
            events.push(RunnerEvent::Exit(self.exit_event()));
        }
        events.iter().map(crate::http::sse::event_frame).collect()
    }

    /// The `exit` event (all null while the agent runs).
    pub fn exit_event(&self) -> protocol::Exit {
        match self.exit {
            Some(Exit::Code(c)) => protocol::Exit {
                exit_code: Some(i64::from(c)),
                signal: None,
            },
            Some(Exit::Signal(s)) => protocol::Exit {
                exit_code: Some(128 + i64::from(s)),
                signal: Some(s),
            },
            None => protocol::Exit::default(),
        }
    }

    pub fn set_shim(&mut self, runtime: &str, pid: u32) -> RunnerEvent {
        self.shim = Some(Shim {
            runtime: runtime.to_string(),
            pid,
        });
        RunnerEvent::Shim(self.shim_info())
    }

    /// The `session_file` event.
    fn file_event(&self) -> RunnerEvent {
        RunnerEvent::SessionFile(protocol::SessionFile {
            path: self.session_file.clone().unwrap_or_default(),
            source: self.file_source,
            at_ms: self.file_since,
        })
    }

    /// The agent reported `path` (the preload's write, pi's extension).
    /// Another file is a switch, whatever the source: the latest report
    /// wins. The same file again is news only from a stronger source (the
    /// preload seeing the file pi named get written), as the daemon ranks
    /// them; else `None` (no event).
    pub fn set_session_file(
        &mut self,
        path: PathBuf,
        source: protocol::FileSource,
    ) -> Option<RunnerEvent> {
        if self.session_file.as_ref() == Some(&path) && source.source() >= self.file_source.source()
        {
            return None;
        }
        self.session_file = Some(path);
        self.file_source = source;
        self.file_since = crate::daemon::now_ms();
        Some(self.file_event())
    }

    pub fn set_size(&mut self, cols: u16, rows: u16) -> RunnerEvent {
        self.cols = cols;
        self.rows = rows;
        RunnerEvent::Resize(protocol::Size { cols, rows })
    }

    pub fn set_exit(&mut self, exit: Exit) -> RunnerEvent {
        self.exit = Some(exit);
        self.exited_at = Some(crate::timefmt::now());
        RunnerEvent::Exit(self.exit_event())
    }
}
