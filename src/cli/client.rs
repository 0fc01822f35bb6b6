//! What the client verbs share: talking to the daemon (started on demand)
//! through one `Connect`, asking it about a session key, and printing
//! records.
//!
//! A key is an id, a unique id prefix, or a slug; the daemon resolves it,
//! and waits for a just-started session it has not discovered yet, so a
//! verb asks once. Where a session's runner listens is the daemon's to
//! say, too: clients never build a runner's socket path. A plain request
//! makes sure a daemon runs first; an event stream (`stream`) tries its one
//! connection first and starts or waits for a daemon only when that fails,
//! so a working daemon sees exactly one connection per stream.

use crate::error::{Error, Result};
use crate::http::client;
use crate::protocol::{self, Record};
use crate::transport::Connect;
use std::io::{self, Write};
use std::time::{Duration, Instant};

/// Where the daemon listens: the one place a verb learns it.
pub fn daemon() -> Connect {
    Connect::daemon()
}

fn unreachable(to: &Connect, e: io::Error) -> Error {
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::ConnectionRefused | io::ErrorKind::NotFound => {
            Error::Unreachable(format!("daemon at {to}: {e}"))
        }
        _ => Error::io(format!("daemon at {to}"), e),
    }
}

pub fn daemon_request(method: &str, target: &str, body: &[u8]) -> Result<client::Response> {
    crate::daemon::ensure(true)?;
    let to = daemon();
    client::request_blocking(&to, method, target, body).map_err(|e| unreachable(&to, e))
}

/// How long `wait` and `events` keep trying to reach a daemon that went
/// away (restarted, killed) before giving up.
const RECONNECT: Duration = Duration::from_secs(10);

/// The daemon's event stream at `target`, one connection per attempt.
/// When none answers, a daemon is started (or waited for) and the stream
/// tried again for `RECONNECT`: the daemon is stateless, so a new one
/// serves the same sessions once their runners have replayed to it.
/// `again`: this is a reconnection, so a daemon that cannot be started
/// now (one stopped, or `AMUX_NO_DAEMON`) is waited for rather than an
/// error at once. A daemon that answers but refuses (404, 409) is the
/// error it gave.
pub async fn stream(target: &str, again: bool) -> Result<client::Events> {
    let to = daemon();
    let deadline = Instant::now() + RECONNECT;
    loop {
        let open = client::within(client::DEADLINE, client::Events::open(&to, target));
        let e = match open.await {
            Ok(Ok(events)) => return Ok(events),
            Ok(Err(refused)) => return Err(api_error(&refused)),
            Err(e) => e,
        };
        if Instant::now() >= deadline {
            return Err(unreachable(&to, e));
        }
        match blocking::unblock(|| crate::daemon::ensure(true)).await {
            Err(e) if !again => return Err(e),
            _ => async_io::Timer::after(Duration::from_millis(50)).await,
        };
    }
}

/// The pid of the daemon answering now, if one does.
pub async fn daemon_pid() -> Option<u64> {
    let resp = client::request_within(client::DEADLINE, &daemon(), "GET", "/v1/health", b"").await;
    let health: protocol::Health = serde_json::from_slice(&resp.ok()?.body).ok()?;
    Some(u64::from(health.pid))
}

pub fn api_error(resp: &client::Response) -> Error {
    let message = serde_json::from_slice::<protocol::ErrorBody>(&resp.body)
        .ok()
        .map(|e| e.error)
        .filter(|e| !e.is_empty())
        .unwrap_or_else(|| format!("the daemon answered {}", resp.status));
    Error::Failed(message)
}

/// A key goes into a request path as it is: one with a `/` cannot be one.
pub fn check_key(key: &str) -> Result<()> {
    if key.is_empty() || key.contains('/') {
        return Err(Error::Usage(format!("{key:?} is not a session id or slug")));
    }
    Ok(())
}

/// `GET /v1/sessions/{key}{what}` as `T`: the record (`what` empty), the
/// runner's address, the resume plan.
pub fn ask<T: serde::de::DeserializeOwned>(key: &str, what: &str) -> Result<T> {
    check_key(key)?;
    let resp = daemon_request("GET", &format!("/v1/sessions/{key}{what}"), b"")?;
    if resp.status != 200 {
        return Err(api_error(&resp));
    }
    serde_json::from_slice(&resp.body)
        .map_err(|e| Error::Failed(format!("bad answer from the daemon: {e}")))
}

/// The record for `key`.
pub fn resolve(key: &str) -> Result<Record> {
    ask(key, "")
}

pub fn stdout_error(e: io::Error) -> Error {
    Error::io("stdout", e)
}

pub fn print_json<T: serde::Serialize + ?Sized>(value: &T) -> Result<()> {
    let mut out = io::stdout().lock();
    serde_json::to_writer(&mut out, value).map_err(|e| stdout_error(e.into()))?;
    out.write_all(b"\n")
        .and_then(|()| out.flush())
        .map_err(stdout_error)
}

pub fn is_tty() -> bool {
    rustix::termios::isatty(io::stdout())
}
