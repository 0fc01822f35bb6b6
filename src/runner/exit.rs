//! The runner's exit sequence, once the child's status is known.
//!
//! `drain` lets the PTY reader finish (EOF, or output quiet for
//! `DRAIN_QUIET`, or `DRAIN_MAX` at most: a grandchild may hold the
//! terminal forever); `hang_up` then ends whatever still holds it. `finish`
//! then goes in a fixed order: record the exit, write `<id>.exit` (the
//! final `/meta`, 0600, atomically) so the status survives whatever
//! happens to the socket, publish `exit` and end every stream, restore the
//! terminal, flush stdout, and linger for subscribers. The caller removes
//! the socket only after that, so the `.exit` file always exists first.

use super::{exit_code, exit_of, Runner, DRAIN_QUIET, LINGER};
use std::os::unix::ffi::OsStrExt;

/// The longest a runner waits for its terminal to go quiet after the agent
/// exited.
const DRAIN_MAX: Duration = Duration::from_secs(1);
/// How long leftovers on the terminal have to leave after their hangup.
const HANGUP_GRACE: Duration = Duration::from_millis(300);
use crate::stdio::Stdio;
use crate::term::RawMode;
use async_io::Timer;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Waits for the reader to see EOF, for output to go quiet, or at most
/// `DRAIN_MAX`: a grandchild that left the agent's session may hold the
/// terminal and write to it forever. `true` when the terminal was closed
/// by all (EOF); otherwise someone still holds it.
pub async fn drain(
    runner: &Runner,
    reader: async_executor::Task<Option<Stdio>>,
) -> (Option<Stdio>, bool) {
    let quiet = async {
        let end = Instant::now() + DRAIN_MAX;
        loop {
            Timer::after(Duration::from_millis(20)).await;
            if runner.last_output.get().elapsed() >= DRAIN_QUIET || Instant::now() >= end {
                return (None, false);
            }
        }
    };
    futures_lite::future::or(async { (reader.await, true) }, quiet).await
}

/// What is left on the terminal after the agent exited (a daemonised
/// grandchild) gets the hangup a closing terminal would give it, then
/// SIGKILL if it is still there: the session is over, and nothing may
/// keep writing to a terminal nobody reads.
pub async fn hang_up(runner: &Runner) {
    let Ok(name) = rustix::pty::ptsname(runner.controller.get_ref(), Vec::new()) else {
        return;
    };
    let pts = std::path::PathBuf::from(std::ffi::OsStr::from_bytes(name.as_bytes()));
    blocking::unblock(move || {
        use rustix::process::{kill_process, Pid, Signal};
        let signal = |pids: &[u32], signal: Signal| {
            for pid in pids.iter().filter_map(|&p| Pid::from_raw(p as i32)) {
                let _ = kill_process(pid, signal);
            }
        };
        signal(&crate::procfs::holders(&pts), Signal::HUP);
        std::thread::sleep(HANGUP_GRACE);
        signal(&crate::procfs::holders(&pts), Signal::KILL);
    })
    .await
}

/// The exit sequence: write `<id>.exit`, publish `exit`, end every
/// stream, restore the terminal, flush what the agent printed last,
/// linger for subscribers.
pub async fn finish(
    runner: &Runner,
    status: std::process::ExitStatus,
    raw: Option<RawMode>,
    stdout: Option<Stdio>,
    detached: bool,
) -> ExitCode {
    let exit = exit_of(status);
    let code = exit_code(&exit);
    let event = runner.session.borrow_mut().set_exit(exit);
    write_exit_file(runner);
    runner.publish(&event);
    runner.events.close();
    end_attachers(runner);
    drop(raw);
    // Written through as it came (stdio.rs): nothing left to flush.
    drop(stdout);
    linger(runner, detached).await;
    code
}

/// Leaves the final `/meta` in `<id>.exit` before the socket goes: a
/// daemon that is slow, down or restarting still learns the status.
fn write_exit_file(runner: &Runner) {
    let (id, meta) = {
        let session = runner.session.borrow();
        (
            session.id.clone(),
            crate::protocol::to_json(&session.meta()),
        )
    };
    let path = crate::paths::session_exit_file(&id);
    if let Err(e) = crate::paths::write_private(&path, meta.as_bytes()) {
        eprintln!("amux: cannot write {}: {e}", path.display());
    }
}

fn end_attachers(runner: &Runner) {
    let exit = crate::protocol::to_json(&runner.session.borrow().exit_event());
    let frame: Rc<[u8]> = crate::frame::encode(crate::frame::EXIT, exit.as_bytes()).into();
    runner.viewers.end_all(frame);
}

/// One timer and, in the foreground, the streams' own ends: a runner that
/// lingers wakes once, not every few ms (200 sessions ending at once
/// spent a second of CPU polling here while a user's `ls` waited).
async fn linger(runner: &Runner, detached: bool) {
    let deadline = Timer::after(LINGER);
    if detached {
        deadline.await;
        return;
    }
    futures_lite::future::or(
        async {
            deadline.await;
        },
        runner.events.streams_ended(),
    )
    .await;
}
