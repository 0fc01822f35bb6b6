//! Checking `amux ls --json --all` against the truth, and the report.

use super::{state, tail, Kind, Oracle, Sess};
use crate::support::{self, daemon};
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

/// The dead records a daemon keeps (`store::MAX_DEAD`), and how many of
/// the oldest past that may tie on their end's second.
const MAX_DEAD: usize = 1000;
const PRUNE_SLACK: usize = 64;

impl Oracle {
    /// Whether the daemon may have pruned `x`'s dead record: it keeps the
    /// newest MAX_DEAD (by when they ended, to the second: a few may tie).
    pub(super) fn maybe_pruned(&self, x: &Sess) -> bool {
        let dead = self.sessions.iter().filter(|s| !s.alive).count();
        !x.alive && x.died + MAX_DEAD < dead + PRUNE_SLACK
    }

    fn ls(&self) -> Result<Vec<Value>, String> {
        let out = support::output_within(self.w.amux(["ls", "--json", "--all"]), daemon::T);
        if !out.status.success() {
            return Err(format!(
                "amux ls failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let v: Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
        v.as_array().cloned().ok_or_else(|| "not an array".into())
    }

    /// Every difference between `records` and the truth, one line each.
    fn diff(&self, records: &[Value]) -> Vec<String> {
        let mut out = Vec::new();
        let by_id: HashMap<&str, &Value> = records
            .iter()
            .filter_map(|r| Some((r["id"].as_str()?, r)))
            .collect();
        for x in &self.sessions {
            let tag = format!(
                "{} ({}{})",
                x.id,
                x.kind.as_str(),
                if x.alive { "" } else { ", dead" }
            );
            let Some(r) = by_id.get(x.id.as_str()) else {
                if self.maybe_pruned(x) {
                    continue;
                }
                out.push(format!("{tag}: missing"));
                continue;
            };
            let got = &r["conversation"]["source"];
            if x.file.is_some() && !x.sources.iter().any(|s| got == *s) {
                out.push(format!(
                    "{tag}: conversation.source: want {:?}, got {got}",
                    x.sources
                ));
            }
            let mut field = |name: &str, want: Value, got: &Value| {
                if &want != got {
                    out.push(format!("{tag}: {name}: want {want}, got {got}"));
                }
            };
            field("kind", json!(x.kind.as_str()), &r["kind"]);
            field("alive", json!(x.alive), &r["alive"]);
            let exit = if x.alive { Value::Null } else { json!(x.exit) };
            field("exit_code", exit, &r["exit_code"]);
            field(
                "conversation.file",
                json!(x.file),
                &r["conversation"]["file"],
            );
            let title = if x.alive {
                self.title_of(x)
            } else {
                x.dead_title.clone()
            };
            field("title", json!(title), &r["title"]);
            field("state", json!(self.state_of(x)), &json!(state(r)));
        }
        let known: BTreeSet<&str> = self.sessions.iter().map(|x| x.id.as_str()).collect();
        for id in by_id.keys().filter(|id| !known.contains(*id)) {
            out.push(format!("{id}: extra session"));
        }
        out
    }

    fn state_of(&self, x: &Sess) -> String {
        if !x.alive {
            return x.exit.map_or("exited".into(), |c| format!("exited:{c}"));
        }
        if x.asking {
            return "waiting".into();
        }
        // The oracle's shell is `sh -c …`: no prompt to go back to, so it
        // works until it exits.
        if x.kind == Kind::Shell {
            return "working".into();
        }
        let Some(file) = x.file.as_ref() else {
            return "idle".into();
        };
        let model = self.files.get(file);
        let state = model.map_or("idle", |m| m.state);
        let history = x
            .launched
            .as_ref()
            .is_some_and(|(f, w)| f == file && model.is_some_and(|m| m.writes == *w));
        let state = match state {
            "unread" | "working" if history => "idle",
            other => other,
        };
        // Sessions start in order, so the index is the start order.
        let owner = (self.sessions.iter().enumerate())
            .filter(|(_, s)| s.alive && s.file.as_ref() == Some(file))
            .max_by_key(|(i, s)| (s.last_send, *i))
            .map(|(_, s)| s.id.as_str());
        if owner == Some(x.id.as_str()) || state == "error" {
            state.to_string()
        } else {
            "idle".into()
        }
    }

    /// Polls `ls` until it matches the truth or `deadline` passes.
    pub(super) fn settle(&mut self, deadline: Duration, op: &str) -> Option<Duration> {
        let start = Instant::now();
        loop {
            let diff = match self.ls() {
                Ok(records) => self.diff(&records),
                Err(_) if start.elapsed() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
                Err(e) => {
                    let pid = self.w.daemon_pid();
                    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                        .unwrap_or_else(|_| "gone".into());
                    self.keep_going = false;
                    vec![format!("{e}; daemon {pid}: {stat}")]
                }
            };
            // Going on past wrong answers, a known one waits no more.
            if diff
                .iter()
                .all(|d| self.keep_going && self.seen_wrong.contains(d))
            {
                return Some(start.elapsed());
            }
            if start.elapsed() >= deadline {
                self.fail(op, &diff);
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn fail(&mut self, op: &str, diff: &[String]) {
        let new: Vec<&String> = diff
            .iter()
            .filter(|d| !self.seen_wrong.contains(*d))
            .collect();
        self.wrong += new.len();
        if !new.is_empty() {
            *self.wrong_ops.entry(op.to_string()).or_default() += new.len();
        }
        let mut msg = format!(
            "oracle: wrong answer after op #{} ({op}), seed {} (SOAK_SEED={} to replay)\n",
            self.ops, self.seed, self.seed
        );
        for d in diff {
            let mark = if self.seen_wrong.contains(d) {
                "  (again) "
            } else {
                "  "
            };
            msg.push_str(&format!("{mark}{d}\n"));
        }
        self.seen_wrong.extend(diff.iter().cloned());
        if self.keep_going {
            eprintln!("{msg}");
            return;
        }
        panic!(
            "{msg}operation log:\n{}\ndaemon log (tail):\n{}",
            self.log.join("\n"),
            tail(&self.w.log(), 60)
        );
    }

    pub(super) fn summary(&self) -> String {
        let mut r = self.restarts.clone();
        r.sort();
        let pct = |p: usize| {
            r.get((r.len() * p / 100).min(r.len().saturating_sub(1)))
                .map_or("-".to_string(), |d| format!("{d:?}"))
        };
        format!(
            "oracle: seed {} ops {} faults {} wrong {} restart convergence p50 {} p99 {} ({} restarts){}",
            self.seed,
            self.ops,
            self.faults,
            self.wrong,
            pct(50),
            pct(99),
            r.len(),
            if self.wrong_ops.is_empty() {
                String::new()
            } else {
                format!(" wrong after: {:?}", self.wrong_ops)
            }
        )
    }
}
