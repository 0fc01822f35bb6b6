//! The runtime directory's permission checks and the session socket's peer
//! check (amux-protocol(7), Access). The tests run as root, so "another user" is
//! `nobody` (uid/gid 65534).

use crate::support::{self, TestEnv};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::time::Duration;

const T: Duration = Duration::from_secs(20);
const NOBODY: u32 = 65534;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .mode()
        & 0o7777
}

#[test]
fn runtime_dir_is_created_private() {
    let env = TestEnv::new();
    let out = support::output_within(env.amux(["run", "--", "true"]), T);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mode(&env.runtime()), 0o700);
    assert_eq!(mode(&env.sessions()), 0o700);
}

/// Runs `amux run -- touch ran` in `env` and expects a refusal naming the
/// directory and `why`, with the command never started.
fn expect_refusal(env: &TestEnv, why: &str) {
    let mut cmd = env.amux(["run", "--", "touch", "ran"]);
    cmd.stderr(std::process::Stdio::piped());
    let out = support::output_within(cmd, T);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "amux accepted the directory; stderr: {stderr}"
    );
    assert!(
        stderr.contains(&env.runtime().display().to_string()),
        "message does not name the dir: {stderr}"
    );
    assert!(
        stderr.contains(why),
        "message does not say why ({why}): {stderr}"
    );
    assert!(!env.work().join("ran").exists(), "the command ran anyway");
}

#[test]
fn group_readable_runtime_dir_is_refused() {
    let env = TestEnv::new();
    std::fs::create_dir(env.runtime()).expect("mkdir");
    std::fs::set_permissions(env.runtime(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    expect_refusal(&env, "0755");
}

#[test]
fn runtime_dir_of_another_user_is_refused() {
    let env = TestEnv::new();
    std::fs::create_dir(env.runtime()).expect("mkdir");
    std::fs::set_permissions(env.runtime(), std::fs::Permissions::from_mode(0o700)).expect("chmod");
    std::os::unix::fs::chown(env.runtime(), Some(NOBODY), Some(NOBODY)).expect("chown");
    expect_refusal(&env, &NOBODY.to_string());
}

/// Connects to `sock`, sends `GET /meta`, prints what came back as JSON:
/// `{"bytes":N,"text":…}` or `{"error":…}`.
const CLIENT: &str = r#"
const sock = require("net").connect(process.argv[1]);
let got = "";
sock.on("connect", () => sock.write("GET /meta HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
sock.on("data", (d) => (got += d));
sock.on("error", (e) => { console.log(JSON.stringify({ error: e.code, bytes: got.length, text: got })); process.exit(0); });
sock.on("close", () => { console.log(JSON.stringify({ bytes: got.length, text: got })); process.exit(0); });
setTimeout(() => { console.log(JSON.stringify({ timeout: true, bytes: got.length, text: got })); process.exit(0); }, 8000);
"#;

fn client(env: &TestEnv, sock: &Path, uid: Option<u32>) -> serde_json::Value {
    let mut cmd = env.command(support::node(), ["-e", CLIENT, &sock.display().to_string()]);
    if let Some(uid) = uid {
        cmd.uid(uid).gid(uid).env("HOME", "/tmp");
    }
    let out = support::output_within(cmd, T);
    assert!(out.status.success(), "client failed: {:?}", out.status);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "client output ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

#[test]
fn another_uid_is_closed_without_a_reply() {
    let env = TestEnv::new();
    let id = env.run_detached(["sleep", "300"]);
    // A world-reachable name for the socket: the private runtime dir
    // would stop `nobody` before the runner's own check could.
    env.open_to_all();
    let public = env.root.join("pub");
    std::fs::create_dir(&public).expect("mkdir");
    std::fs::set_permissions(&public, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let link = public.join("s.sock");
    std::fs::hard_link(env.sock(&id), &link).expect("hard-link the socket");
    std::fs::set_permissions(&link, std::fs::Permissions::from_mode(0o777)).expect("chmod");

    // Control: through the same link, our own uid is served.
    let ours = client(&env, &link, None);
    assert!(
        ours["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("HTTP/1.1 200")),
        "{ours}"
    );

    let theirs = client(&env, &link, Some(NOBODY));
    assert_eq!(
        theirs["timeout"],
        serde_json::Value::Null,
        "the connection was left open: {theirs}"
    );
    assert_eq!(theirs["bytes"], 0, "another uid got a reply: {theirs}");
    assert!(
        theirs["error"].is_null() || theirs["error"] != "EACCES",
        "nobody could not even connect: {theirs}"
    );
    assert_eq!(support::http::meta(&env.sock(&id))["alive"], true);
}
