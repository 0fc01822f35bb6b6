//! Attribution from outside the preload: the agent-provided sources
//! (DESIGN §5.2 rule 5) and the labelled guesses (rule 6).
//!
//! `check` runs when something suggests a session's file may have changed:
//! its runner appeared, a `*.jsonl` changed under its roots, or its agent's
//! report changed (a Claude pidfile, watched by inotify). The session's
//! adapter reads its own report (`Adapter::report`: Claude's pidfile for
//! every process in the runner's tree, Codex's `O_APPEND` fd) on the
//! a thread of its own (`offload.rs`), since it walks `/proc`. Sessions the engine still offers
//! guesses to then get the guesses their adapter allows, in order —
//! metadata, scrollback, mtime — over candidate files also read off
//! the executor. Checks are throttled per session to one per `EVERY`,
//! one at a time, with one deferred check so the last trigger is never
//! lost; nothing here loops on a timer.

use super::{now_ms, Daemon};
use crate::daemon::journal::{self, Cause, Signal};
use crate::adapters::{self, Guess, Kind, Place, Probe};
use crate::attribution::Source;
use crate::daemon::offload;
use crate::guess::{self, MetaCandidate};
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
    place: Place,
}

fn facts(daemon: &Daemon, id: &str) -> Option<Facts> {
    let store = daemon.store.borrow();
    let e = store.live.get(id).filter(|e| e.alive)?;
    Some(Facts {
        kind: e.kind,
        pid: e.pid.unwrap_or(0) as u32,
        cwd: e.cwd.clone(),
        started: crate::timefmt::parse_epoch(&e.started_at).unwrap_or(0),
        roots: e.roots.clone(),
        place: e.place(),
    })
}

pub fn check(daemon: &Rc<Daemon>, id: &str, force: bool) {
    let Some(facts) = facts(daemon, id) else {
        return;
    };
    if facts.kind.is_shell() || !throttle(daemon, id, force) {
        return;
    }
    // One look at a time; a trigger meanwhile looks again afterwards.
    let start = daemon.side(id, |s| {
        s.checks.again = s.checks.running;
        !std::mem::replace(&mut s.checks.running, true)
    });
    if start {
        let (daemon2, id2) = (daemon.clone(), id.to_string());
        daemon
            .ex
            .spawn(async move {
                look(&daemon2, &id2, facts).await;
                let again = daemon2.side(&id2, |s| {
                    s.checks.running = false;
                    std::mem::take(&mut s.checks.again)
                });
                if again {
                    check(&daemon2, &id2, false);
                }
            })
            .detach();
    }
}

/// The agent's own report, else (when the engine still wants one) a guess.
async fn look(daemon: &Rc<Daemon>, id: &str, facts: Facts) {
    let probe = Probe {
        pid: facts.pid,
        config_dir: facts.place.config_dir.clone(),
        roots: facts.roots.clone(),
    };
    let kind = facts.kind;
    let report = offload::run(move || kind.report(&probe)).await;
    let report = report.unwrap_or_default();
    // The session may have ended while we looked.
    if !daemon.store.borrow().live.get(id).is_some_and(|e| e.alive) {
        return;
    }
    if let Some(odd) = report.odd {
        // Once per session: an agent newer than we know says it often.
        if !daemon.side(id, |s| std::mem::replace(&mut s.checks.noted_odd, true)) {
            daemon.log(&format!(
                "session {id}: {odd}; its state comes from its file"
            ));
        }
    }
    if let Some((file, source)) = report.file {
        let current = daemon.engine.borrow().binding(id).map(|b| b.file.clone());
        let signal = match source {
            Source::AgentPidfile => Signal::AgentPidfile,
            Source::Procfd => Signal::Procfd,
            _ => Signal::Runner,
        };
        if current.as_deref() != Some(file.as_path()) {
            let said = format!("holds {}", file.display());
            let _cause = daemon.cause(Cause::new(signal, said));
            daemon.report(id, file, source);
        }
        if let Some(state) = report.state {
            let _cause = daemon.cause(Cause::new(signal, journal::state_said(&state)));
            daemon.live_report(id, state, false);
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
        return schedule(daemon, id, left);
    }
    let now = Instant::now();
    let last = daemon.side(id, |s| s.checks.last_guess);
    if let Some(since) = last
        .map(|t| now.duration_since(t))
        .filter(|d| *d < GUESS_EVERY)
    {
        return schedule(daemon, id, GUESS_EVERY - since);
    }
    daemon.side(id, |s| s.checks.last_guess = Some(now));
    guess(daemon, id, facts).await;
}

/// True when a check may run now; otherwise schedules one for later.
fn throttle(daemon: &Rc<Daemon>, id: &str, force: bool) -> bool {
    let now = Instant::now();
    let last = daemon.side(id, |s| s.checks.last);
    if force || last.is_none_or(|t| now.duration_since(t) >= EVERY) {
        daemon.side(id, |s| s.checks.last = Some(now));
        return true;
    }
    let wait = EVERY.saturating_sub(last.map_or(Duration::ZERO, |t| now.duration_since(t)));
    schedule(daemon, id, wait);
    false
}

/// One deferred check per session (further requests ride along).
fn schedule(daemon: &Rc<Daemon>, id: &str, wait: Duration) {
    if daemon.side(id, |s| !std::mem::replace(&mut s.checks.scheduled, true)) {
        let (daemon2, id2) = (daemon.clone(), id.to_string());
        daemon
            .ex
            .spawn(async move {
                async_io::Timer::after(wait).await;
                if daemon2.side_if(&id2, |_| ()).is_some() {
                    daemon2.side(&id2, |s| s.checks.scheduled = false);
                    check(&daemon2, &id2, true);
                }
            })
            .detach();
    }
}

async fn guess(daemon: &Rc<Daemon>, id: &str, facts: Facts) {
    let candidates = candidates(daemon, &facts);
    if candidates.is_empty() {
        return;
    }
    let (kind, place, started) = (facts.kind, facts.place.clone(), facts.started);
    let derived = offload::run(move || read_candidates(kind, &place, started, candidates)).await;
    let derived = derived.unwrap_or_default();
    // The world may have moved on while the files were read.
    if !daemon.engine.borrow().wants_guess(id) {
        return;
    }
    let allows = |g| kind.guesses().contains(&g);
    let meta: Vec<MetaCandidate<PathBuf>> = derived
        .iter()
        .map(|(p, d, _)| MetaCandidate {
            key: p.clone(),
            header_cwd: d.header_cwd.clone(),
            created_at: d.created_at,
        })
        .collect();
    if let Some(file) =
        guess::pick_metadata(&facts.cwd, facts.started, &meta).filter(|_| allows(Guess::Metadata))
    {
        return daemon.guess(id, file, Source::Metadata);
    }
    let mtimes: Vec<(PathBuf, i64)> = derived.iter().map(|(p, _, m)| (p.clone(), *m)).collect();
    if allows(Guess::Scrollback) {
        let texts = derived.into_iter().map(|(p, d, _)| (p, d.text_tail));
        if let Some(file) = scrollback(id, texts.collect()).await {
            if daemon.engine.borrow().wants_guess(id) {
                daemon.guess(id, file, Source::Scrollback);
            }
            return;
        }
    }
    if let Some(file) = guess::pick_mtime(&mtimes, now_ms() / 1000).filter(|_| allows(Guess::Mtime))
    {
        if daemon.engine.borrow().wants_guess(id) {
            daemon.guess(id, file, Source::Mtime);
        }
    }
}

/// The candidate whose text the session's screen shows, if one clearly is.
async fn scrollback(id: &str, texts: Vec<(PathBuf, String)>) -> Option<PathBuf> {
    let sock = crate::transport::Connect::runner(id);
    let target = "/scrollback/text?bytes=16384";
    let resp = crate::http::client::request(&sock, "GET", target, b"").await;
    let screen = match resp {
        Ok(r) if r.status == 200 => guess::normalize_text(&String::from_utf8_lossy(&r.body)),
        _ => return None,
    };
    let scores: Vec<(PathBuf, f64)> = texts
        .iter()
        .map(|(p, t)| {
            let text = guess::normalize_text(t);
            (p.clone(), guess::similarity(&text, &screen))
        })
        .collect();
    guess::pick_scrollback(&scores)
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

/// What each candidate says (on the blocking pool: up to 32 × 4 MiB). A
/// file created before the session belongs to an earlier one (a resumed
/// conversation is not something to guess).
fn read_candidates(
    kind: Kind,
    place: &Place,
    started: i64,
    candidates: Vec<(PathBuf, i64)>,
) -> Vec<(PathBuf, adapters::Derived, i64)> {
    candidates
        .into_iter()
        .filter_map(|(path, mtime)| Some((path.clone(), read_derived(kind, place, &path)?, mtime)))
        .filter(|(_, d, _)| d.created_at.is_none_or(|c| c >= started - CLOCK_SLACK_S))
        .collect()
}

fn read_derived(kind: Kind, place: &Place, path: &Path) -> Option<adapters::Derived> {
    let data = crate::paths::read_untrusted(path, MAX_READ).ok()?;
    // Judge complete lines only: a partial last line is still being written.
    let end = data.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    Some(adapters::derive_all(kind, place, &data[..end]))
}
