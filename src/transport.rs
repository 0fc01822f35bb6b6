//! How a client reaches a server: `Connect` names the far end, `open`
//! gives a `Stream` to speak HTTP/1.1 over.
//!
//! A `Stream` is a read half and a write half, each boxed, so that one
//! type carries any byte pipe: both halves of one Unix socket (a cheap
//! clone of the same fd), or a child process's stdout and stdin (`ssh -T
//! HOST amux dial-stdio`, `ssh.rs`), two separate fds that cannot be
//! cloned into each other. Nothing above
//! this module knows which it has: the HTTP client and server take any
//! `AsyncRead + AsyncWrite`, and whoever needs to read and write at once
//! (attach, the SSE pump) takes the halves apart with `split`.
//!
//! A variant's `open` does all its connecting (and, for a process, its
//! spawning), so a deadline around `open` and the request covers both.

mod ssh;

use crate::remote::Host;
use async_net::unix::UnixStream;
use futures_lite::{AsyncRead, AsyncWrite};
use std::fmt;
use std::io;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Where a server listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Connect {
    /// A Unix stream socket: the daemon's, or a runner's.
    Unix(PathBuf),
    /// Another host's daemon (`session: None`) or one of its runners,
    /// through `ssh HOST amux dial-stdio [--session ID]`.
    Ssh { host: Host, session: Option<String> },
}

impl Connect {
    /// The per-user daemon's socket in the runtime directory.
    pub fn daemon() -> Connect {
        Connect::Unix(crate::paths::daemon_socket())
    }

    /// A runner's socket, for the daemon, which finds the runners and
    /// tells clients how to reach one (they never build the path).
    pub fn runner(id: &str) -> Connect {
        Connect::Unix(crate::paths::session_socket(id))
    }

    /// Session `id`'s runner on the same host, whose socket the daemon
    /// named: reached the way this one is.
    pub fn same_host(&self, id: &str, socket: PathBuf) -> Connect {
        match self {
            Connect::Unix(_) => Connect::Unix(socket),
            Connect::Ssh { host, .. } => Connect::Ssh {
                host: host.clone(),
                session: Some(id.to_string()),
            },
        }
    }

    pub async fn open(&self) -> io::Result<Stream> {
        match self {
            Connect::Unix(path) => UnixStream::connect(path).await.map(Stream::from),
            Connect::Ssh { host, session } => ssh::open(host, session.as_deref()),
        }
    }
}

/// For error messages: "daemon at /run/…/daemon.sock".
impl fmt::Display for Connect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Connect::Unix(path) => write!(f, "{}", path.display()),
            Connect::Ssh { host, .. } => write!(f, "{} (over ssh)", host.label),
        }
    }
}

pub type Reader = Box<dyn AsyncRead + Unpin>;
pub type Writer = Box<dyn AsyncWrite + Unpin>;

/// A duplex byte stream made of two halves.
pub struct Stream {
    reader: Reader,
    writer: Writer,
    /// The socket both halves share, when it is one (see `into_hot`).
    unix: Option<UnixStream>,
    /// Set by `into_hot` for halves that move themselves (ssh's pipes).
    go_hot: Option<ssh::GoHot>,
}

impl Stream {
    /// Any read half with any write half (a child's stdout and stdin, two
    /// pipes in a test).
    pub fn new(
        reader: impl AsyncRead + Unpin + 'static,
        writer: impl AsyncWrite + Unpin + 'static,
    ) -> Stream {
        Stream {
            reader: Box::new(reader),
            writer: Box::new(writer),
            unix: None,
            go_hot: None,
        }
    }

    /// The same stream waited on by the thread running `hot::block_on`
    /// (an attach's keystrokes and output): a Unix socket, or ssh's pipes,
    /// move from async-io's reactor to that thread's; other streams stay
    /// as they are. Call it inside `hot::block_on` only.
    pub fn into_hot(self) -> Stream {
        if let Some(go_hot) = &self.go_hot {
            go_hot.set(true);
            return self;
        }
        let Some(unix) = self.unix.as_ref() else {
            return self;
        };
        let Ok(fd) = unix.as_fd().try_clone_to_owned() else {
            return self;
        };
        // Dropping the async-net halves deregisters the socket's first fd
        // and closes it; the copy shares its (non-blocking) description.
        drop(self);
        let socket = crate::hot::Hot::new(std::os::unix::net::UnixStream::from(fd));
        Stream::new(socket.clone(), socket)
    }

    /// The halves, to read and write from two tasks at once.
    pub fn split(self) -> (Reader, Writer) {
        (self.reader, self.writer)
    }
}

/// Both halves share the socket (`async-net` streams are reference
/// counted): no lock between a reader and a writer.
impl From<UnixStream> for Stream {
    fn from(stream: UnixStream) -> Stream {
        Stream {
            unix: Some(stream.clone()),
            ..Stream::new(stream.clone(), stream)
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.reader).poll_read(cx, buf)
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.writer).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.writer).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.writer).poll_close(cx)
    }
}
