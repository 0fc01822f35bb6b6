//! The daemon's own writes (dead records, saved input state, removals),
//! off the executor, in batches, in order.
//!
//! Saving a file means an fsync, which on a busy disk takes tens of
//! milliseconds: on the daemon's one thread that would stall every answer,
//! and one fsync per record makes 200 sessions ending together take
//! seconds. So writes go into one queue (`saver.rs`: one slot per session,
//! each record written once) and one writer task takes what waits as a
//! batch and writes it on a thread of its own (`offload.rs`, [`write`]):
//! every file beside its place, then each fsynced and renamed, then each
//! directory fsynced once, and only then the leftovers of the records now
//! on disk removed (the runner's exit file, the input state: until then
//! they are what the next daemon rebuilds a record from). Nothing answers
//! later for waiting on it: `GET /v1/sessions` never does;
//! [`Disk::flushed`] is for the few answers that promise something is on
//! disk (`send`'s pending input, `forget`).

use super::saver::{Saver, Write};
use super::{live, persist};
use crate::paths::{self, Staged};
use crate::protocol::Record;
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::io;
use std::path::PathBuf;

pub struct Disk {
    saver: RefCell<Saver>,
    /// Wakes the writer (one wake pending is as good as many).
    wake: async_channel::Sender<()>,
    woken: async_channel::Receiver<()>,
    /// `flushed` callers: the count of writes each waits for.
    waiters: RefCell<Vec<(u64, async_channel::Sender<()>)>>,
}

/// What a batch did: each record's save, and what else failed (logged).
#[derive(Default)]
pub struct Written {
    pub records: Vec<(Box<Record>, io::Result<()>)>,
    pub failed: Vec<(String, io::Error)>,
}

impl Disk {
    pub fn new() -> Disk {
        let (wake, woken) = async_channel::bounded(1);
        Disk {
            saver: RefCell::new(Saver::default()),
            wake,
            woken,
            waiters: RefCell::new(Vec::new()),
        }
    }

    /// Queues `write` for the writer.
    pub fn push(&self, write: Write) {
        self.saver.borrow_mut().push(write);
        let _ = self.wake.try_send(());
    }

    /// The next batch to write, once there is one (the writer's).
    pub async fn next(&self) -> Vec<Write> {
        loop {
            if let Some(batch) = self.saver.borrow_mut().take() {
                return batch;
            }
            let _ = self.woken.recv().await;
        }
    }

    /// The batch from `next` is written: wakes whoever waited for it.
    pub fn finished(&self) {
        let done = self.saver.borrow_mut().finished();
        self.waiters.borrow_mut().retain(|(ticket, tx)| {
            let woken = *ticket <= done;
            if woken {
                let _ = tx.try_send(());
            }
            !woken
        });
        // More may have come meanwhile.
        let _ = self.wake.try_send(());
    }

    /// Returns once every write queued so far is done (or failed).
    pub async fn flushed(&self) {
        let ticket = self.saver.borrow().asked();
        if self.saver.borrow().done() >= ticket {
            return;
        }
        let (tx, rx) = async_channel::bounded(1);
        self.waiters.borrow_mut().push((ticket, tx));
        let _ = rx.recv().await;
    }
}

/// Writes `batch` (blocking: run it off the executor).
pub fn write(batch: Vec<Write>) -> Written {
    let mut written = Written::default();
    let mut staged: Vec<(Option<Box<Record>>, String, Staged)> = Vec::new();
    let mut removals = Vec::new();
    for write in batch {
        match write {
            Write::Record(record) => match persist::stage(&record) {
                Ok(file) => staged.push((Some(record), String::new(), file)),
                Err(e) => written.records.push((record, Err(e))),
            },
            Write::Input { id, saved } => match live::stage(&id, &saved) {
                Ok(file) => staged.push((None, id, file)),
                Err(e) => written.failed.push((input_failed(&id), e)),
            },
            Write::Remove { id, record } => removals.push((id, record)),
        }
    }
    let mut dirs = BTreeSet::new();
    let mut saved = Vec::new();
    for (record, id, file) in staged {
        let result = file.sync().and_then(|()| file.commit());
        match (record, result) {
            (Some(record), Ok(())) => {
                dirs.insert(persist::dir());
                saved.push(record);
            }
            (Some(record), Err(e)) => written.records.push((record, Err(e))),
            (None, Ok(())) => drop(dirs.insert(live::dir())),
            (None, Err(e)) => written.failed.push((input_failed(&id), e)),
        }
    }
    // The renames on disk, one fsync per directory.
    for dir in dirs {
        if let Err(e) = sync_dir(&dir) {
            written
                .failed
                .push((format!("cannot sync {}", dir.display()), e));
        }
    }
    for record in saved {
        remove_leftovers(&record.id);
        written.records.push((record, Ok(())));
    }
    for (id, record) in removals {
        if record {
            persist::remove(&id);
        }
        remove_leftovers(&id);
    }
    written
}

fn input_failed(id: &str) -> String {
    format!("session {id}: cannot save its input state")
}

fn sync_dir(dir: &PathBuf) -> io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// What a record is rebuilt from: the runner's exit file, the input state.
fn remove_leftovers(id: &str) {
    let _ = std::fs::remove_file(paths::session_exit_file(id));
    live::remove(id);
}
