//! How an agent's conversation is read: the seam between an adapter and
//! the daemon's followed files.
//!
//! The daemon follows a conversation by its path and knows nothing of its
//! format: it asks the adapter to `open` one ([`Conversation`]), calls
//! `read` whenever the file changes (from the blocking pool for big
//! reads, so it is `Send`), and takes the [`Derived`] state it folds to.
//! Most agents append JSON lines: [`JsonlConversation`] follows their
//! file a complete line at a time (`Follower`) through the adapter's
//! [`Lines`] fold, so such an adapter writes only its fold. An agent
//! that keeps a conversation some other way (a whole JSON file rewritten,
//! a row of a database) implements `Conversation` itself.

use super::{Derived, Kind, Place, Tracker};
use crate::daemon::follow::Follower;
use std::path::PathBuf;

/// A conversation being followed.
pub trait Conversation: Send {
    /// Reads what changed since the last read, about `budget` bytes at
    /// most: whether anything new was read, and whether more is left.
    fn read(&mut self, budget: u64) -> Progress;
    /// What everything read so far says.
    fn derived(&self) -> &Derived;
    /// Records (lines) read so far: what `amux explain` counts.
    fn records(&self) -> u64;
}

/// What one `read` did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    pub grew: bool,
    pub more: bool,
}

/// An append-only JSON-lines file through an adapter's fold.
pub struct JsonlConversation {
    follower: Follower,
    tracker: Tracker,
}

impl JsonlConversation {
    pub fn new(path: PathBuf, kind: Kind, place: &Place) -> JsonlConversation {
        JsonlConversation {
            follower: Follower::new(path),
            tracker: Tracker::new(kind, place),
        }
    }
}

impl Conversation for JsonlConversation {
    fn read(&mut self, budget: u64) -> Progress {
        let before = self.follower.offset();
        let JsonlConversation { follower, tracker } = self;
        let mut more = false;
        // A rewritten file is read again from its start, by a fresh fold.
        for _ in 0..2 {
            match follower.poll_budget(&mut |line| tracker.feed(line), budget) {
                Ok(p) if p.truncated => tracker.reset(),
                Ok(p) => {
                    more = p.more;
                    break;
                }
                Err(_) => break,
            }
        }
        let grew = self.follower.offset() != before;
        Progress { grew, more }
    }

    fn derived(&self) -> &Derived {
        self.tracker.derived()
    }

    fn records(&self) -> u64 {
        self.tracker.fed()
    }
}
