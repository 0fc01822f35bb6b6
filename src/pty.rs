//! Pseudo-terminal creation and the agent's spawn.
//!
//! `open` asks the kernel for a PTY pair the POSIX way (`posix_openpt`,
//! `grantpt`, `unlockpt`, `ptsname`), opening the user side `O_NOCTTY` so
//! the runner never acquires it as its own controlling terminal. `spawn`
//! hands the user side to the child as stdin/stdout/stderr and, in the one
//! `pre_exec` of the crate, makes the child a session leader whose
//! controlling terminal is that PTY: job control, `^C` and `SIGWINCH` then
//! reach the agent exactly as in a real terminal. The runner keeps only the
//! `controller` side.

use rustix::fs::{Mode, OFlags};
use rustix::pty::OpenptFlags;
use rustix::termios::{self, Winsize};
use std::ffi::OsString;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub struct Pty {
    pub controller: OwnedFd,
    pub user: OwnedFd,
}

pub fn open(size: Winsize) -> io::Result<Pty> {
    let controller =
        rustix::pty::openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)?;
    rustix::pty::grantpt(&controller)?;
    rustix::pty::unlockpt(&controller)?;
    let name = rustix::pty::ptsname(&controller, Vec::new())?;
    let user = rustix::fs::open(
        name.as_c_str(),
        OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    termios::tcsetwinsize(&controller, size)?;
    Ok(Pty { controller, user })
}

pub fn winsize(cols: u16, rows: u16) -> Winsize {
    Winsize {
        ws_col: cols,
        ws_row: rows,
        ws_xpixel: 0,
        ws_ypixel: 0,
    }
}

/// What the child runs and with which additions to the inherited
/// environment.
pub struct Spawn<'a> {
    pub argv: &'a [OsString],
    pub cwd: Option<&'a Path>,
    pub env: &'a [(OsString, OsString)],
}

/// Starts the child on the PTY's user side. The caller drops `pty.user`
/// afterwards so that the controller reads EOF/EIO once every process
/// holding the terminal is gone.
pub fn spawn(pty: &Pty, spec: &Spawn) -> io::Result<Child> {
    let (program, args) = spec
        .argv
        .split_first()
        .ok_or_else(|| io::Error::other("empty command"))?;
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::from(pty.user.try_clone()?))
        .stdout(Stdio::from(pty.user.try_clone()?))
        .stderr(Stdio::from(pty.user.try_clone()?));
    if let Some(dir) = spec.cwd {
        cmd.current_dir(dir);
    }
    for (key, value) in spec.env {
        cmd.env(key, value);
    }
    // SAFETY: the closure runs in the forked child before exec, where only
    // async-signal-safe calls are allowed. It makes exactly three raw
    // system calls through rustix, `setsid(2)`, `ioctl(0, TIOCSCTTY)` and
    // `prctl(PR_SET_PDEATHSIG)`, all async-signal-safe; it allocates
    // nothing, takes no lock and touches no state shared with the parent.
    // fd 0 is already the PTY's user side (std installs stdio before
    // running pre_exec hooks).
    unsafe {
        cmd.pre_exec(|| {
            rustix::process::setsid()?;
            rustix::process::ioctl_tiocsctty(rustix::stdio::stdin())?;
            // A runner that is killed takes its agent with it: its terminal
            // is gone, and an agent ignoring the hangup would run on, out
            // of reach, while its record says it ended.
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))?;
            Ok(())
        });
    }
    cmd.spawn()
}

/// Applies a new window size; the kernel then sends `SIGWINCH` to the
/// terminal's foreground process group.
pub fn resize_fd(controller: impl std::os::fd::AsFd, cols: u16, rows: u16) -> io::Result<()> {
    termios::tcsetwinsize(controller, winsize(cols, rows))?;
    Ok(())
}
