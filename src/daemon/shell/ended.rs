//! The facts a session's end is decided on: its runner's exit file, the
//! input state a previous daemon saved, and — for a session that ended
//! while no daemon watched — the file it held, read whole.

use super::files::written_ms;
use super::Daemon;
use crate::daemon::core::{self, Event, Unseen};
use crate::daemon::live;
use crate::paths;
use crate::protocol::Meta;
use std::rc::Rc;

/// The runner's exit file, if it wrote one: its final `meta`.
fn exit_file(id: &str) -> Option<Meta> {
    let bytes = std::fs::read(paths::session_exit_file(id)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

impl Daemon {
    /// The runner's stream ended or its socket went: the session is dead.
    pub fn runner_gone(self: &Rc<Self>, id: &str) {
        if !self.is_live(id) {
            return;
        }
        let exit = exit_file(id).map(Box::new);
        self.dispatch(Event::Gone {
            id: id.to_string(),
            exit,
        });
    }

    /// A session whose runner is gone without the daemon seeing it go (see
    /// `core/ended.rs`).
    pub fn gone_unseen(self: &Rc<Self>, id: &str) {
        if self.is_live(id) {
            return;
        }
        let socket = paths::session_socket(id).exists();
        let exit = exit_file(id);
        let saved = live::load(id);
        if socket || (exit.is_none() && saved.is_none()) {
            return;
        }
        // A record to make: what its file says, read whole.
        let plan = (!self.is_known(id))
            .then(|| core::unseen_plan(&exit, &saved))
            .flatten();
        let file = plan.and_then(|(meta, file)| {
            let (path, _) = file?;
            let (kind, place) = core::unseen_reader(&meta);
            let mut conversation = kind.open(path.clone(), &place);
            conversation.read(u64::MAX);
            Some((conversation.derived().clone(), written_ms(&path)))
        });
        let unseen = Unseen {
            id: id.to_string(),
            socket,
            exit,
            saved,
            file,
        };
        self.dispatch(Event::Unseen(Box::new(unseen)));
    }
}
