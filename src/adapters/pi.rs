//! pi (`@mariozechner/pi-coding-agent`): session files, titles, status.
//!
//! A pi file starts with a `session` header (`id`, `cwd`, `timestamp`),
//! then `message` lines whose `message.role` is user, assistant or
//! toolResult; assistant messages carry a `stopReason`. `session_info`
//! lines carry the name set with `/name`. The state kept between lines is
//! the two title sources and the number of assistant errors in a row: pi
//! retries a failed request `retry.maxRetries` times, writing one error
//! message per attempt, so only an unbroken run of maxRetries+1 errors
//! means the turn has failed — or one error pi does not retry
//! (`pi_retry.rs`).

use super::pi_retry::{max_retries, retryable, DEFAULT_MAX_RETRIES};
use super::text::{content_text, push_tail, str_at, string_at, title};
use super::{
    dir_from, launch, Adapter, Derived, Env, Extension, Guess, HookSite, Launch, Lines, Names,
    Place,
};
use crate::protocol::ShimEvent;
use serde_json::Value;
use std::path::{Path, PathBuf};

pub struct Pi;

impl Adapter for Pi {
    fn name(&self) -> &'static str {
        "pi"
    }

    fn names(&self) -> Names {
        Names {
            programs: &["pi", "pi-coding-agent"],
            packages: &["@mariozechner/pi-coding-agent"],
            dirs: &["pi-coding-agent"],
        }
    }

    fn uses_preload(&self) -> bool {
        true
    }

    /// `$PI_CODING_AGENT_DIR`, default `~/.pi/agent`.
    fn config_dir(&self, env: Env) -> Option<PathBuf> {
        dir_from(env, "PI_CODING_AGENT_DIR", ".pi/agent")
    }

    /// `--session-dir D`, else `$PI_CODING_AGENT_SESSION_DIR`, else
    /// `<config dir>/sessions`.
    fn session_root(&self, args: &[String], env: Env) -> Option<PathBuf> {
        launch::option(args, &["--session-dir"])
            .map(PathBuf::from)
            .or_else(|| env("PI_CODING_AGENT_SESSION_DIR").map(PathBuf::from))
            .or_else(|| Some(self.config_dir(env)?.join("sessions")))
    }

    /// `<root>/--cwd--/F`, but flat into a session dir of the user's.
    fn root_depth(&self, args: &[String], env: Env) -> usize {
        let flat = launch::option(args, &["--session-dir"]).is_some()
            || env("PI_CODING_AGENT_SESSION_DIR").is_some();
        usize::from(!flat)
    }

    fn is_header(&self, v: &Value) -> bool {
        str_at(v, "type") == Some("session") && str_at(v, "id").is_some()
    }

    /// `pi --session F` holds F (any path: pi takes files anywhere).
    fn launch_file(&self, args: &[String], cwd: &Path, _roots: &[PathBuf]) -> Option<PathBuf> {
        let value = launch::option(args, &["--session"])?;
        value
            .ends_with(".jsonl")
            .then(|| cwd.join(value))
            .filter(|p| !p.as_os_str().is_empty())
    }

    /// `-e <hooks>/pi-extension.mjs`: pi's amux extension reports a switch
    /// (`/new`, `/resume`, `/fork`) and each turn the moment pi knows,
    /// through the preload — so only beside an armed preload. Not for pi's
    /// package and config subcommands, which take the first word as theirs
    /// and run no session.
    fn launch(&self, args: &[String], _env: Env, hooks: HookSite) -> Launch {
        let subcommand = args
            .first()
            .is_some_and(|a| SUBCOMMANDS.contains(&a.as_str()));
        let extension = hooks.dir.map(|d| d.join(EXTENSION));
        match extension.as_deref().and_then(Path::to_str) {
            Some(path) if !subcommand => Launch {
                args: vec!["-e".to_owned(), path.to_owned()],
                ..Launch::default()
            },
            _ => Launch::default(),
        }
    }

    fn resume_args(&self, file: &Path, _id: Option<&str>) -> Option<Vec<String>> {
        let file = file.to_str()?.to_owned();
        Some(vec!["--session".to_owned(), file, "-c".to_owned()])
    }

    /// amux's extension (`hook/pi-extension.mjs`, read in
    /// `pi_extension.rs`): the file pi holds, its turns, its `!cmd`s and
    /// the commands it takes without a turn, each the moment pi knows.
    fn extension(&self, event: &ShimEvent) -> Option<Extension> {
        super::pi_extension::extension(event)
    }

    /// 0.73.1's `--help`.
    fn options(&self) -> super::resume::Options {
        super::resume::Options {
            valued: &[
                "--provider",
                "--model",
                "--api-key",
                "--system-prompt",
                "--append-system-prompt",
                "--mode",
                "--session-dir",
                "--models",
                "--tools",
                "-t",
                "--thinking",
                "-e",
                "--extension",
                "--skill",
                "--prompt-template",
                "--theme",
            ],
            choosing: &["-c", "--continue", "-r", "--resume", "--no-session"],
            choosing_valued: &["--session", "--fork"],
            optional_value: &[],
            dropped: &["-p", "--print", "--export", "--list-models"],
            subcommand: None,
            foreign: SUBCOMMANDS,
        }
    }

    /// The session's own retry settings (its cwd and agent dir).
    fn lines(&self, place: &Place) -> Box<dyn Lines> {
        let retries = place
            .config_dir
            .as_deref()
            .map_or(DEFAULT_MAX_RETRIES, |dir| max_retries(&place.cwd, dir));
        Box::new(State::new(retries))
    }

    fn guesses(&self) -> &'static [Guess] {
        &[Guess::Metadata, Guess::Scrollback, Guess::Mtime]
    }
}

/// The extension's name in the hook directory (`hook/pi-extension.mjs`).
const EXTENSION: &str = "pi-extension.mjs";
/// pi's first words that are commands of their own (pi 0.73).
const SUBCOMMANDS: &[&str] = &["install", "uninstall", "remove", "update", "list", "config"];

pub struct State {
    max_retries: u32,
    trailing_errors: u32,
    name: Option<String>,
    first_user: Option<String>,
}

impl State {
    pub fn new(max_retries: u32) -> State {
        State {
            max_retries,
            trailing_errors: 0,
            name: None,
            first_user: None,
        }
    }
}

impl Lines for State {
    fn feed(&mut self, d: &mut Derived, v: &Value) {
        feed(self, d, v)
    }
}

fn feed(st: &mut State, d: &mut Derived, v: &Value) {
    match str_at(v, "type") {
        Some("session") => {
            d.conversation_id = string_at(v, "id");
            d.header_cwd = string_at(v, "cwd");
            d.created_at = str_at(v, "timestamp").and_then(crate::timefmt::parse_epoch);
        }
        // An empty name clears it: the title falls back to the first prompt.
        Some("session_info") => st.name = str_at(v, "name").and_then(title),
        Some("message") => {
            if let Some(m) = v.get("message") {
                message(st, d, m);
            }
        }
        _ => {}
    }
    d.title = st.name.clone().or_else(|| st.first_user.clone());
}

fn message(st: &mut State, d: &mut Derived, m: &Value) {
    let text = content_text(m.get("content").unwrap_or(&Value::Null), &["text"]);
    match str_at(m, "role") {
        Some("user") => {
            if st.first_user.is_none() {
                st.first_user = title(&text);
            }
            st.trailing_errors = 0;
            d.user_turn(&text);
        }
        Some("assistant") => {
            push_tail(&mut d.text_tail, &text);
            assistant(st, d, m);
        }
        _ => {}
    }
}

fn assistant(st: &mut State, d: &mut Derived, m: &Value) {
    let stop = str_at(m, "stopReason");
    if stop != Some("error") {
        st.trailing_errors = 0;
        d.retrying = false;
    }
    match stop {
        Some("toolUse") => {
            d.error = false;
            d.tool(last_tool_name(m));
        }
        Some("stop" | "length") => d.reply_done(),
        // The user pressed Escape: nothing failed and nothing new to read.
        Some("aborted") => {
            d.working = false;
            d.error = false;
            d.label = None;
        }
        Some("error") => {
            st.trailing_errors += 1;
            let why = str_at(m, "errorMessage");
            if st.trailing_errors > st.max_retries || !retryable(why) {
                d.retrying = false;
                d.failed(why);
            } else {
                // pi waits, then asks again: still at work.
                d.retrying = true;
                let (n, max) = (st.trailing_errors, st.max_retries);
                let why = why.unwrap_or("error");
                d.label = Some(format!("retrying {n}/{max}: {why}"));
            }
        }
        _ => {}
    }
}

fn last_tool_name(m: &Value) -> Option<&str> {
    let blocks = m.get("content")?.as_array()?;
    blocks
        .iter()
        .rev()
        .find(|b| str_at(b, "type") == Some("toolCall"))
        .and_then(|b| str_at(b, "name"))
}

/// The directory pi keeps a cwd's sessions in: `/home/u/proj` becomes
/// `--home-u-proj--`.
#[cfg(test)]
pub fn session_dir_name(cwd: &str) -> String {
    let inner: String = cwd
        .strip_prefix('/')
        .unwrap_or(cwd)
        .chars()
        .map(|c| {
            if matches!(c, '/' | '\\' | ':') {
                '-'
            } else {
                c
            }
        })
        .collect();
    format!("--{inner}--")
}

#[cfg(test)]
mod tests {
    use super::super::{fixture, Kind};
    use super::*;

    #[test]
    fn fixtures_yield_title_status_id_and_resume() {
        // (file, title, status, conversation id)
        let table = [
            (
                "01-short-print-mode",
                "hello traced",
                "idle unread",
                "01a20a4d-6bf5-72a6-a8fb-fd44f3bd356b",
            ),
            (
                "02-resumed-by-session-id",
                "hello",
                "idle unread",
                "01a20a4c-c98f-7012-ab5d-5cc63c62c43a",
            ),
            (
                "03-interactive-toolcall-named-resumed",
                "research-session-b",
                "idle unread",
                "01a20a4e-a7ec-7005-8ef6-3cdf963c809d",
            ),
            (
                "04-forked-with-parentSession",
                "explicit path turn",
                "idle unread",
                "01a20a50-0990-72a5-bb0a-2bc13d572048",
            ),
            (
                "05-first-turn-error",
                "this will fail",
                "failed error: Connection error.",
                "01a20a52-3fb3-7166-abb4-f493537843be",
            ),
            (
                "06-first-turn-aborted",
                "SLOW please",
                "idle",
                "01a20a52-b1b5-7288-be91-bce897982f7a",
            ),
            (
                "07-clone-writeFileSync",
                "first msg",
                "idle unread",
                "01a20a54-55c0-7053-905e-7f7ec08c17f5",
            ),
        ];
        for (name, title, status, id) in table {
            let file = format!("pi/{name}.jsonl");
            let d = fixture::derive(Kind::PI, 3, &file);
            assert_eq!(d.title.as_deref(), Some(title), "{name}");
            assert_eq!(fixture::status(&d), status, "{name}");
            assert_eq!(d.conversation_id.as_deref(), Some(id), "{name}");
            assert!(
                d.text_tail.contains(title) || name.starts_with("03"),
                "{name}: {:?}",
                d.text_tail
            );
            let path = format!("/home/u/.pi/agent/sessions/--home-u--/{name}.jsonl");
            let resume = Kind::PI.resume_command(
                &fixture::argv("/opt/x/pi --model m"),
                Path::new(&path),
                Some(id),
            );
            assert_eq!(
                resume,
                Some(fixture::argv(&format!(
                    "/opt/x/pi --model m --session {path} -c"
                ))),
                "{name}"
            );
        }
    }

    #[test]
    fn header_fields_are_read() {
        let d = fixture::derive(
            Kind::PI,
            3,
            "pi/03-interactive-toolcall-named-resumed.jsonl",
        );
        assert_eq!(d.header_cwd.as_deref(), Some("/home/user/proj-b"));
        assert_eq!(
            d.created_at,
            crate::timefmt::parse_epoch("2026-11-23T21:27:36Z")
        );
    }

    #[test]
    fn errors_count_only_once_retries_are_exhausted() {
        // Four errors in a row: final with 3 retries, still retrying with 4.
        let d = fixture::derive(Kind::PI, 4, "pi/05-first-turn-error.jsonl");
        assert!(d.working && d.retrying && !d.error, "{d:?}");
        let label = d.label.as_deref().unwrap_or("");
        assert!(label.starts_with("retrying 4/4: "), "{label}");
        let d = fixture::derive(Kind::PI, 0, "pi/05-first-turn-error.jsonl");
        assert!(d.error);
        // A retry that succeeds clears the run of errors.
        let lines = fixture::lines("pi/05-first-turn-error.jsonl");
        let mut t = super::super::fixture::tracker(Kind::PI, 3);
        lines[..6].iter().for_each(|l| t.feed(l.as_bytes()));
        assert!(t.derived().working && !t.derived().error);
        t.feed(br#"{"type":"message","message":{"role":"assistant","content":[],"stopReason":"stop"}}"#);
        lines[6..].iter().for_each(|l| t.feed(l.as_bytes()));
        assert!(!t.derived().error, "the run restarted after the success");
    }

    #[test]
    fn tool_call_is_working_with_a_label_and_user_clears_unread() {
        let lines = fixture::lines("pi/03-interactive-toolcall-named-resumed.jsonl");
        let mut t = super::super::fixture::tracker(Kind::PI, 3);
        for l in &lines[..5] {
            t.feed(l.as_bytes());
        }
        assert!(t.derived().unread && !t.derived().working);
        t.feed(lines[5].as_bytes());
        assert!(!t.derived().unread && t.derived().working);
        t.feed(lines[6].as_bytes());
        assert_eq!(t.derived().label.as_deref(), Some("tool: bash"));
        assert_eq!(t.derived().title.as_deref(), Some("hello from tmux"));
    }

    #[test]
    fn session_dir_names() {
        for (cwd, want) in [
            ("/home/u/proj", "--home-u-proj--"),
            ("/", "----"),
            ("/a:b\\c/d", "--a-b-c-d--"),
        ] {
            assert_eq!(session_dir_name(cwd), want);
        }
    }
}
