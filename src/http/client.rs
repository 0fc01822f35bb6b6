//! A minimal HTTP/1.1 client, for the daemon (following runners) and the
//! CLI (talking to the daemon and runners).
//!
//! The exchange itself is generic over any `AsyncRead + AsyncWrite`; the
//! entry points open a `transport::Stream` from a `Connect` first, so the
//! same code runs over a Unix socket or a child process's stdin/stdout.
//! Over ssh, each connection first asks `GET /v1/health` (keep-alive) and
//! refuses a daemon speaking another protocol version, so a user meets
//! "too old" once and clearly instead of a misread answer later.
//! `request` sends one request with `Connection: close` and reads the
//! response to EOF (or its `Content-Length`); `Events` reads an SSE stream
//! line by line into `wire::EventLines`; `upgrade` hands back the stream after a 101. Response
//! heads go through `parse::Response`, with the limits of requests.

use super::parse::{self, Status, MAX_HEADERS};
use super::wire::EventLines;
use crate::protocol::Health;
use crate::transport::{Connect, Stream};
use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use std::io;
use std::time::Duration;

/// Largest response body we read (records of many sessions fit easily).
const MAX_RESPONSE: usize = 64 << 20;

/// How long a client waits for a whole answer: far beyond any answer a
/// working daemon or runner gives, short enough that a stopped one is an
/// error, not a hang.
pub const DEADLINE: Duration = Duration::from_secs(5);

pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

async fn send_head<W: AsyncWrite + Unpin>(
    stream: &mut W,
    method: &str,
    target: &str,
    extra: &str,
    body: &[u8],
) -> io::Result<()> {
    let head = format!(
        "{method} {target} HTTP/1.1\r\nHost: amux\r\n{extra}Content-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    stream.flush().await
}

/// A parsed response head: the status and `Content-Length`, if any.
struct Head {
    status: u16,
    length: Option<usize>,
}

/// Reads until a response head is complete. Returns it with the bytes
/// read past it (the start of the body, or of the upgraded stream).
async fn read_head<R: AsyncRead + Unpin>(reader: &mut R) -> io::Result<(Head, Vec<u8>)> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let mut headers = [parse::EMPTY_HEADER; MAX_HEADERS];
        let mut resp = parse::Response::new(&mut headers);
        match resp.parse(&buf).map_err(|e| invalid(e.message()))? {
            Status::Complete(n) => {
                let head = Head {
                    status: resp.code.unwrap_or(0),
                    length: resp.content_length().map_err(|e| invalid(e.message()))?,
                };
                return Ok((head, buf.split_off(n)));
            }
            Status::Partial => {}
        }
        // `parse` refuses a buffer past `MAX_HEAD` without a whole head, so
        // this holds at most one chunk more than that.
        let n = reader.read(&mut chunk).await?;
        if n == 0 {
            return Err(invalid(
                "the connection closed before a whole response head",
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// One request and its whole response over `stream`, any duplex.
pub async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    method: &str,
    target: &str,
    body: &[u8],
) -> io::Result<Response> {
    send_head(&mut stream, method, target, "Connection: close\r\n", body).await?;
    let (head, mut body) = read_head(&mut stream).await?;
    let limit = head.length.unwrap_or(MAX_RESPONSE).min(MAX_RESPONSE);
    if body.len() < limit {
        let rest = (limit - body.len()) as u64;
        (&mut stream).take(rest).read_to_end(&mut body).await?;
    }
    if head.length.is_some_and(|l| body.len() < l) {
        return Err(invalid("response body ended early"));
    }
    body.truncate(limit);
    Ok(Response {
        status: head.status,
        body,
    })
}

pub async fn request(
    to: &Connect,
    method: &str,
    target: &str,
    body: &[u8],
) -> io::Result<Response> {
    exchange(connect(to).await?, method, target, body).await
}

/// `request`, with the health the protocol check read on the way (over
/// ssh: one login gives both).
pub async fn request_with_health(
    to: &Connect,
    method: &str,
    target: &str,
    body: &[u8],
) -> io::Result<(Response, Option<Health>)> {
    let (stream, health) = connect_checked(to).await?;
    Ok((exchange(stream, method, target, body).await?, health))
}

/// `to.open()`, and for another host's daemon the protocol check (a
/// runner there is reached only after its daemon was asked where it is).
pub async fn connect(to: &Connect) -> io::Result<Stream> {
    Ok(connect_checked(to).await?.0)
}

async fn connect_checked(to: &Connect) -> io::Result<(Stream, Option<Health>)> {
    let mut stream = to.open().await?;
    let mut health = None;
    if matches!(to, Connect::Ssh { session: None, .. }) {
        health = Some(check_protocol(&mut stream, to).await?);
    }
    Ok((stream, health))
}

/// `GET /v1/health` on a kept-alive connection: its `protocol` must be
/// one this client reads (`MIN_PROTOCOL` or later). The body is read to its `Content-Length` exactly, so the
/// connection is left at the start of the next response.
async fn check_protocol(stream: &mut Stream, to: &Connect) -> io::Result<Health> {
    send_head(stream, "GET", "/v1/health", "", b"").await?;
    let (head, mut body) = read_head(stream).await?;
    let length = head.length.unwrap_or(0).min(MAX_RESPONSE);
    if body.len() < length {
        let rest = (length - body.len()) as u64;
        (&mut *stream).take(rest).read_to_end(&mut body).await?;
    }
    let health = serde_json::from_slice::<Health>(&body)
        .ok()
        .filter(|_| head.status == 200);
    let theirs = health.as_ref().map(|h| h.protocol);
    let ours = crate::protocol::PROTOCOL;
    let host = match to {
        Connect::Ssh { host, .. } => host.label.as_str(),
        Connect::Unix(_) => "the other end",
    };
    match theirs {
        // A newer daemon's answers read here (readers are lenient and carry
        // what they do not know, such as an agent kind); an older one
        // lacks only what came since (`explain` answers 404 there).
        Some(p) if p >= crate::protocol::MIN_PROTOCOL => Ok(health.unwrap_or_default()),
        Some(p) => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!(
                "amux on {host} speaks protocol {p}, this one {ours} (at least {}): upgrade amux there",
                crate::protocol::MIN_PROTOCOL
            ),
        )),
        None => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("amux on {host} is too old (no protocol version in /v1/health): upgrade it"),
        )),
    }
}

/// `fut`, or `TimedOut` once `limit` has passed.
pub async fn within<T>(
    limit: Duration,
    fut: impl std::future::Future<Output = io::Result<T>>,
) -> io::Result<T> {
    futures_lite::future::or(fut, async {
        async_io::Timer::after(limit).await;
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("no answer within {} s", limit.as_secs_f32()),
        ))
    })
    .await
}

/// `request`, or `TimedOut` once `limit` has passed (connect included).
pub async fn request_within(
    limit: Duration,
    to: &Connect,
    method: &str,
    target: &str,
    body: &[u8],
) -> io::Result<Response> {
    within(limit, request(to, method, target, body)).await
}

/// An open SSE stream.
pub struct Events {
    stream: Stream,
    buf: Vec<u8>,
    lines: EventLines,
}

/// Largest SSE line we accept (a snapshot of one record).
const MAX_EVENT_LINE: usize = 16 << 20;

impl Events {
    /// Subscribes to `target`. `Ok(Err(response))`: the server answered,
    /// but not with a stream (a 404 or 409, with its error body).
    pub async fn open(to: &Connect, target: &str) -> io::Result<Result<Events, Response>> {
        Events::over(connect(to).await?, target).await
    }

    pub async fn over(mut stream: Stream, target: &str) -> io::Result<Result<Events, Response>> {
        send_head(
            &mut stream,
            "GET",
            target,
            "Accept: text/event-stream\r\n",
            b"",
        )
        .await?;
        let (head, mut buf) = read_head(&mut stream).await?;
        if head.status != 200 {
            if let Some(length) = head.length.filter(|l| *l <= MAX_RESPONSE) {
                if buf.len() < length {
                    let rest = (length - buf.len()) as u64;
                    (&mut stream).take(rest).read_to_end(&mut buf).await?;
                }
            }
            let status = head.status;
            return Ok(Err(Response { status, body: buf }));
        }
        Ok(Ok(Events {
            stream,
            buf,
            lines: EventLines::default(),
        }))
    }

    /// One line without its end; `None` at the end of the stream (a
    /// last line without its newline is not an event: dropped).
    async fn line(&mut self) -> io::Result<Option<Vec<u8>>> {
        let mut scanned = 0;
        let mut chunk = [0u8; 16 * 1024];
        loop {
            if let Some(i) = self.buf[scanned..].iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.buf.drain(..=scanned + i).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(Some(line));
            }
            if self.buf.len() > MAX_EVENT_LINE {
                return Err(invalid("an event line over 16 MiB"));
            }
            scanned = self.buf.len();
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok(None);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// The next `(event, data)`; `None` when the stream ends.
    pub async fn next(&mut self) -> io::Result<Option<(String, String)>> {
        loop {
            let Some(line) = self.line().await? else {
                return Ok(None);
            };
            if let Some(event) = self.lines.line(&line) {
                return Ok(Some(event));
            }
        }
    }
}

/// Opens an upgraded connection (`/attach`): returns the stream after 101
/// with any bytes the server sent past the head.
pub async fn upgrade(to: &Connect, target: &str, protocol: &str) -> io::Result<(Stream, Vec<u8>)> {
    let mut stream = connect(to).await?;
    let extra = format!("Connection: Upgrade\r\nUpgrade: {protocol}\r\n");
    send_head(&mut stream, "GET", target, &extra, b"").await?;
    let (head, leftover) = read_head(&mut stream).await?;
    if head.status != 101 {
        return Err(invalid(&format!("attach answered {}", head.status)));
    }
    Ok((stream, leftover))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::response::{Request, Response as Reply200};
    use crate::http::server::{self, boxed, Handler, Reply};
    use crate::http::sse::{frame, Broadcaster};
    use async_executor::LocalExecutor;
    use async_net::unix::UnixStream;
    use std::rc::Rc;

    /// Two one-way channels standing in for a child's stdin and stdout
    /// (`ssh HOST amux dial-stdio`): each side reads one and writes the
    /// other, so neither holds a socket it could clone.
    fn pipes() -> (Stream, Stream) {
        let (up_in, up_out) = UnixStream::pair().expect("socket pair");
        let (down_in, down_out) = UnixStream::pair().expect("socket pair");
        (Stream::new(down_out, up_in), Stream::new(up_out, down_in))
    }

    /// `/echo` answers the method, body and query; `/events` streams the
    /// broadcaster's replay until it is closed.
    fn handler(events: Broadcaster) -> Handler {
        Rc::new(move |req: Request| {
            let events = events.clone();
            boxed(async move {
                if req.path == "/events" {
                    let subscription = events.subscribe(vec![frame("meta", "{}")]);
                    events.close();
                    return subscription.into_reply();
                }
                let body = String::from_utf8_lossy(&req.body);
                let text = format!("{} {body} {}", req.method, req.query);
                Reply::Done(Reply200::text(text))
            })
        })
    }

    #[test]
    fn requests_and_events_over_a_pair_of_pipes() {
        let ex = Rc::new(LocalExecutor::new());
        let test = ex.run(async {
            let events = Broadcaster::spawn(&ex);
            let (client, server) = pipes();
            ex.spawn(server::connection(server, handler(events.clone())))
                .detach();
            let resp = exchange(client, "POST", "/echo?x=1", b"hi").await?;
            assert_eq!(
                (resp.status, resp.body.as_slice()),
                (200, &b"POST hi x=1"[..])
            );

            let (client, server) = pipes();
            ex.spawn(server::connection(server, handler(events)))
                .detach();
            let Ok(mut stream) = Events::over(client, "/events").await? else {
                panic!("no event stream");
            };
            let first = stream.next().await?;
            assert_eq!(first, Some(("meta".into(), "{}".into())));
            assert_eq!(stream.next().await?, None, "the stream ends when closed");
            io::Result::Ok(())
        });
        let result = async_io::block_on(within(Duration::from_secs(10), test));
        result.expect("the exchange over pipes");
    }
}
