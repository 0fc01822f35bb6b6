//! What the client verbs share: talking to the daemon (started on demand),
//! resolving a session key, and printing records.
//!
//! A key is an id, a unique id prefix, or a slug; the daemon resolves it.
//! A just-started session may not be known to the daemon yet, so a key
//! that names an existing runner socket is retried briefly.

use crate::error::{Error, Result};
use crate::http::client;
use crate::paths;
use crate::protocol::{self, Record};
use std::io::{self, Write};
use std::time::{Duration, Instant};

pub fn daemon_request(method: &str, target: &str, body: &[u8]) -> Result<client::Response> {
    crate::daemon::ensure(true)?;
    let sock = paths::daemon_socket();
    client::request_blocking(&sock, method, target, body).map_err(|e| match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::ConnectionRefused | io::ErrorKind::NotFound => {
            Error::Unreachable(format!("daemon at {}: {e}", sock.display()))
        }
        _ => Error::io(format!("daemon at {}", sock.display()), e),
    })
}

/// How long `wait` and `events` keep trying to reach a daemon that went
/// away (restarted, killed) before giving up.
const RECONNECT: Duration = Duration::from_secs(10);

/// The daemon's event stream, starting a daemon if none runs and retrying
/// for `RECONNECT`: the daemon is stateless, so a new one serves the same
/// sessions once their runners have replayed to it.
pub async fn subscribe() -> Result<client::Events> {
    let sock = paths::daemon_socket();
    let deadline = Instant::now() + RECONNECT;
    loop {
        let open = futures_lite::future::or(client::Events::open(&sock, "/v1/events"), async {
            async_io::Timer::after(client::DEADLINE).await;
            Err(io::Error::new(io::ErrorKind::TimedOut, "no answer"))
        });
        match open.await {
            Ok(events) => return Ok(events),
            Err(e) if Instant::now() >= deadline => {
                return Err(Error::Unreachable(format!(
                    "daemon at {}: {e}",
                    sock.display()
                )))
            }
            Err(_) => {
                let _ = blocking::unblock(|| crate::daemon::ensure(true)).await;
                async_io::Timer::after(Duration::from_millis(50)).await;
            }
        }
    }
}

/// The pid of the daemon answering now, if one does.
pub async fn daemon_pid() -> Option<u64> {
    let sock = paths::daemon_socket();
    let resp = client::request_within(client::DEADLINE, &sock, "GET", "/v1/health", b"").await;
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

/// The record for `key`, waiting a moment for a runner the daemon has
/// not discovered yet.
pub fn resolve(key: &str) -> Result<Record> {
    if key.is_empty() || key.contains('/') {
        return Err(Error::Usage(format!("{key:?} is not a session id or slug")));
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let resp = daemon_request("GET", &format!("/v1/sessions/{key}"), b"")?;
        if resp.status == 200 {
            return serde_json::from_slice(&resp.body)
                .map_err(|e| Error::Failed(format!("bad record from the daemon: {e}")));
        }
        let pending = resp.status == 404 && paths::session_socket(key).exists();
        if !pending || Instant::now() >= deadline {
            return Err(api_error(&resp));
        }
        std::thread::sleep(Duration::from_millis(25));
    }
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
