//! `amux ls`, `amux show` and `amux events`: reading the daemon's view.
//!
//! `ls` prints a table fitted to the terminal (`table.rs`; `--wide`: not
//! cut) and stable tab-separated lines otherwise (id, kind, state, source,
//! title, file), or the records
//! as a JSON array with `--json`. `events` prints one JSON object per
//! line and flushes each: `{"type":"session","session":{…}}` or
//! `{"type":"remove","id":"…"}`.

use super::client::{
    self, api_error, daemon_request, daemon_request_health, print_json, resolve, stdout_error,
    stream,
};
use super::table;
use crate::error::{Error, Result};
use crate::http::client as http;
use crate::protocol::{self, EventLine, Record};
use std::collections::BTreeSet;
use std::io::Write;
use std::process::ExitCode;

pub fn ls(all: bool, as_json: bool, wide: bool) -> Result<ExitCode> {
    let (records, warnings) = records(all)?;
    for warning in warnings {
        eprintln!("amux: warning: {warning}");
    }
    print_records(&records, as_json, wide)?;
    Ok(ExitCode::SUCCESS)
}

/// The target daemon's records (`all`: the dead ones too) and what it
/// wants the user told.
pub fn records(all: bool) -> Result<(Vec<Record>, Vec<String>)> {
    let target = if all {
        "/v1/sessions?all=1"
    } else {
        "/v1/sessions"
    };
    let (resp, health) = daemon_request_health("GET", target, b"")?;
    if resp.status != 200 {
        return Err(api_error(&resp));
    }
    let records = serde_json::from_slice(&resp.body)
        .map_err(|e| Error::Failed(format!("bad answer from the daemon: {e}")))?;
    let warnings = match health {
        Some(health) => health.warnings,
        None => warnings(),
    };
    Ok((records, warnings))
}

/// `records` as `ls` prints them: JSON, a table, or tab-separated lines.
pub fn print_records(records: &[Record], as_json: bool, wide: bool) -> Result<()> {
    if as_json {
        return print_json(records);
    }
    let rows: Vec<[String; 6]> = records.iter().map(row).collect();
    let mut out = std::io::stdout().lock();
    if client::is_tty() {
        let rows: Vec<table::Row> = (records.iter().zip(rows))
            .map(|(r, cells)| table::row(r, cells))
            .collect();
        let width = (!wide).then(table::width);
        for line in table::render(&rows, width, table::colour()) {
            writeln!(out, "{line}").map_err(stdout_error)?;
        }
    } else {
        for r in &rows {
            writeln!(out, "{}", r.join("\t")).map_err(stdout_error)?;
        }
    }
    out.flush().map_err(stdout_error)
}

/// What the daemon wants the user told (records it cannot save), one
/// sentence each.
pub fn warnings() -> Vec<String> {
    let Ok(resp) = daemon_request("GET", "/v1/health", b"") else {
        return Vec::new();
    };
    let health: protocol::Health = serde_json::from_slice(&resp.body).unwrap_or_default();
    health.warnings
}

/// One cell of a line: `-` for nothing, agent text made inert (one
/// line, no control a terminal would act on: `visible.rs`).
pub fn cell(text: Option<&str>) -> String {
    crate::visible::visible(text.unwrap_or("-"))
}

fn row(record: &Record) -> [String; 6] {
    let conversation = record.conversation.as_ref();
    [
        cell(Some(&record.id)),
        cell(record.kind.as_deref()),
        state_with_label(record),
        cell(conversation.map(|c| c.source.as_str())),
        cell(Some(&record.title)),
        cell(record.file().and_then(|f| f.to_str())),
    ]
}

/// The state word, with what the agent is at (`working (tool: bash)`,
/// `error (Connection error.)`, `waiting (Bash: touch x)`) for a live
/// session: the label without the word it repeats.
fn state_with_label(record: &Record) -> String {
    let word = record.state();
    match &record.status.label {
        Some(label) if record.alive => {
            let what = (label.strip_prefix(word.as_str()))
                .and_then(|l| l.strip_prefix(": "))
                .unwrap_or(label);
            format!("{word} ({})", cell(Some(what)))
        }
        _ => word,
    }
}

pub fn show(key: &str, as_json: bool) -> Result<ExitCode> {
    let record = resolve(key)?;
    if as_json {
        print_json(&record)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = std::io::stdout().lock();
    // One line per key whatever a value holds (a cwd with a newline).
    let line = |k: &str, v: Option<&str>| format!("{k}\t{}\n", cell(v));
    let conversation = record.conversation.as_ref();
    let resume = record.resume_command.as_ref().map(|a| a.join(" "));
    let asks = record.status.waiting.as_ref().map(|w| {
        let what = [w.tool.as_deref(), w.text.as_deref()].into_iter().flatten();
        let mut parts = vec![w.kind.as_str().to_string()];
        parts.extend(what.map(str::to_string));
        parts.join(": ")
    });
    let text = [
        line("id", Some(&record.id)),
        line("kind", record.kind.as_deref()),
        line("state", Some(&record.state())),
        line("label", record.status.label.as_deref()),
        record
            .warning
            .as_deref()
            .map_or_else(String::new, |w| line("warning", Some(w))),
        line("asks", asks.as_deref()),
        line("state-source", Some(record.status.source.as_str())),
        line("title", Some(&record.title)),
        line("command", Some(&record.command.join(" "))),
        line("cwd", Some(&record.cwd)),
        line("file", record.file().and_then(|f| f.to_str())),
        line("source", conversation.map(|c| c.source.as_str())),
        line("resume", resume.as_deref()),
    ]
    .concat();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(stdout_error)?;
    Ok(ExitCode::SUCCESS)
}

/// `amux events`: the daemon's stream as NDJSON. When the daemon goes away
/// (restarted, killed) we reconnect; its new snapshot re-states every live
/// session, and a session that ended meanwhile gets its `remove` line. A
/// reader the daemon dropped for falling behind gets an error instead.
pub fn events() -> Result<ExitCode> {
    client::ensure()?;
    let mut out = std::io::stdout().lock();
    let emit = |line: EventLine| print_line(&mut out, &line);
    until_stdout_closes(event_loop(emit))
}

/// `work`, or success as soon as stdout's reader goes away: a reader
/// that leaves between events (`amux events | head -1`) must end us now,
/// not at the next event's failed write.
pub fn until_stdout_closes(
    work: impl std::future::Future<Output = Result<ExitCode>>,
) -> Result<ExitCode> {
    let closed = blocking::unblock(stdout_closed);
    async_io::block_on(futures_lite::future::or(work, async {
        if closed.await {
            return Ok(ExitCode::SUCCESS);
        }
        std::future::pending().await
    }))
}

/// The target daemon's event lines, each given to `emit`, across its
/// restarts (see `events`).
pub async fn event_loop(mut emit: impl FnMut(EventLine) -> Result<()>) -> Result<ExitCode> {
    let mut live: BTreeSet<String> = BTreeSet::new();
    let mut reconnected = false;
    loop {
        let mut events = stream("/v1/events", reconnected).await?;
        let pid = client::daemon_pid().await;
        if let Some(now) = live_ids().await.filter(|_| reconnected) {
            for gone in live.iter().filter(|id| !now.contains(*id)) {
                emit(EventLine::Remove { id: gone.clone() })?;
            }
            live = now;
        }
        while let Ok(Some((event, data))) = events.next().await {
            if let Some(line) = event_line(&event, &data, &mut live) {
                emit(line)?;
            }
        }
        // The same daemon still answers: it dropped us for falling
        // behind, and what we missed is lost. Only a daemon that went
        // away is reconnected to.
        if pid.is_some() && client::daemon_pid().await == pid {
            return Err(Error::Failed(
                "the daemon dropped this event stream: its reader fell behind".into(),
            ));
        }
        reconnected = true;
    }
}

/// One SSE event as its `amux events` line, keeping `live` up to date.
fn event_line(event: &str, data: &str, live: &mut BTreeSet<String>) -> Option<EventLine> {
    use protocol::DaemonEvent;
    Some(match DaemonEvent::parse(event, data)? {
        DaemonEvent::Session(data) => {
            let record = serde_json::from_str::<Record>(&data).ok()?;
            if record.alive {
                live.insert(record.id.clone());
            }
            EventLine::Session {
                session: Box::new(record),
            }
        }
        DaemonEvent::Remove(data) => {
            let removed = serde_json::from_str::<protocol::Removed>(&data).ok()?;
            live.remove(&removed.id);
            EventLine::Remove { id: removed.id }
        }
        DaemonEvent::Notification(data) => {
            let n = serde_json::from_str::<protocol::Notification>(&data).ok()?;
            let (id, title, body) = (n.id, n.title, n.body);
            EventLine::Notification { id, title, body }
        }
    })
}

/// One `amux events` line, flushed at once (a reader acts on each).
pub fn print_line(out: &mut impl Write, line: &impl serde::Serialize) -> Result<()> {
    writeln!(out, "{}", protocol::to_json(line))
        .and_then(|()| out.flush())
        .map_err(stdout_error)
}

/// The ids of the live sessions the daemon knows now (`None` if it does
/// not answer: then nothing is said to be gone).
async fn live_ids() -> Option<BTreeSet<String>> {
    let to = client::daemon();
    let resp = http::request_within(client::deadline(&to), &to, "GET", "/v1/sessions", b"").await;
    let records: Vec<Record> = match resp {
        Ok(r) if r.status == 200 => serde_json::from_slice(&r.body).ok()?,
        _ => return None,
    };
    Some(records.into_iter().map(|r| r.id).collect())
}

/// Blocks until stdout reports an error or hang-up (a pipe whose reader
/// closed): `true`. `false` at once if stdout cannot be polled.
fn stdout_closed() -> bool {
    use rustix::event::{poll, PollFd, PollFlags};
    let stdout = std::io::stdout();
    let mut fds = [PollFd::new(&stdout, PollFlags::empty())];
    loop {
        match poll(&mut fds, None) {
            Ok(_)
                if fds[0]
                    .revents()
                    .intersects(PollFlags::ERR | PollFlags::HUP | PollFlags::NVAL) =>
            {
                return true
            }
            Ok(_) | Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return false,
        }
    }
}
