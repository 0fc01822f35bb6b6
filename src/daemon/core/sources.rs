//! Attribution from outside the preload: the agent's own report besides
//! its writes (Claude's pidfile, Codex's open rollout) and, failing every
//! report, the labelled guesses.
//!
//! `check` runs when something suggests a session's file may have
//! changed: its runner's replay was read, a file changed under its roots,
//! or its agent's report changed (a Claude pidfile, watched by inotify).
//! A look is a chain of effects and the events they come back as: `Look`
//! (the adapter's report, read off the executor since it walks `/proc`)
//! → `Found::Report`; then, only while the engine still offers guesses,
//! `ReadCandidates` (recently changed files nobody holds) →
//! `Found::Candidates`, picked by metadata, else `Scrollback` (the
//! runner's screen against each candidate's text) → `Found::Screen`, else
//! by mtime. A look a file change asks for is throttled per session to one
//! per `EVERY`; the end of the replay, a changed report and a deferred
//! look's timer look at once. Looks run one at a time (a trigger meanwhile
//! looks again after), and there is at most one deferred look per session,
//! so the last trigger is never lost. Guesses wait `HELLO_GRACE` after the
//! session's start (its agent's own report comes first) and `GUESS_EVERY`
//! between them. Nothing here loops on a timer.

use super::{Core, Effect, Found, Now, Timer};
use crate::adapters::{Derived, Guess, Kind, Probe, Report};
use crate::attribution::Source;
use crate::guess::{self, MetaCandidate};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Agent-provided sources are cheap (a pidfile, a small /proc walk) and
/// short-lived agents (`claude -p`, `codex exec`) finish in a second:
/// look often. Guesses read candidate files: at most once per `GUESS_EVERY`.
const EVERY: Duration = Duration::from_millis(200);
const GUESS_EVERY: Duration = Duration::from_secs(1);
/// How long a preload agent has to say hello before it may be guessed
/// (node/bun start in well under a second; this leaves a wide margin).
const HELLO_GRACE: Duration = Duration::from_secs(5);
/// Guesses look at this many of the most recently changed files at most.
const MAX_CANDIDATES: usize = 32;

/// The looks of one session.
#[derive(Default)]
pub struct Checks {
    /// When a look last started: they are throttled.
    last: Option<Instant>,
    last_guess: Option<Instant>,
    /// A deferred look is scheduled (later triggers ride along).
    pub scheduled: bool,
    /// A look is under way; `again`: a trigger came meanwhile, so it
    /// looks once more when done.
    running: bool,
    again: bool,
    /// An odd report (an unknown status value) was logged already.
    noted_odd: bool,
    /// The candidates' mtimes, while the screen is asked.
    mtimes: Vec<(PathBuf, i64)>,
}

impl Core {
    pub(super) fn check(&mut self, id: &str, force: bool, now: Now) {
        let Some(entry) = self.store.live.get(id).filter(|e| e.alive) else {
            return;
        };
        if entry.kind.is_shell() {
            return;
        }
        let probe = Probe {
            pid: entry.pid.unwrap_or(0) as u32,
            config_dir: entry.config_dir(),
            roots: entry.roots.clone(),
        };
        let kind = entry.kind;
        if !self.throttle(id, force, now) {
            return;
        }
        // One look at a time; a trigger meanwhile looks again afterwards.
        let checks = &mut self.side(id).checks;
        if checks.running {
            checks.again = true;
            return;
        }
        checks.running = true;
        self.out.push(Effect::Look {
            id: id.to_string(),
            kind,
            probe,
        });
    }

    /// True when a look may start now; otherwise one is scheduled.
    fn throttle(&mut self, id: &str, force: bool, now: Now) -> bool {
        let checks = &mut self.side(id).checks;
        let since = checks.last.map(|t| now.at.saturating_duration_since(t));
        if force || since.is_none_or(|s| s >= EVERY) {
            checks.last = Some(now.at);
            return true;
        }
        let wait = EVERY.saturating_sub(since.unwrap_or_default());
        self.schedule_check(id, wait, now);
        false
    }

    /// One deferred look per session (further requests ride along).
    fn schedule_check(&mut self, id: &str, wait: Duration, now: Now) {
        let checks = &mut self.side(id).checks;
        if !std::mem::replace(&mut checks.scheduled, true) {
            let timer = Timer::Check { id: id.to_string() };
            self.out.push(Effect::Schedule {
                at: now.at + wait,
                timer,
            });
        }
    }

    /// A look is over: once more if a trigger came meanwhile.
    fn look_done(&mut self, id: &str, now: Now) {
        let Some(side) = self.sides.get_mut(id) else {
            return;
        };
        side.checks.running = false;
        if std::mem::take(&mut side.checks.again) {
            self.check(id, false, now);
        }
    }

    /// The next step of a look.
    pub(super) fn found(&mut self, id: &str, found: Found, now: Now) {
        // The session may have ended while we looked.
        if !self.store.live.get(id).is_some_and(|e| e.alive) {
            return;
        }
        let more = match found {
            Found::Report(report) => self.looked(id, *report, now),
            Found::Candidates(derived) => self.candidates_read(id, derived, now),
            Found::Screen(file) => {
                let mtimes = std::mem::take(&mut self.side(id).checks.mtimes);
                match file {
                    Some(file) if self.engine.wants_guess(id) => {
                        self.guess(id, file, Source::Scrollback, now)
                    }
                    _ => self.by_mtime(id, &mtimes, now),
                }
                false
            }
        };
        if !more {
            self.look_done(id, now);
        }
    }

    /// The agent's own report, else (when the engine still wants one) a
    /// guess. Whether the look goes on.
    fn looked(&mut self, id: &str, report: Report, now: Now) -> bool {
        if let Some(odd) = report.odd {
            // Once per session: an agent newer than we know says it often.
            if !std::mem::replace(&mut self.side(id).checks.noted_odd, true) {
                self.log(format!(
                    "session {id}: {odd}; its state comes from its file"
                ));
            }
        }
        if let Some((file, source)) = report.file {
            // Another file, or the same one from a stronger source (a
            // Claude started by `amux resume`: the launch line named it,
            // its pidfile confirms it).
            if (self.engine.binding(id)).is_none_or(|b| b.file != file || source < b.source) {
                self.report(id, file, source, None, now);
            }
            if let Some(state) = report.state {
                self.live_report(id, state, false, now);
            }
            return false;
        }
        if !self.engine.wants_guess(id) {
            return false;
        }
        // A preload agent says hello within moments of its start, and
        // Claude's pidfile or Codex's open rollout show up as soon;
        // guessing before then would tie a fresh session to an old file in
        // its directory (and `wait` would believe the guess). Guess only
        // once they are overdue.
        let Some(entry) = self.store.live.get(id) else {
            return false;
        };
        let started = crate::timefmt::parse_epoch(&entry.started_at).unwrap_or(0);
        let age = Duration::from_millis((now.ms - started * 1000).max(0) as u64);
        if age < HELLO_GRACE {
            self.schedule_check(id, HELLO_GRACE - age, now);
            return false;
        }
        let checks = &mut self.side(id).checks;
        let since = checks
            .last_guess
            .map(|t| now.at.saturating_duration_since(t));
        if let Some(since) = since.filter(|s| *s < GUESS_EVERY) {
            self.schedule_check(id, GUESS_EVERY - since, now);
            return false;
        }
        checks.last_guess = Some(now.at);
        let Some(entry) = self.store.live.get(id) else {
            return false;
        };
        let (kind, place) = (entry.kind, entry.place());
        let candidates = self.candidates(kind, &entry.roots);
        if candidates.is_empty() {
            return false;
        }
        self.out.push(Effect::ReadCandidates {
            id: id.to_string(),
            kind,
            place,
            started,
            candidates,
        });
        true
    }

    /// Recently changed files under the session's roots that nobody holds.
    fn candidates(&self, kind: Kind, roots: &[PathBuf]) -> Vec<(PathBuf, i64)> {
        let mut out: Vec<(PathBuf, i64)> = (self.recent.iter())
            .filter(|(p, _)| self.engine.holders(p).is_empty() && kind.accepts(p, roots, None))
            .map(|(p, t)| (p.clone(), *t))
            .collect();
        out.sort_by_key(|c| std::cmp::Reverse(c.1));
        out.truncate(MAX_CANDIDATES);
        out
    }

    /// The candidates are read: by metadata, else by the screen, else by
    /// mtime. Whether the look goes on (the screen is asked).
    fn candidates_read(
        &mut self,
        id: &str,
        derived: Vec<(PathBuf, Derived, i64)>,
        now: Now,
    ) -> bool {
        // The world may have moved on while the files were read.
        let Some(entry) = self
            .store
            .live
            .get(id)
            .filter(|_| self.engine.wants_guess(id))
        else {
            return false;
        };
        let (kind, cwd) = (entry.kind, entry.cwd.clone());
        let started = crate::timefmt::parse_epoch(&entry.started_at).unwrap_or(0);
        let allows = |g| kind.guesses().contains(&g);
        let meta: Vec<MetaCandidate<PathBuf>> = (derived.iter())
            .map(|(p, d, _)| MetaCandidate {
                key: p.clone(),
                header_cwd: d.header_cwd.clone(),
                created_at: d.created_at,
            })
            .collect();
        let picked = guess::pick_metadata(&cwd, started, &meta).filter(|_| allows(Guess::Metadata));
        if let Some(file) = picked {
            self.guess(id, file, Source::Metadata, now);
            return false;
        }
        let mtimes: Vec<(PathBuf, i64)> = derived.iter().map(|(p, _, m)| (p.clone(), *m)).collect();
        if allows(Guess::Scrollback) {
            self.side(id).checks.mtimes = mtimes;
            let texts = derived.into_iter().map(|(p, d, _)| (p, d.text_tail));
            self.out.push(Effect::Scrollback {
                id: id.to_string(),
                texts: texts.collect(),
            });
            return true;
        }
        self.by_mtime(id, &mtimes, now);
        false
    }

    fn by_mtime(&mut self, id: &str, mtimes: &[(PathBuf, i64)], now: Now) {
        let Some(kind) = self.store.live.get(id).map(|e| e.kind) else {
            return;
        };
        let picked = guess::pick_mtime(mtimes, now.ms / 1000);
        if let Some(file) = picked.filter(|_| kind.guesses().contains(&Guess::Mtime)) {
            if self.engine.wants_guess(id) {
                self.guess(id, file, Source::Mtime, now);
            }
        }
    }
}
