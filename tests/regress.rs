//! Regression tests for wrong answers found in real use, with fake agents
//! and shells (those that need the real pi are in regress_pi.rs). Each
//! test's doc says the fact it holds.

use crate::support;
use crate::support::daemon::{
    self, append, holds, now_s, pi_file, pi_lines, pi_name, EventLog, World,
};
use crate::support::pty::Pty;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(20);

/// `amux ARGS…` in `w`'s world, allowed to start a daemon.
fn amux(w: &World, args: &[&str]) -> Command {
    let mut cmd = w.amux(args);
    cmd.env_remove("AMUX_NO_DAEMON");
    cmd
}

fn out(w: &World, args: &[&str]) -> Output {
    let mut cmd = amux(w, args);
    cmd.stderr(Stdio::piped());
    support::output_within(cmd, T)
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `amux ls --json [--all]` (starting a daemon if none runs).
fn ls(w: &World, all: bool) -> Vec<Value> {
    let mut args = vec!["ls", "--json"];
    if all {
        args.push("--all");
    }
    let o = out(w, &args);
    assert!(o.status.success(), "ls: {:?} {}", o.status, err(&o));
    serde_json::from_slice(&o.stdout).expect("ls --json prints an array")
}

fn find(records: &[Value], id: &str) -> Option<Value> {
    records.iter().find(|r| r["id"] == id).cloned()
}

/// Polls `ls --json [--all]` until `id`'s record satisfies `pred`.
fn wait_rec(w: &World, id: &str, all: bool, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + T;
    loop {
        let r = find(&ls(w, all), id);
        if let Some(r) = r.as_ref().filter(|r| pred(r)) {
            return r.clone();
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {id} to be {what}; last record: {r:#?}\nlog:\n{}",
            w.log()
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// SIGKILLs whatever daemon answers now; returns its pid.
fn kill9_daemon(w: &World) -> u32 {
    let pid = w.health_pid().expect("a daemon answers");
    let p = rustix::process::Pid::from_raw(pid as i32).expect("pid");
    rustix::process::kill_process(p, rustix::process::Signal::KILL).expect("kill -9 the daemon");
    support::wait_until(
        T,
        || {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map_or(true, |s| s.contains(") Z "))
        },
        "the killed daemon to be gone",
    );
    pid
}

/// `amux events` (allowed to start a daemon) collecting its lines.
fn events(w: &World) -> EventLog {
    let mut cmd = amux(w, &["events"]);
    cmd.stderr(Stdio::null());
    EventLog::collect(cmd)
}

/// A stand-in `pi` session (no preload) in `cwd` bound by a shim report
/// to a fresh file holding one finished turn titled `title`.
fn bound_session(w: &World, cwd: &Path, name: &str, title: &str) -> (String, PathBuf) {
    let id = w.run(cwd, &["pi"]);
    let now = now_s();
    let file = pi_file(&w.pi_dir_for(cwd), name, now);
    append(&file, &pi_lines(name, cwd, now, title, "the reply"));
    w.shim_write(&id, &file);
    let r = w.wait_holds(&id, &file, "shim");
    assert_eq!(r["title"], title, "{r:#}");
    (id, file)
}

fn assistant(stop: &str) -> String {
    let line = json!({"type": "message", "id": "e", "timestamp": daemon::iso(now_s()),
        "message": {"role": "assistant", "content": [], "stopReason": stop,
                    "errorMessage": "Connection error."}});
    format!("{line}\n")
}

fn user(text: &str) -> String {
    let line = json!({"type": "message", "id": "u", "timestamp": daemon::iso(now_s()),
        "message": {"role": "user", "content": [{"type": "text", "text": text}]}});
    format!("{line}\n")
}

/// `wait --timeout 0` answers from the current record.
#[test]
fn wait_timeout_zero_answers_from_the_current_record() {
    let mut w = World::new();
    w.start_daemon();
    let cwd = w.cwd("proj");
    let (id, _file) = bound_session(&w, &cwd, "0000-done", "a finished turn");
    wait_rec(&w, &id, false, "turn done", |r| r["turn_done"] == true);
    let o = out(&w, &["wait", &id, "--until", "idle", "--timeout", "0"]);
    assert_eq!(o.status.code(), Some(0), "idle, turn done: {}", err(&o));

    w.tell(&id, &json!({"exit": 0}));
    wait_rec(&w, &id, true, "dead", |r| r["alive"] == false);
    let o = out(&w, &["wait", &id, "--until", "exit", "--timeout", "0"]);
    assert_eq!(o.status.code(), Some(0), "exit, dead pi: {}", err(&o));

    let sh = w.run(&cwd, &["sh", "-c", "exit 0"]);
    wait_rec(&w, &sh, true, "dead", |r| r["alive"] == false);
    let o = out(&w, &["wait", &sh, "--until", "exit", "--timeout", "0"]);
    assert_eq!(o.status.code(), Some(0), "exit, dead shell: {}", err(&o));
}

/// `run -d` returns only once the daemon lists the session.
#[test]
fn run_detached_is_listed_at_once() {
    let w = World::new();
    for n in 0..5 {
        let o = out(&w, &["run", "-d", "sleep", "30"]);
        assert!(o.status.success(), "run -d #{n}: {}", err(&o));
        let id = String::from_utf8_lossy(&o.stdout).trim().to_string();
        let listed = out(&w, &["ls"]);
        assert!(listed.status.success(), "ls: {}", err(&listed));
        let text = String::from_utf8_lossy(&listed.stdout).into_owned();
        assert!(
            text.lines().any(|l| l.starts_with(&format!("{id}\t"))),
            "run #{n}: {id} not in `amux ls` right after `run -d`:\n{text}"
        );
    }
}

/// A restarted daemon never guesses for a preload-covered
/// session, and gives each its own file back from the shim replay.
#[test]
fn daemon_restart_never_guesses_for_preload_sessions() {
    let w = World::new();
    let node = support::node();
    let fake = w.env.fake_pi("pi_cjs.cjs");
    let cwd = w.cwd("proj");
    let mut live = Vec::new();
    for n in 0..2 {
        let list = w.env.root.join(format!("list{n}"));
        let mut cmd = amux(&w, &["run", "-d", "--"]);
        cmd.args([node.as_os_str(), fake.as_os_str()])
            .args(["--list".as_ref(), list.as_os_str(), "--wait-stdin".as_ref()])
            .current_dir(&cwd)
            .stderr(Stdio::inherit());
        let o = support::output_within(cmd, T);
        assert!(o.status.success(), "run -d: {:?}", o.status);
        let id = String::from_utf8_lossy(&o.stdout).trim().to_string();
        let listed = || std::fs::read_to_string(&list).is_ok_and(|t| t.contains('\n'));
        support::wait_until(T, listed, "the fake pi to list its file");
        let text = std::fs::read_to_string(&list).expect("list");
        let file = PathBuf::from(text.lines().next().expect("a file"));
        wait_rec(&w, &id, false, "held by shim", |r| holds(r, &file, "shim"));
        live.push((id, file));
    }
    assert_ne!(live[0].1, live[1].1);

    for round in 0..3 {
        let old = kill9_daemon(&w);
        let start = Instant::now();
        let mut back_at = None;
        while start.elapsed() < Duration::from_secs(6) {
            let records = ls(&w, false);
            for (id, file) in &live {
                let Some(r) = find(&records, id) else {
                    continue;
                };
                let source = r["conversation"]["source"].as_str().unwrap_or("");
                assert!(
                    !matches!(source, "metadata" | "scrollback" | "mtime"),
                    "round {round}, {:?} after the restart: {id} guessed: {r:#}\nlog:\n{}",
                    start.elapsed(),
                    w.log()
                );
                if !r["conversation"].is_null() {
                    assert!(
                        holds(&r, file, "shim"),
                        "round {round}: {id} holds the wrong file: {r:#}"
                    );
                }
            }
            let all_back = live
                .iter()
                .all(|(id, file)| find(&records, id).is_some_and(|r| holds(&r, file, "shim")));
            if all_back && back_at.is_none() {
                back_at = Some(start.elapsed());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(
            back_at.is_some(),
            "round {round}: not both back with shim within 6 s"
        );
        let new = w.health_pid().expect("a daemon after the restart");
        assert_ne!(new, old, "round {round}: the same daemon answers");
        println!("round {round}: both back after {back_at:?}");
    }
    // A guess shown between two polls would still be in the log.
    assert!(
        !w.log().is_empty(),
        "no daemon log at {}",
        w.state().display()
    );
    assert!(!w.log().contains("FALLBACK"), "log:\n{}", w.log());
}

/// A dead session's events keep its title and file until `remove`.
#[test]
fn no_title_flicker_when_a_session_ends() {
    let mut w = World::new();
    w.start_daemon();
    let cwd = w.cwd("proj");
    let (exits, f1) = bound_session(&w, &cwd, "0000-exits", "exits by itself");
    let (killed, f2) = bound_session(&w, &cwd, "0001-killed", "killed by amux");
    let events = w.events();
    events.wait_for("the snapshot", |l| l["session"]["id"] == killed.as_str());
    w.tell(&exits, &json!({"exit": 0}));
    let o = out(&w, &["kill", &killed]);
    assert!(o.status.success(), "kill: {}", err(&o));
    for (id, file, title) in [
        (&exits, &f1, "exits by itself"),
        (&killed, &f2, "killed by amux"),
    ] {
        events.wait_for("its remove", |l| {
            l["type"] == "remove" && l["id"] == id.as_str()
        });
        let lines: Vec<Value> = events
            .lines()
            .into_iter()
            .filter(|l| l["session"]["id"] == id.as_str() || l["id"] == id.as_str())
            .collect();
        let dead_from = lines
            .iter()
            .position(|l| l["session"]["alive"] == false)
            .unwrap_or_else(|| panic!("no dead record for {id}: {lines:#?}"));
        let end = lines
            .iter()
            .position(|l| l["type"] == "remove")
            .expect("remove");
        assert!(dead_from < end, "{lines:#?}");
        for l in &lines[dead_from..end] {
            let r = &l["session"];
            assert_eq!(r["title"], title, "{id}: title flickered: {lines:#?}");
            assert_eq!(
                r["conversation"]["file"].as_str(),
                file.to_str(),
                "{id}: file flickered: {lines:#?}"
            );
        }
        let dead = wait_rec(&w, id, true, "dead", |r| r["alive"] == false);
        assert_eq!(dead["title"], title);
        assert_eq!(dead["conversation"]["file"].as_str(), file.to_str());
    }
}

/// `wait` and `events` outlive a daemon killed with -9; an
/// unreachable daemon makes `wait` exit 5.
#[test]
fn wait_and_events_survive_a_daemon_kill() {
    let w = World::new();
    let agent = w.env.fake_pi("pi_turns.mjs");
    let mut cmd = amux(&w, &["run", "-d", "--"]);
    cmd.args([support::node().as_os_str(), agent.as_os_str()])
        .env("AMUX_TEST_DELAY", "2500")
        .stderr(Stdio::inherit());
    let o = support::output_within(cmd, T);
    assert!(o.status.success(), "run -d: {:?}", o.status);
    let id = String::from_utf8_lossy(&o.stdout).trim().to_string();
    w.wait_screen(&id, "ready>");
    assert!(out(&w, &["send", &id, "first", "--enter"]).status.success());
    let sent = Instant::now();
    let o = out(
        &w,
        &["wait", &id, "--until", "idle", "--json", "--timeout", "20"],
    );
    assert_eq!(o.status.code(), Some(0), "first turn: {}", err(&o));
    let rec: Value = serde_json::from_slice(&o.stdout).expect("wait --json prints the record");
    let Some(file) = rec["conversation"]["file"].as_str().map(PathBuf::from) else {
        panic!(
            "wait --until idle returned after {:?}, before the first reply (due after 2.5 s): {rec:#}",
            sent.elapsed()
        );
    };

    assert!(out(&w, &["send", &id, "second", "--enter"])
        .status
        .success());
    let spawn = |args: &[&str]| -> Child {
        amux(&w, args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn")
    };
    // The user message is in the file at once (working, from the file, for
    // any daemon); the reply comes 2.5 s later, after the restart.
    let mut waiter = spawn(&["wait", &id, "--until", "idle", "--timeout", "30"]);
    let events = events(&w);
    events.wait_for("the session in events", |l| {
        l["session"]["id"] == id.as_str()
    });
    // The daemon has read the second user message (on disk at once):
    // working from the file, so the waiter must still wait.
    let mut on_disk = 0;
    support::wait_until(
        T,
        || {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            on_disk = text.lines().count() as u64;
            text.contains("second")
        },
        "the second message in the file",
    );
    w.wait_lines(&id, on_disk);
    assert!(
        waiter.try_wait().expect("try_wait").is_none(),
        "wait returned before the second reply"
    );
    let seen = events.lines().len();
    let killed_at = Instant::now();
    let old = kill9_daemon(&w);

    let status = support::wait_child(&mut waiter, Duration::from_secs(30));
    let text = std::fs::read_to_string(&file).expect("the conversation");
    let mut stderr = String::new();
    if let Some(mut e) = waiter.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut stderr);
    }
    assert_eq!(
        status.code(),
        Some(0),
        "wait across the daemon kill: {stderr}"
    );
    assert!(
        text.contains("echo second"),
        "wait returned before the reply was saved:\n{text}"
    );
    println!("wait returned {:?} after the kill", killed_at.elapsed());
    let new = w.health_pid().expect("a daemon again");
    assert_ne!(new, old);
    support::wait_until(
        T,
        || {
            events.lines()[seen..]
                .iter()
                .any(|l| l["session"]["id"] == id.as_str())
        },
        "events to print the session again after the restart",
    );
    drop(events);

    // Nothing to reconnect to, and not allowed to start one: exit 5.
    kill9_daemon(&w);
    let mut cmd = w.amux(["wait", &id, "--until", "idle", "--timeout", "5"]);
    cmd.stderr(Stdio::piped());
    let o = support::output_within(cmd, T);
    assert_eq!(o.status.code(), Some(5), "unreachable daemon: {}", err(&o));
}

/// A turn that failed for good makes `wait --until idle` exit 4.
#[test]
fn a_failed_turn_is_an_error() {
    let mut w = World::new();
    w.start_daemon();
    // No retries configured for this project: one error is final.
    let p1 = w.cwd("p1");
    std::fs::create_dir_all(p1.join(".pi")).expect("mkdir .pi");
    std::fs::write(
        p1.join(".pi/settings.json"),
        r#"{"retry":{"maxRetries":0}}"#,
    )
    .expect("settings");
    // Default retries (3): four errors in a row are final, three are not.
    let p2 = w.cwd("p2");
    let p3 = w.cwd("p3");
    let mut ids = Vec::new();
    for (cwd, name, errors) in [
        (&p1, "0000-one", 1),
        (&p2, "0001-four", 4),
        (&p3, "0002-three", 3),
    ] {
        let id = w.run(cwd, &["pi"]);
        let now = now_s();
        let file = pi_file(&w.pi_dir_for(cwd), name, now);
        let header = json!({"type": "session", "version": 3, "id": name,
                            "timestamp": daemon::iso(now), "cwd": cwd});
        let mut data = format!("{header}\n{}", user("deploy it"));
        for _ in 0..errors {
            data += &assistant("error");
        }
        append(&file, &data);
        w.shim_write(&id, &file);
        w.wait_holds(&id, &file, "shim");
        ids.push(id);
    }
    for id in &ids[..2] {
        let o = out(
            &w,
            &["wait", id, "--until", "idle", "--json", "--timeout", "10"],
        );
        assert_eq!(o.status.code(), Some(4), "wait on {id}: {}", err(&o));
        let rec: Value = serde_json::from_slice(&o.stdout).expect("wait --json prints the record");
        assert_eq!(rec["id"], id.as_str());
        assert_eq!(rec["status"]["error"], true, "{rec:#}");
    }
    let o = out(&w, &["ls"]);
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    for id in &ids[..2] {
        let line = text
            .lines()
            .find(|l| l.starts_with(id.as_str()))
            .unwrap_or_else(|| panic!("{id} not in ls:\n{text}"));
        let state = line.split('\t').nth(2).unwrap_or("");
        assert!(state.starts_with("error"), "{id}: state {state:?}:\n{text}");
    }
    let three = find(&ls(&w, false), &ids[2]).expect("record");
    assert_eq!(three["status"]["error"], false, "retries left: {three:#}");
}

/// Unread clears when someone types into the session, and when
/// someone attaches.
#[test]
fn unread_clears_on_typing_and_on_attach() {
    let mut w = World::new();
    w.start_daemon();
    let cwd = w.cwd("proj");
    let (id, file) = bound_session(&w, &cwd, "0000-unread", "read me");
    wait_rec(&w, &id, false, "unread", |r| r["unread"] == true);
    // No newline: the stand-in never reads it as a command.
    let o = out(&w, &["send", &id, "x"]);
    assert!(o.status.success(), "send: {}", err(&o));
    wait_rec(&w, &id, false, "read after typing", |r| {
        r["unread"] == false
    });

    // A new reply: unread again; an attach alone reads it.
    append(&file, &user("more"));
    append(&file, &assistant("stop"));
    wait_rec(&w, &id, false, "unread after the new reply", |r| {
        r["unread"] == true
    });
    let mut term = Pty::spawn_with(&w.env, ["attach", id.as_str()], 80, 24, |c| {
        c.env_remove("AMUX_NO_DAEMON");
    });
    term.wait_for("stand-in ready", T);
    term.write(&[0x1c]);
    assert!(term.wait_exit(T).success(), "detach exits 0");
    wait_rec(&w, &id, false, "read after attaching", |r| {
        r["unread"] == false
    });
    append(&file, &pi_name("renamed"));
    let r = wait_rec(&w, &id, false, "renamed", |r| r["title"] == "renamed");
    assert_eq!(r["unread"], false, "a rename is no new reply: {r:#}");
}
