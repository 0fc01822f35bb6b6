//! Which directories the root watcher watches, and for whom.
//!
//! The agents' default session roots are watched for the daemon's whole
//! life. Every other root is a runner's word (`pi --session-dir D`, a
//! `CLAUDE_CONFIG_DIR` of its own) or the directory of a file a session
//! holds outside every root: each is counted per session that uses it and
//! dropped with its watches when the last one ends, so `--session-dir
//! /usr` costs nothing once that session is gone. Each root is watched
//! only as deep as its agent keeps conversations (the runner says how
//! deep: 0 for pi's flat `--session-dir`, 1 for pi's per-cwd dirs and
//! Claude's projects, 3 for Codex's dates), so a project directory given
//! as a session dir is not walked. The watcher task applies the changes.

use super::Daemon;
use std::path::{Path, PathBuf};

/// A change for the root watcher.
pub enum RootChange {
    Add(PathBuf, usize),
    Remove(PathBuf),
}

/// One watched root.
pub struct Root {
    pub depth: usize,
    /// Sessions using it; `None` for a default root, kept for good.
    pub users: Option<usize>,
}

impl Daemon {
    /// Session `sid` needs `root` watched `depth` levels down.
    pub(super) fn use_root(&self, sid: &str, root: &Path, depth: usize) {
        if !root.is_absolute() {
            return;
        }
        if let Some(entry) = self.store.borrow_mut().live.get_mut(sid) {
            if entry.watched.iter().any(|r| r == root) {
                return;
            }
            entry.watched.push(root.to_path_buf());
        }
        let mut roots = self.roots.borrow_mut();
        if let Some(known) = roots.get_mut(root) {
            if let Some(users) = known.users.as_mut() {
                *users += 1;
            }
            return;
        }
        roots.insert(
            root.to_path_buf(),
            Root {
                depth,
                users: Some(1),
            },
        );
        drop(roots);
        self.log(&format!("watching {} ({depth} levels)", root.display()));
        let _ = self
            .roots_tx
            .try_send(RootChange::Add(root.to_path_buf(), depth));
    }

    /// A session that used `watched` has ended.
    pub(super) fn release_roots(&self, watched: &[PathBuf]) {
        for root in watched {
            let mut roots = self.roots.borrow_mut();
            let Some(users) = roots.get_mut(root).and_then(|r| r.users.as_mut()) else {
                continue;
            };
            *users -= 1;
            if *users == 0 {
                roots.remove(root);
                drop(roots);
                self.log(&format!("no longer watching {}", root.display()));
                let _ = self.roots_tx.try_send(RootChange::Remove(root.clone()));
            }
        }
    }

    /// Whether `dir` lies under a watched root (and so is watched, unless
    /// the tree walk could not enter it).
    pub(super) fn under_root(&self, dir: &Path) -> bool {
        self.roots.borrow().iter().any(|(r, root)| {
            dir.strip_prefix(r)
                .is_ok_and(|rest| rest.components().count() <= root.depth)
        })
    }
}
