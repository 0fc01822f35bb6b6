//! The daemon's file monitor (`daemon/watch.rs`, `daemon/follow.rs`), seen through `ls --json` and
//! `amux events`: complete lines only, rewrites re-read, over-long lines
//! skipped without holding them, garbage skipped, new directories picked
//! up, and a burst of files that overflows inotify.
//!
//! Each test binds a stand-in pi session to a file through its runner's
//! `POST /shim/event`, then changes the file itself and watches the title
//! (pi's `session_info.name`) the daemon derives from it.

use crate::support;
use crate::support::daemon::{
    self, append, holds, now_s, pi_file, pi_lines, pi_name, status_kib, World,
};
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A world with a daemon and one session holding a file titled "start".
fn bound() -> (World, String, PathBuf) {
    let mut w = World::new();
    w.start_daemon();
    let cwd = w.cwd("proj");
    let id = w.run(&cwd, &["pi"]);
    let now = now_s();
    let file = pi_file(&w.pi_dir_for(&cwd), "0000-mon", now);
    append(&file, &pi_lines("0000-mon", &cwd, now, "start", "ok"));
    w.shim_write(&id, &file);
    assert_eq!(w.wait_holds(&id, &file, "shim")["title"], "start");
    (w, id, file)
}

/// User plus system CPU time of `pid`, in ms (assuming 100 ticks a second).
fn cpu_ms(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let after_name = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = after_name.split(' ').collect();
    let ticks: u64 =
        fields[11].parse::<u64>().unwrap_or(0) + fields[12].parse::<u64>().unwrap_or(0);
    ticks * 10
}

fn titled(w: &World, id: &str, title: &str) {
    w.wait_record(id, &format!("titled {title:?}"), |r| r["title"] == title);
}

#[test]
fn a_line_written_in_two_halves_is_parsed_once_whole() {
    let (w, id, file) = bound();
    let events = w.events();
    events.wait_for("the snapshot", |l| l["session"]["id"] == id.as_str());
    // Neither half is JSON on its own; only the whole line names it.
    let line = pi_name("Half and half");
    let (first, second) = line.split_at(line.len() / 2);
    let lines = w.explain(&id)["lines"].clone();
    let since = w.seq();
    append(&file, first);
    // The change and its read: no line in it, so no count to wait for.
    w.wait_seq(since, 2);
    assert_eq!(w.record(&id, false).expect("record")["title"], "start");
    assert_eq!(w.explain(&id)["lines"], lines, "half a line counted");
    append(&file, second);
    titled(&w, &id, "Half and half");
    events.wait_for("the whole line's record", |l| {
        l["session"]["id"] == id.as_str() && l["session"]["title"] == "Half and half"
    });
    let titles: Vec<String> = events
        .records(&id)
        .iter()
        .map(|r| r["title"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(
        titles.iter().all(|t| t == "start" || t == "Half and half"),
        "{titles:?}"
    );
    assert_eq!(titles.last().map(String::as_str), Some("Half and half"));
}

#[test]
fn a_truncated_and_rewritten_file_is_read_again() {
    let (w, id, file) = bound();
    append(&file, &pi_name("before the rewrite"));
    titled(&w, &id, "before the rewrite");
    let f = std::fs::File::options()
        .write(true)
        .open(&file)
        .expect("open");
    f.set_len(0).expect("truncate");
    drop(f);
    let now = now_s();
    let cwd = w.env.work().join("proj");
    append(&file, &pi_lines("0000-mon", &cwd, now, "rewritten", "ok"));
    titled(&w, &id, "rewritten");
    append(&file, &pi_name("after"));
    let r = w.wait_record(&id, "titled after", |r| r["title"] == "after");
    assert!(holds(&r, &file, "shim"));
}

#[test]
fn a_20_mb_line_is_skipped_without_holding_it() {
    let (w, id, file) = bound();
    let pid = w.daemon_pid();
    let rss_before = status_kib(pid, "VmRSS");
    // Written in 1 MiB pieces, so the daemon sees it growing for a while.
    let mut f = std::fs::File::options()
        .append(true)
        .open(&file)
        .expect("open");
    let piece = format!(
        "{{\"type\":\"session_info\",\"name\":\"{}",
        "x".repeat(1 << 20)
    );
    let mut written = 0;
    let mut peak = rss_before;
    while written < 20_000_000 {
        f.write_all(piece.as_bytes()).expect("write");
        written += piece.len();
        std::thread::sleep(Duration::from_millis(5));
        peak = peak.max(status_kib(pid, "VmRSS"));
    }
    f.write_all(b"\"}\n").expect("write");
    drop(f);
    append(&file, &pi_name("after the giant"));
    titled(&w, &id, "after the giant");
    let hwm = status_kib(pid, "VmHWM");
    let rss_after = status_kib(pid, "VmRSS");
    println!(
        "daemon RSS: {rss_before} KiB before, {peak} KiB sampled peak, \
         {rss_after} KiB after, high-water mark {hwm} KiB"
    );
    let limit = rss_before + 8 * 1024;
    assert!(peak <= limit, "RSS rose from {rss_before} to {peak} KiB");
    assert!(hwm <= limit, "RSS peaked at {hwm} KiB (was {rss_before})");
}

#[test]
fn garbage_lines_are_skipped() {
    let (w, id, file) = bound();
    append(
        &file,
        "not json at all\n{\"type\":\"session_info\",\n[1,2,3]\n",
    );
    append(&file, "{\"type\":\"session_info\",\"name\":42}\nnull\n\n\n");
    let mut f = std::fs::File::options()
        .append(true)
        .open(&file)
        .expect("open");
    f.write_all(b"\x00\xff\xfe binary \x80\n").expect("write");
    drop(f);
    append(&file, &pi_name("after the garbage"));
    let r = w.wait_record(&id, "titled after the garbage", |r| {
        r["title"] == "after the garbage"
    });
    assert!(holds(&r, &file, "shim"));
    assert_eq!(w.health_pid(), Some(w.daemon_pid()));
}

/// The pi root does not exist when the daemon starts; the agent creates
/// it and its project directory, and the daemon both sees the new file
/// (a metadata guess needs that) and follows it.
#[test]
fn a_session_directory_created_later_is_picked_up() {
    let mut w = World::new();
    assert!(!w.env.pi_sessions().exists());
    w.start_daemon();
    let cwd = w.cwd("late");
    let id = w.run(&cwd, &["pi"]);
    let now = now_s();
    let file = pi_file(&w.pi_dir_for(&cwd), "0000-late", now);
    let data = pi_lines("0000-late", &cwd, now, "late start", "ok");
    w.tell(&id, &json!({"append": file, "data": data}));
    assert_eq!(w.wait_holds(&id, &file, "metadata")["title"], "late start");
    w.tell(
        &id,
        &json!({"append": file, "data": pi_name("followed later")}),
    );
    titled(&w, &id, "followed later");
}

/// 50,000 file names in 100 new directories, created as fast as the disk
/// allows. The directories and their first files are made while the daemon
/// runs; once it watches all of them it is stopped (SIGSTOP) for the rest,
/// so ~50,000 events overflow inotify's queue (16384 by default) and the
/// held file's update, written last, is among the lost events. Only the
/// overflow rescan can deliver it: the daemon must see it, keep its
/// attribution, and go on following the file.
#[test]
fn a_burst_of_50000_files_ends_in_a_correct_state() {
    let (w, id, file) = bound();
    // pi keeps one directory per cwd right under its root (the daemon
    // watches no deeper): a hundred projects at once.
    let root = w.env.pi_sessions();
    let pid = w.daemon_pid();
    let cpu_before = cpu_ms(pid);
    let start = Instant::now();
    let watches = inotify_watches(pid);
    let dirs: Vec<PathBuf> = (0..100)
        .map(|d| root.join(format!("--burst-{d:03}--")))
        .collect();
    for dir in &dirs {
        std::fs::create_dir_all(dir).expect("mkdir");
        std::fs::write(dir.join("f000.jsonl"), b"{\"type\":\"x\"}\n").expect("write");
    }
    support::wait_until(
        daemon::T,
        || inotify_watches(pid) > watches + 100,
        "the daemon to watch the new directories",
    );
    signal(pid, rustix::process::Signal::STOP);
    for dir in &dirs {
        // More names for the same file: to inotify and the daemon each is a
        // new `*.jsonl`, and a link costs the disk far less than an inode.
        for n in 1..500 {
            let name = dir.join(format!("f{n:03}.jsonl"));
            std::fs::hard_link(dir.join("f000.jsonl"), name).expect("link");
        }
    }
    append(&file, &pi_name("during the burst"));
    let created = start.elapsed();
    signal(pid, rustix::process::Signal::CONT);
    let r = w.wait_record(&id, "titled during the burst", |r| {
        r["title"] == "during the burst"
    });
    println!(
        "50000 files created in {created:?}; update seen {:?} after the burst began; \
         daemon CPU {} ms",
        start.elapsed(),
        cpu_ms(pid) - cpu_before
    );
    assert!(w.log().contains("inotify queue overflowed"), "{}", w.log());
    assert!(holds(&r, &file, "shim"));
    let records = w.ls(false);
    assert_eq!(records.len(), 1, "{records:#?}");
    append(&file, &pi_name("and once more"));
    titled(&w, &id, "and once more");
}

/// inotify watches `pid` holds, from `/proc/<pid>/fdinfo`.
fn inotify_watches(pid: u32) -> usize {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fdinfo")) else {
        return 0;
    };
    fds.flatten()
        .filter_map(|fd| std::fs::read_to_string(fd.path()).ok())
        .map(|info| {
            info.lines()
                .filter(|l| l.starts_with("inotify wd:"))
                .count()
        })
        .sum()
}

fn signal(pid: u32, sig: rustix::process::Signal) {
    let pid = rustix::process::Pid::from_raw(pid as i32).expect("pid");
    rustix::process::kill_process(pid, sig).expect("kill");
}
