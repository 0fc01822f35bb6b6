//! Where a burst of notifications goes: `notify-send` (the freedesktop
//! notification, when it is on `PATH`), OSC 9 and OSC 777 to our own
//! terminal (tmux passes them on), and the user's `--exec` command, run
//! once per notification with the `AMUX_*` variables.
//!
//! Agent text is data: what reaches a terminal or a desktop is passed
//! through `visible` (no escape of the agent's can end our OSC or act on
//! the terminal; `;` cannot split OSC 777's fields, as its body is last);
//! the variables get it as it is, less NULs, which no environment holds.
//! Children are started and left to a thread that reaps them: a slow
//! command delays no notification.

use super::decide::{Notice, Reason};
use crate::visible::visible;
use std::io::Write;
use std::process::{Child, Command, Stdio};

pub struct Outputs {
    /// `notify-send`'s path, when it is used.
    pub desktop: Option<std::path::PathBuf>,
    /// Write OSC 9/777 to stdout (a terminal).
    pub osc: bool,
    /// `--exec`'s command line, for `sh -c`.
    pub exec: Option<String>,
}

impl Outputs {
    pub fn send(&self, burst: &[Notice]) {
        let (summary, body) = match burst {
            [] => return,
            [one] => (headline(one), one.text.clone()),
            many => {
                let lines: Vec<String> = many.iter().map(headline).collect();
                (
                    format!("{} sessions need you", many.len()),
                    lines.join("\n"),
                )
            }
        };
        let (summary, body) = (visible(&summary), visible_lines(&body));
        if let Some(program) = &self.desktop {
            let mut cmd = Command::new(program);
            cmd.args(["--app-name=amux", "--", &summary, &body]);
            reap(cmd.stdin(Stdio::null()).spawn().ok());
        }
        if self.osc {
            let oneline = body.replace('\n', "; ");
            let text =
                format!("\x1b]777;notify;{summary};{oneline}\x07\x1b]9;{summary}: {oneline}\x07");
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
        }
        for notice in burst {
            self.exec(notice);
        }
    }

    fn exec(&self, n: &Notice) {
        let Some(line) = &self.exec else {
            return;
        };
        let clean = |s: &str| s.replace('\0', "");
        let mut cmd = Command::new("/bin/sh");
        cmd.args(["-c", line])
            .env("AMUX_ID", clean(&n.id))
            .env("AMUX_HOST", clean(n.host.as_deref().unwrap_or("")))
            .env("AMUX_KIND", clean(&n.kind))
            .env("AMUX_STATE", n.reason.as_str())
            .env("AMUX_TITLE", clean(&n.title))
            .env("AMUX_TEXT", clean(&n.text))
            .stdin(Stdio::null());
        match cmd.spawn() {
            Ok(child) => reap(Some(child)),
            Err(e) => eprintln!("amux: notify: --exec: {e}"),
        }
    }
}

/// "TITLE waits: Bash" — who, and why, in one line.
fn headline(n: &Notice) -> String {
    let who = if n.title.is_empty() { &n.id } else { &n.title };
    let host = n
        .host
        .as_deref()
        .map_or(String::new(), |h| format!("{h}: "));
    let why = match n.reason {
        Reason::Waiting => "waits for you",
        Reason::Error => "failed",
        Reason::Unread => "replied",
    };
    format!("{host}{who} {why}")
}

/// `visible` line by line: the burst's lines stay lines.
fn visible_lines(text: &str) -> String {
    text.lines().map(visible).collect::<Vec<_>>().join("\n")
}

fn reap(child: Option<Child>) {
    if let Some(mut child) = child {
        std::thread::spawn(move || child.wait());
    }
}

/// `notify-send` on `PATH`, if there is one.
pub fn notify_send() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("notify-send"))
        .find(|p| rustix::fs::access(p, rustix::fs::Access::EXEC_OK).is_ok())
}
