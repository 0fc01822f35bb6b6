//! Each verb's parser against its line in the verb table.

use super::*;
use crate::cli::verbs::{Operands, Opt, VERBS};
use std::collections::BTreeSet;

/// A value each valued option takes.
fn sample(opt: &Opt) -> &'static str {
    match (opt.choices.first(), opt.long) {
        (Some(choice), _) => choice,
        (None, "size") => "80x24",
        _ => "1",
    }
}

/// Operands that complete the verb's command line.
fn operands(verb: &Verb) -> Vec<&'static str> {
    match verb.operands {
        _ if verb.name == "send" => vec!["x", "text"],
        Operands::Nothing => vec![],
        Operands::Id(_) | Operands::Ids(_) => vec!["x"],
        Operands::IdThen(_, words) => vec!["x", words[0]],
        Operands::Word(words) => vec![words[0]],
        Operands::Verb => vec!["ls"],
        Operands::Command => vec!["true"],
    }
}

/// `verb`'s parser on `words` and then its operands: `Ok` when it runs
/// the verb (not its help, unless the verb is help).
fn parses(verb: &'static Verb, words: &[&str]) -> Result<()> {
    let args = words.iter().copied().chain(operands(verb));
    match named(verb, args.map(OsString::from).collect())? {
        Command::Help(_) | Command::Version if verb.name != "help" => {
            Err(Error::Usage("help, not the verb".into()))
        }
        _ => Ok(()),
    }
}

#[test]
fn each_verb_accepts_exactly_the_options_the_table_gives_it() {
    let every: BTreeSet<&str> = VERBS.iter().flat_map(|v| v.opts).map(|o| o.long).collect();
    for verb in VERBS {
        assert!(parses(verb, &[]).is_ok(), "{}", verb.name);
        for opt in verb.opts {
            let long = format!("--{}", opt.long);
            let short = opt.short.map(|c| format!("-{c}"));
            for form in std::iter::once(&long).chain(&short) {
                let words: Vec<&str> = std::iter::once(form.as_str())
                    .chain(opt.value.map(|_| sample(opt)))
                    .collect();
                let got = parses(verb, &words);
                assert!(got.is_ok(), "{} {words:?}: {got:?}", verb.name);
            }
        }
        let own: BTreeSet<&str> = verb.opts.iter().map(|o| o.long).collect();
        for long in every.difference(&own) {
            let words = [format!("--{long}"), "1".into()];
            let words: Vec<&str> = words.iter().map(String::as_str).collect();
            assert!(parses(verb, &words).is_err(), "{} --{long}", verb.name);
        }
    }
}

#[test]
fn an_option_not_in_the_table_is_one_invalid_option_error() {
    let cases: &[(&[&str], &str)] = &[
        (&["ls", "--bogus"], "invalid option '--bogus'"),
        (&["ls", "-x"], "invalid option '-x'"),
        (&["show", "x", "--all"], "invalid option '--all'"),
        (&["run", "--json", "sh"], "invalid option '--json'"),
        (&["kill", "x", "y"], "unexpected argument \"y\""),
    ];
    for (words, message) in cases {
        let args = words.iter().map(OsString::from).collect();
        match command(args) {
            Err(Error::VerbUsage { message: got, .. }) => assert_eq!(got, *message, "{words:?}"),
            Err(e) => panic!("{words:?}: {e}"),
            Ok(_) => panic!("{words:?} parsed"),
        }
    }
}

#[test]
fn help_and_version_anywhere_in_a_verbs_options() {
    for verb in VERBS.iter().filter(|v| v.name != "help") {
        for (word, want_help) in [("-h", true), ("--help", true), ("-V", false)] {
            let got = named(verb, vec![OsString::from(word)]);
            let help = matches!(got, Ok(Command::Help(ref t)) if *t == help::verb(verb));
            let version = matches!(got, Ok(Command::Version));
            assert!(
                if want_help { help } else { version },
                "{} {word}",
                verb.name
            );
        }
    }
}
