//! A shell's state: working while a command runs in it, idle at its
//! prompt — told by the terminal's foreground process group. Any other
//! command amux does not know as an agent (`sleep`, `make`, `sh -c …`, a
//! script) has no prompt to go back to: it is working until it exits.
//!
//! A plain shell says nothing of itself, but the kernel does: the shell
//! hands the terminal to each job it runs (`tcsetpgrp`), and takes it back
//! at its prompt. So while the PTY's foreground group is not the shell's
//! own (the agent leads its group: `setsid` at spawn), a command runs.
//! Looked at when something happens, never on a clock: after a line is
//! typed (30 ms later — the shell forks after reading it — and once more
//! a second later for a slow start) and after every output chunk (a
//! finished command's prompt is output). Each look after a line is
//! published even when unchanged, so the daemon knows the line was taken
//! (an idle shell after a `cd` answers it); otherwise only changes are.

use super::Runner;
use crate::protocol::{AgentState, State, StateSource};
use std::rc::Rc;
use std::time::Duration;

/// When a shell is looked at after a line goes in.
const AFTER_INPUT: [Duration; 2] = [Duration::from_millis(30), Duration::from_secs(1)];

/// Whether this session's state comes from its process (a shell).
fn watched(runner: &Runner) -> bool {
    runner.session.borrow().kind.state_from_exit() && runner.alive()
}

/// Looks at the foreground group; `answer`: publish even if unchanged.
pub fn look(runner: &Runner, answer: bool) {
    if !watched(runner) {
        return;
    }
    let pid = runner.session.borrow().pid;
    let busy = !runner.prompts
        || match rustix::termios::tcgetpgrp(runner.controller.get_ref()) {
            Ok(group) => group.as_raw_nonzero().get() as u32 != pid,
            Err(_) => return,
        };
    let changed = runner.fg_busy.replace(Some(busy)) != Some(busy);
    if changed || answer {
        runner.report_state(AgentState {
            state: if busy { State::Working } else { State::Idle },
            waiting: None,
            source: StateSource::Process,
            at_ms: 0,
            answers: false,
            ..AgentState::default()
        });
    }
}

/// A line was typed: look once the shell had time to start it.
pub fn after_input(runner: &Rc<Runner>) {
    if !watched(runner) {
        return;
    }
    for (i, wait) in AFTER_INPUT.into_iter().enumerate() {
        let runner = runner.clone();
        runner
            .ex
            .clone()
            .spawn(async move {
                async_io::Timer::after(wait).await;
                look(&runner, i == 0);
            })
            .detach();
    }
}
