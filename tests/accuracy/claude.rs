//! Claude Code 2.1.330's moments against the fake Messages API
//! (`support::anthropic`), `--permission-mode default` so a Bash call
//! opens the permission dialog. One session lives through the turns,
//! dialogs (approved by `wait --until waiting && send 1`, denied by key
//! and by Esc), an interrupt, `/model`'s picker, `/clear`, daemon
//! restarts and quit; `amux resume` then takes its conversation up again
//! and is killed. A key is sent the moment amux says the dialog waits:
//! amux promises `waiting` only once the dialog takes keys.

use super::claude_more as more;
use super::rig::{self, Drive, Rig, T};
use crate::support::anthropic::FakeAnthropic;
use crate::support::script::Answer;
use crate::support::{self};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const REPLY: &str = "The file is there now.";
const DIALOG: &str = "Do you want to proceed?";

fn slow(chunks: usize) -> Answer {
    let text = "Quokkas hop about Rottnest Island and smile for photographs. ".repeat(3);
    Answer::Slow {
        text,
        chunks,
        gap: Duration::from_millis(150),
    }
}

#[test]
#[ignore = "make accuracy"]
fn claude() {
    let api = FakeAnthropic::start(REPLY, Duration::from_millis(1500));
    let key = crate::real_claude::API_KEY.to_string();
    let env = [
        ("ANTHROPIC_BASE_URL", api.base_url()),
        ("ANTHROPIC_API_KEY", key),
        ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1".into()),
        ("DISABLE_AUTOUPDATER", "1".into()),
        ("DISABLE_TELEMETRY", "1".into()),
        ("DISABLE_ERROR_REPORTING", "1".into()),
        // One retry of a failed call (Claude's default is ten, minutes).
        ("CLAUDE_CODE_MAX_RETRIES", "1".into()),
    ];
    let mut rig = Rig::new("claude", &env);
    let cwd = rig.w.env.work().canonicalize().expect("work dir");
    std::fs::create_dir_all(rig.w.claude_dir()).expect("config dir");
    crate::real_claude::seed(&rig.w.claude_dir(), &cwd);
    let argv: Vec<String> = vec![
        support::claude().display().to_string(),
        "--permission-mode".into(),
        "default".into(),
    ];
    let id = match rig
        .run(&argv)
        .and_then(|id| rig.wait_screen(&id, "for shortcuts").map(|_| id))
    {
        Ok(id) => id,
        Err(why) => {
            rig.undriven("fresh session: wait --until idle", "", why);
            return super::finish("claude", &rig.cells);
        }
    };
    let steps: [rig::Step<FakeAnthropic>; 9] = [
        ("turns", turns),
        ("dialogs", dialogs),
        ("errors", more::errors),
        ("question", more::question),
        ("tool interrupt", more::tool_interrupt),
        ("compaction", more::compact),
        ("commands", commands),
        ("quit", quit),
        ("resume", resume),
    ];
    for (name, step) in steps {
        if let Err(why) = step(&mut rig, &api, &id) {
            rig.undriven(name, &id, why);
        }
    }
    super::finish("claude", &rig.cells);
}

pub(super) fn moment(api: &FakeAnthropic, what: &str) -> Result<Instant, String> {
    let at = api.script().wait(what, T);
    at.ok_or_else(|| format!("the server never logged {what:?}"))
}

/// Types `text`, waits until Claude shows it, then Enter in a write of its
/// own (a burst ending in Enter reads as a paste); the Enter's instant.
pub(super) fn prompt(rig: &Rig, id: &str, text: &str) -> Result<Instant, String> {
    rig.send(id, text, false);
    rig.wait_screen(id, text)?;
    // Claude takes an Enter right after the text as part of a paste.
    std::thread::sleep(Duration::from_millis(200));
    Ok(rig.send(id, "", true))
}

fn turns(rig: &mut Rig, api: &FakeAnthropic, id: &str) -> Drive {
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
    let truth = "idle+unread";
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

pub(super) fn asks(text: String) -> impl Fn(&Value) -> bool {
    move |r: &Value| rig::waiting("permission")(r) && r["status"]["waiting"]["text"] == json!(text)
}

fn dialogs(rig: &mut Rig, api: &FakeAnthropic, id: &str) -> Drive {
    let cwd = rig.w.env.work().canonicalize().map_err(|e| e.to_string())?;
    // Approved: `wait --until waiting` started before the prompt, then `1`.
    let target = cwd.join("first.txt");
    let command = format!("sleep 2; touch {}", target.display());
    let n = api.script().turns();
    let input = json!({"command": command, "description": "Wait, then create the file"});
    api.script().push(Answer::Tool {
        name: "Bash".into(),
        input,
    });
    let mut waiter = rig.amux(&["wait", id, "--until", "waiting", "--timeout", "30"]);
    let waiter = waiter
        .stdout(std::process::Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let t = prompt(rig, id, "please make the first file")?;
    let shown = rig.wait_screen(id, DIALOG)?;
    let perm = asks(command.clone());
    rig.reach(
        "permission asked: waiting(permission)",
        id,
        "waiting(permission)",
        (t, shown),
        &perm,
    );
    let mut waiter = waiter;
    let _ = support::wait_child(&mut waiter, T);
    let key = rig.send(id, "1", false);
    let took = super::clock::wait_for(|| target.exists() || api.script().turns() > n + 1, T);
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

    // Denied by key (No), by Esc, and one held over a daemon restart.
    let denials = [
        ("denied by key (No)", None, "key.txt"),
        ("denied by Esc", Some("\u{1b}"), "esc.txt"),
    ];
    for (moment_name, key, name) in denials {
        let target = cwd.join(name);
        let perm = asks(format!("touch {}", target.display()));
        let t = prompt(rig, id, &format!("please touch {}", target.display()))?;
        let said = rig.clock.reach(id, t, T, &perm);
        if !matches!(said, super::clock::Reached::Said(..)) {
            return Err(format!("never waiting before {moment_name}"));
        }
        // The dialog's "No" is the option whose label starts with it.
        let no = key
            .map(str::to_owned)
            .or_else(|| no_option(&rig.screen(id)));
        let k = rig.send(id, &no.ok_or("no \"No\" option on the dialog")?, false);
        rig.reach(
            &format!("{moment_name}: idle"),
            id,
            "idle",
            (k, k),
            &rig::idle,
        );
    }
    let target = cwd.join("restart.txt");
    let perm = asks(format!("touch {}", target.display()));
    let t = prompt(rig, id, &format!("please touch {}", target.display()))?;
    if !matches!(
        rig.clock.reach(id, t, T, &perm),
        super::clock::Reached::Said(..)
    ) {
        return Err("never waiting before the restart".into());
    }
    let back = rig.restart_daemon();
    rig.first_after(
        "daemon killed while waiting: waiting",
        id,
        "waiting(permission)",
        back,
        &perm,
    );
    let k = rig.send(id, "\u{1b}", false);
    rig.clock.reach(id, k, T, &rig::idle);
    Ok(())
}

/// The digit of the dialog's option labelled `N. No…`.
fn no_option(screen: &str) -> Option<String> {
    let at = screen.rfind(". No")?;
    let digit = screen[..at].chars().last().filter(char::is_ascii_digit)?;
    Some(digit.to_string())
}

fn commands(rig: &mut Rig, _api: &FakeAnthropic, id: &str) -> Drive {
    rig.send(id, "/model", false);
    rig.wait_screen(id, "/model")?;
    std::thread::sleep(Duration::from_millis(200));
    let t = rig.send(id, "", true);
    let shown = rig.wait_screen(id, "Select model")?;
    let menu = rig::waiting("menu");
    rig.reach(
        "picker open (/model): waiting(menu)",
        id,
        "waiting(menu)",
        (t, shown),
        &menu,
    );
    let esc = rig.send(id, "\u{1b}", false);
    rig.reach(
        "picker closed (Esc): idle",
        id,
        "idle",
        (esc, esc),
        &rig::idle,
    );

    let old = rig.record(id).and_then(|r| rig::file(&r));
    let t = prompt(rig, id, "/clear")?;
    let named = move |r: &Value| rig::file(r).is_some() && rig::file(r) != old;
    rig.reach(
        "switch (/clear): new file named",
        id,
        "named",
        (t, t),
        &named,
    );
    rig.wait_idle("command, no turn (/clear): wait --until idle", id, t);
    Ok(())
}

fn quit(rig: &mut Rig, _api: &FakeAnthropic, id: &str) -> Drive {
    rig.send(id, "\u{4}", false);
    rig.wait_screen(id, "again to exit")?;
    let pid = rig.record(id).and_then(|r| r["pid"].as_i64());
    let t = rig.send(id, "\u{4}", false);
    rig.quit_cell("quit (^D ^D): exited", id, pid, t);
    Ok(())
}

/// `amux resume -d` of the quit session: the same file, then held by
/// Claude's own report (not argv); then SIGKILL.
fn resume(rig: &mut Rig, api: &FakeAnthropic, id: &str) -> Drive {
    let r = rig.record(id).ok_or("the quit session is gone")?;
    let old = rig::file(&r).or(r["last_file"].as_str().map(str::to_owned));
    let old = old.ok_or("the quit session names no file")?;
    let pidfile = first_new_file(rig.w.claude_dir().join("sessions"));
    let t = Instant::now();
    let o = rig.out(&["resume", "-d", id]);
    if !o.status.success() {
        return Err(format!("amux resume -d: {o:?}"));
    }
    let new = String::from_utf8_lossy(&o.stdout).trim().to_string();
    let file = old.clone();
    let same = move |r: &Value| rig::file(r).as_deref() == Some(file.as_str());
    rig.reach(
        "amux resume: holds the same file",
        &new,
        "same file",
        (t, t),
        &same,
    );
    let mine = move |r: &Value| {
        rig::file(r).as_deref() == Some(old.as_str()) && r["conversation"]["source"] != "argv"
    };
    // True once Claude has said it: its pidfile (seen before its hooks).
    let said = pidfile.join().ok().flatten().unwrap_or(t);
    rig.reach(
        "amux resume: source not argv",
        &new,
        "agent's own",
        (t, said),
        &mine,
    );
    let agent = super::two::Agent {
        ready: "for shortcuts",
        prompt,
        answer: None,
    };
    let second = super::two::sessions(rig, api.script(), &agent, id, &new);
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

/// When a file not in `dir` now first appears there (polled every 2 ms,
/// up to `T`): Claude's pidfile of a session starting.
fn first_new_file(dir: std::path::PathBuf) -> std::thread::JoinHandle<Option<Instant>> {
    let names = |dir: &std::path::Path| -> Vec<std::ffi::OsString> {
        let entries = std::fs::read_dir(dir).into_iter().flatten().flatten();
        entries.map(|e| e.file_name()).collect()
    };
    let before = names(&dir);
    std::thread::spawn(move || {
        let deadline = Instant::now() + T;
        while Instant::now() < deadline {
            if names(&dir).iter().any(|n| !before.contains(n)) {
                return Some(Instant::now());
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        None
    })
}
