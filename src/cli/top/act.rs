//! `top`'s state and what each message does to it: records into the
//! model and the notification decider, keys into actions on the selected
//! session (through the same client functions as the verbs), and the
//! screen drawn from it all.

use super::keys::{self, Action, Key, Prompted};
use super::model::{self, Model};
use super::render::{self, View};
use super::screen::Screen;
use super::{at, now_ms, Mode};
use crate::cli::client;
use crate::cli::notify::{decide::Decider, out, DEFAULT_GRACE};
use crate::error::Result;
use crate::protocol::EventLine;
use crate::remote::Target;
use std::time::{Duration, Instant};

pub struct Top {
    model: Model,
    view: View,
    mode: Mode,
    pub screen: Screen,
    decider: Decider,
    outputs: out::Outputs,
    origin: Instant,
    /// The hosts followed, in the order they were named.
    targets: Vec<Target>,
}

/// The `host` a target's records carry: none for this machine.
fn host_of(target: &Target) -> Option<String> {
    match target {
        Target::Ssh(h) => Some(h.label.clone()),
        Target::Local => None,
    }
}

impl Top {
    pub fn new(targets: Vec<Target>) -> Result<Top> {
        let screen = Screen::enter().map_err(|e| crate::error::Error::io("terminal", e))?;
        Ok(Top {
            model: Model::default(),
            view: View {
                colour: crate::cli::table::colour(),
                ..View::default()
            },
            mode: Mode::List,
            screen,
            decider: Decider::new((DEFAULT_GRACE * 1000.0) as u64),
            outputs: out::Outputs {
                desktop: out::notify_send(),
                osc: true,
                exec: None,
            },
            origin: Instant::now(),
            targets,
        })
    }

    fn ms(&self) -> u64 {
        self.origin.elapsed().as_millis() as u64
    }

    /// When the loop must wake with nothing received: a notification due,
    /// or, while a row waits, its age to count on.
    pub fn wake(&self) -> Option<Instant> {
        let due = self.decider.next_due().map(|ms| at(self.origin, ms));
        let rows = self.model.rows(now_ms(), &self.view.filter);
        let ageing = rows.iter().any(|r| r.since_ms.is_some());
        let age = ageing.then(|| Instant::now() + Duration::from_secs(1));
        due.into_iter().chain(age).min()
    }

    /// A line from the host at index `host` among the targets.
    pub fn line(&mut self, host: usize, line: EventLine) {
        let now = self.ms();
        let host = self.targets.get(host).and_then(host_of);
        match line {
            EventLine::Session { mut session } => {
                session.host = host;
                // The decider knows sessions by id: it is given the key.
                let mut keyed = (*session).clone();
                keyed.id = model::key(keyed.host.as_deref(), &keyed.id);
                self.decider.record(&keyed, now);
                self.model.upsert(*session);
            }
            EventLine::Remove { id } => {
                let key = model::key(host.as_deref(), &id);
                self.decider.remove(&key);
                self.model.remove(&key, now_ms());
            }
            EventLine::Notification { .. } => {}
        }
    }

    /// The host at index `host` cannot be followed: one line says why.
    pub fn lost(&mut self, host: usize, e: &crate::error::Error) {
        let Some(target) = self.targets.get(host) else {
            return;
        };
        self.model.lose_host(host_of(target).as_deref());
        self.view.down.push(format!("{target}: {e}"));
    }

    /// Raises what is due.
    pub fn tick(&mut self) {
        let due = self.decider.due(self.ms());
        self.outputs.send(&due);
    }

    pub fn redraw(&mut self) {
        let rows = self.model.rows(now_ms(), &self.view.filter);
        self.view.selected = self.view.selected.min(rows.len().saturating_sub(1));
        let (cols, lines) = crate::term::size_of(std::io::stdout())
            .map_or((80, 24), |w| (usize::from(w.ws_col), usize::from(w.ws_row)));
        let lines = render::screen(&rows, &self.view, now_ms(), cols, lines);
        let _ = self.screen.draw(lines);
    }

    /// The selected session's host and id, that host made this thread's
    /// target: what is done to it is done there.
    fn selected(&self) -> Option<(Target, String)> {
        let rows = self.model.rows(now_ms(), &self.view.filter);
        let row = rows.get(self.view.selected)?;
        let target = match &row.host {
            Some(host) => self.targets.iter().find(|t| t.label() == host)?.clone(),
            None => Target::Local,
        };
        client::set_target(target.clone());
        Some((target, row.id.clone()))
    }

    /// A key; `true`: quit.
    pub fn key(&mut self, key: Key) -> bool {
        match std::mem::replace(&mut self.mode, Mode::List) {
            Mode::Typing(what) => self.typing(what, key),
            Mode::ConfirmKill(target, id) => {
                client::set_target(target);
                self.view.message = match key {
                    Key::Char('y') => outcome(super::super::control::kill(&id), "killed"),
                    _ => String::new(),
                };
            }
            Mode::List => return self.list(keys::action(key)),
        }
        false
    }

    fn list(&mut self, action: Action) -> bool {
        self.view.message.clear();
        if action != Action::Help {
            self.view.help = false;
        }
        let id = self.selected();
        match (action, id) {
            (Action::Quit, _) => return true,
            (Action::Help, _) => self.view.help = !self.view.help,
            (Action::Move(by), _) => {
                self.view.selected = self.view.selected.saturating_add_signed(by);
            }
            (Action::Prompt(what), _) => {
                let label = match what {
                    Prompted::Send => "send: ",
                    Prompted::Filter => "/",
                };
                self.view.prompt = Some((label.into(), String::new()));
                self.mode = Mode::Typing(what);
            }
            (_, None) => {}
            (Action::Answer(answer), Some((_, id))) => {
                let done = super::super::answer::answer(&id, answer, false);
                self.view.message = outcome(done, "answered");
            }
            (Action::AskKill, Some((target, id))) => {
                let key = model::key(host_of(&target).as_deref(), &id);
                self.view.message = format!("kill {key}? y/n");
                self.mode = Mode::ConfirmKill(target, id);
            }
            (Action::Forget, Some((target, id))) => {
                let done = super::super::control::post(&id, "forget", b"");
                if done.is_ok() {
                    self.model
                        .forget(&model::key(host_of(&target).as_deref(), &id));
                }
                self.view.message =
                    outcome(done.map(|()| std::process::ExitCode::SUCCESS), "forgotten");
            }
            (Action::Attach, Some((target, id))) => self.run_amux(&target, &["attach", &id]),
            (Action::Resume, Some((target, id))) => {
                self.run_amux(&target, &["resume", "-d", &id]);
            }
            (Action::None, _) => {}
        }
        false
    }

    fn typing(&mut self, what: Prompted, key: Key) {
        let Some((label, mut text)) = self.view.prompt.take() else {
            return;
        };
        match key {
            Key::Esc | Key::Interrupt => {
                if what == Prompted::Filter {
                    self.view.filter.clear();
                }
                return;
            }
            Key::Enter => {
                match (what, self.selected()) {
                    (Prompted::Filter, _) => self.view.filter = text,
                    (Prompted::Send, Some((_, id))) => {
                        let done = super::super::control::send(&id, Some(text), true);
                        self.view.message = outcome(done, "sent");
                    }
                    (Prompted::Send, None) => {}
                }
                return;
            }
            Key::Backspace => _ = text.pop(),
            Key::Char(c) => text.push(c),
            _ => {}
        }
        if what == Prompted::Filter {
            self.view.filter.clone_from(&text);
        }
        self.view.prompt = Some((label, text));
        self.mode = Mode::Typing(what);
    }

    /// `amux -H HOST ARGS…` with the terminal handed over. The host is
    /// always named (`local` too): an `AMUX_HOST` naming several must not
    /// send it looking elsewhere.
    fn run_amux(&mut self, target: &Target, args: &[&str]) {
        let mut cmd = match std::env::current_exe() {
            Ok(exe) => std::process::Command::new(exe),
            Err(e) => return self.view.message = format!("amux: {e}"),
        };
        cmd.args(["-H", target.label()]).args(args);
        let status = self.screen.suspend(|| cmd.status());
        self.view.message = match status {
            Ok(Ok(s)) if s.success() => String::new(),
            Ok(Ok(s)) => format!("amux {} exited {s}", args[0]),
            Ok(Err(e)) | Err(e) => format!("amux {}: {e}", args[0]),
        };
    }
}

/// The line an action leaves at the bottom.
fn outcome(result: Result<std::process::ExitCode>, done: &str) -> String {
    match result {
        Ok(_) => done.into(),
        Err(e) => e.to_string(),
    }
}
