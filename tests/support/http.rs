//! A tiny blocking HTTP/1.1 client over Unix sockets and an SSE reader,
//! both with timeouts, for talking to a runner's or the daemon's socket.
//!
//! Requests are sent with `Connection: close` and the reply is read to EOF,
//! so parsing needs no chunking or keep-alive logic: `parse` (the one
//! response-head reader here) splits the head at the first blank line and
//! takes the status from the first line. `raw` sends arbitrary bytes (for
//! malformed requests). `Sse` reads its head with `parse`, keeps a buffer and cuts
//! it at blank lines into `event:`/`data:` frames; each read waits only
//! until the caller's deadline.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

pub const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header's value (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }

    /// Asserts the status and a JSON `{"error": "..."}` body.
    pub fn assert_error(&self, status: u16) {
        assert_eq!(
            self.status,
            status,
            "unexpected reply: {}{}",
            self.head,
            self.text()
        );
        let json = self.json();
        assert!(
            json["error"].as_str().is_some_and(|e| !e.is_empty()),
            "no error message in {json}"
        );
    }
}

pub fn connect(sock: &Path) -> UnixStream {
    let stream =
        UnixStream::connect(sock).unwrap_or_else(|e| panic!("connect {}: {e}", sock.display()));
    stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    stream.set_write_timeout(Some(TIMEOUT)).expect("timeout");
    stream
}

pub fn request(sock: &Path, method: &str, target: &str, body: &[u8]) -> Response {
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: amux\r\nConnection: close\r\n");
    if !body.is_empty() || method == "POST" {
        head.push_str(&format!(
            "Content-Length: {}\r\nContent-Type: application/json\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    let reply = raw(sock, &bytes);
    parse(&reply).unwrap_or_else(|| {
        panic!(
            "no HTTP reply to {method} {target}: {:?}",
            String::from_utf8_lossy(&reply)
        )
    })
}

pub fn get(sock: &Path, target: &str) -> Response {
    request(sock, "GET", target, b"")
}

pub fn post(sock: &Path, target: &str, body: &[u8]) -> Response {
    request(sock, "POST", target, body)
}

/// `GET /meta` as JSON (asserting 200).
pub fn meta(sock: &Path) -> serde_json::Value {
    let resp = get(sock, "/meta");
    assert_eq!(resp.status, 200, "GET /meta: {}", resp.text());
    resp.json()
}

/// Writes `bytes`, then reads until the server closes (or the timeout).
pub fn raw(sock: &Path, bytes: &[u8]) -> Vec<u8> {
    let mut stream = connect(sock);
    stream.write_all(bytes).expect("write request");
    read_to_close(&mut stream)
}

pub fn read_to_close(stream: &mut UnixStream) -> Vec<u8> {
    let mut reply = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return reply,
            Ok(n) => reply.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // A reset after the reply (the server closed with unread
            // input) still leaves us the reply.
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return reply,
            Err(e) => panic!(
                "reading the reply: {e} (got {:?})",
                String::from_utf8_lossy(&reply)
            ),
        }
    }
}

/// Parses one response (head + rest as body); `None` without a full head.
pub fn parse(reply: &[u8]) -> Option<Response> {
    let end = reply.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&reply[..end]).into_owned();
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some(Response {
        status,
        head,
        body: reply[end + 4..].to_vec(),
    })
}

#[derive(Debug, Clone)]
pub struct Event {
    pub name: String,
    pub data: serde_json::Value,
}

/// A subscriber of `GET /events`.
pub struct Sse {
    pub stream: UnixStream,
    buf: Vec<u8>,
}

impl Sse {
    /// A runner's `GET /events`.
    pub fn connect(sock: &Path) -> Sse {
        Sse::open(sock, "/events")
    }

    /// `GET target` on `sock` as an event stream (asserting a 200 SSE head).
    pub fn open(sock: &Path, target: &str) -> Sse {
        let mut stream = connect(sock);
        let request = format!("GET {target} HTTP/1.1\r\nHost: amux\r\n\r\n");
        stream.write_all(request.as_bytes()).expect("write");
        let mut sse = Sse {
            stream,
            buf: Vec::new(),
        };
        let deadline = Instant::now() + TIMEOUT;
        let head = loop {
            if let Some(head) = parse(&sse.buf) {
                break head;
            }
            assert!(
                sse.fill(deadline).expect("read SSE head"),
                "closed before the SSE head"
            );
        };
        assert_eq!(head.status, 200, "GET {target}: {}", head.head);
        assert!(
            head.header("content-type")
                .is_some_and(|t| t.contains("text/event-stream")),
            "GET {target}: {}",
            head.head
        );
        sse.buf = head.body;
        sse
    }

    /// Reads more into the buffer; `Ok(false)` on EOF, `TimedOut` at the deadline.
    fn fill(&mut self, deadline: Instant) -> io::Result<bool> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        self.stream.set_read_timeout(Some(left))?;
        let mut chunk = [0u8; 8192];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(io::ErrorKind::TimedOut.into())
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The next event; `Ok(None)` when the stream ended, `Err(TimedOut)`
    /// when nothing complete arrived within `timeout`.
    pub fn next_within(&mut self, timeout: Duration) -> io::Result<Option<Event>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(end) = self.buf.windows(2).position(|w| w == b"\n\n") {
                let frame = String::from_utf8_lossy(&self.buf[..end]).into_owned();
                self.buf.drain(..end + 2);
                return Ok(Some(parse_frame(&frame)));
            }
            match self.fill(deadline) {
                Ok(true) => {}
                Ok(false) => return Ok(None),
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Ok(None),
                Err(e) => return Err(e),
            }
        }
    }

    /// The next event, panicking on end of stream or timeout.
    pub fn next(&mut self) -> Event {
        match self.next_within(TIMEOUT) {
            Ok(Some(event)) => event,
            Ok(None) => panic!("the event stream ended"),
            Err(e) => panic!("no event within {TIMEOUT:?}: {e}"),
        }
    }

    /// Skips events until one named `name` (panics at end or timeout).
    pub fn next_named(&mut self, name: &str) -> Event {
        loop {
            let event = self.next();
            if event.name == name {
                return event;
            }
        }
    }

    /// All events until the stream ends (panics on timeout).
    pub fn rest(&mut self, timeout: Duration) -> Vec<Event> {
        let deadline = Instant::now() + timeout;
        let mut events = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_within(left) {
                Ok(Some(event)) => events.push(event),
                Ok(None) => return events,
                Err(e) => panic!("stream did not end within {timeout:?} ({e}); got {events:?}"),
            }
        }
    }
}

fn parse_frame(frame: &str) -> Event {
    let mut name = String::from("message");
    let mut data = String::new();
    for line in frame.lines() {
        if let Some(v) = line.strip_prefix("event:") {
            name = v.trim().to_string();
        } else if let Some(v) = line.strip_prefix("data:") {
            data.push_str(v.trim_start());
        }
    }
    let data = serde_json::from_str(&data)
        .unwrap_or_else(|e| panic!("SSE data is not JSON ({e}): {frame:?}"));
    Event { name, data }
}

/// Only the names of `events`, skipping the rate-limited `activity` and
/// `title`, and `ready` (the end-of-replay marker, checked on its own).
pub fn names(events: &[Event]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e.name.as_str())
        .filter(|n| !matches!(*n, "activity" | "title" | "ready"))
        .collect()
}
