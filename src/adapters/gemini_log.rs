//! Gemini CLI's conversation file: an append-only event log, folded.
//!
//! Gemini 0.61 appends JSON lines and never rewrites: line 1 is the
//! metadata (`sessionId`, `projectHash`, `startTime`, `kind`), then message
//! records (`id`, `type` user | gemini | error | info | warning,
//! `content`), `{"$set":{…}}` patches of the metadata and `{"$rewindTo":
//! id}` after `/rewind`. A message is appended again under the same id when
//! it grows (a reply gains its `toolCalls` once they ran): the last copy
//! wins. A `$set` of `messages` replaces the whole history (after a failed
//! request, and at every resume); a metadata line later in the file is a
//! patch too (a resume in the same minute as the file's name appends its
//! startup records to the original).
//!
//! The fold keeps the history as ids with the user's prompts (for the
//! title and `/rewind`), and moves the state on the records as they come:
//! a prompt starts a turn, a reply with text ends it (the file has no
//! end-of-turn record: this is the fallback, labelled `file`, behind the
//! window title Gemini sets at each change, `gemini.rs`), a reply with
//! tool calls is at work, an `error` record fails the turn, a cancel
//! (`info` "Request cancelled.") ends it with nothing to read.
//!
//! After a cancelled or failed turn Gemini rewrites its history: a `$set`
//! of `messages`, and (seen after a cancel, 0.61) the history appended
//! again as records with new ids — its context, its calls and replies,
//! without the user's prompts. Those say nothing new: from a turn's
//! cancel or failure to the next prompt, records change no state. The
//! title is the first prompt the user gave, kept through such rewrites
//! (Gemini's own history may no longer hold it); only `/rewind` past it
//! takes it away.

use super::text::{push_tail, str_at, string_at, title};
use super::{Derived, Lines};
use serde_json::Value;

/// What Gemini prepends to every history as a user message of its own.
const CONTEXT: &str = "<session_context>";

/// `info` records that end a turn the user stopped.
const CANCELLED: &[&str] = &["Request cancelled.", "User cancelled the request."];

#[derive(Default)]
pub(super) struct Log {
    /// The history: each message's id and, for a prompt the user typed,
    /// its text.
    messages: Vec<(String, Option<String>)>,
    /// The first prompt's id and its title.
    first: Option<(String, String)>,
    /// The last turn was cancelled or failed: what comes before the next
    /// prompt is Gemini's history rewritten.
    over: bool,
}

impl Lines for Log {
    fn feed(&mut self, d: &mut Derived, v: &Value) {
        if let Some(set) = v.get("$set") {
            self.patch(d, set);
        } else if let Some(id) = str_at(v, "$rewindTo") {
            self.rewind(d, id);
        } else if v.get("sessionId").is_some() && v.get("type").is_none() {
            self.patch(d, v);
        } else if let Some(id) = str_at(v, "id") {
            self.record(d, id, v);
        }
        if self.first.is_none() {
            self.first = (self.messages.iter()).find_map(|(id, p)| Some((id.clone(), p.clone()?)));
        }
        d.title = self.first.as_ref().map(|(_, t)| t.clone());
    }
}

impl Log {
    /// Metadata, whole or in part: the first id and start stand.
    fn patch(&mut self, d: &mut Derived, set: &Value) {
        if let Some(id) = string_at(set, "sessionId") {
            d.conversation_id.get_or_insert(id);
        }
        if let Some(start) = str_at(set, "startTime") {
            d.created_at = d.created_at.or(crate::timefmt::parse_epoch(start));
        }
        if let Some(history) = set.get("messages").and_then(Value::as_array) {
            self.messages = history
                .iter()
                .filter_map(|m| Some((str_at(m, "id")?.to_owned(), prompt(m))))
                .collect();
        }
    }

    /// `/rewind` to `id`: that message and every later one are gone, and
    /// the agent is between turns.
    fn rewind(&mut self, d: &mut Derived, id: &str) {
        if let Some(at) = self.messages.iter().position(|(m, _)| m == id) {
            let first = self.first.as_ref().map(|(f, _)| f.as_str());
            if (self.messages[at..].iter()).any(|(m, _)| Some(m.as_str()) == first) {
                self.first = None;
            }
            self.messages.truncate(at);
        }
        d.working = false;
        d.label = None;
        d.tool_call = None;
    }

    fn record(&mut self, d: &mut Derived, id: &str, v: &Value) {
        let known = self.messages.iter().position(|(m, _)| m == id);
        let user = prompt(v);
        match known {
            Some(at) => self.messages[at].1 = user.clone(),
            None => self.messages.push((id.to_owned(), user.clone())),
        }
        let content = v.get("content").unwrap_or(&Value::Null);
        let prompted = known.is_none() && user.is_some();
        if self.over && !prompted {
            return;
        }
        match str_at(v, "type") {
            Some("user") if prompted => {
                self.over = false;
                d.user_turn(&text(content));
            }
            // The result of a call, sent back to the model: it goes on.
            Some("user") if responds(content) => {
                d.tool_result();
                d.working = true;
            }
            Some("gemini") => reply(d, v, content, known.is_none()),
            Some("error") => {
                self.over = true;
                d.failed(Some(&error_text(&text(content))));
            }
            Some("info") if CANCELLED.contains(&text(content).trim()) => {
                self.over = true;
                d.working = false;
                d.label = None;
                d.tool_call = None;
            }
            _ => {}
        }
    }
}

/// A `gemini` record: a reply being written (empty), one that asks for
/// tools, or one with text and no call (the turn's answer).
fn reply(d: &mut Derived, v: &Value, content: &Value, new: bool) {
    let calls = v.get("toolCalls").and_then(Value::as_array);
    if let Some(call) = calls.and_then(|c| c.last()) {
        let name = str_at(call, "name").unwrap_or("tool");
        d.tool_call(name, call_text(call));
        // Gemini writes a call once it ran (or was refused).
        if call.get("result").is_some() || str_at(call, "status").is_some() {
            d.tool_result();
        }
        return;
    }
    let said = text(content);
    if new {
        push_tail(&mut d.text_tail, &said);
    }
    if said.trim().is_empty() {
        d.working = true;
    } else {
        d.reply_done();
    }
}

/// The prompt a user record carries, unless it is Gemini's own context or
/// a tool's result.
fn prompt(m: &Value) -> Option<String> {
    if str_at(m, "type") != Some("user") {
        return None;
    }
    let said = text(m.get("content")?);
    (!said.trim_start().starts_with(CONTEXT))
        .then(|| title(&said))
        .flatten()
}

/// Content is a string or a list of parts; `text` parts are what was said.
fn text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => (parts.iter().filter_map(|p| str_at(p, "text")))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// `[API Error: {"error":{"message":…}}]`: the message; else the text.
fn error_text(said: &str) -> String {
    let inner = said
        .strip_prefix("[API Error: ")
        .and_then(|r| r.strip_suffix(']'));
    let message = inner
        .and_then(|j| serde_json::from_str::<Value>(j).ok())
        .and_then(|v| v["error"]["message"].as_str().map(str::to_owned));
    message.unwrap_or_else(|| said.to_owned())
}

fn responds(content: &Value) -> bool {
    (content.as_array())
        .is_some_and(|parts| parts.iter().any(|p| p.get("functionResponse").is_some()))
}

/// What a call runs or touches: a shell command, else a path.
fn call_text(call: &Value) -> Option<String> {
    let args = call.get("args")?;
    ["command", "file_path", "absolute_path", "dir_path", "path"]
        .iter()
        .find_map(|k| str_at(args, k))
        .and_then(title)
}

#[cfg(test)]
mod tests {
    use super::super::{fixture, Kind};

    fn derive(name: &str) -> super::Derived {
        fixture::derive(Kind::GEMINI, 0, &format!("gemini/{name}.jsonl"))
    }

    #[test]
    fn fixtures_yield_title_id_and_state() {
        // (file, title, id, status at the end)
        let table = [
            (
                "session-2026-12-06T00-25-11111111",
                Some("say hi please"),
                "11111111-2222-3333-4444-555555555555",
                // The last turn was cancelled (after a failed one).
                "idle",
            ),
            (
                "session-2026-12-06T00-29-7e7f6684",
                Some("first prompt in session B"),
                "7e7f6684-07bb-4cf1-9be9-fc43048a82c8",
                "idle unread",
            ),
            // The startup file a `--resume` leaves: no prompt in it.
            (
                "session-2026-12-06T00-30-7e7f6684",
                None,
                "7e7f6684-07bb-4cf1-9be9-fc43048a82c8",
                "idle",
            ),
            (
                "session-resumed-same-minute-second-META-line",
                Some("first"),
                "33333333-4444-4555-8666-777777777777",
                "idle unread",
            ),
        ];
        for (name, want, id, status) in table {
            let d = derive(name);
            assert_eq!(d.title.as_deref(), want, "{name}");
            assert_eq!(d.conversation_id.as_deref(), Some(id), "{name}");
            assert_eq!(fixture::status(&d), status, "{name}");
            assert!(d.created_at.is_some(), "{name}");
            assert!(!d.text_tail.contains("session_context"), "{name}");
        }
        // A second metadata line keeps the first start.
        let d = derive("session-resumed-same-minute-second-META-line");
        assert_eq!(
            d.created_at,
            crate::timefmt::parse_epoch("2026-12-06T00:47:10.019Z")
        );
        assert_eq!(d.turns_ended, 3);
    }

    #[test]
    fn each_moment_of_a_turn() {
        let lines = fixture::lines("gemini/session-2026-12-06T00-25-11111111.jsonl");
        // The status once the `nth` line holding `needle` is read.
        let at = |needle: &str, nth: usize| {
            let i = (lines.iter().enumerate())
                .filter(|(_, l)| l.contains(needle))
                .nth(nth)
                .unwrap()
                .0;
            let mut t = fixture::tracker(Kind::GEMINI, 0);
            lines[..=i].iter().for_each(|l| t.feed(l.as_bytes()));
            fixture::status(t.derived())
        };
        assert_eq!(at("say hi please", 0), "working");
        assert_eq!(at("Hello from fake gemini.", 0), "idle unread");
        assert_eq!(at("Request cancelled.", 0), "idle unread");
        // The reply begins empty; then it names its call, which ran.
        assert_eq!(at("\"please runcmd again\"", 0), "working");
        assert_eq!(at("1d0341d1", 0), "working");
        assert_eq!(at("1d0341d1", 1), "working tool: run_shell_command");
        assert_eq!(at("Tool finished.", 0), "idle unread");
        assert_eq!(
            at("fake invalid argument", 0),
            "failed error: fake invalid argument"
        );
        assert_eq!(at("\"please failnow\"", 0), "working");
    }

    /// Recorded by hand (amux under tmux, Gemini 0.61.0, a fake API): a
    /// call allowed, a failed request, a call denied with Esc — after
    /// which Gemini appends its history again with new ids (its context,
    /// the earlier call, its result, the earlier reply) and a `$set` of
    /// `messages` without the user's prompts.
    #[test]
    fn a_history_rewritten_after_a_cancel_says_nothing_new() {
        let lines = fixture::lines("gemini/session-cancel-rewrites-history.jsonl");
        let cancel = (lines.iter())
            .position(|l| l.contains("\"Request cancelled.\""))
            .unwrap();
        let mut t = fixture::tracker(Kind::GEMINI, 0);
        lines[..=cancel].iter().for_each(|l| t.feed(l.as_bytes()));
        let at_cancel = t.derived().clone();
        assert_eq!(fixture::status(&at_cancel), "idle");
        assert!(lines.len() > cancel + 4, "the rewrite follows");
        lines[cancel + 1..]
            .iter()
            .for_each(|l| t.feed(l.as_bytes()));
        assert_eq!(t.derived(), &at_cancel, "nothing new, no unread reply");
        assert_eq!(t.derived().title.as_deref(), Some("please runcmd now"));
    }

    #[test]
    fn a_call_names_its_command_and_a_rewind_forgets() {
        let call = r#"{"id":"g1","type":"gemini","content":"","toolCalls":[{"id":"c","name":"run_shell_command","args":{"command":"touch x"}}]}"#;
        let mut t = fixture::tracker(Kind::GEMINI, 0);
        for line in [
            r#"{"sessionId":"s","projectHash":"h","startTime":"2026-12-06T00:00:00Z","kind":"main"}"#,
            r#"{"id":"u1","type":"user","content":[{"text":"first ask"}]}"#,
            r#"{"id":"g0","type":"gemini","content":"ok"}"#,
            r#"{"id":"u2","type":"user","content":[{"text":"second"}]}"#,
            call,
        ] {
            t.feed(line.as_bytes());
        }
        let pending = t.derived().pending_call().unwrap();
        assert_eq!(pending.text.as_deref(), Some("touch x"));
        t.feed(br#"{"$rewindTo":"u1"}"#);
        assert_eq!(t.derived().title, None, "the first prompt is gone");
        assert_eq!(fixture::status(t.derived()), "idle");
        t.feed(br#"{"id":"u3","type":"user","content":[{"text":"again"}]}"#);
        assert_eq!(t.derived().title.as_deref(), Some("again"));
        assert_eq!(fixture::status(t.derived()), "working");
    }
}
