//! Scoring for the three FALLBACK guesses, for sessions no agent report
//! covers (amux(1), How amux learns the conversation file): metadata,
//! scrollback and mtime. Pure functions; the daemon gathers the candidates
//! (live, unattributed sessions of one kind; files nobody holds), calls these,
//! and feeds a pick to `attribution::Engine` as `Input::Guessed`.
//!
//! How scrollback scoring works: both texts go through [`normalize_text`],
//! which strips what the terminal adds or changes (box-drawing borders,
//! block characters, markdown markers that the TUI renders as styling,
//! line breaks of its own wrapping) so that only the words remain, in order.
//! The file's text is then cut into overlapping shingles of
//! [`SHINGLE_WORDS`] words and the score is the share of those shingles that
//! also occur anywhere in the scrollback. Comparing word shingles rather than
//! lines is what makes re-wrapping harmless: a wrap only moves a line break,
//! which normalisation turned into a space.
//!
//! Every picker abstains (`None`) rather than choose between candidates the
//! evidence does not separate: a missing attribution is visible and
//! harmless, a wrong one sends input and `resume` to someone else's work.

use std::collections::HashSet;

/// Lowest scrollback score a guess may have (it must also beat the
/// runner-up clearly).
pub const MIN_SCORE: f64 = 0.3;

/// How far the best scrollback score must be ahead of the runner-up.
///
/// Two pi sessions in one project show the same banner, key hints and
/// often the same opening prompt and reply, so their scores share a large
/// common part and differ only by the text that really tells them apart.
/// A gap under 0.15 — less than about one shingle in seven of the winner's
/// recent text — is within what one shared tool output or a half-scrolled
/// reply shifts, so it is treated as a tie and the guess abstains.
pub const MIN_MARGIN: f64 = 0.15;

/// Words per shingle: one or two common words ("of the") match anywhere by
/// chance, three rarely do in ordinary prose, and short shingles lose
/// little when a terminal breaks a word or inserts chrome between lines.
pub const SHINGLE_WORDS: usize = 3;

/// Largest gap between a file's creation and the session's start (5
/// minutes).
pub const METADATA_WINDOW_S: u64 = 300;

/// How recently the lone mtime candidate must have been written. Measured
/// both ways, so a file stamped a moment "in the future" by clock
/// granularity still counts.
pub const MTIME_WINDOW_S: u64 = 30;

/// Glyphs TUIs draw list items with; removed like markdown bullets.
const BULLETS: &[char] = &['•', '◦', '‣', '∙', '·', '●', '○', '▪', '▫', '■', '□'];

/// Markdown markers that a TUI turns into styling, so the screen lacks them.
const MARKDOWN: &[char] = &['#', '*', '_', '`', '>', '|'];

/// Words only, in order: box-drawing (U+2500–U+257F) and block elements
/// (U+2580–U+259F), bullets and markdown markers removed, whitespace
/// collapsed to single spaces, lowercased. ANSI is stripped by the caller.
pub fn normalize_text(s: &str) -> String {
    let spaced: String = s
        .chars()
        .map(|c| {
            let drawn = ('\u{2500}'..='\u{259F}').contains(&c);
            if drawn || BULLETS.contains(&c) || MARKDOWN.contains(&c) {
                ' '
            } else {
                c
            }
        })
        .collect();
    let words: Vec<&str> = spaced
        .split_whitespace()
        // A token of only `-`/`+` is a list bullet or a `---` rule; inside a
        // word (`--session`, `a-b`) they are text.
        .filter(|w| !w.chars().all(|c| c == '-' || c == '+'))
        .collect();
    words.join(" ").to_lowercase()
}

/// Share (0..=1) of the file's conversation text that appears in the
/// scrollback, counted in distinct word shingles. Text shorter than a
/// shingle counts as one shingle. Either side empty scores 0.
pub fn similarity(file_text: &str, scrollback: &str) -> f64 {
    let file = normalize_text(file_text);
    let screen = normalize_text(scrollback);
    let file_words: Vec<&str> = file.split_whitespace().collect();
    let screen_words: Vec<&str> = screen.split_whitespace().collect();
    let k = SHINGLE_WORDS.min(file_words.len());
    if k == 0 || screen_words.len() < k {
        return 0.0;
    }
    let wanted: HashSet<&[&str]> = file_words.windows(k).collect();
    let shown: HashSet<&[&str]> = screen_words.windows(k).collect();
    let found = wanted.iter().filter(|s| shown.contains(*s)).count();
    found as f64 / wanted.len() as f64
}

/// The best-scoring key if it reaches [`MIN_SCORE`] and leads the
/// runner-up by at least [`MIN_MARGIN`]; ties and near ties abstain.
/// Non-finite scores are ignored.
pub fn pick_scrollback<K: Clone>(scores: &[(K, f64)]) -> Option<K> {
    let mut best: Option<&(K, f64)> = None;
    let mut runner_up = 0.0_f64;
    for entry in scores.iter().filter(|(_, s)| s.is_finite()) {
        match best {
            Some(b) if entry.1 <= b.1 => runner_up = runner_up.max(entry.1),
            _ => {
                if let Some(b) = best {
                    runner_up = runner_up.max(b.1);
                }
                best = Some(entry);
            }
        }
    }
    let (key, score) = best?;
    (*score >= MIN_SCORE && score - runner_up >= MIN_MARGIN).then(|| key.clone())
}

/// A file offered to the metadata guess, from its header.
#[derive(Clone, Debug, PartialEq)]
pub struct MetaCandidate<K> {
    pub key: K,
    pub header_cwd: Option<String>,
    /// Creation time, epoch seconds.
    pub created_at: Option<i64>,
}

/// The candidate whose header cwd equals the session's and whose creation
/// is nearest the session start, within [`METADATA_WINDOW_S`]. Two equally
/// near candidates abstain; one without cwd or time never matches.
pub fn pick_metadata<K: Clone>(
    session_cwd: &str,
    session_start: i64,
    cands: &[MetaCandidate<K>],
) -> Option<K> {
    let want = trim_slash(session_cwd);
    if want.is_empty() {
        return None;
    }
    let mut best: Option<(&K, u64)> = None;
    let mut tied = false;
    for cand in cands {
        let (Some(cwd), Some(created)) = (&cand.header_cwd, cand.created_at) else {
            continue;
        };
        let gap = created.abs_diff(session_start);
        if trim_slash(cwd) != want || gap > METADATA_WINDOW_S {
            continue;
        }
        match best {
            Some((_, nearest)) if gap > nearest => {}
            Some((_, nearest)) if gap == nearest => tied = true,
            _ => {
                best = Some((&cand.key, gap));
                tied = false;
            }
        }
    }
    best.filter(|_| !tied).map(|(key, _)| key.clone())
}

/// The only candidate, if it was written within [`MTIME_WINDOW_S`] of now
/// (epoch seconds). More than one candidate abstains: recency alone cannot
/// tell two agents' files apart.
pub fn pick_mtime<K: Clone>(cands: &[(K, i64)], now: i64) -> Option<K> {
    match cands {
        [(key, mtime)] if mtime.abs_diff(now) <= MTIME_WINDOW_S => Some(key.clone()),
        _ => None,
    }
}

/// `/home/u/proj/` and `/home/u/proj` name one directory; `/` stays `/`.
fn trim_slash(path: &str) -> &str {
    match path.trim_end_matches('/') {
        "" if path.starts_with('/') => "/",
        trimmed => trimmed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Recent conversation text of a pi file, as an adapter extracts it
    /// (user and assistant text, markdown as the model wrote it).
    const FILE_A: &str = "hello from tmux\n\
        Hello from the fake server. This is a fixed reply.\n\
        please refactor the parser module so it handles partial lines\n\
        I split `parse` into **two** functions: one reads complete lines, \
        the other keeps the tail for the next read.\n\
        - tests cover a line written in two chunks\n\
        - a file that shrinks is read again from the start";

    /// Another session in the same project: same greeting, other work.
    const FILE_B: &str = "hello from tmux\n\
        Hello from the fake server. This is a fixed reply.\n\
        why does the daemon log an overflow at start\n\
        The watch on the sessions root lands after the first files appear, \
        so the catch-up scan and the events overlap.";

    /// Session A's screen: pi's banner, boxed user prompts, the reply
    /// re-wrapped at 40 columns, markdown rendered as styling and bullets.
    const SCREEN_A: &str = " pi v0.47  ~/proj  fake-model\n\
        ╭──────────────────────────────────────╮\n\
        │ hello from tmux                      │\n\
        ╰──────────────────────────────────────╯\n\
        Hello from the fake server. This is a\n\
        fixed reply.\n\
        ╭────────────────────────╮\n\
        │ please refactor the    │\n\
        │ parser module so it    │\n\
        │ handles partial lines  │\n\
        ╰────────────────────────╯\n\
        I split parse into two functions: one\n\
        reads complete lines, the other keeps\n\
        the tail for the next read.\n\
        • tests cover a line written in two\n\
          chunks\n\
        • a file that shrinks is read again\n\
          from the start\n\
        ▀▀▀▀▀▀▀▀▀▀▀▀▀▀▀▀\n\
         ctrl+c to exit";

    /// A fresh screen that shows only the greeting both files share.
    const SCREEN_GREETING: &str = "╭──────────────────╮\n\
        │ hello from tmux  │\n\
        ╰──────────────────╯\n\
        Hello from the fake server.\n\
        This is a fixed reply.";

    #[test]
    fn normalize() {
        let table = [
            ("│ Hello  **World** │", "hello world"),
            (
                "## Title\n- item one\n+ item two\n• item three",
                "title item one item two item three",
            ),
            ("> quoted | cell |", "quoted cell"),
            ("snake_case `code`", "snake case code"),
            ("▀▄█░ text ───", "text"),
            ("use --session a-b\n---\n", "use --session a-b"),
            ("  \n\t ", ""),
        ];
        for (input, want) in table {
            assert_eq!(normalize_text(input), want, "{input:?}");
        }
    }

    #[test]
    fn similarity_edges() {
        let table = [
            ("", SCREEN_A, 0.0),
            (FILE_A, "", 0.0),
            ("╭──╮", SCREEN_A, 0.0),
            // Shorter than a shingle: the whole text is one shingle.
            ("hi there", "x hi there y", 1.0),
            ("hi there", "there hi", 0.0),
            ("one two three four", "one two three", 0.5),
            ("one two three four", "xx one two three four yy", 1.0),
        ];
        for (file, screen, want) in table {
            let got = similarity(file, screen);
            assert!((got - want).abs() < 1e-9, "{file:?} vs {screen:?}: {got}");
        }
    }

    #[test]
    fn rewrapped_box_drawn_text_still_scores_high() {
        let score = similarity(FILE_A, SCREEN_A);
        assert!(score > 0.95, "{score}");
        // Line-based comparison would miss nearly all of it.
        let lines_equal = FILE_A
            .lines()
            .filter(|l| SCREEN_A.lines().any(|s| s.trim() == l.trim()))
            .count();
        assert!(lines_equal <= 1, "{lines_equal}");
    }

    #[test]
    fn identical_looking_sessions_abstain() {
        // Two fresh pi sessions that both said hello and got the same reply:
        // each file matches the screen fully, so neither is chosen.
        let greeting = "hello from tmux\nHello from the fake server. This is a fixed reply.";
        let scores = [
            ("a", similarity(greeting, SCREEN_GREETING)),
            ("b", similarity(greeting, SCREEN_GREETING)),
        ];
        assert!(scores[0].1 > 0.95, "{scores:?}");
        assert_eq!(pick_scrollback(&scores), None);
        // Longer files that share only that greeting score alike and low.
        let scores = [
            ("a", similarity(FILE_A, SCREEN_GREETING)),
            ("b", similarity(FILE_B, SCREEN_GREETING)),
        ];
        assert_eq!(pick_scrollback(&scores), None, "{scores:?}");
    }

    #[test]
    fn clear_winner_is_picked() {
        let scores = [
            ("b", similarity(FILE_B, SCREEN_A)),
            ("a", similarity(FILE_A, SCREEN_A)),
        ];
        assert!(scores[1].1 - scores[0].1 >= MIN_MARGIN, "{scores:?}");
        assert_eq!(pick_scrollback(&scores), Some("a"));
    }

    #[test]
    fn pick_scrollback_rules() {
        let table = [
            (vec![], None),
            (vec![("a", 0.29)], None),
            (vec![("a", 0.31)], Some("a")),
            (vec![("a", 0.9), ("b", 0.5)], Some("a")),
            (vec![("b", 0.5), ("a", 0.9)], Some("a")),
            (vec![("a", 0.9), ("b", 0.8)], None),
            (vec![("a", 0.6), ("b", 0.6)], None),
            (vec![("a", 0.9), ("b", 0.2), ("c", 0.85)], None),
            (vec![("a", 0.25), ("b", 0.05)], None),
            (vec![("a", f64::NAN), ("b", 0.6)], Some("b")),
            (vec![("a", f64::INFINITY), ("b", 0.6)], Some("b")),
        ];
        for (scores, want) in table {
            assert_eq!(pick_scrollback(&scores), want, "{scores:?}");
        }
    }

    fn meta(
        key: &'static str,
        cwd: Option<&str>,
        created: Option<i64>,
    ) -> MetaCandidate<&'static str> {
        MetaCandidate {
            key,
            header_cwd: cwd.map(String::from),
            created_at: created,
        }
    }

    #[test]
    fn pick_metadata_rules() {
        let p = Some("/home/u/proj");
        let start = 10_000;
        let table = [
            (
                "nearest wins",
                vec![meta("a", p, Some(10_100)), meta("b", p, Some(9_970))],
                Some("b"),
            ),
            (
                "edge of window",
                vec![meta("a", p, Some(10_300))],
                Some("a"),
            ),
            (
                "outside 5 min",
                vec![meta("a", p, Some(10_301)), meta("b", p, Some(9_600))],
                None,
            ),
            (
                "cwd mismatch",
                vec![meta("a", Some("/home/u/other"), Some(10_001))],
                None,
            ),
            (
                "trailing slash",
                vec![meta("a", Some("/home/u/proj/"), Some(10_001))],
                Some("a"),
            ),
            (
                "no header",
                vec![meta("a", None, Some(10_001)), meta("b", p, None)],
                None,
            ),
            (
                "tie abstains",
                vec![meta("a", p, Some(10_030)), meta("b", p, Some(9_970))],
                None,
            ),
            (
                "tie behind the nearest is irrelevant",
                vec![
                    meta("a", p, Some(10_100)),
                    meta("b", p, Some(9_900)),
                    meta("c", p, Some(10_010)),
                ],
                Some("c"),
            ),
            (
                "mismatch nearer than a match",
                vec![
                    meta("a", Some("/tmp"), Some(10_000)),
                    meta("b", p, Some(10_200)),
                ],
                Some("b"),
            ),
        ];
        for (name, cands, want) in table {
            assert_eq!(pick_metadata("/home/u/proj", start, &cands), want, "{name}");
        }
        assert_eq!(
            pick_metadata("", start, &[meta("a", Some(""), Some(start))]),
            None
        );
        assert_eq!(
            pick_metadata("/", start, &[meta("a", Some("/"), Some(start))]),
            Some("a")
        );
    }

    #[test]
    fn pick_mtime_rules() {
        let now = 50_000;
        let table = [
            (vec![], None),
            (vec![("a", now - 5)], Some("a")),
            (vec![("a", now - 30)], Some("a")),
            (vec![("a", now - 31)], None),
            (vec![("a", now - 3600)], None),
            (vec![("a", now + 1)], Some("a")),
            (vec![("a", now - 1), ("b", now - 2)], None),
            (vec![("a", now - 1), ("b", now - 3600)], None),
        ];
        for (cands, want) in table {
            assert_eq!(pick_mtime(&cands, now), want, "{cands:?}");
        }
    }
}
