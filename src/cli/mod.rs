//! Command-line front end: takes the hosts (`-H`, before the verb), picks
//! the verb, parses its options with `lexopt` into a `Command`, and runs
//! it, here or on the hosts (`hosts.rs`). `amux CMD…` with a CMD that is
//! no verb means `amux run CMD…`. Help texts live in `help.rs`.

mod attach;
mod client;
mod control;
mod dial;
mod fleet;
mod help;
mod hosts;
mod query;
mod run;

use crate::error::{Error, Result};
use control::Until;
use lexopt::prelude::*;
use std::ffi::OsString;
use std::process::ExitCode;

pub enum Command {
    Help(&'static str),
    Version,
    Run(crate::runner::Options, bool),
    Daemon {
        foreground: bool,
        worker: bool,
    },
    Ls {
        all: bool,
        json: bool,
    },
    Show {
        key: String,
        json: bool,
    },
    Events,
    Wait {
        key: String,
        until: Until,
        timeout: Option<f64>,
        json: bool,
    },
    Send {
        key: String,
        text: Option<String>,
        enter: bool,
    },
    Kill {
        key: String,
    },
    Attach {
        key: String,
    },
    Resume {
        key: String,
        detach: bool,
    },
    Completions {
        shell: String,
    },
    DialStdio {
        session: Option<String>,
    },
}

impl Command {
    /// The session key of a verb about one session.
    fn key_mut(&mut self) -> Option<&mut String> {
        match self {
            Command::Show { key, .. }
            | Command::Wait { key, .. }
            | Command::Send { key, .. }
            | Command::Kill { key }
            | Command::Attach { key }
            | Command::Resume { key, .. } => Some(key),
            _ => None,
        }
    }
}

/// A command line: the hosts `-H` named, and the verb.
pub struct Invocation {
    pub hosts: Vec<String>,
    pub command: Command,
}

pub fn parse(args: impl Iterator<Item = OsString>) -> Result<Invocation> {
    let mut args: Vec<OsString> = args.collect();
    let hosts = take_hosts(&mut args)?;
    let command = parse_verb(args)?;
    Ok(Invocation { hosts, command })
}

/// `-H HOST`, `-HHOST`, `--host HOST`, `--host=HOST` before the verb,
/// any number of times (each may be a comma-separated list).
fn take_hosts(args: &mut Vec<OsString>) -> Result<Vec<String>> {
    let mut hosts = Vec::new();
    loop {
        let Some(first) = args.first().and_then(|a| a.to_str()).map(str::to_string) else {
            return Ok(hosts);
        };
        let inline = first
            .strip_prefix("--host=")
            .or_else(|| first.strip_prefix("-H").filter(|v| !v.is_empty()));
        let value = match (first.as_str(), inline) {
            (_, Some(v)) => v.to_string(),
            ("-H" | "--host", None) => {
                args.remove(0);
                let v = args.first().and_then(|a| a.to_str());
                v.ok_or_else(|| Error::Usage(format!("{first} needs a host")))?
                    .to_string()
            }
            _ => return Ok(hosts),
        };
        args.remove(0);
        hosts.extend(
            value
                .split(',')
                .filter(|h| !h.is_empty())
                .map(str::to_string),
        );
    }
}

fn parse_verb(args: Vec<OsString>) -> Result<Command> {
    let Some(first) = args.first() else {
        return Ok(Command::Help(help::MAIN));
    };
    let mut parser = lexopt::Parser::from_args(args[1..].to_vec());
    match first.to_str() {
        Some("-h" | "--help" | "help") => Ok(Command::Help(help::MAIN)),
        Some("-V" | "--version") => Ok(Command::Version),
        Some("run") => run::parse(args[1..].to_vec()),
        Some("daemon") => parse_daemon(&mut parser),
        Some("ls") => parse_ls(&mut parser),
        Some("show") => parse_show(&mut parser),
        Some("events") => no_args(&mut parser, help::EVENTS, Command::Events),
        Some("wait") => parse_wait(&mut parser),
        Some("send") => parse_send(&mut parser),
        Some("kill") => keyed(&mut parser, help::KILL, |key| Command::Kill { key }),
        Some("attach") => keyed(&mut parser, help::ATTACH, |key| Command::Attach { key }),
        Some("resume") => parse_resume(&mut parser),
        Some("completions") => keyed(&mut parser, help::COMPLETIONS, |shell| {
            Command::Completions { shell }
        }),
        Some("dial-stdio") => parse_dial(&mut parser),
        Some(opt) if opt.starts_with('-') && opt != "-d" && opt != "--" => {
            Err(Error::Usage(format!("unknown option {opt}")))
        }
        // Not a verb: the command to run.
        _ => run::parse(args),
    }
}

/// `-h`/`--help` anywhere in a verb's options prints its help.
macro_rules! help_check {
    ($arg:expr, $text:expr) => {
        if matches!($arg, Short('h') | Long("help")) {
            return Ok(Command::Help($text));
        }
        if matches!($arg, Short('V') | Long("version")) {
            return Ok(Command::Version);
        }
    };
}

fn parse_daemon(p: &mut lexopt::Parser) -> Result<Command> {
    let (mut foreground, mut worker) = (false, false);
    while let Some(arg) = p.next()? {
        help_check!(arg, help::DAEMON);
        match arg {
            Long("foreground") => foreground = true,
            Long("detached-worker") => worker = true,
            _ => return Err(arg.unexpected().into()),
        }
    }
    Ok(Command::Daemon { foreground, worker })
}

fn parse_ls(p: &mut lexopt::Parser) -> Result<Command> {
    let (mut all, mut json) = (false, false);
    while let Some(arg) = p.next()? {
        help_check!(arg, help::LS);
        match arg {
            Short('a') | Long("all") => all = true,
            Long("json") => json = true,
            _ => return Err(arg.unexpected().into()),
        }
    }
    Ok(Command::Ls { all, json })
}

fn parse_show(p: &mut lexopt::Parser) -> Result<Command> {
    let (mut key, mut json) = (None, false);
    while let Some(arg) = p.next()? {
        help_check!(arg, help::SHOW);
        match arg {
            Long("json") => json = true,
            Value(v) if key.is_none() => key = Some(v.string()?),
            _ => return Err(arg.unexpected().into()),
        }
    }
    Ok(Command::Show {
        key: key.ok_or_else(|| missing("show", "ID"))?,
        json,
    })
}

fn parse_wait(p: &mut lexopt::Parser) -> Result<Command> {
    let (mut key, mut until, mut timeout, mut json) = (None, Until::Idle, None, false);
    while let Some(arg) = p.next()? {
        help_check!(arg, help::WAIT);
        match arg {
            Long("until") => until = Until::parse(&p.value()?.string()?)?,
            Long("timeout") => {
                let secs: f64 = p.value()?.parse()?;
                if !(secs.is_finite() && secs >= 0.0) {
                    return Err(Error::Usage("--timeout takes a number of seconds".into()));
                }
                timeout = Some(secs);
            }
            Long("json") => json = true,
            Value(v) if key.is_none() => key = Some(v.string()?),
            _ => return Err(arg.unexpected().into()),
        }
    }
    Ok(Command::Wait {
        key: key.ok_or_else(|| missing("wait", "ID"))?,
        until,
        timeout,
        json,
    })
}

fn parse_send(p: &mut lexopt::Parser) -> Result<Command> {
    let (mut key, mut text, mut enter) = (None, None, false);
    while let Some(arg) = p.next()? {
        help_check!(arg, help::SEND);
        match arg {
            Short('e') | Long("enter") => enter = true,
            Value(v) if key.is_none() => key = Some(v.string()?),
            Value(v) if text.is_none() => text = Some(v.string()?),
            _ => return Err(arg.unexpected().into()),
        }
    }
    let key = key.ok_or_else(|| missing("send", "ID"))?;
    let text = match text.as_deref() {
        None => return Err(missing("send", "TEXT (or - for stdin)")),
        Some("-") => None,
        Some(_) => text,
    };
    Ok(Command::Send { key, text, enter })
}

fn parse_resume(p: &mut lexopt::Parser) -> Result<Command> {
    let (mut key, mut detach) = (None, false);
    while let Some(arg) = p.next()? {
        help_check!(arg, help::RESUME);
        match arg {
            Short('d') | Long("detach") => detach = true,
            Value(v) if key.is_none() => key = Some(v.string()?),
            _ => return Err(arg.unexpected().into()),
        }
    }
    Ok(Command::Resume {
        key: key.ok_or_else(|| missing("resume", "ID"))?,
        detach,
    })
}

fn parse_dial(p: &mut lexopt::Parser) -> Result<Command> {
    let mut session = None;
    while let Some(arg) = p.next()? {
        help_check!(arg, help::DIAL_STDIO);
        match arg {
            Long("session") => session = Some(p.value()?.string()?),
            _ => return Err(arg.unexpected().into()),
        }
    }
    Ok(Command::DialStdio { session })
}

/// A verb whose only argument is one key (or word).
fn keyed(
    p: &mut lexopt::Parser,
    text: &'static str,
    make: impl FnOnce(String) -> Command,
) -> Result<Command> {
    let mut key = None;
    while let Some(arg) = p.next()? {
        help_check!(arg, text);
        match arg {
            Value(v) if key.is_none() => key = Some(v.string()?),
            _ => return Err(arg.unexpected().into()),
        }
    }
    let usage = text.lines().next().unwrap_or("");
    key.map(make)
        .ok_or_else(|| Error::Usage(format!("missing argument; {usage}")))
}

fn no_args(p: &mut lexopt::Parser, text: &'static str, cmd: Command) -> Result<Command> {
    if let Some(arg) = p.next()? {
        help_check!(arg, text);
        return Err(arg.unexpected().into());
    }
    Ok(cmd)
}

fn missing(verb: &str, what: &str) -> Error {
    Error::Usage(format!("amux {verb}: missing {what}"))
}

pub fn run(invocation: Invocation) -> Result<ExitCode> {
    let targets = crate::remote::targets(&invocation.hosts)?;
    hosts::run(targets, invocation.command)
}

/// `cmd` against this thread's target daemon (this machine's unless
/// `hosts` chose another).
fn run_here(cmd: Command) -> Result<ExitCode> {
    match cmd {
        Command::Help(text) => print(text),
        Command::Version => print(concat!("amux ", env!("CARGO_PKG_VERSION"), "\n")),
        Command::Run(opts, true) => crate::runner::run_detached(opts),
        Command::Run(opts, false) => crate::runner::run(opts),
        Command::Daemon { foreground, worker } => crate::daemon::run(foreground, worker),
        Command::Ls { all, json } => query::ls(all, json),
        Command::Show { key, json } => query::show(&key, json),
        Command::Events => query::events(),
        Command::Wait {
            key,
            until,
            timeout,
            json,
        } => control::wait(&key, until, timeout, json),
        Command::Send { key, text, enter } => control::send(&key, text, enter),
        Command::Kill { key } => control::kill(&key),
        Command::Attach { key } => attach::attach(&key),
        Command::Resume { key, detach } => resume(&key, detach),
        Command::Completions { shell } => print(help::completions(&shell)?),
        Command::DialStdio { session } => dial::dial_stdio(session.as_deref()),
    }
}

fn resume(key: &str, detach: bool) -> Result<ExitCode> {
    let plan = control::resume_plan(key)?;
    let cwd = &plan.cwd;
    std::env::set_current_dir(cwd).map_err(|e| Error::io(format!("cannot enter {cwd}"), e))?;
    let opts = crate::runner::Options {
        size: None,
        keep: crate::runner::DEFAULT_KEEP,
        argv: plan.command.into_iter().map(OsString::from).collect(),
        detached_worker: false,
        inject: true,
    };
    if detach {
        crate::runner::run_detached(opts)
    } else {
        crate::runner::run(opts)
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
