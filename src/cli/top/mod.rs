//! `amux top`: every session on one screen, live, sorted by who needs the
//! user, with keys to act on the selected one.
//!
//! Hand-written on our own terminal code. The parts: `model.rs` (records
//! to sorted rows), `render.rs` (rows to screen lines), `keys.rs` (bytes
//! to keys to actions) — all pure and tested — and this thin shell, which
//! moves bytes. Three kinds of task feed one channel: each host's event
//! stream (`query::event_loop`, which reconnects when a daemon restarts;
//! one thread per host, as the merged `events` does, since a thread's
//! target names its host), the keyboard (`stdio::Stdio`, which never leaves the terminal
//! non-blocking), and the signals (SIGWINCH redraws, SIGTERM and SIGINT
//! end). The loop waits on the channel and on one timer, armed only when
//! something is due (a notification's grace, a waiting row's age): nothing
//! runs while nothing changes. Notifications are raised as `amux notify`
//! raises them (its decider), to the desktop and this terminal.
//! Attaching runs `amux attach` with the terminal handed over; the loop is
//! not polled meanwhile, so no key is read by both.
//!
//! Several hosts (`-H a -H b`): their sessions are merged, keyed
//! `host:id` (this machine's by id alone), and every action goes to the
//! selected row's own host. A host whose stream cannot be had is one line
//! on the screen while the others go on; with one host, that ends `top`.

mod keys;
mod model;
mod render;
mod screen;

use super::client;
use crate::error::{Context, Error, Result};
use crate::protocol::EventLine;
use crate::remote::Target;
use async_channel::Sender;
use async_signal::{Signal, Signals};
use futures_lite::{future, StreamExt};
use keys::Prompted;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

enum Msg {
    /// A line from the host at this index among the targets.
    Line(usize, EventLine),
    Keys(Vec<u8>),
    Signal(Signal),
    /// That host's event stream ended: its daemon could not be reached.
    Lost(usize, Error),
}

/// Where the user is: on the list, or answering something.
enum Mode {
    List,
    Typing(Prompted),
    ConfirmKill(Target, String),
}

/// `top` over `targets` (one or more; this thread's target alone for
/// none).
pub fn top(mut targets: Vec<Target>) -> Result<ExitCode> {
    if !rustix::termios::isatty(std::io::stdin()) || !client::is_tty() {
        return Err(Error::Failed(
            "top needs a terminal (use ls or events)".into(),
        ));
    }
    if targets.is_empty() {
        targets.push(client::target());
    }
    if let [one] = targets.as_slice() {
        client::set_target(one.clone());
        client::ensure()?;
    }
    let (tx, rx) = async_channel::unbounded();
    follow(&targets, &tx);
    let ex = async_executor::LocalExecutor::new();
    ex.spawn(keyboard(tx.clone())).detach();
    ex.spawn(signals(tx)).detach();
    let fleet = targets.len() > 1;
    let mut top = Top::new(targets)?;
    // The keyboard is waited on by this thread itself (`hot.rs`).
    let ran = crate::hot::block_on(ex.run(async {
        top.redraw();
        loop {
            let wake = top.wake();
            let msg = future::or(async { rx.recv().await.ok() }, async {
                match wake {
                    Some(at) => async_io::Timer::at(at).await,
                    None => std::future::pending().await,
                };
                None
            })
            .await;
            match msg {
                Some(Msg::Line(host, line)) => top.line(host, line),
                Some(Msg::Keys(bytes)) => {
                    for key in keys::decode(&bytes) {
                        if top.key(key) {
                            return Ok(ExitCode::SUCCESS);
                        }
                    }
                }
                Some(Msg::Signal(Signal::Winch)) => top.screen.invalidate(),
                Some(Msg::Signal(_)) => return Ok(ExitCode::from(143)),
                Some(Msg::Lost(_, e)) if !fleet => return Err(e),
                Some(Msg::Lost(host, e)) => top.lost(host, &e),
                None => {}
            }
            top.tick();
            top.redraw();
        }
    }));
    ran.context(|| "event loop".into())?
}

/// Each host's event stream on a thread of its own, with that host as
/// the thread's target (the stream starts this machine's daemon if need
/// be, and waits for it across restarts).
fn follow(targets: &[Target], tx: &Sender<Msg>) {
    for (host, target) in targets.iter().enumerate() {
        let (target, tx) = (target.clone(), tx.clone());
        std::thread::spawn(move || {
            client::set_target(target);
            let sent = |line| {
                (tx.try_send(Msg::Line(host, line)))
                    .map_err(|_| Error::Failed("top: closed".into()))
            };
            if let Err(e) = async_io::block_on(super::query::event_loop(sent)) {
                let _ = tx.try_send(Msg::Lost(host, e));
            }
        });
    }
}

async fn keyboard(tx: Sender<Msg>) {
    let Ok(stdin) = std::io::stdin().as_fd_clone() else {
        return;
    };
    let Ok(mut stdin) = crate::stdio::Stdio::new(stdin) else {
        return;
    };
    let mut buf = [0u8; 256];
    while let Ok(n @ 1..) = stdin.read(&mut buf).await {
        if tx.try_send(Msg::Keys(buf[..n].to_vec())).is_err() {
            return;
        }
    }
}

async fn signals(tx: Sender<Msg>) {
    let Ok(mut signals) = Signals::new([Signal::Winch, Signal::Term, Signal::Int]) else {
        return;
    };
    while let Some(Ok(signal)) = signals.next().await {
        if tx.try_send(Msg::Signal(signal)).is_err() {
            return;
        }
    }
}

trait FdClone {
    fn as_fd_clone(&self) -> std::io::Result<std::fs::File>;
}

impl FdClone for std::io::Stdin {
    fn as_fd_clone(&self) -> std::io::Result<std::fs::File> {
        use std::os::fd::AsFd;
        Ok(std::fs::File::from(self.as_fd().try_clone_to_owned()?))
    }
}

mod act;
use act::Top;

/// Epoch milliseconds now (ages are shown against the wall clock, as the
/// records' `since` is written).
fn now_ms() -> i64 {
    crate::timefmt::epoch_ms(SystemTime::now())
}

/// `Instant` for a decider's milliseconds from `origin`.
fn at(origin: Instant, ms: u64) -> Instant {
    origin + Duration::from_millis(ms)
}
