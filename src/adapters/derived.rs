//! What a conversation file says, derived incrementally line by line.
//!
//! A [`Tracker`] is a fold over a file's lines: every complete line goes
//! through [`Tracker::feed`], which updates the adapter's private state
//! (its [`Lines`]) and the public [`Derived`] view in place, so following
//! a growing file costs one JSON parse per new line and a full read is the
//! same fold from the first line ([`derive_all`]).

use super::{text, Kind, Place};
use serde_json::Value;

/// What a conversation file says, derived incrementally line by line.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Derived {
    /// `None` means "(new)".
    pub title: Option<String>,
    pub working: bool,
    /// The last request failed and the agent will try again (pi's retry
    /// back-off): working, whatever the agent says of the failed attempt.
    pub retrying: bool,
    pub error: bool,
    /// A short human status: `tool: bash`, `error: <msg>`, or `None`.
    pub label: Option<String>,
    /// A finished reply nobody has seen: set when a turn ends with a reply,
    /// cleared by the next user message.
    pub unread: bool,
    /// pi header `id`, Claude `sessionId`, Codex `session_meta` `payload.id`.
    pub conversation_id: Option<String>,
    pub header_cwd: Option<String>,
    /// Seconds since the epoch, from the header timestamp.
    pub created_at: Option<i64>,
    /// The last few KiB of user and assistant text, for the scrollback guess.
    pub text_tail: String,
    /// Turns that ended (working → not working) so far: lets the daemon
    /// tell whether a turn finished after input it sent.
    pub turns_ended: u64,
    /// The tool call the agent made last in this turn (what a waiting
    /// agent asks permission for); gone when the turn ends.
    pub tool_call: Option<ToolCall>,
    /// Interrupts the file told (Copilot's `abort`): the agent's own word
    /// that the turn is over, which no live report of its says — a kept
    /// report made before it ends with it.
    pub interrupts: u64,
    /// When the last of them was (epoch ms, the agent's own stamp): a
    /// report made before it (replayed to a daemon that came back) is over.
    pub interrupted_ms: Option<i64>,
    /// Lines read so far that changed the state above (working, error,
    /// label, unread, the tool call): what a live report is measured
    /// against. Bookkeeping lines (Codex's token counts and usage records,
    /// which may land after the question they follow) say nothing new.
    pub lines: u64,
}

/// A tool call: its name and what it runs or asks (a command, a path, a
/// question), as the file has it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ToolCall {
    pub name: String,
    pub text: Option<String>,
    /// The call asks the user a question (not for permission to act).
    pub question: bool,
    /// Its result is in the file: a dialog open now asks about another
    /// call, not this one.
    pub answered: bool,
}

impl Derived {
    /// A user prompt: a turn starts, the previous reply counts as seen.
    pub(super) fn user_turn(&mut self, text: &str) {
        self.working = true;
        self.retrying = false;
        self.error = false;
        self.label = None;
        self.unread = false;
        self.tool_call = None;
        text::push_tail(&mut self.text_tail, text);
    }

    /// A turn ended with a reply for the user.
    pub(super) fn reply_done(&mut self) {
        self.working = false;
        self.error = false;
        self.label = None;
        self.unread = true;
        self.tool_call = None;
    }

    /// A turn ended with nothing for the user to read (Codex's
    /// `/compact`: the summary is the agent's, not a reply).
    pub(super) fn quiet_end(&mut self) {
        self.reply_done();
        self.unread = false;
    }

    pub(super) fn tool(&mut self, name: Option<&str>) {
        self.working = true;
        self.label = name.map(|n| format!("tool: {n}"));
    }

    /// `tool`, remembering the call (`text`: its command or question).
    pub(super) fn tool_call(&mut self, name: &str, text: Option<String>) {
        self.tool(Some(name));
        let name = name.to_string();
        self.tool_call = Some(ToolCall {
            name,
            text,
            question: false,
            answered: false,
        });
    }

    /// The result of the last tool call arrived (the call ran or was
    /// refused): it is asked about no more.
    pub(super) fn tool_result(&mut self) {
        if let Some(call) = self.tool_call.as_mut() {
            call.answered = true;
        }
    }

    /// What a line may change that a live report speaks of.
    fn state(&self) -> (bool, bool, Option<String>, bool, Option<ToolCall>) {
        let (label, call) = (self.label.clone(), self.tool_call.clone());
        (self.working, self.error, label, self.unread, call)
    }

    /// The last tool call, while nothing answered it yet.
    pub fn pending_call(&self) -> Option<&ToolCall> {
        self.tool_call.as_ref().filter(|c| !c.answered)
    }

    /// The user interrupted the turn at `at_ms`: over, with no reply.
    pub(super) fn interrupted(&mut self, at_ms: Option<i64>) {
        self.interrupted_ms = at_ms;
        self.working = false;
        self.retrying = false;
        self.label = None;
        self.tool_call = None;
        self.interrupts += 1;
    }

    pub(super) fn failed(&mut self, message: Option<&str>) {
        self.working = false;
        self.error = true;
        self.tool_call = None;
        self.label = Some(format!("error: {}", message.unwrap_or("unknown")));
    }
}

/// An adapter's state between lines: it updates `d` from one line.
pub trait Lines: Send {
    fn feed(&mut self, d: &mut Derived, line: &Value);
}

/// Follows one conversation file: feed it complete lines in order.
pub struct Tracker {
    kind: Kind,
    place: Place,
    lines: Box<dyn Lines>,
    derived: Derived,
    /// Complete lines fed so far, whatever they said (`amux explain`).
    fed: u64,
}

impl Tracker {
    pub fn new(kind: Kind, place: &Place) -> Self {
        Tracker {
            kind,
            place: place.clone(),
            lines: kind.adapter().lines(place),
            derived: Derived::default(),
            fed: 0,
        }
    }

    /// One complete line, without its newline. Lines that are not JSON
    /// objects, and shapes the adapter does not know, change nothing. A
    /// line with bytes that are not UTF-8 (a tool's output pasted in) is
    /// read with them replaced, not dropped whole: its prompt, its reply,
    /// its title still count.
    pub fn feed(&mut self, line: &[u8]) {
        self.fed += 1;
        let parsed = serde_json::from_slice::<Value>(line).or_else(|e| match e.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Data
                if std::str::from_utf8(line).is_err() =>
            {
                serde_json::from_str::<Value>(&String::from_utf8_lossy(line))
            }
            _ => Err(e),
        });
        let Ok(v) = parsed else {
            return;
        };
        if !v.is_object() {
            return;
        }
        let d = &mut self.derived;
        let was = d.state();
        self.lines.feed(d, &v);
        if was.0 && !d.working {
            d.turns_ended += 1;
        }
        if d.state() != was {
            d.lines += 1;
        }
    }

    /// The file was truncated or rewritten: start over.
    pub fn reset(&mut self) {
        *self = Tracker::new(self.kind, &self.place);
    }

    /// Lines other than the adapter's (a test's own settings).
    #[cfg(test)]
    pub(super) fn replace_lines(&mut self, lines: Box<dyn Lines>) {
        self.lines = lines;
    }

    pub fn derived(&self) -> &Derived {
        &self.derived
    }

    /// Complete lines fed so far (the number of the last one read).
    pub fn fed(&self) -> u64 {
        self.fed
    }
}

/// Derives a whole file at once: the same fold as following it.
pub fn derive_all(kind: Kind, place: &Place, data: &[u8]) -> Derived {
    let mut tracker = Tracker::new(kind, place);
    data.split(|&b| b == b'\n')
        .for_each(|line| tracker.feed(line));
    tracker.derived
}
