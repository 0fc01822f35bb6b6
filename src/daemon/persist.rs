//! Dead sessions on disk: `<state>/sessions/<id>.json`, one record each,
//! written atomically when a session dies and loaded when the daemon
//! starts, so `ls --all` and `resume` survive a daemon restart. Only dead
//! records are stored; live attribution is never read from disk (runners
//! replay it).

use crate::paths::Staged;
use crate::protocol::Record;
use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;

pub fn dir() -> PathBuf {
    crate::paths::state_dir().join("sessions")
}

/// A record's file written beside its place, to be fsynced and renamed
/// (`disk.rs` does each step for a whole batch).
pub fn stage(record: &Record) -> io::Result<Staged> {
    let id = Some(record.id.as_str())
        .filter(|id| crate::id::is_valid(id))
        .ok_or_else(|| io::Error::other("record without a valid id"))?;
    crate::paths::ensure_own_dir(&crate::paths::state_dir())?;
    crate::paths::ensure_own_dir(&dir())?;
    let mut bytes = serde_json::to_vec_pretty(record).map_err(io::Error::other)?;
    bytes.push(b'\n');
    Staged::write(&dir().join(format!("{id}.json")), &bytes)
}

/// Every readable record; unreadable or foreign files are skipped, and
/// temp files of a save that was killed are removed.
pub fn load() -> BTreeMap<String, Record> {
    crate::paths::remove_stale_temps(&dir());
    let mut out = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir()) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let Ok(record) = serde_json::from_slice::<Record>(&bytes) else {
            continue;
        };
        if crate::id::is_valid(&record.id) {
            out.insert(record.id.clone(), record);
        }
    }
    out
}

/// Removes a dead record's file (pruned, or forgotten).
pub fn remove(id: &str) {
    if crate::id::is_valid(id) {
        let _ = std::fs::remove_file(dir().join(format!("{id}.json")));
    }
}
