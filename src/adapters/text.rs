//! Text helpers shared by the adapters: titles, slugs, the text tail, and
//! pulling visible text out of the content arrays the agents write.
//!
//! Titles are whitespace-collapsed and cut on a word boundary so a table
//! column never ends mid-word; slugs are the ASCII words of a title joined
//! by `-`, short enough to type as an id. The text tail is a bounded window
//! of the newest conversation text: appending trims from the front on a
//! UTF-8 character boundary, so it never grows past [`TAIL_BYTES`].

use serde_json::Value;

/// Longest title, in characters, ellipsis included.
pub const TITLE_CHARS: usize = 80;
/// Longest slug, in bytes (all ASCII).
pub const SLUG_CHARS: usize = 40;
/// How much recent conversation text a tracker keeps for the scrollback guess.
pub const TAIL_BYTES: usize = 4096;

/// Collapses whitespace and cuts to [`TITLE_CHARS`] on a word boundary
/// (with `…` when cut). `None` when nothing visible is left.
pub fn title(text: &str) -> Option<String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.is_empty() {
        return None;
    }
    let full = words.join(" ");
    if full.chars().count() <= TITLE_CHARS {
        return Some(full);
    }
    // Room for the ellipsis; cut at the last space that fits, or mid-word
    // when the first word alone is longer than a title.
    let limit = TITLE_CHARS - 1;
    let cut: String = full.chars().take(limit).collect();
    let next_is_space = full.chars().nth(limit) == Some(' ');
    let kept = match cut.rfind(' ') {
        _ if next_is_space => cut.as_str(),
        Some(space) => &cut[..space],
        None => cut.as_str(),
    };
    Some(format!("{kept}…"))
}

/// Lowercase ASCII alphanumeric words joined by `-`, at most
/// [`SLUG_CHARS`] long and cut between words; `""` when the title has no
/// such word. Anything else (punctuation, non-ASCII) separates words.
pub fn slugify(title: &str) -> String {
    let mut slug = String::new();
    let words = title
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty());
    for word in words {
        let word = word.to_ascii_lowercase();
        let sep = usize::from(!slug.is_empty());
        if slug.len() + sep + word.len() > SLUG_CHARS {
            if slug.is_empty() {
                // One word longer than a slug: better cut than empty.
                slug.push_str(&word[..SLUG_CHARS]);
            }
            break;
        }
        if sep == 1 {
            slug.push('-');
        }
        slug.push_str(&word);
    }
    slug
}

/// Appends `text` and a newline to `tail`, keeping only the newest
/// [`TAIL_BYTES`] bytes.
pub fn push_tail(tail: &mut String, text: &str) {
    let text = text.trim();
    if text.is_empty() {
        return;
    }
    tail.push_str(text);
    tail.push('\n');
    if tail.len() > TAIL_BYTES {
        let mut start = tail.len() - TAIL_BYTES;
        while !tail.is_char_boundary(start) {
            start += 1;
        }
        tail.drain(..start);
    }
}

/// The text of a message `content`: a plain string, or the `text` of every
/// block whose `type` is one of `kinds`, joined by newlines.
pub fn content_text(content: &Value, kinds: &[&str]) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => {
            let texts = blocks
                .iter()
                .filter(|b| kinds.contains(&str_at(b, "type").unwrap_or("")))
                .filter_map(|b| str_at(b, "text"));
            texts.collect::<Vec<_>>().join("\n")
        }
        _ => String::new(),
    }
}

/// `v[key]` as a string slice, if it is one.
pub fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// `v[key]` as an owned non-empty string.
pub fn string_at(v: &Value, key: &str) -> Option<String> {
    str_at(v, key).filter(|s| !s.is_empty()).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_collapse_and_cut_on_words() {
        let long = "word ".repeat(30);
        let cut = title(&long).unwrap();
        assert!(cut.chars().count() <= TITLE_CHARS, "{cut}");
        assert!(cut.ends_with("word…"), "{cut}");
        let giant = "x".repeat(200);
        assert_eq!(title(&giant).unwrap().chars().count(), TITLE_CHARS);
        for (input, want) in [
            ("  fix   the\n\tflaky test ", Some("fix the flaky test")),
            ("", None),
            (" \n ", None),
            ("héllo wörld", Some("héllo wörld")),
        ] {
            assert_eq!(title(input).as_deref(), want, "{input:?}");
        }
        // A cut landing exactly before a space keeps the whole last word.
        let exact = format!("{} tail", "a".repeat(TITLE_CHARS - 1));
        assert_eq!(
            title(&exact).unwrap(),
            format!("{}…", "a".repeat(TITLE_CHARS - 1))
        );
    }

    #[test]
    fn slugify_table() {
        for (input, want) in [
            ("Fix the flaky test", "fix-the-flaky-test"),
            ("  --Hello, World!! 42 ", "hello-world-42"),
            ("research-session-b", "research-session-b"),
            ("Ünïcode café", "n-code-caf"),
            ("…", ""),
            ("", ""),
            (
                "one two three four five six seven eight nine ten",
                "one-two-three-four-five-six-seven-eight",
            ),
            (&"z".repeat(50), &"z".repeat(40)),
        ] {
            let got = slugify(input);
            assert_eq!(got, want, "{input:?}");
            assert!(got.len() <= SLUG_CHARS);
        }
    }

    #[test]
    fn tail_is_bounded_and_keeps_the_newest_text() {
        let mut tail = String::new();
        push_tail(&mut tail, "first");
        push_tail(&mut tail, "   ");
        assert_eq!(tail, "first\n");
        for i in 0..2000 {
            push_tail(&mut tail, &format!("é{i}"));
        }
        assert!(tail.len() <= TAIL_BYTES);
        assert!(tail.ends_with("é1999\n"));
        assert!(!tail.contains("first"));
    }

    #[test]
    fn content_text_reads_strings_and_blocks() {
        let blocks: Value = serde_json::json!([
            {"type": "text", "text": "a"},
            {"type": "tool_use", "name": "Bash"},
            {"type": "input_text", "text": "b"},
            {"type": "text", "text": "c"}
        ]);
        assert_eq!(content_text(&blocks, &["text"]), "a\nc");
        assert_eq!(content_text(&blocks, &["input_text"]), "b");
        assert_eq!(content_text(&Value::from("plain"), &["text"]), "plain");
        assert_eq!(content_text(&Value::Null, &["text"]), "");
    }
}
