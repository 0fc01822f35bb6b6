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
//! Frames are `event: NAME\ndata: JSON\n\n` (one line of JSON).

use super::response::Response;
use super::server::{boxed, write_timed, Reply};
use async_channel::{Receiver, Sender};
use async_net::unix::UnixStream;
use futures_lite::future;
use std::cell::Cell;
use std::rc::Rc;

/// Frames a subscriber may lag behind before it is dropped.
pub const QUEUE: usize = 256;

pub type Frame = Rc<[u8]>;

pub fn frame(event: &str, data: &str) -> Frame {
    super::wire::encode_event(event, data).into()
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
}

pub struct Subscription {
    queue: Receiver<Frame>,
    kill: Receiver<()>,
    streams: Rc<Cell<usize>>,
}

impl Broadcaster {
    pub fn spawn(ex: &async_executor::LocalExecutor<'static>) -> Broadcaster {
        let (inbox, rx) = async_channel::unbounded();
        ex.spawn(run(rx)).detach();
        Broadcaster {
            inbox,
            streams: Rc::new(Cell::new(0)),
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
        }
    }

    pub fn close(&self) {
        let _ = self.inbox.try_send(Msg::Close);
    }

    /// Streams still being written (for the runner's exit linger).
    pub fn open_streams(&self) -> usize {
        self.streams.get()
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
    /// `pump`.
    pub fn into_reply(self) -> Reply {
        let head = Response {
            status: 200,
            headers: vec![
                ("Content-Type", "text/event-stream".into()),
                ("Cache-Control", "no-cache".into()),
            ],
            body: Vec::new(),
        };
        Reply::Takeover(head, Box::new(move |stream, _| boxed(self.pump(stream))))
    }

    /// Writes frames to `stream` until the queue ends or the subscriber
    /// is dropped for being slow.
    pub async fn pump(self, mut stream: UnixStream) {
        while let Ok(frame) = self.queue.recv().await {
            let killed = async {
                let _ = self.kill.recv().await;
                Err(std::io::ErrorKind::BrokenPipe.into())
            };
            if future::or(write_timed(&mut stream, &frame), killed)
                .await
                .is_err()
            {
                break;
            }
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.streams.set(self.streams.get().saturating_sub(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
            ex.spawn(b.subscribe(replay).pump(ours)).detach();
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
}
