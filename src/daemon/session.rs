//! What the daemon answers about one session, named by a key: resolving
//! the key, the session's own event stream, how to reach its runner, and
//! how to resume it.
//!
//! `resolve` turns a key (id, unique prefix or slug) into an id. A key that
//! names a runner socket the daemon has not discovered yet (a session
//! started a moment ago) is discovered on the spot and answered once its
//! replay is in: clients never look at the sessions directory themselves.
//!
//! `events` is one session's slice of the daemon's broadcast: its current
//! record first, then every change to it, ending after the record that
//! says it is no longer alive. It subscribes to the one broadcaster with
//! the current record as replay, in the same step (no await between), so
//! nothing falls between the two; the filter drops other sessions' frames
//! as they are written. `amux wait` is this stream and a clock.

use super::shell::Daemon;
use crate::http::response::Response;
use crate::http::server::Reply;
use crate::http::sse::{self, daemon_frame, Pass};
use crate::protocol::{self, DaemonEvent, Record};
use async_io::Timer;
use futures_lite::future;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// How long a request naming a runner we do not follow yet waits for it:
/// its replay normally lands within milliseconds.
const DISCOVERY: Duration = Duration::from_secs(3);
/// How often such a request looks again without news (a runner whose
/// follow failed publishes none).
const DISCOVERY_TICK: Duration = Duration::from_millis(50);

/// The id `key` names, or the 404 / 409 to answer.
pub async fn resolve(daemon: &Rc<Daemon>, key: &str) -> Result<String, Response> {
    // A slug or prefix names a runner found at start only once it replayed.
    daemon.startup.settled().await;
    match lookup(daemon, key) {
        Err(unknown) if unknown.status == 404 && discover_one(daemon, &unseen(key)).await => {
            lookup(daemon, key).map_err(|_| unknown)
        }
        answer => answer,
    }
}

/// The runner `key` may name that we have not seen: `key` itself, or the
/// one runner socket whose id it uniquely begins (`amux wait k3j` right
/// after `run -d` printed `k3j9x2m4qa`).
fn unseen(key: &str) -> String {
    if !crate::id::is_valid(key) || crate::paths::session_socket(key).exists() {
        return key.to_string();
    }
    let Ok(entries) = std::fs::read_dir(crate::paths::sessions_dir()) else {
        return key.to_string();
    };
    let mut ids = entries.flatten().filter_map(|e| {
        let name = e.file_name().into_string().ok()?;
        let id = name.strip_suffix(".sock")?;
        (id.starts_with(key) && crate::id::is_valid(id)).then(|| id.to_string())
    });
    match (ids.next(), ids.next()) {
        (Some(id), None) => id,
        _ => key.to_string(),
    }
}

/// `key` names a runner whose socket exists but which the store does not
/// know yet: follows it now (if inotify has not made us already), and
/// returns once the store knows it (`true`), or its follow ended or
/// `DISCOVERY` passed (`false`). `false` at once for any other key.
async fn discover_one(daemon: &Rc<Daemon>, key: &str) -> bool {
    let known = || daemon.is_known(key);
    if !crate::id::is_valid(key) {
        return false;
    }
    let sock = crate::paths::session_socket(key);
    if !sock.exists() {
        return false;
    }
    // Subscribed before the first look, so a `session` published after it
    // wakes us; every frame is only a cue to look again.
    let news = daemon.events.subscribe(Vec::new());
    super::runners::found(daemon, &sock);
    let deadline = Instant::now() + DISCOVERY;
    loop {
        if known() {
            return true;
        }
        if !daemon.following(key) || Instant::now() >= deadline {
            return false;
        }
        let tick = Instant::now() + DISCOVERY_TICK;
        let cue = async {
            if news.next().await.is_none() {
                // Dropped (a burst of news we did not read): ticks only.
                Timer::at(tick).await;
            }
        };
        future::or(cue, async {
            Timer::at(tick.min(deadline)).await;
        })
        .await;
    }
}

fn lookup(daemon: &Daemon, key: &str) -> Result<String, Response> {
    match daemon.lookup(key) {
        Ok(id) => Ok(id),
        Err(ids) if ids.is_empty() => {
            Err(Response::error(404, &format!("no session matches {key:?}")))
        }
        Err(ids) => Err(Response::json(
            409,
            &protocol::ErrorBody {
                error: format!("{key:?} is ambiguous: it matches {}", ids.join(", ")),
                matches: ids,
            },
        )),
    }
}

fn record(daemon: &Daemon, id: &str) -> Result<Record, Response> {
    daemon
        .record(id)
        .ok_or_else(|| Response::error(404, &format!("no session matches {id:?}")))
}

/// `GET /v1/sessions/{key}/events`.
pub fn events(daemon: &Daemon, id: &str) -> Reply {
    let current = match record(daemon, id) {
        Ok(record) => record,
        Err(resp) => return Reply::Done(resp),
    };
    let replay = vec![daemon_frame(&DaemonEvent::Session(protocol::to_json(
        &current,
    )))];
    let id = id.to_string();
    daemon
        .events
        .subscribe(replay)
        .into_filtered_reply(move |f| pass(&id, f))
}

/// Our session's frames pass; the one that tells of its end is the last.
fn pass(id: &str, frame: &[u8]) -> Pass {
    let Some((event, data)) = sse::parts(frame) else {
        return Pass::Skip;
    };
    // Every frame names its session first: read only that much of others.
    let about = serde_json::from_str::<protocol::Removed>(data).unwrap_or_default();
    if about.id != id {
        return Pass::Skip;
    }
    match DaemonEvent::parse(event, data) {
        Some(DaemonEvent::Session(data)) => match serde_json::from_str::<Record>(&data) {
            Ok(record) if !record.alive => Pass::Last,
            Ok(_) => Pass::Send,
            Err(_) => Pass::Skip,
        },
        Some(DaemonEvent::Remove(_)) => Pass::Last,
        Some(DaemonEvent::Notification(_)) | None => Pass::Skip,
    }
}

/// `GET /v1/sessions/{key}/runner`.
pub fn runner(daemon: &Daemon, id: &str) -> Response {
    match record(daemon, id) {
        Ok(record) => {
            let alive = record.alive;
            let addr = protocol::RunnerAddr {
                id: record.id,
                alive,
                socket: alive.then(|| crate::paths::session_socket(id)),
            };
            Response::json(200, &addr)
        }
        Err(resp) => resp,
    }
}

/// `GET /v1/sessions/{key}/resume`: the one place that decides how a
/// session is resumed. `amux resume` runs the plan, in the foreground or
/// detached, as `amux run` would.
pub fn resume(daemon: &Daemon, id: &str) -> Response {
    match record(daemon, id).and_then(plan) {
        Ok(plan) => Response::json(200, &plan),
        Err(resp) => resp,
    }
}

fn plan(record: Record) -> Result<protocol::ResumePlan, Response> {
    let id = record.id;
    if record.alive {
        let message = format!("session {id} is still running; attach to it instead");
        return Err(Response::error(409, &message));
    }
    let Some(command) = record.resume_command.filter(|a| !a.is_empty()) else {
        let message = match record.conversation.as_ref().map(|c| &c.file) {
            Some(file) => format!(
                "session {id}'s conversation {} was never written: there is nothing to resume",
                file.display()
            ),
            None => format!("session {id} has no conversation to resume"),
        };
        return Err(Response::error(409, &message));
    };
    Ok(protocol::ResumePlan {
        id,
        command,
        cwd: record.cwd,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::sse::frame;

    #[test]
    fn a_session_stream_passes_its_own_frames_and_ends_with_its_death() {
        let live = |id: &str, alive: bool| {
            let record = Record {
                id: id.into(),
                alive,
                ..Record::default()
            };
            frame("session", &protocol::to_json(&record))
        };
        let remove = |id: &str| {
            let removed = protocol::Removed { id: id.into() };
            frame("remove", &protocol::to_json(&removed))
        };
        let cases = [
            (live("abc", true), Pass::Send),
            (live("abd", true), Pass::Skip),
            (live("abc", false), Pass::Last),
            (remove("abc"), Pass::Last),
            (remove("ab"), Pass::Skip),
            (frame("session", "not json"), Pass::Skip),
        ];
        for (f, want) in cases {
            assert_eq!(pass("abc", &f), want, "{}", String::from_utf8_lossy(&f));
        }
    }

    #[test]
    fn only_a_dead_session_with_a_command_has_a_plan() {
        let mut record = Record {
            id: "abc".into(),
            cwd: "/w".into(),
            resume_command: Some(vec!["pi".into(), "-c".into()]),
            ..Record::default()
        };
        let got = plan(record.clone()).ok().expect("a plan");
        assert_eq!((got.command.len(), got.cwd.as_str()), (2, "/w"));
        record.alive = true;
        assert_eq!(plan(record.clone()).err().map(|r| r.status), Some(409));
        record.alive = false;
        record.resume_command = Some(Vec::new());
        assert_eq!(plan(record).err().map(|r| r.status), Some(409));
    }
}
