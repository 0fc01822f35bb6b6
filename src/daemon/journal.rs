//! Why each session is what it is: the daemon's bounded record of what it
//! handled (`amux explain`).
//!
//! Every event the daemon handles — a runner's event, a file read, an
//! agent's own report, a timer, a request — begins a [`Cause`]: which
//! signal, and what it said. `Core::handle` sets it around the handling
//! (`begin`, then `end` puts back whatever was in force), and numbers it:
//! `seq` is what `/v1/health` reports, so a test can wait for the daemon
//! to have handled what it did instead of sleeping. When a session's
//! record is published and its summary (state, conversation, title, where
//! its state came from) differs from the last one, the change is kept
//! with the cause in force: the last `KEEP` per session, for `MAX_BOOKS`
//! sessions (the least recently changed go first). Pure: no I/O, the time
//! comes in.

use crate::protocol::{AgentState, Change, Record, RunnerEvent};
use std::collections::{HashMap, VecDeque};

/// Changes kept per session.
const KEEP: usize = 32;
/// Sessions kept (live and dead): the least recently changed go first.
const MAX_BOOKS: usize = 512;

/// Which signal made a change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// The preload saw the agent write its file, or said hello.
    Preload,
    /// pi's amux extension.
    Extension,
    /// A command hook amux added to the agent's launch.
    Hook,
    /// The agent's own state escape in its terminal (Codex's OSC 7501).
    Osc7501,
    /// Claude Code's `sessions/<pid>.json`.
    AgentPidfile,
    /// The agent's open conversation file, found in `/proc`.
    Procfd,
    /// An OSC 9 notification the agent wrote to its terminal.
    Osc9,
    /// The agent's launch command line.
    Argv,
    /// Lines of the conversation file.
    File,
    /// Input at a terminal or through `amux send`.
    Input,
    Attach,
    /// The terminal: its title, its output.
    Terminal,
    /// A deadline of the daemon's own.
    Timer,
    /// The agent exited, or its runner went.
    Exit,
    /// The runner's own bookkeeping (its `meta`, the end of its replay).
    Runner,
    /// A FALLBACK guess.
    Guess,
}

impl Signal {
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Preload => "preload",
            Signal::Extension => "extension",
            Signal::Hook => "hook",
            Signal::AgentPidfile => "agent-pidfile",
            Signal::Procfd => "procfd",
            Signal::Osc9 => "osc9",
            Signal::Osc7501 => "osc7501",
            Signal::Argv => "argv",
            Signal::File => "file",
            Signal::Input => "input",
            Signal::Attach => "attach",
            Signal::Terminal => "terminal",
            Signal::Timer => "timer",
            Signal::Exit => "exit",
            Signal::Runner => "runner",
            Signal::Guess => "guess",
        }
    }
}

/// What the daemon is handling: a signal and what it said.
#[derive(Clone, Debug, PartialEq)]
pub struct Cause {
    pub signal: Signal,
    pub said: String,
    /// Said before this daemon followed the runner (its replay).
    pub replay: bool,
}

impl Cause {
    pub fn new(signal: Signal, said: impl Into<String>) -> Cause {
        Cause {
            signal,
            said: said.into(),
            replay: false,
        }
    }
}

impl Cause {
    /// What a runner's event is a signal of, and what it said.
    pub fn of_runner(event: &RunnerEvent, replay: bool) -> Cause {
        use crate::protocol::{FileSource, StateSource};
        let (signal, said) = match event {
            RunnerEvent::Meta(m) => (Signal::Runner, format!("meta: {}", m.command.join(" "))),
            RunnerEvent::Shim(s) => (
                Signal::Preload,
                format!("hello ({})", s.runtime.as_deref().unwrap_or("node")),
            ),
            RunnerEvent::SessionFile(f) => {
                let signal = match f.source {
                    FileSource::Shim => Signal::Preload,
                    FileSource::Argv => Signal::Argv,
                    FileSource::Extension => Signal::Extension,
                    FileSource::Hook => Signal::Hook,
                };
                (signal, format!("session file {}", f.path.display()))
            }
            RunnerEvent::Ready => (Signal::Runner, "replay read".into()),
            RunnerEvent::Exit(e) => match e.exit_code {
                Some(code) => (Signal::Exit, format!("exit status {code}")),
                None => (Signal::Exit, "exited".into()),
            },
            RunnerEvent::Title(t) => (
                Signal::Terminal,
                format!("title {:?}", t.title.as_deref().unwrap_or("")),
            ),
            RunnerEvent::Input(i) if i.enter => (Signal::Input, "a line (Enter)".into()),
            RunnerEvent::Input(_) => (Signal::Input, "keys".into()),
            RunnerEvent::Attach(a) => (Signal::Attach, format!("{} attached", a.attachers)),
            RunnerEvent::Activity => (Signal::Terminal, "output".into()),
            RunnerEvent::Resize(s) => (Signal::Terminal, format!("{}x{}", s.cols, s.rows)),
            RunnerEvent::State(s) => {
                let signal = match s.source {
                    StateSource::Extension => Signal::Extension,
                    StateSource::Hook => Signal::Hook,
                    StateSource::Osc9 => Signal::Osc9,
                    StateSource::Osc7501 => Signal::Osc7501,
                    StateSource::WindowTitle => Signal::Terminal,
                    StateSource::AgentPidfile => Signal::AgentPidfile,
                    StateSource::File | StateSource::Process => Signal::Runner,
                };
                (signal, state_said(s))
            }
            RunnerEvent::Notification(n) => (Signal::Osc9, format!("notification {:?}", n.body)),
        };
        Cause {
            signal,
            said,
            replay,
        }
    }
}

/// An agent's report of its state in words: `waiting: Bash: ls`.
pub fn state_said(report: &AgentState) -> String {
    let word = crate::protocol::to_json(&report.state);
    let mut said = word.trim_matches('"').to_string();
    if let Some(w) = &report.waiting {
        let asked = [w.tool.as_deref(), w.text.as_deref()];
        let asked: Vec<&str> = asked.into_iter().flatten().collect();
        if !asked.is_empty() {
            said = format!("{said}: {}", asked.join(": "));
        }
    }
    said
}

#[derive(Default)]
struct Book {
    last: Vec<(&'static str, String)>,
    changes: VecDeque<Change>,
    /// The number of its last change among all: which book goes first.
    touched: u64,
}

#[derive(Default)]
pub struct Journal {
    seq: u64,
    /// Changes noted so far, all sessions.
    noted: u64,
    cause: Option<Cause>,
    books: HashMap<String, Book>,
}

impl Journal {
    /// An event begins: numbered, and in force until `end`. Returns the
    /// cause it interrupts (an event handled inside another).
    pub fn begin(&mut self, cause: Cause) -> Option<Cause> {
        self.seq += 1;
        self.cause.replace(cause)
    }

    pub fn end(&mut self, previous: Option<Cause>) {
        self.cause = previous;
    }

    /// The cause in force now.
    pub fn current(&self) -> Option<Cause> {
        self.cause.clone()
    }

    /// Events handled so far.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// `record` is published: kept as a change when its summary differs
    /// from the last one, with the cause in force.
    pub fn note(&mut self, record: &Record, at: &str) {
        let now = summary(record);
        let book = self.books.entry(record.id.clone()).or_default();
        if book.last == now {
            return;
        }
        let changed = now
            .iter()
            .filter_map(|(name, after)| {
                let before = book.last.iter().find(|(n, _)| n == name);
                let before = before.map_or("none", |(_, v)| v.as_str());
                (before != after).then(|| format!("{name}: {before} -> {after}"))
            })
            .collect();
        let cause = self.cause.clone();
        let cause = cause.unwrap_or_else(|| Cause::new(Signal::Runner, "(no event)"));
        book.changes.push_back(Change {
            seq: self.seq,
            at: at.to_string(),
            signal: cause.signal.as_str().to_string(),
            said: cause.said,
            replay: cause.replay,
            changed,
            state: record.state(),
            source: record.status.source.clone(),
        });
        if book.changes.len() > KEEP {
            book.changes.pop_front();
        }
        book.last = now;
        self.noted += 1;
        book.touched = self.noted;
        self.bound();
    }

    /// Session `id`'s last changes, oldest first.
    pub fn changes(&self, id: &str) -> Vec<Change> {
        (self.books.get(id)).map_or_else(Vec::new, |b| b.changes.iter().cloned().collect())
    }

    /// A record forgotten: its changes go too.
    pub fn forget(&mut self, id: &str) {
        self.books.remove(id);
    }

    fn bound(&mut self) {
        if self.books.len() <= MAX_BOOKS {
            return;
        }
        let oldest = self.books.iter().min_by_key(|(_, b)| b.touched);
        if let Some(id) = oldest.map(|(id, _)| id.clone()) {
            self.books.remove(&id);
        }
    }
}

/// The fields a change is told by, each as one word or line.
fn summary(record: &Record) -> Vec<(&'static str, String)> {
    let mut state = record.state();
    if let Some(label) = &record.status.label {
        state = format!("{state} ({label})");
    }
    let conversation = match &record.conversation {
        Some(c) => format!("{} ({})", c.file.display(), c.source),
        None => "none".into(),
    };
    vec![
        ("state", state),
        ("state-source", record.status.source.as_str().into()),
        ("conversation", conversation),
        ("title", record.title.clone()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(state: &str, title: &str) -> Record {
        let mut r = Record {
            id: "s".into(),
            alive: true,
            title: title.into(),
            ..Record::default()
        };
        r.status.working = state == "working";
        r
    }

    #[test]
    fn a_change_names_its_cause_and_what_changed() {
        let mut j = Journal::default();
        let outer = j.begin(Cause::new(Signal::Extension, "agent_start"));
        j.note(&record("idle", "(new)"), "t0");
        j.note(&record("working", "(new)"), "t1");
        // The same summary again is no change.
        j.note(&record("working", "(new)"), "t2");
        j.end(outer);
        let inner = j.begin(Cause::new(Signal::File, "f.jsonl line 3"));
        j.note(&record("working", "hello"), "t3");
        j.end(inner);
        let changes = j.changes("s");
        assert_eq!(changes.len(), 3);
        assert_eq!(changes[1].signal, "extension");
        assert_eq!(changes[1].changed, ["state: idle -> working"]);
        assert_eq!(changes[2].signal, "file");
        assert_eq!(changes[2].changed, ["title: (new) -> hello"]);
        assert_eq!((changes[2].seq, j.seq()), (2, 2));
    }

    #[test]
    fn books_are_bounded() {
        let mut j = Journal::default();
        for i in 0..(KEEP + 5) {
            j.begin(Cause::new(Signal::Terminal, "t"));
            j.note(&record("idle", &format!("t{i}")), "t");
        }
        assert_eq!(j.changes("s").len(), KEEP);
        for i in 0..(MAX_BOOKS + 3) {
            let mut r = record("idle", "x");
            r.id = format!("s{i}");
            j.note(&r, "t");
        }
        assert_eq!(j.books.len(), MAX_BOOKS);
        assert!(j.changes("s").is_empty(), "the least recently changed went");
    }
}
