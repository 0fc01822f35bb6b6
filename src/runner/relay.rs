//! The runner's tasks: PTY reader and writer, stdin, signals.
//!
//! `main` binds the socket, starts the tasks, waits for the child, and
//! then hands over to `exit.rs`: drain the PTY, write `<id>.exit`,
//! publish `exit`, restore the terminal, flush stdout, linger for
//! subscribers, return the status (the caller then removes the socket).
//! The PTY reader is the hot path: one read into a reused 64 KiB buffer,
//! then stdout, ring, attachers and the title tracker each see the slice;
//! `activity` is published at most every `ACTIVITY_EVERY`.

use super::exit::{drain, finish};
use super::{routes, session::Session, Options, Runner};
use crate::error::{Context, Result};
use crate::http::{server, sse::Broadcaster};
use crate::stdio::Stdio;
use crate::term::{self, RawMode};
use async_executor::LocalExecutor;
use async_net::unix::UnixListener;
use futures_lite::StreamExt;
use std::cell::{Cell, RefCell};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::process::{Child, ExitCode};
use std::rc::Rc;
use std::time::{Duration, Instant};

const ACTIVITY_EVERY: Duration = Duration::from_millis(500);
const CHUNK: usize = 64 * 1024;
/// Output this soon after a keystroke is taken for its echo.
const ECHO_WINDOW: Duration = Duration::from_millis(30);

/// What the runner set up before its agent started.
pub struct Io {
    pub controller: OwnedFd,
    pub listener: UnixListener,
    /// The preload's FIFO, opened for reading (none for agents without it).
    pub fifo: Option<File>,
    /// We asked the agent for its OSC 9s (see `notify.rs`).
    pub owns_osc9: bool,
    /// Our signals, caught before the agent started (`catch_signals`).
    pub signals: Option<async_signal::Signals>,
}

pub async fn main(
    ex: Rc<LocalExecutor<'static>>,
    session: Session,
    Io {
        controller,
        listener,
        fifo,
        owns_osc9,
        signals: caught,
    }: Io,
    child: Child,
    opts: Options,
) -> Result<ExitCode> {
    // Chunks (keystrokes, `/input` bodies of up to 1 MiB) waiting for the
    // PTY: bounded, so an agent that stops reading costs a few MiB at most.
    let (input, input_rx) = async_channel::bounded(8);
    let prompts = crate::adapters::interactive_shell(&session.command);
    let runner = Rc::new(Runner {
        session: RefCell::new(session),
        events: Broadcaster::spawn(&ex),
        ring: RefCell::new(super::ring::Ring::new(opts.keep)),
        controller: hot_controller(controller).context(|| "pty".into())?,
        input,
        viewers: super::viewers::Viewers::new(!opts.detached_worker),
        ex: ex.clone(),
        title: RefCell::new(Default::default()),
        notices: RefCell::new(super::notify::Notices::new(owns_osc9)),
        last_output: Cell::new(Instant::now()),
        last_key: Cell::new(None),
        heard: Cell::new(false),
        last_activity: Cell::new(None),
        fg_busy: Cell::new(None),
        prompts,
        line: RefCell::default(),
    });
    ex.spawn(server::serve(
        listener,
        routes::handler(runner.clone()),
        ex.clone(),
    ))
    .detach();
    let (agent_ended, ended) = async_channel::bounded::<()>(1);
    let fifo_reader =
        fifo.map(|fifo| ex.spawn(super::shim::read_fifo(runner.clone(), fifo, ended)));
    ex.spawn(write_pty(runner.clone(), input_rx)).detach();
    ex.spawn(signals(runner.clone(), !opts.detached_worker, caught))
        .detach();
    // The first look, before `run -d` returns: a command with no prompt
    // works from its start, even if it never prints (`sleep`, a quiet
    // build).
    super::foreground::look(&runner, false);
    let detached = opts.detached_worker;
    let (raw, stdout) = if detached {
        super::detach::ready(&runner.session.borrow().id);
        (None, None)
    } else {
        let raw = RawMode::enable(io::stdin().as_fd()).context(|| "terminal".into())?;
        ex.spawn(read_stdin(runner.clone())).detach();
        let stdout = Stdio::new(dup_file(io::stdout().as_fd())?).context(|| "stdout".into())?;
        (raw, Some(stdout))
    };
    let reader = ex.spawn(read_pty(runner.clone(), stdout));
    let mut child = child;
    let status = blocking::unblock(move || child.wait())
        .await
        .context(|| "waiting for the agent".into())?;
    let (stdout, closed) = drain(&runner, reader).await;
    // The agent's last reports, before its exit is told.
    agent_ended.close();
    if let Some(fifo_reader) = fifo_reader {
        fifo_reader.await;
    }
    if !closed {
        super::exit::hang_up(&runner).await;
    }
    Ok(finish(&runner, status, raw, stdout, detached).await)
}

pub fn bind(sock: &Path) -> io::Result<UnixListener> {
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

/// The PTY's controller, non-blocking, waited on by this thread.
fn hot_controller(controller: OwnedFd) -> io::Result<crate::hot::Hot<File>> {
    rustix::io::ioctl_fionbio(&controller, true)?;
    Ok(crate::hot::Hot::new(File::from(controller)))
}

fn dup_file(fd: std::os::fd::BorrowedFd<'_>) -> Result<File> {
    Ok(File::from(
        fd.try_clone_to_owned().context(|| "stdio".into())?,
    ))
}

async fn read_pty(runner: Rc<Runner>, mut stdout: Option<Stdio>) -> Option<Stdio> {
    let mut buf = vec![0u8; CHUNK];
    let mut drained = false;
    loop {
        // A short read drained the PTY: wait for more rather than try.
        if std::mem::take(&mut drained) {
            runner.controller.readable().await;
        }
        let read = |fd: &File| Ok(rustix::io::read(fd, &mut buf[..])?);
        let n = match runner.controller.read_with(read).await {
            Ok(0) => break,
            Ok(n) => {
                drained = n < 2048;
                n
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // EIO: every holder of the user side is gone.
            Err(_) => break,
        };
        runner.last_output.set(Instant::now());
        let mut notes = Vec::new();
        let filtered = runner.notices.borrow_mut().filter(&buf[..n], &mut notes);
        let chunk = &filtered[..];
        if let Some(out) = stdout.as_mut() {
            if out.write_all(chunk).await.is_err() {
                // The reader of our stdout went away; the agent goes on.
                stdout = None;
            }
        }
        fan_out(&runner, chunk);
        super::foreground::look(&runner, false);
        drop(filtered);
        notes.into_iter().for_each(|n| notice(&runner, n));
    }
    stdout
}

/// A notification the program wrote: an event, and the agent's state
/// when its adapter reads one in it.
fn notice(runner: &Runner, n: super::notify::Notice) {
    use crate::protocol::{Notification, RunnerEvent};
    let kind = runner.session.borrow().kind;
    if n.state {
        if let Some(state) = kind.terminal_state(&n.body) {
            runner.report_state(state);
        }
        return;
    }
    if let Some(state) = n.osc9.then(|| kind.notice_state(&n.body)).flatten() {
        runner.report_state(state);
    }
    let note = Notification {
        id: String::new(),
        title: n.title,
        body: n.body,
    };
    runner.publish(&RunnerEvent::Notification(note));
}

fn fan_out(runner: &Runner, chunk: &[u8]) {
    runner.ring.borrow_mut().push(chunk);
    runner
        .viewers
        .send_all(|| crate::frame::encode(crate::frame::OUTPUT, chunk).into());
    if runner.title.borrow_mut().feed(chunk) {
        let title = runner.title.borrow().title().map(str::to_string);
        runner.session.borrow_mut().title = title.clone();
        // An agent that sets its title at each change of its state says
        // its state there (Gemini's `◇  Ready`).
        let kind = runner.session.borrow().kind;
        let state = title.as_deref().and_then(|t| kind.title_state(t));
        let title = crate::protocol::Title { title };
        runner.publish(&crate::protocol::RunnerEvent::Title(title));
        if let Some(state) = state {
            runner.report_state(state);
        }
    }
    let now = Instant::now();
    // The echo of a key just typed is the terminal's, not the agent's
    // doing: no `activity` for it (each would wake the daemon).
    let echo = (runner.last_key.get()).is_some_and(|k| now.duration_since(k) < ECHO_WINDOW);
    if echo {
        return;
    }
    runner.heard.set(true);
    if runner
        .last_activity
        .get()
        .is_none_or(|t| now.duration_since(t) >= ACTIVITY_EVERY)
    {
        runner.last_activity.set(Some(now));
        runner.publish(&crate::protocol::RunnerEvent::Activity);
    }
}

async fn write_pty(runner: Rc<Runner>, input: async_channel::Receiver<Vec<u8>>) {
    while let Ok(bytes) = input.recv().await {
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            let write = |fd: &File| Ok(rustix::io::write(fd, rest)?);
            match runner.controller.write_with(write).await {
                Ok(n) if n > 0 => rest = &rest[n..],
                _ => return,
            }
        }
        if bytes.contains(&b'\r') {
            super::foreground::after_input(&runner);
        }
    }
}

async fn read_stdin(runner: Rc<Runner>) {
    let Ok(file) = dup_file(io::stdin().as_fd()) else {
        return;
    };
    let is_tty = rustix::termios::isatty(&file);
    let Ok(mut stdin) = Stdio::new(file) else {
        return;
    };
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

/// The signals the runner handles, caught from before the agent starts:
/// a signal handled is the default again in the agent after its exec, while
/// one ignored stays ignored — and `amux run` started in the background of
/// a shell without job control ignores SIGINT and SIGQUIT, so ^C would
/// not stop the agent.
pub fn catch_signals() -> io::Result<async_signal::Signals> {
    use async_signal::Signal;
    async_signal::Signals::new([
        Signal::Winch,
        Signal::Term,
        Signal::Hup,
        Signal::Int,
        Signal::Quit,
        Signal::Usr1,
    ])
}

async fn signals(runner: Rc<Runner>, foreground: bool, signals: Option<async_signal::Signals>) {
    use async_signal::Signal;
    let Some(mut signals) = signals else {
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
            // The daemon saw our socket removed (`keep.rs`).
            Signal::Usr1 => {
                if let Err(e) = super::keep::rebind_if_gone(&runner) {
                    eprintln!("amux: cannot listen on the session socket again: {e}");
                }
            }
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
