//! The server side of `GET /attach` (framing in `frame.rs`).
//!
//! After `101 Switching Protocols`, the connection carries frames both
//! ways. The kept output goes first, then live output from the PTY reader's
//! fan-out (a bounded queue: an attacher that cannot keep up is dropped,
//! never waited on). The replay is cut into frames of at most `MAX_FRAME`
//! (`--keep` may exceed it). Input frames join the PTY writer's queue;
//! resize frames resize the PTY, so the agent fits the attaching terminal,
//! and are remembered per attacher, so that when it leaves the PTY goes
//! back to the size of a terminal still showing the agent (`viewers.rs`).

use super::Runner;
use crate::frame::{self, Decoded};
use crate::http::response::{Request, Response};
use crate::http::server::{boxed, Reply};
use crate::transport::{Reader, Stream};
use futures_lite::{future, AsyncReadExt, AsyncWriteExt};
use std::rc::Rc;

/// Output frames an attacher may lag behind before it is dropped.
const QUEUE: usize = 1024;

pub fn upgrade(runner: Rc<Runner>, req: &Request) -> Reply {
    let wants = req
        .header("upgrade")
        .is_some_and(|v| v.eq_ignore_ascii_case(b"amux-attach"));
    if !wants {
        return Reply::Done(Response::error(
            400,
            "GET /attach needs 'Upgrade: amux-attach'",
        ));
    }
    let head = Response {
        status: 101,
        headers: vec![
            ("Upgrade", "amux-attach".into()),
            ("Connection", "Upgrade".into()),
        ],
        body: Vec::new(),
    };
    Reply::Takeover(
        head,
        Box::new(move |stream, leftover| boxed(session(runner, stream, leftover))),
    )
}

async fn session(runner: Rc<Runner>, stream: Stream, leftover: Vec<u8>) {
    let (tx, rx) = async_channel::bounded::<Rc<[u8]>>(QUEUE);
    // Taken together with joining (no await between): no output is lost
    // or sent twice between the replay and the live frames.
    let replay = frame::encode_chunked(frame::OUTPUT, &runner.ring.borrow().tail(usize::MAX));
    let id = if runner.alive() {
        Some(runner.attacher_joined(tx))
    } else {
        let exit = crate::protocol::to_json(&runner.session.borrow().exit_event());
        let _ = tx.try_send(frame::encode(frame::EXIT, exit.as_bytes()).into());
        drop(tx);
        None
    };
    // Keystrokes and output wait on this thread's own poll (`hot.rs`).
    let (reader, mut writer) = stream.into_hot().split();
    let outgoing = async move {
        if writer.write_all(&replay).await.is_err() {
            return;
        }
        drop(replay);
        while let Ok(frame) = rx.recv().await {
            if writer.write_all(&frame).await.is_err() {
                return;
            }
        }
    };
    future::or(outgoing, incoming(&runner, id, reader, leftover)).await;
    if let Some(id) = id {
        runner.attacher_left(id);
    }
}

async fn incoming(runner: &Runner, id: Option<u64>, mut stream: Reader, mut buf: Vec<u8>) {
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        loop {
            match frame::decode(&buf) {
                Decoded::Frame(kind, payload, used) => {
                    buf.drain(..used);
                    match kind {
                        frame::INPUT => {
                            runner.typed(&payload);
                            if runner.input.send(payload).await.is_err() {
                                return;
                            }
                        }
                        frame::RESIZE => {
                            if let (Some((cols, rows)), Some(id)) =
                                (frame::parse_resize(&payload), id)
                            {
                                runner.viewers.set_size(id, cols, rows);
                                let _ = runner.resize(cols, rows);
                            }
                        }
                        _ => return,
                    }
                }
                Decoded::Partial => break,
                Decoded::Invalid => return,
            }
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}
