//! The kept output: the last `capacity` bytes the agent printed, for
//! `attach` replay and `/scrollback/text`.
//!
//! A `VecDeque` used as a byte ring: appending a chunk copies it in and
//! drops the same amount from the front once full, so memory stays at the
//! capacity whatever the agent prints.

use std::collections::VecDeque;

pub const DEFAULT_CAPACITY: usize = 1 << 20;

pub struct Ring {
    bytes: VecDeque<u8>,
    capacity: usize,
}

impl Ring {
    pub fn new(capacity: usize) -> Self {
        Ring {
            bytes: VecDeque::new(),
            capacity,
        }
    }

    pub fn push(&mut self, chunk: &[u8]) {
        let chunk = &chunk[chunk.len().saturating_sub(self.capacity)..];
        let overflow = (self.bytes.len() + chunk.len()).saturating_sub(self.capacity);
        self.bytes.drain(..overflow);
        self.bytes.extend(chunk);
    }

    /// The last `n` kept bytes (all of them when fewer are kept).
    pub fn tail(&self, n: usize) -> Vec<u8> {
        let skip = self.bytes.len().saturating_sub(n);
        self.bytes.range(skip..).copied().collect()
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.bytes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_the_last_bytes() {
        let mut ring = Ring::new(8);
        ring.push(b"abc");
        assert_eq!(ring.tail(100), b"abc");
        ring.push(b"defghij");
        assert_eq!(ring.tail(100), b"cdefghij");
        ring.push(b"0123456789AB");
        assert_eq!(ring.tail(100), b"456789AB");
        assert_eq!(ring.tail(2), b"AB");
        assert_eq!(ring.len(), 8);
    }
}
