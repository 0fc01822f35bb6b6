//! Command-line front end: picks the verb, hands it the `lexopt` parser,
//! and runs it. `amux CMD…` with a CMD that is no verb means `amux run
//! CMD…`. Each verb's options are parsed in its own file; help texts live
//! in `help.rs`.

mod help;
mod run;

use crate::error::{Error, Result};
use std::ffi::OsString;
use std::process::ExitCode;

pub enum Command {
    Help(&'static str),
    Version,
    Run(crate::runner::Options, bool),
}

pub const VERBS: &[&str] = &["run", "help"];

pub fn parse(args: impl Iterator<Item = OsString>) -> Result<Command> {
    let args: Vec<OsString> = args.collect();
    let Some(first) = args.first() else {
        return Ok(Command::Help(help::MAIN));
    };
    let rest = args[1..].to_vec();
    match first.to_str() {
        Some("-h" | "--help" | "help") => Ok(Command::Help(help::MAIN)),
        Some("-V" | "--version") => Ok(Command::Version),
        Some("run") => run::parse(rest),
        Some(opt) if opt.starts_with('-') && opt != "-d" => {
            Err(Error::Usage(format!("unknown option {opt}")))
        }
        // Not a verb: the command to run.
        _ => run::parse(args),
    }
}

pub fn run(cmd: Command) -> Result<ExitCode> {
    match cmd {
        Command::Help(text) => print(text),
        Command::Version => print(concat!("amux ", env!("CARGO_PKG_VERSION"), "\n")),
        Command::Run(opts, detach) => {
            if detach {
                crate::runner::run_detached(opts)
            } else {
                crate::runner::run(opts)
            }
        }
    }
}

fn print(text: &str) -> Result<ExitCode> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| Error::io("stdout", e))?;
    Ok(ExitCode::SUCCESS)
}
