//! The scripting verbs against real runners and the daemon (amux(1)):
//! `wait` (each exit status), `send`, `attach` (replay, live output,
//! keystrokes, detach), `resume` of a dead real pi, and id resolution.

use crate::support::model::FakeModel;
use crate::support::pty::Pty;
use crate::support::{self, TestEnv};
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

/// `amux ARGS…` allowed to start (and use) a daemon.
fn amux(env: &TestEnv, args: &[&str]) -> Command {
    let mut cmd = env.amux(args);
    cmd.env_remove("AMUX_NO_DAEMON");
    cmd
}

fn run(env: &TestEnv, args: &[&str]) -> Output {
    let mut cmd = amux(env, args);
    cmd.stderr(std::process::Stdio::piped());
    support::output_within(cmd, T)
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn record(env: &TestEnv, id: &str) -> Value {
    let out = run(env, &["show", id, "--json"]);
    assert!(out.status.success(), "show {id}: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("show --json prints JSON")
}

fn turns_agent(env: &TestEnv) -> String {
    let agent = env.fake_pi("pi_turns.mjs");
    env.run_detached([support::node(), agent])
}

#[test]
fn wait_idle_returns_after_the_turn_and_not_before() {
    let env = TestEnv::new();
    let id = turns_agent(&env);
    support::wait_until(
        T,
        || {
            support::http::get(&env.sock(&id), "/scrollback/text")
                .text()
                .contains("ready>")
        },
        "agent prompt",
    );
    let send = run(&env, &["send", &id, "first question", "--enter"]);
    assert!(send.status.success(), "send: {}", stderr(&send));
    // Sent, reply not yet saved (it comes 800 ms later): wait must block
    // until the turn is in the file.
    let out = run(
        &env,
        &["wait", &id, "--until", "idle", "--json", "--timeout", "20"],
    );
    assert!(
        out.status.success(),
        "wait: {:?} {}",
        out.status,
        stderr(&out)
    );
    let rec: Value = serde_json::from_slice(&out.stdout).expect("wait --json prints the record");
    assert_eq!(rec["turn_done"], true);
    assert_eq!(rec["title"], "first question");
    let file = PathBuf::from(rec["conversation"]["file"].as_str().expect("attributed"));
    let text = std::fs::read_to_string(&file).expect("the conversation file");
    assert!(
        text.contains("echo first question"),
        "wait returned before the reply was saved:\n{text}"
    );
    assert_eq!(rec["conversation"]["source"], "shim");

    // A second turn: send, then wait must wait for *this* reply.
    assert!(run(&env, &["send", &id, "second", "--enter"])
        .status
        .success());
    let out = run(
        &env,
        &["wait", &id, "--until", "idle", "--json", "--timeout", "20"],
    );
    assert!(out.status.success(), "second wait: {}", stderr(&out));
    let text = std::fs::read_to_string(&file).expect("the conversation file");
    assert!(
        text.contains("echo second"),
        "second wait returned early:\n{text}"
    );
}

#[test]
fn wait_statuses_for_ended_timeout_unknown_and_usage() {
    let env = TestEnv::new();
    let short = env.run_detached(["sh", "-c", "sleep 1"]);
    let out = run(
        &env,
        &["wait", &short, "--until", "attributed", "--timeout", "20"],
    );
    assert_eq!(out.status.code(), Some(3), "ended first: {}", stderr(&out));

    let long = env.run_detached(["sleep", "30"]);
    let out = run(
        &env,
        &["wait", &long, "--until", "attributed", "--timeout", "0.5"],
    );
    assert_eq!(out.status.code(), Some(124), "timeout: {}", stderr(&out));
    assert!(stderr(&out).contains("timed out"), "{}", stderr(&out));

    let out = run(&env, &["wait", "zzzzzzzzzz", "--timeout", "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no session matches"),
        "{}",
        stderr(&out)
    );

    let out = run(&env, &["wait", &long, "--until", "sleepy"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out).lines().count(),
        1,
        "one-line error: {}",
        stderr(&out)
    );

    let out = run(
        &env,
        &["wait", &long, "--until", "exit", "--timeout", "0.2"],
    );
    assert_eq!(out.status.code(), Some(124));
    assert!(run(&env, &["kill", &long]).status.success());
    let out = run(
        &env,
        &[
            "wait",
            &long,
            "--until",
            "exit",
            "--timeout",
            "20",
            "--json",
        ],
    );
    assert!(
        out.status.success(),
        "wait exit after kill: {}",
        stderr(&out)
    );
    let rec: Value = serde_json::from_slice(&out.stdout).expect("record");
    assert_eq!(rec["alive"], false);
    assert_eq!(rec["exit_code"], 143);
}

#[test]
fn send_text_reaches_the_agent() {
    let env = TestEnv::new();
    let out_file = env.work().join("got.txt");
    let script = format!("read line; printf '%s' \"$line\" > {}", out_file.display());
    let id = env.run_detached(["sh", "-c", &script]);
    let out = run(&env, &["send", &id, "hello from send", "--enter"]);
    assert!(out.status.success(), "send: {}", stderr(&out));
    support::wait_until(
        T,
        || std::fs::read_to_string(&out_file).is_ok_and(|s| s == "hello from send"),
        "the sent line",
    );

    // From stdin with `-`.
    let file2 = env.work().join("got2.txt");
    let script = format!("read line; printf '%s' \"$line\" > {}", file2.display());
    let id = env.run_detached(["sh", "-c", &script]);
    let mut cmd = amux(&env, &["send", &id, "-", "--enter"]);
    let input = env.work().join("in.txt");
    std::fs::write(&input, "piped text").expect("input");
    cmd.stdin(std::fs::File::open(&input).expect("open input"));
    assert!(support::output_within(cmd, T).status.success());
    support::wait_until(
        T,
        || std::fs::read_to_string(&file2).is_ok_and(|s| s == "piped text"),
        "the piped text",
    );
}

/// More than the daemon takes in one request (1 MiB) is sent in pieces,
/// all of it, in order; `send` says 0 only then.
#[test]
fn send_of_more_than_a_request_takes_delivers_every_byte() {
    let env = TestEnv::new();
    let got = env.work().join("big.txt");
    const SIZE: usize = 3 * 1024 * 1024 + 17;
    let script = format!("stty raw -echo; head -c {SIZE} > {}", got.display());
    let id = env.run_detached(["sh", "-c", &script]);
    let input = env.work().join("big-in.txt");
    let text: Vec<u8> = (0..SIZE).map(|i| b'a' + (i % 26) as u8).collect();
    std::fs::write(&input, &text).expect("input");
    let mut cmd = amux(&env, &["send", &id, "-"]);
    cmd.stdin(std::fs::File::open(&input).expect("open input"));
    let out = support::output_within(cmd, T);
    assert!(out.status.success(), "send: {}", stderr(&out));
    support::wait_until(
        T,
        || std::fs::metadata(&got).is_ok_and(|m| m.len() == SIZE as u64),
        "every byte sent",
    );
    assert!(
        std::fs::read(&got).expect("got") == text,
        "the bytes came in order"
    );
}

#[test]
fn attach_replays_relays_and_detaches() {
    let env = TestEnv::new();
    let id = env.run_detached([
        "sh",
        "-c",
        "echo before-attach; while read l; do echo \"echo:$l\"; done",
    ]);
    support::wait_until(
        T,
        || {
            support::http::get(&env.sock(&id), "/scrollback/text")
                .text()
                .contains("before-attach")
        },
        "first output",
    );
    // `attach` resolves the id through the daemon, which it may start.
    let daemon_ok = |cmd: &mut Command| {
        cmd.env_remove("AMUX_NO_DAEMON");
    };
    let mut term = Pty::spawn_with(&env, ["attach", id.as_str()], 90, 20, daemon_ok);
    let replayed = term.wait_for("before-attach", T);
    // The size frame and the replay cross: the replay can come first.
    support::wait_until(
        T,
        || {
            let meta = support::http::meta(&env.sock(&id));
            (meta["size"]["cols"].as_u64(), meta["size"]["rows"].as_u64()) == (Some(90), Some(20))
        },
        "the agent resized to the attaching terminal",
    );
    // A second attacher at the same time sees the same live output.
    let mut second = Pty::spawn_with(&env, ["attach", id.as_str()], 90, 20, daemon_ok);
    second.wait_for("before-attach", T);
    term.write(b"typed-in-attach\r");
    term.wait_for_from(replayed, "echo:typed-in-attach", T);
    second.wait_for("echo:typed-in-attach", T);
    term.write(&[0x1c]);
    let status = term.wait_exit(T);
    assert!(status.success(), "detach exits 0: {status:?}");
    assert_eq!(
        support::http::meta(&env.sock(&id))["alive"],
        true,
        "the agent runs on after detach"
    );
    second.write(&[0x1c]);
    assert!(second.wait_exit(T).success());
}

#[test]
fn unknown_and_ambiguous_ids_are_clear_errors() {
    let env = TestEnv::new();
    let title = "\x1b]0;same title\x07";
    let script = format!("printf '{title}'; sleep 30");
    let a = env.run_detached(["sh", "-c", &script]);
    let b = env.run_detached(["sh", "-c", &script]);
    support::wait_until(
        T,
        || {
            let out = run(&env, &["ls", "--json"]);
            let recs: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
            recs.iter().filter(|r| r["title"] == "same title").count() == 2
        },
        "both titled sessions",
    );
    let out = run(&env, &["show", "same-title"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("ambiguous") && err.contains(&a) && err.contains(&b),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    let out = run(&env, &["kill", "no-such-session"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no session matches"),
        "{}",
        stderr(&out)
    );
    // A key is the user's words, whatever it holds: never a query string
    // or another path of the daemon's.
    for key in ["?all=1", "a/b", "50%"] {
        let out = run(&env, &["show", key]);
        assert_eq!(out.status.code(), Some(1), "{key}");
        let want = format!("no session matches {key:?}");
        assert!(stderr(&out).contains(&want), "{key}: {}", stderr(&out));
    }
    // A unique prefix works.
    assert_eq!(record(&env, &a[..8])["id"], a.as_str());
}

#[test]
fn resume_continues_the_same_conversation_with_real_pi() {
    let env = TestEnv::new();
    let model = FakeModel::start("Resumed reply text.");
    std::fs::write(env.pi_dir().join("models.json"), model.pi_models_json()).expect("models.json");
    let pi = support::pi().display().to_string();
    let first = run(
        &env,
        &[
            "run",
            "--",
            &pi,
            "--provider",
            "fake",
            "--model",
            "fake-model",
            "-p",
            "remember quokkas",
        ],
    );
    assert!(first.status.success(), "pi -p: {}", stderr(&first));
    let files = support::jsonl_files(&env.pi_sessions());
    assert_eq!(files.len(), 1, "{files:?}");
    let file = files[0].display().to_string();
    // The dead session keeps its file and resume command.
    let mut dead = Value::Null;
    support::wait_until(
        T,
        || {
            let out = run(&env, &["ls", "--all", "--json"]);
            let recs: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
            dead = recs
                .into_iter()
                .find(|r| r["alive"] == false)
                .unwrap_or(Value::Null);
            !dead.is_null()
        },
        "the dead pi session in ls --all",
    );
    let old_id = dead["id"].as_str().expect("id").to_string();
    let resume: Vec<&str> = dead["resume_command"]
        .as_array()
        .expect("resume_command")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    // The user's options stay; the prompt and `-p` do not.
    assert_eq!(
        resume,
        [
            pi.as_str(),
            "--provider",
            "fake",
            "--model",
            "fake-model",
            "--session",
            file.as_str(),
            "-c"
        ],
        "{dead}"
    );

    let out = run(&env, &["resume", "-d", &old_id]);
    assert!(out.status.success(), "resume -d: {}", stderr(&out));
    let new_id = stdout(&out).trim().to_string();
    assert_ne!(new_id, old_id);
    support::wait_until(
        T,
        || {
            support::http::get(&env.sock(&new_id), "/scrollback/text")
                .text()
                .contains("fake-model")
        },
        "resumed pi's screen",
    );
    assert!(run(&env, &["send", &new_id, "and again", "--enter"])
        .status
        .success());
    let out = run(
        &env,
        &[
            "wait",
            &new_id,
            "--until",
            "idle",
            "--json",
            "--timeout",
            "30",
        ],
    );
    assert!(out.status.success(), "wait: {}", stderr(&out));
    let rec: Value = serde_json::from_slice(&out.stdout).expect("record");
    assert_eq!(
        rec["conversation"]["file"],
        file.as_str(),
        "the resumed session holds the same file"
    );
    assert_eq!(
        support::jsonl_files(&env.pi_sessions()).len(),
        1,
        "no second conversation file"
    );
    let _ = run(&env, &["kill", &new_id]);
}
