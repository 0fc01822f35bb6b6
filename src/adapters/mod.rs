//! Adapters: what amux knows about each agent (pi, Claude Code, Codex) and
//! about everything else (a shell, any command).
//!
//! [`Kind`] is matched from the command's argv (`argv.rs` walks launchers
//! such as `node`, `bun`, `npx`, `env` to the agent's own word). Each kind
//! answers four questions: where its conversation files live
//! ([`Kind::session_roots`]), whether a reported path is one
//! ([`Kind::accepts`]), how to resume one ([`Kind::resume_command`]), and
//! what a file says ([`Tracker`]). A tracker is a fold over the file's
//! lines: every complete line goes through [`Tracker::feed`], which updates
//! the adapter's private state and the public [`Derived`] view in place, so
//! following a growing file costs one JSON parse per new line and a full
//! read is just the same fold from the first line. The per-agent line
//! shapes and status rules live in `pi.rs`, `claude.rs` and `codex.rs`.

mod argv;
pub mod claude;
mod codex;
mod launch;
mod pi;
mod shell;
mod text;

use serde_json::Value;
use std::ffi::OsStr;
use std::path::{Component, Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Pi,
    Claude,
    Codex,
    Shell,
}

impl Kind {
    /// The agent named by `argv` (see `argv.rs`); anything else is a shell.
    pub fn detect(argv: &[String]) -> Kind {
        argv::locate(argv).map_or(Kind::Shell, |(kind, _)| kind)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Pi => "pi",
            Kind::Claude => "claude",
            Kind::Codex => "codex",
            Kind::Shell => "shell",
        }
    }

    /// Only pi runs where the preload can see its writes (DESIGN §3).
    pub fn uses_preload(self) -> bool {
        self == Kind::Pi
    }

    /// Where this agent writes conversation files, from its environment
    /// overrides and argv (DESIGN §6). `env` looks up a variable (`HOME`
    /// included). A relative `--session-dir` is returned as given: the
    /// caller resolves it against the session's cwd.
    pub fn session_roots(
        self,
        argv: &[String],
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Vec<PathBuf> {
        let var = |name: &str| env(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        let home = var("HOME");
        let args = argv::locate(argv).map_or(&[][..], |(_, i)| &argv[i + 1..]);
        let root = match self {
            Kind::Pi => pi::session_root(args, &var, home),
            Kind::Claude => Some(claude::config_dir_from(&var, home).join("projects")),
            Kind::Codex => var("CODEX_HOME")
                .or_else(|| home.map(|h| h.join(".codex")))
                .map(|d| d.join("sessions")),
            Kind::Shell => None,
        };
        root.into_iter().collect()
    }

    /// The conversation file the launch command line names (`pi --session
    /// F`, `claude --resume ID`, `codex resume ID`), resolved in `cwd`
    /// against this agent's `roots` (see `launch.rs`).
    pub fn launch_file(self, argv: &[String], cwd: &Path, roots: &[PathBuf]) -> Option<PathBuf> {
        let args = argv::locate(argv).map_or(&[][..], |(_, i)| &argv[i + 1..]);
        launch::file(self, args, cwd, roots)
            .filter(|f| self.accepts(f, roots, None) || self == Kind::Pi)
    }

    /// How many directory levels below its session root this agent keeps
    /// conversations: pi writes `<root>/--cwd--/F` but flat into a
    /// `--session-dir` (or `$PI_CODING_AGENT_SESSION_DIR`), Claude
    /// `projects/<cwd>/F`, Codex `YYYY/MM/DD/F`. Nothing deeper is watched.
    pub fn root_depth(self, argv: &[String], env: &dyn Fn(&str) -> Option<String>) -> usize {
        let args = argv::locate(argv).map_or(&[][..], |(_, i)| &argv[i + 1..]);
        let flat_dir = args.iter().any(|a| a.starts_with("--session-dir"))
            || env("PI_CODING_AGENT_SESSION_DIR").is_some_and(|v| !v.is_empty());
        match self {
            Kind::Pi if flat_dir => 0,
            Kind::Pi | Kind::Claude => 1,
            Kind::Codex => 3,
            Kind::Shell => 0,
        }
    }

    /// DESIGN §4.3: an absolute `*.jsonl` path under one of `roots`, or a
    /// file whose first line is this agent's session header. Claude's
    /// `history.jsonl` (a prompt log) never is a conversation.
    pub fn accepts(self, path: &Path, roots: &[PathBuf], first_line: Option<&[u8]>) -> bool {
        if self == Kind::Shell
            || !path.is_absolute()
            || path.extension() != Some(OsStr::new("jsonl"))
            || path.components().any(|c| c == Component::ParentDir)
        {
            return false;
        }
        if self == Kind::Claude && path.file_name().is_some_and(|n| n == "history.jsonl") {
            return false;
        }
        let under = roots.iter().any(|root| self.under_root(path, root));
        under
            || first_line
                .and_then(|l| serde_json::from_slice::<Value>(l).ok())
                .is_some_and(|v| self.is_header(&v))
    }

    fn under_root(self, path: &Path, root: &Path) -> bool {
        match path.strip_prefix(root) {
            // Claude keeps subagent transcripts deeper in the tree
            // (`<project>/<session>/subagents/…`): only `<project>/<id>.jsonl`
            // is a conversation.
            Ok(rest) if root.is_absolute() && self == Kind::Claude => {
                rest.components().count() == 2
            }
            Ok(rest) => root.is_absolute() && rest.components().next().is_some(),
            Err(_) => false,
        }
    }

    fn is_header(self, first: &Value) -> bool {
        match self {
            Kind::Pi => pi::is_header(first),
            Kind::Claude => claude::is_header(first),
            Kind::Codex => codex::is_header(first),
            Kind::Shell => false,
        }
    }

    /// DESIGN §6 and §7: the launcher the session was started with (`pi`,
    /// `/opt/x/pi`, `bun /x/cli.js`) followed by the agent's resume
    /// arguments. Without `conversation_id`, Claude and Codex take the id
    /// from the file name. When argv does not name this agent (a wrapper
    /// script), its first word is taken as the launcher. `None` for a shell.
    pub fn resume_command(
        self,
        argv: &[String],
        file: &Path,
        conversation_id: Option<&str>,
    ) -> Option<Vec<String>> {
        let launcher = match argv::locate(argv) {
            Some((kind, i)) if kind == self => argv[..=i].to_vec(),
            _ if argv.is_empty() => vec![self.as_str().to_owned()],
            _ => argv[..1].to_vec(),
        };
        let args = match self {
            Kind::Pi => vec![
                "--session".to_owned(),
                file.to_str()?.to_owned(),
                "-c".to_owned(),
            ],
            Kind::Claude => vec![
                "--resume".to_owned(),
                id_or_stem(conversation_id, file, claude::id_from_file)?,
            ],
            Kind::Codex => vec![
                "resume".to_owned(),
                id_or_stem(conversation_id, file, codex::id_from_file)?,
            ],
            Kind::Shell => return None,
        };
        Some(launcher.into_iter().chain(args).collect())
    }
}

fn id_or_stem(
    id: Option<&str>,
    file: &Path,
    from_file: fn(&Path) -> Option<String>,
) -> Option<String> {
    id.filter(|s| !s.is_empty())
        .map(str::to_owned)
        .or_else(|| from_file(file))
}

/// Lowercase ASCII words of `title` joined by `-`, at most 40 bytes, cut
/// between words; `""` when there is no such word.
pub fn slugify(title: &str) -> String {
    text::slugify(title)
}

/// pi's `retry.maxRetries` for a session in `cwd`, from
/// `<cwd>/.pi/settings.json`, else `<agent_dir>/settings.json`, default 3.
pub fn pi_max_retries(cwd: &Path, agent_dir: &Path) -> u32 {
    pi::max_retries(cwd, agent_dir)
}

/// pi's agent directory: `$PI_CODING_AGENT_DIR`, default `~/.pi/agent`.
pub fn pi_agent_dir(env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    let var = |name: &str| env(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    pi::agent_dir_from(&var, var("HOME")).unwrap_or_else(|| PathBuf::from("/.pi/agent"))
}

/// A shell's title: the terminal title it set, else its command line.
pub fn shell_title(argv: &[String], terminal_title: Option<&str>) -> Option<String> {
    shell::title(argv, terminal_title)
}

/// What a conversation file says, derived incrementally line by line.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Derived {
    /// `None` means "(new)".
    pub title: Option<String>,
    pub working: bool,
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
}

impl Derived {
    /// A user prompt: a turn starts, the previous reply counts as seen.
    fn user_turn(&mut self, text: &str) {
        self.working = true;
        self.error = false;
        self.label = None;
        self.unread = false;
        text::push_tail(&mut self.text_tail, text);
    }

    /// A turn ended with a reply for the user.
    fn reply_done(&mut self) {
        self.working = false;
        self.error = false;
        self.label = None;
        self.unread = true;
    }

    fn tool(&mut self, name: Option<&str>) {
        self.working = true;
        self.label = name.map(|n| format!("tool: {n}"));
    }

    fn failed(&mut self, message: Option<&str>) {
        self.working = false;
        self.error = true;
        self.label = Some(format!("error: {}", message.unwrap_or("unknown")));
    }
}

/// Follows one conversation file: feed it complete lines in order.
pub struct Tracker {
    kind: Kind,
    pi_max_retries: u32,
    state: State,
    derived: Derived,
}

enum State {
    Pi(pi::State),
    Claude(claude::State),
    Codex(codex::State),
    Shell,
}

impl Tracker {
    pub fn new(kind: Kind, pi_max_retries: u32) -> Self {
        let state = State::new(kind, pi_max_retries);
        Tracker {
            kind,
            pi_max_retries,
            state,
            derived: Derived::default(),
        }
    }

    /// One complete line, without its newline. Lines that are not JSON
    /// objects, and shapes the adapter does not know, change nothing.
    pub fn feed(&mut self, line: &[u8]) {
        let Ok(v) = serde_json::from_slice::<Value>(line) else {
            return;
        };
        if !v.is_object() {
            return;
        }
        let d = &mut self.derived;
        let was_working = d.working;
        match &mut self.state {
            State::Pi(st) => pi::feed(st, d, &v),
            State::Claude(st) => claude::feed(st, d, &v),
            State::Codex(st) => codex::feed(st, d, &v),
            State::Shell => {}
        }
        if was_working && !d.working {
            d.turns_ended += 1;
        }
    }

    /// The file was truncated or rewritten: start over.
    pub fn reset(&mut self) {
        *self = Tracker::new(self.kind, self.pi_max_retries);
    }

    pub fn derived(&self) -> &Derived {
        &self.derived
    }
}

impl State {
    fn new(kind: Kind, pi_max_retries: u32) -> State {
        match kind {
            Kind::Pi => State::Pi(pi::State::new(pi_max_retries)),
            Kind::Claude => State::Claude(claude::State::default()),
            Kind::Codex => State::Codex(codex::State::default()),
            Kind::Shell => State::Shell,
        }
    }
}

/// Derives a whole file at once: the same fold as following it.
pub fn derive_all(kind: Kind, pi_max_retries: u32, data: &[u8]) -> Derived {
    let mut tracker = Tracker::new(kind, pi_max_retries);
    data.split(|&b| b == b'\n')
        .for_each(|line| tracker.feed(line));
    tracker.derived
}

/// Fixture access for the adapters' tests (`tests/fixtures/<agent>/…`).
#[cfg(test)]
mod fixture {
    use super::{derive_all, Derived, Kind};
    use std::path::PathBuf;

    pub fn read(rel: &str) -> String {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(rel);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    pub fn lines(rel: &str) -> Vec<String> {
        read(rel).lines().map(str::to_owned).collect()
    }

    pub fn derive(kind: Kind, retries: u32, rel: &str) -> Derived {
        derive_all(kind, retries, read(rel).as_bytes())
    }

    pub fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    /// The status in one string: `idle unread`, `working tool: bash`,
    /// `failed error: <msg>`.
    pub fn status(d: &Derived) -> String {
        let state = match (d.error, d.working) {
            (true, _) => "failed",
            (false, true) => "working",
            (false, false) => "idle",
        };
        let parts = [
            Some(state),
            d.unread.then_some("unread"),
            d.label.as_deref(),
        ];
        parts.into_iter().flatten().collect::<Vec<_>>().join(" ")
    }

    /// A fresh directory for one test; the test removes it.
    pub fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("amux-adapters-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Every conversation fixture with the kind that reads it.
    pub const ALL: &[(Kind, &str)] = &[
        (Kind::Pi, "pi/01-short-print-mode.jsonl"),
        (Kind::Pi, "pi/02-resumed-by-session-id.jsonl"),
        (Kind::Pi, "pi/03-interactive-toolcall-named-resumed.jsonl"),
        (Kind::Pi, "pi/04-forked-with-parentSession.jsonl"),
        (Kind::Pi, "pi/05-first-turn-error.jsonl"),
        (Kind::Pi, "pi/06-first-turn-aborted.jsonl"),
        (Kind::Pi, "pi/07-clone-writeFileSync.jsonl"),
        (Kind::Claude, "claude/interactive_2turns_60abc85e.jsonl"),
        (
            Kind::Claude,
            "claude/interactive_after_clear_ai_title_a0109097.jsonl",
        ),
        (
            Kind::Claude,
            "claude/interactive_then_resumed_p_f0794f7b.jsonl",
        ),
        (
            Kind::Claude,
            "claude/print_named_custom_title_99999999.jsonl",
        ),
        (Kind::Claude, "claude/print_tooluse_22222222.jsonl"),
        (Kind::Codex, "codex/exec_then_exec_resume_01a20a50.jsonl"),
        (Kind::Codex, "codex/exec_tooluse_01a20a55.jsonl"),
        (Kind::Codex, "codex/tui_2turns_01a20a54a807.jsonl"),
        (Kind::Codex, "codex/tui_then_tui_resume_01a20a5401fa.jsonl"),
    ];
}

#[cfg(test)]
mod tests {
    use super::*;
    use fixture::argv;

    #[test]
    fn detect_table() {
        use Kind::*;
        for (cmd, want) in [
            ("pi", Pi),
            ("/opt/x/pi -c", Pi),
            ("pi-coding-agent", Pi),
            ("node /x/node_modules/.bin/pi", Pi),
            ("node /x/pi-coding-agent/dist/cli.js", Pi),
            ("bun /x/@mariozechner/pi-coding-agent/dist/cli.js", Pi),
            ("bun /x/cli.js", Shell),
            ("npx @mariozechner/pi-coding-agent", Pi),
            ("claude --resume abc", Claude),
            ("codex exec hi", Codex),
            ("bash", Shell),
            ("/usr/bin/fish", Shell),
            ("make test", Shell),
            ("", Shell),
        ] {
            assert_eq!(Kind::detect(&argv(cmd)), want, "{cmd:?}");
        }
        assert!(
            Pi.uses_preload()
                && !Claude.uses_preload()
                && !Codex.uses_preload()
                && !Shell.uses_preload()
        );
        assert_eq!(serde_json::to_string(&Codex).unwrap(), "\"codex\"");
        assert_eq!(Claude.as_str(), "claude");
    }

    #[test]
    fn session_roots_follow_env_and_flags() {
        let env_of = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let home = env_of(&[("HOME", "/h")]);
        let custom = env_of(&[
            ("HOME", "/h"),
            ("PI_CODING_AGENT_DIR", "/a"),
            ("CLAUDE_CONFIG_DIR", "/c"),
            ("CODEX_HOME", "/x"),
        ]);
        let flat = env_of(&[("HOME", "/h"), ("PI_CODING_AGENT_SESSION_DIR", "/flat")]);
        let p = |s: &str| vec![PathBuf::from(s)];
        for (kind, cmd, env, want) in [
            (
                Kind::Pi,
                "pi",
                &home as &dyn Fn(&str) -> Option<String>,
                p("/h/.pi/agent/sessions"),
            ),
            (Kind::Pi, "pi", &custom, p("/a/sessions")),
            (Kind::Pi, "pi", &flat, p("/flat")),
            (
                Kind::Pi,
                "node /x/pi-coding-agent/dist/cli.js --session-dir /d",
                &flat,
                p("/d"),
            ),
            (Kind::Pi, "pi --session-dir=/e -c", &home, p("/e")),
            (Kind::Claude, "claude", &home, p("/h/.claude/projects")),
            (Kind::Claude, "claude", &custom, p("/c/projects")),
            (Kind::Codex, "codex", &home, p("/h/.codex/sessions")),
            (Kind::Codex, "codex", &custom, p("/x/sessions")),
            (Kind::Shell, "bash", &home, vec![]),
        ] {
            assert_eq!(kind.session_roots(&argv(cmd), env), want, "{kind:?} {cmd}");
        }
    }

    #[test]
    fn accepts_table() {
        let roots = [PathBuf::from("/h/.pi/agent/sessions")];
        let header = fixture::lines("pi/01-short-print-mode.jsonl")[0].clone();
        let data = br#"{"name":"row","value":1}"#;
        for (path, first, want) in [
            ("/h/.pi/agent/sessions/--p--/2026_x.jsonl", None, true),
            ("/elsewhere/custom.jsonl", Some(header.as_bytes()), true),
            ("/home/u/project/data.jsonl", Some(&data[..]), false),
            ("/home/u/project/data.jsonl", None, false),
            ("/home/u/project/data.jsonl", Some(&b"not json"[..]), false),
            ("relative/sessions/x.jsonl", Some(header.as_bytes()), false),
            ("/h/.pi/agent/sessions/--p--/notes.json", None, false),
            ("/h/.pi/agent/sessions/../../secret.jsonl", None, false),
            ("/h/.pi/agent/sessions", None, false),
        ] {
            assert_eq!(
                Kind::Pi.accepts(Path::new(path), &roots, first),
                want,
                "{path}"
            );
        }
        // Each kind knows only its own header.
        assert!(!Kind::Codex.accepts(Path::new("/e/custom.jsonl"), &[], Some(header.as_bytes())));
        assert!(!Kind::Shell.accepts(
            Path::new("/h/.pi/agent/sessions/--p--/a.jsonl"),
            &roots,
            None
        ));
        let codex = fixture::lines("codex/tui_2turns_01a20a54a807.jsonl")[0].clone();
        assert!(Kind::Codex.accepts(Path::new("/e/r.jsonl"), &[], Some(codex.as_bytes())));
        let claude = fixture::lines("claude/print_tooluse_22222222.jsonl")[0].clone();
        assert!(Kind::Claude.accepts(Path::new("/e/r.jsonl"), &[], Some(claude.as_bytes())));
        // Claude: only `<project>/<id>.jsonl`, not subagent transcripts.
        let croots = [PathBuf::from("/h/.claude/projects")];
        assert!(Kind::Claude.accepts(Path::new("/h/.claude/projects/-p/id.jsonl"), &croots, None));
        assert!(!Kind::Claude.accepts(
            Path::new("/h/.claude/projects/-p/id/subagents/a.jsonl"),
            &croots,
            None
        ));
    }

    #[test]
    fn resume_keeps_the_launcher() {
        let file = Path::new("/s/f.jsonl");
        for (kind, cmd, want) in [
            (Kind::Pi, "pi -p hello", Some("pi --session /s/f.jsonl -c")),
            (
                Kind::Pi,
                "bun /x/pi-coding-agent/dist/cli.js --model m",
                Some("bun /x/pi-coding-agent/dist/cli.js --session /s/f.jsonl -c"),
            ),
            (
                Kind::Pi,
                "node --no-warnings /x/bin/pi",
                Some("node --no-warnings /x/bin/pi --session /s/f.jsonl -c"),
            ),
            (
                Kind::Claude,
                "/opt/claude -p hi",
                Some("/opt/claude --resume ID"),
            ),
            (
                Kind::Codex,
                "npx -y @openai/codex exec hi",
                Some("npx -y @openai/codex resume ID"),
            ),
            (Kind::Shell, "bash", None),
            (
                Kind::Pi,
                "./my-pi.sh -x",
                Some("./my-pi.sh --session /s/f.jsonl -c"),
            ),
            (Kind::Codex, "", Some("codex resume ID")),
        ] {
            let got = kind.resume_command(&argv(cmd), file, Some("ID"));
            assert_eq!(got, want.map(argv), "{kind:?} {cmd}");
        }
        // No id and a file name that holds none: no resume command.
        assert_eq!(
            Kind::Claude.resume_command(&argv("claude"), Path::new("/s/not an id.jsonl"), None),
            None
        );
    }

    #[test]
    fn incremental_equals_full_and_reset_forgets() {
        for &(kind, rel) in fixture::ALL {
            let text = fixture::read(rel);
            let full = derive_all(kind, 3, text.as_bytes());
            assert!(full.conversation_id.is_some(), "{rel}");
            let mut tracker = Tracker::new(kind, 3);
            let mut prefix = String::new();
            for line in text.lines() {
                tracker.feed(line.as_bytes());
                prefix.push_str(line);
                prefix.push('\n');
                assert_eq!(
                    tracker.derived(),
                    &derive_all(kind, 3, prefix.as_bytes()),
                    "{rel}"
                );
            }
            assert_eq!(tracker.derived(), &full, "{rel}");
            tracker.feed(b"{not json");
            tracker.feed(b"[1,2]");
            tracker.feed(br#"{"type":"unknown-line"}"#);
            assert_eq!(tracker.derived(), &full, "{rel}: junk lines change nothing");
            tracker.reset();
            assert_eq!(tracker.derived(), &Derived::default(), "{rel}");
            text.lines().for_each(|l| tracker.feed(l.as_bytes()));
            assert_eq!(tracker.derived(), &full, "{rel}: same again after reset");
        }
    }
}
