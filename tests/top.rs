//! `amux top` in tmux (80x24), read with `capture-pane -p`: the waiting
//! session's row first with its command, nothing wider than the pane,
//! `q` and SIGTERM give the screen and the terminal's modes back.

use crate::agent_state::tool_use;
use crate::answer::asks;
use crate::support::daemon::World;
use crate::support::tmux::Tmux;

#[test]
fn top_in_tmux_sorts_fits_and_gives_the_terminal_back() {
    let mut w = World::new();
    w.start_daemon();
    let (a_cwd, b_cwd) = (w.cwd("a"), w.cwd("b"));
    let b = w.run(&b_cwd, &["claude"]);
    let a = w.run(&a_cwd, &["claude"]);
    let t = Tmux::start(&w, "t1");
    t.wait_screen("top's header", |s| s.contains("amux top — 2 sessions"));
    asks(&w, &a, &a_cwd, &tool_use(&a_cwd, "touch /tmp/from-top"));
    let screen = t.wait_screen("a waiting, first", |s| {
        s.lines()
            .nth(1)
            .is_some_and(|l| l.starts_with(&a) && l.contains("waiting"))
    });
    let first = screen.lines().nth(1).unwrap();
    assert!(first.contains("Bash: touch /tmp/from-top"), "{screen}");
    assert!(
        screen.lines().nth(2).is_some_and(|l| l.starts_with(&b)),
        "{screen}"
    );
    for line in screen.lines() {
        assert!(line.chars().count() <= 80, "{line:?}");
    }
    assert_eq!(screen.lines().count(), 24, "nothing wrapped:\n{screen}");

    // q: the shell's screen is back, top's gone from it. (`stty -a` is
    // printed a line at a time: its last line, `…extproc`, is awaited.)
    t.tmux(&["send-keys", "q"]);
    let screen = t.wait_screen("top ended, stty -a after", |s| {
        s.contains("ENDED 0") && s.contains("columns 80") && s.contains("extproc")
    });
    assert!(!screen.contains("amux top —"), "{screen}");
    assert!(
        screen.contains(" icanon") && screen.contains(" echo"),
        "{screen}"
    );
    drop(t);

    // SIGTERM: the same.
    let t = Tmux::start(&w, "t2");
    t.wait_screen("top's header", |s| s.contains("amux top — 2 sessions"));
    let pid = t.top_pid();
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid as i32).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let screen = t.wait_screen("top ended by SIGTERM, stty -a after", |s| {
        s.contains("ENDED 143") && s.contains("columns 80") && s.contains("extproc")
    });
    assert!(!screen.contains("amux top —"), "{screen}");
    assert!(
        screen.contains(" icanon") && screen.contains(" echo"),
        "{screen}"
    );
}

/// Enter attaches to the selected session (its screen shows), Ctrl-\
/// comes back to `top`, whose screen is as it was.
#[test]
fn enter_attaches_and_ctrl_backslash_comes_back_to_top() {
    let mut w = World::new();
    w.start_daemon();
    let script = "echo ATTACHED-$((6*7)); exec sleep 600";
    let id = w.run(&w.cwd("a"), &["sh", "-c", script]);
    w.wait_screen(&id, "ATTACHED-42");
    let t = Tmux::start(&w, "t");
    let before = t.wait_screen("the row", |s| {
        s.lines().nth(1).is_some_and(|l| l.starts_with(&id))
    });
    t.tmux(&["send-keys", "Enter"]);
    let attached = t.wait_screen("the session's screen", |s| s.contains("ATTACHED-42"));
    assert!(!attached.contains("amux top —"), "{attached}");
    t.tmux(&["send-keys", "C-\\"]);
    let after = t.wait_screen("top again", |s| s.contains("amux top —"));
    assert_eq!(after, before, "top's screen, intact");
    let record = w.record(&id, false).expect("still listed");
    let attachers = record["attachers"].as_u64().unwrap_or(0);
    assert_eq!(attachers, 0, "detached: {record}");
}

/// The daemon SIGKILLed and a new one started: `top` follows the new one
/// (its old rows stay, a session started since shows).
#[test]
fn top_reconnects_to_a_new_daemon() {
    let mut w = World::new();
    w.start_daemon();
    let cwd = w.cwd("a");
    let first = w.run(&cwd, &["sleep", "600"]);
    let t = Tmux::start(&w, "t");
    t.wait_screen("the first row", |s| s.contains(&first));
    let top = t.top_pid();
    w.kill_daemon();
    w.start_daemon();
    let second = w.run(&cwd, &["sleep", "600"]);
    let screen = t.wait_screen("both rows from the new daemon", |s| {
        s.contains("amux top — 2 sessions") && s.contains(&second)
    });
    assert!(screen.contains(&first), "{screen}");
    assert_eq!(t.top_pid(), top, "the same top");
}

/// utime + stime of `pid`, in clock ticks (`/proc/PID/stat` fields 14
/// and 15, counted after the parenthesised name, which may hold blanks).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .expect("(comm)")
        .1
        .split_whitespace()
        .collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// Nothing changes, nothing runs: 20 live sessions, none waiting, and
/// `top` spends no CPU tick in 3 s.
#[test]
fn top_idle_over_twenty_sessions_uses_no_cpu() {
    let mut w = World::new();
    w.start_daemon();
    for i in 0..20 {
        w.run(&w.cwd(&format!("s{i}")), &["claude"]);
    }
    let t = Tmux::start(&w, "t");
    t.wait_screen("20 rows", |s| {
        s.contains("amux top — 20 sessions, 0 waiting")
    });
    let pid = t.top_pid();
    // What the sessions' start set going has settled.
    std::thread::sleep(std::time::Duration::from_secs(1));
    let before = cpu_ticks(pid);
    let screen = t.screen();
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_eq!(t.screen(), screen, "nothing changed meanwhile");
    assert_eq!(cpu_ticks(pid) - before, 0, "ticks while idle");
}
