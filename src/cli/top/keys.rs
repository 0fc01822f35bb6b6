//! Keys: the bytes a terminal sends, decoded (`decode`), and what each
//! means where the user is (`action`). Pure.

/// A key, as far as `top` cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    Char(char),
    Enter,
    Esc,
    Up,
    Down,
    Backspace,
    /// Ctrl-C.
    Interrupt,
}

/// The keys in one read (an escape sequence we do not know is dropped).
pub fn decode(bytes: &[u8]) -> Vec<Key> {
    let text = String::from_utf8_lossy(bytes);
    let mut keys = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        keys.push(match c {
            '\r' | '\n' => Key::Enter,
            '\x7f' | '\x08' => Key::Backspace,
            '\x03' => Key::Interrupt,
            '\x1b' if chars.peek().is_some_and(|&c| c == '[' || c == 'O') => {
                chars.next();
                // The final byte of a CSI or SS3 sequence ends it.
                let mut last = ' ';
                for c in chars.by_ref() {
                    last = c;
                    if c.is_ascii_alphabetic() || c == '~' {
                        break;
                    }
                }
                match last {
                    'A' => Key::Up,
                    'B' => Key::Down,
                    _ => continue,
                }
            }
            '\x1b' => Key::Esc,
            c if c.is_control() => continue,
            c => Key::Char(c),
        });
    }
    keys
}

/// What the user asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Quit,
    Move(isize),
    Attach,
    Answer(crate::adapters::Answer),
    /// Start typing a line to send, or a filter.
    Prompt(Prompted),
    /// Asked first: the next key says.
    AskKill,
    Resume,
    Forget,
    Help,
    None,
}

/// What a typed line is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prompted {
    Send,
    Filter,
}

/// The action a key means on the list.
pub fn action(key: Key) -> Action {
    use crate::adapters::Answer;
    match key {
        Key::Char('q') | Key::Interrupt => Action::Quit,
        Key::Char('j') | Key::Down => Action::Move(1),
        Key::Up => Action::Move(-1),
        Key::Enter => Action::Attach,
        Key::Char('y') => Action::Answer(Answer::Yes),
        Key::Char('n') => Action::Answer(Answer::No),
        Key::Char('a') => Action::Answer(Answer::Always),
        Key::Char('s') => Action::Prompt(Prompted::Send),
        Key::Char('/') => Action::Prompt(Prompted::Filter),
        Key::Char('k') => Action::AskKill,
        Key::Char('r') => Action::Resume,
        Key::Char('f') => Action::Forget,
        Key::Char('?') => Action::Help,
        _ => Action::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_become_keys() {
        use Key::*;
        let cases: &[(&[u8], &[Key])] = &[
            (b"q", &[Char('q')]),
            (b"\x1b[A\x1b[B", &[Up, Down]),
            (b"\x1bOA", &[Up]),
            (b"\x1b", &[Esc]),
            (b"\r\x7f\x03", &[Enter, Backspace, Interrupt]),
            (b"\x1b[1;5C", &[]),
            ("é".as_bytes(), &[Char('é')]),
        ];
        for (bytes, want) in cases {
            assert_eq!(decode(bytes), *want, "{bytes:?}");
        }
    }
}
