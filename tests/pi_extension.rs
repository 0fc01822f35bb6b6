//! pi's amux extension (hook/pi-extension.mjs): the real pi
//! (pinned by .ci/setup-agents) under node and under bun, against the fake
//! model, driven through its TUI by the runner's `POST /input`. A `/new`
//! or a `/resume` must show in `amux ls --json` within `SWITCH` of its
//! Enter, before pi writes anything; a resumed session is attributed
//! before its next prompt; the extension's `-e` never shows in a
//! session's `command` or `resume_command`; `--no-inject` and
//! `AMUX_NO_INJECT=1` leave pi's command line alone; pi loading the
//! extension without amux behaves as without it. One test drives the
//! runner's intake by hand: a preload write elsewhere than the extension
//! said wins, and the daemon logs it.

use crate::regress_pi::{amux, out};
use crate::support::http;
use crate::support::model::FakeModel;
use crate::support::{self, TestEnv};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(30);
/// How soon after its Enter a switch must be in the record.
const SWITCH: Duration = Duration::from_millis(500);
const REPLY: &str = "Quokkas are marsupials indeed.";

#[derive(Clone, Copy, Debug)]
enum Runtime {
    Node,
    Bun,
}

impl Runtime {
    /// `pi --provider fake --model fake-model`, under this runtime.
    fn argv(self) -> Vec<String> {
        let mut argv = match self {
            Runtime::Node => vec![support::pi()],
            Runtime::Bun => vec![support::bun(), support::pi_cli_js()],
        };
        argv.extend(["--provider", "fake", "--model", "fake-model"].map(PathBuf::from));
        argv.iter().map(|p| p.display().to_string()).collect()
    }
}

fn setup() -> (TestEnv, FakeModel) {
    let env = TestEnv::new();
    let model = FakeModel::start(REPLY);
    std::fs::write(env.pi_dir().join("models.json"), model.pi_models_json()).expect("models.json");
    (env, model)
}

fn ok(o: Output, what: &str) -> String {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{what}: {:?} {err}", o.status);
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn record(env: &TestEnv, id: &str, all: bool) -> Option<Value> {
    let mut args = vec!["ls", "--json"];
    if all {
        args.push("--all");
    }
    let list: Vec<Value> =
        serde_json::from_str(&ok(out(env, &args), "ls")).expect("ls --json prints an array");
    list.into_iter().find(|r| r["id"] == id)
}

/// Polls `ls --json` until `id`'s record satisfies `pred`; the record and
/// how long that took.
fn wait_rec(
    env: &TestEnv,
    id: &str,
    all: bool,
    within: Duration,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> (Value, Duration) {
    let start = Instant::now();
    loop {
        let r = record(env, id, all);
        if let Some(r) = r.as_ref().filter(|r| pred(r)) {
            return (r.clone(), start.elapsed());
        }
        assert!(
            start.elapsed() < within,
            "{id} not {what} within {within:?}; last record: {r:#?}\ndaemon log:\n{}",
            log(env)
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn log(env: &TestEnv) -> String {
    std::fs::read_to_string(env.root.join("state/amux/daemon.log")).unwrap_or_default()
}

fn file_of(r: &Value) -> Option<PathBuf> {
    r["conversation"]["file"].as_str().map(PathBuf::from)
}

/// `amux run -d --size 100x30 [FLAGS…] -- ARGV…`: the new id, once pi's
/// editor is up (pi drops keys typed before: its footer names the model).
fn start(env: &TestEnv, flags: &[&str], argv: &[String]) -> String {
    let mut args: Vec<String> = ["run", "-d", "--size", "100x30"].map(String::from).to_vec();
    args.extend(flags.iter().map(|f| f.to_string()));
    args.push("--".into());
    args.extend(argv.iter().cloned());
    let id = ok(out(env, &args), "run -d pi");
    wait_screen(env, &id, "fake-model");
    id
}

fn screen(env: &TestEnv, id: &str) -> String {
    http::get(&env.sock(id), "/scrollback/text").text()
}

/// Waits until `needle` is on the screen (the terminal as rendered now:
/// what scrolled off is gone).
fn wait_screen(env: &TestEnv, id: &str, needle: &str) {
    let deadline = Instant::now() + T;
    loop {
        let text = screen(env, id);
        if text.contains(needle) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no {needle:?} on {id}'s screen:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn input(env: &TestEnv, id: &str, bytes: &[u8]) {
    let resp = http::post(&env.sock(id), "/input", bytes);
    assert!(resp.status < 300, "input: {}", resp.text());
}

/// Types `text` (never on the screen before), waits until pi shows it,
/// then presses Enter: the moment of the Enter.
fn type_line(env: &TestEnv, id: &str, text: &str) -> Instant {
    input(env, id, text.as_bytes());
    wait_screen(env, id, text);
    // A separate write: a burst ending in \r reads as a paste to pi.
    std::thread::sleep(Duration::from_millis(100));
    let enter = Instant::now();
    enter_key(env, id);
    enter
}

/// Enter, as a user's: through `amux send`, so the daemon knows input
/// went in (a bare `POST /input` to the runner is nobody's typing).
fn enter_key(env: &TestEnv, id: &str) {
    ok(out(env, &["send", id, "", "--enter"]), "send --enter");
}

/// One prompt and its reply: the record once its file holds both and the
/// daemon has read them.
fn prompt(env: &TestEnv, id: &str, text: &str) -> Value {
    type_line(env, id, text);
    let answered = |f: &Path| {
        let saved = std::fs::read_to_string(f).unwrap_or_default();
        saved
            .rfind(text)
            .is_some_and(|at| saved[at..].contains(REPLY))
    };
    let (r, _) = wait_rec(env, id, false, T, "done with its turn", |r| {
        r["conversation"]["source"] == "shim"
            && r["turn_done"] == true
            && r["title"] != "(new)"
            && file_of(r).is_some_and(|f| answered(&f))
    });
    r
}

fn assert_no_extension_flag(r: &Value) {
    for field in ["command", "resume_command"] {
        let words: Vec<&str> = r[field]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        assert!(
            !words
                .iter()
                .any(|w| *w == "-e" || w.contains("pi-extension")),
            "{field} carries amux's extension: {r:#}"
        );
    }
}

/// A first prompt writes A; `/new` names a new file at once (none written
/// yet, the record says "(new)"); its first prompt writes exactly that
/// file, followed from its first line; `/resume` of A names A at once.
fn switches(rt: Runtime) {
    let (env, _model) = setup();
    let id = start(&env, &[], &rt.argv());
    let r = prompt(&env, &id, "first question");
    let a = file_of(&r).expect("the first conversation");
    assert_eq!(r["title"], "first question", "{r:#}");
    let a_text = std::fs::read(&a).expect("the first conversation's file");

    let enter = type_line(&env, &id, "/new");
    // The Enter sent a command, not a prompt: idle at once, not working
    // until the terminal has been quiet a while.
    let (r, took) = wait_rec(&env, &id, false, T, "off the old file, idle", |r| {
        file_of(r).is_some_and(|f| f != a) && r["status"]["state"] == "idle"
    });
    let seen = enter.elapsed();
    let b = file_of(&r).unwrap_or_default();
    eprintln!("{rt:?}: /new seen after {seen:?} (ls polled {took:?})");
    assert!(seen < SWITCH, "{rt:?}: /new took {seen:?}: {r:#}");
    assert!(
        !b.exists(),
        "pi wrote {} before its first prompt",
        b.display()
    );
    assert_eq!(b.parent(), a.parent(), "{r:#}");
    assert_eq!(r["conversation"]["source"], "extension", "{r:#}");
    assert_eq!(r["title"], "(new)", "{r:#}");
    assert_eq!(std::fs::read(&a).ok(), Some(a_text), "A was written");
    assert_eq!(support::jsonl_files(&env.pi_sessions()), vec![a.clone()]);
    let holds = format!("session {id}: holds {} (source extension)", b.display());
    assert!(log(&env).contains(&holds), "{}", log(&env));
    // The command was taken without a turn: `wait --until idle` answers at
    // once (the extension said so), not after the quiet timer or never.
    let o = support::output_within(
        amux(&env, &["wait", &id, "--until", "idle", "--timeout", "2"]),
        T,
    );
    assert!(o.status.success(), "wait --until idle after /new: {o:?}");
    // `amux explain` names the extension as what moved it, and what it said.
    let e = support::explain(amux(&env, &["explain", &id, "--json"]));
    let said = format!("session file {}", b.display());
    let switched = e["changes"].as_array().into_iter().flatten().any(|c| {
        c["signal"] == "extension"
            && c["said"] == said.as_str()
            && c["changed"].to_string().contains("conversation: ")
    });
    assert!(switched, "{e:#}");

    let r = prompt(&env, &id, "second question");
    assert_eq!(file_of(&r), Some(b.clone()), "{r:#}");
    assert_eq!(
        r["title"], "second question",
        "read from its first line: {r:#}"
    );

    // The picker lists this folder's conversations, newest first: the
    // current one (B), then A.
    type_line(&env, &id, "/resume");
    wait_screen(&env, &id, "Resume Session");
    wait_screen(&env, &id, "first question");
    input(&env, &id, b"\x1b[B");
    // pi's picker takes the arrow before the Enter only in a write of its
    // own, a moment later (a user's gap between keys).
    std::thread::sleep(Duration::from_millis(300));
    let enter = Instant::now();
    enter_key(&env, &id);
    let (r, took) = wait_rec(&env, &id, false, T, "back on A, idle", |r| {
        file_of(r).as_deref() == Some(a.as_path()) && r["status"]["state"] == "idle"
    });
    let seen = enter.elapsed();
    eprintln!("{rt:?}: /resume seen after {seen:?} (ls polled {took:?})");
    wait_screen(&env, &id, "Resumed session");
    assert!(seen < SWITCH, "{rt:?}: /resume took {seen:?}: {r:#}");
    assert_eq!(r["title"], "first question", "{r:#}");
    assert_eq!(r["unread"], false, "a resumed reply is history: {r:#}");
    assert_no_extension_flag(&r);
    assert_eq!(support::jsonl_files(&env.pi_sessions()).len(), 2);
}

#[test]
fn switches_are_seen_at_once_under_node() {
    switches(Runtime::Node);
}

#[test]
fn switches_are_seen_at_once_under_bun() {
    switches(Runtime::Bun);
}

/// `amux resume` of a dead session holds its file before the next
/// prompt; so does `pi -c`, whose file only pi knows (the extension says).
fn resumed(rt: Runtime) {
    let (env, _model) = setup();
    let id = start(&env, &[], &rt.argv());
    let file = file_of(&prompt(&env, &id, "remember quokkas")).expect("a file");
    input(&env, &id, b"\x04");
    let (dead, _) = wait_rec(&env, &id, true, T, "dead", |r| r["alive"] == false);
    assert_no_extension_flag(&dead);

    let new = ok(out(&env, &["resume", "-d", &id]), "resume -d");
    wait_screen(&env, &new, "fake-model");
    let (r, _) = wait_rec(&env, &new, false, T, "attributed", |r| file_of(r).is_some());
    assert_eq!(file_of(&r), Some(file.clone()), "{r:#}");
    assert_eq!(r["title"], "remember quokkas", "{r:#}");
    assert_no_extension_flag(&r);
    let r = prompt(&env, &new, "tell me again");
    assert_eq!(file_of(&r), Some(file.clone()), "{r:#}");
    input(&env, &new, b"\x04");
    wait_rec(&env, &new, true, T, "dead", |r| r["alive"] == false);

    let mut argv = rt.argv();
    argv.push("-c".into());
    let cont = start(&env, &[], &argv);
    let (r, _) = wait_rec(&env, &cont, false, T, "attributed", |r| {
        file_of(r).is_some()
    });
    assert_eq!(file_of(&r), Some(file.clone()), "{r:#}");
    assert_eq!(r["conversation"]["source"], "extension", "{r:#}");
    assert_no_extension_flag(&r);
    assert_eq!(support::jsonl_files(&env.pi_sessions()), vec![file]);
}

#[test]
fn resumed_sessions_are_attributed_before_a_prompt_under_node() {
    resumed(Runtime::Node);
}

#[test]
fn resumed_sessions_are_attributed_before_a_prompt_under_bun() {
    resumed(Runtime::Bun);
}

/// `run --no-inject` and `AMUX_NO_INJECT=1` add no `-e`: pi starts as
/// before the extension, and names no file until it writes one.
#[test]
fn injection_can_be_turned_off() {
    let (env, _model) = setup();
    let with = start(&env, &[], &Runtime::Node.argv());
    let without = start(&env, &["--no-inject"], &Runtime::Node.argv());
    let mut args = vec!["run".to_string(), "-d".into(), "--".into()];
    args.extend(Runtime::Node.argv());
    let mut cmd = amux(&env, &args);
    cmd.env("AMUX_NO_INJECT", "1").stderr(Stdio::piped());
    let by_env = ok(support::output_within(cmd, T), "AMUX_NO_INJECT=1 run -d");
    wait_screen(&env, &by_env, "fake-model");
    let source = |id: &str| http::meta(&env.sock(id))["session_file_source"].clone();
    support::wait_until(T, || source(&with) == "extension", "the extension's file");
    for id in [&without, &by_env] {
        assert!(!screen(&env, id).contains("pi-extension"));
        assert_eq!(source(id), Value::Null, "{}", screen(&env, id));
        assert_eq!(http::meta(&env.sock(id))["shim"]["active"], true);
    }
    assert!(screen(&env, &with).contains("pi-extension"));
}

/// The preload's write to another file than the one the extension named
/// wins (it is the later report), and the daemon logs the disagreement.
#[test]
fn a_write_elsewhere_than_announced_wins_and_is_logged() {
    let env = TestEnv::new();
    let mut args = vec!["run".to_string(), "-d".into(), "--".into()];
    args.push(support::node().display().to_string());
    args.push(env.fake_pi("pi_esm.mjs").display().to_string());
    args.push("--wait-stdin".into());
    let id = ok(out(&env, &args), "run -d fake pi");
    let dir = env.pi_sessions().join("--elsewhere--");
    let (named, written) = (dir.join("named.jsonl"), dir.join("written.jsonl"));
    let shim = |event: Value| {
        let resp = http::post(&env.sock(&id), "/shim/event", event.to_string().as_bytes());
        assert_eq!(resp.status, 204, "{}", resp.text());
    };
    // The fake agent wrote its own file first; wait for that to settle.
    wait_rec(&env, &id, false, T, "attributed", |r| {
        r["conversation"]["source"] == "shim"
    });
    shim(json!({"op": "session", "pid": 1, "path": named, "reason": "new"}));
    wait_rec(&env, &id, false, T, "on the named file", |r| {
        file_of(r).as_deref() == Some(named.as_path())
    });
    shim(json!({"op": "append", "pid": 1, "path": written}));
    let (r, _) = wait_rec(&env, &id, false, T, "on the written file", |r| {
        file_of(r).as_deref() == Some(written.as_path())
    });
    assert_eq!(r["conversation"]["source"], "shim", "{r:#}");
    let line = format!(
        "session {id}: the preload saw {} written, not {} (named by the extension)",
        written.display(),
        named.display()
    );
    assert!(log(&env).contains(&line), "{}", log(&env));
    assert!(!named.exists());
}

/// pi started by hand with the extension (no runner, no preload) runs as
/// without it: the extension has nobody to tell and says nothing.
#[test]
fn the_extension_alone_is_harmless() {
    let (env, _model) = setup();
    let extension = support::manifest_dir().join("hook/pi-extension.mjs");
    let print = |with: bool| {
        let mut argv = Runtime::Node.argv();
        if with {
            argv.extend(["-e".into(), extension.display().to_string()]);
        }
        argv.extend(["-p".into(), "hello".into()]);
        let mut cmd = env.command(&argv[0], &argv[1..]);
        cmd.stderr(Stdio::piped());
        support::output_within(cmd, T)
    };
    let (plain, with) = (print(false), print(true));
    assert!(with.status.success(), "{with:?}");
    assert_eq!(with.status.code(), plain.status.code());
    assert_eq!(String::from_utf8_lossy(&with.stdout).trim(), REPLY);
    assert_eq!(with.stdout, plain.stdout);
    assert_eq!(with.stderr, plain.stderr);
}

/// A pi quit before its first prompt: its record names the file pi would
/// have written (the extension said so), but nothing is there to resume —
/// no resume command, and `amux resume` says why (exit 1).
#[test]
fn a_conversation_never_written_is_not_resumable() {
    let (env, _model) = setup();
    let id = start(&env, &[], &Runtime::Node.argv());
    let (r, _) = wait_rec(&env, &id, false, T, "named by the extension", |r| {
        r["conversation"]["source"] == "extension"
    });
    let file = file_of(&r).expect("the file pi would write");
    assert!(
        !file.exists(),
        "pi wrote {} before a prompt",
        file.display()
    );
    ok(out(&env, &["kill", &id]), "kill");
    let (r, _) = wait_rec(&env, &id, true, T, "dead", |r| r["alive"] == false);
    assert!(r["resume_command"].is_null(), "{r:#}");
    let o = out(&env, &["resume", &id]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("was never written"), "{err}");
}
