//! The daemon: one per user, following every runner and every agent's
//! session files, and serving `<runtime>/daemon.sock` (amux-protocol(7),
//! DAEMON SOCKET; ARCHITECTURE.md for how its parts fit).
//!
//! `run` takes an exclusive `flock` on `<runtime>/daemon.lock` (a second
//! daemon exits 0 quietly), binds the socket — or takes the one systemd
//! passes (`activation.rs`, `amux.socket`), which it then never removes —
//! and starts its tasks on one `LocalExecutor`: the API server, runner
//! discovery (inotify on `<runtime>/sessions/` plus a scan, `runners.rs`),
//! one SSE subscription per runner, and the session-root watcher. The
//! state and every decision about it are `core::Core`'s, which does no
//! I/O; `shell::Daemon` owns the core and carries out what it decides
//! (reads, writes, timers, publishing). Every task only gathers facts and
//! hands them to `shell::Daemon::dispatch` as events; no task polls.
//! `ensure` is how runners and client verbs start a daemon when nothing
//! listens: a socket that accepts counts as a daemon, so a socket unit's
//! (whose daemon systemd starts on that first connection) never gets a
//! second one.

mod activation;
mod api;
mod core;
mod disk;
pub mod follow;
pub mod journal;
mod live;
mod log;
mod offload;
mod persist;
mod runners;
mod saver;
mod session;
mod shell;
mod startup;
mod state;
mod store;
pub mod watch;

use crate::error::{Context, Error, Result};
use crate::http::client;
use crate::paths;
use crate::transport::Connect;
use async_executor::LocalExecutor;
use std::os::fd::AsFd;
use std::process::{Command, ExitCode, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// The wall clock in epoch milliseconds (what records and reports say).
pub fn now_ms() -> i64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub fn run(foreground: bool, worker: bool) -> Result<ExitCode> {
    if !foreground {
        ensure(true)?;
        return Ok(ExitCode::SUCCESS);
    }
    // First, before anything can start a thread or a child: this also
    // removes the LISTEN_* variables.
    let passed = activation::listener().context(|| "socket activation".into())?;
    let runtime = paths::ensure_runtime().context(|| "runtime directory".into())?;
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(runtime.join("daemon.lock"))
        .context(|| "daemon lock".into())?;
    if rustix::fs::flock(
        lock.as_fd(),
        rustix::fs::FlockOperation::NonBlockingLockExclusive,
    )
    .is_err()
    {
        if passed.is_some() {
            // Exiting 0 would have systemd start us again and again for
            // the connection waiting on its socket.
            return Err(Error::Unreachable(format!(
                "another amux daemon (not started by systemd) holds {}; stop it and this one takes over",
                runtime.join("daemon.lock").display()
            )));
        }
        // Another daemon holds the lock: it serves this user already.
        return Ok(ExitCode::SUCCESS);
    }
    if worker {
        let _ = rustix::process::setsid();
    }
    let sock = paths::daemon_socket();
    let activated = passed.is_some();
    let listener = match passed {
        Some(listener) => async_net::unix::UnixListener::try_from(listener)
            .context(|| "the passed socket".into())?,
        None => {
            paths::check_socket_path(&sock).context(|| "daemon socket".into())?;
            let _ = std::fs::remove_file(&sock);
            async_net::unix::UnixListener::bind(&sock)
                .context(|| format!("cannot listen on {}", sock.display()))?
        }
    };
    log::Log::on_panic();
    let ex = Rc::new(LocalExecutor::new());
    let daemon = shell::Daemon::new(ex.clone()).context(|| "daemon start".into())?;
    if activated {
        log_activation(&daemon, &listener, &sock);
    }
    runners::bury_unseen_at_start(&daemon);
    crate::http::server::raise_fd_limit();
    let result = async_io::block_on(ex.run(async {
        serve(&daemon, listener);
        ex.spawn(shell::watch_roots(daemon.clone())).detach();
        // SIGTERM/SIGINT end the daemon cleanly: socket removed, so the
        // next client starts a fresh one at once. SIGHUP is taken and
        // logged, not obeyed: a terminal that goes away (the one a daemon
        // was started from, or any a runner held) must not stop it.
        let stop = async {
            use async_signal::{Signal, Signals};
            use futures_lite::StreamExt;
            let Ok(mut signals) = Signals::new([Signal::Term, Signal::Int, Signal::Hup]) else {
                return std::future::pending().await;
            };
            while let Some(Ok(signal)) = signals.next().await {
                if signal == Signal::Hup {
                    daemon.log("SIGHUP ignored");
                    continue;
                }
                daemon.log(&format!("stopping on {signal:?}"));
                break;
            }
            Ok(())
        };
        futures_lite::future::or(runners::discover(daemon.clone()), stop).await
    }));
    // A daemon started in the background has no stderr anyone reads: why
    // it stopped goes to its log too.
    if let Err(e) = &result {
        daemon.log(&format!("stopping: runner discovery failed: {e}"));
    }
    // A passed socket is systemd's: it keeps listening there and starts
    // us again on the next connection.
    if !activated {
        let _ = std::fs::remove_file(&sock);
    }
    drop(lock);
    result.context(|| "runner discovery".into())?;
    Ok(ExitCode::SUCCESS)
}

/// Notes the passed socket in the log, and warns when clients will not
/// look there (a unit whose `ListenStream=` is not our socket path).
fn log_activation(
    daemon: &shell::Daemon,
    listener: &async_net::unix::UnixListener,
    sock: &std::path::Path,
) {
    let addr = rustix::net::getsockname(listener)
        .ok()
        .and_then(|a| rustix::net::SocketAddrUnix::try_from(a).ok())
        .and_then(|a| {
            use std::os::unix::ffi::OsStrExt;
            let path = a.path()?;
            Some(std::path::PathBuf::from(std::ffi::OsStr::from_bytes(
                path.to_bytes(),
            )))
        });
    match addr {
        Some(path) if path == sock => daemon.log(&format!(
            "listening on {} (socket activation)",
            path.display()
        )),
        other => daemon.log(&format!(
            "socket activation: the passed socket is {}, but clients connect to {}",
            other.map_or("unnamed".into(), |p| p.display().to_string()),
            sock.display()
        )),
    }
}

/// Serves the API on `listener` (the first one, or one bound anew after
/// our socket was removed from under us).
fn serve(daemon: &Rc<shell::Daemon>, listener: async_net::unix::UnixListener) {
    let task =
        crate::http::server::serve(listener, api::handler(daemon.clone()), daemon.ex.clone());
    daemon.ex.spawn(task).detach();
}

/// Binds the daemon socket again after someone removed it (a tmp cleaner):
/// we still hold the lock, so no other daemon can take over, and every
/// client would fail until we answer again.
pub fn rebind(daemon: &Rc<shell::Daemon>) {
    let sock = paths::daemon_socket();
    if sock.exists() {
        return;
    }
    match async_net::unix::UnixListener::bind(&sock) {
        Ok(listener) => {
            daemon.log(&format!("{} was removed: listening again", sock.display()));
            serve(daemon, listener);
        }
        Err(e) => daemon.log(&format!("cannot listen on {} again: {e}", sock.display())),
    }
}

/// Makes sure a daemon answers on the socket, starting one in the
/// background if needed. `wait`: block until it answers (client verbs);
/// otherwise fire and forget (the runner must not delay the agent).
pub fn ensure(wait: bool) -> Result<()> {
    // A runtime dir we must refuse is the cause to tell, not a daemon that
    // "did not come up".
    paths::ensure_runtime().context(|| "runtime directory".into())?;
    let sock = paths::daemon_socket();
    let to = Connect::daemon();
    let deadline = Instant::now() + STARTUP;
    loop {
        match health(&to) {
            Health::Ok => return Ok(()),
            // Starting another would only find this one's lock.
            Health::Stalled => {
                return Err(Error::Unreachable(format!(
                    "the daemon on {} does not answer (stopped or overloaded)",
                    sock.display()
                )))
            }
            // A daemon on its way out (its socket goes next) or one
            // systemd is restarting: ask again, never take its socket. A
            // runner does not wait: whoever owns the socket will serve.
            Health::Broken if !wait => return Ok(()),
            Health::Broken if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Health::Broken => {
                return Err(Error::Unreachable(format!(
                    "the daemon on {} accepts connections but gives no answer",
                    sock.display()
                )))
            }
            Health::Absent => break,
        }
    }
    if std::env::var_os("AMUX_NO_DAEMON").is_some_and(|v| !v.is_empty() && v != "0") {
        return Err(Error::Unreachable(format!(
            "no daemon answers on {} and AMUX_NO_DAEMON is set",
            sock.display()
        )));
    }
    let exe = std::env::current_exe().context(|| "cannot find the amux executable".into())?;
    let mut daemon = Command::new(exe)
        .args(["daemon", "--foreground", "--detached-worker"])
        // Hold no one's working directory (an unmountable disk, a deleted dir).
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context(|| "cannot start the daemon".into())?;
    // Reap it whenever it ends, so a long-lived runner never keeps a zombie.
    std::thread::spawn(move || daemon.wait());
    if !wait {
        return Ok(());
    }
    let deadline = Instant::now() + STARTUP;
    while Instant::now() < deadline {
        if health(&to) == Health::Ok {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(Error::Unreachable(format!(
        "the daemon did not come up on {}",
        sock.display()
    )))
}

/// How long a daemon may take to come up (or go away).
const STARTUP: Duration = Duration::from_secs(5);

#[derive(PartialEq)]
enum Health {
    Ok,
    /// Something holds the socket but gives no answer in time.
    Stalled,
    /// Something accepted the connection, then closed it or answered
    /// wrong: a daemon exiting, or one systemd starts on a socket unit
    /// and that fails.
    Broken,
    /// Nothing listens there: the only case in which we start a daemon,
    /// so a socket unit's socket (which always accepts) never gets a
    /// second one.
    Absent,
}

/// A working daemon answers its health check in well under a millisecond;
/// one systemd starts on the first connection, in a few.
const HEALTH_DEADLINE: Duration = Duration::from_secs(1);

fn health(daemon: &Connect) -> Health {
    let answer = async_io::block_on(client::request_within(
        HEALTH_DEADLINE,
        daemon,
        "GET",
        "/v1/health",
        b"",
    ));
    match answer {
        Ok(r) if r.status == 200 => Health::Ok,
        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => Health::Stalled,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            Health::Absent
        }
        _ => Health::Broken,
    }
}
