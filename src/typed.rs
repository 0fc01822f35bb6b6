//! The line being typed at the agent's terminal, as far as it can be
//! told from the keys alone — only so that a slash command an agent runs
//! without a word about it (Codex's `/new`) is known when its Enter comes.
//!
//! Printable characters add to the line, Backspace takes the last one
//! off, Enter (a carriage return) ends it. Anything else — an escape
//! sequence (arrows, a paste bracket), Escape over typed text, another
//! control key, a line feed
//! (a newline inside the agent's editor), more than a command's length —
//! makes the line unknown until the next Enter: then no command is read,
//! and the agent's own signals decide as before. Only lines that begin
//! with `/` are ever given out: a prompt's text stays in the terminal.

/// Longer than any agent's command.
const MAX: usize = 64;

#[derive(Debug, Default)]
pub struct TypedLine {
    text: String,
    unknown: bool,
}

impl TypedLine {
    /// Feeds keys; for each Enter among them, the command it ended, if
    /// the line was one and is known.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Option<String>> {
        let mut ended = Vec::new();
        let text = String::from_utf8_lossy(bytes);
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                // A lone Escape at an empty line (a dialog dismissed, an
                // interrupt) leaves it empty; one that starts a sequence
                // (an arrow key) or meets typed text may change it.
                '\u{1b}' if self.text.is_empty() && !matches!(chars.peek(), Some('[' | 'O')) => {}
                '\r' => {
                    let line = std::mem::take(&mut self.text);
                    let known = !std::mem::take(&mut self.unknown);
                    ended.push(Some(line).filter(|l| known && l.starts_with('/')));
                }
                '\u{7f}' | '\u{8}' => {
                    self.text.pop();
                }
                c if c.is_control() || c == '\u{fffd}' => self.unknown = true,
                c if self.text.len() < MAX => self.text.push(c),
                _ => self.unknown = true,
            }
        }
        ended
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_read_and_anything_odd_is_not() {
        let mut l = TypedLine::default();
        assert_eq!(l.feed(b"/new\r"), vec![Some("/new".to_string())]);
        assert_eq!(l.feed(b"/nex\x7fw"), vec![]);
        assert_eq!(l.feed(b"\r"), vec![Some("/new".to_string())]);
        assert_eq!(
            l.feed(b"hello\r"),
            vec![None],
            "a prompt is never given out"
        );
        assert_eq!(l.feed(b"/ne\x1b[Dw\r"), vec![None], "an arrow key: unknown");
        assert_eq!(
            l.feed(b"/model\r/new\r"),
            vec![Some("/model".into()), Some("/new".into())]
        );
        assert_eq!(l.feed(&[b'/'; 100]), vec![]);
        assert_eq!(l.feed(b"\r/new\r"), vec![None, Some("/new".into())]);
        assert_eq!(l.feed(b"/n\xffew\r"), vec![None], "not text: unknown");
        assert_eq!(l.feed(b"\x1b"), vec![]);
        assert_eq!(
            l.feed(b"/new\r"),
            vec![Some("/new".into())],
            "Escape at an empty line"
        );
        assert_eq!(
            l.feed(b"/x\x1b/new\r"),
            vec![None],
            "Escape over text: unknown"
        );
    }
}
