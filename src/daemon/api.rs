//! The daemon socket's routes (amux-protocol(7), DAEMON SOCKET).
//!
//! `GET /v1/health`, `GET /v1/sessions[?all=1]`, `GET /v1/events` (SSE:
//! every live session as a `session` event, then `session` upserts and
//! `remove`s), and per session key (an id, unique prefix or slug; 404
//! unknown, 409 ambiguous; resolved in `session.rs`): `GET
//! /v1/sessions/{key}` (the record), `…/events` (that session's stream),
//! `…/runner` (its socket), `…/resume` (the plan), and `POST …/input`,
//! `…/kill`, `…/forget` and `…/resumed`. Input and kill are forwarded to
//! the runner's own socket; input marks the session as awaiting a reply.
//! Forget and resumed are about dead records (`core/forget.rs`).

use super::session;
use super::shell::Daemon;
use crate::http::client;
use crate::http::response::{Request, Response};
use crate::http::server::{boxed, Handler, Reply};
use crate::http::sse::daemon_frame;
use crate::protocol;
use crate::transport::Connect;
use std::rc::Rc;

pub fn handler(daemon: Rc<Daemon>) -> Handler {
    Rc::new(move |req: Request| {
        let daemon = daemon.clone();
        boxed(async move { route(&daemon, req).await })
    })
}

async fn route(daemon: &Rc<Daemon>, req: Request) -> Reply {
    let parts: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
    let allow = match parts.as_slice() {
        ["v1", "health" | "sessions" | "events"] => "GET",
        ["v1", "sessions", _] => "GET",
        ["v1", "sessions", _, "events" | "runner" | "resume" | "explain"] => "GET",
        ["v1", "sessions", _, "input" | "kill" | "forget" | "resumed"] => "POST",
        _ => return Reply::Done(Response::error(404, "no such path")),
    };
    if req.method != allow {
        return Reply::Done(Response::method_not_allowed(allow));
    }
    let (key, action) = match parts.as_slice() {
        ["v1", "health"] => return Reply::Done(Response::json(200, &health(daemon))),
        ["v1", "sessions"] => return Reply::Done(list(daemon, &req).await),
        ["v1", "events"] => {
            daemon.startup.settled().await;
            return events(daemon);
        }
        ["v1", "sessions", key] => (*key, ""),
        ["v1", "sessions", key, action] => (*key, *action),
        _ => return Reply::Done(Response::error(404, "no such path")),
    };
    let Some(key) = crate::http::segment::decode(key) else {
        return Reply::Done(Response::error(
            400,
            "a session key is percent-encoded UTF-8",
        ));
    };
    let key = key.as_str();
    let id = match session::resolve(daemon, key).await {
        Ok(id) => id,
        Err(resp) => return Reply::Done(resp),
    };
    Reply::Done(match action {
        "" => match daemon.record(&id) {
            Some(record) => Response::json(200, &record),
            None => Response::error(404, &format!("no session matches {key:?}")),
        },
        "events" => return session::events(daemon, &id),
        "runner" => session::runner(daemon, &id),
        "resume" => {
            // Right after `amux run` returned, its runner is gone but the
            // daemon may not have followed the end yet (the stream's close
            // is on its way): the exit file it left says it ended.
            if daemon.is_live(&id) && crate::paths::session_exit_file(&id).exists() {
                daemon.runner_gone(&id);
            }
            session::resume(daemon, &id)
        }
        "explain" => match daemon.explain(&id) {
            Some(explain) => Response::json(200, &explain),
            None => Response::error(404, &format!("no session matches {key:?}")),
        },
        "forget" => done(daemon.forget(&id).await),
        "resumed" => done(daemon.mark_resumed(&id).await),
        _ => act(daemon, &id, action, req.body).await,
    })
}

async fn list(daemon: &Rc<Daemon>, req: &Request) -> Response {
    daemon.startup.settled().await;
    super::runners::sync_exits(daemon);
    // Never waits for the disk: the records are in memory.
    daemon.retry_saves();
    let all = req.query_param("all").is_some_and(|v| v != "0");
    Response::json(200, &daemon.records(all))
}

/// What `/v1/health` answers: who we are, what protocol we speak, and
/// what the user should be told (records that cannot be saved).
fn health(daemon: &Daemon) -> protocol::Health {
    let (watches, warnings) = daemon.health_facts();
    protocol::Health {
        ok: true,
        pid: std::process::id(),
        version: env!("CARGO_PKG_VERSION").into(),
        protocol: protocol::PROTOCOL,
        watches,
        connections: crate::http::server::accepted(),
        warnings,
        seq: daemon.seq(),
    }
}

fn events(daemon: &Daemon) -> Reply {
    let replay = (daemon.live_records().iter())
        .map(|r| daemon_frame(&protocol::DaemonEvent::Session(protocol::to_json(r))))
        .collect();
    let subscription = daemon.events.subscribe(replay);
    subscription.into_reply()
}

/// 204 for a change made, 409 for one refused.
fn done(result: Result<(), super::core::Refused>) -> Response {
    match result {
        Ok(()) => Response::no_content(),
        Err(super::core::Refused(why)) => Response::error(409, &why),
    }
}

/// `input` or `kill`, forwarded to the session's runner.
async fn act(daemon: &Rc<Daemon>, id: &str, action: &str, body: Vec<u8>) -> Response {
    if !daemon.is_live(id) {
        let message = match action {
            "kill" => format!("session {id} has already ended"),
            _ => format!("session {id} has ended; 'amux resume {id}' continues its conversation"),
        };
        return Response::error(409, &message);
    }
    let path = if action == "input" { "/input" } else { "/kill" };
    let input = action == "input" && !body.is_empty();
    if input {
        // Marked before the runner has it, so before the agent can answer
        // it: an answer pi's extension gives a few ms after the Enter
        // (`/name` taken) must find it pending, and dated after it,
        // whichever of the two the daemon reads first. Marked before we
        // answer, too: a `wait` right after `send` sees it pending. Input
        // the runner then refuses stays pending until the session is
        // quiet (`QUIET`). Enter is a carriage return (the runner's
        // `typed`).
        daemon.input(id, &body);
    }
    match client::request(&Connect::runner(id), "POST", path, &body).await {
        Ok(r) if r.status < 300 => {
            if input {
                // On disk before we answer: a daemon killed right after
                // `send` returns must not forget that an answer is owed.
                daemon.flushed().await;
            }
            Response::no_content()
        }
        Ok(r) => Response {
            status: r.status,
            headers: vec![("Content-Type", "application/json".into())],
            body: r.body,
        },
        Err(e) => Response::error(409, &format!("session {id} does not answer: {e}")),
    }
}
