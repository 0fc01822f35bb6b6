//! Socket activation (sd_listen_fds(3)): the listening socket systemd, or
//! `systemd-socket-activate`, hands the daemon when `amux.socket` starts
//! `amux.service`.
//!
//! The protocol is three variables and a descriptor: `LISTEN_PID` names
//! the process meant to take the sockets (a variable inherited by anyone
//! else is ignored), `LISTEN_FDS` counts them, and they start at fd 3
//! (`SD_LISTEN_FDS_START`). We take exactly one. The variables are removed
//! whether or not they were meant for us, so nothing we start inherits
//! them.
//!
//! Turning the number 3 into an `OwnedFd` is the one step std and rustix
//! keep behind `unsafe` (`from_raw_fd`: nothing proves fd 3 is not owned
//! elsewhere). `pidfd_getfd(2)` on our own pidfd reaches it safely
//! instead: the kernel duplicates our fd 3 into a new descriptor we own,
//! close-on-exec (Linux ≥ 5.6; a process may always take its own fds,
//! whatever ptrace policy says). Fd 3 itself stays open beside it, the
//! same socket: closing a descriptor by number is unsafe too, and the
//! daemon executes nothing that could inherit it.

use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixListener;

/// The first passed descriptor (`SD_LISTEN_FDS_START`).
const FIRST: i32 = 3;

/// The listening socket passed to us, `None` when nobody passed one (we
/// bind our own), an error when one was passed but is not a listening
/// Unix stream socket, or there are several.
pub fn listener() -> io::Result<Option<UnixListener>> {
    let pid = std::env::var("LISTEN_PID").ok();
    let fds = std::env::var("LISTEN_FDS").ok();
    for var in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        std::env::remove_var(var);
    }
    let ours = pid.and_then(|p| p.parse::<u32>().ok()) == Some(std::process::id());
    let Some(fds) = fds.filter(|_| ours) else {
        return Ok(None);
    };
    match fds.parse::<u32>() {
        Ok(0) => return Ok(None),
        Ok(1) => {}
        _ => {
            return Err(invalid(format!(
                "LISTEN_FDS={fds}: the daemon takes exactly one socket"
            )))
        }
    }
    let fd = take(FIRST)?;
    check(&fd)?;
    Ok(Some(UnixListener::from(fd)))
}

/// Our own descriptor `raw` as a new `OwnedFd` (see the module comment).
fn take(raw: i32) -> io::Result<OwnedFd> {
    use rustix::process::{getpid, pidfd_getfd, pidfd_open, PidfdFlags, PidfdGetfdFlags};
    let me = pidfd_open(getpid(), PidfdFlags::empty())?;
    pidfd_getfd(&me, raw, PidfdGetfdFlags::empty()).map_err(|e| {
        io::Error::new(
            io::Error::from(e).kind(),
            format!("cannot take the passed socket (fd {raw}): {e}"),
        )
    })
}

/// Refuses anything but a listening Unix stream socket: a wrong unit file
/// (`ListenDatagram=`, a TCP port) should fail loudly, not hang clients.
fn check(fd: &OwnedFd) -> io::Result<()> {
    use rustix::net::{sockopt, AddressFamily, SocketType};
    let unix = sockopt::socket_domain(fd)? == AddressFamily::UNIX;
    let stream = sockopt::socket_type(fd)? == SocketType::STREAM;
    if !(unix && stream && sockopt::socket_acceptconn(fd)?) {
        return Err(invalid(
            "the passed fd 3 is not a listening Unix stream socket (ListenStream=PATH)".into(),
        ));
    }
    Ok(())
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}
