//! Regression tests for wrong answers found in real use that need the
//! real pi (pinned by .ci/setup-agents), talking to the fake model server.
//! Each test's doc says the fact it holds; the others are in regress.rs.

use crate::support::daemon::EventLog;
use crate::support::model::FakeModel;
use crate::support::pty::Pty;
use crate::support::{self, TestEnv};
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(30);
const REPLY: &str = "Quokkas are marsupials indeed.";

fn setup() -> (TestEnv, FakeModel) {
    let env = TestEnv::new();
    let model = FakeModel::start(REPLY);
    std::fs::write(env.pi_dir().join("models.json"), model.pi_models_json()).expect("models.json");
    (env, model)
}

/// `pi --provider fake --model fake-model EXTRA…`.
fn pi_argv(extra: &[&str]) -> Vec<String> {
    let mut argv = vec![support::pi().display().to_string()];
    argv.extend(
        ["--provider", "fake", "--model", "fake-model"]
            .iter()
            .chain(extra)
            .map(|s| s.to_string()),
    );
    argv
}

/// `amux ARGS…`, allowed to start a daemon (shared with `pi_extension`).
pub(crate) fn amux<S: AsRef<std::ffi::OsStr>>(env: &TestEnv, args: &[S]) -> Command {
    let mut cmd = env.amux(args);
    cmd.env_remove("AMUX_NO_DAEMON");
    cmd
}

pub(crate) fn out<S: AsRef<std::ffi::OsStr>>(env: &TestEnv, args: &[S]) -> Output {
    let mut cmd = amux(env, args);
    cmd.stderr(Stdio::piped());
    support::output_within(cmd, T)
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ls(env: &TestEnv, all: bool) -> Vec<Value> {
    let mut args = vec!["ls", "--json"];
    if all {
        args.push("--all");
    }
    let o = out(env, &args);
    assert!(o.status.success(), "ls: {:?} {}", o.status, err(&o));
    serde_json::from_slice(&o.stdout).expect("ls --json prints an array")
}

fn record(env: &TestEnv, id: &str, all: bool) -> Value {
    ls(env, all)
        .into_iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("{id} not in ls --json (all: {all})"))
}

fn wait_rec(
    env: &TestEnv,
    id: &str,
    all: bool,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + T;
    loop {
        let r = ls(env, all).into_iter().find(|r| r["id"] == id);
        if let Some(r) = r.as_ref().filter(|r| pred(r)) {
            return r.clone();
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {id} to be {what}; last record: {r:#?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `amux run -d -- pi … EXTRA…`: the new id.
fn run_pi(env: &TestEnv, extra: &[&str]) -> String {
    let mut args = vec!["run".to_string(), "-d".into(), "--".into()];
    args.extend(pi_argv(extra));
    let o = out(env, &args);
    assert!(o.status.success(), "run -d pi: {}", err(&o));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn screen(env: &TestEnv, id: &str) -> String {
    support::http::get(&env.sock(id), "/scrollback/text").text()
}

/// pi drops keys typed before its editor is up: wait for its footer.
fn wait_ready(env: &TestEnv, id: &str) {
    support::wait_until(
        T,
        || screen(env, id).contains("fake-model"),
        &format!("pi's footer on {id}'s screen"),
    );
}

/// `send TEXT --enter`, then `wait --until idle --timeout 20` must be 0.
fn turn(env: &TestEnv, id: &str, text: &str) -> Value {
    let o = out(env, &["send", id, text, "--enter"]);
    assert!(o.status.success(), "send: {}", err(&o));
    let o = out(
        env,
        &["wait", id, "--until", "idle", "--json", "--timeout", "20"],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "wait idle after {text:?}: {}\nscreen:\n{}",
        err(&o),
        screen(env, id)
    );
    serde_json::from_slice(&o.stdout).expect("wait --json prints the record")
}

fn file_of(r: &Value) -> PathBuf {
    PathBuf::from(
        r["conversation"]["file"]
            .as_str()
            .unwrap_or_else(|| panic!("not attributed: {r:#}")),
    )
}

/// `amux events` collecting its lines.
fn events(env: &TestEnv) -> EventLog {
    let mut cmd = amux(env, &["events"]);
    cmd.stderr(Stdio::null());
    EventLog::collect(cmd)
}

/// A foreground `amux run -- pi …` in a terminal, once pi's editor is up.
fn foreground_pi(env: &TestEnv, extra: &[&str]) -> (Pty, usize) {
    let mut args = vec!["run".to_string(), "--".into()];
    args.extend(pi_argv(extra));
    let mut term = Pty::spawn_with(env, &args, 100, 30, |c| {
        c.env_remove("AMUX_NO_DAEMON");
    });
    let ready = term.wait_for("fake-model", T);
    (term, ready)
}

/// Types one prompt into a foreground pi and waits for the reply and the
/// footer after it; returns the offset past that footer.
fn type_turn(term: &mut Pty, from: usize, text: &str) -> usize {
    term.write(text.as_bytes());
    term.wait_for_from(from, text, T);
    term.write(b"\r");
    let replied = term.wait_for_from(from, REPLY, T);
    term.wait_for_from(replied, "fake-model", T)
}

/// ^D on pi's empty editor: the runner must exit 0.
fn quit(term: &mut Pty) {
    term.write(b"\x04");
    let status = term.wait_exit(T);
    assert_eq!(status.code(), Some(0), "screen:\n{}", term.text());
}

/// A resumed pi holds its conversation from the start (argv),
/// then by shim once it writes; always the same file.
#[test]
fn resumed_pi_shows_its_conversation_at_once() {
    let (env, _model) = setup();
    let (mut term, ready) = foreground_pi(&env, &[]);
    type_turn(&mut term, ready, "remember quokkas");
    quit(&mut term);
    let files = support::jsonl_files(&env.pi_sessions());
    assert_eq!(files.len(), 1, "{files:?}");
    let file = files[0].clone();
    let mut dead = Value::Null;
    support::wait_until(
        T,
        || {
            dead = ls(&env, true)
                .into_iter()
                .find(|r| r["alive"] == false)
                .unwrap_or(Value::Null);
            !dead.is_null()
        },
        "the dead session in ls --all",
    );
    let old = dead["id"].as_str().expect("id").to_string();

    let o = out(&env, &["resume", "-d", &old]);
    assert!(o.status.success(), "resume -d: {}", err(&o));
    let new = String::from_utf8_lossy(&o.stdout).trim().to_string();
    let o = out(
        &env,
        &["wait", &new, "--until", "attributed", "--timeout", "20"],
    );
    assert_eq!(o.status.code(), Some(0), "wait attributed: {}", err(&o));
    let r = record(&env, &new, false);
    assert_eq!(file_of(&r), file, "{r:#}");
    assert_eq!(r["conversation"]["source"], "argv", "{r:#}");
    assert_eq!(r["title"], "remember quokkas", "{r:#}");

    wait_ready(&env, &new);
    let r = turn(&env, &new, "more");
    assert_eq!(file_of(&r), file, "{r:#}");
    let r = wait_rec(&env, &new, false, "held by shim", |r| {
        r["conversation"]["source"] == "shim"
    });
    assert_eq!(file_of(&r), file, "{r:#}");
    let text = std::fs::read_to_string(&file).expect("the conversation");
    assert!(text.contains("more"), "{text}");
    assert_eq!(support::jsonl_files(&env.pi_sessions()), vec![file]);
}

/// Two more sessions continue A's file and are killed: A keeps it
/// and its next turn lands in it.
#[test]
fn second_binders_death_does_not_orphan_the_first() {
    let (env, _model) = setup();
    let a = run_pi(&env, &[]);
    wait_ready(&env, &a);
    let file = file_of(&turn(&env, &a, "first question"));
    let f = file.to_str().expect("utf-8").to_string();
    let others = [
        run_pi(&env, &["--session", &f, "-c"]),
        run_pi(&env, &["--session", &f, "-c"]),
    ];
    for id in &others {
        let o = out(
            &env,
            &["wait", id, "--until", "attributed", "--timeout", "20"],
        );
        assert_eq!(o.status.code(), Some(0), "wait attributed: {}", err(&o));
        assert_eq!(file_of(&record(&env, id, false)), file);
        wait_ready(&env, id);
    }
    for id in &others {
        let o = out(&env, &["kill", id]);
        assert!(o.status.success(), "kill: {}", err(&o));
    }
    for id in &others {
        wait_rec(&env, id, true, "dead", |r| r["alive"] == false);
    }
    let r = record(&env, &a, false);
    assert_eq!(
        r["conversation"]["file"].as_str(),
        Some(f.as_str()),
        "A lost its file when the others died: {r:#}"
    );

    let r = turn(&env, &a, "again");
    assert_eq!(file_of(&r), file, "{r:#}");
    let text = std::fs::read_to_string(&file).expect("the conversation");
    assert!(text.contains("again"), "{text}");
    assert_eq!(text.matches(REPLY).count(), 2, "{text}");
    assert_eq!(support::jsonl_files(&env.pi_sessions()), vec![file]);
}

/// A foreground pi quit with ^D exits 0, and its dead record says
/// `exit_code: 0` — ten times in a row. Runs with a turn never lose their
/// file in the event stream.
#[test]
fn foreground_exit_status_is_recorded() {
    let (env, _model) = setup();
    let events = events(&env);
    let mut seen: Vec<String> = Vec::new();
    let mut bad = Vec::new();
    for n in 0..10 {
        let (mut term, ready) = foreground_pi(&env, &[]);
        if n < 2 {
            type_turn(&mut term, ready, &format!("question {n}"));
        }
        quit(&mut term);
        let mut dead = Value::Null;
        support::wait_until(
            T,
            || {
                dead = ls(&env, true)
                    .into_iter()
                    .find(|r| r["alive"] == false && !seen.iter().any(|s| *s == r["id"]))
                    .unwrap_or(Value::Null);
                !dead.is_null()
            },
            &format!("run {n}'s dead record"),
        );
        let id = dead["id"].as_str().expect("id").to_string();
        if dead["exit_code"] != 0 {
            bad.push(format!("run {n} ({id}): exit_code {}", dead["exit_code"]));
        }
        seen.push(id);
    }
    assert!(bad.is_empty(), "dead records without exit 0: {bad:?}");
    for (n, id) in seen.iter().enumerate() {
        events.wait_for(&format!("run {n}'s dead record in events"), |l| {
            l["session"]["id"] == id.as_str() && l["session"]["alive"] == false
        });
        let records = events.records(id);
        for r in records.iter().filter(|r| r["alive"] == false) {
            assert_eq!(r["exit_code"], 0, "run {n}: {r:#}");
        }
        if n < 2 {
            // pi writes its file a line at a time, header first: the
            // moment it holds only the header, "(new)" is the truth. From
            // the first titled record on, nothing may be lost.
            let from = records
                .iter()
                .position(|r| !r["conversation"]["file"].is_null() && r["title"] != "(new)")
                .unwrap_or_else(|| panic!("run {n}: never attributed: {records:#?}"));
            for r in &records[from..] {
                assert!(
                    !r["conversation"]["file"].is_null() && r["title"] != "(new)",
                    "run {n}: lost its file after having it: {r:#}"
                );
            }
        }
    }
}

/// Input that starts no turn: `/name` is consumed (wait returns,
/// title set), and text without Enter never reads as working.
#[test]
fn a_send_that_starts_no_turn() {
    let (env, _model) = setup();
    let id = run_pi(&env, &[]);
    wait_ready(&env, &id);
    let file = file_of(&turn(&env, &id, "first question"));

    let o = out(&env, &["send", &id, "/name Deploy", "--enter"]);
    assert!(o.status.success(), "send: {}", err(&o));
    let start = Instant::now();
    let o = out(&env, &["wait", &id, "--until", "idle", "--timeout", "20"]);
    let took = start.elapsed();
    assert_eq!(o.status.code(), Some(0), "wait after /name: {}", err(&o));
    assert!(
        took < Duration::from_secs(10),
        "/name took {took:?} to count as consumed"
    );
    let r = wait_rec(&env, &id, false, "titled Deploy", |r| {
        r["title"] == "Deploy"
    });
    assert_eq!(file_of(&r), file);

    let o = out(&env, &["send", &id, "typed but not submitted"]);
    assert!(o.status.success(), "send: {}", err(&o));
    let r = record(&env, &id, false);
    assert_eq!(r["status"]["working"], false, "{r:#}");
    let o = out(&env, &["wait", &id, "--until", "idle", "--timeout", "0"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "unsubmitted text is not a turn: {}",
        err(&o)
    );
    // "Never": a while later (past any timer that could start a turn on
    // its own but the 3 s quiet rule, which only an Enter arms), still
    // not working. No fact says nothing happened, so real time passes.
    std::thread::sleep(Duration::from_millis(1000));
    let r = record(&env, &id, false);
    assert_eq!(r["status"]["working"], false, "{r:#}");
}
