//! The runner's exit sequence, once the child's status is known.
//!
//! `drain` lets the PTY reader finish (EOF, or output quiet for
//! `DRAIN_QUIET`: a grandchild may hold the terminal forever). `finish`
//! then goes in a fixed order: record the exit, write `<id>.exit` (the
//! final `/meta`, 0600, atomically) so the status survives whatever
//! happens to the socket, publish `exit` and end every stream, restore the
//! terminal, flush stdout, and linger for subscribers. The caller removes
//! the socket only after that, so the `.exit` file always exists first.

use super::{exit_code, exit_of, Runner, DRAIN_QUIET, LINGER};
use crate::term::RawMode;
use async_io::Timer;
use blocking::Unblock;
use futures_lite::AsyncWriteExt;
use std::fs::File;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Waits for the reader to see EOF, or for output to go quiet.
pub async fn drain(
    runner: &Runner,
    reader: async_executor::Task<Option<Unblock<File>>>,
) -> Option<Unblock<File>> {
    let quiet = async {
        loop {
            Timer::after(Duration::from_millis(20)).await;
            if runner.last_output.get().elapsed() >= DRAIN_QUIET {
                return None;
            }
        }
    };
    futures_lite::future::or(reader, quiet).await
}

/// The exit sequence: write `<id>.exit`, publish `exit`, end every
/// stream, restore the terminal, flush what the agent printed last,
/// linger for subscribers.
pub async fn finish(
    runner: &Runner,
    status: std::process::ExitStatus,
    raw: Option<RawMode>,
    stdout: Option<Unblock<File>>,
    detached: bool,
) -> ExitCode {
    let exit = exit_of(status);
    let code = exit_code(&exit);
    let event = runner.session.borrow_mut().set_exit(exit);
    write_exit_file(runner);
    runner.publish(event);
    runner.events.close();
    end_attachers(runner);
    drop(raw);
    if let Some(mut out) = stdout {
        let _ = out.flush().await;
    }
    linger(runner, detached).await;
    code
}

/// Leaves the final `/meta` in `<id>.exit` before the socket goes: a
/// daemon that is slow, down or restarting still learns the status.
fn write_exit_file(runner: &Runner) {
    let (id, meta) = {
        let session = runner.session.borrow();
        (session.id.clone(), session.meta().to_string())
    };
    let path = crate::paths::session_exit_file(&id);
    if let Err(e) = crate::paths::write_private(&path, meta.as_bytes()) {
        eprintln!("amux: cannot write {}: {e}", path.display());
    }
}

fn end_attachers(runner: &Runner) {
    let exit = runner.session.borrow().exit_json().to_string();
    let frame: Rc<[u8]> = crate::frame::encode(crate::frame::EXIT, exit.as_bytes()).into();
    runner.viewers.end_all(frame);
}

async fn linger(runner: &Runner, detached: bool) {
    let deadline = Instant::now() + LINGER;
    while Instant::now() < deadline {
        if !detached && runner.events.open_streams() == 0 {
            return;
        }
        Timer::after(Duration::from_millis(20)).await;
    }
}
