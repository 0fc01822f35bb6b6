//! `amux attach ID`: the agent's terminal in this one.
//!
//! Asks the daemon where the session's runner listens, then connects to
//! the runner's `/attach` itself (framing in `frame.rs`): keystrokes take
//! one hop, not two. It puts the terminal in raw mode, sends its size,
//! and relays: keystrokes become input frames, output frames go to
//! stdout, `SIGWINCH` sends a resize. The runner reports typed input to
//! the daemon (`input` events), which counts it as pending like `send`.
//! The detach key (`Ctrl-\`, byte 0x1c) leaves the agent running; the
//! agent's exit ends the attach with its status.

use crate::error::{Context, Error, Result};
use crate::frame::{self, Decoded};
use crate::http::client;
use crate::protocol::RunnerAddr;
use crate::stdio::Stdio;
use crate::term::{self, RawMode};
use crate::transport::{Reader, Stream, Writer};
use futures_lite::{future, AsyncReadExt, AsyncWriteExt, StreamExt};
use std::io;
use std::os::fd::AsFd;
use std::process::ExitCode;

pub const DETACH_KEY: u8 = 0x1c;

pub fn attach(key: &str) -> Result<ExitCode> {
    // A terminal is what attaching gives you; a pipe would get raw escape
    // sequences and end the attach at its EOF.
    if !rustix::termios::isatty(io::stdin()) || !rustix::termios::isatty(io::stdout()) {
        return Err(Error::Failed(
            "attach needs a terminal on stdin and stdout (use send and show for scripts)".into(),
        ));
    }
    let addr: RunnerAddr = super::client::ask(key, "/runner")?;
    let id = addr.id;
    let Some(socket) = addr.socket.filter(|_| addr.alive) else {
        return Err(Error::Failed(format!(
            "session {id} has ended; 'amux resume {id}' continues its conversation"
        )));
    };
    let runner = super::client::daemon().same_host(&id, socket);
    async_io::block_on(async {
        // A runner that takes the connection but never answers (stopped)
        // is an error, not a hang.
        let upgrade = client::upgrade(&runner, "/attach", "amux-attach");
        let (stream, leftover) = client::within(super::client::deadline(&runner), upgrade)
            .await
            .context(|| format!("cannot attach to {id}"))?;
        let raw = RawMode::enable(io::stdin().as_fd()).context(|| "terminal".into())?;
        let result = relay(stream, leftover).await;
        drop(raw);
        result
    })
}

enum End {
    Detached,
    Exited(u8),
    Closed,
}

async fn relay(stream: Stream, leftover: Vec<u8>) -> Result<ExitCode> {
    let (reader, mut writer) = stream.split();
    send_size(&mut writer).await;
    let dup = |fd: std::os::fd::BorrowedFd<'_>| fd.try_clone_to_owned().map(std::fs::File::from);
    let stdout = dup(io::stdout().as_fd()).context(|| "stdout".into())?;
    let stdin = dup(io::stdin().as_fd()).context(|| "stdin".into())?;
    let stdout = Stdio::new(stdout).context(|| "stdout".into())?;
    let stdin = Stdio::new(stdin).context(|| "stdin".into())?;
    let output = output(reader, leftover, stdout);
    match future::or(output, input(writer, stdin)).await {
        End::Detached => {
            eprint!("\r\n[detached]\r\n");
            Ok(ExitCode::SUCCESS)
        }
        End::Exited(code) => Ok(ExitCode::from(code)),
        End::Closed => Err(Error::Failed("the session closed the connection".into())),
    }
}

async fn send_size(writer: &mut Writer) {
    if let Some(size) = term::size_of(io::stdin()) {
        let _ = writer
            .write_all(&frame::resize(size.ws_col, size.ws_row))
            .await;
    }
}

/// Keystrokes to input frames until the detach key; `SIGWINCH` to resize
/// frames.
async fn input(mut writer: Writer, mut stdin: Stdio) -> End {
    let mut signals = async_signal::Signals::new([async_signal::Signal::Winch]).ok();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let winch = async {
            match signals.as_mut() {
                Some(s) => s.next().await.map(|_| None).unwrap_or(None),
                None => std::future::pending().await,
            }
        };
        let read = future::or(async { Some(stdin.read(&mut buf).await) }, winch).await;
        let n = match read {
            None => {
                send_size(&mut writer).await;
                continue;
            }
            Some(Ok(0)) | Some(Err(_)) => return End::Closed,
            Some(Ok(n)) => n,
        };
        let chunk = &buf[..n];
        let (send, detach) = match chunk.iter().position(|&b| b == DETACH_KEY) {
            Some(i) => (&chunk[..i], true),
            None => (chunk, false),
        };
        let frame = frame::encode(frame::INPUT, send);
        if !send.is_empty() && writer.write_all(&frame).await.is_err() {
            return End::Closed;
        }
        if detach {
            return End::Detached;
        }
    }
}

async fn output(mut stream: Reader, mut buf: Vec<u8>, mut stdout: Stdio) -> End {
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        loop {
            match frame::decode(&buf) {
                Decoded::Frame(frame::OUTPUT, payload, used) => {
                    buf.drain(..used);
                    if stdout.write_all(&payload).await.is_err() {
                        return End::Closed;
                    }
                }
                Decoded::Frame(frame::EXIT, payload, _) => {
                    let exit: crate::protocol::Exit =
                        serde_json::from_slice(&payload).unwrap_or_default();
                    return End::Exited(exit.exit_code.unwrap_or(0) as u8);
                }
                Decoded::Frame(_, _, used) => {
                    buf.drain(..used);
                }
                Decoded::Partial => break,
                Decoded::Invalid => return End::Closed,
            }
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return End::Closed,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}
