//! A terminal for driving `amux` the way a user's terminal emulator would.
//!
//! The test opens a PTY pair with rustix and starts `setsid -c amux …` on
//! the user side: `setsid(1)` makes amux a session leader whose controlling
//! terminal is that PTY (without any `unsafe` pre_exec here), so resizing
//! the PTY sends amux `SIGWINCH` exactly like a real terminal. The test
//! keeps the controller (it reads amux's output and types into it) and a
//! copy of the user side (to compare its termios before and after). Reads
//! `poll` with the caller's deadline, so a missing text fails the test
//! instead of hanging it; everything read is kept in `output`.

use super::TestEnv;
use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::fs::{Mode, OFlags};
use rustix::pty::OpenptFlags;
use rustix::termios::{self, Winsize};
use std::ffi::OsStr;
use std::os::fd::OwnedFd;
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub struct Pty {
    pub controller: OwnedFd,
    pub user: OwnedFd,
    pub child: Child,
    /// Everything amux has written to the terminal so far.
    pub output: Vec<u8>,
    /// The terminal's attributes before amux started (see `termios`).
    pub initial: String,
}

pub fn open(cols: u16, rows: u16) -> (OwnedFd, OwnedFd) {
    let controller =
        rustix::pty::openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)
            .expect("openpt");
    rustix::pty::grantpt(&controller).expect("grantpt");
    rustix::pty::unlockpt(&controller).expect("unlockpt");
    let name = rustix::pty::ptsname(&controller, Vec::new()).expect("ptsname");
    let user = rustix::fs::open(
        name.as_c_str(),
        OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .expect("open the user side");
    termios::tcsetwinsize(&controller, winsize(cols, rows)).expect("winsize");
    (controller, user)
}

fn winsize(cols: u16, rows: u16) -> Winsize {
    Winsize {
        ws_col: cols,
        ws_row: rows,
        ws_xpixel: 0,
        ws_ypixel: 0,
    }
}

impl Pty {
    /// Runs `amux ARGS…` in a fresh `cols`×`rows` terminal.
    pub fn spawn<I, S>(env: &TestEnv, args: I, cols: u16, rows: u16) -> Pty
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        Pty::spawn_with(env, args, cols, rows, |_| {})
    }

    /// `spawn`, with a last word on the command (e.g. its environment).
    pub fn spawn_with<I, S>(
        env: &TestEnv,
        args: I,
        cols: u16,
        rows: u16,
        adjust: impl FnOnce(&mut std::process::Command),
    ) -> Pty
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        Pty::spawn_program(env, super::amux_bin(), args, cols, rows, adjust)
    }

    /// `spawn_with` of any program (a shell around amux).
    pub fn spawn_program<I, S>(
        env: &TestEnv,
        program: impl AsRef<OsStr>,
        args: I,
        cols: u16,
        rows: u16,
        adjust: impl FnOnce(&mut std::process::Command),
    ) -> Pty
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let (controller, user) = open(cols, rows);
        let initial = format!("{:?}", termios::tcgetattr(&user).expect("tcgetattr"));
        let mut cmd = env.command("setsid", ["-w".as_ref(), "-c".as_ref(), program.as_ref()]);
        cmd.args(args);
        adjust(&mut cmd);
        let stdio = || Stdio::from(user.try_clone().expect("dup"));
        cmd.stdin(stdio()).stdout(stdio()).stderr(stdio());
        let child = cmd.spawn().expect("spawn setsid amux");
        Pty {
            controller,
            user,
            child,
            output: Vec::new(),
            initial,
        }
    }

    /// The terminal's attributes, as comparable text.
    pub fn termios(&self) -> String {
        format!("{:?}", termios::tcgetattr(&self.user).expect("tcgetattr"))
    }

    /// True while amux has the terminal in raw mode (no canonical input).
    pub fn is_raw(&self) -> bool {
        let attrs = termios::tcgetattr(&self.user).expect("tcgetattr");
        !attrs.local_modes.contains(termios::LocalModes::ICANON)
    }

    /// Waits until amux has put the terminal in raw mode: from then on,
    /// typed control bytes reach the agent instead of signalling amux.
    pub fn wait_raw(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.is_raw() {
            assert!(
                Instant::now() < deadline,
                "amux never put the terminal in raw mode; screen:\n{}",
                self.text()
            );
            self.read_some(Duration::from_millis(10));
        }
    }

    pub fn write(&self, bytes: &[u8]) {
        let mut rest = bytes;
        while !rest.is_empty() {
            match rustix::io::write(&self.controller, rest) {
                Ok(n) => rest = &rest[n..],
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => panic!("writing to the terminal: {e}"),
            }
        }
    }

    /// Resizes the terminal; the kernel signals its foreground group (amux).
    pub fn resize(&self, cols: u16, rows: u16) {
        termios::tcsetwinsize(&self.controller, winsize(cols, rows)).expect("resize");
    }

    /// Reads what is available within `timeout`; false when nothing came
    /// (or the other side is gone).
    pub fn read_some(&mut self, timeout: Duration) -> bool {
        let ts = Timespec {
            tv_sec: timeout.as_secs() as i64,
            tv_nsec: timeout.subsec_nanos() as i64,
        };
        let mut fds = [PollFd::new(&self.controller, PollFlags::IN)];
        match rustix::event::poll(&mut fds, Some(&ts)) {
            Ok(0) | Err(_) => return false,
            Ok(_) => {}
        }
        let mut buf = [0u8; 16 * 1024];
        match rustix::io::read(&self.controller, &mut buf) {
            Ok(n) if n > 0 => {
                self.output.extend_from_slice(&buf[..n]);
                true
            }
            _ => false,
        }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.output).into_owned()
    }

    /// What the terminal shows now, at most its last `lines` lines with
    /// text (for a failure message; see `screen.rs`).
    pub fn screen(&self, lines: usize) -> String {
        let size = termios::tcgetwinsize(&self.controller).expect("winsize");
        let shown = super::screen::render(&self.output, size.ws_col.into(), size.ws_row.into());
        let kept: Vec<&str> = shown.lines().filter(|l| !l.trim().is_empty()).collect();
        kept[kept.len().saturating_sub(lines)..].join("\n")
    }

    /// Reads until `needle` appears after byte `from` of the output;
    /// returns the offset just past it.
    pub fn wait_for_from(&mut self, from: usize, needle: &str, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        loop {
            let hay = &self.output[from.min(self.output.len())..];
            if let Some(pos) = hay
                .windows(needle.len())
                .position(|w| w == needle.as_bytes())
            {
                return from + pos + needle.len();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "timed out after {timeout:?} waiting for {needle:?}; screen so far:\n{}",
                self.screen(60)
            );
            self.read_some(left.min(Duration::from_millis(200)));
        }
    }

    pub fn wait_for(&mut self, needle: &str, timeout: Duration) -> usize {
        self.wait_for_from(0, needle, timeout)
    }

    /// Waits for amux to exit, reading (and keeping) its output meanwhile
    /// so it never blocks on a full terminal.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                while self.read_some(Duration::from_millis(20)) {}
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "amux did not exit within {timeout:?}; screen:\n{}",
                self.text()
            );
            self.read_some(Duration::from_millis(20));
        }
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
