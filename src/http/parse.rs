//! HTTP/1.1 head push parser (RFC 9112), hand-written, no allocation: the
//! server's request heads and the client's response heads.
//!
//! How it works: the caller keeps appending socket bytes to one buffer and
//! calls [`Request::parse`] (or [`Response::parse`]) on the whole buffer
//! each time. A single left-to-right pass over at most [`MAX_HEAD`] bytes
//! walks a [`Cursor`] through the start line (request-line or status-line)
//! and the field lines, validating every byte as it goes. Running out of
//! bytes anywhere yields `Partial` (call again with more); the first invalid
//! byte yields an [`Error`]; reaching the blank line yields `Complete(n)`,
//! where `n` is where the body (or the next pipelined request) starts.
//! Because every decision depends only on bytes already seen, a prefix of
//! the input either returns `Partial` or exactly what the full input does.
//! Both heads share the field-line grammar, the limits and the body
//! framing rules; [`query_value`] is the one query-string parser.
//!
//! The parsed parts borrow the buffer (`'b`); headers go into a slice the
//! caller owns (`'h`), shrunk to the fields actually present on `Complete`.
//! Use a fresh [`Request`] for each buffer state after a `Complete`.
//!
//! Leniency choices, per RFC 9112 §2.2: empty lines before the request-line
//! are skipped, and a bare LF is accepted as a line terminator (so people can
//! talk to the socket with `printf`/`socat`); a CR not followed by LF is an
//! error. Whitespace before the first field line and obs-fold are rejected.
//!
//! This file must stay self-contained (no `crate::` paths): the fuzz crate
//! compiles it on its own through `#[path]`.

use std::fmt;

/// Request-line + field lines + blank line. Our clients send a handful of
/// short fields; 8 KiB is the common server default and caps per-connection
/// memory before a request is even routed.
pub const MAX_HEAD: usize = 8 * 1024;
/// Header slots a server should hand to [`Request::new`]; more fields is 431.
pub const MAX_HEADERS: usize = 32;
/// General body limit (`POST /input` is the largest route); routes may pass
/// a lower limit to [`Request::body_length`].
pub const MAX_BODY: usize = 1024 * 1024;

/// Outcome of a parse that found no error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status<T> {
    /// The value is complete.
    Complete(T),
    /// More bytes are needed.
    Partial,
}

/// One field line. The name is a token (hence ASCII); the value is raw
/// bytes with surrounding OWS removed (obs-text may be non-UTF-8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header<'b> {
    pub name: &'b str,
    pub value: &'b [u8],
}

/// Filler for the caller's header array.
pub const EMPTY_HEADER: Header<'static> = Header {
    name: "",
    value: b"",
};

/// A request head. Fields are `None` until the parser has read them.
#[derive(Debug)]
pub struct Request<'h, 'b> {
    pub method: Option<&'b str>,
    /// origin-form (`/path?query`) or `*`.
    pub target: Option<&'b str>,
    /// Minor version: `Some(0)` for HTTP/1.0, `Some(1)` for HTTP/1.1.
    pub version: Option<u8>,
    /// All slots while parsing; exactly the fields present after `Complete`.
    pub headers: &'h mut [Header<'b>],
}

/// Why a request head (or its framing) was refused. Fieldless and `Copy`
/// so the server can map it to a status line and a JSON body in one match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    HeadTooLarge,
    TooManyHeaders,
    Method,
    Target,
    Version,
    HeaderName,
    HeaderValue,
    NewLine,
    ContentLength,
    TransferEncoding,
    ConflictingLength,
    BodyTooLarge,
    StatusLine,
}

impl Error {
    /// The HTTP status the server answers with.
    pub fn status(self) -> u16 {
        match self {
            Error::HeadTooLarge | Error::TooManyHeaders => 431,
            // We only read Content-Length bodies: "length required".
            Error::TransferEncoding => 411,
            Error::BodyTooLarge => 413,
            // ConflictingLength is a smuggling signal (RFC 9112 §6.1): 400.
            _ => 400,
        }
    }

    /// Short human text for the `{"error": ...}` body.
    pub fn message(self) -> &'static str {
        match self {
            Error::HeadTooLarge => "request head too large",
            Error::TooManyHeaders => "too many header fields",
            Error::Method => "invalid method",
            Error::Target => "invalid request target",
            Error::Version => "unsupported HTTP version",
            Error::HeaderName => "invalid header name",
            Error::HeaderValue => "invalid header value",
            Error::NewLine => "invalid line ending",
            Error::ContentLength => "invalid Content-Length",
            Error::TransferEncoding => "Transfer-Encoding not supported; send Content-Length",
            Error::ConflictingLength => "both Content-Length and Transfer-Encoding",
            Error::BodyTooLarge => "request body too large",
            Error::StatusLine => "invalid status line",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for Error {}

/// `Ok(Partial)` on missing bytes, else the byte.
macro_rules! next_byte {
    ($cur:expr) => {
        match $cur.peek() {
            Some(b) => b,
            None => return Ok(Status::Partial),
        }
    };
}

/// Unwraps a `Status`, propagating `Partial`.
macro_rules! complete {
    ($e:expr) => {
        match $e? {
            Status::Complete(v) => v,
            Status::Partial => return Ok(Status::Partial),
        }
    };
}

/// Read position in the window; all access goes through `get`, so no
/// input can index out of bounds.
struct Cursor<'b> {
    buf: &'b [u8],
    pos: usize,
}

impl<'b> Cursor<'b> {
    fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    fn bump(&mut self) {
        self.pos = self.pos.saturating_add(1);
    }

    fn since(&self, start: usize) -> &'b [u8] {
        self.buf.get(start..self.pos).unwrap_or_default()
    }

    /// Consumes CRLF or a bare LF. A CR followed by anything else is `err`.
    fn newline(&mut self, err: Error) -> Result<Status<()>, Error> {
        match next_byte!(self) {
            b'\r' => {
                self.bump();
                if next_byte!(self) != b'\n' {
                    return Err(err);
                }
            }
            b'\n' => {}
            _ => return Err(err),
        }
        self.bump();
        Ok(Status::Complete(()))
    }

    /// Reads `1*tchar` up to `delim` (consumed, not returned).
    fn token(&mut self, delim: u8, err: Error) -> Result<Status<&'b str>, Error> {
        let start = self.pos;
        loop {
            let b = next_byte!(self);
            if b == delim && self.pos > start {
                let tok = self.since(start);
                self.bump();
                return std::str::from_utf8(tok)
                    .map(Status::Complete)
                    .map_err(|_| err);
            }
            if !is_tchar(b) {
                return Err(err);
            }
            self.bump();
        }
    }
}

/// ```text
/// token = 1*tchar
/// tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
///         "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
/// ```
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Bytes of an origin-form target (RFC 9112 §3.2.1, RFC 3986 §3.3-3.4):
/// ```text
/// origin-form   = absolute-path [ "?" query ]
/// absolute-path = 1*( "/" segment )      ; segment = *pchar
/// query         = *( pchar / "/" / "?" )
/// pchar         = unreserved / pct-encoded / sub-delims / ":" / "@"
/// unreserved    = ALPHA / DIGIT / "-" / "." / "_" / "~"
/// sub-delims    = "!" / "$" / "&" / "'" / "(" / ")" / "*" / "+" / "," / ";" / "="
/// ```
/// `%` is allowed without checking the two HEXDIGs: values stay raw.
fn is_target_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~%!$&'()*+,;=:@/?".contains(&b)
}

/// ```text
/// field-value   = *field-content
/// field-content = field-vchar [ 1*( SP / HTAB / field-vchar ) field-vchar ]
/// field-vchar   = VCHAR / obs-text        ; obs-text = %x80-FF
/// ```
/// So every byte but the CTLs (%x00-1F, %x7F) is allowed, HTAB excepted:
/// NUL, CR and LF never get into a value.
fn is_value_byte(b: u8) -> bool {
    b == b'\t' || b == b' ' || (0x21..=0x7E).contains(&b) || b >= 0x80
}

fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if !is_ows(*first) {
            break;
        }
        s = rest;
    }
    while let [rest @ .., last] = s {
        if !is_ows(*last) {
            break;
        }
        s = rest;
    }
    s
}

/// `1*DIGIT` without overflow; anything else (empty, sign, space) is `None`.
fn parse_decimal(s: &[u8]) -> Option<usize> {
    if s.is_empty() {
        return None;
    }
    s.iter().try_fold(0usize, |n, &b| {
        let d = usize::from(b.checked_sub(b'0').filter(|d| *d <= 9)?);
        n.checked_mul(10)?.checked_add(d)
    })
}

/// Elements of a comma-separated field value (`#element`), OWS trimmed,
/// empty elements skipped as RFC 9110 §5.6.1 requires of recipients.
fn list_items(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(trim_ows)
        .filter(|s| !s.is_empty())
}

/// Runs `head` over at most [`MAX_HEAD`] bytes of `buf`: `Complete`
/// carries (fields, head length); more than `MAX_HEAD` bytes without a
/// complete head is `HeadTooLarge`.
fn within<'b>(
    buf: &'b [u8],
    head: impl FnOnce(&mut Cursor<'b>) -> Result<Status<usize>, Error>,
) -> Result<Status<(usize, usize)>, Error> {
    let window = buf.get(..MAX_HEAD).unwrap_or(buf);
    let mut cur = Cursor {
        buf: window,
        pos: 0,
    };
    match head(&mut cur)? {
        Status::Complete(count) => Ok(Status::Complete((count, cur.pos))),
        Status::Partial if buf.len() > MAX_HEAD => Err(Error::HeadTooLarge),
        Status::Partial => Ok(Status::Partial),
    }
}

/// Shrinks the caller's slots to the `count` fields parsed.
fn keep<'h, 'b>(headers: &mut &'h mut [Header<'b>], count: usize) {
    let all = std::mem::take(headers);
    *headers = all.get_mut(..count).unwrap_or_default();
}

/// ```text
/// HTTP-version = HTTP-name "/" DIGIT "." DIGIT   ; we take 1.0 and 1.1
/// ```
fn version(cur: &mut Cursor<'_>) -> Result<Status<u8>, Error> {
    for expected in b"HTTP/1." {
        if next_byte!(cur) != *expected {
            return Err(Error::Version);
        }
        cur.bump();
    }
    let minor = match next_byte!(cur) {
        b'0' => 0,
        b'1' => 1,
        _ => return Err(Error::Version),
    };
    cur.bump();
    Ok(Status::Complete(minor))
}

/// ```text
/// field-line = field-name ":" OWS field-value OWS
/// field-name = token
/// ```
/// Fills `slots`; returns the number of fields once the blank line is
/// consumed.
fn fields<'b>(slots: &mut [Header<'b>], cur: &mut Cursor<'b>) -> Result<Status<usize>, Error> {
    let mut count = 0;
    loop {
        match next_byte!(cur) {
            b'\r' | b'\n' => {
                complete!(cur.newline(Error::NewLine));
                return Ok(Status::Complete(count));
            }
            // Whitespace before the first field (RFC 9112 §2.2) or
            // obs-fold (§5.2): both rejected.
            b' ' | b'\t' if count == 0 => return Err(Error::HeaderName),
            b' ' | b'\t' => return Err(Error::HeaderValue),
            _ => {}
        }
        let Some(slot) = slots.get_mut(count) else {
            return Err(Error::TooManyHeaders);
        };
        // No space is allowed before the colon (§5.1): not a tchar.
        let name = complete!(cur.token(b':', Error::HeaderName));
        while is_ows(next_byte!(cur)) {
            cur.bump();
        }
        let start = cur.pos;
        loop {
            match next_byte!(cur) {
                b'\r' | b'\n' => break,
                b if is_value_byte(b) => cur.bump(),
                _ => return Err(Error::HeaderValue),
            }
        }
        let value = trim_ows(cur.since(start));
        complete!(cur.newline(Error::HeaderValue));
        *slot = Header { name, value };
        count += 1;
    }
}

/// All values of fields named `name` (ASCII case-insensitive), in order.
fn named<'a, 'b: 'a>(
    headers: &'a [Header<'b>],
    name: &'a str,
) -> impl Iterator<Item = &'b [u8]> + 'a {
    headers
        .iter()
        .filter(move |h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value)
}

/// The body's framing: `Some(n)` from `Content-Length`, `None` without
/// one. Repeated or list-valued Content-Length must all agree (RFC 9110
/// §8.6). Any Transfer-Encoding is refused: with a length it is a
/// smuggling attempt, alone we would need chunked decoding.
fn framing(headers: &[Header<'_>]) -> Result<Option<usize>, Error> {
    let has_te = named(headers, "transfer-encoding").next().is_some();
    let has_cl = named(headers, "content-length").next().is_some();
    match (has_te, has_cl) {
        (true, true) => return Err(Error::ConflictingLength),
        (true, false) => return Err(Error::TransferEncoding),
        (false, false) => return Ok(None),
        (false, true) => {}
    }
    let mut length = None;
    for value in named(headers, "content-length") {
        // Split without dropping empties: "5," is malformed, not 5.
        for item in value.split(|&b| b == b',').map(trim_ows) {
            let n = parse_decimal(item).ok_or(Error::ContentLength)?;
            if length.is_some_and(|prev| prev != n) {
                return Err(Error::ContentLength);
            }
            length = Some(n);
        }
    }
    length.map(Some).ok_or(Error::ContentLength)
}

/// A target's path and query: `/a?b=1` is `("/a", "b=1")`.
pub fn split_target(target: &str) -> (&str, &str) {
    target.split_once('?').unwrap_or((target, ""))
}

/// Raw (not percent-decoded) value of the first `key=value` pair in a
/// query string; a bare `key` gives `""`. The one query parser: the
/// server's owned requests and this module's borrowed ones both use it.
pub fn query_value<'q>(query: &'q str, key: &str) -> Option<&'q str> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == key).then_some(v)
    })
}

impl<'h, 'b> Request<'h, 'b> {
    pub fn new(headers: &'h mut [Header<'b>]) -> Self {
        Request {
            method: None,
            target: None,
            version: None,
            headers,
        }
    }

    /// `Ok(Complete(n))`: the head is `buf[..n]`, the body starts at `n`.
    /// `Ok(Partial)`: need more bytes — unless `buf` already holds more than
    /// [`MAX_HEAD`] bytes without a complete head, which is `HeadTooLarge`.
    pub fn parse(&mut self, buf: &'b [u8]) -> Result<Status<usize>, Error> {
        self.method = None;
        self.target = None;
        self.version = None;
        let parsed = within(buf, |cur| {
            complete!(self.request_line(cur));
            fields(self.headers, cur)
        })?;
        let Status::Complete((count, len)) = parsed else {
            return Ok(Status::Partial);
        };
        keep(&mut self.headers, count);
        Ok(Status::Complete(len))
    }

    /// ```text
    /// request-line   = method SP request-target SP HTTP-version
    /// method         = token
    /// ```
    fn request_line(&mut self, cur: &mut Cursor<'b>) -> Result<Status<()>, Error> {
        // RFC 9112 §2.2: SHOULD ignore empty lines before the request-line.
        while let Some(b'\r' | b'\n') = cur.peek() {
            complete!(cur.newline(Error::NewLine));
        }
        self.method = Some(complete!(cur.token(b' ', Error::Method)));

        let start = cur.pos;
        let first = next_byte!(cur);
        if first != b'/' && first != b'*' {
            return Err(Error::Target);
        }
        loop {
            let b = next_byte!(cur);
            if b == b' ' {
                break;
            }
            // asterisk-form is exactly "*".
            if !is_target_byte(b) || (first == b'*' && cur.pos > start) {
                return Err(Error::Target);
            }
            cur.bump();
        }
        let target = std::str::from_utf8(cur.since(start)).map_err(|_| Error::Target)?;
        self.target = Some(target);
        cur.bump();

        self.version = Some(complete!(version(cur)));
        match next_byte!(cur) {
            b'\r' | b'\n' => cur.newline(Error::NewLine),
            _ => Err(Error::Version),
        }
    }

    /// First field named `name` (ASCII case-insensitive).
    // Part of the parser's API: the fuzz target and the tests use it.
    #[allow(dead_code)]
    pub fn header(&self, name: &str) -> Option<&'b [u8]> {
        named(self.headers, name).next()
    }

    /// All values of fields named `name`, in order.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'b [u8]> + 'a {
        named(self.headers, name)
    }

    /// The target without its query (`""` before the target is parsed).
    pub fn path(&self) -> &'b str {
        split_target(self.target.unwrap_or("")).0
    }

    /// The target's query string (`""` without one).
    pub fn query_string(&self) -> &'b str {
        split_target(self.target.unwrap_or("")).1
    }

    /// Raw value of `key` in the query (see [`query_value`]).
    // Part of the parser's API: the fuzz target and the tests use it.
    #[allow(dead_code)]
    pub fn query(&self, key: &str) -> Option<&'b str> {
        let (_, query) = self.target?.split_once('?')?;
        query_value(query, key)
    }

    /// RFC 9112 §9.3: HTTP/1.1 persists unless a `close` option is sent;
    /// HTTP/1.0 persists only with `keep-alive` (and no `close`).
    pub fn keep_alive(&self) -> bool {
        let (mut close, mut keep) = (false, false);
        for item in self.headers_named("connection").flat_map(list_items) {
            close |= item.eq_ignore_ascii_case(b"close");
            keep |= item.eq_ignore_ascii_case(b"keep-alive");
        }
        match self.version {
            Some(1) => !close,
            Some(0) => keep && !close,
            _ => false,
        }
    }

    /// Body length from `Content-Length` (0 when absent), checked against
    /// `limit` (framing rules in [`framing`]).
    pub fn body_length(&self, limit: usize) -> Result<usize, Error> {
        match framing(self.headers)? {
            Some(n) if n > limit => Err(Error::BodyTooLarge),
            Some(n) => Ok(n),
            None => Ok(0),
        }
    }
}

/// A response head, as the client reads it: the same field grammar and
/// limits as a request, after a status line.
#[derive(Debug)]
pub struct Response<'h, 'b> {
    /// Minor version, as for a request.
    pub version: Option<u8>,
    pub code: Option<u16>,
    /// All slots while parsing; exactly the fields present after `Complete`.
    pub headers: &'h mut [Header<'b>],
}

impl<'h, 'b> Response<'h, 'b> {
    pub fn new(headers: &'h mut [Header<'b>]) -> Self {
        Response {
            version: None,
            code: None,
            headers,
        }
    }

    /// As [`Request::parse`]: `Complete(n)` when the head is `buf[..n]`.
    pub fn parse(&mut self, buf: &'b [u8]) -> Result<Status<usize>, Error> {
        self.version = None;
        self.code = None;
        let parsed = within(buf, |cur| {
            complete!(self.status_line(cur));
            fields(self.headers, cur)
        })?;
        let Status::Complete((count, len)) = parsed else {
            return Ok(Status::Partial);
        };
        keep(&mut self.headers, count);
        Ok(Status::Complete(len))
    }

    /// ```text
    /// status-line   = HTTP-version SP status-code SP [ reason-phrase ]
    /// status-code   = 3DIGIT
    /// reason-phrase = 1*( HTAB / SP / VCHAR / obs-text )
    /// ```
    /// A status line that ends right after the code is taken too (RFC
    /// 9112 §4: recipients SHOULD accept a missing reason phrase).
    fn status_line(&mut self, cur: &mut Cursor<'b>) -> Result<Status<()>, Error> {
        self.version = Some(complete!(version(cur)));
        if next_byte!(cur) != b' ' {
            return Err(Error::Version);
        }
        cur.bump();
        let mut code = 0u16;
        for _ in 0..3 {
            let digit = next_byte!(cur).wrapping_sub(b'0');
            if digit > 9 {
                return Err(Error::StatusLine);
            }
            code = code * 10 + u16::from(digit);
            cur.bump();
        }
        self.code = Some(code);
        if next_byte!(cur) == b' ' {
            cur.bump();
            while !matches!(next_byte!(cur), b'\r' | b'\n') {
                if !is_value_byte(next_byte!(cur)) {
                    return Err(Error::StatusLine);
                }
                cur.bump();
            }
        }
        cur.newline(Error::StatusLine)
    }

    /// The body's length: `Some` from `Content-Length`, `None` when the
    /// body runs to the end of the connection (see [`framing`]).
    pub fn content_length(&self) -> Result<Option<usize>, Error> {
        framing(self.headers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `buf` with `MAX_HEADERS` slots and hands the result and the
    /// request to `check`.
    fn with<R>(buf: &[u8], check: impl FnOnce(Result<Status<usize>, Error>, &Request) -> R) -> R {
        let mut headers = [EMPTY_HEADER; MAX_HEADERS];
        let mut req = Request::new(&mut headers);
        let res = req.parse(buf);
        check(res, &req)
    }

    fn parse(buf: &[u8]) -> Result<Status<usize>, Error> {
        with(buf, |res, _| res)
    }

    const VALID: &[&[u8]] = &[
        b"GET /meta HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST /input HTTP/1.1\r\nContent-Length: 3\r\n\r\n",
        b"GET /scrollback/text?bytes=10 HTTP/1.0\r\n\r\n",
        b"OPTIONS * HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\nA: b\n\n",
        b"\r\n\nGET / HTTP/1.1\r\nX-Empty:\r\nY:\t v \t\r\n\r\n",
    ];

    #[test]
    fn complete_requests() {
        type Fields<'a> = &'a [(&'a str, &'a [u8])];
        let cases: &[(&[u8], &str, &str, u8, Fields)] = &[
            (VALID[0], "GET", "/meta", 1, &[("Host", b"x")]),
            (VALID[1], "POST", "/input", 1, &[("Content-Length", b"3")]),
            (VALID[2], "GET", "/scrollback/text?bytes=10", 0, &[]),
            (VALID[3], "OPTIONS", "*", 1, &[]),
            (VALID[4], "GET", "/", 1, &[("A", b"b")]),
            (VALID[5], "GET", "/", 1, &[("X-Empty", b""), ("Y", b"v")]),
            (
                b"PATCH /a/b;c=d/%20@x:y?q=/?&r HTTP/1.1\r\nX: \x80\xff ok\r\n\r\n",
                "PATCH",
                "/a/b;c=d/%20@x:y?q=/?&r",
                1,
                &[("X", b"\x80\xff ok")],
            ),
        ];
        for &(buf, method, target, version, fields) in cases {
            with(buf, |res, req| {
                assert_eq!(res, Ok(Status::Complete(buf.len())), "{buf:?}");
                assert_eq!(req.method, Some(method));
                assert_eq!(req.target, Some(target));
                assert_eq!(req.version, Some(version));
                let got: Vec<_> = req.headers.iter().map(|h| (h.name, h.value)).collect();
                assert_eq!(got, fields, "{buf:?}");
            });
        }
    }

    #[test]
    fn every_prefix_is_partial() {
        for buf in VALID {
            for k in 0..buf.len() {
                assert_eq!(parse(&buf[..k]), Ok(Status::Partial), "{:?}", &buf[..k]);
            }
        }
    }

    #[test]
    fn errors() {
        let cases: &[(&[u8], Error)] = &[
            (b" GET / HTTP/1.1\r\n\r\n", Error::Method),
            (b"G(T / HTTP/1.1\r\n\r\n", Error::Method),
            (b"GET\t/ HTTP/1.1\r\n\r\n", Error::Method),
            (b"GET  / HTTP/1.1\r\n\r\n", Error::Target),
            (b"GET meta HTTP/1.1\r\n\r\n", Error::Target),
            (b"GET http://x/ HTTP/1.1\r\n\r\n", Error::Target),
            (b"GET /a#frag HTTP/1.1\r\n\r\n", Error::Target),
            (b"GET /a\"b HTTP/1.1\r\n\r\n", Error::Target),
            (b"GET /\x80 HTTP/1.1\r\n\r\n", Error::Target),
            (b"OPTIONS *x HTTP/1.1\r\n\r\n", Error::Target),
            (b"GET / HTTP/1.2\r\n\r\n", Error::Version),
            (b"GET / HTTP/2.0\r\n\r\n", Error::Version),
            (b"GET / http/1.1\r\n\r\n", Error::Version),
            (b"GET / HTTP/1.1 \r\n\r\n", Error::Version),
            (b"GET / HTTP/1.10\r\n\r\n", Error::Version),
            (b"GET /\r\n\r\n", Error::Target),
            (b"GET / HTTP/1.1\rX\n\r\n", Error::NewLine),
            (b"\rGET / HTTP/1.1\r\n\r\n", Error::NewLine),
            (b"GET / HTTP/1.1\r\nA: b\r\n\rx", Error::NewLine),
            (b"GET / HTTP/1.1\r\nNoColon\r\n\r\n", Error::HeaderName),
            (b"GET / HTTP/1.1\r\n: v\r\n\r\n", Error::HeaderName),
            (b"GET / HTTP/1.1\r\nA : v\r\n\r\n", Error::HeaderName),
            (b"GET / HTTP/1.1\r\nA\x00: v\r\n\r\n", Error::HeaderName),
            (b"GET / HTTP/1.1\r\n A: v\r\n\r\n", Error::HeaderName),
            (b"GET / HTTP/1.1\r\nA: v\x00w\r\n\r\n", Error::HeaderValue),
            (b"GET / HTTP/1.1\r\nA: v\rw\r\n\r\n", Error::HeaderValue),
            (b"GET / HTTP/1.1\r\nA: v\x7f\r\n\r\n", Error::HeaderValue),
            (b"GET / HTTP/1.1\r\nA: v\r\n w\r\n\r\n", Error::HeaderValue),
            (b"GET / HTTP/1.1\r\nA: v\r\n\tw\r\n\r\n", Error::HeaderValue),
        ];
        for &(buf, err) in cases {
            assert_eq!(parse(buf), Err(err), "{:?}", String::from_utf8_lossy(buf));
        }
    }

    #[test]
    fn head_size_limit() {
        let mut big = b"GET / HTTP/1.1\r\nX: ".to_vec();
        big.resize(9 * 1024, b'a');
        big.extend_from_slice(b"\r\n\r\n");
        assert_eq!(parse(&big), Err(Error::HeadTooLarge));
        // Without the end: still too large once past the limit, Partial before.
        assert_eq!(parse(&big[..MAX_HEAD + 1]), Err(Error::HeadTooLarge));
        assert_eq!(parse(&big[..MAX_HEAD]), Ok(Status::Partial));
        // A never-ending request line is caught the same way.
        let mut line = b"GET /".to_vec();
        line.resize(MAX_HEAD + 1, b'a');
        assert_eq!(parse(&line), Err(Error::HeadTooLarge));
        // Exactly MAX_HEAD bytes is allowed.
        let mut exact = b"GET / HTTP/1.1\r\nX: ".to_vec();
        exact.resize(MAX_HEAD - 4, b'a');
        exact.extend_from_slice(b"\r\n\r\n");
        assert_eq!(parse(&exact), Ok(Status::Complete(MAX_HEAD)));
    }

    fn with_fields(n: usize) -> Vec<u8> {
        let mut buf = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..n {
            buf.extend_from_slice(format!("X-{i}: {i}\r\n").as_bytes());
        }
        buf.extend_from_slice(b"\r\n");
        buf
    }

    #[test]
    fn header_slots() {
        let exact = with_fields(MAX_HEADERS);
        with(&exact, |res, req| {
            assert_eq!(res, Ok(Status::Complete(exact.len())));
            assert_eq!(req.headers.len(), MAX_HEADERS);
            assert_eq!(req.header("x-31"), Some(&b"31"[..]));
        });
        assert_eq!(parse(&with_fields(40)), Err(Error::TooManyHeaders));
        assert_eq!(
            parse(&with_fields(MAX_HEADERS + 1)),
            Err(Error::TooManyHeaders)
        );
        // The caller's slot count is the limit, not MAX_HEADERS.
        let mut two = [EMPTY_HEADER; 2];
        let buf = with_fields(3);
        assert_eq!(
            Request::new(&mut two).parse(&buf),
            Err(Error::TooManyHeaders)
        );
    }

    #[test]
    fn body_length() {
        let cases: &[(&str, usize, Result<usize, Error>)] = &[
            ("", 10, Ok(0)),
            ("Content-Length: 5\r\n", 10, Ok(5)),
            ("content-length: 007\r\n", 10, Ok(7)),
            ("Content-Length: 10\r\n", 10, Ok(10)),
            ("Content-Length: 11\r\n", 10, Err(Error::BodyTooLarge)),
            ("Content-Length: 5\r\nContent-Length: 5\r\n", 10, Ok(5)),
            ("Content-Length: 5, 5\r\n", 10, Ok(5)),
            (
                "Content-Length: 5\r\nContent-Length: 6\r\n",
                10,
                Err(Error::ContentLength),
            ),
            ("Content-Length: 5,\r\n", 10, Err(Error::ContentLength)),
            ("Content-Length:\r\n", 10, Err(Error::ContentLength)),
            ("Content-Length: -1\r\n", 10, Err(Error::ContentLength)),
            ("Content-Length: +1\r\n", 10, Err(Error::ContentLength)),
            ("Content-Length: 0x10\r\n", 10, Err(Error::ContentLength)),
            ("Content-Length: 1 2\r\n", 10, Err(Error::ContentLength)),
            (
                "Content-Length: 99999999999999999999999999\r\n",
                usize::MAX,
                Err(Error::ContentLength),
            ),
            (
                "Transfer-Encoding: chunked\r\n",
                10,
                Err(Error::TransferEncoding),
            ),
            (
                "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
                10,
                Err(Error::ConflictingLength),
            ),
            (
                "Content-Length: x\r\ntransfer-encoding: gzip\r\n",
                10,
                Err(Error::ConflictingLength),
            ),
        ];
        for &(fields, limit, want) in cases {
            let buf = format!("POST /input HTTP/1.1\r\n{fields}\r\n");
            with(buf.as_bytes(), |res, req| {
                assert_eq!(res, Ok(Status::Complete(buf.len())));
                assert_eq!(req.body_length(limit), want, "{fields:?}");
            });
        }
        let big = format!(
            "POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            MAX_BODY + 1
        );
        with(big.as_bytes(), |_, req| {
            assert_eq!(req.body_length(MAX_BODY), Err(Error::BodyTooLarge));
        });
    }

    #[test]
    fn path_and_query() {
        let cases: &[(&str, &str, &str, Option<&str>)] = &[
            (
                "/scrollback/text?bytes=10",
                "/scrollback/text",
                "bytes",
                Some("10"),
            ),
            ("/x?a=1&bytes=2&bytes=3", "/x", "bytes", Some("2")),
            ("/x?a&b=", "/x", "a", Some("")),
            ("/x?a&b=", "/x", "b", Some("")),
            ("/x?a=1", "/x", "b", None),
            ("/x?ab=1", "/x", "a", None),
            ("/x?a=b=c", "/x", "a", Some("b=c")),
            ("/x?a=%20", "/x", "a", Some("%20")),
            ("/x", "/x", "a", None),
            ("/x?", "/x", "", Some("")),
            ("*", "*", "a", None),
        ];
        for &(target, path, key, want) in cases {
            let buf = format!("GET {target} HTTP/1.1\r\n\r\n");
            with(buf.as_bytes(), |res, req| {
                assert_eq!(res, Ok(Status::Complete(buf.len())));
                assert_eq!(req.path(), path, "{target}");
                assert_eq!(req.query(key), want, "{target} {key}");
            });
        }
    }

    #[test]
    fn keep_alive() {
        let cases: &[(&str, &str, bool)] = &[
            ("1.1", "", true),
            ("1.1", "Connection: close\r\n", false),
            ("1.1", "Connection: Upgrade, CLOSE\r\n", false),
            ("1.1", "Connection: keep-alive\r\n", true),
            ("1.1", "Connection: x\r\nConnection: close\r\n", false),
            ("1.1", "Connection: closed\r\n", true),
            ("1.0", "", false),
            ("1.0", "Connection: Keep-Alive\r\n", true),
            ("1.0", "Connection: keep-alive, close\r\n", false),
        ];
        for &(version, fields, want) in cases {
            let buf = format!("GET / HTTP/{version}\r\n{fields}\r\n");
            with(buf.as_bytes(), |res, req| {
                assert_eq!(res, Ok(Status::Complete(buf.len())));
                assert_eq!(req.keep_alive(), want, "{version} {fields:?}");
            });
        }
    }

    #[test]
    fn pipelined() {
        let first: &[u8] = b"POST /input HTTP/1.1\r\nContent-Length: 3\r\n\r\n";
        let second: &[u8] = b"GET /meta HTTP/1.1\r\n\r\n";
        let mut buf = first.to_vec();
        buf.extend_from_slice(b"abc");
        buf.extend_from_slice(second);
        let n = with(&buf, |res, req| {
            assert_eq!(req.body_length(MAX_BODY), Ok(3));
            assert_eq!(res, Ok(Status::Complete(first.len())));
            first.len() + 3
        });
        assert_eq!(&buf[n..], second);
        with(&buf[n..], |res, req| {
            assert_eq!(res, Ok(Status::Complete(second.len())));
            assert_eq!(req.path(), "/meta");
        });
        // Trailing garbage after a complete head is the body's business.
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\n\r\n\x00\xff"),
            Ok(Status::Complete(18))
        );
    }

    #[test]
    fn reparse_after_partial() {
        let buf = VALID[0];
        let mut headers = [EMPTY_HEADER; 4];
        let mut req = Request::new(&mut headers);
        assert_eq!(req.parse(&buf[..20]), Ok(Status::Partial));
        assert_eq!(req.parse(buf), Ok(Status::Complete(buf.len())));
        assert_eq!(req.header("HOST"), Some(&b"x"[..]));
        assert_eq!(req.header("missing"), None);
    }

    #[test]
    fn responses() {
        let ok: &[(&[u8], u16, Option<usize>)] = &[
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n",
                200,
                Some(3),
            ),
            (
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n",
                101,
                None,
            ),
            (b"HTTP/1.0 204\r\n\r\n", 204, None),
            (b"HTTP/1.1 404 Not \x80 Found\nA: b\n\n", 404, None),
        ];
        for &(buf, code, length) in ok {
            let mut headers = [EMPTY_HEADER; MAX_HEADERS];
            let mut resp = Response::new(&mut headers);
            for k in 0..buf.len() {
                assert_eq!(resp.parse(&buf[..k]), Ok(Status::Partial), "{buf:?} {k}");
            }
            let mut body = buf.to_vec();
            body.extend_from_slice(b"abc");
            assert_eq!(
                resp.parse(&body),
                Ok(Status::Complete(buf.len())),
                "{buf:?}"
            );
            assert_eq!(resp.code, Some(code));
            assert_eq!(resp.content_length(), Ok(length), "{buf:?}");
        }
        let bad: &[(&[u8], Error)] = &[
            (b"HTTP/1.1 20 OK\r\n\r\n", Error::StatusLine),
            (b"HTTP/1.1 2000 OK\r\n\r\n", Error::StatusLine),
            (b"HTTP/1.1 200 O\x00K\r\n\r\n", Error::StatusLine),
            (b"HTTP/2 200 OK\r\n\r\n", Error::Version),
            (b"HTTP/1.1\r\n\r\n", Error::Version),
            (b"HTTP/1.1 200 OK\r\nA : b\r\n\r\n", Error::HeaderName),
        ];
        for &(buf, want) in bad {
            let mut headers = [EMPTY_HEADER; MAX_HEADERS];
            assert_eq!(Response::new(&mut headers).parse(buf), Err(want), "{buf:?}");
        }
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        let mut headers = [EMPTY_HEADER; MAX_HEADERS];
        let mut resp = Response::new(&mut headers);
        assert!(matches!(resp.parse(chunked), Ok(Status::Complete(_))));
        assert_eq!(resp.content_length(), Err(Error::TransferEncoding));
    }

    #[test]
    fn statuses_and_messages() {
        let cases: &[(Error, u16)] = &[
            (Error::HeadTooLarge, 431),
            (Error::TooManyHeaders, 431),
            (Error::TransferEncoding, 411),
            (Error::ConflictingLength, 400),
            (Error::BodyTooLarge, 413),
            (Error::ContentLength, 400),
            (Error::Method, 400),
            (Error::Target, 400),
            (Error::Version, 400),
            (Error::HeaderName, 400),
            (Error::HeaderValue, 400),
            (Error::NewLine, 400),
            (Error::StatusLine, 400),
        ];
        let mut seen = std::collections::HashSet::new();
        for &(err, status) in cases {
            assert_eq!(err.status(), status, "{err:?}");
            assert_eq!(err.to_string(), err.message());
            assert!(seen.insert(err.message()), "duplicate message for {err:?}");
        }
    }
}
