//! Waiting for the fds a user feels on the thread that handles them.
//!
//! async-io's reactor is driven by whichever thread holds its lock, and
//! after a quiet moment that is its own "async-io" thread: each event
//! then wakes that thread, which wakes ours — two threads woken per
//! keystroke, and again for its echo, where `script` (one thread in
//! poll(2)) wakes once. `block_on` here runs a future on the calling
//! thread and, while it is pending, waits in poll(2) itself on the fds
//! its tasks wait on through a `Hot` (the user's terminal, the PTY, an
//! attach socket) and on a wake pipe: a keystroke wakes this one thread,
//! and the task that relays it runs right there.
//!
//! Everything else (other sockets, timers, signals, the blocking pool)
//! stays with async-io. A task woken from there wakes this thread through
//! the pipe, which is written only while the thread sleeps in poll(2)
//! (`Notify::sleeping`): a wake from the thread itself costs nothing.
//!
//! A `Hot` is a shared handle on one fd with one waiting waker per
//! direction, like async-io's `Source`. The reactor holds only weak
//! references, so dropping the last handle closes the fd at once (a peer
//! sees the close even while a read was waiting). Readiness is
//! level-triggered: a `Hot` is polled only while a task waits on it, and
//! the I/O itself is retried by the waiting task after each wake.

use futures_lite::{AsyncRead, AsyncWrite};
use rustix::event::{PollFd, PollFlags};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::pin::{pin, Pin};
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

const READ: usize = 0;
const WRITE: usize = 1;

thread_local! {
    static REACTOR: RefCell<Option<Rc<Reactor>>> = const { RefCell::new(None) };
}

/// Runs `future` on this thread, waiting in poll(2) on its `Hot` fds.
pub fn block_on<F: Future>(future: F) -> io::Result<F::Output> {
    let reactor = Rc::new(Reactor::new()?);
    let installed = REACTOR.with(|r| r.borrow_mut().replace(reactor.clone()));
    if installed.is_some() {
        return Err(io::Error::other("hot::block_on inside hot::block_on"));
    }
    // Uninstalled however we leave (a panic in a task included).
    struct Leave;
    impl Drop for Leave {
        fn drop(&mut self) {
            REACTOR.with(|r| r.borrow_mut().take());
        }
    }
    let _leave = Leave;
    let waker = Waker::from(reactor.notify.clone());
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        reactor.notify.notified.store(false, SeqCst);
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return Ok(out);
        }
        reactor.wait()?;
    }
}

/// Wakes the `block_on` thread: a byte in the pipe, only when it sleeps.
struct Notify {
    notified: AtomicBool,
    sleeping: AtomicBool,
    pipe: OwnedFd,
}

impl Wake for Notify {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref()
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // Either the sleeper sees `notified` before it sleeps, or we see
        // `sleeping` (both are SeqCst): a wake is never lost. A full pipe
        // already holds a wake.
        if !self.notified.swap(true, SeqCst) && self.sleeping.load(SeqCst) {
            let _ = rustix::io::write(&self.pipe, &[1]);
        }
    }
}

/// What the reactor needs of a `Source<T>`, whatever its `T`.
trait Watched {
    fn fd(&self) -> BorrowedFd<'_>;
    fn wanted(&self) -> PollFlags;
    fn fire(&self, revents: PollFlags);
    fn unlist(&self);
}

struct Reactor {
    watched: RefCell<Vec<Weak<dyn Watched>>>,
    notify: Arc<Notify>,
    wakeup: OwnedFd,
}

impl Reactor {
    fn new() -> io::Result<Reactor> {
        use rustix::pipe::PipeFlags;
        let (wakeup, pipe) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)?;
        Ok(Reactor {
            watched: RefCell::default(),
            notify: Arc::new(Notify {
                notified: AtomicBool::new(false),
                sleeping: AtomicBool::new(false),
                pipe,
            }),
            wakeup,
        })
    }

    /// Sleeps until a watched fd is ready or a waker runs; wakes the
    /// tasks whose fds are ready.
    fn wait(&self) -> io::Result<()> {
        let sources: Vec<Rc<dyn Watched>> = {
            let mut watched = self.watched.borrow_mut();
            watched.retain(|w| match w.upgrade() {
                Some(s) if !s.wanted().is_empty() => true,
                Some(s) => {
                    s.unlist();
                    false
                }
                None => false,
            });
            watched.iter().filter_map(Weak::upgrade).collect()
        };
        let mut fds = Vec::with_capacity(sources.len() + 1);
        fds.push(PollFd::new(&self.wakeup, PollFlags::IN));
        fds.extend(
            sources
                .iter()
                .map(|s| PollFd::from_borrowed_fd(s.fd(), s.wanted())),
        );
        self.notify.sleeping.store(true, SeqCst);
        let slept = if self.notify.notified.load(SeqCst) {
            Ok(0)
        } else {
            rustix::event::poll(&mut fds, None)
        };
        self.notify.sleeping.store(false, SeqCst);
        match slept {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
        let revents: Vec<PollFlags> = fds.iter().map(PollFd::revents).collect();
        drop(fds);
        if !revents[0].is_empty() {
            let mut sink = [0u8; 64];
            while matches!(rustix::io::read(&self.wakeup, &mut sink), Ok(n) if n > 0) {}
        }
        for (source, revents) in sources.iter().zip(&revents[1..]) {
            if !revents.is_empty() {
                source.fire(*revents);
            }
        }
        Ok(())
    }
}

struct Source<T> {
    io: T,
    wakers: [RefCell<Option<Waker>>; 2],
    ready: [Cell<bool>; 2],
    listed: Cell<bool>,
    /// The last `poll_read` took less than it asked for: the fd had no
    /// more, so the next read waits for readiness before trying (a
    /// message costs one read, not a read and a would-block).
    drained: Cell<bool>,
}

impl<T: AsFd> Watched for Source<T> {
    fn fd(&self) -> BorrowedFd<'_> {
        self.io.as_fd()
    }

    fn wanted(&self) -> PollFlags {
        let mut flags = PollFlags::empty();
        if self.wakers[READ].borrow().is_some() {
            flags |= PollFlags::IN;
        }
        if self.wakers[WRITE].borrow().is_some() {
            flags |= PollFlags::OUT;
        }
        flags
    }

    fn fire(&self, revents: PollFlags) {
        // An error or hang-up ends waits both ways: the retried call says
        // what happened.
        let broken = PollFlags::ERR | PollFlags::HUP | PollFlags::NVAL;
        let dirs = [
            (READ, PollFlags::IN | PollFlags::RDHUP | broken),
            (WRITE, PollFlags::OUT | broken),
        ];
        for (dir, flags) in dirs {
            if revents.intersects(flags) {
                if let Some(waker) = self.wakers[dir].borrow_mut().take() {
                    self.ready[dir].set(true);
                    waker.wake();
                }
            }
        }
    }

    fn unlist(&self) {
        self.listed.set(false);
    }
}

/// One fd whose readiness this thread's `block_on` waits for itself.
/// Cloning shares the fd (a read half and a write half).
pub struct Hot<T>(Rc<Source<T>>);

impl<T> Clone for Hot<T> {
    fn clone(&self) -> Self {
        Hot(self.0.clone())
    }
}

impl<T: AsFd + 'static> Hot<T> {
    /// Watches `io`, whose operations the caller makes non-blocking.
    pub fn new(io: T) -> Hot<T> {
        Hot(Rc::new(Source {
            io,
            wakers: Default::default(),
            ready: Default::default(),
            listed: Cell::new(false),
            drained: Cell::new(false),
        }))
    }

    pub fn get_ref(&self) -> &T {
        &self.0.io
    }

    /// Pending until the fd may be ready in `dir` (then `Ready` once).
    fn poll_ready(&self, dir: usize, cx: &mut Context<'_>) -> Poll<()> {
        if self.0.ready[dir].replace(false) {
            return Poll::Ready(());
        }
        *self.0.wakers[dir].borrow_mut() = Some(cx.waker().clone());
        if !self.0.listed.replace(true) {
            let weak: Weak<dyn Watched> = Rc::downgrade(&self.0) as Weak<dyn Watched>;
            REACTOR.with(|r| match &*r.borrow() {
                Some(reactor) => reactor.watched.borrow_mut().push(weak),
                None => panic!("a Hot fd was polled outside hot::block_on"),
            });
        }
        Poll::Pending
    }

    /// `op` until it does not say "would block", waiting for `dir`.
    fn poll_io<R>(
        &self,
        dir: usize,
        cx: &mut Context<'_>,
        mut op: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        // A readiness fired before this try is what the try consumes: only
        // one after it (in the next `wait`) is news — else a would-block
        // read would be tried twice per wake.
        self.0.ready[dir].set(false);
        loop {
            match op(&self.0.io) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if self.poll_ready(dir, cx).is_pending() {
                        return Poll::Pending;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                done => return Poll::Ready(done),
            }
        }
    }

    /// Waits until the fd becomes readable from now on (a read just
    /// drained it: trying again at once would only would-block).
    pub async fn readable(&self) {
        let mut first = true;
        std::future::poll_fn(|cx| {
            if std::mem::take(&mut first) {
                self.0.ready[READ].set(false);
            }
            self.poll_ready(READ, cx)
        })
        .await
    }

    /// Runs `op` (a non-blocking read) until it does not would-block.
    pub async fn read_with<R>(&self, mut op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        std::future::poll_fn(|cx| self.poll_io(READ, cx, &mut op)).await
    }

    /// Runs `op` (a non-blocking write) until it does not would-block.
    pub async fn write_with<R>(&self, mut op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        std::future::poll_fn(|cx| self.poll_io(WRITE, cx, &mut op)).await
    }
}

impl<T: AsFd + 'static> AsyncRead for Hot<T>
where
    for<'a> &'a T: Read,
{
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let source = &self.0;
        if source.drained.get() {
            // Ready once a readiness fired after our last try (the try
            // cleared the flag); until then only a would-block is to be had.
            std::task::ready!(self.poll_ready(READ, cx));
            source.drained.set(false);
        }
        let read = self.poll_io(READ, cx, |mut io| io.read(buf));
        if let Poll::Ready(Ok(n)) = read {
            source.drained.set(n > 0 && n < buf.len());
        }
        read
    }
}

impl<T: AsFd + 'static> AsyncWrite for Hot<T>
where
    for<'a> &'a T: Write,
{
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_io(WRITE, cx, |mut io| io.write(buf))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    use std::os::unix::net::UnixStream;

    fn pair() -> (Hot<UnixStream>, Hot<UnixStream>) {
        let (a, b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        b.set_nonblocking(true).unwrap();
        (Hot::new(a), Hot::new(b))
    }

    #[test]
    fn bytes_cross_between_tasks_on_one_thread() {
        let got = block_on(async {
            let (mut a, mut b) = pair();
            let ex = async_executor::LocalExecutor::new();
            let reader = ex.spawn(async move {
                let mut buf = [0u8; 5];
                b.read_exact(&mut buf).await.unwrap();
                buf
            });
            ex.run(async {
                a.write_all(b"hello").await.unwrap();
                reader.await
            })
            .await
        })
        .unwrap();
        assert_eq!(&got, b"hello");
    }

    #[test]
    fn a_read_after_a_short_one_waits_for_the_next_message() {
        // A short read marks the socket drained: the next read waits for
        // readiness instead of trying, and must still see each message.
        block_on(async {
            let (mut a, mut b) = pair();
            let (took, taken) = async_channel::unbounded::<Vec<u8>>();
            let ex = async_executor::LocalExecutor::new();
            let _reader = ex.spawn(async move {
                let mut buf = [0u8; 64];
                loop {
                    let n = b.read(&mut buf).await.unwrap();
                    took.send(buf[..n].to_vec()).await.unwrap();
                }
            });
            ex.run(async {
                for msg in [&b"one"[..], b"two", b"three"] {
                    a.write_all(msg).await.unwrap();
                    assert_eq!(taken.recv().await.unwrap(), msg);
                }
            })
            .await
        })
        .unwrap();
    }

    #[test]
    fn a_wake_from_another_thread_ends_the_sleep() {
        let (tx, rx) = async_channel::bounded::<u8>(1);
        let sender = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(50));
            tx.send_blocking(7).unwrap();
        });
        // Also waiting on a socket that never becomes readable.
        let got = block_on(async {
            let (_a, mut b) = pair();
            let mut buf = [0u8; 1];
            futures_lite::future::or(async { rx.recv().await.unwrap() }, async {
                let _ = b.read(&mut buf).await;
                0
            })
            .await
        })
        .unwrap();
        sender.join().unwrap();
        assert_eq!(got, 7);
    }

    #[test]
    fn dropping_the_last_handle_closes_the_fd_while_a_read_waited() {
        block_on(async {
            let (a, mut b) = pair();
            let mut buf = [0u8; 1];
            // A read that waits, then is dropped.
            let waiting = futures_lite::future::or(
                async { a.read_with(|s| (&*s).read(&mut buf)).await.ok() },
                async { None },
            );
            assert_eq!(waiting.await, None);
            drop(a);
            let mut rest = Vec::new();
            assert_eq!(b.read_to_end(&mut rest).await.unwrap(), 0);
        })
        .unwrap();
    }

    #[test]
    fn nested_block_on_is_an_error() {
        let inner = block_on(async { block_on(async {}).is_err() }).unwrap();
        assert!(inner);
    }
}
