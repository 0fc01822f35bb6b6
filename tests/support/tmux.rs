//! `amux top` (or any full-screen client) in a tmux server of its own,
//! 80x24, read with `capture-pane -p`; the server is killed on drop.

use super::daemon::{World, T};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A tmux server, addressed by its socket alone once started (so the
/// test may restart its daemon meanwhile).
pub struct Tmux {
    sock: PathBuf,
}

impl Tmux {
    /// `amux top` in a new 80x24 server `name`.
    pub fn start(w: &World, name: &str) -> Tmux {
        let amux = super::amux_bin();
        Tmux::start_sh(w, name, &format!("'{amux}' top"))
    }

    /// The shell command `top` (which runs `amux top` as the pane's
    /// shell's child) in a new 80x24 server `name`; when it ends, its
    /// status and the terminal's modes are printed.
    pub fn start_sh(w: &World, name: &str, top: &str) -> Tmux {
        let sock = w.env.root.join(name);
        let script = format!("{top}; echo ENDED $?; stty -a; sleep 600");
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
        Tmux { sock }
    }

    pub fn tmux(&self, args: &[&str]) -> String {
        let mut all = vec!["-S", self.sock.to_str().unwrap()];
        all.extend(args);
        let o = std::process::Command::new("tmux")
            .args(all)
            .output()
            .expect("tmux");
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    pub fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p"])
    }

    pub fn wait_screen(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + T;
        loop {
            let screen = self.screen();
            if pred(&screen) {
                return screen;
            }
            assert!(Instant::now() < deadline, "{what}; screen:\n{screen}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The pid of `amux top` (the pane's shell's child).
    pub fn top_pid(&self) -> u32 {
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

impl Drop for Tmux {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
    }
}
