//! The user's terminal (or the pipes in its place), read and written on
//! the executor without a thread hop.
//!
//! A keystroke's round trip is the figure users feel (`amux run` and
//! `amux attach` against `script` and `dtach`): handing each read and
//! write to a blocking thread costs two wake-ups per direction. Instead the
//! fd is registered with the reactor as it is (`Async::new_nonblocking`,
//! which does not touch its flags) and each read or write runs with
//! `O_NONBLOCK` set only for that one call: the terminal's file
//! description is shared with the shell that started us, which must never
//! find it non-blocking after we are gone. A would-block waits for
//! readiness. What epoll cannot watch — a regular file, `/dev/null` — is
//! read and written directly: such I/O never waits for another process.

use async_io::Async;
use rustix::fs::OFlags;
use std::fs::File;
use std::io;
use std::io::{Read, Write};
use std::os::fd::AsFd;

/// One end of the user's terminal: stdin to read, or stdout to write.
pub enum Stdio {
    Ready(Async<File>),
    Plain(File),
}

impl Stdio {
    pub fn new(file: File) -> io::Result<Stdio> {
        // Kept for the fallback: registering consumes `file` on failure.
        let spare = file.try_clone()?;
        Ok(match Async::new_nonblocking(file) {
            Ok(fd) => Stdio::Ready(fd),
            Err(_) => Stdio::Plain(spare),
        })
    }

    pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let fd = match self {
            Stdio::Plain(file) => return file.read(buf),
            Stdio::Ready(fd) => fd,
        };
        loop {
            match nonblocking(fd.get_ref(), || {
                Ok(rustix::io::read(fd.get_ref(), &mut *buf)?)
            }) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => fd.readable().await?,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => return other,
            }
        }
    }

    pub async fn write_all(&mut self, mut buf: &[u8]) -> io::Result<()> {
        let fd = match self {
            Stdio::Plain(file) => return file.write_all(buf),
            Stdio::Ready(fd) => fd,
        };
        while !buf.is_empty() {
            match nonblocking(fd.get_ref(), || Ok(rustix::io::write(fd.get_ref(), buf)?)) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => buf = &buf[n..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => fd.writable().await?,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// Runs `op` on `fd` with `O_NONBLOCK` set for its duration only.
fn nonblocking<T>(fd: impl AsFd, op: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
    let flags = rustix::fs::fcntl_getfl(&fd)?;
    if flags.contains(OFlags::NONBLOCK) {
        return op();
    }
    rustix::fs::fcntl_setfl(&fd, flags | OFlags::NONBLOCK)?;
    let result = op();
    let _ = rustix::fs::fcntl_setfl(&fd, flags);
    result
}
