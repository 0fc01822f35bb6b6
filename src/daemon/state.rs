//! A session's state (amux(1), STATE): working, idle, waiting or error,
//! and where that came from.
//!
//! Two kinds of evidence. The conversation file, through the adapter's
//! fold (`Derived`), plus input sent since (pending input is working).
//! And the agent's own live report ([`Live`]): Claude Code's pidfile
//! `status`, an OSC 9 "Approval requested" from Codex, pi's extension.
//! A live report beats the file until the file contradicts it: a report
//! the agent keeps current by itself (Claude's pidfile, rewritten on every
//! change) holds until the next report; a one-off (an OSC 9, an
//! extension's `agent_end`) holds until the next line of the file — past
//! the tool call a question is about, which the agent writes just before
//! asking and which may reach us just after the question. Input
//! submitted after a report is newer than it: the agent owes an answer.
//! Claude says `waiting` in its pidfile before it writes the tool call it
//! asks about (measured: the transcript line lands ~15 ms later): such a
//! report is held back — shown as the `working` it follows — until the
//! file names an unanswered call or [`QUESTION_GRACE`] passes, so a
//! `waiting` record (and `wait --until waiting`) carries its question.
//! A shell's state is its process: running, or failed by its exit status.
//! What the file says cannot be known when a line of it was too long to
//! read or the file cannot be read (`Entry::unknown`): the state is then
//! `error`, labelled `unreadable: …` — not the state before it, which
//! could be a `working` that never ends — unless the agent's own live
//! report says what it is doing.

use super::store::{Entry, Held};
use crate::adapters::Derived;
use crate::protocol::{AgentState, State, StateSource, Status, Waiting};
use std::time::{Duration, UNIX_EPOCH};

/// The agent's last live report, as the daemon keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct Live {
    pub report: AgentState,
    /// When the report said so (epoch ms).
    pub since_ms: i64,
    /// When the agent last said so again (a pidfile rewritten with the
    /// same status, as Claude does after `/clear`): input submitted before
    /// that is answered by it.
    pub said_ms: i64,
    /// The agent keeps this report current itself (a pidfile): file lines
    /// do not end it, only the next report does.
    pub kept: bool,
    /// Lines of the file it may still be followed by (the file's lines
    /// then, plus the tool call asked about if it was not read yet).
    pub lines_upto: u64,
    /// A kept `waiting` whose question the file does not hold yet: shown
    /// as working until it does or `QUESTION_GRACE` passes.
    pub held: bool,
    /// A `waiting` whose dialog does not take keys yet (the agent's
    /// `Grace`): shown as working until `answerable_ms`.
    pub arming: bool,
    pub answerable_ms: i64,
    /// The file's interrupts when it was said: a later one ends it, kept
    /// or not (`Derived::interrupts`).
    pub interrupts: u64,
}

/// How long a pidfile `waiting` waits for the file to name its tool call
/// before it shows without one (a dialog no call explains). Below the
/// 500 ms a pidfile `waiting` may take to reach the record (`real_claude`).
pub const QUESTION_GRACE: Duration = Duration::from_millis(400);

/// The same for an agent whose hooks speak (Claude with amux's hooks): its
/// `PermissionRequest` hook runs before the dialog (and its pidfile's
/// `waiting`), so a `waiting` no hook explained by then is a picker.
pub const HOOKED_QUESTION_GRACE: Duration = Duration::from_millis(150);

impl Live {
    /// `answerable_ms`: when its dialog takes keys (epoch ms).
    pub fn new(
        report: AgentState,
        at_ms: i64,
        file: &Derived,
        answerable_ms: i64,
        now_ms: i64,
    ) -> Live {
        let kept = kept(report.source);
        let asked = report.waiting.as_ref().and_then(|w| w.text.as_deref());
        let call_read = file.tool_call.as_ref().and_then(|c| c.text.as_deref());
        // Codex's notification shows the command, its call may wrap it
        // (`bash -lc 'touch x'`): read already when it holds the command.
        let late_call = asked.is_some_and(|a| call_read.is_none_or(|c| !c.contains(a)));
        let held = report.source == StateSource::AgentPidfile
            && report.state == State::Waiting
            && asked.is_none()
            && file.pending_call().is_none();
        let arming = report.state == State::Waiting && answerable_ms > now_ms;
        Live {
            report,
            arming,
            answerable_ms,
            since_ms: at_ms,
            said_ms: at_ms,
            kept,
            lines_upto: file.lines + u64::from(late_call),
            held,
            interrupts: file.interrupts,
        }
    }

    /// A report that says the same as this one changes nothing (its
    /// `since` stays the first moment it was said). Another of the
    /// agent's kept signals saying the state one said, with less in it
    /// (Claude's pidfile after its hook, Codex's OSC 7501 after its hook:
    /// no tool, no command), is the same.
    pub fn same(&self, report: &AgentState) -> bool {
        let plain = |r: &AgentState| {
            (r.waiting.as_ref()).is_none_or(|w| w.tool.is_none() && w.text.is_none())
        };
        let echo = self.kept
            && kept(report.source)
            && self.report.state == report.state
            && plain(report)
            && !plain(&self.report);
        echo || self.report.state == report.state
            && self.report.source == report.source
            && self.report.waiting.as_ref().map(|w| (&w.tool, &w.text))
                == report.waiting.as_ref().map(|w| (&w.tool, &w.text))
            && (&self.report.label, &self.report.title) == (&report.label, &report.title)
    }
}

/// Whether reports from `source` stand until the agent's next report
/// (Claude's pidfile, rewritten on every change; a hook, said at each
/// moment; a window title, set at each change), rather than until the
/// file says more.
pub fn kept(source: StateSource) -> bool {
    matches!(
        source,
        StateSource::AgentPidfile
            | StateSource::Hook
            | StateSource::Osc7501
            | StateSource::WindowTitle
    )
}

/// Whether `report`, made at `at_ms`, is older than the kept report
/// `live` from another of the agent's signals (Claude's hook heard just
/// after the pidfile it beat): the agent's newer word stands.
pub fn stale(live: &Live, report: &AgentState, at_ms: i64) -> bool {
    live.kept && live.report.source != report.source && at_ms < live.since_ms
}

/// Whether `report` is the agent's other signal closing a turn that
/// `live` said failed, with less in it: Claude's pidfile turns `idle` a
/// few ms after its `StopFailure` hook (the pidfile has no error). The
/// error stands until the next input (`submitted_ms` after it), as the
/// file's failed turn does.
pub fn echoes_failure(live: &Live, report: &AgentState, submitted_ms: Option<i64>) -> bool {
    live.kept
        && live.report.state == State::Error
        && report.state == State::Idle
        && !report.answers
        && kept(report.source)
        && report.source != live.report.source
        && submitted_ms.is_none_or(|s| s < live.since_ms)
}

/// A file written after a replayed one-off report (to a daemon that came
/// back) says more than it: the agent writes the line a question is about
/// before it asks, so any later write is the answer's.
const AFTER_MS: i64 = 0;

/// Whether the file `file`, last written at `written_ms`, says more than
/// a one-off report made at `at_ms`: written after it, and not still
/// waiting on the very call the report asks about (the agent may write
/// that call, and bookkeeping after it, a moment after asking).
pub fn contradicted(report: &AgentState, at_ms: i64, file: &Derived, written_ms: i64) -> bool {
    let asked = report.waiting.as_ref().and_then(|w| w.text.as_deref());
    let pending = file.pending_call().and_then(|c| c.text.as_deref());
    let still_asked = asked.is_some_and(|a| pending.is_some_and(|c| c.contains(a)));
    !kept(report.source) && written_ms - at_ms > AFTER_MS && !still_asked
}

impl Entry {
    /// The conversation file grew (`derived` is read): a one-off report
    /// its new lines contradict ends.
    pub fn file_grew(&mut self) {
        let lines = self.derived.lines;
        let pending = self.derived.pending_call().is_some();
        let interrupts = self.derived.interrupts;
        if self
            .live
            .as_ref()
            .is_some_and(|l| (!l.kept && lines > l.lines_upto) || interrupts > l.interrupts)
        {
            self.live = None;
        }
        if let Some(live) = self.live.as_mut().filter(|_| pending) {
            live.held = false;
        }
    }

    /// The question's grace after the held report made at `since_ms`
    /// passed, or its dialog takes keys now (`now_ms`). Still held after
    /// its grace, nothing asks a question: a picker of the agent's own,
    /// which the user opened and which takes keys at once. Whether what
    /// shows changed.
    pub fn question_overdue(&mut self, since_ms: i64, now_ms: i64) -> bool {
        let live = self.live.as_mut().filter(|l| l.since_ms == since_ms);
        live.is_some_and(|l| {
            let was = l.held || l.arming;
            if l.held {
                (l.held, l.arming) = (false, false);
            } else if now_ms >= l.answerable_ms {
                l.arming = false;
            }
            was && !(l.held || l.arming)
        })
    }
}

/// The record's `status` of `entry` now.
pub fn status(entry: &Entry, held: Held) -> Status {
    let d = &entry.derived;
    if entry.kind.state_from_exit() {
        let failed = entry.exit_code.is_some_and(|c| c != 0);
        // Alive, a shell works while a line typed is not taken yet or a
        // command runs in it (its runner's look at the terminal's
        // foreground group, `runner/foreground.rs`).
        let busy = entry.alive
            && (entry.input.pending.is_some()
                || (entry.live.as_ref()).is_some_and(|l| l.report.state == State::Working));
        let state = if failed {
            State::Error
        } else if busy {
            State::Working
        } else {
            State::Idle
        };
        return finish(
            state,
            None,
            StateSource::Process,
            d.error || failed,
            d.label.clone(),
        );
    }
    // What the file leaves cannot be read: not known, said as an error of
    // amux's reading (`unreadable: …`), never the state before it.
    let unknown = entry.unknown();
    let file_state = if d.error || unknown.is_some() {
        State::Error
    } else if entry.working(held) {
        State::Working
    } else {
        State::Idle
    };
    let file_label = unknown.map(|u| u.short()).or_else(|| d.label.clone());
    let live = entry.live.as_ref().filter(|_| entry.alive);
    let answered = |l: &Live| {
        (entry.input.pending.is_some())
            .then_some(entry.input.submitted_ms)
            .flatten()
            .is_some_and(|at| at > l.said_ms)
    };
    // A turn the file says failed (pi after its retries) stays an error
    // until the next input: the agent's word that the turn is over (pi's
    // `agent_end`) does not make it idle.
    // Nor does it while the file says the agent will try again (pi's
    // retry back-off): the attempt ended, the turn did not. Its idle that
    // answers an input since (pi's `/name` taken) does: that input's
    // answer is the news.
    let failed = (d.error || d.retrying)
        && live.is_some_and(|l| l.report.state == State::Idle && !l.report.answers);
    let Some(live) = live.filter(|l| !answered(l) && !failed) else {
        let error = file_state == State::Error;
        return finish(file_state, None, StateSource::File, error, file_label);
    };
    if live.held || live.arming {
        return finish(
            State::Working,
            None,
            live.report.source,
            false,
            d.label.clone(),
        );
    }
    let waiting = (live.report.state == State::Waiting).then(|| waiting(entry, live));
    // The agent's own words for what it does (pi's `!cmd`, a retry it
    // gave up) beat the file's.
    let label = match &waiting {
        Some(w) => Some(waiting_label(w)),
        None if live.report.label.is_some() => live.report.label.clone(),
        None if live.report.state == State::Working => d.label.clone(),
        None => None,
    };
    let error = live.report.state == State::Error;
    finish(live.report.state, waiting, live.report.source, error, label)
}

fn finish(
    state: State,
    waiting: Option<Waiting>,
    source: StateSource,
    error: bool,
    label: Option<String>,
) -> Status {
    Status {
        state,
        waiting,
        source: source.as_str().to_string(),
        working: state == State::Working,
        error,
        label,
    }
}

/// What is asked: the report's own words, else the file's last tool call.
fn waiting(entry: &Entry, live: &Live) -> Waiting {
    let mut w = live.report.waiting.clone().unwrap_or_default();
    if let Some(call) = entry.derived.pending_call() {
        if call.question {
            w.kind = crate::protocol::Ask::Question;
        }
        w.tool.get_or_insert_with(|| call.name.clone());
        if w.text.is_none() {
            w.text = call.text.clone();
        }
    } else if w.tool.is_none() && w.text.is_none() && live.report.source != StateSource::WindowTitle
    {
        // Waiting, and no call or question anywhere: a picker or menu of
        // the agent's own (its question grace has passed). Not so when its
        // title says it: Gemini's says a dialog asks (its pickers leave it
        // `Ready`), and it writes the call only once answered.
        w.kind = crate::protocol::Ask::Menu;
    }
    let since = UNIX_EPOCH + Duration::from_millis(live.since_ms.max(0) as u64);
    w.since = crate::timefmt::format(since);
    w
}

/// `waiting: Bash: touch x` for the human columns.
fn waiting_label(w: &Waiting) -> String {
    let what = [w.tool.as_deref(), w.text.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(": ");
    if w.kind == crate::protocol::Ask::Menu {
        "waiting: menu".to_string()
    } else if what.is_empty() {
        "waiting".to_string()
    } else {
        format!("waiting: {what}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(state: State, source: StateSource, answers: bool) -> AgentState {
        AgentState {
            state,
            source,
            answers,
            ..AgentState::default()
        }
    }

    #[test]
    fn a_pidfile_idle_after_a_failed_turn_is_its_echo() {
        let (hook, pidfile) = (StateSource::Hook, StateSource::AgentPidfile);
        let failed = Live::new(
            report(State::Error, hook, true),
            100,
            &Derived::default(),
            0,
            100,
        );
        let idle = report(State::Idle, pidfile, false);
        // (the report, input submitted at, an echo)
        let cases = [
            (idle.clone(), None, true),
            (idle.clone(), Some(90), true),
            // Input since the error: its idle answers that.
            (idle.clone(), Some(110), false),
            (report(State::Working, pidfile, false), None, false),
            (report(State::Idle, hook, true), None, false),
            (report(State::Idle, pidfile, true), None, false),
        ];
        for (r, submitted, echo) in cases {
            assert_eq!(
                echoes_failure(&failed, &r, submitted),
                echo,
                "{r:?} {submitted:?}"
            );
        }
        let working = Live::new(
            report(State::Working, hook, false),
            100,
            &Derived::default(),
            0,
            100,
        );
        assert!(!echoes_failure(&working, &idle, None));
    }
}
