//! The daemon's state and the one place it changes.
//!
//! Tasks (runner subscriptions, the root watcher, the API) call methods on
//! `Daemon`; each method updates the store, feeds the attribution engine,
//! applies its decisions (start or stop following a file), and publishes
//! the sessions whose record changed as one `session` SSE event each. A
//! record is published only when its JSON differs from the last one sent,
//! so subscribers see changes, not noise. Bound files are followed with a
//! `Follower` (complete lines only) feeding the adapter's `Tracker`.

mod ended;
mod forget;
mod roots;
mod side;
mod sources;
mod watching;

pub use forget::Refused;
pub use watching::watch_roots;

use roots::{Root, RootChange};

use super::follow::Follower;
use super::journal::{Cause, Journal, Signal};
use super::log::Log;
use super::store::{Entry, Held, Lookup, Store};
use crate::adapters::{self, Tracker};
use crate::attribution::{Decision, Engine, Input, Source};
use crate::http::sse::Broadcaster;
use crate::protocol::{self, Record};
use async_executor::LocalExecutor;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

pub struct Followed {
    follower: Follower,
    pub tracker: Tracker,
}

/// A followed file. `followed` is `None` while the rest of a big read runs
/// off the executor; a change meanwhile sets `again`. `gen` tells a slot
/// made anew (released and bound again) from the one a read began on.
pub struct FileSlot {
    followed: Option<Followed>,
    again: bool,
    gen: u64,
}

/// Bytes a file is read on the executor at a time; the rest of a bigger
/// read goes to the blocking pool (parsing 1 MiB of JSON lines takes a few
/// milliseconds: the daemon keeps answering).
const SYNC_BUDGET: u64 = 1 << 20;

pub struct Daemon {
    pub ex: Rc<LocalExecutor<'static>>,
    store: RefCell<Store>,
    engine: RefCell<Engine>,
    files: RefCell<HashMap<PathBuf, FileSlot>>,
    file_gen: std::cell::Cell<u64>,
    pub events: Broadcaster,
    log: Rc<RefCell<Log>>,
    /// Our own writes, off the executor (see `disk.rs`).
    disk: super::disk::Disk,
    roots: RefCell<HashMap<PathBuf, Root>>,
    /// Directories the root watcher watches now (`/v1/health`).
    watches: std::cell::Cell<usize>,
    roots_tx: async_channel::Sender<RootChange>,
    roots_rx: async_channel::Receiver<RootChange>,
    /// Files seen changing (or recent at start), by path: candidates for
    /// the guesses, with the time they last changed.
    recent: RefCell<HashMap<PathBuf, i64>>,
    recent_limit: std::cell::Cell<usize>,
    /// Per live session, what is not its record (see `side.rs`).
    sides: RefCell<HashMap<String, side::Side>>,
    /// Dead records not yet on disk, and why (see `ended.rs`).
    unsaved: RefCell<std::collections::BTreeSet<String>>,
    /// What the user must be told (`/v1/health`, `amux ls`), by topic.
    warnings: RefCell<std::collections::BTreeMap<&'static str, String>>,
    /// Runners being followed (see `runners.rs`), known or not yet.
    following: RefCell<HashSet<String>>,
    /// What it handled and why each record changed (`amux explain`).
    journal: RefCell<Journal>,
}

/// The cause in force while it lives (see `Daemon::cause`).
pub struct CauseGuard<'a> {
    daemon: &'a Daemon,
    previous: Option<Cause>,
}

impl Drop for CauseGuard<'_> {
    fn drop(&mut self) {
        let previous = self.previous.take();
        self.daemon.journal.borrow_mut().end(previous);
    }
}

/// Size past which `recent` forgets files unchanged for `RECENT_KEEP_S`
/// (far beyond every guess's window).
const MAX_RECENT: usize = 4096;
const RECENT_KEEP_S: i64 = 1800;
/// How long a session must stay unchanged (terminal and file) after input
/// before that input counts as consumed without a turn. Agents at work
/// redraw a spinner many times a second, so this is far from a busy one.
const QUIET: std::time::Duration = std::time::Duration::from_secs(3);

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Daemon {
    pub fn new(ex: Rc<LocalExecutor<'static>>) -> io::Result<Rc<Daemon>> {
        let env = |k: &str| std::env::var(k).ok();
        let default_roots: HashMap<PathBuf, Root> = adapters::AGENTS
            .iter()
            .flat_map(|k| {
                let depth = k.root_depth(&[], &env);
                let roots = k.session_roots(&[], &env);
                roots
                    .into_iter()
                    .map(move |r| (r, Root { depth, users: None }))
            })
            .filter(|(r, _)| r.is_absolute())
            .collect();
        let (roots_tx, roots_rx) = async_channel::unbounded();
        let store = Store {
            live: Default::default(),
            dead: super::persist::load(),
        };
        let log = Rc::new(RefCell::new(Log::open()));
        let disk = super::disk::Disk::spawn(&ex, log.clone());
        let daemon = Rc::new(Daemon {
            disk,
            events: Broadcaster::spawn(&ex),
            ex,
            store: RefCell::new(store),
            engine: RefCell::new(Engine::new()),
            files: RefCell::new(HashMap::new()),
            file_gen: std::cell::Cell::new(0),
            log,
            roots: RefCell::new(default_roots),
            watches: std::cell::Cell::new(0),
            roots_tx,
            roots_rx,
            recent: RefCell::new(HashMap::new()),
            recent_limit: std::cell::Cell::new(MAX_RECENT),
            sides: RefCell::new(HashMap::new()),
            unsaved: RefCell::new(Default::default()),
            warnings: RefCell::new(Default::default()),
            following: RefCell::new(HashSet::new()),
            journal: RefCell::new(Journal::default()),
        });
        daemon.prune_dead();
        daemon.log_start();
        Ok(daemon)
    }

    /// The first line of every daemon generation in the log: which
    /// process, which build, and the agents' roots it watches from the
    /// start (a session's own roots are logged as they come).
    fn log_start(&self) {
        let mut roots: Vec<String> = (self.roots.borrow().keys())
            .map(|r| r.display().to_string())
            .collect();
        roots.sort();
        self.log(&format!(
            "daemon started: pid {}, amux {}, {} dead records, watching {}",
            std::process::id(),
            env!("CARGO_PKG_VERSION"),
            self.store.borrow().dead.len(),
            roots.join(", ")
        ));
    }

    pub fn log(&self, text: &str) {
        self.log.borrow_mut().line(text);
    }

    /// Handles an event: numbered, and named as the cause of what changes
    /// until the guard goes (see `journal.rs`).
    pub fn cause(&self, cause: Cause) -> CauseGuard<'_> {
        let previous = self.journal.borrow_mut().begin(cause);
        CauseGuard {
            daemon: self,
            previous,
        }
    }

    /// Events handled so far (`/v1/health`).
    pub fn seq(&self) -> u64 {
        self.journal.borrow().seq()
    }

    /// Session `id`'s record and the causes of its last changes.
    pub fn explain(&self, id: &str) -> Option<protocol::Explain> {
        let session = self.record(id)?;
        let lines = self.lines_read(session.conversation.as_ref().map(|c| c.file.as_path()));
        let journal = self.journal.borrow();
        Some(protocol::Explain {
            session,
            lines,
            seq: journal.seq(),
            changes: journal.changes(id),
        })
    }

    /// Complete lines of `file` read so far, if it is followed.
    fn lines_read(&self, file: Option<&Path>) -> u64 {
        let files = self.files.borrow();
        let slot = file.and_then(|f| files.get(f));
        let followed = slot.and_then(|s| s.followed.as_ref());
        followed.map_or(0, |f| f.tracker.fed())
    }

    /// The record of a live entry, with what the engine says it holds.
    pub fn render(&self, entry: &Entry) -> Record {
        let engine = self.engine.borrow();
        let binding = engine.binding(&entry.id);
        entry.record(Held {
            binding,
            last_file: engine.last_file(&entry.id),
            owner: binding.is_none_or(|b| self.owner_of(&b.file).as_deref() == Some(&entry.id)),
        })
    }

    /// Which of the sessions holding `file` owns its turns: the one that
    /// was last given input, else the one started last.
    fn owner_of(&self, file: &Path) -> Option<String> {
        let engine = self.engine.borrow();
        let holders = engine.holders(file);
        if holders.len() <= 1 {
            return holders.first().cloned();
        }
        let store = self.store.borrow();
        let key = |id: &&String| {
            let entry = store.live.get(*id);
            let submitted = entry.and_then(|e| e.input.submitted_ms);
            (submitted, entry.map_or(0, Entry::started_ms), (*id).clone())
        };
        holders.iter().max_by_key(key).cloned()
    }

    /// Publishes every session holding the file `sid` holds: who owns the
    /// file's turns may have changed.
    fn publish_holders(&self, sid: &str) {
        let file = self.engine.borrow().binding(sid).map(|b| b.file.clone());
        let holders = file.map_or_else(Vec::new, |f| self.engine.borrow().holders(&f).to_vec());
        holders.iter().for_each(|h| self.publish(h));
        self.publish(sid);
    }

    pub fn records(&self, all: bool) -> Vec<Record> {
        self.store.borrow().records(all, &|e| self.render(e))
    }

    pub fn record(&self, id: &str) -> Option<Record> {
        self.store.borrow().record(id, &|e| self.render(e))
    }

    /// The runner's `meta` event (first on every subscription). `false`
    /// for a session already buried (a restarted daemon finding a runner
    /// that lingers after its agent ended): its dead record stands, and
    /// the runner is not followed.
    pub fn on_meta(self: &Rc<Self>, id: &str, meta: &protocol::Meta) -> bool {
        if self.store.borrow().dead.contains_key(id) {
            return false;
        }
        let new = !self.store.borrow().live.contains_key(id);
        let (roots, depth) = {
            let mut store = self.store.borrow_mut();
            let entry = store
                .live
                .entry(id.to_string())
                .or_insert_with(|| Entry::new(id));
            entry.apply_meta(meta);
            (entry.roots.clone(), entry.root_depth)
        };
        roots.iter().for_each(|r| self.use_root(id, r, depth));
        // Claude Code tells of its conversation (and state) in a pidfile
        // under `<config>/sessions/`: watched, so a change is seen at once.
        if let Some(dir) = self.report_dir(id) {
            self.use_root(id, &dir, 0);
        }
        if new {
            self.log(&format!("session {id}: runner found"));
            self.restore_input(id);
            let decisions = self.engine.borrow_mut().apply(
                Input::Started {
                    sid: id.to_string(),
                },
                now_ms(),
            );
            self.apply(decisions);
        }
        self.publish(id);
        true
    }

    /// A previous daemon's input bookkeeping for this session, if any.
    fn restore_input(self: &Rc<Self>, id: &str) {
        let Some(saved) = super::live::load(id) else {
            return;
        };
        let now = Instant::now();
        let pending = saved.pending.is_some();
        if let Some(entry) = self.store.borrow_mut().live.get_mut(id) {
            entry.restore(saved.clone(), now);
        }
        self.side(id, |s| s.saved = Some(saved.clone()));
        if pending {
            self.schedule_quiet(id, now, now + QUIET);
        }
        // What only the daemon had found (the runner replays the preload's
        // and the launch line's file itself); the agent's own source
        // corrects it at the next check if it moved on meanwhile.
        if let (Some(file), Some(source @ (Source::AgentPidfile | Source::Procfd))) =
            (saved.file, saved.source)
        {
            self.report(id, file, source);
        }
    }

    /// The runner's replay has been read: its hello and file are known,
    /// so its sources may be checked and, failing all, guesses made.
    pub fn on_ready(self: &Rc<Self>, id: &str) {
        let restored = self.side_if(id, |s| s.saved.is_some()) == Some(true);
        let unseen = match self.store.borrow_mut().live.get_mut(id) {
            Some(entry) => {
                entry.replayed = true;
                // Lines typed at its terminal while no daemon ran: the
                // runner counted them; what they asked is pending now.
                let count = entry.runner_meta.as_ref().map_or(0, |m| m.submitted);
                let unseen = restored && count > entry.input.submitted_seen;
                entry.input.submitted_seen = count;
                if unseen {
                    entry.submitted(Instant::now());
                }
                entry.input.pending_at.filter(|_| unseen)
            }
            None => return,
        };
        if let Some(at) = unseen {
            self.schedule_quiet(id, at, at + QUIET);
        }
        self.publish(id);
        let input = Input::Replayed {
            sid: id.to_string(),
        };
        let decisions = self.engine.borrow_mut().apply(input, now_ms());
        self.apply(decisions);
        sources::check(self, id, true);
    }

    pub fn on_shim(self: &Rc<Self>, id: &str, shim: &protocol::Shim) {
        if let Some(entry) = self.store.borrow_mut().live.get_mut(id) {
            entry.shim_runtime = Some(shim.runtime.clone().unwrap_or_else(|| "node".into()));
        }
        let decisions = self.engine.borrow_mut().apply(
            Input::Hello {
                sid: id.to_string(),
            },
            now_ms(),
        );
        self.apply(decisions);
        self.publish(id);
    }

    pub fn report(self: &Rc<Self>, id: &str, file: PathBuf, source: Source) {
        // pi's extension names the file pi means to write; the preload
        // sees what it does write. The latest report wins either way, but
        // a write elsewhere than announced is a disagreement worth a line.
        let announced = (self.engine.borrow().binding(id))
            .filter(|b| b.source == Source::Extension && source == Source::Shim && b.file != file)
            .map(|b| b.file.clone());
        if let Some(announced) = announced {
            self.log(&format!(
                "session {id}: the preload saw {} written, not {} (named by the extension); the latest report wins",
                file.display(),
                announced.display()
            ));
        }
        let input = Input::Reported {
            sid: id.to_string(),
            file,
            source,
        };
        let decisions = self.engine.borrow_mut().apply(input, now_ms());
        self.apply(decisions);
    }

    pub fn guess(self: &Rc<Self>, id: &str, file: PathBuf, source: Source) {
        let said = format!("{} guessed {}", source.as_str(), file.display());
        let _cause = self.cause(Cause::new(Signal::Guess, said));
        self.log(&format!(
            "session {id}: (FALLBACK) {} guessed {}",
            source.as_str(),
            file.display()
        ));
        let input = Input::Guessed {
            sid: id.to_string(),
            file,
            source,
        };
        let decisions = self.engine.borrow_mut().apply(input, now_ms());
        self.apply(decisions);
    }

    /// The agent exited: the session is dead now, whether or not its
    /// runner lingers a moment longer, so it leaves the live list at once
    /// (a live listing never holds a dead session).
    pub fn on_exit(self: &Rc<Self>, id: &str, exit: &protocol::Exit) {
        if let Some(entry) = self.store.borrow_mut().live.get_mut(id) {
            entry.exit_code = exit.exit_code;
            entry.exited_at = Some(crate::timefmt::now());
        }
        self.runner_gone(id);
    }

    pub fn on_title(&self, id: &str, title: Option<String>) {
        if let Some(entry) = self.store.borrow_mut().live.get_mut(id) {
            entry.terminal_title = title;
        }
        self.publish(id);
    }

    /// Applies the engine's decisions, then publishes each touched session
    /// once: a rebind (release + bind) is one change to subscribers, never
    /// a moment with no conversation.
    pub fn apply(self: &Rc<Self>, decisions: Vec<Decision>) {
        let mut touched: Vec<String> = Vec::new();
        for decision in decisions {
            let sid = match decision {
                Decision::Release { sid, file } => {
                    self.release(&sid, &file);
                    sid
                }
                Decision::Bind { sid, file, source } => {
                    self.bind(&sid, file, source);
                    sid
                }
            };
            if !touched.contains(&sid) {
                touched.push(sid);
            }
        }
        touched.iter().for_each(|sid| self.publish(sid));
    }

    fn release(&self, sid: &str, file: &Path) {
        // Another session on the same conversation keeps it followed.
        if self.engine.borrow().holders(file).is_empty() {
            self.files.borrow_mut().remove(file);
        }
        if let Some(entry) = self.store.borrow_mut().live.get_mut(sid) {
            if entry.derived_from.as_deref() == Some(file) {
                entry.drop_derived();
            }
        }
        self.log(&format!("session {sid}: released {}", file.display()));
    }

    fn bind(self: &Rc<Self>, sid: &str, file: PathBuf, source: Source) {
        let (kind, place) = match self.store.borrow().live.get(sid) {
            Some(e) => (e.kind, e.place()),
            None => return,
        };
        let (derived, more) = {
            let mut files = self.files.borrow_mut();
            let mut more = false;
            let slot = files.entry(file.clone()).or_insert_with(|| {
                let mut followed = Followed {
                    follower: Follower::new(file.clone()),
                    tracker: Tracker::new(kind, &place),
                };
                more = read_new(&mut followed, SYNC_BUDGET);
                self.file_gen.set(self.file_gen.get() + 1);
                FileSlot {
                    followed: Some(followed),
                    again: false,
                    gen: self.file_gen.get(),
                }
            });
            let derived = slot.followed.as_ref().map(|f| f.tracker.derived().clone());
            (derived.unwrap_or_default(), more)
        };
        if more {
            self.read_rest(&file);
        }
        // A bound file is followed wherever it really lives: outside every
        // root, or under one through a symlinked directory (which the tree
        // walk does not enter), its directory gets a watch of its own.
        if let Some(dir) = file.parent() {
            let linked = std::fs::canonicalize(dir).is_ok_and(|real| real != dir);
            // Past the watch limit its directory may be one left unwatched.
            let limited = self.warnings.borrow().contains_key("watches");
            if linked || limited || !self.under_root(dir) {
                self.use_root(sid, dir, 0);
            }
        }
        if let Some(entry) = self.store.borrow_mut().live.get_mut(sid) {
            if entry.derived_from.as_ref() != Some(&file) {
                // A first file is the session's own new conversation; any
                // later one (or one named at launch) is a switch.
                if entry.derived_from.is_some() || source == Source::Argv {
                    entry.switch_file(&derived);
                }
                // Another conversation: what the agent said of the old one
                // (a question asked there) is over, unless it keeps its
                // own report current — or the old one was only the launch
                // line's (replayed to a daemon that came back before the
                // agent's own report): the report is of the agent's file.
                let launch = (entry.runner_meta.as_ref())
                    .filter(|m| m.session_file_source == Some(protocol::FileSource::Argv))
                    .and_then(|m| m.session_file.clone());
                if launch.is_none() || entry.derived_from != launch {
                    entry.live = entry.live.take().filter(|l| l.kept);
                } else if let Some(live) = entry.live.as_mut() {
                    // Measured against the agent's file from now on: written
                    // after the report, it says more than the report.
                    live.lines_upto = live.lines_upto.min(derived.lines);
                    let written = std::fs::metadata(&file).and_then(|m| m.modified());
                    let written_ms = written.map_or(0, crate::timefmt::epoch_ms);
                    if super::state::contradicted(&live.report, live.since_ms, &derived, written_ms)
                    {
                        entry.live = None;
                    }
                }
                entry.derived_from = Some(file.clone());
            }
            entry.set_derived(derived);
        }
        self.log(&format!(
            "session {sid}: holds {} (source {})",
            file.display(),
            source.as_str()
        ));
    }

    /// Where session `id`'s agent reports its file (Claude Code's
    /// pidfiles), if it does.
    fn report_dir(&self, id: &str) -> Option<PathBuf> {
        let store = self.store.borrow();
        let entry = store.live.get(id)?;
        entry.kind.report_dir(&entry.config_dir()?)
    }

    /// An agent's report (a Claude pidfile) changed: the sessions that
    /// report there look again.
    fn report_changed(self: &Rc<Self>, path: &Path) {
        let ids: Vec<String> = (self.store.borrow().live.keys().cloned()).collect();
        for id in ids {
            if self
                .report_dir(&id)
                .is_some_and(|d| path.parent() == Some(d.as_path()))
            {
                // Not throttled: the agent rewrites its report only when
                // its state changes, and a state change must show at once
                // (a check under way still runs one at a time).
                sources::check(self, &id, true);
            }
        }
    }

    /// A `*.jsonl` under a watched root changed (or a Claude pidfile).
    pub fn file_changed(self: &Rc<Self>, path: &Path) {
        if path.extension().is_some_and(|e| e == "json") {
            return self.report_changed(path);
        }
        let now = now_ms() / 1000;
        let mut recent = self.recent.borrow_mut();
        recent.insert(path.to_path_buf(), now);
        // Bounded: a burst of files must not grow the daemon for good. The
        // limit doubles past what survives a pruning, so pruning stays
        // amortised O(1) per change even while every file is recent.
        if recent.len() > self.recent_limit.get() {
            recent.retain(|_, t| now - *t < RECENT_KEEP_S);
            self.recent_limit.set(MAX_RECENT.max(2 * recent.len()));
        }
        drop(recent);
        let followed = {
            let mut files = self.files.borrow_mut();
            match files.get_mut(path) {
                Some(FileSlot {
                    followed: Some(f), ..
                }) => {
                    let before = f.follower.offset();
                    let more = read_new(f, SYNC_BUDGET);
                    let grew = f.follower.offset() != before;
                    let fed = f.tracker.fed();
                    Some(Some((f.tracker.derived().clone(), grew, more, fed)))
                }
                // Being read off the executor: read again after.
                Some(slot) => {
                    slot.again = true;
                    Some(None)
                }
                None => None,
            }
        };
        match followed {
            Some(None) => {}
            Some(Some((derived, grew, more, fed))) => {
                if more {
                    self.read_rest(path);
                }
                let _cause = self.cause(file_cause(path, fed));
                let holders = self.engine.borrow().holders(path).to_vec();
                for sid in holders {
                    self.update_derived(&sid, derived.clone(), grew);
                }
            }
            None => {
                // Only sessions whose roots hold the file can be concerned.
                let ids: Vec<String> = self
                    .store
                    .borrow()
                    .live
                    .values()
                    .filter(|e| e.roots.iter().any(|r| path.starts_with(r)))
                    .map(|e| e.id.clone())
                    .collect();
                ids.iter().for_each(|id| sources::check(self, id, false));
            }
        }
    }

    fn update_derived(&self, sid: &str, derived: adapters::Derived, grew: bool) {
        if let Some(entry) = self.store.borrow_mut().live.get_mut(sid) {
            if grew {
                entry.input.last_change = Some(Instant::now());
            }
            entry.set_derived(derived);
            if grew {
                entry.file_grew();
            }
            // A reply that arrives on an attached terminal is seen there.
            if entry.input.attachers > 0 {
                entry.mark_read();
            }
        }
        self.publish(sid);
    }

    /// Input reached the session. Input that ends a line (`submitted`)
    /// awaits an answer; any input means the user saw the screen.
    pub fn input(self: &Rc<Self>, sid: &str, submitted: bool) {
        let pending_at = {
            let mut store = self.store.borrow_mut();
            let Some(entry) = store.live.get_mut(sid) else {
                return;
            };
            if submitted {
                entry.submitted(Instant::now());
            } else {
                entry.mark_read();
            }
            entry.input.pending_at.filter(|_| submitted)
        };
        if let Some(at) = pending_at {
            self.schedule_quiet(sid, at, at + QUIET);
        }
        self.publish_holders(sid);
    }

    /// The runner's count of lines submitted at its terminals.
    pub fn submitted_seen(&self, sid: &str, count: u64) {
        if let Some(entry) = self.store.borrow_mut().live.get_mut(sid) {
            entry.input.submitted_seen = count;
        }
    }

    /// An attacher joined or left: while a terminal shows the session,
    /// what it shows is read.
    pub fn on_attach(&self, sid: &str, attachers: u64) {
        if let Some(entry) = self.store.borrow_mut().live.get_mut(sid) {
            entry.input.attachers = attachers;
            if attachers > 0 {
                entry.mark_read();
            }
        }
        self.publish(sid);
    }

    /// The terminal showed output: the agent is doing something (for the
    /// quiet check of pending input; sources are checked on file events).
    pub fn on_activity(&self, sid: &str) {
        if let Some(entry) = self.store.borrow_mut().live.get_mut(sid) {
            entry.input.last_change = Some(Instant::now());
        }
    }

    /// Pending input the agent took without starting a turn (a command
    /// such as pi's `/name`, a keystroke a TUI swallowed) would otherwise
    /// read as working forever: once neither the terminal nor the file has
    /// changed for `QUIET` since, the input counts as consumed. The check
    /// belongs to one input (`token`) and re-arms only while the session
    /// keeps changing.
    fn schedule_quiet(self: &Rc<Self>, sid: &str, token: Instant, at: Instant) {
        let (daemon, sid) = (self.clone(), sid.to_string());
        self.ex
            .spawn(async move {
                async_io::Timer::at(at).await;
                daemon.quiet_check(&sid, token);
            })
            .detach();
    }

    fn quiet_check(self: &Rc<Self>, sid: &str, token: Instant) {
        let again = {
            let mut store = self.store.borrow_mut();
            let Some(entry) = store.live.get_mut(sid) else {
                return;
            };
            if entry.input.pending_at != Some(token) || entry.input.pending.is_none() {
                return;
            }
            let due = entry.input.last_change.unwrap_or(token).max(token) + QUIET;
            if Instant::now() < due {
                Some(due)
            } else {
                entry.input.pending = None;
                None
            }
        };
        match again {
            Some(due) => self.schedule_quiet(sid, token, due),
            None => {
                let said = "3 s without output or file change since the input: taken without a turn";
                let _cause = self.cause(Cause::new(Signal::Timer, said));
                self.publish(sid)
            }
        }
    }

    pub fn publish(&self, id: &str) {
        // Until its replay is read a session is only half known (a resumed
        // one would show no file yet): subscribers first see it whole.
        let Some((record, saved)) =
            self.store
                .borrow()
                .live
                .get(id)
                .filter(|e| e.replayed)
                .map(|e| {
                    let engine = self.engine.borrow();
                    (self.render(e), e.saved(engine.binding(id)))
                })
        else {
            return;
        };
        self.save_input(id, saved);
        let text = protocol::to_json(&record);
        let changed = self.side(id, |side| {
            let changed = side.published.as_ref() != Some(&text);
            if changed {
                self.events.publish("session", &text);
                side.published = Some(text);
            }
            changed
        });
        if changed {
            (self.journal.borrow_mut()).note(&record, &crate::timefmt::now());
        }
    }
}

impl Daemon {
    /// Saves a session's input state when it changed since the last save.
    fn save_input(&self, id: &str, saved: super::live::Saved) {
        let last = self.side_if(id, |s| s.saved.clone()).flatten();
        if last.as_ref() == Some(&saved) {
            return;
        }
        // Nothing to keep yet: no file needs writing.
        if last.is_none() && saved == super::live::Saved::default() {
            return;
        }
        let (id2, saved2) = (id.to_string(), saved.clone());
        let what = format!("session {id}: cannot save its input state");
        self.disk
            .queue(what, move || super::live::save(&id2, &saved2));
        self.side(id, |s| s.saved = Some(saved));
    }

    /// The agent's own report of its state (see `state.rs`); the same
    /// report again changes nothing. `replay`: the runner said it before
    /// this daemon followed it.
    pub fn live_report(self: &Rc<Self>, id: &str, report: protocol::AgentState, replay: bool) {
        let at = Some(report.at_ms).filter(|&t| t > 0).unwrap_or_else(now_ms);
        // A report replayed to a daemon that came back: lines the agent
        // wrote after it (the approval given meanwhile) contradict it. A
        // report made just now is not judged by the file's time: the agent
        // may write the very call it asks about a moment after asking
        // (Codex's rollout writer lags its OSC 9), and the lines after the
        // report are counted against it instead (`Live::lines_upto`).
        let file = (self.engine.borrow().binding(id).map(|b| b.file.clone())).filter(|_| replay);
        let written = file.and_then(|f| std::fs::metadata(f).ok()?.modified().ok());
        let written_ms = written.map_or(0, crate::timefmt::epoch_ms);
        let changed = match self.store.borrow_mut().live.get_mut(id) {
            Some(e) if super::state::contradicted(&report, at, &e.derived, written_ms) => None,
            Some(entry) if !entry.live.as_ref().is_some_and(|l| l.same(&report)) => {
                let line = format!(
                    "session {id}: {} (source {})",
                    protocol::to_json(&report.state),
                    report.source.as_str()
                );
                let live = super::state::Live::new(report, at, &entry.derived);
                let held = live.held.then_some(live.since_ms);
                entry.live = Some(live);
                Some((Some(line), held))
            }
            // Said again, after input that came since: it answers that.
            Some(entry) => match entry.live.as_mut().filter(|l| at > l.said_ms) {
                Some(live) => {
                    live.said_ms = at;
                    Some((None, None))
                }
                None => None,
            },
            _ => None,
        };
        if let Some((line, held)) = changed {
            if let Some(line) = line {
                self.log(&line);
            }
            self.publish(id);
            if let Some(since_ms) = held {
                self.schedule_question(id, since_ms);
            }
        }
    }

    /// A held `waiting` (its question not in the file yet) shows by
    /// itself once `QUESTION_GRACE` has passed.
    fn schedule_question(self: &Rc<Self>, id: &str, since_ms: i64) {
        let (daemon, id) = (self.clone(), id.to_string());
        self.ex
            .spawn(async move {
                async_io::Timer::after(super::state::QUESTION_GRACE).await;
                let overdue = (daemon.store.borrow_mut().live.get_mut(&id))
                    .is_some_and(|e| e.question_overdue(since_ms));
                if overdue {
                    let said = "the question is not in the file after the grace: shown as asked";
                    let _cause = daemon.cause(Cause::new(Signal::Timer, said));
                    daemon.publish(&id);
                }
            })
            .detach();
    }

    /// A notification the session's program wrote (OSC 9 / OSC 777).
    pub fn on_notification(&self, id: &str, mut n: protocol::Notification) {
        n.id = id.to_string();
        self.events.publish("notification", &protocol::to_json(&n));
    }

    /// Whether session `id` is live.
    pub fn is_live(&self, id: &str) -> bool {
        self.store.borrow().live.contains_key(id)
    }

    /// Whether session `id` is known, live or dead.
    pub fn is_known(&self, id: &str) -> bool {
        let store = self.store.borrow();
        store.live.contains_key(id) || store.dead.contains_key(id)
    }

    /// The id `key` (id, unique prefix, slug) names; `Err(ids)` when it
    /// names several (none: empty).
    pub fn lookup(&self, key: &str) -> Result<String, Vec<String>> {
        match self.store.borrow().lookup(key) {
            Lookup::Found(id) => Ok(id.to_string()),
            Lookup::Unknown => Err(Vec::new()),
            Lookup::Ambiguous(ids) => Err(ids),
        }
    }

    /// Every live session's record, as the events stream replays them.
    /// The live records in `ls`'s order (by start, then id): the
    /// `events` snapshot lists them as `ls` does.
    pub fn live_records(&self) -> Vec<Record> {
        self.records(false)
    }

    /// Directories watched and what the user must be told (`/v1/health`).
    pub fn health_facts(&self) -> (usize, Vec<String>) {
        let warnings = self.warnings.borrow().values().cloned().collect();
        (self.watches.get(), warnings)
    }

    /// Returns once every write queued so far is on disk (or failed).
    pub async fn flushed(&self) {
        let _ = self.disk.run(|| Ok(())).await;
    }

    /// Whether runner `id` is followed now.
    pub fn following(&self, id: &str) -> bool {
        self.following.borrow().contains(id)
    }

    /// Marks runner `id` followed; `false` if it already was.
    pub fn start_following(&self, id: &str) -> bool {
        self.following.borrow_mut().insert(id.to_string())
    }

    pub fn stop_following(&self, id: &str) {
        self.following.borrow_mut().remove(id);
    }
}

/// A file read as a cause: its last line read.
fn file_cause(path: &Path, line: u64) -> Cause {
    Cause::new(Signal::File, format!("{} line {line}", path.display()))
}

/// Feeds the tracker what was appended, up to about `budget` bytes;
/// `true` when more is left to read.
fn read_new(followed: &mut Followed, budget: u64) -> bool {
    let Followed { follower, tracker } = followed;
    for _ in 0..2 {
        match follower.poll_budget(&mut |line| tracker.feed(line), budget) {
            Ok(p) if p.truncated => tracker.reset(),
            Ok(p) => return p.more,
            Err(_) => return false,
        }
    }
    false
}

impl Daemon {
    /// Reads the rest of a big file on the blocking pool; the holders get
    /// what it says when it is done, and a change meanwhile is read after.
    fn read_rest(self: &Rc<Self>, path: &Path) {
        let (mut followed, gen) = {
            let mut files = self.files.borrow_mut();
            let Some(slot) = files.get_mut(path) else {
                return;
            };
            let Some(followed) = slot.followed.take() else {
                return;
            };
            slot.again = false;
            (followed, slot.gen)
        };
        let (daemon, path) = (self.clone(), path.to_path_buf());
        self.ex
            .spawn(async move {
                let followed = super::offload::run(move || {
                    read_new(&mut followed, u64::MAX);
                    followed
                })
                .await;
                let Some(followed) = followed else {
                    // The reader panicked: the file is read anew from its
                    // start at its next change.
                    daemon.files.borrow_mut().remove(&path);
                    return daemon.log(&format!("reading {} failed", path.display()));
                };
                let derived = followed.tracker.derived().clone();
                let _cause = daemon.cause(file_cause(&path, followed.tracker.fed()));
                let again = {
                    let mut files = daemon.files.borrow_mut();
                    match files.get_mut(&path).filter(|s| s.gen == gen) {
                        Some(slot) => {
                            slot.followed = Some(followed);
                            std::mem::take(&mut slot.again)
                        }
                        // Let go of meanwhile: what it said is nobody's.
                        None => return,
                    }
                };
                let holders = daemon.engine.borrow().holders(&path).to_vec();
                for sid in holders {
                    daemon.update_derived(&sid, derived.clone(), true);
                }
                if again {
                    daemon.file_changed(&path);
                }
            })
            .detach();
    }
}
