//! What the client verbs share: talking to the daemon (started on demand)
//! through one `Connect`, asking it about a session key, and printing
//! records.
//!
//! Which daemon is this thread's target (`set_target`): this machine's by
//! default, another host's over ssh for `-H`. A fleet verb runs one thread
//! per host, each with its own target and a shorter limit on each
//! exchange (`set_limit`), through the same functions. Only a local
//! daemon is started from here; a remote one is started by the remote
//! `amux dial-stdio`.
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
use crate::remote::Target;
use crate::transport::Connect;
use std::cell::{Cell, RefCell};
use std::io::{self, Write};
use std::time::{Duration, Instant};

thread_local! {
    static TARGET: RefCell<Target> = const { RefCell::new(Target::Local) };
    static LIMIT: Cell<Option<Duration>> = const { Cell::new(None) };
}

/// Makes `target` this thread's daemon.
pub fn set_target(target: Target) {
    TARGET.with(|t| *t.borrow_mut() = target);
}

pub fn target() -> Target {
    TARGET.with(|t| t.borrow().clone())
}

/// Where the daemon listens: the one place a verb learns it.
pub fn daemon() -> Connect {
    match target() {
        Target::Local => Connect::daemon(),
        Target::Ssh(host) => Connect::Ssh {
            host,
            session: None,
        },
    }
}

/// Starts this machine's daemon if it is the target and none runs.
pub fn ensure() -> Result<()> {
    match target() {
        Target::Local => crate::daemon::ensure(true),
        Target::Ssh(_) => Ok(()),
    }
}

/// Bounds every exchange of this thread by `limit`: a fleet's host,
/// which must not hold the other hosts' answers for the usual deadline.
pub fn set_limit(limit: Duration) {
    LIMIT.with(|l| l.set(Some(limit)));
}

/// How long one exchange may take: an ssh connection includes a login,
/// unless this thread's limit (`set_limit`) says otherwise. The limit
/// never lengthens a local exchange: a local daemon that takes longer is
/// stuck.
pub fn deadline(to: &Connect) -> Duration {
    let limit = LIMIT.with(Cell::get);
    match (to, limit) {
        (Connect::Unix(_), limit) => limit.map_or(client::DEADLINE, |l| l.min(client::DEADLINE)),
        (Connect::Ssh { .. }, Some(limit)) => limit,
        (Connect::Ssh { .. }, None) => client::DEADLINE * 6,
    }
}

fn unreachable(to: &Connect, e: io::Error) -> Error {
    if let Connect::Ssh { host, .. } = to {
        // ssh.rs and the protocol check name the host in their words.
        // A host we cannot use (no amux, another version) is as good as
        // unreachable: exit 5, like a daemon that does not answer.
        return match e.kind() {
            io::ErrorKind::TimedOut => Error::Unreachable(format!("{}: {e}", host.label)),
            _ => Error::Unreachable(e.to_string()),
        };
    }
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::ConnectionRefused | io::ErrorKind::NotFound => {
            Error::Unreachable(format!("daemon at {to}: {e}"))
        }
        _ => Error::io(format!("daemon at {to}"), e),
    }
}

pub fn daemon_request(method: &str, target: &str, body: &[u8]) -> Result<client::Response> {
    daemon_request_health(method, target, body).map(|(resp, _)| resp)
}

/// `daemon_request`, with the remote daemon's health when the connection
/// checked it (`None` here, where nothing was checked).
pub fn daemon_request_health(
    method: &str,
    target: &str,
    body: &[u8],
) -> Result<(client::Response, Option<protocol::Health>)> {
    ensure()?;
    let to = daemon();
    let exchange = client::request_with_health(&to, method, target, body);
    async_io::block_on(client::within(deadline(&to), exchange)).map_err(|e| unreachable(&to, e))
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
    let local = matches!(to, Connect::Unix(_));
    let deadline = Instant::now() + RECONNECT;
    loop {
        let open = client::within(self::deadline(&to), client::Events::open(&to, target));
        let e = match open.await {
            Ok(Ok(events)) => return Ok(events),
            Ok(Err(refused)) => return Err(api_error(&refused)),
            Err(e) => e,
        };
        // A host that refuses us (no amux there, another version, auth)
        // will refuse again: only a connection that was lost is retried.
        let lost = matches!(
            e.kind(),
            io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
        );
        let retry = local || (again && lost);
        if Instant::now() >= deadline || !retry {
            return Err(unreachable(&to, e));
        }
        let ensure = move || {
            if local {
                crate::daemon::ensure(true)
            } else {
                Ok(())
            }
        };
        match blocking::unblock(ensure).await {
            Err(e) if !again => return Err(e),
            _ => async_io::Timer::after(Duration::from_millis(50)).await,
        };
    }
}

/// The pid of the daemon answering now, if one does.
pub async fn daemon_pid() -> Option<u64> {
    let to = daemon();
    let resp = client::request_within(deadline(&to), &to, "GET", "/v1/health", b"").await;
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

/// An empty key names nothing.
pub fn check_key(key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(Error::Usage(format!("{key:?} is not a session id or slug")));
    }
    Ok(())
}

/// `/v1/sessions/KEY`, the key percent-encoded: a key holding `?` or `/`
/// means what the user typed (and no session has it).
pub fn session_path(key: &str) -> String {
    format!("/v1/sessions/{}", crate::http::segment::encode(key))
}

/// `GET /v1/sessions/{key}{what}` as `T`: the record (`what` empty), the
/// runner's address, the resume plan.
pub fn ask<T: serde::de::DeserializeOwned>(key: &str, what: &str) -> Result<T> {
    check_key(key)?;
    let resp = daemon_request("GET", &format!("{}{what}", session_path(key)), b"")?;
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

/// The record for `key`, `None` if no session here has it (an ambiguous
/// key is an error, as any other).
pub fn lookup(key: &str) -> Result<Option<Record>> {
    check_key(key)?;
    let resp = daemon_request("GET", &session_path(key), b"")?;
    match resp.status {
        200 => serde_json::from_slice(&resp.body)
            .map(Some)
            .map_err(|e| Error::Failed(format!("bad answer from the daemon: {e}"))),
        404 => Ok(None),
        _ => Err(api_error(&resp)),
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
