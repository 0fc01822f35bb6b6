//! Codex 0.169.0's moments against the fake Responses API
//! (`support::responses`), `-a on-request`, so a call asking for
//! escalation opens the approval dialog. One session lives through the
//! turns, dialogs (approved by `wait --until waiting && send y`, denied
//! by Esc, held over a daemon restart), an interrupt, `/new` and `/quit`;
//! `amux resume` takes it up again; a second one is killed.

use super::clock::{self, Reached};
use super::codex_more as more;
use super::rig::{self, Drive, Rig, T};
use crate::support::responses::FakeResponses;
use crate::support::script::Answer;
use crate::support::{self};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const COMMAND: &str = "touch approved.txt";
const REPLY: &str = "Done: the file exists.";
const DIALOG: &str = "Would you like to run the following command?";

pub(super) fn slow(chunks: usize) -> Answer {
    let text = "Quokkas hop about Rottnest Island and smile for photographs. ".repeat(3);
    Answer::Slow {
        text,
        chunks,
        gap: Duration::from_millis(150),
    }
}

/// An `exec_command` of `cmd` asking to run outside the sandbox.
pub(super) fn escalated(cmd: &str) -> Answer {
    Answer::Tool {
        name: "exec_command".into(),
        input: json!({"cmd": cmd, "sandbox_permissions": "require_escalated",
            "justification": "The test wants it run outside the sandbox"}),
    }
}

#[test]
#[ignore = "make accuracy"]
fn codex() {
    let api = FakeResponses::start(COMMAND, REPLY);
    let mut rig = Rig::new("codex", &[]);
    let cwd = rig.w.env.work();
    std::fs::create_dir_all(rig.w.codex_home()).expect("codex home");
    let toml = api.config_toml(&cwd, "");
    std::fs::write(rig.w.codex_home().join("config.toml"), toml).expect("config.toml");
    let argv: Vec<String> = vec![
        support::codex().display().to_string(),
        "-a".into(),
        "on-request".into(),
        // One retry of a failed request, none of a broken stream (Codex's
        // defaults: four and five, with back-off).
        "-c".into(),
        "model_providers.fake.request_max_retries=1".into(),
        "-c".into(),
        "model_providers.fake.stream_max_retries=0".into(),
    ];
    let steps: [rig::Step<FakeResponses>; 8] = [
        ("turns", turns),
        ("dialogs", dialogs),
        ("errors", more::errors),
        ("tool interrupt", more::tool_interrupt),
        ("compaction", more::compact),
        ("commands", commands),
        ("quit", quit),
        ("resume", resume),
    ];
    match start(&rig, &argv) {
        Ok(id) => {
            for (name, step) in steps {
                if let Err(why) = step(&mut rig, &api, &id) {
                    rig.undriven(name, &id, why);
                }
            }
        }
        Err(why) => rig.undriven("start", "", why),
    }
    if let Err(why) = start(&rig, &argv).and_then(|id| crash(&mut rig, &id)) {
        rig.undriven("crash", "", why);
    }
    super::finish("codex", &rig.cells);
}

fn start(rig: &Rig, argv: &[String]) -> Result<String, String> {
    let id = rig.run(argv)?;
    rig.wait_screen(&id, "gpt-fake")?;
    Ok(id)
}

pub(super) fn moment(api: &FakeResponses, what: &str) -> Result<Instant, String> {
    let at = api.script().wait(what, T);
    at.ok_or_else(|| format!("the server never logged {what:?}"))
}

/// Types `text`, waits until Codex shows it, then Enter: its instant.
pub(super) fn prompt(rig: &Rig, id: &str, text: &str) -> Result<Instant, String> {
    rig.send(id, text, false);
    rig.wait_screen(id, text)?;
    Ok(rig.send(id, "\r", false))
}

fn turns(rig: &mut Rig, api: &FakeResponses, id: &str) -> Drive {
    let t = Instant::now();
    rig.wait_idle("fresh session: wait --until idle", id, t);
    let n = api.script().turns();
    api.script().push(slow(8));
    let t = prompt(rig, id, "hello there")?;
    let said = rig.reach(
        "first prompt: working",
        id,
        "working",
        (t, t),
        &rig::working,
    );
    let sent = moment(api, &format!("sent {}", n + 1))?;
    let truth = "idle+unread";
    let since = said.unwrap_or(t);
    rig.reach(
        "reply done: idle+unread",
        id,
        truth,
        (since, sent),
        &rig::idle_unread,
    );
    let back = rig.restart_daemon();
    rig.first_after(
        "daemon killed while unread: idle+unread",
        id,
        truth,
        back,
        &rig::idle_unread,
    );

    let n = api.script().turns();
    api.script().push(slow(40));
    prompt(rig, id, "tell me much more")?;
    moment(api, &format!("first {}", n + 1))?;
    let esc = rig.send(id, "\u{1b}", false);
    rig.reach(
        "interrupt mid-reply (Esc): idle",
        id,
        "idle",
        (esc, esc),
        &rig::idle,
    );
    Ok(())
}

pub(super) fn asks(text: &'static str) -> impl Fn(&Value) -> bool {
    move |r: &Value| rig::waiting("permission")(r) && r["status"]["waiting"]["text"] == text
}

fn dialogs(rig: &mut Rig, api: &FakeResponses, id: &str) -> Drive {
    let target = rig.w.env.work().join("approved.txt");
    let n = api.script().turns();
    api.script().push(escalated(COMMAND));
    let mut waiter = rig.amux(&["wait", id, "--until", "waiting", "--timeout", "30"]);
    let mut waiter = waiter
        .stdout(std::process::Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let t = prompt(rig, id, "make the file")?;
    let shown = rig.wait_screen(id, DIALOG)?;
    let truth = "waiting(permission)";
    rig.reach(
        "permission asked: waiting(permission)",
        id,
        truth,
        (t, shown),
        &asks(COMMAND),
    );
    let _ = support::wait_child(&mut waiter, T);
    let key = rig.send(id, "y", false);
    let took = clock::wait_for(|| target.exists() || api.script().turns() > n + 1, T);
    let said = if took { "taken" } else { "lost" };
    rig.cell(
        "wait --until waiting && send y: dialog takes it",
        id,
        "taken",
        said.into(),
        None,
    );
    if !took {
        return Err("the dialog never took y".into());
    }
    let working = rig.reach(
        "approved by key: working",
        id,
        "working",
        (key, key),
        &rig::working,
    );
    let back = moment(api, &format!("request {}", n + 2))?;
    if let Some(w) = working {
        rig.hold(
            "tool running: working",
            id,
            "working",
            (w, back),
            &rig::working,
        );
    }
    let sent = moment(api, &format!("sent {}", n + 2))?;
    rig.reach(
        "reply after approval: idle+unread",
        id,
        "idle+unread",
        (back, sent),
        &rig::idle_unread,
    );

    api.script().push(escalated("touch denied.txt"));
    let t = prompt(rig, id, "make another file")?;
    if !matches!(
        rig.clock.reach(id, t, T, &asks("touch denied.txt")),
        Reached::Said(..)
    ) {
        return Err("never waiting before the denial".into());
    }
    let k = rig.send(id, "\u{1b}", false);
    rig.reach("denied by Esc: idle", id, "idle", (k, k), &rig::idle);

    api.script().push(escalated("touch restart.txt"));
    let t = prompt(rig, id, "make a third file")?;
    let perm = asks("touch restart.txt");
    if !matches!(rig.clock.reach(id, t, T, &perm), Reached::Said(..)) {
        return Err("never waiting before the restart".into());
    }
    let back = rig.restart_daemon();
    rig.first_after(
        "daemon killed while waiting: waiting",
        id,
        truth,
        back,
        &perm,
    );
    let k = rig.send(id, "\u{1b}", false);
    rig.clock.reach(id, k, T, &rig::idle);
    Ok(())
}

fn commands(rig: &mut Rig, _api: &FakeResponses, id: &str) -> Drive {
    let old = rig.record(id).and_then(|r| rig::file(&r));
    let t = prompt(rig, id, "/new")?;
    // The wait first: its time is the command's, not the let-go's
    // deadline below.
    rig.wait_idle("command, no turn (/new): wait --until idle", id, t);
    let named = move |r: &Value| rig::file(r) != old;
    rig.reach(
        "switch (/new): old file let go",
        id,
        "let go",
        (t, t),
        &named,
    );
    Ok(())
}

fn quit(rig: &mut Rig, _api: &FakeResponses, id: &str) -> Drive {
    let pid = rig.record(id).and_then(|r| r["pid"].as_i64());
    let t = prompt(rig, id, "/quit")?;
    rig.quit_cell("quit (/quit): exited", id, pid, t);
    Ok(())
}

/// `amux resume -d` of the quit session: the same rollout; then SIGKILL.
fn resume(rig: &mut Rig, _api: &FakeResponses, id: &str) -> Drive {
    let r = rig.record(id).ok_or("the quit session is gone")?;
    let old = rig::file(&r).or(r["last_file"].as_str().map(str::to_owned));
    let old = old.ok_or("the quit session names no file")?;
    let t = Instant::now();
    let o = rig.out(&["resume", "-d", id]);
    if !o.status.success() {
        return Err(format!("amux resume -d: {o:?}"));
    }
    let new = String::from_utf8_lossy(&o.stdout).trim().to_string();
    let same = move |r: &Value| rig::file(r).as_deref() == Some(old.as_str());
    rig.reach(
        "amux resume: holds the same file",
        &new,
        "same file",
        (t, t),
        &same,
    );
    // No second resume (`two.rs`): 0.169.0 started with `codex resume`
    // of a thread another Codex has open drew its startup warning, then
    // nothing for 30 s.
    let pid = rig.record(&new).and_then(|r| r["pid"].as_i64());
    let pid = pid.and_then(|p| rustix::process::Pid::from_raw(p as i32));
    if let Some(pid) = pid {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        rig.clock.reach(&new, Instant::now(), T, &rig::exited);
    }
    Ok(())
}

fn crash(rig: &mut Rig, id: &str) -> Drive {
    let pid = rig
        .record(id)
        .and_then(|r| r["pid"].as_i64())
        .ok_or("no pid")?;
    let t = Instant::now();
    let pid = rustix::process::Pid::from_raw(pid as i32).ok_or("bad pid")?;
    let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
    rig.reach(
        "crash (SIGKILL): exited",
        id,
        "exited",
        (t, t),
        &rig::exited,
    );
    Ok(())
}
