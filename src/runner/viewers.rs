//! Who is looking at the session: the foreground terminal (unless
//! detached) and the attachers, each with the window size it last sent.
//!
//! Attachers sit in join order, each with its output queue and last size.
//! The PTY takes the size of whoever resized last; when an attacher leaves,
//! the PTY goes back to the terminal still showing the agent — the most
//! recent remaining attacher that sent a size, else the foreground
//! terminal (asked afresh, since it may have been resized meanwhile), else
//! it stays as it is. Joins and leaves publish `attach`; keystrokes from a
//! terminal publish `input` (see `Runner::typed`), which the daemon uses
//! to clear "unread" and to tell a submitted prompt from idle typing.

use super::Runner;
use async_channel::Sender;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// How often keystrokes without Enter are published as `input`: enough
/// to say "someone is typing" without an event per key.
const TYPING_EVERY: Duration = Duration::from_millis(500);

struct Attacher {
    id: u64,
    queue: Sender<Rc<[u8]>>,
    size: Option<(u16, u16)>,
}

pub struct Viewers {
    attachers: RefCell<Vec<Attacher>>,
    next_id: Cell<u64>,
    foreground: bool,
    last_typing: Cell<Option<Instant>>,
}

impl Viewers {
    pub fn new(foreground: bool) -> Viewers {
        Viewers {
            attachers: RefCell::new(Vec::new()),
            next_id: Cell::new(0),
            foreground,
            last_typing: Cell::new(None),
        }
    }

    /// Hands one output frame to every attacher. A full queue is a slow
    /// attacher: it is dropped (its stream ends), never waited on.
    pub fn send_all(&self, frame: impl FnOnce() -> Rc<[u8]>) {
        let mut attachers = self.attachers.borrow_mut();
        if !attachers.is_empty() {
            let frame = frame();
            attachers.retain(|a| a.queue.try_send(frame.clone()).is_ok());
        }
    }

    /// Sends a last frame to every attacher and forgets them all.
    pub fn end_all(&self, frame: Rc<[u8]>) {
        for a in self.attachers.borrow_mut().drain(..) {
            let _ = a.queue.try_send(frame.clone());
        }
    }

    pub fn set_size(&self, id: u64, cols: u16, rows: u16) {
        let mut attachers = self.attachers.borrow_mut();
        if let Some(a) = attachers.iter_mut().find(|a| a.id == id) {
            a.size = Some((cols, rows));
        }
    }

    pub fn count(&self) -> usize {
        self.attachers.borrow().len()
    }

    /// The size of the terminal that should now drive the PTY.
    fn fallback_size(&self) -> Option<(u16, u16)> {
        let attached = self.attachers.borrow().iter().rev().find_map(|a| a.size);
        attached.or_else(|| {
            self.foreground
                .then(|| crate::term::size_of(std::io::stdin()))
                .flatten()
                .map(|w| (w.ws_col, w.ws_row))
        })
    }
}

impl Runner {
    /// A new attacher; its id is for `attacher_left` and size updates.
    pub fn attacher_joined(&self, queue: Sender<Rc<[u8]>>) -> u64 {
        let id = self.viewers.next_id.get();
        self.viewers.next_id.set(id + 1);
        self.viewers.attachers.borrow_mut().push(Attacher {
            id,
            queue,
            size: None,
        });
        self.publish_attachers();
        id
    }

    /// An attacher's stream ended (detach, error, or dropped as slow):
    /// give the PTY back to the terminal still showing the agent.
    pub fn attacher_left(&self, id: u64) {
        self.viewers.attachers.borrow_mut().retain(|a| a.id != id);
        if !self.alive() {
            return;
        }
        self.publish_attachers();
        let current = {
            let s = self.session.borrow();
            (s.cols, s.rows)
        };
        if let Some((cols, rows)) = self.viewers.fallback_size() {
            if (cols, rows) != current {
                let _ = self.resize(cols, rows);
            }
        }
    }

    fn publish_attachers(&self) {
        let attach = crate::protocol::Attach {
            attachers: self.viewers.count() as u64,
        };
        self.publish(&crate::protocol::RunnerEvent::Attach(attach));
    }

    /// Bytes typed at a terminal (foreground stdin or an attacher, not
    /// `POST /input`): a chunk with Enter is always an `input` event, other
    /// chunks at most every `TYPING_EVERY`. No allocation unless an event
    /// goes out.
    ///
    /// Enter is a carriage return: what a terminal's Enter key sends in raw
    /// mode, where the agents' TUIs read a line feed as a newline inside
    /// their editor. Each one is counted in `meta.submitted`, so a daemon
    /// that restarts learns of input typed while it was away.
    pub fn typed(&self, bytes: &[u8]) {
        let command = self.line.borrow_mut().feed(bytes).pop().flatten();
        let enter = bytes.contains(&b'\r');
        let now = Instant::now();
        self.last_key.set(Some(now));
        if !enter {
            // The first key of a line says someone types; more keys say
            // nothing new unless the agent printed meanwhile (a reply they
            // now see): each event wakes the daemon, a typist's keys must not.
            let last = self.viewers.last_typing.get();
            let news = self.heard.get();
            if last.is_some_and(|t| !news || now.duration_since(t) < TYPING_EVERY) {
                return;
            }
            self.viewers.last_typing.set(Some(now));
            self.heard.set(false);
            let typing = crate::protocol::Input::default();
            self.publish(&crate::protocol::RunnerEvent::Input(typing));
            return;
        }
        self.viewers.last_typing.set(None);
        let submitted = {
            let mut session = self.session.borrow_mut();
            session.submitted += 1;
            session.submitted_ms = crate::daemon::now_ms();
            session.submitted
        };
        let enter = crate::protocol::Input {
            enter: true,
            submitted: Some(submitted),
            command,
        };
        self.publish(&crate::protocol::RunnerEvent::Input(enter));
    }
}
