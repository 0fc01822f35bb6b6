//! `amux events` and the daemon's event stream under a slow reader
//! (amux-protocol(7), Server-sent events): a subscriber that stops reading is dropped, never
//! waited for; a closed pipe ends `amux events` quietly with status 0.
//!
//! Events are made by renaming a followed conversation (pi `session_info`
//! lines appended to a file the session holds): each new name is a new
//! record, published as one `session` event.

use crate::support;
use crate::support::daemon::{self, append, now_s, pi_file, pi_lines, pi_name, World};
use std::io::Read;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A daemon and one session holding a file; `pad` bytes of argv make each
/// record (which carries the command line) that much bigger.
fn bound(pad: usize) -> (World, String, std::path::PathBuf) {
    let mut w = World::new();
    w.start_daemon();
    let cwd = w.cwd("proj");
    let padding = "p".repeat(pad);
    let id = w.run(&cwd, &["pi", &padding]);
    let now = now_s();
    let file = pi_file(&w.pi_dir_for(&cwd), "0000-ev", now);
    append(&file, &pi_lines("0000-ev", &cwd, now, "events", "ok"));
    w.shim_write(&id, &file);
    w.wait_holds(&id, &file, "shim");
    (w, id, file)
}

#[test]
fn a_subscriber_that_stops_reading_is_dropped_not_waited_for() {
    let (w, id, file) = bound(8 * 1024);
    // Its stdout is a pipe nobody reads: it soon blocks, and so stops
    // reading the daemon's socket.
    let mut paused = w
        .amux(["events"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn amux events");
    let active = w.events();
    active.wait_for("the active snapshot", |l| l["session"]["id"] == id.as_str());

    let mut made = 0;
    let mut slowest_ls = Duration::ZERO;
    while active.records(&id).len() < 700 {
        assert!(made < 20_000, "the daemon published too few events");
        append(&file, &pi_name(&format!("name {made}")));
        made += 1;
        std::thread::sleep(Duration::from_millis(1));
        if made % 200 == 0 {
            let start = Instant::now();
            assert_eq!(w.ls(false).len(), 1);
            slowest_ls = slowest_ls.max(start.elapsed());
        }
    }
    let last = format!("name {}", made - 1);
    append(&file, &pi_name("the end"));
    active.wait_for("the last title", |l| l["session"]["title"] == "the end");
    println!(
        "{made} renames, {} events to the active reader, slowest ls {slowest_ls:?}",
        active.records(&id).len()
    );
    assert!(
        slowest_ls < Duration::from_secs(5),
        "ls took {slowest_ls:?}"
    );
    assert_ne!(last, "the end");

    // The stalled reader was dropped: draining its pipe now reaches EOF,
    // short of the latest events, and it exits on its own.
    let mut out = String::new();
    let mut stdout = paused.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let _ = stdout.read_to_string(&mut out);
        out
    });
    let status = support::wait_child(&mut paused, daemon::T);
    let out = reader.join().expect("reader");
    assert!(
        !status.success(),
        "a dropped stream is an error: {status:?}"
    );
    assert!(out.lines().count() > 0, "the paused reader got nothing");
    assert!(
        !out.contains("\"the end\""),
        "the paused reader was not dropped"
    );
    // The daemon still serves new subscribers.
    let again = w.events();
    again.wait_for("a fresh snapshot", |l| l["session"]["title"] == "the end");
}

#[test]
fn events_into_head_exits_zero_quietly() {
    let (w, _id, file) = bound(0);
    // Keep events coming: `amux events` notices the closed pipe on its
    // next write.
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let writer = std::thread::spawn(move || {
        let mut n = 0;
        while !flag.load(Ordering::Relaxed) {
            append(&file, &pi_name(&format!("tick {n}")));
            n += 1;
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    let script = r#""$AMUX" events | head -1; echo "status ${PIPESTATUS[*]}""#;
    let mut cmd = w.command("bash", ["-c", script]);
    cmd.env("AMUX", support::amux_bin()).stderr(Stdio::piped());
    let out = support::output_within(cmd, daemon::T);
    stop.store(true, Ordering::Relaxed);
    let _ = writer.join();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    let first: serde_json::Value = serde_json::from_str(lines[0]).expect("an NDJSON line");
    assert_eq!(first["type"], "session");
    assert_eq!(lines[1], "status 0 0");
    assert!(out.status.success());
    assert_eq!(stderr, "", "amux events was not quiet");
}
