//! `amux top` in tmux (80x24), read with `capture-pane -p`: the waiting
//! session's row first with its command, nothing wider than the pane,
//! `q` and SIGTERM give the screen and the terminal's modes back.

use crate::agent_state::tool_use;
use crate::answer::asks;
use crate::support::daemon::{World, T};
use std::path::PathBuf;

struct Tmux<'w> {
    w: &'w World,
    sock: PathBuf,
}

impl Tmux<'_> {
    fn start<'w>(w: &'w World, name: &str) -> Tmux<'w> {
        let sock = w.env.root.join(name);
        let amux = crate::support::amux_bin();
        let script = format!("'{amux}' top; echo ENDED $?; stty -a; sleep 600");
        let o = w
            .command(
                "tmux",
                [
                    "-S",
                    sock.to_str().unwrap(),
                    "-f",
                    "/dev/null",
                    "new",
                    "-d",
                    "-x",
                    "80",
                    "-y",
                    "24",
                    "sh",
                    "-c",
                    &script,
                ],
            )
            .output()
            .expect("tmux");
        assert!(o.status.success(), "{o:?}");
        Tmux { w, sock }
    }

    fn tmux(&self, args: &[&str]) -> String {
        let mut all = vec!["-S", self.sock.to_str().unwrap()];
        all.extend(args);
        let o = self.w.command("tmux", all).output().expect("tmux");
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p"])
    }

    fn wait_screen(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = std::time::Instant::now() + T;
        loop {
            let screen = self.screen();
            if pred(&screen) {
                return screen;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{what}; screen:\n{screen}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// The pid of `amux top` (the pane's shell's child).
    fn top_pid(&self) -> u32 {
        let sh = self.tmux(&["display", "-p", "#{pane_pid}"]);
        let sh = sh.trim();
        let children = std::fs::read_to_string(format!("/proc/{sh}/task/{sh}/children")).unwrap();
        children
            .split_whitespace()
            .next()
            .expect("top runs")
            .parse()
            .unwrap()
    }
}

impl Drop for Tmux<'_> {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
    }
}

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

    // q: the shell's screen is back, top's gone from it.
    t.tmux(&["send-keys", "q"]);
    let screen = t.wait_screen("top ended", |s| s.contains("ENDED 0"));
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
    let screen = t.wait_screen("top ended by SIGTERM", |s| s.contains("ENDED 143"));
    assert!(!screen.contains("amux top —"), "{screen}");
    assert!(
        screen.contains(" icanon") && screen.contains(" echo"),
        "{screen}"
    );
}
