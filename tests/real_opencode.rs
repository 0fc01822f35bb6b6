//! The real OpenCode TUI (1.18.33, pinned by .ci/setup-agents) under `amux
//! run` in a terminal, against the fake chat-completions server of
//! `support/model.rs` (an `@ai-sdk/openai-compatible` provider given in
//! `OPENCODE_CONFIG_CONTENT`, bash permission `ask`). amux's plugin
//! (adapters/opencode.rs) says each moment: the record names the
//! conversation (its log and OpenCode's `ses_…` id) soon after the first
//! prompt, takes OpenCode's title, is `waiting` for the command while the
//! permission dialog shows — and still after the daemon is killed and
//! comes back —, `working` then `idle` and unread once approved, `idle`
//! once rejected, `error` after an HTTP 400; `amux resume` continues the
//! same conversation with the user's flags; and nothing of amux lands in
//! OpenCode's or the user's directories.
//!
//! OpenCode asks its model for a title (a request with no tools) beside
//! the first prompt's: the fake server counts it as a turn, so the first
//! prompt is answered unscripted and scripts start after it. OpenCode's
//! first-start npm install of its plugin SDK is made to fail at once
//! (`npm_config_offline`): the plugin needs none of it.

use crate::support::daemon::{World, T as QUICK};
use crate::support::model::FakeModel;
use crate::support::pty::Pty;
use crate::support::script::Answer;
use crate::support::{self, output_within};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Deadline for what OpenCode does (start, answer a turn) on a slow machine.
const T: Duration = Duration::from_secs(60);
/// The record names the conversation this soon after the first prompt.
const NAMED: Duration = Duration::from_millis(500);
/// The record says `waiting` this soon after the dialog shows.
const NOTICED: Duration = Duration::from_millis(300);
const REPLY: &str = "Hello from the fake model";
const COMMAND: &str = "touch created-by-tool.txt";
const READY: &str = "Ask anything";
const DIALOG: &str = "Permission required";

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A daemon, the fake model, and OpenCode under `amux run` in a terminal.
struct Session {
    term: Pty,
    id: String,
    cwd: PathBuf,
    server: FakeModel,
    w: World,
}

/// OpenCode's environment: its own directories in the test's, the fake
/// provider, nothing fetched.
fn opencode_env(w: &World, port: u16) -> Vec<(String, String)> {
    let config = json!({"autoupdate": false, "share": "disabled",
        "model": "fake/fake-model", "small_model": "fake/fake-model",
        "permission": {"bash": "ask", "edit": "ask"},
        "provider": {"fake": {"npm": "@ai-sdk/openai-compatible", "name": "Fake",
            "options": {"baseURL": format!("http://127.0.0.1:{port}/v1"), "apiKey": "fake-key"},
            "models": {"fake-model": {"name": "Fake Model", "tool_call": true,
                "limit": {"context": 100000, "output": 4096}}}}}});
    let root = &w.env.root;
    [
        ("OPENCODE_CONFIG_CONTENT", config.to_string()),
        ("XDG_DATA_HOME", root.join("data").display().to_string()),
        ("XDG_CONFIG_HOME", root.join("config").display().to_string()),
        ("OPENCODE_DISABLE_AUTOUPDATE", "1".into()),
        ("OPENCODE_DISABLE_MODELS_FETCH", "1".into()),
        ("npm_config_offline", "true".into()),
    ]
    .map(|(k, v)| (k.to_string(), v))
    .to_vec()
}

impl Session {
    fn start(args: &[&str]) -> Session {
        let mut w = World::new();
        w.start_daemon();
        let server = FakeModel::start(REPLY);
        let cwd = w.cwd("proj");
        let opencode = support::opencode().display().to_string();
        let argv: Vec<String> = ["run", "--", &opencode]
            .iter()
            .chain(args)
            .map(|a| a.to_string())
            .collect();
        let term = spawn(&w, &argv, &cwd, server.port);
        let mut s = Session {
            term,
            id: String::new(),
            cwd,
            server,
            w,
        };
        s.id = s.wait_ready(READY);
        s
    }

    /// Waits for `marker` on OpenCode's screen; the live session's id.
    fn wait_ready(&mut self, marker: &str) -> String {
        self.term.wait_for(marker, T);
        let mut id = String::new();
        support::wait_until(
            QUICK,
            || {
                id = (self.w.ls(false).iter())
                    .find(|r| r["alive"] == true)
                    .map_or(String::new(), |r| {
                        r["id"].as_str().unwrap_or_default().into()
                    });
                !id.is_empty()
            },
            "the session in amux ls",
        );
        id
    }

    /// Polls `ls --json` (reading the terminal meanwhile) until the record
    /// satisfies `pred`.
    fn wait_record(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + T;
        loop {
            let r = self.w.record(&self.id, false);
            if let Some(r) = r.as_ref().filter(|r| pred(r)) {
                return r.clone();
            }
            assert!(
                Instant::now() < deadline,
                "{} not {what} within {T:?}; last record: {r:#?}\nterminal:\n{}\ndaemon.log:\n{}",
                self.id,
                self.term.text(),
                self.w.log()
            );
            self.term.read_some(Duration::from_millis(10));
        }
    }

    /// Types `line` and submits it once OpenCode shows it; when it was sent.
    fn prompt(&mut self, line: &str) -> Instant {
        let from = self.term.output.len();
        self.term.write(line.as_bytes());
        self.term
            .wait_for_from(from, line.split(' ').next_back().unwrap_or(line), T);
        self.term.write(b"\r");
        Instant::now()
    }

    /// Waits for the permission dialog: `waiting` for the command, and
    /// how long after the dialog showed.
    fn until_waiting(&mut self, from: usize) -> (Value, Duration) {
        self.term.wait_for_from(from, DIALOG, T);
        let shown = Instant::now();
        let r = self.wait_record("waiting", |r| r["status"]["state"] == "waiting");
        (r, shown.elapsed())
    }
}

fn spawn(w: &World, argv: &[String], cwd: &Path, port: u16) -> Pty {
    Pty::spawn_with(&w.env, argv, 120, 40, |cmd| {
        cmd.current_dir(cwd).envs(opencode_env(w, port));
    })
}

fn now_ms() -> i64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    now.map_or(0, |d| d.as_millis() as i64)
}

fn state(r: &Value) -> &str {
    r["status"]["state"].as_str().unwrap_or_default()
}

/// The resume command after its launcher.
fn resume_tail(r: &Value) -> Vec<String> {
    let words = r["resume_command"].as_array().cloned().unwrap_or_default();
    let words = words
        .iter()
        .skip(1)
        .map(|w| w.as_str().unwrap_or_default().to_string());
    words.collect()
}

fn assert_asks_for_the_command(r: &Value) {
    let w = &r["status"]["waiting"];
    assert_eq!(w["kind"], "permission", "{r:#}");
    assert_eq!(w["tool"], "bash", "{r:#}");
    assert_eq!(w["text"], COMMAND, "{r:#}");
    assert_eq!(r["status"]["source"], "hook", "{r:#}");
}

fn bash_call() -> Answer {
    Answer::Tool {
        name: "bash".into(),
        input: json!({"command": COMMAND, "description": "Create a file"}),
    }
}

/// One OpenCode, every moment in turn.
#[test]
fn named_titled_waiting_approved_rejected_failed_and_kept_across_a_daemon_restart() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut s = Session::start(&["-m", "fake/fake-model"]);
    assert_eq!(
        s.w.record(&s.id, false).expect("record")["kind"],
        "opencode"
    );

    let sent = s.prompt("say hello");
    let r = s.wait_record("named", |r| r["conversation"]["id"].is_string());
    let (took, named_ms) = (sent.elapsed(), now_ms());
    let conv = &r["conversation"];
    let file = PathBuf::from(conv["file"].as_str().expect("a file"));
    let id = conv["id"].as_str().expect("an id").to_string();
    assert!(id.starts_with("ses_"), "{r:#}");
    let log = s.w.env.root.join(format!("state/amux/opencode/{id}.jsonl"));
    assert_eq!(file, log);
    assert_eq!(conv["source"], "hook", "{r:#}");
    // OpenCode makes the conversation some time after the Enter (0.07 s
    // to a second, measured): amux's part is from then on.
    let first: Value = serde_json::from_str(
        std::fs::read_to_string(&log)
            .expect("the log")
            .lines()
            .next()
            .expect("a line"),
    )
    .expect("JSON");
    let created = first["properties"]["info"]["time"]["created"]
        .as_i64()
        .expect("time");
    let after = Duration::from_millis((named_ms - created).max(0) as u64);
    println!("first prompt -> conversation named in {took:?}, {after:?} after OpenCode made it");
    assert!(after <= NAMED, "named {after:?} after OpenCode made it");
    let r = s.wait_record("idle, unread, titled", |r| {
        state(r) == "idle" && r["unread"] == true && r["title"] == REPLY
    });
    assert_eq!(resume_tail(&r), ["-m", "fake/fake-model", "-s", &id]);

    // Approved: the command runs, the reply comes.
    s.server.script().push(bash_call());
    let from = s.term.output.len();
    s.prompt("please runcmd");
    let (r, took) = s.until_waiting(from);
    println!("permission dialog -> waiting in {took:?}");
    assert_asks_for_the_command(&r);
    assert!(took <= NOTICED, "waiting came {took:?} after the dialog");
    // The daemon dies while OpenCode waits; the one that comes back says
    // the same.
    s.w.kill_daemon();
    s.w.start_daemon();
    let r = s.wait_record("waiting again", |r| state(r) == "waiting");
    assert_asks_for_the_command(&r);
    s.term.write(b"\r");
    let r = s.wait_record("idle with the reply unread", |r| {
        state(r) == "idle" && r["unread"] == true
    });
    assert!(r["status"]["waiting"].is_null(), "{r:#}");
    assert!(
        s.cwd.join("created-by-tool.txt").exists(),
        "the command did not run"
    );
    std::fs::remove_file(s.cwd.join("created-by-tool.txt")).expect("rm");

    // Rejected: OpenCode ends the turn.
    s.server.script().push(bash_call());
    let from = s.term.output.len();
    s.prompt("please runcmd again");
    s.until_waiting(from);
    s.term.write(b"\x1b[C");
    s.term.write(b"\x1b[C");
    s.term.read_some(Duration::from_millis(300));
    s.term.write(b"\r");
    let r = s.wait_record("idle after the reject", |r| state(r) == "idle");
    assert_eq!(r["unread"], false, "{r:#}");
    assert!(
        !s.cwd.join("created-by-tool.txt").exists(),
        "rejected, yet it ran"
    );

    // An HTTP 400: the turn failed.
    s.server.script().push(Answer::Fail {
        status: 400,
        retry_after: None,
    });
    s.prompt("please failnow");
    let r = s.wait_record("error", |r| state(r) == "error");
    assert_eq!(r["status"]["error"], true, "{r:#}");
    assert_eq!(r["conversation"]["id"], id.as_str(), "{r:#}");
}

/// What OpenCode's directories and the project hold after a session: files
/// (relative paths) whose name or contents name amux.
fn amux_traces(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() && !p.is_symlink() {
                stack.push(p);
            } else if p.to_string_lossy().contains("amux")
                || std::fs::read(&p).is_ok_and(|b| b.windows(8).any(|w| w == b"AMUX_HOO"))
            {
                out.push(p.display().to_string());
            }
        }
    }
    out
}

/// Quit, `amux resume`: the same conversation, the user's flags; nothing of
/// amux outside amux's own directories.
#[test]
fn resume_continues_the_same_session_and_nothing_is_written_outside_amux() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut s = Session::start(&["--agent", "build"]);
    s.prompt("say hello");
    let r = s.wait_record("idle, unread", |r| {
        state(r) == "idle" && r["unread"] == true
    });
    let id = r["conversation"]["id"].as_str().expect("an id").to_string();
    let file = r["conversation"]["file"].clone();
    let old = s.id.clone();
    s.term.write(b"\x03");
    s.term.wait_exit(T);
    let r =
        s.w.wait_record_all(&old, true, "dead", |r| r["alive"] == false);
    assert_eq!(resume_tail(&r), ["--agent", "build", "-s", &id]);

    let argv = vec!["resume".to_string(), old.clone()];
    s.term = spawn(&s.w, &argv, &s.cwd.clone(), s.server.port);
    // The conversation so far, on the screen.
    s.id = s.wait_ready(REPLY);
    assert_ne!(s.id, old);
    let r = s.wait_record("holding the old conversation", |r| {
        r["conversation"]["id"] == id.as_str()
    });
    assert_eq!(r["conversation"]["file"], file, "{r:#}");
    assert_eq!(r["conversation"]["source"], "argv", "{r:#}");
    let before = s.server.requests();
    s.prompt("say hello again");
    let r = s.wait_record("answered in it", |r| {
        state(r) == "idle" && r["unread"] == true
    });
    assert_eq!(r["conversation"]["id"], id.as_str(), "{r:#}");
    assert!(s.server.requests() > before);
    s.term.write(b"\x03");
    s.term.wait_exit(T);

    let root = &s.w.env.root;
    let plugin = root.join("cache/amux/opencode/plugin/amux.js");
    assert!(plugin.exists(), "no plugin at {}", plugin.display());
    for dir in [
        root.join("config"),
        root.join("data"),
        root.join("home"),
        s.cwd.clone(),
    ] {
        assert_eq!(
            amux_traces(&dir),
            Vec::<String>::new(),
            "in {}",
            dir.display()
        );
    }
    let o = output_within(s.w.amux(["ls", "--all"]), QUICK);
    assert!(o.status.success());
}
