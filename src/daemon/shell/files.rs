//! The followed files' bytes: one `Conversation` per file (the adapter's
//! reader of its format: complete JSON lines through its fold, for most),
//! read when the core asks and told back to it as `Event::Read`.
//!
//! Up to `SYNC_BUDGET` bytes are read on the executor; the rest of a
//! bigger read (a long conversation followed from its start) runs on a
//! thread of its own (`offload.rs`) with the slot's reader, so the daemon
//! keeps answering.
//! A change meanwhile sets `again` and is read after; `gen` tells a slot
//! made anew (released and followed again) from the one a read began on.

use super::Daemon;
use crate::adapters::{Conversation, Kind, Place};
use crate::daemon::core::{Event, Read};
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// Bytes a file is read on the executor at a time (parsing 1 MiB of JSON
/// lines takes a few milliseconds).
const SYNC_BUDGET: u64 = 1 << 20;

/// A conversation being followed (the adapter's reader of its format).
type Followed = Box<dyn Conversation>;

/// A followed file. `followed` is `None` while the rest of a big read
/// runs off the executor.
pub struct FileSlot {
    followed: Option<Followed>,
    again: bool,
    gen: u64,
}

/// The file's mtime in epoch ms, if it exists.
pub fn written_ms(path: &Path) -> Option<i64> {
    let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok()?;
    Some(crate::timefmt::epoch_ms(modified))
}

fn event(path: &Path, followed: &dyn Conversation, grew: bool, first: bool) -> Event {
    let linked = first
        && path
            .parent()
            .is_some_and(|dir| std::fs::canonicalize(dir).is_ok_and(|real| real != dir));
    Event::Read(Box::new(Read {
        path: path.to_path_buf(),
        derived: followed.derived().clone(),
        lines: followed.records(),
        grew,
        written_ms: written_ms(path),
        linked,
        first,
    }))
}

impl Daemon {
    /// Follows `path` from its start and tells the core its first read.
    pub(super) fn follow_file(self: &Rc<Self>, path: PathBuf, kind: Kind, place: Place) {
        let mut followed = kind.open(path.clone(), &place);
        let more = followed.read(SYNC_BUDGET).more;
        let read = event(&path, &*followed, true, true);
        let gen = self.file_gen.get() + 1;
        self.file_gen.set(gen);
        let slot = FileSlot {
            followed: Some(followed),
            again: false,
            gen,
        };
        self.files.borrow_mut().insert(path.clone(), slot);
        self.dispatch(read);
        if more {
            self.read_rest(&path);
        }
    }

    pub(super) fn unfollow_file(&self, path: &Path) {
        self.files.borrow_mut().remove(path);
    }

    /// Reads what was appended to a followed file and tells the core.
    pub(super) fn read_file(self: &Rc<Self>, path: &Path) {
        let read = {
            let mut files = self.files.borrow_mut();
            match files.get_mut(path) {
                Some(FileSlot {
                    followed: Some(followed),
                    ..
                }) => {
                    let p = followed.read(SYNC_BUDGET);
                    Some((event(path, &**followed, p.grew, false), p.more))
                }
                // Being read off the executor: read again after.
                Some(slot) => {
                    slot.again = true;
                    None
                }
                None => None,
            }
        };
        if let Some((read, more)) = read {
            self.dispatch(read);
            if more {
                self.read_rest(path);
            }
        }
    }

    /// Reads the rest of a big file off the executor; the core gets
    /// what it says when it is done, and a change meanwhile is read after.
    fn read_rest(self: &Rc<Self>, path: &Path) {
        let (mut followed, gen) = {
            let mut files = self.files.borrow_mut();
            let Some(slot) = files.get_mut(path) else {
                return;
            };
            let Some(followed) = slot.followed.take() else {
                return;
            };
            slot.again = false;
            (followed, slot.gen)
        };
        let (daemon, path) = (self.clone(), path.to_path_buf());
        self.ex
            .spawn(async move {
                let followed = crate::daemon::offload::run(move || {
                    followed.read(u64::MAX);
                    followed
                })
                .await;
                let Some(followed) = followed else {
                    // The reader panicked (a test build: the release one
                    // aborts): the file is read anew at its next change.
                    daemon.files.borrow_mut().remove(&path);
                    return daemon.log(&format!("reading {} failed", path.display()));
                };
                let read = event(&path, &*followed, true, false);
                let again = {
                    let mut files = daemon.files.borrow_mut();
                    match files.get_mut(&path).filter(|s| s.gen == gen) {
                        Some(slot) => {
                            slot.followed = Some(followed);
                            std::mem::take(&mut slot.again)
                        }
                        // Let go of meanwhile: what it said is nobody's.
                        None => return,
                    }
                };
                daemon.dispatch(read);
                if again {
                    daemon.read_file(&path);
                }
            })
            .detach();
    }
}
