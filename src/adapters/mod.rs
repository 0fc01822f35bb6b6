//! Adapters: what amux knows about each agent (pi, Claude Code, Codex) and
//! about everything else (a shell, any command).
//!
//! Each agent is one file implementing [`Adapter`]: how a command line
//! names it, where its conversation files live and which of them it
//! accepts, its header, how it resumes one, what it adds at launch, what
//! its lines say (a [`Lines`] fold, see `derived.rs`) — or, for an agent
//! that does not append JSON lines, how its conversation is read (its own
//! [`Conversation`], see `conversation.rs`) and how its files' names end
//! (`conversation_files`; the root watcher reports only those and each
//! adapter's `report_files`) —, what its own extension's ops mean
//! (`extension`: pi's `session`, `agent_start`, `agent_end` …), where it reports
//! its own file besides its writes (Claude's pidfile, Codex's open fd) and
//! which guesses it allows. [`Kind`] is a copyable handle to one adapter —
//! what the runner and the daemon carry; the wire carries its name
//! (`"kind":"pi"`), which `Kind::named` resolves at the daemon's edge —
//! and [`AGENTS`] is the registry `Kind::detect` walks. Nothing outside
//! this directory names an agent.
//!
//! Adding an agent, say `foo`:
//! 1. `src/adapters/foo.rs` with `pub struct Foo;` and `impl Adapter for
//!    Foo` — `name`, `names` and `lines` are required, every other method
//!    has a default that means "does not have this" — plus its `Lines`
//!    state and tests over its fixtures (the `toy` test in `tests.rs` walks a
//!    whole adapter through `Kind`: copy it; `sheet` there is one whose
//!    conversation is a whole JSON file rewritten);
//! 2. `mod foo;` below and `Kind(&foo::Foo)` in [`AGENTS`].

mod argv;
mod claude;
mod claude_hooks;
mod codex;
mod codex_hooks;
mod conversation;
mod copilot;
mod copilot_hooks;
mod derived;
mod gemini;
mod gemini_log;
mod hooks;
mod launch;
mod opencode;
mod opencode_events;
mod pi;
mod pi_extension;
mod pi_retry;
mod qwen;
mod resume;
mod shell;
mod text;

#[cfg(test)]
mod fixture;
#[cfg(test)]
mod tests;

pub use argv::interactive_shell;
pub use conversation::{Conversation, JsonlConversation};
pub use derived::{derive_all, Derived, Lines, Tracker, Unknown};
pub use hooks::{hook_command, hook_event};

use crate::attribution::Source;
use serde_json::Value;
use std::path::{Component, Path, PathBuf};

/// Every agent amux recognises, in the order `detect` tries them.
pub const AGENTS: &[Kind] = &[
    Kind::PI,
    Kind::CLAUDE,
    Kind::CODEX,
    Kind::COPILOT,
    Kind::OPENCODE,
    Kind::QWEN,
    Kind::GEMINI,
];

/// A session's environment: the value of a variable, if set.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// How a command line names an agent (see `argv.rs`).
pub struct Names {
    /// Program names: `claude`, and a script's stem (`codex.js`).
    pub programs: &'static [&'static str],
    /// npm packages, for `npx`/`bunx` and a script inside the package.
    pub packages: &'static [&'static str],
    /// A directory name that marks a script as the agent's.
    pub dirs: &'static [&'static str],
}

/// What an adapter adds to the agent's command line and environment when
/// amux starts it (never part of a resume command).
#[derive(Debug, Default, PartialEq)]
pub struct Launch {
    /// Inserted right after the word that names the agent.
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// The OSC 9 notifications the agent writes are ours (we asked for
    /// them): the runner keeps them from the user's terminal.
    pub owns_osc9: bool,
    /// Files the runner writes (0600) before the agent starts, each at a
    /// path below `HookSite::own` (a plugin directory named by `args`).
    pub files: Vec<(PathBuf, String)>,
}

/// Where a session runs: what its lines' reading may depend on (pi's
/// retry settings live in the cwd and the agent's config dir).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Place {
    pub cwd: PathBuf,
    /// The agent's own directory, from the session's environment.
    pub config_dir: Option<PathBuf>,
}

/// What an adapter's own report of its file is read from.
pub struct Probe {
    /// The agent's process: it and its descendants are looked at.
    pub pid: u32,
    pub config_dir: Option<PathBuf>,
    pub roots: Vec<PathBuf>,
}

/// What an agent says of itself besides its writes (see `Adapter::report`).
#[derive(Debug, Default, PartialEq)]
pub struct Report {
    /// The file it holds, with the source to credit.
    pub file: Option<(PathBuf, Source)>,
    /// Its state, when it says (Claude's pidfile `status`).
    pub state: Option<crate::protocol::AgentState>,
    /// A report we could not read whole (an unknown status value), to log.
    pub odd: Option<String>,
}

/// What an agent's own extension said (an op of its own, carried by the
/// preload's transport: `protocol::ShimEvent`).
#[derive(Debug, PartialEq)]
pub enum Extension {
    /// The agent holds this conversation (it may not have written it yet).
    Holds(PathBuf),
    /// A switch the user commanded (Claude's `/clear`, `/resume`):
    /// the agent holds this conversation and is between turns — the
    /// Enter that sent the command asked for no answer.
    Switched(PathBuf),
    /// The agent holds this conversation and says this state of it (pi
    /// between turns after `/new`, `/resume`, `/fork`, `/reload`, or
    /// started with nothing to do): a file, then a state.
    Entered(PathBuf, crate::protocol::AgentState),
    /// Its state (a turn began or ended, it asks something); the runner
    /// stamps the time it heard it.
    State(crate::protocol::AgentState),
    /// One of its ops that says nothing amux reads (a subagent's end).
    Nothing,
    /// An op that names a conversation, without one.
    NoPath,
}

/// How long after an agent says it asks its dialog takes keys: keys sent
/// sooner go elsewhere (Claude Code ignores keys for a moment after its
/// permission dialog shows, against answering it with keys typed for the
/// prompt; Codex draws its approval only once the user has stopped
/// typing for a second, and keys before that go to its composer). A
/// `waiting` is reported from then on: `wait --until waiting && send`
/// must reach the dialog.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Grace {
    /// From the moment it said so.
    pub after_signal_ms: i64,
    /// From the last line submitted to it.
    pub after_enter_ms: i64,
}

/// An answer to a permission dialog (`amux answer`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Run it, this once.
    Yes,
    /// Do not run it.
    No,
    /// Run it, and do not ask again for its like (each agent's own
    /// "don't ask again" choice, whatever its scope).
    Always,
}

impl Answer {
    pub fn parse(word: &str) -> Option<Answer> {
        match word {
            "yes" | "y" => Some(Answer::Yes),
            "no" | "n" => Some(Answer::No),
            "always" | "a" => Some(Answer::Always),
            _ => None,
        }
    }
}

/// A slash command an agent carries out without saying so, as amux must
/// know it (`Adapter::command`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// It lets go of its conversation for a new one it writes only at the
    /// next prompt (Codex's `/new`).
    NewConversation,
}

/// Where amux's agent-side hooks are, for one launch.
#[derive(Clone, Copy, Debug, Default)]
pub struct HookSite<'a> {
    /// The directory of `hook/`'s files, when the preload is armed (pi's
    /// extension is loaded from it).
    pub dir: Option<&'a Path>,
    /// The shell command a command hook runs (`'/usr/bin/amux' hook`, the
    /// agent's name to follow), when the runner listens on its FIFO.
    pub command: Option<&'a str>,
    /// A directory of this session's own (0700, beside its socket, gone
    /// when the agent exits) where `Launch::files` may go: an agent that
    /// takes its hooks as a plugin directory gets one no one else writes.
    pub own: Option<&'a Path>,
}

/// The fallback guesses an agent's sessions may get, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Guess {
    Metadata,
    Scrollback,
    Mtime,
}

/// One agent (or the shell fallback). See the module doc.
pub trait Adapter: Sync {
    /// The agent's word on the wire and in `ls` (`pi`).
    fn name(&self) -> &'static str;
    fn names(&self) -> Names;
    /// Whether the preload sees its writes (node/bun agents).
    fn uses_preload(&self) -> bool {
        false
    }
    /// The variable a node agent that re-executes itself sets in the copy
    /// that does the work (Gemini's `GEMINI_CLI_NO_RELAUNCH`): the preload
    /// stays armed for that copy only, as it does not for other children.
    fn relaunch_marker(&self) -> Option<&'static str> {
        None
    }
    /// Whether its launch adds command hooks (`amux hook`), which report
    /// through the runner's FIFO.
    fn uses_hooks(&self) -> bool {
        false
    }
    /// What a slash command typed to it does that it does not say itself.
    fn command(&self, _line: &str) -> Option<Command> {
        None
    }
    /// Whether, started with nothing to do, it is idle though it says
    /// nothing until its first prompt (Copilot): `wait --until idle` on
    /// such a fresh session returns at once.
    fn idle_when_fresh(&self) -> bool {
        false
    }
    /// When its dialog takes keys, after it says it asks (see [`Grace`]).
    fn dialog_grace(&self) -> Grace {
        Grace::default()
    }
    /// The keys that give `answer` at its permission dialog, sent once
    /// the dialog takes keys; `None`: amux cannot answer it.
    fn answer_keys(&self, _answer: Answer) -> Option<&'static str> {
        None
    }
    /// The agent's own directory (`~/.claude`), from the environment.
    fn config_dir(&self, _env: Env) -> Option<PathBuf> {
        None
    }
    /// Where it writes conversations, from `env` and its own `args`; a
    /// relative path is resolved by the caller in the session's cwd.
    fn session_root(&self, _args: &[String], _env: Env) -> Option<PathBuf> {
        None
    }
    /// Directory levels below the root where conversations live.
    fn root_depth(&self, _args: &[String], _env: Env) -> usize {
        1
    }
    /// How its conversation files' names end (`.jsonl`): the root watcher
    /// reports changes to these (and to `report_files`) only.
    fn conversation_files(&self) -> &'static [&'static str] {
        &[".jsonl"]
    }
    /// Whether a conversation file at `rel` below a root is one of its
    /// conversations.
    fn is_conversation(&self, rel: &Path) -> bool {
        rel.components().next().is_some()
    }
    /// Opens a conversation to follow; an append-only JSON-lines file
    /// through `lines` unless the agent keeps it otherwise.
    fn open(&self, kind: Kind, path: PathBuf, place: &Place) -> Box<dyn Conversation> {
        Box::new(JsonlConversation::new(path, kind, place))
    }
    fn is_header(&self, _first: &Value) -> bool {
        false
    }
    /// The conversation the launch arguments name (see `launch.rs`).
    fn launch_file(&self, _args: &[String], _cwd: &Path, _roots: &[PathBuf]) -> Option<PathBuf> {
        None
    }
    /// What amux adds when it starts the agent, given where amux's hooks
    /// are (`hooks.rs`).
    fn launch(&self, _args: &[String], _env: Env, _hooks: HookSite) -> Launch {
        Launch::default()
    }
    /// The arguments that resume `file` (conversation `id` if known).
    fn resume_args(&self, _file: &Path, _id: Option<&str>) -> Option<Vec<String>> {
        None
    }
    /// Its options, as a resume keeps the user's (`resume.rs`).
    fn options(&self) -> resume::Options {
        resume::Options::default()
    }
    /// What a user must know before resuming one of its conversations
    /// (a way the agent itself may lose it), given the environment.
    fn resume_caveat(&self, _env: Env) -> Option<String> {
        None
    }
    /// A fresh fold over a conversation's lines.
    fn lines(&self, place: &Place) -> Box<dyn Lines>;
    /// The conversation its command hooks mean by a session id, when their
    /// input names no file (Copilot's), in the hook's environment.
    fn hook_transcript(&self, _session_id: &str, _env: Env) -> Option<PathBuf> {
        None
    }
    /// Whether the agent, holding `held`, holds it still though it wrote
    /// `reported`: one conversation in two files of its own (Gemini
    /// starts a resume in a new file of the same id, then goes back to
    /// the original). Such a write names nothing new.
    fn keeps(&self, _held: &Path, _reported: &Path) -> bool {
        false
    }
    /// What an op of its own extension says (`None`: not one of its ops).
    fn extension(&self, _event: &crate::protocol::ShimEvent) -> Option<Extension> {
        None
    }
    /// What the agent itself says (not its writes): the file it holds,
    /// its state. Runs off the executor: it may walk `/proc`.
    fn report(&self, _probe: &Probe) -> Report {
        Report::default()
    }
    /// A directory whose files' changes mean `report` may answer anew.
    fn report_dir(&self, _config_dir: &Path) -> Option<PathBuf> {
        None
    }
    /// How the names of the files in `report_dir` end (`.json`).
    fn report_files(&self) -> &'static [&'static str] {
        &[]
    }
    fn guesses(&self) -> &'static [Guess] {
        &[]
    }
    /// The state an OSC 9 notification of the agent tells (Codex's
    /// "Approval requested: …").
    /// What its own state escape in its terminal says (`OSC 7501 ;
    /// <payload>`, Codex's), if it writes one.
    fn terminal_state(&self, _payload: &str) -> Option<crate::protocol::AgentState> {
        None
    }
    fn notice_state(&self, _body: &str) -> Option<crate::protocol::AgentState> {
        None
    }
    /// The state its terminal's window title (OSC 0 / 2) says, if the
    /// agent sets one at each change of its state (Gemini's `◇ Ready`).
    fn title_state(&self, _title: &str) -> Option<crate::protocol::AgentState> {
        None
    }
    /// The title `ls` shows.
    fn title(
        &self,
        derived: &Derived,
        _argv: &[String],
        _terminal: Option<&str>,
    ) -> Option<String> {
        derived.title.clone()
    }
    /// True when the process's exit, not a file, says how it went.
    fn state_from_exit(&self) -> bool {
        false
    }
}

/// A handle to one adapter: compared and hashed by name.
#[derive(Clone, Copy)]
pub struct Kind(pub &'static dyn Adapter);

impl Kind {
    pub const PI: Kind = Kind(&pi::Pi);
    pub const CLAUDE: Kind = Kind(&claude::Claude);
    pub const CODEX: Kind = Kind(&codex::Codex);
    pub const COPILOT: Kind = Kind(&copilot::Copilot);
    pub const OPENCODE: Kind = Kind(&opencode::OpenCode);
    pub const QWEN: Kind = Kind(&qwen::Qwen);
    pub const GEMINI: Kind = Kind(&gemini::Gemini);
    pub const SHELL: Kind = Kind(&shell::Shell);

    /// The agent named by `argv` (see `argv.rs`); anything else is a shell.
    pub fn detect(argv: &[String]) -> Kind {
        argv::locate(argv, AGENTS).map_or(Kind::SHELL, |(kind, _)| kind)
    }

    /// The adapter called `name`; the shell for a name we do not know.
    pub fn named(name: &str) -> Kind {
        AGENTS
            .iter()
            .copied()
            .find(|k| k.as_str() == name)
            .unwrap_or(Kind::SHELL)
    }

    pub fn adapter(self) -> &'static dyn Adapter {
        self.0
    }

    pub fn as_str(self) -> &'static str {
        self.0.name()
    }

    pub fn uses_preload(self) -> bool {
        self.0.uses_preload()
    }

    pub fn uses_hooks(self) -> bool {
        self.0.uses_hooks()
    }

    pub fn command(self, line: &str) -> Option<Command> {
        self.0.command(line.trim_end())
    }

    pub fn idle_when_fresh(self) -> bool {
        self.0.idle_when_fresh()
    }

    pub fn dialog_grace(self) -> Grace {
        self.0.dialog_grace()
    }

    pub fn answer_keys(self, answer: Answer) -> Option<&'static str> {
        self.0.answer_keys(answer)
    }

    pub fn is_shell(self) -> bool {
        self == Kind::SHELL
    }

    /// The agent's own arguments in `argv` (after the word naming it).
    fn args(self, argv: &[String]) -> &[String] {
        argv::locate(argv, &[self]).map_or(&[], |(_, i)| &argv[i + 1..])
    }

    /// Where this agent writes conversation files.
    pub fn session_roots(self, argv: &[String], env: Env) -> Vec<PathBuf> {
        let env = non_empty(env);
        self.0
            .session_root(self.args(argv), &env)
            .into_iter()
            .collect()
    }

    pub fn root_depth(self, argv: &[String], env: Env) -> usize {
        self.0.root_depth(self.args(argv), &non_empty(env))
    }

    pub fn config_dir(self, env: Env) -> Option<PathBuf> {
        self.0.config_dir(&non_empty(env))
    }

    /// The adapter's additions to this launch; nothing at all unless
    /// `inject` (off with `run --no-inject` or `AMUX_NO_INJECT=1`).
    pub fn launch(self, argv: &[String], env: Env, inject: bool, hooks: HookSite) -> Launch {
        if !inject {
            return Launch::default();
        }
        self.0.launch(self.args(argv), &non_empty(env), hooks)
    }

    /// Where `launch().args` go: after the word naming the agent.
    pub fn launch_at(self, argv: &[String]) -> Option<usize> {
        argv::locate(argv, &[self]).map(|(_, i)| i + 1)
    }

    /// The conversation file the launch command line names, resolved in
    /// `cwd` against this agent's `roots` (see `launch.rs`).
    pub fn launch_file(self, argv: &[String], cwd: &Path, roots: &[PathBuf]) -> Option<PathBuf> {
        self.0.launch_file(self.args(argv), cwd, roots)
    }

    /// Whether a reported path is a conversation (amux-protocol(7), What
    /// the runner accepts as the session file): an absolute `*.jsonl`
    /// path under one of `roots` that
    /// the agent calls a conversation, or a file whose first line is its
    /// session header.
    pub fn accepts(self, path: &Path, roots: &[PathBuf], first_line: Option<&[u8]>) -> bool {
        let named = |p: &Path| {
            let name = p.file_name().map_or(&[][..], |n| n.as_encoded_bytes());
            (self.0.conversation_files().iter()).any(|end| name.ends_with(end.as_bytes()))
        };
        if self.is_shell()
            || !path.is_absolute()
            || !named(path)
            || path.components().any(|c| c == Component::ParentDir)
        {
            return false;
        }
        let under = roots.iter().filter(|r| r.is_absolute()).any(|root| {
            path.strip_prefix(root)
                .is_ok_and(|rel| self.0.is_conversation(rel))
        });
        under
            || first_line
                .and_then(|l| serde_json::from_slice::<Value>(l).ok())
                .is_some_and(|v| self.0.is_header(&v))
    }

    /// The launcher the session was started with (`pi`,
    /// `/opt/x/pi`, `bun /x/cli.js`), the user's own options (`resume.rs`)
    /// and the agent's resume arguments. When argv does not name this agent (a wrapper script),
    /// its first word is taken as the launcher. `None` for a shell.
    pub fn resume_command(
        self,
        argv: &[String],
        file: &Path,
        conversation_id: Option<&str>,
    ) -> Option<Vec<String>> {
        let id = conversation_id.filter(|s| !s.is_empty());
        let args = self.0.resume_args(file, id)?;
        let (launcher, theirs) = match argv::locate(argv, &[self]) {
            Some((_, i)) => (
                argv[..=i].to_vec(),
                resume::kept(&argv[i + 1..], &self.0.options()),
            ),
            None if argv.is_empty() => (vec![self.as_str().to_owned()], Vec::new()),
            None => (argv[..1].to_vec(), Vec::new()),
        };
        Some(launcher.into_iter().chain(theirs).chain(args).collect())
    }

    pub fn keeps(self, held: &Path, reported: &Path) -> bool {
        self.0.keeps(held, reported)
    }

    pub fn resume_caveat(self, env: Env) -> Option<String> {
        self.0.resume_caveat(&non_empty(env))
    }

    /// Opens `path`, one of its conversations, to follow.
    pub fn open(self, path: PathBuf, place: &Place) -> Box<dyn Conversation> {
        self.0.open(self, path, place)
    }

    pub fn hook_transcript(self, session_id: &str, env: Env) -> Option<PathBuf> {
        self.0.hook_transcript(session_id, &non_empty(env))
    }

    pub fn report(self, probe: &Probe) -> Report {
        self.0.report(probe)
    }

    pub fn report_dir(self, config_dir: &Path) -> Option<PathBuf> {
        self.0.report_dir(config_dir)
    }

    pub fn terminal_state(self, payload: &str) -> Option<crate::protocol::AgentState> {
        self.0.terminal_state(payload)
    }

    pub fn notice_state(self, body: &str) -> Option<crate::protocol::AgentState> {
        self.0.notice_state(body)
    }

    pub fn title_state(self, title: &str) -> Option<crate::protocol::AgentState> {
        self.0.title_state(title)
    }

    pub fn relaunch_marker(self) -> Option<&'static str> {
        self.0.relaunch_marker()
    }

    pub fn guesses(self) -> &'static [Guess] {
        self.0.guesses()
    }

    pub fn title(
        self,
        derived: &Derived,
        argv: &[String],
        terminal: Option<&str>,
    ) -> Option<String> {
        self.0.title(derived, argv, terminal)
    }

    pub fn state_from_exit(self) -> bool {
        self.0.state_from_exit()
    }
}

/// Whether a file called `name` is one the root watcher reports: an
/// agent's conversation file or a file of its own reports.
pub fn watched_file(name: &[u8]) -> bool {
    AGENTS
        .iter()
        .any(|k| ends_in(name, k.0.conversation_files()) || ends_in(name, k.0.report_files()))
}

/// Whether a file called `name` may be an agent's own report (Claude's
/// pidfile): only such a file is looked up among the report directories.
pub fn report_file(name: &[u8]) -> bool {
    AGENTS.iter().any(|k| ends_in(name, k.0.report_files()))
}

fn ends_in(name: &[u8], ends: &[&str]) -> bool {
    ends.iter().any(|end| name.ends_with(end.as_bytes()))
}

/// An unset and an empty variable mean the same to every agent.
fn non_empty(env: Env<'_>) -> impl Fn(&str) -> Option<String> + '_ {
    move |name| env(name).filter(|v| !v.is_empty())
}

/// `$NAME` as a path, else `$HOME/<rel>`.
fn dir_from(env: Env, name: &str, rel: &str) -> Option<PathBuf> {
    env(name)
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| Path::new(&h).join(rel)))
}

impl PartialEq for Kind {
    fn eq(&self, other: &Kind) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Kind {}

impl std::hash::Hash for Kind {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl std::fmt::Debug for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Lowercase ASCII words of `title` joined by `-`, at most 40 bytes, cut
/// between words; `""` when there is no such word.
pub fn slugify(title: &str) -> String {
    text::slugify(title)
}
