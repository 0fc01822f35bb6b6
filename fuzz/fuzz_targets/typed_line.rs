//! Fuzzes the reading of a typed line's keys (src/typed.rs): whatever the
//! keys, in whatever chunks, one result per Enter, only slash commands,
//! each short and on one line — and chunking never changes what is read.

#![no_main]

use amux::fuzz::typed::TypedLine;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.first().map_or(0, |&b| b as usize) % (data.len() + 1);
    let (a, b) = data.split_at(split);
    let mut whole = TypedLine::default();
    let all = whole.feed(data);
    assert_eq!(all.len(), data.iter().filter(|&&b| b == b'\r').count());
    for line in all.iter().flatten() {
        assert!(line.starts_with('/'), "{line:?}");
        assert!(!line.chars().any(char::is_control), "{line:?}");
        assert!(line.chars().count() <= 64, "{line:?}");
    }
    // Only when the split falls between whole characters is it the same.
    if std::str::from_utf8(a).is_ok() && std::str::from_utf8(b).is_ok() && !a.ends_with(b"\x1b") {
        let mut parts = TypedLine::default();
        let mut two = parts.feed(a);
        two.extend(parts.feed(b));
        assert_eq!(all, two);
    }
});
