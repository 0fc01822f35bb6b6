//! What a conversation file says, derived incrementally line by line.
//!
//! A [`Tracker`] is a fold over a file's lines: every complete line goes
//! through [`Tracker::feed`], which updates the adapter's private state
//! (its [`Lines`]) and the public [`Derived`] view in place, so following
//! a growing file costs one JSON parse per new line and a full read is the
//! same fold from the first line ([`derive_all`]).
//!
//! What could not be read is said, never passed over: a line too long to
//! read ([`Tracker::skip`]) or a file that cannot be opened
//! ([`Tracker::unreadable`]) sets [`Derived::unknown`], from which the
//! daemon shows the state as not known (amux(1), STATE) rather than the
//! one the lines before it left.

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
    /// Lines skipped unread so far, each over `follow::MAX_LINE`.
    pub skipped: u64,
    /// What the state rests on that could not be read, while it does.
    pub unknown: Option<Unknown>,
}

/// What could not be read of a conversation, so that the state it leaves
/// is not known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unknown {
    /// Line `line`, `bytes` long, is over `follow::MAX_LINE` and was
    /// skipped: it may have ended a turn (a reply), begun one (a pasted
    /// prompt) or said nothing of it (a tool's output). The fold counts it
    /// as a turn's end with nothing known of it, until a later line says
    /// the state again.
    Long { line: u64, bytes: u64 },
    /// The file cannot be read (why: `permission denied`, `not a regular
    /// file`): nothing it says now is known, until a read succeeds.
    File(String),
}

impl Unknown {
    /// A few words for the record's label: `unreadable: …`.
    pub fn short(&self) -> String {
        match self {
            Unknown::Long { line, .. } => {
                format!("unreadable: line {line} is over {}", mib(MAX_LINE))
            }
            Unknown::File(why) => format!("unreadable: {why}"),
        }
    }
}

/// What was not read, its file the subject: `line 4 is 17 MiB, …`,
/// `cannot be read (permission denied), …`.
impl std::fmt::Display for Unknown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unknown::Long { line, bytes } => write!(
                f,
                "line {line} is {}, over the {} amux reads: skipped, \
                 so the state it leaves is not known",
                mib(*bytes),
                mib(MAX_LINE)
            ),
            Unknown::File(why) => write!(
                f,
                "cannot be read ({why}), so the state it leaves is not known"
            ),
        }
    }
}

/// `17 MiB` (rounded up: a line just over the limit is not `16 MiB`).
fn mib(bytes: impl Into<u64>) -> String {
    const MIB: u64 = 1 << 20;
    format!("{} MiB", bytes.into().div_ceil(MIB))
}

/// `follow::MAX_LINE` in bytes.
const MAX_LINE: u64 = crate::daemon::follow::MAX_LINE as u64;

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

    /// A line was skipped unread: the turn it may have ended counts as
    /// ended (input sent before it is answered, by nothing known), with
    /// nothing running, failed, asked or unread — and `unknown` says so.
    fn skipped_line(&mut self, line: u64, bytes: u64) {
        self.working = false;
        self.retrying = false;
        self.error = false;
        self.label = None;
        self.unread = false;
        self.tool_call = None;
        self.turns_ended += 1;
        self.skipped += 1;
        self.unknown = Some(Unknown::Long { line, bytes });
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
        let was = (d.state(), d.interrupts);
        self.lines.feed(d, &v);
        if was.0 .0 && !d.working {
            d.turns_ended += 1;
        }
        if (d.state(), d.interrupts) != was {
            if d.state() != was.0 {
                d.lines += 1;
            }
            // A line that says the state again ends what a skipped one
            // left unknown.
            if matches!(d.unknown, Some(Unknown::Long { .. })) {
                d.unknown = None;
            }
        }
    }

    /// One complete line `bytes` long was too long to read (over
    /// `follow::MAX_LINE`) and was skipped: see `Unknown::Long`.
    pub fn skip(&mut self, bytes: u64) {
        self.fed += 1;
        self.derived.skipped_line(self.fed, bytes);
    }

    /// The file could not be read now (`Some(why)`), or could again:
    /// see `Unknown::File`. A skipped line's `Unknown::Long` stands
    /// until a line says more.
    pub fn unreadable(&mut self, why: Option<String>) {
        let d = &mut self.derived;
        match why {
            Some(why) => d.unknown = Some(Unknown::File(why)),
            None if matches!(d.unknown, Some(Unknown::File(_))) => d.unknown = None,
            None => {}
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

#[cfg(test)]
mod tests {
    use super::*;

    /// pi's lines, by a letter: `u` a prompt, `t` a tool call, `r` a
    /// reply, `n` a name (says nothing of the state), `L` a line too long
    /// to read.
    fn fold(lines: &str) -> Tracker {
        let place = Place {
            cwd: "/w".into(),
            config_dir: None,
        };
        let mut tracker = Tracker::new(Kind::PI, &place);
        let message = |role: &str, stop: Option<&str>| {
            let mut m =
                serde_json::json!({"role": role, "content": [{"type": "text", "text": "x"}]});
            if let Some(stop) = stop {
                m["stopReason"] = stop.into();
            }
            serde_json::json!({"type": "message", "message": m}).to_string()
        };
        for c in lines.chars() {
            let line = match c {
                'u' => message("user", None),
                't' => message("assistant", Some("toolUse")),
                'r' => message("assistant", Some("stop")),
                'n' => serde_json::json!({"type": "session_info", "name": "named"}).to_string(),
                'L' => {
                    tracker.skip(MAX_LINE + 1);
                    continue;
                }
                _ => unreachable!("{c}"),
            };
            tracker.feed(line.as_bytes());
        }
        tracker
    }

    #[test]
    fn a_skipped_line_leaves_the_state_unknown_until_a_line_says_it_again() {
        // (lines, unknown after them, working, turns ended)
        let cases = [
            ("ur", false, false, 1),
            // The reply skipped: the turn counts as ended, by nothing known.
            ("uL", true, false, 1),
            ("uLn", true, false, 1),
            // A tool's output skipped, and the turn goes on: known again.
            ("utLt", false, true, 1),
            // Its reply ends the turn the skipped line already counted.
            ("utLr", false, false, 1),
            ("utLtr", false, false, 2),
            // A pasted prompt skipped: the agent's next line tells.
            ("urL", true, false, 2),
            ("urLt", false, true, 2),
            ("urLr", false, false, 2),
            ("uLu", false, true, 1),
        ];
        for (lines, unknown, working, ended) in cases {
            let t = fold(lines);
            let d = t.derived();
            let got = (d.unknown.is_some(), d.working, d.turns_ended);
            assert_eq!(got, (unknown, working, ended), "{lines}");
            assert_eq!(d.skipped, lines.matches('L').count() as u64, "{lines}");
            assert_eq!(
                t.fed(),
                lines.len() as u64,
                "{lines}: a skipped line is counted"
            );
        }
        let t = fold("unL");
        assert_eq!(
            t.derived().unknown,
            Some(Unknown::Long {
                line: 3,
                bytes: MAX_LINE + 1
            })
        );
        assert_eq!(
            t.derived().unknown.as_ref().unwrap().short(),
            "unreadable: line 3 is over 16 MiB"
        );
        assert!(!t.derived().unread, "a reply skipped is no reply known");
    }

    #[test]
    fn a_file_unreadable_is_unknown_until_it_reads_and_keeps_a_skipped_line() {
        let mut t = fold("ur");
        t.unreadable(Some("permission denied".into()));
        let file = Unknown::File("permission denied".into());
        assert_eq!(t.derived().unknown.as_ref(), Some(&file));
        assert_eq!(
            file.to_string(),
            "cannot be read (permission denied), so the state it leaves is not known"
        );
        t.unreadable(None);
        assert_eq!(t.derived().unknown, None);
        let mut t = fold("uL");
        t.unreadable(None);
        assert!(
            matches!(t.derived().unknown, Some(Unknown::Long { .. })),
            "a read that succeeds says nothing of a line it skipped"
        );
    }
}
