//! Keeping the session socket where the daemon and clients look for it.
//!
//! Tmp cleaners remove files under `/tmp/amux-<uid>`: a runner whose socket
//! is gone still runs its agent, but nobody can reach it, and the daemon
//! (rightly) learns nothing from a socket it cannot see. The runner watches
//! its sessions directory with inotify and, when its socket is removed or
//! the directory itself goes, makes the directory again (0700) and binds a
//! new socket at the same path; the daemon sees it appear and follows it.
//! Connections on the old socket keep working (they do not need its name).

use super::{routes, Runner};
use crate::http::server;
use async_io::Async;
use inotify::{EventMask, Inotify, WatchMask};
use std::io;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::rc::Rc;

fn mask() -> WatchMask {
    WatchMask::DELETE | WatchMask::MOVED_FROM | WatchMask::DELETE_SELF | WatchMask::MOVE_SELF
}

pub async fn keep_socket(runner: Rc<Runner>, sock: PathBuf) {
    // Best effort: without inotify the runner works as before.
    let _ = watch(runner, sock).await;
}

async fn watch(runner: Rc<Runner>, sock: PathBuf) -> io::Result<()> {
    let dir = crate::paths::sessions_dir();
    let name = sock
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    let mut inotify = Inotify::init()?;
    inotify.watches().add(&dir, mask())?;
    let ready = Async::new(inotify.as_fd().try_clone_to_owned()?)?;
    let mut buf = vec![0u8; 4096];
    while runner.alive() {
        ready.readable().await?;
        let events = match inotify.read_events(&mut buf) {
            Ok(events) => events,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        };
        let mut gone = false;
        for event in events {
            let dir_gone = event
                .mask
                .intersects(EventMask::DELETE_SELF | EventMask::MOVE_SELF);
            gone |= dir_gone || event.name.is_some_and(|n| n == name);
        }
        if gone && !sock.exists() && runner.alive() {
            crate::paths::ensure_runtime()?;
            inotify.watches().add(&dir, mask())?;
            let listener = super::relay::bind(&sock)?;
            let handler = routes::handler(runner.clone());
            runner
                .ex
                .spawn(server::serve(listener, handler, runner.ex.clone()))
                .detach();
        }
    }
    Ok(())
}
