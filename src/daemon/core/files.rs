//! The conversation files: binding and releasing them as the engine
//! decides, and what their reads say.
//!
//! A bound file is followed by the shell (`Effect::Follow`; complete lines
//! only, through the adapter's fold), which sends each read back as a
//! `Read`: the core keeps what the file derives to, its mtime and lines
//! read, and hands the derivation to every session holding it. Other
//! files changing under a session's roots are candidates for guesses and
//! cues to look at its sources; a change in an agent's report directory
//! (a Claude pidfile) is a cue to look at once.

use super::{Continuation, Core, Effect, Now, Read};
use crate::adapters::Derived;
use crate::attribution::{Decision, Source};
use crate::protocol::FileSource;
use std::path::{Path, PathBuf};

/// Size past which `recent` forgets files unchanged for `RECENT_KEEP_S`
/// (far beyond every guess's window).
pub const MAX_RECENT: usize = 4096;
const RECENT_KEEP_S: i64 = 1800;

/// What a read that went from `before` to `after` could not read, for
/// the log: once when it begins, and a skipped line even when the lines
/// after it said the state again in the same read.
fn unreadable_said(before: &Derived, after: &Derived) -> Option<String> {
    if after.unknown.is_some() && after.unknown != before.unknown {
        return after.unknown.as_ref().map(ToString::to_string);
    }
    let skipped = after
        .skipped
        .checked_sub(before.skipped)
        .filter(|&n| n > 0)?;
    Some(format!(
        "{skipped} line(s) over {} MiB skipped unread; the lines after say its state",
        crate::daemon::follow::MAX_LINE >> 20
    ))
}

/// What the core knows of a followed file, from its last read.
#[derive(Default)]
pub struct FileFacts {
    pub derived: Derived,
    pub lines: u64,
    pub written_ms: Option<i64>,
    pub linked: bool,
}

impl Core {
    /// Applies the engine's decisions: releases, then binds (a bind's
    /// first read comes before the rest of it, see `Effect::Then`).
    pub(super) fn apply(&mut self, decisions: Vec<Decision>, now: Now) {
        for decision in decisions {
            match decision {
                Decision::Release { sid, file } => self.release(&sid, &file),
                Decision::Bind { sid, file, source } => {
                    if !self.files.contains_key(&file) {
                        let Some(entry) = self.store.live.get(&sid) else {
                            continue;
                        };
                        let (kind, place) = (entry.kind, entry.place());
                        self.files.insert(file.clone(), Default::default());
                        self.out.push(Effect::Follow {
                            path: file.clone(),
                            kind,
                            place,
                        });
                    }
                    self.then(Continuation::Bind { sid, file, source });
                }
            }
        }
        let _ = now;
    }

    fn release(&mut self, sid: &str, file: &Path) {
        // Another session on the same conversation keeps it followed.
        if self.engine.holders(file).is_empty() {
            self.files.remove(file);
            self.out.push(Effect::Unfollow(file.to_path_buf()));
        }
        if let Some(entry) = self.store.live.get_mut(sid) {
            if entry.derived_from.as_deref() == Some(file) {
                entry.drop_derived();
            }
        }
        self.log(format!("session {sid}: released {}", file.display()));
        self.touch(sid);
    }

    /// A bind's file has been read: session `sid` holds it now.
    pub(super) fn bind(&mut self, sid: &str, file: PathBuf, source: Source) {
        // Released again meanwhile (a later decision of the same event).
        if self.engine.binding(sid).is_none_or(|b| b.file != file) {
            return;
        }
        let facts = self.files.get(&file);
        let derived = facts.map(|f| f.derived.clone()).unwrap_or_default();
        let (written_ms, linked) = facts.map_or((None, false), |f| (f.written_ms, f.linked));
        // A bound file is followed wherever it really lives: outside every
        // root, or under one through a symlinked directory (which the tree
        // walk does not enter), its directory gets a watch of its own.
        if let Some(dir) = file.parent() {
            // Past the watch limit its directory may be one left unwatched.
            let limited = self.warnings.contains_key("watches");
            if linked || limited || !self.under_root(dir) {
                self.use_root(sid, dir, 0);
            }
        }
        let Some(entry) = self.store.live.get_mut(sid) else {
            return;
        };
        if entry.derived_from.as_ref() != Some(&file) {
            // A first file is the session's own new conversation; any
            // later one (or one named at launch) is a switch.
            if entry.derived_from.is_some() || source == Source::Argv {
                entry.switch_file(&derived);
            }
            // Another conversation: what the agent said of the old one (a
            // question asked there) is over, unless it keeps its own
            // report current — or the old one was only the launch line's
            // (replayed to a daemon that came back before the agent's own
            // report): the report is of the agent's file.
            let launch = (entry.runner_meta.as_ref())
                .filter(|m| m.session_file_source == Some(FileSource::Argv))
                .and_then(|m| m.session_file.clone());
            if launch.is_none() || entry.derived_from != launch {
                entry.live = entry.live.take().filter(|l| l.kept);
            } else if let Some(live) = entry.live.as_mut() {
                // Measured against the agent's file from now on: written
                // after the report, it says more than the report.
                live.lines_upto = live.lines_upto.min(derived.lines);
                let said = (&live.report, live.since_ms);
                let written = written_ms.unwrap_or(0);
                if crate::daemon::state::contradicted(said.0, said.1, &derived, written) {
                    entry.live = None;
                }
            }
            entry.derived_from = Some(file.clone());
        }
        entry.written_ms = written_ms;
        entry.set_derived(derived);
        self.log(format!(
            "session {sid}: holds {} (source {})",
            file.display(),
            source.as_str()
        ));
        self.touch_holders(sid);
    }

    /// Bounded: a burst of files (100,000 in a second, their deletions
    /// maybe lost to an inotify overflow) must not grow the daemon for
    /// good. Files unchanged for `RECENT_KEEP_S` go, and past that only
    /// the newest `MAX_RECENT` stay — guesses look at 32 at most. Pruning
    /// at twice that keeps it amortised O(1) per change.
    pub(super) fn prune_recent(&mut self, secs: i64) {
        self.recent.retain(|_, t| secs - *t < RECENT_KEEP_S);
        if self.recent.len() > MAX_RECENT {
            let mut times: Vec<i64> = self.recent.values().copied().collect();
            let at = times.len() - MAX_RECENT;
            let cut = *times.select_nth_unstable(at).1;
            // Of the files changed in the cut's second, keep as many as
            // the newest `MAX_RECENT` hold.
            let mut ties = times[at..].iter().filter(|&&t| t == cut).count();
            self.recent.retain(|_, t| {
                let keep = *t > cut || (*t == cut && ties > 0);
                ties -= usize::from(*t == cut && keep);
                keep
            });
        }
        self.recent.shrink_to(2 * MAX_RECENT);
        self.recent_limit = 2 * MAX_RECENT;
    }

    /// A file under a watched root changed (or an agent's report).
    pub(super) fn file_changed(&mut self, path: &Path, now: Now) {
        if self.is_report(path) {
            return self.report_changed(path, now);
        }
        let secs = now.ms / 1000;
        self.recent.insert(path.to_path_buf(), secs);
        if self.recent.len() > self.recent_limit {
            self.prune_recent(secs);
        }
        if self.files.contains_key(path) {
            self.out.push(Effect::ReadMore(path.to_path_buf()));
            return;
        }
        // Only sessions whose roots hold the file can be concerned.
        let ids: Vec<String> = (self.store.live.values())
            .filter(|e| e.roots.iter().any(|r| path.starts_with(r)))
            .map(|e| e.id.clone())
            .collect();
        ids.iter().for_each(|id| self.check(id, false, now));
    }

    /// What a read of a followed file found.
    pub(super) fn file_read(&mut self, read: Box<Read>, now: Now) {
        let Some(facts) = self.files.get_mut(&read.path) else {
            // Let go of meanwhile: what it said is nobody's.
            return;
        };
        let said = unreadable_said(&facts.derived, &read.derived);
        facts.derived = read.derived.clone();
        facts.lines = read.lines;
        facts.written_ms = read.written_ms;
        if read.first {
            facts.linked = read.linked;
        }
        if let Some(said) = said {
            self.log(format!("{}: {said}", read.path.display()));
        }
        if read.first {
            return;
        }
        let holders = self.engine.holders(&read.path).to_vec();
        for sid in holders {
            self.update_derived(&sid, read.derived.clone(), read.grew, read.written_ms, now);
        }
    }

    fn update_derived(
        &mut self,
        sid: &str,
        derived: Derived,
        grew: bool,
        written: Option<i64>,
        now: Now,
    ) {
        let Some(entry) = self.store.live.get_mut(sid) else {
            return;
        };
        if grew {
            entry.input.last_change = Some(now.at);
        }
        entry.written_ms = written;
        entry.set_derived(derived);
        if grew {
            entry.file_grew();
        }
        // A reply that arrives on an attached terminal is seen there.
        if entry.input.attachers > 0 {
            entry.mark_read();
        }
        self.touch(sid);
    }

    /// Whether `path` is an agent's own report (a Claude pidfile in a
    /// session's report directory).
    fn is_report(&self, path: &Path) -> bool {
        // Most changes are conversation lines: no report directory is
        // worked out for them.
        let name = path.file_name().map_or(&[][..], |n| n.as_encoded_bytes());
        if !crate::adapters::report_file(name) {
            return false;
        }
        let dir = path.parent();
        self.store
            .live
            .keys()
            .any(|id| self.report_dir(id).as_deref() == dir)
    }

    /// An agent's report changed: the sessions that report there look
    /// again. Not throttled: the agent rewrites its report only when its
    /// state changes, and a state change must show at once (a look under
    /// way still runs one at a time).
    fn report_changed(&mut self, path: &Path, now: Now) {
        let dir = path.parent().map(Path::to_path_buf);
        let ids: Vec<String> = (self.store.live.keys())
            .filter(|&id| self.report_dir(id) == dir)
            .cloned()
            .collect();
        ids.iter().for_each(|id| self.check(id, true, now));
    }

    /// Where session `id`'s agent reports its file (Claude Code's
    /// pidfiles), if it does.
    pub(super) fn report_dir(&self, id: &str) -> Option<PathBuf> {
        let entry = self.store.live.get(id)?;
        entry.kind.report_dir(&entry.config_dir()?)
    }

    /// Complete lines of `path` read so far.
    pub fn lines_read(&self, path: &Path) -> u64 {
        self.files.get(path).map_or(0, |f| f.lines)
    }

    /// A root is watched now: what a followed file under it got before
    /// the watch landed has no event, so it is read now.
    pub(super) fn root_watched(&mut self, root: &Path) {
        let under: Vec<PathBuf> = (self.files.keys())
            .filter(|f| f.starts_with(root))
            .cloned()
            .collect();
        under
            .into_iter()
            .for_each(|f| self.out.push(Effect::ReadMore(f)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::Unknown;

    #[test]
    fn what_was_not_read_is_logged_once_and_a_skip_even_when_known_again() {
        let none = Derived::default();
        let denied = Derived {
            unknown: Some(Unknown::File("permission denied".into())),
            ..Derived::default()
        };
        let said = unreadable_said(&none, &denied).unwrap_or_default();
        assert!(
            said.starts_with("cannot be read (permission denied)"),
            "{said}"
        );
        assert_eq!(unreadable_said(&denied, &denied), None, "once");
        assert_eq!(unreadable_said(&denied, &none), None);
        let skipped = |n, unknown| Derived {
            skipped: n,
            unknown,
            ..Derived::default()
        };
        let long = Some(Unknown::Long {
            line: 7,
            bytes: 20 << 20,
        });
        let said = unreadable_said(&none, &skipped(1, long.clone())).unwrap_or_default();
        assert!(
            said.starts_with("line 7 is 20 MiB, over the 16 MiB"),
            "{said}"
        );
        assert_eq!(unreadable_said(&skipped(1, long), &skipped(1, None)), None);
        let said = unreadable_said(&none, &skipped(2, None)).unwrap_or_default();
        assert!(said.starts_with("2 line(s) over 16 MiB skipped"), "{said}");
    }
}
