//! Two sessions on one conversation: `amux resume -d` of a quit session
//! again while its first resume still holds the file, so two agents of
//! one kind continue one conversation. What amux promises (amux(1), How
//! amux learns the conversation file): both hold the file; its turns
//! (working, unread) show on the one given the last prompt, the other is
//! idle. A prompt to each in turn checks that each one's state is its own.

use super::rig::{self, Drive, Rig, T};
use crate::support::script::{Answer, Script};
use serde_json::Value;
use std::time::Instant;

/// How an agent is driven here: the text its screen shows once it takes
/// input, how a prompt is typed (its Enter's instant), and the answer its
/// server must be given for a plain prompt (None: its default is text).
pub struct Agent<'a> {
    pub ready: &'a str,
    pub prompt: fn(&Rig, &str, &str) -> Result<Instant, String>,
    pub answer: Option<Answer>,
}

/// `first` is the running resume of the quit session `quit`; the second
/// is started here, and killed at the end.
pub fn sessions(rig: &mut Rig, script: &Script, agent: &Agent, quit: &str, first: &str) -> Drive {
    rig.wait_screen(first, agent.ready)?;
    let file = (rig.record(first).and_then(|r| rig::file(&r))).ok_or("the first names no file")?;
    let t = Instant::now();
    let o = rig.out(&["resume", "-d", quit]);
    if !o.status.success() {
        return Err(format!("amux resume -d again: {o:?}"));
    }
    let second = String::from_utf8_lossy(&o.stdout).trim().to_string();
    let f = file.clone();
    let holds = move |r: &Value| r["alive"] == true && rig::file(r).as_deref() == Some(f.as_str());
    let Some(bound) = rig.reach(
        "two sessions, one file: the newer holds it",
        &second,
        "same file",
        (t, t),
        &holds,
    ) else {
        return Err("the second never held the file".into());
    };
    let screen = |e: String| format!("{e}; the newer's screen: {}", rig.screen(&second));
    rig.wait_screen(&second, agent.ready).map_err(screen)?;
    rig.hold(
        "two sessions, one file: the older keeps it",
        first,
        "same file",
        (bound, Instant::now()),
        &holds,
    );
    let turns = [
        ("newer", second.as_str(), first, "older"),
        ("older", first, second.as_str(), "newer"),
    ];
    for (who, this, other, other_one) in turns {
        let n = script.turns();
        if let Some(answer) = &agent.answer {
            script.push(answer.clone());
        }
        let t = (agent.prompt)(rig, this, &format!("hello from the {who}"))?;
        rig.reach(
            &format!("two sessions: the {who}'s prompt: working"),
            this,
            "working",
            (t, t),
            &rig::working,
        );
        let sent = script.wait(&format!("sent {}", n + 1), T);
        let sent = sent.ok_or_else(|| format!("the server never answered the {who}"))?;
        let done = rig.reach(
            &format!("two sessions: the {who}'s reply: idle+unread"),
            this,
            "idle+unread",
            (t, sent),
            &rig::idle_unread,
        );
        rig.hold(
            &format!("two sessions: the {other_one} rests meanwhile"),
            other,
            "idle",
            (t, done.unwrap_or(sent)),
            &rig::idle,
        );
    }
    let pid = (rig.record(&second).and_then(|r| r["pid"].as_i64())).ok_or("no pid")?;
    let pid = rustix::process::Pid::from_raw(pid as i32).ok_or("bad pid")?;
    let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
    rig.clock.reach(&second, Instant::now(), T, &rig::exited);
    Ok(())
}
