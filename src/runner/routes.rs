//! The session socket's routes (amux-protocol(7), SESSION SOCKET).
//!
//! `handler` turns a request into a reply against the shared `Runner`.
//! Plain routes answer at once; `/events` and `/attach` take the
//! connection over. Method mismatches get 405 with `Allow`, unknown paths
//! 404, bad bodies 400, each with a JSON error.

use super::{attach, shim, Runner};
use crate::http::response::{Request, Response};
use crate::http::server::{boxed, Handler, Reply};
use crate::protocol::RunnerEvent;
use rustix::process::Signal;
use std::rc::Rc;
use std::time::Duration;

/// Default and maximum of `/scrollback/text?bytes=N`.
const SCROLLBACK_DEFAULT: usize = 8 * 1024;
/// Grace between SIGTERM and SIGKILL for `/kill`.
const KILL_GRACE: Duration = Duration::from_secs(3);

pub fn handler(runner: Rc<Runner>) -> Handler {
    Rc::new(move |req: Request| {
        let runner = runner.clone();
        boxed(async move { route(&runner, req).await })
    })
}

async fn route(runner: &Rc<Runner>, req: Request) -> Reply {
    let allow = match req.path.as_str() {
        "/meta" | "/events" | "/scrollback/text" | "/attach" => "GET",
        "/shim/event" | "/input" | "/resize" | "/kill" => "POST",
        _ => return Reply::Done(Response::error(404, "no such path")),
    };
    if req.method != allow {
        return Reply::Done(Response::method_not_allowed(allow));
    }
    Reply::Done(match req.path.as_str() {
        "/meta" => Response::json(200, &runner.session.borrow().meta()),
        "/events" => return events(runner),
        "/attach" => return attach::upgrade(runner.clone(), &req),
        "/scrollback/text" => scrollback(runner, &req),
        "/shim/event" => shim_event(runner, &req),
        "/input" => input(runner, req).await,
        "/resize" => resize(runner, &req),
        _ => kill(runner),
    })
}

fn events(runner: &Runner) -> Reply {
    let mut replay = runner.session.borrow().replay();
    // Tells the subscriber the current state is complete: what follows is
    // live.
    replay.push(crate::http::sse::event_frame(&RunnerEvent::Ready));
    let subscription = runner.events.subscribe(replay);
    subscription.into_reply()
}

fn scrollback(runner: &Runner, req: &Request) -> Response {
    let bytes = match req.query_param("bytes").map(str::parse::<usize>) {
        None => SCROLLBACK_DEFAULT,
        Some(Ok(n)) => n,
        Some(Err(_)) => return Response::error(400, "bytes must be a non-negative integer"),
    };
    let raw = runner.ring.borrow().tail(bytes);
    Response::text(crate::ansi::strip(&raw))
}

fn shim_event(runner: &Runner, req: &Request) -> Response {
    if req.body.len() > shim::MAX_EVENT {
        return Response::error(413, "shim event over 512 KiB");
    }
    // Validate first so a bad event gets its 400; then apply it the same
    // way as a FIFO line.
    let result = shim::apply(&mut runner.session.borrow_mut(), &req.body);
    match result {
        Ok(events) => {
            events.iter().for_each(|e| runner.publish(e));
            Response::no_content()
        }
        Err(e) => Response::error(400, &e.to_string()),
    }
}

/// How long `/input` waits for room in the queue to the PTY.
const INPUT_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

async fn input(runner: &Runner, req: Request) -> Response {
    if !runner.alive() {
        return Response::error(409, "the agent has exited");
    }
    if req.body.is_empty() {
        return Response::no_content();
    }
    // The queue to the PTY is bounded; an agent that does not read its
    // terminal fills it, and then the sender is told so instead of waiting.
    let queued =
        futures_lite::future::or(async { Some(runner.input.send(req.body).await) }, async {
            async_io::Timer::after(INPUT_WAIT).await;
            None
        });
    match queued.await {
        Some(Ok(())) => Response::no_content(),
        Some(Err(_)) => Response::error(409, "the agent has exited"),
        None => Response::error(503, "the agent is not reading its input"),
    }
}

fn resize(runner: &Runner, req: &Request) -> Response {
    let size: crate::protocol::Size = match serde_json::from_slice(&req.body) {
        Ok(size) => size,
        Err(e) => return Response::error(400, &format!("expected {{\"cols\":N,\"rows\":N}}: {e}")),
    };
    match runner.resize(size.cols, size.rows) {
        Ok(()) => Response::no_content(),
        Err(e) => Response::error(400, &e.to_string()),
    }
}

fn kill(runner: &Rc<Runner>) -> Response {
    if !runner.alive() {
        return Response::no_content();
    }
    runner.signal_child(Signal::TERM);
    let runner2 = runner.clone();
    runner
        .ex
        .spawn(async move {
            async_io::Timer::after(KILL_GRACE).await;
            if runner2.alive() {
                runner2.signal_child(Signal::KILL);
            }
        })
        .detach();
    Response::no_content()
}
