//! `amux explain`: why a session is in its state.
//!
//! Asks the daemon for `GET /v1/sessions/{key}/explain` (the record, the
//! lines of its conversation read, and the causes of its last changes from
//! the daemon's journal) and prints it: a few `key<TAB>value` lines as
//! `show` prints, then one tab-separated line per change, oldest first —
//! when, the daemon's event number, the signal, what it said, what
//! changed — after a `warning` line when the daemon could not read what
//! the state rests on. Everything an agent wrote (titles, paths, what it
//! said) goes through `query::cell`, which makes control characters
//! visible.

use super::client::{ask, print_json, stdout_error};
use super::query::cell;
use crate::error::Result;
use crate::protocol::Explain;
use std::io::Write;
use std::process::ExitCode;

pub fn explain(key: &str, as_json: bool) -> Result<ExitCode> {
    let explain: Explain = ask(key, "/explain")?;
    if as_json {
        print_json(&explain)?;
        return Ok(ExitCode::SUCCESS);
    }
    let text = render(&explain);
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(stdout_error)?;
    Ok(ExitCode::SUCCESS)
}

fn render(e: &Explain) -> String {
    let r = &e.session;
    let line = |k: &str, v: &str| format!("{k}\t{}\n", cell(Some(v)));
    let conversation = match &r.conversation {
        Some(c) => format!(
            "{} ({}, {} lines read)",
            c.file.display(),
            c.source,
            e.lines
        ),
        None => "none".into(),
    };
    let mut out = [
        line("id", &r.id),
        line("kind", r.kind.as_deref().unwrap_or("-")),
        line("state", &r.state()),
        line("state-source", r.status.source.as_str()),
        line("title", &r.title),
        line("conversation", &conversation),
    ]
    .concat();
    if let Some(w) = &r.warning {
        out.push_str(&line("warning", w));
    }
    if let Some(w) = &r.status.waiting {
        out.push_str(&line("asks", &asks(w, &r.status.source)));
    }
    if e.changes.is_empty() {
        out.push_str("changes\tnone seen by this daemon\n");
        return out;
    }
    out.push_str(
        "changes\t(oldest first: time, event, state (from), signal, what it said, what changed)\n",
    );
    for c in &e.changes {
        let said = match c.replay {
            true => format!("{} (replayed)", c.said),
            false => c.said.clone(),
        };
        out.push_str(&format!(
            "{}\t#{}\t{} ({})\t{}\t{}\t{}\n",
            cell(Some(&c.at)),
            c.seq,
            cell(Some(&c.state)),
            cell(Some(&c.source)),
            cell(Some(&c.signal)),
            cell(Some(&said)),
            cell(Some(&c.changed.join("; "))),
        ));
    }
    out
}

/// What a waiting session asks, and what of it nobody said: an agent's
/// signal may say only that it asks (Gemini's window title), and the
/// file may name the call only once it is answered.
fn asks(w: &crate::protocol::Waiting, source: &str) -> String {
    let what: Vec<&str> = [w.tool.as_deref(), w.text.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    match what.is_empty() {
        false => format!("{}: {}", w.kind.as_str(), what.join(": ")),
        true => format!(
            "{}; which tool and command unknown: its signal ({source}) names none and its file holds no call waiting for an answer",
            w.kind.as_str()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Change, Record};

    #[test]
    fn each_change_is_one_line_and_agent_text_is_made_visible() {
        let e = Explain {
            session: Record {
                id: "abc".into(),
                kind: Some("gemini".into()),
                alive: true,
                title: "evil\x1b]0;pwned\x07title".into(),
                ..Record::default()
            },
            lines: 3,
            seq: 9,
            changes: vec![Change {
                seq: 7,
                at: "2026-12-06T00:00:00Z".into(),
                signal: "extension".into(),
                said: "idle\nsecond line".into(),
                changed: vec!["state: working -> idle".into()],
                state: "idle".into(),
                source: "extension".into(),
                replay: true,
            }],
        };
        let text = render(&e);
        assert!(!text.contains('\x1b') && !text.contains('\x07'), "{text:?}");
        assert!(text.contains("kind\tgemini\n"), "{text}");
        assert!(!text.contains("asks"), "{text}");
        let last = text.lines().last().unwrap();
        assert_eq!(
            last,
            "2026-12-06T00:00:00Z\t#7\tidle (extension)\textension\tidle second line (replayed)\tstate: working -> idle"
        );
    }

    #[test]
    fn what_could_not_be_read_is_a_line_of_its_own() {
        let e = Explain {
            session: Record {
                id: "abc".into(),
                alive: true,
                warning: Some("conversation cannot be read (permission denied)".into()),
                ..Record::default()
            },
            ..Explain::default()
        };
        let text = render(&e);
        assert!(
            text.contains("\nwarning\tconversation cannot be read (permission denied)\n"),
            "{text}"
        );
        let e = Explain::default();
        assert!(!render(&e).contains("warning"));
    }

    #[test]
    fn a_waiting_session_says_what_it_asks_and_what_is_unknown() {
        use crate::protocol::{Ask, Waiting};
        let asked = |tool: Option<&str>, text: Option<&str>| {
            let w = Waiting {
                kind: Ask::Permission,
                tool: tool.map(str::to_owned),
                text: text.map(str::to_owned),
                since: String::new(),
            };
            asks(&w, "window-title")
        };
        assert_eq!(
            asked(Some("Bash"), Some("touch x")),
            "permission: Bash: touch x"
        );
        assert!(asked(None, None)
            .starts_with("permission; which tool and command unknown: its signal (window-title)"));
    }
}
