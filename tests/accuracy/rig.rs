//! One agent's test bench: a daemon of its own (`support::daemon::World`,
//! so the test can kill and restart it), the stamped `amux events`
//! (`clock.rs`), the agent's environment on every `amux` command, and the
//! cells measured so far.
//!
//! Driving waits for facts only (a text on the screen, a server's moment,
//! an events line), each with a deadline; a fact that never comes is an
//! `Err` naming it, which the agent's test turns into a wrong cell with
//! the screen and `amux explain` attached.

use super::clock::{describe, Clock, Reached};
use super::Cell;
use crate::support::daemon::World;
use crate::support::{self, http};
use serde_json::Value;
use std::ffi::OsStr;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long amux may take to say a truth before the cell is wrong.
pub const WITHIN: Duration = Duration::from_secs(10);
/// Deadline for what the agent does (start, draw, answer).
pub const T: Duration = Duration::from_secs(30);

pub type Drive = Result<(), String>;
/// One group of moments on a session, against server `S`.
pub type Step<S> = (&'static str, fn(&mut Rig, &S, &str) -> Drive);

pub struct Rig {
    pub w: World,
    pub clock: Clock,
    pub agent: String,
    env: Vec<(String, String)>,
    pub cells: Vec<Cell>,
}

impl Rig {
    /// A daemon and `amux events` for `agent`; `env` goes on every command.
    pub fn new(agent: &str, env: &[(&str, String)]) -> Rig {
        let mut w = World::new();
        w.start_daemon();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        let mut events = w.amux(["events"]);
        events.envs(env.iter().map(|(k, v)| (k, v)));
        let clock = Clock::start(events);
        Rig {
            w,
            clock,
            agent: agent.to_string(),
            env,
            cells: Vec::new(),
        }
    }

    pub fn amux<S: AsRef<OsStr>>(&self, args: &[S]) -> Command {
        let mut cmd = self.w.amux(args);
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    pub fn out<S: AsRef<OsStr>>(&self, args: &[S]) -> Output {
        let mut cmd = self.amux(args);
        cmd.stderr(Stdio::piped());
        support::output_within(cmd, T)
    }

    /// `amux run -d --size 120x40 -- ARGV…` in the work dir: the id.
    pub fn run(&self, argv: &[String]) -> Result<String, String> {
        let mut args = vec!["run", "-d", "--size", "120x40", "--"];
        args.extend(argv.iter().map(String::as_str));
        let o = self.out(&args);
        if !o.status.success() {
            return Err(format!("amux run -d: {o:?}"));
        }
        Ok(String::from_utf8_lossy(&o.stdout).trim().to_string())
    }

    /// `amux send ID TEXT [--enter]`; the instant just before it.
    pub fn send(&self, id: &str, text: &str, enter: bool) -> Instant {
        let at = Instant::now();
        let mut args = vec!["send", id, text];
        if enter {
            args.push("--enter");
        }
        let o = self.out(&args);
        assert!(o.status.success(), "amux send: {o:?}");
        at
    }

    pub fn screen(&self, id: &str) -> String {
        let sock = self.w.env.sock(id);
        if !sock.exists() {
            return "(no runner)".to_string();
        }
        http::get(&sock, "/scrollback/text").text()
    }

    /// Waits until `needle` is on the screen (blanks ignored: agents move
    /// the cursor over them); when it was seen.
    pub fn wait_screen(&self, id: &str, needle: &str) -> Result<Instant, String> {
        let deadline = Instant::now() + T;
        let needle = needle.replace(' ', "");
        loop {
            if self.screen(id).replace(' ', "").contains(&needle) {
                return Ok(Instant::now());
            }
            if Instant::now() >= deadline {
                return Err(format!("{needle:?} never on the screen"));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The record `id` has now (`ls --json --all`).
    pub fn record(&self, id: &str) -> Option<Value> {
        let o = self.out(&["ls", "--json", "--all"]);
        let list: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap_or_default();
        list.into_iter().find(|r| r["id"] == id)
    }

    /// The screen and `amux explain ID`, for a wrong cell.
    pub fn detail(&self, id: &str) -> String {
        let e = self.out(&["explain", id]);
        format!(
            "screen:\n{}\namux explain {id}:\n{}{}",
            self.screen(id),
            String::from_utf8_lossy(&e.stdout),
            String::from_utf8_lossy(&e.stderr)
        )
    }

    pub fn cell(&mut self, moment: &str, id: &str, truth: &str, said: String, ms: Option<i64>) {
        let right = said == truth;
        let detail = if right {
            String::new()
        } else {
            self.detail(id)
        };
        self.cells.push(Cell {
            agent: self.agent.clone(),
            moment: moment.to_string(),
            truth: truth.to_string(),
            said,
            latency_ms: ms,
            right,
            detail,
        });
    }

    /// The cell of a moment that could not be driven.
    pub fn undriven(&mut self, moment: &str, id: &str, why: String) {
        self.cell(
            moment,
            id,
            "driven",
            format!("could not drive: {why}"),
            None,
        );
    }

    /// A cell: the first line after `since` that says `truth` (`pred`),
    /// `at` being when it became true. Said before `at` is wrong (a guess).
    pub fn reach(
        &mut self,
        moment: &str,
        id: &str,
        truth: &str,
        (since, at): (Instant, Instant),
        pred: &dyn Fn(&Value) -> bool,
    ) -> Option<Instant> {
        match self.clock.reach(id, since, WITHIN, pred) {
            Reached::Said(when, _) if when < at => {
                let early = at.duration_since(when).as_millis();
                let said = format!("{truth} {early}ms before it was true");
                self.cell(moment, id, truth, said, None);
                Some(when)
            }
            Reached::Said(when, _) => {
                let ms = when.duration_since(at).as_millis() as i64;
                self.cell(moment, id, truth, truth.to_string(), Some(ms));
                Some(when)
            }
            Reached::Not(last) => {
                self.cell(moment, id, truth, describe(last.as_ref()), None);
                None
            }
        }
    }

    /// A cell: the first line after `since` (a daemon's restart) already
    /// says `truth`.
    pub fn first_after(
        &mut self,
        moment: &str,
        id: &str,
        truth: &str,
        since: Instant,
        pred: &dyn Fn(&Value) -> bool,
    ) {
        match self.clock.reach(id, since, WITHIN, &|_| true) {
            Reached::Said(when, r) if pred(&r) => {
                let ms = when.duration_since(since).as_millis() as i64;
                self.cell(moment, id, truth, truth.to_string(), Some(ms));
            }
            Reached::Said(_, r) => self.cell(moment, id, truth, describe(Some(&r)), None),
            Reached::Not(last) => self.cell(moment, id, truth, describe(last.as_ref()), None),
        }
    }

    /// A cell: `truth` held over `[from, to]`.
    pub fn hold(
        &mut self,
        moment: &str,
        id: &str,
        truth: &str,
        (from, to): (Instant, Instant),
        pred: &dyn Fn(&Value) -> bool,
    ) -> bool {
        let said = match self.clock.hold(id, from, to, pred) {
            Ok(()) => truth.to_string(),
            Err(r) => describe(r.as_ref()),
        };
        self.cell(moment, id, truth, said, None);
        self.cells.last().is_some_and(|c| c.right)
    }

    /// `amux wait ID --until idle --timeout 10` after a command with no
    /// turn or on a fresh session: exits 0; its latency is how long it took.
    pub fn wait_idle(&mut self, moment: &str, id: &str, since: Instant) {
        let o = self.out(&["wait", id, "--until", "idle", "--timeout", "10"]);
        let ms = since.elapsed().as_millis() as i64;
        let (said, ms) = match o.status.code() {
            Some(0) => ("wait 0".to_string(), Some(ms)),
            Some(code) => (format!("wait exit {code} after {ms}ms"), None),
            None => ("wait killed".to_string(), None),
        };
        self.cell(moment, id, "wait 0", said, ms);
    }

    /// A cell: the agent asked to quit at `t` (its pid `pid`, read before)
    /// is said `exited` — true once its process has ended (the agent takes
    /// its time to shut down: that is not amux's latency).
    /// The end's instant is the last look that still saw it alive: it
    /// ended after that, and amux may well see it before our next look.
    pub fn quit_cell(&mut self, moment: &str, id: &str, pid: Option<i64>, t: Instant) {
        let mut alive_at = t;
        let gone = pid.filter(|&p| {
            super::clock::wait_for(
                || {
                    let now = Instant::now();
                    let over = ended(p);
                    if !over {
                        alive_at = now;
                    }
                    over
                },
                T,
            )
        });
        let at = gone.map_or(t, |_| alive_at);
        self.reach(moment, id, "exited", (t, at), &exited);
    }

    /// Kills the daemon and starts another; the instant it answers.
    pub fn restart_daemon(&mut self) -> Instant {
        self.w.kill_daemon();
        self.w.start_daemon();
        Instant::now()
    }
}

pub fn state(r: &Value) -> &str {
    r["status"]["state"].as_str().unwrap_or("")
}
pub fn working(r: &Value) -> bool {
    state(r) == "working" && r["alive"] == true
}
pub fn idle(r: &Value) -> bool {
    state(r) == "idle" && r["status"]["error"] != true && r["alive"] == true
}
pub fn idle_unread(r: &Value) -> bool {
    idle(r) && r["unread"] == true
}
pub fn error(r: &Value) -> bool {
    (state(r) == "error" || r["status"]["error"] == true) && r["alive"] == true
}
pub fn exited(r: &Value) -> bool {
    r["alive"] == false
}
pub fn waiting(kind: &'static str) -> impl Fn(&Value) -> bool {
    move |r: &Value| state(r) == "waiting" && r["status"]["waiting"]["kind"] == kind
}
pub fn file(r: &Value) -> Option<String> {
    r["conversation"]["file"].as_str().map(str::to_owned)
}

/// Whether a process whose command line is `argv` (its words) runs now:
/// a tool's command, seen the moment it started.
pub fn running(argv: &[&str]) -> bool {
    let want: Vec<u8> = argv
        .iter()
        .flat_map(|w| [w.as_bytes(), b"\0"].concat())
        .collect();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return false;
    };
    dir.flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .any(|c| c == want)
}

/// Whether process `pid` has ended (gone, or a zombie not reaped yet).
pub fn ended(pid: i64) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // `PID (COMM) STATE …`: COMM may hold anything but a `)` ends it.
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z')),
        Err(_) => true,
    }
}
