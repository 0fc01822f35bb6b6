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
//! as a session dir is not walked. The shell's watcher applies the
//! changes (`Effect::Watch`); what it reports back comes as `SideEvent`s.

use super::{Core, Effect, SideEvent};
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

impl Core {
    /// Session `sid` needs `root` watched `depth` levels down.
    pub(super) fn use_root(&mut self, sid: &str, root: &Path, depth: usize) {
        if !root.is_absolute() {
            return;
        }
        if let Some(entry) = self.store.live.get_mut(sid) {
            if entry.watched.iter().any(|r| r == root) {
                return;
            }
            entry.watched.push(root.to_path_buf());
        }
        if let Some(known) = self.roots.get_mut(root) {
            if let Some(users) = known.users.as_mut() {
                *users += 1;
            }
            return;
        }
        let root = root.to_path_buf();
        let users = Some(1);
        self.roots.insert(root.clone(), Root { depth, users });
        self.log(format!("watching {} ({depth} levels)", root.display()));
        self.out.push(Effect::Watch(RootChange::Add(root, depth)));
    }

    /// A session that used `watched` has ended.
    pub(super) fn release_roots(&mut self, watched: &[PathBuf]) {
        for root in watched {
            let Some(users) = self.roots.get_mut(root).and_then(|r| r.users.as_mut()) else {
                continue;
            };
            *users -= 1;
            if *users == 0 {
                self.roots.remove(root);
                self.log(format!("no longer watching {}", root.display()));
                self.out
                    .push(Effect::Watch(RootChange::Remove(root.clone())));
            }
        }
    }

    /// Whether `dir` lies under a watched root (and so is watched, unless
    /// the tree walk could not enter it).
    pub(super) fn under_root(&self, dir: &Path) -> bool {
        self.roots.iter().any(|(r, root)| {
            dir.strip_prefix(r)
                .is_ok_and(|rest| rest.components().count() <= root.depth)
        })
    }

    /// What the watcher reports.
    pub(super) fn side_event(&mut self, event: SideEvent) {
        match event {
            SideEvent::Watching { count, limited } => {
                self.watches = count;
                if limited && !self.warnings.contains_key("watches") {
                    let warning = "the inotify watch limit is reached: some session \
                                   directories are not watched and their sessions may not \
                                   change state; raise it with \
                                   'sysctl fs.inotify.max_user_watches=524288'";
                    self.log(warning.into());
                    self.warnings.insert("watches", warning.into());
                }
            }
            SideEvent::WatchFailed {
                error,
                starting: false,
            } => {
                self.log(format!("session-root watcher failed: {error}"));
            }
            SideEvent::WatchFailed {
                error,
                starting: true,
            } => {
                let warning = format!(
                    "cannot watch the agents' session files ({error}): states will not \
                     change; raise fs.inotify.max_user_instances (sysctl) and restart the daemon"
                );
                self.log(warning.clone());
                self.warnings.insert("inotify", warning);
            }
            SideEvent::RootWatched(root) => self.root_watched(&root),
            SideEvent::Recent(files) => {
                self.recent.extend(files);
                if self.recent.len() > self.recent_limit {
                    let newest = self.recent.values().copied().max().unwrap_or(0);
                    self.prune_recent(newest);
                }
            }
            // The watcher re-walked the roots after an overflow and sends
            // every file it holds as changed after this.
            SideEvent::Rescan => self.log("inotify queue overflowed: rescanning".into()),
        }
    }
}
