//! `amux ls`, `amux show` and `amux events`: reading the daemon's view.
//!
//! `ls` prints an aligned table on a terminal and stable tab-separated
//! lines otherwise (id, kind, state, source, title, file), or the records
//! as a JSON array with `--json`. `events` prints one JSON object per
//! line and flushes each: `{"type":"session","session":{…}}` or
//! `{"type":"remove","id":"…"}`.

use super::client::{self, api_error, daemon_request, print_json, resolve, state, stdout_error};
use crate::error::{Error, Result};
use crate::http::client::Events;
use serde_json::Value;
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
        state(record),
        text(&conversation["source"]),
        text(&record["title"]),
        text(file),
    ]
}

pub fn show(key: &str, as_json: bool) -> Result<ExitCode> {
    let record = resolve(key)?;
    if as_json {
        print_json(&record)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = std::io::stdout().lock();
    let line = |k: &str, v: String| format!("{k}\t{v}\n");
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

pub fn events() -> Result<ExitCode> {
    crate::daemon::ensure(true)?;
    let sock = crate::paths::daemon_socket();
    // A reader that goes away between events (`amux events | head -1`)
    // must end us now, not at the next event's failed write.
    let closed = blocking::unblock(stdout_closed);
    let stream = async {
        let mut events = Events::open(&sock, "/v1/events")
            .await
            .map_err(|e| Error::io(format!("daemon at {}", sock.display()), e))?;
        let mut out = std::io::stdout().lock();
        while let Some((event, data)) = events
            .next()
            .await
            .map_err(|e| Error::io("daemon event stream", e))?
        {
            let data: Value = serde_json::from_str(&data).unwrap_or(Value::Null);
            // `type` first, so a reader can dispatch on the line's start.
            let line = match event.as_str() {
                "session" => format!("{{\"type\":\"session\",\"session\":{data}}}"),
                "remove" => format!("{{\"type\":\"remove\",\"id\":{}}}", data["id"]),
                _ => continue,
            };
            writeln!(out, "{line}")
                .and_then(|()| out.flush())
                .map_err(stdout_error)?;
        }
        Err(Error::Failed("the daemon closed the event stream".into()))
    };
    async_io::block_on(futures_lite::future::or(stream, async {
        if closed.await {
            return Ok(ExitCode::SUCCESS);
        }
        std::future::pending().await
    }))
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
