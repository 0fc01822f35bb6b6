//! GitHub Copilot CLI: `$COPILOT_HOME/session-state/<uuid>/events.jsonl`
//! (`COPILOT_HOME` defaults to `~/.copilot`), an append-only log of
//! typed events written from the first prompt on — `user.message`,
//! `assistant.message` (with its `toolRequests`), `permission.requested`
//! while the dialog is open, `session.error`, `assistant.turn_end` after
//! every model call (so not the end of a turn by itself), `abort` for an
//! interrupt (the one moment no hook tells).
//!
//! Its own word comes from command hooks given per launch as a plugin
//! directory (`--plugin-dir`, `copilot_hooks.rs`), written into the
//! session's own directory: nothing goes into the user's `COPILOT_HOME`.
//! Its native binary ignores NODE_OPTIONS, so there is no preload; the
//! hooks name the conversation by its session id (`hook_transcript`).

use super::{
    copilot_hooks, dir_from, launch, Adapter, Derived, Env, Extension, HookSite, Launch, Lines,
    Names,
};
use serde_json::Value;
use std::path::{Path, PathBuf};

pub struct Copilot;

impl Adapter for Copilot {
    fn name(&self) -> &'static str {
        "copilot"
    }

    fn names(&self) -> Names {
        Names {
            programs: &["copilot"],
            packages: &["@github/copilot"],
            dirs: &[],
        }
    }

    fn uses_hooks(&self) -> bool {
        true
    }

    /// `$COPILOT_HOME`, default `~/.copilot`.
    fn config_dir(&self, env: Env) -> Option<PathBuf> {
        dir_from(env, "COPILOT_HOME", ".copilot")
    }

    fn session_root(&self, _args: &[String], env: Env) -> Option<PathBuf> {
        Some(self.config_dir(env)?.join("session-state"))
    }

    fn root_depth(&self, _args: &[String], _env: Env) -> usize {
        2
    }

    /// `<uuid>/events.jsonl`, nothing else of the session's directory.
    fn is_conversation(&self, rel: &Path) -> bool {
        let mut parts = rel.iter();
        let (Some(dir), Some(name), None) = (parts.next(), parts.next(), parts.next()) else {
            return false;
        };
        name == "events.jsonl" && dir.to_str().is_some_and(is_id)
    }

    fn is_header(&self, first: &Value) -> bool {
        first["type"] == "session.start" && first["data"]["producer"] == "copilot-agent"
    }

    fn launch_file(&self, args: &[String], _cwd: &Path, roots: &[PathBuf]) -> Option<PathBuf> {
        let id = launch::option(args, &["--resume", "-r", "--session-id"])?;
        Some(id).filter(|id| is_id(id))?;
        Some(roots.first()?.join(id).join("events.jsonl"))
    }

    fn launch(&self, args: &[String], _env: Env, hooks: HookSite) -> Launch {
        copilot_hooks::launch(args, hooks)
    }

    fn hook_transcript(&self, session_id: &str, env: Env) -> Option<PathBuf> {
        is_id(session_id).then_some(())?;
        Some(
            self.session_root(&[], env)?
                .join(session_id)
                .join("events.jsonl"),
        )
    }

    fn resume_args(&self, file: &Path, id: Option<&str>) -> Option<Vec<String>> {
        let from_dir = || file.parent()?.file_name()?.to_str().map(str::to_owned);
        let id = id
            .map(str::to_owned)
            .or_else(from_dir)
            .filter(|i| is_id(i))?;
        Some(vec![format!("--resume={id}")])
    }

    fn options(&self) -> super::resume::Options {
        copilot_hooks::OPTIONS
    }

    fn lines(&self, _place: &super::Place) -> Box<dyn Lines> {
        Box::<CopilotLines>::default()
    }

    fn extension(&self, event: &crate::protocol::ShimEvent) -> Option<Extension> {
        copilot_hooks::extension(event)
    }

    /// Its `permissionRequest` hook runs ~0.15 s before the dialog is
    /// drawn (measured): `waiting` from when it is up.
    fn dialog_grace(&self) -> super::Grace {
        super::Grace {
            after_signal_ms: 300,
            after_enter_ms: 0,
        }
    }

    /// Its dialog: "1. Yes", "2. Yes, and don't ask again …", "3. No";
    /// Esc denies (tests/real_copilot.rs answers 1 and Esc).
    fn answer_keys(&self, answer: super::Answer) -> Option<&'static str> {
        Some(match answer {
            super::Answer::Yes => "1",
            super::Answer::Always => "2",
            super::Answer::No => "\x1b",
        })
    }

    /// Nothing of it says it is up: started with nothing to do, it is idle
    /// (its first hook comes with the first prompt).
    fn idle_when_fresh(&self) -> bool {
        true
    }
}

/// A session id: a UUID, which is all a path may be built from.
fn is_id(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// What the log said last that decides the next `assistant.turn_end`.
#[derive(Default)]
struct CopilotLines {
    /// The last assistant message had text and asked for no tool: the
    /// model call it ends is the turn's last.
    final_reply: bool,
}

impl Lines for CopilotLines {
    fn feed(&mut self, d: &mut Derived, line: &Value) {
        let data = &line["data"];
        let text = |v: &Value| v.as_str().map(str::to_owned);
        match line["type"].as_str().unwrap_or_default() {
            "session.start" => {
                d.conversation_id = text(&data["sessionId"]);
                d.header_cwd = text(&data["context"]["cwd"]);
                d.created_at = (data["startTime"].as_str()).and_then(crate::timefmt::parse_epoch);
            }
            "user.message" => {
                let content = data["content"].as_str().unwrap_or_default();
                if d.title.is_none() {
                    d.title = super::text::title(content);
                }
                d.user_turn(content);
                self.final_reply = false;
            }
            "assistant.turn_start" => d.working = true,
            "assistant.message" => {
                let asks = data["toolRequests"].as_array().and_then(|r| r.first());
                if let Some(call) = asks {
                    let name = call["name"].as_str().unwrap_or("tool");
                    d.tool_call(name, text(&call["arguments"]["command"]));
                }
                let content = data["content"].as_str().unwrap_or_default();
                super::text::push_tail(&mut d.text_tail, content);
                self.final_reply = asks.is_none() && !content.is_empty();
            }
            "tool.execution_start" => d.tool(data["toolName"].as_str()),
            // The dialog is about the call the model just asked for (its
            // tool's name, `bash`; the request says only its kind, `shell`).
            "permission.requested" => {
                let asked = &data["permissionRequest"];
                let command = text(&asked["fullCommandText"]);
                match d.tool_call.as_mut() {
                    Some(call) if !call.answered => call.text = command.or(call.text.take()),
                    _ => d.tool_call(asked["kind"].as_str().unwrap_or("tool"), command),
                }
            }
            "permission.completed" | "tool.execution_complete" => d.tool_result(),
            "assistant.turn_end" if self.final_reply => d.reply_done(),
            "session.error" => d.failed(data["message"].as_str()),
            // Esc Esc: the turn is over with no reply, and no hook says so.
            "abort" => d.interrupted(
                line["timestamp"]
                    .as_str()
                    .and_then(crate::timefmt::parse_epoch_ms),
            ),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{derive_all, Kind, Place};
    use super::*;

    const TWO_TURNS: &str =
        include_str!("../../tests/fixtures/copilot/events-with-hooks-and-resume.jsonl");

    #[test]
    fn the_log_tells_turns_tools_errors_and_the_title() {
        let lines: Vec<&str> = TWO_TURNS.lines().collect();
        let upto = |pred: &dyn Fn(&str) -> bool| {
            let n = lines.iter().position(|l| pred(l)).expect("a line") + 1;
            derive_all(
                Kind::COPILOT,
                &Place::default(),
                lines[..n].join("\n").as_bytes(),
            )
        };
        let asking = upto(&|l| l.contains("\"permission.requested\""));
        assert!(asking.working);
        let call = asking.pending_call().expect("the call it asks about");
        assert_eq!(call.text.as_deref(), Some("touch created-by-tool.txt"));
        let mid = upto(&|l| l.contains("\"tool.execution_complete\""));
        assert!(mid.working && !mid.unread);
        let first_end = lines
            .iter()
            .position(|l| l.contains("\"content\":\"Tool finished."))
            .unwrap();
        let done = derive_all(
            Kind::COPILOT,
            &Place::default(),
            lines[..first_end + 2].join("\n").as_bytes(),
        );
        assert!(!done.working && done.unread, "{done:?}");
        assert_eq!(done.title.as_deref(), Some("please runcmd"));
        let failed = upto(&|l| l.contains("\"session.error\""));
        assert!(failed.error && !failed.working);
        let all = derive_all(Kind::COPILOT, &Place::default(), TWO_TURNS.as_bytes());
        assert!(!all.working && all.unread && !all.error, "{all:?}");
        assert_eq!(
            all.conversation_id.as_deref(),
            Some("c007b8f4-288d-4ce2-97de-e4a3df4c1c66")
        );
    }

    #[test]
    fn an_abort_ends_the_turn_with_no_reply_at_its_own_time() {
        let log = [
            r#"{"type":"user.message","data":{"content":"answer slowly"}}"#,
            r#"{"type":"assistant.turn_start","data":{"turnId":"0"}}"#,
            r#"{"type":"assistant.turn_end","data":{"turnId":"0"}}"#,
            r#"{"type":"abort","data":{"reason":"user_abort"},"timestamp":"2026-12-06T07:32:38.250Z"}"#,
        ];
        let d = derive_all(Kind::COPILOT, &Place::default(), log.join("\n").as_bytes());
        assert!(!d.working && !d.unread && !d.error, "{d:?}");
        assert_eq!(
            (d.interrupts, d.interrupted_ms),
            (1, Some(1_796_542_358_250))
        );
    }

    #[test]
    fn only_a_sessions_event_log_is_a_conversation() {
        let roots = [PathBuf::from("/h/.copilot/session-state")];
        let id = "c007b8f4-288d-4ce2-97de-e4a3df4c1c66";
        let at = |rel: &str| roots[0].join(rel);
        assert!(Kind::COPILOT.accepts(&at(&format!("{id}/events.jsonl")), &roots, None));
        assert!(!Kind::COPILOT.accepts(&at(&format!("{id}/other.jsonl")), &roots, None));
        assert!(!Kind::COPILOT.accepts(&at("x/events.jsonl"), &roots, None));
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let named = Copilot.launch_file(
            &args(&["--model", "m", &format!("--resume={id}")]),
            Path::new("/"),
            &roots,
        );
        assert_eq!(named, Some(at(&format!("{id}/events.jsonl"))));
        assert_eq!(
            Copilot.launch_file(&args(&["--resume", "my-name"]), Path::new("/"), &roots),
            None
        );
        let env = |k: &str| (k == "COPILOT_HOME").then(|| "/h/.copilot".to_string());
        assert_eq!(
            Copilot.hook_transcript(id, &env),
            Some(at(&format!("{id}/events.jsonl")))
        );
        assert_eq!(Copilot.hook_transcript("../../etc", &env), None);
    }

    #[test]
    fn a_resume_keeps_the_users_options() {
        let argv: Vec<String> = [
            "copilot",
            "--model",
            "gpt",
            "--allow-tool",
            "shell(ls)",
            "-p",
            "hi",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let file = Path::new(
            "/h/.copilot/session-state/c007b8f4-288d-4ce2-97de-e4a3df4c1c66/events.jsonl",
        );
        let cmd = Kind::COPILOT.resume_command(&argv, file, None).unwrap();
        assert_eq!(
            cmd,
            [
                "copilot",
                "--model",
                "gpt",
                "--allow-tool",
                "shell(ls)",
                "--resume=c007b8f4-288d-4ce2-97de-e4a3df4c1c66"
            ]
        );
    }
}
