//! pi 0.73.1's moments, under node and under bun, against the fake
//! chat-completions server (`support::model`) with a script per turn. One
//! session lives through the turns (prompt, tool, interrupt, errors and
//! retries, commands with no turn, a switch, daemon restarts, quit), then
//! `amux resume` takes its conversation up again and is killed.
//! pi retries once after 500 ms (`settings.json`), its SDK never.

use super::pi_more as more;
use super::rig::{self, Drive, Rig, T};
use crate::support::model::FakeModel;
use crate::support::script::Answer;
use crate::support::{self};
use serde_json::json;
use std::time::{Duration, Instant};

const REPLY: &str = "Quokkas are marsupials indeed.";
const FLAGS: [&str; 4] = ["--provider", "fake", "--model", "fake-model"];

pub(super) fn slow(chunks: usize) -> Answer {
    let text = "Quokkas hop about Rottnest Island and smile for photographs. ".repeat(3);
    Answer::Slow {
        text,
        chunks,
        gap: Duration::from_millis(150),
    }
}

fn bench(agent: &str, launcher: Vec<String>) {
    let mut rig = Rig::new(agent, &[]);
    let model = FakeModel::start(REPLY);
    let pi = rig.w.env.pi_dir();
    std::fs::write(pi.join("models.json"), model.pi_models_json()).expect("models.json");
    let settings = json!({"retry": {"enabled": true, "maxRetries": 1, "baseDelayMs": 500,
        "provider": {"maxRetries": 0}}});
    std::fs::write(pi.join("settings.json"), settings.to_string()).expect("settings.json");
    let mut argv = launcher;
    argv.extend(FLAGS.map(String::from));
    let id = match start(&rig, &argv) {
        Ok(id) => id,
        Err(why) => {
            rig.undriven("fresh session: wait --until idle", "", why);
            return super::finish(agent, &rig.cells);
        }
    };
    let steps: [rig::Step<FakeModel>; 7] = [
        ("turns", turns),
        ("commands", commands),
        ("errors", errors),
        ("daemon restarts", restarts),
        ("compaction", more::compact),
        ("quit", quit),
        ("resume", resume),
    ];
    for (name, step) in steps {
        if let Err(why) = step(&mut rig, &model, &id) {
            rig.undriven(name, &id, why);
        }
    }
    super::finish(agent, &rig.cells);
}

/// Starts pi; the first cell: a fresh pi is idle at once.
fn start(rig: &Rig, argv: &[String]) -> Result<String, String> {
    let id = rig.run(argv)?;
    rig.wait_screen(&id, "fake-model")?;
    Ok(id)
}

/// When the server logs `what` (`sent 3`).
pub(super) fn moment(model: &FakeModel, what: &str) -> Result<Instant, String> {
    let at = model.script().wait(what, T);
    at.ok_or_else(|| format!("the server never logged {what:?}"))
}

fn turns(rig: &mut Rig, model: &FakeModel, id: &str) -> Drive {
    let t = Instant::now();
    rig.wait_idle("fresh session: wait --until idle", id, t);
    let script = model.script();
    script.push(slow(8));
    let t = rig.send(id, "tell me about quokkas", true);
    let said = rig.reach(
        "first prompt: working",
        id,
        "working",
        (t, t),
        &rig::working,
    );
    let sent = moment(model, "sent 1")?;
    let since = said.unwrap_or(t);
    rig.reach(
        "reply done: idle+unread",
        id,
        "idle+unread",
        (since, sent),
        &rig::idle_unread,
    );

    // A tool call: pi runs `sleep 2` at once (it has no permissions).
    let n = script.turns();
    script.push(Answer::Tool {
        name: "bash".into(),
        input: json!({"command": "sleep 2"}),
    });
    let t = rig.send(id, "run the sleep tool", true);
    let called = moment(model, &format!("sent {}", n + 1))?;
    let back = moment(model, &format!("request {}", n + 2))?;
    rig.hold(
        "tool running: working",
        id,
        "working",
        (called, back),
        &rig::working,
    );
    let sent = moment(model, &format!("sent {}", n + 2))?;
    rig.reach(
        "reply after tool: idle+unread",
        id,
        "idle+unread",
        (back, sent),
        &rig::idle_unread,
    );
    let _ = t;

    // Esc while the reply streams.
    let n = script.turns();
    script.push(slow(40));
    rig.send(id, "tell me much more", true);
    moment(model, &format!("first {}", n + 1))?;
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

fn errors(rig: &mut Rig, model: &FakeModel, id: &str) -> Drive {
    let script = model.script();
    // 429 with Retry-After, then the retry succeeds.
    let n = script.turns();
    script.push(Answer::Fail {
        status: 429,
        retry_after: Some(1),
    });
    let t = rig.send(id, "rate limited once", true);
    let refused = moment(model, &format!("sent {}", n + 1))?;
    let retried = moment(model, &format!("request {}", n + 2))?;
    let span = (refused, retried);
    rig.hold(
        "retry back-off (429): working",
        id,
        "working",
        span,
        &rig::working,
    );
    let sent = moment(model, &format!("sent {}", n + 2))?;
    rig.reach(
        "retry success: idle+unread",
        id,
        "idle+unread",
        (retried, sent),
        &rig::idle_unread,
    );
    let _ = t;

    // 500 twice: the one retry fails too.
    let n = script.turns();
    for _ in 0..2 {
        script.push(Answer::Fail {
            status: 500,
            retry_after: None,
        });
    }
    let t = rig.send(id, "fails for good", true);
    let last = moment(model, &format!("sent {}", n + 2))?;
    let said = rig.reach(
        "retry exhausted (500): error",
        id,
        "error",
        (t, last),
        &rig::error,
    );
    // Held: from when it was said until pi has drawn the failure (the
    // moment the extension's and the file's last reports are in).
    let drawn = rig.wait_screen(id, "scripted failure 500")?;
    let from = said.unwrap_or(last);
    rig.hold(
        "error held until next input",
        id,
        "error",
        (from, drawn.max(from)),
        &rig::error,
    );
    // The next input is a command: handled, pi is at its prompt.
    let t = rig.send(id, "/name after-error", true);
    rig.wait_idle("command after an error (/name): wait --until idle", id, t);
    Ok(())
}

fn commands(rig: &mut Rig, _model: &FakeModel, id: &str) -> Drive {
    let t = rig.send(id, "/name accuracy", true);
    rig.wait_idle("command, no turn (/name): wait --until idle", id, t);
    let old = rig.record(id).and_then(|r| rig::file(&r));
    let t = rig.send(id, "/new", true);
    let named = move |r: &serde_json::Value| rig::file(r).is_some() && rig::file(r) != old;
    rig.reach("switch (/new): new file named", id, "named", (t, t), &named);
    rig.wait_idle("switch (/new): wait --until idle", id, t);
    Ok(())
}

fn restarts(rig: &mut Rig, model: &FakeModel, id: &str) -> Drive {
    let script = model.script();
    let n = script.turns();
    script.push(slow(30));
    rig.send(id, "a long answer please", true);
    moment(model, &format!("first {}", n + 1))?;
    let back = rig.restart_daemon();
    rig.first_after(
        "daemon killed while working: working",
        id,
        "working",
        back,
        &rig::working,
    );
    let sent = moment(model, &format!("sent {}", n + 1))?;
    let truth = "idle+unread";
    let Some(_) = rig.reach(
        "reply after restart: idle+unread",
        id,
        truth,
        (back, sent),
        &rig::idle_unread,
    ) else {
        return Err("never idle after the restart".into());
    };
    let back = rig.restart_daemon();
    rig.first_after(
        "daemon killed while unread: idle+unread",
        id,
        truth,
        back,
        &rig::idle_unread,
    );
    Ok(())
}

fn quit(rig: &mut Rig, _model: &FakeModel, id: &str) -> Drive {
    let pid = rig.record(id).and_then(|r| r["pid"].as_i64());
    let t = rig.send(id, "\u{4}", false);
    rig.quit_cell("quit (^D): exited", id, pid, t);
    Ok(())
}

/// `amux resume -d` of the quit session: the same file; then SIGKILL.
fn resume(rig: &mut Rig, model: &FakeModel, id: &str) -> Drive {
    let old = rig
        .record(id)
        .and_then(|r| rig::file(&r).or(r["last_file"].as_str().map(str::to_owned)));
    let old = old.ok_or("the quit session names no file")?;
    let t = Instant::now();
    let o = rig.out(&["resume", "-d", id]);
    if !o.status.success() {
        return Err(format!("amux resume -d: {o:?}"));
    }
    let new = String::from_utf8_lossy(&o.stdout).trim().to_string();
    let same = move |r: &serde_json::Value| rig::file(r).as_deref() == Some(old.as_str());
    rig.reach(
        "amux resume: holds the same file",
        &new,
        "same file",
        (t, t),
        &same,
    );
    rig.wait_screen(&new, "fake-model")?;
    let agent = super::two::Agent {
        ready: "fake-model",
        prompt: |rig, id, text| Ok(rig.send(id, text, true)),
        answer: None,
    };
    let second = super::two::sessions(rig, model.script(), &agent, id, &new);
    let pid = rig
        .record(&new)
        .and_then(|r| r["pid"].as_i64())
        .ok_or("no pid")?;
    let t = Instant::now();
    let pid = rustix::process::Pid::from_raw(pid as i32).ok_or("bad pid")?;
    let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
    rig.reach(
        "crash (SIGKILL): exited",
        &new,
        "exited",
        (t, t),
        &rig::exited,
    );
    second
}

#[test]
#[ignore = "make accuracy"]
fn pi_node() {
    bench("pi-node", vec![support::pi().display().to_string()]);
}

#[test]
#[ignore = "make accuracy"]
fn pi_bun() {
    let launcher = [support::bun(), support::pi_cli_js()];
    bench(
        "pi-bun",
        launcher.iter().map(|p| p.display().to_string()).collect(),
    );
}
