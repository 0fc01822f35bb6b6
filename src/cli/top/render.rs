//! The screen, as lines: rows and what the user is doing in, one string
//! per terminal line out, each at most the terminal's width (nothing
//! wraps). Pure, so tests read the screen without a terminal; the shell
//! (`mod.rs`) writes only the lines that changed.
//!
//! Agent text (titles, questions, commands, paths) goes through `visible`
//! before it is measured: it cannot move the cursor or end our colours.
//! Widths count characters, as `ls`'s table does.

use super::model::Row;
use crate::cli::table::{elide_middle, ellipsize, state_colour};
use crate::visible::visible;

/// What the user is doing, besides looking.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct View {
    pub selected: usize,
    pub filter: String,
    /// A line being typed: its label ("send to x: ", "/") and text.
    pub prompt: Option<(String, String)>,
    /// The last action's outcome, or a question (kill?).
    pub message: String,
    pub help: bool,
    pub colour: bool,
    /// One line for each host that cannot be followed: `HOST: why`.
    pub down: Vec<String>,
}

pub const HELP: &[&str] = &[
    "Enter  attach (Ctrl-\\ comes back)",
    "y n    answer the permission it waits on",
    "s      send a line (Enter submits it)",
    "k      kill (asks first)",
    "r      resume a dead one, in the background",
    "f      forget a dead one",
    "/      filter (Esc clears)",
    "a      answer always (and do not ask again)",
    "j ↓ ↑  move      ?  this help      q  quit",
];

/// The screen for `rows` at `now_ms`, `cols` by `lines`.
pub fn screen(rows: &[Row], view: &View, now_ms: i64, cols: usize, lines: usize) -> Vec<String> {
    let mut out = vec![fit(&header(rows, view), cols)];
    if view.help {
        out.extend(HELP.iter().map(|l| fit(l, cols)));
    } else {
        let down = view.down.len().min(lines.saturating_sub(3));
        let room = lines.saturating_sub(2 + down);
        // Scrolled so the selected row shows.
        let first = view.selected.saturating_sub(room.saturating_sub(1));
        let key_w = key_width(rows);
        for (i, row) in rows.iter().enumerate().skip(first).take(room) {
            let selected = i == view.selected;
            out.push(line(row, now_ms, cols, key_w, selected, view.colour));
        }
        // Below the rows, so a row's place does not depend on them.
        out.extend(view.down.iter().take(down).map(|l| fit(&visible(l), cols)));
    }
    out.resize(lines.saturating_sub(1).max(1), String::new());
    let foot = match &view.prompt {
        Some((label, text)) => format!("{label}{}", visible(text)),
        None if !view.message.is_empty() => visible(&view.message),
        None => "Enter attach  y/n answer  s send  k kill  / filter  ? help  q quit".into(),
    };
    out.push(fit(&foot, cols));
    out.truncate(lines.max(1));
    out
}

fn header(rows: &[Row], view: &View) -> String {
    let waiting = rows.iter().filter(|r| r.state == "waiting").count();
    let filter = match view.filter.as_str() {
        "" => String::new(),
        f => format!("  filter: {}", visible(f)),
    };
    let n = rows.len();
    let noun = if n == 1 { "session" } else { "sessions" };
    format!("amux top — {n} {noun}, {waiting} waiting{filter}")
}

/// The key column: wide enough for `host:id` on another host, up to a
/// point (an id's first characters tell it apart).
fn key_width(rows: &[Row]) -> usize {
    let widest = rows.iter().map(|r| r.key.chars().count()).max();
    widest.unwrap_or(0).clamp(14, 28)
}

/// One row: `key kind state-age what title  dir`, cut to `cols`.
fn line(row: &Row, now_ms: i64, cols: usize, key_w: usize, selected: bool, colour: bool) -> String {
    let state = match row.since_ms {
        Some(since) => format!("{} {}", row.state, age(now_ms - since)),
        None => row.state.clone(),
    };
    let what = match row.asked.as_str() {
        "" => visible(&row.title),
        asked => format!("{}  {}", visible(asked), visible(&row.title)),
    };
    let fixed = key_w + 1 + 8 + 1 + 12 + 1;
    let rest = cols.saturating_sub(fixed);
    let dir_w = (rest / 3).min(30);
    let what_w = rest.saturating_sub(dir_w + 1);
    let cells = [
        pad(&ellipsize(&visible(&row.key), key_w), key_w),
        pad(&ellipsize(&visible(&row.kind), 8), 8),
        pad(&ellipsize(&state, 12), 12),
        pad(&ellipsize(&what, what_w), what_w),
        elide_middle(&visible(&row.cwd), dir_w),
    ];
    let text = fit(&cells.join(" "), cols);
    let sgr = match (colour, selected) {
        (_, true) => Some("7"),
        (true, false) => state_colour(&row.state),
        (false, false) => None,
    };
    match sgr {
        Some(sgr) => format!("\x1b[{sgr}m{text}\x1b[m"),
        None => text,
    }
}

/// "12s", "3m", "2h", "4d".
pub fn age(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86400),
    }
}

fn pad(text: &str, width: usize) -> String {
    let n = text.chars().count();
    format!("{text}{}", " ".repeat(width.saturating_sub(n)))
}

/// At most `cols` characters, trailing blanks dropped.
fn fit(text: &str, cols: usize) -> String {
    text.chars()
        .take(cols)
        .collect::<String>()
        .trim_end()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(key: &str, state: &str, asked: &str, since: Option<i64>) -> Row {
        Row {
            key: key.into(),
            host: None,
            id: key.into(),
            kind: "claude".into(),
            state: state.into(),
            since_ms: since,
            asked: asked.into(),
            title: "fix the \x1b]0;evil\x07 flaky test that never ends".into(),
            cwd: "/home/u/src/a/very/long/project/directory/name".into(),
            alive: true,
        }
    }

    #[test]
    fn rows_fit_the_width_and_agent_text_is_inert() {
        let rows = [
            row("k3j9x2m4qa", "waiting", "Bash: touch /tmp/a-file", Some(0)),
            row("b", "idle", "", None),
        ];
        let view = View::default();
        for cols in [40, 80, 200] {
            let lines = screen(&rows, &view, 125_000, cols, 24);
            assert_eq!(lines.len(), 24);
            for l in &lines {
                let plain = l.replace("\x1b[7m", "").replace("\x1b[m", "");
                assert!(plain.chars().count() <= cols, "{cols}: {l:?}");
                assert!(!plain.contains('\x07') && !plain.contains("\x1b]"), "{l:?}");
            }
        }
        let lines = screen(&rows, &view, 125_000, 80, 24);
        assert!(
            lines[0].starts_with("amux top — 2 sessions, 1 waiting"),
            "{lines:?}"
        );
        assert!(
            lines[1].contains("waiting 2m") && lines[1].contains("Bash: touch"),
            "{lines:?}"
        );
        assert!(
            lines[1].starts_with("\x1b[7m"),
            "the selected row is reversed"
        );
        assert!(lines[23].contains("q quit"), "{lines:?}");
    }

    #[test]
    fn ages_and_no_colour() {
        assert_eq!(
            [age(5_000), age(120_000), age(7_200_000), age(-1)],
            ["5s", "2m", "2h", "0s"]
        );
        let rows = [row("a", "idle", "", None), row("b", "waiting", "", Some(0))];
        let view = View {
            selected: 0,
            ..View::default()
        };
        let lines = screen(&rows, &view, 0, 80, 5);
        assert!(!lines[2].contains('\x1b'), "NO_COLOR: {lines:?}");
        let colour = View {
            colour: true,
            ..view
        };
        assert!(screen(&rows, &colour, 0, 80, 5)[2].contains("\x1b[1;33m"));
    }

    #[test]
    fn hosts_keys_whole_and_a_host_down_in_one_line() {
        let rows = [
            row("127.0.0.1:40123:k3j9x2m4qa", "idle", "", None),
            row("k3j9x2m4qb", "idle", "", None),
        ];
        let view = View {
            down: vec!["gpu: ssh: connect to host gpu port 22: \x1b[31mrefused".into()],
            ..View::default()
        };
        let lines = screen(&rows, &view, 0, 80, 6);
        assert!(
            lines[1].contains("127.0.0.1:40123:k3j9x2m4qa claude"),
            "{lines:?}"
        );
        assert!(lines[2].starts_with("k3j9x2m4qb "), "{lines:?}");
        assert!(lines[3].starts_with("gpu: ssh: connect") && !lines[3].contains('\x1b'));
        assert_eq!(lines.len(), 6);
        let short = screen(&rows, &view, 0, 80, 4);
        assert!(
            short[1].contains("127.0.0.1:40123:k3j9x2m4qa "),
            "{short:?}"
        );
        assert!(
            short[2].starts_with("gpu:"),
            "the host line stays: {short:?}"
        );
    }
}
