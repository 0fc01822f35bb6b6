//! The real Codex TUI (0.169.0, pinned by .ci/setup-agents) under `amux
//! run` in a terminal, against the fake Responses API of
//! `support/responses.rs`. Its model asks to
//! run a command outside the sandbox; under `-a on-request` Codex asks the
//! user, and says so only as an OSC 9 when asked to: amux asks for it at
//! launch (`-c tui.notification…`, adapters/codex.rs) unless the user
//! configured notifications. The record must be `waiting` for that
//! permission within `NOTICED` of the notification, then `working` once
//! approved and `idle` with an unread reply; the notification amux caused
//! must reach neither the foreground terminal nor an attacher, the
//! user's own must reach the terminal untouched.
//!
//! The tests take turns (`ONE_AT_A_TIME`): each runs a Codex, and the
//! figure measured is the daemon's, not the scheduler's on two cores.

use crate::support::daemon::{World, T as QUICK};
use crate::support::pty::Pty;
use crate::support::responses::FakeResponses;
use crate::support::{self, output_within};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Deadline for what Codex does (start, answer a turn) on a slow machine.
const T: Duration = Duration::from_secs(30);
/// The record says `waiting` this soon after the OSC 9.
const NOTICED: Duration = Duration::from_millis(500);
const COMMAND: &str = "touch approved.txt";
const REPLY: &str = "Done: the file exists.";
/// What Codex's approval dialog says first.
const DIALOG: &str = "Would you like to run the following command?";
const OSC9: &str = "\u{1b}]9;";
const ASKED: &str = "\u{1b}]9;Approval requested: touch approved.txt\u{7}";
/// The user's own notifications, as they would configure them.
const THEIR_TUI: &str = "\n[tui]\nnotifications = [\"approval-requested\"]\n\
    notification_method = \"osc9\"\nnotification_condition = \"always\"\n";

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A daemon, the fake model, and Codex under `amux run` in a terminal.
struct Session {
    term: Pty,
    /// `amux attach ID` in a terminal of its own, once started.
    attacher: Option<Pty>,
    id: String,
    cwd: PathBuf,
    server: FakeResponses,
    w: World,
}

impl Session {
    /// `amux run -- codex -a on-request ARGS…` with `extra` appended to
    /// its config.toml and `env` set; once Codex's screen is up.
    fn start(extra: &str, args: &[&str], env: &[(&str, &str)]) -> Session {
        let codex = support::codex();
        let mut w = World::new();
        w.start_daemon();
        let server = FakeResponses::start(COMMAND, REPLY);
        let cwd = w.cwd("proj");
        std::fs::create_dir_all(w.codex_home()).expect("codex home");
        let config = server.config_toml(&cwd, extra);
        std::fs::write(w.codex_home().join("config.toml"), config).expect("config.toml");
        let mut argv = vec!["run".to_string(), "--".into(), codex.display().to_string()];
        argv.extend(
            ["-a", "on-request"]
                .iter()
                .chain(args)
                .map(|a| a.to_string()),
        );
        let mut term = Pty::spawn_with(&w.env, &argv, 120, 40, |cmd| {
            cmd.current_dir(&cwd).env("CODEX_HOME", w.codex_home());
            cmd.envs(env.iter().copied());
        });
        // The footer names the model once the composer is up.
        term.wait_for("gpt-fake", T);
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
            attacher: None,
            id,
            cwd,
            server,
            w,
        }
    }

    /// Starts `amux attach ID` in a terminal of its own.
    fn attach(&mut self) {
        let mut attacher = Pty::spawn(&self.w.env, ["attach", &self.id], 120, 40);
        attacher.wait_for("gpt-fake", QUICK);
        self.attacher = Some(attacher);
    }

    /// Reads what both terminals have (a terminal nobody reads would
    /// stall the runner's relay).
    fn pump(&mut self, wait: Duration) {
        self.term.read_some(wait);
        if let Some(a) = self.attacher.as_mut() {
            while a.read_some(Duration::ZERO) {}
        }
    }

    /// Polls `ls --json` (reading the terminals meanwhile) until the
    /// record satisfies `pred`.
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
                self.term.screen(60),
                self.w.log()
            );
            self.pump(Duration::from_millis(10));
        }
    }

    /// Waits until the terminal's bytes from offset `from` on hold
    /// `needle`; when they were read.
    fn wait_bytes(&mut self, from: usize, needle: &str) -> Instant {
        self.wait_bytes_within(from, needle, T).unwrap_or_else(|| {
            panic!(
                "{needle:?} not on the terminal within {T:?}:\n{}\ncodex's log:\n{}",
                self.term.screen(60),
                self.codex_log()
            )
        })
    }

    /// Like `wait_bytes`, or `None` after `within`.
    fn wait_bytes_within(
        &mut self,
        from: usize,
        needle: &str,
        within: Duration,
    ) -> Option<Instant> {
        let deadline = Instant::now() + within;
        loop {
            let hay = &self.term.output[from.min(self.term.output.len())..];
            if hay.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                return Some(Instant::now());
            }
            if Instant::now() >= deadline {
                return None;
            }
            self.pump(Duration::from_millis(10));
        }
    }

    /// The end of Codex's own log (for a failure message).
    fn codex_log(&self) -> String {
        let log = self.w.codex_home().join("log").join("codex-tui.log");
        let text = std::fs::read_to_string(&log).unwrap_or_else(|e| format!("{log:?}: {e}"));
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Waits until the attacher's bytes hold `needle`.
    fn wait_bytes_on_attacher(&mut self, needle: &str) {
        let deadline = Instant::now() + QUICK;
        loop {
            let a = self.attacher.as_ref().expect("attached");
            if a.output
                .windows(needle.len())
                .any(|w| w == needle.as_bytes())
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{needle:?} not on the attacher within {QUICK:?}:\n{}",
                a.screen(60)
            );
            self.pump(Duration::from_millis(10));
        }
    }

    /// Reads both terminals for a while (what is still on its way).
    fn settle(&mut self) {
        let quiet = Instant::now() + Duration::from_millis(300);
        while Instant::now() < quiet {
            self.pump(Duration::from_millis(50));
        }
    }

    /// Types the prompt and submits it once Codex shows it (word by word:
    /// it moves the cursor over spaces); the terminal's output offset
    /// before the answer.
    ///
    /// amux must take the keys (its runner says `input`). Codex itself,
    /// starting on a loaded machine, can draw its composer before it has
    /// taken the terminal over and flush what was typed meanwhile (once
    /// seen in CI: nothing of it drawn in 30 s); keys it never drew are
    /// cleared (Ctrl-U) and typed again, as a user would.
    fn prompt(&mut self) -> usize {
        let mut events = support::http::Sse::connect(&self.w.env.sock(&self.id));
        events.next_named("ready");
        for attempt in 1.. {
            let typed = self.term.output.len();
            self.term.write(b"\x15make the file");
            if attempt == 1 {
                // Only a line's first key is news.
                let input = events.next_named("input");
                assert_eq!(input.data["enter"], false, "{:?}", input.data);
            }
            let within = if attempt < 3 {
                Duration::from_secs(5)
            } else {
                T
            };
            if self.wait_bytes_within(typed, "file", within).is_some() {
                break;
            }
            if attempt == 3 {
                self.wait_bytes(typed, "file");
            }
            println!(
                "Codex drew none of the prompt in {within:?}; typing it again. Screen:\n{}",
                self.term.screen(12)
            );
        }
        let from = self.term.output.len();
        self.term.write(b"\r");
        from
    }

    /// Polls until the record is `waiting`: it, and how long that took
    /// from `since`.
    fn until_waiting(&mut self, since: Instant) -> (Value, Duration) {
        let r = self.wait_record("waiting", |r| r["status"]["state"] == "waiting");
        (r, since.elapsed())
    }
}

fn id_of(r: &Value) -> String {
    r["id"].as_str().unwrap_or_default().to_string()
}

/// The waiting record says what Codex asks: permission for the command,
/// from the OSC 9.
fn assert_asks_for_the_command(r: &Value) {
    let status = &r["status"];
    // Whichever of Codex's own signals told it first: its hook, the OSC 9
    // we asked for, its own OSC 7501 (which says less and so keeps what
    // another said).
    let source = status["source"].as_str().unwrap_or_default();
    assert!(["osc9", "hook", "osc7501"].contains(&source), "{r:#}");
    assert_eq!(status["waiting"]["kind"], "permission", "{r:#}");
    assert_eq!(status["waiting"]["text"], COMMAND, "{r:#}");
    assert_eq!(status["working"], false, "{r:#}");
}

/// The bytes relayed hold no OSC 9, bare or wrapped for tmux.
fn assert_no_osc9(who: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    assert!(
        !text.contains(OSC9) && !text.contains("\u{1b}Ptmux;"),
        "an OSC 9 amux caused reached {who}: {text:?}"
    );
}

/// The states of `id`'s records in the event stream, repeats folded.
fn states(events: &crate::support::daemon::EventLog, id: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in events.records(id) {
        let state = r["status"]["state"].as_str().unwrap_or("?").to_string();
        if out.last() != Some(&state) {
            out.push(state);
        }
    }
    out
}

/// Codex asks, amux says `waiting` at once and keeps the OSC 9 to
/// itself; `y` approves, the command runs, the reply comes: `working`,
/// then `idle` and unread.
#[test]
fn approval_is_waiting_then_working_then_idle_and_our_osc9_stays_ours() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut s = Session::start("", &[], &[]);
    let events = s.w.events();
    s.attach();
    let meta = support::http::meta(&s.w.env.sock(&s.id));
    assert!(
        !meta["command"].to_string().contains("tui.notification"),
        "the user's command stays theirs: {meta}"
    );

    let from = s.prompt();
    let asked = s.wait_bytes(from, DIALOG);
    let (r, took) = s.until_waiting(asked);
    println!("approval dialog on the terminal -> ls --json waiting in {took:?}");
    assert_asks_for_the_command(&r);
    assert!(took <= NOTICED, "waiting came {took:?} after the dialog");
    let o = output_within(
        s.w.amux(["wait", &s.id, "--until", "waiting", "--json"]),
        QUICK,
    );
    assert!(o.status.success(), "wait --until waiting: {o:?}");
    let printed: Value = serde_json::from_slice(&o.stdout).expect("record JSON");
    assert_eq!(printed["status"]["waiting"]["text"], COMMAND, "{printed:#}");
    // `amux explain` says Codex's OSC 9 asked (or, held for its question,
    // that the rollout's line let the OSC 9's report show).
    let e = support::explain(s.w.amux(["explain", &s.id, "--json"]));
    let change = support::change_to(&e, "waiting").unwrap_or_else(|| panic!("{e:#}"));
    // (or its hook, or its own OSC 7501; the timer shows it once the
    // dialog takes keys).
    let ours = |v: &Value, also: &str| {
        ["osc9", "hook", "osc7501", also].contains(&v.as_str().unwrap_or_default())
    };
    let by_codex = ours(&change["source"], "osc9") && ours(&change["signal"], "timer");
    assert!(by_codex, "{e:#}");
    let o = output_within(s.w.amux(["explain", &s.id]), QUICK);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("\nstate\twaiting\n"), "{text}");

    // The attacher saw the dialog without the OSC 9; it leaves before the
    // answer (a reply that arrives on an attached terminal is read).
    s.wait_bytes_on_attacher(DIALOG);
    let mut attacher = s.attacher.take().expect("attached");
    attacher.write(&[0x1c]);
    let status = attacher.wait_exit(QUICK);
    assert!(status.success(), "detach: {status:?}");
    assert_no_osc9("the attacher", &attacher.output);

    let approved = Instant::now();
    s.term.write(b"y");
    let r = s.wait_record("idle with the reply unread", |r| {
        r["status"]["state"] == "idle" && r["unread"] == true
    });
    println!("approved -> idle, unread in {:?}", approved.elapsed());
    assert!(r["status"]["waiting"].is_null(), "{r:#}");
    assert!(
        s.cwd.join("approved.txt").exists(),
        "the command did not run"
    );
    assert_eq!(s.server.turns(), 2, "a turn asking, a turn answering");
    // `ls` may answer before the events stream's reader has the line.
    events.wait_for("the idle record on the event stream", |l| {
        l["type"] == "session"
            && l["session"]["id"] == s.id.as_str()
            && l["session"]["status"]["state"] == "idle"
    });
    let seen = states(&events, &s.id);
    let tail: Vec<&str> = (seen.iter().skip_while(|st| *st != "waiting"))
        .map(String::as_str)
        .collect();
    // Working between the approval and the reply — unless the daemon read
    // the command's output and the reply in one go (a loaded machine: the
    // fake model answers in a moment), which is no wrong answer; never
    // anything else, and never waiting again.
    assert!(
        tail == ["waiting", "working", "idle"] || tail == ["waiting", "idle"],
        "states seen: {seen:?}"
    );
    events.wait_for("the approval notification event", |l| {
        l["type"] == "notification"
            && l["id"] == s.id.as_str()
            && l["body"] == json!(format!("Approval requested: {COMMAND}"))
    });

    // The turn-complete OSC 9 (the reply) was ours too.
    events.wait_for("the turn-complete notification event", |l| {
        l["type"] == "notification" && l["id"] == s.id.as_str() && l["body"] == REPLY
    });
    s.settle();
    assert_no_osc9("the terminal", &s.term.output);
}

/// Codex asks with the user's own notifications configured (`[tui]` in
/// their config.toml, or their own `-c`): amux injects nothing, the OSC 9
/// reaches the terminal as Codex wrote it, and it still says `waiting`.
fn theirs_pass_through(extra: &str, args: &[&str]) {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut s = Session::start(extra, args, &[]);
    let meta = support::http::meta(&s.w.env.sock(&s.id));
    let pid = meta["pid"].as_u64().expect("the agent's pid");
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).expect("cmdline");
    let injected = String::from_utf8_lossy(&cmdline)
        .matches("tui.notification")
        .count();
    assert_eq!(
        injected,
        args.len() / 2,
        "amux added overrides: {cmdline:?}"
    );

    let from = s.prompt();
    s.wait_bytes(from, ASKED);
    // Codex asks (its OSC 9) a second before its dialog takes keys;
    // amux says `waiting` once it does.
    let drawn = s.wait_bytes(from, DIALOG);
    let (r, took) = s.until_waiting(drawn);
    println!("their dialog on the terminal -> ls --json waiting in {took:?}");
    assert_asks_for_the_command(&r);
    assert!(took <= NOTICED, "waiting came {took:?} after the dialog");
    let shown = s.term.text();
    assert_eq!(shown.matches(ASKED).count(), 1, "{shown:?}");
}

#[test]
fn their_config_toml_notifications_reach_the_terminal() {
    theirs_pass_through(THEIR_TUI, &[]);
}

#[test]
fn their_own_dash_c_notifications_reach_the_terminal() {
    theirs_pass_through(
        "",
        &[
            "-c",
            r#"tui.notifications=["approval-requested"]"#,
            "-c",
            r#"tui.notification_method="osc9""#,
            "-c",
            r#"tui.notification_condition="always""#,
        ],
    );
}

/// amux run inside tmux: Codex wraps its OSC 9 in tmux's passthrough;
/// amux still reads it, and still keeps it from the terminal.
#[test]
fn inside_tmux_the_wrapped_osc9_is_ours_too() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let fake = format!("{}/no-tmux,1,0", std::env::temp_dir().display());
    let mut s = Session::start("", &[], &[("TMUX", &fake), ("TMUX_PANE", "%0")]);
    let from = s.prompt();
    let asked = s.wait_bytes(from, DIALOG);
    let (r, took) = s.until_waiting(asked);
    println!("approval dialog (inside tmux) -> ls --json waiting in {took:?}");
    assert_asks_for_the_command(&r);
    assert!(took <= NOTICED, "waiting came {took:?} after the dialog");
    s.settle();
    assert_no_osc9("the terminal", &s.term.output);
}

/// `amux answer`: `no` (Esc) denies the command, the turn ends and
/// nothing runs; asked again, `yes` (`y`) runs it, and `wait` after the
/// answer waits for the turn it resumed.
#[test]
fn amux_answer_no_denies_then_yes_runs() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut s = Session::start("", &[], &[]);
    let target = s.cwd.join("approved.txt");
    let answer = |s: &Session, word: &str| {
        let mut cmd = s.w.amux(["answer", &s.id, word]);
        cmd.stderr(std::process::Stdio::piped());
        output_within(cmd, QUICK)
    };

    let from = s.prompt();
    s.wait_bytes(from, DIALOG);
    s.until_waiting(Instant::now());
    let o = answer(&s, "no");
    assert!(o.status.success(), "answer no: {o:?}");
    let r = s.wait_record("no longer waiting", |r| r["status"]["state"] != "waiting");
    assert!(r["status"]["waiting"].is_null(), "{r:#}");
    s.wait_record("idle", |r| r["status"]["state"] == "idle");
    assert!(!target.exists(), "no ran the command");

    // The model asks again; this time yes.
    let call = json!({"cmd": COMMAND, "sandbox_permissions": "require_escalated",
        "justification": "The test wants it run outside the sandbox"});
    s.server
        .script()
        .push(crate::support::script::Answer::Tool {
            name: "exec_command".into(),
            input: call,
        });
    // Typed at once, Enter would be part of a paste: it waits until Codex
    // has drawn the line.
    let typed = s.term.output.len();
    s.term.write(b"make the file again");
    s.wait_bytes(typed, "again");
    s.settle();
    let from = s.term.output.len();
    s.term.write(b"\r");
    s.wait_bytes(from, DIALOG);
    s.until_waiting(Instant::now());
    let o = answer(&s, "yes");
    assert!(o.status.success(), "answer yes: {o:?}");
    let mut wait = s.w.amux(["wait", &s.id, "--json"]);
    wait.stdout(std::process::Stdio::piped());
    let mut child = wait.spawn().expect("amux wait");
    let deadline = Instant::now() + T;
    while child.try_wait().expect("wait's status").is_none() {
        assert!(Instant::now() < deadline, "wait after yes never returned");
        s.pump(Duration::from_millis(10));
    }
    assert!(child.wait().expect("wait's status").success());
    assert!(
        target.exists(),
        "yes did not run the command\n{}",
        s.term.screen(60)
    );
}
