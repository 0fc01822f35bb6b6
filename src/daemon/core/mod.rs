//! The daemon's state and every decision about it, without I/O.
//!
//! `Core` owns the sessions (`Store`), the attribution engine, the roots
//! watched, the files seen changing, each session's side state, the
//! records not yet on disk, the warnings and the journal — as plain data
//! behind `&mut self`. [`Core::handle`] takes one [`Event`] (a runner's
//! event, a file read, an agent's report found in `/proc`, a timer, a
//! request) at a time [`Now`] and returns the [`Effect`]s it decided:
//! what to publish, log, read, watch, save or schedule. It never reads a
//! file, a clock or a socket: the shell (`daemon/shell/`) does all of that and
//! feeds back what it found as events, so every decision can be driven by
//! a test with virtual time.
//!
//! Two rules keep effects simple. An effect whose result the core needs
//! before it goes on (a followed file's first read) is followed by
//! [`Effect::Then`]: the shell runs effects in order and handles each
//! event they produce before the next effect, so the continuation sees
//! the result. And records are published once per handled event, at its
//! end (`flush`), for the sessions it touched — or, while a continuation
//! is pending, at the end of the last one: a rebind is one change to
//! subscribers, never a moment with no conversation or an old one's
//! state.

mod ended;
mod event;
mod files;
mod forget;
mod input;
#[cfg(test)]
mod oracle;
mod roots;
mod sources;
mod timers;

pub use ended::{unseen_plan, unseen_reader};
pub use event::{
    Continuation, Effect, Event, Found, Now, Published, Read, SideEvent, Timer, Unseen,
};
pub use forget::Refused;
pub use roots::{Root, RootChange};

use super::journal::{Cause, Journal, Signal};
use super::store::{Entry, Held, Lookup, Store};
use crate::attribution::Engine;
use crate::protocol::{self, Record};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

/// Per live session, what is not its record: the bookkeeping of
/// publishing, saving and looking at its sources. Dropped whole when the
/// session ends, so nothing about it lingers in a side table.
#[derive(Default)]
pub struct Side {
    /// The record's JSON as last published (publish only changes).
    published: Option<String>,
    /// The input state as last saved (see `live.rs`).
    saved: Option<super::live::Saved>,
    checks: sources::Checks,
}

/// See the module doc.
pub struct Core {
    store: Store,
    engine: Engine,
    /// What each followed file said at its last read.
    files: HashMap<PathBuf, files::FileFacts>,
    roots: HashMap<PathBuf, Root>,
    /// Directories the root watcher watches now (`/v1/health`).
    watches: usize,
    /// Files seen changing (or recent at start), by path: candidates for
    /// the guesses, with the time (s) they last changed.
    recent: HashMap<PathBuf, i64>,
    recent_limit: usize,
    sides: HashMap<String, Side>,
    /// Dead records not yet on disk (see `ended.rs`), and those whose
    /// save is queued now.
    unsaved: BTreeSet<String>,
    saving: BTreeSet<String>,
    /// What the user must be told (`/v1/health`, `amux ls`), by topic.
    warnings: BTreeMap<&'static str, String>,
    /// Where dead records are saved (named when they cannot be).
    state_dir: PathBuf,
    /// Runners being followed (see `runners.rs`), known or not yet.
    following: HashSet<String>,
    journal: Journal,
    /// Sessions to publish at the end of the event being handled.
    dirty: Vec<String>,
    /// `Effect::Then`s the shell has yet to hand back: until then the
    /// touched sessions wait to be published.
    pending: usize,
    out: Vec<Effect>,
}

impl Core {
    /// A core that watches `roots` for good and knows the `dead` records
    /// a previous daemon saved.
    pub fn new(
        roots: HashMap<PathBuf, Root>,
        dead: BTreeMap<String, Record>,
        state_dir: PathBuf,
    ) -> Core {
        let mut core = Core {
            store: Store {
                live: BTreeMap::new(),
                dead,
            },
            engine: Engine::new(),
            files: HashMap::new(),
            roots,
            watches: 0,
            recent: HashMap::new(),
            recent_limit: 2 * files::MAX_RECENT,
            sides: HashMap::new(),
            unsaved: BTreeSet::new(),
            saving: BTreeSet::new(),
            warnings: BTreeMap::new(),
            state_dir,
            following: HashSet::new(),
            journal: Journal::default(),
            dirty: Vec::new(),
            pending: 0,
            out: Vec::new(),
        };
        core.prune_dead();
        core
    }

    /// What the core decided outside `handle` (at its start).
    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.out)
    }

    /// Handles one event; what the shell must do about it, in order.
    pub fn handle(&mut self, event: Event, now: Now) -> Vec<Effect> {
        let cause = event.cause();
        let previous = self.journal.begin(cause);
        self.dispatch(event, now);
        self.flush(now);
        self.journal.end(previous);
        std::mem::take(&mut self.out)
    }

    fn dispatch(&mut self, event: Event, now: Now) {
        match event {
            Event::Runner { id, event, replay } => self.runner_event(&id, *event, replay, now),
            Event::Meta { id, meta, saved } => self.on_meta(&id, &meta, saved, now),
            Event::Gone { id, exit } => self.runner_gone(&id, exit, now),
            Event::Continue { then, .. } => {
                self.pending = self.pending.saturating_sub(1);
                match then {
                    Continuation::Bind { sid, file, source } => self.bind(&sid, file, source),
                    Continuation::Buried { id } => self.buried(&id, now),
                }
            }
            Event::Unseen(unseen) => self.gone_unseen(unseen, now),
            Event::Changed(path) => self.file_changed(&path, now),
            Event::Read(read) => self.file_read(read, now),
            Event::Removed(path) => {
                self.recent.remove(&path);
            }
            Event::Found { id, found } => self.found(&id, found, now),
            Event::Timer(timer) => self.timer(timer, now),
            Event::Input { id, keys } => self.sent(&id, &keys, now),
            Event::Side(side) => self.side_event(side),
            Event::Saved { record, error } => self.saved(&record, error),
            Event::SaveAll => self.save_all(),
            Event::Forget { id } => self.forget(&id),
            Event::Resumed { id, at } => self.mark_resumed(&id, at),
        }
    }

    /// The record of a live entry, with what the engine says it holds.
    fn render(&self, entry: &Entry) -> Record {
        let binding = self.engine.binding(&entry.id);
        entry.record(Held {
            binding,
            last_file: self.engine.last_file(&entry.id),
            owner: binding.is_none_or(|b| self.owner_of(&b.file).as_deref() == Some(&entry.id)),
        })
    }

    /// Which of the sessions holding `file` owns its turns: the one that
    /// was last given input, else the one started last.
    fn owner_of(&self, file: &Path) -> Option<String> {
        let holders = self.engine.holders(file);
        if holders.len() <= 1 {
            return holders.first().cloned();
        }
        let key = |id: &&String| {
            let entry = self.store.live.get(*id);
            let submitted = entry.and_then(|e| e.input.submitted_ms);
            (submitted, entry.map_or(0, Entry::started_ms), (*id).clone())
        };
        holders.iter().max_by_key(key).cloned()
    }

    /// Marks `id` to be published at the end of this event.
    fn touch(&mut self, id: &str) {
        if !self.dirty.iter().any(|d| d == id) {
            self.dirty.push(id.to_string());
        }
    }

    /// Marks every session holding the file `id` holds: who owns the
    /// file's turns may have changed.
    fn touch_holders(&mut self, id: &str) {
        let file = self.engine.binding(id).map(|b| b.file.clone());
        let holders = file.map_or_else(Vec::new, |f| self.engine.holders(&f).to_vec());
        holders.iter().for_each(|h| self.touch(h));
        self.touch(id);
    }

    /// Publishes each touched session whose record changed, and saves its
    /// input state when that changed.
    fn flush(&mut self, now: Now) {
        if self.pending > 0 {
            return;
        }
        for id in std::mem::take(&mut self.dirty) {
            self.publish(&id, now);
        }
    }

    fn publish(&mut self, id: &str, now: Now) {
        // Until its replay is read a session is only half known (a resumed
        // one would show no file yet): subscribers first see it whole.
        let Some(entry) = self.store.live.get(id).filter(|e| e.replayed) else {
            return;
        };
        let record = self.render(entry);
        let saved = entry.saved(self.engine.binding(id));
        self.save_input(id, saved);
        let text = protocol::to_json(&record);
        let side = self.sides.entry(id.to_string()).or_default();
        if side.published.as_ref() == Some(&text) {
            return;
        }
        side.published = Some(text.clone());
        self.out.push(Effect::Publish(Published::Session(text)));
        self.journal
            .note(&record, &crate::timefmt::format_millis(now.ms));
    }

    /// Saves a session's input state when it changed since the last save.
    fn save_input(&mut self, id: &str, saved: super::live::Saved) {
        let side = self.sides.entry(id.to_string()).or_default();
        if side.saved.as_ref() == Some(&saved) {
            return;
        }
        // Nothing to keep yet: no file needs writing.
        if side.saved.is_none() && saved == super::live::Saved::default() {
            return;
        }
        side.saved = Some(saved.clone());
        self.out.push(Effect::SaveInput {
            id: id.to_string(),
            saved: Box::new(saved),
        });
    }

    /// `then` is to be handled once the effects before it are done,
    /// under the cause in force now.
    fn then(&mut self, then: Continuation) {
        self.pending += 1;
        let cause = self.journal.current();
        let cause = cause.unwrap_or_else(|| Cause::new(Signal::Runner, "(continued)"));
        let event = Event::Continue { cause, then };
        self.out.push(Effect::Then(Box::new(event)));
    }

    fn log(&mut self, text: String) {
        self.out.push(Effect::Log(text));
    }

    fn side(&mut self, id: &str) -> &mut Side {
        self.sides.entry(id.to_string()).or_default()
    }
}

/// What the rest of the daemon asks: read-only views.
impl Core {
    pub fn records(&self, all: bool) -> Vec<Record> {
        self.store.records(all, &|e| self.render(e))
    }

    pub fn record(&self, id: &str) -> Option<Record> {
        self.store.record(id, &|e| self.render(e))
    }

    /// The live records `publish` would publish: of sessions whose replay
    /// was read (`events`' snapshot).
    pub fn whole_records(&self) -> Vec<Record> {
        let whole: std::collections::HashSet<&str> = (self.store.live.iter())
            .filter(|(_, e)| e.replayed)
            .map(|(id, _)| id.as_str())
            .collect();
        let records = self.records(false);
        records
            .into_iter()
            .filter(|r| whole.contains(r.id.as_str()))
            .collect()
    }

    pub fn is_live(&self, id: &str) -> bool {
        self.store.live.contains_key(id)
    }

    pub fn is_known(&self, id: &str) -> bool {
        self.store.live.contains_key(id) || self.store.dead.contains_key(id)
    }

    /// The id `key` (id, unique prefix, slug) names; `Err(ids)` when it
    /// names several (none: empty).
    pub fn lookup(&self, key: &str) -> Result<String, Vec<String>> {
        match self.store.lookup(key) {
            Lookup::Found(id) => Ok(id.to_string()),
            Lookup::Unknown => Err(Vec::new()),
            Lookup::Ambiguous(ids) => Err(ids),
        }
    }

    /// Directories watched and what the user must be told (`/v1/health`):
    /// the daemon's own warnings, then each live session's (what it
    /// could not read of its conversation).
    pub fn health_facts(&self) -> (usize, Vec<String>) {
        let mut warnings: Vec<String> = self.warnings.values().cloned().collect();
        warnings.extend((self.store.live.values()).filter_map(|e| {
            let warning = e.warning().filter(|_| e.alive)?;
            Some(format!("session {}: {warning}", e.id))
        }));
        (self.watches, warnings)
    }

    /// Events handled so far.
    pub fn seq(&self) -> u64 {
        self.journal.seq()
    }

    /// Session `id`'s record and the causes of its last changes.
    pub fn explain(&self, id: &str) -> Option<protocol::Explain> {
        let session = self.record(id)?;
        let file = session.conversation.as_ref().map(|c| c.file.clone());
        Some(protocol::Explain {
            lines: file.map_or(0, |f| self.lines_read(&f)),
            session,
            seq: self.journal.seq(),
            changes: self.journal.changes(id),
        })
    }

    /// The roots to watch, with their depths.
    pub fn roots(&self) -> Vec<(PathBuf, usize)> {
        (self.roots.iter())
            .map(|(r, root)| (r.clone(), root.depth))
            .collect()
    }

    pub fn dead_count(&self) -> usize {
        self.store.dead.len()
    }

    /// Whether runner `id` is followed now.
    pub fn following(&self, id: &str) -> bool {
        self.following.contains(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Meta, RunnerEvent};
    use std::collections::{BTreeMap, HashMap};
    use std::time::Instant;

    #[test]
    fn the_events_snapshot_waits_for_the_replay() {
        let mut core = Core::new(HashMap::new(), BTreeMap::new(), "/state".into());
        let now = Now {
            at: Instant::now(),
            ms: 1_800_000_000_000,
        };
        let meta = Meta {
            id: "s1".into(),
            kind: Some("pi".into()),
            command: vec!["pi".into()],
            cwd: "/w".into(),
            alive: true,
            started_at: crate::timefmt::format_ms(now.ms),
            ..Meta::default()
        };
        let id = "s1".to_string();
        let (meta, saved) = (Box::new(meta), None);
        core.handle(Event::Meta { id, meta, saved }, now);
        // Half known (a daemon that came back, the replay unread): listed,
        // but not yet said to a new subscriber.
        assert_eq!(core.records(false).len(), 1);
        assert!(core.whole_records().is_empty());
        let ready = Event::Runner {
            id: "s1".into(),
            event: Box::new(RunnerEvent::Ready),
            replay: true,
        };
        core.handle(ready, now);
        assert_eq!(core.whole_records().len(), 1);
    }

    #[test]
    fn a_burst_of_files_leaves_a_bounded_table_with_the_newest() {
        let mut core = Core::new(HashMap::new(), BTreeMap::new(), "/state".into());
        let at = Instant::now();
        let burst = 5 * files::MAX_RECENT;
        for i in 0..burst {
            // All in the same few seconds, the last one the newest.
            let now = Now {
                at,
                ms: 1_800_000_000_000 + (i as i64 * 3000 / burst as i64),
            };
            core.handle(Event::Changed(format!("/r/d/{i}.jsonl").into()), now);
        }
        assert!(
            core.recent.len() <= 2 * files::MAX_RECENT,
            "{}",
            core.recent.len()
        );
        assert!(core.recent.capacity() <= 8 * files::MAX_RECENT);
        let last = format!("/r/d/{}.jsonl", burst - 1);
        assert!(core.recent.contains_key(Path::new(&last)));
        assert!(!core.recent.contains_key(Path::new("/r/d/0.jsonl")));
    }
}
