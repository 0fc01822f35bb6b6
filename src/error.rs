//! The one error type the verbs return to `main`.
//!
//! Each variant knows its exit status (amux(1) lists them). I/O errors keep
//! their `io::Error` as the `source()` together with a short context saying
//! what we were doing, so the one-line message names the file or socket.

use std::{fmt, io};

#[derive(Debug)]
pub enum Error {
    /// Bad command line: exit 2.
    Usage(String),
    /// Bad command line for one verb: exit 2. Named once, as the prefix
    /// of the line (`amux show: missing ID`), with that verb's help.
    VerbUsage { verb: &'static str, message: String },
    /// `amux WORD` where WORD is neither a verb nor a command on `PATH`:
    /// exit 127, as a shell says of a command it cannot find.
    UnknownCommand {
        word: String,
        suggestion: Option<&'static str>,
    },
    /// An I/O failure while doing `context`: exit 1.
    Io { context: String, source: io::Error },
    /// Anything else the user must be told about: exit 1.
    Failed(String),
    /// `wait`: the session ended before the state held: exit 3.
    Ended(String),
    /// `wait`: the timeout passed: exit 124.
    TimedOut(String),
    /// `wait --until idle`: the turn finished in an error: exit 4.
    TurnFailed(String),
    /// No daemon answered, even after starting one and retrying: exit 5.
    Unreachable(String),
    /// Exit quietly with this status (its cause was already reported).
    Exit(u8),
    /// The agent's command could not be started: 127 when it does not
    /// exist, 126 otherwise, as shells do.
    Spawn { program: String, source: io::Error },
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn io(context: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub fn exit_status(&self) -> u8 {
        match self {
            Error::Usage(_) | Error::VerbUsage { .. } => 2,
            Error::UnknownCommand { .. } => 127,
            Error::Io { .. } | Error::Failed(_) => 1,
            Error::Ended(_) => 3,
            Error::TimedOut(_) => 124,
            Error::TurnFailed(_) => 4,
            Error::Unreachable(_) => 5,
            Error::Exit(code) => *code,
            Error::Spawn { source, .. } if source.kind() == io::ErrorKind::NotFound => 127,
            Error::Spawn { .. } => 126,
        }
    }

    /// What the one line on stderr starts with: the verb a usage error
    /// is about, else the program.
    pub fn prefix(&self) -> String {
        match self {
            Error::VerbUsage { verb, .. } => format!("amux {verb}"),
            _ => "amux".into(),
        }
    }

    /// A usage error as one verb's: other errors pass unchanged.
    pub fn in_verb(self, verb: &'static str) -> Error {
        match self {
            Error::Usage(message) => Error::VerbUsage { verb, message },
            other => other,
        }
    }

    /// Our own stdout's reader went away (`amux events | head -1`): the
    /// only broken pipe that is no error. A daemon or runner that closed
    /// on us is one (its refusal was not read).
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Io { context, source }
            if source.kind() == io::ErrorKind::BrokenPipe && context == "stdout")
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(msg) => write!(f, "{msg} (see 'amux --help')"),
            Error::VerbUsage { verb, message } => {
                write!(f, "{message} (see 'amux help {verb}')")
            }
            Error::UnknownCommand { word, suggestion } => {
                write!(f, "unknown verb or command '{word}'")?;
                match suggestion {
                    Some(verb) => write!(f, " (did you mean {verb}?)"),
                    None => write!(f, " (see 'amux --help')"),
                }
            }
            Error::Io { context, source } => write!(f, "{context}: {source}"),
            Error::Failed(msg)
            | Error::Ended(msg)
            | Error::TimedOut(msg)
            | Error::TurnFailed(msg)
            | Error::Unreachable(msg) => f.write_str(msg),
            Error::Exit(code) => write!(f, "exit status {code}"),
            Error::Spawn { program, source } => write!(f, "cannot run {program}: {source}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } | Error::Spawn { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<lexopt::Error> for Error {
    fn from(err: lexopt::Error) -> Self {
        Error::Usage(err.to_string())
    }
}

/// Adds a context to `io::Result`s in the verbs.
pub trait Context<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> Context<T> for io::Result<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| Error::io(what(), source))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_stdouts_broken_pipe_is_no_error() {
        let pipe = || io::Error::from(io::ErrorKind::BrokenPipe);
        assert!(Error::io("stdout", pipe()).is_broken_pipe());
        // The daemon closed on us (a 413 it sent and we never read).
        let daemon = Error::io("daemon at /run/amux/daemon.sock", pipe());
        assert!(!daemon.is_broken_pipe());
        assert_eq!(daemon.exit_status(), 1);
    }
}
