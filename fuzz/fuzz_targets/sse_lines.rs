//! Fuzzes the SSE decoder (src/http/wire.rs `EventLines`, what
//! `client::Events::next` feeds every line it reads): it must never panic,
//! an event always has data, and its name is one line. Then the round
//! trip: the input cut into names and one-line data values, encoded with
//! `encode_event` (what the servers send) and decoded again, gives the
//! same pairs back.

#![no_main]

use amux::fuzz::wire::{encode_event, EventLines};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut lines = EventLines::default();
    for line in data.split_inclusive(|&b| b == b'\n') {
        if let Some((event, data)) = lines.line(line) {
            assert!(!data.is_empty());
            assert!(!event.contains('\n'));
        }
    }

    // Names and values as our servers make them: a name is a token, a
    // value one line of non-empty text (JSON in practice).
    let text = String::from_utf8_lossy(data);
    let mut pairs = Vec::new();
    for chunk in text.split('\n') {
        let (name, value) = chunk.split_once(' ').unwrap_or(("message", chunk));
        let name: String = name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let value = value.replace('\r', "");
        if !name.is_empty() && !value.is_empty() {
            pairs.push((name, value));
        }
    }
    let bytes: Vec<u8> = pairs.iter().flat_map(|(e, d)| encode_event(e, d)).collect();
    let mut lines = EventLines::default();
    let got: Vec<_> = bytes
        .split_inclusive(|&b| b == b'\n')
        .filter_map(|l| lines.line(l))
        .collect();
    assert_eq!(got, pairs);
});
