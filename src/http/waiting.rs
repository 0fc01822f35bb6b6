//! Connections waiting for a request, at most `MAX_WAITING` at once.
//!
//! A connection waits from when it is accepted (or its last reply went
//! out) until its request is read whole. Ours and every well-behaved
//! client's send a request in one write, so that is microseconds; what
//! waits long is an idle keep-alive, or a client trickling or stalling
//! mid-request. A flood of those (our own user's: no one else gets in)
//! held thousands of tasks, buffers and half-sent heads, hundreds of MiB
//! the allocator kept after they closed, and took the fds new clients
//! needed until each hit its deadline.
//!
//! So each waiting connection holds a `Ticket`, in the order they began
//! waiting. Past `MAX_WAITING`, a new one kicks the one that has waited
//! longest: woken, it reads what it was sent (a request that had already
//! arrived whole is served), and otherwise closes — with 503 if it had
//! begun a request, without a word if it was idle, as HTTP lets a server
//! close an idle connection. A flood thus costs at most `MAX_WAITING`
//! connections' memory, and a new client is served during it, not refused.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::task::{Poll, Waker};

/// How many connections may wait for a request at once on one server.
pub const MAX_WAITING: usize = 256;

#[derive(Default)]
struct Slot {
    kicked: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

#[derive(Default)]
struct Waiting {
    next: u64,
    /// By when they began waiting: the first is the longest waiting.
    slots: BTreeMap<u64, Rc<Slot>>,
}

thread_local! {
    static WAITING: RefCell<Waiting> = RefCell::default();
}

/// A connection's place among those waiting; dropping it leaves.
pub struct Ticket {
    seq: u64,
    slot: Rc<Slot>,
}

/// Begins waiting for a request, kicking the longest waiting connection
/// if that makes too many.
pub fn enter() -> Ticket {
    enter_with(MAX_WAITING)
}

fn enter_with(max: usize) -> Ticket {
    let slot = Rc::new(Slot::default());
    let (seq, kicked) = WAITING.with_borrow_mut(|w| {
        let seq = w.next;
        w.next += 1;
        w.slots.insert(seq, slot.clone());
        let kicked = (w.slots.len() > max).then(|| w.slots.pop_first());
        (seq, kicked.flatten())
    });
    if let Some((_, old)) = kicked {
        old.kicked.set(true);
        if let Some(waker) = old.waker.take() {
            waker.wake();
        }
    }
    Ticket { seq, slot }
}

impl Ticket {
    /// Pending until another connection's `enter` kicks this one.
    pub async fn kicked(&self) {
        std::future::poll_fn(|cx| {
            if self.slot.kicked.get() {
                return Poll::Ready(());
            }
            *self.slot.waker.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        WAITING.with_borrow_mut(|w| w.slots.remove(&self.seq));
    }
}

#[cfg(test)]
fn count() -> usize {
    WAITING.with_borrow(|w| w.slots.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_lite::future;

    fn is_kicked(t: &Ticket) -> bool {
        future::block_on(future::or(
            async {
                t.kicked().await;
                true
            },
            async { false },
        ))
    }

    #[test]
    fn past_the_limit_the_longest_waiting_is_kicked_and_leaves() {
        let first = enter_with(2);
        let second = enter_with(2);
        assert!(!is_kicked(&first) && !is_kicked(&second));
        let third = enter_with(2);
        assert!(is_kicked(&first), "the longest waiting goes");
        assert!(!is_kicked(&second) && !is_kicked(&third));
        assert_eq!(count(), 2);
        drop(second);
        assert_eq!(count(), 1);
        let fourth = enter_with(2);
        assert!(!is_kicked(&third) && !is_kicked(&fourth), "room was made");
        drop((first, third, fourth));
        assert_eq!(count(), 0);
    }
}
