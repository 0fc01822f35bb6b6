//! The daemon's view of every session: live entries built from their
//! runners' events, and dead records kept for `ls --all` and `resume`.
//!
//! An `Entry` holds what the runner said (its `meta`: command, cwd, pid,
//! exit; the preload's runtime; the terminal's title), what the adapter's
//! `Tracker` derived from the file the session holds, the input sent to
//! it and the agent's own last report of its state. Which file it holds
//! is not here: the attribution engine owns that, and the core passes it
//! in as [`Held`]. `Entry::record` renders a live session's public record
//! (amux(1), SESSION RECORD) from the two; it is the only place a record
//! is made, so `ls --json`, `show`, `events` and the dead records (each
//! the record rendered at the session's end, kept as it was) agree.

use super::live::Saved;
use crate::adapters::{self, Derived, Kind, Place, Unknown};
use crate::attribution::Binding;
use crate::protocol::{Conversation, Meta, Record, RecordShim};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, UNIX_EPOCH};

pub struct Entry {
    pub id: String,
    /// The adapter the runner's kind names (a shell for one this amux
    /// does not know: followed by its process only).
    pub kind: Kind,
    /// The kind as the runner said it, carried to the record as itself.
    pub kind_name: String,
    pub command: Vec<String>,
    pub cwd: String,
    pub pid: Option<u64>,
    pub alive: bool,
    pub exit_code: Option<i64>,
    pub started_at: String,
    pub exited_at: Option<String>,
    pub terminal_title: Option<String>,
    pub shim_runtime: Option<String>,
    pub roots: Vec<PathBuf>,
    /// The runner's replay has been read: only then are its sources
    /// checked and guesses considered (a restart must not guess first).
    pub replayed: bool,
    /// What the adapter's tracker derived (a cache of the followed file,
    /// reset when the session lets go of it), and the file the session's
    /// input counts are of.
    pub derived: Derived,
    pub derived_from: Option<PathBuf>,
    /// `derived_from`'s mtime (epoch ms) at its last read, if it exists.
    pub written_ms: Option<i64>,
    pub input: InputState,
    pub last_conversation_id: Option<String>,
    /// The runner's first `meta`, kept for `live.rs`.
    pub runner_meta: Option<Meta>,
    /// How deep below its roots the agent keeps conversations.
    pub root_depth: usize,
    /// The roots this session made the daemon watch (see `core/roots.rs`).
    pub watched: Vec<PathBuf>,
    /// The agent's own last report of its state (see `state.rs`).
    pub live: Option<super::state::Live>,
    /// The agent's hooks have spoken (a `hook` report): what they do not
    /// say soon, they do not say at all.
    pub hooked: bool,
    /// The line `amux send` has typed so far (`typed.rs`).
    pub typed: crate::typed::TypedLine,
}

impl Entry {
    /// When the runner started, in ms (0 if it did not say).
    pub fn started_ms(&self) -> i64 {
        self.runner_meta.as_ref().map_or(0, |m| m.started_ms)
    }

    /// The file held is the one named at launch (a resumed conversation)
    /// and nothing wrote it since the session started — or one switched
    /// to mid-session, not written since the input that switched to it:
    /// what it says happened before the user came (back) to it. A turn it
    /// left open (its agent was killed mid-turn) is not running now, and
    /// its last reply is not news. Judged by the file's mtime at its last
    /// read, so a daemon that comes back or reads the file in parts judges it the same.
    pub fn history(&self, held: Held) -> bool {
        let (Some(meta), Some(file)) = (self.runner_meta.as_ref(), held.binding.map(|b| &b.file))
        else {
            return false;
        };
        let launched = meta.session_file_source == Some(crate::protocol::FileSource::Argv)
            && meta.session_file.as_ref() == Some(file);
        let since = if launched {
            meta.started_ms
        } else if self.derived_from.as_ref() == Some(file) {
            let Some(before) = self.input.history_before else {
                return false;
            };
            before
        } else {
            return false;
        };
        self.derived_from.as_ref() == Some(file) && self.written_ms.is_some_and(|w| w < since)
    }

    /// The agent's own directory in the session's environment.
    pub fn config_dir(&self) -> Option<PathBuf> {
        self.runner_meta.as_ref()?.config_dir.clone()
    }

    /// Where the session runs, for its adapter's reading of lines.
    pub fn place(&self) -> Place {
        Place {
            cwd: PathBuf::from(&self.cwd),
            config_dir: self.config_dir(),
        }
    }
}

/// What input sent to the session means for its state (`send` then
/// `wait --until idle` waits for the reply to that input).
#[derive(Default)]
pub struct InputState {
    /// Input was submitted (it ended a line) and no turn has finished
    /// since: the agent counts as working. `Some(n)`: sent when `n` turns
    /// had ended.
    pub pending: Option<u64>,
    /// When the pending input went in: its quiet check belongs to it.
    pub pending_at: Option<Instant>,
    /// When input was last submitted here: of several sessions on one
    /// conversation, the one that did owns its turns (see `Held::owner`).
    pub submitted_ms: Option<i64>,
    /// Submitted inputs the runner had counted when we last looked: input
    /// typed while no daemon ran shows as a higher count in its replay.
    pub submitted_seen: u64,
    /// Terminals attached now: a reply that arrives on one is read.
    pub attachers: u64,
    /// Turns the user has seen: typing or attaching reads every reply so far.
    pub read_upto: u64,
    /// The session switched to a conversation that already existed (pi's
    /// `/resume`): what that file held when input last went in before the
    /// switch (epoch ms) happened before the user came back to it.
    pub history_before: Option<i64>,
    /// When the session last showed a change (terminal output, file line).
    pub last_change: Option<Instant>,
    /// The agent said it is idle after the last input went in (a command
    /// it took without a turn: pi's `/new`, Claude's `/clear`): that input
    /// is answered though no turn ended.
    pub settled: bool,
}

/// What the attribution engine says of a session, for its record.
#[derive(Clone, Copy, Default)]
pub struct Held<'a> {
    pub binding: Option<&'a Binding>,
    pub last_file: Option<&'a Path>,
    /// Of the live sessions holding this file, this one owns its turns:
    /// the file's working and unread are its. Two terminals on one
    /// conversation both hold it, but only the one that was given the
    /// last prompt is at work on it.
    pub owner: bool,
}

impl Entry {
    /// What must outlive a daemon restart (see `live.rs`).
    pub fn saved(&self, binding: Option<&Binding>) -> Saved {
        Saved {
            pending: self.input.pending,
            submitted: self.input.submitted_seen,
            submitted_ms: self.input.submitted_ms,
            read_upto: self.input.read_upto,
            settled: self.input.settled,
            history_before: self.input.history_before,
            file: binding.map(|b| b.file.clone()),
            source: binding.map(|b| b.source),
            since: binding.map(|b| b.since),
            meta: self.runner_meta.clone(),
        }
    }

    /// Takes back what a previous daemon saved; the pending input (if any)
    /// counts from now for its quiet check.
    pub fn restore(&mut self, saved: Saved, now: Instant) {
        self.input.pending = saved.pending;
        self.input.pending_at = saved.pending.map(|_| now);
        self.input.last_change = Some(now);
        self.input.submitted_seen = saved.submitted;
        self.input.submitted_ms = saved.submitted_ms;
        self.input.read_upto = saved.read_upto;
        self.input.settled = saved.settled;
        self.input.history_before = saved.history_before;
        // Rebinding this file on replay is no switch: the counts hold.
        self.derived_from = saved.file.clone();
    }

    pub fn new(id: &str) -> Entry {
        Entry {
            id: id.to_string(),
            kind: Kind::SHELL,
            kind_name: Kind::SHELL.as_str().to_string(),
            command: Vec::new(),
            cwd: String::new(),
            pid: None,
            alive: true,
            exit_code: None,
            started_at: String::new(),
            exited_at: None,
            terminal_title: None,
            shim_runtime: None,
            roots: Vec::new(),
            replayed: false,
            derived: Derived::default(),
            derived_from: None,
            written_ms: None,
            input: InputState::default(),
            last_conversation_id: None,
            runner_meta: None,
            root_depth: crate::daemon::watch::MAX_DEPTH,
            watched: Vec::new(),
            live: None,
            hooked: false,
            typed: Default::default(),
        }
    }

    /// Takes the runner's `/meta` snapshot.
    pub fn apply_meta(&mut self, meta: &Meta) {
        self.runner_meta.get_or_insert_with(|| meta.clone());
        self.kind = meta.kind.as_deref().map_or(Kind::SHELL, Kind::named);
        self.kind_name = (meta.kind.clone()).unwrap_or_else(|| self.kind.as_str().to_string());
        self.command = meta.command.clone();
        self.cwd = meta.cwd.to_string_lossy().into_owned();
        self.pid = meta.pid.map(u64::from);
        self.started_at = meta.started_at.clone();
        self.exited_at = meta.exited_at.clone();
        self.exit_code = meta.exit_code;
        self.alive = meta.alive;
        self.terminal_title = meta.title.clone();
        self.shim_runtime = meta.shim.runtime.clone();
        self.roots = meta.roots.clone();
        if let Some(depth) = meta.root_depth {
            self.root_depth = depth;
        }
    }

    /// The agent's own name for its conversation while its last report
    /// stands (pi's `/name` before its first prompt is in no file), else
    /// what the adapter makes of the file and the command. With none,
    /// `(new)` — or `(unreadable)` when the file could not be read, or
    /// lines of it were skipped: it may well have a name.
    pub fn title(&self) -> String {
        let said = self.live.as_ref().and_then(|l| l.report.title.clone());
        let unread =
            self.derived.skipped > 0 || matches!(self.derived.unknown, Some(Unknown::File(_)));
        said.or_else(|| {
            (self.kind).title(&self.derived, &self.command, self.terminal_title.as_deref())
        })
        .unwrap_or_else(|| match unread {
            true => "(unreadable)".to_string(),
            false => "(new)".to_string(),
        })
    }

    /// What the state rests on that the daemon could not read
    /// (`Derived::unknown`): a file it cannot read, whatever was sent
    /// since; a skipped line, unless input was submitted after it (the
    /// agent owes that an answer, which its next lines will tell).
    pub fn unknown(&self) -> Option<&Unknown> {
        match &self.derived.unknown {
            Some(Unknown::Long { .. }) if self.input.pending.is_some() => None,
            unknown => unknown.as_ref(),
        }
    }

    /// What the user must be told of this session (`warning`): what the
    /// daemon could not read of its conversation.
    pub fn warning(&self) -> Option<String> {
        (self.derived.unknown.as_ref()).map(|u| format!("conversation {u}"))
    }

    pub fn working(&self, held: Held) -> bool {
        let turn = held.owner && self.derived.working && !self.history(held);
        self.alive && (turn || self.input.pending.is_some())
    }

    /// A turn has finished and nothing was submitted since: what `wait
    /// --until idle` waits for. Input the agent took without a turn
    /// (`/name`) stops counting as pending once the session is quiet, but
    /// it finishes nothing: a fresh session stays short of idle until its
    /// first turn ends (its Enter may have been lost to a TUI starting) —
    /// unless the agent itself said it is idle.
    /// Kept in dead records, so a `pi -p` that answered and exited still
    /// counts as having reached idle.
    pub fn turn_done(&self, held: Held) -> bool {
        if self.kind.state_from_exit() {
            // A command with no prompt (`make`, `sh -c …`) is done when it
            // exits, as a `pi -p` that answered is; its exit status says
            // whether it failed.
            if !self.alive && !adapters::interactive_shell(&self.command) {
                return true;
            }
            // A shell: at its prompt, every line typed taken.
            let running = (self.live.as_ref())
                .is_some_and(|l| l.report.state == crate::protocol::State::Working);
            return self.alive && self.input.pending.is_none() && !running;
        }
        // What it rests on cannot be read: waiting longer tells nothing.
        if self.unknown().is_some() {
            return true;
        }
        let has_file = held.binding.is_some() || held.last_file.is_some();
        // A file with no ended turn yet (pi's header written a moment before
        // the rest of the first turn) is not idle: nothing has finished.
        let ended = has_file && self.derived.turns_ended > 0;
        // The agent's own word that it is idle (Claude's pidfile or hook,
        // pi's extension at a switch): a fresh session that was given
        // nothing is done, as is one whose last input it took.
        let said_idle = self.live.as_ref().is_some_and(|l| {
            l.report.state == crate::protocol::State::Idle
                && (crate::daemon::state::kept(l.report.source) || l.report.answers)
        });
        // Its word that the turn failed ends it, whatever the file still
        // says (pi's retry cancelled in its back-off: nothing is written,
        // the file reads as retrying).
        let said_failed =
            (self.live.as_ref()).is_some_and(|l| l.report.state == crate::protocol::State::Error);
        // One that says nothing until its first prompt, given nothing yet.
        let fresh = self.kind.idle_when_fresh() && self.input.submitted_ms.is_none();
        (ended || self.input.settled || said_idle || said_failed || fresh)
            && (!self.derived.working || self.history(held) || said_failed)
            && self.input.pending.is_none()
    }

    pub fn unread(&self, held: Held) -> bool {
        self.alive
            && held.owner
            && self.derived.unread
            && !self.history(held)
            && self.input.pending.is_none()
            && self.derived.turns_ended > self.input.read_upto
    }

    /// Someone typed into the session or attached to it: every reply so
    /// far has been on a terminal in front of them.
    pub fn mark_read(&mut self) {
        self.input.read_upto = self.derived.turns_ended;
    }

    /// Input that ends a line went in: the agent owes an answer.
    pub fn submitted(&mut self, now: Instant, now_ms: i64) {
        self.mark_read();
        self.input.settled = false;
        self.input.pending = Some(self.derived.turns_ended);
        self.input.pending_at = Some(now);
        self.input.submitted_ms = Some(now_ms);
        self.input.last_change = Some(now);
    }

    /// The session moved to another file (rebind, `/clear`, `/new`): what
    /// we knew of the old one no longer applies. Input still awaiting an
    /// answer is measured against the new file: an empty one will show
    /// the answer as its first ended turn; one that already shows a turn
    /// (working or ended) answers for itself through `working`. None of
    /// the new file's replies has been read here yet, but what it held
    /// before the last input is history (see `history`).
    pub fn switch_file(&mut self, new: &Derived) {
        self.last_conversation_id = None;
        if self.input.pending.is_some() {
            self.input.pending = (new.turns_ended == 0 && !new.working).then_some(0);
        }
        self.input.read_upto = 0;
        self.input.history_before = self.input.submitted_ms;
    }

    /// Takes a new derivation of the file; a turn that ended after the
    /// input we sent answers it.
    pub fn set_derived(&mut self, derived: Derived) {
        if self.input.pending.is_some_and(|n| derived.turns_ended > n) {
            self.input.pending = None;
        }
        // Fewer turns than before: the file was rewritten and counted
        // anew, so the counts we kept against it mean nothing now.
        if derived.turns_ended < self.derived.turns_ended {
            self.input.read_upto = 0;
            self.input.pending = self.input.pending.map(|_| derived.turns_ended);
        }
        if derived.conversation_id.is_some() {
            self.last_conversation_id = derived.conversation_id.clone();
        }
        self.derived = derived;
    }

    /// The file is no longer this session's: nothing derived from it stays.
    /// `derived_from` does: the next file bound is a switch from it.
    pub fn drop_derived(&mut self) {
        self.derived = Derived::default();
    }

    pub fn resume_command(&self, held: Held) -> Option<Vec<String>> {
        let file = held.binding.map(|b| b.file.as_path()).or(held.last_file)?;
        // A conversation never written (pi quit before its first prompt)
        // holds nothing to resume.
        if self.derived_from.as_deref() == Some(file) && self.written_ms.is_none() {
            return None;
        }
        let id = self
            .derived
            .conversation_id
            .as_deref()
            .or(self.last_conversation_id.as_deref());
        self.kind.resume_command(&self.command, file, id)
    }

    pub fn record(&self, held: Held) -> Record {
        let title = self.title();
        let conversation = held.binding.map(|b| Conversation {
            file: b.file.clone(),
            id: (self.derived.conversation_id.clone())
                .or_else(|| self.last_conversation_id.clone()),
            source: b.source.as_str().to_string(),
            since: crate::timefmt::format(
                UNIX_EPOCH + Duration::from_millis(b.since.max(0) as u64),
            ),
        });
        let status = super::state::status(self, held);
        // Done means at rest: not while the agent says it works or waits
        // for the user (a picker open after its last turn ended).
        let at_rest = !matches!(
            status.state,
            crate::protocol::State::Working | crate::protocol::State::Waiting
        );
        Record {
            id: self.id.clone(),
            kind: Some(self.kind_name.clone()),
            command: self.command.clone(),
            cwd: self.cwd.clone(),
            pid: self.pid,
            alive: self.alive,
            exit_code: self.exit_code,
            started_at: self.started_at.clone(),
            exited_at: self.exited_at.clone(),
            slug: adapters::slugify(&title),
            title,
            unread: self.unread(held),
            turn_done: self.turn_done(held) && at_rest,
            status,
            conversation,
            last_file: held.last_file.map(Path::to_path_buf),
            shim: RecordShim {
                active: self.shim_runtime.is_some(),
                runtime: self.shim_runtime.clone(),
            },
            resume_command: self.resume_command(held),
            resumed_at: None,
            attachers: if self.alive { self.input.attachers } else { 0 },
            warning: self.warning(),
            host: None,
        }
    }
}

/// Live entries and dead records, by id.
#[derive(Default)]
pub struct Store {
    pub live: BTreeMap<String, Entry>,
    pub dead: BTreeMap<String, Record>,
}

#[derive(Debug, PartialEq)]
pub enum Lookup<'a> {
    Found(&'a str),
    Unknown,
    Ambiguous(Vec<String>),
}

/// Dead records kept: the newest ones, by when they ended. Enough for any
/// `resume` a person wants; far from what would slow a listing down.
pub const MAX_DEAD: usize = 1000;

impl Store {
    /// The ids of the oldest dead records beyond `MAX_DEAD`, removed here
    /// (the caller removes their files).
    pub fn prune_dead(&mut self) -> Vec<String> {
        if self.dead.len() <= MAX_DEAD {
            return Vec::new();
        }
        let mut by_age: Vec<(String, String)> = (self.dead.iter())
            .map(|(id, r)| (r.exited_at.clone().unwrap_or_default(), id.clone()))
            .collect();
        by_age.sort();
        let excess = self.dead.len() - MAX_DEAD;
        let old: Vec<String> = by_age.into_iter().take(excess).map(|(_, id)| id).collect();
        old.iter().for_each(|id| {
            self.dead.remove(id);
        });
        old
    }

    /// Every live record (rendered by `render`), then the dead ones with
    /// `all`, oldest first.
    pub fn records(&self, all: bool, render: &dyn Fn(&Entry) -> Record) -> Vec<Record> {
        let mut out: Vec<Record> = self.live.values().map(render).collect();
        if all {
            out.extend(self.dead.values().cloned());
        }
        out.sort_by(|a, b| (a.started_at.cmp(&b.started_at)).then(a.id.cmp(&b.id)));
        out
    }

    pub fn record(&self, id: &str, render: &dyn Fn(&Entry) -> Record) -> Option<Record> {
        self.live
            .get(id)
            .map(render)
            .or_else(|| self.dead.get(id).cloned())
    }

    /// Resolves an id, a unique id prefix, or a slug (live sessions first:
    /// a prefix that one live session has is it, whatever dead ones share).
    pub fn lookup<'a>(&'a self, key: &str) -> Lookup<'a> {
        let ids = self.live.keys().chain(self.dead.keys());
        if let Some(id) = ids.clone().find(|id| id.as_str() == key) {
            return Lookup::Found(id);
        }
        let prefixed = |ids: &mut dyn Iterator<Item = &'a String>| -> Vec<&'a String> {
            ids.filter(|id| !key.is_empty() && id.starts_with(key))
                .collect()
        };
        let live = prefixed(&mut self.live.keys());
        let prefixed = if live.is_empty() {
            prefixed(&mut self.dead.keys())
        } else {
            live
        };
        match prefixed.as_slice() {
            [one] => return Lookup::Found(one),
            [] => {}
            many => return Lookup::Ambiguous(many.iter().map(|s| s.to_string()).collect()),
        }
        let live: Vec<&String> = self
            .live
            .values()
            .filter(|e| adapters::slugify(&e.title()) == key)
            .map(|e| &e.id)
            .collect();
        let matches = if live.is_empty() {
            self.dead
                .iter()
                .filter(|(_, r)| r.slug == key)
                .map(|(id, _)| id)
                .collect()
        } else {
            live
        };
        match matches.as_slice() {
            [one] => Lookup::Found(one),
            [] => Lookup::Unknown,
            many => Lookup::Ambiguous(many.iter().map(|s| s.to_string()).collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dead(id: &str, slug: &str) -> Record {
        Record {
            id: id.into(),
            slug: slug.into(),
            ..Record::default()
        }
    }

    fn entry(id: &str, title: &str) -> Entry {
        let mut e = Entry::new(id);
        e.kind = Kind::PI;
        e.kind_name = "pi".into();
        e.derived.title = Some(title.to_string());
        e
    }

    #[test]
    fn lookup_by_id_prefix_and_slug() {
        let mut store = Store::default();
        store
            .live
            .insert("abc123".into(), entry("abc123", "Fix the test"));
        store
            .live
            .insert("abd456".into(), entry("abd456", "Other work"));
        store
            .dead
            .insert("zzz999".into(), dead("zzz999", "old-one"));
        assert_eq!(store.lookup("abc123"), Lookup::Found("abc123"));
        assert_eq!(store.lookup("abd"), Lookup::Found("abd456"));
        assert!(matches!(store.lookup("ab"), Lookup::Ambiguous(v) if v.len() == 2));
        assert_eq!(store.lookup("fix-the-test"), Lookup::Found("abc123"));
        assert_eq!(store.lookup("old-one"), Lookup::Found("zzz999"));
        // One live match beats dead ones sharing the prefix.
        store.dead.insert("abc999".into(), dead("abc999", "x"));
        assert_eq!(store.lookup("abc"), Lookup::Found("abc123"));
        assert_eq!(store.lookup("abc9"), Lookup::Found("abc999"));
        assert_eq!(store.lookup("nope"), Lookup::Unknown);
    }

    #[test]
    fn a_turn_is_done_only_after_one_ended_and_input_was_answered() {
        let mut e = entry("id1", "t");
        let binding = shim_binding();
        let held = Held {
            binding: Some(&binding),
            last_file: None,
            owner: true,
        };
        assert!(!e.turn_done(held), "header only: nothing finished yet");
        e.set_derived(Derived {
            turns_ended: 1,
            ..Derived::default()
        });
        assert!(e.turn_done(held));
        e.submitted(Instant::now(), 1);
        assert_eq!(e.input.pending, Some(1));
        assert!(!e.turn_done(held), "input sent, not answered");
        e.set_derived(Derived {
            working: true,
            turns_ended: 1,
            ..Derived::default()
        });
        assert!(!e.turn_done(held));
        e.set_derived(Derived {
            turns_ended: 2,
            unread: true,
            ..Derived::default()
        });
        assert!(e.turn_done(held), "the next ended turn answers it");
        assert_eq!(e.input.pending, None);
        assert!(e.unread(held), "a reply nobody saw yet");
        e.mark_read();
        assert!(!e.unread(held), "typing or attaching reads it");
    }

    #[test]
    fn what_could_not_be_read_is_an_error_that_ends_a_wait_never_working() {
        let binding = shim_binding();
        let held = Held {
            binding: Some(&binding),
            last_file: None,
            owner: true,
        };
        // A file that cannot be read, whatever was sent to it.
        let mut e = entry("u1", "t");
        e.submitted(Instant::now(), 1);
        e.set_derived(Derived {
            unknown: Some(Unknown::File("permission denied".into())),
            ..Derived::default()
        });
        let r = e.record(held);
        assert_eq!(r.state(), "error");
        let label = r.status.label.as_deref();
        assert_eq!(label, Some("unreadable: permission denied"));
        assert!(r.turn_done, "nothing more will be read: a wait ends");
        assert_eq!(r.title, "(unreadable)", "not (new): it may well have one");
        let warning = r.warning.as_deref().unwrap_or_default();
        assert!(warning.starts_with("conversation cannot be read (permission denied)"));

        // A reply skipped: the turn it may have ended answers the input.
        let mut e = entry("u2", "t");
        let title = Some("t".to_string());
        e.submitted(Instant::now(), 1);
        e.set_derived(Derived {
            title: title.clone(),
            working: true,
            ..Derived::default()
        });
        assert_eq!(e.record(held).state(), "working");
        let unknown = Some(Unknown::Long {
            line: 3,
            bytes: 17 << 20,
        });
        e.set_derived(Derived {
            title: title.clone(),
            turns_ended: 1,
            skipped: 1,
            unknown,
            ..Derived::default()
        });
        let r = e.record(held);
        assert_eq!((r.state().as_str(), r.turn_done), ("error", true));
        assert_eq!(r.title, "t");
        assert!(r.warning.is_some());
        // Input after it: the agent owes an answer, which its file will tell.
        e.submitted(Instant::now(), 2);
        let r = e.record(held);
        assert_eq!((r.state().as_str(), r.turn_done), ("working", false));
        assert!(r.warning.is_some(), "still told");
    }

    fn shim_binding() -> Binding {
        Binding {
            file: "/f.jsonl".into(),
            source: crate::attribution::Source::Shim,
            since: 0,
        }
    }

    #[test]
    fn input_taken_without_a_turn_finishes_nothing() {
        let mut e = entry("id2", "t");
        e.submitted(Instant::now(), 1);
        assert!(e.working(Held::default()));
        e.input.pending = None;
        assert!(!e.working(Held::default()));
        assert!(!e.turn_done(Held::default()), "no turn ever ended");
    }

    #[test]
    fn a_failed_turn_stays_an_error_when_the_agent_says_it_ended() {
        use crate::protocol::{AgentState, State, StateSource};
        let mut e = entry("id3", "t");
        e.set_derived(Derived {
            error: true,
            turns_ended: 1,
            label: Some("error: Connection error.".into()),
            ..Derived::default()
        });
        let idle = AgentState {
            state: State::Idle,
            source: StateSource::Extension,
            ..AgentState::default()
        };
        e.live = Some(crate::daemon::state::Live::new(idle, 1, &e.derived, 0, 1));
        let status = crate::daemon::state::status(&e, Held::default());
        assert_eq!(
            (status.state, status.error),
            (State::Error, true),
            "{status:?}"
        );
        // The next input is newer than the failure: working again.
        e.submitted(Instant::now(), 2);
        e.set_derived(Derived {
            working: true,
            turns_ended: 1,
            ..Derived::default()
        });
        let status = crate::daemon::state::status(&e, Held::default());
        assert_eq!(status.state, State::Working, "{status:?}");
    }

    /// pi's extension: what it says of itself, on a file that says
    /// something else (or nothing yet).
    fn said(e: &mut Entry, state: crate::protocol::State, answers: bool, title: Option<&str>) {
        let report = crate::protocol::AgentState {
            state,
            source: crate::protocol::StateSource::Extension,
            answers,
            title: title.map(String::from),
            ..crate::protocol::AgentState::default()
        };
        e.live = Some(crate::daemon::state::Live::new(report, 5, &e.derived, 0, 5));
    }

    #[test]
    fn the_agents_own_name_is_the_title_while_its_report_stands() {
        use crate::protocol::State;
        let mut e = entry("id5", "first prompt");
        said(&mut e, State::Idle, true, Some("foo"));
        assert_eq!(e.title(), "foo");
        said(&mut e, State::Working, false, None);
        assert_eq!(e.title(), "first prompt", "no name: the file's title");
        e.derived.title = None;
        assert_eq!(e.title(), "(new)");
    }

    #[test]
    fn an_error_the_agent_says_ends_its_turn_and_a_command_taken_after_one_is_idle() {
        use crate::protocol::State;
        let mut e = entry("id6", "t");
        // pi's retry cancelled in its back-off: the file still reads as
        // retrying (working), pi says the turn failed.
        e.set_derived(Derived {
            working: true,
            retrying: true,
            turns_ended: 0,
            ..Derived::default()
        });
        said(&mut e, State::Error, true, None);
        let status = crate::daemon::state::status(&e, Held::default());
        assert_eq!((status.state, status.error), (State::Error, true));
        assert!(e.turn_done(Held::default()), "the agent said it is over");
        // A failed turn, then `/name` taken: that answer is the news.
        e.set_derived(Derived {
            error: true,
            turns_ended: 1,
            label: Some("error: 500 boom".into()),
            ..Derived::default()
        });
        said(&mut e, State::Idle, true, Some("foo"));
        let status = crate::daemon::state::status(&e, Held::default());
        assert_eq!(
            (status.state, status.error),
            (State::Idle, false),
            "{status:?}"
        );
        // Its `agent_end` after the failed attempt is no such answer.
        said(&mut e, State::Idle, false, None);
        let status = crate::daemon::state::status(&e, Held::default());
        assert_eq!(status.state, State::Error, "{status:?}");
    }

    #[test]
    fn a_waiting_with_nothing_asked_is_a_menu() {
        use crate::protocol::{AgentState, Ask, State, StateSource};
        let mut e = entry("id4", "t");
        let waiting = AgentState {
            state: State::Waiting,
            source: StateSource::AgentPidfile,
            ..AgentState::default()
        };
        let mut live = crate::daemon::state::Live::new(waiting, 1, &e.derived, 0, 1);
        live.held = false;
        e.live = Some(live);
        let status = crate::daemon::state::status(&e, Held::default());
        let kind = status.waiting.as_ref().map(|w| w.kind);
        assert_eq!(
            (status.state, kind),
            (State::Waiting, Some(Ask::Menu)),
            "{status:?}"
        );
        assert_eq!(status.label.as_deref(), Some("waiting: menu"));
    }

    #[test]
    fn record_has_the_documented_shape() {
        let mut e = entry("k3j9x2m4qa", "fix the flaky test");
        let binding = shim_binding();
        e.submitted(Instant::now(), 1);
        let r = e.record(Held {
            binding: Some(&binding),
            last_file: Some(Path::new("/f.jsonl")),
            owner: true,
        });
        let r = serde_json::to_value(&r).expect("a record serialises");
        assert_eq!(r["slug"], "fix-the-flaky-test");
        assert_eq!(r["conversation"]["source"], "shim");
        assert_eq!(r["status"]["working"], true);
        for key in [
            "id",
            "kind",
            "command",
            "cwd",
            "pid",
            "alive",
            "exit_code",
            "started_at",
            "exited_at",
            "unread",
            "shim",
            "resume_command",
        ] {
            assert!(r.get(key).is_some(), "{key}");
        }
    }

    #[test]
    fn an_interrupt_the_file_tells_ends_a_kept_report() {
        use crate::protocol::{AgentState, State, StateSource};
        let mut e = entry("id9", "t");
        e.set_derived(Derived {
            working: true,
            ..Derived::default()
        });
        // Copilot's hook said working; no hook tells its Esc Esc.
        let working = AgentState {
            state: State::Working,
            source: StateSource::Hook,
            ..AgentState::default()
        };
        e.live = Some(crate::daemon::state::Live::new(
            working, 1, &e.derived, 0, 1,
        ));
        e.set_derived(Derived {
            lines: 3,
            ..e.derived.clone()
        });
        e.file_grew();
        assert!(e.live.is_some(), "a kept report outlives plain lines");
        e.set_derived(Derived {
            working: false,
            interrupts: 1,
            lines: 4,
            ..Derived::default()
        });
        e.file_grew();
        assert!(e.live.is_none());
        let status = crate::daemon::state::status(&e, Held::default());
        assert_eq!(status.state, State::Idle, "{status:?}");
    }
}
