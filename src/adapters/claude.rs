//! Claude Code: transcripts, titles, status, and the per-process pidfile.
//!
//! Every line of a transcript carries `sessionId`; conversation lines are
//! `user`/`assistant` (`message.content`, `message.stop_reason`), `system`
//! (`subtype: turn_duration` ends an interactive turn), and the title lines
//! `custom-title` and `ai-title`. Claude stores much that is not the user
//! speaking as `user` lines: meta lines (`isMeta`), tool results, slash
//! commands wrapped in `<command-name>…` tags, caveats, interrupt notices.
//! We strip the known wrappers; what remains, if anything, is a prompt.
//!
//! Claude is a bun-compiled binary the preload cannot patch, so the
//! authoritative link from a process to its transcript is Claude's own
//! `<config>/sessions/<pid>.json` (source `agent-pidfile`).

use super::text::{content_text, push_tail, str_at, string_at, title};
use super::{
    dir_from, launch, Adapter, Derived, Env, Extension, Grace, Guess, HookSite, Launch, Lines,
    Names, Place, Probe, Report,
};
use crate::attribution::Source;
use crate::protocol::{self, AgentState, StateSource};
use serde_json::Value;
use std::path::{Path, PathBuf};

pub struct Claude;

impl Adapter for Claude {
    fn name(&self) -> &'static str {
        "claude"
    }

    fn names(&self) -> Names {
        Names {
            programs: &["claude"],
            packages: &["@anthropic-ai/claude-code"],
            dirs: &[],
        }
    }

    /// `$CLAUDE_CONFIG_DIR`, default `~/.claude`.
    fn config_dir(&self, env: Env) -> Option<PathBuf> {
        dir_from(env, "CLAUDE_CONFIG_DIR", ".claude")
    }

    fn session_root(&self, _args: &[String], env: Env) -> Option<PathBuf> {
        Some(self.config_dir(env)?.join("projects"))
    }

    /// Only `<project>/<id>.jsonl`: subagent transcripts live deeper
    /// (`<project>/<session>/subagents/…`), and `history.jsonl` (a prompt
    /// log beside `projects/`) never is one.
    fn is_conversation(&self, rel: &Path) -> bool {
        rel.components().count() == 2 && !rel.ends_with("history.jsonl")
    }

    fn is_header(&self, v: &Value) -> bool {
        is_header(v)
    }

    /// `--resume ID`, `-r ID`, `--session-id ID`: that transcript in the
    /// cwd's project dir — unless `--fork-session` gives it a new id.
    fn launch_file(&self, args: &[String], cwd: &Path, roots: &[PathBuf]) -> Option<PathBuf> {
        if args.iter().any(|a| a == "--fork-session") {
            return None;
        }
        let id = launch::option(args, &["--resume", "-r", "--session-id"])?;
        let id = Some(id).filter(|id| is_id(id))?;
        let dir = project_dir_name(cwd.to_str()?);
        Some(roots.first()?.join(dir).join(format!("{id}.jsonl")))
    }

    fn resume_args(&self, file: &Path, id: Option<&str>) -> Option<Vec<String>> {
        let id = id.map(str::to_owned).or_else(|| id_from_file(file))?;
        Some(vec!["--resume".to_owned(), id])
    }

    /// 2.1.330's `--help`.
    fn options(&self) -> super::resume::Options {
        super::resume::Options {
            valued: &[
                "--add-dir",
                "--agent",
                "--agents",
                "--allowedTools",
                "--allowed-tools",
                "--append-system-prompt",
                "--autocompact",
                "--betas",
                "--debug-file",
                "--disallowedTools",
                "--disallowed-tools",
                "--effort",
                "--environment",
                "--fallback-model",
                "--file",
                "--input-format",
                "--json-schema",
                "--max-budget-usd",
                "--mcp-config",
                "--model",
                "-n",
                "--name",
                "--output-format",
                "--permission-mode",
                "--permission-prompts",
                "--permission-prompt-tool",
                "--plugin-dir",
                "--plugin-url",
                "--remote-control-session-name-prefix",
                "--setting-sources",
                "--settings",
                "--system-prompt",
                "--system-prompt-snapshot",
                "--tools",
            ],
            choosing: &[
                "-c",
                "--continue",
                "-r",
                "--resume",
                "--fork-session",
                "--from-pr",
                "--teleport",
            ],
            choosing_valued: &["--session-id"],
            optional_value: &["-r", "--resume", "--from-pr", "--teleport"],
            dropped: &["-p", "--print"],
            subcommand: None,
            foreign: &[],
        }
    }

    fn lines(&self, _place: &Place) -> Box<dyn Lines> {
        Box::<State>::default()
    }

    /// Claude is a bun-compiled binary the preload cannot patch: its own
    /// pidfile, for any process of the session's tree, names the file.
    fn report(&self, probe: &Probe) -> Report {
        let Some(config) = probe.config_dir.as_deref() else {
            return Report::default();
        };
        let Some(pidfile) = crate::procfs::descendants(probe.pid)
            .into_iter()
            .find_map(|pid| read_pidfile(config, pid))
        else {
            return Report::default();
        };
        let mut state = pidfile.status.as_deref().map(pidfile_state);
        if let Some(Ok(s)) = state.as_mut() {
            s.at_ms = pidfile.updated_ms.unwrap_or(0);
        }
        let odd = match &state {
            Some(Err(value)) => Some(format!("unknown Claude status {value:?}")),
            _ => None,
        };
        Report {
            file: Some((pidfile.file, Source::AgentPidfile)),
            state: state.and_then(Result::ok),
            odd,
        }
    }

    fn uses_hooks(&self) -> bool {
        true
    }

    /// Measured with 2.1.330: a key sent 480 ms after its
    /// `PermissionRequest` hook was lost, one at 600 ms answered.
    fn dialog_grace(&self) -> Grace {
        Grace {
            after_signal_ms: 700,
            after_enter_ms: 0,
        }
    }

    /// Its dialog: "1. Yes", "2. Yes, and don't ask again for …", "3.
    /// No, and tell Claude what to do differently (esc)". Esc is that
    /// third choice without a menu walk.
    fn answer_keys(&self, answer: super::Answer) -> Option<&'static str> {
        Some(match answer {
            super::Answer::Yes => "1",
            super::Answer::Always => "2",
            super::Answer::No => "\x1b",
        })
    }

    /// Its hooks, through a settings layer of our own (`claude_hooks.rs`).
    fn launch(&self, args: &[String], _env: Env, hooks: HookSite) -> Launch {
        super::claude_hooks::launch(args, hooks)
    }

    fn extension(&self, event: &protocol::ShimEvent) -> Option<Extension> {
        super::claude_hooks::extension(event)
    }

    fn report_dir(&self, config_dir: &Path) -> Option<PathBuf> {
        Some(config_dir.join("sessions"))
    }

    /// `sessions/<pid>.json`.
    fn report_files(&self) -> &'static [&'static str] {
        &[".json"]
    }

    fn guesses(&self) -> &'static [Guess] {
        &[Guess::Metadata, Guess::Mtime]
    }
}

impl Lines for State {
    fn feed(&mut self, d: &mut Derived, v: &Value) {
        feed(self, d, v)
    }
}

/// Tags Claude wraps around text that is not a prompt: command echoes,
/// caveats, reminders, IDE context, `!` bash mode.
const WRAPPERS: &[&str] = &[
    "context",
    "system-reminder",
    "local-command-caveat",
    "local-command-stdout",
    "local-command-stderr",
    "command-name",
    "command-message",
    "command-args",
    "command-contents",
    "bash-input",
    "bash-stdout",
    "bash-stderr",
    "ide_opened_file",
    "ide_selection",
    "user-prompt-submit-hook",
];

#[derive(Default)]
pub(super) struct State {
    custom_title: Option<String>,
    ai_title: Option<String>,
    first_user: Option<String>,
}

fn is_header(v: &Value) -> bool {
    let typed = str_at(v, "type").is_some();
    let session = str_at(v, "sessionId").is_some() || str_at(v, "type") == Some("summary");
    typed && session && v.get("isSidechain") != Some(&Value::Bool(true))
}

fn feed(st: &mut State, d: &mut Derived, v: &Value) {
    // Subagent turns (old versions kept them inline) are not the session's.
    if v.get("isSidechain") == Some(&Value::Bool(true)) {
        return;
    }
    if let Some(id) = string_at(v, "sessionId") {
        d.conversation_id = Some(id);
    }
    if d.header_cwd.is_none() {
        d.header_cwd = string_at(v, "cwd");
    }
    if d.created_at.is_none() {
        d.created_at = str_at(v, "timestamp").and_then(crate::timefmt::parse_epoch);
    }
    match str_at(v, "type") {
        Some("custom-title") => st.custom_title = str_at(v, "customTitle").and_then(title),
        Some("ai-title") => st.ai_title = str_at(v, "aiTitle").and_then(title),
        Some("user") => user(st, d, v),
        Some("assistant") => assistant(d, v),
        Some("system") if str_at(v, "subtype") == Some("turn_duration") => {
            d.working = false;
            d.label = None;
        }
        _ => {}
    }
    d.title = st
        .custom_title
        .clone()
        .or_else(|| st.ai_title.clone())
        .or_else(|| st.first_user.clone());
}

fn flag(v: &Value, key: &str) -> bool {
    v.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn user(st: &mut State, d: &mut Derived, v: &Value) {
    if flag(v, "isMeta") || flag(v, "isCompactSummary") || flag(v, "isVisibleInTranscriptOnly") {
        return;
    }
    let content = v
        .get("message")
        .and_then(|m| m.get("content"))
        .unwrap_or(&Value::Null);
    let blocks = content.as_array().map_or(&[][..], Vec::as_slice);
    if blocks
        .iter()
        .any(|b| str_at(b, "type") == Some("tool_result"))
    {
        d.tool_result();
        return;
    }
    let raw = content_text(content, &["text"]);
    if raw.trim_start().starts_with("[Request interrupted by user") {
        d.working = false;
        d.label = None;
        return;
    }
    let prompt = strip_wrappers(&raw);
    let image = blocks.iter().any(|b| str_at(b, "type") == Some("image"));
    // A local command (`/clear`, `/model`, `!ls`) leaves nothing: no turn.
    if prompt.trim().is_empty() && !image {
        return;
    }
    if st.first_user.is_none() {
        st.first_user = title(&prompt);
    }
    d.user_turn(&prompt);
}

fn assistant(d: &mut Derived, v: &Value) {
    let Some(m) = v.get("message") else { return };
    let content = m.get("content").unwrap_or(&Value::Null);
    let text = content_text(content, &["text"]);
    push_tail(&mut d.text_tail, &text);
    if flag(v, "isApiErrorMessage") {
        d.failed(title(&text).as_deref());
        return;
    }
    let blocks = content.as_array().map_or(&[][..], Vec::as_slice);
    if let Some(tool) = blocks
        .iter()
        .rev()
        .find(|b| str_at(b, "type") == Some("tool_use"))
    {
        d.error = false;
        let name = str_at(tool, "name").unwrap_or("tool");
        d.tool_call(name, tool.get("input").and_then(tool_text));
        if let Some(call) = d.tool_call.as_mut() {
            // Claude's question tool: a dialog that asks, not permits.
            call.question = name == "AskUserQuestion";
        }
        return;
    }
    let finished = matches!(
        str_at(m, "stop_reason"),
        Some("end_turn" | "stop_sequence" | "max_tokens")
    );
    if finished || !text.trim().is_empty() {
        d.reply_done();
    }
}

/// Removes `<tag …>…</tag>` blocks for the tags in [`WRAPPERS`]; other
/// text, including unclosed or unknown tags, is kept.
/// What a tool call runs or asks, from its `input`: a command, a path, a
/// URL, or (AskUserQuestion) the first question.
fn tool_text(input: &Value) -> Option<String> {
    let question = input
        .get("questions")
        .and_then(|q| q.get(0))
        .and_then(|q| string_at(q, "question"));
    let keys = ["command", "file_path", "path", "url", "pattern", "prompt"];
    question
        .or_else(|| keys.iter().find_map(|k| string_at(input, k)))
        .and_then(|t| title(&t))
}

fn strip_wrappers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        let after = &rest[start + 1..];
        let name_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .unwrap_or(after.len());
        let name = &after[..name_len];
        let opens = matches!(
            after[name_len..].chars().next(),
            Some('>' | ' ' | '\n' | '\t')
        );
        if opens && WRAPPERS.contains(&name) {
            let close = format!("</{name}>");
            if let Some(end) = rest[start..].find(&close) {
                out.push_str(&rest[..start]);
                rest = &rest[start + end + close.len()..];
                continue;
            }
        }
        out.push_str(&rest[..=start]);
        rest = after;
    }
    out.push_str(rest);
    out
}

/// The project directory Claude keeps a cwd's transcripts in: every
/// character but ASCII letters and digits becomes `-`, one per UTF-16 unit
/// as Claude's JavaScript `replace(/[^a-zA-Z0-9]/g, "-")` counts them.
pub fn project_dir_name(cwd: &str) -> String {
    cwd.chars()
        .flat_map(|c| {
            if c.is_ascii_alphanumeric() {
                vec![c]
            } else {
                vec!['-'; c.len_utf16()]
            }
        })
        .collect()
}

/// What Claude's pidfile says: the transcript, its id, and `status`.
#[derive(Debug, PartialEq)]
struct Pidfile {
    file: PathBuf,
    id: String,
    status: Option<String>,
    /// `updatedAt` (epoch ms): when Claude last wrote the file, `status`
    /// included — after `/clear` it says `idle` anew without changing it.
    updated_ms: Option<i64>,
}

/// Reads `<config_dir>/sessions/<pid>.json`, which Claude keeps for each
/// live process, and names the transcript it is writing:
/// `<config_dir>/projects/<cwd mangled>/<sessionId>.jsonl`, with the id.
fn read_pidfile(config_dir: &Path, pid: u32) -> Option<Pidfile> {
    let pidfile = config_dir.join("sessions").join(format!("{pid}.json"));
    let data = crate::paths::read_untrusted(&pidfile, 1 << 20).ok()?;
    let v: Value = serde_json::from_slice(&data).ok()?;
    // A stale file for a recycled pid would name someone else's transcript.
    if v.get("pid")
        .and_then(Value::as_u64)
        .is_some_and(|p| p != u64::from(pid))
    {
        return None;
    }
    let id = str_at(&v, "sessionId").filter(|id| is_id(id))?;
    let cwd = str_at(&v, "cwd").filter(|c| c.starts_with('/'))?;
    let file = config_dir
        .join("projects")
        .join(project_dir_name(cwd))
        .join(format!("{id}.jsonl"));
    let status = string_at(&v, "status");
    let updated_ms = v.get("updatedAt").and_then(Value::as_i64);
    Some(Pidfile {
        file,
        id: id.to_owned(),
        status,
        updated_ms,
    })
}

/// Claude's pidfile `status` as a state: `busy` works, `idle` rests,
/// `waiting` has a dialog open (a permission prompt; a question is told
/// apart by the transcript's last tool call). `Err`: a value we do not
/// know (undocumented; tolerated, the file decides then).
fn pidfile_state(status: &str) -> Result<AgentState, String> {
    let state = match status {
        "busy" => protocol::State::Working,
        "idle" => protocol::State::Idle,
        "waiting" => protocol::State::Waiting,
        other => return Err(other.chars().take(40).collect()),
    };
    Ok(AgentState {
        state,
        waiting: None,
        source: StateSource::AgentPidfile,
        at_ms: 0,
        answers: false,
        ..AgentState::default()
    })
}

/// Session ids are UUIDs; anything else could be a path.
pub(super) fn is_id(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// A transcript is `<sessionId>.jsonl`.
fn id_from_file(file: &Path) -> Option<String> {
    file.file_stem()
        .and_then(|s| s.to_str())
        .filter(|s| is_id(s))
        .map(str::to_owned)
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
                "print_named_custom_title_99999999",
                "My custom name",
                "99999999-2222-4333-8444-555555555555",
            ),
            (
                "interactive_after_clear_ai_title_a0109097",
                "Fake title 4",
                "a0109097-526f-4afe-9c29-28d65c012e5c",
            ),
            (
                "print_tooluse_22222222",
                "run the tool",
                "22222222-3333-4444-8555-666666666667",
            ),
            (
                "interactive_then_resumed_p_f0794f7b",
                "hi",
                "f0794f7b-1113-410e-9ce1-40b7c1dfbee1",
            ),
            (
                "interactive_2turns_60abc85e",
                "hi",
                "60abc85e-5f20-40a1-961b-bee797e544a3",
            ),
        ];
        for (name, title, id) in table {
            let d = fixture::derive(Kind::CLAUDE, 3, &format!("claude/{name}.jsonl"));
            assert_eq!(d.title.as_deref(), Some(title), "{name}");
            assert_eq!(fixture::status(&d), "idle unread", "{name}");
            assert_eq!(d.conversation_id.as_deref(), Some(id), "{name}");
            assert!(
                d.header_cwd
                    .as_deref()
                    .is_some_and(|c| c.starts_with("/home/user/work/proj")),
                "{name}"
            );
            assert!(
                d.text_tail.contains("Hello from the fake Anthropic server"),
                "{name}"
            );
            let file = PathBuf::from(format!("/h/.claude/projects/-p/{id}.jsonl"));
            let want = fixture::argv(&format!(
                "node /x/@anthropic-ai/claude-code/cli.js --resume {id}"
            ));
            for given in [Some(id), None] {
                let argv = fixture::argv("node /x/@anthropic-ai/claude-code/cli.js -p hello");
                assert_eq!(
                    Kind::CLAUDE.resume_command(&argv, &file, given).as_ref(),
                    Some(&want),
                    "{name}"
                );
            }
        }
    }

    #[test]
    fn turns_move_between_working_and_idle() {
        let lines = fixture::lines("claude/print_tooluse_22222222.jsonl");
        let mut t = fixture::tracker(Kind::CLAUDE, 3);
        let mut seen = Vec::new();
        let mut pending = Vec::new();
        for line in &lines {
            t.feed(line.as_bytes());
            let d = t.derived();
            // A call is asked about until its result is in the file.
            let call = d.pending_call().map(|c| c.name.clone());
            if pending.last() != Some(&call) {
                pending.push(call);
            }
            let state = (d.working, d.label.clone(), d.unread);
            if seen.last() != Some(&state) {
                seen.push(state);
            }
        }
        let bash = Some("Bash".to_owned());
        assert_eq!(pending, [None, bash, None]);
        let tool = Some("tool: Bash".to_owned());
        assert_eq!(
            seen,
            [
                (false, None, false),
                (true, None, false),
                (true, tool, false),
                (false, None, true)
            ]
        );
    }

    #[test]
    fn clear_and_caveats_are_not_prompts() {
        let lines = fixture::lines("claude/interactive_after_clear_ai_title_a0109097.jsonl");
        let mut t = fixture::tracker(Kind::CLAUDE, 3);
        let upto = lines
            .iter()
            .position(|l| l.contains("\"ai-title\""))
            .unwrap();
        lines[..upto].iter().for_each(|l| t.feed(l.as_bytes()));
        assert_eq!(t.derived().title, None, "the /clear echo is no title");
        assert!(!t.derived().working, "a local command starts no turn");
        for (text, want) in [
            (
                "<context kind=\"x\">ctx</context>\nreal prompt",
                "\nreal prompt",
            ),
            (
                "<command-name>/clear</command-name>\n<command-args></command-args>",
                "\n",
            ),
            (
                "a <b>kept</b> <system-reminder>gone</system-reminder>",
                "a <b>kept</b> ",
            ),
            ("<command-name>unclosed", "<command-name>unclosed"),
            ("x < y", "x < y"),
        ] {
            assert_eq!(strip_wrappers(text), want, "{text:?}");
        }
        t.feed(br#"{"type":"user","message":{"role":"user","content":[{"type":"text","text":"[Request interrupted by user]"}]}}"#);
        assert!(!t.derived().working);
    }

    #[test]
    fn history_is_never_a_conversation() {
        let roots = [PathBuf::from("/h/.claude/projects")];
        let history = fixture::lines("claude/history.jsonl");
        let first = history[0].as_bytes();
        assert!(!Kind::CLAUDE.accepts(Path::new("/h/.claude/history.jsonl"), &roots, Some(first)));
        assert!(!Kind::CLAUDE.accepts(
            Path::new("/h/.claude/projects/-p/history.jsonl"),
            &roots,
            None
        ));
        // Its lines carry a sessionId but no type: not a transcript header.
        assert!(!Kind::CLAUDE.accepts(Path::new("/elsewhere/log.jsonl"), &roots, Some(first)));
        let d = fixture::derive(Kind::CLAUDE, 3, "claude/history.jsonl");
        assert_eq!((d.title, d.working, d.unread), (None, false, false));
    }

    #[test]
    fn pidfile_names_the_transcript() {
        let dir = fixture::temp_dir("claude-pidfile");
        std::fs::create_dir_all(dir.join("sessions")).unwrap();
        let json = fixture::read("claude/sessions_pid.json");
        std::fs::write(dir.join("sessions/11632.json"), &json).unwrap();
        let Pidfile {
            file, id, status, ..
        } = read_pidfile(&dir, 11632).unwrap();
        assert!(status.is_some());
        assert_eq!(id, "6ff85bcf-45b0-4dc3-a263-a498dbe73b70");
        assert_eq!(
            file,
            dir.join("projects/-home-user-work-proj5/6ff85bcf-45b0-4dc3-a263-a498dbe73b70.jsonl")
        );
        // Another pid's file (recycled pid), a missing file, garbage: nothing.
        std::fs::write(dir.join("sessions/7.json"), &json).unwrap();
        assert_eq!(read_pidfile(&dir, 7), None);
        assert_eq!(read_pidfile(&dir, 8), None);
        std::fs::write(
            dir.join("sessions/9.json"),
            "{\"sessionId\":\"../x\",\"cwd\":\"/a\"}",
        )
        .unwrap();
        assert_eq!(read_pidfile(&dir, 9), None);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            project_dir_name("/home/u/my proj.v2/é"),
            "-home-u-my-proj-v2--"
        );
        let env = |k: &str| {
            [("HOME", "/h")]
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        };
        assert_eq!(Claude.config_dir(&env), Some(PathBuf::from("/h/.claude")));
    }
}
