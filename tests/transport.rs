//! The client side of the daemon socket: `wait` as one connection to the
//! daemon's per-session event stream, with a timeout that is one clock
//! around everything; the stream itself, spoken to directly; the daemon
//! resolving a runner it has not discovered yet; and keystrokes typed
//! through `amux attach` counted as input awaiting a reply, like `send`'s.

use crate::support::daemon::{append, iso, now_s, pi_file, pi_lines, World, T};
use crate::support::http::{self, Sse};
use crate::support::pty::Pty;
use crate::support::{self};
use rustix::process::Signal;
use serde_json::json;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn timed(mut cmd: Command) -> (Output, Duration) {
    cmd.stderr(Stdio::piped());
    let start = Instant::now();
    let o = support::output_within(cmd, T);
    (o, start.elapsed())
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn signal(pid: u32, sig: Signal) {
    let p = rustix::process::Pid::from_raw(pid as i32).expect("pid");
    rustix::process::kill_process(p, sig).expect("signal");
}

/// Lets a stopped daemon run again, whatever the test's outcome.
struct Cont(u32);

impl Drop for Cont {
    fn drop(&mut self) {
        signal(self.0, Signal::CONT);
    }
}

/// Connections the daemon has accepted (this request's own included).
fn connections(w: &World) -> u64 {
    let health = http::get(&w.daemon_sock(), "/v1/health").json();
    health["connections"]
        .as_u64()
        .expect("health counts connections")
}

/// A stand-in pi in `work/proj` holding a file with one finished turn.
fn idle_pi(w: &World) -> (String, PathBuf) {
    let cwd = w.cwd("proj");
    let id = w.run(&cwd, &["pi"]);
    let now = now_s();
    let file = pi_file(&w.pi_dir_for(&cwd), "0000-tr", now);
    append(&file, &pi_lines("0000-tr", &cwd, now, "first", "ok"));
    w.shim_write(&id, &file);
    w.wait_record(&id, "idle after its first turn", |r| r["turn_done"] == true);
    (id, file)
}

#[test]
fn wait_timeout_is_exact_and_covers_resolution() {
    let mut w = World::new();
    let pid = w.start_daemon();
    let id = w.run(&w.cwd("proj"), &["sleep", "30"]);
    let wait = || w.amux(["wait", &id, "--until", "attributed", "--timeout", "0.3"]);
    // Never attributed: only the clock ends it.
    let (o, took) = timed(wait());
    println!("wait --timeout 0.3 on a live session: {took:?}");
    assert_eq!(o.status.code(), Some(124), "{}", err(&o));
    assert!(
        took >= Duration::from_millis(300),
        "returned early: {took:?}"
    );
    assert!(took < Duration::from_secs(2), "took {took:?}");

    // A stopped daemon never names the session: the same clock, with
    // resolving the key inside it, ends the wait.
    signal(pid, Signal::STOP);
    let _cont = Cont(pid);
    let (o, took) = timed(wait());
    println!("wait --timeout 0.3 against a stopped daemon: {took:?}");
    assert_eq!(o.status.code(), Some(124), "{}", err(&o));
    assert!(took < Duration::from_secs(2), "took {took:?}");
}

#[test]
fn wait_is_one_connection() {
    let mut w = World::new();
    w.start_daemon();
    let first = connections(&w);
    let id = w.run(&w.cwd("proj"), &["sleep", "30"]);
    // The runner asks the daemon's health once, from a thread of its own
    // that a loaded machine may run late: counted only once it did. Each
    // `connections` is itself one.
    let (mut asked, mut before) = (0, 0);
    support::wait_until(
        Duration::from_secs(20),
        || {
            asked += 1;
            before = connections(&w);
            before > first + asked
        },
        "the runner's health request",
    );
    let (o, _) = timed(w.amux(["wait", &id, "--until", "exit", "--timeout", "0.5"]));
    assert_eq!(o.status.code(), Some(124), "{}", err(&o));
    let after = connections(&w);
    // One for `wait`, one for the second health request.
    assert_eq!(
        after - before,
        2,
        "wait made {} connections",
        after - before - 1
    );
}

/// `GET /v1/sessions/KEY/events`: the key resolved by the daemon, the
/// current record first, other sessions' news left out, the end after the
/// record that says the session has ended; a dead session's stream is its
/// record alone; an unknown key a 404.
#[test]
fn the_session_stream_is_its_records_until_its_end() {
    let mut w = World::new();
    w.start_daemon();
    let cwd = w.cwd("proj");
    let id = w.run(&cwd, &["pi"]);
    let target = format!("/v1/sessions/{}/events", &id[..6]);
    let mut sse = Sse::open(&w.daemon_sock(), &target);
    let first = sse.next();
    assert_eq!(
        (first.name.as_str(), &first.data["id"]),
        ("session", &json!(id))
    );
    assert_eq!(first.data["alive"], true);
    let other = w.run(&cwd, &["sleep", "30"]);
    w.tell(&id, &json!({"exit": 3}));
    let rest = sse.rest(T);
    assert!(
        rest.iter()
            .all(|e| e.name == "session" && e.data["id"] == id.as_str()),
        "only {id}'s records, not {other}'s: {rest:#?}"
    );
    let last = rest.last().expect("the record of its end");
    assert_eq!(
        (&last.data["alive"], &last.data["exit_code"]),
        (&json!(false), &json!(3))
    );

    let mut sse = Sse::open(&w.daemon_sock(), &format!("/v1/sessions/{id}/events"));
    assert_eq!(sse.next().data["alive"], false, "a dead session's record");
    assert!(sse.rest(T).is_empty(), "and nothing after it");
    http::get(&w.daemon_sock(), "/v1/sessions/zzzzzzzzzz/events").assert_error(404);
}

/// A runner that starts while the daemon cannot look (stopped) is named
/// by the daemon as soon as it runs again: it discovers the runner on
/// demand rather than answering 404 before inotify tells it.
#[test]
fn a_runner_the_daemon_has_not_seen_yet_is_found_on_demand() {
    let mut w = World::new();
    let pid = w.start_daemon();
    signal(pid, Signal::STOP);
    let cont = Cont(pid);
    let id = w.run(&w.cwd("proj"), &["sleep", "30"]);
    drop(cont);
    let resp = http::get(&w.daemon_sock(), &format!("/v1/sessions/{id}"));
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.json()["id"], id.as_str());
    let addr = http::get(&w.daemon_sock(), &format!("/v1/sessions/{id}/runner")).json();
    assert_eq!(addr["socket"].as_str(), w.env.sock(&id).to_str(), "{addr}");
}

/// Keystrokes that end a line, typed through `amux attach`, reach the
/// daemon's pending-input accounting (the runner reports them): the
/// session owes a reply until a turn ends after them.
#[test]
fn attach_input_awaits_a_reply_like_send() {
    let mut w = World::new();
    w.start_daemon();
    let (id, file) = idle_pi(&w);
    let mut viewer = Pty::spawn(&w.env, ["attach", id.as_str()], 80, 24);
    viewer.wait_for("stand-in ready", T);
    viewer.write(b"{\"say\":\"typed-through-attach\"}\r");
    viewer.wait_for("typed-through-attach", T);
    let r = w.wait_record(&id, "awaiting a reply", |r| r["turn_done"] == false);
    assert_eq!(r["status"]["working"], true, "{r:#}");
    let ts = iso(now_s());
    let turn = [
        json!({"type": "message", "id": "m3", "timestamp": ts,
               "message": {"role": "user", "content": [{"type": "text", "text": "typed"}]}}),
        json!({"type": "message", "id": "m4", "timestamp": ts,
               "message": {"role": "assistant", "content": [{"type": "text", "text": "ok"}],
                           "stopReason": "stop"}}),
    ];
    append(&file, &turn.map(|l| format!("{l}\n")).concat());
    w.wait_record(&id, "idle after the reply", |r| r["turn_done"] == true);
    viewer.write(&[0x1c]);
    assert!(viewer.wait_exit(T).success());
}
