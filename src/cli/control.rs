//! `amux wait`, `send`, `kill` and `resume`: acting on one session.
//!
//! `wait` subscribes to the daemon's events first and only then reads the
//! record, so no change can slip between the two; each `session` event for
//! our id is tested against the condition. The exit statuses are DESIGN
//! §7's: 0 reached, 3 the session ended first, 124 timed out.

use super::client::{api_error, daemon_request, print_json, resolve};
use crate::error::{Error, Result};
use crate::http::client::Events;
use serde_json::Value;
use std::io::Read;
use std::process::ExitCode;
use std::time::Duration;

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
    fn judge(self, record: &Value) -> Option<bool> {
        let alive = record["alive"].as_bool().unwrap_or(false);
        let reached = match self {
            Until::Exit => !alive,
            Until::Idle => record["turn_done"] == true,
            Until::Working => alive && record["status"]["working"] == true,
            Until::Attributed => !record["conversation"].is_null(),
        };
        match (reached, alive) {
            (true, _) => Some(true),
            (false, false) => Some(false),
            (false, true) => None,
        }
    }
}

pub fn wait(key: &str, until: Until, timeout: Option<f64>, as_json: bool) -> Result<ExitCode> {
    crate::daemon::ensure(true)?;
    let sock = crate::paths::daemon_socket();
    let first = resolve(key)?;
    let id = first["id"].as_str().unwrap_or(key).to_string();
    let watch = async {
        let mut events = Events::open(&sock, "/v1/events")
            .await
            .map_err(|e| Error::io("daemon event stream", e))?;
        // Subscribed: now the current record, then every change.
        let mut record = match resolve(&id) {
            Ok(r) => r,
            Err(_) => first.clone(),
        };
        loop {
            match until.judge(&record) {
                Some(true) => return Ok(Ok(record)),
                Some(false) => return Ok(Err((record, true))),
                None => {}
            }
            let next = events
                .next()
                .await
                .map_err(|e| Error::io("daemon event stream", e));
            match next? {
                Some((event, data)) if event == "session" => {
                    let r: Value = serde_json::from_str(&data).unwrap_or(Value::Null);
                    if r["id"] == id.as_str() {
                        record = r;
                    }
                }
                Some(_) => {}
                None => return Err(Error::Failed("the daemon closed the event stream".into())),
            }
        }
    };
    finish(until, &id, run_with_timeout(watch, timeout), as_json)
}

type Outcome = std::result::Result<std::result::Result<Value, (Value, bool)>, Error>;

fn run_with_timeout<F>(watch: F, timeout: Option<f64>) -> Option<Outcome>
where
    F: std::future::Future<
        Output = std::result::Result<std::result::Result<Value, (Value, bool)>, Error>,
    >,
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

fn finish(until: Until, id: &str, outcome: Option<Outcome>, as_json: bool) -> Result<ExitCode> {
    match outcome {
        None => Err(Error::TimedOut(
            format!("timed out waiting for session {id} to be {until:?}").to_lowercase(),
        )),
        Some(Err(e)) => Err(e),
        Some(Ok(Ok(record))) => {
            if as_json {
                print_json(&record)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(Ok(Err((record, _)))) => {
            if as_json {
                print_json(&record)?;
            }
            Err(Error::Ended(
                format!("session {id} ended before it was {until:?}").to_lowercase(),
            ))
        }
    }
}

pub fn send(key: &str, text: Option<String>, enter: bool) -> Result<ExitCode> {
    let record = resolve(key)?;
    let id = record["id"].as_str().unwrap_or(key);
    let bytes = match text {
        Some(text) => text.into_bytes(),
        None => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .map_err(|e| Error::io("stdin", e))?;
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
    post(record["id"].as_str().unwrap_or(key), "kill", b"")?;
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
    let id = record["id"].as_str().unwrap_or(key);
    if record["alive"] == true {
        return Err(Error::Failed(format!(
            "session {id} is still running; attach to it instead"
        )));
    }
    let argv = crate::daemon::strings(&record["resume_command"]);
    if argv.is_empty() {
        return Err(Error::Failed(format!(
            "session {id} has no conversation to resume"
        )));
    }
    Ok((argv, record["cwd"].as_str().unwrap_or(".").to_string()))
}
