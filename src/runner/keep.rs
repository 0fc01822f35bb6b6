//! Keeping the session socket where the daemon and clients look for it.
//!
//! Tmp cleaners remove files under `/tmp/amux-<uid>`: a runner whose socket
//! is gone still runs its agent, but nobody can reach it. The daemon, which
//! watches the sessions directory anyway, sees the socket (or the whole
//! directory) go while it still follows the runner's stream, and sends the
//! runner SIGUSR1; the runner then makes the directory again (0700) and
//! binds a new socket at the same path, which the daemon sees appear and
//! follows. Connections on the old socket keep working (they do not need
//! its name). The runner does not watch the directory itself: an inotify
//! instance per runner ran out of the user's 128 at about 120 sessions (and
//! then no daemon could start), and every exit there woke every runner.

use super::{routes, Runner};
use crate::http::server;
use std::io;
use std::rc::Rc;

/// The daemon saw our socket go: bind it again if it is still gone.
pub fn rebind_if_gone(runner: &Rc<Runner>) -> io::Result<()> {
    let sock = crate::paths::session_socket(&runner.session.borrow().id);
    if sock.exists() || !runner.alive() {
        return Ok(());
    }
    crate::paths::ensure_runtime()?;
    let listener = super::relay::bind(&sock)?;
    let handler = routes::handler(runner.clone());
    runner
        .ex
        .spawn(server::serve(listener, handler, runner.ex.clone()))
        .detach();
    Ok(())
}
