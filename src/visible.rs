//! Agent text made inert for a terminal: what `ls`, `show`, `explain` and
//! every other line a person reads print of a title, a path, a question.
//!
//! An agent's words are data. A title holding `ESC ] 0 ; … BEL` would
//! retitle the user's window, `ESC [ 2 J` clear it, a C1 `CSI` (U+009B)
//! do the same on terminals that take 8-bit controls, and a bidi override
//! (U+202E) would print a path backwards. So, as tmux's `utf8_stravis`
//! does for window names: tabs and line breaks become spaces (one record,
//! one line), other C0 controls and DEL are shown in caret notation
//! (`^[`, `^?`), C1 controls and the invisible format characters that
//! reorder or hide text as `\u{…}` escapes. Everything else — any
//! printable Unicode — passes unchanged. JSON output needs none of this:
//! serde escapes control characters itself.

/// `text` with nothing a terminal would act on.
pub fn visible(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\t' | '\n' | '\r' => out.push(' '),
            c if (c as u32) < 0x20 => {
                out.push('^');
                out.push((c as u8 + b'@') as char);
            }
            '\x7f' => out.push_str("^?"),
            c if c.is_control() || hides(c) => out.push_str(&c.escape_unicode().to_string()),
            c => out.push(c),
        }
    }
    out
}

/// Format characters that reorder, join or hide what follows: the bidi
/// embeddings, overrides and isolates, the zero-width marks, the BOM.
pub fn hides(c: char) -> bool {
    matches!(c,
        '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}'
    )
}

#[cfg(test)]
mod tests {
    use super::visible;

    #[test]
    fn nothing_a_terminal_acts_on_passes() {
        let table = [
            ("plain: café ✓ 漢字", "plain: café ✓ 漢字"),
            ("a\tb\nc\rd", "a b c d"),
            ("\x1b]0;pwned\x07", "^[]0;pwned^G"),
            ("\x1b[2J\x7f", "^[[2J^?"),
            ("\u{9b}31m", "\\u{9b}31m"),
            ("evil\u{202e}txt.exe", "evil\\u{202e}txt.exe"),
            ("zero\u{200b}width", "zero\\u{200b}width"),
        ];
        for (text, want) in table {
            assert_eq!(visible(text), want, "{text:?}");
        }
    }
}
