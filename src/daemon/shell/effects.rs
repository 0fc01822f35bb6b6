//! Carrying out the core's effects: each is one write, read, timer or
//! request, and those that wait run as tasks that dispatch their result.

use super::Daemon;
use crate::daemon::core::{Effect, Event, Found, RootChange, Timer};
use crate::daemon::disk;
use crate::daemon::saver::Write;
use crate::protocol::Record;
use std::rc::Rc;
use std::time::Instant;

impl Daemon {
    pub(super) fn execute(self: &Rc<Self>, effect: Effect) {
        match effect {
            Effect::Publish(event) => self.events.publish(event.name(), event.data()),
            Effect::Log(text) => self.log(&text),
            Effect::Follow { path, kind, place } => self.follow_file(path, kind, place),
            Effect::Unfollow(path) => self.unfollow_file(&path),
            Effect::ReadMore(path) => self.read_file(&path),
            Effect::Watch(change) => self.watch(change),
            Effect::SaveInput { id, saved } => self.disk.push(Write::Input { id, saved }),
            Effect::SaveDead(record) => self.disk.push(Write::Record(record)),
            Effect::Remove { id, record } => self.disk.push(Write::Remove { id, record }),
            Effect::Schedule { at, timer } => self.schedule(at, timer),
            Effect::Look { id, kind, probe } => self.later(id, async move {
                let report = crate::daemon::offload::run(move || kind.report(&probe)).await;
                Found::Report(Box::new(report.unwrap_or_default()))
            }),
            Effect::ReadCandidates {
                id,
                kind,
                place,
                started,
                candidates,
            } => self.later(id, async move {
                let read =
                    move || super::guesses::read_candidates(kind, &place, started, candidates);
                let found = crate::daemon::offload::run(read).await;
                Found::Candidates(found.unwrap_or_default())
            }),
            Effect::Scrollback { id, texts } => {
                let sock = crate::transport::Connect::runner(&id);
                self.later(id, async move {
                    let target = "/scrollback/text?bytes=16384";
                    let resp = crate::http::client::request(&sock, "GET", target, b"").await;
                    let screen = match resp {
                        Ok(r) if r.status == 200 => String::from_utf8_lossy(&r.body).into_owned(),
                        _ => return Found::Screen(None),
                    };
                    Found::Screen(super::guesses::pick_by_screen(&screen, &texts))
                })
            }
            Effect::Then(event) => self.dispatch(*event),
        }
    }

    /// Runs `step` as a task and dispatches what it found for `id`.
    fn later(
        self: &Rc<Self>,
        id: String,
        step: impl std::future::Future<Output = Found> + 'static,
    ) {
        let daemon = self.clone();
        self.ex
            .spawn(async move {
                let found = step.await;
                daemon.dispatch(Event::Found { id, found });
            })
            .detach();
    }

    fn schedule(self: &Rc<Self>, at: Instant, timer: Timer) {
        let daemon = self.clone();
        self.ex
            .spawn(async move {
                async_io::Timer::at(at).await;
                daemon.dispatch(Event::Timer(timer));
            })
            .detach();
    }

    fn watch(&self, change: RootChange) {
        let _ = self.roots_tx.try_send(change);
    }
}

/// The daemon's writer: each batch the disk queue holds, written off the
/// executor; each record's save told to the core, other failures logged.
pub async fn write_forever(daemon: Rc<Daemon>) {
    loop {
        let batch = daemon.disk.next().await;
        // Kept to tell the core, should the writing thread die.
        let records: Vec<Box<Record>> = (batch.iter())
            .filter_map(|w| match w {
                Write::Record(record) => Some(record.clone()),
                _ => None,
            })
            .collect();
        let written = crate::daemon::offload::run(move || disk::write(batch)).await;
        let written = written.unwrap_or_else(|| disk::Written {
            records: (records.into_iter())
                .map(|r| (r, Err(std::io::Error::other("the write failed"))))
                .collect(),
            failed: Vec::new(),
        });
        for (what, e) in written.failed {
            daemon.log(&format!("{what}: {e}"));
        }
        for (record, result) in written.records {
            let error = result.err();
            daemon.dispatch(Event::Saved { record, error });
        }
        daemon.disk.finished();
    }
}
