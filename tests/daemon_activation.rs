//! Socket activation, the way `amux.socket` does it, without
//! a systemd PID 1: `systemd-socket-activate -l <runtime>/daemon.sock amux
//! daemon --foreground` listens, and starts the daemon on the first
//! connection with the socket as fd 3 (`LISTEN_FDS`). Client verbs — with
//! auto-start allowed — reach that daemon, a runner registers with it, and
//! no second daemon ever starts; a stopped daemon leaves systemd's socket
//! in place.

use crate::support::daemon::{World, T};
use crate::support::{self, http};
use std::path::Path;
use std::process::{Command, Stdio};

/// Environment the activated daemon needs: systemd-socket-activate passes
/// only what `-E` names (the test's marker too, so its drop kills it).
const PASS: &[&str] = &[
    "AMUX_RUNTIME_DIR",
    "XDG_STATE_HOME",
    "XDG_CACHE_HOME",
    "HOME",
    "PATH",
    "PI_CODING_AGENT_DIR",
    "CLAUDE_CONFIG_DIR",
    "CODEX_HOME",
    "AMUX_TEST_DIR",
];

/// Pids of every `amux daemon` whose runtime directory is `runtime`.
fn daemons(runtime: &Path) -> Vec<u32> {
    let needle = format!("AMUX_RUNTIME_DIR={}\0", runtime.display()).into_bytes();
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let words: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        if words.get(1) != Some(&b"daemon".as_slice()) {
            continue;
        }
        let environ = std::fs::read(entry.path().join("environ")).unwrap_or_default();
        if environ.windows(needle.len()).any(|w| w == needle) {
            out.push(pid);
        }
    }
    out
}

#[test]
fn activated_daemon_serves_clients_and_none_other_starts() {
    support::require_tools(&["systemd-socket-activate"]);
    let w = World::new();
    let runtime = w.env.runtime();
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&runtime)
            .expect("runtime dir");
    }
    let sock = w.daemon_sock();
    let mut activate = w.command("systemd-socket-activate", ["-l"]);
    activate.arg(&sock);
    for var in PASS {
        activate.args(["-E", var]);
    }
    let mut activator = activate
        .arg(support::amux_bin())
        .args(["daemon", "--foreground"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("systemd-socket-activate");
    support::wait_until(T, || sock.exists(), "systemd-socket-activate to listen");
    assert_eq!(
        daemons(&runtime),
        Vec::<u32>::new(),
        "a daemon before any client"
    );

    // Clients that would start a daemon if they found none.
    let client = |args: &[&str]| -> Command {
        let mut cmd = w.amux(args);
        cmd.env_remove("AMUX_NO_DAEMON");
        cmd
    };
    let out = support::output_within(client(&["ls"]), T);
    assert!(
        out.status.success(),
        "amux ls: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // exec, not fork: the activated daemon is the activator's own process.
    let health = http::get(&sock, "/v1/health").json();
    assert_eq!(
        health["pid"].as_u64(),
        Some(activator.id() as u64),
        "{health}"
    );

    let cwd = w.cwd("a");
    let mut run = client(&["run", "-d", "--", "pi"]);
    run.current_dir(&cwd).stderr(Stdio::inherit());
    let out = support::output_within(run, T);
    assert!(out.status.success(), "amux run -d");
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    support::wait_until(
        T,
        || {
            let ls = support::output_within(client(&["ls", "--json"]), T);
            String::from_utf8_lossy(&ls.stdout).contains(&id)
        },
        "the activated daemon to list the new session",
    );
    assert_eq!(
        daemons(&runtime),
        vec![activator.id()],
        "only the activated daemon"
    );
    let log = std::fs::read_to_string(w.state().join("daemon.log")).unwrap_or_default();
    assert!(log.contains("(socket activation)"), "daemon.log:\n{log}");

    // Stopped, it leaves the socket to its owner (systemd would start it
    // again on the next connection).
    let pid = rustix::process::Pid::from_raw(activator.id() as i32).expect("pid");
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("SIGTERM");
    let status = support::wait_child(&mut activator, T);
    assert!(status.success(), "the activated daemon's exit: {status:?}");
    assert!(sock.exists(), "the daemon removed systemd's socket");
    http::post(&w.env.sock(&id), "/kill", b"");
}
