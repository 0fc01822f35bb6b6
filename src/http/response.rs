//! Owned requests handed to routes, and the responses they return.
//!
//! The parser borrows from the connection's buffer; a route gets an owned
//! `Request` (small: heads are ≤ 8 KiB) so it can be moved into a task.
//! Every error body is `{"error": "..."}` (amux-protocol(7), Responses).

pub struct Request {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
    pub keep_alive: bool,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// The raw value of `?key=value` (no percent-decoding: our keys and
    /// values are plain), by the parser's one query reader.
    pub fn query_param(&self, key: &str) -> Option<&str> {
        super::parse::query_value(&self.query, key)
    }
}

pub struct Response {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json<T: serde::Serialize + ?Sized>(status: u16, value: &T) -> Self {
        let mut body = serde_json::to_vec(value).unwrap_or_default();
        body.push(b'\n');
        Response {
            status,
            headers: vec![("Content-Type", "application/json".into())],
            body,
        }
    }

    pub fn error(status: u16, message: &str) -> Self {
        let body = crate::protocol::ErrorBody {
            error: message.to_string(),
            matches: Vec::new(),
        };
        Response::json(status, &body)
    }

    pub fn no_content() -> Self {
        Response {
            status: 204,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn text(body: String) -> Self {
        Response {
            status: 200,
            headers: vec![("Content-Type", "text/plain; charset=utf-8".into())],
            body: body.into_bytes(),
        }
    }

    pub fn method_not_allowed(allow: &str) -> Self {
        let mut resp = Response::error(405, "method not allowed");
        resp.headers.push(("Allow", allow.into()));
        resp
    }

    /// Serialises the status line, headers and body. Without a body length
    /// (`None`), the body runs until the connection closes (SSE, upgrades).
    pub fn encode(&self, keep_alive: bool, with_length: bool) -> Vec<u8> {
        let mut out = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status)).into_bytes();
        for (name, value) in &self.headers {
            out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        if with_length {
            out.extend_from_slice(format!("Content-Length: {}\r\n", self.body.len()).as_bytes());
        }
        if !keep_alive {
            out.extend_from_slice(b"Connection: close\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }
}

pub fn reason(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_errors_with_allow() {
        let text =
            String::from_utf8(Response::method_not_allowed("GET").encode(true, true)).unwrap();
        assert!(
            text.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"),
            "{text}"
        );
        assert!(text.contains("Allow: GET\r\n"));
        assert!(text.ends_with("{\"error\":\"method not allowed\"}\n"));
    }
}
