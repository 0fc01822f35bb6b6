//! pi's moments as amux tells them, from pi's own events (amux's extension,
//! `hook/pi-extension.mjs`): the real pi (pinned by .ci/setup-agents)
//! against the fake model server, driven as a script would — `amux send
//! … --enter` then `amux wait` (issue 18: #1, #2, #3, #10, #11). Each
//! moment is timed from the send; "at once" is well under the 3-second
//! quiet rule it replaces.

use crate::regress_pi::out;
use crate::support::http;
use crate::support::model::FakeModel;
use crate::support::script::Answer;
use crate::support::{self, TestEnv};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(30);
/// How soon a command pi took without a turn must be idle (pi's extension
/// says so within ~60 ms of the Enter; the quiet rule took 3 s).
const AT_ONCE: Duration = Duration::from_millis(1500);
const REPLY: &str = "Quokkas are marsupials indeed.";

/// A test world with pi configured for the fake server, with `settings`
/// (pi's `settings.json`) if given.
fn setup(settings: Option<&str>) -> (TestEnv, FakeModel) {
    let env = TestEnv::new();
    let model = FakeModel::start(REPLY);
    std::fs::write(env.pi_dir().join("models.json"), model.pi_models_json()).expect("models.json");
    if let Some(settings) = settings {
        std::fs::write(env.pi_dir().join("settings.json"), settings).expect("settings.json");
    }
    (env, model)
}

/// pi under node, or under bun.
#[derive(Clone, Copy, Debug)]
enum Runtime {
    Node,
    Bun,
}

/// `amux run -d -- pi --provider fake --model fake-model EXTRA…`: its id,
/// at once (pi is still starting).
fn run_in(rt: Runtime, env: &TestEnv, extra: &[&str]) -> String {
    let mut args: Vec<String> = ["run", "-d", "--size", "100x30", "--"]
        .map(String::from)
        .into();
    let pi = match rt {
        Runtime::Node => vec![support::pi()],
        Runtime::Bun => vec![support::bun(), support::pi_cli_js()],
    };
    args.extend(pi.iter().map(|p| p.display().to_string()));
    args.extend(["--provider", "fake", "--model", "fake-model"].map(String::from));
    args.extend(extra.iter().map(|s| s.to_string()));
    let o = out(env, &args);
    assert!(o.status.success(), "run -d pi: {o:?}");
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn screen(env: &TestEnv, id: &str) -> String {
    http::get(&env.sock(id), "/scrollback/text").text()
}

/// pi drops keys typed before its editor is up: its footer names the model.
fn started(env: &TestEnv, extra: &[&str]) -> String {
    started_in(Runtime::Node, env, extra)
}

fn started_in(rt: Runtime, env: &TestEnv, extra: &[&str]) -> String {
    let id = run_in(rt, env, extra);
    support::wait_until(T, || screen(env, &id).contains("fake-model"), "pi's footer");
    id
}

fn record(env: &TestEnv, id: &str) -> Value {
    let o = out(env, &["ls", "--json"]);
    let list: Vec<Value> = serde_json::from_slice(&o.stdout).expect("ls --json prints an array");
    list.into_iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("{id} not in ls --json"))
}

/// Polls `ls --json` until `id`'s record satisfies `pred`.
fn wait_rec(env: &TestEnv, id: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + T;
    loop {
        let r = record(env, id);
        if pred(&r) {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "{id} not {what}; last record: {r:#}\nscreen:\n{}",
            screen(env, id)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `amux send ID TEXT --enter`: the moment it returned.
fn send(env: &TestEnv, id: &str, text: &str) -> Instant {
    let o = out(env, &["send", id, text, "--enter"]);
    assert!(o.status.success(), "send {text:?}: {o:?}");
    Instant::now()
}

/// `amux wait ID --until UNTIL --json --timeout 20`, and how long it took.
fn wait(env: &TestEnv, id: &str, until: &str) -> (Output, Duration) {
    let start = Instant::now();
    let o = out(
        env,
        &["wait", id, "--until", until, "--json", "--timeout", "20"],
    );
    (o, start.elapsed())
}

/// The record `wait --json` printed.
fn printed(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or(Value::Null)
}

fn file_of(r: &Value) -> Option<PathBuf> {
    r["conversation"]["file"].as_str().map(PathBuf::from)
}

/// A prompt and its reply: `wait --until idle` is 0 once the reply is saved.
fn turn(env: &TestEnv, id: &str, text: &str) -> Value {
    send(env, id, text);
    let (o, _) = wait(env, id, "idle");
    assert_eq!(o.status.code(), Some(0), "wait after {text:?}: {o:?}");
    let r = printed(&o);
    let saved = file_of(&r).and_then(|f| std::fs::read_to_string(f).ok());
    assert!(
        saved.is_some_and(|s| s.contains(REPLY)),
        "idle before the reply was saved: {r:#}"
    );
    r
}

/// A pi started with nothing to do waits at its editor: idle, and `wait
/// --until idle` returns as soon as pi is up and says so (never 124). One
/// started with a prompt is idle only once the reply is saved.
fn fresh(rt: Runtime) {
    let (env, _model) = setup(None);
    let id = run_in(rt, &env, &[]);
    let (o, took) = wait(&env, &id, "idle");
    eprintln!("{rt:?}: a fresh pi idle {took:?} after run -d");
    assert_eq!(o.status.code(), Some(0), "{o:?}\n{}", screen(&env, &id));
    let r = printed(&o);
    assert_eq!(r["status"]["state"], "idle", "{r:#}");
    assert_eq!(r["status"]["source"], "extension", "{r:#}");
    let o = out(&env, &["wait", &id, "--until", "idle", "--timeout", "0"]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");

    let prompted = run_in(rt, &env, &["tell me about quokkas"]);
    let (o, _) = wait(&env, &prompted, "idle");
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let r = printed(&o);
    let saved = file_of(&r).and_then(|f| std::fs::read_to_string(f).ok());
    assert!(
        saved.is_some_and(|s| s.contains(REPLY)),
        "idle before the first prompt's reply was saved: {r:#}"
    );
}

#[test]
fn a_fresh_pi_is_idle_and_one_given_a_prompt_once_it_answered_under_node() {
    fresh(Runtime::Node);
}

#[test]
fn a_fresh_pi_is_idle_and_one_given_a_prompt_once_it_answered_under_bun() {
    fresh(Runtime::Bun);
}

/// Commands pi takes without a turn are done the moment pi took them:
/// `/new`, then `/name foo` (the title at once, though pi writes the name
/// nowhere before the first prompt), a picker opened (`/model`) and closed
/// (Escape), an empty line. Never the quiet rule's 3 s, never 124.
fn commands(rt: Runtime) {
    let (env, _model) = setup(None);
    let id = started_in(rt, &env, &[]);
    let first = file_of(&turn(&env, &id, "first question")).expect("a file");

    let taken = |text: &str| {
        let sent = send(&env, &id, text);
        let (o, _) = wait(&env, &id, "idle");
        let took = sent.elapsed();
        eprintln!("{rt:?}: {text:?} idle {took:?} after the send");
        assert_eq!(o.status.code(), Some(0), "wait after {text:?}: {o:?}");
        assert!(took < AT_ONCE, "{text:?} took {took:?}: {o:?}");
        let r = printed(&o);
        assert_eq!(r["status"]["state"], "idle", "{text:?}: {r:#}");
        r
    };
    let r = taken("/new");
    let new = file_of(&r).expect("the new conversation");
    assert_ne!(new, first, "{r:#}");
    assert_eq!(r["title"], "(new)", "{r:#}");
    let r = taken("/name foo");
    assert_eq!(r["title"], "foo", "{r:#}");
    assert_eq!(file_of(&r), Some(new.clone()), "{r:#}");
    assert!(!new.exists(), "pi wrote its name before a prompt");
    let r = taken("/model");
    support::wait_until(
        T,
        || screen(&env, &id).contains("fake-model ["),
        "the picker",
    );
    assert_eq!(r["title"], "foo", "{r:#}");
    let o = out(&env, &["send", &id, "\x1b"]);
    assert!(o.status.success(), "{o:?}");
    taken("");
    let r = taken("/name bar");
    assert_eq!(r["title"], "bar", "{r:#}");

    let r = turn(&env, &id, "second question");
    assert_eq!(file_of(&r), Some(new), "{r:#}");
    assert_eq!(
        r["title"], "bar",
        "the name pi wrote with the prompt: {r:#}"
    );
}

#[test]
fn commands_taken_without_a_turn_are_idle_at_once_under_node() {
    commands(Runtime::Node);
}

#[test]
fn commands_taken_without_a_turn_are_idle_at_once_under_bun() {
    commands(Runtime::Bun);
}

/// `!sleep 2`: working while the command runs, labelled with it, and idle
/// as soon as it ends — not once the terminal has been quiet 3 s.
#[test]
fn a_bang_command_is_working_until_it_ends() {
    let (env, _model) = setup(None);
    let id = started(&env, &[]);
    let sent = send(&env, &id, "!sleep 2");
    let (o, _) = wait(&env, &id, "working");
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let r = wait_rec(&env, &id, "labelled with its command", |r| {
        r["status"]["label"] == "!sleep 2"
    });
    assert_eq!(r["status"]["source"], "extension", "{r:#}");
    assert!(sent.elapsed() < Duration::from_secs(2), "{r:#}");
    let (o, _) = wait(&env, &id, "idle");
    let took = sent.elapsed();
    eprintln!("!sleep 2: idle {took:?} after the send");
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert!(
        took >= Duration::from_secs(2),
        "idle before it ended: {o:?}"
    );
    assert!(
        took < Duration::from_secs(2) + AT_ONCE,
        "idle {took:?} after the send: {o:?}"
    );
}

/// Every model turn of the next `n` fails with HTTP `status`.
fn fail(model: &FakeModel, status: u16, n: usize) {
    for _ in 0..n {
        model.script().push(Answer::Fail {
            status,
            retry_after: None,
        });
    }
}

/// `label` begins with `head` and names the server's error.
fn labelled(r: &Value, head: &str, status: u16) -> bool {
    let label = r["status"]["label"].as_str().unwrap_or_default();
    label.starts_with(head) && label.contains(&format!("scripted failure {status}"))
}

/// pi's retries (its SDK's own off: one request per attempt).
fn retries(max: u32, base_ms: u32) -> String {
    format!(
        r#"{{"retry":{{"maxRetries":{max},"baseDelayMs":{base_ms},"provider":{{"maxRetries":0}}}}}}"#
    )
}

/// A request pi retries: working through each back-off, labelled
/// `retrying n/m: why`; after the last retry the turn failed: error (wait
/// exits 4) until the next input, whose reply makes it idle again. An
/// error pi does not retry (400) fails the turn at once.
#[test]
fn retries_are_working_and_a_turn_that_failed_is_an_error() {
    let (env, model) = setup(Some(&retries(2, 500)));
    let id = started(&env, &[]);
    fail(&model, 500, 3);
    send(&env, &id, "please fail");
    let r = wait_rec(&env, &id, "retrying", |r| {
        labelled(r, "retrying 1/2: ", 500)
    });
    assert_eq!(r["status"]["state"], "working", "{r:#}");
    wait_rec(&env, &id, "retrying again", |r| {
        labelled(r, "retrying 2/2: ", 500) && r["status"]["state"] == "working"
    });
    let (o, _) = wait(&env, &id, "idle");
    assert_eq!(o.status.code(), Some(4), "the turn failed: {o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("scripted failure 500"), "{err}");
    support::wait_until(
        T,
        || screen(&env, &id).contains("Retry failed"),
        "pi's word",
    );
    let r = record(&env, &id);
    assert_eq!(r["status"]["state"], "error", "held: {r:#}");
    assert!(labelled(&r, "error: ", 500), "{r:#}");

    let r = turn(&env, &id, "now answer");
    assert_eq!(r["status"]["state"], "idle", "{r:#}");

    fail(&model, 400, 1);
    let sent = send(&env, &id, "a bad request");
    let (o, _) = wait(&env, &id, "idle");
    let took = sent.elapsed();
    assert_eq!(o.status.code(), Some(4), "{o:?}");
    assert!(took < Duration::from_secs(5), "not retried, yet {took:?}");
    let r = record(&env, &id);
    assert!(labelled(&r, "error: ", 400), "{r:#}");
}

/// Escape in pi's retry back-off cancels the retry: pi says so on its
/// screen only and writes nothing, its file still reads as retrying; the
/// extension saw the key: error at once, and the wait ends (4).
#[test]
fn escape_in_a_retry_back_off_is_an_error_at_once() {
    let (env, model) = setup(Some(&retries(2, 20000)));
    let id = started(&env, &[]);
    fail(&model, 500, 1);
    send(&env, &id, "please fail");
    wait_rec(&env, &id, "in its back-off", |r| {
        labelled(r, "retrying 1/2: ", 500)
    });
    support::wait_until(T, || screen(&env, &id).contains("Retrying"), "the back-off");
    let o = out(&env, &["send", &id, "\x1b"]);
    assert!(o.status.success(), "{o:?}");
    let pressed = Instant::now();
    let (o, _) = wait(&env, &id, "idle");
    let took = pressed.elapsed();
    assert_eq!(o.status.code(), Some(4), "{o:?}");
    assert!(took < AT_ONCE, "{took:?}: {o:?}");
    let r = printed(&o);
    assert!(labelled(&r, "error: ", 500), "{r:#}");
    assert_eq!(r["status"]["source"], "extension", "{r:#}");
    support::wait_until(
        T,
        || screen(&env, &id).contains("Retry cancelled"),
        "pi's word",
    );
}
