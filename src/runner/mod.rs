//! The runner: one agent in a PTY, relayed to the user's terminal and
//! served on `<runtime>/sessions/<id>.sock` (see ARCHITECTURE.md).
//!
//! Everything runs on one thread in a `LocalExecutor`: the PTY reader
//! (output → stdout, kept ring, attachers, `activity`), the PTY writer (one
//! queue for keystrokes, `/input` and attach input), the signal task
//! (`SIGWINCH` → resize, in the foreground; `SIGTERM`, `SIGHUP`, `SIGINT`,
//! `SIGQUIT` → forwarded to the agent's process group), the FIFO reader
//! for the preload, the HTTP server, and the SSE broadcaster.
//! Shared state is an `Rc<Runner>`; the `RefCell`s are never held across
//! an `.await`. The child's `wait` runs on the blocking pool; when it ends
//! the remaining output is drained, `exit` is published, the terminal is
//! restored and the process exits with the child's status.

mod attach;
mod detach;
mod exit;
mod foreground;
mod hook;
mod keep;
mod notify;
mod relay;
mod ring;
mod routes;
mod session;
mod shim;
mod viewers;

use crate::adapters::{HookSite, Kind, Launch};
use crate::ansi::TitleTracker;
use crate::error::{Context, Error, Result};
use crate::http::sse::Broadcaster;
use crate::{id, paths, protocol, pty, term};
use async_executor::LocalExecutor;
use session::{Exit, Session};
use std::cell::{Cell, RefCell};
use std::ffi::OsString;
use std::fs::File;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, Instant};

pub use detach::run_detached;

pub struct Options {
    pub size: Option<(u16, u16)>,
    pub keep: usize,
    pub argv: Vec<OsString>,
    /// Internal: we are the background half of `run -d`.
    pub detached_worker: bool,
    /// Whether adapters add their launch flags (`Kind::launch`): false
    /// with `run --no-inject`; `AMUX_NO_INJECT=1` turns it off too.
    pub inject: bool,
}

/// State shared by the runner's tasks.
pub struct Runner {
    pub session: RefCell<Session>,
    pub events: Broadcaster,
    pub ring: RefCell<ring::Ring>,
    pub controller: crate::hot::Hot<File>,
    pub input: async_channel::Sender<Vec<u8>>,
    pub viewers: viewers::Viewers,
    pub ex: Rc<LocalExecutor<'static>>,
    pub title: RefCell<TitleTracker>,
    /// Notifications in the output (and ours cut from it).
    pub notices: RefCell<notify::Notices>,
    pub last_output: Cell<Instant>,
    /// When a key was last typed: output right after it is its echo.
    pub last_key: Cell<Option<Instant>>,
    /// Output other than an echo since the last `input` for typing.
    pub heard: Cell<bool>,
    pub last_activity: Cell<Option<Instant>>,
    /// A shell's command runs (see `foreground.rs`), as last looked.
    pub fg_busy: Cell<Option<bool>>,
    /// The command is an interactive shell, with a prompt to go back to
    /// (`adapters::interactive_shell`); any other command works until it
    /// exits.
    pub prompts: bool,
    /// The line being typed, for the slash command an Enter ends.
    pub line: RefCell<crate::typed::TypedLine>,
}

impl Runner {
    /// Tells the runner's subscribers (the daemon) of `event`.
    pub fn publish(&self, event: &crate::protocol::RunnerEvent) {
        self.events.publish(event.name(), &event.data());
    }

    /// The agent's own report of its state: published, and kept for the
    /// replay of a daemon that connects later.
    pub fn report_state(&self, mut state: crate::protocol::AgentState) {
        state.at_ms = crate::daemon::now_ms();
        self.publish(&crate::protocol::RunnerEvent::State(state.clone()));
        self.session.borrow_mut().remember(state);
    }

    /// Applies a window size to the PTY and tells subscribers.
    pub fn resize(&self, cols: u16, rows: u16) -> std::io::Result<()> {
        if cols == 0 || rows == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "cols and rows must be positive",
            ));
        }
        pty::resize_fd(self.controller.get_ref(), cols, rows)?;
        let event = self.session.borrow_mut().set_size(cols, rows);
        self.publish(&event);
        Ok(())
    }

    pub fn alive(&self) -> bool {
        self.session.borrow().exit.is_none()
    }

    pub fn signal_child(&self, signal: rustix::process::Signal) {
        let pid = self.session.borrow().pid;
        if let Some(pgid) = rustix::process::Pid::from_raw(pid as i32) {
            // The agent leads its own session and group (setsid): signal
            // the group so its children go too.
            let _ = rustix::process::kill_process_group(pgid, signal);
        }
    }
}

pub fn run(opts: Options) -> Result<ExitCode> {
    let runtime = paths::ensure_runtime().context(|| "runtime directory".into())?;
    let session_id = id::new_session_id();
    let sock = paths::session_socket(&session_id);
    let fifo = paths::session_fifo(&session_id);
    paths::check_socket_path(&sock).context(|| "session socket".into())?;
    let argv: Vec<OsString> = if opts.argv.is_empty() {
        vec![default_shell()]
    } else {
        opts.argv.clone()
    };
    let argv_str: Vec<String> = argv
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let kind = Kind::detect(&argv_str);
    let cwd = std::env::current_dir().context(|| "current directory".into())?;
    let inject = opts.inject && !no_inject_env();
    let hooks = kind
        .uses_preload()
        .then(|| arm_preload(&runtime, &fifo))
        .flatten();
    // An agent's command hooks (`amux hook`) report through the FIFO too.
    let hook_command = (inject && kind.uses_hooks() && relay::make_fifo(&fifo).is_ok())
        .then(|| std::env::current_exe().ok())
        .flatten()
        .and_then(|exe| crate::adapters::hook_command(&exe));
    let own = paths::session_own_dir(&session_id);
    let site = HookSite {
        dir: hooks.as_deref(),
        command: hook_command.as_deref(),
        own: Some(&own),
    };
    let agent = Agent::of(kind, &argv_str, &cwd, inject, site);
    if let Err(e) = write_launch_files(&own, &agent.launch.files) {
        // The agent still runs; only the signals its plugin gives are lost.
        eprintln!("amux: cannot write the agent's plugin files, running without them: {e}");
    }
    let (cols, rows) = initial_size(&opts);
    let pty = open_pty(cols, rows, !opts.detached_worker)?;
    let mut env = child_env(&session_id, hooks.as_deref(), &sock, &fifo);
    if let Some(marker) = kind.relaunch_marker().filter(|_| hooks.is_some()) {
        // The preload hands itself on to the copy the agent re-executes.
        env.push(("AMUX_HOOK_RELAUNCH".into(), marker.into()));
    }
    if hook_command.is_some() {
        env.push(("AMUX_HOOK_FIFO".into(), fifo.clone().into()));
    }
    env.extend(agent.launch.env.iter().map(|(k, v)| (k.into(), v.into())));
    // Listening before the agent starts: its preload's first events (and
    // a daemon's first look) must find the socket and the FIFO's reader.
    let listener = relay::bind(&sock).context(|| format!("cannot listen on {}", sock.display()))?;
    let fifo_reader = shim::open_fifo(&fifo);
    let spawn_argv = agent.spawn_argv(&argv);
    let spec = pty::Spawn {
        argv: &spawn_argv,
        cwd: None,
        env: &env,
    };
    let signals = relay::catch_signals().ok();
    let child = pty::spawn(&pty, &spec).map_err(|e| spawn_error(&argv[0], e))?;
    let pty::Pty { controller, user } = pty;
    drop(user);
    let session = Session {
        id: session_id,
        kind,
        command: argv_str,
        // Read only along with a file: the launch line's, if it names one.
        file_source: protocol::FileSource::Argv,
        file_since: crate::daemon::now_ms(),
        session_file: agent.launch_file,
        roots: agent.roots,
        root_depth: agent.root_depth,
        config_dir: agent.config_dir,
        cwd,
        pid: child.id(),
        runner_pid: std::process::id(),
        started_at: crate::timefmt::now(),
        started_ms: crate::daemon::now_ms(),
        exit: None,
        exited_at: None,
        shim: None,
        cols,
        rows,
        title: None,
        submitted: 0,
        submitted_ms: 0,
        states: Vec::new(),
    };
    // Without a daemon (AMUX_NO_DAEMON, or none can start) the runner
    // still works alone; and it never waits for one (a stopped daemon
    // must not hold up the agent's terminal).
    std::thread::spawn(|| crate::daemon::ensure(false));
    let ex = Rc::new(LocalExecutor::new());
    let io = relay::Io {
        controller,
        listener,
        fifo: fifo_reader,
        owns_osc9: agent.launch.owns_osc9,
        signals,
    };
    // The PTY and the user's terminal are waited on by this thread itself
    // (`hot.rs`): a keystroke and its echo wake it once each.
    let result = crate::hot::block_on(ex.run(relay::main(ex.clone(), session, io, child, opts)))
        .context(|| "event loop".into())
        .and_then(|r| r);
    let _ = std::fs::remove_file(&sock);
    let _ = std::fs::remove_file(&fifo);
    let _ = std::fs::remove_dir_all(&own);
    result
}

/// The launch's files, each in a 0700 directory below `own` — or below
/// amux's cache, for a plugin directory the agent installs into and that
/// should outlive the session (OpenCode's). A file already there as it
/// should be is left alone: sessions share the cache.
fn write_launch_files(own: &Path, files: &[(PathBuf, String)]) -> std::io::Result<()> {
    let cache = paths::cache_dir();
    for (path, text) in files {
        let below = |base: &Path| Some((base.to_path_buf(), path.strip_prefix(base).ok()?));
        let (mut dir, rel) = below(own).or_else(|| below(&cache)).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{} is not below {}", path.display(), own.display()),
            )
        })?;
        if std::fs::read(path).is_ok_and(|b| b == text.as_bytes()) {
            continue;
        }
        paths::ensure_own_dir(&dir)?;
        for part in rel.parent().into_iter().flat_map(Path::components) {
            dir.push(part);
            paths::ensure_own_dir(&dir)?;
        }
        paths::write_private(path, text.as_bytes())?;
    }
    Ok(())
}

/// `--size`, else (in the foreground) the user's terminal's, else 80x24:
/// some TUIs draw nothing in a 0x0 window.
fn initial_size(opts: &Options) -> (u16, u16) {
    let terminal = || term::size_of(std::io::stdin()).map(|w| (w.ws_col, w.ws_row));
    opts.size
        .or_else(|| (!opts.detached_worker).then(terminal).flatten())
        .unwrap_or((80, 24))
}

fn open_pty(cols: u16, rows: u16, foreground: bool) -> Result<pty::Pty> {
    let pty =
        pty::open(pty::winsize(cols, rows)).context(|| "cannot open a pseudo-terminal".into())?;
    if foreground {
        let stdin_tty = rustix::termios::isatty(std::io::stdin());
        let stdout_tty = rustix::termios::isatty(std::io::stdout());
        term::adapt_pty_for_pipes(&pty.controller, stdin_tty, stdout_tty)
            .context(|| "pty attributes".into())?;
    }
    Ok(pty)
}

/// What the adapter says of this launch, read in the runner's (that is,
/// the agent's) environment.
struct Agent {
    roots: Vec<PathBuf>,
    root_depth: usize,
    config_dir: Option<PathBuf>,
    /// A resumed conversation is held from the start (adapters/launch.rs).
    launch_file: Option<PathBuf>,
    launch: Launch,
    launch_at: Option<usize>,
}

impl Agent {
    fn of(kind: Kind, argv: &[String], cwd: &Path, inject: bool, hooks: HookSite) -> Agent {
        let env = |k: &str| std::env::var(k).ok();
        // A relative `--session-dir` is relative to the agent's cwd (ours).
        let roots: Vec<PathBuf> = (kind.session_roots(argv, &env).into_iter())
            .map(|r| cwd.join(r))
            .collect();
        Agent {
            launch_file: kind.launch_file(argv, cwd, &roots),
            root_depth: kind.root_depth(argv, &env),
            config_dir: kind.config_dir(&env).map(|d| cwd.join(d)),
            launch: kind.launch(argv, &env, inject, hooks),
            launch_at: kind.launch_at(argv),
            roots,
        }
    }

    /// The command line the agent is started with: the user's, with the
    /// adapter's launch arguments after the word naming the agent. The
    /// session's `command` (and so its resume command) stays the user's.
    fn spawn_argv(&self, argv: &[OsString]) -> Vec<OsString> {
        let mut out = argv.to_vec();
        if let Some(at) = self.launch_at.filter(|_| !self.launch.args.is_empty()) {
            let extra = self.launch.args.iter().map(OsString::from);
            out.splice(at.min(out.len())..at.min(out.len()), extra);
        }
        out
    }
}

/// The hook directory, once the preload's files and the FIFO it reports
/// through are in place; `None` runs the agent without it.
fn arm_preload(runtime: &Path, fifo: &Path) -> Option<PathBuf> {
    match hook::materialise(runtime) {
        Ok(dir) => relay::make_fifo(fifo).is_ok().then_some(dir),
        // The agent still runs; only the authoritative signal is lost.
        Err(e) => {
            eprintln!("amux: preload unavailable, running without it: {e}");
            None
        }
    }
}

/// `AMUX_NO_INJECT` set to anything but empty or `0`.
fn no_inject_env() -> bool {
    std::env::var_os("AMUX_NO_INJECT").is_some_and(|v| !v.is_empty() && v != "0")
}

fn child_env(
    session_id: &str,
    hooks: Option<&Path>,
    sock: &Path,
    fifo: &Path,
) -> Vec<(OsString, OsString)> {
    let mut env = vec![("AMUX_SESSION_ID".into(), session_id.into())];
    if std::env::var_os("TERM").is_none_or(|t| t.is_empty()) {
        env.push(("TERM".into(), "xterm-256color".into()));
    }
    if let Some(dir) = hooks {
        env.extend(hook::inject(dir, sock, fifo));
    }
    env
}

fn default_shell() -> OsString {
    std::env::var_os("SHELL")
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "/bin/sh".into())
}

fn spawn_error(program: &OsString, e: std::io::Error) -> Error {
    Error::Spawn {
        program: Path::new(program).display().to_string(),
        source: e,
    }
}

/// Maps the child's status to ours, the way shells do.
pub fn exit_of(status: std::process::ExitStatus) -> Exit {
    match (status.code(), status.signal()) {
        (Some(code), _) => Exit::Code(code),
        (None, Some(sig)) => Exit::Signal(sig),
        (None, None) => Exit::Code(1),
    }
}

pub fn exit_code(exit: &Exit) -> ExitCode {
    match *exit {
        Exit::Code(c) => ExitCode::from(c as u8),
        Exit::Signal(s) => ExitCode::from((128 + s) as u8),
    }
}

/// How long output may keep trickling in after the child exited (a
/// grandchild still holding the terminal) before we stop draining.
pub const DRAIN_QUIET: Duration = Duration::from_millis(100);
/// Bytes of output the runner keeps for replay (`--keep`).
pub const DEFAULT_KEEP: usize = ring::DEFAULT_CAPACITY;
/// How long the runner keeps serving after the exit, so every subscriber
/// gets the final state.
pub const LINGER: Duration = Duration::from_secs(2);
