//! Dead records the user is done with: `forget` drops one, `resumed`
//! marks one whose conversation `amux resume` took up again, and the
//! runners being followed.
//!
//! Both refuse a live session (409): only a dead record is the user's to
//! drop or mark. Forgetting removes the record from memory, then (the
//! shell, through the one disk queue, so it lands after any save of that
//! record still pending) from disk with whatever the next daemon could
//! rebuild it from. A mark is a change of the record, saved like a new one.

use super::{Core, Effect};

/// Why a dead record could not be forgotten or marked.
pub struct Refused(pub String);

impl Core {
    /// Whether `id` may be forgotten or marked: a dead record.
    pub fn dead_only(&self, id: &str) -> Result<(), Refused> {
        if self.is_live(id) {
            return Err(Refused(format!(
                "session {id} is still running: 'amux kill {id}' ends it first"
            )));
        }
        if !self.store.dead.contains_key(id) {
            return Err(Refused(format!("no dead session {id}")));
        }
        Ok(())
    }

    /// Drops the dead record `id`, from memory and (the shell) disk.
    pub(super) fn forget(&mut self, id: &str) {
        if self.dead_only(id).is_err() {
            return;
        }
        self.store.dead.remove(id);
        self.unsaved.remove(id);
        self.saving.remove(id);
        self.journal.forget(id);
        let (id, record) = (id.to_string(), true);
        self.log(format!("session {id}: forgotten"));
        self.out.push(Effect::Remove { id, record });
    }

    /// Marks the dead record `id` as resumed at `at`, and saves it.
    pub(super) fn mark_resumed(&mut self, id: &str, at: String) {
        if self.dead_only(id).is_err() {
            return;
        }
        if let Some(record) = self.store.dead.get_mut(id) {
            record.resumed_at = Some(at);
        }
        // Saved again, even if a save of it is under way.
        self.unsaved.insert(id.to_string());
        self.save(id);
    }

    /// Marks runner `id` followed; `false` if it already was.
    pub fn start_following(&mut self, id: &str) -> bool {
        self.following.insert(id.to_string())
    }

    pub fn stop_following(&mut self, id: &str) {
        self.following.remove(id);
    }
}
