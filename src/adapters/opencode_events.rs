//! What amux's OpenCode plugin (`hook/opencode-plugin.js`) says, as amux
//! reads it: its moments through the FIFO, and the log it keeps of each
//! conversation. Both are OpenCode's own bus events (facts measured with
//! OpenCode 1.18.33 against a loopback model, `fixtures/opencode/`).
//!
//! Moments (op `hook`, `event` OpenCode's type): `session.created` (the
//! first prompt made the conversation) and `session.current` (a prompt in
//! another one, or one resumed) name the log the terminal holds now;
//! `session.busy` is work; `session.idle` ends the turn — unless the turn
//! failed (`reason: error`), which `session.error` said already, with
//! OpenCode's message; `permission.asked` is the dialog, with the tool
//! (`bash`) and its command; `permission.replied` goes back to work, or
//! ends the turn when the user rejected (OpenCode stops there).
//!
//! The log ([`Log`]): `message.updated` of a user message begins a turn
//! (OpenCode repeats it as it adds a summary: counted once, by id), a
//! completed assistant message with a `finish` other than `tool-calls` is
//! a reply, `session.error` a failure (not an abort, Escape's
//! `MessageAbortedError`), and `session.idle` ends the turn with what it
//! had: a reply (unread), a failure, or nothing (rejected, interrupted).
//! `session.created`/`session.updated` carry the title OpenCode gives
//! (`New session - …`, then the model's).

use super::hooks::{asks, said};
use super::text::{str_at, title};
use super::{Derived, Extension, Lines};
use crate::protocol::{AgentState, Ask, ShimEvent, State};
use serde_json::Value;

/// Whether `id` is an OpenCode session id (`ses_` and letters, digits):
/// what the plugin names a log after, so a path made of it stays inside.
pub fn is_id(id: &str) -> bool {
    id.strip_prefix("ses_").is_some_and(|rest| {
        !rest.is_empty() && rest.len() <= 64 && rest.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

/// What one moment says.
pub fn extension(event: &ShimEvent) -> Option<Extension> {
    if event.op != "hook" {
        return None;
    }
    let reason = event.reason.as_deref();
    Some(match event.event.as_deref()? {
        "session.created" | "session.current" => match event.path.clone() {
            Some(path) => Extension::Holds(path),
            None => Extension::NoPath,
        },
        "session.busy" => Extension::State(said(State::Working, false)),
        "session.idle" if reason == Some("error") => Extension::Nothing,
        "session.idle" => Extension::State(said(State::Idle, true)),
        "session.error" => Extension::State(failed(event.text.as_deref())),
        "permission.asked" => Extension::State(asks(Ask::Permission, event)),
        "permission.replied" if reason == Some("reject") => {
            Extension::State(said(State::Idle, true))
        }
        "permission.replied" => Extension::State(said(State::Working, false)),
        _ => Extension::Nothing,
    })
}

/// The turn failed for good (OpenCode does not retry a 400): answered.
fn failed(message: Option<&str>) -> AgentState {
    AgentState {
        label: Some(format!(
            "error: {}",
            message.and_then(title).as_deref().unwrap_or("unknown")
        )),
        ..said(State::Error, true)
    }
}

/// The fold over a conversation's log.
#[derive(Default)]
pub struct Log {
    /// The user message that began the turn (OpenCode repeats it).
    user: Option<String>,
    /// This turn has a reply.
    replied: bool,
    /// This turn failed, with OpenCode's message.
    failure: Option<String>,
}

impl Lines for Log {
    fn feed(&mut self, d: &mut Derived, v: &Value) {
        let p = v.get("properties").unwrap_or(&Value::Null);
        let info = p.get("info").unwrap_or(&Value::Null);
        match str_at(v, "type") {
            Some("session.created" | "session.updated") => {
                if let Some(t) = str_at(info, "title").and_then(title) {
                    d.title = Some(t);
                }
                self.id(d, str_at(info, "id"));
            }
            Some("session.current") => self.id(d, str_at(p, "sessionID")),
            Some("message.updated") => self.message(d, info),
            Some("session.error") => self.error(p.get("error")),
            Some("session.idle") if d.working => {
                match self.failure.take() {
                    Some(why) => d.failed(Some(&why)),
                    None if self.replied => d.reply_done(),
                    None => d.working = false,
                }
                self.replied = false;
            }
            _ => {}
        }
    }
}

impl Log {
    fn id(&self, d: &mut Derived, id: Option<&str>) {
        if let Some(id) = id.filter(|i| is_id(i)) {
            d.conversation_id = Some(id.to_owned());
        }
    }

    fn message(&mut self, d: &mut Derived, info: &Value) {
        self.id(d, str_at(info, "sessionID"));
        let id = str_at(info, "id");
        match str_at(info, "role") {
            Some("user") if id.is_some() && self.user.as_deref() != id => {
                self.user = id.map(str::to_owned);
                (self.replied, self.failure) = (false, None);
                d.user_turn("");
            }
            Some("assistant") if info.pointer("/time/completed").is_some() => {
                self.error(info.get("error"));
                let finish = str_at(info, "finish");
                if finish.is_some_and(|f| f != "tool-calls") && info.get("error").is_none() {
                    self.replied = true;
                }
            }
            _ => {}
        }
    }

    fn error(&mut self, error: Option<&Value>) {
        let Some(e) = error.filter(|e| e.is_object()) else {
            return;
        };
        if str_at(e, "name") == Some("MessageAbortedError") {
            return;
        }
        let message = (e.pointer("/data/message").and_then(Value::as_str))
            .or_else(|| str_at(e, "name"))
            .unwrap_or("error");
        self.failure = Some(message.to_owned());
    }
}

#[cfg(test)]
mod tests;
