//! `amux run [-d] [--size COLSxROWS] [--keep BYTES] [--no-inject] [--] CMD [ARGS…]`.
//!
//! Options end at the first word that is not one of ours (or at `--`);
//! everything after it belongs to the agent untouched, via `raw_args()`.

use super::parse::{next, Arg};
use super::verbs::Verb;
use super::Command;
use crate::error::{Error, Result};
use crate::runner::Options;
use std::ffi::OsString;

/// `run`'s options and command; `verb` is `run`'s line in the table.
pub fn parse(args: Vec<OsString>, verb: &'static Verb) -> Result<Command> {
    let mut parser = lexopt::Parser::from_args(args);
    let mut opts = Options {
        size: None,
        keep: crate::runner::DEFAULT_KEEP,
        argv: Vec::new(),
        detached_worker: false,
        inject: true,
    };
    let mut detach = false;
    while let Some(arg) = next(&mut parser, verb)? {
        match arg {
            Arg::Stop(cmd) => return Ok(cmd),
            Arg::Flag("detach") => detach = true,
            Arg::Option("size", v) => opts.size = Some(parse_size(&v)?),
            Arg::Option("keep", v) => opts.keep = parse_keep(&v)?,
            Arg::Flag("detached-worker") => opts.detached_worker = true,
            Arg::Flag("no-inject") => opts.inject = false,
            Arg::Value(first) => {
                opts.argv.push(first);
                opts.argv.extend(parser.raw_args()?);
            }
            arg => return Err(arg.unexpected()),
        }
    }
    if opts.argv.is_empty() {
        // `--` ends our options; what follows is the command.
        opts.argv.extend(parser.raw_args()?);
    }
    Ok(Command::Run(opts, detach))
}

fn parse_keep(text: &str) -> Result<usize> {
    text.parse()
        .map_err(|_| Error::Usage(format!("--keep takes a number of bytes, not {text:?}")))
}

/// Whether `program` (a bare name) is an executable file in a `PATH`
/// directory, as `execvp` would find it (an empty entry is `.`).
pub fn on_path(program: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|dir| {
        let dir = if dir.as_os_str().is_empty() {
            std::path::PathBuf::from(".")
        } else {
            dir
        };
        let file = dir.join(program);
        file.is_file() && rustix::fs::access(&file, rustix::fs::Access::EXEC_OK).is_ok()
    })
}

fn parse_size(text: &str) -> Result<(u16, u16)> {
    let parsed = text
        .split_once('x')
        .and_then(|(c, r)| Some((c.parse::<u16>().ok()?, r.parse::<u16>().ok()?)));
    match parsed {
        Some((c, r)) if c > 0 && r > 0 => Ok((c, r)),
        _ => Err(Error::Usage(format!(
            "--size takes COLSxROWS, like 120x40, not {text:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    fn parse(args: Vec<OsString>) -> Result<Command> {
        super::parse(args, crate::cli::verbs::find("run").unwrap())
    }

    #[test]
    fn options_stop_at_the_command() {
        let Command::Run(opts, detach) = parse(argv(&["-d", "pi", "-d", "--size", "1x1"])).unwrap()
        else {
            panic!()
        };
        assert!(detach);
        assert_eq!(opts.argv, argv(&["pi", "-d", "--size", "1x1"]));
        let Command::Run(opts, _) = parse(argv(&["--size", "100x30", "--", "-x"])).unwrap() else {
            panic!()
        };
        assert_eq!((opts.size, opts.argv), (Some((100, 30)), argv(&["-x"])));
        assert!(parse(argv(&["--size", "0x5", "sh"])).is_err());
        assert!(parse(argv(&["--bogus"])).is_err());
    }
}
