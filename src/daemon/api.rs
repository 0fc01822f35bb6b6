//! The daemon socket's routes (DESIGN §5).
//!
//! `GET /v1/health`, `GET /v1/sessions[?all=1]`, `GET /v1/sessions/{id}`
//! (an id, unique prefix or slug; 404 unknown, 409 ambiguous),
//! `GET /v1/events` (SSE: every live session as a `session` event, then
//! `session` upserts and `remove`s), and `POST /v1/sessions/{id}/input`,
//! `/kill`, `/resume`. Input and kill are forwarded to the runner's own
//! socket; input marks the session as awaiting a reply.

use super::core::Daemon;
use super::store::Lookup;
use crate::http::client;
use crate::http::response::{Request, Response};
use crate::http::server::{boxed, Handler, Reply};
use crate::http::sse::frame;
use crate::protocol;
use std::rc::Rc;

pub fn handler(daemon: Rc<Daemon>) -> Handler {
    Rc::new(move |req: Request| {
        let daemon = daemon.clone();
        boxed(async move { route(&daemon, req).await })
    })
}

async fn route(daemon: &Rc<Daemon>, req: Request) -> Reply {
    let parts: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
    let (allow, reply) = match parts.as_slice() {
        ["v1", "health"] => ("GET", None),
        ["v1", "sessions"] => ("GET", None),
        ["v1", "events"] => ("GET", None),
        ["v1", "sessions", _] => ("GET", None),
        ["v1", "sessions", _, "input" | "kill" | "resume"] => ("POST", None),
        _ => ("", Some(Response::error(404, "no such path"))),
    };
    if let Some(resp) = reply {
        return Reply::Done(resp);
    }
    if req.method != allow {
        return Reply::Done(Response::method_not_allowed(allow));
    }
    Reply::Done(match parts.as_slice() {
        ["v1", "health"] => Response::json(200, &health(daemon)),
        ["v1", "sessions"] => {
            super::runners::sync_exits(daemon);
            daemon.retry_saves().await;
            let all = req.query_param("all").is_some_and(|v| v != "0");
            Response::json(200, &daemon.records(all))
        }
        ["v1", "events"] => return events(daemon),
        ["v1", "sessions", key] => match resolve(daemon, key) {
            Ok(id) => match daemon.record(&id) {
                Some(record) => Response::json(200, &record),
                None => Response::error(404, &format!("no session matches {key:?}")),
            },
            Err(resp) => resp,
        },
        ["v1", "sessions", key, action] => match resolve(daemon, key) {
            Ok(id) => act(daemon, &id, action, req.body).await,
            Err(resp) => resp,
        },
        _ => Response::error(404, "no such path"),
    })
}

/// What `/v1/health` answers: who we are, what protocol we speak, and
/// what the user should be told (records that cannot be saved).
fn health(daemon: &Daemon) -> protocol::Health {
    protocol::Health {
        ok: true,
        pid: std::process::id(),
        version: env!("CARGO_PKG_VERSION").into(),
        protocol: protocol::PROTOCOL,
        watches: daemon.watches.get(),
        warnings: daemon.warnings.borrow().values().cloned().collect(),
    }
}

fn resolve(daemon: &Daemon, key: &str) -> Result<String, Response> {
    match daemon.store.borrow().lookup(key) {
        Lookup::Found(id) => Ok(id.to_string()),
        Lookup::Unknown => Err(Response::error(404, &format!("no session matches {key:?}"))),
        Lookup::Ambiguous(ids) => Err(Response::json(
            409,
            &protocol::ErrorBody {
                error: format!("{key:?} is ambiguous: it matches {}", ids.join(", ")),
                matches: ids,
            },
        )),
    }
}

fn events(daemon: &Daemon) -> Reply {
    let replay = daemon
        .store
        .borrow()
        .live
        .values()
        .map(|e| frame("session", &protocol::to_json(&daemon.render(e))))
        .collect();
    let subscription = daemon.events.subscribe(replay);
    subscription.into_reply()
}

async fn act(daemon: &Rc<Daemon>, id: &str, action: &str, body: Vec<u8>) -> Response {
    if action == "resume" {
        return resume(daemon, id).await;
    }
    if !daemon.store.borrow().live.contains_key(id) {
        return Response::error(409, &format!("session {id} has ended"));
    }
    let sock = crate::paths::session_socket(id);
    let path = if action == "input" { "/input" } else { "/kill" };
    match client::request(&sock, "POST", path, &body).await {
        Ok(r) if r.status < 300 => {
            if action == "input" && !body.is_empty() {
                // Marked here, before we answer: a `wait` right after
                // `send` must already see the input as pending. Enter is a
                // carriage return (see the runner's `typed`).
                daemon.input(id, body.contains(&b'\r'));
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

/// Starts a detached runner with the dead session's resume command in its
/// cwd; answers the new session's id.
async fn resume(daemon: &Daemon, id: &str) -> Response {
    let Some(record) = daemon.record(id) else {
        return Response::error(404, "no such session");
    };
    if record.alive {
        return Response::error(409, &format!("session {id} is still running"));
    }
    let Some(argv) = record.resume_command.filter(|a| !a.is_empty()) else {
        return Response::error(409, &format!("session {id} has no conversation to resume"));
    };
    let cwd = record.cwd;
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => return Response::error(500, &format!("cannot find the amux executable: {e}")),
    };
    // `run -d` returns once the new runner listens; off the executor.
    let (argv2, cwd2) = (argv.clone(), cwd.clone());
    let output = blocking::unblock(move || {
        std::process::Command::new(exe)
            .arg("run")
            .arg("-d")
            .arg("--")
            .args(&argv2)
            .current_dir(cwd2)
            .output()
    })
    .await;
    match output {
        Ok(out) if out.status.success() => {
            let new_id = String::from_utf8_lossy(&out.stdout).trim().to_string();
            let resumed = protocol::Resumed {
                id: new_id,
                command: argv,
                cwd,
            };
            Response::json(200, &resumed)
        }
        Ok(out) => Response::error(500, String::from_utf8_lossy(&out.stderr).trim()),
        Err(e) => Response::error(500, &format!("cannot start a runner: {e}")),
    }
}
