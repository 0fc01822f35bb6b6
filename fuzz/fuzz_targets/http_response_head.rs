//! Fuzzes the client's response-head parser (src/http/wire.rs
//! `parse_head`, what `client::read_head` runs on the bytes read so far):
//! it must never panic; a complete head ends with `\n` within `MAX_HEAD`
//! bytes and has a three-digit status; a prefix of the input gives
//! `Partial` or exactly the full input's answer (the read loop relies on
//! it); any input of `MAX_HEAD` bytes or more is decided, never `Partial`.
//! The split point comes from the first two bytes so libFuzzer can steer it.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../src/http/parse.rs"]
#[allow(dead_code)]
mod parse;
#[path = "../../src/http/wire.rs"]
#[allow(dead_code)]
mod wire;

use parse::{Status, MAX_HEAD};

fuzz_target!(|data: &[u8]| {
    let full = wire::parse_head(data);
    match full {
        Ok(Status::Complete((head, n))) => {
            assert!(n <= data.len() && n <= MAX_HEAD);
            assert_eq!(data.get(n - 1), Some(&b'\n'));
            assert!((0..=999).contains(&head.status));
            assert!(data.starts_with(b"HTTP/1."));
            // The head is decided by its own bytes: what follows is body.
            assert_eq!(wire::parse_head(&data[..n]), full);
        }
        Ok(Status::Partial) => assert!(data.len() < MAX_HEAD),
        Err(e) => assert!(!e.message().is_empty()),
    }

    let k = match data {
        [a, b, ..] => usize::from(u16::from_le_bytes([*a, *b])) % (data.len() + 1),
        _ => data.len(),
    };
    let part = wire::parse_head(&data[..k]);
    if part != Ok(Status::Partial) {
        assert_eq!(part, full, "prefix {k} disagrees");
    }
});
