//! The real pi (pinned by .ci/setup-agents) under `amux run`, talking to a
//! fake model server (`support::model`): the runner's `session_file` must be the
//! very file pi wrote, under node and under bun, printed and interactive —
//! named first by pi's amux extension (before pi writes it), then by the
//! preload once written — and the extension's turn brackets become
//! `state` events.

use crate::support::http::{self, Sse};
use crate::support::model::FakeModel;
use crate::support::pty::Pty;
use crate::support::{self, TestEnv};
use std::path::PathBuf;
use std::time::Duration;

const T: Duration = Duration::from_secs(60);
/// How soon after the reply is on screen the runner must know the file.
const ATTRIBUTION: Duration = Duration::from_secs(2);
const REPLY: &str = "Quokkas are marsupials indeed.";

/// A test world with pi configured for the fake server.
fn setup() -> (TestEnv, FakeModel) {
    let env = TestEnv::new();
    let model = FakeModel::start(REPLY);
    std::fs::write(env.pi_dir().join("models.json"), model.pi_models_json()).expect("models.json");
    (env, model)
}

fn pi_flags() -> [&'static str; 4] {
    ["--provider", "fake", "--model", "fake-model"]
}

/// The one conversation file pi wrote.
fn written_file(env: &TestEnv) -> PathBuf {
    let files = support::jsonl_files(&env.pi_sessions());
    assert_eq!(
        files.len(),
        1,
        "pi should write one session file: {files:?}"
    );
    files.into_iter().next().unwrap_or_default()
}

fn print_mode(launcher: Vec<PathBuf>) {
    let (env, model) = setup();
    let mut cmd = env.amux(["run", "-d", "--"]);
    cmd.args(launcher)
        .args(pi_flags())
        .args(["-p", "tell me about quokkas"])
        .env("PI_OFFLINE", "1");
    cmd.stderr(std::process::Stdio::inherit());
    let out = support::output_within(cmd, T);
    assert!(out.status.success(), "amux run -d: {:?}", out.status);
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let sock = env.sock(&id);
    let events = Sse::connect(&sock).rest(T);
    let screen = http::get(&sock, "/scrollback/text").text();
    assert!(
        screen.contains(REPLY),
        "pi did not print the reply:\n{screen}"
    );
    assert_eq!(
        events.last().map(|e| e.data["exit_code"].clone()),
        Some(0.into()),
        "{events:?}\n{screen}"
    );
    assert!(model.requests() >= 1);
    let file = written_file(&env);
    let attributed: Vec<_> = events.iter().filter(|e| e.name == "session_file").collect();
    let sources: Vec<_> = attributed.iter().map(|e| &e.data["source"]).collect();
    assert_eq!(sources, ["extension", "shim"], "{events:?}");
    for e in &attributed {
        assert_eq!(e.data["path"], file.display().to_string(), "{events:?}");
    }
    assert!(events.iter().any(|e| e.name == "shim"), "{events:?}");
    let states: Vec<_> = events
        .iter()
        .filter(|e| e.name == "state")
        .map(|e| (e.data["state"].as_str(), e.data["source"].as_str()))
        .collect();
    assert_eq!(
        states,
        [
            (Some("working"), Some("extension")),
            (Some("idle"), Some("extension"))
        ],
        "{events:?}"
    );
}

#[test]
fn print_mode_under_node() {
    print_mode(vec![support::pi()]);
}

#[test]
fn print_mode_under_bun() {
    print_mode(vec![support::bun(), support::pi_cli_js()]);
}

/// The only session socket in the runtime dir (a foreground runner does
/// not print its id).
fn only_socket(env: &TestEnv) -> PathBuf {
    let mut found = None;
    support::wait_until(
        T,
        || {
            let socks: Vec<PathBuf> = std::fs::read_dir(env.sessions())
                .map(|d| {
                    d.flatten()
                        .map(|e| e.path())
                        .filter(|p| p.extension().is_some_and(|x| x == "sock"))
                        .collect()
                })
                .unwrap_or_default();
            found = socks.first().cloned();
            socks.len() == 1
        },
        "the runner's socket",
    );
    found.unwrap_or_default()
}

#[test]
fn interactive_under_node() {
    let (env, model) = setup();
    let mut args = vec![
        "run".to_string(),
        "--".into(),
        support::pi().display().to_string(),
    ];
    args.extend(pi_flags().map(String::from));
    let mut term = Pty::spawn(&env, &args, 100, 30);
    let sock = only_socket(&env);
    // pi drops keys typed before its editor is up: wait for the footer
    // naming the model, drawn with the first full screen.
    let ready = term.wait_for("fake-model", T);
    // The extension names the file pi will write; it does not exist yet.
    let mut meta = serde_json::Value::Null;
    support::wait_until(
        ATTRIBUTION,
        || {
            meta = http::meta(&sock);
            !meta["session_file"].is_null()
        },
        "the extension's session_file",
    );
    assert_eq!(meta["session_file_source"], "extension", "{meta}");
    let named = PathBuf::from(meta["session_file"].as_str().unwrap_or_default());
    assert!(!named.exists(), "{meta}");
    term.write(b"tell me about quokkas");
    term.wait_for_from(ready, "quokkas", T);
    term.write(b"\r");
    let replied = term.wait_for_from(ready, REPLY, T);
    // pi streams the reply to the screen, then saves the message (its
    // file's first write): allow that moment, but attribution must come
    // while pi is still running, not at its exit.
    support::wait_until(
        ATTRIBUTION,
        || {
            meta = http::meta(&sock);
            meta["session_file_source"] == "shim"
        },
        "the preload's session_file after the reply was on screen",
    );
    assert_eq!(meta["alive"], true);
    let file = written_file(&env);
    assert_eq!(file, named, "pi wrote another file than it named");
    assert_eq!(meta["session_file"], file.display().to_string(), "{meta}");
    assert_eq!(model.requests(), 1);
    // Quit: ^D on an empty editor.
    term.wait_for_from(replied, "fake-model", T);
    term.write(b"\x04");
    let status = term.wait_exit(T);
    assert_eq!(status.code(), Some(0), "screen:\n{}", term.text());
    assert_eq!(written_file(&env), file);
}
