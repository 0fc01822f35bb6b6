//! What deserves a notification: a pure state machine over session
//! records and a clock (milliseconds from any origin), shared by `amux
//! notify` and `amux top`.
//!
//! Each session has a *reason* to call the user, or none: it is waiting,
//! its turn failed, or a finished turn left its reply unread. A change to
//! a new reason starts a grace period; the notification is due when it
//! ends, and is dropped if the reason changes or clears first (a dialog
//! answered at once, an error retried). A reason already told is not told
//! again while it holds, however often the record is republished. A
//! session someone is attached to is being watched: its reason counts as
//! told. The first record of a session is where it stood when we started
//! following it: told, too. `due` hands out every notification due now
//! together (and those due within `MERGE` after), so the shell can merge a
//! burst into one message.

use crate::protocol::Record;
use std::collections::HashMap;

/// Notifications due this close together are handed out as one burst.
pub const MERGE_MS: u64 = 500;

/// Why a session calls the user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    Waiting,
    Error,
    Unread,
}

impl Reason {
    /// `AMUX_STATE`'s value.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Waiting => "waiting",
            Reason::Error => "error",
            Reason::Unread => "unread",
        }
    }

    fn of(record: &Record) -> Option<Reason> {
        if !record.alive {
            return None;
        }
        match record.state().as_str() {
            "waiting" => Some(Reason::Waiting),
            "error" => Some(Reason::Error),
            "unread" => Some(Reason::Unread),
            _ => None,
        }
    }
}

/// One notification, as its outputs need it (agent text unsanitised:
/// each output makes it safe for where it goes).
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    pub id: String,
    pub host: Option<String>,
    pub kind: String,
    pub reason: Reason,
    pub title: String,
    /// What it asks (the tool and its command, or the question), the
    /// error, or nothing for a reply.
    pub text: String,
}

impl Notice {
    fn of(record: &Record, reason: Reason) -> Notice {
        let status = &record.status;
        let text = match reason {
            Reason::Waiting => status.waiting.as_ref().map_or(String::new(), |w| {
                let parts = [w.tool.as_deref(), w.text.as_deref()];
                parts.into_iter().flatten().collect::<Vec<_>>().join(": ")
            }),
            Reason::Error => status.label.clone().unwrap_or_default(),
            Reason::Unread => String::new(),
        };
        Notice {
            id: record.id.clone(),
            host: record.host.clone(),
            kind: record.kind.clone().unwrap_or_default(),
            reason,
            title: record.title.clone(),
            text,
        }
    }
}

#[derive(Default)]
struct Session {
    /// Its reason in its last record.
    reason: Option<Reason>,
    /// The reason last told (or seen by the user): not told again.
    told: Option<Reason>,
    /// A notification waiting out its grace: due then.
    pending: Option<(u64, Notice)>,
}

pub struct Decider {
    grace_ms: u64,
    sessions: HashMap<String, Session>,
}

impl Decider {
    pub fn new(grace_ms: u64) -> Decider {
        Decider {
            grace_ms,
            sessions: HashMap::new(),
        }
    }

    /// A session's record, received at `now`.
    pub fn record(&mut self, record: &Record, now: u64) {
        let reason = Reason::of(record);
        let first = !self.sessions.contains_key(&record.id);
        let s = self.sessions.entry(record.id.clone()).or_default();
        let watched = record.attachers > 0 || first;
        if reason != s.reason || watched {
            s.pending = None;
        }
        if reason.is_none() {
            s.told = None;
        }
        if watched {
            s.told = reason;
        } else if reason != s.reason && reason.is_some() && reason != s.told {
            s.pending = reason.map(|r| (now + self.grace_ms, Notice::of(record, r)));
        } else if let (Some((due, _)), Some(r)) = (&s.pending, reason) {
            // The same reason, said better (the question filled in).
            s.pending = Some((*due, Notice::of(record, r)));
        }
        s.reason = reason;
    }

    /// The session left the live view.
    pub fn remove(&mut self, id: &str) {
        self.sessions.remove(id);
    }

    /// When the next notification is due, if one is pending.
    pub fn next_due(&self) -> Option<u64> {
        let pending = self.sessions.values().filter_map(|s| s.pending.as_ref());
        pending.map(|(due, _)| *due).min()
    }

    /// Every notification due by `now` (and within `MERGE_MS` after), in
    /// the order they became due; each is then told.
    pub fn due(&mut self, now: u64) -> Vec<Notice> {
        let mut out: Vec<(u64, Notice)> = Vec::new();
        if self.next_due().is_none_or(|d| d > now) {
            return Vec::new();
        }
        for s in self.sessions.values_mut() {
            if s.pending
                .as_ref()
                .is_some_and(|(d, _)| *d <= now + MERGE_MS)
            {
                let (due, notice) = s.pending.take().expect("pending");
                s.told = Some(notice.reason);
                out.push((due, notice));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.id.cmp(&b.1.id)));
        out.into_iter().map(|(_, n)| n).collect()
    }
}

#[cfg(test)]
mod tests;
