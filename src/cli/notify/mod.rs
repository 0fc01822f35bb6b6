//! `amux notify`: every session's transitions, as notifications.
//!
//! Two tasks on one thread. The reader follows the daemon's event stream
//! across its restarts (`query::event_loop`, as `amux events` does) and
//! passes each line into a channel; the main loop takes lines and hands
//! the records to the `Decider` (`decide.rs`, pure, with the grace and
//! the merging), and sleeps on an async-io `Timer` until the next
//! notification is due, when there is one — so nothing runs while nothing
//! changes. Each burst the decider hands out goes to the outputs
//! (`out.rs`). `amux top` raises the same notifications through the same
//! decider.

pub mod decide;
pub mod out;

use super::client;
use crate::error::{Error, Result};
use crate::protocol::EventLine;
use crate::remote::Target;
use decide::Decider;
use futures_lite::future;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// `amux notify`'s options.
pub struct Options {
    pub exec: Option<String>,
    /// Seconds a state must hold before it is told.
    pub grace: f64,
    pub desktop: bool,
    pub osc: bool,
}

pub const DEFAULT_GRACE: f64 = 2.0;

pub fn notify(opts: Options) -> Result<ExitCode> {
    client::ensure()?;
    let outputs = out::Outputs {
        desktop: opts.desktop.then(out::notify_send).flatten(),
        osc: opts.osc && client::is_tty(),
        exec: opts.exec,
    };
    let host = match client::target() {
        Target::Ssh(h) => Some(h.label),
        Target::Local => None,
    };
    let grace = Duration::try_from_secs_f64(opts.grace).unwrap_or(Duration::ZERO);
    let (tx, rx) = async_channel::unbounded::<EventLine>();
    let reader = query_lines(tx);
    let origin = Instant::now();
    let mut decider = Decider::new(grace.as_millis() as u64);
    let work = async {
        loop {
            let due = decider.next_due();
            let line = future::or(async { Some(rx.recv().await) }, async {
                match due {
                    Some(ms) => async_io::Timer::at(origin + Duration::from_millis(ms)).await,
                    None => std::future::pending().await,
                };
                None
            })
            .await;
            let now = origin.elapsed().as_millis() as u64;
            match line {
                Some(Ok(EventLine::Session { mut session })) => {
                    session.host.clone_from(&host);
                    decider.record(&session, now);
                }
                Some(Ok(EventLine::Remove { id })) => decider.remove(&id),
                Some(Ok(EventLine::Notification { .. })) => {}
                // The reader ended: its error says why.
                Some(Err(_)) => return Ok::<(), Error>(()),
                None => {}
            }
            outputs.send(&decider.due(now));
        }
    };
    async_io::block_on(future::or(
        async { reader.await.map(|_| ExitCode::SUCCESS) },
        async {
            work.await?;
            std::future::pending::<Result<ExitCode>>().await
        },
    ))
}

/// The daemon's lines, into `tx`, until it cannot be reached.
async fn query_lines(tx: async_channel::Sender<EventLine>) -> Result<ExitCode> {
    let sent = |line: EventLine| {
        tx.try_send(line)
            .map_err(|_| Error::Failed("notify: the channel closed".into()))
    };
    let result = super::query::event_loop(sent).await;
    tx.close();
    result
}
