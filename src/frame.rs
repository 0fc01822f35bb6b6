//! The attach stream's framing (after `GET /attach` answers `101`).
//!
//! Both directions carry frames of `[kind: u8][len: u32 big-endian][payload]`:
//! `o` output (runner → client; the kept output first, then live), `x` the
//! agent exited (runner → client; payload is the exit JSON), `i` input
//! (client → runner, raw bytes for the PTY), `r` resize (client → runner,
//! payload `cols: u16 BE, rows: u16 BE`). A payload is at most `MAX_FRAME`
//! bytes; a bigger length or an unknown kind ends the stream, so a sender
//! with more (the attach replay, up to `--keep` bytes) uses
//! `encode_chunked`, which cuts it into consecutive frames of one kind.

pub const MAX_FRAME: usize = 1 << 20;
pub const HEADER: usize = 5;

pub const OUTPUT: u8 = b'o';
pub const EXIT: u8 = b'x';
pub const INPUT: u8 = b'i';
pub const RESIZE: u8 = b'r';

pub fn encode(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.push(kind);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// `payload` as consecutive frames of `kind`, none over `MAX_FRAME` (an
/// empty payload still makes one empty frame).
pub fn encode_chunked(kind: u8, payload: &[u8]) -> Vec<u8> {
    let frames = payload.len().div_ceil(MAX_FRAME).max(1);
    let mut out = Vec::with_capacity(frames * HEADER + payload.len());
    let mut chunks = payload.chunks(MAX_FRAME);
    for _ in 0..frames {
        let chunk = chunks.next().unwrap_or_default();
        out.push(kind);
        out.extend_from_slice(&(chunk.len() as u32).to_be_bytes());
        out.extend_from_slice(chunk);
    }
    out
}

pub fn resize(cols: u16, rows: u16) -> Vec<u8> {
    let mut payload = cols.to_be_bytes().to_vec();
    payload.extend_from_slice(&rows.to_be_bytes());
    encode(RESIZE, &payload)
}

#[derive(Debug, PartialEq)]
pub enum Decoded {
    /// A whole frame: kind, payload, bytes consumed.
    Frame(u8, Vec<u8>, usize),
    /// Need more bytes.
    Partial,
    /// Not a frame we accept: close the stream.
    Invalid,
}

pub fn decode(buf: &[u8]) -> Decoded {
    if buf.len() < HEADER {
        return Decoded::Partial;
    }
    let kind = buf[0];
    let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
    if !matches!(kind, OUTPUT | EXIT | INPUT | RESIZE) || len > MAX_FRAME {
        return Decoded::Invalid;
    }
    match buf.get(HEADER..HEADER + len) {
        Some(payload) => Decoded::Frame(kind, payload.to_vec(), HEADER + len),
        None => Decoded::Partial,
    }
}

pub fn parse_resize(payload: &[u8]) -> Option<(u16, u16)> {
    match payload {
        [c0, c1, r0, r1] => Some((
            u16::from_be_bytes([*c0, *c1]),
            u16::from_be_bytes([*r0, *r1]),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects() {
        let bytes = [encode(INPUT, b"hi"), resize(80, 24)].concat();
        let Decoded::Frame(kind, payload, used) = decode(&bytes) else {
            panic!()
        };
        assert_eq!((kind, payload.as_slice(), used), (INPUT, &b"hi"[..], 7));
        let Decoded::Frame(kind, payload, _) = decode(&bytes[used..]) else {
            panic!()
        };
        assert_eq!((kind, parse_resize(&payload)), (RESIZE, Some((80, 24))));
        assert_eq!(decode(&bytes[..6]), Decoded::Partial);
        assert_eq!(decode(b"z\0\0\0\0"), Decoded::Invalid);
        assert_eq!(decode(&[b'i', 0xff, 0xff, 0xff, 0xff]), Decoded::Invalid);
    }

    #[test]
    fn chunked_frames_stay_under_the_limit() {
        for len in [0, 1, MAX_FRAME, MAX_FRAME + 1, 3 * MAX_FRAME - 7] {
            let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let mut bytes = &encode_chunked(OUTPUT, &payload)[..];
            let mut joined = Vec::new();
            let mut frames = 0;
            while !bytes.is_empty() {
                let Decoded::Frame(OUTPUT, part, used) = decode(bytes) else {
                    panic!("len {len}: not a whole output frame")
                };
                joined.extend_from_slice(&part);
                bytes = &bytes[used..];
                frames += 1;
            }
            assert_eq!(joined, payload, "len {len}");
            assert_eq!(frames, len.div_ceil(MAX_FRAME).max(1), "len {len}");
        }
    }
}
