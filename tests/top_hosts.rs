//! `amux -H local -H HOST -H DEAD top` in tmux, the ssh host a real
//! OpenSSH server on 127.0.0.1 (`support::sshd`, as `remote.rs` uses):
//! both hosts' sessions in one view, the remote's rows `host:id`, the host
//! that cannot be reached one line, and a key acting on the selected
//! row's own host.

use crate::support::daemon::World;
use crate::support::sshd::{free_port, Sshd};
use crate::support::tmux::Tmux;
use crate::support::{output_within, TestEnv};
use serde_json::Value;
use std::time::Duration;

fn json(cmd: std::process::Command) -> Vec<Value> {
    let o = output_within(cmd, Duration::from_secs(30));
    assert!(o.status.success(), "{o:?}");
    serde_json::from_slice(&o.stdout).expect("ls --json")
}

#[test]
fn top_merges_hosts_and_acts_on_the_rows_own_host() {
    let mut w = World::new();
    w.start_daemon();
    let remote = TestEnv::new();
    let sshd = Sshd::start(&remote);
    let host = sshd.host();
    let local_id = w.run(&w.cwd("a"), &["sleep", "600"]);
    let run = ["-H", &host, "run", "-d", "--", "sleep", "600"];
    let o = output_within(sshd.amux(&w.env, run), Duration::from_secs(30));
    assert!(o.status.success(), "{o:?}");
    let remote_id = String::from_utf8_lossy(&o.stdout).trim().to_string();
    let remote_key = format!("{host}:{remote_id}");

    let dead = format!("127.0.0.1:{}", free_port());
    let amux = crate::support::amux_bin();
    let ssh = sshd.ssh_command();
    let top = format!("AMUX_SSH='{ssh}' '{amux}' -H local -H {host} -H {dead} top");
    let t = Tmux::start_sh(&w, "t", &top);
    let screen = t.wait_screen("both hosts' rows and the dead one's line", |s| {
        s.contains("amux top — 2 sessions")
            && s.lines().any(|l| l.starts_with(&format!("{dead}: ")))
    });
    let rows: Vec<&str> = screen.lines().skip(1).take(2).collect();
    let at = |key: &str| rows.iter().position(|l| l.starts_with(&format!("{key} ")));
    let (Some(_), Some(remote_at)) = (at(&local_id), at(&remote_key)) else {
        panic!("a local row by id, a remote one by host:id:\n{screen}");
    };
    assert_eq!(screen.lines().count(), 24, "nothing wrapped:\n{screen}");

    // k on the remote row kills it there, not here.
    for _ in 0..remote_at {
        t.tmux(&["send-keys", "j"]);
    }
    t.tmux(&["send-keys", "k"]);
    t.wait_screen("kill asked", |s| {
        s.contains(&format!("kill {remote_key}? y/n"))
    });
    t.tmux(&["send-keys", "y"]);
    t.wait_screen("killed", |s| {
        s.lines().last().is_some_and(|l| l == "killed")
    });
    let there = json(sshd.amux(&w.env, ["-H", &host, "ls", "--all", "--json"]));
    let rec = there.iter().find(|r| r["id"] == remote_id.as_str());
    assert_eq!(
        rec.map(|r| &r["alive"]),
        Some(&Value::Bool(false)),
        "{there:?}"
    );
    let here = w.record(&local_id, false).expect("the local one lives");
    assert_eq!(here["alive"], true);
}
