//! Intake of the preload's events and of pi's extension's
//! (amux-protocol(7), PRELOAD CONTRACT), from the FIFO or from
//! `POST /shim/event`.
//!
//! An event is one JSON object (`protocol::ShimEvent`). `hello` marks the
//! shim active; `write` and `append` (a write the preload saw) and
//! `session` (the file pi's extension says pi holds now, which after a
//! `/new` pi has not written yet) carry a path, which becomes the session
//! file only if the adapter accepts it: under its session root — by path
//! alone, so a file that does not exist yet qualifies — or a file whose
//! first line is its session header. The latest accepted report wins,
//! whichever of the two made it (`Session::set_session_file`); the daemon
//! logs when the preload's writes contradict the extension.
//! The extension's other ops (pi's `agent_start`, `agent_end`, `bash`,
//! `taken` …) become `state` events with source `extension`, as the
//! agent's adapter reads them. Anything else is an error, never a crash: a 400
//! over HTTP; on the FIFO, where nobody could be answered, the line is
//! dropped. `read_fifo` is the FIFO's task: lines of at most `MAX_EVENT`
//! bytes, each applied like a `POST /shim/event` body.

use super::session::Session;
use super::Runner;
use crate::adapters::Extension;
use crate::protocol::{AgentState, FileSource, RunnerEvent, ShimEvent, State, StateSource};
use async_io::Async;
use futures_lite::{AsyncBufReadExt, AsyncReadExt};
use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// Shim events are small; this bounds what the FIFO reader buffers.
pub const MAX_EVENT: usize = 512 * 1024;

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
                "unknown shim op {op:?} (expected hello, write, append, hook, or an op of pi's extension: session, agent_start, agent_end, bash, bash_end, taken, retry_cancelled)"
            ),
            ShimError::MissingPath => f.write_str("shim event without an absolute \"path\""),
        }
    }
}

impl std::error::Error for ShimError {}

/// Applies one event; returns the SSE events to publish.
pub fn apply(session: &mut Session, raw: &[u8]) -> Result<Vec<RunnerEvent>, ShimError> {
    let event: ShimEvent =
        serde_json::from_slice(raw).map_err(|e| ShimError::Json(e.to_string()))?;
    match event.op.as_str() {
        "hello" => {
            let runtime = event.runtime.as_deref().unwrap_or("node");
            Ok(vec![session.set_shim(runtime, event.pid.unwrap_or(0))])
        }
        "write" | "append" => file(session, event.path, FileSource::Shim),
        // The agent's own extension, through the preload's transport, or
        // its command hook, through `amux hook`: what its ops mean is its
        // adapter's business.
        op => {
            let source = if op == "hook" {
                FileSource::Hook
            } else {
                FileSource::Extension
            };
            match session.kind.adapter().extension(&event) {
                Some(Extension::Holds(path)) => file(session, Some(path), source),
                Some(Extension::Switched(path)) => {
                    let mut out = file(session, Some(path), source)?;
                    out.push(state(session, switched(source)));
                    Ok(out)
                }
                Some(Extension::Entered(path, s)) => {
                    let mut out = file(session, Some(path), source)?;
                    out.push(state(session, s));
                    Ok(out)
                }
                Some(Extension::State(s)) => Ok(vec![state(session, s)]),
                Some(Extension::Nothing) => Ok(Vec::new()),
                Some(Extension::NoPath) => Err(ShimError::MissingPath),
                None => Err(ShimError::UnknownOp(op.chars().take(64).collect())),
            }
        }
    }
}

/// The idle of a switch the user commanded (it answers the command).
fn switched(source: FileSource) -> AgentState {
    AgentState {
        state: State::Idle,
        source: match source {
            FileSource::Hook => StateSource::Hook,
            _ => StateSource::Extension,
        },
        answers: true,
        ..AgentState::default()
    }
}

fn file(
    session: &mut Session,
    path: Option<PathBuf>,
    source: FileSource,
) -> Result<Vec<RunnerEvent>, ShimError> {
    let path = path
        .filter(|p| p.is_absolute())
        .ok_or(ShimError::MissingPath)?;
    let kept =
        (session.session_file.as_deref()).is_some_and(|held| session.kind.keeps(held, &path));
    if kept || !accepts(session, &path) {
        return Ok(Vec::new());
    }
    Ok(session.set_session_file(path, source).into_iter().collect())
}

/// The `state` event of what the agent said, stamped now. A hook's is
/// kept for the replay of a daemon that connects later: a hook says a
/// moment once (pi's extension's turn boundaries are not: the file says
/// as much once its lines are read).
fn state(session: &mut Session, mut report: AgentState) -> RunnerEvent {
    report.at_ms = crate::daemon::now_ms();
    if report.source == StateSource::Hook {
        session.remember(report.clone());
    }
    RunnerEvent::State(report)
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

/// Reads the FIFO's lines until `ended` closes (the agent exited), then
/// what is still in it: a report the agent wrote just before it exited
/// (pi `-p` writes its file and quits) is published before the exit.
pub async fn read_fifo(
    runner: Rc<Runner>,
    file: std::fs::File,
    ended: async_channel::Receiver<()>,
) {
    let Ok(fifo) = Async::new(file) else { return };
    let mut reader = futures_lite::io::BufReader::new(fifo);
    let mut line = Vec::new();
    loop {
        let next = async {
            let mut limited = (&mut reader).take(MAX_EVENT as u64);
            Some(limited.read_until(b'\n', &mut line).await)
        };
        let end = async {
            let _ = ended.recv().await;
            None
        };
        match futures_lite::future::or(next, end).await {
            Some(Ok(0) | Err(_)) => return,
            Some(Ok(_)) => handle_shim_line(&runner, &std::mem::take(&mut line)),
            None => break,
        }
    }
    // Each read is tried at once (async-io reads before it waits): a
    // would-block means the FIFO is empty, and the agent is gone.
    loop {
        let mut limited = (&mut reader).take(MAX_EVENT as u64);
        match futures_lite::future::poll_once(limited.read_until(b'\n', &mut line)).await {
            Some(Ok(n)) if n > 0 => handle_shim_line(&runner, &std::mem::take(&mut line)),
            _ => return,
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
        events.iter().for_each(|e| runner.publish(e));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::Kind;

    fn session() -> Session {
        Session {
            id: "s".into(),
            kind: Kind::PI,
            command: vec!["pi".into()],
            cwd: "/w".into(),
            pid: 1,
            runner_pid: 2,
            started_at: String::new(),
            started_ms: 0,
            exit: None,
            exited_at: None,
            session_file: None,
            file_source: FileSource::Argv,
            file_since: 0,
            shim: None,
            cols: 80,
            rows: 24,
            title: None,
            submitted: 0,
            submitted_ms: 0,
            root_depth: 1,
            roots: vec!["/nonexistent-root".into()],
            config_dir: None,
            states: Vec::new(),
        }
    }

    /// What one event published: `session_file` as (path, source), `state`
    /// as its state word; nothing as `""`.
    fn published(session: &mut Session, event: &str) -> String {
        let out = apply(session, event.as_bytes()).expect("a valid event");
        let words: Vec<String> = out
            .iter()
            .map(|event| {
                use crate::protocol::to_json as json;
                match event {
                    RunnerEvent::SessionFile(f) => {
                        format!("{} {}", f.path.display(), json(&f.source))
                    }
                    RunnerEvent::State(s) => format!("{} {}", json(&s.state), json(&s.source)),
                    other => other.name().to_string(),
                }
            })
            .collect();
        words.join(", ")
    }

    #[test]
    fn the_latest_report_wins_and_the_same_file_only_gets_stronger() {
        let (a, b) = (
            "/nonexistent-root/--w--/a.jsonl",
            "/nonexistent-root/--w--/b.jsonl",
        );
        let session_ev =
            |p: &str| format!(r#"{{"op":"session","pid":1,"path":"{p}","reason":"startup"}}"#);
        let new_ev = |p: &str| format!(r#"{{"op":"session","path":"{p}","reason":"new"}}"#);
        let write_ev = |p: &str| format!(r#"{{"op":"append","pid":1,"path":"{p}"}}"#);
        // (event, what it publishes)
        let table = [
            // Named before pi writes it: accepted under the root by path.
            (session_ev(a), format!("{a} \"extension\"")),
            (session_ev(a), String::new()),
            // The preload sees it written: the same file, confirmed.
            (write_ev(a), format!("{a} \"shim\"")),
            (write_ev(a), String::new()),
            // The extension again on that file is weaker: nothing.
            (session_ev(a), String::new()),
            // A switch (/new, /resume), then a write elsewhere: each wins.
            (session_ev(b), format!("{b} \"extension\"")),
            (write_ev(a), format!("{a} \"shim\"")),
            // Outside every root and not there to read a header from.
            (session_ev("/elsewhere/c.jsonl"), String::new()),
            // `/new` (or `/resume`, `/fork`): pi is between turns.
            (
                new_ev(b),
                format!("{b} \"extension\", \"idle\" \"extension\""),
            ),
            (
                r#"{"op":"agent_start"}"#.into(),
                "\"working\" \"extension\"".into(),
            ),
            (
                r#"{"op":"agent_end","pid":1}"#.into(),
                "\"idle\" \"extension\"".into(),
            ),
        ];
        let mut s = session();
        for (event, want) in table {
            assert_eq!(published(&mut s, &event), want, "{event}");
        }
        assert_eq!(s.session_file.as_deref(), Some(Path::new(b)));
        assert_eq!(s.file_source, FileSource::Extension);
    }

    #[test]
    fn pi_between_turns_is_its_file_then_an_idle_that_answers() {
        let f = "/nonexistent-root/--w--/f.jsonl";
        let table = [
            // Started with no prompt: it waits at its editor.
            (
                format!(r#"{{"op":"session","path":"{f}","reason":"startup","argv":["-c"]}}"#),
                format!("{f} \"extension\", \"idle\" \"extension\""),
            ),
            (
                r#"{"op":"bash","text":"make"}"#.into(),
                "\"working\" \"extension\"".into(),
            ),
            (
                r#"{"op":"bash_end","name":"foo"}"#.into(),
                "\"idle\" \"extension\"".into(),
            ),
            (r#"{"op":"taken"}"#.into(), "\"idle\" \"extension\"".into()),
        ];
        let mut s = session();
        for (event, want) in table {
            assert_eq!(published(&mut s, &event), want, "{event}");
        }
        let out = apply(&mut s, br#"{"op":"taken","name":"foo"}"#).expect("valid");
        let Some(RunnerEvent::State(said)) = out.first() else {
            panic!("{out:?}")
        };
        assert!(said.answers && said.at_ms > 0, "{said:?}");
        assert_eq!(said.title.as_deref(), Some("foo"));
    }

    #[test]
    fn the_launch_lines_file_stays_argv_until_written() {
        let f = "/nonexistent-root/--w--/f.jsonl";
        let mut s = session();
        s.session_file = Some(f.into());
        let named = format!(r#"{{"op":"session","path":"{f}","reason":"startup"}}"#);
        assert_eq!(published(&mut s, &named), "");
        assert_eq!(s.meta().session_file_source, Some(FileSource::Argv));
        let written = format!(r#"{{"op":"write","path":"{f}"}}"#);
        assert_eq!(published(&mut s, &written), format!("{f} \"shim\""));
    }

    #[test]
    fn bad_events_are_errors() {
        let mut s = session();
        let cases = [
            (r#"{"op":"session","reason":"new"}"#, ShimError::MissingPath),
            (
                r#"{"op":"session","path":"rel.jsonl"}"#,
                ShimError::MissingPath,
            ),
            (
                r#"{"op":"agent_pause"}"#,
                ShimError::UnknownOp("agent_pause".into()),
            ),
            (r#"{}"#, ShimError::UnknownOp(String::new())),
        ];
        for (event, want) in cases {
            assert_eq!(apply(&mut s, event.as_bytes()).err(), Some(want), "{event}");
        }
        assert!(matches!(apply(&mut s, b"{"), Err(ShimError::Json(_))));
    }
}
