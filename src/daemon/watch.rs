//! Recursive inotify over the adapters' session roots.
//!
//! One inotify instance holds a watch per directory. Each watched directory
//! is either part of a root's tree (`depth: Some(n)`, `n` levels below its
//! root, full mask) or an *ancestor* of a root that does not exist yet
//! (`depth: None`, only creations and self-removal). Watches are always added
//! with `IN_MASK_ADD`, so a directory that is both never loses the tree mask.
//!
//! A new directory inside a tree is watched and then read once: files created
//! in it before the watch landed would otherwise never be reported, so every
//! `*.jsonl` it holds comes out as `Changed`. A root that appears (or a
//! directory on the way to it) re-runs the same walk from the nearest
//! existing ancestor; ancestor watches nobody needs any more are removed.
//! `IN_Q_OVERFLOW` means events were lost: every root is walked again to
//! re-add missing watches and the caller is told to `Rescan`.
//!
//! The inotify fd is non-blocking; a dup of it sits in `Async` for the
//! readiness wake-up while reads go through `Inotify::read_events` until
//! `WouldBlock`, so no `unsafe` and no `get_mut` are needed. Files present
//! when a root is added are not reported: the caller starts with `scan()`.
//! A directory that cannot be watched (vanished, permissions, watch limit)
//! is skipped silently; the next overflow rescan retries it.

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use async_io::Async;
use inotify::{Event, EventMask, Inotify, WatchDescriptor, WatchMask};

/// Deepest directory level watched or scanned below a root unless the
/// root says less (Codex uses 3: `YYYY/MM/DD`); bounds the walk if a root
/// points somewhere huge.
pub const MAX_DEPTH: usize = 6;
/// One read's worth of events; the kernel never splits an event across reads.
const EVENT_BUF: usize = 64 * 1024;
/// Reads per batch before handing what we have to the caller, so a flood of
/// events cannot keep `next_batch` from returning.
const MAX_READS: usize = 64;

/// What happened under the roots.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum WatchEvent {
    /// A `*.jsonl` (or `*.json`) file was created, written, or moved in.
    Changed(PathBuf),
    /// A `*.jsonl` file was deleted or moved away.
    Removed(PathBuf),
    /// Events were lost (queue overflow): rescan everything.
    Rescan,
}

/// A watched directory.
struct Dir {
    path: PathBuf,
    /// Levels below its root; `None` for an ancestor of a missing root.
    depth: Option<usize>,
}

/// What one raw inotify event asks us to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Rescan,
    Forget,
    SelfGone,
    NewDir,
    DirGone,
    FileChanged,
    FileRemoved,
    Ignore,
}

/// Maps an event mask to its action; order matters (flags combine).
fn classify(mask: EventMask) -> Action {
    let dir = mask.contains(EventMask::ISDIR);
    if mask.contains(EventMask::Q_OVERFLOW) {
        Action::Rescan
    } else if mask.contains(EventMask::IGNORED) {
        Action::Forget
    } else if mask.intersects(EventMask::DELETE_SELF | EventMask::MOVE_SELF) {
        Action::SelfGone
    } else if dir && mask.intersects(EventMask::CREATE | EventMask::MOVED_TO) {
        Action::NewDir
    } else if dir && mask.intersects(EventMask::DELETE | EventMask::MOVED_FROM) {
        Action::DirGone
    } else if dir {
        Action::Ignore
    } else if mask.intersects(
        EventMask::CREATE | EventMask::MODIFY | EventMask::CLOSE_WRITE | EventMask::MOVED_TO,
    ) {
        Action::FileChanged
    } else if mask.intersects(EventMask::DELETE | EventMask::MOVED_FROM) {
        Action::FileRemoved
    } else {
        Action::Ignore
    }
}

/// A file some agent keeps a conversation or its reports in, by how its
/// name ends (each adapter says: `*.jsonl`, Claude's `*.json` pidfiles):
/// the watcher knows no suffix itself.
fn is_jsonl(name: &OsStr) -> bool {
    crate::adapters::watched_file(name.as_bytes())
}

/// The per-user inotify watch limit (`ENOSPC` from `inotify_add_watch`).
fn over_limit(err: &io::Error) -> bool {
    err.raw_os_error() == Some(28)
}

/// Errors that only mean "this directory is not there (any more)".
fn tolerable(err: &io::Error) -> bool {
    use io::ErrorKind::*;
    matches!(err.kind(), NotFound | NotADirectory | PermissionDenied)
}

fn tree_mask() -> WatchMask {
    WatchMask::CREATE
        | WatchMask::MODIFY
        | WatchMask::CLOSE_WRITE
        | WatchMask::MOVED_TO
        | WatchMask::MOVED_FROM
        | WatchMask::DELETE
        | WatchMask::DELETE_SELF
        | WatchMask::MOVE_SELF
        | WatchMask::ONLYDIR
        | WatchMask::MASK_ADD
}

fn ancestor_mask() -> WatchMask {
    WatchMask::CREATE
        | WatchMask::MOVED_TO
        | WatchMask::DELETE_SELF
        | WatchMask::MOVE_SELF
        | WatchMask::ONLYDIR
        | WatchMask::MASK_ADD
}

/// Recursive watcher over a set of root directories.
pub struct TreeWatcher {
    inotify: Inotify,
    ready: Async<OwnedFd>,
    roots: Vec<PathBuf>,
    /// How deep below each root an agent can keep conversations (pi's
    /// `--session-dir D` writes flat into D: nothing below it is watched).
    depths: HashMap<PathBuf, usize>,
    dirs: HashMap<WatchDescriptor, Dir>,
    buf: Vec<u8>,
    /// A directory could not be watched for the watch limit: what fits is
    /// watched, the rest is retried at the next overflow rescan.
    limited: bool,
}

impl TreeWatcher {
    /// Watches `roots`; missing ones are picked up when they appear.
    pub fn new(roots: Vec<(PathBuf, usize)>) -> io::Result<Self> {
        let inotify = Inotify::init()?;
        let ready = Async::new(inotify.as_fd().try_clone_to_owned()?)?;
        let mut watcher = TreeWatcher {
            inotify,
            ready,
            roots: Vec::new(),
            depths: HashMap::new(),
            dirs: HashMap::new(),
            buf: vec![0; EVENT_BUF],
            limited: false,
        };
        for (root, depth) in roots {
            watcher.add_root(root, depth)?;
        }
        Ok(watcher)
    }

    /// Adds one more root, watched `depth` levels down; its current files
    /// are not reported (use `scan`).
    pub fn add_root(&mut self, root: PathBuf, depth: usize) -> io::Result<()> {
        if self.roots.contains(&root) {
            return Ok(());
        }
        self.roots.push(root.clone());
        self.depths.insert(root.clone(), depth.min(MAX_DEPTH));
        self.establish(&root, &mut Vec::new(), false)?;
        self.prune_ancestors();
        Ok(())
    }

    /// Stops watching a root nobody needs any more; the roots that overlap
    /// it are walked again so they keep every watch of theirs.
    pub fn remove_root(&mut self, root: &Path) {
        if !self.roots.iter().any(|r| r == root) {
            return;
        }
        self.roots.retain(|r| r != root);
        self.depths.remove(root);
        self.drop_tree(root);
        let overlapping: Vec<PathBuf> = (self.roots.iter())
            .filter(|r| r.starts_with(root) || root.starts_with(r))
            .cloned()
            .collect();
        for other in overlapping {
            let _ = self.establish(&other, &mut Vec::new(), false);
        }
        self.prune_ancestors();
    }

    /// How many directories are watched now.
    pub fn watch_count(&self) -> usize {
        self.dirs.len()
    }

    /// The depth limit for `path`: that of the closest root holding it.
    fn max_depth(&self, path: &Path) -> usize {
        (self.roots.iter())
            .filter(|r| path.starts_with(r))
            .max_by_key(|r| r.components().count())
            .and_then(|r| self.depths.get(r).copied())
            .unwrap_or(MAX_DEPTH)
    }

    /// Whether the inotify watch limit kept a directory from being watched.
    pub fn limited(&self) -> bool {
        self.limited
    }

    /// Every `*.jsonl` currently under the existing roots.
    pub fn scan(&self) -> Vec<PathBuf> {
        let mut files = Vec::new();
        for root in &self.roots {
            scan_dir(root, 0, self.max_depth(root), &mut files);
        }
        files
    }

    /// Waits for inotify, then returns the (deduplicated) events of a batch.
    pub async fn next_batch(&mut self) -> io::Result<Vec<WatchEvent>> {
        loop {
            let mut out = Vec::new();
            self.drain(&mut out)?;
            if !out.is_empty() {
                let mut seen = HashSet::new();
                out.retain(|ev| seen.insert(ev.clone()));
                return Ok(out);
            }
            self.ready.readable().await?;
        }
    }

    /// Reads until the queue is empty (or `MAX_READS`), handling each event.
    fn drain(&mut self, out: &mut Vec<WatchEvent>) -> io::Result<()> {
        let mut buf = std::mem::take(&mut self.buf);
        let mut result = Ok(());
        for _ in 0..MAX_READS {
            match self.inotify.read_events(&mut buf) {
                Ok(events) => events.for_each(|ev| self.handle(ev, out)),
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => {
                    result = Err(err);
                    break;
                }
            }
        }
        self.buf = buf;
        result
    }

    fn handle(&mut self, ev: Event<&OsStr>, out: &mut Vec<WatchEvent>) {
        let action = classify(ev.mask);
        if action == Action::Rescan {
            self.on_overflow(out);
            return;
        }
        let Some(dir) = self.dirs.get(&ev.wd) else {
            return;
        };
        let (parent, depth) = (dir.path.clone(), dir.depth);
        let child = ev.name.map(|name| (parent.join(name), is_jsonl(name)));
        match (action, child) {
            (Action::Forget, _) => {
                self.dirs.remove(&ev.wd);
            }
            (Action::SelfGone, _) => {
                self.drop_tree(&parent);
                self.establish_pending(out);
            }
            (Action::NewDir, Some((path, _))) => {
                if let Some(d) = depth.filter(|d| *d < self.max_depth(&path)) {
                    let _ = self.add_tree(&path, d + 1, out, true);
                }
                self.establish_pending(out);
            }
            (Action::DirGone, Some((path, _))) => self.drop_tree(&path),
            (Action::FileChanged, Some((path, true))) if depth.is_some() => {
                out.push(WatchEvent::Changed(path))
            }
            (Action::FileRemoved, Some((path, true))) if depth.is_some() => {
                out.push(WatchEvent::Removed(path))
            }
            _ => {}
        }
    }

    /// Events were lost: re-walk every root to re-add watches it missed.
    fn on_overflow(&mut self, out: &mut Vec<WatchEvent>) {
        for root in self.roots.clone() {
            let _ = self.establish(&root, &mut Vec::new(), false);
        }
        self.prune_ancestors();
        out.push(WatchEvent::Rescan);
    }

    fn is_established(&self, root: &Path) -> bool {
        self.dirs
            .values()
            .any(|d| d.depth.is_some() && d.path == root)
    }

    fn establish_pending(&mut self, out: &mut Vec<WatchEvent>) {
        for root in self.roots.clone() {
            if !self.is_established(&root) {
                let _ = self.establish(&root, out, true);
            }
        }
        self.prune_ancestors();
    }

    /// Watches `root` recursively if it exists, else its nearest existing
    /// ancestor. Loops because the next path component may appear between
    /// our existence check and the ancestor watch landing.
    fn establish(&mut self, root: &Path, out: &mut Vec<WatchEvent>, emit: bool) -> io::Result<()> {
        for _ in 0..=root.components().count() {
            let Some(base) = root.ancestors().find(|p| p.is_dir()) else {
                return Ok(());
            };
            if base == root {
                return self.add_tree(root, 0, out, emit);
            }
            match self.watch(base, None) {
                Err(err) if over_limit(&err) => {
                    self.limited = true;
                    return Ok(());
                }
                other => other?,
            }
            if root.ancestors().find(|p| p.is_dir()) == Some(base) {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Watches `dir` and everything below it, reporting the `*.jsonl` files
    /// found when `emit` (they may predate the watch).
    fn add_tree(
        &mut self,
        dir: &Path,
        depth: usize,
        out: &mut Vec<WatchEvent>,
        emit: bool,
    ) -> io::Result<()> {
        match self.watch(dir, Some(depth)) {
            Err(err) if tolerable(&err) => return Ok(()),
            // A root of its own (a bound file's directory) comes first:
            // it takes the watch of some directory nobody holds a file in.
            Err(err) if over_limit(&err) && self.roots.iter().any(|r| r == dir) => {
                self.limited = true;
                if !self.evict_one() || self.watch(dir, Some(depth)).is_err() {
                    return Ok(());
                }
            }
            Err(err) if over_limit(&err) => {
                self.limited = true;
                return Ok(());
            }
            other => other?,
        }
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Ok(());
        };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() && depth < self.max_depth(dir) {
                self.add_tree(&entry.path(), depth + 1, out, emit)?;
            } else if emit && !kind.is_dir() && is_jsonl(&entry.file_name()) {
                out.push(WatchEvent::Changed(entry.path()));
            }
        }
        Ok(())
    }

    fn watch(&mut self, path: &Path, depth: Option<usize>) -> io::Result<()> {
        let mask = if depth.is_some() {
            tree_mask()
        } else {
            ancestor_mask()
        };
        let wd = self.inotify.watches().add(path, mask)?;
        let dir = self.dirs.entry(wd).or_insert(Dir {
            path: path.to_owned(),
            depth,
        });
        // Same inode under a new name (a moved directory): keep the new path.
        dir.path = path.to_owned();
        dir.depth = depth.or(dir.depth);
        Ok(())
    }

    /// Gives up the watch of one directory inside a tree that is no root
    /// itself (the watch limit is reached and a root needs one).
    fn evict_one(&mut self) -> bool {
        let victim = (self.dirs.iter())
            .find(|(_, d)| d.depth.is_some_and(|n| n > 0) && !self.roots.contains(&d.path))
            .map(|(wd, _)| wd.clone());
        let Some(wd) = victim else {
            return false;
        };
        self.dirs.remove(&wd);
        let _ = self.inotify.watches().remove(wd);
        true
    }

    /// Forgets `path` and every watched directory below it.
    fn drop_tree(&mut self, path: &Path) {
        let gone: Vec<WatchDescriptor> = self
            .dirs
            .iter()
            .filter(|(_, d)| d.path.starts_with(path))
            .map(|(wd, _)| wd.clone())
            .collect();
        for wd in gone {
            self.dirs.remove(&wd);
            // Fails harmlessly when the kernel already dropped it.
            let _ = self.inotify.watches().remove(wd);
        }
    }

    /// Removes ancestor-only watches that no missing root needs any more.
    fn prune_ancestors(&mut self) {
        let pending: Vec<PathBuf> = (self.roots.iter())
            .filter(|r| !self.is_established(r))
            .cloned()
            .collect();
        let stale: Vec<WatchDescriptor> = self
            .dirs
            .iter()
            .filter(|(_, d)| d.depth.is_none() && !pending.iter().any(|r| r.starts_with(&d.path)))
            .map(|(wd, _)| wd.clone())
            .collect();
        for wd in stale {
            self.dirs.remove(&wd);
            let _ = self.inotify.watches().remove(wd);
        }
    }
}

/// Collects `*.jsonl` files below `dir`, at most `max` levels down.
fn scan_dir(dir: &Path, depth: usize, max: usize, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let path = entry.path();
        if kind.is_dir() {
            if depth < max {
                scan_dir(&path, depth + 1, max, files);
            }
        } else if is_jsonl(&entry.file_name()) && path.is_file() {
            files.push(path);
        }
    }
}
