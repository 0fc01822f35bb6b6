//! Finding runners and following each one.
//!
//! `discover` scans `<runtime>/sessions/` once and then waits on inotify
//! for sockets created (`IN_CREATE`, `IN_MOVED_TO`) or removed
//! (`IN_DELETE`). Each socket gets one `follow` task: it subscribes to the
//! runner's `/events`; the replay (`meta`, `shim`, `session_file`) rebuilds
//! the session after a daemon restart, and the stream's end (or the
//! socket's removal) means the runner is gone. `found` is also how a
//! request for a runner inotify has not told us of yet follows it on the
//! spot (`session::resolve`).

use super::core::Event;
use super::shell::Daemon;
use crate::http::client::Events;
use crate::protocol::RunnerEvent;
use crate::transport::Connect;
use async_io::{Async, Timer};
use inotify::{Inotify, WatchMask};
use std::io;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

fn sessions_mask() -> WatchMask {
    WatchMask::CREATE | WatchMask::MOVED_TO | WatchMask::DELETE | WatchMask::MOVED_FROM
}

/// The runtime dir is watched for our own socket and the sessions dir
/// going away (tmp cleaners remove both): each is made again.
fn runtime_mask() -> WatchMask {
    WatchMask::DELETE | WatchMask::MOVED_FROM | WatchMask::DELETE_SELF | WatchMask::MOVE_SELF
}

pub async fn discover(daemon: Rc<Daemon>) -> io::Result<()> {
    let dir = crate::paths::sessions_dir();
    let mut inotify = Inotify::init()?;
    inotify.watches().add(&dir, sessions_mask())?;
    let runtime = crate::paths::runtime_dir();
    let mut runtime_wd = inotify.watches().add(&runtime, runtime_mask())?;
    // Readiness through a dup of the (non-blocking) inotify fd: no `unsafe`
    // `get_mut` needed to read events from the owned `Inotify`.
    let ready = Async::new(inotify.as_fd().try_clone_to_owned()?)?;
    for entry in std::fs::read_dir(&dir)?.flatten() {
        let path = entry.path();
        if found(&daemon, &path) {
            daemon
                .startup
                .expect(&session_id(&path).unwrap_or_default());
        }
    }
    daemon.startup.scanned();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        ready.readable().await?;
        let events = match inotify.read_events(&mut buf) {
            Ok(events) => events,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        };
        let mut overflow = false;
        let mut remake = false;
        for event in events {
            use inotify::EventMask as M;
            overflow |= event.mask.contains(M::Q_OVERFLOW);
            if event.wd == runtime_wd {
                let ours = event
                    .name
                    .is_some_and(|n| n == "daemon.sock" || n == "sessions");
                remake |= ours || event.mask.intersects(M::DELETE_SELF | M::MOVE_SELF);
                continue;
            }
            // The sessions dir itself went: its watch is gone too.
            remake |= event.mask.contains(M::IGNORED);
            let Some(name) = event.name else { continue };
            let path = dir.join(name);
            if event
                .mask
                .intersects(inotify::EventMask::DELETE | inotify::EventMask::MOVED_FROM)
            {
                // A removed socket says nothing while its runner's stream
                // is open (a tmp cleaner, not an exit): the stream's end
                // does. Unfollowed, its exit file tells what happened.
                if let Some(id) = session_id(&path) {
                    if daemon.following(&id) {
                        daemon.ask_rebind(&id);
                    } else {
                        daemon.gone_unseen(&id);
                    }
                }
            } else {
                found(&daemon, &path);
            }
        }
        if remake {
            // Made again 0700, watched again, our socket bound again; a
            // runner whose socket went with them binds its own again.
            if let Err(e) = crate::paths::ensure_runtime() {
                daemon.log(&format!("cannot make the runtime directory again: {e}"));
            }
            runtime_wd = inotify.watches().add(&runtime, runtime_mask())?;
            inotify.watches().add(&dir, sessions_mask())?;
            super::rebind(&daemon);
            daemon.ask_all_rebind();
        }
        if overflow || remake {
            for entry in std::fs::read_dir(&dir)?.flatten() {
                found(&daemon, &entry.path());
            }
        }
    }
}

/// At start, before the first answer: sessions a previous daemon followed
/// whose runner is gone for good (killed while no daemon ran: its socket is
/// stale or gone) are buried, so the first listing already has them.
pub fn bury_unseen_at_start(daemon: &Rc<Daemon>) {
    for id in super::live::ids() {
        crate::paths::remove_if_stale(&crate::paths::session_socket(&id));
        daemon.gone_unseen(&id);
    }
    sync_exits(daemon);
}

/// Buries every session whose exit file is there but whose end we have
/// not seen yet: a listing right after a short foreground `amux run`
/// must not wait for inotify to tell us.
pub fn sync_exits(daemon: &Rc<Daemon>) {
    let Ok(entries) = std::fs::read_dir(crate::paths::sessions_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        if let Some(id) = id_with(&entry.path(), "exit") {
            if !daemon.is_known(&id) {
                daemon.gone_unseen(&id);
            }
        }
    }
}

fn session_id(path: &Path) -> Option<String> {
    id_with(path, "sock")
}

/// The id of `<id>.<ext>` in the sessions directory.
fn id_with(path: &Path, ext: &str) -> Option<String> {
    if path.extension()? != ext {
        return None;
    }
    let id = path.file_stem()?.to_str()?;
    crate::id::is_valid(id).then(|| id.to_string())
}

/// Follows the runner of a socket (once), or buries the session of an
/// exit file. `true`: a follow of the socket's runner started now.
pub fn found(daemon: &Rc<Daemon>, path: &Path) -> bool {
    if let Some(id) = id_with(path, "exit") {
        daemon.gone_unseen(&id);
        return false;
    }
    let Some(id) = session_id(path) else {
        return false;
    };
    if !daemon.start_following(&id) {
        return false;
    }
    daemon
        .ex
        .spawn(follow(daemon.clone(), id, path.to_path_buf()))
        .detach();
    true
}

async fn follow(daemon: Rc<Daemon>, id: String, sock: PathBuf) {
    if let Some(mut events) = connect(&sock).await {
        // Everything before `ready` is the runner's replay of what it said
        // before we followed it.
        let mut replay = true;
        let mut noted = false;
        while let Ok(Some((name, data))) = events.next().await {
            let event = match RunnerEvent::parse(&name, &data) {
                Ok(event) => event,
                // Never half-applied; said once per runner, as a newer
                // runner says it often.
                Err(e) => {
                    if !std::mem::replace(&mut noted, true) {
                        daemon.log(&format!("session {id}: ignored: {e}"));
                    }
                    continue;
                }
            };
            let (ready, exit) = (
                event == RunnerEvent::Ready,
                matches!(event, RunnerEvent::Exit(_)),
            );
            if !on_event(&daemon, &id, event, replay) {
                break;
            }
            // Buried now: nothing the runner says after this matters.
            if exit {
                break;
            }
            if ready {
                daemon.startup.heard(&id);
            }
            replay &= !ready;
        }
    }
    daemon.startup.heard(&id);
    daemon.stop_following(&id);
    daemon.runner_gone(&id);
    crate::paths::remove_if_stale(&sock);
    // A runner that ended before we could follow it left its exit file
    // (or was killed, and only a previous daemon's state tells of it).
    daemon.gone_unseen(&id);
}

/// A socket shows up at `bind`, a moment before `listen`: retry briefly
/// (runners listen before their agent starts, so a refusal that lasts is
/// a dead runner's socket).
async fn connect(sock: &Path) -> Option<Events> {
    let to = Connect::Unix(sock.to_path_buf());
    for _ in 0..10 {
        match Events::open(&to, "/events").await {
            Ok(Ok(events)) => return Some(events),
            _ if sock.exists() => Timer::after(Duration::from_millis(20)).await,
            _ => return None,
        };
    }
    crate::paths::remove_if_stale(sock);
    None
}

/// Hands a runner's event to the core; `false`: stop following this
/// runner (its session is buried already: a restarted daemon finding a
/// runner that lingers after its agent ended, whose dead record stands).
fn on_event(daemon: &Rc<Daemon>, id: &str, event: RunnerEvent, replay: bool) -> bool {
    let id = id.to_string();
    match event {
        RunnerEvent::Meta(meta) => {
            if !daemon.wants_runner(&id) {
                return false;
            }
            if let Some(pid) = meta.runner_pid {
                daemon.runner_pid(&id, pid);
            }
            let saved = super::live::load(&id).map(Box::new);
            daemon.dispatch(Event::Meta { id, meta, saved });
        }
        event => daemon.dispatch(Event::Runner {
            id,
            event: Box::new(event),
            replay,
        }),
    }
    true
}
