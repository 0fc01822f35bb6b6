//! The agent-provided sources (Claude's pidfile, Codex's open rollout:
//! amux(1), How amux learns the conversation file), with stand-in
//! programs named `claude` and `codex` (Python: the preload never loads).
//!
//! The Claude stand-in keeps `$CLAUDE_CONFIG_DIR/sessions/<its pid>.json`
//! and appends its transcript one open-append-close per line; the Codex
//! stand-in holds an `O_APPEND` writer on its rollout and a read-only fd on
//! an older one. Both are told what to do through their runner's `/input`.

use crate::support::daemon::{self, holds, iso, now_s, World};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// Claude's project directory name: every non-alphanumeric byte -> '-'.
pub fn mangle(cwd: &Path) -> String {
    cwd.to_str()
        .expect("utf-8")
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                b as char
            } else {
                '-'
            }
        })
        .collect()
}

pub fn claude_user(sid: &str, cwd: &Path, text: &str) -> Value {
    json!({"parentUuid": null, "isSidechain": false, "type": "user",
        "message": {"role": "user", "content": text}, "uuid": "u1",
        "timestamp": iso(now_s()), "userType": "external", "entrypoint": "cli",
        "cwd": cwd, "sessionId": sid, "version": "2.1.330"})
}

pub fn claude_assistant(sid: &str, cwd: &Path, text: &str) -> Value {
    json!({"parentUuid": "u1", "isSidechain": false, "type": "assistant",
        "message": {"role": "assistant", "type": "message",
            "content": [{"type": "text", "text": text}], "stop_reason": "end_turn"},
        "uuid": "a1", "timestamp": iso(now_s()), "cwd": cwd, "sessionId": sid,
        "version": "2.1.330"})
}

/// Tells the stand-in Claude to start conversation `sid`: pidfile first
/// (as Claude does at startup and on `/clear`), then two transcript lines.
pub fn claude_turn(w: &World, id: &str, cwd: &Path, sid: &str, prompt: &str) -> PathBuf {
    let obj = json!({"sessionId": sid, "cwd": cwd, "startedAt": 1795469322196_u64,
        "version": "2.1.330", "kind": "interactive", "entrypoint": "cli", "status": "busy"});
    w.tell(
        id,
        &json!({"pidfile": w.claude_dir().join("sessions"), "obj": obj}),
    );
    let file = w
        .claude_dir()
        .join("projects")
        .join(mangle(cwd))
        .join(format!("{sid}.jsonl"));
    for line in [
        claude_user(sid, cwd, prompt),
        claude_assistant(sid, cwd, "sure"),
    ] {
        w.tell(id, &json!({"append": file, "data": format!("{line}\n")}));
    }
    file
}

#[test]
fn claude_is_attributed_from_its_pidfile() {
    let mut w = World::new();
    w.start_daemon();
    let cwd = w.cwd("my proj.v2");
    let id = w.run(&cwd, &["claude"]);
    let first = claude_turn(
        &w,
        &id,
        &cwd,
        "6ff85bcf-45b0-4dc3-a263-a498dbe73b70",
        "explain the build",
    );
    let r = w.wait_holds(&id, &first, "agent-pidfile");
    assert_eq!(r["kind"], "claude");
    assert_eq!(r["title"], "explain the build");
    assert_eq!(
        r["conversation"]["id"],
        "6ff85bcf-45b0-4dc3-a263-a498dbe73b70"
    );
    assert_eq!(
        r["resume_command"],
        json!(["claude", "--resume", "6ff85bcf-45b0-4dc3-a263-a498dbe73b70"])
    );

    // `/clear`: a new sessionId in the pidfile moves the session.
    let second = claude_turn(
        &w,
        &id,
        &cwd,
        "0b7d2a51-9c1e-4f3a-8e2d-5a6b7c8d9e0f",
        "start over",
    );
    let r = w.wait_holds(&id, &second, "agent-pidfile");
    assert_eq!(r["title"], "start over");
    assert!(!w.log().contains("FALLBACK"), "{}", w.log());
}

pub fn rollout(w: &World, epoch: i64, uuid: &str) -> PathBuf {
    let ts = iso(epoch);
    let (y, m, d) = (&ts[0..4], &ts[5..7], &ts[8..10]);
    let stamp = ts[..19].replace(':', "-");
    w.codex_home()
        .join("sessions")
        .join(y)
        .join(m)
        .join(d)
        .join(format!("rollout-{stamp}-{uuid}.jsonl"))
}

pub fn codex_lines(uuid: &str, cwd: &Path, epoch: i64, prompt: &str) -> String {
    let ts = iso(epoch);
    let lines = [
        json!({"timestamp": ts, "type": "session_meta", "payload": {"id": uuid,
            "timestamp": ts, "cwd": cwd, "originator": "codex-tui", "cli_version": "0.169.0"}}),
        json!({"timestamp": ts, "type": "event_msg", "payload": {"type": "task_started"}}),
        json!({"timestamp": ts, "type": "response_item", "payload": {"type": "message",
            "role": "user", "content": [{"type": "input_text", "text": prompt}]}}),
    ];
    lines.iter().map(|l| format!("{l}\n")).collect()
}

#[test]
fn codex_is_attributed_from_its_open_writer() {
    let mut w = World::new();
    let cwd = w.cwd("cproj");
    let now = now_s();
    // An old rollout from an earlier day, there before the daemon started.
    let old_id = "01a20a50-0000-7000-8000-000000000001";
    let old = rollout(&w, now - 86_400 * 3, old_id);
    daemon::append(
        &old,
        &codex_lines(old_id, &cwd, now - 86_400 * 3, "an old thread"),
    );
    let three_days = std::time::Duration::from_secs(86_400 * 3);
    std::fs::File::options()
        .append(true)
        .open(&old)
        .and_then(|f| f.set_modified(std::time::SystemTime::now() - three_days))
        .expect("age the old rollout");
    w.start_daemon();

    let id = w.run(&cwd, &["codex", "--no-daemon"]);
    w.tell(&id, &json!({"hold_read": old}));
    let new_id = "01a20a54-a807-7981-8f32-fc0fece0e494";
    let new = rollout(&w, now, new_id);
    let data = codex_lines(new_id, &cwd, now, "add a retry to the fetcher");
    w.tell(&id, &json!({"hold_append": new, "data": data}));
    let r = w.wait_holds(&id, &new, "procfd");
    assert_eq!(r["kind"], "codex");
    assert_eq!(r["title"], "add a retry to the fetcher");
    assert_eq!(r["status"]["working"], true);
    assert_eq!(
        r["resume_command"],
        json!(["codex", "--no-daemon", "resume", new_id])
    );

    // `/new`: a second writer opens; both stay open; the newest wins.
    let newer_id = "01a20a55-1111-7222-8333-444455556666";
    let newer = rollout(&w, now + 1, newer_id);
    let data = codex_lines(newer_id, &cwd, now + 1, "a fresh thread");
    w.tell(&id, &json!({"hold_append": newer, "data": data}));
    let r = w.wait_holds(&id, &newer, "procfd");
    assert_eq!(r["title"], "a fresh thread");
    let records = w.ls(false);
    assert!(records.iter().all(|r| !holds(r, &old, "procfd")));
    assert!(!w.log().contains("FALLBACK"), "{}", w.log());
}

/// A Claude started on a conversation (`claude --resume ID`, what `amux
/// resume` runs) holds it from the launch line (`argv`) until its own
/// pidfile names the same conversation: then the source is the pidfile.
#[test]
fn a_resumed_claude_is_confirmed_by_its_pidfile() {
    let mut w = World::new();
    w.start_daemon();
    let cwd = w.cwd("resumed");
    let sid = "0b7e2a44-9a51-4c1e-8d2f-5e3b8c6a1f00";
    let file = w
        .claude_dir()
        .join("projects")
        .join(mangle(&cwd))
        .join(format!("{sid}.jsonl"));
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let lines = [
        claude_user(sid, &cwd, "earlier"),
        claude_assistant(sid, &cwd, "ok"),
    ];
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&file, text).unwrap();
    let id = w.run(&cwd, &["claude", "--resume", sid]);
    w.wait_holds(&id, &file, "argv");
    let obj = json!({"sessionId": sid, "cwd": cwd, "startedAt": 1795469322196_u64,
        "version": "2.1.330", "kind": "interactive", "entrypoint": "cli", "status": "idle"});
    w.tell(
        &id,
        &json!({"pidfile": w.claude_dir().join("sessions"), "obj": obj}),
    );
    let r = w.wait_holds(&id, &file, "agent-pidfile");
    assert_eq!(r["conversation"]["id"], sid, "{r:#}");
}
