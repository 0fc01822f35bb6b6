//! Fuzzes the attach stream's frame decoder (src/frame.rs): it must never
//! panic; a whole frame re-encodes to exactly the bytes it was decoded
//! from; a prefix of the input gives `Partial` or the same answer (the
//! attach relays feed it a growing buffer); decoding a stream frame by
//! frame consumes it without loss; a resize payload parses iff it has four
//! bytes, and `resize` round-trips.

#![no_main]

use amux::fuzz::frame::{
    self, decode, encode, encode_chunked, parse_resize, resize, Decoded, HEADER, MAX_FRAME,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let full = decode(data);
    if let Decoded::Frame(kind, payload, used) = &full {
        assert_eq!(*used, HEADER + payload.len());
        assert!(*used <= data.len() && payload.len() <= MAX_FRAME);
        assert_eq!(encode(*kind, payload), &data[..*used]);
        if let Some((cols, rows)) = parse_resize(payload) {
            assert_eq!(payload.len(), 4);
            assert_eq!(
                decode(&resize(cols, rows)),
                Decoded::Frame(frame::RESIZE, payload.clone(), 9)
            );
        } else {
            assert_ne!(payload.len(), 4);
        }
    }
    for k in [
        0,
        1,
        HEADER - 1,
        HEADER,
        data.len() / 2,
        data.len().saturating_sub(1),
    ] {
        let Some(prefix) = data.get(..k) else {
            continue;
        };
        let part = decode(prefix);
        assert!(
            part == Decoded::Partial || part == full,
            "prefix {k} disagrees"
        );
    }

    // The input as a stream of frames: each step consumes at least a header.
    let mut rest = data;
    let mut frames = Vec::new();
    while let Decoded::Frame(kind, payload, used) = decode(rest) {
        rest = &rest[used..];
        frames.push((kind, payload));
    }
    let consumed = data.len() - rest.len();
    let again: Vec<u8> = frames.iter().flat_map(|(k, p)| encode(*k, p)).collect();
    assert_eq!(again, &data[..consumed]);

    // Chunked encoding of the input as one payload decodes back to it.
    let mut bytes = &encode_chunked(frame::OUTPUT, data)[..];
    let mut joined = Vec::new();
    while !bytes.is_empty() {
        let Decoded::Frame(frame::OUTPUT, part, used) = decode(bytes) else {
            panic!("encode_chunked made something decode does not take")
        };
        joined.extend_from_slice(&part);
        bytes = &bytes[used..];
    }
    assert_eq!(joined, data);
});
