//! Fixture access for the adapters' tests (`tests/fixtures/<agent>/…`).

use super::{pi, Derived, Kind, Tracker};
use std::path::PathBuf;

pub fn read(rel: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn lines(rel: &str) -> Vec<String> {
    read(rel).lines().map(str::to_owned).collect()
}

/// A tracker for `kind`; pi's with `retries` as its retry setting.
pub fn tracker(kind: Kind, retries: u32) -> Tracker {
    let mut t = Tracker::new(kind, &Default::default());
    if kind == Kind::PI {
        t.replace_lines(Box::new(pi::State::new(retries)));
    }
    t
}

pub fn derive(kind: Kind, retries: u32, rel: &str) -> Derived {
    let mut t = tracker(kind, retries);
    read(rel).split('\n').for_each(|l| t.feed(l.as_bytes()));
    t.derived().clone()
}

pub fn argv(s: &str) -> Vec<String> {
    s.split_whitespace().map(String::from).collect()
}

/// The status in one string: `idle unread`, `working tool: bash`,
/// `failed error: <msg>`.
pub fn status(d: &Derived) -> String {
    let state = match (d.error, d.working) {
        (true, _) => "failed",
        (false, true) => "working",
        (false, false) => "idle",
    };
    let parts = [
        Some(state),
        d.unread.then_some("unread"),
        d.label.as_deref(),
    ];
    parts.into_iter().flatten().collect::<Vec<_>>().join(" ")
}

/// A fresh directory for one test; the test removes it.
pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("amux-adapters-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Every conversation fixture with the kind that reads it.
pub const ALL: &[(Kind, &str)] = &[
    (
        Kind::GEMINI,
        "gemini/session-2026-12-06T00-25-11111111.jsonl",
    ),
    (
        Kind::GEMINI,
        "gemini/session-2026-12-06T00-29-7e7f6684.jsonl",
    ),
    (
        Kind::GEMINI,
        "gemini/session-2026-12-06T00-30-7e7f6684.jsonl",
    ),
    (
        Kind::GEMINI,
        "gemini/session-resumed-same-minute-second-META-line.jsonl",
    ),
    (Kind::PI, "pi/01-short-print-mode.jsonl"),
    (Kind::PI, "pi/02-resumed-by-session-id.jsonl"),
    (Kind::PI, "pi/03-interactive-toolcall-named-resumed.jsonl"),
    (Kind::PI, "pi/04-forked-with-parentSession.jsonl"),
    (Kind::PI, "pi/05-first-turn-error.jsonl"),
    (Kind::PI, "pi/06-first-turn-aborted.jsonl"),
    (Kind::PI, "pi/07-clone-writeFileSync.jsonl"),
    (Kind::CLAUDE, "claude/interactive_2turns_60abc85e.jsonl"),
    (
        Kind::CLAUDE,
        "claude/interactive_after_clear_ai_title_a0109097.jsonl",
    ),
    (
        Kind::CLAUDE,
        "claude/interactive_then_resumed_p_f0794f7b.jsonl",
    ),
    (
        Kind::CLAUDE,
        "claude/print_named_custom_title_99999999.jsonl",
    ),
    (Kind::CLAUDE, "claude/print_tooluse_22222222.jsonl"),
    (Kind::CODEX, "codex/exec_then_exec_resume_01a20a50.jsonl"),
    (Kind::CODEX, "codex/exec_tooluse_01a20a55.jsonl"),
    (Kind::CODEX, "codex/tui_2turns_01a20a54a807.jsonl"),
    (Kind::CODEX, "codex/tui_then_tui_resume_01a20a5401fa.jsonl"),
];
