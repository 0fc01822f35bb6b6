//! A minimal HTTP/1.1 client over Unix sockets, for the daemon (following
//! runners) and the CLI (talking to the daemon and runners).
//!
//! `request` sends one request with `Connection: close` and reads the
//! response to EOF (or its `Content-Length`); `Events` reads an SSE stream
//! frame by frame. The bytes are parsed in `wire.rs` (pure functions, so
//! the fuzz crate reaches them): response heads with the same limits as
//! requests (a status line, at most `MAX_HEADERS` headers, `MAX_HEAD`
//! bytes), event streams line by line.

use super::parse::{Status, MAX_HEAD};
use super::wire::{self, EventLines, Head};
use async_net::unix::UnixStream;
use futures_lite::io::BufReader;
use futures_lite::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use std::io;
use std::path::Path;
use std::time::Duration;

/// Largest response body we read (records of many sessions fit easily).
const MAX_RESPONSE: usize = 64 << 20;

pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

async fn send_head(
    sock: &Path,
    method: &str,
    target: &str,
    extra: &str,
    body: &[u8],
) -> io::Result<UnixStream> {
    let mut stream = UnixStream::connect(sock).await?;
    let head = format!(
        "{method} {target} HTTP/1.1\r\nHost: amux\r\n{extra}Content-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    stream.flush().await?;
    Ok(stream)
}

/// Reads a response head (parsed by `wire::parse_head`), leaving what
/// follows it (body, upgraded stream) in `reader`.
async fn read_head(reader: &mut BufReader<UnixStream>) -> io::Result<Head> {
    let mut head = Vec::new();
    loop {
        let buf = reader.fill_buf().await?;
        if buf.is_empty() {
            return Err(invalid("truncated response head"));
        }
        let seen = head.len();
        // `parse_head` looks at MAX_HEAD bytes at most: keep no more.
        let take = buf.len().min(MAX_HEAD - seen);
        head.extend_from_slice(&buf[..take]);
        match wire::parse_head(&head) {
            Ok(Status::Complete((parsed, used))) => {
                reader.consume(used.saturating_sub(seen));
                return Ok(parsed);
            }
            Ok(Status::Partial) => reader.consume(take),
            Err(e) => return Err(invalid(e.message())),
        }
    }
}

pub async fn request(sock: &Path, method: &str, target: &str, body: &[u8]) -> io::Result<Response> {
    let stream = send_head(sock, method, target, "Connection: close\r\n", body).await?;
    let mut reader = BufReader::new(stream);
    let Head {
        status,
        content_length: length,
    } = read_head(&mut reader).await?;
    let mut body = Vec::new();
    let limit = length.unwrap_or(MAX_RESPONSE).min(MAX_RESPONSE) as u64;
    (&mut reader).take(limit).read_to_end(&mut body).await?;
    if length.is_some_and(|l| body.len() < l) {
        return Err(invalid("response body ended early"));
    }
    Ok(Response { status, body })
}

/// How long a client waits for a whole answer: far beyond any answer a
/// working daemon or runner gives, short enough that a stopped one is an
/// error, not a hang.
pub const DEADLINE: Duration = Duration::from_secs(5);

/// `request`, or `TimedOut` once `limit` has passed (connect included).
pub async fn request_within(
    limit: Duration,
    sock: &Path,
    method: &str,
    target: &str,
    body: &[u8],
) -> io::Result<Response> {
    futures_lite::future::or(request(sock, method, target, body), async {
        async_io::Timer::after(limit).await;
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("no answer within {} s", limit.as_secs_f32()),
        ))
    })
    .await
}

/// Blocking convenience for the CLI, with the client `DEADLINE`.
pub fn request_blocking(
    sock: &Path,
    method: &str,
    target: &str,
    body: &[u8],
) -> io::Result<Response> {
    async_io::block_on(request_within(DEADLINE, sock, method, target, body))
}

/// An open SSE stream.
pub struct Events {
    reader: BufReader<UnixStream>,
    line: Vec<u8>,
    lines: EventLines,
}

/// Largest SSE data line we accept (a snapshot of one record).
const MAX_EVENT_LINE: u64 = 16 << 20;

impl Events {
    pub async fn open(sock: &Path, target: &str) -> io::Result<Events> {
        let stream = send_head(sock, "GET", target, "Accept: text/event-stream\r\n", b"").await?;
        let mut reader = BufReader::new(stream);
        let status = read_head(&mut reader).await?.status;
        if status != 200 {
            return Err(invalid(&format!("event stream answered {status}")));
        }
        Ok(Events {
            reader,
            line: Vec::new(),
            lines: EventLines::default(),
        })
    }

    /// The next `(event, data)`; `None` when the stream ends.
    pub async fn next(&mut self) -> io::Result<Option<(String, String)>> {
        loop {
            self.line.clear();
            let n = (&mut self.reader)
                .take(MAX_EVENT_LINE)
                .read_until(b'\n', &mut self.line)
                .await?;
            if n == 0 {
                return Ok(None);
            }
            if let Some(event) = self.lines.line(&self.line) {
                return Ok(Some(event));
            }
        }
    }
}

/// Opens an upgraded connection (`/attach`): returns the stream after 101.
pub async fn upgrade(
    sock: &Path,
    target: &str,
    protocol: &str,
) -> io::Result<(UnixStream, Vec<u8>)> {
    let extra = format!("Connection: Upgrade\r\nUpgrade: {protocol}\r\n");
    let stream = send_head(sock, "GET", target, &extra, b"").await?;
    let mut reader = BufReader::new(stream);
    let status = read_head(&mut reader).await?.status;
    if status != 101 {
        return Err(invalid(&format!("attach answered {status}")));
    }
    let leftover = reader.buffer().to_vec();
    Ok((reader.into_inner(), leftover))
}
