//! `amux events`, each line stamped with the instant it was read, and the
//! two ways a cell reads them: `reach` (the first line after an action
//! that says the truth) and `hold` (every line over a span says it).
//!
//! A reader thread owns the child's stdout and appends `(Instant, line)`;
//! the judges only read the list, so a slow judge never delays a stamp.
//! After a daemon restart `amux events` reconnects by itself and prints
//! every live session again: those lines are stamped like any other.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// An `amux events` running for the whole test.
pub struct Clock {
    child: Child,
    lines: Arc<Mutex<Vec<(Instant, Value)>>>,
}

/// What `reach` found.
pub enum Reached {
    /// The line that said it, and when.
    Said(Instant, Value),
    /// Never said by the deadline: the last record seen, if any.
    Not(Option<Value>),
}

impl Clock {
    pub fn start(mut cmd: Command) -> Clock {
        let mut child = cmd
            .stdout(Stdio::piped())
            // Its complaint (a stream the daemon dropped) in the output.
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn amux events");
        let stdout = child.stdout.take().expect("stdout");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let at = Instant::now();
                let v: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
                sink.lock().expect("lock").push((at, v));
            }
        });
        Clock { child, lines }
    }

    /// Every record of `id` with its stamp, in order.
    pub fn records(&self, id: &str) -> Vec<(Instant, Value)> {
        let lines = self.lines.lock().expect("lock");
        lines
            .iter()
            .filter(|(_, l)| l["type"] == "session" && l["session"]["id"] == id)
            .map(|(at, l)| (*at, l["session"].clone()))
            .collect()
    }

    /// The last record of `id` read at or before `at`.
    pub fn as_of(&self, id: &str, at: Instant) -> Option<Value> {
        let records = self.records(id);
        let before = records.into_iter().take_while(|(t, _)| *t <= at);
        before.last().map(|(_, r)| r)
    }

    /// Waits up to `within` for a record of `id` read after `since` that
    /// satisfies `pred`.
    pub fn reach(
        &self,
        id: &str,
        since: Instant,
        within: Duration,
        pred: &dyn Fn(&Value) -> bool,
    ) -> Reached {
        let deadline = Instant::now() + within;
        loop {
            let records = self.records(id);
            let after = records.iter().filter(|(t, _)| *t >= since);
            if let Some((at, r)) = after.clone().find(|(_, r)| pred(r)) {
                return Reached::Said(*at, r.clone());
            }
            if Instant::now() >= deadline {
                let last = records.last().map(|(_, r)| r.clone());
                return Reached::Not(last);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Over `[from, to]`: the record in force at `from` and every one read
    /// until `to` satisfy `pred`; else the first that does not.
    pub fn hold(
        &self,
        id: &str,
        from: Instant,
        to: Instant,
        pred: &dyn Fn(&Value) -> bool,
    ) -> Result<(), Option<Value>> {
        let first = self.as_of(id, from);
        if !first.as_ref().is_some_and(pred) {
            return Err(first);
        }
        let records = self.records(id);
        let span = records.into_iter().filter(|(t, _)| *t > from && *t <= to);
        match span.map(|(_, r)| r).find(|r| !pred(r)) {
            Some(r) => Err(Some(r)),
            None => Ok(()),
        }
    }
}

impl Drop for Clock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A record in a few words: `working`, `idle+unread`,
/// `waiting(permission: touch x)`, `error`, `exited:0`, with the file's
/// name when `file` asks for it.
pub fn describe(r: Option<&Value>) -> String {
    let Some(r) = r else {
        return "nothing".to_string();
    };
    if r["alive"] == false {
        return format!("exited:{}", r["exit_code"]);
    }
    let status = &r["status"];
    let mut word = status["state"].as_str().unwrap_or("?").to_string();
    if status["error"] == true && word != "error" {
        word += "+error";
    }
    if word == "waiting" {
        let w = &status["waiting"];
        let kind = w["kind"].as_str().unwrap_or("?");
        let tool = w["tool"]
            .as_str()
            .map(|t| format!("{t}: "))
            .unwrap_or_default();
        word = match w["text"].as_str() {
            Some(text) => format!("waiting({kind}: {tool}{text})"),
            None => format!("waiting({kind})"),
        };
    }
    if r["unread"] == true {
        word += "+unread";
    }
    word
}

/// Polls `cond` every 5 ms for up to `within`: whether it came true.
pub fn wait_for(mut cond: impl FnMut() -> bool, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while !cond() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    true
}
