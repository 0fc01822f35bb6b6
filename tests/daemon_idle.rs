//! The daemon at rest and under a big read: no timer wakes an idle daemon
//! that follows Claude- and Codex-style sessions (their sources are
//! inotify events, not polls), and `/v1/health` keeps answering while it
//! first reads a large conversation file.

use crate::daemon_sources::{claude_turn, codex_lines, rollout};
use crate::support::daemon::{append, now_s, pi_file, pi_lines, World};
use crate::support::http;
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Every thread's user+system ticks and context switches of `pid`: a
/// process that no timer wakes gains neither.
fn activity(pid: u32) -> (u64, u64) {
    let mut ticks = 0;
    let mut switches = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("tasks")
        .flatten()
    {
        let dir = task.path();
        if let Ok(stat) = std::fs::read_to_string(dir.join("stat")) {
            let after_name = &stat[stat.rfind(')').expect("comm") + 2..];
            let f: Vec<&str> = after_name.split(' ').collect();
            ticks += f[11].parse::<u64>().unwrap_or(0) + f[12].parse::<u64>().unwrap_or(0);
        }
        if let Ok(status) = std::fs::read_to_string(dir.join("status")) {
            switches += status
                .lines()
                .filter(|l| l.contains("ctxt_switches"))
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum::<u64>();
        }
    }
    (ticks, switches)
}

#[test]
fn an_idle_daemon_with_claude_and_codex_sessions_never_wakes() {
    let mut w = World::new();
    let daemon = w.start_daemon();
    let cwd = w.cwd("idle");
    let claude = w.run(&cwd, &["claude"]);
    let sid = "7d1e0c55-1111-4222-8333-444455556666";
    let transcript = claude_turn(&w, &claude, &cwd, sid, "sit still");
    w.wait_holds(&claude, &transcript, "agent-pidfile");
    let codex = w.run(&cwd, &["codex"]);
    let uuid = "01a20a56-1111-7222-8333-444455556666";
    let file = rollout(&w, now_s(), uuid);
    let data = codex_lines(uuid, &cwd, now_s(), "wait here");
    w.tell(&codex, &json!({"hold_append": file, "data": data}));
    w.wait_holds(&codex, &file, "procfd");
    // Let deferred checks, the blocking pool's idle threads and the quiet
    // rule (3 s) run out before measuring: each is due within 5 s of the
    // last event, and on a loaded machine may run a little after that,
    // so measuring starts after a 2 s stretch without a wake-up (a timer
    // that loops never gives one, and fails below all the same).
    std::thread::sleep(Duration::from_secs(5));
    let mut before = activity(daemon);
    for _ in 0..10 {
        std::thread::sleep(Duration::from_secs(2));
        let now = activity(daemon);
        if std::mem::replace(&mut before, now) == now {
            break;
        }
    }
    std::thread::sleep(Duration::from_secs(10));
    let after = activity(daemon);
    println!("daemon over 10 s idle: {before:?} -> {after:?} (ticks, context switches)");
    assert_eq!(after.0, before.0, "CPU ticks while idle");
    assert_eq!(after.1, before.1, "wake-ups while idle");
    // Still awake to events: a pidfile change moves the Claude session.
    let sid2 = "7d1e0c55-9999-4222-8333-444455556666";
    let second = claude_turn(&w, &claude, &cwd, sid2, "now move");
    w.wait_holds(&claude, &second, "agent-pidfile");
}

#[test]
fn health_answers_while_a_large_file_is_first_read() {
    let mut w = World::new();
    let daemon = w.start_daemon();
    let cwd = w.cwd("big");
    let id = w.run(&cwd, &["pi"]);
    let now = now_s();
    let file = pi_file(&w.pi_dir_for(&cwd), "0000-big", now);
    // ~48 MiB of turns: seconds of parsing in a debug build, were it done
    // in one go on the daemon's thread.
    let mut data = pi_lines("0000-big", &cwd, now, "a big one", "ok");
    let text = "x".repeat(12 << 10);
    let turn = pi_lines("0000-big", &cwd, now, &text, &text);
    let turn = turn.split_once('\n').map(|(_, rest)| rest).unwrap_or(&turn);
    while data.len() < 48 << 20 {
        data.push_str(turn);
    }
    // Only a whole read shows this name.
    data.push_str(&crate::support::daemon::pi_name("the end"));
    append(&file, &data);

    let sock = w.daemon_sock();
    let stop = Arc::new(AtomicBool::new(false));
    let times = Arc::new(Mutex::new(Vec::new()));
    let prober = {
        let (stop, times, sock) = (stop.clone(), times.clone(), sock.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let r = http::get(&sock, "/v1/health");
                assert_eq!(r.status, 200);
                times.lock().unwrap().push(t.elapsed());
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let start = Instant::now();
    w.shim_write(&id, &file);
    w.wait_holds(&id, &file, "shim");
    let r = w.wait_record(&id, "read whole", |r| r["title"] == "the end");
    let bound_in = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    prober.join().expect("prober");
    assert_eq!(r["conversation"]["source"], "shim");
    let mut times = times.lock().unwrap().clone();
    times.sort();
    let worst = *times.last().expect("probes");
    let p99 = times[times.len() * 99 / 100];
    println!(
        "bound {} MiB in {bound_in:?}; /v1/health x{}: p99 {p99:?}, worst {worst:?} (daemon {daemon})",
        data.len() >> 20,
        times.len()
    );
    // Loose bounds for a loaded CI machine; a read done in one go on the
    // executor holds every probe for the whole read.
    assert!(
        worst < Duration::from_millis(500),
        "health stalled {worst:?}"
    );
    assert!(times.len() >= 10, "too few probes: {}", times.len());
}
