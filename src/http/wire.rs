//! The client's side of the wire as pure functions over bytes: the response
//! head parser and the SSE decoder, with the SSE encoder beside it.
//!
//! How it works: [`parse_head`] is called on everything read so far, like
//! the request parser in `parse.rs`. It walks complete lines in the first
//! [`MAX_HEAD`] bytes: the status line, then field lines (only
//! `Content-Length` is kept), until the blank line, and answers
//! `Complete((head, n))` with `n` the bytes the head took (the body, or an
//! upgraded stream, starts there). A line without its `\n` yet is `Partial`,
//! unless `MAX_HEAD` bytes hold no whole head. Every decision rests on
//! complete lines only, so a prefix of the input gives `Partial` or exactly
//! what the whole input gives. Lines may end in CRLF or a bare LF.
//!
//! [`EventLines`] folds an SSE stream, one line at a time (the caller
//! splits at `\n`), into `(event, data)` pairs: `event:` names the next
//! event (default `message`), `data:` lines are joined with `\n`, a blank
//! line ends an event that has data; comments and other fields are
//! ignored. [`encode_event`] writes what our servers send: one `event:`
//! and one `data:` line.
//!
//! This file must stay self-contained but for `super::parse` (the shared
//! limits and `Status`): the fuzz crate compiles both through `#[path]`.

use super::parse::{Status, MAX_HEAD, MAX_HEADERS};
use std::fmt;

/// What the client needs of a response head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    pub status: u16,
    pub content_length: Option<usize>,
}

/// Why a response head was refused. Fieldless and `Copy`, like
/// `parse::Error`; the client turns it into an `InvalidData` error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeadError {
    TooLarge,
    TooManyHeaders,
    NotUtf8,
    StatusLine,
    ContentLength,
}

impl HeadError {
    pub fn message(self) -> &'static str {
        match self {
            HeadError::TooLarge => "oversized response head",
            HeadError::TooManyHeaders => "too many response headers",
            HeadError::NotUtf8 => "response head is not UTF-8",
            HeadError::StatusLine => "bad status line",
            HeadError::ContentLength => "bad Content-Length",
        }
    }
}

impl fmt::Display for HeadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for HeadError {}

/// What [`parse_head`] answers.
pub type Parsed = Result<Status<(Head, usize)>, HeadError>;

/// `Ok(Complete((head, n)))`: the head is `buf[..n]`. `Ok(Partial)`: need
/// more bytes. At most `MAX_HEADERS` field lines and `MAX_HEAD` bytes.
pub fn parse_head(buf: &[u8]) -> Parsed {
    let window = buf.get(..MAX_HEAD).unwrap_or(buf);
    let mut status = None;
    let mut content_length = None;
    let (mut used, mut fields) = (0, 0);
    for piece in window.split_inclusive(|&b| b == b'\n') {
        let Some(line) = piece.strip_suffix(b"\n") else {
            break; // not whole yet
        };
        used += piece.len();
        let text = std::str::from_utf8(line)
            .map_err(|_| HeadError::NotUtf8)?
            .trim_end();
        let Some(code) = status else {
            status = Some(status_code(text).ok_or(HeadError::StatusLine)?);
            continue;
        };
        if text.is_empty() {
            let head = Head {
                status: code,
                content_length,
            };
            return Ok(Status::Complete((head, used)));
        }
        fields += 1;
        if fields > MAX_HEADERS {
            return Err(HeadError::TooManyHeaders);
        }
        if let Some((name, value)) = text.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                let n = value.trim().parse();
                content_length = Some(n.map_err(|_| HeadError::ContentLength)?);
            }
        }
    }
    if buf.len() >= MAX_HEAD {
        Err(HeadError::TooLarge)
    } else {
        Ok(Status::Partial)
    }
}

/// ```text
/// status-line = HTTP-version SP status-code SP [ reason-phrase ]
/// status-code = 3DIGIT            ; HTTP-version: HTTP/1.0 or HTTP/1.1
/// ```
/// The reason phrase (and the SP before it) may be missing.
fn status_code(line: &str) -> Option<u16> {
    let rest = line.strip_prefix("HTTP/1.")?.as_bytes();
    let (b'0' | b'1', [b' ', digits @ ..]) = rest.split_first()? else {
        return None;
    };
    match digits {
        [a, b, c] | [a, b, c, b' ', ..] if [a, b, c].iter().all(|d| d.is_ascii_digit()) => {
            Some(u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0'))
        }
        _ => None,
    }
}

/// One SSE frame as our servers send it; `data` must be one line.
pub fn encode_event(event: &str, data: &str) -> Vec<u8> {
    format!("event: {event}\ndata: {data}\n\n").into_bytes()
}

/// The SSE decoder: feed it lines, take events.
#[derive(Debug, Default)]
pub struct EventLines {
    event: Option<String>,
    data: String,
}

impl EventLines {
    /// One line, with or without its `\n` (trailing CR and LF are
    /// dropped); `Some` when it is the blank line ending an event that
    /// has data. Bytes that are not UTF-8 become U+FFFD.
    pub fn line(&mut self, line: &[u8]) -> Option<(String, String)> {
        let line = String::from_utf8_lossy(line);
        let line = line.trim_end_matches(['\n', '\r']);
        if line.is_empty() {
            if self.data.is_empty() {
                return None;
            }
            let event = self.event.take().unwrap_or_else(|| "message".into());
            return Some((event, std::mem::take(&mut self.data)));
        }
        if let Some(value) = line.strip_prefix("event:") {
            self.event = Some(value.trim_start().to_string());
        } else if let Some(value) = line.strip_prefix("data:") {
            if !self.data.is_empty() {
                self.data.push('\n');
            }
            self.data.push_str(value.strip_prefix(' ').unwrap_or(value));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(status: u16, content_length: Option<usize>, n: usize) -> Status<(Head, usize)> {
        Status::Complete((
            Head {
                status,
                content_length,
            },
            n,
        ))
    }

    #[test]
    fn response_heads() {
        let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
        let many = format!(
            "HTTP/1.1 200 OK\r\n{}\r\n",
            "X: y\r\n".repeat(MAX_HEADERS + 1)
        );
        let huge = format!("HTTP/1.1 200 OK\r\nX: {}\r\n\r\n", "y".repeat(MAX_HEAD));
        let cases: &[(&[u8], Parsed)] = &[
            (ok, Ok(head(200, Some(5), 38))),
            (
                b"HTTP/1.1 101 Switching Protocols\nUpgrade: x\n\nframes",
                Ok(head(101, None, 45)),
            ),
            (b"HTTP/1.0 404\r\n\r\n", Ok(head(404, None, 16))),
            (
                b"HTTP/1.1 204 No Content\r\ncontent-length:  0 \r\n\r\n",
                Ok(head(204, Some(0), 48)),
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n",
                Ok(Status::Partial),
            ),
            (b"HTTP/1.1 20", Ok(Status::Partial)),
            (b"", Ok(Status::Partial)),
            (b"HTTP/1.1 2000 OK\r\n", Err(HeadError::StatusLine)),
            (b"HTTP/1.1 20x OK\r\n", Err(HeadError::StatusLine)),
            (b"HTTP/2 200\r\n", Err(HeadError::StatusLine)),
            (b"\r\nHTTP/1.1 200 OK\r\n", Err(HeadError::StatusLine)),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
                Err(HeadError::ContentLength),
            ),
            (b"HTTP/1.1 200 \xff\r\n", Err(HeadError::NotUtf8)),
            (many.as_bytes(), Err(HeadError::TooManyHeaders)),
            (huge.as_bytes(), Err(HeadError::TooLarge)),
        ];
        for (input, want) in cases {
            let text = String::from_utf8_lossy(&input[..input.len().min(60)]);
            assert_eq!(&parse_head(input), want, "{text:?}");
        }
    }

    #[test]
    fn events_from_lines() {
        let stream = "event: meta\ndata: {\"a\":1}\n\n: comment\n\ndata: one\r\ndata: two\r\n\r\n\
                      event: gone\nid: 7\n\nevent: late\ndata:x\n\ndata: cut";
        let mut lines = EventLines::default();
        let got: Vec<_> = stream
            .split_inclusive('\n')
            .filter_map(|l| lines.line(l.as_bytes()))
            .collect();
        let want = [
            ("meta", "{\"a\":1}"),
            ("message", "one\ntwo"),
            ("late", "x"),
        ];
        let want: Vec<_> = want
            .iter()
            .map(|(e, d)| (e.to_string(), d.to_string()))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn encoded_events_decode() {
        let bytes = [
            encode_event("session", "{}"),
            encode_event("remove", "\"k3\""),
        ]
        .concat();
        let mut lines = EventLines::default();
        let got: Vec<_> = bytes
            .split_inclusive(|&b| b == b'\n')
            .filter_map(|l| lines.line(l))
            .collect();
        assert_eq!(
            got,
            [
                ("session".into(), "{}".into()),
                ("remove".into(), "\"k3\"".into())
            ]
        );
    }
}
