//! Command hooks: what an agent that runs a command at its moments
//! (Claude Code's `--settings` hooks, Codex's `-c hooks…`) hands amux.
//!
//! Such an agent runs `amux hook AGENT` (`cli/hook.rs`) with the moment as
//! one JSON object on stdin — `hook_event_name`, `session_id`,
//! `transcript_path`, and per event `source`, `tool_name`, `tool_input`,
//! `notification_type`, `message` (Codex took Claude's names; Copilot
//! says `toolName`, `toolArgs`, `transcriptPath`, and its event is the
//! hook command's argument). Only what
//! amux reads is kept: [`hook_event`] turns it into a small
//! `protocol::ShimEvent` with op `hook`, short enough to reach the
//! runner's FIFO in one atomic write, and the agent's adapter says what
//! it means (`Adapter::extension`). Everything here is data from the
//! agent: unknown fields are ignored, odd ones make no event.

use super::{Env, Kind};
use crate::protocol::{AgentState, Ask, ShimEvent, State, StateSource, Waiting};
use serde::Deserialize;
use serde_json::Value;
use std::path::PathBuf;

/// How much of a command or a question a `waiting` carries.
const MAX_TEXT: usize = 400;

/// A command hook's stdin, as far as amux reads it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct HookInput {
    hook_event_name: Option<String>,
    #[serde(alias = "transcriptPath")]
    transcript_path: Option<PathBuf>,
    /// `SessionStart`: startup, resume, clear, compact (Copilot: new,
    /// resume).
    source: Option<String>,
    #[serde(alias = "toolName")]
    tool_name: Option<String>,
    #[serde(alias = "toolInput", alias = "toolArgs")]
    tool_input: Option<Value>,
    notification_type: Option<String>,
    message: Option<String>,
    /// What failed: Copilot's `errorOccurred` has `{message}`; Claude's and
    /// Qwen's `StopFailure` a word (`invalid_request`), so any shape reads.
    error: Option<Value>,
    /// Claude's and Qwen's `StopFailure`: the error's words.
    error_details: Option<String>,
    /// Copilot names its conversation only by this.
    #[serde(alias = "sessionId")]
    session_id: Option<String>,
}

/// The `hook` event of a command hook's stdin, or `None` if it is not a
/// hook's JSON object. `named`, the hook command's own word for its event,
/// comes before the input's; an input that names its conversation only by
/// its session id names the file `agent` keeps it in (`env`: the hook's).
pub fn hook_event(raw: &[u8], named: Option<&str>, agent: Kind, env: Env) -> Option<ShimEvent> {
    let input: HookInput = serde_json::from_slice(raw).ok()?;
    let event = (named.map(str::to_owned))
        .or(input.hook_event_name)
        .filter(|e| !e.is_empty())?;
    let text = (input.tool_input.as_ref())
        .and_then(what_it_does)
        .or(input.message)
        .or(input.error_details)
        .or_else(|| {
            let error = input.error?;
            let message = error.get("message").unwrap_or(&error);
            message.as_str().map(str::to_owned)
        });
    Some(ShimEvent {
        op: "hook".into(),
        event: Some(cut(&event, 64)),
        path: (input.transcript_path)
            .or_else(|| agent.hook_transcript(input.session_id.as_deref()?, env))
            .filter(|p| p.is_absolute()),
        reason: input.source.map(|s| cut(&s, 32)),
        tool: input.tool_name.map(|t| cut(&t, 64)),
        text: text.map(|t| cut(&t, MAX_TEXT)),
        notice: input.notification_type.map(|n| cut(&n, 64)),
        ..ShimEvent::default()
    })
}

/// What a tool call does, in the words a user would check: a command, a
/// path, a question.
fn what_it_does(input: &Value) -> Option<String> {
    let field = |name: &str| input.get(name).and_then(Value::as_str);
    let question = || {
        let first = input.get("questions")?.get(0)?;
        first.get("question")?.as_str()
    };
    let text = field("command")
        .or_else(|| field("file_path"))
        .or_else(|| field("url"))
        .or_else(|| field("pattern"))
        .or_else(question)
        .or_else(|| field("description"))?;
    Some(text.to_string())
}

/// At most `max` characters of `text`.
fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// A state said by a hook (the runner stamps its time).
pub(super) fn said(state: State, answers: bool) -> AgentState {
    AgentState {
        state,
        waiting: None,
        source: StateSource::Hook,
        at_ms: 0,
        answers,
        ..AgentState::default()
    }
}

/// A `waiting` said by a hook: what it asks, of which tool.
pub(super) fn asks(kind: Ask, event: &ShimEvent) -> AgentState {
    AgentState {
        waiting: Some(Waiting {
            kind,
            tool: event.tool.clone(),
            text: event.text.clone(),
            since: String::new(),
        }),
        ..said(State::Waiting, false)
    }
}

/// The command an agent's hook runs to reach the runner: this very
/// binary's `hook` verb (the agent's name follows), or `None` for a path
/// that is no text.
pub fn hook_command(exe: &std::path::Path) -> Option<String> {
    Some(format!("{} {}", quoted(exe.to_str()?), quoted("hook")))
}

/// `word` as one word of a POSIX shell command line.
pub(super) fn quoted(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_permission_request_keeps_what_is_asked() {
        let raw = br#"{"session_id":"s","transcript_path":"/h/p/s.jsonl","cwd":"/w",
            "hook_event_name":"PermissionRequest","tool_name":"Bash",
            "tool_input":{"command":"touch /tmp/x","description":"Create x"},"extra":[1]}"#;
        let e = read(raw, None).expect("a hook event");
        assert_eq!(e.op, "hook");
        assert_eq!(e.event.as_deref(), Some("PermissionRequest"));
        assert_eq!(e.tool.as_deref(), Some("Bash"));
        assert_eq!(e.text.as_deref(), Some("touch /tmp/x"));
        assert_eq!(
            e.path.as_deref(),
            Some(std::path::Path::new("/h/p/s.jsonl"))
        );
    }

    /// What `amux hook` reads, outside any agent's environment.
    fn read(raw: &[u8], named: Option<&str>) -> Option<ShimEvent> {
        hook_event(raw, named, Kind::SHELL, &|_| None)
    }

    #[test]
    fn odd_input_makes_no_event_or_a_short_one() {
        assert_eq!(read(b"not json", None), None);
        assert_eq!(read(b"[1,2]", None), None);
        assert_eq!(read(br#"{"session_id":"s"}"#, None), None);
        let long = "x".repeat(10_000);
        let raw = format!(
            r#"{{"hook_event_name":"Notification","message":"{long}","transcript_path":"rel.jsonl"}}"#
        );
        let e = read(raw.as_bytes(), None).unwrap();
        assert_eq!(e.path, None, "a relative path is no transcript");
        assert!(crate::protocol::to_json(&e).len() < 1024);
    }

    #[test]
    fn a_question_reads_as_its_text() {
        let raw = br#"{"hook_event_name":"PreToolUse","tool_name":"AskUserQuestion",
            "tool_input":{"questions":[{"question":"Which colour?","options":[]}]}}"#;
        let text = read(raw, None).unwrap().text;
        assert_eq!(text.as_deref(), Some("Which colour?"));
    }

    #[test]
    fn a_stop_failure_of_claude_or_qwen_reads_with_its_error_in_words() {
        let raw = include_str!("../../tests/fixtures/qwen/hooks.log")
            .lines()
            .find_map(|l| l.strip_prefix("StopFailure "))
            .expect("a StopFailure");
        let e = read(raw.as_bytes(), None).expect("an event");
        assert_eq!(e.event.as_deref(), Some("StopFailure"));
        assert_eq!(e.text.as_deref(), Some("400 fake invalid request"));
    }

    #[test]
    fn copilots_hooks_are_named_by_their_command_and_read_in_its_words() {
        let fixture = include_str!("../../tests/fixtures/copilot/hooks.log");
        let input = |name: &str| {
            let line = fixture.lines().find(|l| l.contains(name)).expect(name);
            let json = line.split_once(' ').unwrap().1.split_once(' ').unwrap().1;
            json.as_bytes()
        };
        let asked = read(
            input("copilot-permissionRequest"),
            Some("permissionRequest"),
        );
        let asked = asked.expect("an event");
        assert_eq!(asked.event.as_deref(), Some("permissionRequest"));
        assert_eq!(asked.tool.as_deref(), Some("bash"));
        assert_eq!(asked.text.as_deref(), Some("touch created-by-tool.txt"));
        let stop = read(input("copilot-agentStop"), Some("agentStop")).unwrap();
        assert!(stop.path.is_some_and(|p| p.ends_with("events.jsonl")));
        let failed = read(input("copilot-errorOccurred"), Some("errorOccurred"));
        assert!(failed
            .unwrap()
            .text
            .unwrap()
            .contains("fake invalid request"));
        // Its prompt names the session by id only: the file is Copilot's.
        let env = |k: &str| (k == "COPILOT_HOME").then(|| "/h/.cp".to_string());
        let raw = input("copilot-userPromptSubmitted");
        let said = hook_event(raw, Some("userPromptSubmitted"), Kind::COPILOT, &env).unwrap();
        let file = "/h/.cp/session-state/c007b8f4-288d-4ce2-97de-e4a3df4c1c66/events.jsonl";
        assert_eq!(said.path.as_deref(), Some(std::path::Path::new(file)));
    }

    #[test]
    fn words_are_quoted_for_sh() {
        assert_eq!(quoted("/usr/bin/amux"), "'/usr/bin/amux'");
        assert_eq!(quoted("/a b/it's"), r"'/a b/it'\''s'");
    }
}
