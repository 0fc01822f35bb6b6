//! `amux ls`, `amux show` and `amux events`: reading the daemon's view.
//!
//! `ls` prints an aligned table on a terminal and stable tab-separated
//! lines otherwise (id, kind, state, source, title, file), or the records
//! as a JSON array with `--json`. `events` prints one JSON object per
//! line and flushes each: `{"type":"session","session":{…}}` or
//! `{"type":"remove","id":"…"}`.

use super::client::{
    self, api_error, daemon_request, print_json, resolve, state, stdout_error, subscribe,
};
use crate::error::{Error, Result};
use crate::http::client as http;
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::Write;
use std::process::ExitCode;

pub fn ls(all: bool, as_json: bool) -> Result<ExitCode> {
    let resp = daemon_request(
        "GET",
        if all {
            "/v1/sessions?all=1"
        } else {
            "/v1/sessions"
        },
        b"",
    )?;
    if resp.status != 200 {
        return Err(api_error(&resp));
    }
    let records: Vec<Value> = serde_json::from_slice(&resp.body)
        .map_err(|e| Error::Failed(format!("bad answer from the daemon: {e}")))?;
    warn_from_daemon();
    if as_json {
        print_json(&Value::Array(records))?;
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<[String; 6]> = records.iter().map(row).collect();
    let mut out = std::io::stdout().lock();
    if client::is_tty() {
        let header = ["ID", "KIND", "STATE", "SOURCE", "TITLE", "CONVERSATION"].map(String::from);
        let all_rows: Vec<&[String; 6]> = std::iter::once(&header).chain(rows.iter()).collect();
        let widths: Vec<usize> = (0..5)
            .map(|i| {
                all_rows
                    .iter()
                    .map(|r| r[i].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for r in all_rows {
            let mut line = String::new();
            for (i, cell) in r.iter().enumerate().take(5) {
                line.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            }
            line.push_str(&r[5]);
            writeln!(out, "{}", line.trim_end()).map_err(stdout_error)?;
        }
    } else {
        for r in &rows {
            writeln!(out, "{}", r.join("\t")).map_err(stdout_error)?;
        }
    }
    out.flush().map_err(stdout_error)?;
    Ok(ExitCode::SUCCESS)
}

/// What the daemon wants the user told (records it cannot save), one line
/// each on stderr.
fn warn_from_daemon() {
    let Ok(resp) = daemon_request("GET", "/v1/health", b"") else {
        return;
    };
    let health: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
    for warning in health["warnings"].as_array().into_iter().flatten() {
        if let Some(text) = warning.as_str() {
            eprintln!("amux: warning: {text}");
        }
    }
}

fn row(record: &Value) -> [String; 6] {
    let text = |v: &Value| v.as_str().unwrap_or("-").replace(['\t', '\n'], " ");
    let conversation = &record["conversation"];
    let file = if conversation.is_null() {
        &record["last_file"]
    } else {
        &conversation["file"]
    };
    [
        text(&record["id"]),
        text(&record["kind"]),
        state_with_label(record),
        text(&conversation["source"]),
        text(&record["title"]),
        text(file),
    ]
}

/// The state word, with what the agent is at (`working (tool: bash)`,
/// `error (error: Connection error.)`) for a live session.
fn state_with_label(record: &Value) -> String {
    let word = state(record);
    match record["status"]["label"].as_str() {
        Some(label) if record["alive"] == true => format!("{word} ({label})"),
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
    let line = |k: &str, v: String| format!("{k}\t{}\n", v.replace(['\t', '\n', '\r'], " "));
    let join = |v: &Value| {
        v.as_array().map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" ")
        })
    };
    let mut text = String::new();
    text += &line("id", record["id"].as_str().unwrap_or("").into());
    text += &line("kind", record["kind"].as_str().unwrap_or("").into());
    text += &line("state", state(&record));
    text += &line(
        "label",
        record["status"]["label"].as_str().unwrap_or("-").into(),
    );
    text += &line("title", record["title"].as_str().unwrap_or("").into());
    text += &line("command", join(&record["command"]).unwrap_or_default());
    text += &line("cwd", record["cwd"].as_str().unwrap_or("").into());
    text += &line(
        "file",
        record["conversation"]["file"]
            .as_str()
            .or(record["last_file"].as_str())
            .unwrap_or("-")
            .into(),
    );
    text += &line(
        "source",
        record["conversation"]["source"]
            .as_str()
            .unwrap_or("-")
            .into(),
    );
    text += &line(
        "resume",
        join(&record["resume_command"]).unwrap_or_else(|| "-".into()),
    );
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
    crate::daemon::ensure(true)?;
    // A reader that goes away between events (`amux events | head -1`)
    // must end us now, not at the next event's failed write.
    let closed = blocking::unblock(stdout_closed);
    let stream = async {
        let mut out = std::io::stdout().lock();
        let mut live: BTreeSet<String> = BTreeSet::new();
        let mut reconnected = false;
        loop {
            let mut events = subscribe().await?;
            let pid = client::daemon_pid().await;
            if let Some(now) = live_ids().await.filter(|_| reconnected) {
                for gone in live.iter().filter(|id| !now.contains(*id)) {
                    let line = format!(
                        "{{\"type\":\"remove\",\"id\":{}}}",
                        Value::from(gone.as_str())
                    );
                    print_line(&mut out, &line)?;
                }
                live = now;
            }
            while let Ok(Some((event, data))) = events.next().await {
                let data: Value = serde_json::from_str(&data).unwrap_or(Value::Null);
                let id = data["id"].as_str().unwrap_or_default().to_string();
                // `type` first, so a reader can dispatch on the line's start.
                let line = match event.as_str() {
                    "session" => {
                        if data["alive"] == true {
                            live.insert(id);
                        }
                        format!("{{\"type\":\"session\",\"session\":{data}}}")
                    }
                    "remove" => {
                        live.remove(&id);
                        format!("{{\"type\":\"remove\",\"id\":{}}}", data["id"])
                    }
                    _ => continue,
                };
                print_line(&mut out, &line)?;
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
    };
    async_io::block_on(futures_lite::future::or(stream, async {
        if closed.await {
            return Ok(ExitCode::SUCCESS);
        }
        std::future::pending().await
    }))
}

fn print_line(out: &mut impl Write, line: &str) -> Result<()> {
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(stdout_error)
}

/// The ids of the live sessions the daemon knows now (`None` if it does
/// not answer: then nothing is said to be gone).
async fn live_ids() -> Option<BTreeSet<String>> {
    let sock = crate::paths::daemon_socket();
    let resp = http::request_within(http::DEADLINE, &sock, "GET", "/v1/sessions", b"").await;
    let records: Vec<Value> = match resp {
        Ok(r) if r.status == 200 => serde_json::from_slice(&r.body).ok()?,
        _ => return None,
    };
    let ids = records
        .iter()
        .filter_map(|r| r["id"].as_str().map(str::to_string));
    Some(ids.collect())
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
