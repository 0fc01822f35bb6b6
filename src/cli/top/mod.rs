//! `amux top`: every session on one screen, live, sorted by who needs the
//! user, with keys to act on the selected one.
//!
//! Hand-written on our own terminal code. The parts: `model.rs` (records
//! to sorted rows), `render.rs` (rows to screen lines), `keys.rs` (bytes
//! to keys to actions) — all pure and tested — and this thin shell, which
//! moves bytes. Three tasks feed one channel: the daemon's event stream
//! (`query::event_loop`, which reconnects when the daemon restarts), the
//! keyboard (`stdio::Stdio`, which never leaves the terminal
//! non-blocking), and the signals (SIGWINCH redraws, SIGTERM and SIGINT
//! end). The loop waits on the channel and on one timer, armed only when
//! something is due (a notification's grace, a waiting row's age): nothing
//! runs while nothing changes. Notifications are raised as `amux notify`
//! raises them (its decider), to the desktop and this terminal.
//! Attaching runs `amux attach` with the terminal handed over; the loop is
//! not polled meanwhile, so no key is read by both.

mod keys;
mod model;
mod render;
mod screen;

use super::client;
use crate::error::{Error, Result};
use crate::protocol::EventLine;
use async_channel::Sender;
use async_signal::{Signal, Signals};
use futures_lite::{future, StreamExt};
use keys::Prompted;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

enum Msg {
    Line(EventLine),
    Keys(Vec<u8>),
    Signal(Signal),
    /// The event stream ended: no daemon could be reached.
    Lost(Error),
}

/// Where the user is: on the list, or answering something.
enum Mode {
    List,
    Typing(Prompted),
    ConfirmKill(String),
}

pub fn top() -> Result<ExitCode> {
    if !rustix::termios::isatty(std::io::stdin()) || !client::is_tty() {
        return Err(Error::Failed(
            "top needs a terminal (use ls or events)".into(),
        ));
    }
    client::ensure()?;
    let (tx, rx) = async_channel::unbounded();
    let ex = async_executor::LocalExecutor::new();
    ex.spawn(follow(tx.clone())).detach();
    ex.spawn(keyboard(tx.clone())).detach();
    ex.spawn(signals(tx)).detach();
    let mut top = Top::new()?;
    async_io::block_on(ex.run(async {
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
                Some(Msg::Line(line)) => top.line(line),
                Some(Msg::Keys(bytes)) => {
                    for key in keys::decode(&bytes) {
                        if top.key(key) {
                            return Ok(ExitCode::SUCCESS);
                        }
                    }
                }
                Some(Msg::Signal(Signal::Winch)) => top.screen.invalidate(),
                Some(Msg::Signal(_)) => return Ok(ExitCode::from(143)),
                Some(Msg::Lost(e)) => return Err(e),
                None => {}
            }
            top.tick();
            top.redraw();
        }
    }))
}

async fn follow(tx: Sender<Msg>) {
    let sent =
        |line| (tx.try_send(Msg::Line(line))).map_err(|_| Error::Failed("top: closed".into()));
    if let Err(e) = super::query::event_loop(sent).await {
        let _ = tx.try_send(Msg::Lost(e));
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
