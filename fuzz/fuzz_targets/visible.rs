//! Fuzzes the sanitiser every agent string goes through before a terminal
//! (src/visible.rs): whatever the input, the output holds no control
//! character and no bidi or zero-width format character, is one line, and
//! printable text passes through unchanged.

#![no_main]

use amux::fuzz::visible::{hides, visible};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let out = visible(&text);
    for c in out.chars() {
        assert!(!c.is_control(), "{c:?} in {out:?}");
        assert!(!hides(c), "{c:?} in {out:?}");
    }
    let printable = text.chars().all(|c| !c.is_control() && !hides(c));
    if printable {
        assert_eq!(out, text);
    }
});
