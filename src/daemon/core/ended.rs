//! How sessions end, and the records that must survive whatever the
//! daemon was doing at the time.
//!
//! A session ends when its agent exits (the runner's `exit` event), when
//! its runner's stream ends or its socket goes, or — found at a daemon's
//! start — when it ended while no daemon ran. In every case the dead
//! record is what the session was at its end (title, file, source, exit
//! status): its file's last lines are read first (`Effect::ReadMore`,
//! then `Continuation::Buried`), it is published once and removed from the live
//! view, then saved to the state dir; only once it is on disk are the
//! runner's exit file and the daemon's own live state for it deleted
//! (`save_dead` in the shell), so until then the next daemon can still
//! rebuild it from them. A runner writes `<id>.exit` (its final `meta`)
//! before its socket goes; a runner that was SIGKILLed writes nothing, and
//! then the daemon's saved live state (the runner's first `meta`, the
//! file) makes a record with an unknown exit status.

use super::{Continuation, Core, Effect, Now, Published, Unseen};
use crate::adapters::{Kind, Place};
use crate::attribution::{Binding, Input, Source};
use crate::daemon::live::Saved;
use crate::daemon::store::{Entry, Held};
use crate::protocol::{self, Meta, Record};
use std::path::PathBuf;

impl Core {
    /// The runner is gone or its agent exited; `exit` is its exit file.
    pub(super) fn runner_gone(&mut self, id: &str, exit: Option<Box<Meta>>, now: Now) {
        let Some(entry) = self.store.live.get_mut(id) else {
            return;
        };
        // The exit status its `exit` event would have said (missed while
        // the daemon restarted, or the socket went first).
        if let Some(meta) = exit {
            if entry.exit_code.is_none() {
                entry.exit_code = meta.exit_code;
            }
            if let Some(at) = meta.exited_at {
                entry.exited_at.get_or_insert(at);
            }
        }
        // Read what the agent wrote last before letting go of its file.
        if let Some(file) = self.engine.binding(id).map(|b| b.file.clone()) {
            if self.files.contains_key(&file) {
                self.out.push(Effect::ReadMore(file));
            }
        }
        self.then(Continuation::Buried { id: id.to_string() });
        let _ = now;
    }

    /// Its last lines are read: the live session becomes a dead record.
    pub(super) fn buried(&mut self, id: &str, now: Now) {
        let Some(mut entry) = self.store.live.remove(id) else {
            return;
        };
        entry.alive = false;
        entry.input.pending = None;
        if entry.exited_at.is_none() {
            entry.exited_at = Some(crate::timefmt::format_ms(now.ms));
        }
        let record = self.render(&entry);
        self.release_roots(&entry.watched);
        let decisions = self.engine.apply(Input::Died { sid: id.into() }, now.ms);
        self.apply(decisions, now);
        self.dirty.retain(|d| d != id);
        self.bury(id, record, now);
        let _ = self.engine.forget(id);
    }

    /// Keeps a dead record: in the store, told to subscribers, and on
    /// disk (then what the next daemon would have rebuilt it from goes).
    fn bury(&mut self, id: &str, record: Record, now: Now) {
        self.log(format!("session {id}: ended"));
        let text = protocol::to_json(&record);
        self.out.push(Effect::Publish(Published::Session(text)));
        let removed = protocol::to_json(&protocol::Removed { id: id.to_string() });
        self.out.push(Effect::Publish(Published::Remove(removed)));
        self.journal
            .note(&record, &crate::timefmt::format_millis(now.ms));
        self.sides.remove(id);
        self.store.dead.insert(id.to_string(), record);
        // Not on disk until the shell says so (`Event::Saved`).
        self.unsaved.insert(id.to_string());
        self.prune_dead();
        self.save(id);
    }

    /// Forgets the oldest dead records past `MAX_DEAD`, files included.
    pub(super) fn prune_dead(&mut self) {
        let old = self.store.prune_dead();
        for id in &old {
            self.unsaved.remove(id);
            self.saving.remove(id);
            self.journal.forget(id);
            self.out.push(Effect::Remove {
                id: id.clone(),
                record: true,
            });
        }
        if !old.is_empty() {
            self.log(format!("forgot the {} oldest dead sessions", old.len()));
        }
    }

    /// Queues a save of every dead record not on disk yet and not being
    /// saved now: one that could not be saved (a full disk, a read-only
    /// state dir) stays in memory, with the failure shown to `amux ls`,
    /// and is tried again at the next listing or once another record is
    /// saved — never at every session's end, which on a full disk would
    /// write every record again for each one that ends.
    pub(super) fn save_all(&mut self) {
        let waiting: Vec<String> = (self.unsaved.difference(&self.saving).cloned()).collect();
        for id in waiting {
            self.save(&id);
        }
    }

    /// Queues a save of the dead record `id` as it is now (the shell's
    /// queue writes only the last one asked of a record).
    pub(super) fn save(&mut self, id: &str) {
        let Some(record) = self.store.dead.get(id).cloned() else {
            self.unsaved.remove(id);
            return;
        };
        self.saving.insert(id.to_string());
        self.out.push(Effect::SaveDead(Box::new(record)));
    }

    /// A save finished: of the record as it is now, or of one a later
    /// change overtook (whose own save is queued, and says the rest).
    pub(super) fn saved(&mut self, record: &Record, error: Option<std::io::Error>) {
        let id = record.id.as_str();
        if self.store.dead.get(id) != Some(record) {
            return;
        }
        self.saving.remove(id);
        if let Some(e) = error {
            let warning = format!(
                "cannot save session records in {}: {e}; kept in memory only",
                self.state_dir.display()
            );
            if !self.warnings.contains_key("state") {
                self.log(warning.clone());
            }
            self.warnings.insert("state", warning);
            return;
        }
        self.unsaved.remove(id);
        if self.warnings.contains_key("state") {
            if self.unsaved.is_empty() {
                self.warnings.remove("state");
                self.log("session records are saved again".into());
            } else {
                // There is room again: the others need not wait for a listing.
                self.save_all();
            }
        }
    }

    /// A session whose runner is gone without the daemon seeing it go: its
    /// exit file appeared, or a daemon starting found its exit file or its
    /// saved live state with no runner behind it. A live session takes the
    /// exit file when its runner goes; a dead record missing its status
    /// takes it now; otherwise it becomes a dead record.
    pub(super) fn gone_unseen(&mut self, unseen: Box<Unseen>, now: Now) {
        let id = unseen.id.as_str();
        if self.store.live.contains_key(id) || unseen.socket {
            // Its runner still runs or lingers: following it ends it.
            return;
        }
        if unseen.exit.is_none() && unseen.saved.is_none() {
            return;
        }
        let record = match self.store.dead.get(id).cloned() {
            Some(mut record) => {
                let code = unseen.exit.as_ref().and_then(|m| m.exit_code);
                match code.filter(|_| record.exit_code.is_none()) {
                    Some(code) => record.exit_code = Some(code),
                    None => return self.forget_leftovers(id),
                }
                record
            }
            None => match self.record_unseen(&unseen) {
                Some(record) => record,
                None => return self.forget_leftovers(id),
            },
        };
        let id = id.to_string();
        self.bury(&id, record, now);
    }

    /// What a session that is already a dead record left behind — once
    /// the record is on disk (until then it is what rebuilds it).
    fn forget_leftovers(&mut self, id: &str) {
        if !self.unsaved.contains(id) {
            let (id, record) = (id.to_string(), false);
            self.out.push(Effect::Remove { id, record });
        }
    }

    /// A dead record for a session that ended while no daemon watched:
    /// from its runner's final `meta` (or, without one, the first `meta` a
    /// daemon kept, with the exit status unknown) and the file it held.
    fn record_unseen(&mut self, unseen: &Unseen) -> Option<Record> {
        let (meta, file) = unseen_plan(&unseen.exit, &unseen.saved)?;
        let mut entry = Entry::new(&unseen.id);
        entry.apply_meta(&meta);
        entry.alive = false;
        let binding = file.map(|(file, source)| {
            if let Some((derived, written_ms)) = &unseen.file {
                entry.set_derived(derived.clone());
                entry.written_ms = *written_ms;
                entry.derived_from = Some(file.clone());
            }
            Binding {
                file,
                source,
                since: crate::timefmt::parse_epoch(&entry.started_at).unwrap_or(0) * 1000,
            }
        });
        let id = &unseen.id;
        self.log(format!("session {id}: ended while no daemon watched"));
        Some(entry.record(Held {
            binding: binding.as_ref(),
            last_file: binding.as_ref().map(|b| b.file.as_path()),
            owner: true,
        }))
    }
}

/// What a session that went unseen is rebuilt from: the runner's final
/// `meta` (or the first one a daemon kept, its exit status unknown), and
/// the file it held with its source, if any.
pub fn unseen_plan(
    exit: &Option<Meta>,
    saved: &Option<Saved>,
) -> Option<(Meta, Option<(PathBuf, Source)>)> {
    let meta = match exit {
        Some(meta) => meta.clone(),
        None => Meta {
            exit_code: None,
            ..saved.as_ref()?.meta.clone()?
        },
    };
    let from_runner = meta.session_file.clone().map(|f| {
        let source = meta.session_file_source.unwrap_or_default().source();
        (f, source)
    });
    let from_daemon = saved
        .as_ref()
        .and_then(|s| Some((s.file.clone()?, s.source?)));
    Some((meta, from_daemon.or(from_runner)))
}

/// The fold and place `meta`'s file is read with.
pub fn unseen_reader(meta: &Meta) -> (Kind, Place) {
    let kind = meta.kind.as_deref().map_or(Kind::SHELL, Kind::named);
    let place = Place {
        cwd: meta.cwd.clone(),
        config_dir: meta.config_dir.clone(),
    };
    (kind, place)
}
