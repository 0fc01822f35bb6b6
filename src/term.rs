//! The user's terminal: raw mode while relaying, restored on every exit
//! path, and its window size.
//!
//! `RawMode` saves the attributes it found and puts them back in `Drop`, so
//! an early return, an error or the normal end all restore the terminal;
//! the runner also drops it explicitly before it exits the process.

use rustix::termios::{self, OptionalActions, Termios, Winsize};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

pub struct RawMode {
    fd: OwnedFd,
    saved: Termios,
}

impl RawMode {
    /// Puts `fd` in raw mode if it is a terminal; `None` when it is not.
    pub fn enable(fd: BorrowedFd<'_>) -> io::Result<Option<RawMode>> {
        if !termios::isatty(fd) {
            return Ok(None);
        }
        let saved = termios::tcgetattr(fd)?;
        let mut raw = saved.clone();
        raw.make_raw();
        termios::tcsetattr(fd, OptionalActions::Now, &raw)?;
        Ok(Some(RawMode {
            fd: fd.try_clone_to_owned()?,
            saved,
        }))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(&self.fd, OptionalActions::Now, &self.saved);
    }
}

pub fn size_of(fd: impl AsFd) -> Option<Winsize> {
    termios::tcgetwinsize(fd)
        .ok()
        .filter(|w| w.ws_col > 0 && w.ws_row > 0)
}

/// When stdin is not a terminal (a pipe), the PTY must not echo what we
/// feed it back into the output, as util-linux `script` does by default;
/// when stdout is not a terminal, `\n` is not turned into `\r\n`, so that
/// `amux run -- cat FILE > copy` copies bytes faithfully.
pub fn adapt_pty_for_pipes(
    controller: &OwnedFd,
    stdin_tty: bool,
    stdout_tty: bool,
) -> io::Result<()> {
    let mut attrs = termios::tcgetattr(controller)?;
    if !stdin_tty {
        attrs
            .local_modes
            .remove(termios::LocalModes::ECHO | termios::LocalModes::ECHONL);
    }
    if !stdout_tty {
        attrs.output_modes.remove(termios::OutputModes::ONLCR);
    }
    termios::tcsetattr(controller, OptionalActions::Now, &attrs)?;
    Ok(())
}

/// The end-of-file character of the PTY (normally `^D`), sent when piped
/// stdin ends so a line-reading child sees EOF.
pub fn eof_char(controller: impl AsFd) -> u8 {
    termios::tcgetattr(controller)
        .map(|t| t.special_codes[termios::SpecialCodeIndex::VEOF])
        .unwrap_or(4)
}
