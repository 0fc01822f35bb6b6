//! Every verb and option of the command line, in one table (`VERBS`,
//! `GLOBAL`), and the types it is written in.
//!
//! The table is the one place an option is declared. `help.rs` renders
//! `amux --help` from the verbs' `overview` lines and `amux help VERB`
//! from `synopsis`, `about` and the options' `help`; `complete/` writes
//! the bash, zsh and fish scripts from the options (their values, their
//! `choices`) and each verb's `Operands` (which ids it takes, how many);
//! `parse.rs` resolves what the user typed against the verb's options, so
//! an option the table does not list is refused there with one message,
//! and its unit tests check that each verb's parser handles exactly the
//! table's options; the nearest verb to a mistyped word is one of the
//! table's. amux(1) is written by hand, and the unit test below checks
//! that it names every verb and option here.
//!
//! Adding an option: one `Opt` line in `verbs/defs.rs`, one arm in the
//! verb's parser (`parse/verb.rs`, or `run.rs` for run), and its
//! paragraph in man/amux.1. Adding a verb: one `Verb` there, its parser
//! (named in `parse::named`), its `Command`, and its man section.

mod defs;

pub use defs::VERBS;

/// One option of a verb, or of amux itself (`GLOBAL`).
pub struct Opt {
    /// Its name without the dashes: `--all` is `all`.
    pub long: &'static str,
    pub short: Option<char>,
    /// What its value is called in the help (`SECONDS`); `None`: a switch.
    pub value: Option<&'static str>,
    /// The values completion offers for it (`wait --until`'s states);
    /// empty: any value, none offered.
    pub choices: &'static [&'static str],
    /// Its line in `amux help VERB` (`\n` continues it, indented).
    pub help: &'static str,
    /// Internal (`--detached-worker`, which amux passes itself): parsed,
    /// never shown or completed.
    pub hidden: bool,
}

impl Opt {
    /// A switch, `--long` (and `-short`).
    const fn switch(long: &'static str, short: Option<char>, help: &'static str) -> Opt {
        Opt {
            long,
            short,
            value: None,
            choices: &[],
            help,
            hidden: false,
        }
    }

    /// `--long VALUE`.
    const fn valued(long: &'static str, value: &'static str, help: &'static str) -> Opt {
        Opt {
            value: Some(value),
            ..Opt::switch(long, None, help)
        }
    }

    const fn choices(self, choices: &'static [&'static str]) -> Opt {
        Opt { choices, ..self }
    }

    const fn short(self, short: char) -> Opt {
        Opt {
            short: Some(short),
            ..self
        }
    }

    const fn hidden(self) -> Opt {
        Opt {
            hidden: true,
            ..self
        }
    }
}

/// Which sessions a verb's ids are, as completion lists them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Ids {
    /// Running ones (`amux ls`): attach, kill, send, wait.
    Live,
    /// Every one (`amux ls --all`): show.
    All,
    /// Dead and not resumed yet (state `exited…`): resume.
    Exited,
    /// Dead, resumed or not: forget.
    Dead,
}

impl Ids {
    pub const EVERY: [Ids; 4] = [Ids::Live, Ids::All, Ids::Exited, Ids::Dead];

    /// The word the completion scripts' id function takes.
    pub fn name(self) -> &'static str {
        match self {
            Ids::Live => "live",
            Ids::All => "all",
            Ids::Exited => "exited",
            Ids::Dead => "dead",
        }
    }

    /// The `ls` arguments that list them, and the awk program that keeps
    /// theirs of `ls`'s tab-separated rows (`None`: every row).
    pub fn listing(self) -> (&'static str, Option<&'static str>) {
        match self {
            Ids::Live => ("ls", None),
            Ids::All => ("ls --all", None),
            Ids::Exited => ("ls --all", Some("$3 ~ /^exited/ {print $1}")),
            Ids::Dead => ("ls --all", Some("$3 ~ /^(exited|resumed)/ {print $1}")),
        }
    }
}

/// What a verb takes besides its options.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Operands {
    Nothing,
    /// One session id, first (send's TEXT after it is free).
    Id(Ids),
    /// Any number of ids.
    Ids(Ids),
    /// One id, then one of these words (answer's `yes|no|always`).
    IdThen(Ids, &'static [&'static str]),
    /// One of these words.
    Word(&'static [&'static str]),
    /// One verb's name.
    Verb,
    /// A command and its arguments: the verb's options end at it.
    Command,
}

/// One verb: what the help says of it, its options, its operands.
pub struct Verb {
    pub name: &'static str,
    /// Its line in `amux --help` and what it says it does; `None`: not
    /// listed there.
    pub overview: Option<(&'static str, &'static str)>,
    /// What follows `Usage: ` in its own help (`\n` for another line).
    pub synopsis: &'static str,
    /// Its own help, below the usage.
    pub about: &'static str,
    pub opts: &'static [Opt],
    pub operands: Operands,
    /// Offered where a verb is completed (dial-stdio, which amux runs
    /// through ssh, is not).
    pub completed: bool,
}

impl Verb {
    /// Its option called `--long`.
    pub fn long(&self, long: &str) -> Option<&'static Opt> {
        self.opts.iter().find(|o| o.long == long)
    }

    /// Its option called `-short`.
    pub fn short(&self, short: char) -> Option<&'static Opt> {
        self.opts.iter().find(|o| o.short == Some(short))
    }

    /// The options help and completion show.
    pub fn visible(&self) -> impl Iterator<Item = &'static Opt> {
        self.opts.iter().filter(|o| !o.hidden)
    }
}

/// The verb called `name`.
pub fn find(name: &str) -> Option<&'static Verb> {
    VERBS.iter().find(|v| v.name == name)
}

/// The verbs completion offers, in the table's order.
pub fn completed() -> impl Iterator<Item = &'static Verb> {
    VERBS.iter().filter(|v| v.completed)
}

/// Every option with a value, any verb's: completion skips their values
/// when it counts a verb's operands.
pub fn valued() -> Vec<&'static str> {
    let mut longs: Vec<&str> = Vec::new();
    let opts = VERBS.iter().flat_map(|v| v.visible());
    for opt in opts.filter(|o| o.value.is_some()) {
        if !longs.contains(&opt.long) {
            longs.push(opt.long);
        }
    }
    longs
}

/// amux's own options: `-H` before the verb, the others instead of one.
pub const GLOBAL: &[Opt] = &[
    Opt::valued(
        "host",
        "[user@]host[:port]",
        "talk to that machine's amux over ssh",
    )
    .short('H'),
    Opt::switch("help", Some('h'), "show this help"),
    Opt::switch("version", Some('V'), "print the version"),
];

#[cfg(test)]
mod tests {
    use super::{GLOBAL, VERBS};

    /// amux(1), which is written by hand.
    const MAN: &str = include_str!("../../man/amux.1");

    /// `word` as roff writes it: a minus is `\-`.
    fn roff(word: &str) -> String {
        word.replace('-', "\\-")
    }

    /// The lines from each one `starts` says begins a part up to the one
    /// `ends` says ends it (exclusive), together.
    fn parts(starts: impl Fn(&str) -> bool, ends: impl Fn(&str) -> bool) -> String {
        let (mut text, mut inside) = (String::new(), false);
        for line in MAN.lines() {
            if inside && ends(line) {
                inside = false;
            }
            inside |= starts(line);
            if inside {
                text.push_str(line);
                text.push('\n');
            }
        }
        text
    }

    /// Whether `line`, after `head`, names `amux VERB` (and not `amux
    /// VERBmore`).
    fn names(line: &str, head: &str, verb: &str) -> bool {
        let line = line.replace('"', "");
        let rest = line.strip_prefix(&format!("{head} amux {}", roff(verb)));
        rest.is_some_and(|r| r.is_empty() || r.starts_with([' ', '\\']))
    }

    #[test]
    fn the_man_page_names_every_verb_and_option_of_the_table() {
        let section = |l: &str| l.starts_with(".SS ") || l.starts_with(".SH ");
        for verb in VERBS {
            let name = verb.name;
            let synopsis = parts(|l| names(l, ".SY", name), |l| l == ".YS");
            let text = parts(|l| names(l, ".SS", name), section);
            assert!(!synopsis.is_empty(), "no .SY \"amux {name}\" in SYNOPSIS");
            if verb.opts.is_empty() {
                continue;
            }
            assert!(!text.is_empty(), "no .SS amux {name} in COMMANDS");
            for opt in verb.opts {
                let long = format!("\\-\\-{}", roff(opt.long));
                assert!(text.contains(&long), "amux {name}'s section lacks {long}");
                let short = opt.short.map(|c| format!("\\-{c}"));
                if let Some(short) = short.as_ref().filter(|_| !opt.hidden) {
                    assert!(text.contains(short), "amux {name}'s section lacks {short}");
                }
                // The synopsis names a visible option by either name.
                let either =
                    synopsis.contains(&long) || short.is_some_and(|s| synopsis.contains(&s));
                assert!(opt.hidden || either, "amux {name}'s synopsis lacks {long}");
                for choice in opt.choices {
                    assert!(
                        text.contains(choice),
                        "amux {name}'s section lacks {choice}"
                    );
                }
            }
        }
        for opt in GLOBAL {
            let long = format!("\\-\\-{}", roff(opt.long));
            assert!(MAN.contains(&long), "{long}");
            let short = opt.short.map(|c| format!("\\-{c}"));
            assert!(short.as_ref().is_none_or(|s| MAN.contains(s)), "{short:?}");
        }
    }
}
