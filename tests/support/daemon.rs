//! Helpers for the tests that run a daemon (`daemon_*`, `oracle`, `regress`
//! use `crate::support::daemon`).
//!
//! `World` wraps a `TestEnv` with what the daemon tests add: a bin
//! directory first on PATH holding the stand-in agent (`stand_in.py`) as
//! `pi`, `claude` and `codex`; `CLAUDE_CONFIG_DIR` and `CODEX_HOME` inside
//! the temp dir; and a daemon the test starts itself with `amux daemon
//! --foreground` (AMUX_NO_DAEMON stays set, so nothing else starts one).
//! Its pid comes from `GET /v1/health`; drop kills it, and the `TestEnv`
//! then kills every other process carrying the test's marker. Everything is
//! observed through the real CLI (`amux ls --json`, `amux events`) and the
//! runners' own sockets, polled with generous deadlines.

use crate::support::{self, http, TestEnv};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Deadline for anything the daemon should do "at once".
pub const T: Duration = Duration::from_secs(15);

pub struct World {
    pub env: TestEnv,
    daemon: Option<Child>,
}

impl World {
    pub fn new() -> World {
        let env = TestEnv::new();
        let bin = env.root.join("bin");
        std::fs::create_dir(&bin).expect("bin dir");
        let script =
            std::fs::read_to_string(support::manifest_dir().join("tests/support/stand_in.py"))
                .expect("read stand_in.py");
        // The interpreter itself, not a wrapper (pyenv shims are scripts).
        let python = Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .expect("python3 is needed by the daemon tests");
        let python = String::from_utf8_lossy(&python.stdout).trim().to_string();
        let script = script.replacen("/usr/bin/env python3", &python, 1);
        for name in ["pi", "claude", "codex"] {
            let path = bin.join(name);
            std::fs::write(&path, &script).expect("write stand-in");
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        World { env, daemon: None }
    }

    pub fn bin(&self) -> PathBuf {
        self.env.root.join("bin")
    }
    pub fn claude_dir(&self) -> PathBuf {
        self.env.root.join("claude")
    }
    pub fn codex_home(&self) -> PathBuf {
        self.env.root.join("codex")
    }
    pub fn state(&self) -> PathBuf {
        self.env.root.join("state/amux")
    }
    pub fn daemon_sock(&self) -> PathBuf {
        self.env.runtime().join("daemon.sock")
    }

    /// A new working directory `work/NAME` (a session's cwd).
    pub fn cwd(&self, name: &str) -> PathBuf {
        let dir = self.env.work().join(name);
        std::fs::create_dir_all(&dir).expect("cwd");
        dir
    }

    /// pi's session directory for `cwd`: `--`, the cwd without its leading
    /// `/` with `/`, `\` and `:` turned into `-`, then `--`.
    pub fn pi_dir_for(&self, cwd: &Path) -> PathBuf {
        let cwd = cwd.to_str().expect("utf-8 cwd");
        let name: String = cwd
            .trim_start_matches('/')
            .chars()
            .map(|c| {
                if matches!(c, '/' | '\\' | ':') {
                    '-'
                } else {
                    c
                }
            })
            .collect();
        self.env.pi_sessions().join(format!("--{name}--"))
    }

    /// Any program with the test's environment plus the daemon tests' own.
    pub fn command<I, S>(&self, program: impl AsRef<std::ffi::OsStr>, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut cmd = self.env.command(program, args);
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs = vec![self.bin()];
        dirs.extend(std::env::split_paths(&path));
        cmd.env("PATH", std::env::join_paths(dirs).expect("PATH"))
            .env("CLAUDE_CONFIG_DIR", self.claude_dir())
            .env("CODEX_HOME", self.codex_home());
        cmd
    }

    pub fn amux<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.command(support::amux_bin(), args)
    }

    /// Starts `amux daemon --foreground`; returns its pid once it answers.
    pub fn start_daemon(&mut self) -> u32 {
        self.start_daemon_under(&[])
    }

    /// `start_daemon` through `wrapper` (a command that execs the rest,
    /// such as `setpriv …`), so the pid that answers is the one spawned.
    pub fn start_daemon_under(&mut self, wrapper: &[&str]) -> u32 {
        assert!(self.daemon.is_none(), "a daemon is already running");
        let mut cmd = match wrapper.split_first() {
            Some((program, args)) => {
                let mut cmd = self.command(program, args);
                cmd.args([support::amux_bin(), "daemon", "--foreground"]);
                cmd
            }
            None => self.amux(["daemon", "--foreground"]),
        };
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn the daemon");
        self.daemon = Some(child);
        let mut pid = None;
        support::wait_until(
            T,
            || {
                pid = self.health_pid();
                pid.is_some()
            },
            "the daemon to answer /v1/health",
        );
        let pid = pid.unwrap_or_default();
        assert_eq!(pid, self.daemon.as_ref().map_or(0, Child::id), "health pid");
        pid
    }

    /// `GET /v1/health`'s body, if a daemon answers.
    pub fn health(&self) -> Option<Value> {
        let sock = self.daemon_sock();
        let mut stream = std::os::unix::net::UnixStream::connect(&sock).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        use std::io::Write;
        stream
            .write_all(b"GET /v1/health HTTP/1.1\r\nHost: amux\r\nConnection: close\r\n\r\n")
            .ok()?;
        let reply = http::parse(&http::read_to_close(&mut stream))?;
        (reply.status == 200).then(|| serde_json::from_slice(&reply.body).ok())?
    }

    /// The pid `GET /v1/health` reports, if a daemon answers.
    pub fn health_pid(&self) -> Option<u32> {
        self.health()?["pid"].as_u64().map(|p| p as u32)
    }

    /// How many events the daemon has handled (`/v1/health`'s `seq`).
    pub fn seq(&self) -> u64 {
        let health = self.health().expect("the daemon answers /v1/health");
        health["seq"].as_u64().expect("/v1/health has a seq")
    }

    /// Waits until the daemon has handled `n` more events than `since` (a
    /// `seq()` read before causing them). Other events (timers) count
    /// too, so this is a floor: what the test caused may come later.
    pub fn wait_seq(&self, since: u64, n: u64) {
        support::wait_until(
            T,
            || self.seq() >= since + n,
            &format!("the daemon to handle {n} events after #{since}"),
        );
    }

    /// Connections the daemon has accepted (`/v1/health`'s count, which
    /// includes the one asking).
    pub fn connections(&self) -> u64 {
        let health = self.health().expect("the daemon answers /v1/health");
        health["connections"]
            .as_u64()
            .expect("/v1/health counts connections")
    }

    /// Waits until `n` connections besides our own polls came after a
    /// `connections()` that read `since`: a client started since reached
    /// the daemon.
    pub fn wait_connections(&self, since: u64, n: u64) {
        let mut polls = 0;
        support::wait_until(
            T,
            || {
                polls += 1;
                self.connections() >= since + polls + n
            },
            &format!("{n} clients to reach the daemon"),
        );
    }

    /// `amux explain ID --json`.
    pub fn explain(&self, id: &str) -> Value {
        support::explain(self.amux(["explain", id, "--json"]))
    }

    /// Waits until the daemon has read `n` complete lines of the file
    /// `id` holds (explain's `lines`): what a test wrote there is handled,
    /// so a negative assertion needs no sleep. Returns the explanation.
    pub fn wait_lines(&self, id: &str, n: u64) -> Value {
        support::wait_lines(|| self.amux(["explain", id, "--json"]), n)
    }

    pub fn daemon_pid(&self) -> u32 {
        self.daemon.as_ref().expect("no daemon").id()
    }

    /// `kill -9` the daemon and reap it.
    pub fn kill_daemon(&mut self) {
        if let Some(mut child) = self.daemon.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `amux run -d -- ARGS…` in `cwd`: the session id once its socket listens.
    pub fn run(&self, cwd: &Path, args: &[&str]) -> String {
        let mut cmd = self.amux(["run", "-d", "--"]);
        cmd.args(args).current_dir(cwd).stderr(Stdio::inherit());
        let out = support::output_within(cmd, Duration::from_secs(20));
        assert!(out.status.success(), "amux run -d failed: {:?}", out.status);
        let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert!(self.env.sock(&id).exists(), "no socket for {id:?}");
        id
    }

    /// `amux ls --json [--all]`.
    pub fn ls(&self, all: bool) -> Vec<Value> {
        let mut args = vec!["ls", "--json"];
        if all {
            args.push("--all");
        }
        let mut cmd = self.amux(args);
        // Its warnings are the test's to read (`amux ls` prints them on
        // stderr each time), not noise in every test's output.
        cmd.stderr(Stdio::piped());
        let out = support::output_within(cmd, T);
        assert!(
            out.status.success(),
            "amux ls failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).expect("ls --json prints JSON");
        v.as_array().cloned().expect("ls --json prints an array")
    }

    pub fn record(&self, id: &str, all: bool) -> Option<Value> {
        self.ls(all).into_iter().find(|r| r["id"] == id)
    }

    /// Polls `ls --json` until `id`'s record satisfies `pred`.
    pub fn wait_record(&self, id: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        self.wait_record_all(id, false, what, pred)
    }

    pub fn wait_record_all(
        &self,
        id: &str,
        all: bool,
        what: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + T;
        loop {
            let record = self.record(id, all);
            if let Some(r) = record.as_ref().filter(|r| pred(r)) {
                return r.clone();
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {id} to be {what}; last record: {record:#?}\nlog:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Waits until `id` holds `file` with `source`.
    pub fn wait_holds(&self, id: &str, file: &Path, source: &str) -> Value {
        self.wait_record(id, &format!("holding {} ({source})", file.display()), |r| {
            holds(r, file, source)
        })
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.state().join("daemon.log")).unwrap_or_default()
    }

    /// Sends one command line to a stand-in agent through its runner.
    pub fn tell(&self, id: &str, cmd: &Value) {
        let line = format!("{cmd}\n");
        let resp = http::post(&self.env.sock(id), "/input", line.as_bytes());
        assert!(resp.status < 300, "input to {id}: {}", resp.text());
    }

    /// Posts one preload event to the runner (`POST /shim/event`).
    pub fn shim(&self, id: &str, event: &Value) {
        let resp = http::post(
            &self.env.sock(id),
            "/shim/event",
            event.to_string().as_bytes(),
        );
        assert_eq!(resp.status, 204, "shim event to {id}: {}", resp.text());
    }

    /// A `write` shim event for `file`, as the preload would send it.
    pub fn shim_write(&self, id: &str, file: &Path) {
        self.shim(id, &json!({"op": "append", "pid": 1, "path": file}));
    }

    pub fn screen(&self, id: &str) -> String {
        http::get(&self.env.sock(id), "/scrollback/text").text()
    }

    pub fn wait_screen(&self, id: &str, needle: &str) {
        support::wait_until(
            T,
            || self.screen(id).contains(needle),
            &format!("{needle:?} on {id}'s screen"),
        );
    }

    /// `amux events` with its stdout collected line by line.
    pub fn events(&self) -> EventLog {
        let mut cmd = self.amux(["events"]);
        cmd.stderr(Stdio::piped());
        EventLog::collect(cmd)
    }
}

impl EventLog {
    /// Runs `cmd` (an `amux events`) and collects its lines as JSON.
    pub fn collect(mut cmd: Command) -> EventLog {
        let mut child = cmd
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn amux events");
        let stdout = child.stdout.take().expect("stdout");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let v: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
                sink.lock().expect("lock").push(v);
            }
        });
        EventLog { child, lines }
    }
}

impl Drop for World {
    fn drop(&mut self) {
        self.kill_daemon();
    }
}

/// `amux events` running in the background.
pub struct EventLog {
    pub child: Child,
    lines: Arc<Mutex<Vec<Value>>>,
}

impl EventLog {
    pub fn lines(&self) -> Vec<Value> {
        self.lines.lock().expect("lock").clone()
    }

    /// Every session record seen for `id`, in order.
    pub fn records(&self, id: &str) -> Vec<Value> {
        self.lines()
            .into_iter()
            .filter(|l| l["type"] == "session" && l["session"]["id"] == id)
            .map(|l| l["session"].clone())
            .collect()
    }

    pub fn wait_for(&self, what: &str, pred: impl Fn(&Value) -> bool) {
        support::wait_until(T, || self.lines().iter().any(&pred), what);
    }
}

impl Drop for EventLog {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether a record holds `file` with `source`.
pub fn holds(r: &Value, file: &Path, source: &str) -> bool {
    r["conversation"]["file"].as_str() == file.to_str() && r["conversation"]["source"] == source
}

pub fn now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `2026-11-23T21:25:34.000Z` for an epoch second (UTC, proleptic Gregorian).
pub fn iso(epoch: i64) -> String {
    let (days, secs) = (epoch.div_euclid(86_400), epoch.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.000Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// A pi session file's lines: header (`id`, `cwd`, created at `created`),
/// then one user message `text` and an assistant reply `reply`.
pub fn pi_lines(id: &str, cwd: &Path, created: i64, text: &str, reply: &str) -> String {
    let ts = iso(created);
    let lines = [
        json!({"type": "session", "version": 3, "id": id, "timestamp": ts, "cwd": cwd}),
        json!({"type": "message", "id": "m1", "timestamp": ts,
               "message": {"role": "user", "content": [{"type": "text", "text": text}]}}),
        json!({"type": "message", "id": "m2", "timestamp": ts,
               "message": {"role": "assistant", "content": [{"type": "text", "text": reply}],
                           "stopReason": "stop"}}),
    ];
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// A `session_info` line naming the conversation (pi's `/name`).
pub fn pi_name(name: &str) -> String {
    format!("{}\n", json!({"type": "session_info", "name": name}))
}

/// `<pi dir>/<created with : and . as ->_<id>.jsonl`.
pub fn pi_file(dir: &Path, id: &str, created: i64) -> PathBuf {
    dir.join(format!(
        "{}_{id}.jsonl",
        iso(created).replace([':', '.'], "-")
    ))
}

/// Appends `data` to `path` (creating it and its directory).
pub fn append(path: &Path, data: &str) {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("mkdir");
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open for append");
    f.write_all(data.as_bytes()).expect("append");
}

/// A `status` field (`VmRSS`, `VmHWM`) of `pid`, in KiB.
pub fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}
