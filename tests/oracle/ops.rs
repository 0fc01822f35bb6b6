//! The oracle's operations: starting sessions, agent operations, faults,
//! and the walk that picks one.

use super::{s, FileModel, Kind, Oracle, Sess, ACK, BURST_FILES, DOWN_SAFE, MAX_LIVE};
use crate::support::{self, daemon, http};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Duration;

impl Oracle {
    fn spawn(&mut self, kind: Kind, argv: &[String], sources: Vec<&'static str>) -> usize {
        self.n += 1;
        let cwd = self.w.cwd(&format!("a{}", self.n));
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let id = self.w.run(&cwd, &argv);
        self.adopt(id, kind, sources)
    }

    /// Registers a session started by `run -d` or `resume -d`, once its
    /// agent is up.
    fn adopt(&mut self, id: String, kind: Kind, sources: Vec<&'static str>) -> usize {
        let ready =
            (kind != Kind::Shell).then(|| self.wait_ack(&id, "ready", |a| a["ready"] == true));
        let meta = http::meta(&self.w.env.sock(&id));
        self.sessions.push(Sess {
            id: id.clone(),
            kind,
            alive: true,
            exit: None,
            file: None,
            sources: Vec::new(),
            dead_title: String::new(),
            shell_title: String::new(),
            shell_ctl: None,
            pid: meta["pid"].as_u64().unwrap_or(0) as u32,
            runner_pid: meta["runner_pid"].as_u64().unwrap_or(0) as u32,
            seq: 0,
            history: Vec::new(),
            last_send: 0,
            died_down: false,
            died: 0,
            asking: false,
            launched: None,
        });
        let i = self.sessions.len() - 1;
        if let Some(ready) = ready.filter(|r| r["file"].is_string()) {
            let file = self.bind(i, &ready, None);
            if sources.contains(&"argv") {
                let writes = self.known(&file).writes;
                self.sessions[i].launched = Some((file, writes));
            }
            self.sessions[i].sources = sources;
        }
        self.note(format!(
            "  {id} = {} pid {}",
            kind.as_str(),
            self.sessions[i].pid
        ));
        i
    }

    fn pi_argv(&mut self) -> (Vec<String>, &'static str) {
        let bun = self.rng.below(3) == 0;
        let runtime = if bun { &self.bun } else { &self.node };
        (
            vec![s(runtime).to_string(), s(&self.script).to_string()],
            if bun { "bun" } else { "node" },
        )
    }

    fn start_pi(&mut self) -> String {
        let (argv, rt) = self.pi_argv();
        let i = self.spawn(Kind::Pi, &argv, vec![]);
        format!("{} ({rt})", self.sessions[i].id)
    }

    /// `pi --session F`: a launch-time file, held from the start (`argv`).
    fn start_pi_session(&mut self) -> Option<String> {
        let pi_files: Vec<PathBuf> = self.pi_files();
        let file = self.rng.pick(&pi_files)?;
        let (mut argv, rt) = self.pi_argv();
        argv.extend(["--session".into(), s(&file).into(), "-c".into()]);
        let i = self.spawn(Kind::Pi, &argv, vec!["argv"]);
        Some(format!(
            "{} ({rt}) --session {}",
            self.sessions[i].id,
            file.display()
        ))
    }

    fn pi_files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = self
            .sessions
            .iter()
            .filter(|x| x.kind == Kind::Pi)
            .flat_map(|x| x.file.iter().chain(x.history.iter()))
            .filter(|f| f.exists())
            .cloned()
            .collect();
        files.sort();
        files.dedup();
        files
    }

    fn start_shell(&mut self) -> String {
        let title = self.text("shell");
        let ctl = self.w.env.root.join("ctl").join(format!("sh{}", self.n));
        let script = r#"printf '\033]0;%s\007' "$0"; while [ ! -e "$1" ]; do sleep 0.05; done; exit "$(cat "$1")""#;
        let argv = vec![
            "sh".to_string(),
            "-c".into(),
            script.into(),
            title.clone(),
            s(&ctl).into(),
        ];
        let i = self.spawn(Kind::Shell, &argv, vec![]);
        let sock = self.w.env.sock(&self.sessions[i].id);
        support::wait_until(
            ACK,
            || http::meta(&sock)["title"] == title.as_str(),
            "the shell's terminal title",
        );
        self.sessions[i].shell_title = title;
        self.sessions[i].shell_ctl = Some(ctl);
        self.sessions[i].id.clone()
    }

    // ---- agent operations ----

    /// Claude asks permission (pidfile `status: waiting`), Codex asks for
    /// approval (an OSC 9 on its terminal), after the tool call's line —
    /// or, as the real agents may, up to 30 ms before it (`late_ms`).
    fn ask(&mut self, i: usize) -> String {
        let text = self.text("run");
        let late_ms = [None, Some(0), Some(2), Some(30)][self.rng.below(4)];
        let ack = self.tell(i, json!({"op": "ask", "text": text, "late_ms": late_ms}));
        let file = self.bind(i, &ack, None);
        self.model(&file).state = "working";
        self.sessions[i].asking = true;
        format!("{} asks {text:?}", self.sessions[i].id)
    }

    fn turn(&mut self, i: usize) -> String {
        self.sessions[i].asking = false;
        let text = self.text("task");
        let ack = self.tell(i, json!({"op": "turn", "text": text}));
        let pi = (self.sessions[i].kind == Kind::Pi).then_some("shim");
        let file = self.bind(i, &ack, pi);
        self.model(&file).user(&text, "unread");
        format!("{} {text:?} -> {}", self.sessions[i].id, file.display())
    }

    fn user(&mut self, i: usize, op: &str) -> String {
        self.sessions[i].asking = false;
        let text = self.text(op);
        let ack = self.tell(i, json!({"op": op, "text": text}));
        let pi = (self.sessions[i].kind == Kind::Pi).then_some("shim");
        let file = self.bind(i, &ack, pi);
        let state = if op == "error" { "error" } else { "working" };
        self.model(&file).user(&text, state);
        format!("{} {text:?}", self.sessions[i].id)
    }

    fn name(&mut self, i: usize) -> String {
        let name = self.text("named");
        let ack = self.tell(i, json!({"op": "name", "name": name}));
        let file = self.bind(i, &ack, Some("shim"));
        self.model(&file).name = Some(name.clone());
        format!("{} {name:?}", self.sessions[i].id)
    }

    fn rebind_new(&mut self, i: usize) -> String {
        self.sessions[i].asking = false;
        let text = self.text("fresh");
        let ack = self.tell(i, json!({"op": "new", "text": text}));
        let pi = (self.sessions[i].kind == Kind::Pi).then_some("shim");
        let file = self.bind(i, &ack, pi);
        self.model(&file).user(&text, "unread");
        format!("{} -> {}", self.sessions[i].id, file.display())
    }

    /// `/resume` of `file` in pi: the next write goes there.
    fn open(&mut self, i: usize, file: &Path) -> String {
        let text = self.text("again");
        let ack = self.tell(i, json!({"op": "open", "path": file, "text": text}));
        let file = self.bind(i, &ack, Some("shim"));
        self.model(&file).user(&text, "unread");
        format!("{} -> {}", self.sessions[i].id, file.display())
    }

    fn exit(&mut self, i: usize, code: i64) -> String {
        let id = self.sessions[i].id.clone();
        if let Some(ctl) = self.sessions[i].shell_ctl.clone() {
            let tmp = ctl.with_extension("tmp");
            std::fs::write(&tmp, code.to_string()).expect("write shell ctl");
            std::fs::rename(&tmp, &ctl).expect("rename shell ctl");
        } else {
            self.tell(i, json!({"op": "exit", "code": code}));
        }
        self.die(i, Some(code));
        format!("{id} code {code}")
    }

    fn kill(pid: u32) {
        if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    }

    fn kill_agent(&mut self, i: usize) -> String {
        Self::kill(self.sessions[i].pid);
        self.die(i, Some(128 + 9));
        format!("{} pid {}", self.sessions[i].id, self.sessions[i].pid)
    }

    fn kill_runner(&mut self, i: usize) -> String {
        Self::kill(self.sessions[i].runner_pid);
        std::thread::sleep(Duration::from_millis(50));
        Self::kill(self.sessions[i].pid);
        self.die(i, None);
        format!(
            "{} runner {}",
            self.sessions[i].id, self.sessions[i].runner_pid
        )
    }

    /// `amux send ID TEXT --enter`: the agent takes the line as a turn.
    fn send(&mut self, i: usize) -> String {
        let text = self.text("sent");
        let id = self.sessions[i].id.clone();
        let out = support::output_within(
            self.w.amux(["send", id.as_str(), text.as_str(), "--enter"]),
            daemon::T,
        );
        assert!(
            out.status.success(),
            "amux send: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ack = self.wait_ack(&id, "the sent line", |a| a["stdin"] == text.as_str());
        self.sessions[i].last_send = self.n;
        let file = self.bind(i, &ack, Some("shim"));
        self.model(&file).user(&text, "unread");
        format!("{id} {text:?}")
    }

    /// `amux resume -d ID` of a dead session that held a conversation.
    fn resume(&mut self) -> Option<String> {
        let dead: Vec<usize> = (0..self.sessions.len())
            .filter(|&i| {
                let x = &self.sessions[i];
                !x.alive
                    && x.kind != Kind::Shell
                    && x.file.is_some()
                    && !x.died_down
                    && !self.maybe_pruned(x)
            })
            .collect();
        let i = self.rng.pick(&dead)?;
        let (old, kind, file) = {
            let x = &self.sessions[i];
            (x.id.clone(), x.kind, x.file.clone())
        };
        // Claude and Codex have no transcript to resume before a first turn.
        if kind != Kind::Pi && file.as_ref().is_none_or(|f| !f.exists()) {
            return None;
        }
        let out = support::output_within(self.w.amux(["resume", "-d", old.as_str()]), daemon::T);
        assert!(
            out.status.success(),
            "amux resume: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let sources = match kind {
            Kind::Pi => vec!["argv"],
            // The runner's argv report and the agent's own race; which one
            // a repeated report of one file keeps is not specified.
            k => vec!["argv", k.source()],
        };
        let j = self.adopt(id.clone(), kind, sources);
        let held = self.sessions[j].file.clone();
        assert_eq!(held, file, "the resumed agent opened another file");
        Some(format!("{old} as {id}"))
    }

    // ---- faults ----

    fn daemon_restart(&mut self) -> String {
        self.w.kill_daemon();
        self.daemon_up = false;
        self.note("daemon killed".into());
        let down_ops = self.rng.below(4);
        for _ in 0..down_ops {
            self.random_op(true);
        }
        self.w.start_daemon();
        self.daemon_up = true;
        format!("restarted after {down_ops} ops while down")
    }

    /// Thousands of files in a fresh directory under pi's root (created,
    /// written, removed) while an agent takes a turn.
    fn burst(&mut self) -> String {
        let dir = self
            .w
            .env
            .pi_sessions()
            .join(format!("--burst{}--", self.n));
        let files = BURST_FILES;
        let worker = std::thread::spawn(move || {
            let _ = std::fs::create_dir_all(&dir);
            for n in 0..files {
                let _ = std::fs::write(dir.join(format!("f{n}.tmp")), b"x");
            }
            let _ = std::fs::remove_dir_all(&dir);
        });
        let agents = self.live(&[Kind::Pi, Kind::Claude, Kind::Codex]);
        let during = self.rng.pick(&agents).map(|i| self.turn(i));
        let _ = worker.join();
        format!("{files} files; during: {during:?}")
    }

    /// A held pi file rewritten shorter, in one write (like `/clone`).
    fn rewrite(&mut self) -> Option<String> {
        let held: Vec<PathBuf> = self
            .live(&[Kind::Pi])
            .into_iter()
            .filter_map(|i| self.sessions[i].file.clone())
            .filter(|f| f.exists())
            .collect();
        let file = self.rng.pick(&held)?;
        let old = std::fs::read_to_string(&file).ok()?;
        let header = old.lines().next()?.to_string();
        let text = self.text("rewritten");
        let user = json!({"type": "message", "id": "r1",
            "message": {"role": "user", "content": [{"type": "text", "text": text}]}});
        let reply = json!({"type": "message", "id": "r2", "message": {"role": "assistant",
            "content": [{"type": "text", "text": "ok"}], "stopReason": "stop"}});
        let new = format!("{header}\n{user}\n{reply}\n");
        if new.len() >= old.len() {
            return None;
        }
        std::fs::write(&file, new).expect("rewrite");
        let m = self.model(&file);
        *m = FileModel {
            first_user: Some(text),
            name: None,
            state: "unread",
            writes: m.writes,
        };
        Some(format!("{}", file.display()))
    }

    // ---- the walk ----

    /// Picks and runs one applicable operation; `down` restricts the
    /// choice to `DOWN_SAFE`. Returns the operation's name when it ran.
    pub(super) fn random_op(&mut self, down: bool) -> Option<&'static str> {
        let live = self
            .live(&[Kind::Pi, Kind::Claude, Kind::Codex, Kind::Shell])
            .len();
        let choices: Vec<(&'static str, u32)> = self
            .enabled
            .iter()
            .copied()
            .filter(|(n, _)| !down || DOWN_SAFE.contains(n))
            .filter(|(n, _)| !(n.starts_with("start") && live >= MAX_LIVE))
            .filter(|(n, _)| !(down && *n == "daemon_restart"))
            .collect();
        let total: u32 = choices.iter().map(|c| c.1).sum();
        if total == 0 {
            return None;
        }
        let mut r = (self.rng.next() % u64::from(total)) as u32;
        let op = choices
            .iter()
            .find(|(_, w)| {
                if r < *w {
                    true
                } else {
                    r -= w;
                    false
                }
            })
            .map(|c| c.0)?;
        let what = self.apply(op, down)?;
        self.ops += 1;
        if matches!(
            op,
            "daemon_restart" | "burst" | "rewrite" | "kill_agent" | "kill_runner"
        ) {
            self.faults += 1;
        }
        self.note(format!(
            "{op}{} {what}",
            if down { " (daemon down)" } else { "" }
        ));
        Some(op)
    }

    fn apply(&mut self, op: &str, down: bool) -> Option<String> {
        let all = [Kind::Pi, Kind::Claude, Kind::Codex, Kind::Shell];
        let agents = [Kind::Pi, Kind::Claude, Kind::Codex];
        // Claude and Codex deaths need the daemon up: it learns their
        // files from the live process only.
        let mortal: Vec<usize> = if down {
            self.live(&[Kind::Pi, Kind::Shell])
        } else {
            self.live(&all)
        };
        Some(match op {
            "start_pi" => self.start_pi(),
            "start_pi_session" => self.start_pi_session()?,
            "start_claude" => {
                let i = self.spawn(Kind::Claude, &["claude".into()], vec!["agent-pidfile"]);
                self.sessions[i].id.clone()
            }
            "start_codex" => {
                let argv = ["codex".into(), "--no-daemon".into()];
                let i = self.spawn(Kind::Codex, &argv, vec!["procfd"]);
                self.sessions[i].id.clone()
            }
            "start_shell" => self.start_shell(),
            "turn" => {
                let i = self.rng.pick(&self.live(&agents))?;
                self.turn(i)
            }
            "user" => {
                let i = self.rng.pick(&self.live(&agents))?;
                self.user(i, "user")
            }
            "ask" => {
                let i = self.rng.pick(&self.live(&[Kind::Claude, Kind::Codex]))?;
                self.ask(i)
            }
            "error" => {
                let i = self.rng.pick(&self.live(&[Kind::Pi]))?;
                self.user(i, "error")
            }
            "name" => {
                let i = self.rng.pick(&self.live(&[Kind::Pi]))?;
                self.name(i)
            }
            "rebind_new" => {
                let i = self.rng.pick(&self.live(&agents))?;
                self.rebind_new(i)
            }
            "rebind_old" => {
                let pis: Vec<usize> = self
                    .live(&[Kind::Pi])
                    .into_iter()
                    .filter(|&i| self.sessions[i].history.iter().any(|f| f.exists()))
                    .collect();
                let i = self.rng.pick(&pis)?;
                let old: Vec<PathBuf> = self.sessions[i]
                    .history
                    .iter()
                    .filter(|f| f.exists() && self.sessions[i].file.as_ref() != Some(*f))
                    .cloned()
                    .collect();
                let file = self.rng.pick(&old)?;
                self.open(i, &file)
            }
            "share" => {
                let pis = self.live(&[Kind::Pi]);
                let i = self.rng.pick(&pis)?;
                let theirs: Vec<PathBuf> = pis
                    .iter()
                    .filter_map(|&j| self.sessions[j].file.clone())
                    .filter(|f| f.exists() && self.sessions[i].file.as_ref() != Some(f))
                    .collect();
                let file = self.rng.pick(&theirs)?;
                self.open(i, &file)
            }
            "exit0" => {
                let i = self.rng.pick(&mortal)?;
                self.exit(i, 0)
            }
            "exit_nz" => {
                let i = self.rng.pick(&mortal)?;
                let code = [1, 2, 3, 42][self.rng.below(4)];
                self.exit(i, code)
            }
            "kill_agent" => {
                let i = self.rng.pick(&mortal)?;
                self.kill_agent(i)
            }
            "kill_runner" => {
                let i = self.rng.pick(&self.live(&all))?;
                self.kill_runner(i)
            }
            "send" => {
                let i = self.rng.pick(&self.live(&[Kind::Pi]))?;
                self.send(i)
            }
            "resume" => self.resume()?,
            "daemon_restart" => self.daemon_restart(),
            "burst" => self.burst(),
            "rewrite" => self.rewrite()?,
            _ => return None,
        })
    }
}
