//! `amux dial-stdio [--session ID]`: this user's daemon socket (or a
//! session's runner socket) as stdin/stdout, so that `ssh -T HOST amux
//! dial-stdio` is a byte pipe to HOST's daemon (amux(1), Remote hosts).
//!
//! The daemon is started first if none runs, as for any client verb. Two
//! plain threads copy the bytes, one each way, with nothing buffered
//! beyond one read: the client's EOF on stdin half-closes the socket (an
//! HTTP client that sent its request still gets the answer), and the
//! socket's EOF ends the process, whatever stdin does. Nothing is printed
//! but the peer's bytes; errors go to stderr as one line, as always.

use crate::error::{Error, Result};
use crate::protocol::RunnerAddr;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::ExitCode;

pub fn dial_stdio(session: Option<&str>) -> Result<ExitCode> {
    let socket = match session {
        None => {
            crate::daemon::ensure(true)?;
            crate::paths::daemon_socket()
        }
        Some(key) => runner_socket(key)?,
    };
    let sock = UnixStream::connect(&socket)
        .map_err(|e| Error::Unreachable(format!("{}: {e}", socket.display())))?;
    let mut up = sock.try_clone().map_err(|e| Error::io("the socket", e))?;
    std::thread::spawn(move || {
        let _ = io::copy(&mut io::stdin().lock(), &mut up);
        let _ = up.shutdown(Shutdown::Write);
    });
    match down(sock) {
        // The client went away first: nothing left to deliver.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(Error::io("dial-stdio", e)),
        Ok(()) => Ok(ExitCode::SUCCESS),
    }
}

/// Where session `key`'s runner listens, from the daemon.
fn runner_socket(key: &str) -> Result<PathBuf> {
    let addr: RunnerAddr = super::client::ask(key, "/runner")?;
    let id = addr.id;
    addr.socket.filter(|_| addr.alive).ok_or_else(|| {
        Error::Failed(format!(
            "session {id} has ended; 'amux resume {id}' continues its conversation"
        ))
    })
}

/// Socket to stdout, each read written and flushed at once (an attach
/// stream is interactive).
fn down(mut sock: UnixStream) -> io::Result<()> {
    let mut out = io::stdout().lock();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match sock.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        out.write_all(&buf[..n])?;
        out.flush()?;
    }
}
