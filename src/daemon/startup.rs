//! The first answers of a daemon wait for the runners it found at start.
//!
//! A daemon starting (the first client since boot, or after a crash or an
//! upgrade) scans the sessions directory and follows each runner there;
//! each replays what it said before (`meta`, the conversation file, the
//! state) up to `ready`. A listing answered before a runner's replay came
//! in would leave that session out — on a loaded machine, a runner slow
//! to get the CPU was missing from the first `amux ls`. So listings, the
//! event stream's snapshot and key lookups wait until every runner found
//! by the start-up scan has replayed (or its follow ended), for at most
//! `SETTLE`: a runner that never answers (stopped) costs the first answer
//! that long, once, and is then listed when it does. `/v1/health` never
//! waits: it is how a client learns the daemon is up.

use async_io::Timer;
use futures_lite::future;
use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// The longest a first answer waits for the runners found at start.
const SETTLE: Duration = Duration::from_secs(3);

pub struct Startup {
    /// Found by the scan, replay not in yet.
    pending: RefCell<HashSet<String>>,
    scanned: Cell<bool>,
    settled: Cell<bool>,
    /// Closed (dropped) when settled: every waiter's `recv` then ends.
    open: RefCell<Option<async_channel::Sender<()>>>,
    closed: async_channel::Receiver<()>,
    deadline: Instant,
}

impl Startup {
    pub fn new() -> Startup {
        let (open, closed) = async_channel::bounded(1);
        Startup {
            pending: RefCell::default(),
            scanned: Cell::new(false),
            settled: Cell::new(false),
            open: RefCell::new(Some(open)),
            closed,
            deadline: Instant::now() + SETTLE,
        }
    }

    /// The scan found runner `id` and follows it.
    pub fn expect(&self, id: &str) {
        if !self.scanned.get() {
            self.pending.borrow_mut().insert(id.to_string());
        }
    }

    /// The scan is over: settled at once if it found no runner.
    pub fn scanned(&self) {
        self.scanned.set(true);
        self.check();
    }

    /// Runner `id` replayed what it said (or its follow ended).
    pub fn heard(&self, id: &str) {
        if self.pending.borrow_mut().remove(id) {
            self.check();
        }
    }

    fn check(&self) {
        if self.scanned.get() && self.pending.borrow().is_empty() {
            self.settled.set(true);
            self.open.borrow_mut().take();
        }
    }

    /// Returns once every runner found at start was heard, or `SETTLE`
    /// after the daemon started.
    pub async fn settled(&self) {
        if self.settled.get() || Instant::now() >= self.deadline {
            return;
        }
        let closed = self.closed.clone();
        future::or(
            async {
                let _ = closed.recv().await;
            },
            async {
                Timer::at(self.deadline).await;
            },
        )
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_settled(s: &Startup) -> bool {
        future::block_on(future::or(
            async {
                s.settled().await;
                true
            },
            async { false },
        ))
    }

    #[test]
    fn settled_once_the_scan_is_over_and_every_runner_found_was_heard() {
        let s = Startup::new();
        assert!(!is_settled(&s), "before the scan");
        s.expect("a");
        s.expect("b");
        s.heard("a");
        s.scanned();
        assert!(!is_settled(&s), "b not heard");
        s.heard("b");
        assert!(is_settled(&s));
        s.expect("c");
        assert!(is_settled(&s), "found after the scan: not waited for");
    }

    #[test]
    fn an_empty_scan_settles_at_once() {
        let s = Startup::new();
        s.scanned();
        assert!(is_settled(&s));
    }
}
