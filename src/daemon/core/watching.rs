//! The session-root watcher: recursive inotify (`watch.rs`) on a thread of
//! its own, feeding the daemon what changed.
//!
//! Walking a tree — a root appearing, the first scan, the rescan after an
//! inotify overflow, 20,000 files of them — is blocking directory I/O; on
//! the daemon's one thread it would hold up every answer. So the
//! `TreeWatcher` lives on the `amux-watch` thread, which takes root changes
//! from the daemon's channel and sends back [`Seen`] batches; the daemon
//! task only applies them. The thread ends when the daemon drops its end.

use super::roots::RootChange;
use super::{now_ms, Daemon};
use crate::daemon::watch::{TreeWatcher, WatchEvent};
use std::io;
use std::path::PathBuf;
use std::rc::Rc;

/// What the watcher thread tells the daemon.
enum Seen {
    /// Watching began; files changed in the last minutes, with mtimes.
    Started(Vec<(PathBuf, i64)>),
    Events(Vec<WatchEvent>),
    /// A root is watched now (files under it may have changed unseen).
    Added(PathBuf),
    /// After each step: directories watched, and whether the limit hit.
    Watches(usize, bool),
    /// The watcher cannot go on (or could not start).
    Failed(io::Error, bool),
}

/// The daemon's side: start the thread, apply what it sees.
pub async fn watch_roots(daemon: Rc<Daemon>) {
    let roots: Vec<(PathBuf, usize)> = (daemon.roots.borrow().iter())
        .map(|(r, root)| (r.clone(), root.depth))
        .collect();
    let (tx, rx) = async_channel::unbounded();
    let changes = daemon.roots_rx.clone();
    let spawned = std::thread::Builder::new()
        .name("amux-watch".into())
        .spawn(move || async_io::block_on(watcher(roots, changes, tx)));
    if let Err(e) = spawned {
        return daemon.watch_failed(&e, true);
    }
    while let Ok(seen) = rx.recv().await {
        match seen {
            Seen::Started(recent) => daemon.recent.borrow_mut().extend(recent),
            Seen::Events(events) => events.into_iter().for_each(|e| daemon.on_watch(e)),
            Seen::Added(root) => {
                // What a followed file under it got before the watch landed
                // has no event: read it now.
                let followed: Vec<PathBuf> = (daemon.files.borrow().keys())
                    .filter(|f| f.starts_with(&root))
                    .cloned()
                    .collect();
                followed.iter().for_each(|f| daemon.file_changed(f));
            }
            Seen::Watches(count, limited) => {
                daemon.watches.set(count);
                if limited {
                    daemon.note_watch_limit();
                }
            }
            Seen::Failed(e, starting) => return daemon.watch_failed(&e, starting),
        }
    }
}

impl Daemon {
    fn on_watch(self: &Rc<Self>, event: WatchEvent) {
        match event {
            WatchEvent::Changed(path) => self.file_changed(&path),
            WatchEvent::Removed(path) => {
                self.recent.borrow_mut().remove(&path);
            }
            // The thread re-walked the roots after an overflow and sends
            // every file it holds as `Changed` after this.
            WatchEvent::Rescan => self.log("inotify queue overflowed: rescanning"),
        }
    }

    fn watch_failed(&self, e: &io::Error, starting: bool) {
        if !starting {
            return self.log(&format!("session-root watcher failed: {e}"));
        }
        let warning = format!(
            "cannot watch the agents' session files ({e}): states will not change; \
             raise fs.inotify.max_user_instances (sysctl) and restart the daemon"
        );
        self.log(&warning);
        self.warnings.borrow_mut().insert("inotify", warning);
    }

    /// Says once (log and `amux ls`) that the inotify watch limit left some
    /// directories unwatched, and how to raise it.
    fn note_watch_limit(&self) {
        if self.warnings.borrow().contains_key("watches") {
            return;
        }
        let warning = "the inotify watch limit is reached: some session directories are \
                       not watched and their sessions may not change state; raise it with \
                       'sysctl fs.inotify.max_user_watches=524288'"
            .to_string();
        self.log(&warning);
        self.warnings.borrow_mut().insert("watches", warning);
    }
}

/// The thread's side: the tree watcher, its walks and its reads.
async fn watcher(
    roots: Vec<(PathBuf, usize)>,
    changes: async_channel::Receiver<RootChange>,
    tx: async_channel::Sender<Seen>,
) {
    let send = |seen: Seen| tx.try_send(seen).is_ok();
    let mut watcher = match TreeWatcher::new(roots) {
        Ok(w) => w,
        Err(e) => {
            send(Seen::Failed(e, true));
            return;
        }
    };
    let counts = |w: &TreeWatcher| Seen::Watches(w.watch_count(), w.limited());
    send(counts(&watcher));
    send(Seen::Started(recent_files(&watcher)));
    enum Next {
        Batch(io::Result<Vec<WatchEvent>>),
        Root(RootChange),
    }
    loop {
        let next =
            futures_lite::future::or(async { Next::Batch(watcher.next_batch().await) }, async {
                match changes.recv().await {
                    Ok(root) => Next::Root(root),
                    Err(_) => std::future::pending().await,
                }
            })
            .await;
        let alive = match next {
            Next::Root(RootChange::Add(root, depth)) => {
                let _ = watcher.add_root(root.clone(), depth);
                send(Seen::Added(root))
            }
            Next::Root(RootChange::Remove(root)) => {
                watcher.remove_root(&root);
                true
            }
            Next::Batch(Err(e)) => {
                send(Seen::Failed(e, false));
                return;
            }
            Next::Batch(Ok(mut events)) => {
                if events.contains(&WatchEvent::Rescan) {
                    events.extend(watcher.scan().into_iter().map(WatchEvent::Changed));
                }
                send(Seen::Events(events))
            }
        };
        if !alive || !send(counts(&watcher)) {
            return;
        }
    }
}

/// Files changed in the last five minutes: guess candidates at once.
fn recent_files(watcher: &TreeWatcher) -> Vec<(PathBuf, i64)> {
    let start = now_ms() / 1000;
    watcher
        .scan()
        .into_iter()
        .filter_map(|path| {
            let mtime = std::fs::metadata(&path).ok()?.modified().ok()?;
            let t = crate::timefmt::epoch(mtime);
            (start - t < 300).then_some((path, t))
        })
        .collect()
}
