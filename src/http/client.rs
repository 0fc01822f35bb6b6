//! A minimal HTTP/1.1 client over Unix sockets, for the daemon (following
//! runners) and the CLI (talking to the daemon and runners).
//!
//! `request` sends one request with `Connection: close` and reads the
//! response to EOF (or its `Content-Length`); `Events` reads an SSE stream
//! frame by frame. Response heads are parsed here with the same limits as
//! requests: a status line, at most `MAX_HEADERS` headers, `MAX_HEAD` bytes.

use super::parse::{MAX_HEAD, MAX_HEADERS};
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

/// Reads a response head; returns the status and `Content-Length` if any.
async fn read_head(reader: &mut BufReader<UnixStream>) -> io::Result<(u16, Option<usize>)> {
    let mut line = Vec::new();
    let mut total = 0;
    let mut status = None;
    let mut length = None;
    for _ in 0..=MAX_HEADERS + 1 {
        line.clear();
        let n = (&mut *reader)
            .take((MAX_HEAD - total) as u64)
            .read_until(b'\n', &mut line)
            .await?;
        total += n;
        if n == 0 || !line.ends_with(b"\n") {
            return Err(invalid("truncated or oversized response head"));
        }
        let text = std::str::from_utf8(&line)
            .map_err(|_| invalid("response head is not UTF-8"))?
            .trim_end();
        if status.is_none() {
            let code = text
                .strip_prefix("HTTP/1.")
                .and_then(|r| r.get(2..5))
                .and_then(|c| c.parse().ok());
            status = Some(code.ok_or_else(|| invalid("bad status line"))?);
        } else if text.is_empty() {
            return Ok((status.unwrap_or(0), length));
        } else if let Some((name, value)) = text.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = Some(
                    value
                        .trim()
                        .parse()
                        .map_err(|_| invalid("bad Content-Length"))?,
                );
            }
        }
    }
    Err(invalid("too many response headers"))
}

pub async fn request(sock: &Path, method: &str, target: &str, body: &[u8]) -> io::Result<Response> {
    let stream = send_head(sock, method, target, "Connection: close\r\n", body).await?;
    let mut reader = BufReader::new(stream);
    let (status, length) = read_head(&mut reader).await?;
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
}

/// Largest SSE data line we accept (a snapshot of one record).
const MAX_EVENT_LINE: u64 = 16 << 20;

impl Events {
    pub async fn open(sock: &Path, target: &str) -> io::Result<Events> {
        let stream = send_head(sock, "GET", target, "Accept: text/event-stream\r\n", b"").await?;
        let mut reader = BufReader::new(stream);
        let (status, _) = read_head(&mut reader).await?;
        if status != 200 {
            return Err(invalid(&format!("event stream answered {status}")));
        }
        Ok(Events {
            reader,
            line: Vec::new(),
        })
    }

    /// The next `(event, data)`; `None` when the stream ends.
    pub async fn next(&mut self) -> io::Result<Option<(String, String)>> {
        let mut event = String::from("message");
        let mut data = String::new();
        loop {
            self.line.clear();
            let n = (&mut self.reader)
                .take(MAX_EVENT_LINE)
                .read_until(b'\n', &mut self.line)
                .await?;
            if n == 0 {
                return Ok(None);
            }
            let line = String::from_utf8_lossy(&self.line);
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                if !data.is_empty() {
                    return Ok(Some((event, data)));
                }
                continue;
            }
            if let Some(value) = line.strip_prefix("event:") {
                event = value.trim_start().to_string();
            } else if let Some(value) = line.strip_prefix("data:") {
                if !data.is_empty() {
                    data.push('\n');
                }
                data.push_str(value.strip_prefix(' ').unwrap_or(value));
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
    let (status, _) = read_head(&mut reader).await?;
    if status != 101 {
        return Err(invalid(&format!("attach answered {status}")));
    }
    let leftover = reader.buffer().to_vec();
    Ok((reader.into_inner(), leftover))
}
