//! What the daemon has still to write, and in which batches: the pure
//! queue behind `disk.rs`.
//!
//! The core asks for three kinds of write: a dead record (then, once it is
//! on disk, the leftovers it could be rebuilt from go), a live session's
//! input state, and a removal (a forgotten or pruned record, or the
//! leftovers of a record already saved). Each session has one slot: a
//! write asked while an earlier one for the same session still waits
//! replaces it ([`Saver::push`] says how), so a record that changed twice
//! before the disk got to it is written once, as it is now. The writer
//! takes everything waiting as one [`Saver::take`] batch — written, then
//! fsynced, then renamed, so N records cost one pass rather than N
//! round trips — and asks for the next only when that one is done, so a
//! session's writes land in the order they were asked. Writes are counted
//! as they are asked; [`Saver::finished`] says up to which count every
//! write is done, which is what `Daemon::flushed` waits for.

use super::live::Saved;
use crate::protocol::Record;
use std::collections::BTreeMap;

/// One write the core asked for.
#[derive(Debug, PartialEq)]
pub enum Write {
    /// A dead record, then the session's exit file and input state.
    Record(Box<Record>),
    /// A live session's input state (`live.rs`).
    Input { id: String, saved: Box<Saved> },
    /// The session's exit file and input state, and with `record` its
    /// saved record.
    Remove { id: String, record: bool },
}

impl Write {
    pub fn id(&self) -> &str {
        match self {
            Write::Record(record) => &record.id,
            Write::Input { id, .. } | Write::Remove { id, .. } => id,
        }
    }
}

/// Writes in one batch at most: each holds a temp file open until its
/// rename, and the daemon's descriptors are for its runners and clients.
pub const MAX_BATCH: usize = 64;

#[derive(Default)]
pub struct Saver {
    /// What each session has still to be written, not yet taken.
    waiting: BTreeMap<String, Write>,
    /// A batch is being written.
    busy: bool,
    /// Writes asked so far.
    asked: u64,
    /// Every write asked up to this count is in the batch being written
    /// (or an earlier one).
    taken: u64,
    /// Every write asked up to this count is done.
    done: u64,
}

impl Saver {
    /// Queues `write`, in place of what its session still waited for —
    /// except that a record waiting stays ahead of input state (a dead
    /// session has none to keep) and of its leftovers' removal (its own
    /// save removes them, once it is on disk).
    pub fn push(&mut self, write: Write) {
        self.asked += 1;
        let keep = matches!(
            (self.waiting.get(write.id()), &write),
            (
                Some(Write::Record(_)),
                Write::Input { .. } | Write::Remove { record: false, .. }
            )
        );
        if !keep {
            self.waiting.insert(write.id().to_string(), write);
        }
    }

    /// The next batch, if none is being written and something waits.
    pub fn take(&mut self) -> Option<Vec<Write>> {
        if self.busy || self.waiting.is_empty() {
            return None;
        }
        let ids: Vec<String> = self.waiting.keys().take(MAX_BATCH).cloned().collect();
        let batch = ids
            .iter()
            .filter_map(|id| self.waiting.remove(id))
            .collect();
        self.busy = true;
        if self.waiting.is_empty() {
            self.taken = self.asked;
        }
        Some(batch)
    }

    /// The batch taken is written; every write asked up to the count
    /// returned is done.
    pub fn finished(&mut self) -> u64 {
        self.busy = false;
        self.done = self.taken;
        self.done
    }

    /// How many writes were asked so far (a ticket for `done`).
    pub fn asked(&self) -> u64 {
        self.asked
    }

    /// Every write asked up to this count is done.
    pub fn done(&self) -> u64 {
        self.done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, title: &str) -> Write {
        Write::Record(Box::new(Record {
            id: id.into(),
            title: title.into(),
            ..Record::default()
        }))
    }

    fn input(id: &str, pending: u64) -> Write {
        let saved = Saved {
            pending: Some(pending),
            ..Saved::default()
        };
        Write::Input {
            id: id.into(),
            saved: Box::new(saved),
        }
    }

    fn remove(id: &str, record: bool) -> Write {
        let id = id.into();
        Write::Remove { id, record }
    }

    #[test]
    fn one_slot_per_session() {
        // (writes pushed for one session, the one written)
        let cases = [
            (vec![record("a", "1"), record("a", "2")], record("a", "2")),
            (vec![input("a", 1), input("a", 2)], input("a", 2)),
            (vec![input("a", 1), record("a", "1")], record("a", "1")),
            (vec![record("a", "1"), input("a", 1)], record("a", "1")),
            (vec![record("a", "1"), remove("a", false)], record("a", "1")),
            (vec![record("a", "1"), remove("a", true)], remove("a", true)),
            (vec![input("a", 1), remove("a", false)], remove("a", false)),
            (vec![remove("a", false), record("a", "1")], record("a", "1")),
        ];
        for (pushed, written) in cases {
            let mut saver = Saver::default();
            pushed.into_iter().for_each(|w| saver.push(w));
            assert_eq!(saver.take(), Some(vec![written]));
        }
    }

    #[test]
    fn one_batch_at_a_time_each_write_once() {
        let mut saver = Saver::default();
        for k in 0..3 {
            saver.push(record(&format!("s{k}"), "dead"));
        }
        let first = saver.take().expect("a batch");
        assert_eq!(first.len(), 3);
        assert_eq!(saver.take(), None, "one batch at a time");
        // Asked while the first is written: the next batch, after it.
        saver.push(record("s1", "again"));
        saver.push(record("s1", "and again"));
        assert_eq!(saver.take(), None);
        assert_eq!(saver.finished(), 3, "the later ones are not done");
        assert_eq!(saver.take(), Some(vec![record("s1", "and again")]));
        assert_eq!(saver.finished(), 5);
        assert_eq!((saver.take(), saver.done()), (None, saver.asked()));
    }

    #[test]
    fn a_big_burst_goes_in_bounded_batches() {
        let mut saver = Saver::default();
        for k in 0..(MAX_BATCH + 10) {
            saver.push(record(&format!("s{k:03}"), "dead"));
        }
        assert_eq!(saver.take().map(|b| b.len()), Some(MAX_BATCH));
        assert_eq!(saver.finished(), 0, "not all of them are done");
        assert_eq!(saver.take().map(|b| b.len()), Some(10));
        assert_eq!(saver.finished(), (MAX_BATCH + 10) as u64);
    }
}
