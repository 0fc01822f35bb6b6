//! A plain shell's state: `working` while a command runs in it, `idle` at
//! its prompt — from the terminal's foreground process group, looked at
//! by its runner after each typed line and each output chunk — so `send
//! CMD --enter; wait --until idle` returns once the command has finished.

use crate::support::daemon::World;
use crate::support::output_within;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(20);

fn ok(w: &World, args: &[&str]) -> String {
    let o = output_within(w.amux(args), T);
    assert!(o.status.success(), "amux {args:?}: {o:?}");
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

#[test]
fn a_command_in_a_shell_is_working_until_its_prompt() {
    let mut w = World::new();
    w.start_daemon();
    let cwd = w.cwd("sh");
    let id = w.run(&cwd, &["sh"]);
    let r = w.wait_record(&id, "a shell at its prompt", |r| {
        r["status"]["state"] == "idle"
    });
    assert_eq!(r["turn_done"], true, "a fresh shell is idle: {r:#}");

    // A command that runs a while, printing nothing.
    let sent = Instant::now();
    ok(&w, &["send", &id, "sleep 2", "--enter"]);
    let r = w.wait_record(&id, "working while sleep runs", |r| {
        r["status"]["state"] == "working"
    });
    assert_eq!(r["status"]["source"], "process", "{r:#}");
    assert_eq!(r["turn_done"], false, "{r:#}");
    ok(&w, &["wait", &id, "--until", "idle", "--timeout", "15"]);
    assert!(
        sent.elapsed() >= Duration::from_secs(2),
        "wait --until idle returned while sleep ran ({:?})",
        sent.elapsed()
    );
    let r = w.record(&id, false).expect("the shell's record");
    assert_eq!(r["status"]["state"], "idle", "{r:#}");

    // A builtin: taken at once, nothing runs; wait answers without
    // waiting for a quiet terminal.
    let sent = Instant::now();
    ok(&w, &["send", &id, "cd /", "--enter"]);
    ok(&w, &["wait", &id, "--until", "idle", "--timeout", "15"]);
    let took = sent.elapsed();
    println!("cd / then wait --until idle: {took:?}");
    let e = crate::support::explain(w.amux(["explain", &id, "--json"]));
    let last = e["changes"].as_array().and_then(|c| c.last()).cloned();
    assert!(
        last.is_some_and(|c| c["signal"] != "timer"),
        "the shell's own look answered the line, not the quiet timer: {e:#}"
    );
}

/// A command with no prompt (`sh -c …`, `make`, `sleep`) works from its
/// start until it exits, printing nothing meanwhile; `wait` ends with it:
/// 0 for exit status 0, 4 for a failure. (Its foreground group is its
/// own all along: read as a shell's, it was `idle` at once and `wait`
/// returned while it ran.)
#[test]
fn a_command_without_a_prompt_works_until_it_exits() {
    let mut w = World::new();
    w.start_daemon();
    let cwd = w.cwd("batch");
    for (status, code) in [("0", 0), ("3", 4)] {
        let gate = cwd.join(format!("gate-{status}"));
        let made = std::process::Command::new("mkfifo")
            .arg(&gate)
            .status()
            .expect("mkfifo");
        assert!(made.success());
        let script = format!("read x < '{}'; exit \"$x\"", gate.display());
        let id = w.run(&cwd, &["sh", "-c", &script]);
        let r = w.wait_record(&id, "looked at by its runner", |r| {
            r["status"]["source"] == "process"
        });
        assert_eq!(r["status"]["state"], "working", "{r:#}");
        assert_eq!(r["turn_done"], false, "{r:#}");
        let o = output_within(w.amux(["wait", &id, "--timeout", "0"]), T);
        assert_eq!(o.status.code(), Some(124), "done while it runs: {o:?}");

        let mut wait = w.amux(["wait", &id]);
        wait.stderr(std::process::Stdio::piped());
        let waiting = wait.spawn().expect("amux wait");
        std::fs::write(&gate, format!("{status}\n")).expect("open the gate");
        let o = finished_within(waiting);
        assert_eq!(o.status.code(), Some(code), "exit {status}: {o:?}");
        let r = w.record(&id, true).expect("the ended record");
        let want = if code == 0 { "idle" } else { "error" };
        assert_eq!(r["status"]["state"], want, "{r:#}");
    }
}

/// The output of a child already started, within `T`.
fn finished_within(mut child: std::process::Child) -> std::process::Output {
    let deadline = Instant::now() + T;
    while child.try_wait().expect("its status").is_none() {
        assert!(Instant::now() < deadline, "amux wait never returned");
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().expect("its output")
}
