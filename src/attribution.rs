//! Which session holds which conversation file: the attribution rules
//! (amux(1), How amux learns the conversation file) as a pure state
//! machine.
//!
//! How it works: the daemon turns what it learns (a runner appeared, its
//! replay was read, the preload said hello, a runner reported a file, a
//! fallback guess matched, a runner went away) into an [`Input`] and calls
//! [`Engine::apply`] with the current time. The engine keeps one `Slot` per
//! session id and a reverse map `file -> holders`; the two always agree (a
//! session holds at most one file; a file may be held by several live
//! sessions, as when two terminals continue one conversation). `apply`
//! returns the changes as [`Decision`]s in the order they happened — every
//! release before the bind that caused it — so the daemon can update
//! records and followers without diffing state. There is no I/O and no
//! clock here: the same inputs give the same decisions, which is what lets
//! a restarted daemon rebuild everything from the runners' replay.
//!
//! The engine is the one owner of a session's binding and of its
//! `last_file`. A session holds the file it last reported authoritatively,
//! whoever else holds it too: when one of two terminals on a conversation
//! dies, the other still holds it. A guess is weaker: an authoritative
//! report on a guessed file withdraws the guess. A withdrawn guess is also
//! forgotten as the session's `last_file` (it was never evidence, so a dead
//! record must not offer to resume it); a file lost at death stays.
//!
//! Guesses are offered only to sessions whose runner replay has been read
//! (`Replayed`): after a daemon restart the replay carries the preload's
//! hello and file, and guessing before it would tie a covered session to
//! someone else's file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub use crate::protocol::Source;

pub type SessionId = String;

/// A session's current file, how it was learned and since when (epoch ms).
#[derive(Clone, Debug, PartialEq)]
pub struct Binding {
    pub file: PathBuf,
    pub source: Source,
    pub since: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// `sid` now holds `file` (also sent when only the source got stronger).
    Bind {
        sid: SessionId,
        file: PathBuf,
        source: Source,
    },
    /// `sid` no longer holds `file`.
    Release { sid: SessionId, file: PathBuf },
}

#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    Started {
        sid: SessionId,
    },
    /// The runner's replay (meta, hello, file) has been read in full.
    Replayed {
        sid: SessionId,
    },
    Hello {
        sid: SessionId,
    },
    /// Authoritative: `source` is `Shim`, `AgentPidfile`, `Procfd`, `Argv`
    /// or `Extension` (any source that is not `Source::is_guess`).
    Reported {
        sid: SessionId,
        file: PathBuf,
        source: Source,
    },
    /// FALLBACK: `source` is `Metadata`, `Scrollback` or `Mtime`.
    Guessed {
        sid: SessionId,
        file: PathBuf,
        source: Source,
    },
    Died {
        sid: SessionId,
    },
    /// The agent let go of its conversation for a new one it has not
    /// written yet (Codex's `/new`, which keeps the old rollout open):
    /// released, and that file reported again by the open fd alone does
    /// not bind it back; any other report does.
    Left {
        sid: SessionId,
    },
}

#[derive(Debug, Default)]
struct Slot {
    live: bool,
    replayed: bool,
    hello: bool,
    /// An authoritative report was seen: guesses are never offered again.
    reported: bool,
    binding: Option<Binding>,
    last_file: Option<PathBuf>,
    /// The file it let go of (`Input::Left`).
    left: Option<PathBuf>,
}

#[derive(Debug, Default)]
pub struct Engine {
    sessions: HashMap<SessionId, Slot>,
    holders: HashMap<PathBuf, Vec<SessionId>>,
}

impl Engine {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one input; returns what changed, releases before the bind.
    pub fn apply(&mut self, input: Input, now_ms: i64) -> Vec<Decision> {
        let mut out = Vec::new();
        match input {
            Input::Started { sid } => {
                self.live_slot(&sid);
            }
            Input::Replayed { sid } => {
                if let Some(slot) = self.live_slot(&sid) {
                    slot.replayed = true;
                }
            }
            Input::Hello { sid } => self.hello(&sid, &mut out),
            Input::Reported { sid, file, source } if !source.is_guess() => {
                self.report(sid, file, source, now_ms, &mut out)
            }
            Input::Guessed { sid, file, source } if source.is_guess() => {
                if self.wants_guess(&sid) && !self.holders.contains_key(&file) {
                    self.bind(sid, file, source, now_ms, &mut out);
                }
            }
            Input::Died { sid } => self.died(sid, &mut out),
            Input::Left { sid } => {
                if let Some(b) = self.release(&sid, &mut out) {
                    self.sessions.get_mut(&sid).expect("released").left = Some(b.file);
                }
            }
            // A source of the wrong kind is a caller bug; ignoring it keeps a
            // guess from ever posing as authority (and the reverse).
            Input::Reported { .. } | Input::Guessed { .. } => {}
        }
        out
    }

    pub fn binding(&self, sid: &str) -> Option<&Binding> {
        self.sessions.get(sid)?.binding.as_ref()
    }

    /// Every live session holding `file`, in the order they bound it.
    pub fn holders(&self, file: &Path) -> &[SessionId] {
        self.holders.get(file).map_or(&[], Vec::as_slice)
    }

    /// Hello seen, no authoritative report yet: a fresh agent with no
    /// conversation, never offered to a guess.
    #[cfg(test)]
    pub fn is_hello_gated(&self, sid: &str) -> bool {
        self.sessions
            .get(sid)
            .is_some_and(|s| s.live && s.hello && !s.reported)
    }

    /// Live, replay read, no authoritative signal ever, not hello-gated,
    /// not already guessed: may be offered guesses.
    pub fn wants_guess(&self, sid: &str) -> bool {
        self.sessions
            .get(sid)
            .is_some_and(|s| s.live && s.replayed && !s.hello && !s.reported && s.binding.is_none())
    }

    /// The file the session held last; kept after death for the dead record.
    pub fn last_file(&self, sid: &str) -> Option<&Path> {
        self.sessions.get(sid)?.last_file.as_deref()
    }

    #[cfg(test)]
    pub fn is_live(&self, sid: &str) -> bool {
        self.sessions.get(sid).is_some_and(|s| s.live)
    }

    /// Drops a dead session's state once its record is gone; a live one is
    /// kept (returns false) because it may still hold a file.
    pub fn forget(&mut self, sid: &str) -> bool {
        if self.sessions.get(sid).is_some_and(|s| !s.live) {
            self.sessions.remove(sid);
            return true;
        }
        false
    }

    /// The slot of a live session, created live when unknown: a restarted
    /// daemon may learn a session first from its runner's replay. `None`
    /// for a dead session, whose late events are ignored.
    fn live_slot(&mut self, sid: &str) -> Option<&mut Slot> {
        let slot = self.sessions.entry(sid.to_owned()).or_insert_with(|| Slot {
            live: true,
            ..Slot::default()
        });
        slot.live.then_some(slot)
    }

    fn hello(&mut self, sid: &str, out: &mut Vec<Decision>) {
        let Some(slot) = self.live_slot(sid) else {
            return;
        };
        // Gating covers only the time before the first report; a later
        // hello (the agent restarted its preload) changes nothing.
        if slot.reported || slot.hello {
            return;
        }
        slot.hello = true;
        // Not reported yet, so whatever it holds is a guess: drop it.
        self.withdraw(sid, out);
    }

    fn report(
        &mut self,
        sid: SessionId,
        file: PathBuf,
        source: Source,
        now_ms: i64,
        out: &mut Vec<Decision>,
    ) {
        let Some(slot) = self.live_slot(&sid) else {
            return;
        };
        if source == Source::Procfd && slot.left.as_ref() == Some(&file) {
            return;
        }
        slot.left = None;
        slot.reported = true;
        if let Some(b) = slot.binding.as_mut().filter(|b| b.file == file) {
            // Same file again: `since` stays. Only a stronger source is
            // worth telling (the label changes: a guess or the launch
            // line confirmed by the agent).
            if source < b.source {
                b.source = source;
                out.push(Decision::Bind { sid, file, source });
            }
            return;
        }
        self.withdraw(&sid, out);
        // A guess on this file was wrong: the agent says it is someone
        // else's. Other authoritative holders keep it (N:1).
        let guessed: Vec<SessionId> = self
            .holders(&file)
            .iter()
            .filter(|h| self.binding(h).is_some_and(|b| b.source.is_guess()))
            .cloned()
            .collect();
        guessed.iter().for_each(|g| self.withdraw(g, out));
        self.bind(sid, file, source, now_ms, out);
    }

    fn died(&mut self, sid: SessionId, out: &mut Vec<Decision>) {
        // An unknown session is recorded dead so its late replay is ignored.
        let slot = self.sessions.entry(sid.clone()).or_default();
        if !slot.live {
            return;
        }
        slot.live = false;
        self.release(&sid, out);
    }

    fn bind(
        &mut self,
        sid: SessionId,
        file: PathBuf,
        source: Source,
        now_ms: i64,
        out: &mut Vec<Decision>,
    ) {
        let Some(slot) = self.sessions.get_mut(&sid) else {
            return;
        };
        slot.last_file = Some(file.clone());
        slot.binding = Some(Binding {
            file: file.clone(),
            source,
            since: now_ms,
        });
        self.holders
            .entry(file.clone())
            .or_default()
            .push(sid.clone());
        out.push(Decision::Bind { sid, file, source });
    }

    /// Releases `sid`'s file; a withdrawn guess is also forgotten as its
    /// last file (see the module doc).
    fn withdraw(&mut self, sid: &str, out: &mut Vec<Decision>) {
        let Some(released) = self.release(sid, out) else {
            return;
        };
        if released.source.is_guess() {
            if let Some(slot) = self.sessions.get_mut(sid) {
                slot.last_file = None;
            }
        }
    }

    fn release(&mut self, sid: &str, out: &mut Vec<Decision>) -> Option<Binding> {
        let binding = self.sessions.get_mut(sid)?.binding.take()?;
        if let Some(holders) = self.holders.get_mut(&binding.file) {
            holders.retain(|h| h != sid);
            if holders.is_empty() {
                self.holders.remove(&binding.file);
            }
        }
        out.push(Decision::Release {
            sid: sid.to_owned(),
            file: binding.file.clone(),
        });
        Some(binding)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Source::*;

    fn started(sid: &str) -> Input {
        Input::Started { sid: sid.into() }
    }
    /// Started and its replay read: what a guess needs.
    fn up(sid: &str) -> Input {
        Input::Replayed { sid: sid.into() }
    }
    fn hello(sid: &str) -> Input {
        Input::Hello { sid: sid.into() }
    }
    fn report(sid: &str, file: &str, source: Source) -> Input {
        Input::Reported {
            sid: sid.into(),
            file: file.into(),
            source,
        }
    }
    fn guess(sid: &str, file: &str, source: Source) -> Input {
        Input::Guessed {
            sid: sid.into(),
            file: file.into(),
            source,
        }
    }
    fn died(sid: &str) -> Input {
        Input::Died { sid: sid.into() }
    }
    fn bind(sid: &str, file: &str, source: Source) -> Decision {
        Decision::Bind {
            sid: sid.into(),
            file: file.into(),
            source,
        }
    }
    fn rel(sid: &str, file: &str) -> Decision {
        Decision::Release {
            sid: sid.into(),
            file: file.into(),
        }
    }

    /// What must hold once all steps ran.
    enum Check {
        Holds(&'static str, &'static str, Source),
        Unbound(&'static str),
        Holder(&'static str, Option<&'static str>),
        Last(&'static str, Option<&'static str>),
        Gated(&'static str, bool),
        Wants(&'static str, bool),
    }

    /// Runs the steps (input, decisions expected), checking the engine's
    /// two maps agree after each one, then the final checks. Time advances
    /// one second per step so `since` shows which step bound a file.
    fn scenario(steps: Vec<(Input, Vec<Decision>)>, checks: &[Check]) -> Engine {
        let mut engine = Engine::new();
        for (i, (input, want)) in steps.into_iter().enumerate() {
            let shown = format!("{input:?}");
            let got = engine.apply(input, 1000 * i as i64);
            assert_eq!(got, want, "step {i}: {shown}");
            assert_consistent(&engine);
        }
        for check in checks {
            match *check {
                Check::Holds(sid, file, source) => {
                    let b = engine.binding(sid).expect("binding");
                    assert_eq!((b.file.as_path(), b.source), (Path::new(file), source));
                    assert!(engine.holders(Path::new(file)).iter().any(|h| h == sid));
                }
                Check::Unbound(sid) => assert_eq!(engine.binding(sid), None, "{sid}"),
                Check::Holder(file, want) => {
                    let got: Vec<&str> = engine
                        .holders(Path::new(file))
                        .iter()
                        .map(String::as_str)
                        .collect();
                    assert_eq!(got, want.into_iter().collect::<Vec<_>>(), "{file}")
                }
                Check::Last(sid, want) => {
                    assert_eq!(engine.last_file(sid), want.map(Path::new), "{sid}")
                }
                Check::Gated(sid, want) => assert_eq!(engine.is_hello_gated(sid), want, "{sid}"),
                Check::Wants(sid, want) => assert_eq!(engine.wants_guess(sid), want, "{sid}"),
            }
        }
        engine
    }

    fn assert_consistent(engine: &Engine) {
        for (file, sids) in &engine.holders {
            assert!(!sids.is_empty(), "{file:?} has an empty holder list");
            for sid in sids {
                let b = engine.binding(sid).expect("holder has a binding");
                assert_eq!(&b.file, file);
            }
        }
        for (sid, slot) in &engine.sessions {
            if let Some(b) = &slot.binding {
                assert!(slot.live, "{sid} is dead but holds {b:?}");
                assert_eq!(
                    engine.holders(&b.file).iter().filter(|h| *h == sid).count(),
                    1
                );
            }
        }
    }

    #[test]
    fn shim_overrides_earlier_guess() {
        scenario(
            vec![
                (up("a"), vec![]),
                (guess("a", "/g", Mtime), vec![bind("a", "/g", Mtime)]),
                (
                    report("a", "/f", Shim),
                    vec![rel("a", "/g"), bind("a", "/f", Shim)],
                ),
            ],
            &[
                Check::Holds("a", "/f", Shim),
                Check::Holder("/g", None),
                Check::Last("a", Some("/f")),
                Check::Wants("a", false),
            ],
        );
    }

    #[test]
    fn authority_confirming_the_guessed_file_relabels_it() {
        let engine = scenario(
            vec![
                (up("a"), vec![]),
                (guess("a", "/f", Metadata), vec![bind("a", "/f", Metadata)]),
                (report("a", "/f", Procfd), vec![bind("a", "/f", Procfd)]),
            ],
            &[Check::Holds("a", "/f", Procfd)],
        );
        assert_eq!(engine.binding("a").map(|b| b.since), Some(1000));
    }

    #[test]
    fn rebind_moves_and_releases_old_file() {
        scenario(
            vec![
                (report("a", "/f1", Shim), vec![bind("a", "/f1", Shim)]),
                (
                    report("a", "/f2", Shim),
                    vec![rel("a", "/f1"), bind("a", "/f2", Shim)],
                ),
            ],
            &[
                Check::Holds("a", "/f2", Shim),
                Check::Holder("/f1", None),
                Check::Last("a", Some("/f2")),
            ],
        );
    }

    #[test]
    fn two_sessions_reporting_one_file_both_hold_it() {
        scenario(
            vec![
                (report("a", "/f", Shim), vec![bind("a", "/f", Shim)]),
                (
                    report("b", "/f", AgentPidfile),
                    vec![bind("b", "/f", AgentPidfile)],
                ),
                // The second binder's death leaves the first one holding it.
                (died("b"), vec![rel("b", "/f")]),
            ],
            &[
                Check::Holds("a", "/f", Shim),
                Check::Holder("/f", Some("a")),
                Check::Unbound("b"),
                Check::Last("b", Some("/f")),
                Check::Wants("a", false),
            ],
        );
    }

    #[test]
    fn rebind_onto_a_held_file_shares_it() {
        scenario(
            vec![
                (report("a", "/f1", Shim), vec![bind("a", "/f1", Shim)]),
                (report("b", "/f2", Shim), vec![bind("b", "/f2", Shim)]),
                (
                    report("a", "/f2", Shim),
                    vec![rel("a", "/f1"), bind("a", "/f2", Shim)],
                ),
                (died("a"), vec![rel("a", "/f2")]),
            ],
            &[
                Check::Holds("b", "/f2", Shim),
                Check::Holder("/f1", None),
                Check::Holder("/f2", Some("b")),
            ],
        );
    }

    #[test]
    fn launch_line_file_is_held_and_confirmed_by_the_preload() {
        let engine = scenario(
            vec![
                (started("a"), vec![]),
                (report("a", "/f", Argv), vec![bind("a", "/f", Argv)]),
                (hello("a"), vec![]),
                (report("a", "/f", Shim), vec![bind("a", "/f", Shim)]),
                (report("a", "/f", Argv), vec![]),
            ],
            &[Check::Holds("a", "/f", Shim), Check::Wants("a", false)],
        );
        assert_eq!(engine.binding("a").map(|b| b.since), Some(1000));
    }

    #[test]
    fn no_guess_before_the_replay_is_read() {
        scenario(
            vec![
                (started("a"), vec![]),
                (guess("a", "/f", Metadata), vec![]),
                (up("a"), vec![]),
                (guess("a", "/f", Metadata), vec![bind("a", "/f", Metadata)]),
            ],
            &[Check::Holds("a", "/f", Metadata)],
        );
    }

    #[test]
    fn hello_without_write_stays_unattributed_and_rejects_guesses() {
        scenario(
            vec![
                (started("a"), vec![]),
                (hello("a"), vec![]),
                (guess("a", "/old", Metadata), vec![]),
                (guess("a", "/old", Mtime), vec![]),
            ],
            &[
                Check::Unbound("a"),
                Check::Gated("a", true),
                Check::Wants("a", false),
                Check::Holder("/old", None),
            ],
        );
    }

    #[test]
    fn guess_made_before_hello_is_dropped_at_hello() {
        scenario(
            vec![
                (up("a"), vec![]),
                (
                    guess("a", "/old", Scrollback),
                    vec![bind("a", "/old", Scrollback)],
                ),
                (hello("a"), vec![rel("a", "/old")]),
                (hello("a"), vec![]),
            ],
            &[
                Check::Unbound("a"),
                Check::Holder("/old", None),
                Check::Last("a", None),
                Check::Gated("a", true),
            ],
        );
    }

    #[test]
    fn first_report_ends_gating_and_later_hello_changes_nothing() {
        scenario(
            vec![
                (hello("a"), vec![]),
                (report("a", "/f", Shim), vec![bind("a", "/f", Shim)]),
                (hello("a"), vec![]),
            ],
            &[
                Check::Holds("a", "/f", Shim),
                Check::Gated("a", false),
                Check::Wants("a", false),
            ],
        );
    }

    #[test]
    fn death_releases_and_last_file_remains() {
        let engine = scenario(
            vec![
                (report("a", "/f", Shim), vec![bind("a", "/f", Shim)]),
                (died("a"), vec![rel("a", "/f")]),
                // Late replay and events for the dead are ignored.
                (report("a", "/g", Shim), vec![]),
                (hello("a"), vec![]),
                (started("a"), vec![]),
                (died("a"), vec![]),
                // The file is free for the next session.
                (report("b", "/f", Shim), vec![bind("b", "/f", Shim)]),
            ],
            &[
                Check::Unbound("a"),
                Check::Last("a", Some("/f")),
                Check::Wants("a", false),
                Check::Gated("a", false),
                Check::Holder("/g", None),
            ],
        );
        assert!(!engine.is_live("a"));
    }

    #[test]
    fn death_keeps_a_guessed_last_file() {
        scenario(
            vec![
                (up("a"), vec![]),
                (guess("a", "/f", Mtime), vec![bind("a", "/f", Mtime)]),
                (died("a"), vec![rel("a", "/f")]),
                (guess("a", "/g", Mtime), vec![]),
            ],
            &[Check::Unbound("a"), Check::Last("a", Some("/f"))],
        );
    }

    #[test]
    fn guess_rejected_for_a_file_someone_holds() {
        scenario(
            vec![
                (report("a", "/f", Shim), vec![bind("a", "/f", Shim)]),
                (up("b"), vec![]),
                (guess("b", "/f", Metadata), vec![]),
                (up("c"), vec![]),
                (guess("c", "/g", Mtime), vec![bind("c", "/g", Mtime)]),
                (guess("b", "/g", Scrollback), vec![]),
            ],
            &[
                Check::Holds("a", "/f", Shim),
                Check::Holds("c", "/g", Mtime),
                Check::Unbound("b"),
                Check::Wants("b", true),
            ],
        );
    }

    #[test]
    fn second_guess_for_a_guessed_session_is_rejected() {
        scenario(
            vec![
                (up("a"), vec![]),
                (guess("a", "/f", Metadata), vec![bind("a", "/f", Metadata)]),
                (guess("a", "/g", Mtime), vec![]),
            ],
            &[Check::Holds("a", "/f", Metadata), Check::Wants("a", false)],
        );
    }

    #[test]
    fn authoritative_for_another_session_takes_a_guessed_file() {
        scenario(
            vec![
                (up("a"), vec![]),
                (guess("a", "/f", Mtime), vec![bind("a", "/f", Mtime)]),
                (
                    report("b", "/f", Procfd),
                    vec![rel("a", "/f"), bind("b", "/f", Procfd)],
                ),
            ],
            &[
                Check::Holds("b", "/f", Procfd),
                Check::Unbound("a"),
                // The guess was wrong: forgotten, and a may be guessed again.
                Check::Last("a", None),
                Check::Wants("a", true),
            ],
        );
    }

    #[test]
    fn same_report_twice_emits_nothing_and_keeps_since() {
        let engine = scenario(
            vec![
                (report("a", "/f", Shim), vec![bind("a", "/f", Shim)]),
                (report("a", "/f", Shim), vec![]),
                (report("a", "/f", Procfd), vec![]),
            ],
            &[Check::Holds("a", "/f", Shim)],
        );
        assert_eq!(engine.binding("a").map(|b| b.since), Some(0));
    }

    #[test]
    fn unknown_sessions() {
        scenario(
            vec![
                // A restarted daemon learns sessions from their replay.
                (hello("h"), vec![]),
                (report("r", "/f", Shim), vec![bind("r", "/f", Shim)]),
                // A guess needs a session the daemon already knows.
                (guess("g", "/g", Mtime), vec![]),
                // A death for an unknown session marks it, so replay is ignored.
                (died("d"), vec![]),
                (report("d", "/d", Shim), vec![]),
            ],
            &[
                Check::Gated("h", true),
                Check::Holds("r", "/f", Shim),
                Check::Unbound("g"),
                Check::Holder("/g", None),
                Check::Holder("/d", None),
            ],
        );
    }

    #[test]
    fn mismatched_sources_are_ignored() {
        scenario(
            vec![
                (up("a"), vec![]),
                (report("a", "/f", Mtime), vec![]),
                (guess("a", "/f", Shim), vec![]),
            ],
            &[Check::Unbound("a"), Check::Wants("a", true)],
        );
    }

    #[test]
    fn forget_drops_only_dead_sessions() {
        let mut engine = Engine::new();
        engine.apply(report("a", "/f", Shim), 0);
        engine.apply(started("b"), 0);
        engine.apply(died("b"), 0);
        assert!(!engine.forget("a"));
        assert!(engine.forget("b"));
        assert!(!engine.forget("b"));
        assert_eq!(engine.holders(Path::new("/f")), ["a".to_string()]);
    }

    #[test]
    fn source_names() {
        let table = [
            (Shim, "shim", false),
            (AgentPidfile, "agent-pidfile", false),
            (Procfd, "procfd", false),
            (Argv, "argv", false),
            (Metadata, "metadata", true),
            (Scrollback, "scrollback", true),
            (Mtime, "mtime", true),
        ];
        for (source, name, guess) in table {
            assert_eq!(source.as_str(), name);
            assert_eq!(source.to_string(), name);
            assert_eq!(source.is_guess(), guess, "{name}");
            let json = serde_json::to_string(&source).expect("serialise");
            assert_eq!(json, format!("\"{name}\""));
            let back: Source = serde_json::from_str(&json).expect("deserialise");
            assert_eq!(back, source);
        }
    }

    #[test]
    fn a_file_let_go_is_not_bound_back_by_its_open_fd() {
        let mut e = Engine::new();
        e.apply(started("s"), 0);
        e.apply(report("s", "/r/a.jsonl", Procfd), 1);
        let out = e.apply(Input::Left { sid: "s".into() }, 2);
        assert_eq!(out, vec![rel("s", "/r/a.jsonl")]);
        assert!(e.binding("s").is_none());
        // Codex still holds it open: the fd says so again, to no effect.
        assert!(e.apply(report("s", "/r/a.jsonl", Procfd), 3).is_empty());
        assert!(e.binding("s").is_none());
        // Its next conversation binds; after it, the old file may again.
        assert_eq!(
            e.apply(report("s", "/r/b.jsonl", Procfd), 4),
            vec![bind("s", "/r/b.jsonl", Procfd)]
        );
        let out = e.apply(report("s", "/r/a.jsonl", Procfd), 5);
        assert!(out.contains(&bind("s", "/r/a.jsonl", Procfd)), "{out:?}");
    }
}
