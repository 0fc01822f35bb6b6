//! The core's own deadlines: each is an `Effect::Schedule` the shell turns
//! into a `Timer` event when it is due, and each checks on arrival that
//! what it was set for still stands (a timer is never cancelled: it finds
//! its input answered, its report replaced, its session gone).

use super::input::QUIET;
use super::{Core, Effect, Now, Timer};
use std::time::Instant;

impl Core {
    pub(super) fn timer(&mut self, timer: Timer, now: Now) {
        match timer {
            Timer::Quiet { id, token } => self.quiet_check(&id, token, now),
            Timer::Question { id, since_ms } => {
                let overdue = (self.store.live.get_mut(&id))
                    .is_some_and(|e| e.question_overdue(since_ms, now.ms));
                if overdue {
                    self.touch(&id);
                }
            }
            Timer::Check { id } => {
                if let Some(side) = self.sides.get_mut(&id) {
                    side.checks.scheduled = false;
                    self.check(&id, true, now);
                }
            }
        }
    }

    /// Pending input the agent took without starting a turn (a command
    /// such as pi's `/name`, a keystroke a TUI swallowed) would otherwise
    /// read as working forever: once neither the terminal nor the file has
    /// changed for `QUIET` since, the input counts as consumed. The check
    /// belongs to one input (`token`) and re-arms only while the session
    /// keeps changing.
    pub(super) fn schedule_quiet(&mut self, id: &str, token: Instant, at: Instant) {
        let timer = Timer::Quiet {
            id: id.to_string(),
            token,
        };
        self.out.push(Effect::Schedule { at, timer });
    }

    fn quiet_check(&mut self, id: &str, token: Instant, now: Now) {
        let Some(entry) = self.store.live.get_mut(id) else {
            return;
        };
        if entry.input.pending_at != Some(token) || entry.input.pending.is_none() {
            return;
        }
        let due = entry.input.last_change.unwrap_or(token).max(token) + QUIET;
        if now.at < due {
            return self.schedule_quiet(id, token, due);
        }
        entry.input.pending = None;
        self.touch(id);
    }
}
