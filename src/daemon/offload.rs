//! Blocking work (a `/proc` walk, a big read, an fsync) off the daemon's
//! executor, on a short-lived thread of its own.
//!
//! Not the `blocking` crate's pool: its idle threads wake every 500 ms
//! for as long as the process lives, and an idle daemon must not wake at
//! all (the daemon never polls). Jobs here are few — a throttled
//! source check, a first read, a record saved — so a thread per job costs
//! less than it saves, and the thread is gone when the job is.

use std::sync::{Arc, Mutex};

/// Stack for a job: JSON parsing and directory walks need little.
const STACK: usize = 1 << 20;

/// Runs `job` on a new thread and waits for it without blocking the
/// executor; `None` if the job panicked, which only a build that unwinds
/// lives to see (the dev and test profiles: the release profile has
/// `panic = "abort"`, where a panicking job ends the daemon). When no
/// thread can be started (a process limit), the job runs here instead:
/// late beats never.
pub async fn run<T, F>(job: F) -> Option<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (tx, rx) = async_channel::bounded(1);
    let slot = Arc::new(Mutex::new(Some(job)));
    let theirs = slot.clone();
    let spawned = std::thread::Builder::new()
        .name("amux-job".into())
        .stack_size(STACK)
        .spawn(move || {
            let job = theirs.lock().ok().and_then(|mut j| j.take());
            if let Some(job) = job {
                let _ = tx.try_send(job());
            }
        });
    if spawned.is_err() {
        let job = slot.lock().ok().and_then(|mut j| j.take());
        return job.map(|job| job());
    }
    rx.recv().await.ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn runs_elsewhere_and_reports_a_panic() {
        let here = std::thread::current().id();
        let there = async_io::block_on(super::run(move || std::thread::current().id()));
        assert!(there.is_some_and(|t| t != here));
        let panicked = async_io::block_on(super::run(|| -> u8 { panic!("job failed") }));
        assert_eq!(panicked, None);
    }
}
