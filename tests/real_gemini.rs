//! The real Gemini CLI (0.61.0, pinned by .ci/setup-agents) under `amux
//! run` in a terminal, against the fake Gemini API of
//! `support/gemini_api.rs`, with its own `GEMINI_CLI_HOME` holding the
//! settings interactive Gemini needs (an API key as its auth).
//!
//! Gemini re-executes itself; the preload hands itself on to the copy
//! that works, whose writes name the conversation. Its window title is
//! its state: `✋ Action Required` while its permission dialog is open,
//! `✦` while it works, `◇ Ready` between turns. The title names no
//! command, and Gemini writes the call only once answered: a `waiting`
//! record says `permission` and nothing more.
//!
//! The tests take turns (`ONE_AT_A_TIME`): each runs a Gemini, and the
//! figure measured is the daemon's, not the scheduler's on two cores.

use crate::support::daemon::{World, T as QUICK};
use crate::support::gemini_api::FakeGemini;
use crate::support::pty::Pty;
use crate::support::{self, output_within};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Deadline for what Gemini does (start, answer a turn) on a slow machine.
const T: Duration = Duration::from_secs(60);
/// The record names the conversation this soon after the first Enter.
const NAMED: Duration = Duration::from_millis(500);
/// The record says `waiting` this soon after the dialog shows.
const NOTICED: Duration = Duration::from_millis(300);
const COMMAND: &str = "touch approved.txt";
const REPLY: &str = "Done: the file exists.";
/// What Gemini's permission dialog says.
const DIALOG: &str = "Allow execution";
/// Gemini's prompt, once it takes input.
const READY: &str = "Type your message";
const ASKED: &str = "please runcmd now";

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A daemon, the fake model, and Gemini under `amux run` in a terminal.
struct Session {
    term: Pty,
    id: String,
    cwd: PathBuf,
    home: PathBuf,
    server: FakeGemini,
    w: World,
}

impl Session {
    fn start(args: &[&str]) -> Session {
        let mut w = World::new();
        w.start_daemon();
        let server = FakeGemini::start(COMMAND, REPLY);
        let cwd = w.cwd("proj");
        let home = w.env.root.join("gemini-home");
        std::fs::create_dir_all(home.join(".gemini")).expect("gemini home");
        std::fs::write(
            home.join(".gemini/settings.json"),
            FakeGemini::settings_json(),
        )
        .expect("settings.json");
        let gemini = support::gemini().display().to_string();
        let mut argv = vec!["run", "--", gemini.as_str()];
        argv.extend(args);
        let term = open(&w, &server, &home, &cwd, &argv);
        let mut s = Session {
            term,
            id: String::new(),
            cwd,
            home,
            server,
            w,
        };
        s.find_id();
        s
    }

    /// `amux ARGV…` in a new terminal, as `open`; then its session.
    fn launch(&mut self, argv: &[&str]) {
        self.term = open(&self.w, &self.server, &self.home, &self.cwd, argv);
        self.find_id();
    }

    /// The one live session's id.
    fn find_id(&mut self) {
        let w = &self.w;
        let mut id = String::new();
        support::wait_until(
            QUICK,
            || {
                let live = w.ls(false);
                id = live.first().map_or(String::new(), id_of);
                !id.is_empty()
            },
            "the session in amux ls",
        );
        self.id = id;
    }

    /// Polls `ls --json` (reading the terminal meanwhile) until the
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
                self.term.text(),
                self.w.log()
            );
            self.term.read_some(Duration::from_millis(10));
        }
    }

    /// Waits until the terminal's bytes from offset `from` on hold
    /// `needle`; when they were read.
    fn wait_bytes(&mut self, from: usize, needle: &str) -> Instant {
        self.term.wait_for_from(from, needle, T);
        Instant::now()
    }

    /// Types `text` and submits it once Gemini shows it; the output
    /// offset before the Enter, and when it went.
    fn prompt(&mut self, text: &str) -> (usize, Instant) {
        let typed = self.term.output.len();
        self.term.write(text.as_bytes());
        let last = text.rsplit(' ').next().unwrap_or(text);
        self.wait_bytes(typed, last);
        // Gemini takes an Enter hard on the heels of typing as part of a
        // paste (a newline in the prompt), not as a submit.
        self.settle(Duration::from_millis(300));
        let from = self.term.output.len();
        self.term.write(b"\r");
        (from, Instant::now())
    }

    /// Reads the terminal for `d`.
    fn settle(&mut self, d: Duration) {
        let until = Instant::now() + d;
        while Instant::now() < until {
            self.term.read_some(Duration::from_millis(20));
        }
    }

    fn state(&mut self, state: &str) -> Value {
        self.wait_record(state, |r| r["status"]["state"] == state)
    }

    /// `/quit` (Gemini takes the first Enter as the completion's).
    fn quit(&mut self) {
        self.term.write(b"/quit");
        self.settle(Duration::from_millis(300));
        self.term.write(b"\r");
        self.settle(Duration::from_millis(300));
        self.term.write(b"\r");
        let status = self.term.wait_exit(T);
        assert!(status.success(), "gemini /quit: {status:?}");
    }
}

/// `amux ARGV…` in a terminal of its own, in `cwd` with Gemini's
/// environment; once Gemini takes input.
fn open(w: &World, server: &FakeGemini, home: &Path, cwd: &Path, argv: &[&str]) -> Pty {
    let env = server.env(home);
    let mut term = Pty::spawn_with(&w.env, argv, 120, 40, |cmd| {
        cmd.current_dir(cwd).envs(env.iter().map(|(k, v)| (k, v)));
    });
    term.wait_for(READY, T);
    term
}

/// The wall-clock time of a moment measured with `Instant`.
fn wall_at(at: Instant) -> std::time::SystemTime {
    std::time::SystemTime::now() - at.elapsed()
}

/// When Gemini created `file` (its first line's `startTime`).
fn created_at(file: &Path) -> std::time::SystemTime {
    let data = std::fs::read_to_string(file).unwrap_or_default();
    let first: Value = serde_json::from_str(data.lines().next().unwrap_or("")).unwrap_or_default();
    let stamp = first["startTime"]
        .as_str()
        .unwrap_or_else(|| panic!("no startTime: {data}"));
    std::time::UNIX_EPOCH + Duration::from_millis(epoch_ms(stamp))
}

/// `2026-12-06T07:42:31.543Z` in ms since the epoch (Howard Hinnant's
/// days_from_civil).
fn epoch_ms(stamp: &str) -> u64 {
    let n = |r: std::ops::Range<usize>| {
        stamp
            .get(r)
            .and_then(|t| t.parse::<i64>().ok())
            .unwrap_or(0)
    };
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + n(11..13) * 3600 + n(14..16) * 60 + n(17..19);
    (secs * 1000 + n(20..23)) as u64
}

fn id_of(r: &Value) -> String {
    r["id"].as_str().unwrap_or_default().to_string()
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

/// Gemini asks, amux names the conversation and says `waiting` at once;
/// `1` allows, the command runs, the reply comes: `working`, then `idle`
/// and unread.
#[test]
fn named_waiting_then_working_then_idle_unread() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut s = Session::start(&[]);
    let events = s.w.events();
    let r = s.state("idle");
    assert_eq!(r["kind"], "gemini", "{r:#}");
    assert_eq!(r["status"]["source"], "window-title", "{r:#}");

    let (from, entered) = s.prompt(ASKED);
    let r = s.wait_record("named", |r| r["conversation"]["file"].is_string());
    let named = std::time::SystemTime::now();
    let file = PathBuf::from(r["conversation"]["file"].as_str().unwrap_or_default());
    // Gemini creates its file when its chat is up, which may be after
    // its prompt shows (it queues what is typed meanwhile): amux names
    // it from the moment Gemini writes it, or the Enter if later.
    let created = created_at(&file);
    let since = created.max(wall_at(entered));
    let took = named.duration_since(since).unwrap_or_default();
    println!(
        "conversation named {took:?} after the Enter or Gemini's first write (the file {} the Enter)",
        match created > wall_at(entered) {
            true => "created after",
            false => "there before",
        }
    );
    assert!(took <= NAMED, "named {took:?} late");
    assert!(file.starts_with(s.home.join(".gemini/tmp")), "{r:#}");
    assert_eq!(r["conversation"]["source"], "shim", "{r:#}");

    let asked = s.wait_bytes(from, DIALOG);
    let r = s.state("waiting");
    let took = asked.elapsed();
    println!("permission dialog -> ls --json waiting in {took:?}");
    assert!(took <= NOTICED, "waiting came {took:?} after the dialog");
    let status = &r["status"];
    assert_eq!(status["source"], "window-title", "{r:#}");
    assert_eq!(status["waiting"]["kind"], "permission", "{r:#}");
    // The title names no command, and the file has no call yet.
    assert!(status["waiting"]["text"].is_null(), "{r:#}");
    assert_eq!(r["title"], ASKED, "{r:#}");
    let e = s.w.explain(&s.id);
    let change = support::change_to(&e, "waiting").unwrap_or_else(|| panic!("{e:#}"));
    assert_eq!(change["source"], "window-title", "{e:#}");
    let o = output_within(s.w.amux(["explain", &s.id]), QUICK);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("\nasks\tpermission; which tool and command unknown"),
        "{text}"
    );

    let approved = Instant::now();
    s.term.write(b"1");
    let r = s.wait_record("idle with the reply unread", |r| {
        r["status"]["state"] == "idle" && r["unread"] == true
    });
    println!("allowed -> idle, unread in {:?}", approved.elapsed());
    assert!(
        s.cwd.join("approved.txt").exists(),
        "the command did not run"
    );
    assert_eq!(s.server.turns(), 2, "a turn asking, a turn answering");
    assert_eq!(r["conversation"]["file"], file.to_str().unwrap_or_default());
    events.wait_for("the idle record on the event stream", |l| {
        l["type"] == "session"
            && l["session"]["id"] == s.id.as_str()
            && l["session"]["status"]["state"] == "idle"
            && l["session"]["unread"] == true
    });
    let seen = states(&events, &s.id);
    let tail: Vec<&str> = (seen.iter().skip_while(|st| *st != "waiting"))
        .map(String::as_str)
        .collect();
    assert_eq!(
        tail,
        ["waiting", "working", "idle"],
        "states seen: {seen:?}"
    );
}

/// Denied (Esc): idle, nothing ran. A failed request (HTTP 400): error.
#[test]
fn denied_is_idle_and_a_failed_request_is_an_error() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut s = Session::start(&[]);
    let (from, _) = s.prompt(ASKED);
    s.wait_bytes(from, DIALOG);
    s.state("waiting");
    s.term.write(b"\x1b");
    let r = s.state("idle");
    assert!(r["status"]["waiting"].is_null(), "{r:#}");
    // Gemini then writes its history again: no reply in it is new, and
    // the prompt stays the title.
    s.settle(Duration::from_millis(500));
    let r = s.state("idle");
    assert_eq!(r["unread"], false, "{r:#}");
    assert_eq!(r["title"], ASKED, "{r:#}");
    assert!(!s.cwd.join("approved.txt").exists(), "denied, yet it ran");

    s.prompt("please failnow");
    let r = s.state("error");
    assert!(
        r["status"]["label"]
            .as_str()
            .is_some_and(|l| l == "error: fake invalid argument"),
        "{r:#}"
    );
}

/// A daemon killed while Gemini asks: the one that comes back says the
/// same, from the runner's replay.
#[test]
fn a_daemon_killed_while_it_asks_comes_back_to_the_same_answers() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut s = Session::start(&[]);
    let (from, _) = s.prompt(ASKED);
    s.wait_bytes(from, DIALOG);
    let before = s.state("waiting");
    s.w.kill_daemon();
    s.w.start_daemon();
    let after = s.state("waiting");
    for key in ["conversation", "title", "status"] {
        let (mut a, mut b) = (before[key].clone(), after[key].clone());
        for v in [&mut a, &mut b] {
            if let Some(o) = v.as_object_mut() {
                o.remove("since");
                o.get_mut("waiting")
                    .and_then(Value::as_object_mut)
                    .map(|w| w.remove("since"));
            }
        }
        assert_eq!(a, b, "{key} before and after the daemon's death");
    }
    s.term.write(b"1");
    s.wait_record("idle, unread", |r| {
        r["status"]["state"] == "idle" && r["unread"] == true
    });
}

/// `amux resume` continues the same conversation with the user's own
/// options, and the conversation survives a later fresh start.
#[test]
fn resume_continues_the_same_conversation_with_the_users_flags() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut s = Session::start(&["--approval-mode", "default"]);
    s.prompt("say hello");
    let r = s.wait_record("idle, unread", |r| {
        r["status"]["state"] == "idle" && r["unread"] == true
    });
    let written = PathBuf::from(r["conversation"]["file"].as_str().unwrap_or_default());
    let conversation = r["conversation"]["id"].clone();
    let old = s.id.clone();
    s.quit();
    // A conversation of an earlier minute (named by Gemini's clock): the
    // resume's startup file gets a name of its own beside it.
    let name = written
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let earlier = name.replacen("session-2", "session-1", 1);
    let file = written.with_file_name(&earlier);
    std::fs::rename(&written, &file).expect("an earlier name");
    let file = file.display().to_string();
    let events = s.w.events();
    let dead =
        s.w.wait_record_all(&old, true, "dead", |r| r["alive"] == false);
    let resume = dead["resume_command"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let words: Vec<&str> = resume.iter().filter_map(Value::as_str).collect();
    assert!(
        words.ends_with(&[
            "--approval-mode",
            "default",
            "--resume",
            conversation.as_str().unwrap_or("?")
        ]),
        "{dead:#}"
    );

    s.launch(&["resume", &old]);
    let told = s.term.text();
    assert!(told.contains("general.sessionRetention.enabled"), "{told}");
    let r = s.wait_record("holding the old file", |r| {
        r["conversation"]["file"] == file.as_str()
    });
    assert_eq!(r["title"], "say hello", "{r:#}");
    // Keys typed while Gemini still loads the conversation are lost.
    s.term.wait_for(REPLY, T);
    s.settle(Duration::from_millis(500));
    s.prompt("say more");
    s.wait_record("idle, unread", |r| {
        r["status"]["state"] == "idle"
            && r["unread"] == true
            && r["conversation"]["file"] == file.as_str()
    });
    s.quit();
    assert!(Path::new(&file).exists());
    // Gemini wrote its startup file, and amux never took it for the
    // conversation.
    let chats = Path::new(&file)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let files = support::jsonl_files(&chats);
    assert_eq!(files.len(), 2, "the startup file beside it: {files:?}");
    let named: Vec<String> = (events.records(&s.id).iter())
        .filter_map(|r| r["conversation"]["file"].as_str().map(str::to_owned))
        .filter(|f| *f != file)
        .collect();
    assert!(named.is_empty(), "the resumed session named {named:?}");
}

/// What Gemini's config dir holds after a session under amux is what
/// Gemini wrote: nothing of amux's.
#[test]
fn nothing_of_amux_is_written_in_geminis_directory() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut s = Session::start(&[]);
    s.prompt("say hello");
    s.wait_record("idle, unread", |r| r["unread"] == true);
    s.quit();
    let mut names = Vec::new();
    list(&s.home, &mut names);
    let ours: Vec<&String> = (names.iter())
        .filter(|n| n.contains("amux") || n.contains("hook"))
        .collect();
    assert!(
        ours.is_empty(),
        "amux's files in Gemini's home: {ours:?}\n{names:#?}"
    );
    let settings =
        std::fs::read_to_string(s.home.join(".gemini/settings.json")).unwrap_or_default();
    assert_eq!(
        settings,
        FakeGemini::settings_json(),
        "the settings were changed"
    );
    let out = output_within(s.w.amux(["ls", "--all", "--json"]), QUICK);
    assert!(out.status.success());
}

fn list(dir: &Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = e.path();
        out.push(path.display().to_string());
        if path.is_dir() {
            list(&path, out);
        }
    }
}
