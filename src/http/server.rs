//! The HTTP/1.1 server, shared by runners and the daemon.
//!
//! `serve` accepts connections on a Unix socket and gives each its own
//! task. A connection is refused at once unless its peer (`SO_PEERCRED`)
//! runs as our uid. `connection` serves one connection over any
//! `AsyncRead + AsyncWrite` (a socket, or two pipes in a test): it reads
//! into one buffer, runs the push parser over it until a head is complete,
//! reads a `Content-Length` body, asks the handler for a reply, writes it,
//! and loops for keep-alive and pipelined requests (bytes past one request
//! stay in the buffer for the next). Reading a request is
//! bounded in time: a client that stalls mid-request for `STALL` gets 408,
//! one that idles between requests for `STALL` is closed. A reply can take
//! the connection over (SSE, attach); then no timeout applies to it, and
//! the taker gets it as a `transport::Stream` to split into halves.
//!
//! Connections open at once are capped (`cap`: half the fds the process
//! may hold, at most `MAX_OPEN`): past it a new one gets 503 and is
//! closed, so a flood of idle or trickling clients (our own user's: no
//! one else gets in) cannot take the fds every other answer needs. Well
//! before that, connections waiting for a request are bounded on their
//! own (`waiting.rs`): past `MAX_WAITING` a new one closes the one that
//! has waited longest, so a flood is served through, not waited out.

use super::parse::{self, Status};
use super::response::{Request, Response};
use crate::transport::Stream;
use async_net::unix::UnixListener;
use futures_lite::{future, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub type LocalBoxFuture<T> = Pin<Box<dyn Future<Output = T> + 'static>>;

/// How long a request may stall (and a keep-alive connection idle).
pub const STALL: Duration = Duration::from_secs(10);
/// The longest a whole request (head and body) may take from its first
/// byte: a client that trickles a byte every few seconds never stalls for
/// `STALL`, but must not hold a connection for ever.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(30);
const READ_CHUNK: usize = 16 * 1024;

/// What a route answers: a response, or a response head after which the
/// connection belongs to `takeover` (given the stream and any bytes the
/// client sent past the request).
pub enum Reply {
    Done(Response),
    Takeover(
        Response,
        Box<dyn FnOnce(Stream, Vec<u8>) -> LocalBoxFuture<()>>,
    ),
}

pub type Handler = Rc<dyn Fn(Request) -> LocalBoxFuture<Reply>>;

/// Connections accepted since the process started (the daemon's
/// `/v1/health` tells it, so a test can count a client's connections).
static ACCEPTED: AtomicU64 = AtomicU64::new(0);

pub fn accepted() -> u64 {
    ACCEPTED.load(Ordering::Relaxed)
}

/// Connections open now (each task holds an `Open`).
static OPEN: AtomicUsize = AtomicUsize::new(0);
/// The most connections served at once, whatever the fd limit.
const MAX_OPEN: usize = 8192;

struct Open;

impl Open {
    fn count() -> Open {
        OPEN.fetch_add(1, Ordering::Relaxed);
        Open
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        OPEN.fetch_sub(1, Ordering::Relaxed);
    }
}

/// How many connections may be open at once: half the fds we may hold
/// (the rest are files, watches, runners), at least 64, at most `MAX_OPEN`.
/// `AMUX_MAX_CONNECTIONS` lowers it (a test of the refusal).
fn cap() -> usize {
    let fds = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .map_or(MAX_OPEN as u64 * 2, |n| n);
    let cap = usize::try_from(fds / 2)
        .unwrap_or(MAX_OPEN)
        .clamp(64, MAX_OPEN);
    let asked = std::env::var("AMUX_MAX_CONNECTIONS").ok();
    asked
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .map_or(cap, |n| n.min(cap))
}

/// Lets this process hold as many fds as its hard limit allows (a soft
/// limit of 1024 is common): more connections before the cap.
pub fn raise_fd_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut limit = getrlimit(Resource::Nofile);
    let want = MAX_OPEN as u64 * 4;
    let want = limit.maximum.map_or(want, |max| max.min(want));
    if limit.current.is_some_and(|now| now < want) {
        limit.current = Some(want);
        let _ = setrlimit(Resource::Nofile, limit);
    }
}

/// Accepts forever. Errors on one connection never end the loop; running
/// out of fds pauses accepting briefly instead of spinning.
pub async fn serve(
    listener: UnixListener,
    handler: Handler,
    ex: Rc<async_executor::LocalExecutor<'static>>,
) {
    let uid = rustix::process::geteuid();
    let cap = cap();
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                async_io::Timer::after(Duration::from_millis(50)).await;
                continue;
            }
        };
        match rustix::net::sockopt::socket_peercred(&stream) {
            Ok(cred) if cred.uid == uid => {}
            // Another user (or an unknowable one): close without a word.
            _ => continue,
        }
        ACCEPTED.fetch_add(1, Ordering::Relaxed);
        if OPEN.load(Ordering::Relaxed) >= cap {
            ex.spawn(refuse(stream, cap)).detach();
            continue;
        }
        let open = Open::count();
        let handler = handler.clone();
        ex.spawn(async move {
            connection(stream, handler).await;
            drop(open);
        })
        .detach();
        // Let the new connection (and one it kicked, see `waiting.rs`)
        // run before the next accept: a burst of thousands is then served
        // or closed as it comes, not all held at once.
        future::yield_now().await;
    }
}

/// Tells one connection too many why it is closed.
async fn refuse(mut stream: async_net::unix::UnixStream, cap: usize) {
    // What it sent first is read (a moment at most), so the client's
    // write is not cut short before it can read the answer.
    let mut head = [0u8; 4096];
    let _ = future::or(async { stream.read(&mut head).await.map(|_| ()) }, async {
        async_io::Timer::after(Duration::from_millis(500)).await;
        Ok(())
    })
    .await;
    let message = format!("too many connections (at most {cap} at once): try again");
    let resp = Response::error(503, &message);
    let _ = write_timed(&mut stream, &resp.encode(false, true)).await;
}

/// Serves requests on one connection until it closes, idles out, or a
/// reply takes it over.
pub async fn connection<S>(mut stream: S, handler: Handler)
where
    S: AsyncRead + AsyncWrite + Unpin + Into<Stream>,
{
    let mut buf = Vec::new();
    loop {
        let request = match read_request(&mut stream, &mut buf).await {
            Ok(Some(request)) => request,
            Ok(None) => return,
            Err(resp) => {
                let _ = write_timed(&mut stream, &resp.encode(false, true)).await;
                return;
            }
        };
        let keep_alive = request.keep_alive;
        match handler(request).await {
            Reply::Done(resp) => {
                if write_timed(&mut stream, &resp.encode(keep_alive, true))
                    .await
                    .is_err()
                    || !keep_alive
                {
                    return;
                }
            }
            Reply::Takeover(resp, takeover) => {
                if write_timed(&mut stream, &resp.encode(true, false))
                    .await
                    .is_ok()
                {
                    takeover(stream.into(), std::mem::take(&mut buf)).await;
                }
                return;
            }
        }
    }
}

/// Reads one request. `Ok(None)`: the client closed or idled out between
/// requests. `Err`: the error response to send before closing.
async fn read_request<R: AsyncRead + Unpin>(
    stream: &mut R,
    buf: &mut Vec<u8>,
) -> Result<Option<Request>, Response> {
    let ticket = super::waiting::enter();
    let started = |buf: &Vec<u8>| (!buf.is_empty()).then(|| Instant::now() + REQUEST_DEADLINE);
    let mut deadline = started(buf);
    let (mut request, head_len, body_len) = loop {
        if let Some(parsed) = parse_head(buf)? {
            break parsed;
        }
        let idle = buf.is_empty();
        let read = read_more(stream, buf, deadline, &ticket).await;
        deadline = deadline.or_else(|| started(buf));
        match read {
            Ok(true) => {}
            Ok(false) => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::TimedOut && !idle => {
                return Err(Response::error(408, "request timed out"))
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionAborted && !idle => return Err(kicked()),
            Err(_) => return Ok(None),
        }
    };
    while buf.len() < head_len + body_len {
        match read_more(stream, buf, deadline, &ticket).await {
            Ok(true) => {}
            Ok(false) => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                return Err(Response::error(408, "request body timed out"))
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => return Err(kicked()),
            Err(_) => return Ok(None),
        }
    }
    request.body = buf[head_len..head_len + body_len].to_vec();
    buf.drain(..head_len + body_len);
    Ok(Some(request))
}

/// For a connection closed mid-request to make room (`waiting.rs`).
fn kicked() -> Response {
    let message = format!(
        "too many connections waiting for a request (at most {}): the longest waiting was closed",
        super::waiting::MAX_WAITING
    );
    Response::error(503, &message)
}

/// Parses the head in `buf` if it is complete: the owned request, the
/// head's length and the body's length.
fn parse_head(buf: &[u8]) -> Result<Option<(Request, usize, usize)>, Response> {
    let mut headers = [parse::EMPTY_HEADER; parse::MAX_HEADERS];
    let mut req = parse::Request::new(&mut headers);
    let head_len = match req.parse(buf) {
        Ok(Status::Complete(n)) => n,
        Ok(Status::Partial) => return Ok(None),
        Err(e) => return Err(Response::error(e.status(), e.message())),
    };
    let body_len = req
        .body_length(parse::MAX_BODY)
        .map_err(|e| Response::error(e.status(), e.message()))?;
    let request = Request {
        method: req.method.unwrap_or("").to_string(),
        path: req.path().to_string(),
        query: req.query_string().to_string(),
        headers: req
            .headers
            .iter()
            .map(|h| (h.name.to_string(), h.value.to_vec()))
            .collect(),
        body: Vec::new(),
        keep_alive: req.keep_alive(),
    };
    Ok(Some((request, head_len, body_len)))
}

/// Appends what the client sends next. `Ok(false)` on EOF; `TimedOut`
/// after `STALL` without a byte, or at the request's `deadline`;
/// `ConnectionAborted` when `ticket` is kicked and nothing more came.
async fn read_more<R: AsyncRead + Unpin>(
    stream: &mut R,
    buf: &mut Vec<u8>,
    deadline: Option<Instant>,
    ticket: &super::waiting::Ticket,
) -> io::Result<bool> {
    let stall = Instant::now() + STALL;
    let until = deadline.map_or(stall, |d| d.min(stall));
    // Read into the thread's one scratch buffer and keep only what came:
    // a connection waiting for the rest of its head holds what it sent,
    // not a 16 KiB buffer (thousands of half-sent heads held hundreds of
    // MiB, and the allocator kept them after they closed).
    let read = future::poll_fn(|cx| {
        SCRATCH.with_borrow_mut(|scratch| {
            let n = std::task::ready!(Pin::new(&mut *stream).poll_read(cx, scratch))?;
            buf.extend_from_slice(&scratch[..n]);
            std::task::Poll::Ready(Ok::<usize, io::Error>(n))
        })
    });
    // The read is polled first: a kicked connection still takes what it
    // was sent (a whole request that had arrived is served).
    let n = future::or(read, async {
        let e = future::or(
            async {
                async_io::Timer::at(until).await;
                io::ErrorKind::TimedOut
            },
            async {
                ticket.kicked().await;
                io::ErrorKind::ConnectionAborted
            },
        )
        .await;
        Err(e.into())
    })
    .await?;
    Ok(n > 0)
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0; READ_CHUNK]);
}

/// Writes a whole reply, giving up on a client that does not read it.
pub async fn write_timed<W: AsyncWrite + Unpin>(stream: &mut W, bytes: &[u8]) -> io::Result<()> {
    future::or(stream.write_all(bytes), async {
        async_io::Timer::after(STALL).await;
        Err(io::ErrorKind::TimedOut.into())
    })
    .await
}

/// Boxes a future for `Handler` and `Reply::Takeover`.
pub fn boxed<F: std::future::Future + 'static>(f: F) -> LocalBoxFuture<F::Output> {
    Box::pin(f)
}
