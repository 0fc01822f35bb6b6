//! Qwen Code: `$QWEN_HOME/projects/<cwd, / as ->/chats/<uuid>.jsonl`
//! (`QWEN_HOME` defaults to `~/.qwen`), Claude-like records: `user` and
//! `assistant` with `message.parts` (text, `functionCall`; a reply Esc cut
//! short has no `usageMetadata`), `tool_result` (`[Operation Cancelled]`
//! when the user refused the call: the turn ends there),
//! and `system` records — `custom_title` (the title, `/rename` or its
//! model's), `ui_telemetry` whose `qwen-code.api_error` is a failed turn.
//!
//! Its own word comes from command hooks, which it took from Claude Code
//! (the same events and input): amux hands it a settings file of its own
//! as the *system defaults* (`QWEN_CODE_SYSTEM_DEFAULTS_PATH`, the lowest
//! layer: the user's settings stay above it), written into the session's
//! own directory. Not when the user or the machine has system defaults of
//! their own (ours would hide them): then the file alone tells, labelled.
//! Its `SessionStart` names the transcript at start; the rest reads as
//! Claude's (`claude_hooks::extension`). Its window title says its state
//! at each change too (`title_state`): the only word of an Esc. Qwen re-executes itself twice,
//! so the preload (which disarms in children) is not used.

use super::{claude, claude_hooks, dir_from, launch, Adapter, Derived, Env, Extension, HookSite};
use super::{Launch, Lines, Names, Place};
use crate::protocol::{AgentState, Ask, State, StateSource, Waiting};
use serde_json::Value;
use std::path::{Path, PathBuf};

pub struct Qwen;

/// Where the machine's own system defaults would be (ours replace them).
const SYSTEM_DEFAULTS: &str = "/etc/qwen-code/system-defaults.json";
const DEFAULTS_VAR: &str = "QWEN_CODE_SYSTEM_DEFAULTS_PATH";

/// Qwen's words that run no interactive session.
const SUBCOMMANDS: &[&str] = &["hooks", "sessions", "mcp", "extensions", "auth", "channel"];

impl Adapter for Qwen {
    fn name(&self) -> &'static str {
        "qwen"
    }

    fn names(&self) -> Names {
        Names {
            programs: &["qwen"],
            packages: &["@qwen-code/qwen-code"],
            dirs: &[],
        }
    }

    fn uses_hooks(&self) -> bool {
        true
    }

    /// `$QWEN_HOME`, default `~/.qwen`.
    fn config_dir(&self, env: Env) -> Option<PathBuf> {
        dir_from(env, "QWEN_HOME", ".qwen")
    }

    fn session_root(&self, _args: &[String], env: Env) -> Option<PathBuf> {
        Some(self.config_dir(env)?.join("projects"))
    }

    fn root_depth(&self, _args: &[String], _env: Env) -> usize {
        2
    }

    /// `<project>/chats/<uuid>.jsonl` only.
    fn is_conversation(&self, rel: &Path) -> bool {
        let parts: Vec<_> = rel.iter().collect();
        matches!(parts.as_slice(), [_, chats, _] if *chats == "chats")
    }

    fn launch_file(&self, args: &[String], cwd: &Path, roots: &[PathBuf]) -> Option<PathBuf> {
        if args.iter().any(|a| a == "--fork-session") {
            return None;
        }
        let id = launch::option(args, &["--resume", "-r", "--session-id"])?;
        Some(id).filter(|id| claude::is_id(id))?;
        let dir = claude::project_dir_name(cwd.to_str()?);
        Some(
            roots
                .first()?
                .join(dir)
                .join("chats")
                .join(format!("{id}.jsonl")),
        )
    }

    fn launch(&self, args: &[String], env: Env, hooks: HookSite) -> Launch {
        let subcommand = args
            .first()
            .is_some_and(|a| SUBCOMMANDS.contains(&a.as_str()));
        let theirs = env(DEFAULTS_VAR).is_some() || Path::new(SYSTEM_DEFAULTS).exists();
        let (Some(base), Some(own), false, false) = (hooks.command, hooks.own, subcommand, theirs)
        else {
            return Launch::default();
        };
        let file = own.join("qwen-defaults.json");
        let Some(path) = file.to_str().map(str::to_owned) else {
            return Launch::default();
        };
        Launch {
            env: vec![(DEFAULTS_VAR.to_owned(), path)],
            files: vec![(file, claude_hooks::layer(base, "qwen"))],
            ..Launch::default()
        }
    }

    fn resume_args(&self, file: &Path, id: Option<&str>) -> Option<Vec<String>> {
        let stem = || file.file_stem()?.to_str().map(str::to_owned);
        let id = id
            .map(str::to_owned)
            .or_else(stem)
            .filter(|i| claude::is_id(i))?;
        Some(vec!["--resume".to_owned(), id])
    }

    fn options(&self) -> super::resume::Options {
        OPTIONS
    }

    fn lines(&self, _place: &Place) -> Box<dyn Lines> {
        Box::new(QwenLines)
    }

    /// Claude's reading, but for `SessionStart` at startup: Qwen says it
    /// then, up with nothing to do (Claude's pidfile says that for it).
    /// Its `PermissionRequest` says nothing here: it runs before the
    /// dialog is drawn (0.2–0.4 s on a loaded machine), while the window
    /// title's `✳` comes with the dialog — `waiting` from then on, with the
    /// call its file already holds.
    fn extension(&self, event: &crate::protocol::ShimEvent) -> Option<Extension> {
        let hook = |name: &str| event.op == "hook" && event.event.as_deref() == Some(name);
        let startup = hook("SessionStart") && event.reason.as_deref() == Some("startup");
        match (startup, event.path.clone()) {
            (true, Some(path)) => {
                let idle = super::hooks::said(crate::protocol::State::Idle, false);
                Some(Extension::Entered(path, idle))
            }
            _ if hook("PermissionRequest") => Some(Extension::Nothing),
            _ => claude_hooks::extension(event),
        }
    }

    fn title_state(&self, title: &str) -> Option<AgentState> {
        title_state(title)
    }

    /// Its title's `✳` is set as the dialog is drawn: a moment for the
    /// frame to reach the terminal.
    fn dialog_grace(&self) -> super::Grace {
        super::Grace {
            after_signal_ms: DIALOG_DRAWN_MS,
            after_enter_ms: 0,
        }
    }

    /// Its dialog: "1. Allow once", "2. Allow always" (for the
    /// project), "No (esc)" (tests/real_qwen.rs answers 1 and Esc).
    fn answer_keys(&self, answer: super::Answer) -> Option<&'static str> {
        Some(match answer {
            super::Answer::Yes => "1",
            super::Answer::Always => "2",
            super::Answer::No => "\x1b",
        })
    }
}

/// Qwen's window title says its state at each change (on by default): a
/// `◐` before it while it responds, `✳` while a dialog waits for the
/// user, nothing before it otherwise. That is how an Esc that cut a reply
/// short (nothing written, no hook) is seen at once. Its idle does not
/// answer the input (a title may be set again for a rename).
fn title_state(title: &str) -> Option<AgentState> {
    let state = match title.trim_start().chars().next()? {
        '\u{25d0}' => State::Working,
        '\u{2733}' => State::Waiting,
        _ => State::Idle,
    };
    Some(AgentState {
        state,
        waiting: (state == State::Waiting).then(|| Waiting {
            kind: Ask::Permission,
            ..Waiting::default()
        }),
        source: StateSource::WindowTitle,
        ..AgentState::default()
    })
}

/// How long after its title says it waits Qwen's dialog is on the screen.
const DIALOG_DRAWN_MS: i64 = 100;

/// 0.24.4's `--help`.
const OPTIONS: super::resume::Options = super::resume::Options {
    valued: &[
        "-m",
        "--model",
        "--fallback-model",
        "--system-prompt",
        "--append-system-prompt",
        "--output-style",
        "--approval-mode",
        "--channel",
        "--allowed-mcp-server-names",
        "--mcp-config",
        "--allowed-tools",
        "-e",
        "--extensions",
        "--include-directories",
        "--add-dir",
        "--openai-logging-dir",
        "--openai-api-key",
        "--openai-base-url",
        "--input-format",
        "-o",
        "--output-format",
        "--json-fd",
        "--json-file",
        "--json-schema",
        "--input-file",
        "--worktree",
        "--max-session-turns",
        "--max-wall-time",
        "--max-tool-calls",
        "--max-subagent-depth",
        "--core-tools",
        "--exclude-tools",
        "--disabled-slash-commands",
        "--auth-type",
        "--proxy",
        "--sandbox-image",
    ],
    choosing: &["-c", "--continue", "-r", "--resume", "--fork-session"],
    choosing_valued: &["--session-id"],
    optional_value: &["-r", "--resume"],
    dropped: &["-p", "--prompt", "-i", "--prompt-interactive"],
    subcommand: None,
    foreign: SUBCOMMANDS,
};

struct QwenLines;

impl Lines for QwenLines {
    fn feed(&mut self, d: &mut Derived, v: &Value) {
        let parts = v["message"]["parts"]
            .as_array()
            .map_or(&[][..], Vec::as_slice);
        let text: String = (parts.iter())
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join("");
        match v["type"].as_str().unwrap_or_default() {
            "user" if !text.trim().is_empty() => {
                if d.title.is_none() {
                    d.title = super::text::title(&text);
                }
                d.conversation_id = v["sessionId"].as_str().map(str::to_owned);
                d.header_cwd = d.header_cwd.take().or_else(|| text_at(v, "cwd"));
                d.user_turn(&text);
            }
            "assistant" => {
                let call = parts.iter().find_map(|p| p.get("functionCall"));
                match call {
                    Some(call) => {
                        let name = call["name"].as_str().unwrap_or("tool");
                        d.tool_call(name, text_at(&call["args"], "command"));
                    }
                    // A reply Esc cut short is saved without its usage
                    // (no hook tells the interrupt).
                    None if !text.is_empty() => {
                        super::text::push_tail(&mut d.text_tail, &text);
                        if v.get("usageMetadata").is_some() {
                            d.reply_done();
                        } else {
                            let at = v["timestamp"].as_str();
                            d.interrupted(at.and_then(crate::timefmt::parse_epoch_ms));
                        }
                    }
                    None => {}
                }
            }
            // A call the user refused (Esc at its dialog) ends the turn
            // there, and no hook says so.
            "tool_result" if parts.iter().any(cancelled) => {
                let at = v["timestamp"].as_str();
                d.interrupted(at.and_then(crate::timefmt::parse_epoch_ms));
            }
            "tool_result" => d.tool_result(),
            "system" => system(d, v),
            _ => {}
        }
    }
}

/// A `system` record: the title, or a failed request.
fn system(d: &mut Derived, v: &Value) {
    let payload = &v["systemPayload"];
    match v["subtype"].as_str().unwrap_or_default() {
        "custom_title" => {
            if let Some(title) = payload["customTitle"].as_str().and_then(super::text::title) {
                d.title = Some(title);
            }
        }
        "ui_telemetry" if payload["uiEvent"]["event.name"] == "qwen-code.api_error" => {
            d.failed(payload["uiEvent"]["error_message"].as_str());
        }
        _ => {}
    }
}

/// A tool's result that says the user refused it.
fn cancelled(part: &Value) -> bool {
    let error = &part["functionResponse"]["response"]["error"];
    error
        .as_str()
        .is_some_and(|e| e.starts_with("[Operation Cancelled]"))
}

fn text_at(v: &Value, key: &str) -> Option<String> {
    v.get(key)?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::super::{derive_all, fixture, Kind, Place};
    use super::*;

    fn upto(lines: &[String], pred: impl Fn(&str) -> bool) -> Derived {
        let n = lines.iter().position(|l| pred(l)).expect("a line") + 1;
        derive_all(
            Kind::QWEN,
            &Place::default(),
            lines[..n].join("\n").as_bytes(),
        )
    }

    #[test]
    fn the_file_tells_turns_the_call_asked_about_errors_and_the_title() {
        let lines = fixture::lines("qwen/tool-error-rename.jsonl");
        let assistant =
            |l: &str, has: &str| l.contains("\"type\":\"assistant\"") && l.contains(has);
        let first = upto(&lines, |l| assistant(l, "Hello from fake openai"));
        assert!(!first.working && first.unread);
        assert_eq!(first.title.as_deref(), Some("say hi please"));
        let asking = upto(&lines, |l| assistant(l, "functionCall"));
        assert!(asking.working);
        let call = asking.pending_call().expect("the call");
        assert_eq!(
            (call.name.as_str(), call.text.as_deref()),
            ("run_shell_command", Some("touch created-by-tool.txt"))
        );
        let ran = upto(&lines, |l| l.contains("\"tool_result\""));
        assert!(ran.working && ran.pending_call().is_none());
        let failed = upto(&lines, |l| l.contains("qwen-code.api_error"));
        assert!(failed.error && !failed.working);
        let all = derive_all(Kind::QWEN, &Place::default(), lines.join("\n").as_bytes());
        assert_eq!(all.title.as_deref(), Some("my-title"));
        assert_eq!(
            all.conversation_id.as_deref(),
            Some("0ba347f6-120f-4259-a99b-f671f4d73f63")
        );
        let cut = r#"{"type":"assistant","timestamp":"2026-12-06T07:44:51.280Z","message":{"role":"model","parts":[{"text":"word0 word1 "}]}}"#;
        let mut cut_short = lines[..1].to_vec();
        cut_short.push(cut.to_string());
        let cut = derive_all(
            Kind::QWEN,
            &Place::default(),
            cut_short.join("\n").as_bytes(),
        );
        assert!(
            !cut.working && !cut.unread && cut.interrupts == 1,
            "{cut:?}"
        );
        let refused = r#"{"type":"tool_result","timestamp":"2026-12-06T07:50:23.101Z","message":{"role":"user","parts":[{"functionResponse":{"id":"call_1","name":"run_shell_command","response":{"error":"[Operation Cancelled] Reason: User did not allow tool call"}}}]}}"#;
        let mut asked: Vec<String> = lines
            .iter()
            .take_while(|l| !assistant(l, "functionCall"))
            .cloned()
            .collect();
        asked.push(
            lines
                .iter()
                .find(|l| assistant(l, "functionCall"))
                .unwrap()
                .clone(),
        );
        asked.push(refused.to_string());
        let refused = derive_all(Kind::QWEN, &Place::default(), asked.join("\n").as_bytes());
        assert!(!refused.working && refused.interrupts == 1, "{refused:?}");
        let one = derive_all(
            Kind::QWEN,
            &Place::default(),
            fixture::read("qwen/one-turn.jsonl").as_bytes(),
        );
        assert!(one.unread && !one.working);
    }

    #[test]
    fn its_window_title_says_its_state() {
        let state = |t: &str| title_state(t).map(|s| s.state);
        assert_eq!(state("\u{25d0}\u{fe0e} Qwen - proj"), Some(State::Working));
        assert_eq!(state("\u{2733}\u{fe0e} Qwen - proj"), Some(State::Waiting));
        assert_eq!(state("Qwen - proj"), Some(State::Idle));
        assert_eq!(state("my-title   "), Some(State::Idle));
        assert_eq!(state(""), None);
    }

    #[test]
    fn a_chat_is_a_conversation_and_the_launch_line_names_one() {
        let roots = [PathBuf::from("/h/.qwen/projects")];
        let id = "0ba347f6-120f-4259-a99b-f671f4d73f63";
        let file = roots[0].join(format!("-tmp-p/chats/{id}.jsonl"));
        assert!(Kind::QWEN.accepts(&file, &roots, None));
        assert!(!Kind::QWEN.accepts(&roots[0].join("-tmp-p/x.jsonl"), &roots, None));
        let args: Vec<String> = ["--model", "m", "-r", id].map(String::from).to_vec();
        assert_eq!(
            Qwen.launch_file(&args, Path::new("/tmp/p"), &roots),
            Some(file.clone())
        );
        let argv: Vec<String> = ["qwen", "--approval-mode", "default", "-p", "hi"]
            .map(String::from)
            .to_vec();
        let cmd = Kind::QWEN.resume_command(&argv, &file, None).unwrap();
        assert_eq!(cmd, ["qwen", "--approval-mode", "default", "--resume", id]);
    }

    #[test]
    fn its_hooks_are_system_defaults_in_the_sessions_own_dir_unless_there_are_some() {
        let own = PathBuf::from("/run/amux/sessions/k.d");
        let site = HookSite {
            dir: None,
            command: Some("'/usr/bin/amux' 'hook'"),
            own: Some(&own),
        };
        let launch = Kind::QWEN.launch(&fixture::argv("qwen"), &|_| None, true, site);
        if Path::new(SYSTEM_DEFAULTS).exists() {
            return assert_eq!(launch, Launch::default());
        }
        let [(var, path)] = launch.env.as_slice() else {
            panic!("{launch:?}")
        };
        assert_eq!(
            (var.as_str(), path.as_str()),
            (DEFAULTS_VAR, "/run/amux/sessions/k.d/qwen-defaults.json")
        );
        let [(file, json)] = launch.files.as_slice() else {
            panic!("{launch:?}")
        };
        assert_eq!(file, &own.join("qwen-defaults.json"));
        let v: Value = serde_json::from_str(json).unwrap();
        let command = &v["hooks"]["PermissionRequest"][0]["hooks"][0]["command"];
        assert_eq!(command, "'/usr/bin/amux' 'hook' 'qwen'");
        let theirs = |k: &str| (k == DEFAULTS_VAR).then(|| "/etc/mine.json".to_string());
        assert_eq!(
            Kind::QWEN.launch(&fixture::argv("qwen"), &theirs, true, site),
            Launch::default()
        );
    }
}
