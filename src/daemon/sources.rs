//! Attribution from outside the preload: the agent-provided sources
//! (DESIGN §5.2 rule 5) and the labelled guesses (rule 6).
//!
//! `check` runs when something suggests a session's file may have changed:
//! its runner appeared or reported activity, or a `*.jsonl` changed under a
//! root. Claude sessions read `sessions/<pid>.json` for every process in
//! the runner's tree; Codex sessions look for an `O_APPEND` writer fd in
//! that tree. Sessions the engine still offers guesses to get them in
//! order: metadata, scrollback (pi), mtime. Checks are throttled per
//! session to one per `EVERY`, with one deferred check so the last
//! trigger is never lost; nothing here loops on a timer.

use super::core::{now_ms, Daemon};
use crate::adapters::{self, Kind};
use crate::attribution::Source;
use crate::guess::{self, MetaCandidate};
use crate::procfs;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Agent-provided sources are cheap (a pidfile, a small /proc walk) and
/// short-lived agents (`claude -p`, `codex exec`) finish in a second:
/// look often. Guesses read candidate files: at most once per `GUESS_EVERY`.
const EVERY: Duration = Duration::from_millis(200);
const GUESS_EVERY: Duration = Duration::from_secs(1);
/// How long a preload agent has to say hello before it may be guessed
/// (node/bun start in well under a second; this leaves a wide margin).
const HELLO_GRACE: Duration = Duration::from_secs(5);
/// Timestamps are whole seconds and written by other processes.
const CLOCK_SLACK_S: i64 = 2;
/// Guesses look at this many of the most recently changed files at most.
const MAX_CANDIDATES: usize = 32;
/// Candidate files bigger than this are judged by their header only.
const MAX_READ: u64 = 4 << 20;

struct Facts {
    kind: Kind,
    pid: u32,
    cwd: String,
    started: i64,
    roots: Vec<PathBuf>,
}

pub fn check(daemon: &Rc<Daemon>, id: &str, force: bool) {
    let facts = {
        let store = daemon.store.borrow();
        let Some(e) = store.live.get(id).filter(|e| e.alive) else {
            return;
        };
        Facts {
            kind: e.kind,
            pid: e.pid.unwrap_or(0) as u32,
            cwd: e.cwd.clone(),
            started: crate::timefmt::parse_epoch(&e.started_at).unwrap_or(0),
            roots: e.roots.clone(),
        }
    };
    if facts.kind == Kind::Shell || !throttle(daemon, id, force) {
        return;
    }
    let reported = match facts.kind {
        Kind::Claude => claude_pidfile(&facts).map(|f| (f, Source::AgentPidfile)),
        Kind::Codex => codex_writer(&facts).map(|f| (f, Source::Procfd)),
        _ => None,
    };
    if let Some((file, source)) = reported {
        let current = daemon.engine.borrow().binding(id).map(|b| b.file.clone());
        if current.as_deref() != Some(file.as_path()) {
            daemon.report(id, file, source);
        }
        return;
    }
    if !daemon.engine.borrow().wants_guess(id) {
        return;
    }
    // A preload agent says hello within moments of its start, and Claude's
    // pidfile or Codex's open rollout show up as soon; guessing before then
    // would tie a fresh session to an old file in its directory (and
    // `wait` would believe the guess). Guess only once they are overdue.
    let age_ms = now_ms() - facts.started * 1000;
    if age_ms < HELLO_GRACE.as_millis() as i64 {
        let left = HELLO_GRACE.saturating_sub(Duration::from_millis(age_ms.max(0) as u64));
        schedule(daemon, id, left);
        return;
    }
    let now = Instant::now();
    let last = daemon.last_guess.borrow().get(id).copied();
    if let Some(since) = last
        .map(|t| now.duration_since(t))
        .filter(|d| *d < GUESS_EVERY)
    {
        schedule(daemon, id, GUESS_EVERY - since);
        return;
    }
    daemon.last_guess.borrow_mut().insert(id.to_string(), now);
    guess(daemon, id, &facts);
}

/// True when a check may run now; otherwise schedules one for later.
fn throttle(daemon: &Rc<Daemon>, id: &str, force: bool) -> bool {
    let now = Instant::now();
    let last = daemon.last_check.borrow().get(id).copied();
    if force || last.is_none_or(|t| now.duration_since(t) >= EVERY) {
        daemon.last_check.borrow_mut().insert(id.to_string(), now);
        return true;
    }
    let wait = EVERY.saturating_sub(last.map_or(Duration::ZERO, |t| now.duration_since(t)));
    schedule(daemon, id, wait);
    false
}

/// One deferred check per session (further requests ride along).
fn schedule(daemon: &Rc<Daemon>, id: &str, wait: Duration) {
    if daemon.scheduled.borrow_mut().insert(id.to_string()) {
        let (daemon2, id2) = (daemon.clone(), id.to_string());
        daemon
            .ex
            .spawn(async move {
                async_io::Timer::after(wait).await;
                daemon2.scheduled.borrow_mut().remove(&id2);
                check(&daemon2, &id2, true);
            })
            .detach();
    }
}

fn claude_pidfile(facts: &Facts) -> Option<PathBuf> {
    let config = facts.roots.first().and_then(|r| r.parent())?.to_path_buf();
    procfs::descendants(facts.pid)
        .into_iter()
        .find_map(|pid| adapters::claude::pidfile_conversation(&config, pid))
        .map(|(file, _)| file)
}

fn codex_writer(facts: &Facts) -> Option<PathBuf> {
    let (kind, roots) = (facts.kind, &facts.roots);
    procfs::newest_append_writer(facts.pid, &|p: &Path| kind.accepts(p, roots, None))
}

fn guess(daemon: &Rc<Daemon>, id: &str, facts: &Facts) {
    let candidates = candidates(daemon, facts);
    if candidates.is_empty() {
        return;
    }
    let derived: Vec<(PathBuf, adapters::Derived, i64)> = candidates
        .into_iter()
        .filter_map(|(path, mtime)| Some((path.clone(), read_derived(facts.kind, &path)?, mtime)))
        // A file created before the session belongs to an earlier one (a
        // resumed conversation is not something to guess).
        .filter(|(_, d, _)| {
            d.created_at
                .is_none_or(|c| c >= facts.started - CLOCK_SLACK_S)
        })
        .collect();
    let meta: Vec<MetaCandidate<PathBuf>> = derived
        .iter()
        .map(|(p, d, _)| MetaCandidate {
            key: p.clone(),
            header_cwd: d.header_cwd.clone(),
            created_at: d.created_at,
        })
        .collect();
    if let Some(file) = guess::pick_metadata(&facts.cwd, facts.started, &meta) {
        return daemon.guess(id, file, Source::Metadata);
    }
    let mtimes: Vec<(PathBuf, i64)> = derived.iter().map(|(p, _, m)| (p.clone(), *m)).collect();
    if facts.kind == Kind::Pi {
        let texts: Vec<(PathBuf, String)> = derived
            .into_iter()
            .map(|(p, d, _)| (p, d.text_tail))
            .collect();
        let (daemon2, id2) = (daemon.clone(), id.to_string());
        daemon
            .ex
            .spawn(async move { scrollback(daemon2, id2, texts, mtimes).await })
            .detach();
        return;
    }
    if let Some(file) = guess::pick_mtime(&mtimes, now_ms() / 1000) {
        daemon.guess(id, file, Source::Mtime);
    }
}

async fn scrollback(
    daemon: Rc<Daemon>,
    id: String,
    texts: Vec<(PathBuf, String)>,
    mtimes: Vec<(PathBuf, i64)>,
) {
    let sock = crate::transport::Connect::runner(&id);
    let screen =
        match crate::http::client::request(&sock, "GET", "/scrollback/text?bytes=16384", b"").await
        {
            Ok(r) if r.status == 200 => guess::normalize_text(&String::from_utf8_lossy(&r.body)),
            _ => return,
        };
    let scores: Vec<(PathBuf, f64)> = texts
        .iter()
        .map(|(p, t)| {
            (
                p.clone(),
                guess::similarity(&guess::normalize_text(t), &screen),
            )
        })
        .collect();
    // The world may have moved on while we asked the runner.
    if !daemon.engine.borrow().wants_guess(&id) {
        return;
    }
    if let Some(file) = guess::pick_scrollback(&scores) {
        daemon.guess(&id, file, Source::Scrollback);
    } else if let Some(file) = guess::pick_mtime(&mtimes, now_ms() / 1000) {
        daemon.guess(&id, file, Source::Mtime);
    }
}

/// Recently changed files under the session's roots that nobody holds.
fn candidates(daemon: &Daemon, facts: &Facts) -> Vec<(PathBuf, i64)> {
    let engine = daemon.engine.borrow();
    let mut out: Vec<(PathBuf, i64)> = daemon
        .recent
        .borrow()
        .iter()
        .filter(|(p, _)| engine.holders(p).is_empty() && facts.kind.accepts(p, &facts.roots, None))
        .map(|(p, t)| (p.clone(), *t))
        .collect();
    out.sort_by_key(|c| std::cmp::Reverse(c.1));
    out.truncate(MAX_CANDIDATES);
    out
}

fn read_derived(kind: Kind, path: &Path) -> Option<adapters::Derived> {
    let data = crate::paths::read_untrusted(path, MAX_READ).ok()?;
    // Judge complete lines only: a partial last line is still being written.
    let end = data.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    Some(adapters::derive_all(kind, 3, &data[..end]))
}
