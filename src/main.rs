//! `amux`: parse the command line, run the verb, map the outcome to an exit
//! status. Nothing else lives here; each verb is in `cli/`.
//!
//! Exit statuses (see amux(1)): 0 success, 1 failure, 2 usage error, 3
//! `wait` saw the session end first, 124 `wait` timed out, 127 an unknown
//! verb or command; `run` passes the agent's own status through (128+N for
//! signal N).

#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

mod adapters;
mod ansi;
mod attribution;
mod cli;
mod daemon;
mod error;
mod frame;
mod guess;
mod hash;
mod http;
mod id;
mod paths;
mod procfs;
mod protocol;
mod pty;
mod remote;
mod runner;
#[cfg(test)]
mod scratch;
mod stdio;
mod term;
mod timefmt;
mod transport;

use std::process::ExitCode;

fn main() -> ExitCode {
    match cli::parse(std::env::args_os().skip(1)).and_then(cli::run) {
        Ok(code) => code,
        Err(err) => {
            // A reader that went away (`amux events | head -1`) is not an
            // error for a pipeline: the output it wanted was delivered.
            if err.is_broken_pipe() {
                return ExitCode::SUCCESS;
            }
            if !matches!(err, error::Error::Exit(_)) {
                eprintln!("{}: {err}", err.prefix());
            }
            ExitCode::from(err.exit_status())
        }
    }
}
