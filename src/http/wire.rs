//! The SSE stream's bytes as pure functions: [`EventLines`] decodes what
//! the client reads and [`encode_event`] writes what our servers send.
//!
//! `EventLines` folds a stream, one line at a time (the caller splits at
//! `\n`), into `(event, data)` pairs: `event:` names the next event
//! (default `message`), `data:` lines are joined with `\n`, a blank line
//! ends an event that has data; comments and other fields are ignored.
//! `encode_event` writes one `event:` and one `data:` line. The file is
//! self-contained: the fuzz crate compiles it through `#[path]`.

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
