//! The daemon's own writes (dead records, saved input state), off the
//! executor and in order.
//!
//! Saving a record means an fsync, which on a busy disk takes tens of
//! milliseconds: on the daemon's one thread that would stall every answer.
//! Writes are queued instead and run one at a time off the executor —
//! one queue, so a later write (removing a session's input state) never
//! lands before an earlier one (saving it); each runs on its own thread
//! (`offload.rs`). `run` hands back the result
//! for callers that act on it (a record that could not be saved stays in
//! memory); the rest `queue` and have a failure logged.

use super::log::Log;
use async_executor::LocalExecutor;
use std::cell::RefCell;
use std::io;
use std::rc::Rc;

type Work = Box<dyn FnOnce() -> io::Result<()> + Send>;

/// Who waits for a job: a caller, or the log (what failed, for its line).
enum Done {
    Caller(async_channel::Sender<io::Result<()>>),
    Log(String),
}

pub struct Disk {
    jobs: async_channel::Sender<(Work, Done)>,
}

impl Disk {
    /// The queue, and its worker on `ex` (which logs to `log`).
    pub fn spawn(ex: &LocalExecutor<'static>, log: Rc<RefCell<Log>>) -> Disk {
        let (jobs, rx) = async_channel::unbounded::<(Work, Done)>();
        ex.spawn(async move {
            while let Ok((work, done)) = rx.recv().await {
                let result = super::offload::run(work).await;
                let result = result.unwrap_or_else(|| Err(io::Error::other("the write failed")));
                match (result, done) {
                    (result, Done::Caller(tx)) => drop(tx.try_send(result)),
                    (Err(e), Done::Log(what)) => log.borrow_mut().line(&format!("{what}: {e}")),
                    (Ok(()), Done::Log(_)) => {}
                }
            }
        })
        .detach();
        Disk { jobs }
    }

    /// Runs `work` after every write queued before it; its result.
    pub async fn run(
        &self,
        work: impl FnOnce() -> io::Result<()> + Send + 'static,
    ) -> io::Result<()> {
        let (done, result) = async_channel::bounded(1);
        if self
            .jobs
            .send((Box::new(work), Done::Caller(done)))
            .await
            .is_err()
        {
            return Err(io::Error::other("the daemon's writer is gone"));
        }
        result
            .recv()
            .await
            .unwrap_or_else(|_| Err(io::Error::other("the daemon's writer is gone")))
    }

    /// Queues `work` now (before any write queued after this returns);
    /// its result comes on the receiver.
    pub fn start(
        &self,
        work: impl FnOnce() -> io::Result<()> + Send + 'static,
    ) -> async_channel::Receiver<io::Result<()>> {
        let (done, result) = async_channel::bounded(1);
        let _ = self.jobs.try_send((Box::new(work), Done::Caller(done)));
        result
    }

    /// Queues `work`; nobody waits for it, a failure is logged as `what`.
    pub fn queue(&self, what: String, work: impl FnOnce() -> io::Result<()> + Send + 'static) {
        let _ = self.jobs.try_send((Box::new(work), Done::Log(what)));
    }
}
