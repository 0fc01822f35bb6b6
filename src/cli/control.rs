//! `amux wait`, `send`, `kill` and `resume`: acting on one session.
//!
//! `wait` judges the record it resolved at once; otherwise it subscribes to
//! the daemon's events first and only then reads the record again, so no
//! change can slip between the two; each `session` event for our id is
//! tested against the condition. A daemon that goes away is reconnected
//! to. The exit statuses are DESIGN §7's: 0 reached, 3 the session ended
//! first, 4 its turn failed (`--until idle`), 5 no daemon could be
//! reached, 124 timed out.

use super::client::{api_error, daemon_request, print_json, resolve, subscribe};
use crate::error::{Error, Result};
use crate::http::client;
use crate::protocol::Record;
use std::io::Read;
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Until {
    Idle,
    Working,
    Exit,
    Attributed,
}

impl Until {
    pub fn parse(word: &str) -> Result<Until> {
        Ok(match word {
            "idle" => Until::Idle,
            "working" => Until::Working,
            "exit" => Until::Exit,
            "attributed" => Until::Attributed,
            _ => {
                return Err(Error::Usage(format!(
                    "--until takes idle, working, exit or attributed, not {word:?}"
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

/// `amux wait`: the current record is judged first, always (so `--timeout
/// 0` answers from it); then the daemon's events, reconnecting when the
/// daemon restarts (it is stateless: the runners replay to the new one).
pub fn wait(key: &str, until: Until, timeout: Option<f64>, as_json: bool) -> Result<ExitCode> {
    let first = resolve(key)?;
    let id = first.id.clone();
    let verdict = match Verdict::of(until, first) {
        Some(v) => Some(Ok(v)),
        None => run_with_timeout(watch(&id, until), timeout),
    };
    finish(until, &id, verdict, as_json)
}

async fn watch(id: &str, until: Until) -> Result<Verdict> {
    loop {
        let mut events = subscribe().await?;
        // Subscribed: now the current record, then every change.
        if let Some(record) = current(id).await? {
            if let Some(v) = Verdict::of(until, record) {
                return Ok(v);
            }
        } else {
            continue;
        }
        while let Ok(Some((event, data))) = events.next().await {
            if event != "session" {
                continue;
            }
            let Ok(record) = serde_json::from_str::<Record>(&data) else {
                continue;
            };
            if record.id == id {
                if let Some(v) = Verdict::of(until, record) {
                    return Ok(v);
                }
            }
        }
        // The stream ended: the daemon went away. Reconnect.
    }
}

/// The session's record now; `None` when the daemon does not answer (the
/// caller reconnects). A session the daemon does not know yet while its
/// runner's socket exists (a daemon just restarted) is waited for.
async fn current(id: &str) -> Result<Option<Record>> {
    let sock = crate::paths::daemon_socket();
    let target = format!("/v1/sessions/{id}");
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let resp = match client::request_within(client::DEADLINE, &sock, "GET", &target, b"").await
        {
            Ok(resp) => resp,
            Err(_) => return Ok(None),
        };
        if resp.status == 200 {
            return Ok(serde_json::from_slice(&resp.body).ok());
        }
        let pending = resp.status == 404 && crate::paths::session_socket(id).exists();
        if !pending || Instant::now() >= deadline {
            return Err(api_error(&resp));
        }
        async_io::Timer::after(Duration::from_millis(25)).await;
    }
}

fn run_with_timeout<F>(watch: F, timeout: Option<f64>) -> Option<Result<Verdict>>
where
    F: std::future::Future<Output = Result<Verdict>>,
{
    async_io::block_on(async {
        let watch = async { Some(watch.await) };
        match timeout {
            Some(secs) => {
                futures_lite::future::or(watch, async {
                    async_io::Timer::after(Duration::from_secs_f64(secs)).await;
                    None
                })
                .await
            }
            None => watch.await,
        }
    })
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
        // A turn that ended in an error is finished, but not idle.
        Some(Ok(Verdict::Reached(record))) if until == Until::Idle && record.status.error => {
            let label = record.status.label.as_deref().unwrap_or("error");
            let e = Error::TurnFailed(format!("session {id}: the turn failed ({label})"));
            (record, Some(e))
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
    post(id, "input", &bytes)?;
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

fn post(id: &str, action: &str, body: &[u8]) -> Result<()> {
    let resp = daemon_request("POST", &format!("/v1/sessions/{id}/{action}"), body)?;
    if resp.status >= 300 {
        return Err(api_error(&resp));
    }
    Ok(())
}

/// The dead session's resume command and cwd, to run in the foreground
/// or detached like `amux run`.
pub fn resume_plan(key: &str) -> Result<(Vec<String>, String)> {
    let record = resolve(key)?;
    let id = record.id.as_str();
    if record.alive {
        return Err(Error::Failed(format!(
            "session {id} is still running; attach to it instead"
        )));
    }
    let argv = record.resume_command.clone().unwrap_or_default();
    if argv.is_empty() {
        return Err(Error::Failed(format!(
            "session {id} has no conversation to resume"
        )));
    }
    Ok((argv, record.cwd.clone()))
}
