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
//!
//! Detaching gives the user back the terminal they had: the output is
//! watched for the agent entering and leaving the alternate screen
//! (`Screen`), and on detach we leave it if the agent is in it (which
//! restores the screen from before the attach), undo the modes agents
//! set (attributes, hidden cursor, bracketed paste, mouse reports, focus
//! events, keyboard protocols, scroll region), and print the note on a
//! line of its own below the agent's drawing.

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
    // The terminal and the session's socket are waited on by this thread
    // itself (`hot.rs`): a keystroke and its echo wake it once each.
    let attached = crate::hot::block_on(async {
        // A runner that takes the connection but never answers (stopped)
        // is an error, not a hang.
        let upgrade = client::upgrade(&runner, "/attach", "amux-attach");
        let (stream, leftover) = client::within(super::client::deadline(&runner), upgrade)
            .await
            .context(|| format!("cannot attach to {id}"))?;
        let raw = RawMode::enable(io::stdin().as_fd()).context(|| "terminal".into())?;
        let result = relay(stream.into_hot(), leftover).await;
        drop(raw);
        result
    });
    attached.context(|| "event loop".into())?
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
    let screen = std::cell::Cell::new(Screen::default());
    let output = output(reader, leftover, stdout, &screen);
    // SIGWINCH is watched by a task of its own, polled only when a signal
    // came: polled beside each keystroke's read it cost a would-block
    // read of its socket per key.
    let (resized, resizes) = async_channel::bounded(1);
    let ex = async_executor::LocalExecutor::new();
    let _winch = ex.spawn(async move {
        let Ok(mut signals) = async_signal::Signals::new([async_signal::Signal::Winch]) else {
            return;
        };
        while signals.next().await.is_some() {
            // Full: a resize is already pending, and it reads the size then.
            let _ = resized.try_send(());
        }
    });
    match ex
        .run(future::or(output, input(writer, stdin, resizes)))
        .await
    {
        End::Detached => {
            let rows = term::size_of(io::stdout()).map_or(24, |w| w.ws_row);
            let restore = screen.get().restore(rows);
            let mut out = io::stdout().lock();
            use std::io::Write;
            let _ = out.write_all(restore.as_bytes()).and_then(|()| out.flush());
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

/// Keystrokes to input frames until the detach key; a `SIGWINCH` (from
/// `resizes`) to a resize frame.
async fn input(mut writer: Writer, mut stdin: Stdio, resizes: async_channel::Receiver<()>) -> End {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let winch = async {
            match resizes.recv().await {
                Ok(()) => None,
                Err(_) => std::future::pending().await,
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

/// What the agent's output has done to the terminal that detaching must
/// undo: whether it is on the alternate screen now. `tail` keeps the end
/// of the last write, so a sequence split between two writes is seen.
#[derive(Clone, Copy, Default)]
struct Screen {
    alternate: bool,
    tail: [u8; 8],
    tail_len: usize,
}

/// The sequences that enter (`h`) and leave (`l`) the alternate screen.
const ALTERNATE: [&[u8]; 3] = [b"\x1b[?1049", b"\x1b[?1047", b"\x1b[?47"];

/// Modes agents set and a shell does not want: attributes, cursor shown,
/// bracketed paste, mouse reports, focus events, the kitty keyboard
/// protocol, application cursor keys and keypad, the scroll region.
const RESET: &str = "\x1b[0m\x1b[?25h\x1b[?2004l\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l\x1b[?1004l\x1b[<u\x1b[?1l\x1b>\x1b[r";

impl Screen {
    fn saw(&mut self, bytes: &[u8]) {
        let mut seen = self.tail[..self.tail_len].to_vec();
        seen.extend_from_slice(bytes);
        for (i, _) in seen.iter().enumerate().filter(|(_, b)| **b == 0x1b) {
            let rest = &seen[i..];
            for seq in ALTERNATE {
                match rest.strip_prefix(seq).and_then(|r| r.first()) {
                    Some(b'h') => self.alternate = true,
                    Some(b'l') => self.alternate = false,
                    _ => {}
                }
            }
        }
        let keep = seen.len().min(self.tail.len());
        self.tail[..keep].copy_from_slice(&seen[seen.len() - keep..]);
        self.tail_len = keep;
    }

    /// What to write on detach for a terminal of `rows` rows.
    fn restore(self, rows: u16) -> String {
        let place = if self.alternate {
            // Back to the user's screen and cursor, on the line they
            // typed the attach from.
            "\x1b[?1049l\r\x1b[K".to_string()
        } else {
            // Below whatever the agent drew: its last row, then a new line.
            format!("\x1b[{rows};1H\r\n")
        };
        format!("{RESET}{place}[detached]\r\n")
    }
}

async fn output(
    mut stream: Reader,
    mut buf: Vec<u8>,
    mut stdout: Stdio,
    screen: &std::cell::Cell<Screen>,
) -> End {
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        loop {
            match frame::decode(&buf) {
                Decoded::Frame(frame::OUTPUT, payload, used) => {
                    buf.drain(..used);
                    let mut seen = screen.get();
                    seen.saw(&payload);
                    screen.set(seen);
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

#[cfg(test)]
mod tests {
    use super::Screen;

    #[test]
    fn the_alternate_screen_is_followed_across_writes() {
        let cases: &[(&[&[u8]], bool)] = &[
            (&[b"plain text"], false),
            (&[b"\x1b[?1049h\x1b[2J"], true),
            (&[b"\x1b[?1049h", b"draw\x1b[?1049l"], false),
            (&[b"\x1b[?10", b"49h"], true),
            (&[b"x\x1b[?47h"], true),
            (&[b"\x1b[?1047h", b"\x1b[?1047l", b"\x1b[?1049h"], true),
            (&[b"\x1b[?1049", b"l"], false),
        ];
        for (writes, alternate) in cases {
            let mut screen = Screen::default();
            writes.iter().for_each(|w| screen.saw(w));
            assert_eq!(screen.alternate, *alternate, "{writes:?}");
        }
        let back = Screen {
            alternate: true,
            ..Screen::default()
        };
        assert!(back.restore(24).contains("\x1b[?1049l"));
        assert!(Screen::default()
            .restore(24)
            .contains("\x1b[24;1H\r\n[detached]"));
    }
}
