//! The churn oracle in process: a seeded random walk of sessions driven
//! straight into `Core` with virtual time, each record checked against a
//! model of the truth after every operation — 100,000 operations in
//! seconds, beside the black-box soak (`tests/oracle/`) that drives the
//! real binary and real processes.
//!
//! The fake shell here carries out the core's effects the way the real
//! one does (a `Follow` comes back at once as its first `Read`, `Then`
//! runs in order, timers wait in a queue of virtual deadlines, saves
//! succeed) over conversation files modelled as a few numbers. Operations:
//! start a pi-like session (or one whose agent tells its moments with
//! hooks and state escapes, `said.rs`: dialogs asked, approved, denied,
//! commands with no turn, any of them while the daemon is down), a
//! prompt (Enter, the turn starts), a reply (the turn ends), reading
//! (typing without Enter), a switch to a new file or back to an old one, an exit, a SIGKILL, and a daemon restart
//! (a new core from the saved records and input states, the runners'
//! replays). After each, virtual time runs 5 s (every due timer fires)
//! and every session's record must be the model's — and what was last
//! published for it, the record itself.

use super::{Core, Effect, Event, Found, Now, Published, Read, Timer};
use crate::adapters::Derived;
use crate::daemon::live::Saved;
use crate::protocol::{self, FileSource, Meta, Record, RunnerEvent, SessionFile};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant};

mod said;

/// A conversation file, as the fake agent wrote it.
#[derive(Clone, Default)]
struct File {
    title: Option<String>,
    working: bool,
    unread: bool,
    turns: u64,
    lines: u64,
    written_ms: i64,
}

/// A session, as the model knows it.
struct Sess {
    id: String,
    alive: bool,
    exit: Option<i64>,
    file: Option<PathBuf>,
    read_upto: u64,
    submitted_ms: Option<i64>,
    history_before: Option<i64>,
    submitted: u64,
    /// The title it died with: a dead record keeps it.
    last_title: Option<String>,
    /// When its runner learned its file (epoch ms).
    since: i64,
    /// The agent said a command it took was done, and no line came since.
    settled: bool,
    /// An agent that tells its moments (hooks, state escapes: `said.rs`)
    /// rather than pi's extension.
    tells: bool,
    /// Its last word, kept by its runner for a daemon's replay.
    said: Option<protocol::AgentState>,
    /// What it asks now (the truth: a dialog open).
    asking: bool,
    /// The conversation it let go of (`/new`) and holds no other since:
    /// the record's last file.
    let_go: Option<PathBuf>,
}

struct World {
    core: Core,
    base: Instant,
    t: i64,
    rng: u64,
    timers: Vec<(Instant, Timer)>,
    files: BTreeMap<PathBuf, File>,
    followed: Vec<PathBuf>,
    published: HashMap<String, String>,
    disk: BTreeMap<String, Record>,
    inputs: HashMap<String, Saved>,
    sessions: Vec<Sess>,
    made: u64,
    /// The daemon is down: nothing reaches the core until `restart`.
    down: bool,
}

const EPOCH_MS: i64 = 1_800_000_000_000;

impl World {
    fn new(seed: u64) -> World {
        World {
            core: Core::new(HashMap::new(), BTreeMap::new(), "/state".into()),
            base: Instant::now(),
            t: 0,
            rng: seed | 1,
            timers: Vec::new(),
            files: BTreeMap::new(),
            followed: Vec::new(),
            published: HashMap::new(),
            disk: BTreeMap::new(),
            inputs: HashMap::new(),
            sessions: Vec::new(),
            made: 0,
            down: false,
        }
    }

    fn now(&self) -> Now {
        Now {
            at: self.base + Duration::from_millis(self.t as u64),
            ms: EPOCH_MS + self.t,
        }
    }

    fn roll(&mut self, n: u64) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng % n
    }

    fn dispatch(&mut self, event: Event) {
        if self.down {
            return;
        }
        let effects = self.core.handle(event, self.now());
        effects.into_iter().for_each(|e| self.execute(e));
    }

    fn read_of(&self, path: &PathBuf, first: bool) -> Event {
        let f = self.files.get(path).cloned().unwrap_or_default();
        let derived = Derived {
            title: f.title,
            working: f.working,
            unread: f.unread,
            turns_ended: f.turns,
            lines: f.lines,
            ..Derived::default()
        };
        Event::Read(Box::new(Read {
            path: path.clone(),
            derived,
            lines: f.lines,
            grew: true,
            written_ms: self.files.get(path).map(|f| f.written_ms),
            linked: false,
            first,
        }))
    }

    fn execute(&mut self, effect: Effect) {
        match effect {
            Effect::Publish(Published::Session(json)) => {
                let record: Record = serde_json::from_str(&json).expect("a record");
                self.published.insert(record.id.clone(), json);
            }
            Effect::Remove { id, record: true } => {
                self.disk.remove(&id);
            }
            Effect::Publish(_) | Effect::Log(_) | Effect::Watch(_) | Effect::Remove { .. } => {}
            Effect::Follow { path, .. } => {
                self.followed.push(path.clone());
                let read = self.read_of(&path, true);
                self.dispatch(read);
            }
            Effect::Unfollow(path) => self.followed.retain(|f| *f != path),
            Effect::ReadMore(path) if self.followed.contains(&path) => {
                let read = self.read_of(&path, false);
                self.dispatch(read);
            }
            Effect::ReadMore(_) => {}
            Effect::SaveInput { id, saved } => {
                self.inputs.insert(id, *saved);
            }
            Effect::SaveDead(record) => {
                let id = record.id.clone();
                self.inputs.remove(&id);
                self.disk.insert(id, (*record).clone());
                self.dispatch(Event::Saved {
                    record,
                    error: None,
                });
            }
            Effect::Schedule { at, timer } => self.timers.push((at, timer)),
            Effect::Look { id, .. } => {
                let found = Found::Report(Box::default());
                self.dispatch(Event::Found { id, found });
            }
            Effect::ReadCandidates { id, .. } => {
                let found = Found::Candidates(Vec::new());
                self.dispatch(Event::Found { id, found });
            }
            Effect::Scrollback { id, .. } => {
                let found = Found::Screen(None);
                self.dispatch(Event::Found { id, found });
            }
            Effect::Then(event) => self.dispatch(*event),
        }
    }

    /// Virtual time runs `ms`; every timer due fires, in order.
    fn run(&mut self, ms: i64) {
        let end = self.t + ms;
        loop {
            let end_at = self.base + Duration::from_millis(end as u64);
            let next = (self.timers.iter().enumerate())
                .filter(|(_, (at, _))| *at <= end_at)
                .min_by_key(|(_, (at, _))| *at)
                .map(|(i, _)| i);
            let Some(i) = next else { break };
            let (at, timer) = self.timers.swap_remove(i);
            self.t = self.t.max(at.duration_since(self.base).as_millis() as i64);
            self.dispatch(Event::Timer(timer));
        }
        self.t = end;
    }

    fn runner(&mut self, id: &str, event: RunnerEvent) {
        let (id, event) = (id.to_string(), Box::new(event));
        self.dispatch(Event::Runner {
            id,
            event,
            replay: false,
        });
    }

    fn meta(&self, s: &Sess) -> Meta {
        Meta {
            id: s.id.clone(),
            kind: Some(if s.tells { "codex" } else { "pi" }.into()),
            command: vec!["pi".into()],
            cwd: "/w".into(),
            alive: true,
            started_at: crate::timefmt::format_ms(EPOCH_MS),
            submitted: s.submitted,
            ..Meta::default()
        }
    }

    /// A runner's subscription: its replay, then `ready`.
    fn replay(&mut self, i: usize, saved: Option<Saved>) {
        let meta = Box::new(self.meta(&self.sessions[i]));
        let id = self.sessions[i].id.clone();
        let saved = saved.map(Box::new);
        self.dispatch(Event::Meta {
            id: id.clone(),
            meta,
            saved,
        });
        let hello = RunnerEvent::Shim(protocol::Shim::default());
        let mut events = vec![hello];
        if let Some(path) = self.sessions[i].file.clone() {
            let (source, at_ms) = (FileSource::Shim, self.sessions[i].since);
            let file = SessionFile {
                path,
                source,
                at_ms,
            };
            events.push(RunnerEvent::SessionFile(file));
        }
        if let Some(said) = self.sessions[i].said.clone() {
            events.push(RunnerEvent::State(said));
        }
        events.push(RunnerEvent::Ready);
        for event in events {
            let (id, event) = (id.clone(), Box::new(event));
            self.dispatch(Event::Runner {
                id,
                event,
                replay: true,
            });
        }
    }
}

/// Operations, by weight.
const OPS: &[(&str, u64)] = &[
    ("start", 3),
    ("prompt", 8),
    ("reply", 8),
    ("read", 3),
    ("switch_new", 2),
    ("command_new", 2),
    ("switch_old", 2),
    ("exit", 2),
    ("kill", 1),
    ("restart", 1),
    ("ask", 4),
    ("approve", 3),
    ("deny", 2),
    ("command_none", 2),
    ("codex_new", 1),
    ("down", 1),
];

impl World {
    fn live(&mut self) -> Option<usize> {
        let live: Vec<usize> = (0..self.sessions.len())
            .filter(|&i| self.sessions[i].alive)
            .collect();
        (!live.is_empty()).then(|| live[self.roll(live.len() as u64) as usize])
    }

    fn new_file(&mut self) -> PathBuf {
        self.made += 1;
        let path = PathBuf::from(format!("/s/{}.jsonl", self.made));
        let file = File {
            lines: 1,
            written_ms: EPOCH_MS + self.t,
            ..File::default()
        };
        self.files.insert(path.clone(), file);
        path
    }

    /// The fake agent writes a line of session `i`'s file.
    fn write(&mut self, i: usize, change: impl FnOnce(&mut File)) {
        let Some(path) = self.sessions[i].file.clone() else {
            return;
        };
        let t = EPOCH_MS + self.t;
        let f = self.files.get_mut(&path).expect("a file");
        change(f);
        f.lines += 1;
        f.written_ms = t;
        self.dispatch(Event::Changed(path));
    }

    fn switch(&mut self, i: usize, path: PathBuf) {
        let s = &mut self.sessions[i];
        if s.file.is_some() {
            s.read_upto = 0;
            s.history_before = s.submitted_ms;
        }
        s.file = Some(path.clone());
        s.since = EPOCH_MS + self.t;
        let (id, at_ms) = (s.id.clone(), s.since);
        let source = FileSource::Shim;
        let file = SessionFile {
            path,
            source,
            at_ms,
        };
        self.runner(&id, RunnerEvent::SessionFile(file));
    }

    fn op(&mut self, name: &str) {
        // The model keeps the last dead sessions only (the core keeps a
        // thousand): checking every one after every operation would make
        // the walk quadratic.
        let dead = self.sessions.iter().filter(|s| !s.alive).count();
        if dead > 64 {
            let oldest = self.sessions.iter().position(|s| !s.alive);
            oldest.map(|i| self.sessions.remove(i));
        }
        match name {
            "start" if self.sessions.iter().filter(|s| s.alive).count() < 12 => {
                self.made += 1;
                let id = format!("s{:08}", self.made);
                self.sessions.push(Sess {
                    id,
                    alive: true,
                    exit: None,
                    file: None,
                    read_upto: 0,
                    submitted_ms: None,
                    history_before: None,
                    submitted: 0,
                    last_title: None,
                    since: 0,
                    settled: false,
                    tells: self.made % 2 == 0,
                    said: None,
                    asking: false,
                    let_go: None,
                });
                self.replay(self.sessions.len() - 1, None);
                let path = self.new_file();
                self.switch(self.sessions.len() - 1, path);
            }
            "prompt" | "reply" | "read" | "switch_new" | "switch_old" | "exit" | "kill"
            | "command_new" => {
                let Some(i) = self.live() else { return };
                if self.sessions[i].tells {
                    self.on_telling(name, i);
                } else {
                    self.on_session(name, i);
                }
            }
            "ask" | "approve" | "deny" | "command_none" | "codex_new" => {
                let Some(i) = self.live() else { return };
                if self.sessions[i].tells {
                    self.on_telling(name, i);
                }
            }
            "down" => self.while_down(),
            "restart" => self.restart(),
            _ => {}
        }
    }

    /// A line typed into session `i` (its file has ended `turns`).
    fn submit(&mut self, i: usize, turns: u64) {
        self.submit_line(i, turns, None)
    }

    /// The same, the line a slash command the keys tell.
    fn submit_line(&mut self, i: usize, turns: u64, command: Option<&str>) {
        let s = &mut self.sessions[i];
        s.settled = false;
        s.submitted += 1;
        s.read_upto = turns;
        s.submitted_ms = Some(EPOCH_MS + self.t);
        let input = protocol::Input {
            enter: true,
            submitted: Some(s.submitted),
            command: command.map(str::to_string),
        };
        let id = s.id.clone();
        self.runner(&id, RunnerEvent::Input(input));
    }

    fn on_session(&mut self, name: &str, i: usize) {
        let id = self.sessions[i].id.clone();
        let file = self.sessions[i]
            .file
            .clone()
            .expect("every session has a file");
        let turns = self.files[&file].turns;
        match name {
            "prompt" if !self.files[&file].working => {
                self.submit(i, turns);
                self.t += 20;
                self.write(i, |f| {
                    f.working = true;
                    f.unread = false;
                });
            }
            "reply" if self.files[&file].working => {
                let title = format!("t{}", self.made);
                self.write(i, |f| {
                    f.working = false;
                    f.unread = true;
                    f.turns += 1;
                    f.title.get_or_insert(title);
                });
            }
            "read" => {
                self.sessions[i].read_upto = turns;
                let input = protocol::Input::default();
                self.runner(&id, RunnerEvent::Input(input));
            }
            "switch_new" => {
                let path = self.new_file();
                self.switch(i, path);
            }
            // pi's `/new` typed and sent: a line (Enter), then the
            // extension names the new file and says the command is done.
            "command_new" if !self.files[&file].working => {
                self.submit(i, turns);
                self.t += 5;
                let path = self.new_file();
                self.switch(i, path);
                self.sessions[i].settled = true;
                let idle = protocol::AgentState {
                    state: protocol::State::Idle,
                    source: protocol::StateSource::Extension,
                    at_ms: EPOCH_MS + self.t,
                    answers: true,
                    ..protocol::AgentState::default()
                };
                self.runner(&id, RunnerEvent::State(idle));
            }
            "switch_old" => {
                // A conversation no live session holds (a dead one's):
                // pi's `/resume`.
                let live = |p: &PathBuf| {
                    (self.sessions.iter()).any(|s| s.alive && s.file.as_ref() == Some(p))
                };
                let free: Vec<PathBuf> = (self.sessions.iter())
                    .filter(|s| !s.alive)
                    .filter_map(|s| s.file.clone())
                    .filter(|p| !live(p))
                    .collect();
                if !free.is_empty() {
                    let path = free[self.roll(free.len() as u64) as usize].clone();
                    self.switch(i, path);
                }
            }
            "exit" | "kill" => {
                let title = self.files[&file].title.clone();
                self.sessions[i].last_title = title;
                self.died(name, i, id);
            }
            _ => {}
        }
    }

    fn died(&mut self, name: &str, i: usize, id: String) {
        match name {
            "exit" => {
                let code = self.roll(3) as i64;
                self.sessions[i].alive = false;
                self.sessions[i].exit = Some(code);
                let exit = protocol::Exit {
                    exit_code: Some(code),
                    signal: None,
                };
                self.runner(&id, RunnerEvent::Exit(exit));
            }
            "kill" => {
                self.sessions[i].alive = false;
                self.dispatch(Event::Gone { id, exit: None });
            }
            _ => {}
        }
    }

    /// A new daemon: the saved records and input states, the runners'
    /// replays; timers of the old one are gone with it.
    fn restart(&mut self) {
        self.down = false;
        self.core = Core::new(HashMap::new(), self.disk.clone(), "/state".into());
        self.timers.clear();
        self.followed.clear();
        self.published.clear();
        for i in 0..self.sessions.len() {
            // A file let go of is in no runner's replay: a new daemon
            // knows of no last file then (the agent holds none).
            self.sessions[i].let_go = None;
            if self.sessions[i].alive {
                let saved = self.inputs.get(&self.sessions[i].id).cloned();
                self.replay(i, saved);
            }
        }
    }

    /// Every difference between the core's records and the model.
    fn diff(&self) -> Vec<String> {
        let mut out = Vec::new();
        for s in &self.sessions {
            let Some(r) = self.core.record(&s.id) else {
                out.push(format!("{}: missing", s.id));
                continue;
            };
            let f = s
                .file
                .as_ref()
                .and_then(|p| self.files.get(p))
                .cloned()
                .unwrap_or_default();
            let history = s.history_before.is_some_and(|h| f.written_ms < h);
            let want_state = if !s.alive {
                s.exit.map_or("exited".into(), |c| format!("exited:{c}"))
            } else if let Some(word) = said::state(s, f.unread && !history && f.turns > s.read_upto)
            {
                word.into()
            } else if f.working && !history {
                "working".into()
            } else if f.unread && !history && f.turns > s.read_upto {
                "unread".into()
            } else {
                "idle".to_string()
            };
            let file = r.file().map(PathBuf::from);
            let title = if s.alive {
                f.title.clone()
            } else {
                s.last_title.clone()
            };
            let title = title.unwrap_or_else(|| "(new)".into());
            let want = (want_state, s.alive, file.clone(), title);
            let got = (r.state(), r.alive, file, r.title.clone());
            let got = (
                got.0,
                got.1,
                if s.alive { got.2 } else { s.file.clone() },
                got.3,
            );
            let last = s.file.clone().or_else(|| s.let_go.clone());
            let want_file = (want.0.clone(), want.1, last, want.3.clone());
            if got != want_file {
                out.push(format!("{}: want {want_file:?}, got {got:?}", s.id));
            }
            // Nothing owed (wait --until idle): a turn ended or a command
            // was taken, and nothing runs now.
            let done = said::done(s, f.turns, f.working, history);
            if s.alive && r.turn_done != done {
                out.push(format!("{}: turn_done {}, want {done}", s.id, r.turn_done));
            }
            let since = r.conversation.as_ref().map(|c| c.since.clone());
            let held = s.file.is_some();
            if s.alive && held && since != Some(crate::timefmt::format_ms(s.since)) {
                let want = crate::timefmt::format_ms(s.since);
                out.push(format!(
                    "{}: conversation.since {since:?}, want {want}",
                    s.id
                ));
            }
            if s.alive && self.published.get(&s.id) != Some(&protocol::to_json(&r)) {
                let published = self.published.get(&s.id);
                out.push(format!(
                    "{}: the record is not what was last published:\n  {}\n  {published:?}",
                    s.id,
                    protocol::to_json(&r)
                ));
            }
        }
        out
    }
}

fn walk(seed: u64, ops: usize) {
    let mut w = World::new(seed);
    let total: u64 = OPS.iter().map(|(_, n)| n).sum();
    let mut log: Vec<&str> = Vec::new();
    for n in 0..ops {
        let mut pick = w.roll(total);
        let name = OPS.iter().find(|(_, weight)| {
            let hit = pick < *weight;
            pick = pick.saturating_sub(*weight);
            hit
        });
        let name = name.map_or("start", |(name, _)| name);
        log.push(name);
        w.op(name);
        w.run(5_000);
        let wrong = w.diff();
        assert!(
            wrong.is_empty(),
            "seed {seed}, op {n} ({name}):\n{}\nlast ops: {:?}",
            wrong.join("\n"),
            &log[log.len().saturating_sub(12)..]
        );
    }
}

#[test]
fn a_random_walk_of_sessions_matches_the_model() {
    // AMUX_ORACLE_OPS runs longer walks (100,000 by hand); AMUX_ORACLE_SEED
    // replays one.
    let ops = std::env::var("AMUX_ORACLE_OPS")
        .ok()
        .and_then(|v| v.parse().ok());
    let seed = std::env::var("AMUX_ORACLE_SEED")
        .ok()
        .and_then(|v| v.parse().ok());
    walk(seed.unwrap_or(20261206), ops.unwrap_or(20_000));
}
