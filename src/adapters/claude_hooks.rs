//! Claude Code's hooks, added per launch: `--settings '<json>'` is a
//! settings layer of its own whose `hooks` add to the user's (nothing is
//! written to `$CLAUDE_CONFIG_DIR` or the project), each running `amux
//! hook claude` (`hooks.rs`), which reports the moment to the runner.
//!
//! What each moment says (DESIGN §14): `SessionStart` names the
//! transcript (`source` `clear` or `resume`: a switch the user commanded,
//! answered at once); `UserPromptSubmit`, `PreToolUse`, `PostToolUse` and
//! `PreCompact` are work; `PermissionRequest` is the dialog, with its tool
//! and command; a `Notification` of type `elicitation_dialog` is a
//! question; `Stop` ends the turn, `StopFailure` fails it. Claude has no
//! hook for an Esc interrupt, a denied or granted permission, or a picker:
//! its pidfile (`claude.rs`) tells those, and the daemon orders the two
//! by time. A `permission_prompt` notification repeats `PermissionRequest`
//! with less in it, `idle_prompt` comes a minute late, a subagent's stop
//! is not the session's: they say nothing here.
//!
//! Not added when the user gives `--settings` themselves (Claude keeps one
//! layer: ours would replace theirs), nor to a subcommand that runs no
//! session (`claude mcp …`).

use super::hooks::{asks, quoted, said};
use super::{Extension, HookSite, Launch};
use crate::protocol::{Ask, ShimEvent, State};
use serde::Serialize;
use std::collections::BTreeMap;

/// The moments amux listens to.
const EVENTS: &[&str] = &[
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse",
    "PostToolUse",
    "PermissionRequest",
    "Notification",
    "Stop",
    "StopFailure",
    "PreCompact",
];

/// Claude's words that run no interactive session.
const SUBCOMMANDS: &[&str] = &[
    "mcp",
    "config",
    "doctor",
    "update",
    "install",
    "migrate-installer",
    "setup-token",
    "plugin",
];

/// Seconds Claude gives a hook (ours returns at once).
const TIMEOUT: u32 = 5;

/// A settings layer: only `hooks`.
#[derive(Serialize)]
struct Settings<'a> {
    hooks: BTreeMap<&'static str, [Group<'a>; 1]>,
}

#[derive(Serialize)]
struct Group<'a> {
    hooks: [Command<'a>; 1],
}

#[derive(Serialize)]
struct Command<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    command: &'a str,
    timeout: u32,
}

/// `--settings <layer>` with amux's hooks, unless the user's own command
/// line rules it out.
pub(super) fn launch(args: &[String], hooks: HookSite) -> Launch {
    let theirs = args
        .iter()
        .any(|a| a == "--settings" || a.starts_with("--settings="));
    let subcommand = args
        .first()
        .is_some_and(|a| SUBCOMMANDS.contains(&a.as_str()));
    let Some(base) = hooks.command.filter(|_| !theirs && !subcommand) else {
        return Launch::default();
    };
    Launch {
        args: vec!["--settings".into(), layer(base, "claude")],
        ..Launch::default()
    }
}

/// A settings layer (JSON) whose hooks run `base AGENT` at each of
/// `EVENTS` — Claude's, and Qwen Code's, which took Claude's hooks.
pub(super) fn layer(base: &str, agent: &str) -> String {
    let command = format!("{base} {}", quoted(agent));
    let group = || {
        [Group {
            hooks: [Command {
                kind: "command",
                command: &command,
                timeout: TIMEOUT,
            }],
        }]
    };
    let layer = Settings {
        hooks: EVENTS.iter().map(|e| (*e, group())).collect(),
    };
    crate::protocol::to_json(&layer)
}

/// What one of Claude's hooks says.
pub(super) fn extension(event: &ShimEvent) -> Option<Extension> {
    if event.op != "hook" {
        return None;
    }
    Some(match event.event.as_deref()? {
        "SessionStart" => match (event.path.clone(), event.reason.as_deref()) {
            (None, _) => Extension::NoPath,
            (Some(path), Some("clear" | "resume")) => Extension::Switched(path),
            (Some(path), _) => Extension::Holds(path),
        },
        "UserPromptSubmit" | "PreToolUse" | "PostToolUse" | "PreCompact" => {
            Extension::State(said(State::Working, false))
        }
        "PermissionRequest" => Extension::State(asks(Ask::Permission, event)),
        "Notification" if event.notice.as_deref() == Some("elicitation_dialog") => {
            Extension::State(asks(Ask::Question, event))
        }
        "Stop" => Extension::State(said(State::Idle, true)),
        "StopFailure" => Extension::State(said(State::Error, true)),
        _ => Extension::Nothing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::{fixture, Kind};
    use std::path::Path;

    #[test]
    fn the_layer_names_every_moment_with_our_command() {
        let site = HookSite {
            dir: None,
            command: Some("'/usr/bin/amux' 'hook'"),
            own: None,
        };
        let launch = Kind::CLAUDE.launch(&fixture::argv("claude"), &|_| None, true, site);
        let [flag, layer] = launch.args.as_slice() else {
            panic!("{launch:?}")
        };
        assert_eq!(flag, "--settings");
        let v: serde_json::Value = serde_json::from_str(layer).unwrap();
        for e in EVENTS {
            let c = &v["hooks"][e][0]["hooks"][0];
            assert_eq!(c["type"], "command");
            assert_eq!(c["command"], "'/usr/bin/amux' 'hook' 'claude'");
        }
        // The user's own layer, a subcommand, no FIFO, --no-inject: none.
        for argv in [
            "claude --settings x.json",
            "claude --settings=x",
            "claude mcp list",
        ] {
            let l = Kind::CLAUDE.launch(&fixture::argv(argv), &|_| None, true, site);
            assert_eq!(l, Launch::default(), "{argv}");
        }
        let none = HookSite::default();
        let l = Kind::CLAUDE.launch(&fixture::argv("claude"), &|_| None, true, none);
        assert_eq!(l, Launch::default());
        let l = Kind::CLAUDE.launch(&fixture::argv("claude"), &|_| None, false, site);
        assert_eq!(l, Launch::default());
    }

    #[test]
    fn moments_read_as_states() {
        let hook = |name: &str| ShimEvent {
            op: "hook".into(),
            event: Some(name.into()),
            ..ShimEvent::default()
        };
        let state = |e: ShimEvent| match extension(&e) {
            Some(Extension::State(s)) => (s.state, s.waiting.map(|w| w.kind), s.answers),
            other => panic!("{other:?}"),
        };
        assert_eq!(state(hook("UserPromptSubmit")).0, State::Working);
        assert_eq!(state(hook("Stop")), (State::Idle, None, true));
        assert_eq!(state(hook("StopFailure")).0, State::Error);
        let asked = ShimEvent {
            tool: Some("Bash".into()),
            text: Some("touch x".into()),
            ..hook("PermissionRequest")
        };
        assert_eq!(state(asked), (State::Waiting, Some(Ask::Permission), false));
        let question = ShimEvent {
            notice: Some("elicitation_dialog".into()),
            ..hook("Notification")
        };
        assert_eq!(state(question).1, Some(Ask::Question));
        let prompt = ShimEvent {
            notice: Some("permission_prompt".into()),
            ..hook("Notification")
        };
        assert_eq!(extension(&prompt), Some(Extension::Nothing));
        assert_eq!(extension(&hook("SubagentStop")), Some(Extension::Nothing));
        let start = |source: &str| ShimEvent {
            path: Some("/c/p/s.jsonl".into()),
            reason: Some(source.into()),
            ..hook("SessionStart")
        };
        let file = Path::new("/c/p/s.jsonl").to_path_buf();
        assert_eq!(
            extension(&start("startup")),
            Some(Extension::Holds(file.clone()))
        );
        assert_eq!(extension(&start("clear")), Some(Extension::Switched(file)));
        assert_eq!(extension(&hook("SessionStart")), Some(Extension::NoPath));
        assert_eq!(extension(&ShimEvent::default()), None);
    }
}
