//! The oracle's agents that tell their moments (Codex's hooks and OSC
//! 7501, Claude's hooks): each state is the agent's kept word, replayed
//! by its runner to a daemon that comes back. Their operations: a prompt
//! (the hook says working), a dialog (waiting, with its command), its
//! approval or denial (the escape says working, or idle), the reply (the
//! hook says idle), a command that starts no turn (the escape says idle
//! at once, answering it: Codex's `/new`, a picker closed), and any of
//! these while the daemon is down.

use super::{Sess, World, EPOCH_MS};
use crate::protocol::{self, AgentState, Ask, RunnerEvent, State, StateSource, Waiting};

impl World {
    /// The agent of session `i` says `state` (kept by its runner).
    fn say(&mut self, i: usize, state: State, source: StateSource, answers: bool) {
        let waiting = (state == State::Waiting).then(|| Waiting {
            kind: Ask::Permission,
            tool: Some("Bash".into()),
            text: Some("touch x".into()),
            since: String::new(),
        });
        let said = AgentState {
            state,
            waiting,
            source,
            at_ms: EPOCH_MS + self.t,
            answers,
            ..AgentState::default()
        };
        self.sessions[i].said = Some(said.clone());
        let id = self.sessions[i].id.clone();
        self.runner(&id, RunnerEvent::State(said));
    }

    /// A key that answers a dialog (no Enter): the user saw the screen.
    fn key(&mut self, i: usize, turns: u64) {
        self.sessions[i].read_upto = turns;
        let id = self.sessions[i].id.clone();
        self.runner(&id, RunnerEvent::Input(protocol::Input::default()));
    }

    pub(super) fn on_telling(&mut self, name: &str, i: usize) {
        if self.sessions[i].file.is_none() && name == "prompt" && !self.down {
            // After `/new`: its next prompt writes the new conversation.
            let path = self.new_file();
            self.switch(i, path);
            self.sessions[i].let_go = None;
        }
        let Some(file) = self.sessions[i].file.clone() else {
            return;
        };
        let (working, turns) = (self.files[&file].working, self.files[&file].turns);
        let asking = self.sessions[i].asking;
        match name {
            "prompt" if !working && !asking => {
                self.submit(i, turns);
                self.t += 20;
                self.say(i, State::Working, StateSource::Hook, false);
                self.write(i, |f| {
                    f.working = true;
                    f.unread = false;
                });
            }
            "reply" if working && !asking => {
                let title = format!("t{}", self.made);
                self.write(i, |f| {
                    f.working = false;
                    f.unread = true;
                    f.turns += 1;
                    f.title.get_or_insert(title);
                });
                self.t += 5;
                self.say(i, State::Idle, StateSource::Hook, true);
            }
            "ask" if working && !asking => {
                self.sessions[i].asking = true;
                self.say(i, State::Waiting, StateSource::Hook, false);
            }
            "approve" if asking => {
                self.sessions[i].asking = false;
                self.key(i, turns);
                self.say(i, State::Working, StateSource::Osc7501, false);
            }
            // The turn ends with the denial: nothing more is owed.
            "deny" if asking => {
                self.sessions[i].asking = false;
                self.sessions[i].settled = true;
                self.key(i, turns);
                self.say(i, State::Idle, StateSource::Osc7501, true);
                self.write(i, |f| f.working = false);
            }
            "command_none" if !working && !asking => {
                self.submit(i, turns);
                self.t += 5;
                self.sessions[i].settled = true;
                self.say(i, State::Idle, StateSource::Osc7501, true);
            }
            // Codex's `/new`: nothing but its state escape says a word;
            // the line's keys tell the command. It lets go of its file.
            "codex_new" if !working && !asking && !self.down => {
                self.submit_line(i, turns, Some("/new"));
                self.t += 5;
                let s = &mut self.sessions[i];
                s.settled = true;
                s.let_go = s.file.take();
                s.read_upto = 0;
                s.history_before = s.submitted_ms;
                self.say(i, State::Idle, StateSource::Osc7501, true);
            }
            "command_new" if !working && !asking => {
                self.submit(i, turns);
                self.t += 5;
                let path = self.new_file();
                self.switch(i, path);
                self.sessions[i].settled = true;
                self.say(i, State::Idle, StateSource::Hook, true);
            }
            // It switches conversation between turns only (it says so as
            // it does: `command_new`).
            "switch_new" | "switch_old" if !working && !asking => self.on_session(name, i),
            "read" if !asking => self.on_session(name, i),
            "exit" | "kill" => {
                self.sessions[i].asking = false;
                self.on_session(name, i)
            }
            _ => {}
        }
    }

    /// The daemon is down while a telling agent does something, then
    /// comes back: it learns only what the runner replays and the file.
    pub(super) fn while_down(&mut self) {
        let telling: Vec<usize> = (0..self.sessions.len())
            .filter(|&i| self.sessions[i].alive && self.sessions[i].tells)
            .collect();
        if telling.is_empty() {
            return;
        }
        let i = telling[self.roll(telling.len() as u64) as usize];
        const WHILE_DOWN: [&str; 6] = ["prompt", "ask", "approve", "deny", "reply", "command_none"];
        let name = WHILE_DOWN[self.roll(WHILE_DOWN.len() as u64) as usize];
        self.down = true;
        self.on_telling(name, i);
        self.t += 50;
        self.restart();
    }
}

/// What a telling agent's state is by its own word (its last report
/// stands until its next, whatever file it holds): asking, at work, or
/// idle — with its reply unread if the file has one not seen.
pub(super) fn state(s: &Sess, unread: bool) -> Option<&'static str> {
    let said = s.said.as_ref().filter(|_| s.tells)?.state;
    Some(if s.asking {
        "waiting"
    } else if said == State::Working {
        "working"
    } else if unread {
        "unread"
    } else {
        "idle"
    })
}

/// A session's model, checked: whether `s` owes nothing now — a turn
/// ended, or a command was taken, or its agent's last word is that it is
/// idle; and nothing runs or asks.
pub(super) fn done(s: &Sess, turns: u64, working: bool, history: bool) -> bool {
    let said = s.said.as_ref().filter(|_| s.tells).map(|a| a.state);
    let at_work = working && !history || said == Some(State::Working);
    !s.asking && (turns > 0 || s.settled || said == Some(State::Idle)) && !at_work
}
