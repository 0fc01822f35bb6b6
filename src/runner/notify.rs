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
//!
//! A program that finds `TMUX` in its environment (amux run inside tmux)
//! wraps its OSC 9 in tmux's passthrough, `ESC P tmux; ESC ESC ] 9 ; text
//! BEL ESC \` (Codex 0.169.0 does), so tmux hands it to the terminal
//! outside. Such a wrapper is followed byte by byte ([`Wrapped`]) with a
//! second scanner over the unwrapped bytes: ours is dropped whole and
//! noted like a bare one; one that wraps anything else goes out as it was
//! (and what it wraps is not noted).

use crate::ansi::{Byte, Scanner};
use std::borrow::Cow;

/// Past this, a held sequence goes out whatever it turns out to be.
const MAX_HELD: usize = 1024;

/// How tmux's passthrough begins (a DCS; what follows has its ESCs doubled).
const TMUX: &[u8] = b"\x1bPtmux;";

/// A notification the program wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    /// OSC 777 carries a title; OSC 9 only a body.
    pub title: Option<String>,
    pub body: String,
    pub osc9: bool,
    /// Not a notification: the agent's own state escape, `OSC 7501 ;
    /// state=…` (Codex writes one at each change of its state); `body`
    /// is what follows `7501;`.
    pub state: bool,
}

pub struct Notices {
    scanner: Scanner,
    /// OSC 9s are amux's own: drop them from the output.
    drop_osc9: bool,
    held: Vec<u8>,
    holding: bool,
    /// What is held is a tmux passthrough, followed to its end.
    wrapped: Option<Wrapped>,
}

impl Notices {
    pub fn new(drop_osc9: bool) -> Notices {
        Notices {
            scanner: Scanner::default(),
            drop_osc9,
            held: Vec::new(),
            holding: false,
            wrapped: None,
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
                    note(self.scanner.osc(), notes);
                }
                continue;
            }
            self.held.push(b);
            if self.wrapped.is_some() {
                self.step_wrapped(b, &mut out, notes);
            } else if byte == Byte::OscEnd {
                let ours = note(self.scanner.osc(), notes) && self.drop_osc9;
                self.release(&mut out, !ours);
            } else if self.held == TMUX {
                self.wrapped = Some(Wrapped::default());
            } else if self.scanner.in_ground() || !self.may_be_osc9() {
                self.release(&mut out, true);
            }
        }
        Cow::Owned(out)
    }

    /// One byte of a held tmux passthrough. The outer scanner has seen it
    /// too (it reads the wrapper as a DCS and is back in ground at its
    /// end), so letting go early leaves it where the bytes put it.
    fn step_wrapped(&mut self, b: u8, out: &mut Vec<u8>, notes: &mut Vec<Notice>) {
        let Some(w) = self.wrapped.as_mut() else {
            return;
        };
        match w.step(b, notes) {
            Wrap::More if self.held.len() <= MAX_HELD => return,
            Wrap::End if w.osc9 => {
                let ours = self.drop_osc9;
                self.release(out, !ours);
            }
            _ => self.release(out, true),
        }
        self.wrapped = None;
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
            Some(b']') => may_be_osc9(self.scanner.osc()),
            Some(b'P') => TMUX.starts_with(&self.held),
            Some(_) => false,
        }
    }
}

/// Whether a partial OSC payload can still turn out an OSC 9.
fn may_be_osc9(p: &[u8]) -> bool {
    p.is_empty() || p == b"9" || p.starts_with(b"9;")
}

/// An OSC with `payload` ended: a notification? `true` when it is an OSC 9.
fn note(payload: &[u8], notes: &mut Vec<Notice>) -> bool {
    let payload = String::from_utf8_lossy(payload).into_owned();
    if let Some(body) = payload.strip_prefix("9;") {
        // `9;4;…` is ConEmu's progress report, not a notification.
        if !body.starts_with("4;") {
            let body = body.to_string();
            notes.push(Notice {
                title: None,
                body,
                osc9: true,
                state: false,
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
            state: false,
        });
    }
    if let Some(body) = payload.strip_prefix("7501;") {
        notes.push(Notice {
            title: None,
            body: body.to_string(),
            osc9: false,
            state: true,
        });
    }
    false
}

/// A tmux passthrough being read: the unwrapped bytes go through a scanner
/// of their own.
#[derive(Default)]
struct Wrapped {
    inner: Scanner,
    /// The last byte was a lone ESC: `\\` ends the wrapper, ESC is one.
    esc: bool,
    /// Unwrapped bytes so far (the first must open an OSC).
    seen: usize,
    /// It wrapped an OSC 9, now ended.
    osc9: bool,
}

/// Where a tmux passthrough is, after one byte.
enum Wrap {
    More,
    /// `ESC \\`: the wrapper ended.
    End,
    /// It wraps something other than one OSC 9.
    Other,
}

impl Wrapped {
    fn step(&mut self, b: u8, notes: &mut Vec<Notice>) -> Wrap {
        if std::mem::take(&mut self.esc) {
            return match b {
                b'\\' => Wrap::End,
                0x1b => self.unwrapped(0x1b, notes),
                _ => Wrap::Other,
            };
        }
        if b == 0x1b {
            self.esc = true;
            return Wrap::More;
        }
        self.unwrapped(b, notes)
    }

    /// One byte of the wrapped sequence itself.
    fn unwrapped(&mut self, b: u8, notes: &mut Vec<Notice>) -> Wrap {
        self.seen += 1;
        let was_ground = self.inner.in_ground();
        let byte = self.inner.step(b);
        if self.osc9 || (was_ground && self.seen > 1) {
            // Past the one OSC: something else rides along.
            return Wrap::Other;
        }
        if byte == Byte::OscEnd {
            self.osc9 = note(self.inner.osc(), notes);
            return if self.osc9 { Wrap::More } else { Wrap::Other };
        }
        match self.seen {
            1 if b == 0x1b => Wrap::More,
            1 => Wrap::Other,
            2 if b == b']' => Wrap::More,
            2 => Wrap::Other,
            _ if may_be_osc9(self.inner.osc()) => Wrap::More,
            _ => Wrap::Other,
        }
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
    fn an_osc9_wrapped_for_tmux_is_ours_too() {
        // As Codex 0.169.0 writes it when `TMUX` is set.
        let wrapped: &[u8] = b"\x1bPtmux;\x1b\x1b]9;Approval requested: touch x\x07\x1b\\";
        let stream = [b"a\x1b[1m".as_slice(), wrapped, b"b\x1b]0;t\x07c"].concat();
        let want: &[u8] = b"a\x1b[1mb\x1b]0;t\x07c";
        for cut in 0..stream.len() {
            let (out, notes) = run(true, &[&stream[..cut], &stream[cut..]]);
            assert_eq!(out, want, "cut at {cut}");
            assert_eq!(notes.len(), 1, "cut at {cut}");
            assert_eq!(notes[0].body, "Approval requested: touch x");
            assert!(notes[0].osc9);
        }
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(run(true, &bytes).0, want);
        // The user's: noted, and passed on as it came.
        let (out, notes) = run(false, &[&stream]);
        assert_eq!((out, notes.len()), (stream.clone(), 1));
        // Wrapped with an ST, and split: still one OSC 9.
        let st = b"\x1bPtmux;\x1b\x1b]9;done\x1b\x1b\\\x1b\\z";
        let (out, notes) = run(true, &[&st[..9], &st[9..]]);
        assert_eq!(
            (out.as_slice(), notes[0].body.as_str()),
            (b"z".as_slice(), "done")
        );
    }

    #[test]
    fn other_tmux_passthroughs_go_out_as_they_came() {
        for stream in [
            b"\x1bPtmux;\x1b\x1b]52;c;eA==\x07\x1b\\x".as_slice(),
            b"\x1bPtmux;\x1b\x1b[5n\x1b\\x",
            b"\x1bPtmux;\x1b\x1b]9;a\x07\x1b\x1b]9;b\x07\x1b\\x",
            b"\x1bPtmuy;\x1b\x1b]9;a\x07\x1b\\x",
            b"\x1bPtmux;\x1b]9;a\x07\x1b\\x",
        ] {
            for cut in 0..stream.len() {
                let (out, _) = run(true, &[&stream[..cut], &stream[cut..]]);
                assert_eq!(out, stream, "{stream:?} cut at {cut}");
            }
        }
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
