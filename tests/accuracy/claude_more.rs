//! Claude Code's further moments on the session of `claude.rs`: an API
//! error and a rate limit (Claude retries once: `CLAUDE_CODE_MAX_RETRIES`),
//! a question (`AskUserQuestion`) asked and answered, an Esc while an
//! approved tool runs, and `/compact`.

use super::claude::{asks, moment, prompt};
use super::clock::{self, Reached};
use super::rig::{self, Drive, Rig, T};
use crate::support::anthropic::FakeAnthropic;
use crate::support::script::Answer;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// The last record said before `t` says `pred`: the cell's start.
fn wait_said(rig: &Rig, id: &str, t: Instant, pred: &dyn Fn(&Value) -> bool) -> Option<Instant> {
    match rig.clock.reach(id, t, T, pred) {
        Reached::Said(when, _) => Some(when),
        Reached::Not(_) => None,
    }
}

pub(super) fn errors(rig: &mut Rig, api: &FakeAnthropic, id: &str) -> Drive {
    // 429 with Retry-After: Claude waits, asks again, and is answered.
    let n = api.script().turns();
    api.script().push(Answer::Fail {
        status: 429,
        retry_after: Some(1),
    });
    let t = prompt(rig, id, "rate limited once")?;
    let refused = moment(api, &format!("sent {}", n + 1))?;
    let retried = moment(api, &format!("request {}", n + 2))?;
    let from = wait_said(rig, id, t, &rig::working).ok_or("never working after the prompt")?;
    rig.hold(
        "retry back-off (429): working",
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

    // 500 twice: the one retry fails too.
    let n = api.script().turns();
    for _ in 0..2 {
        api.script().push(Answer::Fail {
            status: 500,
            retry_after: None,
        });
    }
    let t = prompt(rig, id, "fails for good")?;
    let last = moment(api, &format!("sent {}", n + 2))?;
    let said = rig.reach(
        "retry exhausted (500): error",
        id,
        "error",
        (t, last),
        &rig::error,
    );
    // Held from when it was said until the next input, once Claude has
    // drawn the failure (and its pidfile and transcript had their say).
    rig.wait_screen(id, "scripted failure 500")?;
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

const QUESTION: &str = "Pick one?";

fn question_input() -> Value {
    json!({"questions": [{"question": QUESTION, "header": "Pick", "multiSelect": false,
        "options": [{"label": "Red", "description": "r"}, {"label": "Blue", "description": "b"}]}]})
}

/// Claude's `AskUserQuestion`: its dialog, then the answer by key.
pub(super) fn question(rig: &mut Rig, api: &FakeAnthropic, id: &str) -> Drive {
    let n = api.script().turns();
    api.script().push(Answer::Tool {
        name: "AskUserQuestion".into(),
        input: question_input(),
    });
    let t = prompt(rig, id, "ask me something")?;
    let shown = rig.wait_screen(id, QUESTION)?;
    let asked =
        |r: &Value| rig::waiting("question")(r) && r["status"]["waiting"]["text"] == QUESTION;
    let truth = format!("waiting(question: {QUESTION})");
    let said = rig.reach(
        "question asked (AskUserQuestion): waiting(question)",
        id,
        &truth,
        (t, shown),
        &asked,
    );
    if said.is_none() {
        // The dialog takes keys a moment after it is drawn.
        std::thread::sleep(Duration::from_millis(700));
    }
    let key = rig.send(id, "1", false);
    let answered = clock::wait_for(|| api.script().turns() > n + 1, T);
    if !answered {
        return Err("the question never took 1".into());
    }
    rig.reach(
        "question answered (1): working",
        id,
        "working",
        (key, key),
        &rig::working,
    );
    let back = moment(api, &format!("request {}", n + 2))?;
    let sent = moment(api, &format!("sent {}", n + 2))?;
    rig.reach(
        "reply after the answer: idle+unread",
        id,
        "idle+unread",
        (back, sent),
        &rig::idle_unread,
    );
    Ok(())
}

/// A long `sleep` approved, then Esc while it runs.
pub(super) fn tool_interrupt(rig: &mut Rig, api: &FakeAnthropic, id: &str) -> Drive {
    // A plain `sleep` Claude runs unasked, and stops at once as a sleep
    // it will not wait for.
    let target = rig.w.env.work().join("long.txt");
    let command = format!("touch {} && sleep 37", target.display());
    api.script().push(Answer::Tool {
        name: "Bash".into(),
        input: json!({"command": command, "description": "Wait a long time"}),
    });
    let t = prompt(rig, id, "please wait a long time")?;
    let perm = asks(command.clone());
    if wait_said(rig, id, t, &perm).is_none() {
        return Err("never waiting before the long tool".into());
    }
    // amux says `waiting` once the dialog takes keys.
    rig.send(id, "1", false);
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

/// `/compact`: Claude summarises the conversation in a call of its own (a
/// turn offering tools, or a side stream): working until its answer is
/// sent, then idle — not unread, a compaction is no reply to the user.
pub(super) fn compact(rig: &mut Rig, api: &FakeAnthropic, id: &str) -> Drive {
    let n = api.script().turns();
    let side = (1..)
        .take_while(|k| {
            api.script()
                .wait(&format!("side {k}"), Duration::ZERO)
                .is_some()
        })
        .count();
    let t = prompt(rig, id, "/compact")?;
    let said = rig.reach(
        "compaction (/compact): working",
        id,
        "working",
        (t, t),
        &rig::working,
    );
    let (turn, aside) = (format!("sent {}", n + 1), format!("side {}", side + 1));
    let script = api.script();
    let mut done = None;
    clock::wait_for(
        || {
            done = (script.wait(&turn, Duration::ZERO))
                .or_else(|| script.wait(&aside, Duration::ZERO));
            done.is_some()
        },
        T,
    );
    let done = done.ok_or("the summary was never asked for")?;
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
