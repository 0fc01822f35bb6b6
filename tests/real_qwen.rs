//! The real Qwen Code (0.24.4, pinned by .ci/setup-agents) under `amux
//! run` in a terminal, against the fake chat-completions server of
//! `support/model.rs` (`OPENAI_*`). Its hooks come as system defaults
//! amux writes per launch (`adapters/qwen.rs`); its conversation is its
//! chat's JSONL. The record must name the conversation at start, say
//! `waiting` with the command while Qwen's dialog is up, then `idle` with
//! the reply unread once approved; Esc denies; Esc mid-reply interrupts;
//! an API error is `error`; a daemon killed meanwhile comes back with the
//! same answers; a resume keeps the user's flags; nothing of amux lands in
//! `QWEN_HOME`.
//!
//! The tests take turns (`ONE_AT_A_TIME`): each runs a Qwen and the
//! figures measured are the daemon's.

use crate::support::daemon::{World, T as QUICK};
use crate::support::model::FakeModel;
use crate::support::pty::Pty;
use crate::support::script::Answer;
use crate::support::{self, output_within};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Deadline for what Qwen does (start, answer a turn) on a slow machine.
const T: Duration = Duration::from_secs(40);
const COMMAND: &str = "touch approved.txt";
/// What Qwen's permission dialog says.
const DIALOG: &str = "Allow execution of";
/// Qwen's prompt once it takes input.
const READY: &str = "Type your message";

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

struct Session {
    term: Pty,
    id: String,
    cwd: PathBuf,
    server: FakeModel,
    w: World,
}

impl Session {
    /// `amux run -- qwen --approval-mode default ARGS…`, once Qwen's
    /// prompt is up.
    fn start(args: &[&str]) -> Session {
        let mut w = World::new();
        w.start_daemon();
        let server = FakeModel::start("All done.");
        let cwd = w.cwd("proj");
        let home = w.env.root.join("home/.qwen");
        std::fs::create_dir_all(&home).expect("qwen home");
        let settings = crate::accuracy::hooked::QWEN_SETTINGS;
        std::fs::write(home.join("settings.json"), settings).expect("settings.json");
        let mut argv = vec![
            "run".to_string(),
            "--".into(),
            support::qwen().display().to_string(),
            "--approval-mode".into(),
            "default".into(),
        ];
        argv.extend(args.iter().map(|a| a.to_string()));
        let port = server.port;
        let mut term = Pty::spawn_with(&w.env, &argv, 120, 40, |cmd| {
            cmd.current_dir(&cwd).envs(provider(port));
        });
        term.wait_for(READY, T);
        let mut id = String::new();
        support::wait_until(
            QUICK,
            || {
                id = w.ls(false).first().map_or(String::new(), id_of);
                !id.is_empty()
            },
            "the session in amux ls",
        );
        Session {
            term,
            id,
            cwd,
            server,
            w,
        }
    }

    /// Polls `ls --json` (reading the terminal meanwhile) until `pred`.
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

    /// Types `text`, then Enter once Qwen shows it: when it went in.
    fn prompt(&mut self, text: &str) -> Instant {
        let typed = self.term.output.len();
        self.term.write(text.as_bytes());
        self.term
            .wait_for_from(typed, text.split(' ').next_back().unwrap_or(text), T);
        self.term.write(b"\r");
        Instant::now()
    }

    /// Waits for the dialog on the terminal after the prompt, then for
    /// `waiting`: the record, and how long after the dialog it came.
    fn until_waiting(&mut self, from: usize) -> (Value, Duration) {
        self.term.wait_for_from(from, DIALOG, T);
        let shown = Instant::now();
        let r = self.wait_record("waiting", |r| r["status"]["state"] == "waiting");
        (r, shown.elapsed())
    }

    /// The daemon killed with SIGKILL and started again.
    fn restart_daemon(&mut self) {
        self.w.kill_daemon();
        self.w.start_daemon();
    }
}

/// Qwen's settings for the fake server (its OpenAI-compatible client).
fn provider(port: u16) -> Vec<(String, String)> {
    [
        ("OPENAI_BASE_URL", format!("http://127.0.0.1:{port}/v1")),
        ("OPENAI_API_KEY", "fake-key".into()),
        ("OPENAI_MODEL", "fake-model".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

fn id_of(r: &Value) -> String {
    r["id"].as_str().unwrap_or_default().to_string()
}

fn tool() -> Answer {
    Answer::Tool {
        name: "run_shell_command".into(),
        input: json!({"command": COMMAND, "description": "Make the file"}),
    }
}

fn assert_asks_for_the_command(r: &Value) {
    let status = &r["status"];
    // Its hook, or its window title (which says less, and keeps the rest).
    let source = status["source"].as_str().unwrap_or_default();
    assert!(["hook", "window-title"].contains(&source), "{r:#}");
    assert_eq!(status["waiting"]["kind"], "permission", "{r:#}");
    assert_eq!(status["waiting"]["tool"], "run_shell_command", "{r:#}");
    assert_eq!(status["waiting"]["text"], COMMAND, "{r:#}");
}

/// The conversation is named at start, the first prompt titles it; the
/// dialog is `waiting` with its command; `wait --until waiting && send 1`
/// approves it; the reply is unread.
#[test]
fn a_permission_is_waiting_with_its_command_and_approving_it_ends_idle_unread() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut s = Session::start(&[]);
    let r = s.wait_record("named", |r| r["conversation"]["file"].is_string());
    let file = r["conversation"]["file"].as_str().unwrap_or_default();
    let chats = s.w.env.root.join("home/.qwen/projects");
    assert!(
        file.starts_with(&*chats.to_string_lossy()) && file.ends_with(".jsonl"),
        "{r:#}"
    );
    assert_eq!(r["conversation"]["source"], "hook", "{r:#}");
    s.server.script().push(tool());
    let from = s.term.output.len();
    s.prompt("please make the file");
    let (r, took) = s.until_waiting(from);
    println!("permission dialog -> waiting in {took:?}");
    assert_asks_for_the_command(&r);
    assert_eq!(r["title"], "please make the file", "{r:#}");
    let o = output_within(s.w.amux(["wait", &s.id, "--until", "waiting"]), QUICK);
    assert!(o.status.success(), "wait --until waiting: {o:?}");
    let o = output_within(s.w.amux(["send", &s.id, "1"]), QUICK);
    assert!(o.status.success(), "send 1: {o:?}");
    let r = s.wait_record("idle, unread", |r| {
        r["status"]["state"] == "idle" && r["unread"] == true
    });
    assert!(r["status"]["waiting"].is_null(), "{r:#}");
    assert!(
        s.cwd.join("approved.txt").exists(),
        "the command did not run"
    );
}

/// Esc at the dialog denies it: idle, nothing run. Esc mid-reply
/// interrupts: idle, nothing unread. An API error is `error` (and `wait`
/// says so). A daemon killed while Qwen waits, and while it is in error,
/// comes back saying the same.
#[test]
fn esc_denies_and_interrupts_an_api_error_is_an_error_and_a_killed_daemon_says_the_same() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut s = Session::start(&[]);
    s.server.script().push(tool());
    let from = s.term.output.len();
    s.prompt("please make the file");
    let (r, _) = s.until_waiting(from);
    assert_asks_for_the_command(&r);
    s.restart_daemon();
    let r = s.wait_record("waiting after a restart", |r| {
        r["status"]["state"] == "waiting"
    });
    assert_asks_for_the_command(&r);
    s.term.write(b"\x1b");
    s.wait_record("idle", |r| r["status"]["state"] == "idle");
    assert!(!s.cwd.join("approved.txt").exists(), "denied, yet it ran");

    s.server.script().push(Answer::Slow {
        text: "one two three four five six".into(),
        chunks: 6,
        gap: Duration::from_millis(700),
    });
    let from = s.term.output.len();
    s.prompt("answer slowly");
    s.term.wait_for_from(from, "one", T);
    s.wait_record("working", |r| r["status"]["state"] == "working");
    s.term.write(b"\x1b");
    let r = s.wait_record("idle after Esc", |r| r["status"]["state"] == "idle");
    assert_eq!(r["unread"], false, "an interrupted reply: {r:#}");

    s.server.script().push(Answer::Fail {
        status: 400,
        retry_after: None,
    });
    let o = output_within(
        s.w.amux(["send", &s.id, "now fail please", "--enter"]),
        QUICK,
    );
    assert!(o.status.success(), "send: {o:?}");
    s.wait_record("error", |r| r["status"]["state"] == "error");
    let o = output_within(s.w.amux(["wait", &s.id, "--until", "idle"]), QUICK);
    assert_eq!(o.status.code(), Some(4), "wait says the turn failed: {o:?}");
    s.restart_daemon();
    let r = s.wait_record("error after a restart", |r| {
        r["status"]["state"] != "working"
    });
    assert_eq!(
        r["status"]["state"],
        "error",
        "{r:#}\ndaemon.log:\n{}",
        s.w.log()
    );
}

/// `amux resume` of a Qwen started with `--approval-mode default` runs
/// `qwen --approval-mode default --resume ID`, holds the same conversation
/// and adds to it; nothing of amux is left in QWEN_HOME.
#[test]
fn a_resume_keeps_the_users_flags_and_the_conversation_and_qwen_home_stays_its_own() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut s = Session::start(&[]);
    s.prompt("say hello");
    let r = s.wait_record("unread", |r| r["unread"] == true);
    let file = r["conversation"]["file"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let before = s.term.output.len();
    s.term.write(b"/quit");
    s.term.wait_for_from(before, "quit", T);
    s.term.write(b"\r");
    let status = s.term.wait_exit(T);
    assert!(status.success(), "qwen exit: {status:?}");
    let old = s.id.clone();
    // The daemon hears of the end from the runner a moment after it exits.
    s.w.wait_record_all(&old, true, "ended", |r| r["alive"] == false);
    let mut cmd = s.w.amux(["resume", "-d", &old]);
    cmd.current_dir(&s.cwd).envs(provider(s.server.port));
    let o = output_within(cmd, QUICK);
    assert!(o.status.success(), "amux resume -d: {o:?}");
    s.id = String::from_utf8_lossy(&o.stdout).trim().to_string();
    let r = s.wait_record("resumed, holding the file", |r| {
        r["conversation"]["file"] == file.as_str()
    });
    let uuid = file
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .trim_end_matches(".jsonl");
    let want = json!([
        support::qwen().display().to_string(),
        "--approval-mode",
        "default",
        "--resume",
        uuid
    ]);
    assert_eq!(r["command"], want, "{r:#}");
    s.w.wait_screen(&s.id, READY);
    let o = output_within(s.w.amux(["send", &s.id, "hello again", "--enter"]), QUICK);
    assert!(o.status.success(), "send: {o:?}");
    let o = output_within(
        s.w.amux(["wait", &s.id, "--until", "idle", "--timeout", "40"]),
        T,
    );
    assert!(o.status.success(), "wait --until idle: {o:?}");
    let log = std::fs::read_to_string(&file).expect("the conversation");
    let prompts = log
        .lines()
        .filter(|l| l.contains("\"type\":\"user\""))
        .count();
    assert_eq!(prompts, 2, "one conversation, two prompts");
    let home = s.w.env.root.join("home/.qwen");
    let mut grep = s.w.env.command("grep", ["-rl", "amux"]);
    grep.arg(&home);
    let found = output_within(grep, QUICK);
    assert!(
        found.stdout.is_empty(),
        "amux in QWEN_HOME: {}",
        String::from_utf8_lossy(&found.stdout)
    );
}
