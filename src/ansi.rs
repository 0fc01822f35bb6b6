//! Terminal output as text: strips escape sequences for `/scrollback/text`
//! and follows the window title (OSC 0/2) that shells and TUIs set.
//!
//! Both walk the bytes with a small state machine of ECMA-48's shapes: CSI
//! (`ESC [` params, final byte 0x40–0x7E), string sequences (OSC `ESC ]`,
//! DCS `ESC P`, SOS/PM/APC) ended by BEL or ST (`ESC \`), and two-byte
//! escapes. `TitleTracker` keeps its state between chunks, so a title split
//! across two reads is still seen; chunks without ESC outside a sequence
//! are skipped with one scan.

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
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

/// Plain text of terminal output: escape sequences and control characters
/// removed (newlines and tabs kept, `\r` dropped), invalid UTF-8 replaced.
pub fn strip(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len());
    let mut state = State::Ground;
    for &b in bytes {
        state = match (state, b) {
            (State::Ground, 0x1b) => State::Escape,
            (State::Ground, b'\n' | b'\t') => {
                out.push(b);
                State::Ground
            }
            (State::Ground, b) if b < 0x20 || b == 0x7f => State::Ground,
            (State::Ground, b) => {
                out.push(b);
                State::Ground
            }
            (State::Escape, b'[') => State::Csi,
            (State::Escape, b']') => State::Str(true),
            (State::Escape, b'P' | b'X' | b'^' | b'_') => State::Str(false),
            (State::Escape | State::EscIntermediate, 0x20..=0x2f) => State::EscIntermediate,
            (State::Escape | State::EscIntermediate, _) => State::Ground,
            (State::Csi, 0x40..=0x7e) => State::Ground,
            (State::Csi, _) => State::Csi,
            (State::Str(_), 0x07) => State::Ground,
            (State::Str(osc), 0x1b) => State::StrEscape(osc),
            (State::Str(osc), _) => State::Str(osc),
            (State::StrEscape(_), b'\\') => State::Ground,
            (State::StrEscape(osc), _) => State::Str(osc),
        };
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Follows OSC 0 / OSC 2 (`ESC ] 0 ; title BEL`) across output chunks.
#[derive(Default)]
pub struct TitleTracker {
    state: Option<State>,
    osc: Vec<u8>,
    title: Option<String>,
}

/// Titles longer than this are cut: the buffer must stay bounded whatever
/// the child prints.
const MAX_OSC: usize = 512;

impl TitleTracker {
    pub fn title(&self) -> Option<&str> {
        self.title.as_deref()
    }

    /// Returns true when the title changed.
    pub fn feed(&mut self, bytes: &[u8]) -> bool {
        let mut state = self.state.unwrap_or(State::Ground);
        if state == State::Ground && !bytes.contains(&0x1b) {
            return false;
        }
        let mut changed = false;
        for &b in bytes {
            state = match (state, b) {
                (State::Ground, 0x1b) => State::Escape,
                (State::Ground, _) => State::Ground,
                (State::Escape, b']') => {
                    self.osc.clear();
                    State::Str(true)
                }
                (State::Escape, b'[') => State::Csi,
                (State::Escape, b'P' | b'X' | b'^' | b'_') => State::Str(false),
                (State::Escape | State::EscIntermediate, 0x20..=0x2f) => State::EscIntermediate,
                (State::Escape | State::EscIntermediate, _) => State::Ground,
                (State::Csi, 0x40..=0x7e) => State::Ground,
                (State::Csi, _) => State::Csi,
                (State::Str(osc), 0x07) => {
                    changed |= osc && self.finish_osc();
                    State::Ground
                }
                (State::Str(osc), 0x1b) => State::StrEscape(osc),
                (State::Str(osc), b) => {
                    if osc && self.osc.len() < MAX_OSC {
                        self.osc.push(b);
                    }
                    State::Str(osc)
                }
                (State::StrEscape(osc), b'\\') => {
                    changed |= osc && self.finish_osc();
                    State::Ground
                }
                (State::StrEscape(osc), _) => State::Str(osc),
            };
        }
        self.state = Some(state);
        changed
    }

    fn finish_osc(&mut self) -> bool {
        let text = String::from_utf8_lossy(&self.osc);
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
