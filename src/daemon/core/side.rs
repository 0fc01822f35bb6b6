//! What the daemon keeps for a live session besides its record: the
//! bookkeeping of publishing, saving and looking at its sources.
//!
//! One [`Side`] per session, in one map owned by the daemon, created on
//! first use and dropped whole when the session ends — so nothing about an
//! ended session lingers in a side table that an ending forgot to clear.

use super::super::live::Saved;
use super::Daemon;
use std::time::Instant;

#[derive(Default)]
pub struct Side {
    /// The record's JSON as last published (publish only changes).
    pub published: Option<String>,
    /// The input state as last saved (see `live.rs`).
    pub saved: Option<Saved>,
    pub checks: Checks,
}

/// The source checks of one session (see `sources.rs`).
#[derive(Default)]
pub struct Checks {
    /// When a check last started: they are throttled.
    pub last: Option<Instant>,
    pub last_guess: Option<Instant>,
    /// A deferred check is scheduled (later triggers ride along).
    pub scheduled: bool,
    /// A check is under way off the executor; `again`: a trigger came
    /// meanwhile, so it looks once more when done.
    pub running: bool,
    pub again: bool,
    /// An odd report (an unknown status value) was logged already.
    pub noted_odd: bool,
}

impl Daemon {
    /// `f` on session `id`'s side state, created if it has none.
    pub(super) fn side<R>(&self, id: &str, f: impl FnOnce(&mut Side) -> R) -> R {
        let mut sides = self.sides.borrow_mut();
        f(sides.entry(id.to_string()).or_default())
    }

    /// `f` on session `id`'s side state if it has one.
    pub(super) fn side_if<R>(&self, id: &str, f: impl FnOnce(&Side) -> R) -> Option<R> {
        self.sides.borrow().get(id).map(f)
    }

    /// The session ended: all of its side state goes.
    pub(super) fn forget_side(&self, id: &str) {
        self.sides.borrow_mut().remove(id);
    }
}
