//! The session-root watcher: recursive inotify (`watch.rs`) on a thread of
//! its own, feeding the core what changed.
//!
//! Walking a tree — a root appearing, the first scan, the rescan after an
//! inotify overflow, 20,000 files of them — is blocking directory I/O; on
//! the daemon's one thread it would hold up every answer. So the
//! `TreeWatcher` lives on the `amux-watch` thread, which takes root changes
//! from the core's `Effect::Watch` and sends back [`Seen`] batches; the
//! daemon task dispatches them as events. The thread ends when the daemon
//! drops its end.

use super::Daemon;
use crate::daemon::core::{Event, RootChange, SideEvent};
use crate::daemon::watch::{TreeWatcher, WatchEvent};
use std::io;
use std::path::PathBuf;
use std::rc::Rc;

/// Events handled between two yields to the daemon's other tasks.
const YIELD_EVERY: usize = 256;

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

/// The daemon's side: start the thread, dispatch what it sees.
pub async fn watch_roots(daemon: Rc<Daemon>) {
    let roots = daemon.core().roots();
    let (tx, rx) = async_channel::unbounded();
    let changes = daemon.roots_rx.clone();
    let spawned = std::thread::Builder::new()
        .name("amux-watch".into())
        .spawn(move || async_io::block_on(watcher(roots, changes, tx)));
    if let Err(error) = spawned {
        let failed = SideEvent::WatchFailed {
            error,
            starting: true,
        };
        return daemon.dispatch(Event::Side(failed));
    }
    while let Ok(seen) = rx.recv().await {
        let side = match seen {
            Seen::Started(recent) => SideEvent::Recent(recent),
            Seen::Events(events) => {
                for (n, event) in events.into_iter().enumerate() {
                    daemon.dispatch(match event {
                        WatchEvent::Changed(path) => Event::Changed(path),
                        WatchEvent::Removed(path) => Event::Removed(path),
                        WatchEvent::Rescan => Event::Side(SideEvent::Rescan),
                    });
                    // A burst (a rescan's thousands of files) must not
                    // hold up the answers: others' tasks run between.
                    if n % YIELD_EVERY == YIELD_EVERY - 1 {
                        futures_lite::future::yield_now().await;
                    }
                }
                continue;
            }
            Seen::Added(root) => SideEvent::RootWatched(root),
            Seen::Watches(count, limited) => SideEvent::Watching { count, limited },
            Seen::Failed(error, starting) => {
                let failed = SideEvent::WatchFailed { error, starting };
                return daemon.dispatch(Event::Side(failed));
            }
        };
        daemon.dispatch(Event::Side(side));
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
    let start = crate::daemon::now_ms() / 1000;
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
