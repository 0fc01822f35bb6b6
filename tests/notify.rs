//! `amux notify` against stand-in Claudes (their pidfile's `waiting`, as
//! in `answer`): a recording `--exec` script and a recording stand-in
//! `notify-send` on `PATH`. Exactly one notification per waiting that
//! holds, none for one that clears within the grace, none for a session
//! someone is attached to. Each negative is read off a later positive:
//! the notification that comes after the one that must not have.

use crate::agent_state::pidfile;
use crate::agent_state::tool_use;
use crate::answer::asks;
use crate::support::daemon::{World, T};
use crate::support::pty::Pty;
use crate::support::wait_until;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

struct Notify {
    child: Child,
    rec: PathBuf,
    desktop: PathBuf,
}

impl Drop for Notify {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lines(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines().map(str::to_string).collect()
}

impl Notify {
    /// `amux notify --exec …` with a `notify-send` of ours on `PATH`, once
    /// it follows the daemon's events.
    fn start(w: &World) -> Notify {
        let rec = w.env.root.join("exec.log");
        let desktop = w.env.root.join("notify-send.log");
        let stand_in = w.bin().join("notify-send");
        let script = format!(
            "#!/bin/sh\nfor a in \"$@\"; do printf '[%s]' \"$a\"; done >> '{}'\necho >> '{}'\n",
            desktop.display(),
            desktop.display()
        );
        std::fs::write(&stand_in, script).expect("notify-send");
        std::fs::set_permissions(&stand_in, std::fs::Permissions::from_mode(0o755)).unwrap();
        let exec = format!(
            "echo \"$AMUX_ID $AMUX_STATE $AMUX_KIND [$AMUX_TEXT] [$AMUX_TITLE]\" >> '{}'",
            rec.display()
        );
        let since = w.connections();
        let mut cmd = w.amux(["notify", "--exec", &exec]);
        let child = cmd.stdout(Stdio::null()).spawn().expect("amux notify");
        // Its event stream, then its health check: it follows.
        w.wait_connections(since, 2);
        Notify {
            child,
            rec,
            desktop,
        }
    }

    /// Waits until the `--exec` log has `n` lines; they.
    fn wait_lines(&self, n: usize) -> Vec<String> {
        wait_until(
            T,
            || lines(&self.rec).len() >= n,
            &format!("{n} notifications"),
        );
        lines(&self.rec)
    }
}

#[test]
fn one_notification_per_waiting_none_within_the_grace_none_while_attached() {
    let mut w = World::new();
    w.start_daemon();
    let (a_cwd, b_cwd, c_cwd) = (w.cwd("a"), w.cwd("b"), w.cwd("c"));
    let a = w.run(&a_cwd, &["claude"]);
    let b = w.run(&b_cwd, &["claude"]);
    let c = w.run(&c_cwd, &["claude"]);
    for id in [&a, &b, &c] {
        w.wait_screen(id, "stand-in ready");
    }
    let n = Notify::start(&w);

    // A waits and holds: one notification, with the command.
    asks(&w, &a, &a_cwd, &tool_use(&a_cwd, "touch /tmp/a-held"));
    let got = n.wait_lines(1);
    assert!(
        got[0].starts_with(&format!("{a} waiting claude [Bash: touch /tmp/a-held]")),
        "{got:?}"
    );
    let desktop = lines(&n.desktop);
    assert_eq!(desktop.len(), 1, "{desktop:?}");
    assert!(
        desktop[0].contains("waits for you]") && desktop[0].contains("[Bash: touch /tmp/a-held]"),
        "{desktop:?}"
    );

    // B waits and is answered at once: nothing. Then C, attached, waits
    // and holds: nothing. Then B waits again and holds: its one
    // notification is the next line.
    asks(&w, &b, &b_cwd, &tool_use(&b_cwd, "touch /tmp/b-quick"));
    pidfile(&w, &b, &b_cwd, "busy");
    let mut attached = Pty::spawn(&w.env, ["attach", &c], 80, 24);
    w.wait_record(&c, "attached", |r| r["attachers"] == 1);
    asks(&w, &c, &c_cwd, &tool_use(&c_cwd, "touch /tmp/c-attached"));
    asks(&w, &b, &b_cwd, &tool_use(&b_cwd, "touch /tmp/b-held"));
    let got = n.wait_lines(2);
    assert!(
        got[1].starts_with(&format!("{b} waiting claude [Bash: touch /tmp/b-held]")),
        "{got:?}"
    );
    // A waiting still, republished or not: told once.
    assert_eq!(
        got.iter().filter(|l| l.starts_with(&a)).count(),
        1,
        "{got:?}"
    );
    assert!(
        !got.iter()
            .any(|l| l.contains("b-quick") || l.contains("c-attached")),
        "{got:?}"
    );
    attached.write(&[0x1c]);
    let _ = attached.wait_exit(T);
}
