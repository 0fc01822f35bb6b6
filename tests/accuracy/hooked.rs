//! Copilot CLI 1.0.102, Qwen Code 0.24.4 and OpenCode 1.18.33, whose
//! moments amux reads from their hooks or plugin and their files, against
//! the fake chat-completions server (`support::model`). One session lives through
//! the turns (a reply, a daemon restart, an interrupt), the dialogs
//! (approved by `wait --until waiting && send 1`, denied by Esc, held over
//! a daemon restart), an API error and the quit; `amux resume` brings it
//! back on the same file; then it is killed.

use super::clock::{self, Reached};
use super::rig::{self, Drive, Rig, T};
use crate::support;
use crate::support::model::FakeModel;
use crate::support::script::Answer;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const COMMAND: &str = "touch approved.txt";

/// What differs between the two.
struct Agent {
    name: &'static str,
    argv: Vec<String>,
    env: Vec<(&'static str, String)>,
    /// On the screen once the prompt takes input.
    ready: &'static str,
    /// On the screen while the permission dialog is up.
    dialog: &'static str,
    shell_tool: &'static str,
    /// Keys that allow the dialog once, and those that deny it (with the
    /// cell's words for them).
    approve: &'static str,
    deny: (&'static str, &'static [&'static str]),
    /// Keys that interrupt a reply (a typist's gap apart).
    interrupt: &'static [&'static str],
    /// On the screen once more when a denial is through (keys before it
    /// are lost), if the agent needs waiting for.
    denied: Option<&'static str>,
    /// Keys that quit, each after the screen shows the text paired with it.
    quit: &'static [(&'static str, Option<&'static str>)],
}

#[test]
#[ignore = "make accuracy"]
fn copilot() {
    let api = FakeModel::start("All done, nothing more to say.");
    let port = api.port;
    let agent = Agent {
        name: "copilot",
        argv: vec![support::copilot().display().to_string()],
        env: vec![
            (
                "COPILOT_PROVIDER_BASE_URL",
                format!("http://127.0.0.1:{port}/v1"),
            ),
            ("COPILOT_PROVIDER_TYPE", "openai".into()),
            ("COPILOT_PROVIDER_API_KEY", "fake-key".into()),
            ("COPILOT_MODEL", "fake-model".into()),
            ("COPILOT_OFFLINE", "true".into()),
            ("COPILOT_AUTO_UPDATE", "false".into()),
            (
                "COPILOT_PKG_CACHE_HOME",
                support::copilot_pkg_cache().display().to_string(),
            ),
        ],
        ready: "Manual Approval",
        dialog: "Do you want to run this command?",
        shell_tool: "bash",
        approve: "1",
        deny: ("Esc", &["\u{1b}"]),
        interrupt: &["\u{1b}", "\u{1b}"],
        denied: Some("cancelled by user"),
        quit: &[("\u{3}", Some("again")), ("\u{3}", None)],
    };
    let rig = Rig::new(agent.name, &agent.env);
    let home = rig.w.env.root.join("home/.copilot");
    std::fs::create_dir_all(&home).expect("copilot home");
    let config =
        json!({"trustedFolders": [rig.w.env.work()], "firstLaunchAt": "2026-12-06T00:00:00.000Z"});
    std::fs::write(home.join("config.json"), config.to_string()).expect("config.json");
    drive(rig, &api, &agent);
}

#[test]
#[ignore = "make accuracy"]
fn qwen() {
    let api = FakeModel::start("All done, nothing more to say.");
    let port = api.port;
    let agent = Agent {
        name: "qwen",
        argv: [
            support::qwen().display().to_string(),
            "--approval-mode".into(),
            "default".into(),
        ]
        .to_vec(),
        env: vec![
            ("OPENAI_BASE_URL", format!("http://127.0.0.1:{port}/v1")),
            ("OPENAI_API_KEY", "fake-key".into()),
            ("OPENAI_MODEL", "fake-model".into()),
        ],
        ready: "Type your message",
        dialog: "Allow execution of",
        shell_tool: "run_shell_command",
        approve: "1",
        deny: ("Esc", &["\u{1b}"]),
        interrupt: &["\u{1b}"],
        denied: None,
        quit: &[("/quit", Some("/quit")), ("\r", None)],
    };
    let rig = Rig::new(agent.name, &agent.env);
    let home = rig.w.env.root.join("home/.qwen");
    std::fs::create_dir_all(&home).expect("qwen home");
    std::fs::write(home.join("settings.json"), QWEN_SETTINGS).expect("settings.json");
    drive(rig, &api, &agent);
}

#[test]
#[ignore = "make accuracy"]
fn opencode() {
    let api = FakeModel::start("All done, nothing more to say.");
    api.side_calls();
    let config = json!({"autoupdate": false, "share": "disabled",
        "model": "fake/fake-model", "small_model": "fake/fake-model",
        "permission": {"bash": "ask", "edit": "ask"},
        "provider": {"fake": {"npm": "@ai-sdk/openai-compatible", "name": "Fake",
            "options": {"baseURL": format!("http://127.0.0.1:{}/v1", api.port), "apiKey": "fake-key"},
            "models": {"fake-model": {"name": "Fake Model", "tool_call": true,
                "limit": {"context": 100000, "output": 4096}}}}}});
    let agent = Agent {
        name: "opencode",
        argv: vec![support::opencode().display().to_string()],
        env: vec![
            ("OPENCODE_CONFIG_CONTENT", config.to_string()),
            ("OPENCODE_DISABLE_AUTOUPDATE", "1".into()),
            ("OPENCODE_DISABLE_MODELS_FETCH", "1".into()),
            // Its first start's npm install of its plugin SDK fails at once.
            ("npm_config_offline", "true".into()),
        ],
        ready: "Ask anything",
        dialog: "Permission required",
        shell_tool: "bash",
        approve: "\r",
        deny: ("Reject", &["\u{1b}[C", "\u{1b}[C", "\r"]),
        interrupt: &["\u{1b}", "\u{1b}"],
        denied: None,
        quit: &[("\u{3}", None)],
    };
    let rig = Rig::new(agent.name, &agent.env);
    drive(rig, &api, &agent);
}

/// Qwen's own side requests (a suggested next prompt, memory upkeep) would
/// take the scripted answers meant for turns: the user's settings, off.
pub const QWEN_SETTINGS: &str = r#"{"ui":{"enableFollowupSuggestions":false},
    "memory":{"enableManagedAutoMemory":false,"enableManagedAutoDream":false}}"#;

/// All the session's output the runner keeps, as text.
fn output(rig: &Rig, id: &str) -> String {
    let sock = rig.w.env.sock(id);
    crate::support::http::get(&sock, "/scrollback/text?bytes=1073741824").text()
}

/// Waits until `needle` is in the output more often than `before` times.
fn wait_more(rig: &Rig, id: &str, needle: &str, before: usize) -> Result<(), String> {
    let more = || output(rig, id).matches(needle).count() > before;
    if clock::wait_for(more, T) {
        Ok(())
    } else {
        Err(format!("{needle:?} never on the screen again"))
    }
}

fn drive(mut rig: Rig, api: &FakeModel, agent: &Agent) {
    type Step = fn(&mut Rig, &FakeModel, &Agent, &str) -> Drive;
    let steps: [(&str, Step); 4] = [
        ("turns", turns),
        ("dialogs", dialogs),
        ("errors", errors),
        ("quit", quit),
    ];
    match start(&rig, agent) {
        Ok(id) => {
            for (name, step) in steps {
                if let Err(why) = step(&mut rig, api, agent, &id) {
                    rig.undriven(name, &id, why);
                }
            }
            if let Err(why) = resume(&mut rig, &id) {
                rig.undriven("resume", &id, why);
            }
        }
        Err(why) => rig.undriven("start", "", why),
    }
    super::finish(agent.name, &rig.cells);
}

fn start(rig: &Rig, agent: &Agent) -> Result<String, String> {
    let id = rig.run(&agent.argv)?;
    rig.wait_screen(&id, agent.ready)?;
    Ok(id)
}

fn moment(api: &FakeModel, what: &str) -> Result<Instant, String> {
    let at = api.script().wait(what, T);
    at.ok_or_else(|| format!("the server never logged {what:?}"))
}

/// Types `text`, waits until the agent shows it, then Enter: its instant.
fn prompt(rig: &Rig, id: &str, text: &str) -> Result<Instant, String> {
    rig.send(id, text, false);
    rig.wait_screen(id, text)?;
    Ok(rig.send(id, "\r", false))
}

fn slow(chunks: usize) -> Answer {
    let text = "Quokkas hop about Rottnest Island and smile for photographs. ".repeat(3);
    Answer::Slow {
        text,
        chunks,
        gap: Duration::from_millis(150),
    }
}

fn turns(rig: &mut Rig, api: &FakeModel, agent: &Agent, id: &str) -> Drive {
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
    let since = said.unwrap_or(t);
    rig.reach(
        "reply done: idle+unread",
        id,
        "idle+unread",
        (since, sent),
        &rig::idle_unread,
    );
    let back = rig.restart_daemon();
    rig.first_after(
        "daemon killed while unread: idle+unread",
        id,
        "idle+unread",
        back,
        &rig::idle_unread,
    );

    let n = api.script().turns();
    api.script().push(slow(40));
    prompt(rig, id, "tell me much more")?;
    moment(api, &format!("first {}", n + 1))?;
    let mut esc = Instant::now();
    for key in agent.interrupt {
        esc = rig.send(id, key, false);
        std::thread::sleep(Duration::from_millis(300));
    }
    rig.reach(
        "interrupt mid-reply (Esc): idle",
        id,
        "idle",
        (esc, esc),
        &rig::idle,
    );
    Ok(())
}

fn asks(tool: &'static str, text: &'static str) -> impl Fn(&Value) -> bool {
    move |r: &Value| {
        let w = &r["status"]["waiting"];
        rig::waiting("permission")(r) && w["text"] == text && w["tool"] == tool
    }
}

fn shell(agent: &Agent, cmd: &str) -> Answer {
    Answer::Tool {
        name: agent.shell_tool.into(),
        input: json!({"command": cmd, "description": "The test wants it run"}),
    }
}

fn dialogs(rig: &mut Rig, api: &FakeModel, agent: &Agent, id: &str) -> Drive {
    let target = rig.w.env.work().join("approved.txt");
    let n = api.script().turns();
    api.script().push(shell(agent, COMMAND));
    let t = prompt(rig, id, "make the file")?;
    let shown = rig.wait_screen(id, agent.dialog)?;
    let truth = "waiting(permission)";
    let perm = asks(agent.shell_tool, COMMAND);
    rig.reach(
        "permission asked: waiting(permission)",
        id,
        truth,
        (t, shown),
        &perm,
    );
    let o = rig.out(&["wait", id, "--until", "waiting", "--timeout", "30"]);
    if !o.status.success() {
        return Err(format!("wait --until waiting: {o:?}"));
    }
    let key = rig.send(id, agent.approve, false);
    let took = clock::wait_for(|| target.exists() || api.script().turns() > n + 1, T);
    let said = if took { "taken" } else { "lost" };
    let keys = agent.approve.escape_debug();
    let cell = format!("wait --until waiting && send {keys}: dialog takes it");
    rig.cell(&cell, id, "taken", said.into(), None);
    if !took {
        return Err("the dialog never took the key".into());
    }
    rig.reach(
        "approved by key: working",
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

    api.script().push(shell(agent, "touch denied.txt"));
    let t = prompt(rig, id, "make another file")?;
    if !matches!(
        rig.clock
            .reach(id, t, T, &asks(agent.shell_tool, "touch denied.txt")),
        Reached::Said(..)
    ) {
        return Err("never waiting before the denial".into());
    }
    rig.wait_screen(id, agent.dialog)?;
    let denied = agent.denied.unwrap_or_default();
    let before = output(rig, id).matches(denied).count();
    let (how, keys) = agent.deny;
    let k = deny(rig, id, keys);
    let cell = format!("denied by {how}: idle");
    rig.reach(&cell, id, "idle", (k, k), &rig::idle);

    api.script().push(shell(agent, "touch restart.txt"));
    if agent.denied.is_some() {
        wait_more(rig, id, denied, before)?;
    }
    let t = prompt(rig, id, "make a third file")?;
    let perm = asks(agent.shell_tool, "touch restart.txt");
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
    rig.wait_screen(id, agent.dialog)?;
    let before = output(rig, id).matches(denied).count();
    let k = deny(rig, id, agent.deny.1);
    rig.clock.reach(id, k, T, &rig::idle);
    if agent.denied.is_some() {
        wait_more(rig, id, denied, before)?;
    }
    Ok(())
}

/// Sends the keys a typist's gap apart: the last one's instant.
fn deny(rig: &Rig, id: &str, keys: &[&str]) -> Instant {
    let mut at = Instant::now();
    for (i, key) in keys.iter().enumerate() {
        if i > 0 {
            std::thread::sleep(Duration::from_millis(150));
        }
        at = rig.send(id, key, false);
    }
    at
}

fn errors(rig: &mut Rig, api: &FakeModel, _agent: &Agent, id: &str) -> Drive {
    let n = api.script().turns();
    api.script().push(Answer::Fail {
        status: 400,
        retry_after: None,
    });
    let t = prompt(rig, id, "this one fails")?;
    let failed = moment(api, &format!("sent {}", n + 1))?;
    rig.reach(
        "API error (400): error",
        id,
        "error",
        (t, failed),
        &rig::error,
    );
    Ok(())
}

fn quit(rig: &mut Rig, _api: &FakeModel, agent: &Agent, id: &str) -> Drive {
    let pid = rig.record(id).and_then(|r| r["pid"].as_i64());
    let mut t = Instant::now();
    for (key, then) in agent.quit {
        let Some(text) = then else {
            t = rig.send(id, key, false);
            continue;
        };
        // Its answer anew (an older one may be on the screen still); a key
        // taken for nothing (Copilot still drawing) is pressed again, as a
        // user would.
        let mut tries = 0;
        loop {
            let before = output(rig, id).matches(text).count();
            t = rig.send(id, key, false);
            let more = || output(rig, id).matches(text).count() > before;
            if clock::wait_for(more, Duration::from_secs(2)) {
                break;
            }
            tries += 1;
            if tries == 5 {
                return Err(format!("{text:?} never on the screen again"));
            }
        }
    }
    rig.quit_cell("quit: exited", id, pid, t);
    Ok(())
}

/// `amux resume -d` of the quit session: the same file; then SIGKILL.
fn resume(rig: &mut Rig, id: &str) -> Drive {
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
    Ok(())
}
