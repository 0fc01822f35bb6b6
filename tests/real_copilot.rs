//! The real Copilot CLI (1.0.102, pinned by .ci/setup-agents) under `amux
//! run` in a terminal, against the fake chat-completions server of
//! `support/model.rs` (Copilot's own provider settings, offline). Its
//! hooks come as a plugin directory amux writes per launch
//! (`adapters/copilot_hooks.rs`); its conversation is its session's
//! `events.jsonl`. The record must name the conversation at the first
//! prompt, say `waiting` with the command while Copilot's dialog is up,
//! then `idle` with the reply unread once approved; Esc denies; an API
//! error is `error`; a daemon killed meanwhile comes back with the same
//! answers; a resume keeps the user's flags; nothing of amux lands in
//! `COPILOT_HOME`.
//!
//! The tests take turns (`ONE_AT_A_TIME`): each runs a Copilot (a large
//! native process) and the figures measured are the daemon's.

use crate::support::daemon::{World, T as QUICK};
use crate::support::model::FakeModel;
use crate::support::pty::Pty;
use crate::support::script::Answer;
use crate::support::{self, output_within};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Deadline for what Copilot does (start, answer a turn) on a slow machine.
const T: Duration = Duration::from_secs(40);
const COMMAND: &str = "touch approved.txt";
/// What Copilot's permission dialog says.
const DIALOG: &str = "Do you want to run this command?";
/// Copilot's footer once its prompt takes input.
const READY: &str = "Manual Approval";

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

struct Session {
    term: Pty,
    id: String,
    cwd: PathBuf,
    server: FakeModel,
    w: World,
}

impl Session {
    /// `amux run -- copilot ARGS…`, once Copilot's prompt is up.
    fn start(args: &[&str]) -> Session {
        let mut w = World::new();
        w.start_daemon();
        let server = FakeModel::start("All done.");
        let cwd = w.cwd("proj");
        let home = w.env.root.join("home/.copilot");
        std::fs::create_dir_all(&home).expect("copilot home");
        // The folder-trust dialog, answered as a user would have.
        let config = json!({"trustedFolders": [cwd], "firstLaunchAt": "2026-12-06T00:00:00.000Z"});
        std::fs::write(home.join("config.json"), config.to_string()).expect("config.json");
        let mut argv = vec![
            "run".to_string(),
            "--".into(),
            support::copilot().display().to_string(),
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

    /// Types `text`, then Enter once Copilot shows it: when it went in.
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

/// Copilot's own settings for the fake server: its provider, offline, its
/// package unpacked once by .ci/setup-agents.
fn provider(port: u16) -> Vec<(String, String)> {
    [
        (
            "COPILOT_PROVIDER_BASE_URL",
            format!("http://127.0.0.1:{port}/v1"),
        ),
        ("COPILOT_PROVIDER_TYPE", "openai".into()),
        ("COPILOT_PROVIDER_API_KEY", "fake-key".into()),
        ("COPILOT_MODEL", "fake-model".into()),
        ("COPILOT_OFFLINE", "true".into()),
        ("COPILOT_AUTO_UPDATE", "false".into()),
        (
            "COPILOT_PKG_CACHE_HOME",
            support::copilot_pkg_cache().display().to_string(),
        ),
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
        name: "bash".into(),
        input: json!({"command": COMMAND, "description": "Make the file"}),
    }
}

fn assert_asks_for_the_command(r: &Value) {
    let status = &r["status"];
    assert_eq!(status["source"], "hook", "{r:#}");
    assert_eq!(status["waiting"]["kind"], "permission", "{r:#}");
    assert_eq!(status["waiting"]["tool"], "bash", "{r:#}");
    assert_eq!(status["waiting"]["text"], COMMAND, "{r:#}");
}

/// The first prompt names the conversation and titles the session; the
/// dialog is `waiting` with its command; `wait --until waiting && send 1`
/// approves it; the reply is unread.
#[test]
fn a_permission_is_waiting_with_its_command_and_approving_it_ends_idle_unread() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut s = Session::start(&[]);
    s.server.script().push(tool());
    let from = s.term.output.len();
    let entered = s.prompt("please make the file");
    let r = s.wait_record("named", |r| r["conversation"]["file"].is_string());
    println!(
        "first prompt -> conversation named in {:?}",
        entered.elapsed()
    );
    let file = r["conversation"]["file"].as_str().unwrap_or_default();
    assert!(file.ends_with("/events.jsonl"), "{r:#}");
    assert!(file.starts_with(
        &*s.w
            .env
            .root
            .join("home/.copilot/session-state")
            .to_string_lossy()
    ));
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

/// Esc at the dialog denies it: idle, nothing run, nothing unread. An API
/// error is `error`. A daemon killed while Copilot waits, and while it is
/// in error, comes back saying the same.
#[test]
fn esc_denies_an_api_error_is_an_error_and_a_killed_daemon_says_the_same_after() {
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
    let denied = s.term.output.len();
    s.term.write(b"\x1b");
    let r = s.wait_record("idle", |r| r["status"]["state"] == "idle");
    // Keys sent while Copilot still cancels are dropped: it is done when
    // it says so.
    s.term.wait_for_from(denied, "cancelled by user", T);
    assert_eq!(r["unread"], false, "{r:#}");
    assert!(!s.cwd.join("approved.txt").exists(), "denied, yet it ran");

    s.server.script().push(Answer::Fail {
        status: 400,
        retry_after: None,
    });
    // Copilot draws only the cells that change: what is typed next may
    // never show whole on the terminal, so this prompt goes as a script's.
    let o = output_within(
        s.w.amux(["send", &s.id, "now fail please", "--enter"]),
        QUICK,
    );
    assert!(o.status.success(), "send: {o:?}");
    let r = s.wait_record("error", |r| r["status"]["state"] == "error");
    assert_eq!(r["status"]["error"], true, "{r:#}");
    s.restart_daemon();
    let r = s.wait_record("error after a restart", |r| {
        r["status"]["state"] != "working"
    });
    assert_eq!(r["status"]["state"], "error", "{r:#}");
}

/// `amux resume` of a Copilot started with `--model` runs `copilot --model
/// fake-model --resume=ID`, holds the same conversation and adds to it;
/// nothing of amux is left in COPILOT_HOME.
#[test]
fn a_resume_keeps_the_users_flags_and_the_conversation_and_copilot_home_stays_its_own() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut s = Session::start(&["--model", "fake-model"]);
    s.prompt("say hello");
    let r = s.wait_record("unread", |r| r["unread"] == true);
    let file = r["conversation"]["file"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    // Copilot quits on a second Ctrl-C (one that comes while it still
    // draws the reply may be taken for nothing: pressed again, as a user
    // would, until it asks for the second).
    let deadline = Instant::now() + T;
    loop {
        let before = s.term.output.len();
        s.term.write(b"\x03");
        let asked = Instant::now() + Duration::from_secs(2);
        while Instant::now() < asked && !s.term.output[before..].windows(5).any(|w| w == b"again") {
            s.term.read_some(Duration::from_millis(20));
        }
        if s.term.output[before..].windows(5).any(|w| w == b"again") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Copilot never asked for a second Ctrl-C:\n{}",
            s.term.text()
        );
    }
    s.term.write(b"\x03");
    let status = s.term.wait_exit(T);
    assert!(status.success(), "copilot exit: {status:?}");
    let old = s.id.clone();
    // The daemon hears of the end from the runner a moment after it exits.
    s.w.wait_record_all(&old, true, "ended", |r| r["alive"] == false);
    let mut cmd = s.w.amux(["resume", "-d", &old]);
    cmd.current_dir(&s.cwd).envs(provider(s.server.port));
    let o = output_within(cmd, QUICK);
    assert!(o.status.success(), "amux resume -d: {o:?}");
    s.id = String::from_utf8_lossy(&o.stdout).trim().to_string();
    // Copilot drops keys that come before its prompt is up (and nothing
    // it says tells amux so): a script waits for the prompt first — and,
    // resumed, for the conversation it loads (its footer shows before).
    s.w.wait_screen(&s.id, READY);
    s.w.wait_screen(&s.id, "say hello");
    let r = s.wait_record("resumed, holding the file", |r| {
        r["conversation"]["file"] == file.as_str()
    });
    let uuid = file.rsplit('/').nth(1).unwrap_or_default();
    let want = json!([
        support::copilot().display().to_string(),
        "--model",
        "fake-model",
        format!("--resume={uuid}")
    ]);
    assert_eq!(r["command"], want, "{r:#}");
    let o = output_within(s.w.amux(["send", &s.id, "hello again", "--enter"]), QUICK);
    assert!(o.status.success(), "send: {o:?}");
    let o = output_within(
        s.w.amux(["wait", &s.id, "--until", "idle", "--timeout", "40"]),
        T,
    );
    assert!(o.status.success(), "wait --until idle: {o:?}");
    let log = std::fs::read_to_string(&file).expect("the conversation");
    assert_eq!(
        log.matches("\"user.message\"").count(),
        2,
        "one conversation, two prompts"
    );
    let home = s.w.env.root.join("home/.copilot");
    let mut grep = s.w.env.command("grep", ["-rl", "amux"]);
    grep.arg(&home);
    let found = output_within(grep, QUICK);
    assert!(
        found.stdout.is_empty(),
        "amux in COPILOT_HOME: {}",
        String::from_utf8_lossy(&found.stdout)
    );
}
