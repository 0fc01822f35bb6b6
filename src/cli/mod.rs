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
mod table;

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
        wide: bool,
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
    Forget {
        keys: Vec<String>,
        dead: bool,
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
    let rest = args[1..].to_vec();
    match first.to_str() {
        Some("-h" | "--help") => Ok(Command::Help(help::MAIN)),
        Some("-V" | "--version") => Ok(Command::Version),
        Some(word) => match help::VERBS.iter().find(|(v, _)| *v == word) {
            Some((verb, _)) => parse_named(verb, rest).map_err(|e| e.in_verb(verb)),
            None if word.starts_with('-') && word != "-d" && word != "--" => {
                Err(Error::Usage(format!("unknown option {word}")))
            }
            None => implicit_run(args),
        },
        None => implicit_run(args),
    }
}

/// `amux help [VERB]`: the general help, or the verb's own.
fn parse_help(args: Vec<OsString>) -> Result<Command> {
    let Some(word) = args.first() else {
        return Ok(Command::Help(help::MAIN));
    };
    let word = word.to_string_lossy();
    if word == "-h" || word == "--help" {
        return Ok(Command::Help(help::HELP));
    }
    match help::VERBS.iter().find(|(v, _)| *v == word) {
        Some((_, text)) if args.len() == 1 => Ok(Command::Help(text)),
        Some(_) => Err(Error::Usage("help takes one verb".into())),
        None => Err(Error::Usage(format!("no verb {word:?}"))),
    }
}

/// The options of `verb`, one of `help::VERBS`.
fn parse_named(verb: &'static str, args: Vec<OsString>) -> Result<Command> {
    let mut parser = lexopt::Parser::from_args(args.clone());
    let p = &mut parser;
    match verb {
        "run" => run::parse(args),
        "daemon" => parse_daemon(p),
        "ls" => parse_ls(p),
        "show" => parse_show(p),
        "events" => no_args(p, help::EVENTS, Command::Events),
        "wait" => parse_wait(p),
        "send" => parse_send(p),
        "kill" => keyed(p, help::KILL, "ID", |key| Command::Kill { key }),
        "attach" => keyed(p, help::ATTACH, "ID", |key| Command::Attach { key }),
        "resume" => parse_resume(p),
        "forget" => parse_forget(p),
        "completions" => keyed(p, help::COMPLETIONS, "SHELL (bash, zsh or fish)", |shell| {
            Command::Completions { shell }
        }),
        "dial-stdio" => parse_dial(p),
        "help" => parse_help(args),
        _ => unreachable!("help::VERBS names {verb} but nothing parses it"),
    }
}

/// `amux CMD…` for a CMD that is no verb: `amux run CMD…`, once we know
/// CMD is a program. A word that is neither (a mistyped verb) is told so
/// here, before anything is started or created.
fn implicit_run(args: Vec<OsString>) -> Result<Command> {
    let command = run::parse(args)?;
    if let Command::Run(opts, _) = &command {
        if let Some(program) = opts.argv.first().and_then(|p| p.to_str()) {
            if !program.contains('/') && !run::on_path(program) {
                return Err(Error::UnknownCommand {
                    word: program.to_string(),
                    suggestion: help::closest_verb(program),
                });
            }
        }
    }
    Ok(command)
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
    let (mut all, mut json, mut wide) = (false, false, false);
    while let Some(arg) = p.next()? {
        help_check!(arg, help::LS);
        match arg {
            Short('a') | Long("all") => all = true,
            Long("json") => json = true,
            Short('w') | Long("wide") => wide = true,
            _ => return Err(arg.unexpected().into()),
        }
    }
    Ok(Command::Ls { all, json, wide })
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
        key: key.ok_or_else(|| missing("ID"))?,
        json,
    })
}

fn parse_wait(p: &mut lexopt::Parser) -> Result<Command> {
    let (mut key, mut until, mut timeout, mut json) = (None, Until::Idle, None, false);
    while let Some(arg) = p.next()? {
        help_check!(arg, help::WAIT);
        match arg {
            Long("until") => until = Until::parse(&p.value()?.string()?)?,
            Long("timeout") => timeout = Some(seconds(&p.value()?.string()?)?),
            Long("json") => json = true,
            Value(v) if key.is_none() => key = Some(v.string()?),
            _ => return Err(arg.unexpected().into()),
        }
    }
    Ok(Command::Wait {
        key: key.ok_or_else(|| missing("ID"))?,
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
    let key = key.ok_or_else(|| missing("ID"))?;
    let text = match text.as_deref() {
        None => return Err(missing("TEXT (or - for stdin)")),
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
        key: key.ok_or_else(|| missing("ID"))?,
        detach,
    })
}

fn parse_forget(p: &mut lexopt::Parser) -> Result<Command> {
    let (mut keys, mut dead) = (Vec::new(), false);
    while let Some(arg) = p.next()? {
        help_check!(arg, help::FORGET);
        match arg {
            Long("dead") => dead = true,
            Value(v) => keys.push(v.string()?),
            _ => return Err(arg.unexpected().into()),
        }
    }
    if keys.is_empty() && !dead {
        return Err(missing("ID (or --dead)"));
    }
    Ok(Command::Forget { keys, dead })
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

/// `--timeout`'s value: seconds, zero or more, fractions allowed.
fn seconds(text: &str) -> Result<f64> {
    let secs = text.parse::<f64>().ok();
    secs.filter(|s| s.is_finite() && *s >= 0.0)
        .ok_or_else(|| Error::Usage(format!("--timeout takes a number of seconds, not {text:?}")))
}

/// A verb whose only argument is one key (or word), `what` when missing.
fn keyed(
    p: &mut lexopt::Parser,
    text: &'static str,
    what: &str,
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
    key.map(make).ok_or_else(|| missing(what))
}

fn no_args(p: &mut lexopt::Parser, text: &'static str, cmd: Command) -> Result<Command> {
    if let Some(arg) = p.next()? {
        help_check!(arg, text);
        return Err(arg.unexpected().into());
    }
    Ok(cmd)
}

/// A required argument is missing (the verb is named by `in_verb`).
fn missing(what: &str) -> Error {
    Error::Usage(format!("missing {what}"))
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
        Command::Ls { all, json, wide } => query::ls(all, json, wide),
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
        Command::Forget { keys, dead } => control::forget(&keys, dead),
        Command::Completions { shell } => print(help::completions(&shell)?),
        Command::DialStdio { session } => dial::dial_stdio(session.as_deref()),
    }
}

fn resume(key: &str, detach: bool) -> Result<ExitCode> {
    let plan = control::resume_plan(key)?;
    // Marked before it runs (a foreground run returns only when the agent
    // ends): completion and `ls --all` stop offering the old record.
    control::mark_resumed(&plan.id)?;
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
