//! Shared helpers for the integration tests (`tests/tests.rs` declares this
//! module once; the test modules `use crate::support`).
//!
//! `TestEnv` is one test's world: a fresh short directory under /tmp (socket
//! paths stay far below the 107-byte limit) holding the runtime dir, state,
//! cache, HOME, the pi agent dir and a working directory. Every command it
//! builds carries a marker variable naming that directory; on drop it kills
//! every process whose environment holds the marker (runners, detached
//! workers, agents and their children, whatever process group they moved
//! to), then removes the directory. The other files: `pty.rs` drives amux
//! through a terminal, `http.rs` talks HTTP/SSE over the session socket,
//! `model.rs` is a fake OpenAI-compatible server, `responses.rs` a fake
//! Responses API for Codex, `sshd.rs` a real OpenSSH server on loopback
//! for the remote-host tests, `daemon.rs` adds a daemon and stand-in agents
//! (`World`).

pub mod anthropic;
pub mod daemon;
pub mod gemini_api;
pub mod http;
pub mod model;
pub mod pty;
pub mod responses;
pub mod screen;
pub mod script;
pub mod sshd;
pub mod tmux;

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Variables of the test runner's own environment that would change what
/// amux or an agent does.
const SCRUB: &[&str] = &[
    "NODE_OPTIONS",
    "BUN_OPTIONS",
    "AMUX_RUNNER_SOCK",
    "AMUX_HOOK_FIFO",
    "AMUX_SESSION_ID",
    "XDG_RUNTIME_DIR",
    "XDG_CONFIG_HOME",
    "PI_CODING_AGENT_SESSION_DIR",
    // Inside tmux, Codex wraps its OSC 9 in tmux's passthrough.
    "TMUX",
    "TMUX_PANE",
];
const MARKER: &str = "AMUX_TEST_DIR";

pub struct TestEnv {
    pub root: PathBuf,
}

impl TestEnv {
    pub fn new() -> TestEnv {
        let mut bytes = [0u8; 6];
        rustix::rand::getrandom(&mut bytes, rustix::rand::GetRandomFlags::empty())
            .expect("getrandom");
        let suffix: String = bytes.iter().map(|b| (b'a' + b % 26) as char).collect();
        let root = PathBuf::from(format!("/tmp/at-{suffix}"));
        std::fs::create_dir(&root).expect("create the test dir");
        for dir in ["state", "cache", "home", "pi", "work"] {
            std::fs::create_dir(root.join(dir)).expect("create a test subdir");
        }
        TestEnv { root }
    }

    pub fn runtime(&self) -> PathBuf {
        self.root.join("rt")
    }
    pub fn sessions(&self) -> PathBuf {
        self.runtime().join("sessions")
    }
    pub fn sock(&self, id: &str) -> PathBuf {
        self.sessions().join(format!("{id}.sock"))
    }
    pub fn work(&self) -> PathBuf {
        self.root.join("work")
    }
    pub fn pi_dir(&self) -> PathBuf {
        self.root.join("pi")
    }
    /// Where pi (and the fake agents) keep conversations.
    pub fn pi_sessions(&self) -> PathBuf {
        self.pi_dir().join("sessions")
    }

    /// Makes the whole tree reachable by another uid (security tests).
    pub fn open_to_all(&self) {
        std::fs::set_permissions(&self.root, std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
    }

    /// Applies the isolated environment (and the kill marker) to `cmd`.
    pub fn apply(&self, cmd: &mut Command) {
        for var in SCRUB {
            cmd.env_remove(var);
        }
        // A CI machine's own markers (`CI`, `CI_*`) make Gemini CLI (its
        // `is-in-ci` check) start non-interactively, whatever the terminal.
        for (var, _) in std::env::vars_os() {
            let name = var.to_string_lossy();
            if name == "CI" || name == "CONTINUOUS_INTEGRATION" || name.starts_with("CI_") {
                cmd.env_remove(&var);
            }
        }
        cmd.env("AMUX_RUNTIME_DIR", self.runtime())
            .env("XDG_STATE_HOME", self.root.join("state"))
            .env("XDG_CACHE_HOME", self.root.join("cache"))
            .env("HOME", self.root.join("home"))
            .env("PI_CODING_AGENT_DIR", self.pi_dir())
            .env("AMUX_NO_DAEMON", "1")
            // pi: no startup network calls (update checks, telemetry).
            .env("PI_OFFLINE", "1")
            .env("PI_TELEMETRY", "0")
            .env(MARKER, &self.root)
            .current_dir(self.work());
    }

    /// `amux ARGS…` with the test's environment, stdin from /dev/null.
    pub fn amux<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.command(amux_bin(), args)
    }

    /// Any program with the test's environment, stdin from /dev/null.
    pub fn command<I, S>(&self, program: impl AsRef<OsStr>, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new(program);
        cmd.args(args).stdin(Stdio::null());
        self.apply(&mut cmd);
        cmd
    }

    /// `amux run -d ARGS…`: the new session's id, once its socket listens.
    pub fn run_detached<I, S>(&self, args: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = self.amux(["run", "-d", "--"]);
        cmd.args(args).stderr(Stdio::inherit());
        let out = output_within(cmd, Duration::from_secs(20));
        assert!(out.status.success(), "amux run -d failed: {:?}", out.status);
        let id = String::from_utf8(out.stdout)
            .expect("utf-8 id")
            .trim()
            .to_string();
        assert!(id.len() >= 10, "bad session id {id:?}");
        assert!(
            self.sock(&id).exists(),
            "no socket for {id} after run -d returned"
        );
        id
    }

    /// Waits until the session's socket is gone (the runner ended).
    pub fn wait_gone(&self, id: &str, timeout: Duration) {
        let sock = self.sock(id);
        wait_until(timeout, || !sock.exists(), &format!("runner {id} to exit"));
    }

    fn kill_marked(&self) {
        let needle = format!("{MARKER}={}\0", self.root.display()).into_bytes();
        let me = std::process::id();
        let Ok(procs) = std::fs::read_dir("/proc") else {
            return;
        };
        for entry in procs.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<i32>().ok())
            else {
                continue;
            };
            if pid as u32 == me {
                continue;
            }
            let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
                continue;
            };
            if environ
                .windows(needle.len())
                .any(|w| w == needle.as_slice())
            {
                if let Some(pid) = rustix::process::Pid::from_raw(pid) {
                    let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
                }
            }
        }
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        self.kill_marked();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

pub fn amux_bin() -> &'static str {
    env!("CARGO_BIN_EXE_amux")
}

pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `tests/agents/NAME` (the fake pi agents).
pub fn agent(name: &str) -> PathBuf {
    manifest_dir().join("tests/agents").join(name)
}

impl TestEnv {
    /// `tests/agents/NAME` seen through a directory named like pi's npm
    /// package, so amux's argv detector takes `node …/pi-coding-agent/NAME`
    /// for pi (and injects the preload) as it would the real one.
    pub fn fake_pi(&self, name: &str) -> PathBuf {
        let dir = self.root.join("pi-coding-agent");
        if !dir.exists() {
            std::os::unix::fs::symlink(manifest_dir().join("tests/agents"), &dir)
                .expect("symlink the fake agents");
        }
        dir.join(name)
    }
}

pub fn node() -> PathBuf {
    which("node").expect("node is not on PATH")
}

fn installed(rel: &str) -> PathBuf {
    let path = manifest_dir().join(".cache/agents/node_modules").join(rel);
    assert!(
        path.exists(),
        "{} is missing: run ./.ci/setup-agents (or make test)",
        path.display()
    );
    path
}

pub fn bun() -> PathBuf {
    installed(".bin/bun")
}

pub fn pi() -> PathBuf {
    installed(".bin/pi")
}

/// Claude Code 2.1.330's launcher (a native binary).
pub fn claude() -> PathBuf {
    installed(".bin/claude")
}

/// Codex 0.169.0's launcher (node picking its native binary).
pub fn codex() -> PathBuf {
    installed(".bin/codex")
}

/// Gemini CLI 0.61.0's launcher (node).
pub fn gemini() -> PathBuf {
    installed(".bin/gemini")
}

/// OpenCode 1.18.33 (a Bun-compiled binary).
pub fn opencode() -> PathBuf {
    installed(".bin/opencode")
}

/// Copilot CLI 1.0.102's launcher (node starting its native binary).
pub fn copilot() -> PathBuf {
    installed(".bin/copilot")
}

/// Where `.ci/setup-agents` unpacked Copilot's package once: point
/// `COPILOT_PKG_CACHE_HOME` here, or every fresh home unpacks 235 MB.
pub fn copilot_pkg_cache() -> PathBuf {
    manifest_dir().join(".cache/copilot-pkg")
}

/// Qwen Code 0.24.4's launcher (node).
pub fn qwen() -> PathBuf {
    installed(".bin/qwen")
}

/// pi's entry point, for `bun <cli.js>`.
pub fn pi_cli_js() -> PathBuf {
    installed("@mariozechner/pi-coding-agent/dist/cli.js")
}

pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Panics unless every one of `tools` is on `PATH`: a test without its
/// tools fails and says how to get them rather than passing unseen
/// (.ci/setup-tools installs them all, and `make test` runs it first).
#[track_caller]
pub fn require_tools(tools: &[&str]) {
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| which(t).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "{} missing from PATH: run .ci/setup-tools (make test does)",
        missing.join(", ")
    );
}

/// Polls `cond` every 10 ms until it holds; panics with `what` at the deadline.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool, what: &str) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs `cmd` with piped stdout/stderr (unless set), killing it and
/// panicking if it does not finish within `timeout`.
pub fn output_within(mut cmd: Command, timeout: Duration) -> Output {
    cmd.stdout(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let read_all = |r: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out_thread = read_all(stdout.map(|s| Box::new(s) as Box<dyn std::io::Read + Send>));
    let err_thread = read_all(stderr.map(|s| Box::new(s) as Box<dyn std::io::Read + Send>));
    let status = wait_child(&mut child, timeout);
    Output {
        status,
        stdout: out_thread.join().unwrap_or_default(),
        stderr: err_thread.join().unwrap_or_default(),
    }
}

pub fn wait_child(child: &mut std::process::Child, timeout: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("process {} did not exit within {timeout:?}", child.id());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `amux explain ID --json` (the command given, run to its end): the
/// daemon's explanation of a session.
pub fn explain(cmd: Command) -> serde_json::Value {
    let o = output_within(cmd, Duration::from_secs(30));
    assert!(o.status.success(), "amux explain: {o:?}");
    serde_json::from_slice(&o.stdout).expect("explain --json prints an object")
}

/// Polls `amux explain` (`explain` builds the command) until the daemon
/// has read `n` complete lines of the session's conversation file: the
/// fact that what a test wrote there is handled. Returns the explanation.
pub fn wait_lines(explain_cmd: impl Fn() -> Command, n: u64) -> serde_json::Value {
    let mut last = serde_json::Value::Null;
    wait_until(
        Duration::from_secs(30),
        || {
            last = explain(explain_cmd());
            last["lines"].as_u64().is_some_and(|l| l >= n)
        },
        &format!("the daemon to read {n} lines"),
    );
    last
}

/// The explanation's change that made the record `state` last, if any.
pub fn change_to<'a>(explain: &'a serde_json::Value, state: &str) -> Option<&'a serde_json::Value> {
    let changes = explain["changes"].as_array()?;
    changes.iter().rev().find(|c| {
        c["state"] == state
            && c["changed"].as_array().is_some_and(|f| {
                f.iter()
                    .any(|f| f.as_str().is_some_and(|f| f.starts_with("state:")))
            })
    })
}

/// Session files under `dir`, recursively (pi writes one dir per cwd).
pub fn jsonl_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(jsonl_files(&path));
        } else if path.extension().is_some_and(|e| e == "jsonl") {
            out.push(path);
        }
    }
    out.sort();
    out
}
