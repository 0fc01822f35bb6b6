//! What a runner's `/events` stream says, as one enum.
//!
//! A runner publishes only `RunnerEvent`s and the daemon reads only
//! `RunnerEvent`s, so an event renamed on one side no longer compiles on
//! the other, and the daemon's `match` over them is exhaustive. On the
//! wire each is one SSE event: `event: <name>` and `data: <JSON>` (the
//! names are amux-protocol(7)'s). `parse` tells an event this amux does
//! not know (a newer runner's) from one whose data does not read, so the
//! reader can say which — and applies neither.

use super::{AgentState, Attach, Exit, Input, Meta, Notification, SessionFile, Shim, Size, Title};
use serde::de::DeserializeOwned;
use std::fmt;

/// One event of a runner's `/events` stream.
#[derive(Clone, Debug, PartialEq)]
pub enum RunnerEvent {
    /// First on every subscription: the session as the runner knows it.
    Meta(Box<Meta>),
    /// The preload said hello.
    Shim(Shim),
    /// The conversation file changed (the preload's write, pi's
    /// extension, or the launch line's file in the replay).
    SessionFile(SessionFile),
    /// The replay is over: what follows is live.
    Ready,
    Exit(Exit),
    Title(Title),
    Input(Input),
    Attach(Attach),
    /// The terminal showed output (at most a few times a second).
    Activity,
    Resize(Size),
    /// The agent's own report of its state.
    State(AgentState),
    /// An OSC 9 / OSC 777 notification the program wrote.
    Notification(Notification),
}

/// Why a runner's event was not read.
#[derive(Debug)]
pub enum EventError {
    /// A name this amux does not know: a newer runner's event.
    Unknown(String),
    /// A known name whose data is not its shape.
    Malformed(&'static str, serde_json::Error),
}

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventError::Unknown(name) => write!(f, "unknown event {name:?} (a newer amux?)"),
            EventError::Malformed(name, e) => write!(f, "malformed {name} event: {e}"),
        }
    }
}

impl std::error::Error for EventError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            EventError::Unknown(_) => None,
            EventError::Malformed(_, e) => Some(e),
        }
    }
}

impl RunnerEvent {
    /// The SSE event name.
    pub fn name(&self) -> &'static str {
        match self {
            RunnerEvent::Meta(_) => "meta",
            RunnerEvent::Shim(_) => "shim",
            RunnerEvent::SessionFile(_) => "session_file",
            RunnerEvent::Ready => "ready",
            RunnerEvent::Exit(_) => "exit",
            RunnerEvent::Title(_) => "title",
            RunnerEvent::Input(_) => "input",
            RunnerEvent::Attach(_) => "attach",
            RunnerEvent::Activity => "activity",
            RunnerEvent::Resize(_) => "resize",
            RunnerEvent::State(_) => "state",
            RunnerEvent::Notification(_) => "notification",
        }
    }

    /// The SSE data: one line of JSON (`{}` for an event without fields).
    pub fn data(&self) -> String {
        use super::to_json;
        match self {
            RunnerEvent::Meta(m) => to_json(m),
            RunnerEvent::Shim(s) => to_json(s),
            RunnerEvent::SessionFile(f) => to_json(f),
            RunnerEvent::Ready | RunnerEvent::Activity => "{}".into(),
            RunnerEvent::Exit(e) => to_json(e),
            RunnerEvent::Title(t) => to_json(t),
            RunnerEvent::Input(i) => to_json(i),
            RunnerEvent::Attach(a) => to_json(a),
            RunnerEvent::Resize(s) => to_json(s),
            RunnerEvent::State(s) => to_json(s),
            RunnerEvent::Notification(n) => to_json(n),
        }
    }

    /// The event an SSE `event:`/`data:` pair carries.
    pub fn parse(name: &str, data: &str) -> Result<RunnerEvent, EventError> {
        fn read<T: DeserializeOwned>(name: &'static str, data: &str) -> Result<T, EventError> {
            serde_json::from_str(data).map_err(|e| EventError::Malformed(name, e))
        }
        Ok(match name {
            "meta" => RunnerEvent::Meta(Box::new(read("meta", data)?)),
            "shim" => RunnerEvent::Shim(read("shim", data)?),
            "session_file" => RunnerEvent::SessionFile(read("session_file", data)?),
            "ready" => RunnerEvent::Ready,
            "exit" => RunnerEvent::Exit(read("exit", data)?),
            "title" => RunnerEvent::Title(read("title", data)?),
            "input" => RunnerEvent::Input(read("input", data)?),
            "attach" => RunnerEvent::Attach(read("attach", data)?),
            "activity" => RunnerEvent::Activity,
            "resize" => RunnerEvent::Resize(read("resize", data)?),
            "state" => RunnerEvent::State(read("state", data)?),
            "notification" => RunnerEvent::Notification(read("notification", data)?),
            other => return Err(EventError::Unknown(other.to_string())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_reads_back_as_itself() {
        let events = [
            RunnerEvent::Meta(Box::new(Meta {
                id: "abc".into(),
                kind: Some("gemini".into()),
                ..Meta::default()
            })),
            RunnerEvent::Shim(Shim::default()),
            RunnerEvent::SessionFile(SessionFile::default()),
            RunnerEvent::Ready,
            RunnerEvent::Exit(Exit {
                exit_code: Some(3),
                signal: None,
            }),
            RunnerEvent::Title(Title {
                title: Some("t".into()),
            }),
            RunnerEvent::Input(Input {
                enter: true,
                submitted: Some(2),
                command: Some("/new".into()),
            }),
            RunnerEvent::Attach(Attach { attachers: 1 }),
            RunnerEvent::Activity,
            RunnerEvent::Resize(Size { cols: 80, rows: 24 }),
            RunnerEvent::State(AgentState::default()),
            RunnerEvent::Notification(Notification::default()),
        ];
        for event in events {
            let back = RunnerEvent::parse(event.name(), &event.data()).unwrap();
            assert_eq!(back, event);
        }
    }

    #[test]
    fn unknown_and_malformed_are_told_apart() {
        let unknown = RunnerEvent::parse("focus", "{}").unwrap_err();
        assert!(matches!(unknown, EventError::Unknown(ref n) if n == "focus"));
        let bad = RunnerEvent::parse("state", "{\"state\":\"dancing\"}").unwrap_err();
        assert!(matches!(bad, EventError::Malformed("state", _)), "{bad}");
    }
}

/// One event of the daemon's `/v1/events` stream (and a session's), its
/// data already JSON: serialised once, sent to every subscriber.
#[derive(Clone, Debug, PartialEq)]
pub enum DaemonEvent {
    /// A record, live or dead.
    Session(String),
    /// A `Removed`: the session left the live view.
    Remove(String),
    /// A `Notification` a session's program wrote.
    Notification(String),
}

impl DaemonEvent {
    pub fn name(&self) -> &'static str {
        match self {
            DaemonEvent::Session(_) => "session",
            DaemonEvent::Remove(_) => "remove",
            DaemonEvent::Notification(_) => "notification",
        }
    }

    pub fn data(&self) -> &str {
        match self {
            DaemonEvent::Session(d) | DaemonEvent::Remove(d) | DaemonEvent::Notification(d) => d,
        }
    }

    /// The event an SSE `event:`/`data:` pair carries (`None`: a name
    /// this amux does not know).
    pub fn parse(name: &str, data: &str) -> Option<DaemonEvent> {
        let data = data.to_string();
        Some(match name {
            "session" => DaemonEvent::Session(data),
            "remove" => DaemonEvent::Remove(data),
            "notification" => DaemonEvent::Notification(data),
            _ => return None,
        })
    }
}
