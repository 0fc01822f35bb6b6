//! `amux ls` on a terminal: a table that fits the terminal's width.
//!
//! The short columns (id, kind, state, source) keep their width (a state's
//! label is cut at `STATE_MAX`); the title and the conversation file share
//! what is left. The path is written `~`-relative and elided in the middle,
//! keeping its file name; when too little is left for it the column goes
//! (`show` and `ls --wide` have it) and the title takes its room; a title
//! that does not fit ends in `…`. The state is coloured, waiting and error
//! loudest, unless `NO_COLOR` is set. Widths count characters, so a title
//! in a double-width script may still wrap. Pipes never come here: they
//! get `query.rs`'s stable tab-separated lines.

use crate::protocol::Record;

/// Room between two columns.
const GAP: usize = 2;
/// A state with its label (`working (tool: bash)`) is cut here.
const STATE_MAX: usize = 24;
/// Below this, the conversation column is dropped rather than mangled.
const CONVERSATION_MIN: usize = 20;
/// The width when the terminal does not say (and `COLUMNS` neither).
const DEFAULT_WIDTH: usize = 80;

/// One session's cells, before fitting.
pub struct Row {
    pub cells: [String; 6],
    /// The state word, which picks the colour.
    pub state: String,
}

const HEADER: [&str; 6] = ["ID", "KIND", "STATE", "SOURCE", "TITLE", "CONVERSATION"];

/// The terminal's width: stdout's window size, else `COLUMNS`, else 80.
pub fn width() -> usize {
    let from_tty = crate::term::size_of(std::io::stdout()).map(|w| usize::from(w.ws_col));
    let from_env = || std::env::var("COLUMNS").ok()?.parse().ok();
    from_tty
        .or_else(from_env)
        .filter(|w| *w > 0)
        .unwrap_or(DEFAULT_WIDTH)
}

/// Whether to colour: `NO_COLOR` set to anything non-empty says no.
pub fn colour() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// The table's lines for `rows` in `width` columns (`None`: as wide as
/// the cells are, for `--wide`), the states coloured with `colour`.
pub fn render(rows: &[Row], width: Option<usize>, colour: bool) -> Vec<String> {
    let home = std::env::var("HOME").unwrap_or_default();
    let mut cells: Vec<[String; 6]> = rows.iter().map(|r| r.cells.clone()).collect();
    for c in &mut cells {
        c[5] = home_relative(&c[5], &home);
        if width.is_some() {
            c[2] = ellipsize(&c[2], STATE_MAX);
        }
    }
    let widths = fit(&cells, width);
    let mut out = vec![line(&HEADER.map(String::from), &widths, None)];
    for (c, row) in cells.iter_mut().zip(rows) {
        c[4] = ellipsize(&c[4], widths[4]);
        c[5] = elide_middle(&c[5], widths[5]);
        let sgr = state_colour(&row.state).filter(|_| colour);
        out.push(line(c, &widths, sgr));
    }
    out
}

/// Each column's width; the conversation's is 0 when it is dropped.
fn fit(rows: &[[String; 6]], width: Option<usize>) -> [usize; 6] {
    let mut widths = [0usize; 6];
    for (i, w) in widths.iter_mut().enumerate() {
        let cells = rows.iter().map(|r| r[i].chars().count());
        *w = cells.chain([HEADER[i].len()]).max().unwrap_or(0);
    }
    let Some(width) = width else {
        return widths;
    };
    let fixed: usize = widths[..4].iter().sum::<usize>() + 4 * GAP;
    let (title, path) = (widths[4], widths[5]);
    let left = width.saturating_sub(fixed + GAP);
    if title + path <= left {
        return widths;
    }
    // The title first, up to half; the path takes the rest if that is
    // enough for it to say something, else the title has it all.
    let title_share = title.min(left.saturating_sub(path).max(left / 2));
    let path_share = left.saturating_sub(title_share);
    if path_share >= CONVERSATION_MIN {
        widths[4] = title_share;
        widths[5] = path_share;
    } else {
        widths[4] = title.min(width.saturating_sub(fixed)).max(HEADER[4].len());
        widths[5] = 0;
    }
    widths
}

/// One line: cells padded to `widths`, a dropped column left out, the
/// last cell unpadded, the state in the SGR colour `state` if any.
fn line(cells: &[String; 6], widths: &[usize; 6], state: Option<&str>) -> String {
    let shown: Vec<usize> = (0..6).filter(|i| widths[*i] > 0).collect();
    let mut out = String::new();
    for (n, &i) in shown.iter().enumerate() {
        let cell = &cells[i];
        match state.filter(|_| i == 2) {
            Some(sgr) => out.push_str(&format!("\x1b[{sgr}m{cell}\x1b[0m")),
            None => out.push_str(cell),
        }
        if n + 1 < shown.len() {
            let pad = widths[i].saturating_sub(cell.chars().count()) + GAP;
            out.extend(std::iter::repeat_n(' ', pad));
        }
    }
    out.trim_end().to_string()
}

/// `text` in at most `width` characters, ending in `…` when cut.
pub fn ellipsize(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut out: String = text.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// A path in at most `width` characters: its start, `…`, and as much of
/// its end (the file name) as fits.
pub fn elide_middle(path: &str, width: usize) -> String {
    let chars: Vec<char> = path.chars().collect();
    if chars.len() <= width {
        return path.to_string();
    }
    let keep = width.saturating_sub(1);
    let head = keep / 4;
    let tail = keep - head;
    let mut out: String = chars[..head].iter().collect();
    out.push('…');
    out.extend(&chars[chars.len() - tail..]);
    out
}

/// `path` with the home directory written `~`.
fn home_relative(path: &str, home: &str) -> String {
    let home = home.trim_end_matches('/');
    match path.strip_prefix(home) {
        Some(rest) if !home.is_empty() && rest.starts_with('/') => format!("~{rest}"),
        _ => path.to_string(),
    }
}

/// The SGR colour of a state word: waiting and error loudest.
pub fn state_colour(state: &str) -> Option<&'static str> {
    let word = state.split([' ', ':']).next().unwrap_or("");
    Some(match word {
        "waiting" => "1;33",
        "error" => "1;31",
        "working" => "32",
        "unread" => "1",
        "exited" | "resumed" => "2",
        _ => return None,
    })
}

/// Builds a row from a record's cells (see `query::row`).
pub fn row(record: &Record, cells: [String; 6]) -> Row {
    Row {
        cells,
        state: record.state(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_cut_to_fit() {
        let cases = [
            (ellipsize("fix the flaky test", 8), "fix the…"),
            (ellipsize("short", 8), "short"),
            (elide_middle("/a/b/c/d/e/file.jsonl", 12), "/a…ile.jsonl"),
            (elide_middle("/a/b", 12), "/a/b"),
            (
                home_relative("/home/u/.pi/x.jsonl", "/home/u"),
                "~/.pi/x.jsonl",
            ),
            (home_relative("/home/uv/x", "/home/u"), "/home/uv/x"),
            (home_relative("-", ""), "-"),
        ];
        for (got, want) in cases {
            assert_eq!(got, want);
        }
        assert_eq!(
            elide_middle("/a/b/c/d/e/file.jsonl", 12).chars().count(),
            12
        );
    }

    #[test]
    fn waiting_and_error_stand_out() {
        let cases = [
            ("waiting", Some("1;33")),
            ("error (Connection error.)", Some("1;31")),
            ("waiting (Bash: touch x)", Some("1;33")),
            ("working (tool: bash)", Some("32")),
            ("unread", Some("1")),
            ("exited:0", Some("2")),
            ("idle", None),
        ];
        for (state, want) in cases {
            assert_eq!(state_colour(state), want, "{state}");
        }
    }

    fn rows(title: &str, path: &str) -> Vec<Row> {
        let cells = ["k3j9x2m4qa", "pi", "idle", "shim", title, path].map(String::from);
        vec![Row {
            cells,
            state: "idle".into(),
        }]
    }

    #[test]
    fn a_table_fits_its_width_or_drops_the_path() {
        let long_path = format!("/tmp/{}/2026-11-23T21-25-34_abc.jsonl", "d".repeat(90));
        let title = "t".repeat(60);
        for width in [60, 80, 100, 150, 200] {
            let lines = render(&rows(&title, &long_path), Some(width), false);
            for l in &lines {
                assert!(l.chars().count() <= width, "{width}: {l}");
            }
            let has_path = lines[0].contains("CONVERSATION");
            assert_eq!(has_path, width >= 80, "{width}: {lines:?}");
            if has_path {
                assert!(lines[1].ends_with("_abc.jsonl"), "{lines:?}");
            }
        }
        let wide = render(&rows(&title, &long_path), None, false);
        assert!(wide[1].ends_with(&long_path) && wide[1].contains(&title));
        let coloured = render(&rows("t", "-"), Some(80), true);
        assert!(!coloured[1].contains('\x1b'), "idle has no colour");
    }
}
