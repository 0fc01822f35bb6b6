//! The verb and its options, from the words after the hosts.
//!
//! Each verb's parser is a lexopt loop over `next`, which resolves every
//! option against the verb's line in the table (`verbs.rs`): a short name
//! becomes its long one, an option with a value comes with it, `-h` and
//! `-V` become the help and the version, and an option the table does
//! not list for the verb is the one "invalid option" error. The parsers
//! match long names only (`verb.rs` has them, `run.rs` run's); `tests`
//! checks each accepts exactly the table's options.

mod verb;

use super::verbs::{self, Verb};
use super::{help, run, Command};
use crate::error::{Error, Result};
use lexopt::prelude::*;
use std::ffi::OsString;
use verb::{keyed, parse_daemon, parse_dial, parse_forget, parse_ls, parse_resume, parse_send};
use verb::{parse_answer, parse_explain, parse_hook, parse_notify, parse_show, parse_wait};

/// One argument of a verb's command line, resolved against the table.
pub enum Arg {
    /// A switch of the verb's, by its long name.
    Flag(&'static str),
    /// An option with a value, by its long name, and the value.
    Option(&'static str, String),
    /// An operand.
    Value(OsString),
    /// `-h`/`--help` or `-V`/`--version`: what runs instead of the verb.
    Stop(Command),
}

impl Arg {
    /// The usage error for an argument the verb's parser has no place
    /// for (an option: only if the table lists one the parser lacks).
    pub fn unexpected(self) -> Error {
        match self {
            Arg::Value(v) => lexopt::Arg::Value(v).unexpected().into(),
            Arg::Flag(long) | Arg::Option(long, _) => {
                Error::Usage(format!("invalid option '--{long}'"))
            }
            Arg::Stop(_) => Error::Usage("unexpected --help or --version".into()),
        }
    }
}

/// The next argument of `verb`'s command line, `None` at its end.
pub fn next(p: &mut lexopt::Parser, verb: &'static Verb) -> Result<Option<Arg>> {
    let Some(arg) = p.next()? else {
        return Ok(None);
    };
    let opt = match arg {
        Short('h') | Long("help") => return Ok(Some(Arg::Stop(Command::Help(help::verb(verb))))),
        Short('V') | Long("version") => return Ok(Some(Arg::Stop(Command::Version))),
        Value(v) => return Ok(Some(Arg::Value(v))),
        Short(c) => verb.short(c),
        Long(long) => verb.long(long),
    };
    let Some(opt) = opt else {
        return Err(arg.unexpected().into());
    };
    Ok(Some(match opt.value {
        Some(_) => Arg::Option(opt.long, p.value()?.string()?),
        None => Arg::Flag(opt.long),
    }))
}

/// The verb `args` starts with and its options; a first word that is no
/// verb is the command of an implicit `amux run`.
pub fn command(args: Vec<OsString>) -> Result<Command> {
    let Some(first) = args.first() else {
        return Ok(Command::Help(help::main()));
    };
    let rest = args[1..].to_vec();
    match first.to_str() {
        Some("-h" | "--help") => Ok(Command::Help(help::main())),
        Some("-V" | "--version") => Ok(Command::Version),
        Some(word) => match verbs::find(word) {
            Some(verb) => named(verb, rest).map_err(|e| e.in_verb(verb.name)),
            // `amux -d CMD` and `amux -- CMD` are `amux run` too.
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
        return Ok(Command::Help(help::main()));
    };
    let word = word.to_string_lossy();
    if word == "-h" || word == "--help" {
        let own = verbs::find("help").expect("the verb table has help");
        return Ok(Command::Help(help::verb(own)));
    }
    match verbs::find(&word) {
        Some(verb) if args.len() == 1 => Ok(Command::Help(help::verb(verb))),
        Some(_) => Err(Error::Usage("help takes one verb".into())),
        None => Err(Error::Usage(format!("no verb {word:?}"))),
    }
}

/// The options and operands of `verb`.
fn named(verb: &'static Verb, args: Vec<OsString>) -> Result<Command> {
    let mut parser = lexopt::Parser::from_args(args.clone());
    let p = &mut parser;
    match verb.name {
        "run" => run::parse(args, verb),
        "daemon" => parse_daemon(p, verb),
        "ls" => parse_ls(p, verb),
        "show" => parse_show(p, verb),
        "explain" => parse_explain(p, verb),
        "events" => keyed(p, verb, None, |_| Command::Events),
        "wait" => parse_wait(p, verb),
        "send" => parse_send(p, verb),
        "answer" => parse_answer(p, verb),
        "notify" => parse_notify(p, verb),
        "top" => keyed(p, verb, None, |_| Command::Top),
        "kill" => keyed(p, verb, Some("ID"), |key| Command::Kill { key }),
        "attach" => keyed(p, verb, Some("ID"), |key| Command::Attach { key }),
        "resume" => parse_resume(p, verb),
        "forget" => parse_forget(p, verb),
        "completions" => keyed(p, verb, Some("SHELL (bash, zsh or fish)"), |shell| {
            Command::Completions { shell }
        }),
        "dial-stdio" => parse_dial(p, verb),
        "hook" => parse_hook(p, verb),
        "help" => parse_help(args),
        name => unreachable!("the verb table names {name} but nothing parses it"),
    }
}

/// `amux CMD…` for a CMD that is no verb: `amux run CMD…`, once we know
/// CMD is a program. A word that is neither (a mistyped verb) is told so
/// here, before anything is started or created.
fn implicit_run(args: Vec<OsString>) -> Result<Command> {
    let verb = verbs::find("run").expect("the verb table has run");
    let command = run::parse(args, verb)?;
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

#[cfg(test)]
mod tests;
