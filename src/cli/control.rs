//! `amux wait`, `send`, `kill`, `resume` and `forget`: acting on one
//! session (or, `forget --dead`, on every dead one).
//!
//! `wait` is one connection per attempt: the daemon's
//! `GET /v1/sessions/KEY/events`, which resolves the key itself and sends
//! the session's current record, then each change to it, and ends after
//! its last. Each record is judged against the condition. A stream that
//! ends without a verdict means the daemon went away: we reconnect (by id
//! from then on) and judge the new daemon's current record first. The
//! timeout is one clock around all of it, resolution and reconnection
//! included; `--timeout 0` judges the current record alone. The exit
//! statuses (amux(1), EXIT STATUS): 0 reached, 3 the session ended first,
//! 4 its turn failed, or its end could not be read (`--until idle`), 5 no
//! daemon could be reached, 124 timed out.

use super::client::{api_error, ask, check_key, daemon_request, print_json, resolve, stream};
use crate::error::{Error, Result};
use crate::protocol::{Record, ResumePlan};
use std::cell::RefCell;
use std::io::Read;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Until {
    Idle,
    Working,
    Exit,
    Attributed,
    /// The agent asks the user something (`status.state` waiting).
    Waiting,
}

impl Until {
    pub fn parse(word: &str) -> Result<Until> {
        Ok(match word {
            "idle" => Until::Idle,
            "working" => Until::Working,
            "exit" => Until::Exit,
            "attributed" => Until::Attributed,
            "waiting" => Until::Waiting,
            _ => {
                return Err(Error::Usage(format!(
                    "--until takes idle, working, waiting, exit or attributed, not {word:?}"
                )))
            }
        })
    }

    /// `Some(true)`: reached; `Some(false)`: can no longer be reached.
    fn judge(self, record: &Record) -> Option<bool> {
        let alive = record.alive;
        let reached = match self {
            Until::Exit => !alive,
            Until::Idle => record.turn_done,
            Until::Working => alive && record.status.working,
            Until::Attributed => record.conversation.is_some(),
            Until::Waiting => alive && record.status.state == crate::protocol::State::Waiting,
        };
        match (reached, alive) {
            (true, _) => Some(true),
            (false, false) => Some(false),
            (false, true) => None,
        }
    }

    /// What the wait was for, as a message ends it ("… to be idle").
    fn word(self) -> &'static str {
        match self {
            Until::Idle => "be idle",
            Until::Working => "be working",
            Until::Exit => "exit",
            Until::Attributed => "be attributed",
            Until::Waiting => "wait for the user",
        }
    }
}

/// How a wait ended, with the record that decided it.
enum Verdict {
    Reached(Record),
    Ended(Record),
}

impl Verdict {
    fn of(until: Until, record: Record) -> Option<Verdict> {
        match until.judge(&record)? {
            true => Some(Verdict::Reached(record)),
            false => Some(Verdict::Ended(record)),
        }
    }
}

/// `amux wait`: the verdict of the session's stream, within the timeout.
pub fn wait(key: &str, until: Until, timeout: Option<f64>, as_json: bool) -> Result<ExitCode> {
    check_key(key)?;
    // The id once the daemon has named it, for the messages.
    let name = RefCell::new(key.to_string());
    let watch = async {
        watch(key, until, timeout == Some(0.0), &name)
            .await
            .transpose()
    };
    // A timeout too large for a `Duration` is no timeout.
    let limit = timeout
        .filter(|secs| *secs > 0.0)
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok());
    let verdict = async_io::block_on(async {
        match limit {
            Some(limit) => {
                futures_lite::future::or(watch, async {
                    async_io::Timer::after(limit).await;
                    None
                })
                .await
            }
            None => watch.await,
        }
    });
    finish(until, &name.into_inner(), verdict, as_json)
}

/// The verdict; `None` when `once` and the current record decides nothing.
async fn watch(
    key: &str,
    until: Until,
    once: bool,
    name: &RefCell<String>,
) -> Result<Option<Verdict>> {
    let mut target = format!("{}/events", super::client::session_path(key));
    let mut again = false;
    loop {
        let mut events = stream(&target, again).await?;
        again = true;
        while let Ok(Some((event, data))) = events.next().await {
            let record = match (event.as_str(), serde_json::from_str::<Record>(&data)) {
                ("session", Ok(record)) => record,
                _ => continue,
            };
            // By id from now on: a slug follows the title, which changes.
            target = format!("{}/events", super::client::session_path(&record.id));
            name.borrow_mut().clone_from(&record.id);
            match Verdict::of(until, record) {
                Some(verdict) => return Ok(Some(verdict)),
                None if once => return Ok(None),
                None => {}
            }
        }
        // The stream ended undecided: the daemon went away. Reconnect.
    }
}

fn finish(
    until: Until,
    id: &str,
    verdict: Option<Result<Verdict>>,
    as_json: bool,
) -> Result<ExitCode> {
    let word = until.word();
    let (record, error) = match verdict {
        None => {
            return Err(Error::TimedOut(format!(
                "timed out waiting for session {id} to {word}"
            )))
        }
        Some(Err(e)) => return Err(e),
        // A turn that ended in an error is finished, but not idle; so is
        // one whose end the daemon could not read, said as such.
        Some(Ok(Verdict::Reached(record))) if until == Until::Idle && record.status.error => {
            let unread = record
                .warning
                .as_ref()
                .filter(|_| record.status.source == "file");
            let e = match (unread, record.status.label.as_deref()) {
                (Some(w), _) => format!("session {id}: how the turn ended is not known: {w}"),
                (None, label) => {
                    let label = label.unwrap_or("error");
                    format!("session {id}: the turn failed ({label})")
                }
            };
            (record, Some(Error::TurnFailed(e)))
        }
        Some(Ok(Verdict::Reached(record))) => (record, None),
        Some(Ok(Verdict::Ended(record))) => {
            let e = Error::Ended(format!("session {id} ended before it could {word}"));
            (record, Some(e))
        }
    };
    if as_json {
        print_json(&record)?;
    }
    error.map_or(Ok(ExitCode::SUCCESS), Err)
}

pub fn send(key: &str, text: Option<String>, enter: bool) -> Result<ExitCode> {
    let record = resolve(key)?;
    let id = record.id.as_str();
    let bytes = match text {
        Some(text) => text.into_bytes(),
        None => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .map_err(|e| Error::io("stdin", e))?;
            // `echo text | amux send ID -`: the line's end is not part of
            // the text (to a TUI a line feed is a newline in its editor).
            if buf.ends_with(b"\n") {
                buf.pop();
            }
            buf
        }
    };
    // The daemon takes at most `MAX_BODY` bytes a request: more goes in
    // pieces, in order (a paste as big arrives whole, never cut off).
    let mut pieces = bytes.chunks(crate::http::parse::MAX_BODY).peekable();
    if pieces.peek().is_none() {
        post(id, "input", b"")?;
    }
    for piece in pieces {
        post(id, "input", piece)?;
    }
    if enter {
        // A separate write: a burst ending in \r reads as a paste to some TUIs.
        std::thread::sleep(Duration::from_millis(50));
        post(id, "input", b"\r")?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn kill(key: &str) -> Result<ExitCode> {
    let record = resolve(key)?;
    post(&record.id, "kill", b"")?;
    Ok(ExitCode::SUCCESS)
}

pub(super) fn post(id: &str, action: &str, body: &[u8]) -> Result<()> {
    let path = super::client::session_path(id);
    let resp = daemon_request("POST", &format!("{path}/{action}"), body)?;
    if resp.status >= 300 {
        return Err(api_error(&resp));
    }
    Ok(())
}

/// `amux forget ID… [--dead]`: each dead record named, and with `dead`
/// every dead one, dropped by the daemon. A live session is refused (the
/// daemon's 409) and the rest still forgotten; the first refusal is the
/// error.
pub fn forget(keys: &[String], dead: bool) -> Result<ExitCode> {
    let mut ids: Vec<String> = Vec::new();
    for key in keys {
        check_key(key)?;
        ids.push(key.clone());
    }
    if dead {
        let (records, _) = super::query::records(true)?;
        ids.extend(records.into_iter().filter(|r| !r.alive).map(|r| r.id));
    }
    let mut first = None;
    for id in &ids {
        if let Err(e) = post(id, "forget", b"") {
            eprintln!("amux: {e}");
            first.get_or_insert(e);
        }
    }
    match first {
        Some(e) => Err(Error::Exit(e.exit_status())),
        None => Ok(ExitCode::SUCCESS),
    }
}

/// Tells the daemon the dead session `id` is being resumed.
pub fn mark_resumed(id: &str) -> Result<()> {
    post(id, "resumed", b"")
}

/// The daemon's plan for resuming a dead session: what to run, and where.
pub fn resume_plan(key: &str) -> Result<ResumePlan> {
    ask(key, "/resume")
}
