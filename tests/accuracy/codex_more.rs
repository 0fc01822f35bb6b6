//! Codex's further moments on the session of `codex.rs`: a 500 retried
//! (one retry of a request: `request_max_retries=1`), a 429 (which Codex
//! 0.169.0 does not retry: the turn fails), an Esc while an approved
//! command runs, and `/compact`.

use super::clock::{self, Reached};
use super::codex::{asks, escalated, moment, prompt, slow};
use super::rig::{self, Drive, Rig, T};
use crate::support::responses::FakeResponses;
use crate::support::script::Answer;
use serde_json::Value;
use std::time::{Duration, Instant};

fn wait_said(rig: &Rig, id: &str, t: Instant, pred: &dyn Fn(&Value) -> bool) -> Option<Instant> {
    match rig.clock.reach(id, t, T, pred) {
        Reached::Said(when, _) => Some(when),
        Reached::Not(_) => None,
    }
}

pub(super) fn errors(rig: &mut Rig, api: &FakeResponses, id: &str) -> Drive {
    // A 500, then an answer: Codex waits, asks again, and is answered.
    let n = api.script().turns();
    api.script().push(Answer::Fail {
        status: 500,
        retry_after: None,
    });
    api.script().push(slow(4));
    let t = prompt(rig, id, "fails once")?;
    let refused = moment(api, &format!("sent {}", n + 1))?;
    let retried = moment(api, &format!("request {}", n + 2));
    let retried = retried.inspect_err(|_| api.script().clear())?;
    let from = wait_said(rig, id, t, &rig::working).ok_or("never working after the prompt")?;
    rig.hold(
        "retry back-off (500): working",
        id,
        "working",
        (refused.max(from), retried),
        &rig::working,
    );
    let sent = moment(api, &format!("sent {}", n + 2))?;
    rig.reach(
        "retry success: idle+unread",
        id,
        "idle+unread",
        (retried, sent),
        &rig::idle_unread,
    );

    // A 429: Codex does not ask again ("exceeded retry limit, last
    // status: 429"), the turn fails.
    let n = api.script().turns();
    api.script().push(Answer::Fail {
        status: 429,
        retry_after: Some(1),
    });
    let t = prompt(rig, id, "rate limited")?;
    let last = moment(api, &format!("sent {}", n + 1))?;
    let said = rig.reach(
        "rate limited (429, no retry): error",
        id,
        "error",
        (t, last),
        &rig::error,
    );
    // Held from when it was said until the next input, once Codex has
    // drawn the failure (and its rollout had its say): a window of 300 ms.
    rig.wait_screen(id, "last status: 429")?;
    let from = said.unwrap_or(last);
    std::thread::sleep(Duration::from_millis(300));
    rig.hold(
        "error held until next input",
        id,
        "error",
        (from, Instant::now().max(from)),
        &rig::error,
    );
    let n = api.script().turns();
    api.script().push(slow(4));
    let t = prompt(rig, id, "and now?")?;
    rig.reach(
        "next prompt after an error: working",
        id,
        "working",
        (t, t),
        &rig::working,
    );
    let sent = moment(api, &format!("sent {}", n + 1))?;
    rig.clock.reach(id, sent, T, &rig::idle_unread);
    Ok(())
}

/// A long `sleep` approved, then Esc while it runs.
pub(super) fn tool_interrupt(rig: &mut Rig, api: &FakeResponses, id: &str) -> Drive {
    const COMMAND: &str = "sleep 37";
    api.script().push(escalated(COMMAND));
    let t = prompt(rig, id, "please wait a long time")?;
    if wait_said(rig, id, t, &asks(COMMAND)).is_none() {
        return Err("never waiting before the long command".into());
    }
    // amux says `waiting` once the dialog takes keys.
    rig.send(id, "y", false);
    if !clock::wait_for(|| rig::running(&["sleep", "37"]), T) {
        return Err("the approved sleep never ran".into());
    }
    let esc = rig.send(id, "\u{1b}", false);
    rig.reach(
        "interrupt during a tool (Esc): idle",
        id,
        "idle",
        (esc, esc),
        &rig::idle,
    );
    Ok(())
}

/// `/compact`: Codex summarises the conversation in a request of its own
/// (here a slow one): working until its answer is sent, then idle — not
/// unread, a compaction is no reply to the user.
pub(super) fn compact(rig: &mut Rig, api: &FakeResponses, id: &str) -> Drive {
    let n = api.script().turns();
    api.script().push(slow(8));
    let t = prompt(rig, id, "/compact")?;
    let said = rig.reach(
        "compaction (/compact): working",
        id,
        "working",
        (t, t),
        &rig::working,
    );
    let done = moment(api, &format!("sent {}", n + 1))?;
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
