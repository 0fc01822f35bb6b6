//! `amux answer ID yes|no|always`: answers the permission dialog a
//! session waits on with the keys its agent's adapter names
//! (`Adapter::answer_keys`).
//!
//! The record says whether there is such a dialog: `waiting` on a
//! `permission`, which the daemon reports only once the dialog takes keys
//! (`adapters::Grace`), so keys sent now reach it. Anything else (not
//! waiting, a question that needs text, a menu, an agent amux cannot
//! answer for) is refused before a key is typed. The keys go through the
//! daemon's `POST …/input`, as `amux send`'s do, so the daemon counts
//! them as input and `wait` after it waits for the turn they resumed.
//! With `--json`, the record is printed once the dialog is gone (the
//! agent took the answer), or as it stands after `SETTLE`.

use super::client::{print_json, resolve, stream};
use crate::adapters::{Answer, Kind};
use crate::error::{Error, Result};
use crate::protocol::{Ask, Record, State};
use std::process::ExitCode;
use std::time::Duration;

/// How long `--json` waits for the dialog to go before it prints the
/// record as it is.
const SETTLE: Duration = Duration::from_secs(10);

pub fn answer(key: &str, answer: Answer, as_json: bool) -> Result<ExitCode> {
    let record = resolve(key)?;
    let keys = keys_for(&record, answer).map_err(Error::Failed)?;
    super::control::post(&record.id, "input", keys.as_bytes())?;
    if as_json {
        let after = async_io::block_on(futures_lite::future::or(settled(&record.id), async {
            async_io::Timer::after(SETTLE).await;
            None
        }));
        match after {
            Some(record) => print_json(&record)?,
            None => print_json(&resolve(&record.id)?)?,
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The session's first record that no longer waits on a permission.
async fn settled(id: &str) -> Option<Record> {
    let mut events = stream(
        &format!("{}/events", super::client::session_path(id)),
        false,
    )
    .await
    .ok()?;
    while let Ok(Some((event, data))) = events.next().await {
        let Ok(record) = serde_json::from_str::<Record>(&data) else {
            continue;
        };
        if event == "session" && (!record.alive || asked(&record) != Some(Ask::Permission)) {
            return Some(record);
        }
    }
    None
}

/// What a live session waits on, if it waits.
fn asked(record: &Record) -> Option<Ask> {
    let waiting = record.alive && record.status.state == State::Waiting;
    let ask = record
        .status
        .waiting
        .as_ref()
        .map_or(Ask::Other, |w| w.kind);
    waiting.then_some(ask)
}

/// The keys that answer `record`'s dialog, or the one line saying why
/// there is nothing to answer.
fn keys_for(record: &Record, answer: Answer) -> std::result::Result<&'static str, String> {
    let id = &record.id;
    let kind = record.kind.as_deref().unwrap_or("?");
    match asked(record) {
        None if !record.alive => return Err(format!("session {id} has ended")),
        None => return Err(format!("session {id} is not waiting ({})", record.state())),
        Some(Ask::Permission) => {}
        Some(ask) => {
            let what = ask.as_str();
            return Err(format!(
                "session {id} waits for a {what}, not a yes or no: use amux send"
            ));
        }
    }
    Kind::named(kind)
        .answer_keys(answer)
        .ok_or_else(|| format!("amux cannot answer {kind}'s dialogs: use amux send"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Waiting;

    fn record(kind: &str, alive: bool, state: State, ask: Option<Ask>) -> Record {
        let mut r = Record {
            id: "abc".into(),
            kind: Some(kind.into()),
            alive,
            ..Record::default()
        };
        r.status.state = state;
        r.status.waiting = ask.map(|kind| Waiting {
            kind,
            ..Waiting::default()
        });
        r
    }

    #[test]
    fn each_agent_its_keys_and_nothing_but_a_permission_is_answered() {
        use Answer::*;
        let perm = |kind| record(kind, true, State::Waiting, Some(Ask::Permission));
        let cases: &[(Record, Answer, std::result::Result<&str, &str>)] = &[
            (perm("claude"), Yes, Ok("1")),
            (perm("claude"), Always, Ok("2")),
            (perm("claude"), No, Ok("\x1b")),
            (perm("codex"), Yes, Ok("y")),
            (perm("codex"), Always, Ok("p")),
            (perm("codex"), No, Ok("\x1b")),
            (perm("copilot"), Yes, Ok("1")),
            (perm("qwen"), Always, Ok("2")),
            (
                perm("pi"),
                Yes,
                Err("amux cannot answer pi's dialogs: use amux send"),
            ),
            (
                perm("newagent"),
                Yes,
                Err("amux cannot answer newagent's dialogs: use amux send"),
            ),
            (
                record("claude", true, State::Idle, None),
                Yes,
                Err("session abc is not waiting (idle)"),
            ),
            (
                record("claude", true, State::Waiting, Some(Ask::Question)),
                Yes,
                Err("session abc waits for a question, not a yes or no: use amux send"),
            ),
            (
                record("claude", true, State::Waiting, Some(Ask::Menu)),
                No,
                Err("session abc waits for a menu, not a yes or no: use amux send"),
            ),
            (
                record("claude", false, State::Waiting, Some(Ask::Permission)),
                Yes,
                Err("session abc has ended"),
            ),
        ];
        for (r, answer, want) in cases {
            let got = keys_for(r, *answer);
            assert_eq!(
                got.as_deref().map_err(|e| e.as_str()),
                *want,
                "{r:?} {answer:?}"
            );
        }
    }
}
