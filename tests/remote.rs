//! Remote hosts over SSH (amux(1), Remote hosts) against a real OpenSSH server
//! (`support::sshd`): the "remote" is this machine under another runtime
//! dir and HOME, so its daemon and sessions are really separate from the
//! local ones. Every client verb over `-H`, attach over ssh with a resize
//! and the detach key, a fleet `ls`/`events`/`wait` of `local` + the ssh
//! host, one host down while the other answers, one host hung while the
//! other answers at once, amux missing on the remote, a remote speaking
//! another protocol, and `dial-stdio` itself.

use crate::support::pty::Pty;
use crate::support::sshd::{free_port, Sshd};
use crate::support::{self, output_within, TestEnv};
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(30);

fn run(cmd: Command) -> Output {
    let mut cmd = cmd;
    cmd.stderr(Stdio::piped());
    output_within(cmd, T)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).trim().to_string()
}

fn ok(o: Output, what: &str) -> String {
    assert!(o.status.success(), "{what}: {:?} {}", o.status, stderr(&o));
    stdout(&o)
}

fn records(o: Output) -> Vec<Value> {
    serde_json::from_str(&ok(o, "ls --json")).expect("ls --json prints an array")
}

struct Remote {
    local: TestEnv,
    remote: TestEnv,
    sshd: Sshd,
}

impl Remote {
    fn new() -> Remote {
        let remote = TestEnv::new();
        let sshd = Sshd::start(&remote);
        Remote {
            local: TestEnv::new(),
            remote,
            sshd,
        }
    }

    /// `amux -H HOST ARGS…` from the local side.
    fn on_host(&self, args: &[&str]) -> Command {
        let host = self.sshd.host();
        let mut all = vec!["-H", host.as_str()];
        all.extend_from_slice(args);
        self.sshd.amux(&self.local, all)
    }

    /// `amux ARGS…` on this machine, with a daemon started on demand.
    fn here(&self, args: &[&str]) -> Command {
        self.sshd.amux(&self.local, args)
    }

    /// A session on the remote that reads lines into `$HOME/got`.
    fn remote_reader(&self) -> String {
        let script = "while read l; do echo \"$l\" >> \"$HOME/got\"; done";
        ok(
            run(self.on_host(&["run", "-d", "--", "sh", "-c", script])),
            "run -d",
        )
    }
}

#[test]
fn every_verb_works_over_ssh() {
    let r = Remote::new();
    let id = r.remote_reader();
    assert!(
        !id.is_empty() && !id.contains(':'),
        "one host: a plain id, got {id:?}"
    );
    // It runs there, not here: the remote's sockets, the remote's daemon.
    assert!(r.remote.sock(&id).exists(), "no remote socket for {id}");
    assert!(!r.local.sock(&id).exists());
    let listed = records(run(r.on_host(&["ls", "--json"])));
    assert!(listed.iter().any(|s| s["id"] == id.as_str()), "{listed:?}");
    assert!(
        listed.iter().all(|s| s["host"].is_null()),
        "one host: no host field"
    );
    let here = records(run(r.here(&["ls", "--json"])));
    assert!(
        here.iter().all(|s| s["id"] != id.as_str()),
        "local ls shows it: {here:?}"
    );

    let shown = ok(run(r.on_host(&["show", &id[..4]])), "show by prefix");
    assert!(shown.contains(&format!("id\t{id}")), "{shown}");
    let mut events = r.on_host(&["events"]);
    events.stdout(Stdio::piped()).stderr(Stdio::null());
    let mut child = events.spawn().expect("events");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("an events line");
    let _ = child.kill();
    let _ = child.wait();
    let line: Value = serde_json::from_str(&first).expect("JSON line");
    assert_eq!(line["session"]["id"], id.as_str(), "{line}");

    ok(
        run(r.on_host(&["send", &id, "hello there", "--enter"])),
        "send",
    );
    let got = r.remote.root.join("home/got");
    support::wait_until(T, || got.exists(), "the remote agent to read the line");
    assert_eq!(std::fs::read_to_string(&got).unwrap().trim(), "hello there");

    let timed = run(r.on_host(&["wait", &id, "--until", "exit", "--timeout", "0.5"]));
    assert_eq!(timed.status.code(), Some(124), "{}", stderr(&timed));
    let mut waiter = r.on_host(&["wait", &id, "--until", "exit"]);
    waiter.stderr(Stdio::piped());
    let waiter = std::thread::spawn(move || output_within(waiter, T));
    ok(run(r.on_host(&["kill", &id])), "kill");
    let waited = waiter.join().expect("waiter");
    assert!(waited.status.success(), "wait --until exit: {waited:?}");
    let dead = records(run(r.on_host(&["ls", "--all", "--json"])));
    let rec = dead
        .iter()
        .find(|s| s["id"] == id.as_str())
        .expect("dead record");
    assert_eq!(rec["alive"], false);
    // resume runs there too: a shell has nothing to resume, said by the remote.
    let resumed = run(r.on_host(&["resume", "-d", &id]));
    assert_eq!(resumed.status.code(), Some(1));
    assert!(
        stderr(&resumed).contains("no conversation to resume"),
        "{}",
        stderr(&resumed)
    );
}

#[test]
fn attach_over_ssh_resizes_and_detaches() {
    let r = Remote::new();
    let script = "stty size; while read l; do stty size; done";
    let id = ok(
        run(r.on_host(&["run", "-d", "--size", "70x20", "--", "sh", "-c", script])),
        "run",
    );
    let host = r.sshd.host();
    let ssh = r.sshd.ssh_command();
    let mut viewer = Pty::spawn_with(&r.local, ["-H", &host, "attach", &id], 100, 30, |c| {
        c.env("AMUX_SSH", &ssh).env_remove("AMUX_NO_DAEMON");
    });
    viewer.wait_raw(T);
    viewer.write(b"\r");
    viewer.wait_for("30 100", T);
    let from = viewer.text().len();
    viewer.resize(90, 25);
    // The new size crosses ssh to the remote PTY in its own time: Enter
    // (which prints the size) until it is there.
    let deadline = std::time::Instant::now() + T;
    while !viewer.text()[from..].contains("25 90") {
        assert!(
            std::time::Instant::now() < deadline,
            "the new size never reached the host: {}",
            viewer.text()
        );
        viewer.write(b"\r");
        // Pressed again only once its answer has had time to come back.
        let mark = viewer.text().len();
        while viewer.read_some(Duration::from_millis(300)) && !viewer.text()[mark..].contains('\n')
        {
        }
    }
    viewer.write(&[0x1c]);
    assert!(viewer.wait_exit(T).success(), "detach exits 0");
    assert!(viewer.text().contains("[detached]"), "{}", viewer.text());
    // Still running there after the detach.
    let listed = records(run(r.on_host(&["ls", "--json"])));
    let rec = listed
        .iter()
        .find(|s| s["id"] == id.as_str())
        .expect("still listed");
    assert_eq!(rec["alive"], true);
}

#[test]
fn a_fleet_merges_local_and_the_ssh_host() {
    let r = Remote::new();
    let remote_id = r.remote_reader();
    let local_id = ok(
        run(r.here(&["run", "-d", "--", "sleep", "60"])),
        "local run",
    );
    let host = r.sshd.host();
    // A loaded test machine's ssh login may take longer than a fleet's
    // 5 s per host: this test is about merging, not lateness.
    let fleet = |args: &[&str]| {
        let mut all = vec!["-H", "local", "-H", host.as_str()];
        all.extend_from_slice(args);
        let mut cmd = r.sshd.amux(&r.local, all);
        cmd.env("AMUX_HOST_TIMEOUT", "30");
        cmd
    };
    let merged = records(run(fleet(&["ls", "--json"])));
    let ids: Vec<&str> = merged.iter().filter_map(|s| s["id"].as_str()).collect();
    assert_eq!(
        ids,
        [format!("local:{local_id}"), format!("{host}:{remote_id}")],
        "{merged:?}"
    );
    assert_eq!(merged[1]["host"], host.as_str());
    // AMUX_HOST says the same, comma-separated; the table too.
    let mut env_cmd = r.here(&["ls"]);
    env_cmd
        .env("AMUX_HOST", format!("local,{host}"))
        .env("AMUX_HOST_TIMEOUT", "30");
    let table = ok(run(env_cmd), "ls with AMUX_HOST");
    assert!(table.contains(&format!("{host}:{remote_id}\t")), "{table}");

    // A key without a host is found wherever it is; host:id names one.
    let shown = ok(run(fleet(&["show", &remote_id[..5]])), "show across hosts");
    assert!(shown.contains(&format!("id\t{remote_id}")), "{shown}");
    let qualified = format!("local:{local_id}");
    let timed = run(fleet(&[
        "wait",
        &qualified,
        "--until",
        "exit",
        "--timeout",
        "0.3",
    ]));
    assert_eq!(timed.status.code(), Some(124), "{}", stderr(&timed));

    let mut events = fleet(&["events"]);
    events.stdout(Stdio::piped()).stderr(Stdio::null());
    let mut child = events.spawn().expect("events");
    let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
    let mut hosts = Vec::new();
    for _ in 0..2 {
        let mut line = String::new();
        reader.read_line(&mut line).expect("a line");
        let v: Value = serde_json::from_str(&line).expect("JSON");
        let id = v["session"]["id"].as_str().unwrap_or("").to_string();
        assert!(
            id.starts_with(&format!("{}:", v["host"].as_str().unwrap_or("?"))),
            "{v}"
        );
        hosts.push(v["host"].as_str().unwrap_or("").to_string());
    }
    let _ = child.kill();
    let _ = child.wait();
    hosts.sort();
    let mut want = vec![host.clone(), "local".to_string()];
    want.sort();
    assert_eq!(hosts, want);
}

#[test]
fn one_host_down_the_other_still_answers() {
    let r = Remote::new();
    let local_id = ok(
        run(r.here(&["run", "-d", "--", "sleep", "60"])),
        "local run",
    );
    let dead = format!("127.0.0.1:{}", free_port());
    let o = run(r.sshd.amux(&r.local, ["-H", "local", "-H", &dead, "ls"]));
    assert_eq!(o.status.code(), Some(5), "some host failed: exit 5");
    assert!(
        stdout(&o).contains(&format!("local:{local_id}")),
        "{}",
        stdout(&o)
    );
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "one line for the host: {err}");
    assert!(
        err.contains(&dead) && err.contains("Connection refused"),
        "{err}"
    );
    // Alone, the same host is one clear line too.
    let o = run(r.sshd.amux(&r.local, ["-H", &dead, "ls"]));
    assert_eq!(o.status.code(), Some(5));
    assert!(
        stderr(&o).starts_with("amux: ssh: connect to host"),
        "{}",
        stderr(&o)
    );
}

/// An `AMUX_SSH` for a host that never answers: a login that hangs.
fn hanging_ssh(env: &TestEnv) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = env.root.join("hanging-ssh");
    std::fs::write(&path, "#!/bin/sh\nexec sleep 600\n").expect("hanging ssh");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

/// A host that never answers holds the others' answers for the per-host
/// limit (5 s by default, `AMUX_HOST_TIMEOUT`), not ssh's 30 s: `ls`
/// prints the host that answered and names the late one once (exit 5), a
/// key the answering host has is found, and `events` names the late host
/// while the other's lines flow.
#[test]
fn a_hung_host_is_late_not_waited_for() {
    let env = TestEnv::new();
    let ssh = hanging_ssh(&env);
    let fleet = |args: &[&str]| {
        let mut cmd = env.amux(["-H", "local", "-H", "hang"]);
        cmd.args(args)
            .env("AMUX_SSH", &ssh)
            .env_remove("AMUX_NO_DAEMON")
            .stderr(Stdio::piped());
        cmd
    };
    let id = env.run_detached(["sleep", "60"]);
    // Far below the 30 s an ssh host alone is given, far above the 5 s.
    let soon = Duration::from_secs(20);
    let timed = |cmd: Command| {
        let started = Instant::now();
        let o = output_within(cmd, T * 2);
        (o, started.elapsed())
    };

    let (o, took) = timed(fleet(&["ls"]));
    assert!(took < soon, "ls waited {took:?} for the hung host");
    assert_eq!(o.status.code(), Some(5), "a late host: exit 5");
    assert!(
        stdout(&o).contains(&format!("local:{id}\t")),
        "{}",
        stdout(&o)
    );
    assert_eq!(stderr(&o), "amux: hang: no answer within 5 s");

    let (o, took) = timed(fleet(&["show", &id[..6]]));
    assert!(took < soon, "show waited {took:?} for the hung host");
    assert!(ok(o, "show").contains(&format!("id\t{id}")));

    let mut events = fleet(&["events"]);
    events.env("AMUX_HOST_TIMEOUT", "3").stdout(Stdio::piped());
    let started = Instant::now();
    let mut child = events.spawn().expect("events");
    let mut err = BufReader::new(child.stderr.take().expect("stderr"));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = err.read_line(&mut line);
        let _ = tx.send(line);
    });
    let mut first = String::new();
    // Kept open: events ends when its reader leaves.
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    out.read_line(&mut first).expect("an events line");
    let said = rx.recv_timeout(T * 2);
    let took = started.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    drop(out);
    assert!(first.contains(&format!("\"local:{id}\"")), "{first}");
    assert_eq!(
        said.as_deref().map(str::trim_end),
        Ok("amux: hang: no answer within 3 s")
    );
    assert!(took < soon, "events named the hung host after {took:?}");
}

/// A key two sessions on one host share is ambiguous there, said so with
/// that host's words (exit 1) — not "no session matches".
#[test]
fn a_key_ambiguous_on_one_host_is_said_so() {
    let r = Remote::new();
    // Ids are random: start sessions until two share a first character.
    let mut ids: Vec<String> = Vec::new();
    let shared = loop {
        let id = ok(
            run(r.here(&["run", "-d", "--", "sleep", "60"])),
            "local run",
        );
        let first = id[..1].to_string();
        if ids.iter().any(|i| i.starts_with(&first)) {
            break first;
        }
        ids.push(id);
    };
    let dead = format!("127.0.0.1:{}", free_port());
    let o = run(r
        .sshd
        .amux(&r.local, ["-H", "local", "-H", &dead, "show", &shared]));
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let err = stderr(&o);
    assert!(
        err.starts_with(&format!("amux: local: {shared:?} is ambiguous")),
        "{err}"
    );
}

#[test]
fn amux_missing_on_the_remote_is_said_so() {
    let remote = TestEnv::new();
    let sshd = Sshd::without_amux(&remote);
    let local = TestEnv::new();
    let host = sshd.host();
    let o = run(sshd.amux(&local, ["-H", &host, "ls"]));
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert_eq!(
        stderr(&o),
        format!("amux: amux not found on {host}: install it there")
    );
    let o = run(sshd.amux(&local, ["-H", &host, "run", "-d", "--", "true"]));
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains(&format!("amux not found on {host}")),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_remote_speaking_an_older_protocol_is_refused_once() {
    let remote = TestEnv::new();
    let sshd = Sshd::without_amux(&remote);
    // A remote "amux" answering any request with a health of protocol 1 (older than any this client reads).
    let fake = remote.root.join("sshd-bare/bin/amux");
    let body = r#"{"ok":true,"pid":1,"version":"0.0.1","protocol":1}"#;
    let script = format!(
        "#!/bin/sh\nread line\nprintf 'HTTP/1.1 200 OK\\r\\nContent-Length: {}\\r\\n\\r\\n%s' '{body}'\nsleep 5\n",
        body.len()
    );
    std::fs::write(&fake, script).expect("fake amux");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let local = TestEnv::new();
    let host = sshd.host();
    let o = run(sshd.amux(&local, ["-H", &host, "ls"]));
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    let want =
        format!("amux on {host} speaks protocol 1, this one 3 (at least 2): upgrade amux there");
    assert!(stderr(&o).contains(&want), "{}", stderr(&o));
}

#[test]
fn dial_stdio_is_a_byte_pipe_to_the_daemon() {
    let env = TestEnv::new();
    let mut cmd = env.amux(["dial-stdio"]);
    cmd.env_remove("AMUX_NO_DAEMON")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    let mut child = cmd.spawn().expect("dial-stdio");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("request");
    let mut reply = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().expect("stdout"), &mut reply)
        .expect("reply");
    assert!(support::wait_child(&mut child, T).success());
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.contains("\"protocol\":3"), "{reply}");
    drop(stdin);
}

/// A remote amux newer than this one (protocol 4) whose session runs an
/// agent this client has no adapter for: `ls`, `ls --json` and `show`
/// print its kind as the remote said it.
#[test]
fn a_newer_remotes_unknown_kind_is_printed_as_itself() {
    let remote = TestEnv::new();
    let sshd = Sshd::without_amux(&remote);
    let fake = remote.root.join("sshd-bare/bin/amux");
    std::fs::write(&fake, NEWER_AMUX).expect("fake amux");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let local = TestEnv::new();
    let host = sshd.host();
    let listed = records(run(sshd.amux(&local, ["-H", &host, "ls", "--json"])));
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["kind"], "gemini", "{listed:?}");
    assert_eq!(
        listed[0]["status"]["source"], "osc0",
        "carried as itself: {listed:?}"
    );
    let table = ok(run(sshd.amux(&local, ["-H", &host, "ls"])), "ls");
    assert!(table.contains("\tgemini\t"), "{table}");
    let shown = ok(run(sshd.amux(&local, ["-H", &host, "show", "g1"])), "show");
    assert!(shown.contains("kind\tgemini\n"), "{shown}");
}

/// Answers a client over `dial-stdio` as a newer daemon would: health of
/// protocol 4, and one session of kind `gemini` with a state source this
/// amux does not know.
const NEWER_AMUX: &str = r#"#!/usr/bin/env python3
import json, sys
record = {"id": "g1abcdefgh", "kind": "gemini", "command": ["gemini"], "cwd": "/w",
          "alive": True, "started_at": "2026-12-06T00:00:00Z", "slug": "hi", "title": "hi",
          "status": {"state": "idle", "source": "osc0", "working": False, "error": False},
          "unread": False, "turn_done": True, "shim": {"active": False}, "future_field": 1}
def answer(path):
    if path == "/v1/health":
        return 200, {"ok": True, "pid": 1, "version": "9.0.0", "protocol": 4}
    if path.startswith("/v1/sessions?") or path == "/v1/sessions":
        return 200, [record]
    if path.startswith("/v1/sessions/g1"):
        return 200, record
    return 404, {"error": "no session matches"}
inp, out = sys.stdin.buffer, sys.stdout.buffer
while True:
    line = inp.readline()
    if not line:
        break
    path = line.split()[1].decode()
    length = 0
    while True:
        h = inp.readline()
        if h in (b"\r\n", b"\n", b""):
            break
        if h.lower().startswith(b"content-length:"):
            length = int(h.split(b":")[1])
    inp.read(length)
    status, body = answer(path)
    data = json.dumps(body).encode()
    head = b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
    out.write(head % (status, len(data)) + data)
    out.flush()
"#;
