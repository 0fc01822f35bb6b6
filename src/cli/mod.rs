//! Command-line front end: picks the verb, hands it the `lexopt` parser,
//! and runs it. Verbs live in their own files.

use crate::error::Result;
use std::ffi::OsString;
use std::process::ExitCode;

pub enum Command {
    Help,
}

pub fn parse(_args: impl Iterator<Item = OsString>) -> Result<Command> {
    Ok(Command::Help)
}

pub fn run(_cmd: Command) -> Result<ExitCode> {
    Ok(ExitCode::SUCCESS)
}
