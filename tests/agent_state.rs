//! The agent state (amux(1), STATE) from the agents' own reports, with the
//! stand-in programs of `daemon_sources`: Claude's pidfile `status`
//! (waiting while a permission dialog is open), and `wait --until
//! waiting`.

use crate::daemon_sources::{claude_assistant, claude_user, mangle};
use crate::support::daemon::{iso, now_s, World, T};
use crate::support::{self, output_within};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub const SID: &str = "5a0c1d2e-3f40-4152-8364-758697a8b9c0";

/// The stand-in writes its pidfile with `status`.
pub fn pidfile(w: &World, id: &str, cwd: &Path, status: &str) {
    w.tell(id, &pidfile_cmd(w, cwd, status));
}

pub fn pidfile_cmd(w: &World, cwd: &Path, status: &str) -> Value {
    let obj = json!({"sessionId": SID, "cwd": cwd, "startedAt": 1795469322196_u64,
        "version": "2.1.330", "kind": "interactive", "entrypoint": "cli",
        "status": status, "statusUpdatedAt": now_s() * 1000});
    json!({"pidfile": w.claude_dir().join("sessions"), "obj": obj})
}

/// Several stand-in commands in one input: run back to back.
fn tell_all(w: &World, id: &str, cmds: &[Value]) {
    let lines: String = cmds.iter().map(|c| format!("{c}\n")).collect();
    let resp = support::http::post(&w.env.sock(id), "/input", lines.as_bytes());
    assert!(resp.status < 300, "input to {id}: {}", resp.text());
}

pub fn transcript(w: &World, cwd: &Path) -> PathBuf {
    w.claude_dir()
        .join("projects")
        .join(mangle(cwd))
        .join(format!("{SID}.jsonl"))
}

pub fn append(w: &World, id: &str, file: &Path, line: &Value) {
    w.tell(id, &append_cmd(file, line));
}

fn append_cmd(file: &Path, line: &Value) -> Value {
    json!({"append": file, "data": format!("{line}\n")})
}

pub fn tool_use(cwd: &Path, command: &str) -> Value {
    json!({"parentUuid": "u1", "isSidechain": false, "type": "assistant",
        "message": {"role": "assistant", "type": "message", "stop_reason": "tool_use",
            "content": [{"type": "tool_use", "id": "t1", "name": "Bash",
                "input": {"command": command, "description": "make a file"}}]},
        "uuid": "a0", "timestamp": iso(now_s()), "cwd": cwd, "sessionId": SID})
}

/// Polls until `pred` holds of the record; how long it took.
fn until(w: &World, id: &str, what: &str, pred: impl Fn(&Value) -> bool) -> (Value, Duration) {
    let start = Instant::now();
    let r = w.wait_record(id, what, pred);
    (r, start.elapsed())
}

#[test]
fn claude_permission_prompt_is_waiting_then_working_then_idle() {
    let mut w = World::new();
    w.start_daemon();
    let cwd = w.cwd("perm");
    let id = w.run(&cwd, &["claude"]);
    let file = transcript(&w, &cwd);
    pidfile(&w, &id, &cwd, "busy");
    append(&w, &id, &file, &claude_user(SID, &cwd, "make a file"));
    append(&w, &id, &file, &tool_use(&cwd, "touch /tmp/x"));
    w.wait_holds(&id, &file, "agent-pidfile");

    // The dialog opens: Claude writes nothing to its transcript, only
    // `status: waiting` to its pidfile.
    pidfile(&w, &id, &cwd, "waiting");
    let (r, took) = until(&w, &id, "waiting", |r| r["status"]["state"] == "waiting");
    println!("pidfile waiting -> record waiting in {took:?}");
    assert_eq!(r["status"]["working"], false, "{r:#}");
    assert_eq!(r["status"]["source"], "agent-pidfile");
    let asked = &r["status"]["waiting"];
    assert_eq!(
        (&asked["kind"], &asked["tool"], &asked["text"]),
        (&json!("permission"), &json!("Bash"), &json!("touch /tmp/x")),
        "{r:#}"
    );
    assert!(asked["since"].as_str().is_some_and(|s| s.ends_with('Z')));
    let o = w.amux(["wait", &id, "--until", "waiting", "--json"]);
    let o = output_within(o, T);
    assert!(o.status.success(), "wait --until waiting: {o:?}");
    let printed: Value = serde_json::from_slice(&o.stdout).expect("record JSON");
    assert_eq!(printed["status"]["waiting"]["text"], "touch /tmp/x");
    let ls = output_within(w.amux(["ls"]), T);
    assert!(
        String::from_utf8_lossy(&ls.stdout).contains("waiting"),
        "{ls:?}"
    );

    // Answered: busy again, then the reply and idle.
    pidfile(&w, &id, &cwd, "busy");
    until(&w, &id, "working", |r| r["status"]["state"] == "working");
    append(&w, &id, &file, &claude_assistant(SID, &cwd, "done"));
    pidfile(&w, &id, &cwd, "idle");
    let (r, _) = until(&w, &id, "idle", |r| r["status"]["state"] == "idle");
    assert_eq!(r["unread"], true, "{r:#}");
    assert!(r["status"]["waiting"].is_null());
}

#[test]
fn wait_until_waiting_times_out_and_sees_the_end() {
    let mut w = World::new();
    w.start_daemon();
    let cwd = w.cwd("end");
    let id = w.run(&cwd, &["claude"]);
    pidfile(&w, &id, &cwd, "busy");
    let o = output_within(
        w.amux(["wait", &id, "--until", "waiting", "--timeout", "0.5"]),
        T,
    );
    assert_eq!(o.status.code(), Some(124), "{o:?}");
    let waiter = w.amux(["wait", &id, "--until", "waiting"]);
    let before = w.connections();
    let waiter = std::thread::spawn(move || output_within(waiter, T));
    // The waiter has reached the daemon before the agent exits (it would
    // see the end from the dead record too, but this is the live path).
    w.wait_connections(before, 1);
    w.tell(&id, &json!({"exit": 0}));
    let o = waiter.join().expect("waiter");
    assert_eq!(o.status.code(), Some(3), "{o:?}");
}

#[test]
fn an_unknown_pidfile_status_is_tolerated_and_logged_once() {
    let mut w = World::new();
    w.start_daemon();
    let cwd = w.cwd("odd");
    let id = w.run(&cwd, &["claude"]);
    let file = transcript(&w, &cwd);
    pidfile(&w, &id, &cwd, "pondering");
    append(&w, &id, &file, &claude_user(SID, &cwd, "think"));
    let r = w.wait_holds(&id, &file, "agent-pidfile");
    pidfile(&w, &id, &cwd, "pondering");
    append(&w, &id, &file, &claude_assistant(SID, &cwd, "thought"));
    let (r2, _) = until(&w, &id, "idle from the file", |r| r["unread"] == true);
    assert_eq!(r2["status"]["source"], "file", "{r:#}");
    let log = w.log();
    assert_eq!(
        log.matches("unknown Claude status \"pondering\"").count(),
        1,
        "{log}"
    );
}

const ASK: &str = "\u{1b}]9;Approval requested: touch /tmp/y\u{7}";

/// Codex started by amux gets our notification overrides, and its
/// "Approval requested" OSC 9 makes the session waiting.
#[test]
fn codex_approval_osc9_is_waiting_and_never_reaches_the_terminal() {
    let mut w = World::new();
    w.start_daemon();
    let cwd = w.cwd("cx");
    let events = w.events();
    let id = w.run(&cwd, &["codex"]);
    let meta = crate::support::http::meta(&w.env.sock(&id));
    assert!(
        !meta["command"].to_string().contains("tui.notification"),
        "the user's command stays theirs: {meta}"
    );
    w.tell(&id, &json!({"say": format!("asking{ASK}")}));
    let (r, took) = until(&w, &id, "waiting", |r| r["status"]["state"] == "waiting");
    println!("OSC 9 -> record waiting in {took:?}");
    assert_eq!(r["status"]["source"], "osc9", "{r:#}");
    assert_eq!(r["status"]["waiting"]["text"], "touch /tmp/y", "{r:#}");
    events.wait_for("a notification line", |l| {
        l["type"] == "notification" && l["id"] == id.as_str()
    });

    // What the terminal got: run in the foreground, stdout captured.
    let say = json!({"say": format!("before{ASK}after")}).to_string();
    let o = output_within(w.amux(["run", "--", "codex", &say, r#"{"exit": 0}"#]), T);
    let shown = String::from_utf8_lossy(&o.stdout);
    assert!(shown.contains("beforeafter"), "{shown:?}");
    assert!(
        !shown.contains("\u{1b}]9;"),
        "our OSC 9 reached the terminal: {shown:?}"
    );
}

/// A user who configured Codex's notifications keeps them: nothing is
/// injected and their OSC 9 passes through.
#[test]
fn a_user_configured_osc9_passes_through() {
    let w = World::new();
    std::fs::create_dir_all(w.codex_home()).expect("codex home");
    std::fs::write(
        w.codex_home().join("config.toml"),
        "[tui]\nnotifications = true\n",
    )
    .expect("config.toml");
    let say = json!({"say": format!("before{ASK}after")}).to_string();
    let o = output_within(w.amux(["run", "--", "codex", &say, r#"{"exit": 0}"#]), T);
    let shown = String::from_utf8_lossy(&o.stdout);
    assert!(shown.contains(ASK), "their OSC 9 was cut: {shown:?}");
}

/// A resumed conversation whose agent was killed mid-turn (its file ends
/// with a prompt no reply answered) is not working now, and its old
/// reply is not unread: both happened before this session.
#[test]
fn a_resumed_conversation_is_history_not_news() {
    use crate::support::daemon::{pi_file, pi_lines};
    let mut w = World::new();
    w.start_daemon();
    let cwd = w.cwd("hist");
    let then = now_s() - 600;
    let file = pi_file(&w.pi_dir_for(&cwd), "0000-hist", then);
    let mut data = pi_lines("0000-hist", &cwd, then, "first question", "first answer");
    data.push_str(&format!(
        "{}\n",
        json!({"type": "message", "id": "m3", "timestamp": iso(then),
            "message": {"role": "user", "content": [{"type": "text", "text": "killed here"}]}})
    ));
    crate::support::daemon::append(&file, &data);
    let id = w.run(&cwd, &["pi", "--session", file.to_str().unwrap()]);
    let r = w.wait_holds(&id, &file, "argv");
    assert_eq!(
        (&r["status"]["state"], &r["unread"], &r["turn_done"]),
        (&json!("idle"), &json!(false), &json!(true)),
        "{r:#}"
    );
    let o = output_within(
        w.amux(["wait", &id, "--until", "idle", "--timeout", "5"]),
        T,
    );
    assert!(o.status.success(), "{o:?}");
}

/// Claude's question tool opens the same `waiting` dialog: it asks.
#[test]
fn claude_question_is_waiting_for_an_answer() {
    let mut w = World::new();
    w.start_daemon();
    let cwd = w.cwd("q");
    let id = w.run(&cwd, &["claude"]);
    let file = transcript(&w, &cwd);
    pidfile(&w, &id, &cwd, "busy");
    append(&w, &id, &file, &claude_user(SID, &cwd, "help me choose"));
    let ask = json!({"parentUuid": "u1", "isSidechain": false, "type": "assistant",
        "message": {"role": "assistant", "type": "message", "stop_reason": "tool_use",
            "content": [{"type": "tool_use", "id": "t2", "name": "AskUserQuestion",
                "input": {"questions": [{"question": "Which database?", "options": []}]}}]},
        "uuid": "a2", "timestamp": iso(now_s()), "cwd": cwd, "sessionId": SID});
    append(&w, &id, &file, &ask);
    w.wait_holds(&id, &file, "agent-pidfile");
    pidfile(&w, &id, &cwd, "waiting");
    let (r, _) = until(&w, &id, "waiting", |r| r["status"]["state"] == "waiting");
    let asked = &r["status"]["waiting"];
    assert_eq!(
        (&asked["kind"], &asked["text"]),
        (&json!("question"), &json!("Which database?")),
        "{r:#}"
    );
}

fn tool_result(cwd: &Path) -> Value {
    json!({"parentUuid": "a0", "isSidechain": false, "type": "user",
        "message": {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1",
            "content": "(Bash completed with no output)"}]},
        "uuid": "r0", "timestamp": iso(now_s()), "cwd": cwd, "sessionId": SID})
}

/// Claude says `waiting` in its pidfile before it writes the call it asks
/// about (the real 2.1.330 by ~15 ms): the record stays working until the
/// call is read, so no `waiting` record lacks its question, and a call
/// whose result is in the file is not taken for it. With no call at all,
/// `waiting` shows by itself after the grace (400 ms). Either way not
/// before the dialog takes keys (700 ms, the adapter's `Grace`).
#[test]
fn claude_waiting_before_its_call_waits_for_the_question() {
    let mut w = World::new();
    w.start_daemon();
    let cwd = w.cwd("late");
    let id = w.run(&cwd, &["claude"]);
    let file = transcript(&w, &cwd);
    let events = w.events();
    pidfile(&w, &id, &cwd, "busy");
    append(&w, &id, &file, &claude_user(SID, &cwd, "make two files"));
    append(&w, &id, &file, &tool_use(&cwd, "touch /tmp/one"));
    w.wait_holds(&id, &file, "agent-pidfile");
    append(&w, &id, &file, &tool_result(&cwd));
    // Nothing in the record shows the result was read: explain's count of
    // lines read does.
    w.wait_lines(&id, 3);

    // `waiting`, then the call, written back to back by the stand-in (one
    // input): the daemon must hold the report until the line is read.
    // A held report shows in no record, so what proves it was held is
    // that no `waiting` record lacks its question (the events below) and
    // that the line, not the grace timer, let it show. Written together,
    // they stay well inside the 400 ms grace on a loaded machine.
    tell_all(
        &w,
        &id,
        &[
            pidfile_cmd(&w, &cwd, "waiting"),
            append_cmd(&file, &tool_use(&cwd, "touch /tmp/two")),
        ],
    );
    let (r, _) = until(&w, &id, "waiting", |r| r["status"]["state"] == "waiting");
    assert_eq!(r["status"]["waiting"]["text"], "touch /tmp/two", "{r:#}");
    // Shown once its dialog takes keys (Claude's grace, longer than the
    // question's): by the timer, with the question the line named.
    let e = w.explain(&id);
    let change = support::change_to(&e, "waiting").expect("a change to waiting");
    assert_eq!(change["signal"], "timer", "{e:#}");
    assert!(
        change["said"]
            .as_str()
            .unwrap_or("")
            .contains("dialog takes keys"),
        "{e:#}"
    );
    let asked: Vec<Value> = (events.records(&id).into_iter())
        .filter(|r| r["status"]["state"] == "waiting")
        .map(|r| r["status"]["waiting"]["text"].clone())
        .collect();
    assert!(
        asked.iter().all(|t| t == "touch /tmp/two"),
        "a waiting record without its question: {asked:?}"
    );

    // Answered, then a dialog no call in the file explains.
    pidfile(&w, &id, &cwd, "busy");
    until(&w, &id, "working", |r| r["status"]["state"] == "working");
    append(&w, &id, &file, &tool_result(&cwd));
    w.wait_lines(&id, 5);
    pidfile(&w, &id, &cwd, "waiting");
    let (r, took) = until(&w, &id, "waiting", |r| r["status"]["state"] == "waiting");
    println!("a question-less waiting showed after {took:?}");
    assert!(r["status"]["waiting"]["text"].is_null(), "{r:#}");
    // Nothing asked of a tool: a picker or menu of Claude's own.
    assert_eq!(r["status"]["waiting"]["kind"], "menu", "{r:#}");
    // By itself: the grace timer showed it (how soon is `make bench`'s
    // business; `until`'s deadline bounds it here).
    let e = w.explain(&id);
    let change = support::change_to(&e, "waiting").expect("a change to waiting");
    assert_eq!(change["signal"], "timer", "{e:#}");
}

/// `/clear` in Claude: the user's Enter, then Claude rewrites its pidfile
/// with a new `sessionId`, still `status: idle` but `updatedAt` now. That
/// answers the Enter: idle at once, not working until the terminal has
/// been quiet a while.
#[test]
fn claude_clear_is_idle_at_once() {
    let mut w = World::new();
    w.start_daemon();
    let cwd = w.cwd("clear");
    let id = w.run(&cwd, &["claude"]);
    let file = transcript(&w, &cwd);
    pidfile(&w, &id, &cwd, "idle");
    append(&w, &id, &file, &claude_user(SID, &cwd, "hello"));
    append(&w, &id, &file, &claude_assistant(SID, &cwd, "hi there"));
    w.wait_holds(&id, &file, "agent-pidfile");
    until(&w, &id, "idle", |r| r["status"]["state"] == "idle");

    let fresh = "6b1d2e3f-4051-4263-9475-8697a8b9c0d1";
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis();
    // Written after the Enter that carries it (the stand-in runs it once
    // the line is in): as Claude rewrites its pidfile after `/clear`.
    let obj = json!({"sessionId": fresh, "cwd": cwd, "startedAt": 1795469322196_u64,
        "version": "2.1.330", "kind": "interactive", "entrypoint": "cli",
        "status": "idle", "statusUpdatedAt": 1795469322196_u64, "updatedAt": now_ms + 200});
    let line = json!({"sleep_then_pidfile": w.claude_dir().join("sessions"), "obj": obj});
    let o = output_within(w.amux(["send", &id, &line.to_string(), "--enter"]), T);
    assert!(o.status.success(), "send: {o:?}");
    let (r, took) = until(&w, &id, "on the new conversation", |r| {
        (r["conversation"]["file"].as_str()).is_some_and(|f| f.ends_with(&format!("{fresh}.jsonl")))
    });
    let (r, idle_took) = if r["status"]["state"] == "idle" {
        (r, took)
    } else {
        until(&w, &id, "idle", |r| r["status"]["state"] == "idle")
    };
    println!("/clear -> new conversation in {took:?}, idle in {idle_took:?}");
    assert_eq!(r["title"], "(new)", "{r:#}");
    // "At once" is the pidfile's doing, not the 3 s quiet timer's: the
    // cause says so on any machine (the latency is `make bench`'s).
    let e = w.explain(&id);
    let change = support::change_to(&e, "idle").expect("a change to idle");
    assert_ne!(change["signal"], "timer", "idle by the quiet rule: {e:#}");
    // And the Enter is answered: `wait --until idle` returns, though the
    // new conversation has no turn yet.
    assert_eq!(e["session"]["turn_done"], true, "{e:#}");
}
