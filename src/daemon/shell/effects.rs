//! Carrying out the core's effects: each is one write, read, timer or
//! request, and those that wait run as tasks that dispatch their result.

use super::Daemon;
use crate::daemon::core::{Effect, Event, Found, RootChange, Timer};
use crate::daemon::live;
use crate::paths;
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
            Effect::SaveInput { id, saved } => {
                let what = format!("session {id}: cannot save its input state");
                self.disk.queue(what, move || live::save(&id, &saved));
            }
            Effect::SaveDead(record) => self.save_dead(*record),
            Effect::Remove { id, record } => {
                let what = format!("session {id}: cannot remove what it left");
                self.disk.queue(what, move || {
                    if record {
                        crate::daemon::persist::remove(&id);
                    }
                    let _ = std::fs::remove_file(paths::session_exit_file(&id));
                    live::remove(&id);
                    Ok(())
                });
            }
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

    /// A dead record onto disk, then what it was rebuilt from off it.
    fn save_dead(self: &Rc<Self>, record: Record) {
        let id = record.id.clone();
        // Queued now: a removal the core decides after this lands after it.
        let done = self.disk.start(move || {
            crate::daemon::persist::save(&record)?;
            let _ = std::fs::remove_file(paths::session_exit_file(&record.id));
            live::remove(&record.id);
            Ok(())
        });
        let daemon = self.clone();
        self.ex
            .spawn(async move {
                let gone = || std::io::Error::other("the daemon's writer is gone");
                let saved = done.recv().await.unwrap_or_else(|_| Err(gone()));
                daemon.dispatch(Event::Saved {
                    id,
                    error: saved.err(),
                });
            })
            .detach();
    }
}
