//! `amux run -d`: the runner in the background.
//!
//! The foreground half re-executes `amux` as a worker with stdout on a
//! pipe and stderr still on the user's terminal, then waits for one line:
//! the session id, written by the worker once its socket is listening. It
//! prints that id and exits 0. If the worker dies first (bad command, no
//! runtime dir), its own error is already on stderr and its status is
//! passed on. The worker starts a new session (no controlling terminal, so
//! the user's terminal closing cannot hang it up) and, once ready, points
//! its stdio at `/dev/null`.

use super::Options;
use crate::error::{Context, Error, Result};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, ExitCode, Stdio};

pub fn run_detached(opts: Options) -> Result<ExitCode> {
    let exe = std::env::current_exe().context(|| "cannot find the amux executable".into())?;
    let mut cmd = Command::new(exe);
    cmd.arg("run")
        .arg("--detached-worker")
        .arg("--keep")
        .arg(opts.keep.to_string());
    if let Some((cols, rows)) = opts.size {
        cmd.arg("--size").arg(format!("{cols}x{rows}"));
    }
    cmd.arg("--").args(&opts.argv);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut worker = cmd
        .spawn()
        .context(|| "cannot start the background runner".into())?;
    let mut line = String::new();
    if let Some(out) = worker.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut line);
    }
    let id = line.trim();
    if id.is_empty() {
        let status = worker.wait().context(|| "background runner".into())?;
        return Err(match status.code() {
            Some(code) if code != 0 => Error::Exit(code as u8),
            _ => Error::Failed("the background runner stopped before it was ready".into()),
        });
    }
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{id}").context(|| "stdout".into())?;
    stdout.flush().context(|| "stdout".into())?;
    Ok(ExitCode::SUCCESS)
}

/// Called by the worker when its socket listens: new session, report the
/// id, then detach stdio.
pub fn ready(id: &str) {
    let _ = rustix::process::setsid();
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "{id}");
    let _ = stdout.flush();
    if let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        let _ = rustix::stdio::dup2_stdout(&null);
        let _ = rustix::stdio::dup2_stderr(&null);
        let _ = rustix::stdio::dup2_stdin(&null);
    }
}
