//! What goes into the core and what comes out of it.
//!
//! An [`Event`] is something that happened, with every fact the core
//! needs to decide on it already gathered by the shell (a file's derived
//! state and mtime, a saved input state, an exit file); an [`Effect`] is
//! something the shell must do, some of which come back as events (a
//! `Follow` as a `Read`, a `Look` as a `Found`, a `Schedule` as a
//! `Timer`). Each event names its [`Cause`] for the journal.

use super::roots::RootChange;
use crate::adapters::{Derived, Kind, Place, Probe, Report};
use crate::daemon::journal::{state_said, Cause, Signal};
use crate::daemon::live::Saved;
pub use crate::protocol::DaemonEvent as Published;
use crate::protocol::{Meta, Record, RunnerEvent};
use std::io;
use std::path::PathBuf;
use std::time::Instant;

/// The time an event is handled at: the monotonic clock for deadlines,
/// epoch milliseconds for what records say.
#[derive(Clone, Copy, Debug)]
pub struct Now {
    pub at: Instant,
    pub ms: i64,
}

impl Now {
    pub fn real() -> Now {
        Now {
            at: Instant::now(),
            ms: crate::daemon::now_ms(),
        }
    }
}

pub enum Event {
    /// A runner's event (its `meta` comes as `Meta`). `replay`: said
    /// before this daemon followed it.
    Runner {
        id: String,
        event: Box<RunnerEvent>,
        replay: bool,
    },
    /// A runner's `meta`, with what a previous daemon saved of the session.
    Meta {
        id: String,
        meta: Box<Meta>,
        saved: Option<Box<Saved>>,
    },
    /// The runner's stream ended or its agent exited; `exit` is its exit
    /// file (its final `meta`), if it wrote one.
    Gone {
        id: String,
        exit: Option<Box<Meta>>,
    },
    /// The rest of an event's handling, once the effects it asked for
    /// first are done; handled under that event's cause.
    Continue {
        cause: Cause,
        then: Continuation,
    },
    /// A session whose runner is gone without the daemon seeing it go.
    Unseen(Box<Unseen>),
    /// A file under a watched root changed.
    Changed(PathBuf),
    Removed(PathBuf),
    /// What reading a followed file found.
    Read(Box<Read>),
    /// What a look at a session's own report or its guesses found.
    Found {
        id: String,
        found: Found,
    },
    Timer(Timer),
    /// Input through `amux send` (the runner's `input` event is typing).
    Input {
        id: String,
        /// What was sent (Enter is a carriage return).
        keys: Vec<u8>,
    },
    /// The watcher's news.
    Side(SideEvent),
    /// A dead record's save finished (`error`: it failed): `record` is
    /// what was written, which a later change may have overtaken.
    Saved {
        record: Box<Record>,
        error: Option<io::Error>,
    },
    /// Save every dead record not on disk yet (a listing asks).
    SaveAll,
    Forget {
        id: String,
    },
    Resumed {
        id: String,
        at: String,
    },
}

/// What an event goes on with after its effects (see `Effect::Then`).
pub enum Continuation {
    /// A bind's first read is in: session `sid` holds `file` now.
    Bind {
        sid: String,
        file: PathBuf,
        source: crate::attribution::Source,
    },
    /// The last read of a dying session's file is in: it is buried now.
    Buried { id: String },
}

/// What a session's runner left when it went unseen (see `ended.rs`).
pub struct Unseen {
    pub id: String,
    /// Its socket is still there: it runs, or lingers.
    pub socket: bool,
    pub exit: Option<Meta>,
    pub saved: Option<Saved>,
    /// The file a new dead record would hold, read whole, and its mtime.
    pub file: Option<(Derived, Option<i64>)>,
}

/// A followed file's read.
pub struct Read {
    pub path: PathBuf,
    pub derived: Derived,
    /// Complete lines read so far.
    pub lines: u64,
    /// New bytes were read.
    pub grew: bool,
    /// Its mtime (epoch ms) at the read (none: it does not exist yet).
    pub written_ms: Option<i64>,
    /// Its directory is reached through a symlink (watched on its own).
    pub linked: bool,
    /// The first read of a file just followed: a bind goes on from it.
    pub first: bool,
}

/// The steps of a look (see `sources.rs`).
pub enum Found {
    Report(Box<Report>),
    Candidates(Vec<(PathBuf, Derived, i64)>),
    Screen(Option<PathBuf>),
}

/// The core's own deadlines.
#[derive(Clone, Debug, PartialEq)]
pub enum Timer {
    /// Input pending since `token` may have been taken without a turn.
    Quiet { id: String, token: Instant },
    /// A held `waiting` reported at `since_ms` shows by itself now.
    Question { id: String, since_ms: i64 },
    /// A deferred look at the session's sources.
    Check { id: String },
}

pub enum SideEvent {
    Watching {
        count: usize,
        limited: bool,
    },
    WatchFailed {
        error: io::Error,
        starting: bool,
    },
    /// A root is watched now: followed files under it may have changed.
    RootWatched(PathBuf),
    /// Files changed in the last minutes, with their mtimes (s).
    Recent(Vec<(PathBuf, i64)>),
    Rescan,
}

pub enum Effect {
    Publish(Published),
    Log(String),
    /// Follow `path` (read it from its start) for `kind`'s fold; its
    /// first read comes back as a `Read` with `first`.
    Follow {
        path: PathBuf,
        kind: Kind,
        place: Place,
    },
    Unfollow(PathBuf),
    /// Read what was appended to a followed file.
    ReadMore(PathBuf),
    Watch(RootChange),
    SaveInput {
        id: String,
        saved: Box<Saved>,
    },
    /// Save a dead record, then remove what it was rebuilt from; comes
    /// back as `Saved`.
    SaveDead(Box<Record>),
    /// Remove what the next daemon would rebuild session `id` from (its
    /// exit file, its saved input state), and with `record` its record.
    Remove {
        id: String,
        record: bool,
    },
    Schedule {
        at: Instant,
        timer: Timer,
    },
    /// Read the agent's own report (off the executor: it walks `/proc`).
    Look {
        id: String,
        kind: Kind,
        probe: Probe,
    },
    /// Read guess candidates (each up to a few MiB).
    ReadCandidates {
        id: String,
        kind: Kind,
        place: Place,
        started: i64,
        candidates: Vec<(PathBuf, i64)>,
    },
    /// Ask the runner for its screen and pick the candidate it shows.
    Scrollback {
        id: String,
        texts: Vec<(PathBuf, String)>,
    },
    /// Handle this event once the effects before it are done.
    Then(Box<Event>),
}

impl Event {
    /// The signal it is, and what it said.
    pub fn cause(&self) -> Cause {
        fn new(signal: Signal, said: impl Into<String>) -> Cause {
            Cause::new(signal, said)
        }
        match self {
            Event::Runner { event, replay, .. } => Cause::of_runner(event, *replay),
            Event::Meta { meta, .. } => {
                new(Signal::Runner, format!("meta: {}", meta.command.join(" ")))
            }
            Event::Gone { exit: Some(m), .. } => match m.exit_code {
                Some(code) => new(Signal::Exit, format!("exit file: status {code}")),
                None => new(Signal::Exit, "exit file"),
            },
            Event::Gone { .. } => new(Signal::Exit, "the runner's stream ended"),
            Event::Continue { cause, .. } => cause.clone(),
            Event::Unseen(u) if u.exit.is_some() => {
                new(Signal::Exit, "its runner's exit file, found with no runner")
            }
            Event::Unseen(_) => new(Signal::Exit, "no runner: ended while no daemon watched"),
            Event::Changed(p) => new(Signal::File, format!("{} changed", p.display())),
            Event::Removed(p) => new(Signal::File, format!("{} removed", p.display())),
            Event::Read(r) => match &r.derived.unknown {
                Some(unknown) => new(Signal::File, format!("{} {unknown}", r.path.display())),
                None => new(
                    Signal::File,
                    format!("{} line {}", r.path.display(), r.lines),
                ),
            },
            Event::Found { found, .. } => found.cause(),
            Event::Timer(t) => new(Signal::Timer, t.said()),
            Event::Input { keys, .. } if keys.contains(&b'\r') => {
                new(Signal::Input, "amux send: a line (Enter)")
            }
            Event::Input { .. } => new(Signal::Input, "amux send: keys"),
            Event::Side(_) => new(Signal::Runner, "the root watcher"),
            Event::Saved { .. } | Event::SaveAll => new(Signal::Runner, "saving records"),
            Event::Forget { .. } => new(Signal::Runner, "amux forget"),
            Event::Resumed { .. } => new(Signal::Runner, "amux resume"),
        }
    }
}

impl Found {
    fn cause(&self) -> Cause {
        match self {
            Found::Report(r) => {
                let signal = match r.file.as_ref().map(|f| f.1) {
                    Some(crate::attribution::Source::Procfd) => Signal::Procfd,
                    _ => Signal::AgentPidfile,
                };
                let said = match (&r.file, &r.state) {
                    (_, Some(state)) => state_said(state),
                    (Some((file, _)), None) => format!("holds {}", file.display()),
                    (None, None) => "nothing".into(),
                };
                Cause::new(signal, said)
            }
            Found::Candidates(c) => Cause::new(Signal::Guess, format!("{} candidates", c.len())),
            Found::Screen(_) => Cause::new(Signal::Guess, "the screen's text"),
        }
    }
}

impl Timer {
    fn said(&self) -> &'static str {
        match self {
            Timer::Quiet { .. } => {
                "3 s without output or file change since the input: taken without a turn"
            }
            Timer::Question { .. } => {
                "its dialog takes keys now (and its question's grace is over): shown as asked"
            }
            Timer::Check { .. } => "a deferred look at its sources",
        }
    }
}
