//! What pi's amux extension (`hook/pi-extension.mjs`) says, as amux reads
//! it: pi's own events, each the moment pi knows (DESIGN §14; facts
//! measured with pi 0.73.1 against a loopback model).
//!
//! - `session` names the file pi holds. After a switch the user commanded
//!   (`/new`, `/resume`, `/fork`) or `/reload`, pi is between turns: the
//!   Enter that asked for it is answered. So is a pi started with no
//!   prompt on its command line (pi's own `argv`, read with pi's grammar:
//!   [`prompted`]): it waits at its editor, and `wait --until idle`
//!   returns at once.
//! - `agent_start` / `agent_end` bracket a prompt's work (each attempt of
//!   a retried one: whether pi tries again, and whether a failed turn is
//!   over, is its file's — the extension gets no retry event).
//! - `bash` / `bash_end` bracket a `!cmd` (pi's `user_bash` has no end
//!   event; the extension watches for pi recording its result).
//! - `taken`: an Enter pi acted on without a turn, a `!cmd` or a switch
//!   (`/name`, a picker, an empty line), or a compaction it asked for
//!   ended: answered, idle. pi's pickers are not `waiting`: pi asks
//!   nothing of a tool, the user drives its own interface.
//! - `retry_cancelled`: Escape after a failed attempt, before pi tried
//!   again: in a back-off pi gives up (its screen: "Retry failed …
//!   Retry cancelled") and writes nothing; the turn has failed.
//!
//! Every op carries pi's session name (`name`), which becomes the
//! report's `title`: `/name` before the first prompt is in no file yet.

use super::text::title;
use super::Extension;
use crate::protocol::{AgentState, ShimEvent, State, StateSource};

/// What one op of the extension says.
pub fn extension(event: &ShimEvent) -> Option<Extension> {
    let said = |state, answers, label: Option<String>| AgentState {
        state,
        source: StateSource::Extension,
        answers,
        label,
        title: event.name.as_deref().and_then(title),
        ..AgentState::default()
    };
    Some(match event.op.as_str() {
        "session" => {
            let Some(path) = event.path.clone().filter(|p| p.is_absolute()) else {
                return Some(Extension::NoPath);
            };
            let between_turns = match event.reason.as_deref() {
                Some("new" | "resume" | "fork" | "reload") => true,
                Some("startup") => event.argv.as_deref().is_some_and(|a| !prompted(a)),
                _ => false,
            };
            if between_turns {
                Extension::Entered(path, said(State::Idle, true, None))
            } else {
                Extension::Holds(path)
            }
        }
        "agent_start" => Extension::State(said(State::Working, false, None)),
        "agent_end" => Extension::State(said(State::Idle, false, None)),
        "bash" => {
            let command = event.text.as_deref().and_then(title);
            Extension::State(said(
                State::Working,
                false,
                command.map(|c| format!("!{c}")),
            ))
        }
        "bash_end" | "taken" => Extension::State(said(State::Idle, true, None)),
        // Escape after a failed attempt: if pi meant to retry, it gave up
        // (the extension cannot tell a back-off from a turn that already
        // failed for good, so the label says only the error, true of both).
        // The turn the last prompt asked for is over: answered.
        "retry_cancelled" => {
            let why = event.text.as_deref().and_then(title);
            let label = format!("error: {}", why.as_deref().unwrap_or("unknown"));
            Extension::State(said(State::Error, true, Some(label)))
        }
        _ => return None,
    })
}

/// pi 0.73's options that take the next word as their value
/// (`dist/cli/args.js`, `parseArgs`).
const VALUED: &[&str] = &[
    "--mode",
    "--provider",
    "--model",
    "--api-key",
    "--system-prompt",
    "--append-system-prompt",
    "--session",
    "--fork",
    "--session-dir",
    "--models",
    "--tools",
    "-t",
    "--thinking",
    "--export",
    "--extension",
    "-e",
    "--skill",
    "--prompt-template",
    "--theme",
];

/// Its options that take none.
const BARE: &[&str] = &[
    "--help",
    "-h",
    "--version",
    "-v",
    "--continue",
    "-c",
    "--resume",
    "-r",
    "--no-session",
    "--no-tools",
    "-nt",
    "--no-builtin-tools",
    "-nbt",
    "--no-extensions",
    "-ne",
    "--no-skills",
    "-ns",
    "--no-prompt-templates",
    "-np",
    "--no-themes",
    "--no-context-files",
    "-nc",
    "--verbose",
    "--offline",
];

/// Whether pi's arguments give it a prompt to start with (a message, or
/// an `@file`), read as pi 0.73 reads them: an unknown `--flag` takes the
/// next word unless it looks like an option or a file; `-p` takes the
/// next as its message unless it does.
pub fn prompted(args: &[String]) -> bool {
    let opt = |s: &str| s.starts_with('-') || s.starts_with('@');
    let mut words = args.iter().map(String::as_str).peekable();
    while let Some(arg) = words.next() {
        let next = words.peek().copied();
        if VALUED.contains(&arg) && next.is_some() {
            words.next();
        } else if arg == "--print" || arg == "-p" {
            if next.is_some_and(|n| {
                !n.starts_with('@') && (!n.starts_with('-') || n.starts_with("---"))
            }) {
                return true;
            }
        } else if BARE.contains(&arg) {
        } else if arg.starts_with('@') {
            return true;
        } else if arg.starts_with("--") {
            // `--list-models [pattern]` and an extension's own flags.
            if !arg.contains('=') && next.is_some_and(|n| !opt(n)) {
                words.next();
            }
        } else if !arg.starts_with('-') {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        line.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn a_prompt_on_the_command_line_is_read_as_pi_reads_it() {
        let table = [
            ("", false),
            ("--provider fake --model m", false),
            ("-e /x/pi-extension.mjs -c", false),
            ("--session /a/f.jsonl -c", false),
            ("hello", true),
            ("--model m hello", true),
            ("@notes.md", true),
            ("-p", false),
            ("-p hi", true),
            ("-p @f.md", true),
            ("-p --model m", false),
            ("--print ---dashes", true),
            ("--list-models", false),
            ("--list-models gpt", false),
            ("--my-flag value", false),
            ("--my-flag=value hi", true),
            ("--my-flag -c", false),
            ("-x", false),
            ("--mode rpc", false),
            ("--mode", false),
            ("-c hello", true),
        ];
        for (line, want) in table {
            assert_eq!(prompted(&words(line)), want, "{line:?}");
        }
    }

    fn op(json: &str) -> ShimEvent {
        serde_json::from_str(json).expect("a shim event")
    }

    /// (state, answers, label, title) of a state op; what else it is.
    fn read(json: &str) -> String {
        match extension(&op(json)) {
            Some(Extension::State(s)) | Some(Extension::Entered(_, s)) => {
                let entered = matches!(extension(&op(json)), Some(Extension::Entered(..)));
                format!(
                    "{}{:?} answers={} label={:?} title={:?}",
                    if entered { "entered " } else { "" },
                    s.state,
                    s.answers,
                    s.label,
                    s.title
                )
            }
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn each_op_says_a_state_or_a_file() {
        let f = "/s/--w--/a.jsonl";
        let table = [
            (
                format!(r#"{{"op":"session","path":"{f}","reason":"startup","argv":["-c"]}}"#),
                "entered Idle answers=true label=None title=None".to_string(),
            ),
            (
                format!(r#"{{"op":"session","path":"{f}","reason":"startup","argv":["hi"]}}"#),
                format!("Some(Holds({f:?}))"),
            ),
            // No argv (an older extension): nothing known of a prompt.
            (
                format!(r#"{{"op":"session","path":"{f}","reason":"startup"}}"#),
                format!("Some(Holds({f:?}))"),
            ),
            (
                format!(r#"{{"op":"session","path":"{f}","reason":"new","name":null}}"#),
                "entered Idle answers=true label=None title=None".into(),
            ),
            (
                format!(r#"{{"op":"session","path":"{f}","reason":"resume","name":"foo"}}"#),
                r#"entered Idle answers=true label=None title=Some("foo")"#.into(),
            ),
            (
                r#"{"op":"session","path":null,"reason":"new"}"#.into(),
                "Some(NoPath)".into(),
            ),
            (
                r#"{"op":"agent_start","name":"  my   task "}"#.into(),
                r#"Working answers=false label=None title=Some("my task")"#.into(),
            ),
            (
                r#"{"op":"agent_end"}"#.into(),
                "Idle answers=false label=None title=None".into(),
            ),
            (
                r#"{"op":"bash","text":"sleep 6"}"#.into(),
                r#"Working answers=false label=Some("!sleep 6") title=None"#.into(),
            ),
            (
                r#"{"op":"bash_end"}"#.into(),
                "Idle answers=true label=None title=None".into(),
            ),
            (
                r#"{"op":"taken","name":"foo"}"#.into(),
                r#"Idle answers=true label=None title=Some("foo")"#.into(),
            ),
            (
                r#"{"op":"retry_cancelled","text":"500 boom"}"#.into(),
                r#"Error answers=true label=Some("error: 500 boom") title=None"#.into(),
            ),
            (r#"{"op":"agent_pause"}"#.into(), "None".into()),
        ];
        for (json, want) in table {
            assert_eq!(read(&json), want, "{json}");
        }
        let entered = extension(&op(&format!(
            r#"{{"op":"session","path":"{f}","reason":"fork"}}"#
        )));
        assert!(
            matches!(entered, Some(Extension::Entered(ref p, _)) if p.as_path() == std::path::Path::new(f)),
            "{entered:?}"
        );
    }
}
