//! The daemon's state and the one place it changes.
//!
//! Tasks (runner subscriptions, the root watcher, the API) call methods on
//! `Daemon`; each method updates the store, feeds the attribution engine,
//! applies its decisions (start or stop following a file), and publishes
//! the sessions whose record changed as one `session` SSE event each. A
//! record is published only when its JSON differs from the last one sent,
//! so subscribers see changes, not noise. Bound files are followed with a
//! `Follower` (complete lines only) feeding the adapter's `Tracker`.

use super::follow::Follower;
use super::log::Log;
use super::store::{Conversation, Entry, Store};
use super::watch::{TreeWatcher, WatchEvent};
use crate::adapters::{self, Kind, Tracker};
use crate::attribution::{Decision, Engine, Input, Source};
use crate::http::sse::Broadcaster;
use async_executor::LocalExecutor;
use serde_json::Value;
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

pub struct Daemon {
    pub ex: Rc<LocalExecutor<'static>>,
    pub store: RefCell<Store>,
    pub engine: RefCell<Engine>,
    pub files: RefCell<HashMap<PathBuf, Followed>>,
    pub events: Broadcaster,
    pub log: RefCell<Log>,
    roots: RefCell<HashSet<PathBuf>>,
    roots_tx: async_channel::Sender<PathBuf>,
    roots_rx: async_channel::Receiver<PathBuf>,
    /// Files seen changing (or recent at start), by path: candidates for
    /// the guesses, with the time they last changed.
    pub recent: RefCell<HashMap<PathBuf, i64>>,
    recent_limit: std::cell::Cell<usize>,
    pub last_check: RefCell<HashMap<String, Instant>>,
    pub last_guess: RefCell<HashMap<String, Instant>>,
    /// Sessions with a deferred (throttled) source check pending.
    pub scheduled: RefCell<HashSet<String>>,
    published: RefCell<HashMap<String, String>>,
    pub following: RefCell<HashSet<String>>,
}

/// Size past which `recent` forgets files unchanged for `RECENT_KEEP_S`
/// (far beyond every guess's window).
const MAX_RECENT: usize = 4096;
const RECENT_KEEP_S: i64 = 1800;

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Daemon {
    pub fn new(ex: Rc<LocalExecutor<'static>>) -> io::Result<Rc<Daemon>> {
        let env = |k: &str| std::env::var(k).ok();
        let default_roots: HashSet<PathBuf> = [Kind::Pi, Kind::Claude, Kind::Codex]
            .iter()
            .flat_map(|k| k.session_roots(&[], &env))
            .filter(|r| r.is_absolute())
            .collect();
        let (roots_tx, roots_rx) = async_channel::unbounded();
        let store = Store {
            live: Default::default(),
            dead: super::persist::load(),
        };
        Ok(Rc::new(Daemon {
            events: Broadcaster::spawn(&ex),
            ex,
            store: RefCell::new(store),
            engine: RefCell::new(Engine::new()),
            files: RefCell::new(HashMap::new()),
            log: RefCell::new(Log::open()),
            roots: RefCell::new(default_roots),
            roots_tx,
            roots_rx,
            recent: RefCell::new(HashMap::new()),
            recent_limit: std::cell::Cell::new(MAX_RECENT),
            last_check: RefCell::new(HashMap::new()),
            last_guess: RefCell::new(HashMap::new()),
            scheduled: RefCell::new(HashSet::new()),
            published: RefCell::new(HashMap::new()),
            following: RefCell::new(HashSet::new()),
        }))
    }

    pub fn log(&self, text: &str) {
        self.log.borrow_mut().line(text);
    }

    fn add_root(&self, root: &Path) {
        if root.is_absolute() && self.roots.borrow_mut().insert(root.to_path_buf()) {
            let _ = self.roots_tx.try_send(root.to_path_buf());
        }
    }

    /// The runner's `meta` event (first on every subscription).
    pub fn on_meta(self: &Rc<Self>, id: &str, meta: &Value) {
        let new = !self.store.borrow().live.contains_key(id);
        let roots = {
            let mut store = self.store.borrow_mut();
            let entry = store
                .live
                .entry(id.to_string())
                .or_insert_with(|| Entry::new(id));
            entry.apply_meta(meta);
            entry.roots.clone()
        };
        roots.iter().for_each(|r| self.add_root(r));
        if new {
            self.log(&format!("session {id}: runner found"));
            let decisions = self.engine.borrow_mut().apply(
                Input::Started {
                    sid: id.to_string(),
                },
                now_ms(),
            );
            self.apply(decisions);
        }
        self.publish(id);
        super::sources::check(self, id, true);
    }

    pub fn on_shim(self: &Rc<Self>, id: &str, data: &Value) {
        if let Some(entry) = self.store.borrow_mut().live.get_mut(id) {
            entry.shim_runtime = Some(data["runtime"].as_str().unwrap_or("node").to_string());
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
        let input = Input::Reported {
            sid: id.to_string(),
            file,
            source,
        };
        let decisions = self.engine.borrow_mut().apply(input, now_ms());
        self.apply(decisions);
    }

    pub fn guess(self: &Rc<Self>, id: &str, file: PathBuf, source: Source) {
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

    pub fn on_exit(&self, id: &str, data: &Value) {
        if let Some(entry) = self.store.borrow_mut().live.get_mut(id) {
            entry.exit_code = data["exit_code"].as_i64();
            entry.alive = false;
            entry.exited_at = Some(crate::timefmt::now());
        }
        self.publish(id);
    }

    pub fn on_title(&self, id: &str, data: &Value) {
        if let Some(entry) = self.store.borrow_mut().live.get_mut(id) {
            entry.terminal_title = data["title"].as_str().map(str::to_string);
        }
        self.publish(id);
    }

    /// The runner is gone (stream ended, socket removed): DESIGN §5.2 rule 4.
    pub fn runner_gone(self: &Rc<Self>, id: &str) {
        if !self.store.borrow().live.contains_key(id) {
            return;
        }
        // Read what the agent wrote last before letting go of its file.
        let held = self.engine.borrow().binding(id).map(|b| b.file.clone());
        if let Some(file) = held {
            self.file_changed(&file);
        }
        // The dead record keeps what the file said (title, last status);
        // releasing the file below clears the live view of it.
        let last_derived = self.store.borrow().live.get(id).map(|e| e.derived.clone());
        let decisions = self.engine.borrow_mut().apply(
            Input::Died {
                sid: id.to_string(),
            },
            now_ms(),
        );
        self.apply(decisions);
        let Some(mut entry) = self.store.borrow_mut().live.remove(id) else {
            return;
        };
        entry.alive = false;
        if let Some(derived) = last_derived {
            entry.derived = derived;
        }
        entry.pending_input = None;
        if entry.exited_at.is_none() {
            entry.exited_at = Some(crate::timefmt::now());
        }
        let record = entry.record();
        if let Err(e) = super::persist::save(&record) {
            self.log(&format!("session {id}: cannot save its record: {e}"));
        }
        self.log(&format!("session {id}: ended"));
        self.events.publish("session", &record.to_string());
        self.events
            .publish("remove", &serde_json::json!({ "id": id }).to_string());
        self.published.borrow_mut().remove(id);
        self.last_check.borrow_mut().remove(id);
        self.last_guess.borrow_mut().remove(id);
        self.store.borrow_mut().dead.insert(id.to_string(), record);
        let _ = self.engine.borrow_mut().forget(id);
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
        self.files.borrow_mut().remove(file);
        if let Some(entry) = self.store.borrow_mut().live.get_mut(sid) {
            if entry.conversation.as_ref().is_some_and(|c| c.file == file) {
                entry.conversation = None;
                entry.derived = Default::default();
            }
        }
        self.log(&format!("session {sid}: released {}", file.display()));
    }

    fn bind(&self, sid: &str, file: PathBuf, source: Source) {
        let (kind, cwd) = match self.store.borrow().live.get(sid) {
            Some(e) => (e.kind, e.cwd.clone()),
            None => return,
        };
        // Only pi's status depends on its retry setting (two file reads).
        let retries = match kind {
            Kind::Pi => {
                let env = |k: &str| std::env::var(k).ok();
                adapters::pi_max_retries(Path::new(&cwd), &adapters::pi_agent_dir(&env))
            }
            _ => 3,
        };
        let mut followed = Followed {
            follower: Follower::new(file.clone()),
            tracker: Tracker::new(kind, retries),
        };
        read_new(&mut followed);
        if let Some(dir) = file.parent() {
            if !self.roots.borrow().iter().any(|r| dir.starts_with(r)) {
                self.add_root(dir);
            }
        }
        {
            let mut store = self.store.borrow_mut();
            if let Some(entry) = store.live.get_mut(sid) {
                let derived = followed.tracker.derived().clone();
                if entry.last_file.as_ref() != Some(&file) {
                    entry.switch_file(&derived);
                }
                entry.set_derived(derived);
                entry.last_file = Some(file.clone());
                let since = match &entry.conversation {
                    Some(c) if c.file == file => c.since.clone(),
                    _ => crate::timefmt::now(),
                };
                entry.conversation = Some(Conversation {
                    file: file.clone(),
                    source,
                    since,
                });
            }
        }
        self.files.borrow_mut().insert(file.clone(), followed);
        self.log(&format!(
            "session {sid}: holds {} (source {})",
            file.display(),
            source.as_str()
        ));
    }

    /// A `*.jsonl` under a watched root changed.
    pub fn file_changed(self: &Rc<Self>, path: &Path) {
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
                Some(f) => {
                    read_new(f);
                    Some(f.tracker.derived().clone())
                }
                None => None,
            }
        };
        match followed {
            Some(derived) => {
                let holder = self.engine.borrow().holder(path).map(str::to_string);
                if let Some(sid) = holder {
                    self.update_derived(&sid, derived);
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
                ids.iter()
                    .for_each(|id| super::sources::check(self, id, false));
            }
        }
    }

    fn update_derived(&self, sid: &str, derived: adapters::Derived) {
        if let Some(entry) = self.store.borrow_mut().live.get_mut(sid) {
            entry.set_derived(derived);
        }
        self.publish(sid);
    }

    pub fn input_sent(&self, sid: &str) {
        if let Some(entry) = self.store.borrow_mut().live.get_mut(sid) {
            // Only agents with a conversation file can show the answer;
            // a shell's state comes from its exit (DESIGN §6.4).
            if entry.kind != Kind::Shell {
                entry.pending_input = Some(entry.derived.turns_ended);
            }
        }
        self.publish(sid);
    }

    /// After an inotify overflow: re-read every followed file.
    pub fn rescan(self: &Rc<Self>, watcher: &TreeWatcher) {
        self.log("inotify queue overflowed: rescanning");
        for path in watcher.scan() {
            self.file_changed(&path);
        }
    }

    pub fn publish(&self, id: &str) {
        let Some(record) = self.store.borrow().live.get(id).map(Entry::record) else {
            return;
        };
        let text = record.to_string();
        let mut published = self.published.borrow_mut();
        if published.get(id) != Some(&text) {
            self.events.publish("session", &text);
            published.insert(id.to_string(), text);
        }
    }
}

fn read_new(followed: &mut Followed) {
    let Followed { follower, tracker } = followed;
    for _ in 0..2 {
        match follower.poll(&mut |line| tracker.feed(line)) {
            Ok(p) if p.truncated => tracker.reset(),
            _ => return,
        }
    }
}

/// The session-root watcher task: recursive inotify, roots added as
/// runners reveal them.
pub async fn watch_roots(daemon: Rc<Daemon>) {
    let roots: Vec<PathBuf> = daemon.roots.borrow().iter().cloned().collect();
    let mut watcher = match TreeWatcher::new(roots) {
        Ok(w) => w,
        Err(e) => {
            daemon.log(&format!("cannot watch session roots: {e}"));
            return;
        }
    };
    let start = now_ms() / 1000;
    for path in watcher.scan() {
        let mtime = std::fs::metadata(&path)
            .ok()
            .and_then(|m| m.modified().ok())
            .map(crate::timefmt::epoch);
        if mtime.is_some_and(|t| start - t < 300) {
            daemon
                .recent
                .borrow_mut()
                .insert(path, mtime.unwrap_or(start));
        }
    }
    enum Next {
        Batch(io::Result<Vec<WatchEvent>>),
        Root(PathBuf),
    }
    loop {
        let rx = daemon.roots_rx.clone();
        let next =
            futures_lite::future::or(async { Next::Batch(watcher.next_batch().await) }, async {
                match rx.recv().await {
                    Ok(root) => Next::Root(root),
                    Err(_) => std::future::pending().await,
                }
            })
            .await;
        match next {
            Next::Root(root) => {
                let _ = watcher.add_root(root);
            }
            Next::Batch(Err(e)) => {
                daemon.log(&format!("session-root watcher failed: {e}"));
                return;
            }
            Next::Batch(Ok(events)) => {
                for event in events {
                    match event {
                        WatchEvent::Changed(path) => daemon.file_changed(&path),
                        WatchEvent::Removed(path) => {
                            daemon.recent.borrow_mut().remove(&path);
                        }
                        WatchEvent::Rescan => daemon.rescan(&watcher),
                    }
                }
            }
        }
    }
}
