//! The reads a guess needs: the candidate files' derived states and the
//! runner's screen. The core decides what to read and what the answers
//! mean (`core/sources.rs`).

use crate::adapters::{Derived, Kind, Place};
use crate::guess;
use std::path::PathBuf;

/// What each candidate says (off the executor, `offload.rs`: up to 32 ×
/// 4 MiB). A file created before the session belongs to an earlier one (a
/// resumed conversation is not something to guess).
pub(super) fn read_candidates(
    kind: Kind,
    place: &Place,
    started: i64,
    candidates: Vec<(PathBuf, i64)>,
) -> Vec<(PathBuf, Derived, i64)> {
    /// Timestamps are whole seconds and written by other processes.
    const CLOCK_SLACK_S: i64 = 2;
    /// Candidate files bigger than this are judged by their header only.
    const MAX_READ: u64 = 4 << 20;
    let read = |path: &PathBuf| {
        let data = crate::paths::read_untrusted(path, MAX_READ).ok()?;
        // Judge complete lines only: a partial last line is still being
        // written.
        let end = data.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        Some(crate::adapters::derive_all(kind, place, &data[..end]))
    };
    candidates
        .into_iter()
        .filter_map(|(path, mtime)| Some((path.clone(), read(&path)?, mtime)))
        .filter(|(_, d, _)| d.created_at.is_none_or(|c| c >= started - CLOCK_SLACK_S))
        .collect()
}

/// The candidate whose text `screen` (the runner's, its last 16 KiB)
/// clearly shows, if one does.
pub(super) fn pick_by_screen(screen: &str, texts: &[(PathBuf, String)]) -> Option<PathBuf> {
    let screen = guess::normalize_text(screen);
    let scores: Vec<(PathBuf, f64)> = (texts.iter())
        .map(|(p, t)| {
            (
                p.clone(),
                guess::similarity(&guess::normalize_text(t), &screen),
            )
        })
        .collect();
    guess::pick_scrollback(&scores)
}
