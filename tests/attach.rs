//! `amux attach` against real runners: the PTY size after a detach, a
//! replay bigger than one attach frame, and the `attach` / `input` /
//! `ready` events an attacher causes.

use crate::support::http::{self, Sse};
use crate::support::pty::Pty;
use crate::support::{self, TestEnv};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(30);

/// `amux attach ID` in a `cols`×`rows` terminal; `attach` resolves the id
/// through the daemon, which it may start.
fn attach(env: &TestEnv, id: &str, cols: u16, rows: u16) -> Pty {
    let daemon_ok = |cmd: &mut Command| {
        cmd.env_remove("AMUX_NO_DAEMON");
    };
    Pty::spawn_with(env, ["attach", id], cols, rows, daemon_ok)
}

/// The id of the one session whose socket is in the runtime dir.
fn only_session(env: &TestEnv) -> String {
    let mut ids = Vec::new();
    support::wait_until(
        T,
        || {
            ids = sockets(env);
            !ids.is_empty()
        },
        "a session socket",
    );
    assert_eq!(ids.len(), 1, "one session expected: {ids:?}");
    ids.remove(0)
}

fn sockets(env: &TestEnv) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(env.sessions()) else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|e| PathBuf::from(e.file_name()))
        .filter(|p| p.extension().is_some_and(|x| x == "sock"))
        .filter_map(|p| Some(p.file_stem()?.to_str()?.to_string()))
        .collect()
}

fn size(env: &TestEnv, id: &str) -> (u64, u64) {
    let meta = http::meta(&env.sock(id));
    let get = |k: &str| meta["size"][k].as_u64().unwrap_or(0);
    (get("cols"), get("rows"))
}

fn wait_size(env: &TestEnv, id: &str, want: (u64, u64), what: &str) {
    support::wait_until(T, || size(env, id) == want, what);
}

#[test]
fn detach_gives_the_pty_back_to_the_foreground_size() {
    let env = TestEnv::new();
    let script = "stty size; while read l; do stty size; done";
    let mut fg = Pty::spawn(&env, ["run", "--", "sh", "-c", script], 150, 40);
    fg.wait_for("40 150", T);
    fg.wait_raw(T);
    let id = only_session(&env);
    let mut viewer = attach(&env, &id, 90, 20);
    wait_size(&env, &id, (90, 20), "the attacher's 90x20");
    viewer.write(&[0x1c]);
    assert!(viewer.wait_exit(T).success(), "detach exits 0");
    wait_size(&env, &id, (150, 40), "the foreground's 150x40 again");
    // The child itself sees it too, not only /meta.
    let from = fg.output.len();
    fg.write(b"\r");
    fg.wait_for_from(from, "40 150", T);
    fg.write(b"\x04");
    assert_eq!(fg.wait_exit(T).code(), Some(0));
}

#[test]
fn detach_gives_the_pty_back_to_the_remaining_attacher() {
    let env = TestEnv::new();
    let id = env.run_detached(["sleep", "1000"]);
    let mut first = attach(&env, &id, 120, 30);
    wait_size(&env, &id, (120, 30), "the first attacher's size");
    let mut second = attach(&env, &id, 90, 20);
    wait_size(&env, &id, (90, 20), "the second attacher's size");
    second.write(&[0x1c]);
    assert!(second.wait_exit(T).success());
    wait_size(&env, &id, (120, 30), "the first attacher's size again");
    first.write(&[0x1c]);
    assert!(first.wait_exit(T).success());
    // Nobody is looking: the PTY keeps its last size. No fact says the
    // runner has seen the last attacher go (its /meta does not count
    // them), so this gives it a moment; a slow runner passes vacuously.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(size(&env, &id), (120, 30));
}

#[test]
fn replay_bigger_than_a_frame_arrives_whole() {
    let env = TestEnv::new();
    // 300,000 lines are ~2.3 MB once the PTY turns \n into \r\n: over
    // two 1 MiB attach frames, under the 3,000,000 bytes kept.
    let script = "seq 1 300000; echo end-of-seq; exec sleep 1000";
    let mut cmd = env.amux(["run", "-d", "--keep", "3000000", "--", "sh", "-c", script]);
    cmd.stderr(std::process::Stdio::inherit());
    let out = support::output_within(cmd, T);
    assert!(out.status.success());
    let id = String::from_utf8(out.stdout).unwrap().trim().to_string();
    support::wait_until(
        T,
        || {
            http::get(&env.sock(&id), "/scrollback/text?bytes=64")
                .text()
                .contains("end-of-seq")
        },
        "the whole sequence printed",
    );
    let mut viewer = attach(&env, &id, 80, 24);
    let deadline = Instant::now() + T;
    // Search only the newest bytes: the output grows to megabytes.
    while !tail_has(&viewer.output, b"end-of-seq") {
        assert!(Instant::now() < deadline, "replay never reached its end");
        viewer.read_some(Duration::from_millis(200));
    }
    let text: String = viewer.text().chars().filter(|&c| c != '\r').collect();
    let mut want: String = (1..=300000).map(|n| format!("{n}\n")).collect();
    want.push_str("end-of-seq\n");
    assert!(
        text.contains(&want),
        "replay is not the kept output ({} bytes seen)",
        text.len()
    );
    viewer.write(&[0x1c]);
    assert!(viewer.wait_exit(T).success());
}

fn tail_has(hay: &[u8], needle: &[u8]) -> bool {
    let tail = &hay[hay.len().saturating_sub(64 * 1024)..];
    tail.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn attachers_and_their_keystrokes_are_events() {
    let env = TestEnv::new();
    let id = env.run_detached(["cat"]);
    let sock = env.sock(&id);
    let mut events = Sse::connect(&sock);
    let replay: Vec<String> = (0..3).map(|_| events.next().name).collect();
    // `cat` has no prompt: its runner said it works before `run -d` returned.
    assert_eq!(replay, ["meta", "state", "ready"], "replay, then ready");
    let mut viewer = attach(&env, &id, 80, 24);
    assert_eq!(events.next_named("attach").data["attachers"], 1);
    viewer.write(b"abc");
    assert_eq!(events.next_named("input").data["enter"], false);
    viewer.write(b"\r");
    assert_eq!(events.next_named("input").data["enter"], true);
    viewer.write(&[0x1c]);
    assert!(viewer.wait_exit(T).success());
    assert_eq!(events.next_named("attach").data["attachers"], 0);
    // Input that no terminal typed is not an `input` event.
    assert_eq!(http::post(&sock, "/input", b"scripted\r").status, 204);
    let mut later = Vec::new();
    while let Ok(Some(event)) = events.next_within(Duration::from_millis(700)) {
        later.push(event.name);
    }
    assert!(!later.iter().any(|n| n == "input"), "got {later:?}");
}
