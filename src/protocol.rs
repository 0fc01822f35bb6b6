//! The wire protocol of amux-protocol(7) as types: what a runner's `/meta`
//! and `/events` carry, what the daemon's records and events carry, and
//! the lines `amux events` prints.
//!
//! Every shape crosses a socket as JSON and is written or read only
//! through these types (serde derives), by the runner, the daemon and the
//! client verbs alike: a field is named once, here. Readers are lenient —
//! every field has a default — so a record saved by an older amux, or a
//! runner of a newer one, still reads; writers write every field except
//! the few marked `skip_serializing_if` (`exit.signal`, a record's `host`
//! …), left out while empty and filled back in by the reader's default.
//! `PROTOCOL` in `/v1/health` changes when an older client would misread.

mod runner;

pub use runner::{DaemonEvent, RunnerEvent};

use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;

/// The daemon socket API's version (`/v1/health`): 3 added
/// `…/explain` and `seq`.
pub const PROTOCOL: u32 = 3;
/// The oldest daemon API a client reads: version 2 has every route but
/// `explain`.
pub const MIN_PROTOCOL: u32 = 2;

/// A protocol value as its one-line JSON (our types always serialise).
pub fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// How a file was learned, strongest first (`conversation.source`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    Shim,
    AgentPidfile,
    Procfd,
    /// The agent's own hook amux added at launch (Claude Code's
    /// `SessionStart` with its `transcript_path`): its word beats the
    /// launch line's (a resumed Copilot's `sessionStart`).
    Hook,
    /// The file named on the agent's launch command line (`pi --session F`,
    /// `claude --resume ID`, `codex resume ID`): held before it writes.
    Argv,
    /// pi's amux extension (`session_start`): the file pi will write.
    Extension,
    Metadata,
    Scrollback,
    Mtime,
}

impl Source {
    /// A FALLBACK guess rather than something the agent itself told us.
    pub fn is_guess(self) -> bool {
        matches!(self, Source::Metadata | Source::Scrollback | Source::Mtime)
    }

    /// The wire name, as in `conversation.source`.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Shim => "shim",
            Source::AgentPidfile => "agent-pidfile",
            Source::Procfd => "procfd",
            Source::Argv => "argv",
            Source::Extension => "extension",
            Source::Hook => "hook",
            Source::Metadata => "metadata",
            Source::Scrollback => "scrollback",
            Source::Mtime => "mtime",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a runner learned its session file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileSource {
    /// The preload reported the agent writing it.
    #[default]
    Shim,
    /// The launch line named it (`pi --session F`).
    Argv,
    /// pi's amux extension named it (`session_start`), possibly before
    /// pi has written it.
    Extension,
    /// A hook of the agent's named it (Claude Code's `SessionStart`).
    Hook,
}

impl FileSource {
    /// The attribution source the daemon gives it.
    pub fn source(self) -> Source {
        match self {
            FileSource::Shim => Source::Shim,
            FileSource::Argv => Source::Argv,
            FileSource::Extension => Source::Extension,
            FileSource::Hook => Source::Hook,
        }
    }
}

/// A runner's preload, once it said hello.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Shim {
    pub active: bool,
    pub runtime: Option<String>,
    pub pid: Option<u32>,
}

/// A PTY's window size: in `meta`, the `resize` event and `POST /resize`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Size {
    pub cols: u16,
    pub rows: u16,
}

/// A runner's `GET /meta`, and its `meta` event.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Meta {
    pub id: String,
    /// The agent's name (`pi`): a string on the wire, so a kind this amux
    /// does not know is carried as itself.
    pub kind: Option<String>,
    pub command: Vec<String>,
    pub cwd: PathBuf,
    pub pid: Option<u32>,
    pub runner_pid: Option<u32>,
    pub alive: bool,
    /// The agent's status, 128+N after signal N; null while it runs.
    pub exit_code: Option<i64>,
    pub signal: Option<i32>,
    pub started_at: String,
    /// `started_at` in ms: orders sessions started within one second.
    pub started_ms: i64,
    pub exited_at: Option<String>,
    pub session_file: Option<PathBuf>,
    pub session_file_source: Option<FileSource>,
    pub shim: Shim,
    pub size: Size,
    /// The terminal title the program set (OSC 0/2).
    pub title: Option<String>,
    /// Lines submitted at its terminals so far.
    pub submitted: u64,
    /// When the last of them was submitted (epoch ms; 0: none).
    pub submitted_ms: i64,
    pub roots: Vec<PathBuf>,
    /// How deep below `roots` the agent keeps conversations.
    pub root_depth: Option<usize>,
    /// The agent's own directory (`~/.claude`) in the session's environment.
    pub config_dir: Option<PathBuf>,
}

/// `session_file`: the accepted conversation file changed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SessionFile {
    pub path: PathBuf,
    pub source: FileSource,
    /// When the runner learned it (epoch ms; 0 from an older runner): a
    /// daemon that comes back dates the conversation from then.
    #[serde(skip_serializing_if = "is_zero")]
    pub at_ms: i64,
}

fn is_none(n: &u64) -> bool {
    *n == 0
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// One event of the preload or of pi's extension, from the FIFO or `POST
/// /shim/event` (amux-protocol(7), PRELOAD CONTRACT): `hello`, `write`,
/// `append` (the preload), `session`, `agent_start`, `agent_end`, `bash`,
/// `bash_end`, `taken`, `retry_cancelled` (pi's extension, through the
/// preload's transport), `hook` (`amux hook`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ShimEvent {
    pub op: String,
    pub pid: Option<u32>,
    /// The file written (`write`, `append`) or held (`session`).
    pub path: Option<PathBuf>,
    pub runtime: Option<String>,
    pub version: Option<String>,
    /// `session`: why pi started it (`startup`, `reload`, `new`,
    /// `resume`, `fork`).
    pub reason: Option<String>,
    /// `session`: the file pi held before the switch.
    pub previous: Option<PathBuf>,
    /// `hook`: the agent's name for the moment (`PermissionRequest`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// `hook`: the tool it is about (`Bash`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// `hook`: what it asks or says (the tool's command, the question),
    /// cut to a line's worth; pi's `bash`: the command; pi's
    /// `retry_cancelled`: the error of the attempt not retried.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// `hook`: the kind of a notification (`permission_prompt`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notice: Option<String>,
    /// pi's extension, every op: the name pi gives its session now
    /// (`/name`), null while it has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// pi's `session` at startup: pi's own command line (its arguments
    /// after the script), which says whether it was given a prompt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub argv: Option<Vec<String>>,
}

/// `exit`: the agent exited.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Exit {
    pub exit_code: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
}

/// `input`: someone typed at a terminal showing the session.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Input {
    pub enter: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub submitted: Option<u64>,
    /// The slash command the line ended (`/new`), when the keys tell it
    /// (`runner/line.rs`); a prompt's text is never here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
}

/// `attach`: attachers connected now.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Attach {
    pub attachers: u64,
}

/// `title`: the terminal title changed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Title {
    pub title: Option<String>,
}

/// What an agent is doing (amux(1), STATE).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Working,
    #[default]
    Idle,
    /// It asks the user something and does nothing until answered.
    Waiting,
    Error,
}

/// What a waiting agent asks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ask {
    /// Permission to run a tool.
    #[default]
    Permission,
    /// A question for the user.
    Question,
    /// A choice in the agent's own interface (Claude's `/model` or
    /// `/resume` picker): nothing is asked of a tool.
    Menu,
    /// What a newer amux asks that this one has no word for.
    #[serde(other)]
    Other,
}

impl Ask {
    pub fn as_str(self) -> &'static str {
        match self {
            Ask::Permission => "permission",
            Ask::Question => "question",
            Ask::Menu => "menu",
            Ask::Other => "other",
        }
    }
}

/// `status.waiting`: what is asked, and since when.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Waiting {
    pub kind: Ask,
    /// The tool asked for (`Bash`), when known.
    pub tool: Option<String>,
    /// Its command, or the question's text.
    pub text: Option<String>,
    pub since: String,
}

/// Where a state came from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StateSource {
    /// Derived from the conversation file (and input sent since).
    #[default]
    File,
    /// The process alone (a shell: running, or its exit status).
    Process,
    /// Claude Code's own `sessions/<pid>.json`.
    AgentPidfile,
    /// An OSC 9 notification the agent wrote to its terminal.
    Osc9,
    /// pi's amux extension (`hook/pi-extension.mjs`).
    Extension,
    /// A command hook amux added to the agent's launch (Claude Code's
    /// `--settings` hooks, Codex's `-c hooks…`), through `amux hook`.
    Hook,
    /// The agent's own state escape in its terminal (Codex's `OSC 7501 ;
    /// state=…`), written at each change without being asked.
    Osc7501,
    /// The window title the agent sets at each change of its state
    /// (Gemini's `OSC 0 ; ◇  Ready …`).
    WindowTitle,
}

impl StateSource {
    /// The wire name, as in `status.source`.
    pub fn as_str(self) -> &'static str {
        match self {
            StateSource::File => "file",
            StateSource::Process => "process",
            StateSource::AgentPidfile => "agent-pidfile",
            StateSource::Osc9 => "osc9",
            StateSource::Extension => "extension",
            StateSource::Hook => "hook",
            StateSource::Osc7501 => "osc7501",
            StateSource::WindowTitle => "window-title",
        }
    }
}

/// A runner's `state` event: the agent's own live report of its state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentState {
    pub state: State,
    /// With `state: waiting`; `since` is filled in by the daemon.
    pub waiting: Option<Waiting>,
    pub source: StateSource,
    /// When the agent said so (epoch ms, the runner's clock); 0: now.
    pub at_ms: i64,
    /// The input before it was a command the agent took without a turn
    /// (pi's `/new`, `/name`, a `!cmd` that ended, Claude's `/clear`), or
    /// ended a turn for good: nothing more is owed for it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub answers: bool,
    /// What it is at, in its own words (pi's `!make`, `error: …`): the
    /// record's label while this report stands.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The agent's own name for its conversation, when it has one it may
    /// not have written yet (pi's `/name` before its first prompt): the
    /// record's title while this report stands.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

/// A runner's `notification` event (and the daemon's, with `id`): an
/// OSC 9 or OSC 777 notification the program wrote to its terminal.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Notification {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub id: String,
    pub title: Option<String>,
    pub body: String,
}

/// A record's `status`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Status {
    pub state: State,
    /// What a `waiting` agent asks.
    pub waiting: Option<Waiting>,
    /// A `StateSource`'s wire name: a string, so a newer daemon's source
    /// is carried and printed as itself.
    pub source: String,
    /// `state` is `working` (kept for scripts written before `state`).
    pub working: bool,
    pub error: bool,
    pub label: Option<String>,
}

/// A record's `conversation`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    pub file: PathBuf,
    #[serde(default)]
    pub id: Option<String>,
    /// A `Source`'s wire name (a string, as `Status::source`).
    pub source: String,
    #[serde(default)]
    pub since: String,
}

/// A record's `shim`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RecordShim {
    pub active: bool,
    pub runtime: Option<String>,
}

/// A session as the daemon tells it (amux(1), SESSION RECORD): `ls
/// --json`, `show --json`, `wait --json`, `events`, and the dead records
/// on disk.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Record {
    pub id: String,
    /// The agent's name, as the runner said it (see `Meta::kind`).
    pub kind: Option<String>,
    pub command: Vec<String>,
    pub cwd: String,
    pub pid: Option<u64>,
    pub alive: bool,
    pub exit_code: Option<i64>,
    pub started_at: String,
    pub exited_at: Option<String>,
    pub slug: String,
    pub title: String,
    pub status: Status,
    pub unread: bool,
    /// What `wait --until idle` tests.
    pub turn_done: bool,
    pub conversation: Option<Conversation>,
    pub last_file: Option<PathBuf>,
    pub shim: RecordShim,
    pub resume_command: Option<Vec<String>>,
    /// When `amux resume` took its conversation up again (a dead record
    /// only; absent until then).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resumed_at: Option<String>,
    /// Terminals attached to it now (`amux attach`): what `amux notify`
    /// keeps quiet for. Left out when none.
    #[serde(skip_serializing_if = "is_none")]
    pub attachers: u64,
    /// What the daemon could not read of its conversation (a line over
    /// 16 MiB, a file it may not open), until a line read since says the
    /// state again or the file reads: the state is then `error`, labelled
    /// `unreadable: …`, unless the agent's own report or input submitted
    /// after a skipped line says more. Left out when none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
    /// The host it runs on, in a fleet view of several (`-H a -H b`),
    /// where `id` is written `host:id` too. A daemon never sets it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

impl Record {
    /// The file it holds, else the one it held last.
    pub fn file(&self) -> Option<&std::path::Path> {
        let held = self.conversation.as_ref().map(|c| c.file.as_path());
        held.or(self.last_file.as_deref())
    }

    /// One word for its state, for tables and scripts.
    pub fn state(&self) -> String {
        if !self.alive {
            if self.resumed_at.is_some() {
                return "resumed".into();
            }
            return match self.exit_code {
                Some(code) => format!("exited:{code}"),
                None => "exited".into(),
            };
        }
        let word = if self.status.error {
            "error"
        } else if self.status.state == State::Waiting {
            "waiting"
        } else if self.status.working {
            "working"
        } else if self.unread {
            "unread"
        } else {
            "idle"
        };
        word.into()
    }
}

/// A `remove` event: the session left the live view.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Removed {
    pub id: String,
}

/// One line of `amux events`: `type` first, so a reader can dispatch on
/// the line's start.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum EventLine {
    Session {
        session: Box<Record>,
    },
    Remove {
        id: String,
    },
    /// An OSC 9 / OSC 777 notification session `id`'s program wrote.
    Notification {
        id: String,
        title: Option<String>,
        body: String,
    },
}

/// A line of a fleet's `amux events`: the host's line (its ids written
/// `host:id`) with `host` after its own fields.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HostedLine {
    #[serde(flatten)]
    pub line: EventLine,
    pub host: String,
}

/// `GET /v1/health`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Health {
    pub ok: bool,
    pub pid: u32,
    pub version: String,
    pub protocol: u32,
    /// Directories the session-root watcher watches.
    pub watches: usize,
    /// Connections the daemon has accepted since it started.
    pub connections: u64,
    /// What the user must be told, one sentence each.
    pub warnings: Vec<String>,
    /// The number of events (runner events, file reads, timers, agent
    /// reports, requests) the daemon has handled: a test or script that
    /// caused one can wait for this to pass it instead of sleeping.
    pub seq: u64,
}

/// `GET /v1/sessions/{key}/explain`: a session and why it is what it is.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Explain {
    pub session: Record,
    /// Complete lines of its conversation file the daemon has read: a
    /// test that wrote N lines can wait for N here.
    pub lines: u64,
    /// `Health::seq` when this was answered.
    pub seq: u64,
    /// Its last changes, oldest first (the daemon keeps a few dozen).
    pub changes: Vec<Change>,
}

/// One change of a session's record and what caused it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Change {
    /// The daemon's event number (`Health::seq`) that made it.
    pub seq: u64,
    pub at: String,
    /// Which signal: `preload`, `extension`, `agent-pidfile`, `procfd`,
    /// `osc9`, `argv`, `file`, `input`, `attach`, `terminal`, `timer`,
    /// `exit`, `runner`, `guess` (a string: a newer daemon may add some).
    pub signal: String,
    /// What the signal said (agent text: data, shown sanitised).
    pub said: String,
    /// The runner said it before this daemon followed it (a replay).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub replay: bool,
    /// What changed, `field: before -> after` each.
    pub changed: Vec<String>,
    /// The state word after it (`Record::state`), and where the state
    /// came from (`status.source`): a report held until its question was
    /// in the file shows when a `file` line lets it.
    pub state: String,
    pub source: String,
}

/// An error answer: `{"error": "...", "matches": [...]?}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ErrorBody {
    pub error: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub matches: Vec<String>,
}

/// `GET /v1/sessions/{key}/runner`: how to reach a session's runner (its
/// socket only while it is alive). Clients connect to the runner directly
/// (attach) but never work out where it is themselves.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunnerAddr {
    pub id: String,
    pub alive: bool,
    pub socket: Option<PathBuf>,
}

/// `GET /v1/sessions/{key}/resume`: what continues a dead session's
/// conversation — the command, and the directory to run it in.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResumePlan {
    pub id: String,
    pub command: Vec<String>,
    pub cwd: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_line_starts_with_its_type() {
        let line = serde_json::to_string(&EventLine::Remove { id: "abc".into() }).unwrap();
        assert_eq!(line, r#"{"type":"remove","id":"abc"}"#);
        let record = Record {
            id: "k3j9x2m4qa".into(),
            ..Record::default()
        };
        let line = EventLine::Session {
            session: Box::new(record.clone()),
        };
        let text = serde_json::to_string(&line).unwrap();
        assert!(
            text.starts_with(r#"{"type":"session","session":{"id":"k3j9x2m4qa""#),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<EventLine>(&text).unwrap(), line);
    }

    #[test]
    fn old_and_partial_shapes_still_read() {
        let r: Record = serde_json::from_str(r#"{"id":"x","alive":false,"exit_code":3}"#).unwrap();
        assert_eq!(r.state(), "exited:3");
        let m: Meta = serde_json::from_str(r#"{"id":"x","kind":"pi","alive":true}"#).unwrap();
        assert_eq!(m.kind.as_deref(), Some("pi"));
        let f: SessionFile = serde_json::from_str(r#"{"path":"/f.jsonl"}"#).unwrap();
        assert_eq!(f.source, FileSource::Shim);
    }

    #[test]
    fn states_in_order_of_urgency() {
        let mut r = Record {
            alive: true,
            ..Record::default()
        };
        assert_eq!(r.state(), "idle");
        r.unread = true;
        assert_eq!(r.state(), "unread");
        r.status.working = true;
        assert_eq!(r.state(), "working");
        r.status.error = true;
        assert_eq!(r.state(), "error");
        r.alive = false;
        assert_eq!(r.state(), "exited");
    }
}
