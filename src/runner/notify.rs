//! Notifications in the agent's output: OSC 9 (`ESC ] 9 ; text BEL`) and
//! OSC 777 (`ESC ] 777 ; notify ; title ; body BEL`), which terminals turn
//! into desktop notifications.
//!
//! Every one becomes a `notification` event. When amux itself asked the
//! agent for them (Codex started with our `-c tui.notification…`
//! overrides, see `adapters/codex.rs`), the OSC 9s are ours: they are cut
//! out of what reaches the user's terminal, the scrollback and attachers,
//! so the user's terminal shows nothing it was not asked for; one the user
//! configured passes through untouched.
//!
//! Cutting needs to know an escape is an OSC 9 before passing its first
//! byte, and output arrives in chunks that split sequences anywhere: from
//! an `ESC` on, bytes are held back until the sequence is known to be
//! something else (then they go out as they were) or ends as an OSC 9
//! (then they are dropped). A chunk without `ESC`, outside a sequence,
//! goes out as it is without a copy. What is held is bounded by the
//! scanner's OSC limit.

use crate::ansi::{Byte, Scanner};
use std::borrow::Cow;

/// Past this, a held sequence goes out whatever it turns out to be.
const MAX_HELD: usize = 1024;

/// A notification the program wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    /// OSC 777 carries a title; OSC 9 only a body.
    pub title: Option<String>,
    pub body: String,
    pub osc9: bool,
}

pub struct Notices {
    scanner: Scanner,
    /// OSC 9s are amux's own: drop them from the output.
    drop_osc9: bool,
    held: Vec<u8>,
    holding: bool,
}

impl Notices {
    pub fn new(drop_osc9: bool) -> Notices {
        Notices {
            scanner: Scanner::default(),
            drop_osc9,
            held: Vec::new(),
            holding: false,
        }
    }

    /// What of `chunk` goes out, and the notifications that ended in it.
    pub fn filter<'a>(&mut self, chunk: &'a [u8], notes: &mut Vec<Notice>) -> Cow<'a, [u8]> {
        if !self.holding && self.scanner.in_ground() && !chunk.contains(&0x1b) {
            return Cow::Borrowed(chunk);
        }
        let mut out = Vec::with_capacity(chunk.len() + self.held.len());
        for &b in chunk {
            let was_ground = self.scanner.in_ground();
            let byte = self.scanner.step(b);
            if !self.holding {
                if was_ground && b == 0x1b {
                    self.holding = true;
                    self.held.push(b);
                } else {
                    out.push(b);
                }
                if byte == Byte::OscEnd {
                    self.ended(notes);
                }
                continue;
            }
            self.held.push(b);
            if byte == Byte::OscEnd {
                let ours = self.ended(notes) && self.drop_osc9;
                self.release(&mut out, !ours);
            } else if self.scanner.in_ground() || !self.may_be_osc9() {
                self.release(&mut out, true);
            }
        }
        Cow::Owned(out)
    }

    /// Held bytes go out (`keep`) or are dropped; holding stops.
    fn release(&mut self, out: &mut Vec<u8>, keep: bool) {
        if keep {
            out.extend_from_slice(&self.held);
        }
        self.held.clear();
        self.holding = false;
    }

    /// Whether what is held can still turn out an OSC 9.
    fn may_be_osc9(&self) -> bool {
        if self.held.len() > MAX_HELD {
            return false;
        }
        match self.held.get(1) {
            None => true,
            Some(b']') => {
                let p = self.scanner.osc();
                p.is_empty() || p == b"9" || p.starts_with(b"9;")
            }
            Some(_) => false,
        }
    }

    /// An OSC ended: a notification? `true` when it is an OSC 9.
    fn ended(&mut self, notes: &mut Vec<Notice>) -> bool {
        let payload = String::from_utf8_lossy(self.scanner.osc()).into_owned();
        if let Some(body) = payload.strip_prefix("9;") {
            // `9;4;…` is ConEmu's progress report, not a notification.
            if !body.starts_with("4;") {
                let body = body.to_string();
                notes.push(Notice {
                    title: None,
                    body,
                    osc9: true,
                });
            }
            return true;
        }
        if let Some(rest) = payload.strip_prefix("777;notify;") {
            let (title, body) = rest.split_once(';').unwrap_or(("", rest));
            let title = Some(title.to_string()).filter(|t| !t.is_empty());
            let body = body.to_string();
            notes.push(Notice {
                title,
                body,
                osc9: false,
            });
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(drop: bool, chunks: &[&[u8]]) -> (Vec<u8>, Vec<Notice>) {
        let mut n = Notices::new(drop);
        let mut notes = Vec::new();
        let mut out = Vec::new();
        for c in chunks {
            out.extend_from_slice(&n.filter(c, &mut notes));
        }
        (out, notes)
    }

    #[test]
    fn our_osc9_is_cut_split_anywhere_the_rest_passes() {
        let stream: &[u8] =
            b"a\x1b[1mb\x1b]9;Approval requested: touch x\x07c\x1b]0;t\x07d\x1b]777;notify;T;B\x1b\\e";
        let want: &[u8] = b"a\x1b[1mbc\x1b]0;t\x07d\x1b]777;notify;T;B\x1b\\e";
        for cut in 0..stream.len() {
            let (out, notes) = run(true, &[&stream[..cut], &stream[cut..]]);
            assert_eq!(out, want, "cut at {cut}");
            assert_eq!(notes.len(), 2, "cut at {cut}");
            assert_eq!(notes[0].body, "Approval requested: touch x");
            assert_eq!(
                (notes[1].title.as_deref(), notes[1].body.as_str()),
                (Some("T"), "B")
            );
        }
        // One byte at a time too.
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(run(true, &bytes).0, want);
    }

    #[test]
    fn a_users_osc9_passes_through_untouched() {
        let stream: &[u8] = b"x\x1b]9;built\x07y\x1b]99;kitty\x07\x1b]9;4;1;50\x07";
        let (out, notes) = run(false, &[stream]);
        assert_eq!(out, stream);
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0].body, "built");
        // Ours dropped: OSC 99 and ConEmu progress are not OSC 9 notes
        // but the progress report is still an OSC 9 of ours.
        let (out, _) = run(true, &[stream]);
        assert_eq!(out, b"xy\x1b]99;kitty\x07");
    }

    #[test]
    fn plain_chunks_are_not_copied() {
        let mut n = Notices::new(true);
        let mut notes = Vec::new();
        assert!(matches!(
            n.filter(b"plain text", &mut notes),
            Cow::Borrowed(_)
        ));
    }
}
