//! The runner's tasks and its exit sequence.
//!
//! `main` binds the socket, starts the tasks, waits for the child, and
//! then finishes in a fixed order: drain the PTY, write `<id>.exit`,
//! publish `exit`, restore the terminal, flush stdout, linger for
//! subscribers, return the status (the caller then removes the socket).
//! The PTY reader is the hot path: one read into a reused 64 KiB buffer,
//! then stdout, ring, attachers and the title tracker each see the slice;
//! `activity` is published at most every `ACTIVITY_EVERY`.

use super::{exit_code, exit_of, routes, session::Session, Options, Runner, DRAIN_QUIET, LINGER};
use crate::error::{Context, Result};
use crate::http::{server, sse::Broadcaster};
use crate::term::{self, RawMode};
use async_executor::LocalExecutor;
use async_io::{Async, Timer};
use async_net::unix::UnixListener;
use blocking::Unblock;
use futures_lite::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, StreamExt};
use std::cell::{Cell, RefCell};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, ExitCode};
use std::rc::Rc;
use std::time::{Duration, Instant};

const ACTIVITY_EVERY: Duration = Duration::from_millis(500);
const CHUNK: usize = 64 * 1024;

pub async fn main(
    ex: Rc<LocalExecutor<'static>>,
    session: Session,
    controller: OwnedFd,
    (sock, fifo): (PathBuf, PathBuf),
    child: Child,
    opts: Options,
) -> Result<ExitCode> {
    let listener = bind(&sock).context(|| format!("cannot listen on {}", sock.display()))?;
    let (input, input_rx) = async_channel::bounded(64);
    let runner = Rc::new(Runner {
        session: RefCell::new(session),
        events: Broadcaster::spawn(&ex),
        ring: RefCell::new(super::ring::Ring::new(opts.keep)),
        controller: Async::new(File::from(controller)).context(|| "pty".into())?,
        input,
        viewers: super::viewers::Viewers::new(!opts.detached_worker),
        ex: ex.clone(),
        title: RefCell::new(Default::default()),
        last_output: Cell::new(Instant::now()),
        last_activity: Cell::new(None),
    });
    ex.spawn(server::serve(
        listener,
        routes::handler(runner.clone()),
        ex.clone(),
    ))
    .detach();
    if fifo.exists() {
        ex.spawn(read_fifo(runner.clone(), fifo)).detach();
    }
    ex.spawn(write_pty(runner.clone(), input_rx)).detach();
    ex.spawn(signals(runner.clone(), !opts.detached_worker))
        .detach();
    let detached = opts.detached_worker;
    let (raw, stdout) = if detached {
        super::detach::ready(&runner.session.borrow().id);
        (None, None)
    } else {
        let raw = RawMode::enable(io::stdin().as_fd()).context(|| "terminal".into())?;
        ex.spawn(read_stdin(runner.clone())).detach();
        (
            raw,
            Some(Unblock::with_capacity(
                CHUNK,
                dup_file(io::stdout().as_fd())?,
            )),
        )
    };
    let reader = ex.spawn(read_pty(runner.clone(), stdout));
    let mut child = child;
    let status = blocking::unblock(move || child.wait())
        .await
        .context(|| "waiting for the agent".into())?;
    let stdout = drain(&runner, reader).await;
    Ok(finish(&runner, status, raw, stdout, detached).await)
}

/// The exit sequence: publish `exit`, end every stream, restore the
/// terminal, flush what the agent printed last, linger for subscribers.
async fn finish(
    runner: &Runner,
    status: std::process::ExitStatus,
    raw: Option<RawMode>,
    stdout: Option<Unblock<File>>,
    detached: bool,
) -> ExitCode {
    let exit = exit_of(status);
    let code = exit_code(&exit);
    let event = runner.session.borrow_mut().set_exit(exit);
    write_exit_file(runner);
    runner.publish(event);
    runner.events.close();
    end_attachers(runner);
    drop(raw);
    if let Some(mut out) = stdout {
        let _ = out.flush().await;
    }
    linger(runner, detached).await;
    code
}

/// Leaves the final `/meta` in `<id>.exit` before the socket goes: a
/// daemon that is slow, down or restarting still learns the status.
fn write_exit_file(runner: &Runner) {
    let (id, meta) = {
        let session = runner.session.borrow();
        (session.id.clone(), session.meta().to_string())
    };
    let path = crate::paths::session_exit_file(&id);
    if let Err(e) = crate::paths::write_private(&path, meta.as_bytes()) {
        eprintln!("amux: cannot write {}: {e}", path.display());
    }
}

fn bind(sock: &Path) -> io::Result<UnixListener> {
    // A socket left by a crashed runner with the same (random) id.
    crate::paths::remove_if_stale(sock);
    UnixListener::bind(sock)
}

pub fn make_fifo(path: &Path) -> io::Result<()> {
    let _ = std::fs::remove_file(path);
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )?;
    Ok(())
}

fn dup_file(fd: std::os::fd::BorrowedFd<'_>) -> Result<File> {
    Ok(File::from(
        fd.try_clone_to_owned().context(|| "stdio".into())?,
    ))
}

async fn read_pty(runner: Rc<Runner>, mut stdout: Option<Unblock<File>>) -> Option<Unblock<File>> {
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match (&runner.controller).read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // EIO: every holder of the user side is gone.
            Err(_) => break,
        };
        let chunk = &buf[..n];
        runner.last_output.set(Instant::now());
        if let Some(out) = stdout.as_mut() {
            if out.write_all(chunk).await.is_err() {
                // The reader of our stdout went away; the agent goes on.
                stdout = None;
            }
        }
        fan_out(&runner, chunk);
    }
    stdout
}

fn fan_out(runner: &Runner, chunk: &[u8]) {
    runner.ring.borrow_mut().push(chunk);
    runner
        .viewers
        .send_all(|| crate::frame::encode(crate::frame::OUTPUT, chunk).into());
    if runner.title.borrow_mut().feed(chunk) {
        let title = runner.title.borrow().title().map(str::to_string);
        runner.session.borrow_mut().title = title.clone();
        runner
            .events
            .publish("title", &serde_json::json!({ "title": title }).to_string());
    }
    let now = Instant::now();
    if runner
        .last_activity
        .get()
        .is_none_or(|t| now.duration_since(t) >= ACTIVITY_EVERY)
    {
        runner.last_activity.set(Some(now));
        runner.events.publish("activity", "{}");
    }
}

/// Waits for the reader to see EOF, or for output to go quiet.
async fn drain(
    runner: &Runner,
    reader: async_executor::Task<Option<Unblock<File>>>,
) -> Option<Unblock<File>> {
    let quiet = async {
        loop {
            Timer::after(Duration::from_millis(20)).await;
            if runner.last_output.get().elapsed() >= DRAIN_QUIET {
                return None;
            }
        }
    };
    futures_lite::future::or(reader, quiet).await
}

async fn write_pty(runner: Rc<Runner>, input: async_channel::Receiver<Vec<u8>>) {
    while let Ok(bytes) = input.recv().await {
        if (&runner.controller).write_all(&bytes).await.is_err() {
            return;
        }
    }
}

async fn read_stdin(runner: Rc<Runner>) {
    let Ok(file) = dup_file(io::stdin().as_fd()) else {
        return;
    };
    let is_tty = rustix::termios::isatty(&file);
    let mut stdin = Unblock::with_capacity(CHUNK, file);
    let mut buf = vec![0u8; CHUNK];
    loop {
        match stdin.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                runner.typed(&buf[..n]);
                if runner.input.send(buf[..n].to_vec()).await.is_err() {
                    return;
                }
            }
        }
    }
    // Piped input ended: tell a line-reading child, as a typed ^D would.
    if !is_tty {
        let eof = term::eof_char(runner.controller.get_ref());
        let _ = runner.input.send(vec![eof]).await;
    }
}

async fn signals(runner: Rc<Runner>, foreground: bool) {
    use async_signal::{Signal, Signals};
    let Ok(mut signals) = Signals::new([
        Signal::Winch,
        Signal::Term,
        Signal::Hup,
        Signal::Int,
        Signal::Quit,
    ]) else {
        return;
    };
    while let Some(Ok(signal)) = signals.next().await {
        match signal {
            Signal::Winch if foreground => {
                if let Some(size) = term::size_of(io::stdin()) {
                    let _ = runner.resize(size.ws_col, size.ws_row);
                }
            }
            Signal::Winch => {}
            other => {
                let forwarded = match other {
                    Signal::Term => rustix::process::Signal::TERM,
                    Signal::Hup => rustix::process::Signal::HUP,
                    Signal::Int => rustix::process::Signal::INT,
                    _ => rustix::process::Signal::QUIT,
                };
                runner.signal_child(forwarded);
            }
        }
    }
}

async fn read_fifo(runner: Rc<Runner>, path: PathBuf) {
    // O_RDWR: we hold a writer ourselves, so the FIFO never reports EOF
    // when one agent process closes it.
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
    {
        Ok(f) => f,
        Err(_) => return,
    };
    let Ok(fifo) = Async::new(file) else { return };
    let mut reader = futures_lite::io::BufReader::new(fifo);
    let mut line = Vec::new();
    loop {
        line.clear();
        let mut limited = (&mut reader).take(super::shim::MAX_EVENT as u64);
        match limited.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => handle_shim_line(&runner, &line),
        }
    }
}

pub fn handle_shim_line(runner: &Runner, line: &[u8]) {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return;
    }
    let result = super::shim::apply(&mut runner.session.borrow_mut(), line);
    // A malformed line on the FIFO has nobody to answer; it is dropped
    // (over HTTP the same error gets a 400).
    if let Ok(events) = result {
        events.into_iter().for_each(|e| runner.publish(e));
    }
}

fn end_attachers(runner: &Runner) {
    let exit = runner.session.borrow().exit_json().to_string();
    let frame: Rc<[u8]> = crate::frame::encode(crate::frame::EXIT, exit.as_bytes()).into();
    runner.viewers.end_all(frame);
}

async fn linger(runner: &Runner, detached: bool) {
    let deadline = Instant::now() + LINGER;
    while Instant::now() < deadline {
        if !detached && runner.events.open_streams() == 0 {
            return;
        }
        Timer::after(Duration::from_millis(20)).await;
    }
}
