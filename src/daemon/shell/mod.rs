//! The async shell around the daemon's core: it does every read, write,
//! timer and socket the core's decisions need, and nothing else.
//!
//! `Daemon` owns the `Core` and the I/O handles: the SSE broadcaster, the
//! log, the disk queue, the root watcher's channel and the followed files'
//! readers. [`Daemon::dispatch`] hands one event to the core (the core is
//! borrowed for that call only, and never calls back), then carries out
//! its effects in order; an effect that produces an event (a file's first
//! read, `Effect::Then`) dispatches it before the next effect, so the
//! core's continuations see their results. Effects that wait (a look in
//! `/proc`, a save, a timer) run as tasks that dispatch their result when
//! it comes. Tasks elsewhere (runner subscriptions, the watcher, the API)
//! only gather facts and dispatch events.

mod effects;
mod ended;
mod files;
mod guesses;
mod watching;

pub use watching::watch_roots;

use super::core::{Core, Event, Refused, Root, RootChange};
use super::log::Log;
use crate::adapters;
use crate::http::sse::Broadcaster;
use crate::protocol::{Explain, Record};
use async_executor::LocalExecutor;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io;
use std::path::PathBuf;
use std::rc::Rc;

pub struct Daemon {
    pub ex: Rc<LocalExecutor<'static>>,
    core: RefCell<Core>,
    pub events: Broadcaster,
    log: Rc<RefCell<Log>>,
    /// Our own writes, off the executor (see `disk.rs`).
    disk: super::disk::Disk,
    roots_tx: async_channel::Sender<RootChange>,
    roots_rx: async_channel::Receiver<RootChange>,
    files: RefCell<HashMap<PathBuf, files::FileSlot>>,
    file_gen: Cell<u64>,
    /// The runners followed now, by session: their pids, to ask one to
    /// bind its socket again (`ask_rebind`).
    runner_pids: RefCell<HashMap<String, u32>>,
    /// Whether the runners found at start have replayed (`startup.rs`).
    pub startup: super::startup::Startup,
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
        let log = Rc::new(RefCell::new(Log::open()));
        let disk = super::disk::Disk::new();
        let state = crate::paths::state_dir();
        let mut core = Core::new(default_roots, super::persist::load(), state);
        let pruned = core.take_effects();
        let daemon = Rc::new(Daemon {
            disk,
            events: Broadcaster::spawn(&ex),
            ex,
            core: RefCell::new(core),
            log,
            roots_tx,
            roots_rx,
            files: RefCell::new(HashMap::new()),
            file_gen: Cell::new(0),
            runner_pids: RefCell::default(),
            startup: super::startup::Startup::new(),
        });
        pruned.into_iter().for_each(|e| daemon.execute(e));
        let writer = effects::write_forever(daemon.clone());
        daemon.ex.spawn(writer).detach();
        daemon.log_start();
        Ok(daemon)
    }

    /// The first line of every daemon generation in the log: which
    /// process, which build, and the agents' roots it watches from the
    /// start (a session's own roots are logged as they come).
    fn log_start(&self) {
        let core = self.core.borrow();
        let mut roots: Vec<String> = (core.roots().iter())
            .map(|(r, _)| r.display().to_string())
            .collect();
        roots.sort();
        self.log(&format!(
            "daemon started: pid {}, amux {}, {} dead records, watching {}",
            std::process::id(),
            env!("CARGO_PKG_VERSION"),
            core.dead_count(),
            roots.join(", ")
        ));
    }

    pub fn log(&self, text: &str) {
        self.log.borrow_mut().line(text);
    }

    /// Hands `event` to the core and carries out what it decided.
    pub fn dispatch(self: &Rc<Self>, event: Event) {
        let now = super::core::Now::real();
        let effects = self.core.borrow_mut().handle(event, now);
        effects.into_iter().for_each(|e| self.execute(e));
    }

    /// What the core says, read-only (never across a dispatch).
    fn core(&self) -> std::cell::Ref<'_, Core> {
        self.core.borrow()
    }

    pub fn records(&self, all: bool) -> Vec<Record> {
        self.core().records(all)
    }

    pub fn record(&self, id: &str) -> Option<Record> {
        self.core().record(id)
    }

    /// Every live session's record in `ls`'s order (by start, then id),
    /// but only those whose runner replay was read: the `events` snapshot
    /// says what the stream would have said. A session still half known
    /// (a daemon that just came back, its runner's replay not read) shows
    /// in the stream once it is whole, as it would to a subscriber of old.
    pub fn live_records(&self) -> Vec<Record> {
        self.core().whole_records()
    }

    pub fn explain(&self, id: &str) -> Option<Explain> {
        self.core().explain(id)
    }

    pub fn is_live(&self, id: &str) -> bool {
        self.core().is_live(id)
    }

    pub fn is_known(&self, id: &str) -> bool {
        self.core().is_known(id)
    }

    pub fn lookup(&self, key: &str) -> Result<String, Vec<String>> {
        self.core().lookup(key)
    }

    pub fn health_facts(&self) -> (usize, Vec<String>) {
        self.core().health_facts()
    }

    pub fn seq(&self) -> u64 {
        self.core().seq()
    }

    pub fn following(&self, id: &str) -> bool {
        self.core().following(id)
    }

    /// Marks runner `id` followed; `false` if it already was.
    pub fn start_following(&self, id: &str) -> bool {
        self.core.borrow_mut().start_following(id)
    }

    pub fn stop_following(&self, id: &str) {
        self.runner_pids.borrow_mut().remove(id);
        self.core.borrow_mut().stop_following(id)
    }

    /// The pid a followed runner told in its `meta`.
    pub fn runner_pid(&self, id: &str, pid: u32) {
        self.runner_pids.borrow_mut().insert(id.to_string(), pid);
    }

    /// Asks the runner of `id`, followed now, to bind its socket again: a
    /// tmp cleaner removed it (or the whole directory). Its SIGUSR1 does
    /// that; the runners themselves do not watch the directory (an inotify
    /// instance each: a user's 128 ran out at 120 sessions, and every
    /// exit in the directory woke all of them).
    pub fn ask_rebind(&self, id: &str) {
        let pid = self.runner_pids.borrow().get(id).copied();
        if let Some(pid) = pid.and_then(|p| rustix::process::Pid::from_raw(p as i32)) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::USR1);
        }
    }

    /// `ask_rebind` for every runner followed now.
    pub fn ask_all_rebind(&self) {
        let ids: Vec<String> = self.runner_pids.borrow().keys().cloned().collect();
        ids.iter().for_each(|id| self.ask_rebind(id));
    }

    /// Whether the runner of `id` is to be followed (not already buried).
    pub fn wants_runner(&self, id: &str) -> bool {
        self.core().wants_runner(id)
    }

    /// Input through `amux send`.
    /// `amux send`'s `body` went to session `id`.
    pub fn input(self: &Rc<Self>, id: &str, body: &[u8]) {
        let (id, keys) = (id.to_string(), body.to_vec());
        self.dispatch(Event::Input { id, keys });
    }

    /// Returns once every write queued so far is on disk (or failed).
    pub async fn flushed(&self) {
        self.disk.flushed().await;
    }

    /// Queues the dead records not on disk yet (a full disk may have
    /// room now); nobody waits for them.
    pub fn retry_saves(self: &Rc<Self>) {
        self.dispatch(Event::SaveAll);
    }

    /// Drops the dead record `id`, from memory and disk.
    pub async fn forget(self: &Rc<Self>, id: &str) -> Result<(), Refused> {
        self.core().dead_only(id)?;
        self.dispatch(Event::Forget { id: id.into() });
        self.flushed().await;
        Ok(())
    }

    /// Marks the dead record `id` as resumed, now, and saves it.
    pub async fn mark_resumed(self: &Rc<Self>, id: &str) -> Result<(), Refused> {
        self.core().dead_only(id)?;
        let at = crate::timefmt::now();
        self.dispatch(Event::Resumed { id: id.into(), at });
        self.flushed().await;
        Ok(())
    }
}
