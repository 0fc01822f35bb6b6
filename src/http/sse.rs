//! Server-sent events with one task owning the subscribers.
//!
//! `Broadcaster` is a handle; the task behind it holds every subscriber's
//! bounded queue. Publishing hands one encoded frame to the task, which
//! `try_send`s it to each queue: a full queue means a slow client, and the
//! task drops that subscriber at once (closing its queue and its `kill`
//! channel, which aborts a write the connection may be stuck in). Nobody
//! ever waits on a subscriber. A new subscriber's replay frames are queued
//! before anything published after it subscribed, because both travel
//! through the task's one FIFO inbox; the queue holds the whole replay on
//! top of its bound (a daemon with 300 sessions replays 300 frames). The
//! task yields after each publish, so subscribers' writers run between
//! frames: a burst published in one go (a daemon catching up after a
//! stall) is "slow" only for a client that really does not read.
//!
//! Frames are `event: NAME\ndata: JSON\n\n` (one line of JSON). A
//! subscription can pass every frame to its client or be filtered (one
//! session's events out of all of them): the filter sees each frame as it
//! is about to be written, so skipping costs the client nothing, and can
//! end the stream after a last frame.

use super::response::Response;
use super::server::{boxed, write_timed, Reply};
use async_channel::{Receiver, Sender};
use futures_lite::{future, AsyncWrite};
use std::cell::Cell;
use std::rc::Rc;

/// Frames a subscriber may lag behind before it is dropped.
pub const QUEUE: usize = 256;

pub type Frame = Rc<[u8]>;

pub fn frame(event: &str, data: &str) -> Frame {
    super::wire::encode_event(event, data).into()
}

/// A runner's event as a frame of its `/events` stream.
pub fn event_frame(event: &crate::protocol::RunnerEvent) -> Frame {
    frame(event.name(), &event.data())
}

/// A daemon's event as a frame of its `/v1/events` stream.
pub fn daemon_frame(event: &crate::protocol::DaemonEvent) -> Frame {
    frame(event.name(), event.data())
}

/// The event name and data of a frame made by `frame`.
pub fn parts(frame: &[u8]) -> Option<(&str, &str)> {
    let text = std::str::from_utf8(frame).ok()?;
    let (event, rest) = text.strip_prefix("event: ")?.split_once('\n')?;
    let data = rest.strip_prefix("data: ")?.strip_suffix("\n\n")?;
    Some((event, data))
}

/// What a filtered stream does with a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pass {
    Skip,
    Send,
    /// Send it, then end the stream.
    Last,
}

enum Msg {
    Subscribe {
        replay: Vec<Frame>,
        queue: Sender<Frame>,
        kill: Sender<()>,
    },
    Publish(Frame),
    /// No more events: subscribers get what is queued, then end.
    Close,
}

#[derive(Clone)]
pub struct Broadcaster {
    inbox: Sender<Msg>,
    streams: Rc<Cell<usize>>,
    /// A word from each stream that ends (see `streams_ended`).
    left: Receiver<()>,
    leaving: Sender<()>,
}

pub struct Subscription {
    queue: Receiver<Frame>,
    kill: Receiver<()>,
    streams: Rc<Cell<usize>>,
    leaving: Sender<()>,
}

impl Broadcaster {
    pub fn spawn(ex: &async_executor::LocalExecutor<'static>) -> Broadcaster {
        let (inbox, rx) = async_channel::unbounded();
        ex.spawn(run(rx)).detach();
        let (leaving, left) = async_channel::unbounded();
        Broadcaster {
            inbox,
            streams: Rc::new(Cell::new(0)),
            left,
            leaving,
        }
    }

    pub fn publish(&self, event: &str, data: &str) {
        let _ = self.inbox.try_send(Msg::Publish(frame(event, data)));
    }

    pub fn subscribe(&self, replay: Vec<Frame>) -> Subscription {
        let (queue, queue_rx) = async_channel::bounded(QUEUE + replay.len());
        let (kill, kill_rx) = async_channel::bounded(1);
        let _ = self.inbox.try_send(Msg::Subscribe {
            replay,
            queue,
            kill,
        });
        self.streams.set(self.streams.get() + 1);
        Subscription {
            queue: queue_rx,
            kill: kill_rx,
            streams: self.streams.clone(),
            leaving: self.leaving.clone(),
        }
    }

    /// Returns once no stream is open (woken as each ends: no polling).
    pub async fn streams_ended(&self) {
        while self.streams.get() > 0 {
            if self.left.recv().await.is_err() {
                return;
            }
        }
    }

    pub fn close(&self) {
        let _ = self.inbox.try_send(Msg::Close);
    }
}

async fn run(inbox: Receiver<Msg>) {
    let mut subscribers: Vec<(Sender<Frame>, Sender<()>)> = Vec::new();
    let mut closed = false;
    // Kill senders of finished subscribers are kept until the process ends:
    // dropping one would abort that stream's last write.
    let mut finished: Vec<Sender<()>> = Vec::new();
    while let Ok(msg) = inbox.recv().await {
        match msg {
            Msg::Subscribe {
                replay,
                queue,
                kill,
            } => {
                let fits = replay.into_iter().all(|f| queue.try_send(f).is_ok());
                if closed || !fits {
                    queue.close();
                    finished.push(kill);
                } else {
                    subscribers.push((queue, kill));
                }
            }
            Msg::Publish(frame) => {
                // A full queue is a slow client: drop it (with its kill
                // sender), never wait for it.
                subscribers.retain(|(queue, _)| queue.try_send(frame.clone()).is_ok());
                future::yield_now().await;
            }
            Msg::Close => {
                closed = true;
                for (queue, kill) in subscribers.drain(..) {
                    queue.close();
                    finished.push(kill);
                }
            }
        }
    }
}

impl Subscription {
    /// The `200 text/event-stream` reply that hands the connection to
    /// the pump.
    pub fn into_reply(self) -> Reply {
        self.into_filtered_reply(|_| Pass::Send)
    }

    /// As `into_reply`, passing each frame through `filter` first.
    pub fn into_filtered_reply(self, filter: impl FnMut(&[u8]) -> Pass + 'static) -> Reply {
        let head = Response {
            status: 200,
            headers: vec![
                ("Content-Type", "text/event-stream".into()),
                ("Cache-Control", "no-cache".into()),
            ],
            body: Vec::new(),
        };
        let pump = move |stream, _| boxed(self.pump_filtered(stream, filter));
        Reply::Takeover(head, Box::new(pump))
    }

    /// Writes the frames `filter` passes to `stream` until the queue ends,
    /// the filter says a frame was the last, or the subscriber is dropped
    /// for being slow.
    async fn pump_filtered<W: AsyncWrite + Unpin>(
        self,
        mut stream: W,
        mut filter: impl FnMut(&[u8]) -> Pass,
    ) {
        while let Ok(frame) = self.queue.recv().await {
            let pass = filter(&frame);
            if pass == Pass::Skip {
                continue;
            }
            let killed = async {
                let _ = self.kill.recv().await;
                Err(std::io::ErrorKind::BrokenPipe.into())
            };
            if future::or(write_timed(&mut stream, &frame), killed)
                .await
                .is_err()
                || pass == Pass::Last
            {
                break;
            }
        }
    }

    /// The next frame, without writing it anywhere (`None` once the
    /// subscriber is closed or dropped): for a task that waits for news.
    pub async fn next(&self) -> Option<Frame> {
        self.queue.recv().await.ok()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.streams.set(self.streams.get().saturating_sub(1));
        let _ = self.leaving.try_send(());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_net::unix::UnixStream;
    use futures_lite::AsyncReadExt;

    /// A replay longer than the bound, then a burst longer than the bound
    /// published in one go: a client that reads gets every frame.
    #[test]
    fn long_replay_and_burst_reach_a_reading_client() {
        let ex = Rc::new(async_executor::LocalExecutor::new());
        let (ours, theirs) = UnixStream::pair().expect("socket pair");
        let n = QUEUE + 44;
        let got = future::block_on(ex.run(async {
            let b = Broadcaster::spawn(&ex);
            let replay = (0..n).map(|i| frame("meta", &i.to_string())).collect();
            let pump = b.subscribe(replay).pump_filtered(ours, |_| Pass::Send);
            ex.spawn(pump).detach();
            for i in 0..n {
                b.publish("session", &i.to_string());
            }
            b.close();
            let mut text = String::new();
            let mut theirs = theirs;
            let read = theirs.read_to_string(&mut text);
            let timeout = async {
                async_io::Timer::after(std::time::Duration::from_secs(10)).await;
                Ok(0)
            };
            future::or(read, timeout).await.expect("read the stream");
            text
        }));
        assert_eq!(got.matches("event: meta\n").count(), n);
        assert_eq!(got.matches("event: session\n").count(), n);
        assert!(got.ends_with(&format!("data: {}\n\n", n - 1)));
    }

    #[test]
    fn parts_of_a_frame() {
        let f = frame("session", r#"{"id":"a"}"#);
        assert_eq!(parts(&f), Some(("session", r#"{"id":"a"}"#)));
        assert_eq!(parts(b"data: x\n\n"), None);
    }
}
