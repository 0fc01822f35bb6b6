//! One parser per verb (but run's, in `run.rs`): a lexopt loop over
//! `next`, which has already resolved each option against the table.

use super::{next, Arg};
use crate::cli::verbs::Verb;
use crate::cli::{Command, Until};
use crate::error::{Error, Result};
use lexopt::ValueExt;

pub(super) fn parse_daemon(p: &mut lexopt::Parser, verb: &'static Verb) -> Result<Command> {
    let (mut foreground, mut worker) = (false, false);
    while let Some(arg) = next(p, verb)? {
        match arg {
            Arg::Stop(cmd) => return Ok(cmd),
            Arg::Flag("foreground") => foreground = true,
            Arg::Flag("detached-worker") => worker = true,
            arg => return Err(arg.unexpected()),
        }
    }
    Ok(Command::Daemon { foreground, worker })
}

pub(super) fn parse_ls(p: &mut lexopt::Parser, verb: &'static Verb) -> Result<Command> {
    let (mut all, mut json, mut wide) = (false, false, false);
    while let Some(arg) = next(p, verb)? {
        match arg {
            Arg::Stop(cmd) => return Ok(cmd),
            Arg::Flag("all") => all = true,
            Arg::Flag("json") => json = true,
            Arg::Flag("wide") => wide = true,
            arg => return Err(arg.unexpected()),
        }
    }
    Ok(Command::Ls { all, json, wide })
}

pub(super) fn parse_show(p: &mut lexopt::Parser, verb: &'static Verb) -> Result<Command> {
    let (mut key, mut json) = (None, false);
    while let Some(arg) = next(p, verb)? {
        match arg {
            Arg::Stop(cmd) => return Ok(cmd),
            Arg::Flag("json") => json = true,
            Arg::Value(v) if key.is_none() => key = Some(v.string()?),
            arg => return Err(arg.unexpected()),
        }
    }
    Ok(Command::Show {
        key: key.ok_or_else(|| missing("ID"))?,
        json,
    })
}

/// `explain` takes what `show` takes.
pub(super) fn parse_explain(p: &mut lexopt::Parser, verb: &'static Verb) -> Result<Command> {
    match parse_show(p, verb)? {
        Command::Show { key, json } => Ok(Command::Explain { key, json }),
        other => Ok(other),
    }
}

pub(super) fn parse_wait(p: &mut lexopt::Parser, verb: &'static Verb) -> Result<Command> {
    let (mut key, mut until, mut timeout, mut json) = (None, Until::Idle, None, false);
    while let Some(arg) = next(p, verb)? {
        match arg {
            Arg::Stop(cmd) => return Ok(cmd),
            Arg::Option("until", v) => until = Until::parse(&v)?,
            Arg::Option("timeout", v) => timeout = Some(seconds("--timeout", &v)?),
            Arg::Flag("json") => json = true,
            Arg::Value(v) if key.is_none() => key = Some(v.string()?),
            arg => return Err(arg.unexpected()),
        }
    }
    Ok(Command::Wait {
        key: key.ok_or_else(|| missing("ID"))?,
        until,
        timeout,
        json,
    })
}

pub(super) fn parse_send(p: &mut lexopt::Parser, verb: &'static Verb) -> Result<Command> {
    let (mut key, mut text, mut enter) = (None, None, false);
    while let Some(arg) = next(p, verb)? {
        match arg {
            Arg::Stop(cmd) => return Ok(cmd),
            Arg::Flag("enter") => enter = true,
            Arg::Value(v) if key.is_none() => key = Some(v.string()?),
            Arg::Value(v) if text.is_none() => text = Some(v.string()?),
            arg => return Err(arg.unexpected()),
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

pub(super) fn parse_answer(p: &mut lexopt::Parser, verb: &'static Verb) -> Result<Command> {
    let (mut key, mut answer, mut json) = (None, None, false);
    while let Some(arg) = next(p, verb)? {
        match arg {
            Arg::Stop(cmd) => return Ok(cmd),
            Arg::Flag("json") => json = true,
            Arg::Value(v) if key.is_none() => key = Some(v.string()?),
            Arg::Value(v) if answer.is_none() => {
                let word = v.string()?;
                let parsed = crate::adapters::Answer::parse(&word);
                let why = || Error::Usage(format!("answer yes, no or always, not {word:?}"));
                answer = Some(parsed.ok_or_else(why)?);
            }
            arg => return Err(arg.unexpected()),
        }
    }
    Ok(Command::Answer {
        key: key.ok_or_else(|| missing("ID"))?,
        answer: answer.ok_or_else(|| missing("yes, no or always"))?,
        json,
    })
}

pub(super) fn parse_notify(p: &mut lexopt::Parser, verb: &'static Verb) -> Result<Command> {
    use crate::cli::notify::{Options, DEFAULT_GRACE};
    let mut opts = Options {
        exec: None,
        grace: DEFAULT_GRACE,
        desktop: true,
        osc: true,
    };
    while let Some(arg) = next(p, verb)? {
        match arg {
            Arg::Stop(cmd) => return Ok(cmd),
            Arg::Option("exec", v) => opts.exec = Some(v),
            Arg::Option("grace", v) => opts.grace = seconds("--grace", &v)?,
            Arg::Flag("no-desktop") => opts.desktop = false,
            Arg::Flag("no-osc") => opts.osc = false,
            arg => return Err(arg.unexpected()),
        }
    }
    Ok(Command::Notify(opts))
}

pub(super) fn parse_resume(p: &mut lexopt::Parser, verb: &'static Verb) -> Result<Command> {
    let (mut key, mut detach) = (None, false);
    while let Some(arg) = next(p, verb)? {
        match arg {
            Arg::Stop(cmd) => return Ok(cmd),
            Arg::Flag("detach") => detach = true,
            Arg::Value(v) if key.is_none() => key = Some(v.string()?),
            arg => return Err(arg.unexpected()),
        }
    }
    Ok(Command::Resume {
        key: key.ok_or_else(|| missing("ID"))?,
        detach,
    })
}

pub(super) fn parse_forget(p: &mut lexopt::Parser, verb: &'static Verb) -> Result<Command> {
    let (mut keys, mut dead) = (Vec::new(), false);
    while let Some(arg) = next(p, verb)? {
        match arg {
            Arg::Stop(cmd) => return Ok(cmd),
            Arg::Flag("dead") => dead = true,
            Arg::Value(v) => keys.push(v.string()?),
            arg => return Err(arg.unexpected()),
        }
    }
    if keys.is_empty() && !dead {
        return Err(missing("ID (or --dead)"));
    }
    Ok(Command::Forget { keys, dead })
}

pub(super) fn parse_dial(p: &mut lexopt::Parser, verb: &'static Verb) -> Result<Command> {
    let mut session = None;
    while let Some(arg) = next(p, verb)? {
        match arg {
            Arg::Stop(cmd) => return Ok(cmd),
            Arg::Option("session", v) => session = Some(v),
            arg => return Err(arg.unexpected()),
        }
    }
    Ok(Command::DialStdio { session })
}

/// `amux hook AGENT [EVENT]`: the event's name when the agent's hook
/// input does not carry it (Copilot's: one command per event).
pub(super) fn parse_hook(p: &mut lexopt::Parser, verb: &'static Verb) -> Result<Command> {
    let mut words = Vec::new();
    while let Some(arg) = next(p, verb)? {
        match arg {
            Arg::Stop(cmd) => return Ok(cmd),
            Arg::Value(v) if words.len() < 2 => words.push(v.string()?),
            arg => return Err(arg.unexpected()),
        }
    }
    let mut words = words.into_iter();
    let agent = words.next().ok_or_else(|| missing("AGENT"))?;
    Ok(Command::Hook {
        agent,
        event: words.next(),
    })
}

/// `--timeout`'s (or `--grace`'s) value: seconds, zero or more,
/// fractions allowed.
fn seconds(option: &str, text: &str) -> Result<f64> {
    let secs = text.parse::<f64>().ok();
    secs.filter(|s| s.is_finite() && *s >= 0.0)
        .ok_or_else(|| Error::Usage(format!("{option} takes a number of seconds, not {text:?}")))
}

/// A verb without options whose only operand is one key (or word),
/// `what` when missing; `None`: a verb that takes nothing.
pub(super) fn keyed(
    p: &mut lexopt::Parser,
    verb: &'static Verb,
    what: Option<&str>,
    make: impl FnOnce(String) -> Command,
) -> Result<Command> {
    let mut key = None;
    while let Some(arg) = next(p, verb)? {
        match arg {
            Arg::Stop(cmd) => return Ok(cmd),
            Arg::Value(v) if key.is_none() && what.is_some() => key = Some(v.string()?),
            arg => return Err(arg.unexpected()),
        }
    }
    match what {
        None => Ok(make(String::new())),
        Some(what) => key.map(make).ok_or_else(|| missing(what)),
    }
}

/// A required argument is missing (the verb is named by `in_verb`).
fn missing(what: &str) -> Error {
    Error::Usage(format!("missing {what}"))
}
