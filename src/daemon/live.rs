//! What the daemon knows of a live session that no runner replays: the
//! input it owes an answer to and the replies the user has read.
//!
//! Attribution and the conversation's state come back after a restart from
//! the runners' replay and the files; these few facts came only from the
//! daemon's own bookkeeping, so a restart lost them (`wait --until idle`
//! after `send` returned at once; read replies came back unread). They are
//! kept as `<runtime>/daemon/<id>.json` (0600; the runtime dir is private
//! and usually memory-backed), written when they change, read when the
//! session's runner is found again, and removed when the session dies.

use crate::attribution::Source;
use crate::protocol::Meta;
use serde::{Deserialize, Serialize};
use std::io;
use std::path::PathBuf;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Saved {
    /// Submitted input awaiting an answer: the turns ended when it went in.
    pub pending: Option<u64>,
    /// Submitted inputs the runner had counted (its `meta.submitted`).
    pub submitted: u64,
    /// When input was last submitted (epoch ms): it decides which of the
    /// sessions on one conversation owns its turns.
    pub submitted_ms: Option<i64>,
    /// Turns the user has seen.
    pub read_upto: u64,
    /// The last input was a command the agent said it took (see
    /// `InputState::settled`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub settled: bool,
    /// A conversation switched to: written before this (epoch ms), it is
    /// history (see `Entry::history`).
    pub history_before: Option<i64>,
    /// The file those counts are of, and how it was learned: a file only
    /// the daemon found (Claude's pidfile, Codex's fd) is not replayed by
    /// the runner, and an agent that ended meanwhile can no longer show it.
    pub file: Option<PathBuf>,
    pub source: Option<Source>,
    /// Since when it held that file (epoch ms): a daemon that comes back
    /// dates the conversation from then, not from its own start.
    pub since: Option<i64>,
    /// The runner's `meta` as first seen: what a dead record is made of
    /// if the runner is killed while no daemon runs.
    pub meta: Option<Meta>,
}

pub fn dir() -> PathBuf {
    crate::paths::runtime_dir().join("daemon")
}

fn path(id: &str) -> PathBuf {
    dir().join(format!("{id}.json"))
}

/// The state's file written beside its place, to be fsynced and renamed
/// (`disk.rs` does each step for a whole batch).
pub fn stage(id: &str, saved: &Saved) -> io::Result<crate::paths::Staged> {
    crate::paths::ensure_private_dir(&dir())?;
    let bytes = serde_json::to_vec(saved).map_err(io::Error::other)?;
    crate::paths::Staged::write(&path(id), &bytes)
}

pub fn load(id: &str) -> Option<Saved> {
    let bytes = std::fs::read(path(id)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

pub fn remove(id: &str) {
    let _ = std::fs::remove_file(path(id));
}

/// The ids of every session with saved state.
pub fn ids() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir()) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let id = name.strip_suffix(".json")?;
            crate::id::is_valid(id).then(|| id.to_string())
        })
        .collect()
}
