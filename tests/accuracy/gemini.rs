//! Gemini CLI 0.61.0's moments against the fake Gemini API
//! (`support::gemini_api`), with its own `GEMINI_CLI_HOME` holding the
//! settings interactive Gemini needs. One session lives through the turns
//! (a slow reply, held over a daemon restart, one interrupted), the
//! dialogs (allowed by `wait --until waiting && send 1`, denied by Esc,
//! held over a daemon restart), a failed request and `/quit`; a second
//! one is killed. Gemini's window title says its state; the waiting it
//! says names no command (its title has none, its file the call only once
//! answered), so the truth here is `waiting(permission)` alone.

use super::clock::{self, Reached};
use super::rig::{self, Drive, Rig, T};
use crate::support::gemini_api::FakeGemini;
use crate::support::script::Answer;
use crate::support::{self};
use std::time::{Duration, Instant};

const COMMAND: &str = "touch approved.txt";
const REPLY: &str = "Done: the file exists.";
const DIALOG: &str = "Allow execution";

fn slow(chunks: usize) -> Answer {
    let text = "Quokkas hop about Rottnest Island and smile for photographs. ".repeat(3);
    Answer::Slow {
        text,
        chunks,
        gap: Duration::from_millis(150),
    }
}

fn shell(command: &str) -> Answer {
    Answer::Tool {
        name: "run_shell_command".into(),
        input: serde_json::json!({"command": command, "description": "make a file"}),
    }
}

#[test]
#[ignore = "make accuracy"]
fn gemini() {
    let api = FakeGemini::start(COMMAND, REPLY);
    let home = std::env::temp_dir().join(format!("amux-acc-gemini-{}", std::process::id()));
    let env: Vec<(&str, String)> = (api.env(&home).into_iter())
        .map(|(k, v)| (leak(k), v))
        .collect();
    let mut rig = Rig::new("gemini", &env);
    std::fs::create_dir_all(home.join(".gemini")).expect("gemini home");
    let settings = home.join(".gemini/settings.json");
    std::fs::write(&settings, FakeGemini::settings_json()).expect("settings.json");
    let argv = vec![support::gemini().display().to_string()];
    let steps: [rig::Step<FakeGemini>; 4] = [
        ("turns", turns),
        ("dialogs", dialogs),
        ("failure", failure),
        ("quit", quit),
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
    let _ = std::fs::remove_dir_all(&home);
    super::finish("gemini", &rig.cells);
}

/// The rig takes `&str` names for the environment.
fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn start(rig: &Rig, argv: &[String]) -> Result<String, String> {
    let id = rig.run(argv)?;
    rig.wait_screen(&id, "Type your message")?;
    Ok(id)
}

fn moment(api: &FakeGemini, what: &str) -> Result<Instant, String> {
    let at = api.script().wait(what, T);
    at.ok_or_else(|| format!("the server never logged {what:?}"))
}

/// Types `text`, waits until Gemini shows it, then Enter a moment later
/// (an Enter hard on the heels of typing is part of a paste to Gemini):
/// its instant.
fn prompt(rig: &Rig, id: &str, text: &str) -> Result<Instant, String> {
    rig.send(id, text, false);
    rig.wait_screen(id, text)?;
    std::thread::sleep(Duration::from_millis(300));
    Ok(rig.send(id, "\r", false))
}

/// When `needle` came on the screen, as late as we can prove it was not
/// there yet: when the last look that did not find it began. Gemini sets its title
/// with the frame that draws its dialog, and dialog and title reach the
/// runner in one read: the look that finds the dialog may come after
/// amux said so, the one before it cannot. The latency is measured from
/// that look (an upper bound by one look and its wait, ~10–20 ms).
fn drawn(rig: &Rig, id: &str, needle: &str) -> Result<Instant, String> {
    let deadline = Instant::now() + T;
    let needle = needle.replace(' ', "");
    let mut before = Instant::now();
    loop {
        let looked = Instant::now();
        if rig.screen(id).replace(' ', "").contains(&needle) {
            return Ok(before);
        }
        before = looked;
        if looked >= deadline {
            return Err(format!("{needle:?} never on the screen"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn turns(rig: &mut Rig, api: &FakeGemini, id: &str) -> Drive {
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

fn dialogs(rig: &mut Rig, api: &FakeGemini, id: &str) -> Drive {
    let target = rig.w.env.work().join("approved.txt");
    let n = api.script().turns();
    api.script().push(shell(COMMAND));
    let mut waiter = rig.amux(&["wait", id, "--until", "waiting", "--timeout", "30"]);
    let mut waiter = waiter
        .stdout(std::process::Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let t = prompt(rig, id, "make the file")?;
    let drawn = drawn(rig, id, DIALOG)?;
    let truth = "waiting(permission)";
    let asks = rig::waiting("permission");
    rig.reach(
        "permission asked: waiting(permission)",
        id,
        truth,
        (t, drawn),
        &asks,
    );
    let _ = support::wait_child(&mut waiter, T);
    let key = rig.send(id, "1", false);
    let took = clock::wait_for(|| target.exists() || api.script().turns() > n + 1, T);
    let said = if took { "taken" } else { "lost" };
    rig.cell(
        "wait --until waiting && send 1: dialog takes it",
        id,
        "taken",
        said.into(),
        None,
    );
    if !took {
        return Err("the dialog never took 1".into());
    }
    rig.reach(
        "allowed by key: working",
        id,
        "working",
        (key, key),
        &rig::working,
    );
    let back = moment(api, &format!("request {}", n + 2))?;
    let sent = moment(api, &format!("sent {}", n + 2))?;
    rig.reach(
        "reply after approval: idle+unread",
        id,
        "idle+unread",
        (back, sent),
        &rig::idle_unread,
    );

    api.script().push(shell("touch denied.txt"));
    let t = prompt(rig, id, "make another file")?;
    if !matches!(rig.clock.reach(id, t, T, &asks), Reached::Said(..)) {
        return Err("never waiting before the denial".into());
    }
    let k = rig.send(id, "\u{1b}", false);
    rig.reach("denied by Esc: idle", id, "idle", (k, k), &rig::idle);

    api.script().push(shell("touch restart.txt"));
    let t = prompt(rig, id, "make a third file")?;
    if !matches!(rig.clock.reach(id, t, T, &asks), Reached::Said(..)) {
        return Err("never waiting before the restart".into());
    }
    let back = rig.restart_daemon();
    rig.first_after(
        "daemon killed while waiting: waiting",
        id,
        truth,
        back,
        &asks,
    );
    let k = rig.send(id, "\u{1b}", false);
    rig.clock.reach(id, k, T, &rig::idle);
    Ok(())
}

fn failure(rig: &mut Rig, api: &FakeGemini, id: &str) -> Drive {
    api.script().push(Answer::Fail {
        status: 400,
        retry_after: None,
    });
    let n = api.script().turns();
    prompt(rig, id, "fail this one")?;
    let sent = moment(api, &format!("sent {}", n + 1))?;
    rig.reach(
        "request failed (HTTP 400): error",
        id,
        "error",
        (sent, sent),
        &rig::error,
    );
    Ok(())
}

fn quit(rig: &mut Rig, _api: &FakeGemini, id: &str) -> Drive {
    rig.send(id, "/quit", false);
    rig.wait_screen(id, "/quit")?;
    std::thread::sleep(Duration::from_millis(300));
    // The first Enter may take the completion, then the second the
    // command; the session may be gone before the second.
    let t = rig.send(id, "\r", false);
    std::thread::sleep(Duration::from_millis(300));
    let _ = rig.out(&["send", id, "\r"]);
    rig.reach("quit (/quit): exited", id, "exited", (t, t), &rig::exited);
    Ok(())
}

fn crash(rig: &mut Rig, id: &str) -> Drive {
    // Gemini's working copy is the agent's child: the group goes.
    let pid = rig
        .record(id)
        .and_then(|r| r["pid"].as_i64())
        .ok_or("no pid")?;
    let t = Instant::now();
    let pid = rustix::process::Pid::from_raw(pid as i32).ok_or("bad pid")?;
    let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    rig.reach(
        "crash (SIGKILL): exited",
        id,
        "exited",
        (t, t),
        &rig::exited,
    );
    Ok(())
}
