//! One path segment of a URL, as the CLI writes a session key into a
//! request (`/v1/sessions/{key}/…`) and the daemon reads it back: every
//! byte but the unreserved ones (RFC 3986: `A–Z a–z 0–9 - . _ ~`) is
//! `%XX`, so a key holding `?`, `#`, `%` or `/` stays one segment and means
//! what the user typed.

/// `text` as one path segment.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A path segment's text, `None` when a `%` is not followed by two hex
/// digits or the bytes are not UTF-8.
pub fn decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = segment.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_survives_the_trip_whatever_it_holds() {
        for key in ["k3j9x2m4qa", "?all=1", "a/b", "50%", "#x y", "zé"] {
            let seg = encode(key);
            assert!(!seg.contains(['?', '/', '#', ' ']), "{seg}");
            assert_eq!(decode(&seg).as_deref(), Some(key));
        }
        assert_eq!(encode("my-slug_1.x~"), "my-slug_1.x~");
    }

    #[test]
    fn a_broken_escape_is_no_key() {
        assert_eq!(decode("%"), None);
        assert_eq!(decode("%4"), None);
        assert_eq!(decode("%zz"), None);
        assert_eq!(decode("%ff"), None, "not UTF-8");
    }
}
