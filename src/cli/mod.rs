//! Command-line front end: takes the hosts (`-H`, before the verb), picks
//! the verb, parses its options (`parse.rs`, against the verb table in
//! `verbs.rs`) into a `Command`, and runs it, here or on the hosts
//! (`hosts.rs`). `amux CMD…` with a CMD that is no verb means `amux run
//! CMD…`. The help (`help.rs`) and the completion scripts (`complete/`)
//! are written from the same table.

mod answer;
mod attach;
mod client;
mod complete;
mod control;
mod dial;
mod explain;
mod fleet;
mod help;
mod hook;
mod hosts;
mod notify;
mod parse;
mod query;
mod run;
mod table;
mod top;
mod verbs;

use crate::error::{Error, Result};
use control::Until;
use std::ffi::OsString;
use std::process::ExitCode;

pub enum Command {
    Help(String),
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
    Explain {
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
    Answer {
        key: String,
        answer: crate::adapters::Answer,
        json: bool,
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
    Notify(notify::Options),
    Top,
    Completions {
        shell: String,
    },
    DialStdio {
        session: Option<String>,
    },
    Hook {
        agent: String,
        event: Option<String>,
    },
}

impl Command {
    /// The session key of a verb about one session.
    fn key_mut(&mut self) -> Option<&mut String> {
        match self {
            Command::Show { key, .. }
            | Command::Explain { key, .. }
            | Command::Wait { key, .. }
            | Command::Send { key, .. }
            | Command::Kill { key }
            | Command::Answer { key, .. }
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
    let command = parse::command(args)?;
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

pub fn run(invocation: Invocation) -> Result<ExitCode> {
    // An agent's hook runs in the agent's environment, where an
    // `AMUX_HOST` the user set means nothing to it.
    if let (Command::Hook { agent, event }, []) = (&invocation.command, invocation.hosts.as_slice())
    {
        return hook::hook(agent, event.as_deref());
    }
    let targets = crate::remote::targets(&invocation.hosts)?;
    hosts::run(targets, invocation.command)
}

/// `cmd` against this thread's target daemon (this machine's unless
/// `hosts` chose another).
fn run_here(cmd: Command) -> Result<ExitCode> {
    match cmd {
        Command::Help(text) => print(&text),
        Command::Version => print(concat!("amux ", env!("CARGO_PKG_VERSION"), "\n")),
        Command::Run(opts, true) => crate::runner::run_detached(opts),
        Command::Run(opts, false) => crate::runner::run(opts),
        Command::Daemon { foreground, worker } => crate::daemon::run(foreground, worker),
        Command::Ls { all, json, wide } => query::ls(all, json, wide),
        Command::Show { key, json } => query::show(&key, json),
        Command::Explain { key, json } => explain::explain(&key, json),
        Command::Events => query::events(),
        Command::Wait {
            key,
            until,
            timeout,
            json,
        } => control::wait(&key, until, timeout, json),
        Command::Send { key, text, enter } => control::send(&key, text, enter),
        Command::Kill { key } => control::kill(&key),
        Command::Answer { key, answer, json } => answer::answer(&key, answer, json),
        Command::Attach { key } => attach::attach(&key),
        Command::Resume { key, detach } => resume(&key, detach),
        Command::Forget { keys, dead } => control::forget(&keys, dead),
        Command::Notify(opts) => notify::notify(opts),
        Command::Top => top::top(Vec::new()),
        Command::Completions { shell } => print(&complete::script(&shell)?),
        Command::DialStdio { session } => dial::dial_stdio(session.as_deref()),
        Command::Hook { agent, event } => hook::hook(&agent, event.as_deref()),
    }
}

fn resume(key: &str, detach: bool) -> Result<ExitCode> {
    let plan = control::resume_plan(key)?;
    let kind = crate::adapters::Kind::detect(&plan.command);
    let caveat = kind.resume_caveat(&|name| std::env::var(name).ok());
    if let Some(caveat) = &caveat {
        eprintln!("amux: {caveat}");
    }
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
        return crate::runner::run_detached(opts);
    }
    let status = crate::runner::run(opts);
    // Said again once the agent's screen is gone (a TUI clears the one
    // it was said on).
    if let Some(caveat) = &caveat {
        eprintln!("amux: {caveat}");
    }
    status
}

fn print(text: &str) -> Result<ExitCode> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| Error::io("stdout", e))?;
    Ok(ExitCode::SUCCESS)
}
