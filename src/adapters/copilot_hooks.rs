//! Copilot CLI's hooks, added per launch: `--plugin-dir DIR` loads a
//! plugin (`DIR/.plugin/plugin.json`) whose `hooks/hooks.json` runs a
//! command at each moment — ours run `amux hook copilot EVENT`
//! (`hooks.rs`; Copilot does not name the event in the hook's input).
//! DIR is the session's own directory (`HookSite::own`), written by the
//! runner: the user's `COPILOT_HOME` and plugins are untouched, and a
//! plugin adds to theirs.
//!
//! What each moment says (verified with 1.0.102, DESIGN §15):
//! `sessionStart` (at the first prompt, `source` new or resume) names the
//! session; `userPromptSubmitted`, `preToolUse`, `postToolUse`,
//! `postToolUseFailure` and `preCompact` are work; `permissionRequest`
//! is the dialog, with its tool and command (the `notification` of type
//! `permission_prompt` that follows it says the same with less: it is
//! not listened to); `agentStop` ends the turn, `errorOccurred` fails it. A `permissionRequest` hook may decide the dialog by what it
//! prints: `amux hook` prints nothing, so Copilot asks the user as ever.
//! Not added to a subcommand (`copilot mcp …`), which runs no session.

use super::hooks::{asks, quoted, said};
use super::resume::Options;
use super::{Extension, HookSite, Launch};
use crate::protocol::{Ask, ShimEvent, State};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The moments amux listens to.
const EVENTS: &[&str] = &[
    "sessionStart",
    "userPromptSubmitted",
    "preToolUse",
    "postToolUse",
    "postToolUseFailure",
    "permissionRequest",
    "agentStop",
    "errorOccurred",
    "preCompact",
];

/// Copilot's words that run no interactive session.
const SUBCOMMANDS: &[&str] = &[
    "app",
    "login",
    "help",
    "init",
    "config",
    "update",
    "version",
    "workflow",
    "sessions",
    "memories",
    "plugin",
    "mcp",
    "skill",
    "instruction",
    "lsp",
    "sandbox",
    "completion",
];

/// Seconds Copilot gives a hook (ours returns at once).
const TIMEOUT: u32 = 5;

/// 1.0.102's `--help`: options with a value, and those that choose the
/// session or were for that run only.
pub(super) const OPTIONS: Options = Options {
    valued: &[
        "--model",
        "--reasoning-effort",
        "--context",
        "--auto-tier",
        "--agent",
        "-n",
        "--name",
        "-C",
        "--log-dir",
        "--extension-sdk-path",
        "--log-level",
        "--stream",
        "--output-format",
        "--add-dir",
        "--attachment",
        "--disable-mcp-server",
        "--add-github-mcp-toolset",
        "--add-github-mcp-tool",
        "--plugin-dir",
        "--additional-mcp-config",
        "--mcp-github-auth",
        "--max-autopilot-continues",
        "--mode",
        "--environment-host",
        "--environment-compute-id",
        "--dynamic-retrieval",
        "--enable-mcp-server",
        "--max-ai-credits",
        "--usage-output-file",
        // Each takes a list; a resume keeps the first word of it.
        "--allow-tool",
        "--deny-tool",
        "--available-tools",
        "--excluded-tools",
        "--secret-env-vars",
        "--allow-url",
        "--deny-url",
    ],
    choosing: &["--continue", "-r", "--resume", "--connect"],
    choosing_valued: &["--session-id"],
    optional_value: &["-r", "--resume", "--connect"],
    dropped: &[
        "-i",
        "--interactive",
        "-p",
        "--prompt",
        "--share",
        "--share-gist",
    ],
    subcommand: None,
    foreign: SUBCOMMANDS,
};

#[derive(Serialize)]
struct Plugin {
    name: &'static str,
    description: &'static str,
    version: &'static str,
}

#[derive(Serialize)]
struct Hooks {
    version: u32,
    hooks: BTreeMap<&'static str, [Command; 1]>,
}

#[derive(Serialize)]
struct Command {
    #[serde(rename = "type")]
    kind: &'static str,
    bash: String,
    #[serde(rename = "timeoutSec")]
    timeout: u32,
}

/// `--plugin-dir <own>/copilot-plugin` and that plugin's two files,
/// unless this is a subcommand or the runner has no FIFO or directory.
pub(super) fn launch(args: &[String], site: HookSite) -> Launch {
    let subcommand = args
        .first()
        .is_some_and(|a| SUBCOMMANDS.contains(&a.as_str()));
    let (Some(command), Some(own), false) = (site.command, site.own, subcommand) else {
        return Launch::default();
    };
    let dir = own.join("copilot-plugin");
    let Some(dir_arg) = dir.to_str().map(str::to_owned) else {
        return Launch::default();
    };
    Launch {
        args: vec!["--plugin-dir".into(), dir_arg],
        files: files(&dir, command),
        ..Launch::default()
    }
}

fn files(dir: &Path, command: &str) -> Vec<(std::path::PathBuf, String)> {
    let plugin = Plugin {
        name: "amux",
        description: "tells amux what this session is doing",
        version: env!("CARGO_PKG_VERSION"),
    };
    let hook = |event: &str| Command {
        kind: "command",
        bash: format!("{command} {} {}", quoted("copilot"), quoted(event)),
        timeout: TIMEOUT,
    };
    let hooks = Hooks {
        version: 1,
        hooks: EVENTS.iter().map(|e| (*e, [hook(e)])).collect(),
    };
    vec![
        (
            dir.join(".plugin/plugin.json"),
            crate::protocol::to_json(&plugin),
        ),
        (
            dir.join("hooks/hooks.json"),
            crate::protocol::to_json(&hooks),
        ),
    ]
}

/// What one of Copilot's hooks says.
pub(super) fn extension(event: &ShimEvent) -> Option<Extension> {
    if event.op != "hook" {
        return None;
    }
    Some(match event.event.as_deref()? {
        "sessionStart" => match event.path.clone() {
            Some(path) => Extension::Holds(path),
            None => Extension::NoPath,
        },
        "userPromptSubmitted"
        | "preToolUse"
        | "postToolUse"
        | "postToolUseFailure"
        | "preCompact" => Extension::State(said(State::Working, false)),
        "permissionRequest" => Extension::State(asks(Ask::Permission, event)),
        // Idle, but not the input's answer by itself: Copilot runs this
        // hook before its events reach the file, and `wait` must not
        // return before the reply is saved — the file's turn end is.
        "agentStop" => Extension::State(said(State::Idle, false)),
        "errorOccurred" => Extension::State(said(State::Error, true)),
        _ => Extension::Nothing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::{fixture, Kind};
    use std::path::PathBuf;

    fn site(own: &Path) -> HookSite<'_> {
        HookSite {
            dir: None,
            command: Some("'/usr/bin/amux' 'hook'"),
            own: Some(own),
        }
    }

    #[test]
    fn the_plugin_runs_our_hook_for_every_moment_from_the_sessions_own_dir() {
        let own = PathBuf::from("/run/amux/sessions/k.d");
        let launch = Kind::COPILOT.launch(&fixture::argv("copilot"), &|_| None, true, site(&own));
        assert_eq!(
            launch.args,
            ["--plugin-dir", "/run/amux/sessions/k.d/copilot-plugin"]
        );
        let [(plugin, _), (hooks, json)] = launch.files.as_slice() else {
            panic!("{launch:?}")
        };
        assert!(plugin.ends_with(".plugin/plugin.json") && plugin.starts_with(&own));
        assert!(hooks.ends_with("hooks/hooks.json") && hooks.starts_with(&own));
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(v["version"], 1);
        for event in EVENTS {
            let bash = v["hooks"][event][0]["bash"].as_str().unwrap();
            assert_eq!(bash, format!("'/usr/bin/amux' 'hook' 'copilot' '{event}'"));
        }
    }

    #[test]
    fn no_plugin_for_a_subcommand_or_without_a_fifo() {
        let own = PathBuf::from("/o");
        let mcp: Vec<String> = ["copilot", "mcp", "list"].map(String::from).to_vec();
        assert_eq!(
            Kind::COPILOT.launch(&mcp, &|_| None, true, site(&own)),
            Launch::default()
        );
        let bare = HookSite {
            own: Some(&own),
            ..HookSite::default()
        };
        let argv = fixture::argv("copilot");
        assert_eq!(
            Kind::COPILOT.launch(&argv, &|_| None, true, bare),
            Launch::default()
        );
    }

    #[test]
    fn the_dialog_is_waiting_with_its_command_and_agent_stop_ends_the_turn() {
        let hook = |event: &str, notice: Option<&str>| ShimEvent {
            op: "hook".into(),
            event: Some(event.into()),
            tool: Some("bash".into()),
            text: Some("touch x".into()),
            notice: notice.map(str::to_owned),
            ..ShimEvent::default()
        };
        let Some(Extension::State(asked)) = extension(&hook("permissionRequest", None)) else {
            panic!()
        };
        assert_eq!(asked.state, State::Waiting);
        assert_eq!(asked.waiting.unwrap().text.as_deref(), Some("touch x"));
        let Some(Extension::State(done)) = extension(&hook("agentStop", None)) else {
            panic!()
        };
        assert!(done.state == State::Idle && !done.answers);
        let other = extension(&hook("sessionEnd", None));
        assert_eq!(other, Some(Extension::Nothing));
    }
}
