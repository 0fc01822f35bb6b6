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
//!
//! What cannot be read is never passed over in silence: a line too long
//! to read ([`Line::TooLong`]) goes to the fold as a skipped line, and a
//! file that cannot be opened or is not a regular file (a mode that keeps
//! us out, a directory or FIFO where the file should be) is told in the
//! derived state ([`Derived::unknown`]) until a read succeeds. A file
//! that does not exist is not yet written (pi's extension names a file
//! before pi writes it): nothing to read, nothing wrong.

use super::{Derived, Kind, Place, Tracker};
use crate::daemon::follow::{Follower, Line};
use std::io;
use std::path::PathBuf;

/// A conversation being followed.
pub trait Conversation: Send {
    /// Reads what changed since the last read, about `budget` bytes at
    /// most: whether anything new was read, and whether more is left.
    /// What it could not read it says in `derived().unknown`.
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
            let polled = follower.poll_budget(
                &mut |line| match line {
                    Line::Whole(line) => tracker.feed(line),
                    Line::TooLong(bytes) => tracker.skip(bytes),
                },
                budget,
            );
            match polled {
                Ok(p) if p.truncated => tracker.reset(),
                Ok(p) => {
                    tracker.unreadable(None);
                    more = p.more;
                    break;
                }
                Err(err) => {
                    tracker.unreadable(why(&err));
                    break;
                }
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

/// Why a conversation cannot be read, in a few words; `None` when it
/// does not exist (not written yet).
fn why(err: &io::Error) -> Option<String> {
    let loops = rustix::io::Errno::LOOP.raw_os_error();
    Some(match err.kind() {
        io::ErrorKind::NotFound => return None,
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        // `paths::open_untrusted`: a directory, a FIFO, a socket.
        io::ErrorKind::InvalidInput => "not a regular file".into(),
        _ if err.raw_os_error() == Some(loops) => "a symbolic link, not followed".into(),
        _ => err.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch::Scratch;

    fn open(path: PathBuf) -> JsonlConversation {
        let place = Place {
            cwd: "/w".into(),
            config_dir: None,
        };
        JsonlConversation::new(path, Kind::PI, &place)
    }

    fn unknown(c: &JsonlConversation) -> Option<String> {
        c.derived().unknown.as_ref().map(|u| u.short())
    }

    #[test]
    fn a_file_that_cannot_be_read_says_why_and_a_missing_one_says_nothing() {
        let dir = Scratch::new("unreadable");
        let path = dir.0.join("s.jsonl");
        let mut c = open(path.clone());
        c.read(u64::MAX);
        assert_eq!(unknown(&c), None, "not written yet");
        std::fs::create_dir(&path).unwrap();
        c.read(u64::MAX);
        let not_regular = Some("unreadable: not a regular file".to_string());
        assert_eq!(unknown(&c), not_regular, "a directory");
        std::fs::remove_dir(&path).unwrap();
        let (fifo, mode) = (rustix::fs::FileType::Fifo, rustix::fs::Mode::RUSR);
        rustix::fs::mknodat(rustix::fs::CWD, &path, fifo, mode, 0).unwrap();
        c.read(u64::MAX);
        assert_eq!(unknown(&c), not_regular, "a FIFO, opened without blocking");
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink(dir.0.join("elsewhere"), &path).unwrap();
        c.read(u64::MAX);
        let link = Some("unreadable: a symbolic link, not followed".to_string());
        assert_eq!(unknown(&c), link);
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, b"{\"type\":\"session\",\"id\":\"s1\"}\n").unwrap();
        c.read(u64::MAX);
        assert_eq!(unknown(&c), None, "readable again");
        assert_eq!(c.records(), 1);
    }

    #[test]
    fn permission_denied_is_told() {
        let err = io::Error::from(io::ErrorKind::PermissionDenied);
        assert_eq!(why(&err).as_deref(), Some("permission denied"));
        let err = io::Error::from(io::ErrorKind::NotFound);
        assert_eq!(why(&err), None);
    }
}
