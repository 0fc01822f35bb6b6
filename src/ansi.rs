//! Terminal output as text: strips escape sequences for `/scrollback/text`
//! and follows the window title (OSC 0/2) that shells and TUIs set.
//!
//! Both walk the bytes with one small state machine ([`Scanner`]) of
//! ECMA-48's shapes: CSI
//! (`ESC [` params, final byte 0x40–0x7E), string sequences (OSC `ESC ]`,
//! DCS `ESC P`, SOS/PM/APC) ended by BEL or ST (`ESC \`), and two-byte
//! escapes. `TitleTracker` keeps its state between chunks, so a title split
//! across two reads is still seen; chunks without ESC outside a sequence
//! are skipped with one scan.

#[derive(Clone, Copy, PartialEq, Eq, Default)]
enum State {
    #[default]
    Ground,
    Escape,
    /// `ESC` then intermediate bytes (`ESC ( B`): ends at the final byte.
    EscIntermediate,
    Csi,
    /// Inside a string sequence; `true` when it is an OSC we collect.
    Str(bool),
    /// Saw ESC inside a string sequence: `\` ends it.
    StrEscape(bool),
}

/// What one byte was, to the [`Scanner`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Byte {
    /// Text, or a newline or tab.
    Text,
    /// A control character or part of an escape sequence.
    Sequence,
    /// The end of an OSC: its payload is [`Scanner::osc`].
    OscEnd,
}

/// Titles and notifications longer than this are cut: the buffer must
/// stay bounded whatever the child prints.
const MAX_OSC: usize = 512;

/// The one ECMA-48 state machine: feed it bytes in order (it keeps its
/// state between chunks), it says what each one was and collects OSC
/// payloads.
#[derive(Default)]
pub struct Scanner {
    state: State,
    osc: Vec<u8>,
}

impl Scanner {
    pub fn step(&mut self, b: u8) -> Byte {
        let (next, byte) = match (self.state, b) {
            (State::Ground, 0x1b) => (State::Escape, Byte::Sequence),
            (State::Ground, b'\n' | b'\t') => (State::Ground, Byte::Text),
            (State::Ground, b) if b < 0x20 || b == 0x7f => (State::Ground, Byte::Sequence),
            (State::Ground, _) => (State::Ground, Byte::Text),
            (State::Escape, b']') => {
                self.osc.clear();
                (State::Str(true), Byte::Sequence)
            }
            (State::Escape, b'[') => (State::Csi, Byte::Sequence),
            (State::Escape, b'P' | b'X' | b'^' | b'_') => (State::Str(false), Byte::Sequence),
            (State::Escape | State::EscIntermediate, 0x20..=0x2f) => {
                (State::EscIntermediate, Byte::Sequence)
            }
            (State::Escape | State::EscIntermediate, _) => (State::Ground, Byte::Sequence),
            (State::Csi, 0x40..=0x7e) => (State::Ground, Byte::Sequence),
            (State::Csi, _) => (State::Csi, Byte::Sequence),
            (State::Str(osc), 0x07) | (State::StrEscape(osc), b'\\') => (
                State::Ground,
                if osc { Byte::OscEnd } else { Byte::Sequence },
            ),
            (State::Str(osc), 0x1b) => (State::StrEscape(osc), Byte::Sequence),
            (State::Str(osc), b) => {
                if osc && self.osc.len() < MAX_OSC {
                    self.osc.push(b);
                }
                (State::Str(osc), Byte::Sequence)
            }
            (State::StrEscape(osc), _) => (State::Str(osc), Byte::Sequence),
        };
        self.state = next;
        byte
    }

    /// Outside any sequence (a chunk without ESC then needs no walk).
    pub fn in_ground(&self) -> bool {
        self.state == State::Ground
    }

    /// The payload of the OSC that just ended (`0;title`), or of the one
    /// under way so far.
    pub fn osc(&self) -> &[u8] {
        &self.osc
    }
}

/// Plain text of terminal output: escape sequences and control characters
/// removed (newlines and tabs kept, `\r` dropped), invalid UTF-8 replaced.
pub fn strip(bytes: &[u8]) -> String {
    let mut scanner = Scanner::default();
    let out: Vec<u8> = (bytes.iter().copied())
        .filter(|&b| scanner.step(b) == Byte::Text)
        .collect();
    String::from_utf8_lossy(&out).into_owned()
}

/// Follows OSC 0 / OSC 2 (`ESC ] 0 ; title BEL`) across output chunks.
#[derive(Default)]
pub struct TitleTracker {
    scanner: Scanner,
    title: Option<String>,
}

impl TitleTracker {
    pub fn title(&self) -> Option<&str> {
        self.title.as_deref()
    }

    /// Returns true when the title changed.
    pub fn feed(&mut self, bytes: &[u8]) -> bool {
        if self.scanner.in_ground() && !bytes.contains(&0x1b) {
            return false;
        }
        let mut changed = false;
        for &b in bytes {
            if self.scanner.step(b) == Byte::OscEnd {
                changed |= self.finish_osc();
            }
        }
        changed
    }

    fn finish_osc(&mut self) -> bool {
        let text = String::from_utf8_lossy(self.scanner.osc());
        let title = match text.split_once(';') {
            Some(("0" | "2", title)) => title.trim().to_string(),
            _ => return false,
        };
        if self.title.as_deref() == Some(title.as_str()) {
            return false;
        }
        self.title = Some(title);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_removes_sequences() {
        let cases: [(&[u8], &str); 5] = [
            (b"plain\r\ntext\n", "plain\ntext\n"),
            (b"\x1b[1;31mred\x1b[0m", "red"),
            (b"\x1b]0;title\x07after", "after"),
            (b"\x1b]2;t\x1b\\x\x1bPdcs\x1b\\y", "xy"),
            (b"a\x1b(Bb\x08c", "abc"),
        ];
        for (input, want) in cases {
            assert_eq!(strip(input), want, "{input:?}");
        }
    }

    #[test]
    fn title_split_across_chunks() {
        let mut t = TitleTracker::default();
        assert!(!t.feed(b"hello \x1b]0;my ti"));
        assert!(t.feed(b"tle\x07 more"));
        assert_eq!(t.title(), Some("my title"));
        assert!(!t.feed(b"\x1b]2;my title\x1b\\"));
        assert!(!t.feed(b"\x1b]8;;http://x\x07link"));
        assert_eq!(t.title(), Some("my title"));
    }
}
