//! pi's further moments on the session of `pi.rs`: `/compact`, and a
//! second `amux resume` of a conversation another session still holds.

use super::pi::{moment, slow};
use super::rig::{self, Drive, Rig, T};
use crate::support::model::FakeModel;
use serde_json::Value;
use std::time::Instant;

/// `/compact`: pi summarises the conversation in a completion of its own
/// (here a slow one): working until its answer is sent, then idle — not
/// unread, a compaction is no reply to the user.
pub(super) fn compact(rig: &mut Rig, model: &FakeModel, id: &str) -> Drive {
    let n = model.script().turns();
    model.script().push(slow(8));
    let t = rig.send(id, "/compact", true);
    let said = rig.reach(
        "compaction (/compact): working",
        id,
        "working",
        (t, t),
        &rig::working,
    );
    let done = moment(model, &format!("sent {}", n + 1))?;
    if let Some(w) = said.filter(|w| *w < done) {
        rig.hold(
            "compacting: working",
            id,
            "working",
            (w, done),
            &rig::working,
        );
    }
    let rested = |r: &Value| rig::idle(r) && r["unread"] != true;
    rig.reach(
        "compacted: idle, not unread (no reply)",
        id,
        "idle",
        (done, done),
        &rested,
    );
    Ok(())
}

/// `amux resume -d` of the quit session `quit` again while `first` (its
/// first resume) holds its file: two pis on one conversation. Both hold
/// the file; its turns show on the one given the last prompt, the other
/// is idle (amux(1), How amux learns the conversation file). The second
/// is killed here.
pub(super) fn two_sessions(rig: &mut Rig, model: &FakeModel, quit: &str, first: &str) -> Drive {
    let file = rig
        .record(first)
        .and_then(|r| rig::file(&r))
        .ok_or("the first names no file")?;
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
    rig.wait_screen(&second, "fake-model")?;
    rig.hold(
        "two sessions, one file: the older keeps it",
        first,
        "same file",
        (bound, Instant::now()),
        &holds,
    );
    // A prompt to each in turn: working and the reply on that one only.
    for (who, this, other, other_one) in [
        ("newer", second.as_str(), first, "older"),
        ("older", first, second.as_str(), "newer"),
    ] {
        let n = model.script().turns();
        let t = rig.send(this, &format!("hello from the {who}"), true);
        rig.reach(
            &format!("two sessions: the {who}'s prompt: working"),
            this,
            "working",
            (t, t),
            &rig::working,
        );
        let sent = moment(model, &format!("sent {}", n + 1))?;
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
    let pid = rig
        .record(&second)
        .and_then(|r| r["pid"].as_i64())
        .ok_or("no pid")?;
    let pid = rustix::process::Pid::from_raw(pid as i32).ok_or("bad pid")?;
    let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
    rig.clock.reach(&second, Instant::now(), T, &rig::exited);
    Ok(())
}
