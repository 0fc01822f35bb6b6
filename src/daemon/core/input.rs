//! What a session's runner says: its `meta`, the end of its replay, the
//! preload's hello and writes, typing, attachers, the terminal's title,
//! the agent's own state reports and notifications, and its exit.

use super::{Core, Effect, Now, Published, Timer};
use crate::adapters::Command;
use crate::attribution::{Input, Source};
use crate::daemon::live::Saved;
use crate::daemon::state::{self, Live};
use crate::daemon::store::Entry;
use crate::protocol::{self, AgentState, Meta, RunnerEvent};
use std::path::PathBuf;
use std::time::Duration;

/// How long a session must stay unchanged (terminal and file) after input
/// before that input counts as consumed without a turn. Agents at work
/// redraw a spinner many times a second, so this is far from a busy one.
pub const QUIET: Duration = Duration::from_secs(3);

impl Core {
    pub(super) fn runner_event(&mut self, id: &str, event: RunnerEvent, replay: bool, now: Now) {
        match event {
            // Comes as `Event::Meta`, with what was saved of it.
            RunnerEvent::Meta(meta) => self.on_meta(id, &meta, None, now),
            RunnerEvent::Shim(shim) => self.on_shim(id, &shim, now),
            // The launch line's file (`pi --session F`) until the agent
            // itself reports; every other report is the preload's.
            RunnerEvent::SessionFile(f) => {
                let since = Some(f.at_ms).filter(|&t| t > 0);
                self.report(id, f.path, f.source.source(), since, now)
            }
            RunnerEvent::Ready => self.on_ready(id, now),
            RunnerEvent::Exit(exit) => {
                if let Some(entry) = self.store.live.get_mut(id) {
                    entry.exit_code = exit.exit_code;
                    entry.exited_at = Some(crate::timefmt::format_ms(now.ms));
                }
                // Dead now, whether or not its runner lingers a moment
                // longer: it leaves the live list at once.
                self.runner_gone(id, None, now);
            }
            RunnerEvent::Title(t) => {
                if let Some(entry) = self.store.live.get_mut(id) {
                    entry.terminal_title = t.title;
                }
                self.touch(id);
            }
            RunnerEvent::Input(input) => {
                if let Some(entry) = self.store.live.get_mut(id) {
                    if let Some(n) = input.submitted {
                        entry.input.submitted_seen = n;
                    }
                }
                self.input(id, input.enter, input.command, now);
            }
            RunnerEvent::Attach(a) => {
                if let Some(entry) = self.store.live.get_mut(id) {
                    entry.input.attachers = a.attachers;
                    if a.attachers > 0 {
                        entry.mark_read();
                    }
                }
                self.touch(id);
            }
            // The agent is doing something (for the quiet check of
            // pending input; sources are checked on file events).
            RunnerEvent::Activity => {
                if let Some(entry) = self.store.live.get_mut(id) {
                    entry.input.last_change = Some(now.at);
                }
            }
            RunnerEvent::State(state) => self.live_report(id, state, replay, now),
            RunnerEvent::Notification(mut n) => {
                n.id = id.to_string();
                let text = protocol::to_json(&n);
                self.out
                    .push(Effect::Publish(Published::Notification(text)));
            }
            // The window size is the runner's and the attachers' business.
            RunnerEvent::Resize(_) => {}
        }
    }

    /// Whether the runner of `id` is one to follow: not a session already
    /// buried (a restarted daemon finding a runner that lingers after its
    /// agent ended: its dead record stands).
    pub fn wants_runner(&self, id: &str) -> bool {
        !self.store.dead.contains_key(id)
    }

    /// The runner's `meta` (first on every subscription).
    pub(super) fn on_meta(&mut self, id: &str, meta: &Meta, saved: Option<Box<Saved>>, now: Now) {
        if !self.wants_runner(id) {
            return;
        }
        let new = !self.store.live.contains_key(id);
        let entry = (self.store.live.entry(id.to_string())).or_insert_with(|| Entry::new(id));
        entry.apply_meta(meta);
        let (roots, depth) = (entry.roots.clone(), entry.root_depth);
        roots.iter().for_each(|r| self.use_root(id, r, depth));
        // Claude Code tells of its conversation (and state) in a pidfile
        // under `<config>/sessions/`: watched, so a change is seen at once.
        if let Some(dir) = self.report_dir(id) {
            self.use_root(id, &dir, 0);
        }
        if new {
            self.log(format!("session {id}: runner found"));
            if let Some(saved) = saved {
                self.restore_input(id, *saved, now);
            }
            let decisions = self.engine.apply(Input::Started { sid: id.into() }, now.ms);
            self.apply(decisions, now);
        }
        self.touch(id);
    }

    /// A previous daemon's input bookkeeping for this session.
    fn restore_input(&mut self, id: &str, saved: Saved, now: Now) {
        let pending = saved.pending.is_some();
        if let Some(entry) = self.store.live.get_mut(id) {
            entry.restore(saved.clone(), now.at);
        }
        self.side(id).saved = Some(saved.clone());
        if pending {
            self.schedule_quiet(id, now.at, now.at + QUIET);
        }
        // What only the daemon had found (the runner replays the preload's
        // and the launch line's file itself); the agent's own source
        // corrects it at the next check if it moved on meanwhile.
        if let (Some(file), Some(source @ (Source::AgentPidfile | Source::Procfd))) =
            (saved.file, saved.source)
        {
            self.report(id, file, source, saved.since, now);
        }
    }

    /// The runner's replay has been read: its hello and file are known,
    /// so its sources may be checked and, failing all, guesses made.
    fn on_ready(&mut self, id: &str, now: Now) {
        let restored = self.sides.get(id).is_some_and(|s| s.saved.is_some());
        let Some(entry) = self.store.live.get_mut(id) else {
            return;
        };
        entry.replayed = true;
        // Lines typed at its terminal while no daemon ran: the runner
        // counted them; what they asked is pending now.
        let count = entry.runner_meta.as_ref().map_or(0, |m| m.submitted);
        let unseen = restored && count > entry.input.submitted_seen;
        entry.input.submitted_seen = count;
        if unseen {
            // When it was typed, not now: a report the agent made after it
            // (a dialog it then opened) answers it.
            let at = entry.runner_meta.as_ref().map_or(0, |m| m.submitted_ms);
            entry.submitted(now.at, Some(at).filter(|&t| t > 0).unwrap_or(now.ms));
        }
        if let Some(at) = entry.input.pending_at.filter(|_| unseen) {
            self.schedule_quiet(id, at, at + QUIET);
        }
        self.touch(id);
        let decisions = self
            .engine
            .apply(Input::Replayed { sid: id.into() }, now.ms);
        self.apply(decisions, now);
        self.check(id, true, now);
    }

    fn on_shim(&mut self, id: &str, shim: &protocol::Shim, now: Now) {
        if let Some(entry) = self.store.live.get_mut(id) {
            entry.shim_runtime = Some(shim.runtime.clone().unwrap_or_else(|| "node".into()));
        }
        let decisions = self.engine.apply(Input::Hello { sid: id.into() }, now.ms);
        self.apply(decisions, now);
        self.touch(id);
    }

    /// An authoritative report of the file session `id` holds, held
    /// since `since` (epoch ms) if the report says, else from now.
    pub(super) fn report(
        &mut self,
        id: &str,
        file: PathBuf,
        source: Source,
        since: Option<i64>,
        now: Now,
    ) {
        // pi's extension names the file pi means to write; the preload
        // sees what it does write. The latest report wins either way, but
        // a write elsewhere than announced is a disagreement worth a line.
        let announced = (self.engine.binding(id))
            .filter(|b| b.source == Source::Extension && source == Source::Shim && b.file != file)
            .map(|b| b.file.clone());
        if let Some(announced) = announced {
            self.log(format!(
                "session {id}: the preload saw {} written, not {} (named by the extension); the latest report wins",
                file.display(),
                announced.display()
            ));
        }
        if let (Some(entry), Source::Hook) = (self.store.live.get_mut(id), source) {
            entry.hooked = true;
        }
        let input = Input::Reported {
            sid: id.into(),
            file,
            source,
        };
        let decisions = self.engine.apply(input, since.unwrap_or(now.ms));
        self.apply(decisions, now);
    }

    pub(super) fn guess(&mut self, id: &str, file: PathBuf, source: Source, now: Now) {
        self.log(format!(
            "session {id}: (FALLBACK) {} guessed {}",
            source.as_str(),
            file.display()
        ));
        let input = Input::Guessed {
            sid: id.into(),
            file,
            source,
        };
        let decisions = self.engine.apply(input, now.ms);
        self.apply(decisions, now);
    }

    /// `amux send`'s keys reached the session: the line they end, if a
    /// slash command, is read from what was sent to it before
    /// (`amux send ID /new` then `--enter` is two sends).
    pub(super) fn sent(&mut self, id: &str, keys: &[u8], now: Now) {
        let Some(entry) = self.store.live.get_mut(id) else {
            return;
        };
        let command = entry.typed.feed(keys).pop().flatten();
        self.input(id, keys.contains(&b'\r'), command, now);
    }

    /// Input reached the session. Input that ends a line (`enter`) awaits
    /// an answer; any input means the user saw the screen.
    pub(super) fn input(&mut self, id: &str, enter: bool, command: Option<String>, now: Now) {
        let Some(entry) = self.store.live.get_mut(id) else {
            return;
        };
        // A command the agent carries out without a word (Codex's `/new`):
        // the conversation it held is history, the new one not written.
        // It takes no turn: nothing more is owed for the line.
        let kind = entry.kind;
        let command = command.filter(|_| enter).and_then(|c| kind.command(&c));
        if let Some(Command::NewConversation) = command {
            let decisions = self
                .engine
                .apply(crate::attribution::Input::Left { sid: id.into() }, now.ms);
            self.apply(decisions, now);
        }
        let Some(entry) = self.store.live.get_mut(id) else {
            return;
        };
        if enter {
            entry.submitted(now.at, now.ms);
        } else {
            entry.mark_read();
        }
        if command.is_some() {
            entry.input.pending = None;
            entry.input.settled = true;
        }
        if let Some(at) = entry.input.pending_at.filter(|_| enter) {
            self.schedule_quiet(id, at, at + QUIET);
        }
        self.touch_holders(id);
    }

    /// The agent's own report of its state (see `state.rs`); the same
    /// report again changes nothing. `replay`: the runner said it before
    /// this daemon followed it.
    pub(super) fn live_report(&mut self, id: &str, report: AgentState, replay: bool, now: Now) {
        let at = Some(report.at_ms).filter(|&t| t > 0).unwrap_or(now.ms);
        // A report replayed to a daemon that came back: lines the agent
        // wrote after it (the approval given meanwhile) contradict it. A
        // report made just now is not judged by the file's time: the agent
        // may write the very call it asks about a moment after asking
        // (Codex's rollout writer lags its OSC 9), and the lines after the
        // report are counted against it instead (`Live::lines_upto`).
        let file = (self.engine.binding(id).map(|b| b.file.clone())).filter(|_| replay);
        let written_ms = file.and_then(|f| self.files.get(&f).and_then(|f| f.written_ms));
        let Some(entry) = self.store.live.get_mut(id) else {
            return;
        };
        entry.hooked |= report.source == protocol::StateSource::Hook;
        // An interrupt the file tells after it ended the turn it speaks of.
        let interrupted = entry.derived.interrupted_ms.is_some_and(|t| t > at);
        if interrupted && report.state != protocol::State::Idle
            || state::contradicted(&report, at, &entry.derived, written_ms.unwrap_or(0))
            || (entry.live.as_ref()).is_some_and(|l| {
                state::stale(l, &report, at)
                    || state::echoes_failure(l, &report, entry.input.submitted_ms)
            })
        {
            return;
        }
        // Idle, said after the last input went in, by a signal that
        // answers it: a shell back at its prompt (its runner looks after
        // every line: `runner/foreground.rs`), Claude's pidfile, pi's
        // extension after a command it took without a turn. The input is
        // taken; nothing more is owed for it.
        let answers = report.answers
            || matches!(
                report.source,
                protocol::StateSource::Process | protocol::StateSource::AgentPidfile
            );
        // So does an error the agent says answers it (the turn it asked
        // for failed for good: pi's retry cancelled, Claude's StopFailure).
        let over = report.state == protocol::State::Idle
            || (report.answers && report.state == protocol::State::Error);
        let taken = answers && over && entry.input.submitted_ms.is_none_or(|s| at >= s);
        if taken && entry.input.submitted_ms.is_some() {
            entry.input.settled = true;
        }
        let answered = taken && entry.input.pending.take().is_some();
        if entry.live.as_ref().is_some_and(|l| l.same(&report)) {
            // Said again, after input that came since: it answers that.
            let again = entry.live.as_mut().filter(|l| at > l.said_ms);
            let said_again = again.is_some();
            if let Some(live) = again {
                live.said_ms = at;
            }
            if said_again || answered {
                self.touch(id);
            }
            return;
        }
        let line = format!(
            "session {id}: {} (source {})",
            protocol::to_json(&report.state),
            report.source.as_str()
        );
        let grace = entry.kind.dialog_grace();
        let enter_ms = entry.input.submitted_ms.unwrap_or(0);
        let answerable = (at + grace.after_signal_ms).max(enter_ms + grace.after_enter_ms);
        let live = Live::new(report, at, &entry.derived, answerable, now.ms);
        // A held `waiting` shows by itself once its question's grace has
        // passed (a picker), an arming one once its dialog takes keys.
        let question = match entry.hooked {
            true => state::HOOKED_QUESTION_GRACE,
            false => state::QUESTION_GRACE,
        };
        let arming = Duration::from_millis((answerable - now.ms).max(0) as u64);
        let wakes = [(live.held, question), (live.arming, arming)];
        let since_ms = live.since_ms;
        entry.live = Some(live);
        self.log(line);
        self.touch(id);
        for (_, after) in wakes.into_iter().filter(|(due, _)| *due) {
            let at = now.at + after;
            let timer = Timer::Question {
                id: id.to_string(),
                since_ms,
            };
            self.out.push(Effect::Schedule { at, timer });
        }
    }
}
