//! Fuzzes a session key's trip through a request path
//! (src/http/segment.rs): whatever the bytes, decoding never panics, and
//! any text encodes to one segment of unreserved bytes and `%XX` that
//! decodes back to it.

#![no_main]

use amux::fuzz::segment::{decode, encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = decode(text);
        let seg = encode(text);
        assert!(seg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)));
        assert_eq!(decode(&seg).as_deref(), Some(text));
    }
});
