//! A `Stream` to a remote daemon (or runner): the child `ssh -T HOST amux
//! dial-stdio [--session ID]`, its stdout the read half, its stdin the
//! write half.
//!
//! What a user meets when that fails is ssh's own words (host unknown,
//! auth refused) or the remote shell's (no `amux` there): the child's
//! stderr is kept (its tail) by a thread that then reaps the child, and a
//! read that finds the stream closed before a single byte came turns into
//! an error saying why, from the exit status and that stderr. Dropping
//! the stream closes the child's stdin, which ends `dial-stdio` and so
//! the ssh; a child still running then (connecting to a host that does not
//! answer) is killed. The thread waits with `WNOWAIT` first and reaps
//! under the same lock the kill takes, so a kill never hits a reused pid.

use super::Stream;
use crate::remote::Host;
use async_io::Async;
use futures_lite::{AsyncRead, AsyncWrite};
use std::cell::Cell;
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::pin::Pin;
use std::process::{Child, ChildStdin, ChildStdout, ExitStatus, Stdio};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

/// How much of ssh's stderr an error quotes.
const STDERR_TAIL: usize = 4096;

/// How long a closed stream waits for the child's exit to explain it.
const EXPLAIN: Duration = Duration::from_secs(5);

pub fn open(host: &Host, session: Option<&str>) -> io::Result<Stream> {
    let mut args: Vec<OsString> = vec!["dial-stdio".into()];
    if let Some(id) = session {
        args.extend(["--session".into(), id.into()]);
    }
    let mut cmd = crate::remote::ssh_command(host, false, &args)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
    let program = cmd.get_program().to_string_lossy().into_owned();
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot run {program}: {e}")))?;
    let (Some(stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(io::Error::other("ssh's pipes were not made"));
    };
    let child = Arc::new(Mutex::new(Some(child)));
    let (tx, rx) = async_channel::bounded(1);
    let reaper = child.clone();
    std::thread::spawn(move || {
        let said = tail(stderr);
        let _ = tx.send_blocking(Ended {
            status: reap(&reaper),
            said,
        });
    });
    let go_hot = GoHot::default();
    let reader = SshReader {
        out: Pipe::Io(Async::new(stdout)?),
        go_hot: go_hot.clone(),
        seen: false,
        host: host.clone(),
        ended: Box::new(rx),
        explain: None,
        _guard: Guard(child),
    };
    let writer = SshWriter {
        pipe: Pipe::Io(Async::new(stdin)?),
        go_hot: go_hot.clone(),
    };
    Ok(Stream {
        go_hot: Some(go_hot),
        ..Stream::new(reader, writer)
    })
}

/// Shared by a stream's two halves: `Stream::into_hot` was called, so
/// each half moves its pipe to `hot::block_on`'s thread at its next use.
pub type GoHot = Rc<Cell<bool>>;

/// One of ssh's pipes, on async-io's reactor or (after `into_hot`) on
/// the thread running `hot::block_on`, which then waits for it itself: a
/// keystroke through `attach -H` wakes that thread once, not async-io's
/// thread and then it.
enum Pipe<T> {
    Io(Async<T>),
    Hot(crate::hot::Hot<File>),
    /// Only while moving (or if the move failed: reads and writes fail).
    Gone,
}

impl<T: AsFd + Into<OwnedFd>> Pipe<T> {
    fn current(&mut self, go_hot: &GoHot) -> io::Result<&mut Self> {
        if go_hot.get() && matches!(self, Pipe::Io(_)) {
            let Pipe::Io(io) = std::mem::replace(self, Pipe::Gone) else {
                unreachable!()
            };
            // Leaves the reactor; the fd stays non-blocking, as Hot wants.
            let fd: OwnedFd = io.into_inner()?.into();
            *self = Pipe::Hot(crate::hot::Hot::new(File::from(fd)));
        }
        match self {
            Pipe::Gone => Err(io::Error::other("ssh's pipe was lost moving threads")),
            pipe => Ok(pipe),
        }
    }
}

impl<T: Read + AsFd + Into<OwnedFd>> Pipe<T>
where
    Async<T>: AsyncRead,
{
    fn poll_read(
        &mut self,
        go_hot: &GoHot,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match self.current(go_hot) {
            Ok(Pipe::Io(io)) => Pin::new(io).poll_read(cx, buf),
            Ok(Pipe::Hot(hot)) => Pin::new(hot).poll_read(cx, buf),
            Ok(Pipe::Gone) => unreachable!(),
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

struct SshWriter {
    pipe: Pipe<ChildStdin>,
    go_hot: GoHot,
}

impl AsyncWrite for SshWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        match this.pipe.current(&this.go_hot) {
            Ok(Pipe::Io(io)) => Pin::new(io).poll_write(cx, buf),
            Ok(Pipe::Hot(hot)) => Pin::new(hot).poll_write(cx, buf),
            Ok(Pipe::Gone) => unreachable!(),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Pipes hold nothing back.
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        // As async-io's own: the pipe closes when the stream is dropped.
        Poll::Ready(Ok(()))
    }
}

/// The child's stderr, its last `STDERR_TAIL` bytes, once it closes.
fn tail(mut stderr: std::process::ChildStderr) -> String {
    let mut kept = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = stderr.read(&mut buf) {
        if n == 0 {
            break;
        }
        kept.extend_from_slice(&buf[..n]);
        if kept.len() > STDERR_TAIL {
            kept.drain(..kept.len() - STDERR_TAIL);
        }
    }
    String::from_utf8_lossy(&kept).trim().to_string()
}

/// Waits for the child to exit without reaping it, then reaps it under
/// the lock `Guard` kills under.
fn reap(child: &Mutex<Option<Child>>) -> Option<ExitStatus> {
    let pid = child.lock().ok()?.as_ref()?.id();
    let pid = rustix::process::Pid::from_raw(pid as i32)?;
    let options = rustix::process::WaitIdOptions::EXITED | rustix::process::WaitIdOptions::NOWAIT;
    let _ = rustix::process::waitid(rustix::process::WaitId::Pid(pid), options);
    let mut slot = child.lock().ok()?;
    slot.take()?.wait().ok()
}

struct Ended {
    status: Option<ExitStatus>,
    said: String,
}

/// Kills a child that is still running when the stream goes.
struct Guard(Arc<Mutex<Option<Child>>>);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Ok(mut slot) = self.0.lock() {
            if let Some(child) = slot.as_mut() {
                let _ = child.kill();
            }
        }
    }
}

type Explain = Pin<Box<dyn std::future::Future<Output = io::Error>>>;

struct SshReader {
    out: Pipe<ChildStdout>,
    go_hot: GoHot,
    /// A byte came: the far end was reached, so a later EOF is only an end.
    seen: bool,
    host: Host,
    /// Boxed: a receiver is not `Unpin`, a reader must be.
    ended: Box<async_channel::Receiver<Ended>>,
    explain: Option<Explain>,
    _guard: Guard,
}

impl AsyncRead for SshReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if let Some(explain) = this.explain.as_mut() {
            return explain.as_mut().poll(cx).map(Err);
        }
        match this.out.poll_read(&this.go_hot, cx, buf) {
            Poll::Ready(Ok(0)) if !this.seen && !buf.is_empty() => {
                let (ended, host) = ((*this.ended).clone(), this.host.clone());
                this.explain = Some(Box::pin(async move {
                    let got = crate::http::client::within(EXPLAIN, async {
                        ended.recv().await.map_err(io::Error::other)
                    });
                    match got.await {
                        Ok(ended) => why(&host, &ended),
                        Err(_) => refused(format!("{}: the connection closed at once", host.label)),
                    }
                }));
                self.poll_read(cx, buf)
            }
            Poll::Ready(Ok(n)) => {
                this.seen |= n > 0;
                Poll::Ready(Ok(n))
            }
            other => other,
        }
    }
}

fn refused(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionRefused, message)
}

/// One line for a closed ssh: ssh's own message when ssh failed (255),
/// a missing `amux` (127) said as such, else the remote's exit and words.
fn why(host: &Host, ended: &Ended) -> io::Error {
    let said = ended.said.lines().last().unwrap_or("").trim();
    let host_label = &host.label;
    match ended.status.and_then(|s| s.code()) {
        Some(127) => refused(crate::remote::not_installed(host)),
        // ssh's own words name the host ("ssh: connect to host …").
        Some(255) if said.starts_with("ssh:") => refused(said.to_string()),
        Some(255) if !said.is_empty() => refused(format!("ssh {host_label}: {said}")),
        Some(code) if !said.is_empty() => refused(format!(
            "amux dial-stdio on {host_label} failed (exit {code}): {said}"
        )),
        Some(code) => refused(format!("ssh {host_label} exited with status {code}")),
        None => refused(format!("ssh {host_label} was killed by a signal")),
    }
}
