//! Fault-injection regression tests: a stopped daemon, a FIFO named like a
//! conversation, sessions that end while no daemon runs, a full state
//! filesystem, the inotify watch limit, a symlinked session directory,
//! runtime entries removed under a running daemon, an orphaned grandchild,
//! pending input across a daemon restart, and file permissions. Each test
//! names its item and checks the fixed behaviour through the real binary.

use crate::support;
use crate::support::daemon::{self, append, now_s, pi_file, pi_lines, pi_name, World};
use crate::support::http;
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(15);

/// `amux ARGS…` in `w`'s world, allowed to start a daemon.
fn amux(w: &World, args: &[&str]) -> Command {
    let mut cmd = w.amux(args);
    cmd.env_remove("AMUX_NO_DAEMON");
    cmd
}

/// Runs `cmd` (stdout and stderr piped), returning its output and how long it took.
fn timed(mut cmd: Command, timeout: Duration) -> (Output, Duration) {
    cmd.stderr(Stdio::piped());
    let start = Instant::now();
    let o = support::output_within(cmd, timeout);
    (o, start.elapsed())
}

fn out(w: &World, args: &[&str]) -> Output {
    timed(amux(w, args), T).0
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

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

/// Polls `ls --json [--all]` (starting a daemon if needed) until `id`'s
/// record satisfies `pred`.
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

/// Like `wait_rec` but never starts a daemon, and keeps `ls`'s stderr
/// (warnings) out of the test output.
fn wait_listed(w: &World, id: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + T;
    loop {
        let (o, _) = timed(w.amux(["ls", "--json"]), T);
        assert!(o.status.success(), "ls: {}", err(&o));
        let records: Vec<Value> = serde_json::from_slice(&o.stdout).expect("JSON");
        let r = find(&records, id);
        if let Some(r) = r.as_ref().filter(|r| pred(r)) {
            return r.clone();
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {id} to be {what}; last record: {r:#?}"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn signal(pid: u32, sig: rustix::process::Signal) {
    let p = rustix::process::Pid::from_raw(pid as i32).expect("pid");
    rustix::process::kill_process(p, sig).expect("signal");
}

/// Whether `pid` is gone (or a zombie).
fn gone(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| s.contains(") Z "))
}

/// SIGKILLs whatever daemon answers now; returns its pid once it is gone.
fn kill9_daemon(w: &World) -> u32 {
    let pid = w.health_pid().expect("a daemon answers");
    signal(pid, rustix::process::Signal::KILL);
    support::wait_until(T, || gone(pid), "the killed daemon to be gone");
    pid
}

/// `amux run -d ARGS…` in `cwd` (allowed to start a daemon): the new id.
fn run_d(w: &World, cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let mut cmd = amux(w, &["run", "-d", "--"]);
    cmd.args(args).current_dir(cwd);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let (o, _) = timed(cmd, T);
    assert!(o.status.success(), "run -d {args:?}: {}", err(&o));
    let id = String::from_utf8_lossy(&o.stdout).trim().to_string();
    assert!(id.len() >= 10, "bad id {id:?}");
    id
}

/// A fake pi under node (the real preload loads) in `cwd`, waiting on
/// stdin after its first turn: its id and the file it wrote.
fn preload_pi(w: &World, cwd: &Path, cmd: Command) -> (String, PathBuf) {
    let list = w.env.root.join(format!(
        "list-{}",
        cwd.file_name().unwrap().to_string_lossy()
    ));
    let node = support::node();
    let fake = w.env.fake_pi("pi_cjs.cjs");
    let mut cmd = cmd;
    cmd.args([node.as_os_str(), fake.as_os_str()])
        .args(["--list".as_ref(), list.as_os_str(), "--wait-stdin".as_ref()])
        .current_dir(cwd);
    let (o, _) = timed(cmd, T);
    assert!(o.status.success(), "run -d the fake pi: {}", err(&o));
    let id = String::from_utf8_lossy(&o.stdout).trim().to_string();
    support::wait_until(
        T,
        || std::fs::read_to_string(&list).is_ok_and(|t| t.contains('\n')),
        "the fake pi to list its file",
    );
    let text = std::fs::read_to_string(&list).expect("list");
    (id, PathBuf::from(text.lines().next().expect("a file")))
}

/// A stand-in `pi` (no preload) in `cwd`, bound by a shim report to a fresh
/// file titled `title`; waits until `ls` shows the title.
fn bound_session(w: &World, cwd: &Path, name: &str, title: &str) -> (String, PathBuf) {
    let id = run_d(w, cwd, &["pi"], &[]);
    let now = now_s();
    let file = pi_file(&w.pi_dir_for(cwd), name, now);
    append(&file, &pi_lines(name, cwd, now, title, "the reply"));
    w.shim_write(&id, &file);
    wait_rec(w, &id, false, "titled", |r| r["title"] == title);
    (id, file)
}

fn user(text: &str) -> String {
    let line = json!({"type": "message", "id": "u", "timestamp": daemon::iso(now_s()),
        "message": {"role": "user", "content": [{"type": "text", "text": text}]}});
    format!("{line}\n")
}

fn assistant_stop(text: &str) -> String {
    let line = json!({"type": "message", "id": "a", "timestamp": daemon::iso(now_s()),
        "message": {"role": "assistant", "content": [{"type": "text", "text": text}],
                    "stopReason": "stop"}});
    format!("{line}\n")
}

/// Sends SIGCONT to a stopped daemon when dropped (even on a failed assert).
struct Resume(u32);

impl Drop for Resume {
    fn drop(&mut self) {
        signal(self.0, rustix::process::Signal::CONT);
    }
}

/// A stopped daemon fails the client verbs fast (exit 5) and
/// never holds up a runner, foreground or detached, nor its preload.
#[test]
fn stopped_daemon_fails_fast_and_never_blocks_runners() {
    let mut w = World::new();
    let pid = w.start_daemon();
    let cwd = w.cwd("proj");
    let known = run_d(&w, &cwd, &["sleep", "30"], &[]);
    wait_rec(&w, &known, false, "listed", |_| true);

    signal(pid, rustix::process::Signal::STOP);
    let _resume = Resume(pid);

    let (o, took) = timed(amux(&w, &["ls"]), T);
    println!("ls against the stopped daemon: {took:?}, {:?}", o.status);
    assert_eq!(o.status.code(), Some(5), "ls: {}", err(&o));
    assert!(took <= Duration::from_millis(2500), "ls took {took:?}");
    let msg = err(&o);
    assert_eq!(msg.trim().lines().count(), 1, "one line: {msg:?}");
    assert!(!msg.trim().is_empty(), "a message on stderr");

    let mut cmd = amux(&w, &["run", "--", "sh", "-c", "echo hi"]);
    cmd.current_dir(&cwd);
    let (o, took) = timed(cmd, T);
    println!("foreground run: {took:?}, {:?}", o.status);
    assert_eq!(o.status.code(), Some(0), "run: {}", err(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("hi"),
        "run printed {:?}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(took <= Duration::from_millis(2500), "run took {took:?}");

    let mut cmd = amux(&w, &["run", "-d", "--", "sleep", "5"]);
    cmd.current_dir(&cwd);
    let (o, took) = timed(cmd, T);
    println!("run -d: {took:?}, {:?}", o.status);
    assert_eq!(o.status.code(), Some(0), "run -d: {}", err(&o));
    let id = String::from_utf8_lossy(&o.stdout).trim().to_string();
    assert!(id.len() >= 10, "run -d printed {id:?}");
    assert!(took <= Duration::from_secs(3), "run -d took {took:?}");

    let pcwd = w.cwd("preload");
    let started = Instant::now();
    let (pi, file) = preload_pi(&w, &pcwd, amux(&w, &["run", "-d", "--"]));
    let deadline = Instant::now() + Duration::from_secs(5);
    let meta = loop {
        let meta = http::meta(&w.env.sock(&pi));
        if meta["shim"]["active"] == true && meta["session_file"].as_str() == file.to_str() {
            break meta;
        }
        assert!(
            Instant::now() < deadline,
            "preload pi's runner /meta, daemon stopped: {meta:#}"
        );
        std::thread::sleep(Duration::from_millis(25));
    };
    assert_eq!(meta["alive"], true, "{meta:#}");
    println!(
        "preload pi bound in its runner after {:?}",
        started.elapsed()
    );

    for (verb, args, limit) in [
        ("show", vec!["show", known.as_str()], 2500),
        ("events", vec!["events"], 12_000),
        (
            "wait",
            vec!["wait", known.as_str(), "--until", "idle", "--timeout", "20"],
            12_000,
        ),
        ("send", vec!["send", known.as_str(), "x"], 2500),
        ("kill", vec!["kill", known.as_str()], 2500),
    ] {
        let (o, took) = timed(amux(&w, &args), Duration::from_secs(30));
        println!(
            "{verb} against the stopped daemon: {took:?}, {:?}: {}",
            o.status,
            err(&o).trim()
        );
        assert_eq!(o.status.code(), Some(5), "{verb}: {}", err(&o));
        assert!(
            took <= Duration::from_millis(limit),
            "{verb} took {took:?} (limit {limit} ms)"
        );
    }
    drop(_resume);
    // Once it runs again, it serves the sessions started meanwhile.
    let r = wait_rec(&w, &pi, false, "bound after SIGCONT", |r| {
        r["conversation"]["file"].as_str() == file.to_str()
    });
    assert_eq!(r["conversation"]["source"], "shim", "{r:#}");
    let _ = w.health_pid();
}

/// A FIFO named `*.jsonl` under the pi root, beside an
/// unattributed pi session, blocks neither the daemon nor a runner.
#[test]
fn a_fifo_named_jsonl_blocks_nothing() {
    let mut w = World::new();
    w.start_daemon();
    let cwd = w.cwd("proj");
    let id = w.run(&cwd, &["pi"]);
    wait_rec(&w, &id, false, "listed", |_| true);
    let dir = w.pi_dir_for(&cwd);
    std::fs::create_dir_all(&dir).expect("mkdir");
    let fifo = pi_file(&dir, "0000-fifo", now_s());
    let st = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(st.success(), "mkfifo");

    let start = Instant::now();
    let mut worst = Duration::ZERO;
    while start.elapsed() < Duration::from_secs(8) {
        let (o, took) = timed(w.amux(["ls", "--json"]), T);
        worst = worst.max(took);
        assert!(
            o.status.success(),
            "ls at {:?}: {}",
            start.elapsed(),
            err(&o)
        );
        assert!(
            took <= Duration::from_secs(2),
            "ls took {took:?} at {:?}",
            start.elapsed()
        );
        let records: Vec<Value> = serde_json::from_slice(&o.stdout).expect("JSON");
        let r = find(&records, &id).expect("the session is listed");
        assert_ne!(
            r["conversation"]["file"].as_str(),
            fifo.to_str(),
            "a FIFO is no conversation: {r:#}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    println!("ls: slowest answer {worst:?} over 8 s");

    let sock = w.env.sock(&id);
    let event = json!({"op": "write", "pid": 1, "path": fifo});
    let t0 = Instant::now();
    let resp = http::post(&sock, "/shim/event", event.to_string().as_bytes());
    let took = t0.elapsed();
    println!(
        "POST /shim/event naming the FIFO: {} in {took:?}",
        resp.status
    );
    assert!(took <= Duration::from_secs(2), "shim event took {took:?}");
    assert!(
        resp.status < 500,
        "shim event: {} {}",
        resp.status,
        resp.text()
    );
    for n in 0..10 {
        let t0 = Instant::now();
        let meta = http::meta(&sock);
        let took = t0.elapsed();
        assert!(took <= Duration::from_secs(1), "/meta #{n} took {took:?}");
        assert_eq!(meta["alive"], true, "{meta:#}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Whatever the runner made of the report, the daemon keeps answering.
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        let (o, took) = timed(w.amux(["ls"]), T);
        assert!(o.status.success(), "ls after the report: {}", err(&o));
        assert!(
            took <= Duration::from_secs(2),
            "ls after the report took {took:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Sessions that end while no daemon runs (runner SIGKILLed, or
/// agent exiting) leave dead records once a client restarts the daemon.
#[test]
fn sessions_ending_while_the_daemon_is_down_are_not_lost() {
    let w = World::new();
    let cwd = w.cwd("proj");
    let (rounds, per_round) = (4, 5);
    let mut lost = Vec::new();
    let mut never = 0;
    let start = Instant::now();
    for round in 0..rounds {
        let mut sessions = Vec::new();
        for k in 0..per_round {
            let name = format!("{round:02}{k:02}-dead");
            let title = format!("round {round} session {k}");
            let (id, _) = bound_session(&w, &cwd, &name, &title);
            let meta = http::meta(&w.env.sock(&id));
            let runner = meta["runner_pid"].as_u64().expect("runner_pid") as u32;
            // Mixed: even ones lose their runner to SIGKILL, odd ones exit.
            let code = ((round + k) % 2 == 1).then_some(10 + k as i64);
            sessions.push((id, title, runner, code));
        }
        kill9_daemon(&w);
        for (id, _, runner, code) in &sessions {
            match code {
                None => signal(*runner, rustix::process::Signal::KILL),
                Some(c) => w.tell(id, &json!({"exit": c})),
            }
        }
        for (id, _, runner, _) in &sessions {
            support::wait_until(T, || gone(*runner), &format!("runner of {id} to end"));
        }
        let listed_at = Instant::now();
        let records = ls(&w, true);
        let good = |r: &Value, title: &str, code: Option<i64>| {
            r["alive"] == false && r["title"] == title && r["exit_code"].as_i64() == code
        };
        let mut missed = Vec::new();
        for (id, title, _, code) in &sessions {
            let rec = find(&records, id);
            if !rec.as_ref().is_some_and(|r| good(r, title, *code)) {
                let seen = rec.map_or("not listed".to_string(), |r| {
                    format!(
                        "alive={} exit_code={} title={}",
                        r["alive"], r["exit_code"], r["title"]
                    )
                });
                lost.push(format!("round {round} {id} (exit {code:?}): {seen}"));
                missed.push((id.clone(), title.clone(), *code));
            }
        }
        // How late the missing ones show up, if they do.
        let mut late = Vec::new();
        while !missed.is_empty() && listed_at.elapsed() < Duration::from_secs(5) {
            let records = ls(&w, true);
            missed.retain(|(id, title, code)| {
                let ok = find(&records, id).is_some_and(|r| good(&r, title, *code));
                if ok {
                    late.push(format!("{id} after {:?}", listed_at.elapsed()));
                }
                !ok
            });
            std::thread::sleep(Duration::from_millis(50));
        }
        if !late.is_empty() || !missed.is_empty() {
            println!("round {round}: late {late:?}; never within 5 s: {missed:?}");
        }
        never += missed.len();
    }
    println!(
        "records missing from the first ls --all after the restart: {} of {}; \
         still missing 5 s later: {never} (in {:?})",
        lost.len(),
        rounds * per_round,
        start.elapsed()
    );
    for l in &lost {
        println!("  {l}");
    }
    assert!(lost.is_empty(), "lost: {lost:?}\nlog:\n{}", w.log());
}

/// Unmounts a test mount when dropped (lazily: the daemon may hold files).
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn tmp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with('.') && n.ends_with(".tmp"))
                .collect()
        })
        .unwrap_or_default()
}

/// A full state filesystem keeps dead records in memory, shown
/// with a warning; once space is back the next listing saves them.
#[test]
fn full_state_filesystem_keeps_records_and_saves_them_later() {
    let w = World::new();
    let state_mount = w.env.root.join("state");
    let st = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs"])
        .arg(&state_mount)
        .status()
        .expect("mount");
    // Root's, as in CI (`make test` runs as root there); another user
    // cannot mount, and the test fails rather than pass without running.
    assert!(
        st.success(),
        "mount -t tmpfs failed ({st}): this test needs root (CAP_SYS_ADMIN)"
    );
    let _mount = Mount(state_mount.clone());
    let cwd = w.cwd("proj");
    let mut ids = Vec::new();
    for k in 0..3 {
        let (id, _) = bound_session(&w, &cwd, &format!("000{k}-full"), &format!("full {k}"));
        ids.push(id);
    }
    // Fill it.
    let filler = state_mount.join("filler");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler).expect("filler");
        let chunk = vec![0u8; 4096];
        while f.write_all(&chunk).is_ok() {}
        let _ = f.sync_all();
    }
    for (k, id) in ids.iter().enumerate() {
        w.tell(id, &json!({"exit": 20 + k}));
    }
    for id in &ids {
        w.env.wait_gone(id, T);
    }
    let state = w.state();
    let deadline = Instant::now() + T;
    let (records, stderr) = loop {
        let o = out(&w, &["ls", "--all", "--json"]);
        assert!(o.status.success(), "ls --all: {}", err(&o));
        let records: Vec<Value> = serde_json::from_slice(&o.stdout).expect("JSON");
        let dead = ids.iter().all(|id| {
            find(&records, id).is_some_and(|r| r["alive"] == false && !r["exit_code"].is_null())
        });
        if dead {
            break (records, err(&o));
        }
        assert!(
            Instant::now() < deadline,
            "not all dead: {records:#?}\nstderr: {}",
            err(&o)
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    for (k, id) in ids.iter().enumerate() {
        let r = find(&records, id).expect("listed");
        assert_eq!(r["exit_code"], 20 + k as i64, "{r:#}");
        assert_eq!(r["title"], format!("full {k}"), "{r:#}");
    }
    println!("ls --all stderr on a full disk: {stderr:?}");
    assert!(
        stderr.contains("warning") && stderr.contains(state.to_str().unwrap()),
        "no warning naming {} on stderr: {stderr:?}",
        state.display()
    );
    let sessions = state.join("sessions");
    let temps = [tmp_files(&sessions), tmp_files(&state)].concat();
    assert!(temps.is_empty(), "temp files left: {temps:?}");

    std::fs::remove_file(&filler).expect("free space");
    // The listing asks for them to be saved again; it does not wait.
    let o = out(&w, &["ls"]);
    assert!(o.status.success(), "ls: {}", err(&o));
    for id in &ids {
        let file = sessions.join(format!("{id}.json"));
        support::wait_until(
            T,
            || file.exists(),
            &format!("{} written after freeing space", file.display()),
        );
        let saved: Value =
            serde_json::from_slice(&std::fs::read(&file).expect("read")).expect("JSON record");
        assert_eq!(saved["id"], id.as_str());
    }
    support::wait_until(
        T,
        || !err(&out(&w, &["ls"])).contains(state.to_str().unwrap()),
        "the warning to go once the records are saved",
    );
    assert!(tmp_files(&sessions).is_empty());
}

/// Fills the filesystem of `dir` with `dir/filler`.
fn fill(dir: &Path) -> PathBuf {
    use std::io::Write;
    let filler = dir.join("filler");
    let mut f = std::fs::File::create(&filler).expect("filler");
    let chunk = vec![0u8; 4096];
    while f.write_all(&chunk).is_ok() {}
    let _ = f.sync_all();
    filler
}

/// Records made while the state filesystem is full are kept in memory,
/// and what they are rebuilt from (exit files, saved input state) is kept
/// on disk until they are saved: a daemon killed with SIGKILL, the space
/// freed, the next daemon lists every one. Its log holds whole lines only.
#[test]
fn records_made_on_a_full_disk_survive_a_killed_daemon() {
    let w = World::new();
    let state_mount = w.env.root.join("state");
    let st = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs"])
        .arg(&state_mount)
        .status()
        .expect("mount");
    assert!(
        st.success(),
        "mount -t tmpfs failed ({st}): this test needs root (CAP_SYS_ADMIN)"
    );
    let _mount = Mount(state_mount.clone());
    let cwd = w.cwd("proj");
    // A daemon up (its log begun) before the disk is full.
    ls(&w, true);
    let filler = fill(&state_mount);
    let ids: Vec<String> = (0..30)
        .map(|_| run_d(&w, &cwd, &["sh", "-c", "exit 7"], &[]))
        .collect();
    support::wait_until(
        T,
        || {
            let records = ls(&w, true);
            (ids.iter()).all(|id| find(&records, id).is_some_and(|r| r["exit_code"] == 7))
        },
        "every session dead with its status",
    );
    let saved = |id: &String| w.state().join("sessions").join(format!("{id}.json"));
    assert!(
        !ids.iter().any(|id| saved(id).exists()),
        "saved on a full disk?"
    );
    let exits = (ids.iter())
        .filter(|id| w.env.runtime().join(format!("sessions/{id}.exit")).exists())
        .count();
    assert_eq!(exits, ids.len(), "exit files of unsaved records removed");
    kill9_daemon(&w);
    std::fs::remove_file(&filler).expect("free space");
    // (Once in a few runs on a loaded machine the first listing after the
    // restart lacked some of them, listed a moment later: see the issue's
    // closing note. What must not happen is that they never come back.)
    let lost_now = || {
        let records = ls(&w, true);
        let lost: Vec<String> = (ids.iter())
            .filter(|id| !find(&records, id).is_some_and(|r| r["exit_code"] == 7))
            .cloned()
            .collect();
        (records, lost)
    };
    let deadline = std::time::Instant::now() + T;
    let (records, lost) = loop {
        let (records, lost) = lost_now();
        if lost.is_empty() || std::time::Instant::now() >= deadline {
            break (records, lost);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let seen: Vec<Value> = (lost.iter()).filter_map(|id| find(&records, id)).collect();
    assert!(
        lost.is_empty(),
        "lost: {lost:?}\nas listed: {seen:#?}\nlog:\n{}",
        w.log()
    );
    // (Not all 30 fit in 64 KiB: those that do not stay in memory, and
    // their leftovers on disk.)
    let log = std::fs::read_to_string(w.state().join("daemon.log")).expect("daemon.log");
    let torn: Vec<&str> = (log.lines())
        .filter(|l| !l.starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    assert!(
        log.ends_with('\n') && torn.is_empty(),
        "torn lines in daemon.log: {torn:?}"
    );
}

/// Many agents killed at once: every exit is recorded, listed and saved,
/// and no `ls` meanwhile fails (how fast is `make bench`'s figure 12).
#[test]
fn many_sessions_ending_at_once_are_all_recorded() {
    const N: usize = 100;
    let w = World::new();
    let cwd = w.cwd("proj");
    let ids: Vec<String> = (0..N)
        .map(|_| run_d(&w, &cwd, &["sleep", "600"], &[]))
        .collect();
    let mut pids = Vec::new();
    support::wait_until(
        T,
        || {
            let records = ls(&w, false);
            pids = (ids.iter())
                .filter_map(|id| find(&records, id)?["pid"].as_u64())
                .collect();
            pids.len() == N
        },
        "every session listed with its agent's pid",
    );
    for pid in &pids {
        signal(*pid as u32, rustix::process::Signal::KILL);
    }
    // `ls` asserts that each listing succeeds.
    support::wait_until(
        T,
        || {
            let records = ls(&w, true);
            (ids.iter()).all(|id| find(&records, id).is_some_and(|r| r["alive"] == false))
        },
        "every session listed dead",
    );
    for id in &ids {
        let saved = w.state().join("sessions").join(format!("{id}.json"));
        support::wait_until(T, || saved.exists(), "every record saved");
    }
}

/// A temp file left by a save killed half-way is removed by the
/// next daemon.
#[test]
fn a_killed_save_leaves_no_temp_file_after_a_restart() {
    let mut w = World::new();
    w.start_daemon();
    let cwd = w.cwd("proj");
    let id = w.run(&cwd, &["sh", "-c", "exit 3"]);
    wait_rec(&w, &id, true, "dead", |r| r["alive"] == false);
    let sessions = w.state().join("sessions");
    let saved = sessions.join(format!("{id}.json"));
    support::wait_until(T, || saved.exists(), "the record saved");
    assert!(
        !Path::new("/proc/999999").exists(),
        "pid 999999 is alive: the temp file would rightly stay"
    );
    let temp = sessions.join(format!(".{id}.json.999999.tmp"));
    std::fs::write(&temp, b"{\"half\":").expect("write the stale temp");
    w.kill_daemon();
    w.start_daemon();
    assert!(
        !temp.exists(),
        "{} survived a daemon restart",
        temp.display()
    );
    let r = wait_rec(&w, &id, true, "still dead", |r| r["alive"] == false);
    assert_eq!(r["exit_code"], 3, "{r:#}");
}

/// Kills a spawned daemon when dropped.
struct Daemon(std::process::Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn watches_limit() -> String {
    std::fs::read_to_string("/proc/sys/fs/inotify/max_user_watches").unwrap_or_default()
}

/// Over the inotify watch limit (lowered to 100 for the daemon's
/// own user namespace only), `ls` says so and a bound session still
/// changes state.
#[test]
fn inotify_watch_limit_is_reported_and_bound_sessions_still_change() {
    // /proc/sys/user/max_inotify_watches of a new user namespace limits
    // that namespace only (fs.inotify.max_user_watches is the host's).
    let probe = Command::new("unshare")
        .args([
            "-Ur",
            "sh",
            "-c",
            "echo 100 > /proc/sys/user/max_inotify_watches",
        ])
        .stderr(Stdio::null())
        .status();
    // Any user can where user namespaces are enabled; where they are not,
    // the test fails rather than pass without running.
    assert!(
        probe.is_ok_and(|s| s.success()),
        "unshare -Ur could not set a user namespace's max_inotify_watches: \
         this test needs user namespaces (root always has them)"
    );
    let host_limit = watches_limit();
    let w = World::new();
    for n in 0..150 {
        std::fs::create_dir_all(w.env.pi_sessions().join(format!("--x-{n:03}--"))).expect("mkdir");
    }
    let mut cmd = w.command(
        "unshare",
        [
            "-Ur",
            "sh",
            "-c",
            "echo 100 > /proc/sys/user/max_inotify_watches && exec \"$0\" daemon --foreground",
            support::amux_bin(),
        ],
    );
    cmd.stdout(Stdio::null()).stderr(Stdio::inherit());
    let daemon = Daemon(cmd.spawn().expect("spawn the daemon"));
    let mut pid = None;
    support::wait_until(
        T,
        || {
            pid = w.health_pid();
            pid.is_some()
        },
        "the daemon to answer",
    );
    assert_eq!(pid, Some(daemon.0.id()), "the namespaced daemon answers");

    let cwd = w.cwd("proj");
    let (id, file) = preload_pi(&w, &cwd, w.amux(["run", "-d", "--"]));
    let r = wait_listed(&w, &id, "bound", |r| {
        r["conversation"]["file"].as_str() == file.to_str()
    });
    assert_eq!(r["conversation"]["source"], "shim", "{r:#}");
    let deadline = Instant::now() + T;
    let stderr = loop {
        let (o, _) = timed(w.amux(["ls"]), T);
        assert!(o.status.success(), "ls: {}", err(&o));
        if err(&o).contains("max_user_watches") || Instant::now() > deadline {
            break err(&o);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    println!("ls stderr over the watch limit: {stderr:?}");
    assert!(
        stderr.contains("max_user_watches"),
        "no warning naming max_user_watches: {stderr:?}\nlog:\n{}",
        w.log()
    );

    // A later turn: a reply, a name, then a new prompt.
    append(&file, &assistant_stop("done"));
    append(&file, &pi_name("renamed over the limit"));
    let r = wait_listed(&w, &id, "idle and renamed after a reply", |r| {
        r["status"]["working"] == false && r["title"] == "renamed over the limit"
    });
    assert_eq!(r["unread"], true, "{r:#}");
    append(&file, &user("a later turn"));
    wait_listed(&w, &id, "working after a new prompt", |r| {
        r["status"]["working"] == true
    });
    drop(daemon);
    assert_eq!(watches_limit(), host_limit, "the host's limit changed");
}

/// A per-cwd session directory that is a symlink: a later turn in
/// a file bound there changes the session's state and title.
#[test]
fn a_symlinked_session_directory_is_followed() {
    let mut w = World::new();
    w.start_daemon();
    let cwd = w.cwd("proj");
    let elsewhere = w.env.root.join("elsewhere/sessions-of-proj");
    std::fs::create_dir_all(&elsewhere).expect("mkdir");
    let link = w.pi_dir_for(&cwd);
    std::fs::create_dir_all(link.parent().unwrap()).expect("mkdir root");
    std::os::unix::fs::symlink(&elsewhere, &link).expect("symlink");

    let (id, file) = preload_pi(&w, &cwd, w.amux(["run", "-d", "--"]));
    assert!(file.starts_with(&link), "the fake wrote {}", file.display());
    let r = w.wait_record(&id, "bound", |r| {
        r["conversation"]["file"].as_str() == file.to_str() && r["title"] == "first"
    });
    assert_eq!(r["conversation"]["source"], "shim", "{r:#}");

    assert_eq!(r["status"]["working"], true, "{r:#}");
    append(&file, &assistant_stop("done"));
    append(&file, &pi_name("renamed through the link"));
    let r = w.wait_record(&id, "idle and renamed after a reply", |r| {
        r["status"]["working"] == false && r["title"] == "renamed through the link"
    });
    assert_eq!(r["unread"], true, "{r:#}");
    let o = out(&w, &["ls"]);
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let line = text
        .lines()
        .find(|l| l.starts_with(id.as_str()))
        .unwrap_or_else(|| panic!("{id} not in ls:\n{text}"));
    assert!(line.contains("renamed through the link"), "{line}");
    assert_eq!(line.split('\t').nth(2), Some("unread"), "{line}");
    append(&file, &user("a second turn"));
    w.wait_record(&id, "working after a new prompt", |r| {
        r["status"]["working"] == true
    });
}

/// A runner holds no inotify instance of its own: a user has 128
/// (`fs.inotify.max_user_instances`), so with one per runner about 120
/// sessions left none for a daemon to start with, and every exit in the
/// sessions directory woke every runner. The daemon, which watches the
/// directory anyway, asks a runner to put its socket back.
#[test]
fn a_runner_uses_no_inotify_instance() {
    let mut w = World::new();
    w.start_daemon();
    let id = w.run(&w.cwd("proj"), &["sleep", "60"]);
    let meta = http::meta(&w.env.sock(&id));
    let pid = meta["runner_pid"].as_u64().expect("runner_pid");
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).expect("the runner's fds");
    let inotify: Vec<PathBuf> = fds
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter(|target| target.to_string_lossy().contains("inotify"))
        .collect();
    assert!(inotify.is_empty(), "the runner holds {inotify:?}");
}

/// Runtime entries removed under a running daemon come back.
#[test]
fn removed_runtime_entries_come_back() {
    let mut w = World::new();
    let pid = w.start_daemon();
    let cwd = w.cwd("proj");
    let id = w.run(&cwd, &["sleep", "60"]);
    w.wait_record(&id, "listed", |r| r["alive"] == true);

    // daemon.sock
    std::fs::remove_file(w.daemon_sock()).expect("rm daemon.sock");
    let start = Instant::now();
    let back = loop {
        let (o, _) = timed(w.amux(["ls", "--json"]), T);
        if o.status.success() {
            let records: Vec<Value> = serde_json::from_slice(&o.stdout).expect("JSON");
            if find(&records, &id).is_some_and(|r| r["alive"] == true) {
                break start.elapsed();
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "ls does not work 5 s after daemon.sock was removed: {}",
            err(&o)
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    println!("ls works again {back:?} after daemon.sock was removed");
    assert!(back <= Duration::from_millis(1250), "took {back:?}");
    assert_eq!(w.health_pid(), Some(pid), "the same daemon answers");

    // sessions/
    // A runner may be putting its socket back as we remove (the daemon's
    // own came back just now): rm -rf until the directory is gone.
    support::wait_until(
        T,
        || std::fs::remove_dir_all(w.env.sessions()).is_ok(),
        "rm -rf sessions",
    );
    let start = Instant::now();
    support::wait_until(
        Duration::from_secs(5),
        || w.env.sock(&id).exists(),
        "the runner's socket to come back",
    );
    println!(
        "runner socket back {:?} after rm -rf sessions/",
        start.elapsed()
    );
    w.wait_record(&id, "listed alive after rm -rf sessions/", |r| {
        r["alive"] == true
    });
    let second = w.run(&cwd, &["sleep", "60"]);
    w.wait_record(&second, "a new session listed", |r| r["alive"] == true);
    assert!(w.record(&id, false).is_some_and(|r| r["alive"] == true));

    // One runner's socket.
    std::fs::remove_file(w.env.sock(&id)).expect("rm the socket");
    let start = Instant::now();
    let mut back = None;
    while start.elapsed() < Duration::from_secs(3) {
        let r = w.record(&id, true).expect("still listed");
        assert_eq!(
            r["alive"],
            true,
            "{:?} after its socket was removed: {r:#}",
            start.elapsed()
        );
        if back.is_none() && w.env.sock(&id).exists() {
            back = Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    println!("runner socket back after {back:?}");
    assert!(
        back.is_some(),
        "the runner's socket did not come back in 3 s"
    );
    let meta = http::meta(&w.env.sock(&id));
    assert_eq!(meta["alive"], true);
    assert_eq!(w.health_pid(), Some(pid), "the same daemon answers");
}

const ORPHAN: &str = "setsid sh -c \"while :; do echo tock; sleep 0.02; done\" & sleep 0.3; exit 0";

/// Pids of the orphaned `echo tock` loops carrying this test's marker.
fn tockers(w: &World) -> Vec<u32> {
    let marker = format!("AMUX_TEST_DIR={}\0", w.env.root.display()).into_bytes();
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let environ = std::fs::read(entry.path().join("environ")).unwrap_or_default();
        let tock = cmdline.windows(9).any(|w| w == b"echo tock");
        if tock
            && !gone(pid)
            && environ
                .windows(marker.len())
                .any(|w| w == marker.as_slice())
        {
            pids.push(pid);
        }
    }
    pids
}

/// An orphaned grandchild holding the terminal does not keep a
/// session alive, detached or in the foreground, and does not outlive it.
#[test]
fn an_orphaned_grandchild_does_not_keep_the_session() {
    let w = World::new();
    let cwd = w.cwd("proj");
    let start = Instant::now();
    let id = run_d(&w, &cwd, &["sh", "-c", ORPHAN], &[]);
    let deadline = start + Duration::from_secs(4);
    let r = loop {
        let r = find(&ls(&w, true), &id);
        if r.as_ref().is_some_and(|r| r["alive"] == false) {
            break r.unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "still alive 4 s after start: {r:#?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    println!("detached: dead after {:?}", start.elapsed());
    assert_eq!(r["exit_code"], 0, "{r:#}");
    let o = out(&w, &["ls", "--all"]);
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let line = text
        .lines()
        .find(|l| l.starts_with(id.as_str()))
        .expect("listed");
    assert_eq!(line.split('\t').nth(2), Some("exited:0"), "{line}");
    support::wait_until(
        deadline.saturating_duration_since(Instant::now()) + Duration::from_millis(100),
        || tockers(&w).is_empty(),
        "no orphaned grandchild within 4 s",
    );

    let mut cmd = w.command("timeout", ["20", support::amux_bin(), "run", "--"]);
    cmd.args(["sh", "-c", ORPHAN])
        .env_remove("AMUX_NO_DAEMON")
        .current_dir(&cwd);
    let (o, took) = timed(cmd, Duration::from_secs(30));
    println!("foreground: returned after {took:?}, {:?}", o.status);
    assert_eq!(o.status.code(), Some(0), "foreground run: {}", err(&o));
    assert!(took <= Duration::from_secs(4), "foreground took {took:?}");
    support::wait_until(
        Duration::from_secs(1),
        || tockers(&w).is_empty(),
        "no orphaned grandchild after the foreground run",
    );
}

/// Input sent just before the daemon is killed is still pending
/// for the next daemon: `wait --until idle` waits for its reply.
#[test]
fn pending_input_survives_a_daemon_restart() {
    let w = World::new();
    let cwd = w.cwd("proj");
    let agent = w.env.fake_pi("pi_turns.mjs");
    let node = support::node();
    let id = run_d(
        &w,
        &cwd,
        &[node.to_str().unwrap(), agent.to_str().unwrap()],
        &[("AMUX_TEST_DELAY", "3000"), ("AMUX_TEST_SPIN", "200")],
    );
    w.wait_screen(&id, "ready>");
    let o = out(&w, &["send", &id, "first", "--enter"]);
    assert!(o.status.success(), "send: {}", err(&o));
    let o = out(
        &w,
        &["wait", &id, "--until", "idle", "--json", "--timeout", "20"],
    );
    assert_eq!(o.status.code(), Some(0), "first turn: {}", err(&o));
    let rec: Value = serde_json::from_slice(&o.stdout).expect("the record");
    let file = PathBuf::from(
        rec["conversation"]["file"]
            .as_str()
            .unwrap_or_else(|| panic!("idle before the first reply: {rec:#}")),
    );
    assert!(std::fs::read_to_string(&file)
        .expect("file")
        .contains("echo first"));

    let o = out(&w, &["send", &id, "do more", "--enter"]);
    assert!(o.status.success(), "send: {}", err(&o));
    let sent = Instant::now();
    kill9_daemon(&w);
    let (o, took) = timed(
        amux(&w, &["wait", &id, "--until", "idle", "--timeout", "20"]),
        Duration::from_secs(30),
    );
    let text = std::fs::read_to_string(&file).expect("file");
    println!(
        "wait returned {took:?} after the kill ({:?} after send), {:?}",
        sent.elapsed(),
        o.status
    );
    assert_eq!(o.status.code(), Some(0), "wait: {}", err(&o));
    assert!(
        text.contains("echo do more"),
        "wait --until idle returned {:?} after send, before the reply (due 3 s after):\n{text}",
        sent.elapsed()
    );
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// State is private (0700 dirs, 0600 files) whatever the umask,
/// and without HOME nothing is written under `/`.
#[test]
fn state_is_private_and_no_home_writes_nothing_under_root() {
    let w = World::new();
    let cwd = w.cwd("proj");
    // The daemon (started by this `ls`) and the runner under umask 0.
    let mut cmd = w.command(
        "sh",
        [
            "-c",
            "umask 0; \"$0\" ls >/dev/null && exec \"$0\" run -d -- sh -c 'exit 0'",
            support::amux_bin(),
        ],
    );
    cmd.env_remove("AMUX_NO_DAEMON").current_dir(&cwd);
    let (o, _) = timed(cmd, T);
    assert!(o.status.success(), "run -d: {}", err(&o));
    let id = String::from_utf8_lossy(&o.stdout).trim().to_string();
    wait_rec(&w, &id, true, "dead", |r| r["alive"] == false);
    let state = w.state();
    let record = state.join("sessions").join(format!("{id}.json"));
    support::wait_until(T, || record.exists(), "the dead record on disk");
    assert_eq!(mode(&state), 0o700, "{}", state.display());
    assert_eq!(mode(&state.join("sessions")), 0o700, "<state>/sessions");
    for entry in std::fs::read_dir(state.join("sessions"))
        .expect("ls")
        .flatten()
    {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "json") {
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
    }
    let log = state.join("daemon.log");
    assert_eq!(mode(&log), 0o600, "{}", log.display());

    // No HOME, no XDG_* dirs: nothing under /.
    for p in ["/.local", "/.cache"] {
        assert!(!Path::new(p).exists(), "{p} exists before the test");
    }
    let rt2 = w.env.root.join("rt2");
    let bare = |args: &[&str]| {
        let mut cmd = w.amux(args);
        cmd.env_remove("HOME")
            .env_remove("AMUX_NO_DAEMON")
            .env("AMUX_RUNTIME_DIR", &rt2)
            .current_dir(&cwd);
        for var in [
            "XDG_STATE_HOME",
            "XDG_CACHE_HOME",
            "XDG_CONFIG_HOME",
            "XDG_DATA_HOME",
            "XDG_RUNTIME_DIR",
        ] {
            cmd.env_remove(var);
        }
        cmd
    };
    let (o, _) = timed(bare(&["run", "--", "sh", "-c", "echo hi"]), T);
    assert!(o.status.success(), "run without HOME: {}", err(&o));
    let node = support::node();
    let fake = w.env.fake_pi("pi_cjs.cjs");
    let (o, _) = timed(
        bare(&["run", "--", node.to_str().unwrap(), fake.to_str().unwrap()]),
        T,
    );
    assert!(o.status.success(), "fake pi without HOME: {}", err(&o));
    let mut cmd = bare(&["ls", "--all", "--json"]);
    cmd.stderr(Stdio::piped());
    let o = support::output_within(cmd, T);
    assert!(o.status.success(), "ls without HOME: {}", err(&o));
    let records: Vec<Value> = serde_json::from_slice(&o.stdout).expect("JSON");
    assert!(records.len() >= 2, "both sessions listed: {records:#?}");
    for p in ["/.local", "/.cache"] {
        assert!(!Path::new(p).exists(), "amux created {p} without HOME");
    }
}
