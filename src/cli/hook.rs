//! `amux hook AGENT`: the command an agent's command hooks run (Claude
//! Code's `--settings` hooks, Codex's `-c hooks…`, added at launch by
//! their adapters).
//!
//! The agent hands the moment over as JSON on stdin; what amux reads of
//! it becomes one `hook` event line (`adapters::hook_event`), written to
//! the runner's FIFO (`$AMUX_HOOK_FIFO`) in one write of at most
//! `PIPE_BUF` bytes, so lines of hooks that run at once never mix. The
//! agent waits for its hooks, and some read a hook's output as a
//! decision: this one never blocks (the FIFO is opened non-blocking, and
//! a runner that is gone means no reader, which is no error), prints
//! nothing and exits 0 whatever happens. Outside a session (no
//! `AMUX_HOOK_FIFO`) it does nothing.

use crate::error::Result;
use std::io::{self, Read, Write};
use std::process::ExitCode;

/// Of a larger hook input (a `Write` call's whole file) only this much is
/// read: it is no JSON amux reads then, and the rest is drained.
const MAX_INPUT: u64 = 1024 * 1024;
/// Writes of at most this many bytes to a pipe are atomic (POSIX).
const PIPE_BUF: usize = 4096;

pub fn hook(agent: &str, event: Option<&str>) -> Result<ExitCode> {
    let mut raw = Vec::new();
    let mut stdin = io::stdin().lock();
    let _ = (&mut stdin).take(MAX_INPUT).read_to_end(&mut raw);
    // Drained, so the agent's write of a larger input never fails.
    let _ = io::copy(&mut stdin, &mut io::sink());
    let env = |name: &str| std::env::var(name).ok();
    if let Some(fifo) = std::env::var_os("AMUX_HOOK_FIFO").filter(|f| !f.is_empty()) {
        if let Some(line) =
            crate::adapters::hook_event(&raw, event, crate::adapters::Kind::named(agent), &env)
                .and_then(line)
        {
            let _ = send(std::path::Path::new(&fifo), line.as_bytes());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The event as one line that fits one atomic write: without its text if
/// need be, else none.
fn line(mut event: crate::protocol::ShimEvent) -> Option<String> {
    let json = |e: &crate::protocol::ShimEvent| crate::protocol::to_json(e) + "\n";
    let mut line = json(&event);
    if line.len() > PIPE_BUF {
        event.text = None;
        line = json(&event);
    }
    (line.len() <= PIPE_BUF).then_some(line)
}

fn send(fifo: &std::path::Path, line: &[u8]) -> io::Result<()> {
    use rustix::fs::{Mode, OFlags};
    let flags = OFlags::WRONLY | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOFOLLOW;
    let fd = rustix::fs::open(fifo, flags, Mode::empty())?;
    if !rustix::fs::fstat(&fd).is_ok_and(|st| {
        rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Fifo
    }) {
        return Err(io::Error::other("not a FIFO"));
    }
    std::fs::File::from(fd).write_all(line)
}
