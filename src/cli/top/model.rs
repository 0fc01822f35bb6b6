//! The sessions `top` shows, as rows in the order the user needs them:
//! waiting (the longest waiting first), error, unread, working, idle,
//! then those that exited lately. Pure: records and a clock in, rows out.

use crate::protocol::Record;
use std::collections::HashMap;

/// How long an exited session stays on the screen.
pub const EXITED_FOR_MS: i64 = 10 * 60 * 1000;

/// One session, as a row shows it (agent text not yet sanitised).
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Its id, `host:id` on another host.
    pub key: String,
    /// The host it is on (`None`: this machine).
    pub host: Option<String>,
    pub id: String,
    pub kind: String,
    /// `Record::state`'s word.
    pub state: String,
    /// Since when it waits (epoch ms), for its age and its place.
    pub since_ms: Option<i64>,
    /// What it asks: the tool and its command, or the question.
    pub asked: String,
    pub title: String,
    pub cwd: String,
    pub alive: bool,
}

impl Row {
    pub fn of(record: &Record) -> Row {
        let waiting = record.status.waiting.as_ref();
        let asked = waiting.map_or(String::new(), |w| {
            let parts = [w.tool.as_deref(), w.text.as_deref()];
            parts.into_iter().flatten().collect::<Vec<_>>().join(": ")
        });
        let since_ms = waiting.and_then(|w| crate::timefmt::parse_epoch_ms(&w.since));
        Row {
            key: key(record.host.as_deref(), &record.id),
            host: record.host.clone(),
            id: record.id.clone(),
            kind: record.kind.clone().unwrap_or_default(),
            state: record.state(),
            since_ms,
            asked,
            title: record.title.clone(),
            cwd: record.cwd.clone(),
            alive: record.alive,
        }
    }

    /// Its group: who needs the user most comes first.
    fn rank(&self) -> u8 {
        match self.state.split(':').next().unwrap_or("") {
            "waiting" => 0,
            "error" => 1,
            "unread" => 2,
            "working" => 3,
            "idle" => 4,
            _ => 5,
        }
    }

    /// Whether it matches the filter (any of its words, case ignored).
    pub fn matches(&self, filter: &str) -> bool {
        let filter = filter.to_lowercase();
        [
            &self.key,
            &self.kind,
            &self.state,
            &self.asked,
            &self.title,
            &self.cwd,
        ]
        .iter()
        .any(|f| f.to_lowercase().contains(&filter))
    }
}

/// A session's key among every host's: `host:id`, or its id alone when
/// it is on this machine.
pub fn key(host: Option<&str>, id: &str) -> String {
    match host {
        Some(host) => format!("{host}:{id}"),
        None => id.to_string(),
    }
}

/// The sessions known, by key: live ones from the hosts' event streams,
/// and those that left them lately (with when).
#[derive(Default)]
pub struct Model {
    records: HashMap<String, (Record, Option<i64>)>,
}

impl Model {
    pub fn upsert(&mut self, record: Record) {
        let key = key(record.host.as_deref(), &record.id);
        self.records.insert(key, (record, None));
    }

    /// It left the live view at `now_ms`: shown as exited for a while.
    pub fn remove(&mut self, key: &str, now_ms: i64) {
        if let Some((record, gone)) = self.records.get_mut(key) {
            record.alive = false;
            gone.get_or_insert(now_ms);
        }
    }

    /// A dead record forgotten: gone from the screen.
    pub fn forget(&mut self, key: &str) {
        self.records.remove(key);
    }

    /// A host that can no longer be followed: its sessions leave the
    /// screen (what they do now is unknown), its one line says why.
    pub fn lose_host(&mut self, host: Option<&str>) {
        self.records.retain(|_, (r, _)| r.host.as_deref() != host);
    }

    /// The rows to show at `now_ms`, sorted, filtered.
    pub fn rows(&self, now_ms: i64, filter: &str) -> Vec<Row> {
        let shown = self
            .records
            .values()
            .filter(|(_, gone)| gone.is_none_or(|at| now_ms.saturating_sub(at) < EXITED_FOR_MS));
        let mut rows: Vec<Row> = shown.map(|(r, _)| Row::of(r)).collect();
        rows.retain(|r| filter.is_empty() || r.matches(filter));
        rows.sort_by(|a, b| {
            let since = |r: &Row| r.since_ms.unwrap_or(i64::MAX);
            (a.rank(), since(a), &a.key).cmp(&(b.rank(), since(b), &b.key))
        });
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{State, Waiting};

    fn rec(id: &str, state: &str, since: &str) -> Record {
        let mut r = Record {
            id: id.into(),
            alive: true,
            ..Record::default()
        };
        match state {
            "waiting" => {
                r.status.state = State::Waiting;
                r.status.waiting = Some(Waiting {
                    since: since.into(),
                    ..Waiting::default()
                });
            }
            "error" => r.status.error = true,
            "unread" => r.unread = true,
            "working" => r.status.working = true,
            _ => {}
        }
        r
    }

    #[test]
    fn who_needs_the_user_first_the_longest_waiting_first() {
        let mut m = Model::default();
        for (id, state, since) in [
            ("idle1", "idle", ""),
            ("work", "working", ""),
            ("late", "waiting", "2026-01-01T10:05:00Z"),
            ("gone", "idle", ""),
            ("err", "error", ""),
            ("early", "waiting", "2026-01-01T10:00:00Z"),
            ("new", "unread", ""),
        ] {
            m.upsert(rec(id, state, since));
        }
        m.remove("gone", 0);
        let order: Vec<String> = m.rows(1000, "").into_iter().map(|r| r.key).collect();
        assert_eq!(
            order,
            ["early", "late", "err", "new", "work", "idle1", "gone"]
        );
        assert_eq!(m.rows(EXITED_FOR_MS, "").len(), 6, "exited long ago: gone");
        assert_eq!(m.rows(0, "ERR").len(), 1, "the filter ignores case");
    }

    #[test]
    fn hosts_merge_by_host_and_id() {
        let mut m = Model::default();
        for (host, id, state) in [
            (None, "abc", "idle"),
            (Some("box"), "abc", "waiting"),
            (Some("gpu:2200"), "abc", "working"),
        ] {
            let mut r = rec(id, state, "2026-01-01T10:00:00Z");
            r.host = host.map(String::from);
            m.upsert(r);
        }
        let keys =
            |m: &Model| -> Vec<String> { m.rows(0, "").into_iter().map(|r| r.key).collect() };
        assert_eq!(
            keys(&m),
            ["box:abc", "gpu:2200:abc", "abc"],
            "one id, three hosts"
        );
        let row = &m.rows(0, "")[1];
        assert_eq!(
            (row.host.as_deref(), row.id.as_str()),
            (Some("gpu:2200"), "abc")
        );
        m.remove("box:abc", 0);
        assert_eq!(m.rows(0, "")[2].key, "box:abc", "only box's exited");
        m.lose_host(Some("gpu:2200"));
        assert_eq!(keys(&m), ["abc", "box:abc"]);
        m.lose_host(None);
        assert_eq!(keys(&m), ["box:abc"]);
    }
}
