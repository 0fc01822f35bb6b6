//! Dead records the user is done with: `forget` drops one, `resumed`
//! marks one whose conversation `amux resume` took up again.
//!
//! Both refuse a live session (409): only a dead record is the user's to
//! drop or mark. Forgetting removes the record from memory, then from
//! disk together with whatever the next daemon could rebuild it from (the
//! runner's exit file, the saved live state), through the one disk queue,
//! so it lands after any save of that record still pending. The answer
//! waits for the disk: a daemon restarted right after `amux forget` has
//! forgotten it too. A mark is a change of the record, saved like a new
//! one (`retry_saves`).

use super::Daemon;
use crate::daemon::live;
use crate::paths;

/// Why a dead record could not be forgotten or marked.
pub struct Refused(pub String);

impl Daemon {
    /// Drops the dead record `id`, from memory and disk.
    pub async fn forget(&self, id: &str) -> Result<(), Refused> {
        self.dead_only(id)?;
        self.store.borrow_mut().dead.remove(id);
        self.journal.borrow_mut().forget(id);
        self.unsaved.borrow_mut().remove(id);
        let gone = id.to_string();
        let removed = self
            .disk
            .run(move || {
                crate::daemon::persist::remove(&gone);
                let _ = std::fs::remove_file(paths::session_exit_file(&gone));
                live::remove(&gone);
                Ok(())
            })
            .await;
        if let Err(e) = removed {
            self.log(&format!("session {id}: cannot remove its record: {e}"));
        }
        self.log(&format!("session {id}: forgotten"));
        Ok(())
    }

    /// Marks the dead record `id` as resumed, now, and saves it.
    pub async fn mark_resumed(&self, id: &str) -> Result<(), Refused> {
        self.dead_only(id)?;
        if let Some(record) = self.store.borrow_mut().dead.get_mut(id) {
            record.resumed_at = Some(crate::timefmt::now());
        }
        self.unsaved.borrow_mut().insert(id.to_string());
        self.retry_saves().await;
        Ok(())
    }

    fn dead_only(&self, id: &str) -> Result<(), Refused> {
        if self.is_live(id) {
            return Err(Refused(format!(
                "session {id} is still running: 'amux kill {id}' ends it first"
            )));
        }
        if !self.store.borrow().dead.contains_key(id) {
            return Err(Refused(format!("no dead session {id}")));
        }
        Ok(())
    }
}
