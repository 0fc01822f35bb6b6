//! How sessions end: DESIGN §5.2 rule 4, and the records that must
//! survive whatever the daemon was doing at the time.
//!
//! A session ends when its agent exits (the runner's `exit` event), when
//! its runner's stream ends or its socket goes, or — found at a daemon's
//! start — when it ended while no daemon ran. In every case the dead
//! record is what the session was at its end (title, file, source, exit
//! status), published once and then removed from the live view, saved to
//! the state dir, and only then are the runner's exit file and the
//! daemon's own live state for it deleted: until the record is safe, the
//! next daemon can still rebuild it from them. A runner writes
//! `<id>.exit` (its final `meta`) before its socket goes; a runner that was
//! SIGKILLed writes nothing, and then the daemon's saved live state (the
//! runner's first `meta`, the file) makes a record with an unknown exit
//! status.

use super::{now_ms, read_new, Daemon, Followed};
use crate::daemon::journal::{Cause, Signal};
use crate::adapters::Tracker;
use crate::attribution::{Binding, Input};
use crate::daemon::follow::Follower;
use crate::daemon::live;
use crate::daemon::store::{Entry, Held};
use crate::paths;
use crate::protocol::{self, Meta, Record};
use std::rc::Rc;

impl Daemon {
    /// The runner is gone (stream ended, socket removed) or its agent
    /// exited: the session is dead.
    pub fn runner_gone(self: &Rc<Self>, id: &str) {
        if !self.store.borrow().live.contains_key(id) {
            return;
        }
        self.absorb_exit_file(id);
        // Read what the agent wrote last before letting go of its file.
        let held = self.engine.borrow().binding(id).map(|b| b.file.clone());
        if let Some(file) = held {
            self.file_changed(&file);
        }
        let Some(mut entry) = self.store.borrow_mut().live.remove(id) else {
            return;
        };
        entry.alive = false;
        entry.input.pending = None;
        if entry.exited_at.is_none() {
            entry.exited_at = Some(crate::timefmt::now());
        }
        let record = self.render(&entry);
        self.release_roots(&entry.watched);
        let decisions = self.engine.borrow_mut().apply(
            Input::Died {
                sid: id.to_string(),
            },
            now_ms(),
        );
        self.apply(decisions);
        self.bury(id, record);
        let _ = self.engine.borrow_mut().forget(id);
    }

    /// Keeps a dead record: in the store, told to subscribers, and on
    /// disk (then what the next daemon would have rebuilt it from goes).
    fn bury(self: &Rc<Self>, id: &str, record: Record) {
        self.log(&format!("session {id}: ended"));
        self.events.publish("session", &protocol::to_json(&record));
        (self.journal.borrow_mut()).note(&record, &crate::timefmt::now());
        let removed = protocol::Removed { id: id.to_string() };
        self.events.publish("remove", &protocol::to_json(&removed));
        self.forget_side(id);
        self.store.borrow_mut().dead.insert(id.to_string(), record);
        // Not on disk until the writer says so (see `disk.rs`).
        self.unsaved.borrow_mut().insert(id.to_string());
        self.prune_dead();
        let daemon = self.clone();
        self.ex
            .spawn(async move { daemon.retry_saves().await })
            .detach();
    }

    /// Forgets the oldest dead records past `MAX_DEAD`, files included.
    pub fn prune_dead(&self) {
        let old = self.store.borrow_mut().prune_dead();
        for id in &old {
            let id2 = id.clone();
            self.disk.queue(String::new(), move || {
                crate::daemon::persist::remove(&id2);
                Ok(())
            });
            self.unsaved.borrow_mut().remove(id);
        }
        if !old.is_empty() {
            self.log(&format!("forgot the {} oldest dead sessions", old.len()));
        }
    }

    /// Saves the dead records not on disk yet: new ones, and those that
    /// could not be saved (a full disk, a read-only state dir), which stay
    /// in memory, retried at the next save or listing, with the failure
    /// shown to `amux ls` until it clears. Once a record is on disk, what
    /// it was rebuilt from (its exit file, its saved input state) goes.
    pub async fn retry_saves(&self) {
        let ids: Vec<String> = self.unsaved.borrow().iter().cloned().collect();
        for id in ids {
            let Some(record) = self.store.borrow().dead.get(&id).cloned() else {
                self.unsaved.borrow_mut().remove(&id);
                continue;
            };
            let saved = self.disk.run(move || save_dead(&record)).await;
            if let Err(e) = saved {
                let first = !self.warnings.borrow().contains_key("state");
                let warning = format!(
                    "cannot save session records in {}: {e}; kept in memory only",
                    paths::state_dir().display()
                );
                if first {
                    self.log(&warning);
                }
                self.warnings.borrow_mut().insert("state", warning);
                return;
            }
            self.unsaved.borrow_mut().remove(&id);
        }
        if !self.unsaved.borrow().is_empty() {
            return;
        }
        if self.warnings.borrow_mut().remove("state").is_some() {
            self.log("session records are saved again");
        }
    }

    /// The runner's exit file, if it wrote one: its final `meta`.
    fn read_exit_file(id: &str) -> Option<Meta> {
        let bytes = std::fs::read(paths::session_exit_file(id)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Takes the exit status from the runner's exit file into the live
    /// entry when its `exit` event was missed (the daemon was restarting,
    /// or the socket went before the stream was read to its end).
    fn absorb_exit_file(&self, id: &str) {
        let Some(meta) = Self::read_exit_file(id) else {
            return;
        };
        if let Some(entry) = self.store.borrow_mut().live.get_mut(id) {
            if entry.exit_code.is_none() {
                entry.exit_code = meta.exit_code;
            }
            if let Some(at) = meta.exited_at {
                entry.exited_at.get_or_insert(at);
            }
        }
    }

    /// A session whose runner is gone without the daemon seeing it go: its
    /// exit file appeared, or a daemon starting found its exit file or its
    /// saved live state with no runner behind it. A live session takes the
    /// exit file when its runner goes; a dead record missing its status
    /// takes it now; otherwise it becomes a dead record.
    pub fn gone_unseen(self: &Rc<Self>, id: &str) {
        if self.store.borrow().live.contains_key(id) || paths::session_socket(id).exists() {
            // Its runner still runs or lingers: following it ends it.
            return;
        }
        let exit = Self::read_exit_file(id);
        let saved = live::load(id);
        if exit.is_none() && saved.is_none() {
            return;
        }
        let said = match &exit {
            Some(_) => "its runner's exit file, found with no runner",
            None => "no runner, no exit file: ended while no daemon watched",
        };
        let _cause = self.cause(Cause::new(Signal::Exit, said));
        let known = self.store.borrow().dead.get(id).cloned();
        let record = match known {
            Some(mut record) => {
                let code = exit.as_ref().and_then(|m| m.exit_code);
                match code.filter(|_| record.exit_code.is_none()) {
                    Some(code) => record.exit_code = Some(code),
                    None => {
                        return self.forget_leftovers(id);
                    }
                }
                record
            }
            None => match self.record_unseen(id, exit, saved) {
                Some(record) => record,
                None => return self.forget_leftovers(id),
            },
        };
        self.bury(id, record);
    }

    /// What a session that is already a dead record left behind.
    fn forget_leftovers(&self, id: &str) {
        let id = id.to_string();
        self.disk.queue(String::new(), move || {
            let _ = std::fs::remove_file(paths::session_exit_file(&id));
            live::remove(&id);
            Ok(())
        });
    }

    /// A dead record for a session that ended while no daemon watched:
    /// from its runner's final `meta` (or, without one, the first `meta`
    /// a daemon kept, with the exit status unknown) and the file it held.
    fn record_unseen(
        &self,
        id: &str,
        exit: Option<Meta>,
        saved: Option<live::Saved>,
    ) -> Option<Record> {
        let (exit_known, mut meta) = match exit {
            Some(meta) => (true, meta),
            None => (false, saved.as_ref()?.meta.clone()?),
        };
        if !exit_known {
            meta.exit_code = None;
        }
        let mut entry = Entry::new(id);
        entry.apply_meta(&meta);
        entry.alive = false;
        let from_runner = meta.session_file.clone().map(|f| {
            let source = meta.session_file_source.unwrap_or_default().source();
            (f, source)
        });
        let from_daemon = saved.and_then(|s| Some((s.file?, s.source?)));
        let binding = from_daemon.or(from_runner).map(|(file, source)| {
            let mut followed = Followed {
                follower: Follower::new(file.clone()),
                tracker: Tracker::new(entry.kind, &entry.place()),
            };
            read_new(&mut followed, u64::MAX);
            entry.set_derived(followed.tracker.derived().clone());
            Binding {
                file,
                source,
                since: crate::timefmt::parse_epoch(&entry.started_at).unwrap_or(0) * 1000,
            }
        });
        self.log(&format!("session {id}: ended while no daemon watched"));
        Some(entry.record(Held {
            binding: binding.as_ref(),
            last_file: binding.as_ref().map(|b| b.file.as_path()),
            owner: true,
        }))
    }
}

/// A dead record onto disk, then what it was rebuilt from off it.
fn save_dead(record: &Record) -> std::io::Result<()> {
    crate::daemon::persist::save(record)?;
    let _ = std::fs::remove_file(paths::session_exit_file(&record.id));
    live::remove(&record.id);
    Ok(())
}
