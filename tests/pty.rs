//! `amux run` in the foreground, driven through a real terminal (and through
//! pipes): echo, window size, ^C, exit status and the `.exit` file left
//! for the daemon, terminal restore, `input` events for typed keys.

use crate::support::pty::Pty;
use crate::support::{self, TestEnv};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

#[test]
fn typed_input_echoes_back() {
    let env = TestEnv::new();
    let mut term = Pty::spawn(&env, ["run", "--", "cat"], 80, 24);
    term.wait_raw(T);
    term.write(b"zebra42\r");
    // The inner terminal echoes the line, then cat prints it back.
    let after_echo = term.wait_for("zebra42", T);
    term.wait_for_from(after_echo, "zebra42", T);
    term.write(b"\x04");
    assert_eq!(term.wait_exit(T).code(), Some(0));
}

#[test]
fn resize_reaches_the_child() {
    let env = TestEnv::new();
    let script = "stty size; while read line; do stty size; done";
    let mut term = Pty::spawn(&env, ["run", "--", "sh", "-c", script], 80, 24);
    term.wait_for("24 80", T);
    term.wait_raw(T);
    term.resize(100, 30);
    // SIGWINCH reaches amux asynchronously: ask again until the child
    // reports the new size.
    let mut from = term.output.len();
    let deadline = std::time::Instant::now() + T;
    loop {
        term.write(b"\r");
        let end = term.wait_for_from(from, "\n", T);
        if term.text()[from..].contains("30 100") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the child never saw 100x30:\n{}",
            term.text()
        );
        from = end;
        term.read_some(Duration::from_millis(50));
    }
    term.write(b"\x04");
    assert_eq!(term.wait_exit(T).code(), Some(0));
}

#[test]
fn ctrl_c_kills_the_child_and_exits_130() {
    let env = TestEnv::new();
    let mut term = Pty::spawn(&env, ["run", "--", "sleep", "100"], 80, 24);
    term.wait_raw(T);
    term.write(b"\x03");
    assert_eq!(
        term.wait_exit(T).code(),
        Some(130),
        "screen:\n{}",
        term.text()
    );
}

/// Started by a shell that ignores SIGINT and SIGQUIT (a background job
/// without job control, `nohup` scripts), the agent still gets ^C: an
/// ignored signal would stay ignored across its exec.
#[test]
fn ctrl_c_reaches_the_agent_when_amux_was_started_ignoring_it() {
    let env = TestEnv::new();
    let script = "trap '' INT QUIT; exec \"$0\" run -- sleep 100";
    let args = ["-c", script, support::amux_bin()];
    let mut term = Pty::spawn_program(&env, "sh", args, 80, 24, |_| {});
    term.wait_raw(T);
    term.write(b"\x03");
    assert_eq!(
        term.wait_exit(T).code(),
        Some(130),
        "screen:\n{}",
        term.text()
    );
}

#[test]
fn exit_status_passes_through() {
    let env = TestEnv::new();
    let mut term = Pty::spawn(&env, ["run", "--", "sh", "-c", "exit 7"], 80, 24);
    assert_eq!(term.wait_exit(T).code(), Some(7));
    // Same without a terminal.
    let out = support::output_within(env.amux(["sh", "-c", "exit 7"]), T);
    assert_eq!(out.status.code(), Some(7));
}

#[test]
fn exit_status_is_left_in_a_private_exit_file() {
    let env = TestEnv::new();
    let out = support::output_within(env.amux(["run", "--", "sh", "-c", "exit 7"]), T);
    assert_eq!(out.status.code(), Some(7));
    let files: Vec<_> = std::fs::read_dir(env.sessions())
        .expect("sessions dir")
        .flatten()
        .map(|e| e.path())
        .collect();
    let exits: Vec<_> = files
        .iter()
        .filter(|p| p.extension().is_some_and(|x| x == "exit"))
        .collect();
    assert_eq!(exits.len(), 1, "one .exit file, and only it: {files:?}");
    assert_eq!(files.len(), 1, "socket and FIFO are gone: {files:?}");
    let exit = exits[0];
    let mode = std::fs::metadata(exit).expect("stat").permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{}", exit.display());
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(exit).expect("read")).expect("JSON");
    assert_eq!(meta["exit_code"], 7, "{meta}");
    assert_eq!(meta["alive"], false, "{meta}");
    assert!(meta["exited_at"].is_string(), "{meta}");
    let id = meta["id"].as_str().expect("id");
    assert_eq!(exit.file_stem().and_then(|s| s.to_str()), Some(id));
}

#[test]
fn typed_keys_are_input_events() {
    let env = TestEnv::new();
    let mut term = Pty::spawn(&env, ["run", "--", "cat"], 80, 24);
    term.wait_raw(T);
    let sock = std::fs::read_dir(env.sessions())
        .expect("sessions dir")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "sock"))
        .expect("a session socket");
    let mut events = support::http::Sse::connect(&sock);
    events.next_named("ready");
    term.write(b"ab");
    assert_eq!(events.next_named("input").data["enter"], false);
    term.write(b"c\r");
    assert_eq!(events.next_named("input").data["enter"], true);
    term.write(b"\x04");
    assert_eq!(term.wait_exit(T).code(), Some(0));
}

#[test]
fn terminal_attributes_are_restored() {
    let env = TestEnv::new();
    let mut term = Pty::spawn(&env, ["run", "--", "cat"], 80, 24);
    let before = term.initial.clone();
    term.wait_raw(T);
    assert_ne!(
        term.termios(),
        before,
        "raw mode should differ from the defaults"
    );
    term.write(b"\x04");
    assert_eq!(term.wait_exit(T).code(), Some(0));
    assert!(!term.is_raw(), "terminal left in raw mode");
    assert_eq!(term.termios(), before);
}

#[test]
fn pipes_in_and_out() {
    let env = TestEnv::new();
    let mut cmd = env.amux(["run", "--", "cat"]);
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"a\nb\n")
        .expect("write");
    let stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut { stdout }, &mut out).map(|_| out)
    });
    let status = support::wait_child(&mut child, T);
    let out = reader.join().expect("reader").expect("read stdout");
    assert_eq!(String::from_utf8_lossy(&out), "a\nb\n");
    assert_eq!(status.code(), Some(0));
}
