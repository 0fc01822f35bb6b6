//! The user's terminal (or the pipes or files in its place), read and
//! written on the executor's own thread.
//!
//! A keystroke's round trip is the figure users feel (`amux run` and
//! `amux attach` against `script` and `dtach`): the fd is a `Hot` one,
//! whose readiness the thread running `hot::block_on` waits for itself,
//! and each read or write that might block runs with `O_NONBLOCK` set
//! only for that one call: the terminal's file description is shared with
//! the shell that started us, which must never find it non-blocking after
//! we are gone. A would-block waits for readiness. A read just after
//! readiness, a write of at most a page into a pipe with room, and a small
//! one to a terminal with room, do not block: they run as they are (a keystroke's read costs one syscall, not
//! four). poll(2) takes any fd, so a regular
//! file or `/dev/null` needs no special case (it is always ready).

use crate::hot::Hot;
use rustix::fs::OFlags;
use std::fs::File;
use std::io;
use std::os::fd::AsFd;

/// One end of the user's terminal: stdin to read, or stdout to write.
pub struct Stdio {
    fd: Hot<File>,
    /// The last read took less than it could: the fd is drained, so the
    /// next waits for readiness instead of trying (a keystroke costs one
    /// read, not a read and a would-block with the flag dance around both).
    drained: bool,
    /// A regular file never waits: no `O_NONBLOCK` dance around each call
    /// (three more syscalls per write of a relay into a file).
    plain: bool,
    /// What a write may be and not block when poll(2) says there is room
    /// (0: always the dance): a page for a pipe, whose ready state means a
    /// free page-sized slot; a little for a terminal, which has room for a
    /// keystroke's echo unless its reader is 64 KiB behind. One check
    /// instead of the dance.
    room: usize,
}

/// What a pipe with room for one more write takes without blocking (a
/// page: a ready pipe has a free slot, and a slot holds a page).
const PIPE_BUF: usize = 4096;
/// A write to a ready terminal this small does not block.
const TTY_SMALL: usize = 256;

impl Stdio {
    pub fn new(file: File) -> io::Result<Stdio> {
        use std::os::unix::fs::FileTypeExt;
        let kind = file.metadata()?.file_type();
        let room = if kind.is_fifo() {
            PIPE_BUF
        } else if rustix::termios::isatty(&file) {
            TTY_SMALL
        } else {
            0
        };
        Ok(Stdio {
            fd: Hot::new(file),
            drained: false,
            plain: kind.is_file(),
            room,
        })
    }

    pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let plain = self.plain;
        // Readiness just seen is what a blocking read needs: it returns at
        // once with what is there (no flag dance for a keystroke).
        let ready = std::mem::take(&mut self.drained) && !plain;
        if ready {
            self.fd.readable().await;
        }
        let n = self
            .fd
            .read_with(|fd| {
                nonblocking(fd, plain || ready, || Ok(rustix::io::read(fd, &mut *buf)?))
            })
            .await?;
        self.drained = n > 0 && n < buf.len();
        Ok(n)
    }

    pub async fn write_all(&mut self, mut buf: &[u8]) -> io::Result<()> {
        let plain = self.plain;
        while !buf.is_empty() {
            if buf.len() <= self.room && has_room(self.fd.get_ref()) {
                match rustix::io::write(self.fd.get_ref(), buf) {
                    Ok(n) => {
                        buf = &buf[n..];
                        continue;
                    }
                    Err(rustix::io::Errno::INTR) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            let n = self
                .fd
                .write_with(|fd| nonblocking(fd, plain, || Ok(rustix::io::write(fd, buf)?)))
                .await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            buf = &buf[n..];
        }
        Ok(())
    }
}

/// Whether a pipe or terminal has room now (poll(2) with no wait).
fn has_room(fd: impl AsFd) -> bool {
    use rustix::event::{poll, PollFd, PollFlags};
    let mut fds = [PollFd::new(&fd, PollFlags::OUT)];
    let now = rustix::event::Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    matches!(poll(&mut fds, Some(&now)), Ok(1)) && fds[0].revents().contains(PollFlags::OUT)
}

/// Runs `op` on `fd` with `O_NONBLOCK` set for its duration only (as it
/// is, for a `plain` file).
fn nonblocking<T>(fd: impl AsFd, plain: bool, op: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
    if plain {
        return op();
    }
    let flags = rustix::fs::fcntl_getfl(&fd)?;
    if flags.contains(OFlags::NONBLOCK) {
        return op();
    }
    rustix::fs::fcntl_setfl(&fd, flags | OFlags::NONBLOCK)?;
    let result = op();
    let _ = rustix::fs::fcntl_setfl(&fd, flags);
    result
}
