//! Codex (`@openai/codex`): rollout files, titles, status.
//!
//! A rollout starts with `session_meta` (`payload.id`, `payload.cwd`,
//! `payload.timestamp`). Turns are bracketed by `event_msg` lines
//! `task_started` and `task_complete`; the conversation itself is in
//! `response_item` lines (`payload.type` message with a role,
//! function_call, …). Codex injects its own context as `user` messages
//! (`<environment_context>`, `<user_instructions>`, AGENTS.md contents),
//! so the title is the first user message that is none of those. Older
//! versions also write `event_msg` `user_message` with the bare prompt.

use super::text::{content_text, push_tail, str_at, string_at, title};
use super::{
    dir_from, Adapter, Derived, Env, Extension, Grace, Guess, HookSite, Kind, Launch, Lines, Names,
    Place, Probe, Report,
};
use crate::attribution::Source;
use crate::protocol::{self, AgentState, Ask, StateSource, Waiting};
use serde_json::Value;
use std::path::{Path, PathBuf};

pub struct Codex;

impl Adapter for Codex {
    fn name(&self) -> &'static str {
        "codex"
    }

    fn names(&self) -> Names {
        Names {
            programs: &["codex"],
            packages: &["@openai/codex"],
            dirs: &[],
        }
    }

    /// `$CODEX_HOME`, default `~/.codex`.
    fn config_dir(&self, env: Env) -> Option<PathBuf> {
        dir_from(env, "CODEX_HOME", ".codex")
    }

    fn session_root(&self, _args: &[String], env: Env) -> Option<PathBuf> {
        Some(self.config_dir(env)?.join("sessions"))
    }

    /// `YYYY/MM/DD/rollout-….jsonl`.
    fn root_depth(&self, _args: &[String], _env: Env) -> usize {
        3
    }

    fn is_header(&self, v: &Value) -> bool {
        str_at(v, "type") == Some("session_meta")
            && v.get("payload").and_then(|p| str_at(p, "id")).is_some()
    }

    /// `codex resume ID`: the rollout of that id, when it exists.
    fn launch_file(&self, args: &[String], _cwd: &Path, roots: &[PathBuf]) -> Option<PathBuf> {
        let at = args.iter().position(|a| a == "resume")?;
        let id = args[at + 1..].iter().find(|a| !a.starts_with('-'))?;
        find_rollout(roots.first()?, id)
    }

    fn resume_args(&self, file: &Path, id: Option<&str>) -> Option<Vec<String>> {
        let id = id.map(str::to_owned).or_else(|| id_from_file(file))?;
        Some(vec!["resume".to_owned(), id])
    }

    /// 0.169.0's `--help` (and `codex resume --help`: the same options).
    fn options(&self) -> super::resume::Options {
        super::resume::Options {
            valued: &[
                "-c",
                "--config",
                "--enable",
                "--disable",
                "--remote",
                "--remote-auth-token-env",
                "-i",
                "--image",
                "-m",
                "--model",
                "--local-provider",
                "-p",
                "--profile",
                "-s",
                "--sandbox",
                "-C",
                "--cd",
                "--add-dir",
                "-a",
                "--ask-for-approval",
            ],
            choosing: &["--last", "--all", "--include-non-interactive"],
            choosing_valued: &[],
            optional_value: &[],
            dropped: &[],
            subcommand: Some("resume"),
            foreign: &[
                "exec", "e", "review", "apply", "a", "mcp", "login", "logout",
            ],
        }
    }

    fn lines(&self, _place: &Place) -> Box<dyn Lines> {
        Box::<State>::default()
    }

    /// Codex (a native binary) keeps its rollout open for appending: the
    /// newest such fd in the session's process tree names the file.
    fn report(&self, probe: &Probe) -> Report {
        let accept = |p: &Path| Kind::CODEX.accepts(p, &probe.roots, None);
        let file = crate::procfs::newest_append_writer(probe.pid, &accept);
        Report {
            file: file.map(|f| (f, Source::Procfd)),
            ..Report::default()
        }
    }

    fn guesses(&self) -> &'static [Guess] {
        &[Guess::Metadata, Guess::Mtime]
    }

    fn uses_hooks(&self) -> bool {
        true
    }

    /// Two additions, each unless the user has their own. The TUI says
    /// when it asks for approval only as a terminal notification, and
    /// only when configured to: unless the user configured
    /// `tui.notifications` (their `config.toml` or their own `-c`), we
    /// ask for it for this launch, and its OSC 9s are ours. And its
    /// command hooks, trusted for this launch (`codex_hooks.rs`), unless
    /// the user passes hooks with `-c` themselves (ours would replace
    /// theirs, or theirs ours).
    fn launch(&self, args: &[String], env: Env, hooks: HookSite) -> Launch {
        let mut launch = Launch::default();
        let notices = args.iter().any(|a| a.contains("tui.notification"))
            || self
                .config_dir(env)
                .is_some_and(|d| configures_notifications(&d));
        if !notices {
            let overrides = [
                r#"tui.notifications=["approval-requested","agent-turn-complete"]"#,
                r#"tui.notification_method="osc9""#,
                r#"tui.notification_condition="always""#,
            ];
            launch.args = (overrides.iter())
                .flat_map(|a| ["-c".to_string(), a.to_string()])
                .collect();
            launch.owns_osc9 = true;
        }
        let their_hooks = args.iter().any(|a| a.starts_with("hooks"));
        if let Some(base) = hooks.command.filter(|_| !their_hooks) {
            let command = format!("{base} {}", super::hooks::quoted("codex"));
            launch
                .args
                .extend(super::codex_hooks::hook_overrides(&command));
        }
        launch
    }

    fn extension(&self, event: &protocol::ShimEvent) -> Option<Extension> {
        super::codex_hooks::extension(event)
    }

    /// `/new` starts a conversation Codex writes only at the next prompt,
    /// while it keeps the old rollout open (and its fd would name it).
    fn command(&self, line: &str) -> Option<super::Command> {
        (line == "/new").then_some(super::Command::NewConversation)
    }

    /// Measured with 0.169.0: the approval is drawn 1005–1011 ms after
    /// the last key, whenever it was asked; a key before that goes to the
    /// composer (and pushes the dialog back), one after it answers.
    fn dialog_grace(&self) -> Grace {
        Grace {
            after_signal_ms: 0,
            after_enter_ms: 1100,
        }
    }

    /// Its approval's shortcuts, as 0.169.0 draws them: "1. Yes, proceed
    /// (y)", "2. Yes, and don't ask again for commands that start with
    /// `…` (p)", "3. No, and tell Codex what to do differently (esc)".
    fn answer_keys(&self, answer: super::Answer) -> Option<&'static str> {
        Some(match answer {
            super::Answer::Yes => "y",
            super::Answer::Always => "p",
            super::Answer::No => "\x1b",
        })
    }

    /// `OSC 7501 ; state=<s>:app=codex[:kind=<k>]`, written by 0.169.0
    /// at each change of its own (seen: `idle` at start and after `/new`
    /// or an interrupt, `working`, `blocked` with `kind=permission` at an
    /// approval, `done` when a turn completes, `error`). `idle` and
    /// `done` answer the input before them: a `/new` takes no turn.
    fn terminal_state(&self, payload: &str) -> Option<AgentState> {
        let mut fields = payload.split(':');
        let state = fields.next()?.strip_prefix("state=")?;
        let rest: Vec<&str> = fields.collect();
        if !rest.contains(&"app=codex") {
            return None;
        }
        let (state, answers) = match state {
            "working" => (protocol::State::Working, false),
            "idle" | "done" => (protocol::State::Idle, true),
            "blocked" => (protocol::State::Waiting, false),
            "error" => (protocol::State::Error, true),
            _ => return None,
        };
        let kind = match rest.iter().find_map(|f| f.strip_prefix("kind=")) {
            Some("permission") | None => Ask::Permission,
            Some("question" | "user_input" | "request_user_input") => Ask::Question,
            Some(_) => Ask::Other,
        };
        Some(AgentState {
            state,
            waiting: (state == protocol::State::Waiting).then(|| Waiting {
                kind,
                ..Waiting::default()
            }),
            source: StateSource::Osc7501,
            at_ms: 0,
            answers,
            ..AgentState::default()
        })
    }

    fn notice_state(&self, body: &str) -> Option<AgentState> {
        let asked = body.strip_prefix("Approval requested")?;
        let text = asked.trim_start_matches(':').trim();
        Some(AgentState {
            state: protocol::State::Waiting,
            waiting: Some(Waiting {
                kind: Ask::Permission,
                tool: None,
                text: Some(text.to_string()).filter(|t| !t.is_empty()),
                since: String::new(),
            }),
            source: StateSource::Osc9,
            at_ms: 0,
            answers: false,
            ..AgentState::default()
        })
    }
}

impl Lines for State {
    fn feed(&mut self, d: &mut Derived, v: &Value) {
        feed(self, d, v)
    }
}

/// How injected context messages begin (besides a whole `<tag>…</tag>`).
const INJECTED_PREFIXES: &[&str] = &[
    "# AGENTS.md instructions",
    "<environment_context>",
    "<user_instructions>",
];

#[derive(Default)]
pub(super) struct State {
    first_user: Option<String>,
    /// The running task compacted the conversation (`/compact`): its end
    /// is no reply.
    compacting: bool,
}

fn feed(st: &mut State, d: &mut Derived, v: &Value) {
    let Some(p) = v.get("payload") else { return };
    match (str_at(v, "type"), str_at(p, "type")) {
        (Some("session_meta"), _) if d.conversation_id.is_none() => {
            d.conversation_id = string_at(p, "id");
            d.header_cwd = string_at(p, "cwd");
            let stamp = str_at(p, "timestamp").or_else(|| str_at(v, "timestamp"));
            d.created_at = stamp.and_then(crate::timefmt::parse_epoch);
        }
        (Some("event_msg"), Some("task_started")) => {
            st.compacting = false;
            d.working = true;
            d.error = false;
            d.label = None;
        }
        (Some("compacted"), _) | (Some("event_msg"), Some("context_compacted")) => {
            st.compacting = true;
        }
        (Some("event_msg"), Some("task_complete")) if st.compacting => d.quiet_end(),
        (Some("event_msg"), Some("task_complete")) => d.reply_done(),
        (Some("event_msg"), Some("turn_aborted")) => {
            d.working = false;
            d.label = None;
        }
        (Some("event_msg"), Some("error")) => d.failed(str_at(p, "message")),
        (Some("event_msg"), Some("user_message")) => {
            user(st, d, str_at(p, "message").unwrap_or(""))
        }
        (Some("response_item"), Some("message")) => message(st, d, p),
        (
            Some("response_item"),
            Some("function_call" | "custom_tool_call" | "local_shell_call"),
        ) => {
            let name = str_at(p, "name").unwrap_or("shell");
            d.tool_call(name, call_text(p));
        }
        // The call ran (or was refused): a question about it is answered.
        (
            Some("response_item"),
            Some("function_call_output" | "custom_tool_call_output" | "local_shell_call_output"),
        ) => d.tool_result(),
        _ => {}
    }
    d.title = st.first_user.clone();
}

/// Whether `<codex home>/config.toml` sets any `tui.notification*` key
/// (in a `[tui]` table or dotted): then notifications are the user's.
fn configures_notifications(dir: &Path) -> bool {
    let Ok(data) = crate::paths::read_untrusted(&dir.join("config.toml"), 1 << 20) else {
        return false;
    };
    let mut table = String::new();
    for line in String::from_utf8_lossy(&data).lines() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix('[') {
            table = name.trim_end_matches(']').trim().to_string();
        } else if line.starts_with("notification") && table == "tui"
            || line.starts_with("tui.notification")
        {
            return true;
        }
    }
    false
}

/// A call's command: `arguments` is a JSON string whose `cmd` or
/// `command` is a string or an argv (`local_shell_call` has `action`).
fn call_text(p: &Value) -> Option<String> {
    let args: Value = match p.get("arguments") {
        Some(Value::String(s)) => serde_json::from_str(s).ok()?,
        _ => p.get("action").cloned()?,
    };
    let cmd = args.get("cmd").or_else(|| args.get("command"))?;
    let text = match cmd {
        Value::String(s) => s.clone(),
        Value::Array(words) => (words.iter().filter_map(Value::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        _ => return None,
    };
    title(&text)
}

fn message(st: &mut State, d: &mut Derived, p: &Value) {
    let content = p.get("content").unwrap_or(&Value::Null);
    match str_at(p, "role") {
        Some("user") => {
            let texts = content
                .as_array()
                .map_or(&[][..], Vec::as_slice)
                .iter()
                .filter_map(|b| str_at(b, "text"));
            let real: Vec<&str> = texts.filter(|t| !is_injected(t)).collect();
            user(st, d, &real.join("\n"));
        }
        Some("assistant") => push_tail(&mut d.text_tail, &content_text(content, &["output_text"])),
        _ => {}
    }
}

/// A prompt the user typed. Older Codex writes it twice (`user_message`
/// and `response_item`); both mean the same turn, so the repeat is harmless.
fn user(st: &mut State, d: &mut Derived, text: &str) {
    if text.trim().is_empty() || is_injected(text) {
        return;
    }
    if st.first_user.is_none() {
        st.first_user = title(text);
    }
    d.user_turn(text);
}

/// Context Codex adds on its own: a known prefix, or one whole
/// `<tag>…</tag>` block (`<turn_aborted>`, `<user_shell_command>`, …).
fn is_injected(text: &str) -> bool {
    let t = text.trim();
    let wrapped = t.starts_with('<') && t.ends_with('>') && t.contains("</");
    wrapped || INJECTED_PREFIXES.iter().any(|p| t.starts_with(p))
}

/// `rollout-<time>-<uuid>.jsonl`: the id is the trailing UUID.
pub fn id_from_file(file: &Path) -> Option<String> {
    let stem = file.file_stem()?.to_str()?;
    let id = stem.get(stem.len().checked_sub(36)?..)?;
    let uuid = id.bytes().enumerate().all(|(i, b)| {
        if [8, 13, 18, 23].contains(&i) {
            b == b'-'
        } else {
            b.is_ascii_hexdigit()
        }
    });
    uuid.then(|| id.to_owned())
}

/// Codex keeps `YYYY/MM/DD/rollout-<time>-<id>.jsonl` under its root.
fn find_rollout(root: &Path, id: &str) -> Option<PathBuf> {
    let suffix = format!("-{id}.jsonl");
    let mut dirs = vec![(root.to_path_buf(), 0)];
    while let Some((dir, depth)) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).ok()?.flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if kind.is_dir() && depth < 3 {
                dirs.push((path, depth + 1));
            } else if kind.is_file()
                && name.starts_with("rollout-")
                && name.ends_with(&suffix)
                && id_from_file(&path).as_deref() == Some(id)
            {
                return Some(path);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::{fixture, Kind};
    use super::*;

    #[test]
    fn fixtures_yield_title_status_id_and_resume() {
        // (file, title, conversation id); all end idle with an unread reply.
        let table = [
            (
                "exec_then_exec_resume_01a20a50",
                "hi",
                "01a20a50-879a-7ae1-be9d-0905e51eb173",
            ),
            (
                "exec_tooluse_01a20a55",
                "run the tool",
                "01a20a55-a09c-76f2-a7d4-cf26bec14e62",
            ),
            (
                "tui_2turns_01a20a54a807",
                "hi",
                "01a20a54-a807-7981-8f32-fc0fece0e494",
            ),
            (
                "tui_then_tui_resume_01a20a5401fa",
                "hi",
                "01a20a54-01fa-70e1-8981-c889c7d4dcc6",
            ),
        ];
        for (name, title, id) in table {
            let d = fixture::derive(Kind::CODEX, 3, &format!("codex/{name}.jsonl"));
            assert_eq!(d.title.as_deref(), Some(title), "{name}");
            assert_eq!(fixture::status(&d), "idle unread", "{name}");
            assert_eq!(d.conversation_id.as_deref(), Some(id), "{name}");
            assert!(
                d.header_cwd
                    .as_deref()
                    .is_some_and(|c| c.starts_with("/home/user/work/cproj")),
                "{name}"
            );
            assert!(!d.text_tail.contains("environment_context"), "{name}");
            let file =
                format!("/h/.codex/sessions/2026/11/23/rollout-2026-11-23T21-35-13-{id}.jsonl");
            let argv = fixture::argv("/usr/bin/codex exec --skip-git-repo-check hi");
            for given in [Some(id), None] {
                let resume = Kind::CODEX.resume_command(&argv, Path::new(&file), given);
                assert_eq!(
                    resume,
                    Some(fixture::argv(&format!("/usr/bin/codex resume {id}"))),
                    "{name}"
                );
            }
        }
    }

    #[test]
    fn tool_call_and_second_turn_status() {
        let lines = fixture::lines("codex/exec_tooluse_01a20a55.jsonl");
        let mut t = fixture::tracker(Kind::CODEX, 3);
        let call = lines
            .iter()
            .position(|l| l.contains("\"function_call\""))
            .unwrap();
        lines[..=call].iter().for_each(|l| t.feed(l.as_bytes()));
        assert!(t.derived().working);
        assert_eq!(t.derived().label.as_deref(), Some("tool: exec_command"));
        assert!(t.derived().pending_call().is_some());
        // What Codex writes after the call before its output (a usage
        // record, `item_completed`) says nothing a question is ended by.
        let at_call = t.derived().clone();
        let output = (lines
            .iter()
            .position(|l| l.contains("\"function_call_output\"")))
        .unwrap();
        lines[call + 1..output]
            .iter()
            .for_each(|l| t.feed(l.as_bytes()));
        assert!(
            output > call + 1,
            "the fixture has bookkeeping lines between"
        );
        assert_eq!(t.derived(), &at_call);
        t.feed(lines[output].as_bytes());
        assert!(
            t.derived().pending_call().is_none(),
            "the output answers it"
        );
        assert_eq!(t.derived().lines, at_call.lines + 1);
        let lines = fixture::lines("codex/tui_2turns_01a20a54a807.jsonl");
        let mut t = fixture::tracker(Kind::CODEX, 3);
        let second = lines
            .iter()
            .position(|l| l.contains("second message"))
            .unwrap();
        lines[..=second].iter().for_each(|l| t.feed(l.as_bytes()));
        assert!(t.derived().working && !t.derived().unread);
        assert_eq!(t.derived().title.as_deref(), Some("hi"));
    }

    #[test]
    fn a_compaction_ends_with_nothing_unread() {
        let mut t = fixture::tracker(Kind::CODEX, 3);
        let lines = [
            r#"{"type":"event_msg","payload":{"type":"user_message","message":"hi"}}"#,
            r#"{"type":"event_msg","payload":{"type":"task_complete"}}"#,
            r#"{"type":"event_msg","payload":{"type":"task_started"}}"#,
            r#"{"type":"compacted","payload":{"message":"summary"}}"#,
            r#"{"type":"event_msg","payload":{"type":"context_compacted"}}"#,
        ];
        lines.iter().for_each(|l| t.feed(l.as_bytes()));
        assert!(t.derived().working, "compacting is work");
        t.feed(br#"{"type":"event_msg","payload":{"type":"task_complete"}}"#);
        assert!(!t.derived().working && !t.derived().unread);
        assert_eq!(t.derived().turns_ended, 2);
        // The next task is a turn again: its end is a reply.
        t.feed(br#"{"type":"event_msg","payload":{"type":"task_started"}}"#);
        t.feed(br#"{"type":"event_msg","payload":{"type":"task_complete"}}"#);
        assert!(t.derived().unread);
    }

    #[test]
    fn injected_context_is_recognised() {
        for (text, want) in [
            (
                "<environment_context>\n  <cwd>/x</cwd>\n</environment_context>",
                true,
            ),
            (
                "# AGENTS.md instructions for /x\n\n<INSTRUCTIONS>…</INSTRUCTIONS>",
                true,
            ),
            ("<user_instructions>be brief</user_instructions>", true),
            ("fix <b>this</b>", false),
            ("hi", false),
        ] {
            assert_eq!(is_injected(text), want, "{text:?}");
        }
        let bad = Path::new("/s/rollout-2026-11-23T21-35-13-not-a-uuid.jsonl");
        assert_eq!(id_from_file(bad), None);
    }

    #[test]
    fn notifications_are_asked_for_unless_the_user_configured_them() {
        let home = fixture::temp_dir("codex-launch");
        let h = home.to_str().unwrap().to_string();
        let env = move |k: &str| (k == "CODEX_HOME").then(|| h.clone());
        let ours = Kind::CODEX.launch(&fixture::argv("codex"), &env, true, HookSite::default());
        assert!(ours.owns_osc9);
        assert_eq!(ours.args.iter().filter(|a| *a == "-c").count(), 3);
        assert!(ours
            .args
            .iter()
            .any(|a| a == r#"tui.notification_method="osc9""#));
        let theirs = fixture::argv("codex -c tui.notifications=true");
        assert_eq!(
            Kind::CODEX.launch(&theirs, &env, true, HookSite::default()),
            Launch::default()
        );
        for config in [
            "[tui]\nnotifications = true\n",
            "tui.notification_method = \"bel\"\n",
        ] {
            std::fs::write(home.join("config.toml"), config).unwrap();
            assert_eq!(
                Kind::CODEX.launch(&fixture::argv("codex"), &env, true, HookSite::default()),
                Launch::default()
            );
        }
        std::fs::write(home.join("config.toml"), "[other]\nnotifications = 1\n").unwrap();
        assert!(
            Kind::CODEX
                .launch(&fixture::argv("codex"), &env, true, HookSite::default())
                .owns_osc9
        );
        let off = Kind::CODEX.launch(&fixture::argv("codex"), &env, false, HookSite::default());
        assert_eq!(off, Launch::default(), "injection off");
        std::fs::remove_dir_all(&home).unwrap();

        let asked = Kind::CODEX
            .notice_state("Approval requested: touch x")
            .unwrap();
        assert_eq!(asked.state, protocol::State::Waiting);
        assert_eq!(asked.waiting.unwrap().text.as_deref(), Some("touch x"));
        assert_eq!(Kind::CODEX.notice_state("All done"), None);
    }

    #[test]
    fn its_state_escape_reads_as_its_state() {
        let said = |p: &str| {
            Kind::CODEX
                .terminal_state(p)
                .map(|s| (s.state, s.waiting.map(|w| w.kind), s.answers))
        };
        use protocol::State::*;
        assert_eq!(
            said("state=working:app=codex"),
            Some((Working, None, false))
        );
        assert_eq!(said("state=done:app=codex"), Some((Idle, None, true)));
        assert_eq!(said("state=idle:app=codex"), Some((Idle, None, true)));
        assert_eq!(said("state=error:app=codex"), Some((Error, None, true)));
        assert_eq!(
            said("state=blocked:app=codex:kind=permission"),
            Some((Waiting, Some(Ask::Permission), false))
        );
        assert_eq!(said("state=working:app=other"), None);
        assert_eq!(said("state=clear"), None);
        assert_eq!(said("state=dancing:app=codex"), None);
        assert_eq!(said(""), None);
    }
}
