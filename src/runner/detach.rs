//! `amux run -d`: the runner in the background.
//!
//! The foreground half re-executes `amux` as a worker with stdout on a
//! pipe and stderr still on the user's terminal, then waits for one line:
//! the session id, written by the worker once its socket is listening. It
//! prints that id, once the daemon knows the session, and exits 0. If the worker dies first (bad command, no
//! runtime dir), its own error is already on stderr and its status is
//! passed on. The worker starts a new session (no controlling terminal, so
//! the user's terminal closing cannot hang it up) and, once ready, points
//! its stdio at `/dev/null`.

use super::Options;
use crate::error::{Context, Error, Result};
use crate::http::client;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

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
    if !opts.inject {
        cmd.arg("--no-inject");
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
    known_to_daemon(id);
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{id}").context(|| "stdout".into())?;
    stdout.flush().context(|| "stdout".into())?;
    Ok(ExitCode::SUCCESS)
}

/// Returns once the daemon knows session `id`, so that every client verb
/// run after `run -d` prints the id finds it. A daemon that is off
/// (`AMUX_NO_DAEMON`) or does not come up in time delays nothing more.
fn known_to_daemon(id: &str) {
    if std::env::var_os("AMUX_NO_DAEMON").is_some_and(|v| !v.is_empty() && v != "0") {
        return;
    }
    let daemon = crate::transport::Connect::daemon();
    let target = format!("/v1/sessions/{id}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let answer = async_io::block_on(client::request_within(
            Duration::from_secs(1),
            &daemon,
            "GET",
            &target,
            b"",
        ));
        match answer {
            Ok(r) if r.status == 200 => return,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return,
            _ => std::thread::sleep(Duration::from_millis(10)),
        }
    }
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
