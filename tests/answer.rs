//! `amux answer` against the stand-in playing Claude (its pidfile's
//! `waiting`, as in `agent_state`): the keys reach the agent only when the
//! record waits on a permission, and are the adapter's; every refusal is
//! exit 1, one line, nothing typed. The stand-in prints each line typed
//! at it that is no command (`typed: '…'`), so its screen shows exactly
//! what reached it. The real agents are answered in `real_claude` and
//! `real_codex`.

use crate::agent_state::{append, pidfile, pidfile_cmd, tool_use, transcript, SID};
use crate::daemon_sources::claude_user;
use crate::support::daemon::{iso, now_s, World, T};
use crate::support::{http, output_within, wait_child};
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Output, Stdio};

fn answer(w: &World, args: &[&str]) -> Output {
    let mut cmd = w.amux(["answer"]);
    cmd.args(args).stderr(Stdio::piped());
    output_within(cmd, T)
}

/// A refusal: exit 1 and one line on stderr saying `why`.
fn refused(o: &Output, why: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(why), "{err}");
}

/// Types raw bytes at the stand-in, past the daemon.
fn type_raw(w: &World, id: &str, bytes: &str) {
    let resp = http::post(&w.env.sock(id), "/input", bytes.as_bytes());
    assert!(resp.status < 300, "input to {id}: {}", resp.text());
}

/// Ends the line the keys typed so far make, and waits for the stand-in
/// to print it.
fn wait_typed(w: &World, id: &str, keys: &str) {
    type_raw(w, id, "\n");
    w.wait_screen(id, &format!("typed: {keys}"));
}

/// Nothing was typed since the last line: a command sent now is read as
/// one (keys before it would have made its line no JSON).
fn nothing_typed(w: &World, id: &str, mark: &str) {
    w.tell(id, &json!({"say": mark}));
    w.wait_screen(id, mark);
    assert!(!w.screen(id).contains("typed:"), "{}", w.screen(id));
}

/// The stand-in's Claude asks for `command`, or asks `question`.
pub fn asks(w: &World, id: &str, cwd: &Path, call: &Value) {
    let file = transcript(w, cwd);
    pidfile(w, id, cwd, "busy");
    append(w, id, &file, &claude_user(SID, cwd, "go on"));
    append(w, id, &file, call);
    w.wait_holds(id, &file, "agent-pidfile");
    pidfile(w, id, cwd, "waiting");
    w.wait_record(id, "waiting", |r| r["status"]["state"] == "waiting");
}

#[test]
fn a_permission_is_answered_with_the_agents_keys_and_nothing_else_is() {
    let mut w = World::new();
    w.start_daemon();
    let cwd = w.cwd("answer");
    let id = w.run(&cwd, &["claude"]);
    w.wait_screen(&id, "stand-in ready");

    // Not waiting: refused, nothing typed. A word that is no answer is a
    // usage error.
    refused(&answer(&w, &[&id, "yes"]), "is not waiting");
    nothing_typed(&w, &id, "clean-1");
    assert_eq!(answer(&w, &[&id, "maybe"]).status.code(), Some(2));

    // A permission: `yes --json` types Claude's `1`, and prints the record
    // once the dialog is gone (the stand-in says busy, as Claude does).
    asks(&w, &id, &cwd, &tool_use(&cwd, "touch /tmp/x"));
    let mut cmd = w.amux(["answer", &id, "yes", "--json"]);
    let mut child = cmd.stdout(Stdio::piped()).spawn().expect("amux answer");
    // Once the key is there (each empty line pushes what was typed out):
    // Claude takes it and says so.
    crate::support::wait_until(
        T,
        || {
            type_raw(&w, &id, "\n");
            w.screen(&id).contains("typed: '1'")
        },
        "the answer's key at the agent",
    );
    w.tell(&id, &pidfile_cmd(&w, &cwd, "busy"));
    assert!(wait_child(&mut child, T).success());
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
    let r: Value = serde_json::from_str(&out).expect("--json prints the record");
    assert_eq!(r["status"]["state"], "working", "{r:#}");

    // `no` is Esc.
    asks(&w, &id, &cwd, &tool_use(&cwd, "touch /tmp/y"));
    assert!(answer(&w, &[&id, "no"]).status.success());
    wait_typed(&w, &id, "'\\x1b'");

    // A question needs text: refused, nothing typed.
    let question = json!({"parentUuid": "u1", "isSidechain": false, "type": "assistant",
        "message": {"role": "assistant", "type": "message", "stop_reason": "tool_use",
            "content": [{"type": "tool_use", "id": "t2", "name": "AskUserQuestion",
                "input": {"questions": [{"question": "Which one?", "options": []}]}}]},
        "uuid": "a2", "timestamp": iso(now_s()), "cwd": cwd, "sessionId": SID});
    asks(&w, &id, &cwd, &question);
    let before = w.screen(&id).matches("typed:").count();
    refused(&answer(&w, &[&id, "always"]), "waits for a question");
    w.tell(&id, &json!({"say": "clean-2"}));
    w.wait_screen(&id, "clean-2");
    assert_eq!(w.screen(&id).matches("typed:").count(), before);
}
