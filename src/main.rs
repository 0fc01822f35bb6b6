//! `amux`: parse the command line, run the verb, map the outcome to an exit
//! status. Nothing else lives here; each verb is in `cli/`, and every module
//! is the library's (lib.rs), which the fuzz targets link too.
//!
//! Exit statuses (see amux(1)): 0 success, 1 failure, 2 usage error, 3
//! `wait` saw the session end first, 4 `wait --until idle` saw the turn
//! end in an error, 5 no daemon answered (even after starting one), 124
//! `wait` timed out, 126 `run`'s command exists but cannot be executed,
//! 127 `run`'s command was not found (or `amux WORD` names neither a verb
//! nor a program); `run` passes the agent's own status through (128+N for
//! signal N).

#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

use std::process::ExitCode;

fn main() -> ExitCode {
    match amux::parse(std::env::args_os().skip(1)).and_then(amux::run) {
        Ok(code) => code,
        Err(err) => {
            // A reader that went away (`amux events | head -1`) is not an
            // error for a pipeline: the output it wanted was delivered.
            if err.is_broken_pipe() {
                return ExitCode::SUCCESS;
            }
            if !matches!(err, amux::Error::Exit(_)) {
                eprintln!("{}: {err}", err.prefix());
            }
            ExitCode::from(err.exit_status())
        }
    }
}
